//! `wasm-matrix audit` on a real binary: what it declares, a record per
//! column in audit.json, cases that `run` takes unchanged; and bad binaries
//! are bad input.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_wasm-matrix"));
    c.env_remove("WASM_MATRIX_REQUIRE");
    c
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn module() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("cases/binary/grow-1-2.wasm")
}

#[test]
fn an_audit_records_each_column_and_writes_cases_that_run() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("audit");
    let o = bin().args(["audit", module().to_str().unwrap(), "--engines", "wasmtime,wasmi", "--out", out.to_str().unwrap()]).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let t = text(&o);
    assert!(t.contains("memory: defined, 1..2 pages (64 KiB..128 KiB), exported as mem"), "{t}");
    assert!(t.contains("instantiates on 2 of 2 columns; reaches its declared 2 pages (128 KiB) on 2 of 2"), "{t}");
    let records: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("audit.json")).unwrap()).unwrap();
    let records = records.as_array().unwrap();
    assert_eq!(records.len(), 2);
    for r in records {
        assert_eq!(r["compiles"], true, "{r}");
        assert_eq!(r["instantiates"], true, "{r}");
        assert_eq!(r["reached_pages"], 2, "{r}");
        assert_eq!(r["one_page_past"], "error grow_failed", "{r}");
        assert_eq!(r["memories"][0]["maximum"], 2, "{r}");
        assert_eq!(r["sha256"].as_str().unwrap().len(), 64);
        // A 2-page module: every one of the instances asked for is there.
        assert_eq!(r["instances"], 100, "{r}");
        assert_eq!(r["instances_limit"], 100, "{r}");
        assert!(r["compile_ms"].as_f64().is_some_and(|ms| ms >= 0.0), "{r}");
        // Under 16 GiB of address space: a count (the embedded columns are the tool's processes).
        assert!(r["instances_16gib"].as_u64().is_some_and(|n| n <= 100), "{r}");
    }
    for case in ["instantiate", "instances", "instances-16gib", "grow"] {
        assert!(out.join("grow-1-2").join(format!("{case}.yaml")).is_file(), "{case}");
    }
    // The generated cases are ordinary cases: `run` takes them as they are.
    let o = bin().args(["run", out.to_str().unwrap(), "--engines", "wasmtime", "--out", tmp.path().join("r.json").to_str().unwrap()]).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("4 cells, 4 pass"), "{}", text(&o));
    // The report takes audit.json beside results.json: its "Modules" section.
    let report = tmp.path().join("report");
    let o = bin()
        .args(["report", out.join("results.json").to_str().unwrap(), out.join("audit.json").to_str().unwrap(), "--out", report.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let md = std::fs::read_to_string(report.join("REPORT.md")).unwrap();
    assert!(md.contains("## Modules") && md.contains("grow-1-2.wasm` | 1..2 pages (64 KiB..128 KiB) | ✓ 2 pages | ✓ 2 pages |"), "{md}");
    // Its own section: the declared memory, imports, a row per column with
    // every answer, the verdict in words; the overview links to it.
    assert!(md.contains("## Module grow-1-2.wasm") && md.contains("- memory: 1..2 pages (64 KiB..128 KiB)") && md.contains("- imports: none"), "{md}");
    assert!(md.contains("| column | validates | compiles | instantiates | pages reached | one page past |"), "{md}");
    assert!(md.contains("**Verdict:** instantiates on 2 of 2 columns; reaches its declared 2 pages"), "{md}");
    let html = std::fs::read_to_string(report.join("index.html")).unwrap();
    assert!(html.contains("href=\"#module-grow-1-2-wasm\"") && html.contains("<section id=\"module-grow-1-2-wasm\">"), "the overview links each module to its section");
}

#[test]
fn bad_binaries_are_bad_input() {
    let tmp = tempfile::tempdir().unwrap();
    let not_wasm = tmp.path().join("notes.wasm");
    std::fs::write(&not_wasm, "these are notes").unwrap();
    let o = bin().args(["audit", not_wasm.to_str().unwrap(), "--engines", "wasmi"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("notes.wasm: not a WebAssembly binary"), "{}", text(&o));
    let wasm = std::fs::read(module()).unwrap();
    let cut = tmp.path().join("cut.wasm");
    std::fs::write(&cut, &wasm[..wasm.len() - 3]).unwrap();
    let o = bin().args(["audit", cut.to_str().unwrap(), "--engines", "wasmi"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("cut.wasm: not a whole WebAssembly module"), "{}", text(&o));
    let empty = tempfile::tempdir().unwrap();
    let o = bin().args(["audit", empty.path().to_str().unwrap()]).output().unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("no .wasm files in this directory"), "{}", text(&o));
}

/// A module from WAT, written to `dir/name`.
fn module_from(dir: &Path, name: &str, wat: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, wasm_matrix::probe::measure::wat(wat)).unwrap();
    path
}

fn audit_json(out: &Path) -> Vec<serde_json::Value> {
    serde_json::from_str::<serde_json::Value>(&std::fs::read_to_string(out.join("audit.json")).unwrap()).unwrap().as_array().unwrap().clone()
}

/// Three answers, never two: a case that runs past its limit, an engine
/// that crashes and one the memory budget stops are not "no" but null, with
/// why — in audit.json, the table and the verdict. And `--timeout` is the
/// audit's limit: the spinning start function costs its limit per case.
#[test]
fn a_timeout_a_crash_and_a_budget_kill_are_not_answered_never_no() {
    let tmp = tempfile::tempdir().unwrap();
    let spin = module_from(tmp.path(), "spin.wasm", "(module (func $s (loop (br 0))) (start $s))");
    let out = tmp.path().join("spin");
    let o = bin().args(["audit", spin.to_str().unwrap(), "--engines", "wasmtime,wasmi", "--timeout", "5", "--out", out.to_str().unwrap()]).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    for r in audit_json(&out) {
        assert_ne!(r["compiles"], false, "{r}");
        assert_eq!(r["instantiates"], serde_json::Value::Null, "a timeout is not a refusal: {r}");
        assert_eq!(r["unanswered"]["instantiates"]["why"], "timed_out", "{r}");
        assert_eq!(r["unanswered"]["instantiates"]["seconds"], 5.0, "{r}");
        assert_eq!(r["unanswered"]["instances"]["why"], "timed_out", "{r}");
    }
    let t = text(&o);
    assert!(t.contains("timed out (5 s)"), "{t}");
    assert!(t.contains("instantiates on 0 of 0 columns that answered; answered on 0 of 2 columns"), "{t}");
    assert!(!t.contains(" no "), "{t}");

    // wasmer panics compiling a 64-bit memory: a crash, not a "no".
    let mem64 = module_from(tmp.path(), "mem64.wasm", "(module (memory (export \"m\") i64 1 2))");
    let out = tmp.path().join("mem64");
    let o = bin().args(["audit", mem64.to_str().unwrap(), "--engines", "wasmer", "--out", out.to_str().unwrap()]).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let r = &audit_json(&out)[0];
    assert_eq!(r["compiled"], serde_json::Value::Null, "{r}");
    assert_eq!(r["unanswered"]["compiled"]["why"], "crashed", "{r}");
    assert!(r["unanswered"]["compiled"]["text"].as_str().unwrap().contains("64bit memory not implemented yet"), "{r}");
    assert!(text(&o).contains("crashed"), "{}", text(&o));

    // wasmi commits what it grows: a 1 GiB grow under a 256 MiB budget is
    // stopped by the budget.
    let big = module_from(tmp.path(), "big.wasm", "(module (memory (export \"m\") 1 16384))");
    let out = tmp.path().join("big");
    let o = bin().args(["audit", big.to_str().unwrap(), "--engines", "wasmi", "--memory-budget", "256MiB", "--out", out.to_str().unwrap()]).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let r = &audit_json(&out)[0];
    assert_eq!(r["instantiates"], true, "{r}");
    assert_eq!(r["reached_pages"], serde_json::Value::Null, "{r}");
    assert_eq!(r["unanswered"]["reached_pages"]["why"], "over_budget", "{r}");
    assert!(text(&o).contains("over budget"), "{}", text(&o));
}

/// `--expect`: a met requirement is silent, an unmet one is named with its
/// file:line, column and the column's answer, and fails the audit (exit 1);
/// a bad expect file is bad input (exit 2, file:line) before any work.
#[test]
fn an_expect_file_gates_the_audit() {
    let tmp = tempfile::tempdir().unwrap();
    let expect = tmp.path().join("expect.yaml");
    std::fs::write(&expect, "- module: \"*.wasm\"\n  on: [wasmtime]\n  instantiates: true\n- module: grow-1-2.wasm\n  on: wasmi\n  reaches: 1GiB\n").unwrap();
    let o = bin().args(["audit", module().to_str().unwrap(), "--engines", "wasmtime,wasmi", "--expect", expect.to_str().unwrap()]).output().unwrap();
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(t.contains("expect: 1 requirement(s) unmet:"), "{t}");
    assert!(t.contains("expect.yaml:4: ") && t.contains("grow-1-2.wasm on wasmi: must reach 1.0 GiB; its memory reached 2 pages (128 KiB)"), "{t}");
    assert!(!t.contains("expect.yaml:1: "), "the met requirement is not named: {t}");
    // Met: exit 0.
    std::fs::write(&expect, "- module: \"*.wasm\"\n  on: [wasmtime, wasmi]\n  instantiates: true\n  reaches: 2 pages\n").unwrap();
    let o = bin().args(["audit", module().to_str().unwrap(), "--engines", "wasmtime,wasmi", "--expect", expect.to_str().unwrap()]).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("expect: every requirement met"), "{}", text(&o));
    // Bad: an unknown key, at its item's line.
    let bad = tmp.path().join("bad.yaml");
    std::fs::write(&bad, "- module: a.wasm\n  instantiates: true\n- module: b.wasm\n  reach: 2GiB\n").unwrap();
    let o = bin().args(["audit", module().to_str().unwrap(), "--engines", "wasmi", "--expect", bad.to_str().unwrap()]).output().unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("bad.yaml:3: unknown field `reach`"), "{}", text(&o));
}

/// On the JS columns the 16 GiB address-space limit is set on the whole
/// engine (a shell's process, a browser's driver and all it starts), in a
/// run of its own after the rest: every record answers `instances_16gib`,
/// and an engine that cannot start under the limit answers 0 with its own
/// failure as the text.
#[test]
fn the_js_columns_answer_instances_under_16_gib() {
    #[path = "common/mod.rs"]
    mod common;
    let engines = ["node26", "deno"];
    if !engines.iter().all(|e| common::available_or_skip(e)) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("audit");
    let o = bin().args(["audit", module().to_str().unwrap(), "--engines", &engines.join(","), "--out", out.to_str().unwrap()]).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    for r in audit_json(&out) {
        assert!(r.get("unanswered").and_then(|u| u.get("instances_16gib")).is_none(), "{r}");
        let n = r["instances_16gib"].as_u64().unwrap_or_else(|| panic!("a count: {r}"));
        // Node's V8 reserves 8 GiB per memory: the limit is there when fewer
        // than the 100 of the unlimited count fit.
        assert!(n < 100, "the limit was not applied: {r}");
        let said = r["messages"].as_array().into_iter().flatten().any(|m| m.as_str().unwrap().starts_with("under a 16 GiB address space: "));
        assert!(n > 0 || said, "0 with no reason: {r}");
        assert_eq!(r["instances"], 100, "{r}");
    }
}
