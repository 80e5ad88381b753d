//! `limits.json`, the atlas `wasm-matrix probe` writes and `report` reads:
//! a contract like results.json (documented in the README).

use super::measures::{MeasureSpec, AT_LEAST, MEASURES};
pub use super::measures::Measure;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

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
    pub fn present(&self) -> Vec<&'static MeasureSpec> {
        MEASURES.iter().filter(|m| self.engines.values().any(|e| e.measures.contains_key(m.name))).collect()
    }
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
        Some(v) if m.unit == "boolean" => (if v != 0.0 { "yes" } else { "no" }).into(),
        Some(v) => format!("{at_least}{v}"),
        None => "-".into(),
    }
}

