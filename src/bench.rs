//! `wasm-matrix bench`: what the tool costs on top of the engines. Generates
//! tiny cases (compile + instantiate + two calls each), times loading them,
//! runs each embedded engine plainly in this process (the engine's own work,
//! through its backend's primitives, no session, protocol or runner) and
//! through the tool (`run --jobs 1` as a whole process), and prints the ratios.

use crate::engine::{Column, Launch};
use anyhow::{bail, Context};
use std::path::Path;
use std::process::Command;
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
    let start = Instant::now();
    let out = Command::new(exe)
        .args(["run"])
        .arg(dir)
        .args(["--engines", ids, "--no-progress"])
        .args(extra)
        .output()
        .with_context(|| format!("cannot run {}", exe.display()))?;
    let took = start.elapsed();
    if !out.status.success() {
        bail!("`run --engines {ids}` on the tiny cases exited with {}: {}", out.status, String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(took)
}

/// Runs the bench and prints its table; `engines` are embedded columns.
pub fn run(count: usize, engines: &[&'static Column]) -> anyhow::Result<()> {
    let exe = std::env::current_exe().context("cannot find this binary")?;
    let dir = tempfile::tempdir().context("cannot make a temporary directory")?;
    write_cases(dir.path(), count).context("cannot write the tiny cases")?;

    let start = Instant::now();
    let (cases, errors) = crate::case::load_paths(&[dir.path().to_path_buf()]);
    let load = start.elapsed();
    if !errors.is_empty() || cases.len() != count {
        bail!("the tiny cases did not load: {} of {count}, {} errors", cases.len(), errors.len());
    }
    let modules: Vec<Vec<u8>> = cases.iter().map(|c| c.plan.wasm.clone().unwrap_or_default()).collect();
    println!(
        "loading: {count} case files in {:.3} s ({:.0} files/s, {:.1} us each)",
        secs(load),
        count as f64 / secs(load),
        secs(load) * 1e6 / count as f64
    );

    let mut rows = Vec::new();
    for column in engines {
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
    Ok(())
}

