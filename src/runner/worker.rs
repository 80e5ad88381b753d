//! One engine process's loop: its window of requests in flight, the
//! memory-heavy permit, restarts, and which cell a death is blamed on.

use crate::outcome::Outcomes as _;
use super::conn::*;
use super::weight::heavy;
use super::*;
use crate::case::{Action, Case};
use crate::transport::protocol::{request_line_from, Event};
use crate::engine::Column;
use crate::outcome::{normalize, Outcome};
use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::Ordering::SeqCst;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

pub(super) struct InFlight {
    case: usize,
    /// The first step this process runs (after a resume, see [`Worker::resume`]).
    from: usize,
    outcomes: Vec<Option<Outcome>>,
    /// Each step's own time, as the engine said it.
    step_us: Vec<Option<u64>>,
    sent: Instant,
    /// Its place under the run's resident ceiling, if it needs one.
    admitted: Option<super::resident::Admission>,
}

impl InFlight {
    fn new(case: usize, steps: usize) -> InFlight {
        InFlight { case, from: 0, outcomes: vec![None; steps], step_us: vec![None; steps], sent: Instant::now(), admitted: None }
    }
}

/// What a cell of a big module may take beyond its process, per byte of
/// the module: wasmtime's process grew by 0.45 GB compiling a 31 MiB module.
const CLAIM_PER_MODULE_BYTE: u64 = 16;

pub(super) struct Worker {
    pub(super) spec: &'static Column,
    pub(super) cases: Arc<Vec<Case>>,
    pub(super) lines: Arc<BTreeMap<usize, Arc<str>>>,
    /// The large modules of the cases, written once for the run.
    pub(super) refs: Arc<BTreeMap<usize, crate::transport::modules::ModuleRef>>,
    /// Where they are (the harness server serves them to the browsers).
    pub(super) store: Arc<crate::transport::modules::ModuleStore>,
    /// A core each: cases of a big module (a JIT compile of tens of
    /// seconds) run no more of them at once across the run than there are
    /// cores, rather than all at once and each past its limit.
    pub(super) cores: Arc<tokio::sync::Semaphore>,
    pub(super) queue: Arc<Mutex<VecDeque<usize>>>,
    pub(super) opts: RunOptions,
    pub(super) tx: mpsc::UnboundedSender<RunEvent>,
    /// Whether this engine was already announced as started or unavailable.
    pub(super) announced: Arc<Mutex<Availability>>,
    pub(super) server: Arc<SharedServer>,
    /// The memory budget in MiB permits, shared by memory-heavy cases.
    pub(super) big: Arc<tokio::sync::Semaphore>,
    /// What each case takes of it ([`heavy_weights`]), worked out once.
    pub(super) weight: Arc<Vec<u32>>,
    /// The run's resident ceiling, if it has one.
    pub(super) ceiling: Option<Arc<super::resident::Ceiling>>,
    /// How many of the engine's connections are still going: one that
    /// cannot start leaves its cells to the others while there are others
    /// (see [`Worker::start`]). Changed only under `queue`'s lock.
    pub(super) live: Arc<std::sync::atomic::AtomicUsize>,
}


/// What one process's loop carries from one turn to the next.
struct LoopState {
    /// Cases to send again (after a death), before the queue's.
    retry: VecDeque<InFlight>,
    /// Cases sent and not done, oldest first.
    inflight: VecDeque<InFlight>,
    failed_starts: usize,
    driver_deaths: usize,
    /// When the front case could start (it was sent, and the one before it
    /// was done).
    front_since: Instant,
    /// The run's one place for a memory-heavy case, while this process has one.
    big: Option<tokio::sync::OwnedSemaphorePermit>,
    /// A core, while this process works on a big module (its sha256): kept
    /// from one of the module's cases to the next, so that a process that
    /// holds a big module's compiled code finishes with it before another
    /// process starts on one (twenty columns each holding the code of a
    /// 30 MiB module while they waited for a core held 5-10 GB).
    core: Option<(tokio::sync::OwnedSemaphorePermit, String)>,
}

enum Start {
    Started(Conn),
    /// The start failed; try again.
    Retry,
    /// The engine's remaining cells are recorded: this loop is done.
    Done,
}

enum Next {
    Going,
    /// The connection is gone: start a new one for what is left.
    Restart,
    Done,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Availability {
    Unknown,
    Started,
    Unavailable,
}

/// A module this large takes seconds to tens of seconds to compile.
pub(super) const BIG_MODULE: usize = 1 << 20;

/// Consecutive failed starts after which an engine's remaining cells are
/// recorded as crashes instead of retried.
pub(super) const MAX_FAILED_STARTS: usize = 3;

impl Worker {
    /// A case of a module big enough that compiling it takes a core for a
    /// long time ([`BIG_MODULE`] bytes or more).
    fn big_module(&self, case: usize) -> bool {
        self.big_sha(case).is_some()
    }

    /// The sha256 of a case's module where it is big.
    fn big_sha(&self, case: usize) -> Option<&str> {
        self.refs.get(&case).filter(|m| m.len >= BIG_MODULE).map(|m| m.sha256.as_str())
    }

    /// What a cell may take under the resident ceiling: a memory-heavy
    /// one its weight, one of a big module its compile; none for the rest.
    fn claim(&self, case: usize) -> Option<u64> {
        match self.weight[case] {
            w if w > 0 => Some(u64::from(w) << 20),
            _ if self.big_module(case) => Some(self.refs[&case].len as u64 * CLAIM_PER_MODULE_BYTE),
            _ => None,
        }
    }

    /// Whether the next case this process would take is of the big module
    /// its core is for.
    fn next_is_of(&self, st: &LoopState, sha: &str) -> bool {
        let next = st.retry.front().map(|f| f.case).or_else(|| self.queue.lock().unwrap().front().copied());
        next.is_some_and(|c| self.big_sha(c) == Some(sha))
    }

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
            step_us: f.step_us,
            cpu_us,
            cross_origin_isolated: isolated,
        }));
    }

    /// The process's loop: start a connection, keep its window full, take
    /// what it says, until the queue is empty.
    pub(super) async fn run(self) {
        let mut st = LoopState { retry: VecDeque::new(), inflight: VecDeque::new(), failed_starts: 0, driver_deaths: 0, front_since: Instant::now(), big: None, core: None };
        let mut proc: Option<Conn> = None;
        loop {
            if proc.is_none() {
                match self.start(&mut st).await {
                    Start::Started(p) => proc = Some(p),
                    Start::Retry => continue,
                    Start::Done => return,
                }
            }
            // The permit for memory-heavy cases goes back as soon as none is
            // in flight here (not when the window empties: a process keeps
            // its window full, and another process waiting for the permit
            // would wait for the whole run).
            if st.big.is_some() && !st.inflight.iter().any(|f| self.weight[f.case] > 0) {
                st.big = None;
            }
            let p = proc.as_mut().expect("started above");
            if let Some((_, sha)) = &st.core {
                if !st.inflight.iter().any(|f| self.big_module(f.case)) && !self.next_is_of(&st, sha) {
                    st.core = None;
                    p.forget_modules();
                }
            }
            self.fill(p, &mut st).await;
            if st.inflight.is_empty() {
                // Done, unless a connection that could not start handed its
                // cases back meanwhile (see `start`).
                let queue = self.queue.lock().unwrap();
                if queue.is_empty() && st.retry.is_empty() {
                    self.live.fetch_sub(1, SeqCst);
                    break;
                }
                continue;
            }
            match self.next(p, &mut st).await {
                Next::Going => {}
                Next::Restart => proc = None,
                Next::Done => return,
            }
        }
        if let Some(p) = proc {
            p.close().await;
        }
    }

    /// A new connection, or why not: the engine's remaining cells are then
    /// recorded (unavailable, or crashes after [`MAX_FAILED_STARTS`]).
    async fn start(&self, st: &mut LoopState) -> Start {
        let reason = match Conn::start(self.spec, &self.opts, &self.server, &self.store).await {
            Ok(p) => {
                st.failed_starts = 0;
                let mut state = self.announced.lock().unwrap();
                if *state != Availability::Started {
                    *state = Availability::Started;
                    let _ = self.tx.send(RunEvent::Started { engine: self.spec.id, version: p.version() });
                }
                return Start::Started(p);
            }
            // The whole chain: what failed and why, in one line.
            Err(reason) => format!("{reason:#}"),
        };
        st.failed_starts += 1;
        // One of several connections that cannot start while others may (a
        // Grid with fewer free slots than `--jobs` answered with its queue's
        // timeout; a node that went away as the session opened): it leaves
        // the cells to the others rather than fail them, or call the column
        // unavailable. The last connection standing never leaves this way.
        // The cases it was to run again (those its last connection lost
        // with it) go back to the queue, whole. `live` changes only under
        // the queue's lock, so a connection that is finishing sees them.
        {
            let mut queue = self.queue.lock().unwrap();
            if self.live.load(SeqCst) > 1 {
                for f in st.retry.drain(..).rev() {
                    queue.push_front(f.case);
                }
                self.live.fetch_sub(1, SeqCst);
                drop(queue);
                if *self.announced.lock().unwrap() == Availability::Started {
                    eprintln!("wasm-matrix: {}: one connection of several did not start, the others go on: {reason}", self.spec.id);
                }
                return Start::Done;
            }
        }
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
            while let Some(f) = self.next_case(&mut st.retry) {
                let _ = self.tx.send(RunEvent::NotRun { case: f.case, engine: self.spec.id, verdict: crate::diff::Verdict::Unavailable, reason: reason.clone() });
            }
            return Start::Done;
        }
        if st.failed_starts >= MAX_FAILED_STARTS {
            // Give the remaining cells an outcome rather than loop.
            while let Some(f) = self.next_case(&mut st.retry) {
                self.finish(f, Some(Outcome::Crash(format!("engine process could not restart: {reason}"))), None, Instant::now());
            }
            return Start::Done;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        Start::Retry
    }

    /// Sends cases until the window is full: a heavy case alone, a
    /// memory-heavy one only with its share of the budget, and near the end
    /// of the queue no more than this process's share of what is left.
    async fn fill(&self, p: &mut Conn, st: &mut LoopState) {
        while st.inflight.len() < self.opts.window.min(self.spec.window()).max(1) {
            if st.inflight.iter().any(|f| heavy(&self.cases[f.case], self.opts.timeout)) {
                break;
            }
            // Near the end of the queue a process takes no more than its
            // share of what is left, so that the engine's processes end
            // together instead of one working through a full window while
            // the others idle.
            if st.inflight.len() >= 8 && st.retry.is_empty() && st.inflight.len() > self.queue.lock().unwrap().len() / self.opts.jobs.max(1) {
                break;
            }
            let Some(mut f) = self.next_case(&mut st.retry) else { break };
            if !st.inflight.is_empty() && heavy(&self.cases[f.case], self.opts.timeout) {
                st.retry.push_front(f);
                break;
            }
            // A core for a big module's case, taken with nothing in flight
            // (before any memory permit: whoever holds one holds the other).
            if let Some(sha) = self.big_sha(f.case).filter(|sha| st.core.as_ref().is_none_or(|(_, held)| held != sha)) {
                if !st.inflight.is_empty() {
                    st.retry.push_front(f);
                    break;
                }
                let sha = sha.to_string();
                // The core of the module before goes first: waiting for a
                // second while holding one could leave every core held.
                st.core = None;
                st.core = Some((self.cores.clone().acquire_owned().await.expect("the semaphore is never closed"), sha));
            }
            if let (Some(ceiling), Some(claim), None) = (&self.ceiling, self.claim(f.case), &f.admitted) {
                match ceiling.try_admit(claim) {
                    Some(a) => f.admitted = Some(a),
                    None if !st.inflight.is_empty() => {
                        st.retry.push_front(f);
                        break;
                    }
                    None => f.admitted = Some(ceiling.admit(claim).await),
                }
            }
            if self.weight[f.case] > 0 {
                match self.permit(f, st).await {
                    Some(taken) => f = taken,
                    None => break,
                }
            }
            if st.inflight.is_empty() {
                st.front_since = Instant::now();
            }
            let line = match f.from {
                0 => self.lines[&f.case].clone(),
                from => {
                    let case = &self.cases[f.case];
                    request_line_from(f.case as u64, &case.plan, from, case.timeout, raised(case, self.weight[f.case]), self.refs.get(&f.case)).into()
                }
            };
            p.case_budget(self.cases[f.case].memory_budget);
            p.send(line);
            st.inflight.push_back(f);
        }
    }

    /// Memory-heavy cases share the budget by their weights (one at a time
    /// where a case does not say what it can reach). A process with one in
    /// flight takes no second (the permits go back between them, so no
    /// process keeps them for good), and one that cannot have the permits
    /// now goes on with its window and asks again when a case is done. The
    /// case to send (`f`, or a light one while `f` waits), or none for now.
    async fn permit(&self, f: InFlight, st: &mut LoopState) -> Option<InFlight> {
        if st.big.is_some() && st.inflight.iter().any(|f| self.weight[f.case] > 0) {
            st.retry.push_front(f);
            return None;
        }
        if st.big.is_some() {
            return Some(f);
        }
        match self.big.clone().try_acquire_many_owned(self.weight[f.case]) {
            Ok(permit) => {
                st.big = Some(permit);
                Some(f)
            }
            Err(_) if !st.inflight.is_empty() => {
                st.retry.push_front(f);
                None
            }
            // Nothing in flight: a case that needs no permit runs meanwhile,
            // if the queue has one.
            Err(_) => match self.take_light() {
                Some(light) => {
                    st.retry.push_front(f);
                    Some(light)
                }
                None => {
                    st.big = Some(self.big.clone().acquire_many_owned(self.weight[f.case]).await.expect("the semaphore is never closed"));
                    Some(f)
                }
            },
        }
    }

    /// Waits for the connection's next event or the front case's limit, and
    /// handles it: an event, garbage, a death, a timeout.
    async fn next(&self, p: &mut Conn, st: &mut LoopState) -> Next {
        let front = &self.cases[st.inflight[0].case];
        let limit = front.timeout.map_or(self.opts.timeout, |t| self.opts.timeout.max(Duration::from_secs_f64(t)));
        // A process reports each step as it ends, so a case it died in can
        // go on in the next one; a browser reports a case at its end.
        let resumable = !p.keeps_time();
        let deadline = if p.keeps_time() {
            tokio::time::Instant::now() + Duration::from_secs(86_400)
        } else {
            tokio::time::Instant::from_std(st.front_since + limit)
        };
        tokio::select! {
            ev = p.next_event() => match ev {
                Some(Ok(ev)) => {
                    if self.on_event(ev, &mut st.inflight, &mut st.retry, st.front_since) {
                        p.clear_stderr();
                        st.front_since = Instant::now();
                    }
                    Next::Going
                }
                Some(Err(bad)) => {
                    // A process that speaks garbage is treated as crashed.
                    p.kill().await;
                    st.front_since = self.recover(p, &mut st.inflight, &mut st.retry, st.front_since).await;
                    self.fail_front(&mut st.inflight, &mut st.retry, Outcome::Crash(bad), st.front_since, resumable);
                    Next::Restart
                }
                None => self.on_death(p, st, resumable).await,
            },
            _ = tokio::time::sleep_until(deadline) => {
                p.kill().await;
                st.front_since = self.recover(p, &mut st.inflight, &mut st.retry, st.front_since).await;
                let secs = limit.as_secs_f64();
                self.fail_front(&mut st.inflight, &mut st.retry, Outcome::Timeout(format!("no answer in {secs} s; the worker was killed")), st.front_since, resumable);
                Next::Restart
            }
        }
    }

    /// The connection ended: the front case is blamed, unless a browser's
    /// driver died (then every cell in flight is lost with the session; the
    /// engine gets one restart, a second death ends its run with the reason).
    async fn on_death(&self, p: &mut Conn, st: &mut LoopState, resumable: bool) -> Next {
        let crate::transport::Death { outcome: why, driver_died } = p.death().await;
        st.front_since = self.recover(p, &mut st.inflight, &mut st.retry, st.front_since).await;
        if !driver_died {
            self.fail_front(&mut st.inflight, &mut st.retry, why, st.front_since, resumable);
            return Next::Restart;
        }
        st.driver_deaths += 1;
        for f in st.inflight.drain(..) {
            self.finish(f, Some(why.clone()), None, st.front_since);
        }
        if st.driver_deaths < 2 {
            return Next::Restart;
        }
        let reason = format!("not run: the browser's driver died twice ({})", why.message().unwrap_or_default());
        while let Some(f) = self.next_case(&mut st.retry) {
            self.finish(f, Some(Outcome::Crash(reason.clone())), None, Instant::now());
        }
        Next::Done
    }

    /// One event of the engine; true when it ended a case (the next one's
    /// time starts).
    fn on_event(&self, ev: Event, inflight: &mut VecDeque<InFlight>, retry: &mut VecDeque<InFlight>, front_since: Instant) -> bool {
        match ev {
            Event::Step { id, index, outcome, us } => {
                if let Some(f) = inflight.iter_mut().find(|f| f.case as u64 == id) {
                    // A step the pipe gave already (recovered events repeat some).
                    if let Some(slot) = f.outcomes.get_mut(index).filter(|s| s.is_none()) {
                        *slot = Some(normalize(outcome));
                        if let Some(t) = f.step_us.get_mut(index) {
                            *t = us;
                        }
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
    /// written (its mirror, see [`crate::transport::mirror`]), so that the step
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
        Some(InFlight { case: f.case, from: next, outcomes, step_us: f.step_us.clone(), sent: f.sent, admitted: None })
    }
}

