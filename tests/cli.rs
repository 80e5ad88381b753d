//! The `wasm-matrix` binary end to end: bad input, crash and hang isolation,
//! incremental results, reports.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};
use wasm_matrix::diff::Verdict;
use wasm_matrix::results::{ResultsDoc, StepOutcome};

const EMBEDDED: &str = "wasmtime,wasmer,wasmi";

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_wasm-matrix"));
    // The terminal's width is the test's to set (COLUMNS): 120 without it.
    c.current_dir(env!("CARGO_MANIFEST_DIR")).env_remove("WASM_MATRIX_REQUIRE").env_remove("COLUMNS");
    c
}

fn fixture(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(p)
}

fn run(args: &[&str]) -> Output {
    bin().args(args).output().expect("the binary runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn bad_case_files_name_file_line_column_and_what_was_expected() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("r.json");
    let expectations = [
        ("malformed-yaml.yaml", "2:6:", "did not find expected ',' or ']'"),
        ("unknown-key.yaml", "1:1:", "unknown field `sumary`, expected one of `summary`"),
        ("unknown-step.yaml", "4:5:", "unknown field `frobnicate`, expected one of `instantiate`"),
        ("unknown-expect.yaml", "6:5:", "unknown expectation `retruns`"),
        ("unknown-trap-kind.yaml", "6:15:", "unknown variant `oob`, expected one of `out_of_bounds`"),
        ("missing-export.yaml", "7:5:", "the module exports no function `g` (exported functions: f)"),
        ("missing-memory.yaml", "5:13:", "no memory named `memory`"),
        ("bad-wat.yaml", "5:25:", "WAT does not parse"),
        ("unknown-vary-name.yaml", "4:25:", "`${m}` is not a `vary` name"),
    ];
    for (file, pos, what) in expectations {
        let path = fixture(&format!("bad/{file}"));
        let o = run(&["run", path.to_str().unwrap(), "--out", out.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(2), "{file}: {}", stderr(&o));
        let err = stderr(&o);
        assert!(err.contains(&format!("{file}:{pos}")), "{file}: expected position {pos} in: {err}");
        assert!(err.contains(what), "{file}: expected `{what}` in: {err}");
        assert!(!err.contains("panicked"), "{file}: {err}");
    }
}

#[test]
fn a_bad_file_does_not_stop_the_others() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("r.json");
    let o = run(&["run", fixture("mixed").to_str().unwrap(), "--engines", EMBEDDED, "--out", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("broken.yaml:3:5:"), "{}", stderr(&o));
    let doc = ResultsDoc::read(&out).unwrap();
    assert_eq!(doc.cells.len(), 3, "the good case ran on every engine");
    assert!(doc.cells.iter().all(|c| c.case == "good/grow-ok" && c.verdict == Verdict::Pass));
    assert_eq!(doc.load_errors.len(), 1);
}

#[test]
fn unknown_engines_and_missing_paths_are_bad_input() {
    let o = run(&["run", "cases", "--engines", "wasmtime,v8"]);
    assert_eq!(o.status.code(), Some(2));
    let known: Vec<&str> = wasm_matrix::engine::ENGINES.iter().map(|e| e.id).collect();
    let want = format!("unknown engine `v8` (known engines: {}, or `all`)", known.join(", "));
    assert!(stderr(&o).contains(&want), "{}", stderr(&o));

    let o = run(&["run", "no/such/dir"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("no/such/dir: cannot read"), "{}", stderr(&o));

    let empty = tempfile::tempdir().unwrap();
    let o = run(&["run", empty.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("no case files"), "{}", stderr(&o));
}

#[test]
fn a_case_written_to_the_design_format_runs_unchanged() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("r.json");
    let junit = tmp.path().join("junit.xml");
    let o = run(&[
        "run",
        fixture("full-format.yaml").to_str().unwrap(),
        // host.max_memory_bytes is for embedders: JS engines report it unsupported.
        "--engines",
        EMBEDDED,
        "--out",
        out.to_str().unwrap(),
        "--junit",
        junit.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    let doc = ResultsDoc::read(&out).unwrap();
    assert!(!doc.partial);
    let ids: Vec<&str> = doc.cells.iter().map(|c| c.case.as_str()).collect();
    assert!(ids.contains(&"full-format[pages=1]") && ids.contains(&"full-format[pages=2]"), "{ids:?}");
    assert_eq!(doc.cells.len(), 6);
    for cell in &doc.cells {
        assert_eq!(cell.verdict, Verdict::Pass, "{}::{}", cell.case, cell.engine);
        assert_eq!(cell.steps.len(), 14);
        // `expect: any` carries no verdict.
        assert_eq!(cell.steps[5].ok, None);
    }
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert_eq!(xml.matches("<testcase ").count(), 6, "{xml}");
    assert!(stdout(&o).contains("6 cells, 6 pass, 0 fail, 0 known in "), "{}", stdout(&o));
}

#[test]
fn a_panicking_engine_becomes_a_crash_cell_and_the_rest_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("r.json");
    let o = run(&["run", "cases/memory64", "cases/grow", "--engines", EMBEDDED, "--out", out.to_str().unwrap()]);
    let doc = ResultsDoc::read(&out).unwrap();
    let basic = |engine: &str| doc.cells.iter().find(|c| c.case == "memory64/basic" && c.engine == engine).unwrap();
    let wasmer = basic("wasmer");
    assert_eq!(wasmer.steps[0].kind(), "crash");
    let msg = wasmer.steps[0].message().unwrap();
    assert!(msg.contains("64bit memory not implemented yet"), "{msg}");
    assert!(wasmer.steps[1..].iter().all(|s| s.kind() == "skipped"));
    assert_eq!(wasmer.verdict, Verdict::Known, "listed in cases/known-divergences.yaml");
    assert_eq!(basic("wasmtime").verdict, Verdict::Pass);
    assert_eq!(basic("wasmi").verdict, Verdict::Pass);
    // Every cell of both directories is there, on every engine.
    let (cases, _) = wasm_matrix::case::load_paths(&["cases/memory64".into(), "cases/grow".into()].map(|p: PathBuf| Path::new(env!("CARGO_MANIFEST_DIR")).join(p)));
    assert_eq!(doc.cells.len(), cases.len() * 3, "{}", stdout(&o));
    assert!(doc.cells.iter().filter(|c| c.engine == "wasmer" && c.case.starts_with("grow/")).all(|c| c.verdict == Verdict::Pass));
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
}

/// Waits (at most a minute) until the JSON-lines file has more than `n` lines.
fn wait_for_lines(path: &Path, n: usize) {
    let start = Instant::now();
    while std::fs::read_to_string(path).map(|t| t.lines().count()).unwrap_or(0) <= n {
        // Only a guard against a test that would hang for ever: a loaded
        // machine is slow, never this slow.
        assert!(start.elapsed() < Duration::from_secs(600), "{}: the cells never arrived", path.display());
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn write_case(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}

const QUICK: &str = "summary: quick\nmodule: (module (memory 1))\nsteps: []\n";
const HANG: &str = "summary: an endless loop\nmodule: |\n  (module (func (export \"spin\") (loop (br 0))))\nsteps:\n  - invoke: spin\n    expect: { returns: [] }\n";

/// a-before (quick), b-hang (an endless loop), c-after (quick).
fn hang_between_two_quick_cases() -> tempfile::TempDir {
    let corpus = tempfile::tempdir().unwrap();
    write_case(corpus.path(), "a-before.yaml", QUICK);
    write_case(corpus.path(), "b-hang.yaml", HANG);
    write_case(corpus.path(), "c-after.yaml", QUICK);
    corpus
}

#[test]
fn a_hanging_case_times_out_and_the_worker_is_replaced() {
    let corpus = hang_between_two_quick_cases();
    let out = corpus.path().join("r.json");
    let o = run(&[
        "run",
        corpus.path().to_str().unwrap(),
        "--engines",
        "wasmi,wasmtime",
        "--jobs",
        "1",
        "--timeout",
        "1",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    let doc = ResultsDoc::read(&out).unwrap();
    assert_eq!(doc.cells.len(), 6);
    for c in &doc.cells {
        if c.case == "b-hang" {
            assert_eq!(c.verdict, Verdict::Fail);
            assert_eq!(c.steps[1].kind(), "timeout", "{c:?}");
        } else {
            assert_eq!(c.verdict, Verdict::Pass, "{c:?}");
        }
    }
}

#[test]
fn killing_a_run_keeps_every_finished_cell() {
    let corpus = tempfile::tempdir().unwrap();
    for i in 0..20 {
        write_case(corpus.path(), &format!("a{i:02}.yaml"), QUICK);
    }
    write_case(corpus.path(), "zz-hang.yaml", HANG);
    let out = corpus.path().join("r.json");
    let mut child = bin()
        .args(["run", corpus.path().to_str().unwrap(), "--engines", "wasmi", "--jobs", "1", "--timeout", "3600"])
        .args(["--out", out.to_str().unwrap()])
        // Its own working directory, so that its workers can be told apart.
        .current_dir(corpus.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait until the 20 quick cells are in the file (the hang keeps the run going).
    wait_for_lines(&out, 20);
    child.kill().unwrap(); // SIGKILL: no chance to tidy up
    child.wait().unwrap();
    // The engine processes die with the runner: none is left spinning.
    let orphans = |dir: &Path| {
        let mut n = 0;
        for entry in std::fs::read_dir("/proc").unwrap().flatten() {
            let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            if cmdline.contains("__worker") && std::fs::read_link(entry.path().join("cwd")).ok().as_deref() == Some(dir) {
                n += 1;
            }
        }
        n
    };
    let start = Instant::now();
    let cwd = std::fs::canonicalize(corpus.path()).unwrap();
    // (Generous: on a loaded machine the kernel takes its time to reap.)
    while orphans(&cwd) > 0 && start.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(orphans(&cwd), 0, "engine processes outlived the killed runner");
    let doc = ResultsDoc::read(&out).unwrap();
    assert!(doc.partial);
    assert_eq!(doc.cells.len(), 20);
    assert!(doc.cells.iter().all(|c| c.verdict == Verdict::Pass && c.engine == "wasmi"));
    assert_eq!(doc.engines.len(), 1);
}

#[test]
fn list_shows_engines_with_versions_and_cases() {
    let o = run(&["list"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = stdout(&o);
    for engine in ["wasmtime", "wasmer", "wasmi"] {
        assert!(text.lines().any(|l| l.trim_start().starts_with(engine) && l.contains("available")), "{text}");
    }
    assert!(text.contains("grow/beyond-maximum"), "{text}");
}

/// A browser's page has two batches at a time: an endless loop among 61
/// cases is that case's timeout, and every case around it, in the same
/// batch, still passes.
#[test]
fn a_hanging_case_in_a_browser_batch_blames_only_that_case() {
    let corpus = tempfile::tempdir().unwrap();
    for i in 0..30 {
        write_case(corpus.path(), &format!("a{i:02}.yaml"), QUICK);
        write_case(corpus.path(), &format!("c{i:02}.yaml"), QUICK);
    }
    write_case(corpus.path(), "b-hang.yaml", HANG);
    let out = corpus.path().join("r.json");
    let engines: Vec<&str> = ["chrome", "firefox"].into_iter().filter(|e| common::available_or_skip(e)).collect();
    if engines.is_empty() {
        return;
    }
    let o = run(&[
        "run",
        corpus.path().to_str().unwrap(),
        "--engines",
        &engines.join(","),
        "--jobs",
        "1",
        "--timeout",
        "2",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}{}", stdout(&o), stderr(&o));
    let doc = ResultsDoc::read(&out).unwrap();
    assert_eq!(doc.cells.len(), 61 * engines.len());
    for c in &doc.cells {
        if c.case == "b-hang" {
            // A browser reports a case's steps when the case ends, so a hung
            // case's timeout stands on its first step, the rest skipped.
            assert_eq!(c.verdict, Verdict::Fail, "{c:?}");
            assert_eq!(c.steps.iter().filter(|s| s.kind() == "timeout").count(), 1, "{c:?}");
        } else {
            assert_eq!(c.verdict, Verdict::Pass, "{c:?}");
        }
    }
    for e in &doc.engines {
        assert!(e.version.as_deref().is_some_and(|v| v.chars().next().unwrap().is_ascii_digit()), "{e:?}");
    }
}

/// A case that crashes Chrome's tab for real: 200 externref tables grown to
/// 10M entries each need ~8 GB of V8 heap, and V8 ends the renderer when its
/// heap is exhausted ("tab crashed", ~4 GB and ~15 s here). Firefox keeps
/// tables outside its GC heap and would take the machine's memory instead,
/// so the test runs on Chrome only.
fn tab_crash_case() -> String {
    let tables: String = (0..200).map(|i| format!("    (table $t{i} 0 externref)\n")).collect();
    let grows: String =
        (0..200).map(|i| format!("      (drop (table.grow $t{i} (ref.null extern) (i32.const 10000000)))\n")).collect();
    format!(
        "summary: exhausts V8's heap with externref tables\nmodule: |\n  (module\n{tables}    (func (export \"run\")\n{grows}    ))\nsteps:\n  - invoke: run\n    expect: {{ returns: [] }}\n"
    )
}

#[test]
fn a_tab_crashing_case_does_not_lose_the_other_cells() {
    if !common::available_or_skip("chrome") {
        return;
    }
    let corpus = tempfile::tempdir().unwrap();
    write_case(corpus.path(), "a-before.yaml", QUICK);
    write_case(corpus.path(), "b-crash.yaml", &tab_crash_case());
    write_case(corpus.path(), "c-after.yaml", QUICK);
    let out = corpus.path().join("r.json");
    let dir = corpus.path().to_str().unwrap();
    let o = run(&["run", dir, "--engines", "chrome", "--jobs", "1", "--timeout", "120", "--out", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}{}", stdout(&o), stderr(&o));
    let doc = ResultsDoc::read(&out).unwrap();
    assert_eq!(doc.cells.len(), 3, "{doc:?}");
    for c in &doc.cells {
        if c.case == "b-crash" {
            assert_eq!(c.verdict, Verdict::Fail, "{c:?}");
            let crash = c.steps.iter().find(|s| s.kind() == "crash").expect("a crash step");
            let text = serde_json::to_string(crash).unwrap();
            assert!(text.contains("tab crashed"), "{text}");
        } else {
            assert_eq!(c.verdict, Verdict::Pass, "{c:?}");
        }
    }
}

#[test]
fn a_required_engine_that_is_missing_is_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("r.json");
    let missing = tmp.path().join("no-node-here");
    let args = ["run", "cases/grow/zero.yaml", "--engines", "node,wasmi", "--out", out.to_str().unwrap()];
    // Not required: reported unavailable, the rest runs, exit 0.
    let o = bin().args(args).env("WASM_MATRIX_NODE", &missing).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains("node: unavailable: WASM_MATRIX_NODE="), "{}", stdout(&o));
    let doc = ResultsDoc::read(&out).unwrap();
    let node = doc.cells.iter().find(|c| c.engine == "node").unwrap();
    assert_eq!(node.verdict, Verdict::Unavailable);
    assert!(doc.engines.iter().any(|e| e.id == "node" && !e.available && e.reason.as_deref().unwrap().contains("no-node-here")));
    // Required, by flag or by environment: exit 2.
    let o = bin().args(args).args(["--require", "node"]).env("WASM_MATRIX_NODE", &missing).output().unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("required engine node is unavailable"), "{}", stderr(&o));
    let o = bin().args(args).env("WASM_MATRIX_NODE", &missing).env("WASM_MATRIX_REQUIRE", "node").output().unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}

#[test]
fn unanimous_asks_only_whether_engines_agree() {
    let corpus = tempfile::tempdir().unwrap();
    let dir = corpus.path().to_str().unwrap();
    let out = corpus.path().join("r.json");
    // Every engine returns 1 where the case wrongly expects -1: the case
    // fails everywhere, but the engines agree.
    let wrong = "summary: wrong expectation\nmodule: |\n  (module (memory 1 4) (func (export \"grow\") (param i32) (result i32) (memory.grow (local.get 0))))\nsteps:\n  - invoke: grow\n    args: [1]\n    expect: { returns: [-1] }\n";
    write_case(corpus.path(), "wrong.yaml", wrong);
    let o = run(&["run", dir, "--engines", EMBEDDED, "--out", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    let o = run(&["run", dir, "--engines", EMBEDDED, "--unanimous", "--out", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert!(stdout(&o).contains("unanimous: the engines that ran agree on every step of 1 cases"), "{}", stdout(&o));
    // wasmi has no shared memories: the engines differ.
    let shared = "summary: shared\nfeatures: [threads]\nmodule: (module (memory 1 2 shared))\nsteps: []\n";
    write_case(corpus.path(), "shared.yaml", shared);
    let o = run(&["run", dir, "--engines", EMBEDDED, "--unanimous", "--out", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(stdout(&o).contains("not unanimous: engines differ on 1 of 2 cases:"), "{}", stdout(&o));
    assert!(stdout(&o).contains("shared (instantiate (implicit): wasmtime=A wasmer=A wasmi=B)"), "{}", stdout(&o));
}

#[test]
fn a_shard_with_no_cases_writes_an_empty_results_file() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("r.json");
    let o = run(&["run", "cases/grow/zero.yaml", "--engines", "wasmi", "--shard", "2/2", "--out", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains("shard 2/2: 0 of 1 cases"), "{}", stdout(&o));
    let doc = ResultsDoc::read(&out).unwrap();
    assert!(doc.cells.is_empty() && !doc.partial);
    let o = run(&["run", "cases/grow/zero.yaml", "--engines", "wasmi", "--shard", "1/2", "--out", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    assert_eq!(ResultsDoc::read(&out).unwrap().cells.len(), 1);
}

#[test]
fn wrong_wast_assertions_are_reported_as_failures_with_the_scripts_text() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("r.json");
    let o = run(&["run", fixture("wast-failing").to_str().unwrap(), "--engines", "wasmtime,wasmi", "--out", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}{}", stdout(&o), stderr(&o));
    let doc = ResultsDoc::read(&out).unwrap();
    assert_eq!(doc.cells.len(), 2);
    for c in &doc.cells {
        assert_eq!(c.case, "wrong.wast");
        assert_eq!(c.verdict, Verdict::Fail);
        let failing: Vec<&str> = c.steps.iter().filter(|s| s.ok == Some(false)).map(|s| s.step.as_str()).collect();
        // Every deliberately wrong assertion, by its script line, and nothing else.
        let lines: Vec<&str> = failing.iter().map(|s| s.split(' ').next().unwrap()).collect();
        assert_eq!(
            lines,
            ["wrong.wast:8", "wrong.wast:9", "wrong.wast:10", "wrong.wast:11", "wrong.wast:12", "wrong.wast:13", "wrong.wast:14"],
            "{}: {failing:?}",
            c.engine
        );
        assert_eq!(c.steps.last().unwrap().ok, Some(true), "{c:?}");
    }
    // The script's own texts are kept as the expected message.
    let case = &doc.cases[0];
    assert!(case.steps.iter().any(|s| s.message.as_deref() == Some("this module is valid")), "{case:?}");
    assert!(stdout(&o).contains("wrong.wast:8 assert_return: invoke grow(1)"), "{}", stdout(&o));
}

#[test]
fn yaml_cases_use_named_modules_register_and_get() {
    let o = run(&["run", "cases/linking/registered-memory.yaml", "--engines", EMBEDDED, "--out", "/dev/null"]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    let corpus = tempfile::tempdir().unwrap();
    let bad = "summary: s\nmodules:\n  a: (module)\nsteps:\n  - module: b\n";
    write_case(corpus.path(), "bad.yaml", bad);
    let o = run(&["run", corpus.path().to_str().unwrap(), "--engines", "wasmi"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("bad.yaml:5:5: no module named `b` in `modules` (known: a)"), "{}", stderr(&o));
}

/// A driver process started by the test, standing in for a remote WebDriver
/// endpoint (a Selenium Grid node); killed when dropped.
struct ExternalDriver(std::process::Child);

impl Drop for ExternalDriver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn external_driver(browser: wasm_matrix::engine::browser::Browser) -> (ExternalDriver, String) {
    use wasm_matrix::engine::browser::Setup;
    let Ok(Setup::Local { driver, .. }) = browser.setup(None) else { panic!("{browser:?} is available but has no local driver") };
    let port = free_port();
    let mut cmd = Command::new(driver);
    cmd.args(browser.driver_args(port));
    let child = cmd.stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(start.elapsed() < Duration::from_secs(120), "{browser:?} driver did not listen");
        std::thread::sleep(Duration::from_millis(25));
    }
    (ExternalDriver(child), format!("http://127.0.0.1:{port}"))
}

#[test]
fn existing_webdriver_endpoints_run_the_browser_columns() {
    use wasm_matrix::engine::browser::browser;
    if !common::available_or_skip("chrome") || !common::available_or_skip("firefox") {
        return;
    }
    let (_chrome, chrome_url) = external_driver(browser("chrome").unwrap());
    let (_firefox, firefox_url) = external_driver(browser("firefox").unwrap());
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("r.json");
    // One endpoint by flag, one by environment; a fixed harness address that
    // both browsers' sessions share. The tool's own drivers are made
    // unfindable, so only the endpoints given can have run the cells.
    let serve = format!("127.0.0.1:{}", free_port());
    let o = bin()
        .args(["run", "cases/grow", "--engines", "chrome,firefox", "--webdriver", &format!("chrome={chrome_url}")])
        .args(["--serve-addr", &serve, "--require", "chrome,firefox", "--out", out.to_str().unwrap()])
        .env("WASM_MATRIX_WEBDRIVER_FIREFOX", &firefox_url)
        .env("WASM_MATRIX_CHROMEDRIVER", tmp.path().join("none"))
        .env("WASM_MATRIX_GECKODRIVER", tmp.path().join("none"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    let doc = ResultsDoc::read(&out).unwrap();
    assert!(doc.cells.len() >= 20, "{doc:?}");
    assert!(doc.cells.iter().all(|c| c.verdict == Verdict::Pass), "{doc:?}");
    for e in &doc.engines {
        assert!(e.available && e.version.as_deref().is_some_and(|v| v.starts_with(|c: char| c.is_ascii_digit())), "{e:?}");
    }

    // An endpoint nobody answers at: unavailable with the address; required, exit 2.
    let dead = format!("http://127.0.0.1:{}", free_port());
    let args = ["run", "cases/grow/zero.yaml", "--engines", "chrome", "--webdriver", &format!("chrome={dead}"), "--out", out.to_str().unwrap()];
    let o = bin().args(args).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains(&format!("chrome: unavailable: cannot open a chrome session at {dead}")), "{}", stdout(&o));
    let o = bin().args(args).args(["--require", "chrome"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2), "{}{}", stdout(&o), stderr(&o));
}

#[test]
fn a_script_goes_on_at_its_next_module_after_the_engine_dies() {
    // wasmer 7.4 panics on a 64-bit memory (see known-divergences.yaml): the
    // first module is a crash; the second module and its assertion still
    // run, with a new engine in the same worker.
    let tmp = tempfile::tempdir().unwrap();
    let script = tmp.path().join("resume.wast");
    std::fs::write(
        &script,
        r#"(module (memory i64 1) (func (export "size") (result i64) (memory.size)))
(assert_return (invoke "size") (i64.const 1))
(module (memory 1 2) (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0))))
(assert_return (invoke "grow" (i32.const 1)) (i32.const 1))
(assert_return (invoke "grow" (i32.const 1)) (i32.const -1))
"#,
    )
    .unwrap();
    let out = tmp.path().join("r.json");
    let o = run(&["run", script.to_str().unwrap(), "--engines", "wasmer,wasmi", "--out", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}{}", stdout(&o), stderr(&o));
    let doc = ResultsDoc::read(&out).unwrap();
    let cell = |engine: &str| doc.cells.iter().find(|c| c.engine == engine).unwrap();
    let kinds: Vec<&str> = cell("wasmer").steps.iter().map(|s| s.kind()).collect();
    assert_eq!(kinds, ["crash", "skipped", "ok", "returns", "returns"], "{:?}", cell("wasmer"));
    let wasmer = &cell("wasmer").steps;
    assert!(wasmer[0].message().unwrap().starts_with("the engine panicked: not implemented: 64bit memory"), "{wasmer:?}");
    assert!(wasmer[1].message().unwrap().contains("panicked at step 1; the case went on at step 3 with a new engine"), "{wasmer:?}");
    assert_eq!(wasmer[3].ok, Some(true), "{wasmer:?}");
    assert_eq!(wasmer[4].ok, Some(true), "{wasmer:?}");
    assert_eq!(cell("wasmi").verdict, Verdict::Pass, "{:?}", cell("wasmi"));
}

#[test]
fn features_switch_proposals_off_for_scripts_written_before_them() {
    // Wasm 2.0's memory.wast: two memories are invalid (before multi-memory).
    let tmp = tempfile::tempdir().unwrap();
    let script = tmp.path().join("two-memories.wast");
    std::fs::write(&script, "(assert_invalid (module (memory 0) (memory 0)) \"multiple memories\")\n(module (memory 1))\n").unwrap();
    let out = tmp.path().join("r.json");
    let args = ["run", script.to_str().unwrap(), "--engines", EMBEDDED, "--out", out.to_str().unwrap()];
    // Scripts run with multi-memory on: the module is valid, the assertion fails.
    let o = run(&args);
    assert_eq!(o.status.code(), Some(1), "{}{}", stdout(&o), stderr(&o));
    // Switched off, every embedded engine rejects it, and results.json says how the case ran.
    let o = bin().args(args).arg("--features=-multi-memory").output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    let doc = ResultsDoc::read(&out).unwrap();
    assert_eq!(doc.cells.len(), 3);
    assert!(doc.cells.iter().all(|c| c.verdict == Verdict::Pass), "{doc:?}");
    assert_eq!(doc.cases[0].features, ["memory64", "-multi-memory"]);
    // An unknown proposal is bad input that names the known ones.
    let o = bin().args(args).args(["--features", "-multi-memroy"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("unknown proposal `multi-memroy`: expected one of memory64, threads, multi-memory"), "{}", stderr(&o));
}

/// A cell without its timings, to compare runs.
fn untimed(doc: &ResultsDoc) -> Vec<String> {
    let mut cells: Vec<String> = doc
        .cells
        .iter()
        .map(|c| serde_json::to_string(&c.untimed()).unwrap())
        .collect();
    cells.sort();
    cells
}

#[test]
fn a_run_killed_at_a_random_point_resumes_to_the_same_document() {
    let corpus = tempfile::tempdir().unwrap();
    std::fs::write(corpus.path().join("known-divergences.yaml"), "{}\n").unwrap();
    // Each case spins a while in the interpreters, so that a kill lands mid-run.
    for i in 0..40 {
        let text = format!(
            "summary: s{i}\nmodule: |\n  (module (memory (export \"mem\") 1 3)\n    (func (export \"grow\") (param i32) (result i32) (memory.grow (local.get 0)))\n    (func (export \"spin\") (local i32) (loop (br_if 0 (i32.ne (local.tee 0 (i32.add (local.get 0) (i32.const 1))) (i32.const 3000000))))))\nsteps:\n  - invoke: spin\n    expect: ok\n  - invoke: grow\n    args: [{}]\n    expect: {{ returns: [{}] }}\n",
            i % 4,
            if i % 4 < 3 { 1 } else { -1 }
        );
        write_case(corpus.path(), &format!("c{i:02}.yaml"), &text);
    }
    let dir = corpus.path().to_str().unwrap();
    let whole = corpus.path().join("whole.json");
    let o = bin().args(["run", dir, "--engines", "wasmi,tinywasm", "--out", whole.to_str().unwrap()]).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let whole = ResultsDoc::read(&whole).unwrap();
    assert_eq!(whole.cells.len(), 80);

    // Killed at a random point it controls, then resumed: with --jobs 1 an
    // endless loop among the cases holds each engine's process there (a
    // worker runs its window in order), so exactly the cells before it are
    // done when the kill lands, however fast or loaded the machine is.
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos() as usize;
    let k = nanos % 39; // the hang comes after c00..=c{k}
    let before = 2 * (k + 1);
    let out = corpus.path().join("r.json");
    let hang = corpus.path().join(format!("c{k:02}-hang.yaml"));
    std::fs::write(&hang, HANG).unwrap();
    let mut child = bin()
        .args(["run", dir, "--engines", "wasmi,tinywasm", "--jobs", "1", "--timeout", "3600", "--out", out.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for_lines(&out, before);
    child.kill().unwrap();
    child.wait().unwrap();
    std::fs::remove_file(&hang).unwrap();
    let partial = ResultsDoc::read(&out).unwrap();
    assert!(partial.partial, "killed mid-run");
    assert_eq!(partial.cells.len(), before, "the cells before the hang, and no other");

    let o = bin().args(["run", dir, "--engines", "wasmi,tinywasm", "--resume", out.to_str().unwrap()]).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stderr(&o).contains(&format!("{} cells kept", partial.cells.len())), "{}", stderr(&o));
    let resumed = ResultsDoc::read(&out).unwrap();
    assert!(!resumed.partial);
    assert_eq!(untimed(&resumed), untimed(&whole), "the resumed document has the uninterrupted run's cells");
    let (mut a, mut b) = (resumed.summary.clone().unwrap(), whole.summary.clone().unwrap());
    a.seconds = 0.0;
    b.seconds = 0.0;
    assert_eq!(a, b);
    assert_eq!(resumed.engines, whole.engines);
    assert_eq!(resumed.cases.len(), whole.cases.len());
}

/// A case that grows its memory from 1 page by `pages` in wasm.
fn grow_case(pages: u32) -> String {
    format!("summary: grow\nmodule: |\n  (module (memory (export \"mem\") 1)\n    (func (export \"grow\") (param i32) (result i32) (memory.grow (local.get 0))))\nsteps:\n  - invoke: grow\n    args: [{pages}]\n    expect: {{ returns: [1] }}\n")
}

/// Runs `corpus` on one wasmi worker under `budget`; its output and results.
fn run_wasmi_under(corpus: &Path, budget: &str) -> (Output, ResultsDoc) {
    let out = corpus.join("r.json");
    let o = bin()
        .args(["run", corpus.to_str().unwrap(), "--engines", "wasmi", "--jobs", "1", "--memory-budget", budget])
        .args(["--out", out.to_str().unwrap()])
        .output()
        .unwrap();
    let doc = ResultsDoc::read(&out).unwrap();
    (o, doc)
}

#[test]
fn a_process_over_the_memory_budget_is_a_budget_kill_and_the_run_goes_on() {
    let corpus = tempfile::tempdir().unwrap();
    std::fs::write(corpus.path().join("known-divergences.yaml"), "{}\n").unwrap();
    // wasmi commits the memory it grows: 1 GiB resident, over a 256 MiB budget.
    write_case(corpus.path(), "big.yaml", &grow_case(16384));
    for i in 0..3 {
        write_case(corpus.path(), &format!("small{i}.yaml"), QUICK);
    }
    let (o, doc) = run_wasmi_under(corpus.path(), "256MiB");
    assert_eq!(o.status.code(), Some(1), "the big cell fails: {}", stderr(&o));
    assert_eq!(doc.cells.len(), 4);
    let big = doc.cells.iter().find(|c| c.case == "big").unwrap();
    let crashed = big.steps.iter().find(|s| s.kind() == "crash").expect("the grow step crashed");
    assert_eq!(crashed.step, "invoke grow(16384)");
    let why = crashed.message().unwrap();
    assert!(why.starts_with("memory budget: exceeded the 256 MiB memory budget at"), "{why}");
    assert!(matches!(crashed.outcome, StepOutcome::OverBudget { .. }), "a budget kill is typed as one: {crashed:?}");
    assert!(doc.cells.iter().filter(|c| c.case.starts_with("small")).all(|c| c.verdict == Verdict::Pass), "the run went on in a new worker");
    assert!(stdout(&o).contains("budget kill"), "the table tells a budget kill from a crash: {}", stdout(&o));
}

#[test]
fn a_step_the_budget_kills_within_milliseconds_is_blamed_on_itself() {
    // wasmi commits 128 MiB for grow(2048): over a 64 MiB budget within
    // tens of milliseconds, before the worker wrote the instantiation's event
    // (it goes out with the batch, or after 100 ms). The runner finds it in
    // the worker's mirror, so the grow is the budget kill and the
    // instantiation is ok. Without the mirror, 3 runs in 5 here blamed the
    // instantiation.
    let corpus = tempfile::tempdir().unwrap();
    std::fs::write(corpus.path().join("known-divergences.yaml"), "{}\n").unwrap();
    write_case(corpus.path(), "b.yaml", &grow_case(2048));
    for _ in 0..3 {
        let (o, doc) = run_wasmi_under(corpus.path(), "64MiB");
        let steps = &doc.cells[0].steps;
        let kinds: Vec<&str> = steps.iter().map(|s| s.kind()).collect();
        assert_eq!(kinds, ["ok", "crash"], "{steps:?}\n{}", stdout(&o));
        assert!(steps[1].message().unwrap().starts_with("memory budget:"), "{steps:?}");
    }
}

/// The pids of processes named `name` whose parent is `parent`.
fn children_named(parent: u32, name: &str) -> Vec<u32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else { continue };
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let ppid = stat.rfind(')').and_then(|i| stat[i + 2..].split_whitespace().nth(1)).and_then(|p| p.parse::<u32>().ok());
        if comm.trim() == name && ppid == Some(parent) {
            out.push(pid);
        }
    }
    out
}

#[test]
fn a_driver_killed_mid_run_crashes_the_cells_in_flight_restarts_once_then_stops_the_column() {
    if !common::available_or_skip("chrome") {
        return;
    }
    let corpus = tempfile::tempdir().unwrap();
    std::fs::write(corpus.path().join("known-divergences.yaml"), "{}\n").unwrap();
    let n = 6000;
    for i in 0..n {
        write_case(corpus.path(), &format!("t{i:05}.yaml"), &format!("summary: t{i}\nmodule: (module (func (export \"k\") (result i32) (i32.const {i})))\nsteps:\n  - invoke: k\n    expect: {{ returns: [{i}] }}\n"));
    }
    let out = corpus.path().join("r.json");
    // The run's temporary files (Chromium's profiles among them) go here, so
    // that its browsers can be told from other tests'.
    let tmp = tempfile::tempdir().unwrap();
    let mut child = bin()
        .args(["run", corpus.path().to_str().unwrap(), "--engines", "chrome", "--jobs", "1", "--out", out.to_str().unwrap()])
        .env("TMPDIR", tmp.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let runner = child.id();
    let mut killed = Vec::new();
    let start = Instant::now();
    // Each driver is killed once its session has run 600 cells (beyond the
    // window of cells the previous death recorded).
    let mut next_at = 600;
    // (The limit only ends a test that would never end: a loaded machine
    // gets there late, not never.)
    while killed.len() < 2 && start.elapsed() < Duration::from_secs(900) {
        let lines = std::fs::read_to_string(&out).map(|t| t.lines().count()).unwrap_or(0);
        for pid in children_named(runner, "chromedriver") {
            if !killed.contains(&pid) && lines > next_at {
                next_at = lines + 512 + 600;
                // SAFETY: kill(2) on a process this test's child started.
                unsafe { libc::kill(pid as i32, libc::SIGKILL) };
                killed.push(pid);
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(killed.len(), 2, "two drivers were started and killed");
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(1), "cells failed");
    let doc = ResultsDoc::read(&out).unwrap();
    assert_eq!(doc.cells.len(), n, "every cell is recorded");
    let message = |c: &wasm_matrix::results::CellEntry| c.steps[0].message().unwrap_or_default().to_string();
    let lost = doc.cells.iter().filter(|c| message(c).starts_with("driver died: the WebDriver process exited")).count();
    let stopped = doc.cells.iter().filter(|c| message(c).starts_with("not run: the browser's driver died twice")).count();
    let passed = doc.cells.iter().filter(|c| c.verdict == Verdict::Pass).count();
    assert!(lost > 0 && stopped > 0 && passed >= 1200, "lost {lost}, stopped {stopped}, passed {passed}");
    assert_eq!(lost + stopped + passed, n);
    // No browser outlives its dead driver (the driver's process group is
    // killed, though the dead driver itself was reaped long before).
    let tag = tmp.path().to_str().unwrap().to_string();
    let left: Vec<String> = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
        .filter(|c| c.contains(&tag))
        .collect();
    assert!(left.is_empty(), "browsers left running: {left:?}");
}

#[test]
fn diff_names_exactly_the_cells_two_runs_differ_in() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a.json"), tmp.path().join("b.json"));
    for (out, extra) in [(&a, None), (&b, Some("--features=-multi-memory"))] {
        let mut cmd = bin();
        cmd.args(["run", "cases/multi-memory", "cases/grow", "--engines", "wasmtime,wasmi", "--out", out.to_str().unwrap()]);
        if let Some(x) = extra {
            cmd.arg(x);
        }
        let o = cmd.output().unwrap();
        assert!(matches!(o.status.code(), Some(0 | 1)), "{}", stderr(&o));
    }
    let (da, db) = (ResultsDoc::read(&a).unwrap(), ResultsDoc::read(&b).unwrap());
    // What differs, worked out here from the two documents.
    let outcomes = |d: &ResultsDoc, case: &str, engine: &str| {
        d.cells.iter().find(|c| c.case == case && c.engine == engine).map(|c| (c.verdict, c.steps.iter().map(|s| s.outcome.clone()).collect::<Vec<_>>()))
    };
    let mut expected: Vec<String> = db
        .cells
        .iter()
        .filter(|c| outcomes(&da, &c.case, &c.engine) != outcomes(&db, &c.case, &c.engine))
        .map(|c| format!("{} {}", c.case, c.engine))
        .collect();
    expected.sort();
    assert!(!expected.is_empty(), "switching multi-memory off changes some cells");
    let o = bin().args(["diff", a.to_str().unwrap(), b.to_str().unwrap(), "--out", tmp.path().join("d").to_str().unwrap()]).output().unwrap();
    assert_eq!(o.status.code(), Some(1), "a regression is exit 1: {}", stdout(&o));
    let md = std::fs::read_to_string(tmp.path().join("d/DIFF.md")).unwrap();
    let mut named: Vec<String> = md
        .lines()
        .filter(|l| l.starts_with("| regressed") || l.starts_with("| improved") || l.starts_with("| changed") || l.starts_with("| added") || l.starts_with("| removed"))
        .map(|l| {
            let f: Vec<&str> = l.split('|').map(str::trim).collect();
            format!("{} {}", f[2], f[3])
        })
        .collect();
    named.sort();
    assert_eq!(named, expected, "the diff names exactly the cells that changed");
    assert!(md.contains("| wasmtime | 48.0.0 | 48.0.0 |"), "{md}");
    // The same as a section of the report.
    let rep = tmp.path().join("rep");
    let o = bin().args(["report", b.to_str().unwrap(), "--baseline", a.to_str().unwrap(), "--out", rep.to_str().unwrap()]).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let html = std::fs::read_to_string(rep.join("index.html")).unwrap();
    assert!(html.contains("What changed since the baseline run"));
    assert_eq!(html.matches("<tr><td class=\"v-fail\">regressed</td>").count(), named.len() - html.matches(">improved<").count() - html.matches(">changed<").count());
    // A run against itself: nothing, exit 0.
    let o = bin().args(["diff", a.to_str().unwrap(), a.to_str().unwrap()]).output().unwrap();
    assert_eq!(o.status.code(), Some(0));
    assert!(stdout(&o).contains("No cell changed."));
}

/// `probe` end to end on one embedded column: the measures asked for, in
/// limits.json as documented, and a clear error for an unknown measure.
#[test]
fn probe_writes_the_measures_asked_for_to_limits_json() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("limits.json");
    let o = run(&["probe", "--engines", "wasmi", "--measures", "declared_max_pages.i32,host_cap,coexisting_memories.i64", "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let m = &doc["engines"]["wasmi"]["measures"];
    assert_eq!(m.as_object().unwrap().len(), 3, "{m}");
    assert_eq!(m["declared_max_pages.i32"]["value"], 65536.0);
    assert_eq!(m["declared_max_pages.i32"]["unit"], "pages");
    assert!(m["declared_max_pages.i32"]["message"].as_str().unwrap().contains("65536"), "{m}");
    assert_eq!(m["host_cap"]["value"], 16.0);
    assert_eq!(m["coexisting_memories.i64"]["value"], 20000.0);
    assert!(doc["host"]["ram_bytes"].as_u64().unwrap() > 0);
    assert!(stdout(&o).contains("declared_max_pages.i32"), "{}", stdout(&o));

    let o = run(&["probe", "--engines", "wasmi", "--measures", "declared_max", "--out", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("unknown measure `declared_max`"), "{}", stderr(&o));
}

/// A size that could leave the memory budget is never tried on an engine
/// that commits what it grows (wasmi zero-fills), and is on one that only
/// reserves (wasmtime): each measure in its own process, as `probe` runs them.
#[test]
fn probe_never_tries_sizes_over_the_budget_on_an_engine_that_commits() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("limits.json");
    let o = run(&["probe", "--engines", "wasmi,wasmtime", "--measures", "grow_cost.4gib,grow_reach_pages.i32", "--memory-budget", "1GiB", "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let m = |e: &str, k: &str| doc["engines"][e]["measures"][k].clone();
    let cost = m("wasmi", "grow_cost.4gib");
    assert!(cost["value"].is_null(), "{cost}");
    let note = cost["note"].as_str().unwrap();
    assert!(note.contains("over the 1.0 GiB memory budget") && note.contains("commits"), "{note}");
    let reach = m("wasmi", "grow_reach_pages.i32");
    assert!(reach["value"].as_f64().unwrap() * 65536.0 < (1u64 << 30) as f64, "{reach}");
    assert!(reach["note"].as_str().unwrap().starts_with("at least"), "{reach}");
    assert!(m("wasmtime", "grow_cost.4gib")["value"].is_number(), "{}", m("wasmtime", "grow_cost.4gib"));
    assert_eq!(m("wasmtime", "grow_reach_pages.i32")["value"], 65536.0);
}

/// `bench` prints every table it promises: an embedded column against its
/// plain loop, a JS column's rates and split, and the main command's time
/// and peaks (here on a small corpus and the same two columns).
#[test]
fn bench_prints_embedded_js_and_main_command_figures() {
    if !common::available_or_skip("node") {
        return;
    }
    let o = run(&["bench", "--count", "60", "--engines", "wasmi,node", "--main-cases", "cases/grow"]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "{out}{}", stderr(&o));
    let row = |id: &str| out.lines().find(|l| l.split_whitespace().next() == Some(id)).unwrap_or_else(|| panic!("no {id} row: {out}")).to_string();
    // wasmi: plain s, tool s, ratio, harness us/cell.
    let wasmi = row("wasmi");
    assert!(wasmi.split_whitespace().nth(3).is_some_and(|r| r.ends_with('x')), "{wasmi}");
    // node: cells/s, marginal/s (or `-` where 60 cases leave no extra
    // time), ms/cell, in engine, outside.
    let node = row("node");
    let words: Vec<&str> = node.split_whitespace().skip(1).collect();
    assert_eq!(words.len(), 5, "{node}");
    let figure = |i: usize| words[i].parse::<f64>().unwrap_or_else(|_| panic!("{node}"));
    assert!(figure(0) > 0.0 && figure(2) > 0.0 && figure(3) > 0.0, "{node}");
    let main = out.lines().find(|l| l.starts_with("main command (run cases/grow on node,wasmi)")).unwrap_or_else(|| panic!("{out}"));
    assert!(main.contains("largest process") && main.contains("all its processes together"), "{main}");
    // The CPU split: a run that did work spent some CPU time.
    let cpu = main.split("CPU ").nth(1).and_then(|t| t.split(" s in user space, ").next()).and_then(|t| t.parse::<f64>().ok());
    assert!(cpu.is_some_and(|t| t > 0.0) && main.contains(" s in the kernel"), "{main}");
    // Bad input is refused before any work.
    let o = run(&["bench", "--count", "2"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("--count must be at least 3"), "{}", stderr(&o));
}

/// By default the divergence table fits the terminal: every line within
/// its width (COLUMNS), each divergent step's engines grouped by identical
/// outcome, the summary line and the per-file counts kept; `--wide` keeps a
/// column per engine.
#[test]
fn the_terminal_table_fits_its_width_and_wide_keeps_a_column_per_engine() {
    let args = ["run", "cases/memory64", "cases/wast/memory-grow.wast", "--engines", EMBEDDED, "--no-progress"];
    for cols in [60usize, 80, 200] {
        let o = bin().args(args).env("COLUMNS", cols.to_string()).output().unwrap();
        let out = stdout(&o);
        let long: Vec<&str> = out.lines().filter(|l| l.chars().count() > cols).collect();
        assert!(long.is_empty(), "{cols} columns: {long:#?}");
        assert!(out.contains("memory64/basic · "), "a row is its case and step: {out}");
        assert!(out.contains("≈ crash: wasmer"), "the engines grouped by outcome: {out}");
        assert!(out.contains(" cells, "), "the summary line stays: {out}");
        assert!(out.contains("passed/total") && out.contains("memory-grow.wast"), "the counts stay: {out}");
    }
    let o = bin().args(args).arg("--wide").env("COLUMNS", "60").output().unwrap();
    let out = stdout(&o);
    let header = out.lines().find(|l| l.starts_with("case ")).unwrap_or_else(|| panic!("{out}"));
    for engine in EMBEDDED.split(',') {
        assert!(header.contains(engine), "--wide has a column per engine: {header}");
    }
}
