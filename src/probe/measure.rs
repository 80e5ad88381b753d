//! The measures of `wasm-matrix probe` on an embedded column, written once
//! on the backend primitives ([`AnyStore`]): each column's memory limits,
//! reservations and costs, measured with real modules and real host calls —
//! bisection where a bound is searched, never a constant read. The `probe`
//! command runs each in its own process; this file only measures. What is
//! measured is a typed row of [`MEASURES`](crate::results::measures::MEASURES).

use crate::case::{AddressType, Feature, Val};
use crate::engine::backend::{AnyStore, Fault, Handle, MemorySpec};
use crate::results::measures::{Kind, Measure, MeasureSpec, Unit, What, AT_LEAST};

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


/// How a measure's memories are made and sized.
impl Kind {
    /// The largest size (pages) a bisection over sizes tries: one past
    /// the 4 GiB of a 32-bit address space (so what one more does is
    /// seen), 2^48 + 1 pages for 64-bit, and for 1-byte pages the largest
    /// an i32 memory's limits can encode.
    pub(crate) fn size_bound(self) -> u64 {
        match self {
            Kind::I64 => (1 << 48) + 1,
            Kind::Page1 => u32::MAX as u64,
            _ => 65537,
        }
    }

    /// The largest maximum the binary format can encode: a u32, or a u64
    /// for 64-bit memories (the bisection stays below 2^63).
    pub(crate) fn encoding_bound(self) -> u64 {
        if self == Kind::I64 { u64::MAX >> 1 } else { u32::MAX as u64 }
    }

    /// A memory type in WAT: `i64 1 2 shared (pagesize 1)`.
    pub(crate) fn memtype(self, min: u64, max: Option<u64>) -> String {
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
    pub(crate) fn host_spec(self, initial: u64) -> Option<MemorySpec> {
        (self != Kind::Page1).then(|| MemorySpec {
            initial,
            maximum: (self == Kind::Shared).then_some(65536),
            shared: self == Kind::Shared,
            address: self.address(),
        })
    }

    pub(crate) fn value_type(self) -> &'static str {
        if self == Kind::I64 { "i64" } else { "i32" }
    }

    pub(crate) fn val(self, n: u64) -> Val {
        if self == Kind::I64 { Val::I64(n as i64) } else { Val::I32(n as u32 as i32) }
    }

    /// A module with one exported memory `m` of this kind, `g` (memory.grow)
    /// and `s` (memory.size).
    pub(crate) fn grow_module(self, initial: u64) -> String {
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

pub fn wat(text: &str) -> Vec<u8> {
    let buf = wast::parser::ParseBuffer::new(text).expect("the probe's own WAT lexes");
    let mut m: wast::Wat = wast::parser::parse(&buf).expect("the probe's own WAT parses");
    m.encode().expect("the probe's own WAT encodes")
}

/// This process's resident and virtual size (VmRSS, VmSize) and peak RSS (VmHWM), bytes.
/// The address space `coexisting_under_16gib_as` gives its process beyond
/// what the process had mapped before its first memory: an embedded probe
/// sets it on itself at that point, a shell's process gets it from the
/// probe (prlimit) when its script says it is about to begin.
pub const AS_BEYOND_BASELINE: u64 = 16 << 30;

/// How `coexisting_under_16gib_as` was measured, for its note in limits.json.
pub fn beyond_note(baseline: u64) -> String {
    format!("address space limited to 16 GiB beyond the {} the process had mapped before its first memory", gib(baseline))
}

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

pub fn gib(bytes: u64) -> String {
    format!("{:.1} GiB", bytes as f64 / (1u64 << 30) as f64)
}

/// Memories of one type: made by the host, or, on an engine whose API makes
/// no host memories (WAMR, wasm3), each the exported memory of a new
/// instance of one module that declares it (compiled once; with a
/// memory.grow in its code: WAMR turns the memory of a module without one
/// into a single page).
struct Maker {
    spec: MemorySpec,
    module: Option<Handle>,
}

impl Maker {
    fn new(spec: MemorySpec) -> Self {
        Maker { spec, module: None }
    }

    fn make(&mut self, s: &mut dyn AnyStore) -> Result<Handle, String> {
        if self.module.is_none() {
            match s.new_memory(&self.spec) {
                Err(Fault::Unsupported(_)) => {}
                other => return other.map_err(fault_text),
            }
            let spec = &self.spec;
            let max = spec.maximum.map(|m| format!(" {m}")).unwrap_or_default();
            let (index, at) = if spec.address == AddressType::I64 { (" i64", "i64") } else { ("", "i32") };
            let shared = if spec.shared { " shared" } else { "" };
            let text = format!("(module (memory (export \"m\"){index} {}{max}{shared}) (func (drop (memory.grow ({at}.const 0)))))", spec.initial);
            self.module = Some(s.compile(&wat(&text)).map_err(fault_text)?);
        }
        let module = self.module.as_ref().expect("compiled above");
        let inst = s.instantiate(module).map_err(fault_text)?;
        s.exported_memory(&inst, "m").ok_or_else(|| "no exported memory".to_string())
    }
}

/// One memory of this type (see [`Maker`]).
fn made(s: &mut dyn AnyStore, spec: &MemorySpec) -> Result<Handle, String> {
    Maker::new(*spec).make(s)
}

/// Fresh stores of the column under measure: `capped`, a 1 MiB host cap;
/// the proposals given switched on.
pub type Stores<'a> = dyn FnMut(bool, &[Feature]) -> Result<Box<dyn AnyStore>, Fault> + 'a;

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
    fn measure(fresh: &mut Fresh, budget: Option<u64>) -> Result<Room, String> {
        let Some(budget) = budget else { return Ok(Room { bytes: None, why: String::new() }) };
        let mut s = fresh(false, &[])?;
        let m = made(&mut *s, &MemorySpec { initial: 0, maximum: None, shared: false, address: AddressType::I32 })?;
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

/// A size bisection's result: the bound, with the failure one past it, or,
/// when the bound was clamped by the budget, "at least" with why.
fn sized(n: u64, why: Option<String>, clamped: bool, room: &Room) -> Measure {
    if clamped && why.is_none() {
        Measure::of(n as f64, Unit::Pages).with_note(format!("{AT_LEAST} {}", room.why))
    } else {
        Measure::of(n as f64, Unit::Pages).with_message(why)
    }
}

/// Runs one measure with fresh stores from `stores`, within `budget` bytes
/// resident.
pub fn measure(spec: &MeasureSpec, stores: &mut Stores, budget: Option<u64>) -> Measure {
    let kind = spec.kind;
    let mut fresh = |capped: bool, f: &[Feature]| stores(capped, f).map_err(fault_text);
    let result = match spec.what {
        What::DeclaredMax => fresh(false, &kind.features()).and_then(|mut s| declared_max(kind, &mut *s)),
        What::InitialPages => initial_pages(kind, &mut fresh, budget),
        What::GrowReach => grow_reach(kind, false, &mut fresh, budget),
        What::HostGrowReach => grow_reach(kind, true, &mut fresh, budget),
        What::Reserved => reserved(kind, &mut fresh),
        What::Coexisting => coexisting(kind, false, &mut fresh),
        What::CoexistingUnder16GibAs => coexisting(kind, true, &mut fresh),
        What::GrowCost => grow_cost(spec.bytes() / 65536, &mut fresh, budget),
        What::HostCap => Ok(host_cap(&mut fresh)),
        What::CoexistingInPage | What::WorkersWithMemory | What::GrowCostInPage | What::SharedWithoutIsolation | What::CoexistingUnderAs => {
            Err("an in-page measure: the JS columns' (an embedder has no page or isolate)".into())
        }
    };
    result.unwrap_or_else(|e| Measure::not_measured(spec.unit(), e))
}

/// Fresh stores, their faults as text.
type Fresh<'a> = dyn FnMut(bool, &[Feature]) -> Result<Box<dyn AnyStore>, String> + 'a;

fn declared_max(kind: Kind, s: &mut dyn AnyStore) -> Result<Measure, String> {
    let (n, why) = bisect(0, kind.encoding_bound(), |n| {
        let wasm = wat(&format!("(module (memory {}))", kind.memtype(0, Some(n))));
        s.compile(&wasm).map(|_| ()).map_err(fault_text)
    })?;
    Ok(Measure::of(n as f64, Unit::Pages).with_message(why))
}

fn initial_pages(kind: Kind, fresh: &mut Fresh, budget: Option<u64>) -> Result<Measure, String> {
    let room = Room::measure(fresh, budget)?;
    let hi = room.clamp(kind.size_bound(), kind.page_bytes());
    let (n, why) = bisect(0, hi, |n| {
        let mut s = fresh(false, &kind.features())?;
        let max = (kind == Kind::Shared).then_some(n.max(1));
        let m = s.compile(&wat(&format!("(module (memory (export \"m\") {}))", kind.memtype(n, max)))).map_err(fault_text)?;
        s.instantiate(&m).map(|_| ()).map_err(fault_text)
    })?;
    Ok(sized(n, why, hi < kind.size_bound(), &room))
}

/// How far a grow reaches from 1 page: by `memory.grow`, or (`host`) by
/// the host API's grow.
fn grow_reach(kind: Kind, host: bool, fresh: &mut Fresh, budget: Option<u64>) -> Result<Measure, String> {
    let room = Room::measure(fresh, budget)?;
    // Sizes up to the bound, which is one past the largest valid size (for
    // 1-byte pages, one past what the limits can encode), so that what one
    // page more does is seen.
    let bound = if kind == Kind::Page1 { 1 << 32 } else { kind.size_bound() };
    let hi = room.clamp(bound, kind.page_bytes());
    let (n, why) = bisect(0, hi - 1, |delta| {
        let mut s = fresh(false, &kind.features())?;
        let (grown, size) = grow_once(kind, host, &mut *s, delta)?;
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
    Ok(m)
}

/// One grow by `delta` of a 1-page memory: whether it went through, and the
/// size after it.
fn grow_once(kind: Kind, host: bool, s: &mut dyn AnyStore, delta: u64) -> Result<(Result<(), String>, u64), String> {
    if let Some(spec) = kind.host_spec(1).filter(|_| host) {
        let m = made(s, &spec)?;
        return Ok((s.grow(&m, delta).map(|_| ()).map_err(fault_text), s.size(&m)));
    }
    let module = s.compile(&wat(&kind.grow_module(1))).map_err(fault_text)?;
    let inst = s.instantiate(&module).map_err(fault_text)?;
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
    Ok((grown, size))
}

/// VmSize growth over many live 1-page memories, divided.
fn reserved(kind: Kind, fresh: &mut Fresh) -> Result<Measure, String> {
    const K: u64 = 256;
    let spec = kind.host_spec(1).ok_or("no host memories of this kind")?;
    let mut s = fresh(false, &kind.features())?;
    let (_, before, _) = own_memory();
    let mut maker = Maker::new(spec);
    let mut live = Vec::new();
    for _ in 0..K {
        live.push(maker.make(&mut *s)?);
    }
    let (_, after, _) = own_memory();
    Ok(Measure::of(after.saturating_sub(before) as f64 / K as f64, Unit::Bytes).with_note(format!("VmSize growth over {K} live 1-page memories")))
}

/// Live 1-page memories until one fails (`under_as`: under 16 GiB of
/// address space beyond what the process has mapped).
fn coexisting(kind: Kind, under_as: bool, fresh: &mut Fresh) -> Result<Measure, String> {
    const STOP: usize = 20000;
    let spec = kind.host_spec(1).ok_or("no host memories of this kind")?;
    let mut s = fresh(false, &kind.features())?;
    let (_, base_vm, _) = own_memory();
    if under_as {
        // 16 GiB beyond what this process has mapped now: the count does
        // not depend on the tool's own size.
        let bytes = base_vm + AS_BEYOND_BASELINE;
        crate::budget::rlimit_as(0, Some((bytes, bytes))).map_err(|e| format!("cannot limit the address space: {e}"))?;
    }
    let mut maker = Maker::new(spec);
    let mut live = Vec::new();
    let mut why = None;
    while live.len() < STOP {
        match maker.make(&mut *s) {
            Ok(m) => live.push(m),
            Err(f) => {
                why = Some(f);
                break;
            }
        }
    }
    if let (0, Some(why)) = (live.len(), &why) {
        return Err(why.clone());
    }
    let mut m = Measure::of(live.len() as f64, Unit::Count).with_message(why.clone());
    if why.is_none() {
        m = m.with_note(format!("stopped at {STOP}"));
    } else if under_as {
        m = m.with_note(beyond_note(base_vm));
    }
    Ok(m)
}

/// Seconds to grow a memory from 0 by `pages` (a 64-bit one past 4 GiB).
fn grow_cost(pages: u64, fresh: &mut Fresh, budget: Option<u64>) -> Result<Measure, String> {
    let room = Room::measure(fresh, budget)?;
    if room.clamp(pages, 65536) < pages {
        return Ok(Measure::not_measured(Unit::Seconds, format!("growing to {} {}", gib(pages * 65536), room.why.trim_start_matches("not tried: "))));
    }
    let (address, features) = if pages > 4 * (1 << 14) { (AddressType::I64, vec![Feature::Memory64]) } else { (AddressType::I32, vec![]) };
    let mut s = fresh(false, &features)?;
    let m = made(&mut *s, &MemorySpec { initial: 0, maximum: None, shared: false, address })?;
    let (rss, _, _) = own_memory();
    let start = std::time::Instant::now();
    let grown = s.grow(&m, pages);
    let secs = start.elapsed().as_secs_f64();
    let (_, _, peak) = own_memory();
    Ok(match grown {
        Ok(_) => Measure::of(secs, Unit::Seconds).with_note(format!("peak RSS {:.0} MB ({:.0} MB before the grow)", peak as f64 / 1e6, rss as f64 / 1e6)),
        Err(f) => Measure::not_measured(Unit::Seconds, format!("the grow failed: {}", fault_text(f))),
    })
}

/// A 1 MiB cap (16 pages); grow 1 page past it from wasm and from the host.
fn host_cap(fresh: &mut Fresh) -> Measure {
    let mut s = match fresh(true, &[]) {
        Ok(s) => s,
        Err(e) => return Measure::not_measured(Unit::Pages, e),
    };
    let mut run = || -> Result<Measure, String> {
        let text = "(module (memory (export \"m\") 1) (func (export \"g\") (param i32) (result i32) (memory.grow (local.get 0))))";
        let m = s.compile(&wat(text)).map_err(fault_text)?;
        let inst = s.instantiate(&m).map_err(fault_text)?;
        let to_cap = s.call(&inst, "g", &[Val::I32(15)]).map_err(fault_text)?;
        let past = s.call(&inst, "g", &[Val::I32(1)]);
        let mem = s.exported_memory(&inst, "m").ok_or("no memory")?;
        let host = s.grow(&mem, 1);
        let size = s.size(&mem);
        let said = |r: Result<String, Fault>| r.unwrap_or_else(fault_text);
        Ok(Measure::of(size as f64, Unit::Pages)
            .with_message(Some(format!(
                "grow to the cap: {to_cap:?}; memory.grow one page past it: {}; host grow one page past it: {}",
                said(past.map(|v| format!("{v:?}"))),
                said(host.map(|p| format!("ok (was {p})")))
            )))
            .with_note("size after growing past a 1 MiB host cap".to_string()))
    };
    run().unwrap_or_else(|e| Measure::not_measured(Unit::Pages, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Launch;

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

    /// The probe on wasmi against a limit the host sets (a 1 MiB cap, 16
    /// pages): the known answer.
    #[test]
    fn the_host_cap_probe_on_wasmi_finds_the_cap() {
        let Some(Launch::Worker(make)) = crate::engine::spec("wasmi").map(|c| c.launch) else { panic!("wasmi is embedded") };
        let on = |name: &str| {
            let mut engine = make();
            measure(MeasureSpec::named(name).unwrap(), &mut |c, f| engine.store(c, f), None)
        };
        let m = on("host_cap");
        assert_eq!(m.value, Some(16.0), "{m:?}");
        let said = m.message.unwrap();
        assert!(said.contains("memory.grow one page past it: [I32(-1)]"), "{said}");
        let m = on("declared_max_pages.i32");
        assert_eq!(m.value, Some(65536.0), "{m:?}");
        assert!(m.message.is_some_and(|t| t.contains("65536")));
    }
}
