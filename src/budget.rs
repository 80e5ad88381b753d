//! The memory budget every engine process runs under. Linux gives two ways
//! to enforce one: a cgroup's memory limit, or watching the process's
//! resident memory and killing it past the budget. Cgroups need a writable
//! cgroup v2 tree, which containers like this one (cgroup v1, not
//! delegated) do not have, so the tool watches: every [`POLL`] it reads
//! the resident size of the process and its descendants from /proc, and
//! kills the process (group) that goes over. The cell in flight becomes a
//! `crash` whose message says so ([`BUDGET_PREFIX`]), the process is
//! restarted, and the run goes on. Memory-heavy cases share the budget
//! across the whole run (see the runner's `heavy_weights`): one at a time
//! unless they say how far their memories reach, so their budgets never
//! overlap.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How often resident memory is read. An engine committing memory page by
/// page (wasmi: 1.4 GB/s here) gets at most this much past the budget.
pub const POLL: Duration = Duration::from_millis(20);

/// The start of a budget kill's crash message, so that reports can tell it
/// from an engine's own crash.
pub const BUDGET_PREFIX: &str = "memory budget:";

const GIB: f64 = (1u64 << 30) as f64;

/// Parses `6GiB`, `512MiB`, `2G`, `1.5GiB`, `8000000000` (bytes), or `off`.
pub fn parse(text: &str) -> Result<Option<u64>, String> {
    let t = text.trim();
    if t.eq_ignore_ascii_case("off") || t.eq_ignore_ascii_case("none") {
        return Ok(None);
    }
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num.parse().map_err(|_| format!("`{text}` is not a size (expected e.g. 6GiB, 512MiB or off)"))?;
    let mult: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" | "kib" => 1024.0,
        "m" | "mb" | "mib" => 1024.0 * 1024.0,
        "g" | "gb" | "gib" => GIB,
        "t" | "tb" | "tib" => GIB * 1024.0,
        other => return Err(format!("`{text}`: unknown unit `{other}` (expected KiB, MiB, GiB or TiB)")),
    };
    let bytes = n * mult;
    if !bytes.is_finite() || bytes < (64u64 << 20) as f64 {
        return Err(format!("`{text}` is below 64 MiB: no engine process starts in that"));
    }
    Ok(Some(bytes as u64))
}

/// Reads the address-space limit (RLIMIT_AS, `(soft, hard)`) of `pid` (0:
/// this process) and, with `new`, sets it; returns what it was. One system
/// call (prlimit), so a child may call it between fork and exec. The one
/// way the tool limits an address space: a worker for one case, a probe
/// process, a started engine or browser driver.
pub fn rlimit_as(pid: i32, new: Option<(u64, u64)>) -> std::io::Result<(u64, u64)> {
    let set = new.map(|(soft, hard)| libc::rlimit { rlim_cur: soft, rlim_max: hard });
    let mut old = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    let new_ptr = set.as_ref().map_or(std::ptr::null(), |r| r as *const libc::rlimit);
    // SAFETY: prlimit(2) with valid pointers (or null for no new limit).
    if unsafe { libc::prlimit(pid, libc::RLIMIT_AS, new_ptr, &mut old) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok((old.rlim_cur, old.rlim_max))
}

/// `6.0 GiB`, or `256 MiB` below a GiB.
pub fn show(bytes: u64) -> String {
    if bytes < 1 << 30 {
        format!("{} MiB", bytes >> 20)
    } else {
        format!("{:.1} GiB", bytes as f64 / GIB)
    }
}

/// A field of /proc/meminfo, in bytes.
fn meminfo(field: &str) -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with(field))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// The default budget: what one engine process may use while another heavy
/// case cannot run beside it (heavy cases without a bound go one at a
/// time; bounded ones together while their bounds fit in it): the memory
/// available now less 2 GiB for the tool, the other engines' small cases and
/// the browsers, and at most 80% of the machine's memory. 19.2 GiB on this
/// 24 GiB machine, so a 16 GiB memory64 grow (16.8 GB resident) fits.
pub fn default_budget() -> Option<u64> {
    let total = meminfo("MemTotal:")?;
    let available = meminfo("MemAvailable:").unwrap_or(total);
    Some(available.saturating_sub(2 << 30).min(total / 10 * 8).max(1 << 30))
}

/// The audit's resident ceiling by default: half of the machine's memory
/// (12 GiB on a 24 GiB machine), so that auditing big modules on every
/// column leaves the machine to its user. Measured on 14 npm modules x 20
/// columns here: with no ceiling the processes together peaked at 11.6 GB
/// (7 min 42 s); a third of the machine (8 GiB) held them to 11.0 GB, since
/// one big cell always runs beside the 5-8 GB the columns' processes and
/// three browsers hold, and left a core idle a third of the time (10 min
/// 43 s); a quarter held them to one big cell at a time.
pub fn default_resident_limit() -> Option<u64> {
    meminfo("MemTotal:").map(|t| t / 2)
}

/// Resident bytes of `pid` and every process below it (a browser's
/// renderers under its driver).
pub fn tree_rss(pid: u32) -> u64 {
    let page = 4096u64;
    let mut parent_of: Vec<(u32, u32, u64)> = Vec::new();
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for e in dir.flatten() {
            let Some(p) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else { continue };
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{p}/stat")) else { continue };
            // `pid (comm) state ppid ... rss`: comm may hold spaces, so
            // fields are counted from the closing parenthesis.
            let Some(rest) = stat.rfind(')').map(|i| &stat[i + 2..]) else { continue };
            let f: Vec<&str> = rest.split_whitespace().collect();
            let (Some(ppid), Some(rss)) = (f.get(1).and_then(|x| x.parse().ok()), f.get(21).and_then(|x| x.parse::<u64>().ok())) else { continue };
            parent_of.push((p, ppid, rss * page));
        }
    }
    let mut total = 0;
    let mut frontier = vec![pid];
    let mut seen = std::collections::HashSet::new();
    while let Some(p) = frontier.pop() {
        if !seen.insert(p) {
            continue;
        }
        for &(child, ppid, rss) in &parent_of {
            if child == p {
                total += rss;
            }
            if ppid == p {
                frontier.push(child);
            }
        }
    }
    total
}

/// The memory budget's watch over one process (and what it starts): the
/// one way every engine process, browser driver and probe is watched.
/// Dropping it stops the watch.
pub struct Watch {
    /// Why the process was killed, once it was.
    verdict: Arc<Mutex<Option<String>>>,
    stop: Arc<AtomicBool>,
    /// A lower limit for the case the process runs now (a case's own
    /// `memory_budget`); `u64::MAX` when there is none.
    case: Arc<AtomicU64>,
}

impl Watch {
    /// Watches `pid` under `budget` bytes; none when either is missing.
    pub fn start(pid: Option<u32>, budget: Option<u64>) -> Option<Watch> {
        Some(watch(pid?, budget?))
    }

    /// Watches `pid` under `budget` bytes if there is one, and always under
    /// the limit of the case it runs ([`Watch::set_case_limit`]).
    pub fn start_for_cases(pid: Option<u32>, budget: Option<u64>) -> Option<Watch> {
        Some(watch(pid?, budget.unwrap_or(u64::MAX)))
    }

    /// Holds the process to `limit` bytes (a case's own budget) until it is
    /// set again; `None` lifts it.
    pub fn set_case_limit(&self, limit: Option<u64>) {
        self.case.store(limit.unwrap_or(u64::MAX), Ordering::Relaxed);
    }

    /// Why the budget killed the process, if it did.
    pub fn killed(&self) -> Option<String> {
        self.verdict.lock().unwrap().clone()
    }

    /// Stops watching (the process ended, or is being ended by the tool).
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Watches `pid` (and what it starts) until stopped or it is gone; past
/// `budget` bytes it SIGKILLs `pid`'s process group (every process the tool
/// starts leads its own) and records why.
fn watch(pid: u32, budget: u64) -> Watch {
    let w = Watch { verdict: Arc::default(), stop: Arc::new(AtomicBool::new(false)), case: Arc::new(AtomicU64::new(u64::MAX)) };
    let (out, stop, case) = (w.verdict.clone(), w.stop.clone(), w.case.clone());
    std::thread::spawn(move || {
        while !stop.load(Ordering::Relaxed) {
            if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
                return;
            }
            // Reading one process is cheap; the whole tree (browsers) scans
            // /proc, so it is read only when the process itself is not alone.
            let rss = own_rss(pid).map(|own| if has_children(pid) { tree_rss(pid) } else { own }).unwrap_or(0);
            let case = case.load(Ordering::Relaxed);
            if rss > budget.min(case) {
                let whose = if case < budget { "case's own (memory_budget) " } else { "" };
                *out.lock().unwrap() =
                    Some(format!("{BUDGET_PREFIX} exceeded the {whose}{} memory budget at {} resident; killed", show(budget.min(case)), show(rss)));
                // SAFETY: kill(2) on a process group this tool created.
                unsafe { libc::kill(-(pid as i32), libc::SIGKILL) };
                return;
            }
            std::thread::sleep(POLL);
        }
    });
    w
}

fn own_rss(pid: u32) -> Option<u64> {
    let statm = std::fs::read_to_string(format!("/proc/{pid}/statm")).ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

fn has_children(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).is_ok_and(|c| !c.trim().is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_and_bad_ones_say_why() {
        assert_eq!(parse("6GiB").unwrap(), Some(6 << 30));
        assert_eq!(parse("512MiB").unwrap(), Some(512 << 20));
        assert_eq!(parse("1.5G").unwrap(), Some(3 << 29));
        assert_eq!(parse("off").unwrap(), None);
        assert!(parse("lots").unwrap_err().contains("not a size"));
        assert!(parse("6 parsecs").unwrap_err().contains("unknown unit"));
        assert!(parse("1MiB").unwrap_err().contains("below 64 MiB"));
        assert!(default_budget().is_some_and(|b| b >= 1 << 30));
    }

    #[test]
    fn a_process_over_budget_is_killed_and_said_why() {
        use std::os::unix::process::CommandExt;
        // A child that takes 256 MiB and waits; the budget is 128 MiB.
        let mut child = std::process::Command::new("python3")
            .args(["-c", "import time; b = bytearray(256 << 20); time.sleep(30)"])
            .process_group(0)
            .spawn()
            .unwrap();
        let w = Watch::start(Some(child.id()), Some(128 << 20)).expect("a pid and a budget");
        let status = child.wait().unwrap();
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(status.signal(), Some(9), "killed");
        std::thread::sleep(POLL * 2);
        let why = w.killed().expect("the watcher says why");
        assert!(why.starts_with(BUDGET_PREFIX) && why.contains("128 MiB memory budget"), "{why}");
        assert!(Watch::start(Some(child.id()), None).is_none());
    }
}
