//! The cases an audit runs for one module, written as ordinary case files
//! (`module_file` beside them, `imports: stub`), so that an audit can be
//! committed as regression cases and `run` takes them unchanged. Every step
//! observes (`expect: any`): an audit records what each column does.

use super::inspect::{Declared, MemoryDecl};
use std::fmt::Write;

/// The module's copy beside its cases.
pub const MODULE_FILE: &str = "module.wasm";

/// A case: its file name and YAML text.
pub struct CaseFile {
    pub name: &'static str,
    pub text: String,
}

/// The proposals a module's memories need switched on.
fn features(d: &Declared) -> Vec<&'static str> {
    let mut f = Vec::new();
    if d.memories.iter().any(|m| m.shared) {
        f.push("threads");
    }
    if d.memories.iter().any(|m| m.memory64) {
        f.push("memory64");
    }
    if d.memories.len() > 1 {
        f.push("multi-memory");
    }
    if d.memories.iter().any(|m| m.page_bytes != 65536) {
        f.push("custom-page-sizes");
    }
    f
}

/// Seconds a module's cases get beyond `--timeout` per whole MiB of the
/// module: compiling it is what takes long (a 30 MiB module took Cranelift
/// 85-107 s with nine columns side by side on 2 cores).
pub const SECONDS_PER_MIB: f64 = 3.0;

/// The time limit of a module's cases: `--timeout`, and
/// [`SECONDS_PER_MIB`] for each whole MiB of the module.
pub fn limit(module_bytes: usize, run_timeout: f64) -> f64 {
    run_timeout + SECONDS_PER_MIB * (module_bytes >> 20) as f64
}

/// The most live instances the audit asks a column for.
pub const INSTANCES_LIMIT: u32 = 100;

/// The address space the second count runs under: 16 GiB.
pub const AS_LIMIT: u64 = 16 << 30;

/// How far the grows of a memory without a maximum search, as a power of
/// two of pages: a 32-bit memory up to its limit (2^16 pages of 64 KiB,
/// 2^32 bytes), a 64-bit one up to 16 GiB (2^18 pages: past that a
/// committing engine would only fill the machine).
fn search_bits(m: &MemoryDecl) -> u32 {
    let bytes: u64 = if m.memory64 { 16 << 30 } else { 1 << 32 };
    (bytes / m.page_bytes.max(1)).max(1).ilog2()
}

/// The grows of a search without a declared maximum: first straight to
/// the search's top (2^`bits` pages), then by each power of two of pages
/// from 2^(`bits`-1) down to 1, each kept when it succeeds. A column that
/// reaches the top does it in one grow, so an engine that copies its
/// memory on every grow (WAMR's software-bounds build) copies only the
/// initial memory, not GiBs a dozen times; where the top fails, the powers
/// find the largest size the column reaches, to a page.
fn search_deltas(initial: u64, bits: u32) -> Vec<u64> {
    let top = (1u64 << bits).saturating_sub(initial);
    let mut d: Vec<u64> = Some(top).filter(|t| *t > 0).into_iter().collect();
    d.extend((0..bits).rev().map(|b| 1u64 << b));
    d
}

fn head(out: &mut String, summary: &str, source: &str, d: &Declared) {
    let _ = writeln!(out, "summary: {}", yaml_str(summary));
    let _ = writeln!(out, "tags: [audit]");
    let _ = writeln!(out, "source: {}", yaml_str(source));
    let f = features(d);
    if !f.is_empty() {
        let _ = writeln!(out, "features: [{}]", f.join(", "));
    }
    let _ = writeln!(out, "module_file: {MODULE_FILE}");
}

fn yaml_str(s: &str) -> String {
    serde_json::to_string(s).expect("a string serializes")
}

/// `validate`, `compile` (a fresh compile: its step's time is the compile
/// time) and `instantiate` (every import stubbed; its step's time is
/// instantiation of the compiled module, which the process keeps for the
/// cases after it: one compile per module and column); live `instances` until one fails,
/// then one more for the engine's text; and, when the first memory can be
/// reached from the host (exported, or imported and so made here), `grow`:
/// to its declared maximum, or without one as far as the column goes
/// ([`search_deltas`]: the largest size the column reaches, to a page),
/// then one page past.
///
/// `limit`: the cases' time limit ([`limit`]), written where it is longer
/// than `run_timeout` or where the case is memory-heavy (a case with a
/// `timeout` of its own is one, unless it says what it `needs_memory`).
pub fn cases(d: &Declared, source: &str, limit: f64, run_timeout: f64) -> Vec<CaseFile> {
    let mut out = Vec::new();
    // Compiling and instantiating a big module takes long, not much memory:
    // its own limit, and what it commits (its memories' initial sizes, at
    // least what an engine process takes) so that the runner does not take
    // it for a GiB case.
    // The memories' initial sizes (an imported memory is made, stubbed, for
    // each instance too).
    let initial: u64 = d.memories.iter().map(|m| m.initial.saturating_mul(m.page_bytes)).sum();
    let long = if limit > run_timeout {
        format!("timeout: {limit}\nneeds_memory: {}MiB\n", (initial >> 20).max(64))
    } else {
        String::new()
    };
    let mut t = String::new();
    head(&mut t, "audit: the module validates, compiles (a fresh compile: the step's time is the compile time), and instantiates with every import stubbed (the step's time is instantiation alone: a module of 64 KiB or more is the one the compile step made)", source, d);
    t.push_str(&long);
    t.push_str("imports: stub\nsteps:\n  - validate: {}\n    expect: any\n  - compile: {}\n    expect: any\n  - instantiate: {}\n    expect: any\n");
    out.push(CaseFile { name: "instantiate.yaml", text: t });

    let instances = |name, summary: &str, host: &str| {
        let mut t = String::new();
        head(&mut t, summary, source, d);
        // Each instance has its own memories: what an engine that commits
        // its memories commits for the most instances and one more, at
        // most 16 GiB (past that the memory budget stops the case where it
        // gets there, and a module that does not instantiate at all still
        // says so).
        let needs = (initial.saturating_mul(u64::from(INSTANCES_LIMIT) + 1).min(AS_LIMIT) >> 20).max(64);
        let _ = writeln!(t, "timeout: {limit}\nneeds_memory: {needs}MiB\n{host}imports: stub\nsteps:");
        let _ = writeln!(t, "  - instances: {{ limit: {INSTANCES_LIMIT} }}\n    expect: any\n  - instantiate: {{}}\n    expect: any");
        CaseFile { name, text: t }
    };
    out.push(instances(
        "instances.yaml",
        &format!("audit: how many instances of the module one process holds alive (at most {INSTANCES_LIMIT}), and what one more does"),
        "",
    ));
    out.push(instances(
        "instances-16gib.yaml",
        "audit: how many instances of the module one engine process holds alive under a 16 GiB address-space limit (RLIMIT_AS: on an embedded column the worker process the case runs in; on a JS column the whole engine, a shell's process or a browser's driver and all it starts, run for these cases after the others)",
        &format!("host:\n  address_space_bytes: {AS_LIMIT}\n"),
    ));

    let Some(m) = d.memories.first() else { return out };
    let mut t = String::new();
    let what = match m.maximum {
        Some(max) => format!("its declared maximum ({max} pages)"),
        None => format!("as far as the column goes (no declared maximum; the search stops at 2^{} pages)", search_bits(m)),
    };
    head(&mut t, &format!("audit: the module's memory grows from {} pages to {what}, then one page past", m.initial), source, d);
    // A GiB grow takes its time on engines that commit what they grow (the
    // case then runs as a memory-heavy one, within the budget), and there
    // commits the size it reaches at most.
    let reach = m.maximum.unwrap_or(1u64 << search_bits(m)).saturating_mul(m.page_bytes);
    let _ = writeln!(t, "timeout: {limit}\nneeds_memory: {}MiB", (reach >> 20).max(64));
    let memory = match (&m.import, m.exports.first()) {
        (Some(import), _) => {
            // Imported: made here, as declared, and bound; the rest stubbed.
            let _ = writeln!(t, "imports:\n  {}: audited", yaml_str(import));
            for name in d.import_names.iter().filter(|n| *n != import) {
                let _ = writeln!(t, "  {}: stub", yaml_str(name));
            }
            "audited".to_string()
        }
        (None, Some(export)) => {
            t.push_str("imports: stub\n");
            export.clone()
        }
        (None, None) => return out,
    };
    t.push_str("steps:\n");
    if m.import.is_some() {
        let max = m.maximum.map(|x| format!(", maximum: {x}")).unwrap_or_default();
        let shared = if m.shared { ", shared: true" } else { "" };
        let addr = if m.memory64 { ", address: i64" } else { "" };
        let _ = writeln!(t, "  - new_memory: {{ as: audited, initial: {}{max}{shared}{addr} }}\n    expect: any", m.initial);
    }
    let _ = writeln!(t, "  - instantiate: {{}}\n    expect: any");
    let deltas: Vec<u64> = match m.maximum {
        Some(max) => vec![max.saturating_sub(m.initial)],
        None => search_deltas(m.initial, search_bits(m)),
    };
    for delta in deltas {
        let _ = writeln!(t, "  - grow: {{ memory: {}, delta: {delta} }}\n    expect: any", yaml_str(&memory));
    }
    let _ = writeln!(t, "  - size: {{ memory: {} }}\n    expect: any", yaml_str(&memory));
    let _ = writeln!(t, "  - grow: {{ memory: {}, delta: 1 }}\n    expect: any", yaml_str(&memory));
    out.push(CaseFile { name: "grow.yaml", text: t });
    out
}

#[cfg(test)]
mod tests {
    use super::search_deltas;

    /// Applying the search's grows to a column that reaches `limit` pages
    /// (each kept when it fits) ends at that limit, to a page; a column
    /// that reaches the top gets there in the first grow.
    #[test]
    fn the_search_reaches_each_limit_to_a_page() {
        let bits = 16;
        for initial in [0u64, 1, 17, 97, 320, 65535] {
            let deltas = search_deltas(initial, bits);
            for limit in [initial, initial + 1, 16384, 32767, 40000, 65535, 65536].into_iter().filter(|l| *l >= initial) {
                let mut size = initial;
                let mut grown = 0;
                for d in &deltas {
                    if size + d <= limit {
                        size += d;
                        grown += 1;
                    }
                }
                assert_eq!(size, limit, "initial {initial}, limit {limit}");
                if limit == 1 << bits && initial < limit {
                    assert_eq!((grown, deltas[0]), (1, limit - initial), "one grow to the top");
                }
            }
        }
    }
}
