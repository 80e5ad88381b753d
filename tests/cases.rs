//! `cargo test` over the case corpus: one trial per case x engine, named
//! `grow/beyond-maximum::wasmtime`. The matrix for the trials that cargo's
//! filter selects runs once, up front and in parallel (the same runner as
//! `wasm-matrix run`); each trial then reports its cell's verdict. A cell
//! that failed with a crash or a timeout runs once more, alone, and its
//! trial takes that verdict (the first is printed).
//! Expected failures are data: `cases/known-divergences.yaml`.

use libtest_mimic::{Arguments, Failed, Trial};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use wasm_matrix::case::load_paths;
use wasm_matrix::diff::{Known, Verdict};
use wasm_matrix::engine::{self, ENGINES};
use wasm_matrix::report::explain;
use wasm_matrix::results::{CellEntry, Collector};
use wasm_matrix::runner::RunOptions;

fn main() {
    let args = Arguments::from_args();
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("cases");
    let (cases, load_errors) = load_paths(&[corpus.clone()]);
    let ids: Vec<&str> = ENGINES.iter().map(|e| e.id).collect();
    let known = Known::for_root(&corpus, &ids);
    let required = engine::required_from_env().expect("WASM_MATRIX_REQUIRE names known engines");

    let mut trials: Vec<Trial> = Vec::new();
    for e in &load_errors {
        let text = e.to_string();
        trials.push(Trial::test(format!("load::{}", e.file.display()), move || Err(Failed::from(text))));
    }
    let known = match known {
        Ok(k) => k,
        Err(e) => {
            let text = e.to_string();
            trials.push(Trial::test("load::known-divergences.yaml", move || Err(Failed::from(text))));
            Known::default()
        }
    };

    // Which cells cargo's filter selects, decided with libtest-mimic's own rules.
    let name = |case: &str, engine: &str| format!("{case}::{engine}");
    let mut selected = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        for spec in ENGINES {
            if !args.is_filtered_out(&Trial::test(name(&case.id, spec.id), || Ok(()))) {
                selected.push((i, spec));
            }
        }
    }

    let mut results: HashMap<(String, String), CellEntry> = HashMap::new();
    if !args.list && !selected.is_empty() {
        let exe = PathBuf::from(env!("CARGO_BIN_EXE_wasm-matrix"));
        let opts = RunOptions::new(exe);
        let cases_arc = Arc::new(cases.clone());
        let mut collector = Collector::new(&cases, &known, &ENGINES.iter().collect::<Vec<_>>(), None).expect("no file to open");
        collector.run(cases_arc.clone(), selected.clone(), opts, |_, _| {});
        for cell in collector.doc.cells.drain(..) {
            results.insert((cell.case.clone(), cell.engine.clone()), cell);
        }
        // A cell that failed because its engine's process died or ran out
        // of time runs once more, alone: the one thing a loaded machine can
        // do to a cell. Its trial takes the second run's verdict, and the
        // first one's explanation is printed, never dropped.
        let again: Vec<(usize, &'static engine::Column)> = selected
            .iter()
            .copied()
            .filter(|(c, e)| results.get(&(cases[*c].id.clone(), e.id.to_string())).is_some_and(died))
            .collect();
        if !again.is_empty() {
            let opts = RunOptions::new(PathBuf::from(env!("CARGO_BIN_EXE_wasm-matrix")));
            let mut collector = Collector::new(&cases, &known, &ENGINES.iter().collect::<Vec<_>>(), None).expect("no file to open");
            collector.run(cases_arc, again, opts, |_, _| {});
            for cell in collector.doc.cells.drain(..) {
                let key = (cell.case.clone(), cell.engine.clone());
                if let Some(first) = results.get(&key) {
                    eprintln!("{}::{} ran again after: {}\n  the second run: {:?}", cell.case, cell.engine, explain(first).replace('\n', "\n  "), cell.verdict);
                }
                results.insert(key, cell);
            }
        }
    }
    let results = Arc::new(results);

    for case in &cases {
        for spec in ENGINES {
            let key = (case.id.clone(), spec.id.to_string());
            let cell = results.get(&key).cloned();
            let required = required.contains(&spec.id);
            // A cell over the memory budget is not run on this machine: it is
            // shown as ignored, with the reason, never as passed.
            let ignored = cell.as_ref().is_some_and(|c| (c.verdict == Verdict::Unavailable && !required) || matches!(c.verdict, Verdict::OverBudget | Verdict::Unsupported));
            if let Some(c) = cell.as_ref().filter(|_| ignored) {
                eprintln!("{}::{} ignored: {}", case.id, spec.id, explain(c));
            }
            let trial = Trial::test(name(&case.id, spec.id), move || match cell {
                None => Err(Failed::from("the matrix produced no result for this cell")),
                Some(c) if c.verdict.is_failure() || c.verdict == Verdict::Unavailable => Err(Failed::from(explain(&c))),
                Some(_) => Ok(()),
            });
            trials.push(trial.with_ignored_flag(ignored));
        }
    }
    libtest_mimic::run(&args, trials).exit();
}

/// A failed cell whose engine process died (a crash, not a budget kill) or
/// ran out of time on a step.
fn died(c: &CellEntry) -> bool {
    use wasm_matrix::results::StepOutcome;
    c.verdict.is_failure() && c.steps.iter().any(|s| matches!(s.outcome, StepOutcome::Crash { .. } | StepOutcome::Timeout { .. }))
}
