//! What an audit found, per module and column — `audit.json`, a contract
//! documented in the README — and the table and verdict it prints.

pub use crate::results::audit::Record;
use crate::results::audit::human;
use super::Module;
use crate::report::terminal::short;
use crate::results::{CellEntry, ResultsDoc, StepOutcome};
use std::fmt::Write;

pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// The records of every module on every column of `doc`.
pub fn records(modules: &[Module], doc: &ResultsDoc) -> Vec<Record> {
    let cells: std::collections::HashMap<(&str, &str), &CellEntry> = doc.cells.iter().map(|c| ((c.case.as_str(), c.engine.as_str()), c)).collect();
    let cell = |case: &str, column: &str| cells.get(&(case, column)).copied();
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
                compile_ms: None,
                instances: None,
                instances_limit: None,
                instances_16gib: None,
                messages: vec![],
            };
            let failed = |s: &crate::results::StepEntry, r: &mut Record| {
                if let Some(t) = s.message() {
                    r.messages.push(format!("{}: {}", s.step, t.lines().next().unwrap_or_default()));
                }
            };
            match cell(&format!("{}/instantiate", m.dir_name), &e.id) {
                Some(c) if !c.verdict.ran() => {
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
            if let Some(c) = cell(&format!("{}/compile", m.dir_name), &e.id).filter(|c| c.verdict.ran()) {
                if c.steps.first().is_some_and(|s| matches!(s.outcome, StepOutcome::Ok)) {
                    r.compile_ms = c.engine_ms.or(Some(c.ms));
                }
            }
            if let Some(c) = cell(&format!("{}/grow", m.dir_name), &e.id).filter(|c| c.verdict.ran()) {
                let n = c.steps.len();
                if n >= 3 {
                    let (size, past) = (&c.steps[n - 2], &c.steps[n - 1]);
                    if let StepOutcome::Pages { pages } = size.outcome {
                        r.reached_pages = Some(pages);
                    }
                    // The first grow that did not succeed says why the memory
                    // stopped where it did (after the instantiate step).
                    let at_limit = m.declared.memories.first().is_some_and(|d| !d.memory64 && d.page_bytes == 65536 && r.reached_pages == Some(65536));
                    if let Some(g) = c.steps[..n - 2].iter().filter(|s| s.step.starts_with("grow")).find(|s| !matches!(s.outcome, StepOutcome::Returns { .. })).filter(|_| !at_limit) {
                        failed(g, &mut r);
                    }
                    r.one_page_past = Some(short(past));
                }
            }
            if let Some(c) = cell(&format!("{}/instances-16gib", m.dir_name), &e.id) {
                if let Some(StepOutcome::Returns { values }) = c.steps.iter().find(|s| s.step.starts_with("instances")).map(|s| &s.outcome) {
                    r.instances_16gib = values.first().and_then(|v| v.as_u64());
                }
            }
            if let Some(c) = cell(&format!("{}/instances", m.dir_name), &e.id).filter(|c| c.verdict.ran()) {
                if let Some(s) = c.steps.iter().find(|s| s.step.starts_with("instances")) {
                    if let StepOutcome::Returns { values } = &s.outcome {
                        r.instances = values.first().and_then(|v| v.as_u64());
                        r.instances_limit = Some(super::cases::INSTANCES_LIMIT.into());
                    } else {
                        failed(s, &mut r);
                    }
                }
                // One more, with the others alive: the engine's text when it fails.
                if let Some(s) = c.steps.last().filter(|s| s.step.starts_with("instantiate") && !matches!(s.outcome, StepOutcome::Ok | StepOutcome::Skipped { .. })) {
                    r.messages.push(format!("instance {}: {}", r.instances.map_or(0, |n| n + 1), s.message().unwrap_or_default().lines().next().unwrap_or_default()));
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
    let _ = writeln!(
        o,
        "  {:<20} {:>9} {:>12} {:>13} {:<22} {:>9} {:>10} {:>12} {:>9}",
        "column", "validates", "instantiates", "pages reached", "one page past", "inst. ms", "compile ms", "instances", "in 16 GiB"
    );
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
            "  {:<20} {:>9} {:>12} {:>13} {:<22} {:>9} {:>10} {:>12} {:>9}",
            r.column,
            yes(r.compiles),
            yes(r.instantiates),
            r.reached_pages.map(|p| p.to_string()).unwrap_or_else(|| "-".into()),
            r.one_page_past.as_deref().unwrap_or("-"),
            r.instantiate_ms.map(|ms| format!("{ms:.1}")).unwrap_or_default(),
            r.compile_ms.map(|ms| format!("{ms:.1}")).unwrap_or_default(),
            instances(r),
            r.instances_16gib.map(|n| n.to_string()).unwrap_or_else(|| "-".into())
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

/// `12`, or `100 (limit)` when every instance the audit asked for came.
fn instances(r: &Record) -> String {
    match (r.instances, r.instances_limit) {
        (Some(n), Some(l)) if n >= l => format!("{n} (limit)"),
        (Some(n), _) => n.to_string(),
        _ => "-".into(),
    }
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
                let reached: Vec<u64> = ok.iter().filter_map(|r| r.reached_pages).collect();
                if let (Some(lo), Some(hi)) = (reached.iter().min(), reached.iter().max()) {
                    let _ = write!(s, "; no declared maximum: grows to {lo}..{hi} pages ({}..{})", human(lo * mem.page_bytes), human(hi * mem.page_bytes));
                }
            }
        }
    }
    let mut groups: std::collections::BTreeMap<String, Vec<&str>> = Default::default();
    for r in ok.iter().filter(|r| r.instances.is_some()) {
        groups.entry(instances(r)).or_default().push(&r.column);
    }
    let counts: Vec<String> = groups
        .iter()
        .map(|(n, cols)| if cols.len() > 3 { format!("{n} on {} columns", cols.len()) } else { format!("{n} on {}", cols.join(", ")) })
        .collect();
    if !counts.is_empty() {
        let _ = write!(s, "; live instances per process: {}", counts.join(", "));
    }
    let under: Vec<String> = ok.iter().filter_map(|r| r.instances_16gib.filter(|n| u64::from(super::cases::INSTANCES_LIMIT) > *n).map(|n| format!("{n} on {}", r.column))).collect();
    if !under.is_empty() {
        let _ = write!(s, "; under a 16 GiB address space: {}", under.join(", "));
    }
    s
}
