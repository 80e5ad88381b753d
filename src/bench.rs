//! `wasm-matrix bench`: what the tool costs on top of the engines, and what
//! a user waits for. Generates tiny cases (compile + instantiate + two calls
//! each) and times:
//! - loading them;
//! - each embedded engine plainly in this process (the engine's own work,
//!   through its backend's primitives, no session, protocol or runner) and
//!   through the tool (`run --jobs 1` as a whole process): the ratios;
//! - each JS shell and browser through the tool (`--jobs 1`): cells/s over
//!   the whole run and marginal (between a third of the cases and all of
//!   them, so the start-up drops out), and where a cell's time goes (inside
//!   the engine, `engine_ms`, or outside: protocol, WebDriver, the page);
//! - the main command, `run cases` on the same columns (every column by
//!   default): its time, its largest process's peak resident memory and
//!   that of the tool and all its processes together.

use crate::engine::{Column, Launch};
use anyhow::{bail, Context};
use std::path::Path;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The module of tiny case `i`: a memory, a grow export and a constant, so
/// that every case is a distinct module.
fn tiny_wat(i: usize) -> String {
    format!(
        "(module\n    (memory (export \"mem\") 1 2)\n    (func (export \"grow\") (param i32) (result i32) (memory.grow (local.get 0)))\n    (func (export \"k\") (result i32) (i32.const {i})))"
    )
}

/// Writes `count` tiny case files into `dir`.
pub fn write_cases(dir: &Path, count: usize) -> std::io::Result<()> {
    std::fs::write(dir.join("known-divergences.yaml"), "{}\n")?;
    for i in 0..count {
        let text = format!(
            "summary: tiny case {i}\nmodule: |\n  {}\nsteps:\n  - invoke: k\n    expect: {{ returns: [{i}] }}\n  - invoke: grow\n    args: [1]\n    expect: {{ returns: [1] }}\n",
            tiny_wat(i)
        );
        std::fs::write(dir.join(format!("t{i:05}.yaml")), text)?;
    }
    Ok(())
}

/// One column's figures.
struct Row {
    id: &'static str,
    plain: Duration,
    tool: Duration,
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

/// Runs `wasm-matrix run DIR --engines IDS` with `extra` arguments; its wall time.
fn through_tool(exe: &Path, dir: &Path, ids: &str, extra: &[&str]) -> anyhow::Result<Duration> {
    Ok(run_watched(exe, &[dir], ids, extra, false)?.took)
}

/// What a watched run took: wall time, the peak of the resident memory of
/// the tool and every process it started together (sampled every 50 ms,
/// when asked; shared pages count once per process), and the largest
/// single process's peak (the kernel's maxrss over it and the processes it
/// waited for, as `/usr/bin/time` reports it), and the CPU time of it and
/// the processes it waited for, in user space and in the kernel.
struct Watched {
    took: Duration,
    tree_peak: u64,
    largest: u64,
    user: Duration,
    system: Duration,
}

/// Runs `wasm-matrix run PATHS --engines IDS` with `extra` arguments. It
/// must pass. The wait blocks, so the time is the process's own; a
/// sampler thread (with `sample`) reads the tree's memory beside it.
fn run_watched(exe: &Path, paths: &[&Path], ids: &str, extra: &[&str], sample: bool) -> anyhow::Result<Watched> {
    let start = Instant::now();
    let mut child = Command::new(exe)
        .args(["run"])
        .args(paths)
        .args(["--engines", ids, "--no-progress"])
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot run {}", exe.display()))?;
    let mut stderr = child.stderr.take().expect("piped");
    let said = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut stderr, &mut text);
        text
    });
    let pid = child.id();
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sampler = sample.then(|| {
        let done = done.clone();
        std::thread::spawn(move || {
            let mut peak = 0;
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                peak = peak.max(crate::budget::tree_rss(pid));
                std::thread::sleep(Duration::from_millis(50));
            }
            peak
        })
    });
    let mut status = 0;
    // SAFETY: a zeroed rusage is a valid one to fill.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waits for our own child; both pointers are to locals.
    // (wait4, not Child::wait: its rusage is the child's own.)
    let r = unsafe { libc::wait4(pid as libc::pid_t, &mut status, 0, &mut usage) };
    let took = start.elapsed();
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let tree_peak = sampler.map(|t| t.join().unwrap_or(0)).unwrap_or(0);
    if r < 0 {
        bail!("cannot wait for `run --engines {ids}`: {}", std::io::Error::last_os_error());
    }
    let status = std::process::ExitStatus::from_raw(status);
    if !status.success() {
        let text = said.join().unwrap_or_default();
        bail!("`run --engines {ids}` exited with {status}: {}", text.trim());
    }
    let time = |t: libc::timeval| Duration::from_secs(t.tv_sec.max(0) as u64) + Duration::from_micros(t.tv_usec.max(0) as u64);
    Ok(Watched { took, tree_peak, largest: usage.ru_maxrss.max(0) as u64 * 1024, user: time(usage.ru_utime), system: time(usage.ru_stime) })
}

/// A JS column through the tool: whole-run and marginal rates, and the
/// split of a cell's time from the results.
struct JsRow {
    id: &'static str,
    whole: f64,
    marginal: f64,
    cell_ms: f64,
    engine_ms: f64,
}

fn js_row(exe: &Path, small: &Path, big: &Path, count: usize, column: &'static Column) -> anyhow::Result<JsRow> {
    let third = count / 3;
    let out = tempfile::NamedTempFile::new().context("cannot make a results file")?;
    let out_arg = out.path().to_str().context("a temporary path that is not UTF-8")?;
    let a = through_tool(exe, small, column.id, &["--jobs", "1", "--out", out_arg])?;
    let b = through_tool(exe, big, column.id, &["--jobs", "1", "--out", out_arg])?;
    let doc = crate::results::ResultsDoc::read(out.path())?;
    let n = doc.cells.len().max(1) as f64;
    let cell_ms = doc.cells.iter().map(|c| c.ms).sum::<f64>() / n;
    let engine_ms = doc.cells.iter().filter_map(|c| c.engine_ms).sum::<f64>() / n;
    let extra = secs(b) - secs(a);
    let marginal = if extra > 0.0 { (count - third) as f64 / extra } else { f64::INFINITY };
    Ok(JsRow { id: column.id, whole: count as f64 / secs(b), marginal, cell_ms, engine_ms })
}

/// Runs the bench and prints its tables: `engines` (embedded columns
/// against their plain loops, JS columns' rates), then, with `main`, the
/// main command on the same columns.
pub fn run(count: usize, engines: &[&'static Column], main: Option<&Path>) -> anyhow::Result<()> {
    let exe = std::env::current_exe().context("cannot find this binary")?;
    let dir = tempfile::tempdir().context("cannot make a temporary directory")?;
    write_cases(dir.path(), count).context("cannot write the tiny cases")?;

    let start = Instant::now();
    let (cases, errors) = crate::case::load_paths(&[dir.path().to_path_buf()]);
    let load = start.elapsed();
    if !errors.is_empty() || cases.len() != count {
        bail!("the tiny cases did not load: {} of {count}, {} errors", cases.len(), errors.len());
    }
    let modules: Vec<Vec<u8>> = cases.iter().map(|c| c.plan.wasm.as_deref().unwrap_or_default().to_vec()).collect();
    println!(
        "loading: {count} case files in {:.3} s ({:.0} files/s, {:.1} us each)",
        secs(load),
        count as f64 / secs(load),
        secs(load) * 1e6 / count as f64
    );

    let embedded: Vec<&'static Column> = engines.iter().copied().filter(|c| matches!(c.launch, Launch::Worker(_))).collect();
    let js: Vec<&'static Column> = engines.iter().copied().filter(|c| !matches!(c.launch, Launch::Worker(_))).collect();
    let mut rows = Vec::new();
    for column in &embedded {
        let Launch::Worker(make) = column.launch else { continue };
        let mut engine = make();
        let start = Instant::now();
        engine.plain(&modules).map_err(|e| anyhow::anyhow!("{}: plain run failed: {e}", column.id))?;
        let plain = start.elapsed();
        let tool = through_tool(&exe, dir.path(), column.id, &["--jobs", "1"])?;
        rows.push(Row { id: column.id, plain, tool });
    }
    println!("{:<20} {:>9} {:>9} {:>7} {:>16}", "engine (--jobs 1)", "plain s", "tool s", "ratio", "harness us/cell");
    for r in &rows {
        let harness = (secs(r.tool) - secs(r.plain)) * 1e6 / count as f64;
        println!("{:<20} {:>9.3} {:>9.3} {:>6.2}x {:>16.1}", r.id, secs(r.plain), secs(r.tool), secs(r.tool) / secs(r.plain), harness);
    }
    if rows.len() > 1 {
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
        let ideal: f64 = rows.iter().map(|r| secs(r.plain)).sum::<f64>() / cores as f64;
        let ids: Vec<&str> = rows.iter().map(|r| r.id).collect();
        let all = through_tool(&exe, dir.path(), &ids.join(","), &[])?;
        println!(
            "all {} together: {:.3} s through the tool against (sum of plain) / {cores} cores = {:.3} s: {:.2}x",
            rows.len(),
            secs(all),
            ideal,
            secs(all) / ideal
        );
    }

    if !js.is_empty() {
        let small = tempfile::tempdir().context("cannot make a temporary directory")?;
        write_cases(small.path(), count / 3).context("cannot write the tiny cases")?;
        println!(
            "{:<20} {:>9} {:>11} {:>9} {:>10} {:>11}",
            "JS column (--jobs 1)", "cells/s", "marginal/s", "ms/cell", "in engine", "outside"
        );
        for column in &js {
            if let Err(why) = column.availability() {
                println!("{:<20} unavailable: {why}", column.id);
                continue;
            }
            let r = js_row(&exe, small.path(), dir.path(), count, column)?;
            // Too few cases on a drifting machine can leave no extra time.
            let marginal = if r.marginal.is_finite() { format!("{:.0}", r.marginal) } else { "-".into() };
            println!(
                "{:<20} {:>9.0} {:>11} {:>9.3} {:>10.3} {:>11.3}",
                r.id,
                r.whole,
                marginal,
                r.cell_ms,
                r.engine_ms,
                r.cell_ms - r.engine_ms
            );
        }
        println!("(marginal: the cells between {} and {count} cases over the extra time, start-up left out)", count / 3);
    }

    if let Some(corpus) = main {
        let out = tempfile::NamedTempFile::new().context("cannot make a results file")?;
        let out_arg = out.path().to_str().context("a temporary path that is not UTF-8")?;
        let ids: Vec<&str> = engines.iter().map(|c| c.id).collect();
        let every = ids.len() == crate::engine::ENGINES.len();
        let w = run_watched(&exe, &[corpus], &ids.join(","), &["--out", out_arg], true)?;
        let doc = crate::results::ResultsDoc::read(out.path())?;
        println!(
            "main command (run {} on {}): {} cells in {:.1} s; CPU {:.1} s in user space, {:.1} s in the kernel; peak resident: largest process {}, the tool and all its processes together {}",
            corpus.display(),
            if every { "every column".to_string() } else { ids.join(",") },
            doc.cells.len(),
            secs(w.took),
            secs(w.user),
            secs(w.system),
            crate::budget::show(w.largest),
            crate::budget::show(w.tree_peak)
        );
    }
    Ok(())
}

