//! Verdicts (does a cell meet its case's expectations?), the known-divergence
//! list, and the cross-engine diff (which engines agree on each step).

use crate::outcome::Outcomes as _;
use crate::case::load::KNOWN_FILE;
use crate::case::LoadError;
use crate::case::spans::Spans;
use crate::case::Case;
use crate::outcome::Outcome;
use globset::{Glob, GlobMatcher};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Conforms to the case.
    Pass,
    /// Diverges and is not listed.
    Fail,
    /// Diverges and is listed in known-divergences.
    Known,
    /// Listed, but conforms now: a failure until the list is updated.
    Fixed,
    /// The engine could not run here.
    Unavailable,
    /// Not run: the case needs more memory (`needs_memory`) than the run's
    /// memory budget holds on an engine that commits what it grows
    /// (extension; written `over_budget`).
    #[serde(rename = "over_budget")]
    OverBudget,
    /// Not run: the case is not for this column (a testharness file whose
    /// `// META: global=` does not name where the column runs; extension).
    #[serde(rename = "unsupported")]
    Unsupported,
}

impl Verdict {
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
            Verdict::Known => "known",
            Verdict::Fixed => "fixed",
            Verdict::Unavailable => "unavailable",
            Verdict::OverBudget => "over_budget",
            Verdict::Unsupported => "unsupported",
        }
    }

    /// Whether the cell ran (not unavailable, over the budget or unsupported).
    pub fn ran(self) -> bool {
        !matches!(self, Verdict::Unavailable | Verdict::OverBudget | Verdict::Unsupported)
    }

    /// Whether the verdict makes a run fail.
    pub fn is_failure(self) -> bool {
        matches!(self, Verdict::Fail | Verdict::Fixed)
    }
}

/// One entry of `known-divergences.yaml`.
#[derive(Debug, Clone)]
pub struct KnownEntry {
    pub engine: String,
    pub pattern: String,
    pub reason: String,
    /// Where the entry is written.
    pub file: PathBuf,
    pub line: usize,
    matcher: Option<GlobMatcher>,
    /// The case part of the pattern (all of it, or before `::` for a
    /// subtest's entry), to tell whether the entry's file is in a run.
    case_matcher: Option<GlobMatcher>,
}

impl KnownEntry {
    /// Whether the entry is about case `case_id` (the case itself, or one
    /// of its subtests).
    fn names_case(&self, case_id: &str) -> bool {
        let case = self.pattern.split("::").next().unwrap_or(&self.pattern);
        case == case_id || self.case_matcher.as_ref().is_some_and(|m| m.is_match(case_id))
    }

    pub fn matches(&self, engine: &str, case_id: &str) -> bool {
        engine == self.engine && (self.pattern == case_id || self.matcher.as_ref().is_some_and(|m| m.is_match(case_id)))
    }
}

/// The known-divergence list: engine -> case id or glob -> reason.
#[derive(Debug, Clone, Default)]
pub struct Known {
    pub file: Option<PathBuf>,
    pub entries: Vec<KnownEntry>,
}

impl Known {
    /// Reads the list, checking engine names against `engines`.
    pub fn load(file: &Path, engines: &[&str]) -> Result<Known, LoadError> {
        let text = std::fs::read_to_string(file).map_err(|e| LoadError::whole(file, format!("cannot read: {e}")))?;
        Self::parse(&text, file, engines)
    }

    pub fn parse(text: &str, file: &Path, engines: &[&str]) -> Result<Known, LoadError> {
        let doc: serde_yaml::Value = serde_yaml::from_str(text).map_err(|e| LoadError::yaml(file, &e))?;
        let spans = Spans::parse(text);
        let mut known = Known { file: Some(file.to_path_buf()), entries: Vec::new() };
        let top = match &doc {
            serde_yaml::Value::Null => return Ok(known),
            serde_yaml::Value::Mapping(m) => m,
            _ => return Err(LoadError::new(file, spans.find(""), "expected a mapping: engine -> {case id or glob: reason}")),
        };
        for (engine, cases) in top {
            let engine = engine.as_str().unwrap_or_default().to_string();
            let at = spans.find(&engine);
            if !engines.contains(&engine.as_str()) {
                return Err(LoadError::new(file, at, format!("unknown engine `{engine}` (known engines: {})", engines.join(", "))));
            }
            let Some(cases) = cases.as_mapping() else {
                return Err(LoadError::new(file, at, format!("`{engine}` must map case ids or globs to reasons")));
            };
            for (pattern, reason) in cases {
                let pattern = pattern.as_str().unwrap_or_default().to_string();
                let at = spans.find(&format!("{engine}.{pattern}"));
                let reason = match reason.as_str() {
                    Some(r) if !r.trim().is_empty() => r.to_string(),
                    _ => return Err(LoadError::new(file, at, format!("`{engine}: {pattern}` needs a reason (a non-empty string)"))),
                };
                let matcher = Glob::new(&pattern).ok().map(|g| g.compile_matcher());
                let case_matcher = Glob::new(pattern.split("::").next().unwrap_or(&pattern)).ok().map(|g| g.compile_matcher());
                known.entries.push(KnownEntry { engine: engine.clone(), pattern, reason, file: file.to_path_buf(), line: at.line, matcher, case_matcher });
            }
        }
        Ok(known)
    }

    /// The list that belongs to a corpus root, if it has one.
    pub fn for_root(root: &Path, engines: &[&str]) -> Result<Known, LoadError> {
        let file = root.join(KNOWN_FILE);
        if file.is_file() { Self::load(&file, engines) } else { Ok(Known::default()) }
    }

    pub fn find(&self, engine: &str, case_id: &str) -> Option<&KnownEntry> {
        self.entries.iter().find(|e| e.matches(engine, case_id))
    }

    /// Entries that match none of `cases` (for the engines that ran).
    /// Entries under `spec/` name the official suite's scripts as
    /// tests/spec.rs lays them out (`spec/GROUP/NAME.wast`), never a corpus
    /// case, and are not reported here.
    pub fn unused<'a>(&'a self, cases: &[Case], engines: &[&str]) -> Vec<&'a KnownEntry> {
        self.entries
            .iter()
            .filter(|e| !e.pattern.starts_with("spec/"))
            // A subtest's entry (`CASE::SUBTEST`) is used when its file is.
            .filter(|e| engines.contains(&e.engine.as_str()) && !cases.iter().any(|c| e.names_case(&c.id)))
            .collect()
    }
}

/// Per step: whether the outcome met the expectation (`None` for `any`).
pub fn check_steps(case: &Case, outcomes: &[Outcome]) -> Vec<Option<bool>> {
    case.steps
        .iter()
        .enumerate()
        .map(|(i, step)| match outcomes.get(i) {
            Some(o) => step.expect.check(o),
            None => Some(false),
        })
        .collect()
}

/// The verdict of a cell from its step checks and its known-divergence entry.
pub fn verdict(checks: &[Option<bool>], known: Option<&KnownEntry>) -> Verdict {
    let conforms = checks.iter().all(|c| *c != Some(false));
    match (conforms, known.is_some()) {
        (true, false) => Verdict::Pass,
        (false, false) => Verdict::Fail,
        (false, true) => Verdict::Known,
        (true, true) => Verdict::Fixed,
    }
}

/// The step a testharness cell gets when the harness itself failed.
pub const HARNESS_STEP: &str = "harness";

/// A testharness cell's verdict and the listed reason. The whole file may
/// be listed (its case id or a glob), or its subtests one by one as
/// `CASE::SUBTEST` (a glob; `CASE::harness` for a harness error): then the
/// cell is `known` when every failing subtest is listed, `fail` when one is
/// not, and `fixed` when a listed subtest passes.
pub fn subtest_verdict(case: &str, engine: &str, s: &crate::outcome::Subtests, known: &Known) -> (Verdict, Option<String>) {
    if let Some(k) = known.find(engine, case) {
        return (if s.all_pass() { Verdict::Fixed } else { Verdict::Known }, Some(k.reason.clone()));
    }
    let harness = (s.status != 0).then_some((HARNESS_STEP, false));
    let results = s.tests.iter().map(|t| (t.name.as_str(), t.status == 0)).chain(harness);
    let (mut unexpected, mut fixed, mut reasons) = (false, false, Vec::new());
    for (name, pass) in results {
        match known.find(engine, &format!("{case}::{name}")) {
            Some(k) if pass => {
                fixed = true;
                reasons.push(format!("{name}: listed, passes now ({})", k.reason));
            }
            Some(k) => {
                if !reasons.contains(&k.reason) {
                    reasons.push(k.reason.clone());
                }
            }
            None if !pass => unexpected = true,
            None => {}
        }
    }
    let verdict = match (unexpected, fixed, reasons.is_empty()) {
        (true, _, _) => Verdict::Fail,
        (false, true, _) => Verdict::Fixed,
        (false, false, false) => Verdict::Known,
        (false, false, true) => Verdict::Pass,
    };
    (verdict, (!reasons.is_empty()).then(|| reasons.join("; ")))
}

/// Engines grouped by identical normalized outcome for one step.
#[derive(Debug, Clone)]
pub struct StepDiff {
    pub step: usize,
    /// Each group: the outcome and the engines that share it.
    pub groups: Vec<(Outcome, Vec<&'static str>)>,
    /// Engines fall into more than one group.
    pub outcome_divergence: bool,
    /// Within a group, engines give different verbatim texts.
    pub message_divergence: bool,
}

/// Groups engines per step. `cells` are the engines that ran, with outcomes.
pub fn diff(cells: &[(&'static str, &[Outcome])]) -> Vec<StepDiff> {
    let steps = cells.iter().map(|(_, o)| o.len()).max().unwrap_or(0);
    (0..steps)
        .map(|step| {
            let mut groups: Vec<(Outcome, Vec<&'static str>)> = Vec::new();
            let mut message_divergence = false;
            for (engine, outcomes) in cells {
                let Some(o) = outcomes.get(step) else { continue };
                match groups.iter_mut().find(|(g, _)| g.same(o)) {
                    Some((g, engines)) => {
                        message_divergence |= g.message() != o.message();
                        engines.push(engine);
                    }
                    None => groups.push((o.clone(), vec![engine])),
                }
            }
            StepDiff { step, outcome_divergence: groups.len() > 1, message_divergence, groups }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::case::{TrapKind, Val};

    #[test]
    fn verdict_rules() {
        let known = Known::parse("wasmer:\n  \"memory64/*\": panics\n", Path::new("k.yaml"), &["wasmer"]).unwrap();
        let entry = known.find("wasmer", "memory64/grow");
        assert!(entry.is_some());
        assert!(known.find("wasmtime", "memory64/grow").is_none());
        assert_eq!(verdict(&[Some(true), None], None), Verdict::Pass);
        assert_eq!(verdict(&[Some(true), Some(false)], None), Verdict::Fail);
        assert_eq!(verdict(&[Some(false)], entry), Verdict::Known);
        assert_eq!(verdict(&[Some(true)], entry), Verdict::Fixed);
        assert!(Verdict::Fixed.is_failure() && Verdict::Fail.is_failure());
        assert!(!Verdict::Known.is_failure() && !Verdict::Unavailable.is_failure());
    }

    #[test]
    fn known_list_errors_point_at_lines() {
        let err = Known::parse("wasmtime: {}\nnosuch:\n  a: b\n", Path::new("k.yaml"), &["wasmtime"]).unwrap_err();
        assert_eq!(err.line, 2);
        assert!(err.message.contains("unknown engine `nosuch`"), "{}", err.message);
        let err = Known::parse("wasmtime:\n  a/b: \"\"\n", Path::new("k.yaml"), &["wasmtime"]).unwrap_err();
        assert!(err.message.contains("needs a reason"), "{}", err.message);
    }

    #[test]
    fn exact_ids_with_brackets_match() {
        let known = Known::parse("wasmi:\n  \"probe/x[pages=2]\": r\n", Path::new("k.yaml"), &["wasmi"]).unwrap();
        assert!(known.find("wasmi", "probe/x[pages=2]").is_some());
        assert!(known.find("wasmi", "probe/x[pages=3]").is_none());
    }

    #[test]
    fn groups_and_divergences() {
        let a = vec![Outcome::Returns(vec![Val::I32(-1)]), Outcome::Trap(TrapKind::OutOfBounds, "memory access out of bounds".into())];
        let b = vec![Outcome::Returns(vec![Val::I32(-1)]), Outcome::Trap(TrapKind::OutOfBounds, "out of bounds memory access".into())];
        let c = vec![Outcome::Returns(vec![Val::I32(1)]), Outcome::Trap(TrapKind::OutOfBounds, "out of bounds memory access".into())];
        let d = diff(&[("x", &a), ("y", &b), ("z", &c)]);
        assert!(d[0].outcome_divergence && !d[0].message_divergence);
        assert_eq!(d[0].groups.len(), 2);
        assert_eq!(d[0].groups[0].1, vec!["x", "y"]);
        assert!(!d[1].outcome_divergence && d[1].message_divergence);
    }
}
