//! `wasm-matrix diff OLD.json NEW.json`: what changed between two runs, per
//! cell — improved (now meets its expectation), regressed, changed (same
//! verdict, another outcome or message), added, removed — with both versions
//! of each engine. Exit 1 on a regression, so CI can gate an upgrade on it.

use crate::diff::Verdict;
use crate::results::{CellEntry, ResultsDoc};
use std::collections::BTreeMap;
use std::fmt::Write;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Change {
    Regressed,
    Improved,
    Changed,
    Added,
    Removed,
}

impl Change {
    pub fn name(self) -> &'static str {
        match self {
            Change::Regressed => "regressed",
            Change::Improved => "improved",
            Change::Changed => "changed",
            Change::Added => "added",
            Change::Removed => "removed",
        }
    }
}

/// One cell that differs.
#[derive(Debug, Clone, PartialEq)]
pub struct CellChange {
    pub case: String,
    pub engine: String,
    pub change: Change,
    pub old: Option<Verdict>,
    pub new: Option<Verdict>,
    /// The first step whose outcome or message differs, as `step: old -> new`.
    pub detail: String,
}

fn conforms(v: Verdict) -> bool {
    matches!(v, Verdict::Pass | Verdict::Known)
}

/// A step's outcome without timings, as JSON (kind, values, message).
fn steps(c: &CellEntry) -> Vec<String> {
    c.steps.iter().map(|s| format!("{}: {}", s.step, serde_json::to_string(&s.outcome).unwrap_or_default())).collect()
}

/// The cells of `new` that differ from `old`, sorted by change, case, engine.
pub fn diff(old: &ResultsDoc, new: &ResultsDoc) -> Vec<CellChange> {
    let index = |d: &ResultsDoc| -> BTreeMap<(String, String), CellEntry> {
        d.cells.iter().map(|c| ((c.case.clone(), c.engine.clone()), c.clone())).collect()
    };
    let (a, b) = (index(old), index(new));
    let mut out = Vec::new();
    for (key, n) in &b {
        match a.get(key) {
            None => out.push(CellChange { case: key.0.clone(), engine: key.1.clone(), change: Change::Added, old: None, new: Some(n.verdict), detail: String::new() }),
            Some(o) => {
                let (so, sn) = (steps(o), steps(n));
                let first = (0..so.len().max(sn.len())).find(|&i| so.get(i) != sn.get(i));
                let change = match (conforms(o.verdict), conforms(n.verdict)) {
                    (true, false) => Some(Change::Regressed),
                    (false, true) => Some(Change::Improved),
                    _ if first.is_some() || o.verdict != n.verdict => Some(Change::Changed),
                    _ => None,
                };
                if let Some(change) = change {
                    let detail = first
                        .map(|i| format!("{} -> {}", so.get(i).map(String::as_str).unwrap_or("(no step)"), sn.get(i).map(String::as_str).unwrap_or("(no step)")))
                        .unwrap_or_default();
                    out.push(CellChange { case: key.0.clone(), engine: key.1.clone(), change, old: Some(o.verdict), new: Some(n.verdict), detail });
                }
            }
        }
    }
    for (key, o) in &a {
        if !b.contains_key(key) {
            out.push(CellChange { case: key.0.clone(), engine: key.1.clone(), change: Change::Removed, old: Some(o.verdict), new: None, detail: String::new() });
        }
    }
    out.sort_by(|x, y| (x.change, &x.case, &x.engine).cmp(&(y.change, &y.case, &y.engine)));
    out
}

/// Both versions of each engine: `wasmtime 48.0.0 -> 49.0.0`.
pub fn versions(old: &ResultsDoc, new: &ResultsDoc) -> Vec<(String, String, String)> {
    let mut ids: Vec<&str> = old.engines.iter().chain(&new.engines).map(|e| e.id.as_str()).collect();
    ids.dedup();
    let mut seen = std::collections::BTreeSet::new();
    ids.retain(|id| seen.insert(*id));
    let v = |d: &ResultsDoc, id: &str| d.engines.iter().find(|e| e.id == id).and_then(|e| e.version.clone()).unwrap_or_else(|| "-".into());
    ids.into_iter().map(|id| (id.to_string(), v(old, id), v(new, id))).collect()
}

/// The Markdown (and terminal) rendering.
pub fn markdown(old: &ResultsDoc, new: &ResultsDoc, changes: &[CellChange]) -> String {
    let mut o = String::from("# What changed between two runs\n\n| engine | old | new |\n|---|---|---|\n");
    for (id, a, b) in versions(old, new) {
        let _ = writeln!(o, "| {id} | {a} | {b} |");
    }
    let mut counts: BTreeMap<Change, usize> = BTreeMap::new();
    for c in changes {
        *counts.entry(c.change).or_default() += 1;
    }
    let summary: Vec<String> = counts.iter().map(|(c, n)| format!("{n} {}", c.name())).collect();
    let _ = writeln!(o, "\n{}\n", if summary.is_empty() { "No cell changed.".to_string() } else { summary.join(", ") });
    if !changes.is_empty() {
        let _ = writeln!(o, "| change | case | engine | verdict | first difference |\n|---|---|---|---|---|");
        for c in changes {
            let v = |v: Option<Verdict>| v.map(|v| format!("{v:?}").to_lowercase()).unwrap_or_else(|| "-".into());
            let _ = writeln!(o, "| {} | {} | {} | {} -> {} | {} |", c.change.name(), c.case, c.engine, v(c.old), v(c.new), c.detail.replace('|', "\\|"));
        }
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(case: &str, engine: &str, verdict: Verdict, kind: &str) -> CellEntry {
        serde_json::from_value(serde_json::json!({
            "case": case, "engine": engine, "verdict": verdict,
            "steps": [{"step": "invoke f()", "ok": conforms(verdict), "kind": kind}],
            "ms": 1.0
        }))
        .unwrap()
    }

    #[test]
    fn each_kind_of_change_is_named() {
        let mut old = ResultsDoc::default();
        let mut new = ResultsDoc::default();
        old.cells = vec![
            cell("a", "x", Verdict::Pass, "ok"),
            cell("b", "x", Verdict::Fail, "crash"),
            cell("c", "x", Verdict::Pass, "ok"),
            cell("d", "x", Verdict::Pass, "ok"),
            cell("gone", "x", Verdict::Pass, "ok"),
        ];
        new.cells = vec![
            cell("a", "x", Verdict::Fail, "crash"),
            cell("b", "x", Verdict::Pass, "ok"),
            cell("c", "x", Verdict::Pass, "ok"),
            cell("d", "x", Verdict::Known, "crash"),
            cell("new", "x", Verdict::Pass, "ok"),
        ];
        let got: Vec<(String, Change)> = diff(&old, &new).into_iter().map(|c| (c.case, c.change)).collect();
        assert_eq!(
            got,
            vec![
                ("a".into(), Change::Regressed),
                ("b".into(), Change::Improved),
                ("d".into(), Change::Changed),
                ("new".into(), Change::Added),
                ("gone".into(), Change::Removed)
            ]
        );
    }
}
