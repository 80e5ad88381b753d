//! Every section of the report, written once on the section model
//! ([`super::section`]) from what the view computed. Adding a section is a
//! function here and a line in [`page`]; Markdown and HTML render it.

use super::section::*;
use super::terminal::short;
use super::view::{group_letter, Has, Holds, View};
use crate::diff::Verdict;
use crate::results::rundiff::Change;
use crate::results::{CaseStep, EngineEntry};
use serde_json::json;

/// The report: its header, then each section that has something to show.
pub fn page(view: &View) -> Page {
    let mut sections: Vec<Section> = [Some(engines(view)), Some(matrix(view)), Some(pairwise(view)), Some(messages(view)), changes(view), Some(features(view)), atlas(view)]
        .into_iter()
        .flatten()
        .collect();
    // audit's modules: the overview, then each module's own section.
    sections.extend(super::modules::sections(view));
    sections.extend([limits(view), claims(view), unexpected(view)].into_iter().flatten());
    Page { header: header(view), sections }
}

/// A verdict's mark.
pub fn mark(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "✓",
        Verdict::Fail => "✗",
        Verdict::Known => "≈",
        Verdict::Fixed => "!",
        Verdict::Unavailable => "–",
        Verdict::OverBudget => "⊘",
        Verdict::Unsupported => "·",
    }
}

/// A verdict's colour on the page.
fn verdict_class(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "v-pass",
        Verdict::Fail => "v-fail",
        Verdict::Known => "v-known",
        Verdict::Fixed => "v-fixed",
        Verdict::Unavailable | Verdict::OverBudget | Verdict::Unsupported => "v-unavailable",
    }
}

fn header(view: &View) -> Header {
    let doc = view.doc;
    let summary = doc.summary.clone().unwrap_or_default();
    // The counts without the time: the one line that differs between runs
    // of the same results is the run line.
    let mut counts = summary.clone();
    counts.seconds = 0.0;
    Header {
        title: "wasm-matrix report".into(),
        started: doc.started.clone().unwrap_or_else(|| "unknown".into()),
        seconds: summary.seconds,
        facts: view.facts(),
        counts: counts.line().split(" in ").next().unwrap_or_default().to_string(),
        incomplete: doc.interrupted || doc.partial,
        load_errors: doc.load_errors.clone(),
    }
}

/// A column head for an engine: its id, the version beside it on the page.
fn engine_head(e: &EngineEntry) -> Cell {
    Cell::of(vec![Span::text(&e.id), Span::Aside(e.version.clone().unwrap_or_default())])
}

/// Heads of `leading` columns, then one per engine.
fn heads(leading: &[&str], view: &View) -> Vec<Cell> {
    leading.iter().map(|h| Cell::text(*h)).chain(view.engines.iter().map(|e| engine_head(e))).collect()
}

fn case_link(id: &str) -> Span {
    Span::Link { href: format!("#case={id}"), text: id.to_string(), code: true }
}

fn engines(view: &View) -> Section {
    let head = ["engine", "version", "pass", "known", "fail", "conformance", "steps that meet their expectation"];
    let mut t = Table::new("engines", head.iter().map(|h| Cell::text(*h)).collect());
    t.align = vec![Align::Left, Align::Left, Align::Right, Align::Right, Align::Right, Align::Right, Align::Right];
    for (e, c) in view.engines.iter().zip(&view.conformance) {
        let mut name = vec![Span::text(&e.id)];
        if let Some(n) = e.name.as_deref().filter(|n| *n != e.id) {
            name.push(Span::Aside(n.to_string()));
        }
        name.push(Span::Aside(super::view::family(e)));
        let name = Cell::of(name).header().title_opt(e.configuration.as_ref().map(|c| format!("configuration: {c}")));
        if !e.available {
            let mut row = vec![name, Cell::text(format!("unavailable: {}", e.reason.as_deref().unwrap_or(""))).class("unavail")];
            row.extend((0..5).map(|_| Cell::blank()));
            t.rows.push(row);
            continue;
        }
        let mut conformance = Cell::text(format!("{:.1}%", c.pct(c.pass)));
        conformance.bar = [(c.pass, "v-pass"), (c.known, "v-known"), (c.fail + c.fixed, "v-fail")]
            .into_iter()
            .filter(|(n, _)| *n > 0)
            .map(|(n, class)| (c.pct(n), class))
            .collect();
        t.rows.push(vec![
            name,
            Cell::text(e.version.as_deref().unwrap_or("")),
            Cell::text(c.pass.to_string()),
            Cell::text(c.known.to_string()),
            Cell::text((c.fail + c.fixed).to_string()),
            conformance.title(format!("{} pass, {} known, {} fail", c.pass, c.known, c.fail + c.fixed)),
            Cell::text(format!("{} of {} ({:.2}%)", c.steps_ok, c.steps_judged, c.steps_pct())),
        ]);
    }
    Section { id: "engines".into(), nav: "engines".into(), title: "Engines".into(), blocks: vec![Block::Table(t)] }
}

fn matrix(view: &View) -> Section {
    let legend = vec![
        Span::text("✓ pass · ≈ known divergence · ✗ fail · ! listed as known but conforms now · – unavailable. Letters (A, B, ...) group engines with identical outcomes where they differ."),
        Span::Hint(" Hover a cell for the engine's message, click a case for its details.".into()),
    ];
    let mut tags: Vec<String> = view.rows.iter().flat_map(|r| r.tags.iter().cloned()).collect();
    tags.sort_unstable();
    tags.dedup();
    let groups = view
        .groups
        .iter()
        .map(|(group, rows)| {
            let rows = rows
                .iter()
                .map(|&i| {
                    let r = &view.rows[i];
                    let divergent = r.divergent();
                    let mut cells = vec![Cell::of(vec![case_link(r.id)]).header().class("case"), Cell::text(&r.step_label), Cell::text(&r.expected)];
                    for e in 0..view.engines.len() {
                        cells.push(match r.cells[e] {
                            None => Cell::text(""),
                            Some(c) => {
                                let mut spans = vec![Span::text(format!("{} {}", mark(c.verdict), r.value(e)))];
                                if let (Some(g), true) = (r.agree[e], divergent) {
                                    spans.push(Span::Group(group_letter(g)));
                                }
                                Cell::of(spans).class(verdict_class(c.verdict)).title_opt(r.message(e).map(str::to_string))
                            }
                        });
                    }
                    MatrixRow { id: r.id.to_string(), tags: r.tags.clone(), agree: r.agree.clone(), failing: r.failing(), cells }
                })
                .collect();
            (group.clone(), rows)
        })
        .collect();
    let ids: serde_json::Map<String, serde_json::Value> = view.rows.iter().enumerate().map(|(i, r)| (r.id.to_string(), json!(i))).collect();
    let m = Matrix {
        leading: vec!["case", "step", "expected"],
        engines: view
            .engines
            .iter()
            .map(|e| MatrixEngine {
                id: e.id.clone(),
                name: e.name.clone().unwrap_or_else(|| e.id.clone()),
                family: super::view::family(e),
                version: e.version.clone().unwrap_or_default(),
                configuration: e.configuration.clone(),
            })
            .collect(),
        families: view.families(),
        tags,
        groups,
        index: json!({ "engines": view.engines.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(), "cases": ids }),
        details: details(view),
    };
    Section { id: "matrix".into(), nav: "matrix".into(), title: "Matrix".into(), blocks: vec![Block::Para(legend), Block::Matrix(m)] }
}

/// The details the page shows when a case is clicked: per case, its steps
/// and each engine's outcomes, the texts once each in the case's `strings`
/// (a cell's step is `[short, message or -1, ok: 1, 0 or -1 unjudged]`, with its own label as a
/// fourth element only where it differs from the case's). Each case is its
/// own JSON block, parsed when it is opened: a page with the whole spec
/// suite parses none of it to show the matrix.
fn details(view: &View) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    for r in &view.rows {
        let case_steps: &[CaseStep] = r.case.map(|c| c.steps.as_slice()).unwrap_or_default();
        let steps: Vec<serde_json::Value> = case_steps
            .iter()
            .map(|s| json!({ "step": s.step, "expect": s.expect.to_string(), "message": s.message, "claim": s.claim.as_ref().map(ToString::to_string), "line": s.line }))
            .collect();
        let mut strings: Vec<String> = Vec::new();
        let mut index: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
        let mut intern = |text: String| -> usize {
            *index.entry(text.clone()).or_insert_with(|| {
                strings.push(text);
                strings.len() - 1
            })
        };
        let cells: Vec<serde_json::Value> = r
            .cells
            .iter()
            .map(|c| match c {
                None => serde_json::Value::Null,
                Some(c) => json!({
                    "verdict": c.verdict.name(),
                    "reason": c.reason,
                    "ms": c.ms,
                    "isolated": c.cross_origin_isolated,
                    "steps": c.steps.iter().enumerate().map(|(i, s)| {
                        let message = s.message().map(|m| intern(m.to_string()) as i64).unwrap_or(-1);
                        let mut v = vec![json!(intern(short(s))), json!(message), json!(match s.ok { Some(true) => 1, Some(false) => 0, None => -1 })];
                        if case_steps.get(i).map(|c| c.step.as_str()) != Some(s.step.as_str()) {
                            v.push(json!(s.step));
                        }
                        serde_json::Value::Array(v)
                    }).collect::<Vec<_>>(),
                }),
            })
            .collect();
        let case = r.case;
        out.push(json!({
            "file": case.map(|c| c.file.as_str()),
            "summary": case.map(|c| c.summary.as_str()),
            "source": case.and_then(|c| c.source.as_deref()),
            "tags": r.tags,
            "features": case.map(|c| c.features.as_slice()).unwrap_or_default(),
            "wat": case.and_then(|c| c.wat.as_deref()),
            "steps": steps,
            "strings": strings,
            "cells": cells,
        }));
    }
    out
}

fn pairwise(view: &View) -> Section {
    let n = view.engines.len();
    let mut head = vec![Cell::blank()];
    head.extend(view.engines.iter().map(|e| engine_head(e)));
    let mut t = Table::new("pairs", head);
    t.align = std::iter::once(Align::Left).chain((0..n).map(|_| Align::Right)).collect();
    for a in 0..n {
        let mut row = vec![Cell::text(&view.engines[a].id).header().bold()];
        for b in 0..n {
            row.push(match view.agreement(a, b) {
                Some(p) => {
                    let (same, both) = view.pairwise[a][b];
                    let mut c = Cell::text(format!("{p:.0}%")).title(format!("{same} of {both} cases"));
                    c.style = Some(format!("background:hsl({:.0},70%,85%)", p * 1.2));
                    c
                }
                None => Cell::text(""),
            });
        }
        t.rows.push(row);
    }
    let intro = vec![Span::text("Share of cases both engines ran with identical normalized outcomes on every step.")];
    Section { id: "pairwise".into(), nav: "agreement".into(), title: "Pairwise agreement".into(), blocks: vec![Block::Para(intro), Block::Table(t)] }
}

fn messages(view: &View) -> Section {
    let mut t = Table::new("msgs", heads(&["outcome"], view));
    for m in &view.messages {
        let mut row = vec![Cell::text(&m.kind).header()];
        for msgs in &m.per_engine {
            let lines = msgs
                .texts
                .iter()
                .map(|(text, (count, case, full))| Line {
                    spans: vec![Span::code(text), Span::text(format!(" ×{count}"))],
                    class: Some("msg".into()),
                    title: Some(format!("{full} (e.g. {case})")),
                })
                .collect();
            row.push(Cell::lines(lines));
        }
        t.rows.push(row);
    }
    let intro = vec![
        Span::text("Each engine's verbatim text per outcome kind (first line; count of steps)."),
        Span::Hint(" Hover a text for the whole message and a case that gave it.".into()),
    ];
    Section { id: "messages".into(), nav: "messages".into(), title: "Error messages".into(), blocks: vec![Block::Para(intro), Block::Table(t)] }
}

fn changes(view: &View) -> Option<Section> {
    let (versions, changes) = view.baseline.as_ref()?;
    let mut v = Table::new("versions", ["engine", "baseline", "this run"].iter().map(|h| Cell::text(*h)).collect());
    for (id, a, b) in versions {
        v.rows.push(vec![Cell::text(id).header(), Cell::text(a), Cell::text(b)]);
    }
    let mut blocks = vec![Block::Table(v)];
    if changes.is_empty() {
        blocks.push(Block::Para(vec![Span::text("No cell changed.")]));
    } else {
        let head = ["change", "case", "engine", "verdict", "first difference"];
        let mut t = Table::new("changes", head.iter().map(|h| Cell::text(*h)).collect());
        let verdict = |v: Option<Verdict>| v.map(|v| v.name().to_string()).unwrap_or_else(|| "-".into());
        for c in changes {
            let class = match c.change {
                Change::Regressed => "v-fail",
                Change::Improved => "v-pass",
                _ => "",
            };
            t.rows.push(vec![
                Cell::text(c.change.name()).class(class),
                Cell::of(vec![case_link(&c.case)]),
                Cell::text(&c.engine),
                Cell::text(format!("{} → {}", verdict(c.old), verdict(c.new))),
                Cell::of(vec![Span::code(&c.detail)]),
            ]);
        }
        blocks.push(Block::Table(t));
    }
    Some(Section { id: "changes".into(), nav: "what changed".into(), title: "What changed since the baseline run".into(), blocks })
}

fn features(view: &View) -> Section {
    let mut head = vec![Cell::text("feature")];
    head.extend(view.engines.iter().map(|e| engine_head(e)));
    head.push(Cell::text("deciding cases"));
    let mut t = Table::new("features", head);
    for (name, cases, answers) in view.features() {
        let mut row = vec![Cell::text(name).header()];
        let title = cases.join(", ");
        let href = cases.first().map(|c| format!("#case={c}")).unwrap_or_default();
        for a in answers {
            let (text, class) = match a {
                Has::Yes => ("yes", "v-pass"),
                Has::No => ("no", "v-fail"),
                Has::Partial => ("partial", "v-known"),
                Has::Undecided => ("-", ""),
            };
            row.push(Cell::of(vec![Span::Link { href: href.clone(), text: text.into(), code: false }]).class(class).title(title.clone()));
        }
        row.push(Cell::text(cases.len().to_string()));
        t.rows.push(row);
    }
    let intro = vec![
        Span::text("Per column, what its cells show: yes (every deciding case passes), no (none does), partial (some); derived from these results."),
        Span::Hint(" Hover an answer for the deciding cases.".into()),
    ];
    Section { id: "features".into(), nav: "features".into(), title: "Memory features, as measured".into(), blocks: vec![Block::Para(intro), Block::Table(t)] }
}

fn atlas(view: &View) -> Option<Section> {
    let atlas = view.atlas?;
    let cols = view.atlas_columns();
    let h = &atlas.host;
    let intro = vec![
        Span::text("Measured by "),
        Span::code("wasm-matrix probe"),
        Span::text(format!(
            " on {} (kernel {}, {}, {:.1} GiB RAM, overcommit {}, {} address bits); ",
            h.os,
            h.kernel,
            h.cpu,
            h.ram_bytes as f64 / (1u64 << 30) as f64,
            h.overcommit,
            h.address_bits
        )),
        Span::code("-"),
        Span::text(" is not measured (the reason is in limits.json)."),
        Span::Hint(" Hover a value for the engine's failure text one step past it.".into()),
    ];
    let mut head = vec![Cell::text("measure")];
    head.extend(cols.iter().map(|id| Cell::of(vec![Span::text(*id), Span::Aside(atlas.engines[*id].version.clone())])));
    let mut t = Table::new("atlas", head);
    for spec in atlas.present() {
        let mut row = vec![Cell::text(spec.name).header()];
        for id in &cols {
            row.push(match atlas.engines[*id].measures.get(spec.name) {
                Some(m) => {
                    let title: Vec<&str> = [m.message.as_deref(), m.note.as_deref()].into_iter().flatten().collect();
                    Cell::text(crate::results::limits::cell(m)).title(title.join(" · "))
                }
                None => Cell::text(""),
            });
        }
        t.rows.push(row);
    }
    Some(Section { id: "atlas".into(), nav: "limits atlas".into(), title: "Limits atlas".into(), blocks: vec![Block::Para(intro), Block::Table(t)] })
}

fn limits(view: &View) -> Option<Section> {
    if view.limits.is_empty() {
        return None;
    }
    let mut t = Table::new("limits", heads(&["case", "variants"], view));
    for l in &view.limits {
        let mut row = vec![Cell::of(vec![Span::code(&l.base)]).header(), Cell::text(l.variants.join(", "))];
        for (ok, fail) in &l.per_engine {
            let mut lines = vec![];
            if let Some(ok) = ok {
                let text = if ok.is_empty() { "succeeds".to_string() } else { format!("ok up to {ok}") };
                lines.push(Line { spans: vec![Span::Text(text)], class: Some("v-pass".into()), title: None });
            }
            if let Some((v, how)) = fail {
                let text = if v.is_empty() { format!("fails: {how}") } else { format!("fails at {v}: {how}") };
                lines.push(Line { spans: vec![Span::Text(text)], class: Some("v-known".into()), title: None });
            }
            row.push(Cell::lines(lines));
        }
        t.rows.push(row);
    }
    let intro = vec![
        Span::text("Cases tagged "),
        Span::code("limits"),
        Span::text(": per engine the largest variant that succeeded (no trap, error or -1 from a grow) and the first that failed, and how."),
    ];
    Some(Section { id: "limits".into(), nav: "limits".into(), title: "Limits".into(), blocks: vec![Block::Para(intro), Block::Table(t)] })
}

fn claims(view: &View) -> Option<Section> {
    if view.claims.is_empty() {
        return None;
    }
    let mut t = Table::new("claims", heads(&["claim", "what the case checks"], view));
    for c in &view.claims {
        let mut row = vec![Cell::text(&c.claim).class("claim"), Cell::of(vec![case_link(c.id), Span::text(format!(": {}", c.summary))])];
        for h in &c.per_engine {
            row.push(match h {
                Holds::Yes => Cell::text("holds").class("v-pass"),
                Holds::No(why) => Cell::text(format!("does not hold ({why})")).class("v-fail"),
                Holds::Untested(why) => Cell::text(format!("not tested ({why})")).class("v-unavailable"),
                Holds::NotRun => Cell::text("–").class("v-unavailable"),
            });
        }
        t.rows.push(row);
    }
    let intro = vec![
        Span::text("Cases tagged "),
        Span::code("seed-claim"),
        Span::text(": does the claim hold on each engine? (A step's "),
        Span::code("claim"),
        Span::text(" says what the claim predicts; without one the claim is the case's expectation.)"),
    ];
    Some(Section { id: "claims".into(), nav: "seed claims".into(), title: "Seed claims".into(), blocks: vec![Block::Para(intro), Block::Table(t)] })
}

fn unexpected(view: &View) -> Option<Section> {
    let mut items = Vec::new();
    for r in view.rows.iter().filter(|r| r.failing()) {
        for (e, c) in r.cells.iter().enumerate() {
            if let Some(c) = c.filter(|c| c.verdict.is_failure()) {
                let why = super::explain(c);
                items.push(vec![Span::code(format!("{}::{}", r.id, view.engines[e].id)), Span::text(format!(": {}", why.lines().next().unwrap_or_default()))]);
            }
        }
    }
    if items.is_empty() {
        return None;
    }
    Some(Section { id: "unexpected".into(), nav: "unexpected".into(), title: "Unexpected divergences".into(), blocks: vec![Block::List(items)] })
}


