//! `wasm-matrix fuzz`: random memory programs — a memory (32- or 64-bit,
//! with or without a maximum), `memory.grow` from wasm and the host, sizes,
//! loads and stores of every width at addresses biased towards the bounds,
//! fill and copy near the edges — built with wasm-encoder, run as ordinary
//! cases on the selected columns, and judged against a reference model of
//! the spec. A step where an engine does what the spec does not allow is a
//! finding; a `memory.grow` that fails below the maximum (the spec allows
//! it) is its own "nondeterministic" class; a message-only difference is
//! nothing. Findings are grouped by class (the operation, what the spec
//! says, what the engines did, which engines), one minimized case per class
//! is written as YAML in the project's format. Same seed, same programs,
//! same files.
//!
//! The parts: `generate` (the RNG and the program model), `encode`
//! (wasm-encoder), `model` (what the spec says: the reference model),
//! `judge` (misses and classes), `exec` (running programs on columns),
//! `minimize`, `write` (YAML).

mod encode;
mod exec;
mod generate;
mod judge;
mod minimize;
mod model;
mod write;
#[cfg(test)]
mod tests;

pub use exec::{Exec, RunnerExec};
pub use generate::{Data, Mem, Op, Program, Rng};
pub use judge::{first_miss, Class, Miss};
pub use minimize::minimize;
pub use write::yaml;

use judge::classes_of;
use crate::case::{Case, Plan};
use std::collections::BTreeMap;

/// One class of findings and its minimized representative.
#[derive(Debug, Clone)]
pub struct Found {
    pub class: Class,
    pub key: String,
    pub count: usize,
    pub program: Program,
    /// The observed outcome of each engine that missed, at the step.
    pub observed: Vec<(String, String)>,
    /// The engines that missed.
    pub engines: Vec<String>,
}

/// The summary numbers.
#[derive(Debug, Default)]
pub struct Stats {
    pub programs: usize,
    pub seconds: f64,
    /// Programs that grow a memory without a maximum by 1 GiB or more (see
    /// `Program::case`), and their embedded cells' CPU seconds.
    pub heavy: usize,
    pub heavy_seconds: f64,
}

/// Generates `count` programs from `seed` (or as many as fit in `time`), runs
/// them in batches, classifies, minimizes one program per class.
pub fn fuzz(exec: &mut dyn Exec, seed: u64, count: Option<usize>, time: Option<std::time::Duration>) -> (Vec<Found>, Stats) {
    let start = std::time::Instant::now();
    let engines = exec.engines();
    let mut rng = Rng::new(seed);
    let mut found: BTreeMap<(Class, String), Found> = BTreeMap::new();
    let mut programs = 0;
    let mut heavy = 0;
    // Each batch is one run of the runner (its workers start once a batch,
    // and a batch ends at the pace of its slowest cell); the next batch is
    // generated while one runs. Batches are as large as they can be: one
    // for a counted run up to MAX_BATCH programs, so that its heavy cells
    // (a GiB grow that an interpreter commits: seconds) run alongside all
    // the rest; a timed run's are about 30 s of programs at the pace so
    // far, so that it ends near its time.
    const BATCH: usize = 2000;
    const MAX_BATCH: usize = 20_000;
    let size = |programs: usize, start: std::time::Instant| match (count, time) {
        (Some(c), _) => MAX_BATCH.min(c - programs),
        (None, Some(t)) if start.elapsed() < t => match programs {
            0 => BATCH,
            done => {
                let left = (t - start.elapsed()).as_secs_f64().min(30.0);
                ((done as f64 / start.elapsed().as_secs_f64() * left) as usize).clamp(BATCH, MAX_BATCH)
            }
        },
        _ => 0,
    };
    let make = |rng: &mut Rng, n: usize, first: usize| -> (Vec<Program>, Vec<Case>) {
        let batch: Vec<Program> = (0..n).map(|_| Program::generate(rng)).collect();
        let cases = batch.iter().enumerate().map(|(i, p)| p.case(&format!("p{}", first + i))).collect();
        (batch, cases)
    };
    let first = size(0, start);
    let mut next = make(&mut rng, first, 0);
    while !next.0.is_empty() {
        let (batch, cases) = std::mem::take(&mut next);
        let n = batch.len();
        heavy += batch.iter().filter(|p| p.grows_big()).count();
        let following = size(programs + n, start);
        let out = std::thread::scope(|s| {
            let generating = s.spawn(|| make(&mut rng, following, programs + n));
            let out = exec.run(&cases);
            next = generating.join().expect("generating programs does not panic");
            out
        });
        for ((p, case), o) in batch.iter().zip(&cases).zip(&out) {
            if let Some((class, key, _, observed)) = classes_of(&engines, case, o) {
                let engines = observed.iter().map(|(e, _)| e.clone()).collect();
                found.entry((class, key.clone())).and_modify(|f| f.count += 1).or_insert(Found { class, key, count: 1, program: p.clone(), observed, engines });
            }
        }
        programs += n;
        // A time-limited run stops when its time is up, made batch or not.
        if count.is_none() && size(programs, start) == 0 {
            break;
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    let heavy_seconds = exec.heavy_seconds();
    let mut list: Vec<Found> = found.into_values().collect();
    for f in &mut list {
        if f.class == Class::Finding {
            let ids: Vec<&str> = f.engines.iter().map(String::as_str).collect();
            let mut only = exec.subset(&ids);
            f.program = minimize(only.as_mut(), &f.program, &f.key, 80);
        }
    }
    (list, Stats { programs, seconds, heavy, heavy_seconds })
}

/// The embedded columns' own cost of a light program, in seconds: the
/// first `sample` light programs of `seed`, each compiled, instantiated and
/// run in this process (no worker, no protocol), summed over the columns.
/// None without embedded columns.
pub fn own_cost(columns: &[&'static crate::engine::Column], seed: u64, sample: usize) -> Option<f64> {
    let mut rng = Rng::new(seed);
    let plans: Vec<Plan> = (0..sample).map(|_| Program::generate(&mut rng)).filter(|p| !p.grows_big()).map(|p| (*p.case("ideal").plan).clone()).collect();
    let mut per_program = 0.0;
    let mut any = false;
    // An engine that panics on a program (wasmer on 64-bit memories) is a
    // crash cell in a run; here the program is left out of its time, and
    // the engine is made again. The panics are not printed.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    for c in columns {
        let crate::engine::Launch::Worker(make) = c.launch else { continue };
        any = true;
        let mut engine = make();
        let (mut secs, mut ran) = (0.0, 0);
        for plan in &plans {
            let start = std::time::Instant::now();
            let ok = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| engine.run(plan, 0, &mut |_, _| {}))).is_ok();
            if ok {
                secs += start.elapsed().as_secs_f64();
                ran += 1;
            } else {
                engine = make();
            }
        }
        per_program += secs / f64::from(ran.max(1));
    }
    std::panic::set_hook(hook);
    any.then_some(per_program)
}

/// The ideal throughput of a run: the engines' own work divided among the
/// cores. The light programs at `per_program` ([`own_cost`]) each; the
/// heavy ones (GiB grows, which an interpreter commits: not to be made in
/// this process) at their cells' CPU time in the run. Programs per second.
pub fn ideal(per_program: f64, cores: usize, stats: &Stats) -> f64 {
    let light = stats.programs.saturating_sub(stats.heavy) as f64;
    let work = light * per_program + stats.heavy_seconds;
    stats.programs as f64 * cores as f64 / work.max(1e-12)
}

