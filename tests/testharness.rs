//! Testharness files (the JS API's own test format) on every JS column: the
//! project's own small suite in tests/js-api-harness, laid out as the spec's
//! test/js-api with test/harness beside it (drivers/install.sh puts WPT's
//! testharness.js there). A passing file, a failing subtest listed by name
//! in the suite's known-divergences.yaml, an async one, a harness error, a
//! late rejection and a hang; shells-only and page-only files; the embedded
//! columns do not run them.

mod common;

use std::path::PathBuf;
use std::process::Command;
use wasm_matrix::diff::Verdict;
use wasm_matrix::engine::{Launch, ENGINES};
use wasm_matrix::results::{CellEntry, ResultsDoc};

/// The JS columns, shells and browsers, as the registry has them.
fn js_columns() -> Vec<&'static str> {
    ENGINES.iter().filter(|c| !matches!(c.launch, Launch::Worker(_))).map(|c| c.id).collect()
}

fn is_shell(id: &str) -> bool {
    wasm_matrix::engine::spec(id).is_some_and(|c| matches!(c.launch, Launch::Js(_)))
}

fn suite() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/js-api-harness/js-api")
}

#[test]
fn the_projects_testharness_files_run_on_every_js_column() {
    let harness = suite().parent().unwrap().join("harness/testharness.js");
    if !harness.is_file() {
        // CI runs drivers/install.sh, which fetches it, and requires every
        // engine: there the test must not pass without running.
        assert!(std::env::var_os("WASM_MATRIX_REQUIRE").is_none(), "{} is missing: run drivers/install.sh", harness.display());
        eprintln!("skipped: {} is missing (run drivers/install.sh)", harness.display());
        return;
    }
    let js = js_columns();
    assert!(js.len() >= 9, "the registry's JS columns: {js:?}");
    let columns: Vec<&str> = js.into_iter().filter(|e| common::available_or_skip(e)).collect();
    if columns.is_empty() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("r.json");
    let junit = tmp.path().join("junit.xml");
    let engines = format!("{},wasmi", columns.join(","));
    let o = Command::new(env!("CARGO_BIN_EXE_wasm-matrix"))
        .args(["run", suite().to_str().unwrap(), "--engines", &engines, "--no-progress", "--out", out.to_str().unwrap(), "--junit", junit.to_str().unwrap()])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout).to_string();
    // The harness error and the hang are unexpected: exit 1.
    assert_eq!(o.status.code(), Some(1), "{stdout}{}", String::from_utf8_lossy(&o.stderr));
    let doc = ResultsDoc::read(&out).unwrap();
    let cell = |case: &str, engine: &str| -> &CellEntry {
        doc.cells.iter().find(|c| c.case == format!("js-api/{case}") && c.engine == engine).unwrap_or_else(|| panic!("{case} on {engine}"))
    };
    for e in &columns {
        let shell = is_shell(e);
        let memory = cell("memory.any.js", e);
        assert_eq!(memory.verdict, Verdict::Pass, "{memory:?}");
        assert_eq!(memory.passed(), (4, 4), "{memory:?}");
        assert_eq!(memory.steps[1].step, "grow returns the previous size and detaches the buffer");
        assert_eq!(cell("async.any.js", e).verdict, Verdict::Pass, "{:?}", cell("async.any.js", e));
        // One subtest fails everywhere; it is listed by name, so the cell is known.
        let failing = cell("failing.any.js", e);
        assert_eq!((failing.verdict, failing.passed()), (Verdict::Known, (1, 2)), "{failing:?}");
        assert!(failing.steps[1].message().unwrap().contains("expected 65537 but got 65536"), "{failing:?}");
        assert!(failing.reason.as_deref().unwrap().contains("Wrong on purpose"));
        // An exception at the file's top level: the file fails with its text.
        let error = cell("harness-error.any.js", e);
        assert_eq!(error.verdict, Verdict::Fail, "{error:?}");
        let harness = error.steps.last().unwrap();
        assert_eq!((harness.step.as_str(), harness.ok), ("harness", Some(false)), "{error:?}");
        assert!(harness.message().unwrap().contains("noSuchHelper"), "{error:?}");
        // A rejection the file leaves behind after its results are in is
        // its own harness error (its subtest kept), and the shell goes on:
        // the next file (memory.any.js, above) is not blamed.
        let late = cell("late-rejection.any.js", e);
        if shell {
            assert_eq!(late.verdict, Verdict::Fail, "{late:?}");
            assert_eq!(late.steps[0].ok, Some(true), "{late:?}");
            let harness = late.steps.last().unwrap();
            assert_eq!(harness.step, "harness", "{late:?}");
            assert!(harness.message().unwrap().contains("after the file's results were in: Error: late on purpose"), "{late:?}");
        } else {
            assert_eq!(late.verdict, Verdict::Unsupported, "{late:?}");
        }
        // global=jsshell: a hang on the shells (its other subtest passes),
        // not run in the browsers.
        let hang = cell("hang.any.js", e);
        if shell {
            assert_eq!(hang.verdict, Verdict::Fail, "{hang:?}");
            assert_eq!(hang.steps[0].ok, Some(true), "{hang:?}");
            assert_eq!(hang.steps[1].kind(), "timeout", "{hang:?}");
        } else {
            assert_eq!(hang.verdict, Verdict::Unsupported, "{hang:?}");
            assert!(hang.reason.as_deref().unwrap().contains("does not name `window`"), "{hang:?}");
        }
    }
    let wasmi = cell("memory.any.js", "wasmi");
    assert_eq!(wasmi.verdict, Verdict::Unsupported);
    assert!(wasmi.reason.as_deref().unwrap().contains("JS columns only"), "{wasmi:?}");
    // Counts in the terminal and one JUnit test case per subtest.
    assert!(stdout.contains("passed/total") && stdout.contains("1/2"), "{stdout}");
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains("js-api/failing.any.js :: a page is 65536 bytes"), "{xml}");
    assert!(xml.contains("js-api/harness-error.any.js :: harness"), "{xml}");
}
