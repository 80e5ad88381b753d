//! The probe's processes: an embedded column's measure in its own
//! `__probe` process, a JS shell's in `drivers/probe.js`, each in its own
//! process group under a time limit, the memory budget and the measure's
//! address-space limit.

use super::measure::{beyond_note, gib, measure, process_memory, AS_BEYOND_BASELINE};
use crate::engine::{js, Column, Launch};
use crate::results::measures::{Measure, MeasureSpec, Unit, What};
use std::process::{Command, Stdio};
use std::time::Duration;

/// The longest one probe process may take.
const PROCESS_LIMIT: Duration = Duration::from_secs(600);

/// The child side: `wasm-matrix __probe COLUMN MEASURE [--budget BYTES]`
/// prints one measure as JSON.
pub fn serve(column: &str, name: &str, budget: Option<u64>) -> i32 {
    let Some(Launch::Worker(make)) = crate::engine::spec(column).map(|c| c.launch) else {
        eprintln!("wasm-matrix __probe: `{column}` is not an embedded engine");
        return 2;
    };
    let Some(spec) = MeasureSpec::named(name) else {
        eprintln!("wasm-matrix __probe: unknown measure `{name}`");
        return 2;
    };
    // The answer goes to the real stdout; what the engine prints by itself
    // goes to stderr.
    let mut out = crate::transport::process::protocol_stdout();
    let mut engine = make();
    let m = measure(spec, &mut |capped, features| engine.store(capped, features), budget);
    use std::io::Write;
    match writeln!(out, "{}", serde_json::to_string(&m).expect("measures serialize")) {
        Ok(()) => 0,
        Err(_) => 1,
    }
}

/// A started probe process: its own process group (SIGKILLed when this
/// process dies, at the time limit or past the budget), with the measure's
/// address-space limit.
struct Probe {
    child: std::process::Child,
    budget: Option<crate::budget::Watch>,
    timer: std::sync::mpsc::Sender<()>,
    timed_out: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Probe {
    fn start(mut cmd: Command, budget: Option<u64>) -> Result<Probe, String> {
        use std::os::unix::process::CommandExt;
        use std::sync::{atomic::AtomicBool, Arc};
        cmd.process_group(0).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        // SAFETY: prctl is async-signal-safe and touches no memory of ours.
        unsafe {
            cmd.pre_exec(move || {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let child = cmd.spawn().map_err(|e| format!("cannot start the probe: {e}"))?;
        let budget = crate::budget::Watch::start(Some(child.id()), budget);
        let (timer, ticks) = std::sync::mpsc::channel::<()>();
        let timed_out = Arc::new(AtomicBool::new(false));
        let (flag, pid) = (timed_out.clone(), child.id() as i32);
        std::thread::spawn(move || {
            if let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = ticks.recv_timeout(PROCESS_LIMIT) {
                flag.store(true, std::sync::atomic::Ordering::Relaxed);
                // SAFETY: kill(2) on the process group this tool created.
                unsafe { libc::kill(-pid, libc::SIGKILL) };
            }
        });
        Ok(Probe { child, budget, timer, timed_out })
    }

    /// Why the process was stopped, if the tool stopped it.
    fn stopped(&self) -> Option<String> {
        stopped(&self.timed_out, &self.budget)
    }

    /// Waits for the end; its stdout, or why there is no answer.
    fn finish(self) -> Result<Vec<u8>, String> {
        let Probe { mut child, budget, timer, timed_out } = self;
        drop(child.stdin.take());
        let out = child.wait_with_output();
        let _ = timer.send(());
        if let Some(w) = &budget {
            w.stop();
        }
        if let Some(why) = stopped(&timed_out, &budget) {
            return Err(why);
        }
        match out {
            Ok(o) if o.status.success() => Ok(o.stdout),
            Ok(o) => {
                Err(format!("the probe process died ({}): {}", o.status, last_words(&String::from_utf8_lossy(&o.stderr))))
            }
            Err(e) => Err(format!("the probe process: {e}")),
        }
    }
}

/// What a dying process said: its fatal-error line (V8's "# Fatal process
/// out of memory: ...", a Rust panic) or else its last two lines.
fn last_words(stderr: &str) -> String {
    let lines: Vec<&str> = stderr.lines().map(|l| l.trim_start_matches('#').trim()).filter(|l| !l.is_empty()).collect();
    let fatal = lines.iter().position(|l| {
        let l = l.to_ascii_lowercase();
        l.starts_with("fatal") || l.contains("panicked at") || l.starts_with("error")
    });
    match fatal {
        // A panic's message is the line after "panicked at FILE:LINE:".
        Some(i) if lines[i].contains("panicked at") => lines[i..].iter().take(2).copied().collect::<Vec<_>>().join(" "),
        Some(i) => lines[i].to_string(),
        None => lines[lines.len().saturating_sub(2)..].join(" "),
    }
}

fn stopped(timed_out: &std::sync::atomic::AtomicBool, budget: &Option<crate::budget::Watch>) -> Option<String> {
    if timed_out.load(std::sync::atomic::Ordering::Relaxed) {
        return Some(format!("the probe took longer than {} s; killed", PROCESS_LIMIT.as_secs()));
    }
    budget.as_ref().and_then(|w| w.killed())
}

/// One measure of an embedded column in its own process.
pub(super) fn run_one(exe: &std::path::Path, column: &Column, spec: &MeasureSpec, budget: Option<u64>) -> Measure {
    let mut cmd = Command::new(exe);
    cmd.args(["__probe", column.id, spec.name]).env("RUST_BACKTRACE", "0");
    crate::transport::process::own_child(&mut cmd);
    if let Some(b) = budget {
        cmd.args(["--budget", &b.to_string()]);
    }
    let answer = Probe::start(cmd, budget).and_then(Probe::finish);
    match answer {
        Ok(stdout) => serde_json::from_slice(&stdout).unwrap_or_else(|e| Measure::not_measured(spec.unit(), format!("unreadable probe output: {e}"))),
        Err(why) => Measure::not_measured(spec.unit(), why),
    }
}

/// The measures of a JS shell that need its process: `drivers/probe.js`
/// in it, observed through /proc and run under the measure's rlimit.
pub(super) fn run_shell(shell: &js::Shell, spec: &MeasureSpec, budget: Option<u64>) -> Measure {
    use std::io::{BufRead, Write};
    let unit = spec.unit();
    let tail = spec.kind.suffix();
    let under_as = spec.what == What::CoexistingUnder16GibAs;
    let words: [String; 3] = match spec.what {
        What::Coexisting | What::CoexistingUnder16GibAs => ["coexist".into(), tail.into(), "-".into()],
        What::Reserved => ["reserve".into(), tail.into(), "256".into()],
        What::GrowCost => {
            let pages = spec.bytes() / 65536;
            if let Some(b) = budget.filter(|b| pages * 65536 + (512 << 20) > *b) {
                return Measure::not_measured(unit, format!("over the {} memory budget: growing to {} could commit that much", gib(b), gib(pages * 65536)));
            }
            ["grow".into(), pages.to_string(), "-".into()]
        }
        _ => return Measure::not_measured(unit, "not a measure of the shell's process"),
    };
    let result: Result<Measure, String> = (|| {
        let script = js::script_file("probe", js::PROBE_JS)?;
        let (bin, args) = shell.command_for(&script)?;
        let mut cmd = Command::new(bin);
        cmd.args(args).args(&words);
        let mut probe = Probe::start(cmd, budget)?;
        let pid = probe.child.id().to_string();
        let mut lines = std::io::BufReader::new(probe.child.stdout.take().expect("piped"));
        let mut stdin = probe.child.stdin.take().expect("piped");
        let mut next = || -> Option<serde_json::Value> {
            let mut l = String::new();
            lines.read_line(&mut l).ok().filter(|n| *n > 0)?;
            serde_json::from_str(&l).ok()
        };
        let said = |v: &serde_json::Value, key: &str| v.get(key).and_then(|m| m.as_str()).map(str::to_string);
        // The two-phase scripts: at "before", the process's memory; then
        // the answer, and the memory after it.
        // With `limit_as`, the process's address space is limited to what it
        // has mapped at "before" and AS_BEYOND_BASELINE more.
        let pid_n = probe.child.id();
        let mut phase = move |next: &mut dyn FnMut() -> Option<serde_json::Value>, limit_as: bool| -> Result<_, String> {
            let first = next().ok_or("the probe script said nothing")?;
            if let Some(e) = said(&first, "error") {
                return Err(e);
            }
            let before = process_memory(&pid);
            if limit_as {
                let bytes = before.1 + AS_BEYOND_BASELINE;
                crate::budget::rlimit_as(pid_n as i32, Some((bytes, bytes))).map_err(|e| format!("cannot limit the probe's address space: {e}"))?;
            }
            writeln!(stdin).map_err(|e| e.to_string())?;
            let v = next().ok_or("the probe script said nothing more")?;
            let after = process_memory(&pid);
            let _ = writeln!(stdin);
            Ok((before, v, after))
        };
        let m = match spec.what {
            What::Reserved => phase(&mut next, false).map(|((_, before, _), v, (_, after, _))| match said(&v, "error") {
                Some(e) => Measure::not_measured(unit, format!("the 256 memories failed: {e}")),
                None => Measure::of(after.saturating_sub(before) as f64 / 256.0, Unit::Bytes).with_note("VmSize growth of the shell's process over 256 live 1-page memories"),
            }),
            What::GrowCost => phase(&mut next, false).map(|((rss, _, _), v, (_, _, peak))| match (said(&v, "error"), v.get("ms").and_then(|m| m.as_f64())) {
                (Some(e), _) => Measure::not_measured(unit, format!("the grow failed: {e}")),
                (None, ms) => Measure::of(ms.unwrap_or(0.0) / 1000.0, Unit::Seconds)
                    .with_note(format!("peak RSS of the shell's process {:.0} MB ({:.0} MB before the grow)", peak as f64 / 1e6, rss as f64 / 1e6)),
            }),
            // The count: at "before" (the shell's own mappings made), the
            // address-space limit where the measure has one, then the count.
            _ => phase(&mut next, under_as).map(|((_, vm, _), v, _)| {
                let baseline = under_as.then_some(vm);
                let count = v.get("count").and_then(|c| c.as_f64()).unwrap_or(0.0);
                if count == 0.0 {
                    return Measure::not_measured(unit, said(&v, "message").unwrap_or_default());
                }
                let mut m = Measure::of(count, Unit::Count).with_message(said(&v, "message"));
                if let Some(vm) = baseline {
                    m = m.with_note(beyond_note(vm));
                }
                match (&m.message, said(&v, "stopped")) {
                    (None, Some(_)) => m.with_note("stopped after 60 s: each new memory took longer than the last, none failed"),
                    (None, None) => m.with_note("stopped at 20000"),
                    _ => m,
                }
            }),
        };
        drop(phase); // closes the script's stdin
        let stopped = probe.stopped();
        let finished = probe.finish();
        match (m, stopped) {
            (Ok(m), _) => Ok(m),
            (Err(_), Some(why)) => Err(why),
            // The process's death says more than the script's silence.
            (Err(said), None) => Err(finished.err().unwrap_or(said)),
        }
    })();
    result.unwrap_or_else(|e| Measure::not_measured(unit, e))
}

