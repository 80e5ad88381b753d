//! The child side of a worker process: `wasm-matrix __worker ENGINE` runs
//! one embedded engine over the line protocol ([`serve`]). The parent side
//! is [`super::proc::Proc`].

use super::mirror::Mirror;
use super::process::{die_with_runner, protocol_stdout};
use super::protocol::{Event, Request, FORGET_LINE};
use crate::outcome::RawOutcome;
use crate::engine::{spec, Launch};
use std::io::{BufRead, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The child side: serve requests for `engine_id` until stdin closes.
/// Returns the process exit code.
pub fn serve(engine_id: &str) -> i32 {
    let Some(column) = spec(engine_id) else {
        eprintln!("wasm-matrix worker: unknown engine `{engine_id}`");
        return 2;
    };
    let Launch::Worker(make) = column.launch else {
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
    let mut received = super::modules::Received::default();
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
        if line == FORGET_LINE {
            engine.forget_modules();
            hand_back();
            continue;
        }
        let mut req: Request = match serde_json::from_str(&line) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("wasm-matrix worker: bad request line: {e}");
                return 2;
            }
        };
        // A large module travels apart, once per process (see `modules`).
        if let Some(m) = &req.module {
            match received.bytes(m) {
                Ok(bytes) => req.plan.wasm = Some(bytes),
                Err(why) => {
                    let mut alive = true;
                    for index in req.from..req.plan.actions.len() {
                        alive &= out.send(&Event::Step { id: req.id, index, outcome: RawOutcome::Crash { message: format!("tool error: {why}") }, us: None });
                    }
                    if !alive || !out.send(&Event::Done { id: req.id, us: 0, cpu_us: None, cross_origin_isolated: None }) {
                        break;
                    }
                    continue;
                }
            }
        }
        // A memory-heavy case the runner asks to raise is the one cell a run
        // waits for at its end: it runs at a raised CPU priority where the
        // system allows it (root, or RLIMIT_NICE), so that the quick cases
        // of a dozen other processes do not starve it; nice goes back to 0
        // after it.
        let raised = req.raise && set_nice(-10);
        let start = Instant::now();
        let cpu_start = cpu_us();
        let mut alive = true;
        let mut step_start = start;
        let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            // Each step's event is in the mirror before the next step
            // runs (see `Output`); all go out with the batch. A step's time
            // runs from the end of the one before.
            engine.run(&req.plan, req.from, &mut |index, outcome| {
                let now = Instant::now();
                let us = Some(now.duration_since(step_start).as_micros() as u64);
                step_start = now;
                alive &= out.send(&Event::Step { id: req.id, index, outcome, us });
            })
        }));
        let us = start.elapsed().as_micros() as u64;
        if raised {
            set_nice(0);
        }
        release_freed(us);
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

/// Cases of this many microseconds or more hand back what they freed.
const RELEASE_AFTER_US: u64 = 20_000;

/// Gives the system back what a long case freed. mimalloc keeps freed
/// blocks below the system allocator's 32 MiB (main.rs) and purges them only
/// on a later call into it, which an idle worker does not make: 100 live
/// instances of a module with a 20 MiB memory on wasmi or tinywasm stayed
/// resident (2.4 GB a process) for as long as the worker waited for its next
/// case, beside the next process's heavy case. Quick cases free little, and
/// leave it to mimalloc.
fn release_freed(case_us: u64) {
    if case_us >= RELEASE_AFTER_US {
        hand_back();
    }
}

/// Gives the system back what mimalloc holds freed.
fn hand_back() {
    // SAFETY: mi_collect takes no pointer; it frees what mimalloc holds.
    unsafe { libmimalloc_sys::mi_collect(true) }
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

#[cfg(test)]
mod tests {
    #[test]
    fn a_panic_names_its_source_from_the_crate_not_from_this_machine() {
        let registry = "/root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/wasmer-compiler-7.4.2/src/translator/sections.rs";
        assert_eq!(super::crate_path(registry), "wasmer-compiler-7.4.2/src/translator/sections.rs");
        assert_eq!(super::crate_path("src/engine/wasmi.rs"), "src/engine/wasmi.rs");
    }
}
