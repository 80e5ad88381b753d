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

impl Limits {
    /// The measures some column has, in table order (a file from an older
    /// tool, or from `probe --measures`, has fewer).
    pub fn present(&self) -> Vec<&'static str> {
        MEASURES.iter().copied().filter(|m| self.engines.values().any(|e| e.measures.contains_key(*m))).collect()
    }
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
    "declared_max_pages.shared",
    "declared_max_pages.i32-page1",
    "initial_pages.i32",
    "initial_pages.i64",
    "initial_pages.shared",
    "initial_pages.i32-page1",
    "grow_reach_pages.i32",
    "grow_reach_pages.i64",
    "grow_reach_pages.shared",
    "grow_reach_pages.i32-page1",
    "host_grow_reach_pages.i32",
    "host_grow_reach_pages.i64",
    "host_grow_reach_pages.shared",
    "host_grow_reach_pages.i32-page1",
    "reserved_bytes.i32",
    "reserved_bytes.i64",
    "reserved_bytes.shared",
    "coexisting_memories.i32",
    "coexisting_memories.i64",
    "coexisting_memories.shared",
    "coexisting_under_16gib_as.i32",
    "coexisting_under_16gib_as.i64",
    "coexisting_under_16gib_as.shared",
    "grow_cost.1gib",
    "grow_cost.4gib",
    "grow_cost.16gib",
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
use crate::case::{AddressType, Feature, Val};

const GIB_PAGES: u64 = 16384;

/// How a probe's memories are declared: the suffix of a measure's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    I32,
    I64,
    /// A shared i32 memory (threads). Shared memories must declare a
    /// maximum: 65,536 pages where the measure has none.
    Shared,
    /// An i32 memory of 1-byte pages (custom page sizes).
    Page1,
}

impl Kind {
    pub fn of(measure: &str) -> Kind {
        match measure.rsplit('.').next() {
            Some("i64") => Kind::I64,
            Some("shared") => Kind::Shared,
            Some("i32-page1") => Kind::Page1,
            _ => Kind::I32,
        }
    }

    pub fn address(self) -> AddressType {
        if self == Kind::I64 { AddressType::I64 } else { AddressType::I32 }
    }

    /// The proposal the kind needs.
    pub fn features(self) -> Vec<Feature> {
        match self {
            Kind::I32 => vec![],
            Kind::I64 => vec![Feature::Memory64],
            Kind::Shared => vec![Feature::Threads],
            Kind::Page1 => vec![Feature::CustomPageSizes],
        }
    }

    pub fn page_bytes(self) -> u64 {
        if self == Kind::Page1 { 1 } else { 65536 }
    }

    /// The largest size (pages) a bisection over sizes tries: one past
    /// the 4 GiB of a 32-bit address space (so what one more does is
    /// seen), 2^48 + 1 pages for 64-bit, and for 1-byte pages the largest
    /// an i32 memory's limits can encode.
    fn size_bound(self) -> u64 {
        match self {
            Kind::I64 => (1 << 48) + 1,
            Kind::Page1 => u32::MAX as u64,
            _ => 65537,
        }
    }

    /// The largest maximum the binary format can encode: a u32, or a u64
    /// for 64-bit memories (the bisection stays below 2^63).
    fn encoding_bound(self) -> u64 {
        if self == Kind::I64 { u64::MAX >> 1 } else { u32::MAX as u64 }
    }

    /// A memory type in WAT: `i64 1 2 shared (pagesize 1)`.
    fn memtype(self, min: u64, max: Option<u64>) -> String {
        let max = max.or((self == Kind::Shared).then_some(65536));
        let mut t = String::new();
        if self == Kind::I64 {
            t.push_str("i64 ");
        }
        t.push_str(&min.to_string());
        if let Some(m) = max {
            t.push_str(&format!(" {m}"));
        }
        match self {
            Kind::Shared => t.push_str(" shared"),
            Kind::Page1 => t.push_str(" (pagesize 1)"),
            _ => {}
        }
        t
    }

    /// A host memory of this kind, where the host API can make one
    /// (the session's `MemorySpec` has 64 KiB pages only).
    fn host_spec(self, initial: u64) -> Option<MemorySpec> {
        (self != Kind::Page1).then(|| MemorySpec {
            initial,
            maximum: (self == Kind::Shared).then_some(65536),
            shared: self == Kind::Shared,
            address: self.address(),
        })
    }

    fn value_type(self) -> &'static str {
        if self == Kind::I64 { "i64" } else { "i32" }
    }

    fn val(self, n: u64) -> Val {
        if self == Kind::I64 { Val::I64(n as i64) } else { Val::I32(n as u32 as i32) }
    }

    /// A module with one exported memory `m` of this kind, `g` (memory.grow)
    /// and `s` (memory.size).
    fn grow_module(self, initial: u64) -> String {
        let ty = self.value_type();
        format!(
            "(module (memory (export \"m\") {}) (func (export \"g\") (param {ty}) (result {ty}) (memory.grow (local.get 0))) (func (export \"s\") (result {ty}) (memory.size)))",
            self.memtype(initial, None)
        )
    }
}

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

/// This process's resident and virtual size (VmRSS, VmSize) and peak RSS (VmHWM), bytes.
pub fn own_memory() -> (u64, u64, u64) {
    process_memory("self")
}

/// A process's VmRSS, VmSize and VmHWM (bytes), from /proc/PID/status.
pub fn process_memory(pid: &str) -> (u64, u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status.lines().find(|l| l.starts_with(name)).and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok()).unwrap_or(0) * 1024
    };
    (field("VmRSS:"), field("VmSize:"), field("VmHWM:"))
}

/// The text of a size the probe does not try because it could exceed the
/// memory budget.
const OVER_BUDGET: &str = "not tried: over the";

fn gib(bytes: u64) -> String {
    format!("{:.1} GiB", bytes as f64 / (1u64 << 30) as f64)
}

/// How much memory a probe may grow to without leaving the budget: none
/// (no limit) when the engine does not commit what it grows — it reserves
/// address space and the kernel commits pages only when they are touched —
/// which a 256 MiB grow tells; else the budget less what is resident and a
/// 512 MiB margin.
struct Room {
    bytes: Option<u64>,
    why: String,
}

impl Room {
    fn measure<S: Store>(fresh: &mut dyn FnMut(bool, &[Feature]) -> Result<S, String>, budget: Option<u64>) -> Result<Room, String> {
        let Some(budget) = budget else { return Ok(Room { bytes: None, why: String::new() }) };
        let mut s = fresh(false, &[])?;
        let m = s.new_memory(&MemorySpec { initial: 0, maximum: None, shared: false, address: AddressType::I32 }).map_err(fault_text)?;
        let (before, _, _) = own_memory();
        s.grow(&m, 4096).map_err(fault_text)?;
        let (after, _, _) = own_memory();
        let raised = after.saturating_sub(before);
        if raised < 128 << 20 {
            return Ok(Room { bytes: None, why: String::new() });
        }
        drop(s);
        let (resident, _, _) = own_memory();
        let bytes = budget.saturating_sub(resident).saturating_sub(512 << 20);
        Ok(Room {
            bytes: Some(bytes),
            why: format!(
                "{OVER_BUDGET} {} memory budget: this engine commits what it grows (a 256 MiB grow raised its RSS by {} MiB), so sizes above {} are not tried",
                gib(budget),
                raised >> 20,
                gib(bytes)
            ),
        })
    }

    /// The largest size (pages of `page` bytes) worth trying under `bound`.
    fn clamp(&self, bound: u64, page: u64) -> u64 {
        self.bytes.map_or(bound, |b| bound.min(b / page))
    }
}

/// The note of a bound the budget stopped the search at.
const AT_LEAST: &str = "at least this:";

/// A size bisection's result: the bound, with the failure one past it, or,
/// when the bound was clamped by the budget, "at least" with why.
fn sized(n: u64, why: Option<String>, clamped: bool, room: &Room) -> Measure {
    if clamped && why.is_none() {
        Measure::of(n as f64, "pages").with_note(format!("{AT_LEAST} {}", room.why))
    } else {
        Measure::of(n as f64, "pages").with_message(why)
    }
}

/// Runs one measure with fresh stores from `store` (`capped`: a 1 MiB host
/// cap; the proposals the measure's kind needs switched on), within
/// `budget` bytes resident.
pub fn measure<S: Store>(name: &str, store: &mut dyn FnMut(bool, &[Feature]) -> Result<S, Fault>, budget: Option<u64>) -> Measure {
    let kind = Kind::of(name);
    let base = name.split('.').next().unwrap_or(name);
    let features = kind.features();
    let mut any = |capped: bool, f: &[Feature]| store(capped, f).map_err(fault_text);
    let result: Result<Measure, String> = (|| {
        Ok(match base {
            "declared_max_pages" => {
                let mut s = any(false, &features)?;
                let (n, why) = bisect(0, kind.encoding_bound(), |n| {
                    let wasm = wat(&format!("(module (memory {}))", kind.memtype(0, Some(n))));
                    s.compile(&wasm).map(|_| ()).map_err(fault_text)
                })?;
                Measure::of(n as f64, "pages").with_message(why)
            }
            "initial_pages" => {
                let room = Room::measure(&mut any, budget)?;
                let hi = room.clamp(kind.size_bound(), kind.page_bytes());
                let (n, why) = bisect(0, hi, |n| {
                    let mut s = any(false, &features)?;
                    let max = (kind == Kind::Shared).then_some(n.max(1));
                    let m = s.compile(&wat(&format!("(module (memory (export \"m\") {}))", kind.memtype(n, max)))).map_err(fault_text)?;
                    s.instantiate(&m, &[]).map(|_| ()).map_err(fault_text)
                })?;
                sized(n, why, hi < kind.size_bound(), &room)
            }
            "grow_reach_pages" | "host_grow_reach_pages" => {
                let room = Room::measure(&mut any, budget)?;
                // Sizes up to the bound, which is one past the largest
                // valid size (for 1-byte pages, one past what the limits
                // can encode), so that what one page more does is seen.
                let bound = if kind == Kind::Page1 { 1 << 32 } else { kind.size_bound() };
                let hi = room.clamp(bound, kind.page_bytes());
                let host = base == "host_grow_reach_pages";
                let (n, why) = bisect(0, hi - 1, |delta| {
                    let mut s = any(false, &features)?;
                    let (grown, size) = match kind.host_spec(1).filter(|_| host) {
                        Some(spec) => {
                            let m = s.new_memory(&spec).map_err(fault_text)?;
                            (s.grow(&m, delta).map(|_| ()).map_err(fault_text), s.size(&m))
                        }
                        None => {
                            let module = s.compile(&wat(&kind.grow_module(1))).map_err(fault_text)?;
                            let inst = s.instantiate(&module, &[]).map_err(fault_text)?;
                            let grown = if host {
                                let m = s.exported_memory(&inst, "m").ok_or("no exported memory")?;
                                s.grow(&m, delta).map(|_| ()).map_err(fault_text)
                            } else {
                                match s.call(&inst, "g", &[kind.val(delta)]).map_err(fault_text)?.as_slice() {
                                    [Val::I32(-1)] | [Val::I64(-1)] => Err("memory.grow returned -1".to_string()),
                                    _ => Ok(()),
                                }
                            };
                            let size = match s.call(&inst, "s", &[]).map_err(fault_text)?.as_slice() {
                                [Val::I32(v)] => *v as u32 as u64,
                                [Val::I64(v)] => *v as u64,
                                _ => 0,
                            };
                            (grown, size)
                        }
                    };
                    grown?;
                    // A grow that reports success must have grown.
                    if size != 1 + delta {
                        return Err(format!("the grow by {delta} reported success, but the memory is {size} pages"));
                    }
                    Ok(())
                })?;
                let mut m = sized(1 + n, why, hi < bound, &room);
                if kind == Kind::Shared {
                    let said = "from 1 page with the declared maximum 65,536 (shared memories need one)";
                    let note = match m.note.take() {
                        Some(n) => format!("{said}; {n}"),
                        None => said.into(),
                    };
                    m = m.with_note(note);
                }
                m
            }
            "reserved_bytes" => {
                // VmSize growth over many live 1-page memories, divided.
                const K: u64 = 256;
                let spec = kind.host_spec(1).ok_or("no host memories of this kind")?;
                let mut s = any(false, &features)?;
                let (_, before, _) = own_memory();
                let mut live = Vec::new();
                for _ in 0..K {
                    live.push(s.new_memory(&spec).map_err(fault_text)?);
                }
                let (_, after, _) = own_memory();
                Measure::of(after.saturating_sub(before) as f64 / K as f64, "bytes").with_note(format!("VmSize growth over {K} live 1-page memories"))
            }
            "coexisting_memories" | "coexisting_under_16gib_as" => {
                const STOP: usize = 20000;
                let spec = kind.host_spec(1).ok_or("no host memories of this kind")?;
                let mut s = any(false, &features)?;
                let (_, base_vm, _) = own_memory();
                let mut live = Vec::new();
                let mut why = None;
                while live.len() < STOP {
                    match s.new_memory(&spec) {
                        Ok(m) => live.push(m),
                        Err(f) => {
                            why = Some(fault_text(f));
                            break;
                        }
                    }
                }
                if let (0, Some(why)) = (live.len(), &why) {
                    return Err(why.clone());
                }
                let mut m = Measure::of(live.len() as f64, "count").with_message(why.clone());
                if why.is_none() {
                    m = m.with_note(format!("stopped at {STOP}"));
                } else if base == "coexisting_under_16gib_as" {
                    m = m.with_note(format!("the probe process itself had {} of address space mapped before the first", gib(base_vm)));
                }
                m
            }
            "grow_cost" => {
                let pages = grow_cost_pages(name);
                let room = Room::measure(&mut any, budget)?;
                if room.clamp(pages, 65536) < pages {
                    return Ok(Measure::not_measured("s", format!("growing to {} {}", gib(pages * 65536), room.why.trim_start_matches("not tried: "))));
                }
                let (address, features) = if pages > 4 * GIB_PAGES { (AddressType::I64, vec![Feature::Memory64]) } else { (AddressType::I32, vec![]) };
                let mut s = any(false, &features)?;
                let m = s.new_memory(&MemorySpec { initial: 0, maximum: None, shared: false, address }).map_err(fault_text)?;
                let (rss, _, _) = own_memory();
                let start = std::time::Instant::now();
                let grown = s.grow(&m, pages);
                let secs = start.elapsed().as_secs_f64();
                let (_, _, peak) = own_memory();
                match grown {
                    Ok(_) => Measure::of(secs, "s").with_note(format!("peak RSS {:.0} MB ({:.0} MB before the grow)", peak as f64 / 1e6, rss as f64 / 1e6)),
                    Err(f) => Measure::not_measured("s", format!("the grow failed: {}", fault_text(f))),
                }
            }
            "host_cap" => {
                // A 1 MiB cap (16 pages); grow 1 page past it from wasm and from the host.
                let mut s = match any(true, &[]) {
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
    result.unwrap_or_else(|e| Measure::not_measured(unit_of(name), e))
}

/// The unit a measure is given in.
pub fn unit_of(name: &str) -> &'static str {
    if name.starts_with("reserved") {
        "bytes"
    } else if name.starts_with("coexisting") {
        "count"
    } else if name.starts_with("grow_cost") {
        "s"
    } else {
        "pages"
    }
}

// ------------------------------------------------------------------ the runs

use crate::engine::{js, Column, Launch};
use std::process::{Command, Stdio};
use std::time::Duration;

/// The longest one probe process may take.
const PROCESS_LIMIT: Duration = Duration::from_secs(600);

/// Measures that set RLIMIT_AS on their process, and to what.
fn address_limit(measure: &str) -> Option<u64> {
    measure.starts_with("coexisting_under_16gib_as").then_some(16 << 30)
}

/// The child side: `wasm-matrix __probe COLUMN MEASURE [--budget BYTES]`
/// prints one measure as JSON.
pub fn serve(column: &str, name: &str, budget: Option<u64>) -> i32 {
    let Some(Launch::Worker(make)) = crate::engine::spec(column).map(|c| c.launch) else {
        eprintln!("wasm-matrix __probe: `{column}` is not an embedded engine");
        return 2;
    };
    let m = make().probe(name, budget);
    println!("{}", serde_json::to_string(&m).expect("measures serialize"));
    0
}

/// A started probe process: its own process group (SIGKILLed when this
/// process dies, at the time limit or past the budget), with the measure's
/// address-space limit.
struct Probe {
    child: std::process::Child,
    budget: Watch,
    timer: std::sync::mpsc::Sender<()>,
    timed_out: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Probe {
    fn start(mut cmd: Command, name: &str, budget: Option<u64>) -> Result<Probe, String> {
        use std::os::unix::process::CommandExt;
        use std::sync::{atomic::AtomicBool, Arc};
        let limit = address_limit(name);
        cmd.process_group(0).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
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
        let child = cmd.spawn().map_err(|e| format!("cannot start the probe: {e}"))?;
        let budget = budget.map(|b| {
            let stop = Arc::new(AtomicBool::new(false));
            (crate::budget::watch(child.id(), b, stop.clone()), stop)
        });
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
        if let Some((_, stop)) = &budget {
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
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

type Watch = Option<(crate::budget::Verdict, std::sync::Arc<std::sync::atomic::AtomicBool>)>;

fn stopped(timed_out: &std::sync::atomic::AtomicBool, budget: &Watch) -> Option<String> {
    if timed_out.load(std::sync::atomic::Ordering::Relaxed) {
        return Some(format!("the probe took longer than {} s; killed", PROCESS_LIMIT.as_secs()));
    }
    budget.as_ref().and_then(|(v, _)| v.get())
}

/// One measure of an embedded column in its own process.
fn run_one(exe: &std::path::Path, column: &Column, name: &str, budget: Option<u64>) -> Measure {
    let mut cmd = Command::new(exe);
    cmd.args(["__probe", column.id, name]).env("RUST_BACKTRACE", "0");
    crate::engine::worker::own_child(&mut cmd);
    if let Some(b) = budget {
        cmd.args(["--budget", &b.to_string()]);
    }
    let answer = Probe::start(cmd, name, budget).and_then(Probe::finish);
    match answer {
        Ok(stdout) => serde_json::from_slice(&stdout).unwrap_or_else(|e| Measure::not_measured(unit_of(name), format!("unreadable probe output: {e}"))),
        Err(why) => Measure::not_measured(unit_of(name), why),
    }
}

/// The measures of a JS shell that need its process: `drivers/probe.js`
/// in it, observed through /proc and run under the measure's rlimit.
fn run_shell(shell: &js::Shell, name: &str, budget: Option<u64>) -> Measure {
    use std::io::{BufRead, Write};
    let unit = unit_of(name);
    let base = name.split('.').next().unwrap_or(name);
    let tail = name.rsplit('.').next().unwrap_or("i32");
    let words: [String; 3] = match base {
        "coexisting_memories" | "coexisting_under_16gib_as" => ["coexist".into(), tail.into(), "-".into()],
        "reserved_bytes" => ["reserve".into(), tail.into(), "256".into()],
        _ => {
            let pages = grow_cost_pages(name);
            if let Some(b) = budget.filter(|b| pages * 65536 + (512 << 20) > *b) {
                return Measure::not_measured(unit, format!("over the {} memory budget: growing to {} could commit that much", gib(b), gib(pages * 65536)));
            }
            ["grow".into(), pages.to_string(), "-".into()]
        }
    };
    let result: Result<Measure, String> = (|| {
        let script = js::script_file("probe", js::PROBE_JS)?;
        let (bin, args) = shell.command_for(&script)?;
        let mut cmd = Command::new(bin);
        cmd.args(args).args(&words);
        let mut probe = Probe::start(cmd, name, budget)?;
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
        let mut phase = move |next: &mut dyn FnMut() -> Option<serde_json::Value>| -> Result<_, String> {
            let first = next().ok_or("the probe script said nothing")?;
            if let Some(e) = said(&first, "error") {
                return Err(e);
            }
            let before = process_memory(&pid);
            writeln!(stdin).map_err(|e| e.to_string())?;
            let v = next().ok_or("the probe script said nothing more")?;
            let after = process_memory(&pid);
            let _ = writeln!(stdin);
            Ok((before, v, after))
        };
        let m = match base {
            "reserved_bytes" => phase(&mut next).map(|((_, before, _), v, (_, after, _))| match said(&v, "error") {
                Some(e) => Measure::not_measured(unit, format!("the 256 memories failed: {e}")),
                None => Measure::of(after.saturating_sub(before) as f64 / 256.0, "bytes").with_note("VmSize growth of the shell's process over 256 live 1-page memories"),
            }),
            "grow_cost" => phase(&mut next).map(|((rss, _, _), v, (_, _, peak))| match (said(&v, "error"), v.get("ms").and_then(|m| m.as_f64())) {
                (Some(e), _) => Measure::not_measured(unit, format!("the grow failed: {e}")),
                (None, ms) => Measure::of(ms.unwrap_or(0.0) / 1000.0, "s")
                    .with_note(format!("peak RSS of the shell's process {:.0} MB ({:.0} MB before the grow)", peak as f64 / 1e6, rss as f64 / 1e6)),
            }),
            _ => next().ok_or_else(|| "the probe script said nothing".to_string()).map(|v| {
                let count = v.get("count").and_then(|c| c.as_f64()).unwrap_or(0.0);
                if count == 0.0 {
                    return Measure::not_measured(unit, said(&v, "message").unwrap_or_default());
                }
                let m = Measure::of(count, "count").with_message(said(&v, "message"));
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

fn grow_cost_pages(name: &str) -> u64 {
    match name {
        "grow_cost.1gib" => GIB_PAGES,
        "grow_cost.4gib" => 4 * GIB_PAGES,
        _ => 16 * GIB_PAGES,
    }
}

/// What `probe` measures, and how.
#[derive(Debug, Clone, Default)]
pub struct ProbeOptions {
    /// Skip the 16 GiB grow.
    pub light: bool,
    /// Bytes each probe process may keep resident.
    pub budget: Option<u64>,
    /// Only these measures (names or families); all when empty.
    pub only: Vec<String>,
}

impl ProbeOptions {
    fn wants(&self, name: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|o| o == name || name.split('.').next() == Some(o.as_str()))
    }
}

/// Checks `--measures`: each a measure or a family of them.
pub fn check_measures(list: &[String]) -> Result<(), String> {
    for m in list {
        if !MEASURES.iter().any(|k| k == m || k.split('.').next() == Some(m.as_str())) {
            let mut families: Vec<&str> = MEASURES.iter().map(|k| k.split('.').next().unwrap_or(k)).collect();
            families.dedup();
            return Err(format!("unknown measure `{m}`: expected a measure (declared_max_pages.i64, ...) or one of {}", families.join(", ")));
        }
    }
    Ok(())
}

/// Measures every selected column.
pub fn run(columns: &[&'static Column], opts: &ProbeOptions, mut progress: impl FnMut(&str, &str, &Measure)) -> Limits {
    let exe = std::env::current_exe().unwrap_or_else(|_| "wasm-matrix".into());
    let names: Vec<&'static str> = MEASURES.iter().copied().filter(|n| opts.wants(n)).collect();
    // Asked once per column (for browsers it starts their `--version`).
    let available: Vec<Result<String, String>> = columns.iter().map(|c| c.availability()).collect();
    let js: Vec<&'static Column> = columns
        .iter()
        .zip(&available)
        .filter(|(c, a)| !matches!(c.launch, Launch::Worker(_)) && a.is_ok())
        .map(|(c, _)| *c)
        .collect();
    let mut run_opts = crate::runner::RunOptions::new(exe.clone());
    run_opts.memory_budget = opts.budget;
    let js_names: Vec<&'static str> = names.iter().copied().filter(|n| JS_FAMILIES.iter().any(|f| n.starts_with(f))).collect();
    let js_measures = if js.is_empty() || js_names.is_empty() { BTreeMap::new() } else { run_js(&js, &js_names, &run_opts) };
    let mut engines = BTreeMap::new();
    for (column, available) in columns.iter().zip(available) {
        let mut measures = BTreeMap::new();
        let unavailable = available.is_err();
        let version = available.unwrap_or_else(|why| format!("unavailable: {why}"));
        for name in &names {
            let unit = unit_of(name);
            let m = if opts.light && *name == "grow_cost.16gib" {
                Measure::not_measured(unit, "skipped (`probe --light`)")
            } else if unavailable {
                Measure::not_measured(unit, "the column is unavailable here")
            } else {
                match column.launch {
                    Launch::Worker(_) => run_one(&exe, column, name, opts.budget),
                    _ if js_names.contains(name) => js_measures.get(&(column.id, *name)).cloned().unwrap_or_else(|| Measure::not_measured(unit, "the column did not run")),
                    _ if name.starts_with("host_cap") => Measure::not_measured(unit, "the JS API has no host memory cap to set"),
                    Launch::Js(shell) => run_shell(&shell, name, opts.budget),
                    _ => Measure::not_measured(
                        unit,
                        "a browser's content processes are started by its driver: the tool neither sets their rlimits nor reads their address space",
                    ),
                }
            };
            progress(column.id, name, &m);
            measures.insert(name.to_string(), m);
        }
        engines.insert(column.id.to_string(), EngineLimits { version, measures });
    }
    Limits { host: Host::here(), engines }
}

/// A measure as a table cell: the value (MiB for bytes), or `-`; `≥`
/// where the budget stopped the search.
pub fn cell(m: &Measure) -> String {
    // (A shared memory's note starts with its declared maximum.)
    let at_least = if m.note.as_deref().is_some_and(|n| n.contains(AT_LEAST)) { "≥" } else { "" };
    match m.value {
        Some(v) if m.unit == "bytes" && v < (1 << 20) as f64 => format!("{:.0} KiB", v / 1024.0),
        Some(v) if m.unit == "bytes" => format!("{:.1} MiB", v / (1 << 20) as f64),
        Some(v) if m.unit == "s" => format!("{v:.2} s"),
        Some(v) => format!("{at_least}{v}"),
        None => "-".into(),
    }
}

/// The tables `probe` prints: one per measure family, engines as columns.
pub fn tables(limits: &Limits) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let ids: Vec<&String> = limits.engines.keys().collect();
    let present = limits.present();
    let mut families: Vec<&str> = present.iter().map(|m| m.split('.').next().unwrap_or(m)).collect();
    families.dedup();
    for fam in families {
        let _ = writeln!(out, "\n{fam}");
        let _ = write!(out, "  {:<34}", "measure");
        for id in &ids {
            let _ = write!(out, " {:>18}", id);
        }
        out.push('\n');
        for name in present.iter().filter(|m| m.split('.').next() == Some(fam)) {
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
        let m = make().probe("host_cap", None);
        assert_eq!(m.value, Some(16.0), "{m:?}");
        let said = m.message.unwrap();
        assert!(said.contains("memory.grow one page past it: [I32(-1)]"), "{said}");
        let m = make().probe("declared_max_pages.i32", None);
        assert_eq!(m.value, Some(65536.0), "{m:?}");
        assert!(m.message.is_some_and(|t| t.contains("65536")));
    }
}

// ------------------------------------------------------------------ JS columns

/// The measure families a JS column is probed for through the harness, as
/// ordinary cases: each round runs 8 points per (column, measure) between
/// its known good and bad bounds, every measure and column at once (a
/// round starts the browsers once), so a 2^63 range takes about 21 rounds.
const JS_FAMILIES: &[&str] = &["declared_max_pages", "initial_pages", "grow_reach_pages", "host_grow_reach_pages"];

/// The points a JS measure searches: 0..=hi (sizes, or grow deltas).
fn js_hi(measure: &str) -> u64 {
    let kind = Kind::of(measure);
    match measure.split('.').next() {
        Some("declared_max_pages") => kind.encoding_bound(),
        Some("initial_pages") => kind.size_bound(),
        _ if kind == Kind::Page1 => 1 << 32,
        _ => kind.size_bound() - 1,
    }
}

fn js_case(measure: &str, n: u64, id: String) -> crate::case::Case {
    use crate::case::{Action, Expect, Step, ValType};
    let kind = Kind::of(measure);
    let base = measure.split('.').next().unwrap_or(measure);
    let ty = if kind == Kind::I64 { ValType::I64 } else { ValType::I32 };
    let invoke = |name: &str, args: Vec<Val>| Action::Invoke { name: name.into(), args, results: vec![ty], instance: None };
    let (wasm, actions) = match (base, kind.host_spec(1)) {
        ("declared_max_pages", _) => (Some(wat(&format!("(module (memory {}))", kind.memtype(0, Some(n))))), vec![Action::Instantiate]),
        ("initial_pages", _) => {
            let max = (kind == Kind::Shared).then_some(n.max(1));
            (Some(wat(&format!("(module (memory (export \"m\") {}))", kind.memtype(n, max)))), vec![Action::Instantiate])
        }
        ("host_grow_reach_pages", Some(spec)) => (
            None,
            vec![
                Action::NewMemory { name: "m".into(), initial: 1, maximum: spec.maximum, shared: spec.shared, address: spec.address, js_form: None },
                Action::Grow { memory: "m".into(), delta: n, js_form: None, address: spec.address },
                // A grow that reports success must have grown (V8 in Node 24
                // once took the delta modulo 2^32 and grew nothing).
                Action::Size { memory: "m".into() },
            ],
        ),
        ("host_grow_reach_pages", None) => (
            Some(wat(&kind.grow_module(1))),
            vec![Action::Instantiate, Action::Grow { memory: "m".into(), delta: n, js_form: None, address: kind.address() }, invoke("s", vec![])],
        ),
        _ => (Some(wat(&kind.grow_module(1))), vec![Action::Instantiate, invoke("g", vec![kind.val(n)]), invoke("s", vec![])]),
    };
    let plan = crate::case::Plan {
        wasm,
        features: kind.features(),
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
        steps: actions.into_iter().map(|a| Step::new(a, Expect::Any)).collect(),
        plan: std::sync::Arc::new(plan),
        vary: BTreeMap::new(),
        // A case that may allocate 1 GiB or more has a time limit of its
        // own, which makes the runner run it alone (src/runner.rs
        // `memory_heavy`): engines that commit what they allocate (WebKit
        // does) then never hold several such memories at once.
        timeout: (base != "declared_max_pages" && n.saturating_mul(kind.page_bytes()) >= 1 << 30).then_some(60.0),
        commits_at_most: None,
    }
}

/// Whether a probe case went through — for a grow by `n`, that it
/// returned no -1 and the memory then had `1 + n` pages — or its failure.
fn js_ok(outcomes: &[crate::outcome::Outcome], grow: Option<u64>) -> Result<(), String> {
    use crate::outcome::Outcome;
    let last = outcomes.len().saturating_sub(1);
    for (i, o) in outcomes.iter().enumerate() {
        let size = match o {
            Outcome::Pages(p) => Some(*p),
            Outcome::Returns(v) => match v.as_slice() {
                [Val::I32(-1)] | [Val::I64(-1)] if i < last => return Err("memory.grow returned -1".into()),
                [Val::I32(s)] => Some(*s as u32 as u64),
                [Val::I64(s)] => Some(*s as u64),
                _ => None,
            },
            Outcome::Ok => None,
            other => return Err(other.message().map(str::to_string).unwrap_or_else(|| other.kind().to_string())),
        };
        if let (Some(n), Some(size), true) = (grow, size, i == last) {
            if size != 1 + n {
                return Err(format!("the grow by {n} reported success, but the memory is {size} pages"));
            }
        }
    }
    Ok(())
}

/// The JS columns' harness measures, by k-ary search in rounds through the runner.
pub fn run_js(columns: &[&'static Column], names: &[&'static str], opts: &crate::runner::RunOptions) -> BTreeMap<(&'static str, &'static str), Measure> {
    struct Search {
        column: usize,
        measure: &'static str,
        good: u64,
        bad: u64,
        fail: Option<String>,
        alive: bool,
    }
    let mut searches: Vec<Search> = names
        .iter()
        .flat_map(|m| (0..columns.len()).map(move |c| Search { column: c, measure: m, good: 0, bad: js_hi(m) + 1, fail: None, alive: true }))
        .collect();
    for round in 0..64 {
        let mut cases = Vec::new();
        let mut cells = Vec::new();
        let mut asked: Vec<(usize, u64)> = Vec::new(); // (search, point), by case
        for (si, s) in searches.iter().enumerate() {
            if !s.alive || (round > 0 && s.bad - s.good <= 1) {
                continue;
            }
            let points: Vec<u64> = if round == 0 {
                vec![0, js_hi(s.measure)]
            } else {
                let step = ((s.bad - s.good) / 9).max(1);
                (1..=8).map(|k| s.good + k * step).filter(|p| *p < s.bad).collect()
            };
            for p in points {
                cases.push(js_case(s.measure, p, format!("probe-{}-{}-{p}", s.measure, columns[s.column].id)));
                cells.push((cases.len() - 1, columns[s.column]));
                asked.push((si, p));
            }
        }
        if cases.is_empty() {
            break;
        }
        let started = std::time::Instant::now();
        let count = cases.len();
        let cases = std::sync::Arc::new(cases);
        let mut results: BTreeMap<usize, Vec<crate::outcome::Outcome>> = BTreeMap::new();
        crate::runner::run_blocking(cases.clone(), cells, opts.clone(), |ev| {
            if let crate::runner::RunEvent::Cell(c) = ev {
                results.insert(c.case, c.outcomes);
            }
            true
        });
        eprintln!("  JS round {}: {count} cases in {:.1} s", round + 1, started.elapsed().as_secs_f64());
        for (case, (si, p)) in asked.into_iter().enumerate() {
            let s = &mut searches[si];
            let grow = s.measure.contains("grow_reach").then_some(p);
            let r = results.get(&case).map(|o| js_ok(o, grow)).unwrap_or_else(|| Err("the column did not run".into()));
            match r {
                Ok(()) => s.good = s.good.max(p),
                Err(e) if round == 0 && p == 0 => {
                    s.alive = false;
                    s.fail = Some(e);
                }
                Err(e) if p < s.bad => {
                    s.bad = p;
                    s.fail = Some(e);
                }
                Err(_) => {}
            }
        }
    }
    let mut out = BTreeMap::new();
    for s in searches {
        let m = if !s.alive {
            Measure::not_measured("pages", s.fail.unwrap_or_default())
        } else {
            let value = if s.measure.contains("grow_reach") { s.good + 1 } else { s.good };
            Measure::of(value as f64, "pages").with_message(if s.bad > js_hi(s.measure) { None } else { s.fail })
        };
        out.insert((columns[s.column].id, s.measure), m);
    }
    out
}
