//! What an audit found, per module and column — `audit.json`, a contract
//! documented in the README — and the table and verdict it prints.

pub use crate::results::audit::Record;
use crate::results::audit::{human, row, verdict, Unanswered, Why, ROW_HEAD};
use super::Module;
use crate::diff::Verdict;
use crate::report::terminal::short;
use crate::results::{CaseEntry, CellEntry, ResultsDoc, StepEntry, StepOutcome};
use std::fmt::Write;

/// What a step said to a question: yes, no (with the engine's whole text),
/// or nothing, and why.
enum Said {
    Yes,
    No(String),
    NotAnswered(Unanswered),
}

/// Why a step that did not answer did not: its own outcome, or, for a step
/// skipped after an earlier one ended the case, that one's (`fatal`).
fn not_answered(o: &StepOutcome, fatal: Option<&Unanswered>, limit: f64) -> Option<Unanswered> {
    Some(match o {
        StepOutcome::Timeout { .. } => Unanswered::timed_out(limit),
        StepOutcome::OverBudget { message } => Unanswered::new(Why::OverBudget, message.clone()),
        StepOutcome::Crash { message } => Unanswered::new(Why::Crashed, message.clone()),
        StepOutcome::Unsupported { message } => Unanswered::new(Why::Unsupported, message.clone()),
        StepOutcome::Skipped { message } => match fatal {
            Some(f) => f.clone(),
            None => Unanswered::new(Why::NotRun, message.clone()),
        },
        _ => return None,
    })
}

/// A cell's steps read as answers, each knowing why the case ended early.
struct Steps<'a> {
    cell: &'a CellEntry,
    fatal: Option<Unanswered>,
    limit: f64,
}

impl<'a> Steps<'a> {
    fn new(cell: &'a CellEntry, limit: f64) -> Steps<'a> {
        // The step that ended the case early, if one did (a step the
        // column cannot do makes the ones that need it skipped: theirs is
        // its reason, not "skipped").
        let fatal = cell.steps.iter().find_map(|s| match s.outcome {
            StepOutcome::Timeout { .. } | StepOutcome::Crash { .. } | StepOutcome::OverBudget { .. } | StepOutcome::Unsupported { .. } => not_answered(&s.outcome, None, limit),
            _ => None,
        });
        Steps { cell, fatal, limit }
    }

    fn step(&self, i: usize) -> Option<&'a StepEntry> {
        self.cell.steps.get(i)
    }

    /// Step `i` as an answer: `yes` decides between yes and no for an
    /// outcome that is neither a refusal nor a failure to answer.
    fn said(&self, i: usize, yes: impl Fn(&StepOutcome) -> bool) -> Said {
        let Some(s) = self.step(i) else { return Said::NotAnswered(Unanswered::new(Why::NotRun, "the step has no outcome")) };
        if let Some(why) = not_answered(&s.outcome, self.fatal.as_ref(), self.limit) {
            return Said::NotAnswered(why);
        }
        match &s.outcome {
            StepOutcome::Trap { message, .. } | StepOutcome::Error { message, .. } => Said::No(format!("{}: {message}", s.step)),
            o if yes(o) => Said::Yes,
            _ => Said::No(format!("{}: returned {}", s.step, short(s))),
        }
    }

}

/// What a cell that was not run says: unavailable, over the budget,
/// unsupported.
fn not_run(c: &CellEntry) -> Unanswered {
    let reason = c.reason.clone().unwrap_or_default();
    match c.verdict {
        Verdict::OverBudget => Unanswered::new(Why::OverBudget, reason),
        Verdict::Unsupported => Unanswered::new(Why::Unsupported, reason),
        _ => Unanswered::new(Why::Unavailable, reason),
    }
}

impl Record {
    fn new(m: &Module, column: &str) -> Record {
        Record {
            module: m.path.display().to_string(),
            sha256: m.sha256.clone(),
            bytes: m.bytes.len(),
            memories: m.declared.memories.clone(),
            imports: m.declared.imports.iter().map(|(module, kinds)| (module.clone(), kinds.iter().map(|(k, n)| (k.to_string(), *n)).collect())).collect(),
            column: column.to_string(),
            available: true,
            ..Record::default()
        }
    }

    /// Records a yes/no answer in `field`; a no's text goes to `messages`.
    fn answer(&mut self, field: &str, said: Said) -> Option<bool> {
        match said {
            Said::Yes => Some(true),
            Said::No(text) => {
                self.messages.push(text);
                Some(false)
            }
            Said::NotAnswered(why) => {
                self.unanswered.insert(field.into(), why);
                None
            }
        }
    }

    fn not_answered(&mut self, fields: &[&str], why: &Unanswered) {
        for f in fields {
            self.unanswered.insert(f.to_string(), why.clone());
        }
    }
}

/// The records of every module on every column of `doc`; `run_timeout`:
/// the audit's `--timeout` (a module's cases have [`super::cases::limit`]).
pub fn records(modules: &[Module], doc: &ResultsDoc, run_timeout: f64) -> Vec<Record> {
    let cells: std::collections::HashMap<(&str, &str), &CellEntry> = doc.cells.iter().map(|c| ((c.case.as_str(), c.engine.as_str()), c)).collect();
    let mut out = Vec::new();
    for m in modules {
        let limit = super::cases::limit(m.bytes.len(), run_timeout);
        for e in &doc.engines {
            let mut r = Record::new(m, &e.id);
            // A case the audit wrote that has no cell: the run stopped first.
            let cell = |name: &str, r: &mut Record, fields: &[&str]| -> Option<&CellEntry> {
                let id = format!("{}/{name}", m.dir_name);
                match cells.get(&(id.as_str(), e.id.as_str())) {
                    Some(c) if c.verdict.ran() => Some(*c),
                    Some(c) => {
                        r.not_answered(fields, &not_run(c));
                        None
                    }
                    None if doc.cases.iter().any(|c| c.id == id) => {
                        r.not_answered(fields, &Unanswered::new(Why::NotRun, "the audit was interrupted before this case ran"));
                        None
                    }
                    None => None,
                }
            };
            let id = format!("{}/instantiate", m.dir_name);
            if let Some(c) = cells.get(&(id.as_str(), e.id.as_str())).filter(|c| !c.verdict.ran() && c.verdict == Verdict::Unavailable) {
                r.available = false;
                r.reason = c.reason.clone();
                out.push(r);
                continue;
            }
            // validate, compile, instantiate: each step's time is its own.
            if let Some(c) = cell("instantiate", &mut r, &["compiles", "compiled", "compile_ms", "instantiates", "instantiate_ms"]) {
                let steps = Steps::new(c, limit);
                r.compiles = r.answer("compiles", steps.said(0, |o| matches!(o, StepOutcome::Returns { values } if values.first().is_some_and(|v| v == 1))));
                r.compiled = r.answer("compiled", steps.said(1, |o| matches!(o, StepOutcome::Ok)));
                match (r.compiled, &c.steps.get(1)) {
                    (Some(true), Some(s)) => r.compile_ms = s.ms,
                    (None, _) => r.unanswered.get("compiled").cloned().into_iter().for_each(|why| r.not_answered(&["compile_ms"], &why)),
                    _ => {}
                }
                r.instantiates = r.answer("instantiates", steps.said(2, |o| matches!(o, StepOutcome::Ok)));
                match (r.instantiates, c.steps.get(2)) {
                    (Some(true), Some(s)) => r.instantiate_ms = s.ms,
                    (None, _) => r.unanswered.get("instantiates").cloned().into_iter().for_each(|why| r.not_answered(&["instantiate_ms"], &why)),
                    _ => {}
                }
            }
            // A module that does not instantiate reaches no size: the
            // question does not apply (its refusal is the answer).
            if let Some(c) = cell("grow", &mut r, &["reached_pages", "one_page_past"]).filter(|_| r.instantiates != Some(false)) {
                let written = doc.cases.iter().find(|k| k.id == c.case);
                grow(m, c, written, limit, &mut r);
            }
            if let Some(c) = cell("instances-16gib", &mut r, &["instances_16gib"]) {
                let steps = Steps::new(c, limit);
                // A module the engine refuses has no live instance: 0, and
                // the refusal is the engine's text (it is in `messages` once);
                // one it instantiates but not under the limit (an engine that
                // does not start in 16 GiB) says why here.
                match steps.said(0, |o| matches!(o, StepOutcome::Returns { .. })) {
                    Said::Yes => r.instances_16gib = count(&c.steps[0].outcome),
                    Said::No(text) => {
                        if r.instantiates != Some(false) {
                            r.messages.push(format!("under a 16 GiB address space: {text}"));
                        }
                        r.instances_16gib = Some(0);
                    }
                    Said::NotAnswered(why) => r.not_answered(&["instances_16gib"], &why),
                }
            }
            if let Some(c) = cell("instances", &mut r, &["instances"]) {
                let steps = Steps::new(c, limit);
                match steps.said(0, |o| matches!(o, StepOutcome::Returns { .. })) {
                    Said::Yes => {
                        r.instances = count(&c.steps[0].outcome);
                        r.instances_limit = Some(super::cases::INSTANCES_LIMIT.into());
                    }
                    Said::No(text) => {
                        r.messages.push(text);
                        r.instances = Some(0);
                    }
                    Said::NotAnswered(why) => r.not_answered(&["instances"], &why),
                }
                // One more, with the others alive: the engine's text when it fails.
                if let Said::No(text) = steps.said(1, |o| matches!(o, StepOutcome::Ok)) {
                    r.messages.push(format!("instance {}: {text}", r.instances.map_or(0, |n| n + 1)));
                }
            }
            out.push(r);
        }
    }
    out
}

/// The first value of a `returns` outcome, as a count.
fn count(o: &StepOutcome) -> Option<u64> {
    match o {
        StepOutcome::Returns { values } => values.first().and_then(|v| v.as_u64()),
        _ => None,
    }
}

/// The grow case: the size reached and what one page past did; the first
/// grow that did not succeed says why the memory stopped where it did.
fn grow(m: &Module, c: &CellEntry, written: Option<&CaseEntry>, limit: f64, r: &mut Record) {
    let n = c.steps.len();
    if n < 3 {
        return;
    }
    let steps = Steps::new(c, limit);
    match steps.said(n - 2, |o| matches!(o, StepOutcome::Pages { .. })) {
        Said::NotAnswered(why) => r.not_answered(&["reached_pages"], &why),
        _ => {
            if let StepOutcome::Pages { pages } = c.steps[n - 2].outcome {
                r.reached_pages = Some(pages);
            }
        }
    }
    let at_limit = m.declared.memories.first().is_some_and(|d| !d.memory64 && d.page_bytes == 65536 && r.reached_pages == Some(65536));
    // The grows of the search (the case's steps that grow), not the last
    // step's one page past.
    let grows = |i: usize| written.and_then(|w| w.steps.get(i)).is_some_and(|s| s.grows);
    if let Some(g) = c.steps[..n - 2].iter().enumerate().filter(|(i, _)| grows(*i)).map(|(_, s)| s).find(|s| matches!(s.outcome, StepOutcome::Trap { .. } | StepOutcome::Error { .. })).filter(|_| !at_limit) {
        if let Some(t) = g.message() {
            r.messages.push(format!("{}: {t}", g.step));
        }
    }
    let past = &c.steps[n - 1];
    match not_answered(&past.outcome, steps.fatal.as_ref(), limit) {
        Some(why) => r.not_answered(&["one_page_past"], &why),
        None => r.one_page_past = Some(short(past)),
    }
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
    let head = ROW_HEAD;
    let rows: Vec<Vec<String>> = records.iter().filter(|r| r.available).map(|r| row(r)).collect();
    // Each column as wide as its widest cell (a not-answered cell says why).
    let widths: Vec<usize> = (0..head.len()).map(|k| rows.iter().map(|r| r[k].chars().count()).chain([head[k].len()]).max().unwrap_or(0)).collect();
    let line = |cells: &[String]| -> String {
        let mut l = String::from(" ");
        for (k, c) in cells.iter().enumerate() {
            let pad = widths[k] - c.chars().count();
            if k == 0 || k == 5 { l += &format!(" {c}{}", " ".repeat(pad)) } else { l += &format!(" {}{c}", " ".repeat(pad)) }
        }
        l.trim_end().to_string()
    };
    let _ = writeln!(o, "{}", line(&head.map(String::from)));
    for r in records {
        if !r.available {
            let _ = writeln!(o, "  {:<w$} unavailable: {}", r.column, r.reason.as_deref().unwrap_or(""), w = widths[0]);
        }
    }
    for row in &rows {
        let _ = writeln!(o, "{}", line(row));
    }
    // The engines' whole texts, and why each unanswered cell is so.
    for r in records.iter().filter(|r| r.available) {
        // Each text once, after the steps that gave it.
        let mut texts: Vec<(Vec<&str>, &str)> = Vec::new();
        for msg in &r.messages {
            let (step, text) = msg.split_once(": ").unwrap_or(("", msg));
            match texts.iter_mut().find(|(_, t)| *t == text) {
                Some((steps, _)) => steps.push(step),
                None => texts.push((vec![step], text)),
            }
        }
        for (steps, text) in texts {
            write_text(&mut o, &r.column, &format!("{}: {text}", steps.join(", ")));
        }
        let mut seen: Vec<&Unanswered> = Vec::new();
        for (field, why) in &r.unanswered {
            if seen.contains(&why) {
                continue;
            }
            seen.push(why);
            let fields: Vec<&str> = r.unanswered.iter().filter(|(_, w)| *w == why).map(|(f, _)| f.as_str()).collect();
            let _ = field;
            write_text(&mut o, &r.column, &format!("not answered ({}): {}", fields.join(", "), why.text));
        }
    }
    let _ = writeln!(o, "  verdict: {}", verdict(&m.declared.memories, records));
    o
}

/// A text under the table, every line of it, indented under its column.
fn write_text(o: &mut String, column: &str, text: &str) {
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    if let Some(first) = lines.next() {
        let _ = writeln!(o, "    {column}: {first}");
    }
    for l in lines {
        let _ = writeln!(o, "      {l}");
    }
}

