//! What a run does with memory it cannot have: a case that needs more than
//! the budget on an engine that commits what it grows is `over_budget`
//! (not run, not failed); a case's own `memory_budget` holds its process;
//! and the in-page measures `probe` takes inside a JS engine.

use std::path::Path;
use std::process::{Command, Output};
use wasm_matrix::diff::Verdict;
use wasm_matrix::results::ResultsDoc;

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_wasm-matrix"));
    c.current_dir(env!("CARGO_MANIFEST_DIR")).env_remove("WASM_MATRIX_REQUIRE");
    c
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn results(path: &Path) -> ResultsDoc {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// A 1 GiB grow that says it needs 1 GiB where the engine commits it.
const NEEDS_1GIB: &str = "summary: a 1 GiB grow\nneeds_memory: 16384 pages\ntimeout: 60\nmodule: |\n  (module (memory (export \"m\") 0))\nsteps:\n  - grow: { memory: m, delta: 16384 }\n    expect: { one_of: [{ returns: [0] }, { error: grow_failed }] }\n";

#[test]
fn a_case_that_needs_more_than_the_budget_is_over_budget_where_grows_commit() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("big.yaml"), NEEDS_1GIB).unwrap();
    let out = tmp.path().join("r.json");
    let o = bin()
        .args(["run", tmp.path().to_str().unwrap(), "--engines", "wasmi,wasmtime", "--memory-budget", "512MiB", "--out", out.to_str().unwrap(), "--no-progress"])
        .output()
        .unwrap();
    // Not run is not a divergence: the run passes.
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("1 over the memory budget"), "{}", text(&o));
    let doc = results(&out);
    let cell = |e: &str| doc.cells.iter().find(|c| c.engine == e).unwrap().clone();
    // wasmi commits what it grows: not run, with the reason.
    let wasmi = cell("wasmi");
    assert_eq!(wasmi.verdict, Verdict::OverBudget);
    assert!(wasmi.steps.is_empty());
    assert!(wasmi.reason.as_deref().unwrap().contains("needs 1.0 GiB"), "{wasmi:?}");
    // wasmtime reserves: it runs the case as always.
    assert_eq!(cell("wasmtime").verdict, Verdict::Pass);
    assert_eq!(doc.summary.unwrap().over_budget, 1);
    // With a budget that holds it, wasmi runs it too.
    let o = bin()
        .args(["run", tmp.path().to_str().unwrap(), "--engines", "wasmi", "--memory-budget", "3GiB", "--out", out.to_str().unwrap(), "--no-progress"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(results(&out).cells[0].verdict, Verdict::Pass);
}

#[test]
fn a_cases_own_memory_budget_holds_its_process_and_says_so() {
    let tmp = tempfile::tempdir().unwrap();
    // wasmi commits the 1 GiB grow: its own 256 MiB budget stops it.
    let case = NEEDS_1GIB.replace("needs_memory: 16384 pages\n", "memory_budget: 256MiB\n");
    std::fs::write(tmp.path().join("own.yaml"), case).unwrap();
    std::fs::write(tmp.path().join("after.yaml"), "summary: a case after it, in the same worker\nmodule: (module (memory 1))\nsteps: []\n").unwrap();
    let out = tmp.path().join("r.json");
    let o = bin().args(["run", tmp.path().to_str().unwrap(), "--engines", "wasmi", "--jobs", "1", "--out", out.to_str().unwrap(), "--no-progress"]).output().unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let doc = results(&out);
    let own = doc.cells.iter().find(|c| c.case == "own").unwrap();
    assert_eq!(own.verdict, Verdict::Fail);
    let msg = own.steps.iter().filter_map(|s| s.message()).collect::<Vec<_>>().join(" ");
    assert!(msg.contains("case's own (memory_budget) 256 MiB memory budget"), "{msg}");
    // The budget was the case's: the next case runs under the run's.
    assert_eq!(doc.cells.iter().find(|c| c.case == "after").unwrap().verdict, Verdict::Pass);
}

#[test]
fn size_keys_that_are_not_sizes_are_bad_input() {
    let tmp = tempfile::tempdir().unwrap();
    for (case, said) in [
        ("summary: s\nneeds_memory: lots\nsteps: []\n", "needs_memory"),
        ("summary: s\nmodule: (module)\nneeds_memory: 2GiB\nmemory_budget: 1GiB\nsteps: []\n", "below what it says it needs"),
        ("summary: s\nmodule: (module)\nneeds_memory: 0 pages\nsteps: []\n", "positive number of 64 KiB pages"),
    ] {
        std::fs::write(tmp.path().join("bad.yaml"), case).unwrap();
        let o = bin().args(["run", tmp.path().join("bad.yaml").to_str().unwrap(), "--engines", "wasmi", "--out", tmp.path().join("r.json").to_str().unwrap()]).output().unwrap();
        assert_eq!(o.status.code(), Some(2), "{}", text(&o));
        assert!(text(&o).contains("bad.yaml:") && text(&o).contains(said), "{}", text(&o));
    }
}

/// `probe`'s in-page measures on a JS shell: numbers, and the engine's text
/// of what stopped them.
#[test]
fn in_page_measures_run_inside_a_js_engine() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("limits.json");
    let o = bin()
        .args(["probe", "--engines", "node,wasmi", "--measures", "shared_without_isolation,grow_cost_in_page.1gib,workers_with_memory.1gib", "--out", out.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let node = &v["engines"]["node"]["measures"];
    if v["engines"]["node"]["version"].as_str().unwrap_or("").starts_with("unavailable") {
        panic!("node is needed for this test: {}", v["engines"]["node"]["version"]);
    }
    let shared = &node["shared_without_isolation"];
    assert_eq!(shared["unit"], "boolean", "{shared}");
    assert!(shared["value"].is_number(), "{shared}");
    assert!(shared["note"].as_str().unwrap().contains("without maximum"), "{shared}");
    let grow = &node["grow_cost_in_page.1gib"];
    assert!(grow["value"].as_f64().is_some() || grow["note"].as_str().unwrap().contains("the grow failed"), "{grow}");
    let workers = &node["workers_with_memory.1gib"];
    let n = workers["value"].as_f64().unwrap();
    assert!((0.0..=16.0).contains(&n), "{workers}");
    assert!(n == 16.0 || workers["message"].is_string(), "a count under 16 says what stopped it: {workers}");
    // An embedder has no page: said, not faked.
    assert!(v["engines"]["wasmi"]["measures"]["shared_without_isolation"]["note"].as_str().unwrap().contains("in-page"), "{v}");
}
