//! Schedules cells (case x engine) on engine processes: all engines at once,
//! `jobs` long-lived processes per engine, each with a window of requests in
//! flight. A process that crashes or hangs costs the cell in flight a
//! `crash` / `timeout` outcome; it is restarted and the other cells go on.
//! Results come out as a stream of [`RunEvent`]s, one per finished cell.

use crate::case::{Action, Case};
use crate::engine::protocol::{request_line_from, Event};
use crate::engine::server::HarnessServer;
use crate::engine::webdriver::BrowserConn;
use crate::engine::worker::Proc;
use crate::engine::{Column, Launch};
use crate::outcome::{normalize, Outcome};
use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
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

/// A case that may take long (it raises its own `timeout` above the run's:
/// GiB allocations, whole .wast scripts): it runs alone in its process's
/// window, so that no quick case waits behind it and no other heavy case
/// queues behind it while another process is free.
fn heavy(case: &Case, run_timeout: Duration) -> bool {
    case.timeout.is_some_and(|t| Duration::from_secs_f64(t) > run_timeout)
}

/// A case that may use GiBs: one whose memories can reach 1 GiB where the
/// case says how far they can reach (`commits_at_most`); else a YAML case
/// with its own `timeout` (what the corpus gives its GiB allocations), or a
/// host grow or memory of at least 1 GiB.
fn memory_heavy(case: &Case) -> bool {
    const GIB_PAGES: u64 = 16384;
    if let Some(bytes) = case.commits_at_most {
        return bytes >= 1 << 30;
    }
    let script = case.file.extension().is_some_and(|e| e == "wast");
    (case.timeout.is_some() && !script)
        || case.plan.actions.iter().any(|a| match a {
            Action::Grow { delta, .. } => *delta >= GIB_PAGES,
            Action::NewMemory { initial, .. } => *initial >= GIB_PAGES,
            _ => false,
        })
}

/// What memory-heavy cases take of the memory budget, as permits of one
/// MiB: the budget's whole when a case does not say how far its memories
/// reach (so such cases run one at a time across the whole run, every
/// engine together, and their budgets never overlap), else that bound and
/// 256 MiB for the engine itself. So the fuzzer's 4 GiB grows run four at a
/// time in a 19 GiB budget. Without a budget, one at a time. Returns the
/// permits in all and each case's weight (0: not memory-heavy).
fn heavy_weights(cases: &[Case], budget: Option<u64>) -> (u32, Vec<u32>) {
    const MIB: u64 = 1 << 20;
    let units = budget.map_or(1, |b| (b / MIB).clamp(1, u64::from(u32::MAX >> 4)) as u32);
    let weights = cases
        .iter()
        .map(|c| match (memory_heavy(c), budget, c.commits_at_most) {
            (false, ..) => 0,
            (true, Some(_), Some(bytes)) => (bytes.saturating_add(256 * MIB).div_ceil(MIB)).clamp(1, u64::from(units)) as u32,
            (true, ..) => units,
        })
        .collect();
    (units, weights)
}

/// Whether a worker runs the case at a raised CPU priority: a memory-heavy
/// case with its own time limit (a GiB grow that an interpreter commits) is
/// the cell a run waits for at its end, and there are few of them at once
/// (they share the memory budget). Scripts are not: dozens run at once, and
/// raised they would starve the JS shells' and browsers' batches.
fn raised(case: &Case, weight: u32) -> bool {
    weight > 0 && case.timeout.is_some()
}

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
    /// A cell of an unavailable engine: not run.
    NotRun { case: usize, engine: &'static str, reason: String },
}

/// Runs `cells` and sends an event for each; returns when all are done.
pub async fn run(cases: Arc<Vec<Case>>, cells: Vec<(usize, &'static Column)>, opts: RunOptions, tx: mpsc::UnboundedSender<RunEvent>) {
    let (units, weight) = heavy_weights(&cases, opts.memory_budget);
    // Each request line is serialized once and shared by every engine.
    let mut lines: BTreeMap<usize, Arc<str>> = BTreeMap::new();
    let mut per_engine: Vec<(&'static Column, VecDeque<usize>)> = Vec::new();
    for (case, spec) in cells {
        lines.entry(case).or_insert_with(|| request_line_from(case as u64, &cases[case].plan, 0, cases[case].timeout, raised(&cases[case], weight[case])).into());
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
    let server = Arc::new(tokio::sync::OnceCell::new());
    let big = Arc::new(tokio::sync::Semaphore::new(units as usize));
    let weight = Arc::new(weight);
    let mut tasks = Vec::new();
    for (spec, queue) in per_engine {
        let queue = Arc::new(Mutex::new(queue));
        let started = Arc::new(Mutex::new(Availability::Unknown));
        let cells = queue.lock().unwrap().len().max(1);
        let workers = match spec.launch {
            Launch::Browser(_) => opts.jobs.max(1).min(cells.div_ceil(CELLS_PER_BROWSER_SESSION)),
            _ => opts.jobs.max(1).min(cells),
        };
        for _ in 0..workers {
            let w = Worker {
                spec,
                cases: cases.clone(),
                lines: lines.clone(),
                queue: queue.clone(),
                opts: opts.clone(),
                tx: tx.clone(),
                announced: started.clone(),
                server: server.clone(),
                big: big.clone(),
                weight: weight.clone(),
            };
            tasks.push(tokio::spawn(w.run()));
        }
    }
    for t in tasks {
        let _ = t.await;
    }
}

/// Runs on a fresh runtime, calling `on_event` for each event as it comes.
/// `on_event` returns false to stop early. Ctrl-C stops early too; the
/// engines are then killed. Returns whether the run stopped early.
pub fn run_blocking(cases: Arc<Vec<Case>>, cells: Vec<(usize, &'static Column)>, opts: RunOptions, mut on_event: impl FnMut(RunEvent) -> bool) -> bool {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("a tokio runtime");
    let stopped = rt.block_on(async move {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let job = tokio::spawn(run(cases, cells, opts, tx));
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
        loop {
            tokio::select! {
                ev = rx.recv() => match ev {
                    Some(ev) => if !on_event(ev) { job.abort(); return true; },
                    None => break,
                },
                _ = &mut interrupt => { job.abort(); return true; }
                _ = &mut terminated => { job.abort(); return true; }
            }
        }
        let _ = job.await;
        false
    });
    rt.shutdown_timeout(Duration::from_secs(2));
    stopped
}

/// A connection to one engine: a process speaking the line protocol, or a
/// browser session that looks like one.
/// A JS shell's `--version`, asked once per column and run.
fn shell_version(id: &'static str, shell: &crate::engine::js::Shell) -> String {
    static SEEN: Mutex<BTreeMap<&'static str, String>> = Mutex::new(BTreeMap::new());
    let mut seen = SEEN.lock().unwrap();
    seen.entry(id).or_insert_with(|| shell.version().unwrap_or_else(|_| "unknown".into())).clone()
}

enum Conn {
    Process(Proc),
    Browser(BrowserConn),
}

impl Conn {
    async fn start(spec: &Column, opts: &RunOptions, server: &SharedServer) -> Result<Conn, String> {
        match spec.launch {
            Launch::Browser(b) => {
                let remote = opts.webdriver.iter().find(|(e, _)| e == spec.id).map(|(_, u)| u.as_str());
                let setup = b.setup(remote)?;
                let bind = opts.serve_addr;
                let server = server
                    .get_or_try_init(|| async move {
                        HarnessServer::start(bind).await.map(Arc::new).map_err(|e| format!("cannot start the harness server on {bind}: {e}"))
                    })
                    .await?
                    .clone();
                Ok(Conn::Browser(BrowserConn::start(b, setup, server, opts.timeout, opts.memory_budget).await?))
            }
            _ => {
                let (program, args) = spec.command(&opts.worker_exe)?;
                let own = matches!(spec.launch, Launch::Worker(_));
                let mut proc = Proc::spawn(&program, &args, Duration::from_secs(60), opts.memory_budget, own).await?;
                if let Launch::Js(shell) = spec.launch {
                    // The harness knows only a Node-compatible version
                    // (`process.version`); the shell says its own.
                    proc.version = shell_version(spec.id, &shell);
                }
                Ok(Conn::Process(proc))
            }
        }
    }

    fn version(&self) -> String {
        match self {
            Conn::Process(p) => p.version.clone(),
            Conn::Browser(b) => b.version.clone(),
        }
    }

    fn send(&self, line: Arc<str>) {
        match self {
            Conn::Process(p) => p.send(line),
            Conn::Browser(b) => b.send(line),
        }
    }

    async fn next_event(&mut self) -> Option<Result<Event, String>> {
        match self {
            Conn::Process(p) => p.next_event().await,
            Conn::Browser(b) => b.next_event().await,
        }
    }

    /// Browser sessions time cases out themselves (per batch, then per case).
    fn keeps_time(&self) -> bool {
        matches!(self, Conn::Browser(_))
    }

    fn clear_stderr(&self) {
        if let Conn::Process(p) = self {
            p.clear_stderr();
        }
    }

    async fn kill(&mut self) {
        match self {
            Conn::Process(p) => p.kill().await,
            Conn::Browser(b) => b.kill(),
        }
    }

    async fn death(&mut self) -> Outcome {
        match self {
            Conn::Process(p) => Outcome::Crash(p.death().await),
            Conn::Browser(b) => b.death(),
        }
    }

    async fn close(self) {
        match self {
            Conn::Process(p) => p.close().await,
            Conn::Browser(mut b) => b.kill(),
        }
    }
}

struct InFlight {
    case: usize,
    /// The first step this process runs (after a resume, see [`Worker::resume`]).
    from: usize,
    outcomes: Vec<Option<Outcome>>,
    sent: Instant,
}

impl InFlight {
    fn new(case: usize, steps: usize) -> InFlight {
        InFlight { case, from: 0, outcomes: vec![None; steps], sent: Instant::now() }
    }
}

struct Worker {
    spec: &'static Column,
    cases: Arc<Vec<Case>>,
    lines: Arc<BTreeMap<usize, Arc<str>>>,
    queue: Arc<Mutex<VecDeque<usize>>>,
    opts: RunOptions,
    tx: mpsc::UnboundedSender<RunEvent>,
    /// Whether this engine was already announced as started or unavailable.
    announced: Arc<Mutex<Availability>>,
    server: Arc<SharedServer>,
    /// The memory budget in MiB permits, shared by memory-heavy cases.
    big: Arc<tokio::sync::Semaphore>,
    /// What each case takes of it ([`heavy_weights`]), worked out once.
    weight: Arc<Vec<u32>>,
}

/// The harness server every browser session of a run loads its page from:
/// started by the first, so that a fixed `--serve-addr` is bound once.
type SharedServer = tokio::sync::OnceCell<Arc<HarnessServer>>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Availability {
    Unknown,
    Started,
    Unavailable,
}

/// Consecutive failed starts after which an engine's remaining cells are
/// recorded as crashes instead of retried.
const MAX_FAILED_STARTS: usize = 3;

impl Worker {
    /// The first queued case that is not memory-heavy.
    fn take_light(&self) -> Option<InFlight> {
        let mut queue = self.queue.lock().unwrap();
        let i = queue.iter().position(|&c| self.weight[c] == 0)?;
        let case = queue.remove(i)?;
        Some(InFlight::new(case, self.cases[case].steps.len()))
    }

    fn next_case(&self, retry: &mut VecDeque<InFlight>) -> Option<InFlight> {
        retry.pop_front().or_else(|| {
            let case = self.queue.lock().unwrap().pop_front()?;
            Some(InFlight::new(case, self.cases[case].steps.len()))
        })
    }

    /// Finishes a cell with the outcomes that arrived (normalized as they
    /// came); a step that never reported gets `fatal` and the ones after it
    /// are skipped.
    fn finish(&self, f: InFlight, fatal: Option<Outcome>, engine_us: Option<u64>, front_since: Instant) {
        self.finish_with(f, fatal, (engine_us, None), front_since, None)
    }

    /// `times`: the engine's own time and CPU time for the case, where known.
    fn finish_with(&self, f: InFlight, fatal: Option<Outcome>, times: (Option<u64>, Option<u64>), front_since: Instant, isolated: Option<bool>) {
        let (engine_us, cpu_us) = times;
        let mut fatal = fatal;
        let n = self.cases[f.case].steps.len();
        let mut outcomes = Vec::with_capacity(n);
        for i in 0..n {
            match f.outcomes.get(i).cloned().flatten() {
                Some(o) => outcomes.push(o),
                None => match fatal.take() {
                    Some(o) => outcomes.push(o),
                    None => outcomes.push(Outcome::Skipped("an earlier step failed fatally".into())),
                },
            }
        }
        // From when the engine could start on it (it was sent, and the case
        // before it in the window was done) to its end.
        let ms = f.sent.max(front_since).elapsed().as_secs_f64() * 1000.0;
        let _ = self.tx.send(RunEvent::Cell(CellRun {
            case: f.case,
            engine: self.spec.id,
            outcomes,
            ms,
            engine_us,
            cpu_us,
            cross_origin_isolated: isolated,
        }));
    }

    async fn run(self) {
        let mut retry: VecDeque<InFlight> = VecDeque::new();
        let mut inflight: VecDeque<InFlight> = VecDeque::new();
        let mut proc: Option<Conn> = None;
        let mut failed_starts = 0;
        let mut driver_deaths = 0;
        let mut front_since = Instant::now();
        // The run's one place for a memory-heavy case, while this worker has one.
        let mut big: Option<tokio::sync::OwnedSemaphorePermit> = None;
        loop {
            if proc.is_none() {
                match Conn::start(self.spec, &self.opts, &self.server).await {
                    Ok(p) => {
                        failed_starts = 0;
                        let mut state = self.announced.lock().unwrap();
                        if *state != Availability::Started {
                            *state = Availability::Started;
                            let _ = self.tx.send(RunEvent::Started { engine: self.spec.id, version: p.version() });
                        }
                        proc = Some(p);
                    }
                    Err(reason) => {
                        failed_starts += 1;
                        let never_started = {
                            let mut state = self.announced.lock().unwrap();
                            match *state {
                                Availability::Started => false,
                                Availability::Unknown => {
                                    *state = Availability::Unavailable;
                                    let _ = self.tx.send(RunEvent::Unavailable { engine: self.spec.id, reason: reason.clone() });
                                    true
                                }
                                Availability::Unavailable => true,
                            }
                        };
                        if never_started {
                            while let Some(f) = self.next_case(&mut retry) {
                                let _ = self.tx.send(RunEvent::NotRun { case: f.case, engine: self.spec.id, reason: reason.clone() });
                            }
                            return;
                        }
                        if failed_starts >= MAX_FAILED_STARTS {
                            // Give the remaining cells an outcome rather than loop.
                            while let Some(f) = self.next_case(&mut retry) {
                                self.finish(f, Some(Outcome::Crash(format!("engine process could not restart: {reason}"))), None, Instant::now());
                            }
                            return;
                        }
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        continue;
                    }
                }
            }
            // The permit for memory-heavy cases goes back as soon as none is
            // in flight here (not when the window empties: a process keeps
            // its window full, and another process waiting for the permit
            // would wait for the whole run).
            if big.is_some() && !inflight.iter().any(|f| self.weight[f.case] > 0) {
                big = None;
            }
            let p = proc.as_mut().expect("started above");
            while inflight.len() < self.opts.window.min(self.spec.window()).max(1) {
                if inflight.iter().any(|f| heavy(&self.cases[f.case], self.opts.timeout)) {
                    break;
                }
                // Near the end of the queue a process takes no more than its
                // share of what is left, so that the engine's processes end
                // together instead of one working through a full window
                // while the others idle.
                if inflight.len() >= 8 && retry.is_empty() && inflight.len() > self.queue.lock().unwrap().len() / self.opts.jobs.max(1) {
                    break;
                }
                let Some(mut f) = self.next_case(&mut retry) else { break };
                if !inflight.is_empty() && heavy(&self.cases[f.case], self.opts.timeout) {
                    retry.push_front(f);
                    break;
                }
                if self.weight[f.case] > 0 {
                    // Memory-heavy cases share the budget by their weights
                    // (one at a time where a case does not say what it can
                    // reach). A process with one in flight takes no second
                    // (the permits go back between them, so no process keeps
                    // them for good), and one that cannot have the permits
                    // now goes on with its window and asks again when a case
                    // is done.
                    if big.is_some() && inflight.iter().any(|f| self.weight[f.case] > 0) {
                        retry.push_front(f);
                        break;
                    }
                    if big.is_none() {
                        match self.big.clone().try_acquire_many_owned(self.weight[f.case]) {
                            Ok(permit) => big = Some(permit),
                            Err(_) if !inflight.is_empty() => {
                                retry.push_front(f);
                                break;
                            }
                            // Nothing in flight: a case that needs no permit
                            // runs meanwhile, if the queue has one.
                            Err(_) => match self.take_light() {
                                Some(light) => {
                                    retry.push_front(f);
                                    f = light;
                                }
                                None => big = Some(self.big.clone().acquire_many_owned(self.weight[f.case]).await.expect("the semaphore is never closed")),
                            },
                        }
                    }
                }
                if inflight.is_empty() {
                    front_since = Instant::now();
                }
                let line = match f.from {
                    0 => self.lines[&f.case].clone(),
                    from => {
                        let case = &self.cases[f.case];
                        request_line_from(f.case as u64, &case.plan, from, case.timeout, raised(case, self.weight[f.case])).into()
                    }
                };
                p.send(line);
                inflight.push_back(f);
            }
            if inflight.is_empty() {
                break;
            }
            let front = &self.cases[inflight[0].case];
            let limit = front.timeout.map_or(self.opts.timeout, |t| self.opts.timeout.max(Duration::from_secs_f64(t)));
            // A process reports each step as it ends, so a case it died in
            // can go on in the next one; a browser reports a case at its end.
            let resumable = !p.keeps_time();
            let deadline = if p.keeps_time() {
                tokio::time::Instant::now() + Duration::from_secs(86_400)
            } else {
                tokio::time::Instant::from_std(front_since + limit)
            };
            tokio::select! {
                ev = p.next_event() => match ev {
                    Some(Ok(ev)) => {
                        if self.on_event(ev, &mut inflight, &mut retry, front_since) {
                            p.clear_stderr();
                            front_since = Instant::now();
                        }
                    }
                    Some(Err(bad)) => {
                        // A process that speaks garbage is treated as crashed.
                        p.kill().await;
                        front_since = self.recover(p, &mut inflight, &mut retry, front_since).await;
                        self.fail_front(&mut inflight, &mut retry, Outcome::Crash(bad), front_since, resumable);
                        proc = None;
                    }
                    None => {
                        let why = p.death().await;
                        front_since = self.recover(p, &mut inflight, &mut retry, front_since).await;
                        let driver_died = matches!(&why, Outcome::Crash(m) if m.starts_with(crate::engine::webdriver::DRIVER_DIED));
                        if driver_died {
                            // Every cell in flight is lost with the session;
                            // the engine gets one restart, a second death
                            // ends its run with the reason.
                            driver_deaths += 1;
                            for f in inflight.drain(..) {
                                self.finish(f, Some(why.clone()), None, front_since);
                            }
                            if driver_deaths >= 2 {
                                let reason = format!("not run: the browser's driver died twice ({})", why.message().unwrap_or_default());
                                while let Some(f) = self.next_case(&mut retry) {
                                    self.finish(f, Some(Outcome::Crash(reason.clone())), None, Instant::now());
                                }
                                return;
                            }
                        } else {
                            self.fail_front(&mut inflight, &mut retry, why, front_since, resumable);
                        }
                        proc = None;
                    }
                },
                _ = tokio::time::sleep_until(deadline) => {
                    p.kill().await;
                    front_since = self.recover(p, &mut inflight, &mut retry, front_since).await;
                    let secs = limit.as_secs_f64();
                    self.fail_front(&mut inflight, &mut retry, Outcome::Timeout(format!("no answer in {secs} s; the worker was killed")), front_since, resumable);
                    proc = None;
                }
            }
        }
        if let Some(p) = proc {
            p.close().await;
        }
    }

    /// One event of the engine; true when it ended a case (the next one's
    /// time starts).
    fn on_event(&self, ev: Event, inflight: &mut VecDeque<InFlight>, retry: &mut VecDeque<InFlight>, front_since: Instant) -> bool {
        match ev {
            Event::Step { id, index, outcome } => {
                if let Some(slot) = inflight.iter_mut().find(|f| f.case as u64 == id).and_then(|f| f.outcomes.get_mut(index)) {
                    // A step the pipe gave already (recovered events repeat some).
                    if slot.is_none() {
                        *slot = Some(normalize(outcome));
                    }
                }
                false
            }
            Event::Done { id, us, cpu_us, cross_origin_isolated } => {
                if let Some(pos) = inflight.iter().position(|f| f.case as u64 == id) {
                    let f = inflight.remove(pos).expect("position is valid");
                    let missing = Outcome::Crash("the engine ended the case without reporting this step".into());
                    self.finish_with(f, Some(missing), (Some(us), cpu_us), front_since, cross_origin_isolated);
                }
                true
            }
            Event::Panicked { id, message } => {
                // Like a death, without one: the case's step in flight
                // crashed, the rest of the window goes on.
                if let Some(pos) = inflight.iter().position(|f| f.case as u64 == id) {
                    let f = inflight.remove(pos).expect("position is valid");
                    let fatal = Outcome::Crash(message);
                    match self.resume(&f, &fatal, "panicked", "with a new engine") {
                        Some(rest) => retry.push_front(rest),
                        None => self.finish(f, Some(fatal), None, front_since),
                    }
                }
                true
            }
            Event::Ready { .. } => false,
        }
    }

    /// After a worker died or was killed: the events it had buffered but not
    /// written (its mirror, see [`crate::engine::worker`]), so that the step
    /// that died is the one blamed. Returns the new `front_since`.
    async fn recover(&self, p: &mut Conn, inflight: &mut VecDeque<InFlight>, retry: &mut VecDeque<InFlight>, mut front_since: Instant) -> Instant {
        if let Conn::Process(p) = p {
            // What it wrote and the runner had not read yet (a killed one's
            // pipe), then what it had not written.
            let mut events = Vec::new();
            while let Ok(Some(Ok(ev))) = tokio::time::timeout(Duration::from_secs(1), p.next_event()).await {
                events.push(ev);
            }
            events.extend(p.unwritten());
            for ev in events {
                if self.on_event(ev, inflight, retry, front_since) {
                    front_since = Instant::now();
                }
            }
        }
        front_since
    }

    /// The case at the front of the window gets `fatal` (and goes on at its
    /// next module if it can, see [`Worker::resume`]); the others are sent
    /// again to the next process, in order.
    fn fail_front(&self, inflight: &mut VecDeque<InFlight>, retry: &mut VecDeque<InFlight>, fatal: Outcome, front_since: Instant, resumable: bool) {
        let Some(front) = inflight.pop_front() else { return };
        for f in inflight.drain(..).rev() {
            retry.push_front(f);
        }
        match self.resume(&front, &fatal, "died", "in a new process").filter(|_| resumable) {
            Some(rest) => retry.push_front(rest),
            None => self.finish(front, Some(fatal), None, front_since),
        }
    }

    /// A script's modules are independent of each other's crashes: when the
    /// engine dies (or panics: `how`) at step `i` of a case with a later
    /// `module` step, step `i` gets `fatal`, the steps up to that module are
    /// skipped, and the case goes on at the module (`where_`: in a new
    /// process, or with a new engine; what earlier steps registered or made
    /// is gone there). So one panicking module does not hide the rest of a
    /// spec script.
    fn resume(&self, f: &InFlight, fatal: &Outcome, how: &str, where_: &str) -> Option<InFlight> {
        let actions = &self.cases[f.case].plan.actions;
        let died = (f.from..f.outcomes.len()).find(|&i| f.outcomes[i].is_none())?;
        let next = (died + 1..actions.len().min(f.outcomes.len())).find(|&j| matches!(actions[j], Action::Module { assertion: false, .. }))?;
        let mut outcomes = f.outcomes.clone();
        outcomes[died] = Some(fatal.clone());
        let why = format!("the engine {how} at step {}; the case went on at step {} {where_}", died + 1, next + 1);
        for o in &mut outcomes[died + 1..next] {
            *o = Some(Outcome::Skipped(why.clone()));
        }
        Some(InFlight { case: f.case, from: next, outcomes, sent: f.sent })
    }
}

#[cfg(test)]
mod tests {
    use super::heavy_weights;
    use crate::case::{load::parse_case, Case};
    use std::path::Path;

    fn case(text: &str, reach: Option<u64>) -> Case {
        let mut c = parse_case(text, Path::new("t.yaml"), "t").unwrap().remove(0);
        c.commits_at_most = reach;
        c
    }

    fn a_script() -> Case {
        crate::case::wast::parse_wast("(module (memory 1))\n(assert_return (invoke \"f\"))\n", Path::new("t.wast"), "t").unwrap().remove(0)
    }

    #[test]
    fn memory_heavy_cases_share_the_budget_by_what_they_say_they_reach() {
        const GIB: u64 = 1 << 30;
        let quick = "summary: quick\nmodule: (module (memory (export \"m\") 1))\nsteps: []\n";
        let grow = "summary: host grow\nmodule: (module (memory (export \"m\") 1))\nsteps:\n  - grow: { memory: m, delta: 65535 }\n    expect: { returns: [\"1\"] }\n";
        let cases = [case(quick, None), case(grow, None), case(grow, Some(4 * GIB)), case(grow, Some(GIB / 2)), case(quick, Some(64 * GIB))];
        // A 19 GiB budget: 19,456 MiB permits.
        let (units, w) = heavy_weights(&cases, Some(19 * GIB));
        assert_eq!(units, 19 * 1024);
        // Not heavy; heavy without a bound (the whole budget: one at a time);
        // 4 GiB and 256 MiB; a bound under 1 GiB is not heavy; a bound past
        // the budget takes all of it.
        assert_eq!(w, [0, units, 4096 + 256, 0, units]);
        // Without a budget every heavy case runs alone.
        assert_eq!(heavy_weights(&cases, None), (1, vec![0, 1, 1, 0, 1]));
        // A memory-heavy case with its own time limit runs raised; a script
        // (heavy by its time limit only) and a quick case do not.
        let mut long = case(grow, Some(4 * GIB));
        long.timeout = Some(120.0);
        let (_, w) = heavy_weights(std::slice::from_ref(&long), Some(19 * GIB));
        assert!(super::raised(&long, w[0]));
        let script = a_script();
        let (_, w) = heavy_weights(std::slice::from_ref(&script), Some(19 * GIB));
        assert_eq!(w, [0]);
        assert!(!super::raised(&script, w[0]));
        assert!(!super::raised(&cases[0], 0));
    }
}
