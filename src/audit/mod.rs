//! `wasm-matrix audit FILE.wasm|DIR...`: a module someone built, on every
//! column. It reads what the module declares (`inspect`), writes the cases
//! that try it (`cases`: validate, instantiate with every import stubbed,
//! grow its memory to the maximum and one page past) as ordinary case
//! files beside a copy of the module, runs them through the runner like
//! any case, and prints one table per module (`records`: audit.json).

pub mod cases;
pub mod expect;
pub mod inspect;
pub mod records;

use crate::case::load_paths;
use crate::diff::Known;
use crate::engine::Column;
use crate::results::{Collector, ResultsDoc};
use crate::runner::{self, RunOptions};
use anyhow::{bail, Context};
use inspect::Declared;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A module to audit.
pub struct Module {
    pub path: PathBuf,
    pub bytes: Vec<u8>,
    /// Its sha256, hex.
    pub sha256: String,
    pub declared: Declared,
    /// Its folder under the audit's directory (its file stem, made unique).
    pub dir_name: String,
}

/// Finds the `.wasm` files under `paths` and reads what each declares; a
/// file that is not a whole WebAssembly module is bad input.
pub fn modules(paths: &[PathBuf]) -> anyhow::Result<Vec<Module>> {
    let mut files = Vec::new();
    for p in paths {
        let meta = std::fs::metadata(p).with_context(|| format!("{}: cannot read (expected a .wasm file or a directory of them)", p.display()))?;
        if meta.is_dir() {
            let before = files.len();
            let wasm = |f: &Path| f.extension().is_some_and(|e| e == "wasm");
            crate::case::load::walk_files(p, &wasm, &mut files).with_context(|| format!("{}: cannot read the directory", p.display()))?;
            if files.len() == before {
                bail!("{}: no .wasm files in this directory", p.display());
            }
        } else {
            files.push(p.clone());
        }
    }
    files.sort();
    files.dedup();
    let mut out: Vec<Module> = Vec::new();
    for path in files {
        let bytes = std::fs::read(&path).with_context(|| format!("{}: cannot read", path.display()))?;
        if !bytes.starts_with(b"\0asm") {
            bail!("{}: not a WebAssembly binary (expected a file that starts with \\0asm)", path.display());
        }
        let declared = Declared::read(&bytes).map_err(|e| anyhow::anyhow!("{}: not a whole WebAssembly module: {e}", path.display()))?;
        let stem = path.file_stem().map(|s| s.to_string_lossy().replace(['/', ' '], "_")).unwrap_or_else(|| "module".into());
        let mut dir_name = stem.clone();
        let mut n = 2;
        while out.iter().any(|m| m.dir_name == dir_name) {
            dir_name = format!("{stem}-{n}");
            n += 1;
        }
        let sha256 = crate::transport::modules::sha256_hex(&bytes);
        out.push(Module { path, bytes, sha256, declared, dir_name });
    }
    Ok(out)
}

/// Writes each module's copy and cases under `dir`; `run_timeout`: the
/// audit's `--timeout` (each module's cases get [`cases::limit`]).
pub fn write_cases(modules: &[Module], dir: &Path, run_timeout: f64) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("{}: cannot create", dir.display()))?;
    // An empty list makes the folder a corpus root of its own.
    std::fs::write(dir.join(crate::case::load::KNOWN_FILE), "{}\n").with_context(|| format!("{}: cannot write", dir.display()))?;
    for m in modules {
        let md = dir.join(&m.dir_name);
        std::fs::create_dir_all(&md).with_context(|| format!("{}: cannot create", md.display()))?;
        // An earlier audit's cases in the same folder are not this one's.
        for old in std::fs::read_dir(&md).into_iter().flatten().flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|e| e == "yaml")) {
            std::fs::remove_file(&old).with_context(|| format!("{}: cannot remove", old.display()))?;
        }
        std::fs::write(md.join(cases::MODULE_FILE), &m.bytes).with_context(|| format!("{}: cannot write", md.display()))?;
        let source = format!("audit of {} (sha256 {})", m.path.display(), m.sha256);
        for c in cases::cases(&m.declared, &source, cases::limit(m.bytes.len(), run_timeout), run_timeout) {
            std::fs::write(md.join(c.name), c.text).with_context(|| format!("{}: cannot write", md.join(c.name).display()))?;
        }
    }
    Ok(())
}

/// Runs the audit's cases (those of `modules`, not whatever else `dir`
/// holds) on `columns`; the results document (also written to
/// `dir/results.json`).
pub fn run(dir: &Path, modules: &[Module], columns: &[&'static Column], opts: RunOptions) -> anyhow::Result<ResultsDoc> {
    let (cases, errors) = load_paths(&modules.iter().map(|m| dir.join(&m.dir_name)).collect::<Vec<_>>());
    if let Some(e) = errors.first() {
        bail!("the audit's own cases did not load: {e}");
    }
    let known = Known::default();
    let out = dir.join("results.json");
    let shared = Arc::new(cases.clone());
    let mut collector = Collector::new(&cases, &known, columns, Some(&out)).with_context(|| format!("{}: cannot write", out.display()))?;
    // A module's instantiate case first: its compile step is the column's
    // one compile of the module, which the process keeps for the rest.
    let mut order: Vec<usize> = (0..cases.len()).collect();
    order.sort_by_key(|&c| (module_of(&cases[c].id), !cases[c].id.ends_with("/instantiate")));
    let cells: Vec<(usize, &'static Column)> = order.into_iter().flat_map(|c| columns.iter().map(move |e| (c, *e))).collect();
    let start = std::time::Instant::now();
    let mut progress = Progress::new(&cases, &cells);
    let (limited, cells): (Vec<_>, Vec<_>) = cells.into_iter().partition(|&(c, col)| whole_process_limit(&cases[c], col, &opts));
    // The limited run starts as soon as its columns are done with the
    // others (a browser that cannot start under the limit takes its 30 s
    // beside the embedded columns' last cells, not after them).
    let limited_columns: Vec<&str> = limited.iter().map(|(_, col)| col.id).collect();
    let mut js_left = cells.iter().filter(|(_, col)| limited_columns.contains(&col.id)).count();
    let mut limited = (!limited.is_empty()).then_some(limited);
    let mut side: Option<(std::thread::JoinHandle<bool>, std::sync::mpsc::Receiver<runner::RunEvent>)> = None;
    let start_limited = |limited: &mut Option<Vec<(usize, &'static Column)>>| {
        limited.take().map(|cells| {
            let (tx, rx) = std::sync::mpsc::channel();
            let (cases, opts) = (cases.clone(), opts.clone());
            (std::thread::spawn(move || run_limited(&cases, cells, opts, &mut |ev| drop(tx.send(ev)))), rx)
        })
    };
    if js_left == 0 {
        side = start_limited(&mut limited);
    }
    let mut interrupted = collector.run(shared, cells, opts.clone(), |_, entry| {
        if let Some(entry) = entry {
            progress.done(&entry.case, &entry.engine);
            if limited_columns.contains(&entry.engine.as_str()) {
                js_left -= 1;
                if js_left == 0 && side.is_none() {
                    side = start_limited(&mut limited);
                }
            }
        }
    });
    if side.is_none() && !interrupted {
        side = start_limited(&mut limited);
    }
    if let Some((thread, rx)) = side {
        for ev in rx {
            if let Some(entry) = collector.record(&ev) {
                progress.done(&entry.case, &entry.engine);
            }
        }
        interrupted |= thread.join().unwrap_or(true);
    }
    progress.bar.finish_and_clear();
    collector.finish(start.elapsed().as_secs_f64(), vec![], interrupted).with_context(|| format!("{}: cannot write", out.display()))
}

/// A case under an address-space limit on a column whose limit is set on
/// its whole engine process (a JS shell's process, a browser's driver and
/// all it starts), not on a worker for the one case. A browser at a remote
/// WebDriver endpoint takes no limit from here: its cells stay unsupported.
fn whole_process_limit(case: &crate::case::Case, column: &Column, opts: &RunOptions) -> bool {
    use crate::engine::Launch;
    let remote = opts.webdriver.iter().any(|(e, _)| e == column.id);
    case.plan.host.address_space_bytes.is_some() && !remote && matches!(column.launch, Launch::Js(_) | Launch::Browser(_))
}

/// Runs the JS columns' cases under an address-space limit after the rest:
/// the same cases, in processes (pages) of their own started under the
/// limit. An engine that does not start under it holds no instance: its
/// cells say so, with its own failure as the engine's text. Returns whether
/// the run was interrupted.
fn run_limited(cases: &[crate::case::Case], cells: Vec<(usize, &'static Column)>, mut opts: RunOptions, record: &mut dyn FnMut(runner::RunEvent)) -> bool {
    use crate::outcome::Outcome;
    // The limit goes from the cases to the engines' processes.
    let limit = cells.iter().find_map(|&(c, _)| cases[c].plan.host.address_space_bytes);
    let unlimited: Vec<crate::case::Case> = cases
        .iter()
        .map(|c| {
            let mut c = c.clone();
            if c.plan.host.address_space_bytes.is_some() {
                Arc::make_mut(&mut c.plan).host.address_space_bytes = None;
            }
            c
        })
        .collect();
    opts.address_space = limit;
    let shown = limit.map(crate::budget::show).unwrap_or_default();
    runner::run_blocking(Arc::new(unlimited), cells, opts, |ev| {
        match ev {
            // The column's version is the main run's, and it is available.
            runner::RunEvent::Started { .. } | runner::RunEvent::Unavailable { .. } => {}
            runner::RunEvent::NotRun { case, engine, verdict: crate::diff::Verdict::Unavailable, reason } => {
                let mut outcomes = vec![Outcome::Error(
                    crate::case::ErrorKind::Resource,
                    format!("the engine did not start under a {shown} address-space limit (RLIMIT_AS on its whole process): {reason}"),
                )];
                outcomes.resize(cases[case].steps.len().max(1), Outcome::Skipped("the engine did not start".into()));
                let run = runner::CellRun { case, engine, outcomes, ms: 0.0, engine_us: None, step_us: vec![], cpu_us: None, cross_origin_isolated: None };
                record(runner::RunEvent::Cell(run));
            }
            other => record(other),
        }
        true
    })
}

/// The audit's progress bar (on a terminal): cells done of all, and what it
/// waits on: each module not finished with the columns that still have its
/// cells, first in the order they run.
struct Progress<'a> {
    bar: indicatif::ProgressBar,
    /// (module, column) -> cells left.
    left: Vec<((&'a str, &'static str), usize)>,
}

impl<'a> Progress<'a> {
    fn new(cases: &'a [crate::case::Case], cells: &[(usize, &'static Column)]) -> Progress<'a> {
        let bar = if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
            let pb = indicatif::ProgressBar::new(cells.len() as u64);
            pb.set_style(indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} cells {elapsed_precise} {wide_msg}").expect("a valid template"));
            pb
        } else {
            indicatif::ProgressBar::hidden()
        };
        let mut left: Vec<((&str, &'static str), usize)> = Vec::new();
        for (c, col) in cells {
            let key = (module_of(&cases[*c].id), col.id);
            match left.iter_mut().find(|(k, _)| *k == key) {
                Some((_, n)) => *n += 1,
                None => left.push((key, 1)),
            }
        }
        let p = Progress { bar, left };
        p.say();
        p
    }

    fn done(&mut self, case: &str, column: &str) {
        let module = module_of(case);
        if let Some(i) = self.left.iter().position(|((m, c), _)| *m == module && *c == column) {
            self.left[i].1 -= 1;
            if self.left[i].1 == 0 {
                self.left.remove(i);
            }
        }
        self.bar.inc(1);
        self.say();
    }

    /// "waiting on ffmpeg-core.wasm: chrome, wasmtime; esbuild.wasm: node26".
    fn say(&self) {
        let mut modules: Vec<(&str, Vec<&str>)> = Vec::new();
        for &((m, c), _) in &self.left {
            match modules.iter_mut().find(|(x, _)| *x == m) {
                Some((_, cols)) => cols.push(c),
                None => modules.push((m, vec![c])),
            }
        }
        let parts: Vec<String> = modules.iter().take(2).map(|(m, cols)| format!("{m}: {}", cols.join(", "))).collect();
        let more = if modules.len() > 2 { format!(" (+{} modules)", modules.len() - 2) } else { String::new() };
        self.bar.set_message(if parts.is_empty() { String::new() } else { format!("waiting on {}{more}", parts.join("; ")) });
    }
}

/// The module a case of the audit is of: its id's folder (`esbuild/instantiate`).
fn module_of(case: &str) -> &str {
    case.rsplit_once('/').map_or(case, |(m, _)| m)
}
