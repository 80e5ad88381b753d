//! Real browsers over WebDriver (fantoccini): headless Chromium through
//! chromedriver and Firefox through geckodriver. The tool starts the driver
//! itself on a free loopback port (or uses `--webdriver NAME=URL`), serves
//! the harness from its own loopback HTTP server, and sends cases in batches
//! through `execute_async`, two at a time: each call hands the page its next
//! batch and takes back the events of the one before, so the page runs while
//! the answer and the next call travel (the harness's `pipe`).
//!
//! A [`BrowserConn`] looks to the runner like a worker process: requests in,
//! protocol events out. When a batch fails (a crashed tab, a script timeout,
//! a driver that went away) the batch is run again one case at a time in a
//! fresh session, so that only the case that caused it is blamed.

use super::js::which;
use anyhow::{anyhow, bail, Context};
use super::protocol::Event;
use super::server::HarnessServer;
use crate::outcome::Outcome;
use fantoccini::wd::{Capabilities, TimeoutConfiguration};
use fantoccini::{Client, ClientBuilder};
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

/// Most cases in one `execute_async` call. The runner's window (512) holds
/// two such batches, one running and one queued in the page.
const MAX_BATCH: usize = 256;

/// How one WebDriver browser is found, started and driven: a column's row
/// in the registry ([`super::ENGINES`]) holds one. Everything that differs
/// between browsers is data here; the code below has no browser's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Browser {
    /// The column id (`chrome`).
    pub id: &'static str,
    /// The environment variable naming an existing WebDriver endpoint.
    pub webdriver_env: &'static str,
    /// The environment variable naming the browser binary, and the names
    /// (or absolute paths) looked for on PATH.
    pub binary_env: &'static str,
    pub binary_names: &'static [&'static str],
    /// The environment variable naming the driver, and its name on PATH.
    pub driver_env: &'static str,
    pub driver_name: &'static str,
    /// The driver's arguments to listen on loopback only; `{port}` is the port.
    pub driver_args: &'static [&'static str],
    /// The W3C `browserName`, and the capability that holds the browser's
    /// options (`goog:chromeOptions`).
    pub browser_name: &'static str,
    pub options_key: &'static str,
    /// The browser's own arguments.
    pub args: &'static [&'static str],
    /// Where a fresh profile directory per session is passed, as an
    /// argument prefix (`--user-data-dir=`), for a browser started here.
    pub profile_arg: Option<&'static str>,
    /// Preferences, as a JSON object (`prefs` in the options), or "".
    pub prefs: &'static str,
    /// Whether it needs an X display (a private Xvfb when DISPLAY is unset).
    pub needs_display: bool,
}

/// How to reach a browser: a driver to start, or an endpoint to use.
#[derive(Debug, Clone)]
pub enum Setup {
    /// A driver started here; `address_space` limits it and everything it
    /// starts (RLIMIT_AS is inherited): the whole browser.
    Local { binary: PathBuf, driver: PathBuf, address_space: Option<u64> },
    Remote { url: String },
}

fn find(env: &str, names: &[&str], what: &str) -> Result<PathBuf, String> {
    if let Some(p) = std::env::var_os(env) {
        let p = PathBuf::from(p);
        return if p.is_file() { Ok(p) } else { Err(format!("{env}={} does not exist", p.display())) };
    }
    for name in names {
        if name.starts_with('/') {
            if Path::new(name).is_file() {
                return Ok(PathBuf::from(name));
            }
        } else if let Some(p) = which(name) {
            return Ok(p);
        }
    }
    // cargo install puts geckodriver here, which is not always on PATH.
    if let Some(home) = std::env::var_os("HOME") {
        for name in names {
            let p = PathBuf::from(&home).join(".cargo/bin").join(name);
            if p.is_file() {
                return Ok(p);
            }
        }
    }
    Err(format!("{what} not found: looked for {} on PATH (set {env}, or run drivers/install.sh)", names.join(", ")))
}

/// The browser row of column `id`, if it is a WebDriver browser.
pub fn browser(id: &str) -> Option<Browser> {
    match super::spec(id)?.launch {
        super::Launch::Browser(b) => Some(b),
        _ => None,
    }
}

impl Browser {
    /// The driver's arguments to listen on `port`, on loopback only.
    pub fn driver_args(&self, port: u16) -> Vec<String> {
        self.driver_args.iter().map(|a| a.replace("{port}", &port.to_string())).collect()
    }

    /// Where this browser comes from here, or why it is unavailable.
    pub fn setup(&self, remote: Option<&str>) -> Result<Setup, String> {
        if let Some(url) = remote.map(str::to_string).or_else(|| std::env::var(self.webdriver_env).ok()).filter(|u| !u.is_empty()) {
            return Ok(Setup::Remote { url });
        }
        let binary = find(self.binary_env, self.binary_names, self.id)?;
        let driver = find(self.driver_env, &[self.driver_name], self.driver_name)?;
        Ok(Setup::Local { binary, driver, address_space: None })
    }

    fn capabilities(&self, setup: &Setup, profile: Option<&std::path::Path>) -> Capabilities {
        let mut args: Vec<String> = self.args.iter().map(|a| a.to_string()).collect();
        if let (Some(arg), Some(p)) = (self.profile_arg, profile) {
            args.push(format!("{arg}{}", p.display()));
        }
        let mut opts = json!({ "args": args });
        if !self.prefs.is_empty() {
            opts["prefs"] = serde_json::from_str(self.prefs).expect("a browser row's prefs are a JSON object");
        }
        if let Setup::Local { binary, .. } = setup {
            opts["binary"] = binary.display().to_string().into();
        }
        let caps = json!({ "browserName": self.browser_name, self.options_key: opts });
        caps.as_object().cloned().unwrap_or_default()
    }
}

/// A started driver process and the endpoint it listens on.
struct Driver {
    url: String,
    _child: Option<Child>,
    /// The X server a local WebKit driver runs on, if the tool started one.
    _display: Option<Xvfb>,
    /// The memory budget's watch over the driver and its browser.
    watch: Option<crate::budget::Watch>,
    /// The driver's process group (its pid when started), kept apart from
    /// the child: once a dead driver is reaped the child has no pid, and
    /// the browser it started lives on in the group.
    group: Option<u32>,
}

impl Driver {
    /// How the driver (or the X server under it) ended, if it did: then the
    /// session is gone and no case is to blame.
    fn exited(&mut self) -> Option<String> {
        if let Some(Ok(Some(status))) = self._child.as_mut().map(|c| c.try_wait()) {
            return Some(format!("the WebDriver process exited ({status})"));
        }
        if let Some(x) = self._display.as_mut() {
            if let Ok(Some(status)) = x.child.try_wait() {
                return Some(format!("the Xvfb display :{} exited ({status})", x.display));
            }
        }
        None
    }

    /// Why the budget killed this driver's browser, if it did.
    fn budget_kill(&self) -> Option<String> {
        self.watch.as_ref().and_then(|w| w.killed())
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        if let Some(w) = &self.watch {
            w.stop();
        }
        // The driver leads its own process group, the browser with it: end
        // them all, so that no browser outlives its session.
        if let Some(pid) = self.group {
            // SAFETY: kill(2) on a process group this process created.
            unsafe { libc::kill(-(pid as i32), libc::SIGKILL) };
        }
    }
}

/// How many times a local driver is started (each on a fresh port) before
/// the column is given up: on a loaded machine a driver can lose its port
/// to another process between the probe and its bind, or start too slowly.
const DRIVER_ATTEMPTS: u32 = 3;

/// How long a new session may take to open (the browser to start).
const SESSION_LIMIT: Duration = Duration::from_secs(90);

/// How long a started driver gets to listen on its port.
const DRIVER_LISTEN: Duration = Duration::from_secs(45);

async fn start_driver(browser: &Browser, setup: &Setup, budget: Option<u64>) -> anyhow::Result<Driver> {
    let (binary_driver, address_space) = match setup {
        Setup::Remote { url } => return Ok(Driver { url: url.clone(), _child: None, _display: None, watch: None, group: None }),
        Setup::Local { driver, address_space, .. } => (driver.clone(), *address_space),
    };
    let mut why = anyhow!("no attempt");
    for _ in 0..DRIVER_ATTEMPTS {
        match start_local_driver(browser, &binary_driver, budget, address_space).await {
            Ok(d) => return Ok(d),
            Err(e) => why = e,
        }
    }
    Err(why.context(format!("{} did not start in {DRIVER_ATTEMPTS} attempts, each on a fresh port; the last time", binary_driver.display())))
}

/// One attempt: the driver on a fresh port, its output kept in a file so
/// that a failed start can say what the driver said.
async fn start_local_driver(browser: &Browser, binary_driver: &Path, budget: Option<u64>, address_space: Option<u64>) -> anyhow::Result<Driver> {
    let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).context("no free loopback port for the driver")?.port();
    let mut cmd = Command::new(binary_driver);
    super::worker::die_with_parent(&mut cmd);
    if let Some(bytes) = address_space {
        super::worker::limit_address_space(&mut cmd, bytes);
    }
    let mut display = None;
    // MiniBrowser needs an X display: without one, a private Xvfb that lives
    // and dies with this driver.
    if browser.needs_display && std::env::var_os("DISPLAY").is_none_or(|d| d.is_empty()) {
        let x = Xvfb::start().await?;
        cmd.env("DISPLAY", format!(":{}", x.display));
        display = Some(x);
    }
    cmd.args(browser.driver_args(port));
    let log = tempfile::tempfile().with_context(|| format!("cannot make a log file for {}", binary_driver.display()))?;
    let clone = || log.try_clone().map(std::process::Stdio::from).with_context(|| format!("cannot share the log file of {}", binary_driver.display()));
    let (out, err) = (clone()?, clone()?);
    let mut child = cmd
        .stdin(std::process::Stdio::null())
        .stdout(out)
        .stderr(err)
        .kill_on_drop(true)
        .process_group(0)
        .spawn()
        .with_context(|| format!("cannot start {}", binary_driver.display()))?;
    let start = Instant::now();
    while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
        if let Ok(Some(status)) = child.try_wait() {
            bail!("it exited ({status}) before listening on port {port}{}", said(log));
        }
        if start.elapsed() > DRIVER_LISTEN {
            let _ = child.start_kill();
            bail!("it did not listen on port {port} within {} s{}", DRIVER_LISTEN.as_secs(), said(log));
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    // The budget covers the driver and the browser it starts (its process
    // group): what can be seen of a browser from outside.
    let watch = crate::budget::Watch::start(child.id(), budget);
    let group = child.id();
    Ok(Driver { url: format!("http://127.0.0.1:{port}"), _child: Some(child), _display: display, watch, group })
}

/// The last lines a driver wrote, for an error message.
fn said(mut log: std::fs::File) -> String {
    use std::io::{Read, Seek};
    let mut text = String::new();
    let _ = log.seek(std::io::SeekFrom::Start(0)).and_then(|_| log.read_to_string(&mut text));
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    if lines.is_empty() {
        return String::new();
    }
    format!(" (it said: {})", lines[lines.len().saturating_sub(4)..].join(" | "))
}

/// A private X server (Xvfb) on a free display number; killed when dropped.
struct Xvfb {
    display: u32,
    child: Child,
}

impl Xvfb {
    async fn start() -> anyhow::Result<Xvfb> {
        let xvfb = which("Xvfb").context("Xvfb not found on PATH: WebKitGTK needs an X display (set DISPLAY, or run drivers/install.sh)")?;
        // Display numbers from one per process upwards, so that parallel
        // runs and sessions rarely try the same one; a taken one is skipped.
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let base = 100 + (std::process::id() % 400) * 8;
        for _ in 0..32 {
            let n = base + NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % 3000;
            let socket = PathBuf::from(format!("/tmp/.X11-unix/X{n}"));
            if socket.exists() || Path::new(&format!("/tmp/.X{n}-lock")).exists() {
                continue;
            }
            let mut cmd = Command::new(&xvfb);
            super::worker::die_with_parent(&mut cmd);
            let mut child = cmd
                .args([format!(":{n}"), "-nolisten".into(), "tcp".into(), "-screen".into(), "0".into(), "1280x1024x24".into()])
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .kill_on_drop(true)
                .spawn()
                .with_context(|| format!("cannot start {}", xvfb.display()))?;
            let start = Instant::now();
            while start.elapsed() < Duration::from_secs(10) {
                if socket.exists() {
                    return Ok(Xvfb { display: n, child });
                }
                if let Ok(Some(_)) = child.try_wait() {
                    break; // taken after all: the next number
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            let _ = child.start_kill();
        }
        bail!("Xvfb did not start on any of 32 display numbers")
    }
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

/// One browser session with its driver, profile and harness server.
struct Session {
    client: Client,
    driver: Driver,
    _profile: Option<tempfile::TempDir>,
    /// Which harness page is loaded (`host.cross_origin_isolated`).
    page: Option<bool>,
}

/// A session on a local driver is tried twice (a fresh driver each time):
/// a browser can fail to come up once on a loaded machine. A driver that
/// does not start at all has had its attempts in `start_driver`.
async fn open_session(browser: Browser, setup: &Setup, budget: Option<u64>) -> anyhow::Result<(Session, String)> {
    let tries = if matches!(setup, Setup::Local { .. }) { 2 } else { 1 };
    let mut why = Vec::new();
    for _ in 0..tries {
        let driver = start_driver(&browser, setup, budget).await?;
        match open_session_on(browser, setup, driver).await {
            Ok(s) => return Ok(s),
            Err(e) => why.push(format!("{e:#}")),
        }
    }
    bail!("{}", why.join("; then "))
}

async fn open_session_on(browser: Browser, setup: &Setup, driver: Driver) -> anyhow::Result<(Session, String)> {
    let profile = match (browser.profile_arg, setup) {
        (Some(_), Setup::Local { .. }) => Some(tempfile::tempdir().context("cannot make a browser profile folder")?),
        _ => None,
    };
    let caps = browser.capabilities(setup, profile.as_ref().map(|p| p.path()));
    // A browser that never comes up (one under an address-space limit it
    // cannot live in) must not hold the run: the session gets a time limit.
    let connector = hyper_rustls::HttpsConnectorBuilder::new().with_native_roots().context("no TLS root certificates for the WebDriver connection")?.https_or_http().enable_http1().build();
    let mut builder = ClientBuilder::new(connector);
    let client = tokio::time::timeout(SESSION_LIMIT, builder.capabilities(caps).connect(&driver.url))
        .await
        .map_err(|_| anyhow!("cannot open a {} session at {}: no answer in {} s", browser.id, driver.url, SESSION_LIMIT.as_secs()))?
        .with_context(|| format!("cannot open a {} session at {}", browser.id, driver.url))?;
    let version = client
        .capabilities()
        .and_then(|c| c.get("browserVersion").and_then(|v| v.as_str()).map(str::to_string))
        .unwrap_or_else(|| "unknown".into());
    Ok((Session { client, driver, _profile: profile, page: None }, version))
}

/// A browser session for uses other than running cases (the report's
/// browser test): the same driver start-up, profile and clean-up.
pub struct PlainSession {
    session: Session,
}

impl PlainSession {
    pub async fn open(browser: Browser) -> anyhow::Result<(PlainSession, String)> {
        let setup = browser.setup(None).map_err(anyhow::Error::msg)?;
        let (session, version) = open_session(browser, &setup, None).await?;
        Ok((PlainSession { session }, version))
    }

    pub fn client(&self) -> &Client {
        &self.session.client
    }
}

/// Requests go in and events come out as one JSON string each: drivers
/// convert structured arguments value by value, which costs far more than
/// the page's JSON.parse. `keep`: how many batches may stay unanswered
/// (the harness's `pipe`); null requests only collect; `waitMs`: when the
/// page answers with the oldest batch's progress if it is not done.
const PIPE: &str = "const [requests, keep, waitMs, done] = arguments;\n\
    if (!window.wasmMatrix) { done({ harness_error: 'the harness page is not loaded' }); return; }\n\
    window.wasmMatrix.pipe(requests === null ? null : JSON.parse(requests), keep, waitMs).then((a) => done(a === null ? null : JSON.stringify(a)), (e) => done({ harness_error: String(e) }));";

/// How long the page may keep a call while its batch runs, before it
/// answers with the batch's progress.
const PROGRESS_AFTER: Duration = Duration::from_millis(500);

/// A `pipe` call's answer: the oldest unanswered batch's events since the
/// last answer, and whether that batch is done.
#[derive(serde::Deserialize)]
struct Answer {
    events: Vec<Event>,
    done: bool,
}

#[derive(Clone)]
struct Request {
    id: u64,
    plan: Value,
    isolated: bool,
    /// The case's own time limit, when it has one.
    timeout: Option<Duration>,
}

/// Why a batch failed: a script timeout or anything else.
fn failure_outcome(err: &fantoccini::error::CmdError, timeout: Duration) -> Outcome {
    let text = err.to_string();
    if text.to_lowercase().contains("timeout") {
        Outcome::Timeout(format!("no answer in {} s: {text}", timeout.as_secs_f64()))
    } else {
        Outcome::Crash(format!("browser session failed: {text}"))
    }
}

/// The time a case may take: the run's limit, or its own when it has a
/// longer one.
fn case_limit(r: &Request, per_case: Duration) -> Duration {
    r.timeout.map_or(per_case, |t| t.max(per_case))
}

/// The limit of the first case in `cases`, or the run's.
fn first_limit<'a>(mut cases: impl Iterator<Item = &'a Request>, per_case: Duration) -> Duration {
    cases.next().map_or(per_case, |r| case_limit(r, per_case))
}

/// Takes the events of an answer: each goes to `out`, and each `done`
/// removes its case from `running` (cases finish in order) and restarts
/// `since`, the time the case running now started.
fn take_events(events: Vec<Event>, running: &mut VecDeque<Request>, since: &mut Instant, mut out: impl FnMut(Event)) {
    for ev in events {
        if let Event::Done { id, .. } = &ev {
            if let Some(pos) = running.iter().position(|r| r.id == *id) {
                running.drain(..=pos);
            }
            *since = Instant::now();
        }
        out(ev);
    }
}

/// After an answer that left cases running: the page answered with every
/// case done so far, so the first of `running`, if still going past its
/// limit, hangs without blocking the page and is known to be the one.
fn overdue<'a>(running: impl Iterator<Item = &'a Request>, since: Instant, per_case: Duration) -> Option<Outcome> {
    let limit = first_limit(running, per_case);
    (since.elapsed() > limit).then(|| Outcome::Timeout(format!("no case finished in {} s", limit.as_secs_f64())))
}

impl Session {
    /// Runs one batch alone and waits for its events; a case that runs
    /// past its limit is a timeout.
    async fn run(&mut self, server: &HarnessServer, batch: &[Request], per_case: Duration) -> Result<Vec<Event>, Outcome> {
        let mut running: VecDeque<Request> = batch.iter().map(Request::clone).collect();
        let mut events = Vec::new();
        let mut since = Instant::now();
        let mut first = true;
        loop {
            let limit = first_limit(running.iter(), per_case);
            let answer = self.pipe(server, first.then_some(batch), first, 0, limit).await?;
            first = false;
            let Some(answer) = answer else {
                return Err(Outcome::Crash("the harness page answered a batch with nothing".into()));
            };
            take_events(answer.events, &mut running, &mut since, |ev| events.push(ev));
            if answer.done {
                return Ok(events);
            }
            if let Some(timeout) = overdue(running.iter(), since, per_case) {
                self.page = None;
                return Err(timeout);
            }
        }
    }

    /// One call of the harness's `pipe`: queues `batch` (if any) behind the
    /// page's unanswered batches and, when more than `keep` are then
    /// unanswered, waits for the oldest one's progress. `fresh`: the page
    /// has nothing unanswered (only then is a page loaded). `limit`: how
    /// long the case running now may take, the page being unable to answer
    /// while a case runs.
    async fn pipe(&mut self, server: &HarnessServer, batch: Option<&[Request]>, fresh: bool, keep: u32, limit: Duration) -> Result<Option<Answer>, Outcome> {
        if let (Some(batch), true) = (batch, fresh) {
            let isolated = batch[0].isolated;
            if self.page != Some(isolated) {
                self.client.goto(&server.url(isolated)).await.map_err(|e| Outcome::Crash(format!("cannot load the harness page: {e}")))?;
                self.page = Some(isolated);
            }
        }
        let total = limit + PROGRESS_AFTER;
        self.client
            .update_timeouts(TimeoutConfiguration::new(Some(total), None, None))
            .await
            .map_err(|e| Outcome::Crash(format!("cannot set the script timeout: {e}")))?;
        let requests = match batch {
            Some(b) => Value::String(Value::Array(b.iter().map(|r| json!({ "id": r.id, "plan": r.plan })).collect()).to_string()),
            None => Value::Null,
        };
        // A page stuck in an endless loop can keep the driver from ever
        // answering, whatever the script timeout says: wait a little longer
        // than it ourselves, then give the session up.
        let call = self.client.execute_async(PIPE, vec![requests, json!(keep), json!(PROGRESS_AFTER.as_millis() as u64)]);
        let result = match tokio::time::timeout(total + Duration::from_secs(2), call).await {
            Ok(r) => r,
            Err(_) => {
                self.page = None;
                return Err(Outcome::Timeout(format!("no answer in {} s; the browser session was ended", total.as_secs_f64())));
            }
        };
        match result {
            Ok(Value::Null) => Ok(None),
            Ok(Value::String(answer)) => serde_json::from_str::<Answer>(&answer)
                .map(Some)
                .map_err(|e| Outcome::Crash(format!("unreadable events from the page: {e}"))),
            Ok(other) => Err(Outcome::Crash(format!("the harness failed: {other}"))),
            Err(e) => {
                // The page may be dead or spinning: this session is done.
                self.page = None;
                match self.driver.budget_kill() {
                    Some(why) => Err(Outcome::Crash(why)),
                    None => Err(failure_outcome(&e, total)),
                }
            }
        }
    }
}

/// A browser as the runner sees it: like a worker process.
pub struct BrowserConn {
    requests: Option<mpsc::UnboundedSender<Arc<str>>>,
    events: mpsc::UnboundedReceiver<Result<Event, Outcome>>,
    task: tokio::task::JoinHandle<()>,
    death: Option<Outcome>,
    pub version: String,
}

impl BrowserConn {
    /// Opens a session whose pages come from `server` (shared by the run's sessions).
    pub async fn start(
        browser: Browser,
        setup: Setup,
        server: Arc<HarnessServer>,
        per_case: Duration,
        budget: Option<u64>,
    ) -> anyhow::Result<BrowserConn> {
        let (session, version) = open_session(browser, &setup, budget).await?;
        let (req_tx, req_rx) = mpsc::unbounded_channel::<Arc<str>>();
        let (ev_tx, ev_rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(serve(browser, setup, server, session, per_case, budget, req_rx, ev_tx));
        Ok(BrowserConn { requests: Some(req_tx), events: ev_rx, task, death: None, version })
    }

    pub fn send(&self, line: Arc<str>) {
        if let Some(tx) = &self.requests {
            let _ = tx.send(line);
        }
    }

    pub async fn next_event(&mut self) -> Option<Result<Event, String>> {
        match self.events.recv().await {
            Some(Ok(ev)) => Some(Ok(ev)),
            Some(Err(outcome)) => {
                self.death = Some(outcome);
                None
            }
            None => None,
        }
    }

    /// How the session ended (after `next_event` returned `None`).
    pub fn death(&mut self) -> Outcome {
        self.death.take().unwrap_or_else(|| Outcome::Crash("the browser session ended".into()))
    }

    pub fn kill(&mut self) {
        self.requests = None;
        self.task.abort();
    }
}

impl Drop for BrowserConn {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(
    browser: Browser,
    setup: Setup,
    server: Arc<HarnessServer>,
    mut session: Session,
    per_case: Duration,
    budget: Option<u64>,
    mut requests: mpsc::UnboundedReceiver<Arc<str>>,
    events: mpsc::UnboundedSender<Result<Event, Outcome>>,
) {
    let mut pending: Option<Request> = None;
    // Batches the page has and has not answered in full, oldest first, each
    // with its page kind and the cases not done yet: the next batch goes to
    // the page while the last one runs.
    let mut unanswered: VecDeque<(bool, VecDeque<Request>)> = VecDeque::new();
    // When the case running now started: the last case done, or the batch
    // sent to an idle page.
    let mut since = Instant::now();
    loop {
        // A new page is loaded only with nothing unanswered: a request for
        // the other page kind first collects what the page has. Two batches
        // at most are in the page.
        let page_kind = unanswered.front().map(|b| b.0);
        let mut batch = Vec::new();
        if unanswered.len() < 2 && pending.as_ref().is_none_or(|p| Some(p.isolated) == page_kind || page_kind.is_none()) {
            batch.extend(pending.take());
            if batch.is_empty() && unanswered.is_empty() {
                match next_request(&mut requests).await {
                    Some(r) => batch.push(r),
                    None => break,
                }
            }
            // The next batch: everything queued, up to MAX_BATCH, of one
            // page kind. The runner refills its window one request per
            // finished case, so give the refills of the last batch a moment
            // to arrive.
            let kind = batch.first().map(|r| r.isolated).or(page_kind);
            let mut gathered = 0;
            loop {
                let before = batch.len();
                while batch.len() < MAX_BATCH && pending.is_none() {
                    match requests.try_recv() {
                        Ok(line) => {
                            if let Some(r) = parse(&line) {
                                if kind.is_some_and(|k| k != r.isolated) {
                                    pending = Some(r);
                                } else {
                                    batch.push(r);
                                }
                            }
                        }
                        Err(_) => break,
                    }
                }
                gathered += 1;
                if batch.len() >= MAX_BATCH || pending.is_some() || gathered > 3 || (gathered > 1 && batch.len() == before) {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        }
        // With a new batch, one older batch may stay unanswered; without,
        // the call collects the oldest one's progress.
        let fresh = unanswered.is_empty();
        if fresh {
            since = Instant::now();
        }
        let keep = u32::from(!batch.is_empty());
        // The page may have run past the cases it answered for: the call
        // waits as long as the longest limit of those not done.
        let limit = unanswered.iter().flat_map(|b| b.1.iter()).chain(batch.iter()).map(|r| case_limit(r, per_case)).max().unwrap_or(per_case);
        let result = session.pipe(&server, (!batch.is_empty()).then_some(&batch[..]), fresh, keep, limit).await;
        if let Some(first) = batch.first() {
            unanswered.push_back((first.isolated, batch.into()));
        }
        let failure = match result {
            Ok(None) => None,
            Ok(Some(answer)) => {
                let mut none = VecDeque::new();
                let oldest = unanswered.front_mut().map_or(&mut none, |b| &mut b.1);
                take_events(answer.events, oldest, &mut since, |ev| {
                    let _ = events.send(Ok(ev));
                });
                if answer.done {
                    unanswered.pop_front();
                    None
                } else {
                    overdue(unanswered.iter().flat_map(|b| b.1.iter()), since, per_case).map(|o| (o, true))
                }
            }
            Err(o) => Some((o, false)),
        };
        if let Some((first_failure, known)) = failure {
            // Every case not done yet is lost with the page. Unless the
            // culprit is known, which of them broke the page is not: the
            // page may have run past the last case it answered for.
            let lost: Vec<Request> = unanswered.drain(..).flat_map(|b| b.1).collect();
            // The driver (or its display) died: no case broke the batch,
            // and the cells in flight are lost with the session.
            // (A driver told to stop may answer its last command before it
            // has exited: it gets a moment.)
            let mut exited = None;
            for _ in 0..10 {
                exited = session.driver.exited();
                if exited.is_some() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            if let Some(how) = exited {
                let _ = events.send(Err(Outcome::Crash(format!("{DRIVER_DIED}{how} during a batch"))));
                return;
            }
            // Find the case that broke the batch: one at a time, fresh session.
            let mut blamed = if lost.len() <= 1 || known { Some(first_failure) } else { None };
            if blamed.is_none() {
                match open_session(browser, &setup, budget).await {
                    Ok((s, _)) => session = s,
                    Err(e) => blamed = Some(Outcome::Crash(format!("{e:#}"))),
                }
            }
            if blamed.is_none() {
                for req in &lost {
                    match session.run(&server, std::slice::from_ref(req), per_case).await {
                        Ok(evs) => {
                            for ev in evs {
                                let _ = events.send(Ok(ev));
                            }
                        }
                        Err(o) => {
                            blamed = Some(o);
                            break;
                        }
                    }
                }
            }
            if let Some(o) = blamed {
                let _ = events.send(Err(o));
                return; // the runner starts a new connection for the rest
            }
        }
    }
    let _ = session.client.close().await;
}

/// The start of the crash message of cells lost because the driver died.
pub const DRIVER_DIED: &str = "driver died: ";

/// The next readable request, waiting for it; None when the runner is done.
async fn next_request(requests: &mut mpsc::UnboundedReceiver<Arc<str>>) -> Option<Request> {
    loop {
        if let Some(r) = parse(&requests.recv().await?) {
            return Some(r);
        }
    }
}

fn parse(line: &str) -> Option<Request> {
    let v: Value = serde_json::from_str(line).ok()?;
    let id = v.get("id")?.as_u64()?;
    let plan = v.get("plan")?.clone();
    let isolated = plan.pointer("/host/cross_origin_isolated").and_then(|b| b.as_bool()).unwrap_or(true);
    let timeout = v.get("timeout").and_then(|t| t.as_f64()).filter(|t| t.is_finite() && *t > 0.0).map(Duration::from_secs_f64);
    Some(Request { id, plan, isolated, timeout })
}
