//! REPORT.md: the report as GitHub-flavoured Markdown tables, fit for a
//! README or a pull-request comment.

use super::view::{group_letter, Holds, View};
use crate::diff::Verdict;
use std::fmt::Write;

/// Escapes text for a table cell.
fn cell(text: &str) -> String {
    text.replace('\\', "\\\\").replace('|', "\\|").replace('\n', " ").replace('<', "&lt;")
}

pub fn mark(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "✓",
        Verdict::Fail => "✗",
        Verdict::Known => "≈",
        Verdict::Fixed => "!",
        Verdict::Unavailable => "–",
    }
}

/// A table's header row and its separator: `leading` columns, then one per engine.
fn table_head(o: &mut String, leading: &[&str], engines: &[&str]) {
    let _ = writeln!(o, "| {} | {} |", leading.join(" | "), engines.join(" | "));
    let _ = writeln!(o, "|{}{}", "---|".repeat(leading.len()), "---|".repeat(engines.len()));
}

pub fn render(view: &View) -> String {
    let doc = view.doc;
    let mut o = String::new();
    let _ = writeln!(o, "# wasm-matrix report\n");
    let summary = doc.summary.clone().unwrap_or_default();
    // The one line that differs between runs of the same results.
    let _ = writeln!(o, "Run: {}, {:.2} s", doc.started.as_deref().unwrap_or("unknown"), summary.seconds);
    let facts: Vec<String> = view.facts().into_iter().map(|(k, v)| format!("{k} {v}")).collect();
    let _ = writeln!(o, "\n{} · {}\n", facts.join(" · "), {
        let mut s = summary.clone();
        s.seconds = 0.0;
        s.line().split(" in ").next().unwrap_or_default().to_string()
    });
    if doc.interrupted || doc.partial {
        let _ = writeln!(o, "> **Incomplete**: the run was cut short; cells that did not finish are missing.\n");
    }
    for e in &doc.load_errors {
        let _ = writeln!(o, "> load error: {}\n", cell(e));
    }

    let _ = writeln!(o, "## Engines\n");
    let _ = writeln!(o, "| engine | version | pass | known | fail | conformance | steps that meet their expectation |");
    let _ = writeln!(o, "|---|---|--:|--:|--:|--:|--:|");
    for (e, c) in view.engines.iter().zip(&view.conformance) {
        if !e.available {
            let _ = writeln!(o, "| {} | unavailable: {} | | | | | |", e.id, cell(e.reason.as_deref().unwrap_or("")));
            continue;
        }
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} | {} | {:.1}% | {} of {} ({:.2}%) |",
            e.id,
            e.version.as_deref().unwrap_or(""),
            c.pass,
            c.known,
            c.fail + c.fixed,
            c.pct(c.pass),
            c.steps_ok,
            c.steps_judged,
            c.steps_pct()
        );
    }

    let _ = writeln!(o, "\n## Matrix\n");
    let _ = writeln!(o, "✓ pass · ≈ known divergence · ✗ fail · ! listed as known but conforms now · – unavailable. Letters (A, B, ...) group engines with identical outcomes where they differ.\n");
    let header: Vec<&str> = view.engines.iter().map(|e| e.id.as_str()).collect();
    for (group, rows) in &view.groups {
        let _ = writeln!(o, "### {group} ({} cases)\n", rows.len());
        table_head(&mut o, &["case", "step", "expected"], &header);
        for &i in rows {
            let r = &view.rows[i];
            let divergent = r.divergent();
            let cells: Vec<String> = (0..view.engines.len())
                .map(|e| match r.cells[e] {
                    None => String::new(),
                    Some(c) => {
                        let letter = match r.agree[e] {
                            Some(g) if divergent => format!(" ({})", group_letter(g)),
                            _ => String::new(),
                        };
                        format!("{} {}{letter}", mark(c.verdict), cell(&r.value(e)))
                    }
                })
                .collect();
            let _ = writeln!(o, "| `{}` | {} | {} | {} |", r.id, cell(&r.step_label), cell(&r.expected), cells.join(" | "));
        }
        o.push('\n');
    }

    let _ = writeln!(o, "## Pairwise agreement\n");
    let _ = writeln!(o, "Share of cases both engines ran with identical normalized outcomes on every step.\n");
    let _ = writeln!(o, "| | {} |", header.join(" | "));
    let _ = writeln!(o, "|---|{}", "--:|".repeat(header.len()));
    for a in 0..view.engines.len() {
        let cells: Vec<String> =
            (0..view.engines.len()).map(|b| view.agreement(a, b).map(|p| format!("{p:.0}%")).unwrap_or_default()).collect();
        let _ = writeln!(o, "| **{}** | {} |", header[a], cells.join(" | "));
    }

    let _ = writeln!(o, "\n## Error messages\n");
    let _ = writeln!(o, "Each engine's verbatim text per outcome kind (first line; count of steps).\n");
    table_head(&mut o, &["outcome"], &header);
    for m in &view.messages {
        let cells: Vec<String> = m
            .per_engine
            .iter()
            .map(|msgs| {
                msgs.texts
                    .iter()
                    .map(|(text, (count, _, _))| format!("`{}` ×{count}", cell(text).replace('`', "'")))
                    .collect::<Vec<_>>()
                    .join("<br>")
            })
            .collect();
        let _ = writeln!(o, "| {} | {} |", m.kind, cells.join(" | "));
    }

    let _ = writeln!(o, "\n## Memory features, as measured\n");
    let _ = writeln!(o, "Per column, what its cells show: yes (every deciding case passes), no (none does), partial (some); derived from these results.\n");
    let ids: Vec<&str> = view.engines.iter().map(|e| e.id.as_str()).collect();
    let _ = writeln!(o, "| feature | {} | deciding cases |", ids.join(" | "));
    let _ = writeln!(o, "|---|{}---|", "---|".repeat(ids.len()));
    for (name, cases, answers) in view.features() {
        let cells: Vec<&str> = answers
            .iter()
            .map(|a| match a {
                super::view::Has::Yes => "yes",
                super::view::Has::No => "no",
                super::view::Has::Partial => "partial",
                super::view::Has::Undecided => "-",
            })
            .collect();
        let _ = writeln!(o, "| {name} | {} | {} |", cells.join(" | "), cases.len());
    }
    if let Some(atlas) = view.atlas {
        let cols = view.atlas_columns();
        let h = &atlas.host;
        let _ = writeln!(o, "\n## Limits atlas\n");
        let _ = writeln!(
            o,
            "Measured by `wasm-matrix probe` on {} (kernel {}, {}, {:.1} GiB RAM, overcommit {}, {} address bits); `-` is not measured (the reason is in limits.json).\n",
            h.os,
            h.kernel,
            h.cpu,
            h.ram_bytes as f64 / (1u64 << 30) as f64,
            h.overcommit,
            h.address_bits
        );
        let _ = writeln!(o, "| measure | {} |", cols.join(" | "));
        let _ = writeln!(o, "|---|{}", "---|".repeat(cols.len()));
        for name in &atlas.present() {
            let cells: Vec<String> = cols.iter().map(|id| atlas.engines[*id].measures.get(*name).map(crate::probe::cell).unwrap_or_default()).collect();
            let _ = writeln!(o, "| {name} | {} |", cells.join(" | "));
        }
    }
    if !view.limits.is_empty() {
        let _ = writeln!(o, "\n## Limits\n");
        let _ = writeln!(o, "Cases tagged `limits`: per engine the largest variant that succeeded (no trap, error or -1 from a grow) and the first that failed, and how.\n");
        table_head(&mut o, &["case", "variants"], &header);
        for l in &view.limits {
            let cells: Vec<String> = l
                .per_engine
                .iter()
                .map(|(ok, fail)| {
                    let mut parts = vec![];
                    if let Some(ok) = ok {
                        parts.push(if ok.is_empty() { "succeeds".into() } else { format!("ok up to {}", cell(ok)) });
                    }
                    if let Some((v, how)) = fail {
                        parts.push(if v.is_empty() { format!("fails: {}", cell(how)) } else { format!("fails at {}: {}", cell(v), cell(how)) });
                    }
                    parts.join("<br>")
                })
                .collect();
            let _ = writeln!(o, "| `{}` | {} | {} |", l.base, cell(&l.variants.join(", ")), cells.join(" | "));
        }
    }

    if !view.claims.is_empty() {
        let _ = writeln!(o, "\n## Seed claims\n");
        let _ = writeln!(o, "Cases tagged `seed-claim`: does the claim hold on each engine? (A step's `claim` says what the claim predicts; without one the claim is the case's expectation.)\n");
        table_head(&mut o, &["claim", "what the case checks"], &header);
        for c in &view.claims {
            let cells: Vec<String> = c
                .per_engine
                .iter()
                .map(|h| match h {
                    Holds::Yes => "holds".to_string(),
                    Holds::No(why) => format!("does not hold ({})", cell(why)),
                    Holds::Untested(why) => format!("not tested ({})", cell(why)),
                    Holds::NotRun => "–".to_string(),
                })
                .collect();
            let _ = writeln!(o, "| {} | `{}`: {} | {} |", cell(&c.claim), c.id, cell(&c.summary), cells.join(" | "));
        }
    }

    let failing: Vec<_> = view.rows.iter().filter(|r| r.failing()).collect();
    if !failing.is_empty() {
        let _ = writeln!(o, "\n## Unexpected divergences\n");
        for r in failing {
            for (e, c) in r.cells.iter().enumerate() {
                if let Some(c) = c.filter(|c| c.verdict.is_failure()) {
                    let _ = writeln!(o, "- `{}::{}`: {}", r.id, view.engines[e].id, cell(super::explain(c).lines().next().unwrap_or_default()));
                }
            }
        }
    }
    o
}
