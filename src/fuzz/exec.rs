//! Running programs: the runner on real columns, behind [`Exec`] so the
//! run loop and the minimizer can be tested on in-process engines.

use crate::case::Case;
use crate::outcome::Outcome;
use std::sync::Arc;

/// Runs programs on engines: per case, per engine (in `engines` order), the outcomes.
pub trait Exec {
    fn engines(&self) -> Vec<&'static str>;
    fn run(&mut self, cases: &[Case]) -> Vec<Vec<Vec<Outcome>>>;
    /// The same, on these engines only (minimizing needs only those that missed).
    fn subset(&mut self, ids: &[&str]) -> Box<dyn Exec + '_>;
    /// The seconds the heavy programs' cells took so far, where known.
    fn heavy_seconds(&self) -> f64 {
        0.0
    }
}

/// The runner on real columns.
pub struct RunnerExec {
    pub columns: Vec<&'static crate::engine::Column>,
    pub opts: crate::runner::RunOptions,
    /// The heavy programs' cell seconds so far.
    pub heavy_seconds: f64,
}

impl Exec for RunnerExec {
    fn engines(&self) -> Vec<&'static str> {
        self.columns.iter().map(|c| c.id).collect()
    }

    fn subset(&mut self, ids: &[&str]) -> Box<dyn Exec + '_> {
        let columns = self.columns.iter().filter(|c| ids.contains(&c.id)).copied().collect();
        Box::new(RunnerExec { columns, opts: self.opts.clone(), heavy_seconds: 0.0 })
    }

    fn heavy_seconds(&self) -> f64 {
        self.heavy_seconds
    }

    fn run(&mut self, cases: &[Case]) -> Vec<Vec<Vec<Outcome>>> {
        let cases = Arc::new(cases.to_vec());
        let cells: Vec<(usize, &'static crate::engine::Column)> =
            (0..cases.len()).flat_map(|c| self.columns.iter().map(move |e| (c, *e))).collect();
        let mut out = vec![vec![Vec::new(); self.columns.len()]; cases.len()];
        let ids = self.engines();
        let heavy = &mut self.heavy_seconds;
        // The route every command takes; the judge reads the typed
        // outcomes off the events (the cells' JSON values lose their types).
        let known = crate::diff::Known::default();
        let mut collector = crate::results::Collector::new(&cases, &known, &self.columns, None).expect("no file to open");
        collector.run(cases.clone(), cells, self.opts.clone(), |ev, _| match ev {
            crate::runner::RunEvent::Cell(c) => {
                // A heavy cell of an embedded column, with its CPU time
                // (its wall time counts the waits for a core); the ideal
                // is the embedded columns' alone.
                if let (Some(_), Some(us)) = (cases[c.case].timeout, c.cpu_us) {
                    *heavy += us as f64 / 1e6;
                }
                if let Some(e) = ids.iter().position(|id| *id == c.engine) {
                    out[c.case][e] = c.outcomes.clone();
                }
            }
            crate::runner::RunEvent::NotRun { case, engine, reason, .. } => {
                if let Some(e) = ids.iter().position(|id| id == engine) {
                    out[*case][e] = vec![Outcome::Unsupported(reason.clone())];
                }
            }
            _ => {}
        });
        out
    }
}

