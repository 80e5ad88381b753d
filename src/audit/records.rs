//! What an audit found, per module and column — `audit.json`, a contract
//! documented in the README — and the table and verdict it prints.

pub use crate::results::audit::Record;
use crate::results::audit::human;
use super::Module;
use crate::diff::Verdict;
use crate::report::terminal::short;
use crate::results::{CellEntry, ResultsDoc, StepOutcome};
use std::fmt::Write;

pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

fn cell<'a>(doc: &'a ResultsDoc, case: &str, column: &str) -> Option<&'a CellEntry> {
    doc.cells.iter().find(|c| c.case == case && c.engine == column)
}

/// The records of every module on every column of `doc`.
pub fn records(modules: &[Module], doc: &ResultsDoc) -> Vec<Record> {
    let mut out = Vec::new();
    for m in modules {
        for e in &doc.engines {
            let mut r = Record {
                module: m.path.display().to_string(),
                sha256: m.sha256.clone(),
                bytes: m.bytes.len(),
                memories: m.declared.memories.clone(),
                column: e.id.clone(),
                available: true,
                reason: None,
                compiles: None,
                instantiates: None,
                reached_pages: None,
                one_page_past: None,
                instantiate_ms: None,
                messages: vec![],
            };
            let failed = |s: &crate::results::StepEntry, r: &mut Record| {
                if let Some(t) = s.message() {
                    r.messages.push(format!("{}: {}", s.step, t.lines().next().unwrap_or_default()));
                }
            };
            match cell(doc, &format!("{}/instantiate", m.dir_name), &e.id) {
                Some(c) if c.verdict == Verdict::Unavailable => {
                    r.available = false;
                    r.reason = c.reason.clone();
                }
                Some(c) => {
                    r.instantiate_ms = c.engine_ms.or(Some(c.ms));
                    if let Some(s) = c.steps.first() {
                        r.compiles = match &s.outcome {
                            StepOutcome::Returns { values } => Some(values.first().is_some_and(|v| v == 1)),
                            _ => None,
                        };
                        if r.compiles != Some(true) {
                            failed(s, &mut r);
                        }
                    }
                    if let Some(s) = c.steps.get(1) {
                        r.instantiates = Some(matches!(s.outcome, StepOutcome::Ok));
                        if r.instantiates != Some(true) {
                            failed(s, &mut r);
                        }
                    }
                }
                None => {}
            }
            if let Some(c) = cell(doc, &format!("{}/grow", m.dir_name), &e.id).filter(|c| c.verdict != Verdict::Unavailable) {
                let n = c.steps.len();
                if n >= 3 {
                    let (grow, size, past) = (&c.steps[n - 3], &c.steps[n - 2], &c.steps[n - 1]);
                    if let StepOutcome::Pages { pages } = size.outcome {
                        r.reached_pages = Some(pages);
                    }
                    if !matches!(grow.outcome, StepOutcome::Returns { .. }) {
                        failed(grow, &mut r);
                    }
                    r.one_page_past = Some(short(past));
                }
            }
            out.push(r);
        }
    }
    out
}

/// A module's facts, its table (a row per column) and the verdict in words.
pub fn table(m: &Module, records: &[&Record]) -> String {
    let mut o = String::new();
    let d = &m.declared;
    let _ = writeln!(o, "\n{} ({}, sha256 {}…)", m.path.display(), human(d.bytes as u64), &m.sha256[..12]);
    if d.memories.is_empty() {
        let _ = writeln!(o, "  memory: none");
    }
    for mem in &d.memories {
        let whence = match &mem.import {
            Some(i) => format!("imported {i}"),
            None => "defined".to_string(),
        };
        let exported = if mem.exports.is_empty() { String::new() } else { format!(", exported as {}", mem.exports.join(", ")) };
        let _ = writeln!(o, "  memory: {whence}, {}{exported}", mem.describe());
    }
    let imports: Vec<String> = d
        .imports
        .iter()
        .map(|(module, kinds)| format!("{module}: {}", kinds.iter().map(|(k, n)| format!("{n} {k}")).collect::<Vec<_>>().join(", ")))
        .collect();
    let _ = writeln!(o, "  imports: {}", if imports.is_empty() { "none".into() } else { imports.join("; ") });
    let _ = writeln!(o, "  start function: {}", d.start.map(|s| format!("function {s}")).unwrap_or_else(|| "none".into()));
    let _ = writeln!(o, "  {:<20} {:>9} {:>12} {:>13} {:<22} {:>9}", "column", "validates", "instantiates", "pages reached", "one page past", "ms");
    let yes = |b: Option<bool>| match b {
        Some(true) => "yes",
        Some(false) => "no",
        None => "-",
    };
    for r in records {
        if !r.available {
            let _ = writeln!(o, "  {:<20} unavailable: {}", r.column, r.reason.as_deref().unwrap_or(""));
            continue;
        }
        let _ = writeln!(
            o,
            "  {:<20} {:>9} {:>12} {:>13} {:<22} {:>9}",
            r.column,
            yes(r.compiles),
            yes(r.instantiates),
            r.reached_pages.map(|p| p.to_string()).unwrap_or_else(|| "-".into()),
            r.one_page_past.as_deref().unwrap_or("-"),
            r.instantiate_ms.map(|ms| format!("{ms:.1}")).unwrap_or_default()
        );
    }
    for r in records.iter().filter(|r| !r.messages.is_empty()) {
        for msg in &r.messages {
            let _ = writeln!(o, "    {}: {}", r.column, msg.chars().take(160).collect::<String>());
        }
    }
    let _ = writeln!(o, "  verdict: {}", verdict(m, records));
    o
}

/// "instantiates on 15 of 17 columns (not on webkit: ...); reaches its
/// declared 16384 pages on 15 columns".
pub fn verdict(m: &Module, records: &[&Record]) -> String {
    let ran: Vec<&&Record> = records.iter().filter(|r| r.available).collect();
    let ok: Vec<&&&Record> = ran.iter().filter(|r| r.instantiates == Some(true)).collect();
    let mut s = format!("instantiates on {} of {} columns", ok.len(), ran.len());
    let not: Vec<String> = ran
        .iter()
        .filter(|r| r.instantiates != Some(true))
        .map(|r| format!("{}: {}", r.column, r.messages.first().map(|m| m.chars().take(80).collect::<String>()).unwrap_or_else(|| "no answer".into())))
        .collect();
    if !not.is_empty() {
        let _ = write!(s, " (not on {})", not.join("; "));
    }
    if let Some(mem) = m.declared.memories.first() {
        let target = mem.maximum;
        let reached = ok.iter().filter(|r| r.reached_pages.is_some() && r.reached_pages == target).count();
        match target {
            Some(t) => {
                let _ = write!(s, "; reaches its declared {t} pages ({}) on {} of {}", human(t.saturating_mul(mem.page_bytes)), reached, ok.len());
            }
            None => {
                let most = ok.iter().filter_map(|r| r.reached_pages).max();
                if let Some(p) = most {
                    let _ = write!(s, "; no declared maximum: grows to {p} pages at most");
                }
            }
        }
    }
    s
}
