//! Real browsers over WebDriver (fantoccini): headless Chromium through
//! chromedriver, Firefox through geckodriver, and WebKitGTK's MiniBrowser
//! through WebKitWebDriver under Xvfb. The tool starts the driver itself on
//! a free loopback port (or uses `--webdriver NAME=URL`: a driver or a
//! Selenium Grid elsewhere), serves the harness from its own loopback HTTP
//! server, and sends cases in batches through `execute_async`, two at a
//! time: each call hands the page its next batch and takes back the events
//! of the one before, so the page runs while the answer and the next call
//! travel (the harness's `pipe`).
//!
//! A [`BrowserConn`] looks to the runner like a worker process: requests in,
//! protocol events out. When a batch fails (a crashed tab, a script timeout,
//! a driver that went away) the batch is run again one case at a time in a
//! fresh session, so that only the case that caused it is blamed. Every
//! session opened is closed (its DELETE sent, with a bounded wait) however
//! the connection ends: the runner done, a blamed case, the runner killing
//! the connection.

mod driver;
mod open;
mod session;

pub use open::OpenSessions;
pub use session::PlainSession;

use crate::engine::browser::{Browser, Setup};
use crate::outcome::Outcome;
use crate::transport::protocol::Event;
use crate::transport::Death;
use crate::transport::server::HarnessServer;
use session::{case_limit, open_session, overdue, parse, take_events, Request, Session, CLOSE_LIMIT};
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};

/// Most cases in one `execute_async` call. The runner's window (512) holds
/// two such batches, one running and one queued in the page.
const MAX_BATCH: usize = 256;

/// A browser as the runner sees it: like a worker process.
pub struct BrowserConn {
    requests: Option<mpsc::UnboundedSender<Arc<str>>>,
    events: mpsc::UnboundedReceiver<Result<Event, Death>>,
    task: Option<tokio::task::JoinHandle<()>>,
    /// Tells the task to close its session and end.
    stop: Option<oneshot::Sender<()>>,
    death: Option<Death>,
    pub version: String,
}

impl BrowserConn {
    /// Opens a session whose pages come from `server` (shared by the run's sessions).
    /// Its sessions are entered in `sessions`, the run's list.
    pub async fn start(browser: Browser, setup: Setup, server: Arc<HarnessServer>, per_case: Duration, budget: Option<u64>, sessions: Arc<OpenSessions>) -> anyhow::Result<BrowserConn> {
        let (session, version) = open_session(browser, &setup, budget, &sessions).await?;
        let (req_tx, req_rx) = mpsc::unbounded_channel::<Arc<str>>();
        let (ev_tx, ev_rx) = mpsc::unbounded_channel();
        let (stop_tx, stop_rx) = oneshot::channel();
        let served = Served { browser, setup, server, per_case, budget, sessions, events: ev_tx };
        let task = tokio::spawn(served.serve(session, req_rx, stop_rx));
        Ok(BrowserConn { requests: Some(req_tx), events: ev_rx, task: Some(task), stop: Some(stop_tx), death: None, version })
    }

    pub fn send(&self, line: Arc<str>) {
        if let Some(tx) = &self.requests {
            let _ = tx.send(line);
        }
    }

    pub async fn next_event(&mut self) -> Option<Result<Event, String>> {
        match self.events.recv().await {
            Some(Ok(ev)) => Some(Ok(ev)),
            Some(Err(death)) => {
                self.death = Some(death);
                None
            }
            None => None,
        }
    }

    /// How the session ended (after `next_event` returned `None`).
    pub fn death(&mut self) -> Death {
        self.death.take().unwrap_or_else(|| Death { outcome: Outcome::Crash("the browser session ended".into()), driver_died: false })
    }

    /// Ends the connection: the session is closed (bounded) and its driver
    /// stopped, whatever the page is doing.
    pub async fn close(&mut self) {
        self.requests = None;
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let abort = task.abort_handle();
            if tokio::time::timeout(CLOSE_LIMIT + Duration::from_secs(1), task).await.is_err() {
                abort.abort();
            }
        }
    }
}

impl Drop for BrowserConn {
    fn drop(&mut self) {
        // Not closed (a panic, a dropped run): the driver's process group
        // dies with the task's session; a remote session stays in the list
        // of open sessions for the run's last `close_all`.
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

/// What the task that drives one connection holds.
struct Served {
    browser: Browser,
    setup: Setup,
    server: Arc<HarnessServer>,
    per_case: Duration,
    budget: Option<u64>,
    sessions: Arc<OpenSessions>,
    events: mpsc::UnboundedSender<Result<Event, Death>>,
}

/// Batches the page has and has not answered in full, oldest first, each
/// with its page kind and the cases not done yet.
type Unanswered = VecDeque<(bool, VecDeque<Request>)>;

impl Served {
    /// Drives the session until the runner is done, a case is blamed or the
    /// connection is closed; then closes the session, on every path.
    async fn serve(self, mut session: Session, requests: mpsc::UnboundedReceiver<Arc<str>>, stop: oneshot::Receiver<()>) {
        tokio::select! {
            _ = self.drive(&mut session, requests) => {}
            _ = stop => {}
        }
        session.close().await;
    }

    async fn drive(&self, session: &mut Session, mut requests: mpsc::UnboundedReceiver<Arc<str>>) {
        let mut pending: Option<Request> = None;
        // The next batch goes to the page while the last one runs.
        let mut unanswered: Unanswered = VecDeque::new();
        // When the case running now started: the last case done, or the
        // batch sent to an idle page.
        let mut since = Instant::now();
        loop {
            let Some(batch) = gather(&mut requests, &mut pending, &unanswered).await else { return };
            // With a new batch, one older batch may stay unanswered; without,
            // the call collects the oldest one's progress.
            let fresh = unanswered.is_empty();
            if fresh {
                since = Instant::now();
            }
            let keep = u32::from(!batch.is_empty());
            // The page may have run past the cases it answered for: the call
            // waits as long as the longest limit of those not done.
            let limit = unanswered.iter().flat_map(|b| b.1.iter()).chain(batch.iter()).map(|r| case_limit(r, self.per_case)).max().unwrap_or(self.per_case);
            let result = session.pipe(&self.server, (!batch.is_empty()).then_some(&batch[..]), fresh, keep, limit, self.per_case).await;
            if let Some(first) = batch.first() {
                unanswered.push_back((first.isolated, batch.into()));
            }
            let failure = match result {
                Ok(None) => None,
                Ok(Some(answer)) => {
                    let mut none = VecDeque::new();
                    let oldest = unanswered.front_mut().map_or(&mut none, |b| &mut b.1);
                    take_events(answer.events, oldest, &mut since, |ev| {
                        let _ = self.events.send(Ok(ev));
                    });
                    if answer.done {
                        unanswered.pop_front();
                        None
                    } else {
                        overdue(unanswered.iter().flat_map(|b| b.1.iter()), since, self.per_case).map(|o| (o, true))
                    }
                }
                Err(o) => Some((o, false)),
            };
            if let Some((first_failure, known)) = failure {
                let lost: Vec<Request> = unanswered.drain(..).flat_map(|b| b.1).collect();
                if let Some(death) = self.blame(session, lost, first_failure, known).await {
                    let _ = self.events.send(Err(death));
                    return; // the runner starts a new connection for the rest
                }
            }
        }
    }

    /// After a failed call: every case not done yet (`lost`) is lost with
    /// the page. Unless the culprit is `known`, which of them broke the page
    /// is not: the page may have run past the last case it answered for, so
    /// they run again one at a time in a fresh session. Returns the death
    /// that ends this connection, if one does.
    async fn blame(&self, session: &mut Session, lost: Vec<Request>, first_failure: Outcome, known: bool) -> Option<Death> {
        // The driver (or its display) died: no case broke the batch. (A
        // driver told to stop may answer its last command before it has
        // exited: it gets a moment.)
        for _ in 0..10 {
            if let Some(how) = session.driver.exited() {
                return Some(Death { outcome: Outcome::Crash(format!("driver died: {how} during a batch")), driver_died: true });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        if lost.len() <= 1 || known {
            return Some(Death { outcome: first_failure, driver_died: false });
        }
        match open_session(self.browser, &self.setup, self.budget, &self.sessions).await {
            // The broken session is closed before its successor takes over.
            Ok((s, _)) => {
                std::mem::replace(session, s).close().await;
            }
            Err(e) => return Some(Death { outcome: Outcome::Crash(format!("{e:#}")), driver_died: false }),
        }
        for req in &lost {
            match session.run(&self.server, std::slice::from_ref(req), self.per_case).await {
                Ok(evs) => {
                    for ev in evs {
                        let _ = self.events.send(Ok(ev));
                    }
                }
                Err(o) => return Some(Death { outcome: o, driver_died: false }),
            }
        }
        None
    }
}

/// The next batch: everything queued, up to [`MAX_BATCH`], of one page kind
/// (a new page is loaded only with nothing unanswered: a request for the
/// other page kind first collects what the page has); empty when the page
/// already holds two batches or the call only collects. `None` when the
/// runner is done and nothing is unanswered.
async fn gather(requests: &mut mpsc::UnboundedReceiver<Arc<str>>, pending: &mut Option<Request>, unanswered: &Unanswered) -> Option<Vec<Request>> {
    let page_kind = unanswered.front().map(|b| b.0);
    let mut batch = Vec::new();
    if unanswered.len() >= 2 || pending.as_ref().is_some_and(|p| page_kind.is_some_and(|k| k != p.isolated)) {
        return Some(batch);
    }
    batch.extend(pending.take());
    if batch.is_empty() && unanswered.is_empty() {
        batch.push(next_request(requests).await?);
    }
    // The runner refills its window one request per finished case, so give
    // the refills of the last batch a moment to arrive.
    let kind = batch.first().map(|r| r.isolated).or(page_kind);
    let mut gathered = 0;
    loop {
        let before = batch.len();
        while batch.len() < MAX_BATCH && pending.is_none() {
            let Ok(line) = requests.try_recv() else { break };
            if let Some(r) = parse(&line) {
                if kind.is_some_and(|k| k != r.isolated) {
                    *pending = Some(r);
                } else {
                    batch.push(r);
                }
            }
        }
        gathered += 1;
        if batch.len() >= MAX_BATCH || pending.is_some() || gathered > 3 || (gathered > 1 && batch.len() == before) {
            return Some(batch);
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// The next readable request, waiting for it; None when the runner is done.
async fn next_request(requests: &mut mpsc::UnboundedReceiver<Arc<str>>) -> Option<Request> {
    loop {
        if let Some(r) = parse(&requests.recv().await?) {
            return Some(r);
        }
    }
}
