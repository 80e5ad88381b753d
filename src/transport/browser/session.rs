//! One browser session on its driver: opened (a fresh profile, a time
//! limit), its harness page loaded, and batches of cases handed to the
//! page's `pipe` in `execute_async` calls, whose answers are the cases'
//! protocol events.

use super::driver::{capabilities, start_driver, Driver};
use super::open::{Entry, OpenSessions};
use std::sync::Arc;
use crate::engine::browser::{Browser, Setup};
use crate::outcome::Outcome;
use crate::transport::protocol::Event;
use crate::transport::server::HarnessServer;
use anyhow::{anyhow, bail, Context};
use fantoccini::wd::TimeoutConfiguration;
use fantoccini::{Client, ClientBuilder};
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// How long a new session on a local driver may take to open (the browser
/// to start).
const SESSION_LIMIT: Duration = Duration::from_secs(90);

/// How long a new session at a remote endpoint may take: a Selenium Grid
/// with no free slot queues the request and answers with its own message
/// when its `--session-request-timeout` (300 s by default) runs out; the
/// tool waits a little longer, so that the Grid's word comes through.
const REMOTE_SESSION_LIMIT: Duration = Duration::from_secs(330);

/// One browser session with its driver, profile and harness server.
pub(super) struct Session {
    pub(super) client: Client,
    pub(super) driver: Driver,
    _profile: Option<tempfile::TempDir>,
    /// Which harness page is loaded (`host.cross_origin_isolated`).
    page: Option<bool>,
    /// Its place in the list of open sessions, until its DELETE is sent.
    entry: Option<Entry>,
}

/// How long closing a session (its WebDriver DELETE) may take.
pub(super) const CLOSE_LIMIT: Duration = Duration::from_secs(10);

impl Session {
    /// Sends the session's DELETE (bounded). One that does not go stays in
    /// the list of open sessions, for the run's last [`OpenSessions::close_all`].
    pub(super) async fn close(self) {
        if let Ok(Ok(())) = tokio::time::timeout(CLOSE_LIMIT, self.client.close()).await {
            if let Some(e) = &self.entry {
                e.leave();
            }
        }
    }
}

/// How long a session may take to open under an address-space limit: a
/// browser that cannot live in it never comes up (Firefox under 16 GiB:
/// no answer in 90 s, twice), one that can opens in seconds.
const LIMITED_SESSION_LIMIT: Duration = Duration::from_secs(30);

/// A session on a local driver is tried twice (a fresh driver each time):
/// a browser can fail to come up once on a loaded machine; once, for
/// [`LIMITED_SESSION_LIMIT`], under an address-space limit. A driver that
/// does not start at all has had its attempts in `start_driver`.
pub(super) async fn open_session(browser: Browser, setup: &Setup, budget: Option<u64>, sessions: &Arc<OpenSessions>) -> anyhow::Result<(Session, String)> {
    let tries = match setup {
        Setup::Local { address_space: None, .. } => 2,
        _ => 1,
    };
    let mut why = Vec::new();
    for _ in 0..tries {
        let driver = start_driver(&browser, setup, budget).await?;
        match open_session_on(browser, setup, driver, sessions).await {
            Ok(s) => return Ok(s),
            Err(e) => why.push(format!("{e:#}")),
        }
    }
    bail!("{}", why.join("; then "))
}

async fn open_session_on(browser: Browser, setup: &Setup, driver: Driver, sessions: &Arc<OpenSessions>) -> anyhow::Result<(Session, String)> {
    let profile = match (browser.profile_arg, setup) {
        (Some(_), Setup::Local { .. }) => Some(tempfile::tempdir().context("cannot make a browser profile folder")?),
        _ => None,
    };
    let caps = capabilities(&browser, setup, profile.as_ref().map(|p| p.path()));
    // A browser that never comes up (one under an address-space limit it
    // cannot live in) must not hold the run: the session gets a time limit.
    let mut builder = ClientBuilder::new(super::open::connector()?);
    let limit = match setup {
        Setup::Remote { .. } => REMOTE_SESSION_LIMIT,
        Setup::Local { address_space: Some(_), .. } => LIMITED_SESSION_LIMIT,
        Setup::Local { .. } => SESSION_LIMIT,
    };
    let client = tokio::time::timeout(limit, builder.capabilities(caps).connect(&driver.url))
        .await
        .map_err(|_| anyhow!("cannot open a {} session at {}: no answer in {} s", browser.id, driver.url, limit.as_secs()))?
        .with_context(|| format!("cannot open a {} session at {}", browser.id, driver.url))?;
    let version = client
        .capabilities()
        .and_then(|c| c.get("browserVersion").and_then(|v| v.as_str()).map(str::to_string))
        .unwrap_or_else(|| "unknown".into());
    let entry = match client.session_id().await {
        Ok(Some(id)) => match sessions.enter(&driver.url, id) {
            Some(e) => Some(e),
            None => {
                let _ = tokio::time::timeout(CLOSE_LIMIT, client.close()).await;
                bail!("the run is stopping: the new {} session was closed at once", browser.id);
            }
        },
        _ => None,
    };
    Ok((Session { client, driver, _profile: profile, page: None, entry }, version))
}

/// A browser session for uses other than running cases (the report's
/// browser test): the same driver start-up, profile and clean-up.
pub struct PlainSession {
    session: Session,
}

impl PlainSession {
    pub async fn open(browser: Browser) -> anyhow::Result<(PlainSession, String)> {
        let setup = browser.setup(None).map_err(anyhow::Error::msg)?;
        let (session, version) = open_session(browser, &setup, None, &Arc::default()).await?;
        Ok((PlainSession { session }, version))
    }

    pub fn client(&self) -> &Client {
        &self.session.client
    }

    /// Closes the session (its driver stops when this is dropped).
    pub async fn close(self) {
        self.session.close().await;
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
pub(super) struct Answer {
    pub(super) events: Vec<Event>,
    pub(super) done: bool,
}

#[derive(Clone)]
pub(super) struct Request {
    pub(super) id: u64,
    plan: Value,
    /// A large main module, apart from the plan: the page fetches it.
    module: Option<Value>,
    pub(super) isolated: bool,
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

/// How much longer than a case's limit the tool waits for the page to stop it.
const PAGE_GRACE: Duration = Duration::from_secs(3);

/// The time a case may take: the run's limit, or its own when it has a
/// longer one.
pub(super) fn case_limit(r: &Request, per_case: Duration) -> Duration {
    r.timeout.map_or(per_case, |t| t.max(per_case))
}

/// The limit of the first case in `cases`, or the run's.
fn first_limit<'a>(mut cases: impl Iterator<Item = &'a Request>, per_case: Duration) -> Duration {
    cases.next().map_or(per_case, |r| case_limit(r, per_case))
}

/// Takes the events of an answer: each goes to `out`, and each `done`
/// removes its case from `running` (cases finish in order) and restarts
/// `since`, the time the case running now started.
pub(super) fn take_events(events: Vec<Event>, running: &mut VecDeque<Request>, since: &mut Instant, mut out: impl FnMut(Event)) {
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
///
/// The page stops a case of its worker at the case's limit itself and goes
/// on; the tool gives up the page only [`PAGE_GRACE`] later (a case that
/// runs in the page, or a page that could not stop its worker).
pub(super) fn overdue<'a>(running: impl Iterator<Item = &'a Request>, since: Instant, per_case: Duration) -> Option<Outcome> {
    let limit = first_limit(running, per_case);
    (since.elapsed() > limit + PAGE_GRACE).then(|| Outcome::Timeout(format!("no case finished in {} s", limit.as_secs_f64())))
}

impl Session {
    /// Runs one batch alone and waits for its events; a case that runs
    /// past its limit is a timeout.
    pub(super) async fn run(&mut self, server: &HarnessServer, batch: &[Request], per_case: Duration) -> Result<Vec<Event>, Outcome> {
        let mut running: VecDeque<Request> = batch.iter().map(Request::clone).collect();
        let mut events = Vec::new();
        let mut since = Instant::now();
        let mut first = true;
        loop {
            let limit = first_limit(running.iter(), per_case);
            let answer = self.pipe(server, first.then_some(batch), first, 0, limit, per_case).await?;
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
    pub(super) async fn pipe(&mut self, server: &HarnessServer, batch: Option<&[Request]>, fresh: bool, keep: u32, limit: Duration, per_case: Duration) -> Result<Option<Answer>, Outcome> {
        if let (Some(batch), true) = (batch, fresh) {
            let isolated = batch[0].isolated;
            if self.page != Some(isolated) {
                self.client.goto(&server.url(isolated)).await.map_err(|e| Outcome::Crash(format!("cannot load the harness page: {e}")))?;
                self.page = Some(isolated);
            }
        }
        let total = limit + PAGE_GRACE + PROGRESS_AFTER;
        self.client
            .update_timeouts(TimeoutConfiguration::new(Some(total), None, None))
            .await
            .map_err(|e| Outcome::Crash(format!("cannot set the script timeout: {e}")))?;
        let requests = match batch {
            Some(b) => Value::String(Value::Array(b.iter().map(|r| json!({ "id": r.id, "plan": r.plan, "module": r.module, "limit_ms": case_limit(r, per_case).as_millis() as u64 })).collect()).to_string()),
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
                    Some(why) => Err(Outcome::OverBudget(why)),
                    None => Err(failure_outcome(&e, total)),
                }
            }
        }
    }
}

/// A request line of the protocol, as the page takes it.
pub(super) fn parse(line: &str) -> Option<Request> {
    let v: Value = serde_json::from_str(line).ok()?;
    let id = v.get("id")?.as_u64()?;
    let plan = v.get("plan")?.clone();
    let isolated = plan.pointer("/host/cross_origin_isolated").and_then(|b| b.as_bool()).unwrap_or(true);
    let timeout = v.get("timeout").and_then(|t| t.as_f64()).filter(|t| t.is_finite() && *t > 0.0).map(Duration::from_secs_f64);
    let module = v.get("module").cloned();
    Some(Request { id, plan, module, isolated, timeout })
}
