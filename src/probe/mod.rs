//! `wasm-matrix probe`: each column's memory limits, reservations and costs
//! (what is measured: `results/measures.rs`; how, on an embedded column:
//! `measure.rs`). Each measure of an embedded
//! column runs in its own `wasm-matrix __probe COLUMN MEASURE` process (so
//! that its address space, peak RSS and rlimits are its own), under the
//! memory budget; the JS columns' measures run through the harness
//! (`js.rs`) and, where they need the shell's process, `drivers/probe.js`
//! (`process.rs`). The results are `limits.json`.

mod js;
pub mod measure;
mod process;

pub use process::serve;

use crate::engine::{Column, Launch};
use crate::results::measures::{Measure, MeasureSpec, What, MEASURES};
use crate::results::limits::{cell, EngineLimits, Host, Limits};
use js::{run_in_page, run_js};
use process::{run_one, run_shell};
use std::collections::BTreeMap;

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
    fn wants(&self, m: &MeasureSpec) -> bool {
        self.only.is_empty() || self.only.iter().any(|o| o == m.name || o == m.family())
    }
}

/// Checks `--measures`: each a measure or a family of them.
pub fn check_measures(list: &[String]) -> Result<(), String> {
    for m in list {
        if !MEASURES.iter().any(|k| k.name == m || k.family() == m) {
            let mut families: Vec<&str> = MEASURES.iter().map(|k| k.family()).collect();
            families.dedup();
            return Err(format!("unknown measure `{m}`: expected a measure (declared_max_pages.i64, ...) or one of {}", families.join(", ")));
        }
    }
    Ok(())
}

/// Measures every selected column.
pub fn run(columns: &[&'static Column], opts: &ProbeOptions, mut progress: impl FnMut(&str, &str, &Measure)) -> Limits {
    let exe = std::env::current_exe().unwrap_or_else(|_| "wasm-matrix".into());
    let names: Vec<&'static MeasureSpec> = MEASURES.iter().filter(|m| opts.wants(m)).collect();
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
    let js_names: Vec<&'static MeasureSpec> = names.iter().copied().filter(|m| m.what.js_search()).collect();
    let mut js_measures = if js.is_empty() || js_names.is_empty() { BTreeMap::new() } else { run_js(&js, &js_names, &run_opts) };
    let page_names: Vec<&'static MeasureSpec> = names.iter().copied().filter(|m| m.what.in_page()).collect();
    if !js.is_empty() && !page_names.is_empty() {
        js_measures.extend(run_in_page(&js, &page_names, &run_opts));
    }
    let mut engines = BTreeMap::new();
    for (column, available) in columns.iter().zip(available) {
        let mut measures = BTreeMap::new();
        let unavailable = available.is_err();
        let version = available.unwrap_or_else(|why| format!("unavailable: {why}"));
        for spec in &names {
            let unit = spec.unit();
            let m = if opts.light && spec.what == What::GrowCost && spec.gib == 16 {
                Measure::not_measured(unit, "skipped (`probe --light`)")
            } else if unavailable {
                Measure::not_measured(unit, "the column is unavailable here")
            } else {
                match column.launch {
                    Launch::Worker(_) if spec.what.in_page() => Measure::not_measured(unit, "an in-page measure: the JS columns' (an embedder has no page or isolate)"),
                    Launch::Worker(_) => run_one(&exe, column, spec, opts.budget),
                    _ if spec.what.js_search() || spec.what.in_page() => js_measures.get(&(column.id, spec.name)).cloned().unwrap_or_else(|| Measure::not_measured(unit, "the column did not run")),
                    _ if spec.what == What::HostCap => Measure::not_measured(unit, "the JS API has no host memory cap to set"),
                    Launch::Js(shell) => run_shell(&shell, spec, opts.budget),
                    _ => Measure::not_measured(
                        unit,
                        "a browser's content processes are started by its driver: the tool neither sets their rlimits nor reads their address space",
                    ),
                }
            };
            progress(column.id, spec.name, &m);
            measures.insert(spec.name.to_string(), m);
        }
        engines.insert(column.id.to_string(), EngineLimits { version, measures });
    }
    Limits { host: Host::here(), engines }
}

/// The tables `probe` prints: one per measure family, engines as columns.
pub fn tables(limits: &Limits) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let ids: Vec<&String> = limits.engines.keys().collect();
    let present = limits.present();
    let mut families: Vec<&str> = present.iter().map(|m| m.family()).collect();
    families.dedup();
    for fam in families {
        let _ = writeln!(out, "\n{fam}");
        let _ = write!(out, "  {:<34}", "measure");
        for id in &ids {
            let _ = write!(out, " {:>18}", id);
        }
        out.push('\n');
        for spec in present.iter().filter(|m| m.family() == fam) {
            let _ = write!(out, "  {:<34}", spec.name);
            for id in &ids {
                let m = limits.engines[*id].measures.get(spec.name);
                let _ = write!(out, " {:>18}", m.map(cell).unwrap_or_default());
            }
            out.push('\n');
        }
    }
    out
}
