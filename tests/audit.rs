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
    for case in ["compile", "instantiate", "instances", "instances-16gib", "grow"] {
        assert!(out.join("grow-1-2").join(format!("{case}.yaml")).is_file(), "{case}");
    }
    // The generated cases are ordinary cases: `run` takes them as they are.
    let o = bin().args(["run", out.to_str().unwrap(), "--engines", "wasmtime", "--out", tmp.path().join("r.json").to_str().unwrap()]).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("5 cells, 5 pass"), "{}", text(&o));
    // The report takes audit.json beside results.json: its "Modules" section.
    let report = tmp.path().join("report");
    let o = bin()
        .args(["report", out.join("results.json").to_str().unwrap(), out.join("audit.json").to_str().unwrap(), "--out", report.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let md = std::fs::read_to_string(report.join("REPORT.md")).unwrap();
    assert!(md.contains("## Modules") && md.contains("grow-1-2.wasm` | 1..2 pages (64 KiB..128 KiB) | ✓ 2 pages | ✓ 2 pages |"), "{md}");
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
