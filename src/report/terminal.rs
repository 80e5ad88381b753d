//! The terminal reporter: a table of the steps where engines diverge or a
//! cell fails its case, one column per engine, the observed value in each
//! cell; verbatim messages below each row on demand.

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
        StepOutcome::Crash { message } if message.starts_with(crate::budget::BUDGET_PREFIX) => "budget kill".into(),
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

pub fn expect_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Object(m) => m
            .iter()
            .map(|(k, v)| match v {
                serde_json::Value::Array(items) if k == "one_of" => {
                    format!("one of {}", items.iter().map(expect_text).collect::<Vec<_>>().join(" | "))
                }
                serde_json::Value::Array(items) => items.iter().map(field_text).collect::<Vec<_>>().join(", "),
                other => format!("{k} {}", field_text(other)),
            })
            .collect::<Vec<_>>()
            .join(" "),
        other => other.to_string(),
    }
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

/// Renders the divergence table; empty when every engine agrees and passes.
pub fn divergence_table(doc: &ResultsDoc, messages: bool) -> String {
    let engines: Vec<&str> = doc.engines.iter().map(|e| e.id.as_str()).collect();
    let mut by_case: BTreeMap<&str, Vec<&CellEntry>> = BTreeMap::new();
    for c in &doc.cells {
        by_case.entry(c.case.as_str()).or_default().push(c);
    }
    // rows: (case, step label, expected, per-engine text, messages)
    let mut rows: Vec<(String, String, String, Vec<String>, Vec<(String, String)>)> = Vec::new();
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
            let expected = first.expect.as_ref().map(expect_text).unwrap_or_default();
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
            rows.push((if shown { String::new() } else { case.to_string() }, first.step.clone(), expected, texts, msgs));
            shown = true;
        }
        if failing && !shown {
            // A failing cell with nothing to show per step (e.g. fixed).
            let texts = engines
                .iter()
                .map(|e| cells.iter().find(|c| c.engine == *e).map(|c| c.verdict.name().to_string()).unwrap_or_default())
                .collect();
            rows.push((case.to_string(), "(verdict)".into(), String::new(), texts, vec![]));
        }
    }
    if rows.is_empty() {
        return String::new();
    }
    const W: usize = 26;
    let mut headers = vec!["case".to_string(), "step".into(), "expected".into()];
    headers.extend(engines.iter().map(|e| e.to_string()));
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    let cap = |i: usize| if i < 2 { 44 } else { W };
    for (case, step, exp, texts, _) in &rows {
        let cols = [case, step, exp].into_iter().chain(texts.iter());
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
    for (case, step, exp, texts, msgs) in &rows {
        line([case, step, exp].into_iter().chain(texts.iter()).collect(), &mut out);
        if messages {
            for (engine, m) in msgs {
                let _ = writeln!(out, "      {engine}: {m}");
            }
        }
    }
    out.push_str("✗ fails its case   ≈ known divergence   ! listed as known but conforms now\n");
    out
}

/// Passed/total per cell of every script and testharness file (their
/// assertions, their subtests), one column per engine; empty without such
/// cases.
pub fn counts_table(doc: &ResultsDoc) -> String {
    let cases: Vec<&str> = doc.cases.iter().filter(|c| crate::results::counted(&c.file)).map(|c| c.id.as_str()).collect();
    if cases.is_empty() {
        return String::new();
    }
    let engines: Vec<&str> = doc.engines.iter().map(|e| e.id.as_str()).collect();
    let width = cases.iter().map(|c| c.chars().count()).max().unwrap_or(4).min(44);
    let mut out = format!("{:<width$}", "passed/total");
    for e in &engines {
        let _ = write!(out, "  {:>12}", clip(e, 12));
    }
    out.push('\n');
    for case in cases {
        let _ = write!(out, "{:<width$}", clip(case, width));
        for e in &engines {
            let text = match doc.cells.iter().find(|c| c.case == case && c.engine == *e) {
                Some(c) if !c.verdict.ran() => "-".to_string(),
                Some(c) => crate::results::count_text(c.passed()),
                None => String::new(),
            };
            let _ = write!(out, "  {text:>12}");
        }
        out.push('\n');
    }
    out
}
