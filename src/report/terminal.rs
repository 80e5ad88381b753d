//! The terminal reporter: a table of the steps where engines diverge or a
//! cell fails its case, one column per engine, the observed value in each
//! cell; verbatim messages below each row on demand.
//!
//! It does not render the report's section model (`section.rs`): no report
//! section is this view — only the diverging steps, fitted to the
//! terminal's width and stacked a row per line when the columns do not fit
//! — and a section renderer for a terminal would be a third renderer of
//! blocks only this view uses.

use crate::outcome::Outcomes as _;
use crate::diff::Verdict;
use crate::results::{CellEntry, ResultsDoc, StepEntry, StepOutcome};
use std::collections::BTreeMap;
use std::fmt::Write;

/// The observed value of a step in a few characters.
pub fn short(step: &StepEntry) -> String {
    match &step.outcome {
        StepOutcome::Returns { values } if values.len() == 1 => field_text(&values[0]),
        StepOutcome::Returns { values } => format!("[{}]", values.iter().map(field_text).collect::<Vec<_>>().join(", ")),
        StepOutcome::Pages { pages } => format!("{pages} pages"),
        StepOutcome::Bytes { hex } if hex.len() > 16 => format!("{}…", &hex[..16]),
        StepOutcome::Bytes { hex } => hex.clone(),
        StepOutcome::Trap { trap, .. } => format!("trap {}", trap.name()),
        StepOutcome::Error { error, .. } => format!("error {}", error.name()),
        // The tool's memory budget stopped it: not the engine's own crash.
        StepOutcome::OverBudget { .. } => "budget kill".into(),
        other => other.kind().to_string(),
    }
}

fn field_text(v: &serde_json::Value) -> String {
    v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string())
}

/// Two steps have the same normalized outcome: equal but for the message.
pub fn same_outcome(a: &StepEntry, b: &StepEntry) -> bool {
    a.outcome.same(&b.outcome)
}

fn marker(cell: &CellEntry, step: &StepEntry) -> &'static str {
    match (cell.verdict, step.ok) {
        (Verdict::Fail, Some(false)) => "✗ ",
        (Verdict::Known, Some(false)) => "≈ ",
        (Verdict::Fixed, _) => "! ",
        _ => "",
    }
}

fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max { s.to_string() } else { format!("{}…", s.chars().take(max - 1).collect::<String>()) }
}

/// The terminal's width: `COLUMNS` where set, else the terminal's own, else
/// (not a terminal: a pipe, a CI log) 120.
pub fn width() -> usize {
    if let Some(n) = std::env::var("COLUMNS").ok().and_then(|c| c.trim().parse::<usize>().ok()).filter(|n| *n >= 20) {
        return n;
    }
    let mut ws = libc::winsize { ws_row: 0, ws_col: 0, ws_xpixel: 0, ws_ypixel: 0 };
    // SAFETY: TIOCGWINSZ writes one winsize; fd 1 may not be a terminal (then it fails).
    let ok = unsafe { libc::ioctl(1, libc::TIOCGWINSZ, &mut ws) } == 0;
    if ok && ws.ws_col >= 20 { ws.ws_col as usize } else { 120 }
}

/// `text` in lines of at most `width` characters, broken at spaces, the
/// lines after the first indented by `indent` (a word longer than a line
/// is cut).
pub fn fit(text: &str, width: usize, indent: usize) -> String {
    let width = width.max(indent + 10);
    let mut out = String::new();
    let mut line = String::new();
    let pad = " ".repeat(indent);
    // The first line keeps its own indentation.
    let lead = text.len() - text.trim_start_matches(' ').len();
    line.push_str(&text[..lead]);
    for word in text[lead..].split(' ') {
        let mut word = word.to_string();
        loop {
            let room = width - line.chars().count();
            let sep = usize::from(!line.trim().is_empty() && !line.ends_with(' '));
            if word.chars().count() + sep <= room {
                if sep == 1 {
                    line.push(' ');
                }
                line.push_str(&word);
                break;
            }
            if line.trim().is_empty() {
                // A word longer than a whole line: cut it.
                let head: String = word.chars().take(room).collect();
                word = word.chars().skip(room).collect();
                line.push_str(&head);
            }
            out.push_str(line.trim_end());
            out.push('\n');
            line = pad.clone();
            if word.is_empty() {
                break;
            }
        }
    }
    out.push_str(line.trim_end());
    out
}

/// One row of the divergence table: a step where the engines differ or a
/// cell fails its case.
struct DivRow {
    case: String,
    step: String,
    expected: String,
    /// What each engine did there, in the document's engine order.
    texts: Vec<String>,
    /// The engines' texts (and the case's own, as `expected`).
    messages: Vec<(String, String)>,
}

/// Renders the divergence table; empty when every engine agrees and passes.
/// `wide`: one column per engine, as wide as it takes; else each row's
/// engines grouped by identical outcome, every line within `width`.
pub fn divergence_table(doc: &ResultsDoc, messages: bool, wide: bool, width: usize) -> String {
    let rows = divergent_rows(doc);
    if rows.is_empty() {
        return String::new();
    }
    let engines: Vec<&str> = doc.engines.iter().map(|e| e.id.as_str()).collect();
    let mut out = if wide { wide_table(&rows, &engines, messages) } else { grouped(&rows, &engines, messages, width) };
    out.push_str(&fit("✗ fails its case   ≈ known divergence   ! listed as known but conforms now", width, 2));
    out.push('\n');
    out
}

/// Each divergent row as its case and step, then a line per group of
/// engines that did the same ("ok: 17 columns", "≈ unsupported: wamr,
/// wamr-hwbound, wasm3"), the most common first.
fn grouped(rows: &[DivRow], engines: &[&str], messages: bool, width: usize) -> String {
    let mut out = String::new();
    for r in rows {
        let head = match (r.case.is_empty(), r.expected.is_empty()) {
            (false, false) => format!("{} · {} · expected {}", r.case, r.step, r.expected),
            (false, true) => format!("{} · {}", r.case, r.step),
            (true, false) => format!("  · {} · expected {}", r.step, r.expected),
            (true, true) => format!("  · {}", r.step),
        };
        let _ = writeln!(out, "{}", fit(&head, width, 6));
        let mut groups: Vec<(&str, Vec<&str>)> = Vec::new();
        for (e, t) in engines.iter().zip(&r.texts) {
            if t.is_empty() {
                continue;
            }
            match groups.iter_mut().find(|(g, _)| *g == t.as_str()) {
                Some((_, list)) => list.push(e),
                None => groups.push((t.as_str(), vec![e])),
            }
        }
        groups.sort_by_key(|(_, list)| std::cmp::Reverse(list.len()));
        let many = groups.len() > 1;
        for (i, (text, list)) in groups.iter().enumerate() {
            // The largest group of many is counted, the others named.
            let who = if many && i == 0 && list.len() > 3 { format!("{} columns", list.len()) } else { list.join(", ") };
            let _ = writeln!(out, "{}", fit(&format!("    {text}: {who}"), width, 8));
        }
        if messages {
            for (engine, m) in &r.messages {
                let _ = writeln!(out, "{}", fit(&format!("      {engine}: {m}"), width, 8));
            }
        }
    }
    out
}

/// The full table: a column per engine (`--wide`).
fn wide_table(rows: &[DivRow], engines: &[&str], messages: bool) -> String {
    const W: usize = 26;
    let mut headers = vec!["case".to_string(), "step".into(), "expected".into()];
    headers.extend(engines.iter().map(|e| e.to_string()));
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    let cap = |i: usize| if i < 2 { 44 } else { W };
    for r in rows {
        let cols = [&r.case, &r.step, &r.expected].into_iter().chain(r.texts.iter());
        for (i, t) in cols.enumerate() {
            widths[i] = widths[i].max(t.chars().count().min(cap(i)));
        }
    }
    let mut out = String::new();
    let line = |cols: Vec<&String>, out: &mut String| {
        let cells: Vec<String> =
            cols.iter().enumerate().map(|(i, t)| format!("{:<w$}", clip(t, cap(i)), w = widths[i])).collect();
        let _ = writeln!(out, "{}", cells.join("  ").trim_end());
    };
    line(headers.iter().collect(), &mut out);
    for r in rows {
        line([&r.case, &r.step, &r.expected].into_iter().chain(r.texts.iter()).collect(), &mut out);
        if messages {
            for (engine, m) in &r.messages {
                let _ = writeln!(out, "      {engine}: {m}");
            }
        }
    }
    out
}

/// The steps where engines diverge or a cell fails its case.
fn divergent_rows(doc: &ResultsDoc) -> Vec<DivRow> {
    let engines: Vec<&str> = doc.engines.iter().map(|e| e.id.as_str()).collect();
    let mut by_case: BTreeMap<&str, Vec<&CellEntry>> = BTreeMap::new();
    for c in &doc.cells {
        by_case.entry(c.case.as_str()).or_default().push(c);
    }
    let mut rows: Vec<DivRow> = Vec::new();
    for (case, cells) in &by_case {
        let ran: Vec<&&CellEntry> = cells.iter().filter(|c| c.verdict.ran()).collect();
        let steps = ran.iter().map(|c| c.steps.len()).max().unwrap_or(0);
        let failing = ran.iter().any(|c| c.verdict.is_failure());
        let mut shown = false;
        for i in 0..steps {
            let here: Vec<(&CellEntry, &StepEntry)> = ran.iter().filter_map(|c| c.steps.get(i).map(|s| (**c, s))).collect();
            let diverges = here.windows(2).any(|w| !same_outcome(w[0].1, w[1].1));
            let fails = here.iter().any(|(c, s)| s.ok == Some(false) && c.verdict != Verdict::Pass);
            if !(diverges || fails) {
                continue;
            }
            let (_, first) = here[0];
            let expected = first.expect.as_ref().map(ToString::to_string).unwrap_or_default();
            let texts = engines
                .iter()
                .map(|e| match cells.iter().find(|c| c.engine == *e) {
                    Some(c) if c.verdict == Verdict::Unavailable => "unavailable".into(),
                    Some(c) if c.verdict == Verdict::OverBudget => "over budget".into(),
                    Some(c) if c.verdict == Verdict::Unsupported => "not for it".into(),
                    Some(c) => c.steps.get(i).map(|s| format!("{}{}", marker(c, s), short(s))).unwrap_or_default(),
                    None => String::new(),
                })
                .collect();
            let mut msgs: Vec<(String, String)> = here
                .iter()
                .filter_map(|(c, s)| s.message().map(|m| (c.engine.clone(), m.split_whitespace().collect::<Vec<_>>().join(" "))))
                .collect();
            // The case's own text for the expected failure (.wast), beside the engines'.
            if let Some(text) = doc.cases.iter().find(|c| c.id == *case).and_then(|c| c.steps.get(i)).and_then(|s| s.message.clone()) {
                msgs.insert(0, ("expected".to_string(), text));
            }
            rows.push(DivRow { case: if shown { String::new() } else { case.to_string() }, step: first.step.clone(), expected, texts, messages: msgs });
            shown = true;
        }
        if failing && !shown {
            // A failing cell with nothing to show per step (e.g. fixed).
            let texts = engines
                .iter()
                .map(|e| cells.iter().find(|c| c.engine == *e).map(|c| c.verdict.name().to_string()).unwrap_or_default())
                .collect();
            rows.push(DivRow { case: case.to_string(), step: "(verdict)".into(), expected: String::new(), texts, messages: vec![] });
        }
    }
    rows
}

/// Passed/total per cell of every script and testharness file (their
/// assertions, their subtests), one column per engine; empty without such
/// cases.
pub fn counts_table(doc: &ResultsDoc, wide: bool, width: usize) -> String {
    let cases: Vec<&str> = doc.cases.iter().filter(|c| c.form.counted()).map(|c| c.id.as_str()).collect();
    if cases.is_empty() {
        return String::new();
    }
    let engines: Vec<&str> = doc.engines.iter().map(|e| e.id.as_str()).collect();
    let text = |case: &str, e: &str| match doc.cells.iter().find(|c| c.case == case && c.engine == e) {
        Some(c) if !c.verdict.ran() => "-".to_string(),
        Some(c) => crate::results::count_text(c.passed()),
        None => String::new(),
    };
    let case_width = cases.iter().map(|c| c.chars().count()).max().unwrap_or(4).min(44);
    if !wide && case_width + 14 * engines.len() > width {
        // Too wide for a column per engine: per file, the engines grouped
        // by their count.
        let mut out = String::from("passed/total\n");
        for case in cases {
            let mut groups: Vec<(String, Vec<&str>)> = Vec::new();
            for e in &engines {
                let t = text(case, e);
                match groups.iter_mut().find(|(g, _)| *g == t) {
                    Some((_, list)) => list.push(e),
                    None => groups.push((t, vec![e])),
                }
            }
            groups.sort_by_key(|(_, list)| std::cmp::Reverse(list.len()));
            let parts: Vec<String> = groups
                .iter()
                .enumerate()
                .map(|(i, (t, list))| if i == 0 && groups.len() > 1 && list.len() > 3 { format!("{t} on {} columns", list.len()) } else { format!("{t} on {}", list.join(", ")) })
                .collect();
            let _ = writeln!(out, "{}", fit(&format!("{case}: {}", parts.join(" · ")), width, 4));
        }
        return out;
    }
    let mut out = format!("{:<case_width$}", "passed/total");
    for e in &engines {
        let _ = write!(out, "  {:>12}", clip(e, 12));
    }
    out.push('\n');
    for case in cases {
        let _ = write!(out, "{:<case_width$}", clip(case, case_width));
        for e in &engines {
            let _ = write!(out, "  {:>12}", text(case, e));
        }
        out.push('\n');
    }
    out
}
