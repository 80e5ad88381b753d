//! `wasm-matrix probe`: each column's memory limits, reservations and costs,
//! measured with real modules and real host calls — bisection where a bound
//! is searched, never a constant read. Each measure of an embedded column
//! runs in its own `wasm-matrix __probe COLUMN MEASURE` process (so that
//! its address space, peak RSS and rlimits are its own), under the memory
//! budget. The results are `limits.json`.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One measure's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Measure {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
    pub unit: String,
    /// The engine's verbatim failure text one step past the value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl Measure {
    pub fn of(value: f64, unit: &str) -> Measure {
        Measure { value: Some(value), unit: unit.into(), message: None, note: None }
    }

    pub fn not_measured(unit: &str, why: impl Into<String>) -> Measure {
        Measure { value: None, unit: unit.into(), message: None, note: Some(format!("not measured: {}", why.into())) }
    }

    pub fn with_message(mut self, m: Option<String>) -> Measure {
        self.message = m;
        self
    }

    pub fn with_note(mut self, n: impl Into<String>) -> Measure {
        self.note = Some(n.into());
        self
    }
}

/// The machine the atlas was measured on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Host {
    pub os: String,
    pub kernel: String,
    pub cpu: String,
    pub ram_bytes: u64,
    /// /proc/sys/vm/overcommit_memory: 0 heuristic, 1 always, 2 never.
    pub overcommit: String,
    /// Virtual address bits of the CPU.
    pub address_bits: u32,
}

impl Host {
    pub fn here() -> Host {
        let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
        let cpuinfo = read("/proc/cpuinfo");
        let field = |name: &str| {
            cpuinfo.lines().find(|l| l.starts_with(name)).and_then(|l| l.split(':').nth(1)).map(|v| v.trim().to_string()).unwrap_or_default()
        };
        let address_bits = field("address sizes")
            .split(',')
            .find(|p| p.contains("virtual"))
            .and_then(|p| p.split_whitespace().next().and_then(|n| n.parse().ok()))
            .unwrap_or(48);
        let ram = read("/proc/meminfo")
            .lines()
            .find(|l| l.starts_with("MemTotal:"))
            .and_then(|l| l.split_whitespace().nth(1).and_then(|k| k.parse::<u64>().ok()))
            .unwrap_or(0)
            * 1024;
        let os = read("/etc/os-release")
            .lines()
            .find(|l| l.starts_with("PRETTY_NAME="))
            .map(|l| l.trim_start_matches("PRETTY_NAME=").trim_matches('"').to_string())
            .unwrap_or_else(|| std::env::consts::OS.into());
        Host {
            os,
            kernel: read("/proc/sys/kernel/osrelease").trim().to_string(),
            cpu: field("model name"),
            ram_bytes: ram,
            overcommit: read("/proc/sys/vm/overcommit_memory").trim().to_string(),
            address_bits,
        }
    }
}

/// One column's measures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EngineLimits {
    pub version: String,
    pub measures: BTreeMap<String, Measure>,
}

/// `limits.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Limits {
    pub host: Host,
    pub engines: BTreeMap<String, EngineLimits>,
}

/// The largest `n` in `lo..=hi` for which `ok(n)` holds, `ok` being
/// monotone (true up to the bound, false above); with the failure at `n + 1`
/// when there is one. `ok` is called O(log(hi - lo)) times. When even
/// `ok(lo)` fails there is no bound to find: its failure.
pub fn bisect<E>(lo: u64, hi: u64, mut ok: impl FnMut(u64) -> Result<(), E>) -> Result<(u64, Option<E>), E> {
    ok(lo)?;
    let mut fail = match ok(hi) {
        Ok(()) => return Ok((hi, None)),
        Err(e) => e,
    };
    // Invariant: ok(good) holds, ok(bad) failed with `fail`.
    let (mut good, mut bad) = (lo, hi);
    while bad - good > 1 {
        let mid = good + (bad - good) / 2;
        match ok(mid) {
            Ok(()) => good = mid,
            Err(e) => {
                bad = mid;
                fail = e;
            }
        }
    }
    Ok((good, Some(fail)))
}

/// The measure names, in the order a table shows them.
pub const MEASURES: &[&str] = &[
    "declared_max_pages.i32",
    "declared_max_pages.i64",
    "initial_pages.i32",
    "initial_pages.i64",
    "grow_reach_pages.i32",
    "grow_reach_pages.i64",
    "host_grow_reach_pages.i32",
    "host_grow_reach_pages.i64",
    "reserved_bytes.i32",
    "coexisting_memories.i32",
    "coexisting_under_16gib_as.i32",
    "grow_cost.1gib",
    "grow_cost.4gib",
    "host_cap",
];

#[cfg(test)]
mod tests {
    use super::*;

    /// The bisection on a fake backend whose limit is known.
    #[test]
    fn bisection_finds_the_bound_and_the_failure_one_past_it() {
        for limit in [0u64, 1, 2, 65535, 65536, 1 << 40] {
            let mut calls = 0;
            let (found, why) = bisect(0, 1 << 48, |n| {
                calls += 1;
                if n <= limit { Ok(()) } else { Err(format!("{n} is over")) }
            })
            .unwrap();
            assert_eq!(found, limit);
            assert_eq!(why, Some(format!("{} is over", limit + 1)));
            assert!(calls <= 53, "{calls} calls for {limit}");
        }
        // Nothing fails up to `hi`: the bound is `hi`, no failure.
        assert_eq!(bisect(0, 100, |_| Ok::<(), String>(())), Ok((100, None)));
        // Not even the lower bound: its failure, no bound.
        assert_eq!(bisect(0, 100, |n| Err::<(), u64>(n)), Err(0));
    }
}

// ------------------------------------------------------------------ measures

use crate::engine::session::{Fault, MemorySpec, Store};
use crate::case::{AddressType, Val};

const GIB_PAGES: u64 = 16384;

fn fault_text(f: Fault) -> String {
    match f {
        Fault::Trap { message, .. } | Fault::Error { message } | Fault::Link { message } => message,
        Fault::Missing => "no such export".into(),
        Fault::Unsupported(m) => format!("unsupported: {m}"),
    }
}

fn wat(text: &str) -> Vec<u8> {
    let buf = wast::parser::ParseBuffer::new(text).expect("the probe's own WAT lexes");
    let mut m: wast::Wat = wast::parser::parse(&buf).expect("the probe's own WAT parses");
    m.encode().expect("the probe's own WAT encodes")
}

fn kind_of(measure: &str) -> (AddressType, &'static str) {
    if measure.ends_with(".i64") { (AddressType::I64, "i64 ") } else { (AddressType::I32, "") }
}

/// This process's resident and virtual size (VmRSS, VmSize) and peak RSS (VmHWM), bytes.
pub fn own_memory() -> (u64, u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status.lines().find(|l| l.starts_with(name)).and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok()).unwrap_or(0) * 1024
    };
    (field("VmRSS:"), field("VmSize:"), field("VmHWM:"))
}

/// Runs one measure with fresh stores from `store` (proposals on as the
/// measure needs them; `capped` gives a 1 MiB host cap). `heavy`: the
/// 16 GiB grow is measured too.
pub fn measure<S: Store>(name: &str, store: &mut dyn FnMut(bool) -> Result<S, Fault>, heavy: bool) -> Measure {
    let (address, i64kw) = kind_of(name);
    let base = name.split('.').next().unwrap_or(name);
    let mut fresh = |capped: bool| store(capped).map_err(fault_text);
    let result: Result<Measure, String> = (|| {
        Ok(match base {
            "declared_max_pages" => {
                // The binary encodes an i32 memory's maximum as a u32, an i64 one's as a u64.
                let hi = if address == AddressType::I64 { u64::MAX >> 1 } else { u32::MAX as u64 };
                let mut s = fresh(false)?;
                let (n, why) = bisect(0, hi, |n| {
                    let wasm = wat(&format!("(module (memory {i64kw}0 {n}))"));
                    s.compile(&wasm).map(|_| ()).map_err(fault_text)
                })?;
                Measure::of(n as f64, "pages").with_message(why)
            }
            "initial_pages" => {
                let hi = if address == AddressType::I64 { 1 << 48 } else { 65536 };
                let (n, why) = bisect(0, hi, |n| {
                    let mut s = fresh(false).map_err(|e| e)?;
                    let m = s.compile(&wat(&format!("(module (memory (export \"m\") {i64kw}{n}))"))).map_err(fault_text)?;
                    s.instantiate(&m, &[]).map(|_| ()).map_err(fault_text)
                })?;
                Measure::of(n as f64, "pages").with_message(why)
            }
            "grow_reach_pages" => {
                let hi = if address == AddressType::I64 { 1 << 48 } else { 65536 };
                let ty = if address == AddressType::I64 { "i64" } else { "i32" };
                let (n, why) = bisect(0, hi - 1, |delta| {
                    let mut s = fresh(false)?;
                    let text = format!("(module (memory (export \"m\") {i64kw}1) (func (export \"g\") (param {ty}) (result {ty}) (memory.grow (local.get 0))))");
                    let m = s.compile(&wat(&text)).map_err(fault_text)?;
                    let inst = s.instantiate(&m, &[]).map_err(fault_text)?;
                    let arg = if address == AddressType::I64 { Val::I64(delta as i64) } else { Val::I32(delta as u32 as i32) };
                    match s.call(&inst, "g", &[arg]).map_err(fault_text)?.as_slice() {
                        [Val::I32(-1)] | [Val::I64(-1)] => Err("memory.grow returned -1".to_string()),
                        _ => Ok(()),
                    }
                })?;
                Measure::of((1 + n) as f64, "pages").with_message(why)
            }
            "host_grow_reach_pages" => {
                let hi = if address == AddressType::I64 { 1 << 48 } else { 65536 };
                let (n, why) = bisect(0, hi - 1, |delta| {
                    let mut s = fresh(false)?;
                    let m = s.new_memory(&MemorySpec { initial: 1, maximum: None, shared: false, address }).map_err(fault_text)?;
                    s.grow(&m, delta).map(|_| ()).map_err(fault_text)
                })?;
                Measure::of((1 + n) as f64, "pages").with_message(why)
            }
            "reserved_bytes" => {
                // VmSize growth over many live 1-page memories, divided.
                const K: u64 = 256;
                let mut s = fresh(false)?;
                let (_, before, _) = own_memory();
                let mut live = Vec::new();
                for _ in 0..K {
                    live.push(s.new_memory(&MemorySpec { initial: 1, maximum: None, shared: false, address }).map_err(fault_text)?);
                }
                let (_, after, _) = own_memory();
                Measure::of(after.saturating_sub(before) as f64 / K as f64, "bytes").with_note(format!("VmSize growth over {K} live 1-page memories"))
            }
            "coexisting_memories" | "coexisting_under_16gib_as" => {
                const STOP: usize = 20000;
                let mut s = fresh(false)?;
                let mut live = Vec::new();
                let mut why = None;
                while live.len() < STOP {
                    match s.new_memory(&MemorySpec { initial: 1, maximum: None, shared: false, address }) {
                        Ok(m) => live.push(m),
                        Err(f) => {
                            why = Some(fault_text(f));
                            break;
                        }
                    }
                }
                let mut m = Measure::of(live.len() as f64, "count").with_message(why.clone());
                if why.is_none() {
                    m = m.with_note(format!("stopped at {STOP}"));
                }
                m
            }
            "grow_cost" => {
                let pages = match name {
                    "grow_cost.1gib" => GIB_PAGES,
                    "grow_cost.4gib" => 4 * GIB_PAGES,
                    _ => 16 * GIB_PAGES,
                };
                if pages > 4 * GIB_PAGES && !heavy {
                    return Ok(Measure::not_measured("s", "a 16 GiB grow takes about a minute per column: `probe --heavy`"));
                }
                let address = if pages > 4 * GIB_PAGES { AddressType::I64 } else { AddressType::I32 };
                let mut s = fresh(false)?;
                let m = s.new_memory(&MemorySpec { initial: 0, maximum: None, shared: false, address }).map_err(fault_text)?;
                let start = std::time::Instant::now();
                let grown = s.grow(&m, pages);
                let secs = start.elapsed().as_secs_f64();
                let (_, _, peak) = own_memory();
                match grown {
                    Ok(_) => Measure::of(secs, "s").with_note(format!("peak RSS {:.0} MB", peak as f64 / 1e6)),
                    Err(f) => Measure::not_measured("s", format!("the grow failed: {}", fault_text(f))),
                }
            }
            "host_cap" => {
                // A 1 MiB cap (16 pages); grow 1 page past it from wasm and from the host.
                let mut s = match fresh(true) {
                    Ok(s) => s,
                    Err(e) => return Ok(Measure::not_measured("pages", e)),
                };
                let text = "(module (memory (export \"m\") 1) (func (export \"g\") (param i32) (result i32) (memory.grow (local.get 0))))";
                let m = s.compile(&wat(text)).map_err(fault_text)?;
                let inst = s.instantiate(&m, &[]).map_err(fault_text)?;
                let to_cap = s.call(&inst, "g", &[Val::I32(15)]).map_err(fault_text)?;
                let past = s.call(&inst, "g", &[Val::I32(1)]);
                let mem = s.exported_memory(&inst, "m").ok_or("no memory")?;
                let host = s.grow(&mem, 1);
                let size = s.size(&mem);
                let said = |r: Result<String, Fault>| r.unwrap_or_else(fault_text);
                Measure::of(size as f64, "pages").with_message(Some(format!(
                    "grow to the cap: {to_cap:?}; memory.grow one page past it: {}; host grow one page past it: {}",
                    said(past.map(|v| format!("{v:?}"))),
                    said(host.map(|p| format!("ok (was {p})")))
                )))
                .with_note("size after growing past a 1 MiB host cap".to_string())
            }
            other => return Err(format!("unknown measure `{other}`")),
        })
    })();
    result.unwrap_or_else(|e| Measure::not_measured("", e))
}

// ------------------------------------------------------------------ the runs

use crate::engine::{Column, Launch};

/// Measures that set RLIMIT_AS on their process, and to what.
fn address_limit(measure: &str) -> Option<u64> {
    (measure == "coexisting_under_16gib_as.i32").then_some(16 << 30)
}

/// The child side: `wasm-matrix __probe COLUMN MEASURE [--heavy]` prints
/// one measure as JSON.
pub fn serve(column: &str, name: &str, heavy: bool) -> i32 {
    let Some(Launch::Worker(make)) = crate::engine::spec(column).map(|c| c.launch) else {
        eprintln!("wasm-matrix __probe: `{column}` is not an embedded engine");
        return 2;
    };
    let m = make().probe(name, heavy);
    println!("{}", serde_json::to_string(&m).expect("measures serialize"));
    0
}

/// One measure of an embedded column in its own process, under the memory
/// budget (and the address-space limit the measure names).
fn run_one(exe: &std::path::Path, column: &Column, name: &str, heavy: bool, budget: Option<u64>) -> Measure {
    use std::os::unix::process::CommandExt;
    let unit = if name.starts_with("reserved") { "bytes" } else if name.starts_with("coexisting") { "count" } else if name.starts_with("grow_cost") { "s" } else { "pages" };
    let mut cmd = std::process::Command::new(exe);
    cmd.args(["__probe", column.id, name]).env("RUST_BACKTRACE", "0").process_group(0);
    if heavy {
        cmd.arg("--heavy");
    }
    let limit = address_limit(name);
    // SAFETY: setrlimit and prctl are async-signal-safe and touch no memory of ours.
    unsafe {
        cmd.pre_exec(move || {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            if let Some(bytes) = limit {
                let rl = libc::rlimit { rlim_cur: bytes, rlim_max: bytes };
                if libc::setrlimit(libc::RLIMIT_AS, &rl) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
    let child = match cmd.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn() {
        Ok(c) => c,
        Err(e) => return Measure::not_measured(unit, format!("cannot start the probe: {e}")),
    };
    let watch = budget.map(|b| {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        (crate::budget::watch(child.id(), b, stop.clone()), stop)
    });
    let out = child.wait_with_output();
    if let Some((_, stop)) = &watch {
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
    if let Some(why) = watch.as_ref().and_then(|(v, _)| v.get()) {
        return Measure::not_measured(unit, why);
    }
    match out {
        Ok(o) if o.status.success() => serde_json::from_slice(&o.stdout)
            .unwrap_or_else(|e| Measure::not_measured(unit, format!("unreadable probe output: {e}"))),
        Ok(o) => {
            let err = String::from_utf8_lossy(&o.stderr);
            let tail: Vec<&str> = err.lines().rev().take(2).collect();
            Measure::not_measured(unit, format!("the probe process died ({}): {}", o.status, tail.into_iter().rev().collect::<Vec<_>>().join(" ")))
        }
        Err(e) => Measure::not_measured(unit, format!("the probe process: {e}")),
    }
}

/// Measures every selected column; JS columns say why they are not measured yet.
pub fn run(columns: &[&'static Column], heavy: bool, budget: Option<u64>, mut progress: impl FnMut(&str, &str, &Measure)) -> Limits {
    let exe = std::env::current_exe().unwrap_or_else(|_| "wasm-matrix".into());
    // Asked once per column (for browsers it starts their `--version`).
    let available: Vec<Result<String, String>> = columns.iter().map(|c| c.availability()).collect();
    let js: Vec<&'static Column> = columns
        .iter()
        .zip(&available)
        .filter(|(c, a)| !matches!(c.launch, Launch::Worker(_)) && a.is_ok())
        .map(|(c, _)| *c)
        .collect();
    let mut opts = crate::runner::RunOptions::new(exe.clone());
    opts.memory_budget = budget;
    let js_measures = if js.is_empty() { BTreeMap::new() } else { run_js(&js, &opts) };
    let mut engines = BTreeMap::new();
    for (column, available) in columns.iter().zip(available) {
        let mut measures = BTreeMap::new();
        let unavailable = available.is_err();
        let version = available.unwrap_or_else(|why| format!("unavailable: {why}"));
        for name in MEASURES {
            let m = match column.launch {
                Launch::Worker(_) => run_one(&exe, column, name, heavy, budget),
                _ => match js_measures.get(&(column.id, *name)) {
                    Some(m) => m.clone(),
                    None if unavailable => Measure::not_measured("", "the column is unavailable here"),
                    None => Measure::not_measured("", "the JS API has no way to observe this from a page or shell (address space, RSS, rlimits, host caps)"),
                },
            };
            progress(column.id, name, &m);
            measures.insert(name.to_string(), m);
        }
        engines.insert(column.id.to_string(), EngineLimits { version, measures });
    }
    Limits { host: Host::here(), engines }
}

/// A measure as a table cell: the value (MiB for bytes), or `-`.
pub fn cell(m: &Measure) -> String {
    match m.value {
        Some(v) if m.unit == "bytes" => format!("{:.1} MiB", v / (1 << 20) as f64),
        Some(v) if m.unit == "s" => format!("{v:.2} s"),
        Some(v) => format!("{v}"),
        None => "-".into(),
    }
}

/// The tables `probe` prints: one per measure family, engines as columns.
pub fn tables(limits: &Limits) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let ids: Vec<&String> = limits.engines.keys().collect();
    let mut families: Vec<&str> = MEASURES.iter().map(|m| m.split('.').next().unwrap_or(m)).collect();
    families.dedup();
    for fam in families {
        let _ = writeln!(out, "\n{fam}");
        let _ = write!(out, "  {:<34}", "measure");
        for id in &ids {
            let _ = write!(out, " {:>18}", id);
        }
        out.push('\n');
        for name in MEASURES.iter().filter(|m| m.split('.').next() == Some(fam)) {
            let _ = write!(out, "  {name:<34}");
            for id in &ids {
                let m = limits.engines[*id].measures.get(*name);
                let _ = write!(out, " {:>18}", m.map(cell).unwrap_or_default());
            }
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod engine_tests {
    use super::*;

    /// The probe on wasmi against a limit the host sets (a 1 MiB cap, 16
    /// pages): the known answer.
    #[test]
    fn the_host_cap_probe_on_wasmi_finds_the_cap() {
        let Some(Launch::Worker(make)) = crate::engine::spec("wasmi").map(|c| c.launch) else { panic!("wasmi is embedded") };
        let m = make().probe("host_cap", false);
        assert_eq!(m.value, Some(16.0), "{m:?}");
        let said = m.message.unwrap();
        assert!(said.contains("memory.grow one page past it: [I32(-1)]"), "{said}");
        let m = make().probe("declared_max_pages.i32", false);
        assert_eq!(m.value, Some(65536.0), "{m:?}");
        assert!(m.message.is_some_and(|t| t.contains("65536")));
    }
}

// ------------------------------------------------------------------ JS columns

/// What a JS column can be probed for through the harness: the largest
/// maximum a module may declare, and how far the host API grows a memory.
/// Each round runs 8 points per column between its known good and bad
/// bounds as ordinary cases, all columns at once (a round starts the
/// browsers once), so a 2^63 range takes about 21 rounds.
const JS_MEASURES: &[&str] = &["declared_max_pages.i32", "declared_max_pages.i64", "host_grow_reach_pages.i32", "host_grow_reach_pages.i64"];

fn js_case(measure: &str, n: u64, id: String) -> crate::case::Case {
    use crate::case::{Action, Expect, Plan, Step};
    let (address, i64kw) = kind_of(measure);
    let step = |action: Action| Step::new(action, Expect::Any);
    let (wasm, actions) = if measure.starts_with("declared_max") {
        (Some(wat(&format!("(module (memory {i64kw}0 {n}))"))), vec![Action::Instantiate])
    } else {
        (
            None,
            vec![
                Action::NewMemory { name: "m".into(), initial: 1, maximum: None, shared: false, address, js_form: None },
                Action::Grow { memory: "m".into(), delta: n, js_form: None, address },
                // A grow that reports success must have grown (V8 in Node 24
                // once took the delta modulo 2^32 and grew nothing).
                Action::Size { memory: "m".into() },
            ],
        )
    };
    let plan = Plan {
        wasm,
        features: if address == AddressType::I64 { vec![crate::case::Feature::Memory64] } else { vec![] },
        without: vec![],
        host: crate::case::Host::default(),
        imports: vec![],
        modules: vec![],
        actions: actions.clone(),
    };
    crate::case::Case {
        file: format!("{id}.yaml").into(),
        id,
        summary: format!("probe {measure} at {n}"),
        tags: vec![],
        source: None,
        wat: None,
        steps: actions.into_iter().map(step).collect(),
        plan: std::sync::Arc::new(plan),
        vary: BTreeMap::new(),
        timeout: None,
    }
}

/// Whether a probe case went through (a host grow by `n` really grew to
/// `1 + n` pages), or its failure text.
fn js_ok(outcomes: &[crate::outcome::Outcome], grow: Option<u64>) -> Result<(), String> {
    use crate::outcome::Outcome;
    for o in outcomes {
        match o {
            Outcome::Pages(p) if grow.is_some_and(|n| *p != 1 + n) => {
                return Err(format!("grow by {} reported success, but the memory is {p} pages", grow.unwrap_or(0)));
            }
            Outcome::Ok | Outcome::Returns(_) | Outcome::Pages(_) => {}
            other => return Err(other.message().map(str::to_string).unwrap_or_else(|| other.kind().to_string())),
        }
    }
    Ok(())
}

/// The JS columns' measures, by k-ary search in rounds through the runner.
pub fn run_js(columns: &[&'static Column], opts: &crate::runner::RunOptions) -> BTreeMap<(&'static str, &'static str), Measure> {
    let mut out = BTreeMap::new();
    for measure in JS_MEASURES {
        let (address, _) = kind_of(measure);
        let hi = match (measure.starts_with("declared_max"), address) {
            (true, AddressType::I32) => u32::MAX as u64,
            (true, AddressType::I64) => u64::MAX >> 1,
            (false, AddressType::I32) => 65536,
            (false, AddressType::I64) => 1 << 48,
        };
        // Per column: (largest good, smallest bad, its failure); None until
        // the lower bound (0) is known to work.
        let mut state: Vec<(u64, u64, Option<String>, bool)> = columns.iter().map(|_| (0, hi + 1, None, true)).collect();
        let mut first = true;
        for _round in 0..64 {
            let mut cases = Vec::new();
            let mut cells = Vec::new();
            let mut asked: Vec<(usize, u64, usize)> = Vec::new(); // (column, point, case)
            for (ci, (good, bad, _, alive)) in state.iter().enumerate() {
                if !*alive || *bad - *good <= 1 && !first {
                    continue;
                }
                let points: Vec<u64> = if first {
                    vec![0, hi]
                } else {
                    let step = ((*bad - *good) / 9).max(1);
                    (1..=8).map(|k| good + k * step).filter(|p| p < bad).collect()
                };
                for p in points {
                    cases.push(js_case(measure, p, format!("probe-{measure}-{ci}-{p}")));
                    cells.push((cases.len() - 1, columns[ci]));
                    asked.push((ci, p, cases.len() - 1));
                }
            }
            if cases.is_empty() {
                break;
            }
            let cases = std::sync::Arc::new(cases);
            let mut results: BTreeMap<usize, Vec<crate::outcome::Outcome>> = BTreeMap::new();
            crate::runner::run_blocking(cases.clone(), cells, opts.clone(), |ev| {
                if let crate::runner::RunEvent::Cell(c) = ev {
                    results.insert(c.case, c.outcomes);
                }
                true
            });
            for (ci, p, case) in asked {
                let grow = measure.starts_with("host_grow").then_some(p);
                let r = results.get(&case).map(|o| js_ok(o, grow)).unwrap_or_else(|| Err("the column did not run".into()));
                let (good, bad, fail, alive) = &mut state[ci];
                match r {
                    Ok(()) if p > *good || (first && p == 0) => *good = p.max(*good),
                    Ok(()) => {}
                    Err(e) if first && p == 0 => {
                        *alive = false;
                        *fail = Some(e);
                    }
                    Err(e) if p < *bad => {
                        *bad = p;
                        *fail = Some(e);
                    }
                    Err(_) => {}
                }
            }
            first = false;
        }
        for (ci, (good, bad, fail, alive)) in state.into_iter().enumerate() {
            let m = if !alive {
                Measure::not_measured("pages", fail.unwrap_or_default())
            } else {
                let value = if measure.starts_with("host_grow") { good + 1 } else { good };
                Measure::of(value as f64, "pages").with_message(if bad > hi { None } else { fail })
            };
            out.insert((columns[ci].id, *measure), m);
        }
    }
    out
}
