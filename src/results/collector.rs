//! The collector: turns runner events into cells (judged against the case
//! and the known divergences) and keeps the results file current while a
//! run goes on.

use super::{CaseEntry, CellEntry, EngineEntry, ResultsDoc, StepEntry, StepOutcome, Summary};
use crate::case::ErrorKind;
use crate::outcome::Subtests;
use crate::case::{Action, Case, Step};
use crate::diff::{check_steps, verdict, Known, Verdict};
use crate::engine::Column;
use crate::outcome::Outcome;
use crate::runner::CellRun;
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

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

    /// Runs `cells` of `cases` (this collector's cases, shared with the
    /// runner) and records every event: the one route from the runner into
    /// results, which `run`, `audit`, `fuzz` and `cargo test`'s trials take.
    /// `seen` gets each event after it is recorded, with the cell it made
    /// (progress bars; fuzz reads the typed outcomes off the event).
    /// Returns whether the run was interrupted.
    pub fn run(
        &mut self,
        cases: std::sync::Arc<Vec<Case>>,
        cells: Vec<(usize, &'static Column)>,
        opts: crate::runner::RunOptions,
        mut seen: impl FnMut(&crate::runner::RunEvent, Option<&CellEntry>),
    ) -> bool {
        crate::runner::run_blocking(cases, cells, opts, |ev| {
            let entry = self.record(&ev);
            seen(&ev, entry);
            true
        })
    }

    /// Records one event; returns the cell it recorded, if the event was one.
    pub fn record(&mut self, ev: &crate::runner::RunEvent) -> Option<&CellEntry> {
        use crate::runner::RunEvent;
        match ev {
            RunEvent::Started { engine, version } => self.engine_started(engine, version),
            RunEvent::Unavailable { engine, reason } => self.engine_unavailable(engine, reason),
            RunEvent::NotRun { case, engine, verdict, reason } => return Some(self.add_not_run(*case, engine, *verdict, reason)),
            RunEvent::Cell(cell) => return Some(self.add(cell)),
        }
        None
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
        if let [Outcome::Subtests(s)] = run.outcomes.as_slice() {
            let (verdict, reason) = crate::diff::subtest_verdict(&case.id, run.engine, s, self.known);
            let entry = CellEntry {
                case: case.id.clone(),
                engine: run.engine.to_string(),
                verdict,
                steps: subtest_steps(s),
                ms: round3(run.ms),
                engine_ms: run.engine_us.map(|us| round3(us as f64 / 1000.0)),
                reason,
                cross_origin_isolated: run.cross_origin_isolated,
            };
            return self.push(entry);
        }
        let checks = check_steps(case, &run.outcomes);
        let known = self.known.find(run.engine, &case.id);
        let v = verdict(&checks, known);
        let entry = CellEntry {
            case: case.id.clone(),
            engine: run.engine.to_string(),
            verdict: v,
            steps: case
                .steps()
                .zip(&run.outcomes)
                .zip(&checks)
                .enumerate()
                .map(|(i, ((s, o), ok))| step_entry(s, o, *ok, run.step_us.get(i).copied().flatten()))
                .collect(),
            ms: round3(run.ms),
            engine_ms: run.engine_us.map(|us| round3(us as f64 / 1000.0)),
            reason: known.map(|k| k.reason.clone()),
            cross_origin_isolated: run.cross_origin_isolated,
        };
        self.push(entry)
    }

    /// Records a cell that was not run (`Unavailable`, `OverBudget` or `Unsupported`).
    pub fn add_not_run(&mut self, case: usize, engine: &str, verdict: Verdict, reason: &str) -> &CellEntry {
        let entry = CellEntry {
            case: self.cases[case].id.clone(),
            engine: engine.to_string(),
            verdict,
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

fn step_entry((action, step): (&Action, &Step), outcome: &Outcome, ok: Option<bool>, us: Option<u64>) -> StepEntry {
    StepEntry {
        step: step.label(action),
        ok,
        outcome: outcome.into(),
        expect: Some(super::Expected::from(&step.expect)),
        claim_ok: step.claim.as_ref().and_then(|c| c.check(outcome)),
        ms: us.map(|us| round3(us as f64 / 1000.0)),
    }
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// A testharness file's run as steps: one per subtest, in the order the
/// file defined them, each expected to pass (`PASS` is `ok`; `FAIL` an
/// `error` of kind `other` with the assertion's message; `TIMEOUT`,
/// `NOTRUN` and `PRECONDITION_FAILED` are `timeout`, `skipped` and
/// `unsupported`); then, when the harness itself did not end `OK`, a step
/// `harness` that says why.
fn subtest_steps(s: &Subtests) -> Vec<StepEntry> {
    let step = |name: &str, ok: bool, outcome: StepOutcome| StepEntry { step: name.to_string(), ok: Some(ok), outcome, expect: Some(super::Expected::Word("ok".into())), claim_ok: None, ms: None };
    let mut out: Vec<StepEntry> = s
        .tests
        .iter()
        .map(|t| {
            let message = t.message.clone().unwrap_or_default();
            let outcome = match t.status {
                0 => StepOutcome::Ok,
                1 => StepOutcome::Error { error: ErrorKind::Other, message },
                2 => StepOutcome::Timeout { message },
                3 => StepOutcome::Skipped { message },
                _ => StepOutcome::Unsupported { message },
            };
            step(&t.name, t.status == 0, outcome)
        })
        .collect();
    if s.status != 0 {
        let message = s.message.clone().unwrap_or_default();
        let outcome = match s.status {
            2 if message.is_empty() => StepOutcome::Timeout { message: "the harness timed out (subtests still running were timed out)".into() },
            2 => StepOutcome::Timeout { message: format!("the harness timed out: {message}") },
            _ => StepOutcome::Error { error: ErrorKind::Other, message: format!("harness error: {message}") },
        };
        out.push(step(crate::diff::HARNESS_STEP, false, outcome));
    }
    out
}
