//! Worker processes. [`serve`] is the child side: `wasm-matrix __worker ENGINE`
//! runs one embedded engine over the line protocol. [`Proc`] is the parent
//! side: it starts a child, sends requests, reads events, and when the child
//! dies says how (exit code or signal, and the last lines of its stderr).

use anyhow::{bail, Context};
use super::protocol::{Event, Request};
use std::collections::VecDeque;
use std::io::{BufRead, Write};
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};
use tokio::sync::mpsc;

/// The child side: serve requests for `engine_id` until stdin closes.
/// Returns the process exit code.
pub fn serve(engine_id: &str) -> i32 {
    let Some(column) = super::spec(engine_id) else {
        eprintln!("wasm-matrix worker: unknown engine `{engine_id}`");
        return 2;
    };
    let super::Launch::Worker(make) = column.launch else {
        eprintln!("wasm-matrix worker: `{engine_id}` is not an embedded engine");
        return 2;
    };
    die_with_runner();
    let out = Output::start(protocol_stdout());
    let mut engine = make();
    if !out.send(&Event::Ready { engine: engine_id.into(), version: column.version.into() }) || !out.flush() {
        return 0;
    }
    let mut input = std::io::BufReader::with_capacity(1 << 16, std::io::stdin());
    let mut line = String::new();
    loop {
        // Answers go out when no further request waits: one write per batch.
        if input.buffer().is_empty() && !stdin_ready() && !out.flush() {
            break;
        }
        line.clear();
        match input.read_line(&mut line) {
            Ok(0) | Err(_) => break, // stdin closed
            Ok(_) => {}
        }
        if line.trim().is_empty() {
            continue;
        }
        let req: Request = match serde_json::from_str(&line) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("wasm-matrix worker: bad request line: {e}");
                return 2;
            }
        };
        // A memory-heavy case the runner asks to raise is the one cell a run
        // waits for at its end: it runs at a raised CPU priority where the
        // system allows it (root, or RLIMIT_NICE), so that the quick cases
        // of a dozen other processes do not starve it; nice goes back to 0
        // after it.
        let raised = req.raise && set_nice(-10);
        let start = Instant::now();
        let cpu_start = cpu_us();
        let mut alive = true;
        let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            // Each step's event is in the mirror before the next step
            // runs (see `Output`); all go out with the batch.
            engine.run(&req.plan, req.from, &mut |index, outcome| {
                alive &= out.send(&Event::Step { id: req.id, index, outcome });
            })
        }));
        let us = start.elapsed().as_micros() as u64;
        if raised {
            set_nice(0);
        }
        let last = match ran {
            Ok(()) => Event::Done { id: req.id, us, cpu_us: Some(cpu_us().saturating_sub(cpu_start)), cross_origin_isolated: None },
            // The step in flight is the engine's crash; the worker goes on
            // with an engine made anew (what the panic left is dropped).
            Err(_) => {
                engine = make();
                let message = LAST_PANIC.lock().unwrap_or_else(|p| p.into_inner()).take();
                Event::Panicked { id: req.id, message: message.unwrap_or_else(|| "the engine panicked".into()) }
            }
        };
        if !alive || !out.send(&last) {
            break; // the runner went away
        }
    }
    out.flush();
    0
}

/// A worker's stdout. Events are buffered and written with the batch, when
/// the worker has no request waiting; a flusher thread writes what a long
/// or hanging step leaves buffered within [`FLUSH_AFTER`]. What is buffered
/// is also in the worker's [`Mirror`], a shared file the runner reads when
/// the worker dies or is killed, so the runner always learns how far a case
/// got, and a step killed mid-way (the memory budget, a signal) is blamed on
/// itself. (Before, each step was flushed before the next one started: a
/// write and a wakeup of the runner per step, 7-10% of a fuzz run on
/// wasmtime.)
#[derive(Clone)]
struct Output(Arc<(Mutex<Buffered>, std::sync::atomic::AtomicBool)>);

struct Buffered {
    w: std::io::BufWriter<std::fs::File>,
    mirror: Option<Mirror>,
}

impl Buffered {
    fn flush(&mut self) -> bool {
        let ok = self.w.flush().is_ok();
        if let Some(m) = &mut self.mirror {
            m.clear();
        }
        ok
    }
}

/// Where a worker's mirror is: a file named by its process id, in memory
/// where the system has /dev/shm.
pub fn mirror_path(pid: u32) -> std::path::PathBuf {
    let shm = Path::new("/dev/shm");
    let dir = if shm.is_dir() { shm.to_path_buf() } else { std::env::temp_dir() };
    dir.join(format!("wasm-matrix-unwritten-{pid}"))
}

/// The events a worker has buffered and not yet written: a length (u64)
/// and that many bytes of event lines, in a file both processes map. A line
/// that does not fit is written at once instead.
struct Mirror {
    map: *mut u8,
}

// SAFETY: the map is only touched under the Output's mutex.
unsafe impl Send for Mirror {}

impl Mirror {
    const SIZE: usize = 1 << 20;

    /// Made only under a runner (which unlinks it when the worker is ready).
    fn create() -> Option<Mirror> {
        use std::os::unix::fs::OpenOptionsExt;
        let path = mirror_path(std::process::id());
        let file = std::fs::OpenOptions::new().read(true).write(true).create(true).truncate(true).mode(0o600).open(&path).ok()?;
        file.set_len(Self::SIZE as u64).ok()?;
        use std::os::fd::AsRawFd;
        // SAFETY: a fresh shared mapping of a file we own, of its length.
        let map = unsafe { libc::mmap(std::ptr::null_mut(), Self::SIZE, libc::PROT_READ | libc::PROT_WRITE, libc::MAP_SHARED, file.as_raw_fd(), 0) };
        if map == libc::MAP_FAILED {
            let _ = std::fs::remove_file(&path);
            return None;
        }
        Some(Mirror { map: map.cast() })
    }

    fn len(&self) -> usize {
        // SAFETY: the first 8 bytes of the mapping are the length.
        unsafe { std::ptr::read_volatile(self.map.cast::<u64>()) as usize }
    }

    fn set_len(&mut self, len: usize) {
        // SAFETY: as in `len`.
        unsafe { std::ptr::write_volatile(self.map.cast::<u64>(), len as u64) }
    }

    /// Appends a line; false if it does not fit.
    fn append(&mut self, line: &[u8]) -> bool {
        let len = self.len();
        if 8 + len + line.len() > Self::SIZE {
            return false;
        }
        // SAFETY: in bounds of the mapping, checked above; the length is
        // stored after the bytes, so a reader never sees a torn line.
        unsafe { std::ptr::copy_nonoverlapping(line.as_ptr(), self.map.add(8 + len), line.len()) };
        self.set_len(len + line.len());
        true
    }

    fn clear(&mut self) {
        self.set_len(0);
    }
}

impl Drop for Mirror {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `create`.
        unsafe { libc::munmap(self.map.cast(), Self::SIZE) };
    }
}

/// The runner's side: the events in a worker's mirror.
fn read_mirror(file: &std::fs::File) -> Vec<Event> {
    use std::os::unix::fs::FileExt;
    let mut len = [0u8; 8];
    if file.read_exact_at(&mut len, 0).is_err() {
        return Vec::new();
    }
    let len = (u64::from_ne_bytes(len) as usize).min(Mirror::SIZE - 8);
    let mut text = vec![0u8; len];
    if file.read_exact_at(&mut text, 8).is_err() {
        return Vec::new();
    }
    text.split(|b| *b == b'\n').filter_map(|l| serde_json::from_slice(l).ok()).collect()
}

/// Sets this process's nice value; false where it may not.
fn set_nice(nice: i32) -> bool {
    // SAFETY: a plain syscall on this process.
    unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, nice) == 0 }
}

/// The CPU time of this process so far, in microseconds.
fn cpu_us() -> u64 {
    let mut t = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: one valid timespec to write.
    unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut t) };
    t.tv_sec as u64 * 1_000_000 + t.tv_nsec as u64 / 1000
}

/// A source path as from its crate (`wasmer-compiler-7.4.2/src/...`), not
/// from this machine's cargo registry, so that a message reads the same on
/// every machine.
fn crate_path(file: &str) -> &str {
    const REGISTRY: &str = "registry/src/";
    file.find(REGISTRY)
        .map(|i| &file[i + REGISTRY.len()..])
        .and_then(|rest| rest.find('/').map(|j| &rest[j + 1..]))
        .unwrap_or(file)
}

/// The message of the last panic, as the panic hook saw it.
static LAST_PANIC: Mutex<Option<String>> = Mutex::new(None);

/// How a caught panic's `crash` message begins (then the panic's message and
/// where it was raised).
const PANICKED: &str = "the engine panicked: ";

/// How long an event may wait in the buffer while the worker is busy. Not
/// shorter: each wakeup of the flusher on the other core makes every later
/// munmap/mprotect of the engine (wasmer and wasmtime map memory and code
/// per case) send it a TLB shootdown; at 2 ms that cost wasmer 55 us a cell.
const FLUSH_AFTER: Duration = Duration::from_millis(100);

/// Whether stdin has data to read now.
fn stdin_ready() -> bool {
    let mut fd = libc::pollfd { fd: 0, events: libc::POLLIN, revents: 0 };
    // SAFETY: one valid pollfd, no timeout.
    unsafe { libc::poll(&mut fd, 1, 0) > 0 }
}

/// The protocol's own copy of stdout. File descriptor 1 is then pointed at
/// stderr: what an engine prints by itself (WAMR's and wasm3's C `printf`)
/// lands in the worker's stderr, which the runner keeps, and never inside a
/// protocol line.
pub fn protocol_stdout() -> std::fs::File {
    use std::os::fd::FromRawFd;
    // SAFETY: dup of an open descriptor; the new one is owned by the File.
    unsafe {
        let fd = libc::dup(1);
        if fd < 0 {
            return std::fs::File::from_raw_fd(1);
        }
        libc::dup2(2, 1);
        std::fs::File::from_raw_fd(fd)
    }
}

impl Output {
    fn start(stdout: std::fs::File) -> Output {
        let buffered = Buffered { w: std::io::BufWriter::with_capacity(1 << 16, stdout), mirror: std::env::var_os("WASM_MATRIX_PARENT").and_then(|_| Mirror::create()) };
        let out = Output(Arc::new((Mutex::new(buffered), Default::default())));
        let flusher = out.clone();
        std::thread::spawn(move || loop {
            std::thread::sleep(FLUSH_AFTER);
            if flusher.0 .1.load(std::sync::atomic::Ordering::Relaxed) && !flusher.flush() {
                break;
            }
        });
        // A panic needs no flush: the worker catches it and goes on, and
        // what is buffered is in the mirror should the process die anyway.
        let default_hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let what = info.payload().downcast_ref::<&str>().map(|s| s.to_string()).or_else(|| info.payload().downcast_ref::<String>().cloned());
            let at = info.location().map(|l| format!(" at {}:{}:{}", crate_path(l.file()), l.line(), l.column())).unwrap_or_default();
            *LAST_PANIC.lock().unwrap_or_else(|p| p.into_inner()) = Some(format!("{PANICKED}{}{at}", what.as_deref().unwrap_or("(no message)")));
            default_hook(info);
        }));
        out
    }

    fn send(&self, ev: &Event) -> bool {
        let mut line = serde_json::to_vec(ev).expect("events serialize");
        line.push(b'\n');
        let mut b = match self.0 .0.lock() {
            Ok(b) => b,
            Err(p) => p.into_inner(),
        };
        let mut ok = b.w.write_all(&line).is_ok();
        // Without a mirror, or past its size, the line goes out now.
        if !b.mirror.as_mut().is_some_and(|m| m.append(&line)) {
            ok &= b.flush();
        }
        self.0 .1.store(true, std::sync::atomic::Ordering::Relaxed);
        ok
    }

    fn flush(&self) -> bool {
        let mut b = match self.0 .0.try_lock() {
            Ok(b) => b,
            Err(std::sync::TryLockError::Poisoned(p)) => p.into_inner(),
            // Someone is writing: it is busy, not hung; the next round flushes.
            Err(std::sync::TryLockError::WouldBlock) => return true,
        };
        self.0 .1.store(false, std::sync::atomic::Ordering::Relaxed);
        b.flush()
    }
}

/// How many stderr lines of a worker are kept to explain its death.
const STDERR_LINES: usize = 20;

/// A running engine process, seen from the runner.
pub struct Proc {
    child: Child,
    stdin: Option<mpsc::UnboundedSender<Arc<str>>>,
    lines: Lines<BufReader<ChildStdout>>,
    stderr: Arc<Mutex<VecDeque<String>>>,
    stderr_task: Option<tokio::task::JoinHandle<()>>,
    pub version: String,
    /// The memory budget's watch: why it killed the process, and its stop.
    budget: Option<crate::budget::Watch>,
    /// A worker's mirror, opened when it said `ready` and unlinked at
    /// once (so nothing is left behind, however either process ends).
    mirror: Option<std::fs::File>,
}

impl Proc {
    /// Starts `program args...` under the memory budget (bytes, if any) and
    /// waits for its `ready` line.
    /// `own`: the program is this binary's `__worker` (it then arranges its
    /// own death with the runner, see [`own_child`]).
    /// `address_space`: an RLIMIT_AS for the whole process.
    pub async fn spawn(program: &Path, args: &[String], ready_within: Duration, budget: Option<u64>, own: bool, address_space: Option<u64>) -> anyhow::Result<Proc> {
        let mut cmd = Command::new(program);
        if own {
            own_child(cmd.as_std_mut());
        } else {
            die_with_parent(&mut cmd);
        }
        if let Some(bytes) = address_space {
            limit_address_space(&mut cmd, bytes);
        }
        let mut child = cmd
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            // A panic's message, not its backtrace, is what explains a crash.
            .env("RUST_BACKTRACE", "0")
            // Its own process group: a Ctrl-C meant for the runner does not
            // kill the engines mid-case (the runner stops them itself).
            .process_group(0)
            .spawn()
            .with_context(|| format!("cannot start {}", program.display()))?;
        let mut raw_stdin = child.stdin.take().expect("piped");
        let lines = BufReader::new(child.stdout.take().expect("piped")).lines();
        let stderr = Arc::new(Mutex::new(VecDeque::new()));
        let tail = stderr.clone();
        let mut err_lines = BufReader::new(child.stderr.take().expect("piped")).lines();
        let stderr_task = tokio::spawn(async move {
            while let Ok(Some(line)) = err_lines.next_line().await {
                let mut t = tail.lock().unwrap();
                if t.len() == STDERR_LINES {
                    t.pop_front();
                }
                t.push_back(line);
            }
        });
        // A writer task, so that a full stdin pipe never blocks reading events.
        let (tx, mut rx) = mpsc::unbounded_channel::<Arc<str>>();
        tokio::spawn(async move {
            while let Some(line) = rx.recv().await {
                if raw_stdin.write_all(line.as_bytes()).await.is_err() {
                    break;
                }
            }
        });
        let budget = crate::budget::Watch::start_for_cases(child.id(), budget);
        let pid = child.id();
        let mut proc = Proc { child, stdin: Some(tx), lines, stderr, stderr_task: Some(stderr_task), version: String::new(), budget, mirror: None };
        match tokio::time::timeout(ready_within, proc.next_event()).await {
            Ok(Some(Ok(Event::Ready { version, .. }))) => {
                proc.version = version;
                if let Some(path) = pid.filter(|_| own).map(mirror_path) {
                    proc.mirror = std::fs::File::open(&path).ok();
                    let _ = std::fs::remove_file(&path);
                }
                Ok(proc)
            }
            Ok(Some(Ok(other))) => bail!("{} said {other:?} before `ready`", program.display()),
            Ok(Some(Err(e))) => Err(anyhow::Error::msg(e).context(format!("{} did not start", program.display()))),
            Ok(None) => Err(anyhow::Error::msg(proc.death().await).context(format!("{} did not start", program.display()))),
            Err(_) => {
                proc.kill().await;
                bail!("{} did not say `ready` within {} s", program.display(), ready_within.as_secs())
            }
        }
    }

    /// Queues one request line (ending in a newline).
    /// Holds the process to a case's own memory budget while it runs that
    /// case (`None`: the run's budget alone).
    pub fn case_budget(&self, limit: Option<u64>) {
        if let Some(w) = &self.budget {
            w.set_case_limit(limit);
        }
    }

    pub fn send(&self, line: Arc<str>) {
        if let Some(tx) = &self.stdin {
            let _ = tx.send(line);
        }
    }

    /// The next event; `None` when the process closed its stdout.
    pub async fn next_event(&mut self) -> Option<Result<Event, String>> {
        loop {
            let line = match self.lines.next_line().await {
                Ok(Some(l)) => l,
                Ok(None) | Err(_) => return None,
            };
            if line.trim().is_empty() {
                continue;
            }
            return Some(serde_json::from_str(&line).map_err(|e| format!("unreadable event from engine: {e}: {line}")));
        }
    }

    /// After it died or was killed: the events it had buffered and not
    /// written (see [`Output`]).
    pub fn unwritten(&self) -> Vec<Event> {
        self.mirror.as_ref().map(read_mirror).unwrap_or_default()
    }

    /// Clears the kept stderr lines (called when a case ends normally).
    pub fn clear_stderr(&self) {
        self.stderr.lock().unwrap().clear();
    }

    pub async fn kill(&mut self) {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
    }

    /// Waits for the process to end and describes how it ended (a budget
    /// kill says so, not just "signal 9").
    pub async fn death(&mut self) -> String {
        if let Some(why) = self.budget.as_ref().and_then(|w| w.killed()) {
            let _ = tokio::time::timeout(Duration::from_secs(5), self.child.wait()).await;
            return why;
        }
        let status = match tokio::time::timeout(Duration::from_secs(5), self.child.wait()).await {
            Ok(Ok(s)) => describe_status(s),
            _ => {
                self.kill().await;
                "closed its output and did not exit; killed".into()
            }
        };
        if let Some(task) = self.stderr_task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(1), task).await;
        }
        let tail: Vec<String> = self.stderr.lock().unwrap().iter().cloned().collect();
        let tail = tail.join("\n");
        if tail.trim().is_empty() {
            format!("worker died: {status}")
        } else {
            format!("worker died: {status}; stderr: {}", tail.trim())
        }
    }

    /// Closes stdin (the worker then exits) and waits briefly for it.
    pub async fn close(mut self) {
        self.stdin = None;
        if tokio::time::timeout(Duration::from_secs(2), self.child.wait()).await.is_err() {
            self.kill().await;
        }
    }
}

/// The environment of a process of this binary that runs engines (a worker,
/// a probe). `WASM_MATRIX_PARENT`: this process, for [`die_with_runner`].
/// (Huge pages are left as an embedder has them: the tool's mimalloc is
/// built with `no_thp`, so it does not madvise its segments for them.)
pub fn own_child(cmd: &mut std::process::Command) {
    cmd.env("WASM_MATRIX_PARENT", std::process::id().to_string());
}

/// The worker's side of [`die_with_parent`]: it asks for SIGKILL when the
/// runner that started it dies, and ends if that runner is already gone.
/// Done here rather than between fork and exec, so the runner starts
/// workers with posix_spawn (no fork: copying the runner's page tables for
/// each of the hundreds of restarts a crashing engine needs was a fifth of
/// a fuzz run's CPU).
fn die_with_runner() {
    let Some(parent) = std::env::var("WASM_MATRIX_PARENT").ok().and_then(|p| p.parse::<libc::pid_t>().ok()) else { return };
    // SAFETY: plain syscalls without pointers.
    unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
        if libc::getppid() != parent {
            libc::_exit(0);
        }
    }
}

/// Makes the child get SIGKILL when this process dies, however it dies (a
/// SIGKILLed runner must not leave engines spinning). Linux only.
/// Limits the process's address space (RLIMIT_AS, soft and hard), and so
/// that of everything it starts.
pub fn limit_address_space(cmd: &mut Command, bytes: u64) {
    // SAFETY: one prlimit call, async-signal-safe, touching no memory of ours.
    unsafe {
        cmd.pre_exec(move || crate::budget::rlimit_as(0, Some((bytes, bytes))).map(|_| ()));
    }
}

pub fn die_with_parent(cmd: &mut Command) {
    // SAFETY: prctl is async-signal-safe and touches no memory of ours.
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

fn describe_status(status: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    if let Some(sig) = status.signal() {
        let name = match sig {
            4 => " (SIGILL)",
            6 => " (SIGABRT)",
            7 => " (SIGBUS)",
            8 => " (SIGFPE)",
            9 => " (SIGKILL)",
            11 => " (SIGSEGV)",
            15 => " (SIGTERM)",
            _ => "",
        };
        format!("signal {sig}{name}")
    } else {
        match status.code() {
            Some(101) => "exit code 101 (a Rust panic)".into(),
            Some(c) => format!("exit code {c}"),
            None => "unknown exit status".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_panic_names_its_source_from_the_crate_not_from_this_machine() {
        let registry = "/root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/wasmer-compiler-7.4.2/src/translator/sections.rs";
        assert_eq!(super::crate_path(registry), "wasmer-compiler-7.4.2/src/translator/sections.rs");
        assert_eq!(super::crate_path("src/engine/wasmi.rs"), "src/engine/wasmi.rs");
    }

    #[test]
    fn the_mirror_holds_what_was_not_written_until_it_is() {
        use super::{read_mirror, Event, Mirror};
        let mut m = Mirror::create().expect("a mirror in /dev/shm or the temp dir");
        let file = std::fs::File::open(super::mirror_path(std::process::id())).unwrap();
        let _ = std::fs::remove_file(super::mirror_path(std::process::id()));
        let step = Event::Step { id: 3, index: 0, outcome: crate::outcome::RawOutcome::Ok };
        let done = Event::Done { id: 3, us: 5, cpu_us: Some(4), cross_origin_isolated: None };
        for ev in [&step, &done] {
            let mut line = serde_json::to_vec(ev).unwrap();
            line.push(b'\n');
            assert!(m.append(&line));
        }
        assert_eq!(read_mirror(&file), [step, done]);
        // Written out: nothing left to recover.
        m.clear();
        assert_eq!(read_mirror(&file), []);
        // A line past its size does not go in.
        assert!(!m.append(&vec![b'x'; Mirror::SIZE]));
    }
}
