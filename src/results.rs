//! results.json: the shape other tools rely on (DESIGN.md), the collector
//! that turns runner events into it, and the writer that keeps the file
//! current while a run goes on.
//!
//! While running, the file is JSON lines: a header object (`tool`,
//! `engines`, `"partial": true`), then one cell object per line as cells
//! finish. At the end it is replaced (atomically) by the final document.
//! [`ResultsDoc::read`] accepts both forms.

use crate::case::{Case, Expect, Step};
use crate::diff::{check_steps, verdict, Known, Verdict};
use crate::engine::Column;
use crate::outcome::Outcome;
use crate::runner::CellRun;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

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
pub struct StepEntry {
    /// `invoke grow(2)`
    pub step: String,
    /// Whether the outcome met `expect`; absent for `expect: any`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ok: Option<bool>,
    /// The outcome: `kind` and its fields (`values`, `pages`, `hex`, `trap`,
    /// `error`, `message`).
    #[serde(flatten)]
    pub outcome: serde_json::Map<String, serde_json::Value>,
    /// What the case expects (extension: `"ok"`, `{"returns": [-1]}`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect: Option<serde_json::Value>,
    /// Whether the outcome met the step's `claim` (extension; only on steps
    /// that have one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claim_ok: Option<bool>,
}

impl StepEntry {
    pub fn kind(&self) -> &str {
        self.outcome.get("kind").and_then(|k| k.as_str()).unwrap_or("")
    }

    pub fn message(&self) -> Option<&str> {
        self.outcome.get("message").and_then(|k| k.as_str())
    }
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

/// What a case is, so that a report can show it (extension).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CaseEntry {
    pub id: String,
    pub file: String,
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
    pub expect: serde_json::Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claim: Option<serde_json::Value>,
    /// The failure text the case gives (.wast assertion messages): shown
    /// beside the engines' texts, never compared (extension).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
}

impl CaseEntry {
    pub fn of(case: &Case) -> CaseEntry {
        CaseEntry {
            id: case.id.clone(),
            file: case.file.display().to_string(),
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
                .steps
                .iter()
                .map(|s| CaseStep {
                    step: s.label(),
                    expect: s.expect.to_json(),
                    claim: s.claim.as_ref().map(Expect::to_json),
                    message: s.message.clone(),
                    line: (s.line > 0).then_some(s.line),
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
        }
    }

    /// Counts a cell: its verdict and its unsupported steps.
    pub fn add_cell(&mut self, cell: &CellEntry) {
        self.add(cell.verdict);
        self.unsupported_steps += cell.steps.iter().filter(|s| s.kind() == "unsupported").count();
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
        if self.unsupported_steps > 0 {
            s += &format!(" ({} steps unsupported)", self.unsupported_steps);
        }
        let ran = self.cells - self.unavailable;
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
    pub fn read(path: &Path) -> Result<ResultsDoc, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
        if let Ok(doc) = serde_json::from_str::<ResultsDoc>(&text) {
            return Ok(doc);
        }
        let mut lines = text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty());
        let (_, head) = lines.next().ok_or_else(|| format!("{}: empty results file", path.display()))?;
        let mut doc: ResultsDoc = serde_json::from_str(head)
            .map_err(|e| format!("{}:1: expected a results document or its JSON-lines header: {e}", path.display()))?;
        for (i, line) in lines {
            match serde_json::from_str::<CellEntry>(line) {
                Ok(c) => doc.cells.push(c),
                // The last line of a killed run may be cut off: keep what is whole.
                Err(_) if text.lines().skip(i + 1).all(|l| l.trim().is_empty()) => break,
                Err(e) => return Err(format!("{}:{}: expected a cell: {e}", path.display(), i + 1)),
            }
        }
        doc.partial = true;
        Ok(doc)
    }
}

/// Merges results files (shards of one run, or runs of different engines)
/// into one document. The same cell twice is an error unless both agree on
/// everything but timings; an engine's versions must agree; a case defined
/// differently in two files is an error. The summary is recomputed; its
/// `seconds` is the longest input's (shards run side by side).
pub fn merge(inputs: Vec<(PathBuf, ResultsDoc)>) -> Result<ResultsDoc, String> {
    let mut out = ResultsDoc::default();
    let mut cell_from: BTreeMap<(String, String), (usize, PathBuf)> = BTreeMap::new();
    let mut case_from: BTreeMap<String, (usize, PathBuf)> = BTreeMap::new();
    let mut engine_from: BTreeMap<String, PathBuf> = BTreeMap::new();
    let mut seconds: f64 = 0.0;
    let mut revisions: Vec<String> = Vec::new();
    for (i, (path, doc)) in inputs.into_iter().enumerate() {
        if i == 0 {
            out.tool = doc.tool.clone();
        } else if doc.tool != out.tool {
            // Outcomes, ids and normalization change between versions of
            // the tool: a merged report would compare unlike things.
            return Err(format!(
                "{}: written by {} {}, the others by {} {} (merge results of one tool version: the tool version differs)",
                path.display(),
                doc.tool.name,
                doc.tool.version,
                out.tool.name,
                out.tool.version
            ));
        }
        for e in doc.engines {
            match out.engines.iter_mut().find(|x| x.id == e.id) {
                None => {
                    engine_from.insert(e.id.clone(), path.clone());
                    out.engines.push(e);
                }
                Some(x) => {
                    if let (Some(a), Some(b)) = (&x.version, &e.version) {
                        if a != b {
                            return Err(format!(
                                "engine {}: version {a} in {} but {b} in {} (merge results of one engine version)",
                                e.id,
                                engine_from[&e.id].display(),
                                path.display()
                            ));
                        }
                    }
                    if e.available && !x.available {
                        *x = e;
                        engine_from.insert(x.id.clone(), path.clone());
                    } else if x.version.is_none() {
                        x.version = e.version;
                    }
                }
            }
        }
        for c in doc.cases {
            match case_from.get(&c.id) {
                None => {
                    case_from.insert(c.id.clone(), (out.cases.len(), path.clone()));
                    out.cases.push(c);
                }
                Some((at, first)) => {
                    if out.cases[*at] != c {
                        return Err(format!(
                            "case {} differs between {} and {} (results of different corpora?)",
                            c.id,
                            first.display(),
                            path.display()
                        ));
                    }
                }
            }
        }
        for c in doc.cells {
            let key = (c.case.clone(), c.engine.clone());
            match cell_from.get(&key) {
                None => {
                    cell_from.insert(key, (out.cells.len(), path.clone()));
                    out.cells.push(c);
                }
                Some((at, first)) => {
                    let untimed = |c: &CellEntry| CellEntry { ms: 0.0, engine_ms: None, ..c.clone() };
                    if untimed(&out.cells[*at]) != untimed(&c) {
                        return Err(format!(
                            "cell {}::{} is in {} and in {} with different results",
                            c.case,
                            c.engine,
                            first.display(),
                            path.display()
                        ));
                    }
                }
            }
        }
        for e in doc.load_errors {
            if !out.load_errors.contains(&e) {
                out.load_errors.push(e);
            }
        }
        out.started = match (out.started.take(), doc.started) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        seconds = seconds.max(doc.summary.map(|s| s.seconds).unwrap_or(0.0));
        out.interrupted |= doc.interrupted;
        out.partial |= doc.partial;
        if let Some(corpus) = doc.corpus {
            if let Some(r) = &corpus.revision {
                if !revisions.contains(r) {
                    revisions.push(r.clone());
                }
            }
            out.corpus.get_or_insert(corpus);
        }
    }
    if let Some(c) = &mut out.corpus {
        c.revision = (!revisions.is_empty()).then(|| revisions.join(" + "));
    }
    let mut summary = Summary { seconds, ..Summary::default() };
    for c in &out.cells {
        summary.add_cell(c);
    }
    out.summary = Some(summary);
    out.cases.sort_by(|a, b| a.id.cmp(&b.id));
    out.sort_cells();
    Ok(out)
}

impl ResultsDoc {
    /// Cells by case id, then in the order of `engines`.
    pub fn sort_cells(&mut self) {
        let engine_order: Vec<String> = self.engines.iter().map(|e| e.id.clone()).collect();
        let pos = |e: &str| engine_order.iter().position(|x| x == e).unwrap_or(usize::MAX);
        self.cells.sort_by(|a, b| a.case.cmp(&b.case).then(pos(&a.engine).cmp(&pos(&b.engine))));
    }
}

/// Builds cells from runner output and keeps the results file current.
pub struct Collector<'a> {
    pub cases: &'a [Case],
    pub known: &'a Known,
    pub doc: ResultsDoc,
    pub summary: Summary,
    out: Option<(PathBuf, BufWriter<File>)>,
}

impl<'a> Collector<'a> {
    /// Starts a collection; with `out`, writes the JSON-lines header now.
    pub fn new(cases: &'a [Case], known: &'a Known, engines: &[&Column], out: Option<&Path>) -> std::io::Result<Self> {
        let doc = ResultsDoc {
            engines: engines
                .iter()
                .map(|e| EngineEntry {
                    id: e.id.into(),
                    version: (!e.version.is_empty()).then(|| e.version.into()),
                    available: true,
                    reason: None,
                    family: Some(e.family.into()),
                    name: (e.name != e.id).then(|| e.name.into()),
                    configuration: Some(e.configuration.into()),
                })
                .collect(),
            started: Some(humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()),
            ..ResultsDoc::default()
        };
        let out = match out {
            Some(path) => {
                let mut w = BufWriter::new(File::create(path)?);
                let head = ResultsDoc { partial: true, ..doc.clone() };
                serde_json::to_writer(&mut w, &head)?;
                w.write_all(b"\n")?;
                w.flush()?;
                Some((path.to_path_buf(), w))
            }
            None => None,
        };
        Ok(Collector { cases, known, doc, summary: Summary::default(), out })
    }

    pub fn engine_started(&mut self, engine: &str, version: &str) {
        if let Some(e) = self.doc.engines.iter_mut().find(|e| e.id == engine) {
            e.version = Some(version.to_string());
        }
    }

    pub fn engine_unavailable(&mut self, engine: &str, reason: &str) {
        if let Some(e) = self.doc.engines.iter_mut().find(|e| e.id == engine) {
            e.available = false;
            e.reason = Some(reason.to_string());
        }
    }

    /// Takes over what an interrupted run finished: its cells of this run's
    /// cases and engines (written to the file again), its engines' versions
    /// and its start time. Returns how many cells were kept.
    pub fn resume_from(&mut self, doc: &ResultsDoc) -> usize {
        for e in &doc.engines {
            if let Some(mine) = self.doc.engines.iter_mut().find(|x| x.id == e.id) {
                if mine.version.is_none() {
                    mine.version = e.version.clone();
                }
            }
        }
        if doc.started.is_some() {
            self.doc.started = doc.started.clone();
        }
        let ids: std::collections::HashSet<&str> = self.cases.iter().map(|c| c.id.as_str()).collect();
        let mut kept = 0;
        for cell in &doc.cells {
            if ids.contains(cell.case.as_str()) && self.doc.engines.iter().any(|e| e.id == cell.engine) {
                self.push(cell.clone());
                kept += 1;
            }
        }
        kept
    }

    /// Judges a finished cell, records it and appends it to the file.
    pub fn add(&mut self, run: &CellRun) -> &CellEntry {
        let case = &self.cases[run.case];
        let checks = check_steps(case, &run.outcomes);
        let known = self.known.find(run.engine, &case.id);
        let v = verdict(&checks, known);
        let entry = CellEntry {
            case: case.id.clone(),
            engine: run.engine.to_string(),
            verdict: v,
            steps: case
                .steps
                .iter()
                .zip(&run.outcomes)
                .zip(&checks)
                .map(|((s, o), ok)| step_entry(s, o, *ok))
                .collect(),
            ms: round3(run.ms),
            engine_ms: run.engine_us.map(|us| round3(us as f64 / 1000.0)),
            reason: known.map(|k| k.reason.clone()),
            cross_origin_isolated: run.cross_origin_isolated,
        };
        self.push(entry)
    }

    /// Records a cell that could not run.
    pub fn add_unavailable(&mut self, case: usize, engine: &str, reason: &str) -> &CellEntry {
        let entry = CellEntry {
            case: self.cases[case].id.clone(),
            engine: engine.to_string(),
            verdict: Verdict::Unavailable,
            steps: vec![],
            ms: 0.0,
            engine_ms: None,
            reason: Some(reason.to_string()),
            cross_origin_isolated: None,
        };
        self.push(entry)
    }

    fn push(&mut self, entry: CellEntry) -> &CellEntry {
        self.summary.add_cell(&entry);
        if let Some((_, w)) = &mut self.out {
            // A failed write must not lose the run: the final write reports it.
            let _ = serde_json::to_writer(&mut *w, &entry).map(|_| w.write_all(b"\n")).map(|_| w.flush());
        }
        self.doc.cells.push(entry);
        self.doc.cells.last().expect("just pushed")
    }

    /// Writes the final document (atomically replacing the JSON lines).
    pub fn finish(mut self, seconds: f64, load_errors: Vec<String>, interrupted: bool) -> std::io::Result<ResultsDoc> {
        self.summary.seconds = round3(seconds);
        self.doc.summary = Some(self.summary.clone());
        self.doc.load_errors = load_errors;
        self.doc.interrupted = interrupted;
        let mut ids: Vec<&str> = self.doc.cells.iter().map(|c| c.case.as_str()).collect();
        ids.sort();
        ids.dedup();
        let by_id: BTreeMap<&str, &Case> = self.cases.iter().map(|c| (c.id.as_str(), c)).collect();
        self.doc.cases = ids.iter().filter_map(|id| by_id.get(id)).map(|c| CaseEntry::of(c)).collect();
        self.doc.sort_cells();
        if let Some((path, w)) = self.out.take() {
            drop(w);
            write_json_atomically(&path, &self.doc)?;
        }
        Ok(self.doc)
    }
}

pub fn write_json_atomically(path: &Path, doc: &ResultsDoc) -> std::io::Result<()> {
    let tmp = path.with_extension("json.tmp");
    {
        let mut w = BufWriter::new(File::create(&tmp)?);
        serde_json::to_writer_pretty(&mut w, doc)?;
        w.write_all(b"\n")?;
        w.flush()?;
    }
    std::fs::rename(&tmp, path)
}

fn step_entry(step: &Step, outcome: &Outcome, ok: Option<bool>) -> StepEntry {
    StepEntry {
        step: step.label(),
        ok,
        outcome: outcome.to_json(),
        expect: Some(step.expect.to_json()),
        claim_ok: step.claim.as_ref().and_then(|c| c.check(outcome)),
    }
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}
