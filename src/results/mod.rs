//! results.json: the shape other tools rely on (README, "results.json"), the collector
//! that turns runner events into it, and the writer that keeps the file
//! current while a run goes on.
//!
//! While running, the file is JSON lines: a header object (`tool`,
//! `engines`, `"partial": true`), then one cell object per line as cells
//! finish. At the end it is replaced (atomically) by the final document.
//! [`ResultsDoc::read`] accepts both forms.

mod collector;
pub mod audit;
pub mod limits;
pub mod measures;
mod merge;
pub mod rundiff;
mod expected;
mod step;

pub use collector::{write_json_atomically, Collector};
pub use merge::merge;
pub use expected::Expected;
pub use step::{StepEntry, StepOutcome};

use anyhow::{anyhow, Context};
use crate::case::{Case, Form};
use crate::diff::Verdict;
use serde::{Deserialize, Serialize};
use std::path::Path;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Tool {
    pub name: String,
    pub version: String,
}

impl Default for Tool {
    fn default() -> Self {
        Tool { name: "wasm-matrix".into(), version: env!("CARGO_PKG_VERSION").into() }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct EngineEntry {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    pub available: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Extension: the engine family (`wasmtime`, `V8`, ...) and how the
    /// column configures its engine (`Strategy::Winch`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family: Option<String>,
    /// Extension: what the report calls the column ("WebKit (WebKitGTK)").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub configuration: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CellEntry {
    pub case: String,
    pub engine: String,
    pub verdict: Verdict,
    pub steps: Vec<StepEntry>,
    /// Wall time of the cell in milliseconds.
    pub ms: f64,
    /// The engine's own time (compile + instantiate + steps), in ms (extension).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine_ms: Option<f64>,
    /// For `known`/`fixed`: the listed reason; for `unavailable`: why (extension).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Browsers: whether the harness page was cross-origin isolated (extension).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cross_origin_isolated: Option<bool>,
}

impl CellEntry {
    /// The cell without its timings (the cell's, the engine's and each
    /// step's): what two runs of the same cell are compared on.
    pub fn untimed(&self) -> CellEntry {
        let mut c = self.clone();
        c.ms = 0.0;
        c.engine_ms = None;
        for s in &mut c.steps {
            s.ms = None;
        }
        c
    }
}

/// What a case is, so that a report can show it (extension).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CaseEntry {
    pub id: String,
    pub file: String,
    /// `script` (.wast) or `testharness`: the cell is counted in assertions
    /// or subtests (extension; absent for a case).
    #[serde(default, skip_serializing_if = "Form::is_case")]
    pub form: Form,
    pub summary: String,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wat: Option<String>,
    /// Proposals the engines switched on, and off (`-multi-memory`), for this
    /// case: its own `features` with `run --features` applied (extension).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub features: Vec<String>,
    pub steps: Vec<CaseStep>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CaseStep {
    pub step: String,
    pub expect: Expected,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claim: Option<Expected>,
    /// The failure text the case gives (.wast assertion messages): shown
    /// beside the engines' texts, never compared (extension).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    /// The step grows a memory: a -1 it returns is a refused grow (extension).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub grows: bool,
    /// The step uses the values the case's `vary` sweeps: a limit sweep is
    /// judged on it (extension).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub varies: bool,
}

impl CaseEntry {
    pub fn of(case: &Case) -> CaseEntry {
        CaseEntry {
            id: case.id.clone(),
            file: case.file.display().to_string(),
            form: case.form,
            summary: case.summary.clone(),
            tags: case.tags.clone(),
            source: case.source.clone(),
            wat: case.wat.clone(),
            features: case
                .plan
                .features
                .iter()
                .map(|f| f.name().to_string())
                .chain(case.plan.without.iter().map(|f| format!("-{}", f.name())))
                .collect(),
            steps: case
                .steps()
                .map(|(a, s)| CaseStep {
                    step: s.label(a),
                    expect: Expected::from(&s.expect),
                    claim: s.claim.as_ref().map(Expected::from),
                    message: s.message.clone(),
                    line: (s.line > 0).then_some(s.line),
                    grows: a.grows(),
                    varies: s.varies,
                })
                .collect(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Summary {
    pub cells: usize,
    pub pass: usize,
    pub fail: usize,
    pub known: usize,
    pub fixed: usize,
    pub unavailable: usize,
    /// Cells not run because the case needs more memory than the budget
    /// (extension).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub over_budget: usize,
    /// Cells not run because the case is not for the column (extension).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub unsupported: usize,
    pub seconds: f64,
    /// Steps reported `unsupported`: commands the tool cannot express, or
    /// that an engine cannot run (extension).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub unsupported_steps: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl Summary {
    pub fn add(&mut self, v: Verdict) {
        self.cells += 1;
        match v {
            Verdict::Pass => self.pass += 1,
            Verdict::Fail => self.fail += 1,
            Verdict::Known => self.known += 1,
            Verdict::Fixed => self.fixed += 1,
            Verdict::Unavailable => self.unavailable += 1,
            Verdict::OverBudget => self.over_budget += 1,
            Verdict::Unsupported => self.unsupported += 1,
        }
    }

    /// Counts a cell: its verdict and its unsupported steps.
    pub fn add_cell(&mut self, cell: &CellEntry) {
        self.add(cell.verdict);
        self.unsupported_steps += cell.steps.iter().filter(|s| matches!(s.outcome, StepOutcome::Unsupported { .. })).count();
    }

    /// `N cells, P pass, F fail, K known in T s (X cells/s)`.
    pub fn line(&self) -> String {
        let mut s = format!("{} cells, {} pass, {} fail, {} known", self.cells, self.pass, self.fail, self.known);
        if self.fixed > 0 {
            s += &format!(", {} fixed", self.fixed);
        }
        if self.unavailable > 0 {
            s += &format!(", {} unavailable", self.unavailable);
        }
        if self.over_budget > 0 {
            s += &format!(", {} over the memory budget", self.over_budget);
        }
        if self.unsupported > 0 {
            s += &format!(", {} not for their column", self.unsupported);
        }
        if self.unsupported_steps > 0 {
            s += &format!(" ({} steps unsupported)", self.unsupported_steps);
        }
        let ran = self.cells - self.unavailable - self.over_budget - self.unsupported;
        let rate = if self.seconds > 0.0 { ran as f64 / self.seconds } else { 0.0 };
        s + &format!(" in {:.2} s ({:.0} cells/s)", self.seconds, rate)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct ResultsDoc {
    pub tool: Tool,
    pub engines: Vec<EngineEntry>,
    pub cells: Vec<CellEntry>,
    /// Extensions: the cases run, load errors, when and how long, the totals,
    /// whether the run was cut short, and the JSON-lines marker.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cases: Vec<CaseEntry>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub load_errors: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<Summary>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub interrupted: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub partial: bool,
    /// Which corpus was run: its root and `git describe` there (extension).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub corpus: Option<Corpus>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Corpus {
    pub root: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
}

impl Corpus {
    /// The corpus at `root`, with `git describe --always --dirty --tags` there
    /// when it is in a git checkout.
    pub fn at(root: &Path) -> Corpus {
        let revision = std::process::Command::new("git")
            .args(["describe", "--always", "--dirty", "--tags"])
            .current_dir(root)
            .stderr(std::process::Stdio::null())
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .filter(|r| !r.is_empty());
        Corpus { root: root.display().to_string(), revision }
    }
}

impl ResultsDoc {
    /// Reads a final document or a JSON-lines file left by an interrupted run.
    pub fn read(path: &Path) -> anyhow::Result<ResultsDoc> {
        let text = std::fs::read_to_string(path).with_context(|| format!("{}: cannot read", path.display()))?;
        if let Ok(doc) = serde_json::from_str::<ResultsDoc>(&text) {
            return Ok(doc);
        }
        let mut lines = text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty());
        let (_, head) = lines.next().ok_or_else(|| anyhow!("{}: empty results file", path.display()))?;
        let mut doc: ResultsDoc = serde_json::from_str(head)
            .with_context(|| format!("{}:1: expected a results document or its JSON-lines header", path.display()))?;
        for (i, line) in lines {
            match serde_json::from_str::<CellEntry>(line) {
                Ok(c) => doc.cells.push(c),
                // The last line of a killed run may be cut off: keep what is whole.
                Err(_) if text.lines().skip(i + 1).all(|l| l.trim().is_empty()) => break,
                Err(e) => return Err(anyhow::Error::new(e).context(format!("{}:{}: expected a cell", path.display(), i + 1))),
            }
        }
        doc.partial = true;
        Ok(doc)
    }
}

impl CellEntry {
    /// Steps that met their expectation, and steps judged (those with an
    /// `ok`): for a .wast script its assertions, for a testharness file its
    /// subtests.
    pub fn passed(&self) -> (usize, usize) {
        let judged: Vec<bool> = self.steps.iter().filter_map(|s| s.ok).collect();
        (judged.iter().filter(|ok| **ok).count(), judged.len())
    }
}

/// `1,023/1,025`, as wpt.fyi shows a file's subtests.
pub fn count_text((passed, total): (usize, usize)) -> String {
    let group = |n: usize| {
        let digits = n.to_string();
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                out.push(',');
            }
            out.push(c);
        }
        out
    };
    format!("{}/{}", group(passed), group(total))
}
