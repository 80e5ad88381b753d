//! Reporters: each renders the same results ([`crate::results::ResultsDoc`]).

pub mod junit;
pub mod terminal;

use crate::diff::Verdict;
use crate::results::CellEntry;
use std::fmt::Write;

/// Why a cell has its verdict, in words: for each step that missed its
/// expectation, what was expected and what the engine did and said.
pub fn explain(cell: &CellEntry) -> String {
    let mut out = String::new();
    match cell.verdict {
        Verdict::Pass => out.push_str("conforms to the case"),
        Verdict::Unavailable => {
            let _ = write!(out, "{} is unavailable: {}", cell.engine, cell.reason.as_deref().unwrap_or("no reason given"));
        }
        Verdict::Unsupported => {
            let _ = write!(out, "not for {}: {}", cell.engine, cell.reason.as_deref().unwrap_or("the case is not for this column"));
        }
        Verdict::OverBudget => {
            let _ = write!(out, "not run on {}: {}", cell.engine, cell.reason.as_deref().unwrap_or("the case needs more memory than the budget"));
        }
        Verdict::Fixed => {
            let _ = write!(
                out,
                "now conforms, remove it from known-divergences ({} is listed for {}: {})",
                cell.case,
                cell.engine,
                cell.reason.as_deref().unwrap_or("")
            );
        }
        Verdict::Fail | Verdict::Known => {
            if let (Verdict::Known, Some(r)) = (cell.verdict, &cell.reason) {
                let _ = writeln!(out, "known divergence: {r}");
            }
            let ended = ended_by(cell);
            for (i, s) in cell.steps.iter().enumerate().filter(|&(i, s)| s.ok == Some(false) || Some(i) == ended) {
                if s.ok == Some(false) {
                    let expected = s.expect.as_ref().map(|e| e.to_json().to_string()).unwrap_or_default();
                    let _ = writeln!(out, "step {} `{}`: expected {expected}, got {}", i + 1, s.step, terminal::short(s));
                } else {
                    // It met its expectation (`any`), but what it got is why
                    // the steps after it never ran.
                    let _ = writeln!(out, "step {} `{}` ended the case: {}", i + 1, s.step, terminal::short(s));
                }
                if let Some(m) = s.message() {
                    let _ = writeln!(out, "    message: {}", m.replace('\n', "\n             "));
                }
            }
        }
    }
    out.trim_end().to_string()
}

/// The step whose outcome made the rest of a failed cell skipped, when a
/// later step failed for that: the one before the first skipped step.
fn ended_by(cell: &CellEntry) -> Option<usize> {
    let first_skipped = cell.steps.iter().position(|s| matches!(s.outcome, crate::results::StepOutcome::Skipped { .. }))?;
    let failed_after = cell.steps[first_skipped..].iter().any(|s| s.ok == Some(false));
    (failed_after && first_skipped > 0).then(|| first_skipped - 1)
}

pub mod html;
pub mod markdown;
pub mod modules;
pub mod section;
pub mod sections;
pub mod view;

/// Writes `index.html`, `REPORT.md` and `results.json` into `dir`.
pub fn write_dir(doc: &crate::results::ResultsDoc, dir: &std::path::Path) -> anyhow::Result<()> {
    write_dir_with(doc, &Extras::default(), dir)
}

/// What a report shows besides the results: `probe`'s limits.json (the
/// limits atlas), an earlier run (what changed), `audit`'s audit.json (the
/// modules).
#[derive(Default)]
pub struct Extras {
    pub atlas: Option<crate::results::limits::Limits>,
    pub baseline: Option<crate::results::ResultsDoc>,
    pub modules: Vec<crate::results::audit::Record>,
}

/// [`write_dir`], with the extras in the report.
pub fn write_dir_with(doc: &crate::results::ResultsDoc, extras: &Extras, dir: &std::path::Path) -> anyhow::Result<()> {
    use anyhow::Context;
    std::fs::create_dir_all(dir).context("cannot create the directory")?;
    let mut view = view::View::new(doc);
    view.atlas = extras.atlas.as_ref();
    view.modules = &extras.modules;
    view.baseline = extras.baseline.as_ref().map(|old| (crate::results::rundiff::versions(old, doc), crate::results::rundiff::diff(old, doc)));
    let page = sections::page(&view);
    let write = |name: &str, text: String| std::fs::write(dir.join(name), text).with_context(|| format!("cannot write {name}"));
    write("index.html", html::render_page(&page))?;
    write("REPORT.md", markdown::render_page(&page))?;
    crate::results::write_json_atomically(&dir.join("results.json"), doc).context("cannot write results.json")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A failed cell whose later steps were skipped names the step that
    /// ended it and what it got, though that step met its `expect: any`.
    #[test]
    fn a_failure_names_the_step_that_ended_the_case() {
        let cell: CellEntry = serde_json::from_value(serde_json::json!({
            "case": "c", "engine": "bun", "verdict": "fail", "ms": 1.0,
            "steps": [
                {"step": "glue start", "ok": true, "kind": "ok"},
                {"step": "glue call f()", "kind": "crash", "message": "killed by signal 9", "expect": "any"},
                {"step": "glue output", "ok": false, "kind": "skipped", "message": "an earlier step failed fatally", "expect": {"text": "x"}}
            ]
        }))
        .unwrap();
        let text = explain(&cell);
        assert!(text.contains("step 2 `glue call f()` ended the case: crash"), "{text}");
        assert!(text.contains("killed by signal 9"), "{text}");
        assert!(text.contains("step 3 `glue output`: expected"), "{text}");
        assert!(!text.contains("step 1"), "{text}");
    }
}
