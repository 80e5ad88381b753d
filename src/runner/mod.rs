//! Schedules cells (case x engine) on engine processes: all engines at once,
//! `jobs` long-lived processes per engine, each with a window of requests in
//! flight. A process that crashes or hangs costs the cell in flight a
//! `crash` / `timeout` outcome; it is restarted and the other cells go on.
//! Results come out as a stream of [`RunEvent`]s, one per finished cell.
//!
//! The parts: this file (options, events, the run), `weight` (which cases
//! are heavy and what of the memory budget they take), `resident` (the
//! run's resident ceiling for the cells that may take much memory), `conn` (a
//! connection to one engine process or browser session), `worker` (one
//! engine process's loop: its window, restarts and blame).

mod conn;
mod resident;
mod weight;
mod worker;
#[cfg(test)]
mod tests;

use weight::{heavy, heavy_weights, raised};
use worker::{Availability, Worker};

use crate::case::Case;
use crate::transport::protocol::request_line_from;
use crate::engine::{Column, Launch};
use crate::outcome::Outcome;
use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;

#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Processes per engine.
    pub jobs: usize,
    /// Limit per case.
    pub timeout: Duration,
    /// The `wasm-matrix` binary (embedded engines run as its `__worker`).
    pub worker_exe: PathBuf,
    /// Requests in flight per process (at most; engines may take fewer).
    pub window: usize,
    /// WebDriver endpoints to use instead of starting drivers: engine id -> URL.
    pub webdriver: Vec<(String, String)>,
    /// Where the harness server for browsers listens (port 0: any free port).
    pub serve_addr: std::net::SocketAddr,
    /// Bytes each engine process may keep resident (None: no budget).
    pub memory_budget: Option<u64>,
    /// An address-space limit (RLIMIT_AS) on every engine process and
    /// browser driver the run starts (`probe`'s measures under a limit).
    pub address_space: Option<u64>,
    /// The whole run's resident ceiling for cells that may take much
    /// memory (see `resident`; None: none, as `run` has).
    pub resident_limit: Option<u64>,
}

impl RunOptions {
    pub fn new(worker_exe: PathBuf) -> Self {
        RunOptions {
            jobs: default_jobs(),
            timeout: Duration::from_secs(10),
            worker_exe,
            window: 512,
            webdriver: Vec::new(),
            serve_addr: ([127, 0, 0, 1], 0).into(),
            memory_budget: crate::budget::default_budget(),
            address_space: None,
            resident_limit: None,
        }
    }
}

/// Processes per engine: one per core, so that an engine with heavy cases
/// (wasmi commits a 4 GiB grow page by page) can use every core once the
/// others are done; the OS shares the cores while all are busy.
pub fn default_jobs() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}

/// Browsers open a second session (up to `jobs`) only for more cells than
/// this: a session costs 0.7 s (Chrome) to 2.5 s (Firefox) of CPU to start
/// and then runs 2,000 to 5,000 small cells a second, so on a small run a
/// second browser only competes for the cores.
pub const CELLS_PER_BROWSER_SESSION: usize = 4000;

/// One finished cell.
#[derive(Debug, Clone)]
pub struct CellRun {
    pub case: usize,
    pub engine: &'static str,
    pub outcomes: Vec<Outcome>,
    /// Wall time from sending the case to its last event, in milliseconds.
    pub ms: f64,
    /// The engine's own time for the case (compile + instantiate + steps).
    pub engine_us: Option<u64>,
    /// The engine's own time for each step, where it said.
    pub step_us: Vec<Option<u64>>,
    /// The CPU time its process spent on the case (embedded engines).
    pub cpu_us: Option<u64>,
    /// For browsers: whether the harness page was cross-origin isolated.
    pub cross_origin_isolated: Option<bool>,
}

#[derive(Debug, Clone)]
pub enum RunEvent {
    /// An engine process started; its version.
    Started { engine: &'static str, version: String },
    /// An engine could not be started at all; its cells are not run.
    Unavailable { engine: &'static str, reason: String },
    Cell(CellRun),
    /// A cell not run: the case is not for its column (`Verdict::Unsupported`),
    /// or the case needs more memory than the budget holds
    /// (`Verdict::OverBudget`).
    NotRun { case: usize, engine: &'static str, verdict: crate::diff::Verdict, reason: String },
}

/// Whether a case runs on a column: a testharness file runs on the JS
/// shells when its `global=` names `jsshell`, in the browsers when it
/// names `window`, never on the embedded engines; else why not.
fn runs_on(case: &Case, column: &Column) -> Result<(), String> {
    use crate::case::ColumnKind;
    let kind = match column.launch {
        Launch::Worker(_) => ColumnKind::Embedded,
        Launch::Js(_) => ColumnKind::Shell,
        Launch::Browser(_) => ColumnKind::Browser,
    };
    if let Some(kinds) = case.runs_on.as_ref().filter(|k| !k.contains(&kind)) {
        let names: Vec<&str> = kinds.iter().map(|k| k.name()).collect();
        return Err(format!("the case runs on {} columns only (`runs_on`), and this is {} column", names.join(" and "), match kind {
            ColumnKind::Embedded => "an embedded",
            ColumnKind::Shell => "a shell",
            ColumnKind::Browser => "a browser",
        }));
    }
    if let (Some(glue), Launch::Worker(_)) = (&case.plan.glue, column.launch) {
        return Err(format!("the case runs its module through a toolchain's JS glue (`{}`): the JS columns only", glue.file));
    }
    let Some(crate::case::Action::Testharness { globals, .. }) = case.plan.actions.first() else { return Ok(()) };
    use crate::case::testharness::{SHELL, WINDOW};
    let (needs, here) = match column.launch {
        Launch::Js(_) => (SHELL, "a JS shell"),
        Launch::Browser(_) => (WINDOW, "a browser"),
        Launch::Worker(_) => return Err("a testharness file runs on the JS columns only (the JS API is not an embedder's API)".into()),
    };
    if globals.iter().any(|g| g == needs) {
        Ok(())
    } else {
        Err(format!("the file's `// META: global={}` does not name `{needs}`, so it does not run in {here}", globals.join(",")))
    }
}

/// Why a case is not run on a column under the run's memory budget: it
/// needs more (`needs_memory`) than the budget (or its own) holds, on an
/// engine that commits what it grows.
fn over_budget(case: &Case, column: &Column, budget: Option<u64>) -> Option<String> {
    let need = case.needs_memory.filter(|_| column.grow_commits)?;
    let (limit, whose) = match (budget, case.memory_budget) {
        (Some(b), Some(c)) if c < b => (c, "the case's own memory budget"),
        (Some(b), _) => (b, "the memory budget"),
        (None, Some(c)) => (c, "the case's own memory budget"),
        (None, None) => return None,
    };
    (need > limit).then(|| {
        use crate::budget::show;
        format!("the case needs {} (needs_memory) on an engine that commits what it grows; {whose} is {}", show(need), show(limit))
    })
}

/// Runs `cells` and sends an event for each; returns when all are done.
/// The browser sessions it opens are entered in `sessions`: the caller
/// closes any left open when the run has ended or been stopped.
pub async fn run(cases: Arc<Vec<Case>>, cells: Vec<(usize, &'static Column)>, opts: RunOptions, tx: mpsc::UnboundedSender<RunEvent>, sessions: Arc<crate::transport::browser::OpenSessions>) {
    // The weights a committing column gives (the raised priority of a
    // request line, shared by every column, follows them).
    let (units, weight) = heavy_weights(&cases, opts.memory_budget, true);
    // Each request line is serialized once and shared by every engine.
    let mut lines: BTreeMap<usize, Arc<str>> = BTreeMap::new();
    // The run's large modules, each written once (see `transport::modules`).
    let store = Arc::new(crate::transport::modules::ModuleStore::new());
    let mut refs: BTreeMap<usize, crate::transport::modules::ModuleRef> = BTreeMap::new();
    let mut per_engine: Vec<(&'static Column, VecDeque<usize>)> = Vec::new();
    for (case, spec) in cells {
        if let Err(reason) = runs_on(&cases[case], spec) {
            let _ = tx.send(RunEvent::NotRun { case, engine: spec.id, verdict: crate::diff::Verdict::Unsupported, reason });
            continue;
        }
        if let Some(reason) = over_budget(&cases[case], spec, opts.memory_budget) {
            let _ = tx.send(RunEvent::NotRun { case, engine: spec.id, verdict: crate::diff::Verdict::OverBudget, reason });
            continue;
        }
        if !lines.contains_key(&case) {
            let module = cases[case].plan.wasm.as_deref().and_then(|w| store.put(w));
            lines.insert(case, request_line_from(case as u64, &cases[case].plan, 0, cases[case].timeout, raised(&cases[case], weight[case]), module.as_ref()).into());
            if let Some(m) = module {
                refs.insert(case, m);
            }
        }
        match per_engine.iter_mut().find(|(s, _)| s.id == spec.id) {
            Some((_, q)) => q.push_back(case),
            None => per_engine.push((spec, VecDeque::from([case]))),
        }
    }
    // Heavy cases first (longest first, as a scheduler does with jobs of
    // known length), so that they run side by side on the engine's
    // processes instead of queueing behind each other at the end.
    for (_, queue) in &mut per_engine {
        queue.make_contiguous().sort_by_key(|&c| std::cmp::Reverse(heavy(&cases[c], opts.timeout)));
    }
    let lines = Arc::new(lines);
    let refs = Arc::new(refs);
    let cores = Arc::new(tokio::sync::Semaphore::new(std::thread::available_parallelism().map_or(2, |n| n.get())));
    let server = Arc::new(conn::SharedServer { sessions, ..Default::default() });
    let big = Arc::new(tokio::sync::Semaphore::new(units as usize));
    let ceiling = opts.resident_limit.map(resident::Ceiling::new);
    let weight = Arc::new(weight);
    // And the weights a column that reserves what it grows gives, once.
    let reserving = Arc::new(heavy_weights(&cases, opts.memory_budget, false).1);
    let mut tasks = Vec::new();
    for (spec, queue) in per_engine {
        let weight = if spec.grow_commits { weight.clone() } else { reserving.clone() };
        let queue = Arc::new(Mutex::new(queue));
        let started = Arc::new(Mutex::new(Availability::Unknown));
        let cells = queue.lock().unwrap().len().max(1);
        let workers = match spec.launch {
            Launch::Browser(_) => opts.jobs.max(1).min(cells.div_ceil(CELLS_PER_BROWSER_SESSION)),
            _ => opts.jobs.max(1).min(cells),
        };
        let live = Arc::new(std::sync::atomic::AtomicUsize::new(workers));
        for _ in 0..workers {
            let w = Worker {
                spec,
                cases: cases.clone(),
                lines: lines.clone(),
                refs: refs.clone(),
                store: store.clone(),
                cores: cores.clone(),
                queue: queue.clone(),
                opts: opts.clone(),
                tx: tx.clone(),
                announced: started.clone(),
                server: server.clone(),
                big: big.clone(),
                weight: weight.clone(),
                ceiling: ceiling.clone(),
                live: live.clone(),
            };
            tasks.push(tokio::spawn(w.run()));
        }
    }
    for t in tasks {
        let _ = t.await;
    }
}

/// How long the run's last DELETEs of browser sessions may take.
const CLOSE_SESSIONS: Duration = Duration::from_secs(10);

/// Runs on a fresh runtime, calling `on_event` for each event as it comes.
/// `on_event` returns false to stop early. Ctrl-C and SIGTERM stop early
/// too; the engines are then killed. However the run ends (done, stopped,
/// a worker panicked), every browser session still open gets its DELETE
/// (at most [`CLOSE_SESSIONS`]), so that no Grid slot is left held.
/// Returns whether the run stopped early.
pub fn run_blocking(cases: Arc<Vec<Case>>, cells: Vec<(usize, &'static Column)>, opts: RunOptions, mut on_event: impl FnMut(RunEvent) -> bool) -> bool {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("a tokio runtime");
    let sessions = Arc::new(crate::transport::browser::OpenSessions::default());
    // Should `on_event` panic, its unwinding closes the sessions left.
    let guard = CloseOnDrop { rt: &rt, sessions: sessions.clone() };
    let stopped = rt.block_on(async move {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let job = tokio::spawn(run(cases, cells, opts, tx, sessions.clone()));
        let mut interrupt = std::pin::pin!(tokio::signal::ctrl_c());
        // SIGTERM stops a run as Ctrl-C does: the engines' processes and the
        // browsers' drivers are stopped as their sessions end, not left behind.
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        let terminated = async move {
            match term.as_mut() {
                Some(t) => t.recv().await,
                None => std::future::pending().await,
            }
        };
        let mut terminated = std::pin::pin!(terminated);
        let stopped = loop {
            tokio::select! {
                ev = rx.recv() => match ev {
                    Some(ev) => if !on_event(ev) { break true; },
                    None => break false,
                },
                _ = &mut interrupt => break true,
                _ = &mut terminated => break true,
            }
        };
        if stopped {
            job.abort();
        } else {
            let _ = job.await;
        }
        close_sessions(&sessions).await;
        stopped
    });
    drop(guard);
    rt.shutdown_timeout(Duration::from_secs(2));
    stopped
}

/// Closes the sessions still open when dropped (a panic's unwinding).
struct CloseOnDrop<'a> {
    rt: &'a tokio::runtime::Runtime,
    sessions: Arc<crate::transport::browser::OpenSessions>,
}

impl Drop for CloseOnDrop<'_> {
    fn drop(&mut self) {
        if self.sessions.count() > 0 {
            self.rt.block_on(close_sessions(&self.sessions));
        }
    }
}

/// Sends every session still open its DELETE; says on stderr which did not go.
async fn close_sessions(sessions: &crate::transport::browser::OpenSessions) {
    for why in sessions.close_all(CLOSE_SESSIONS).await {
        eprintln!("wasm-matrix: a browser session may be left open: {why}");
    }
}
