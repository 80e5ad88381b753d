//! The commands besides `run`: each a plan (its arguments checked and its
//! inputs read) and the work, which returns what happened.

use super::args::{AuditArgs, BenchArgs, DiffArgs, FuzzArgs, ListArgs, ProbeArgs, ReportArgs};
use super::exit::Finished;
use super::Budget;
use crate::case::load_paths;
use crate::engine::{self, Column, Launch, ENGINES};
use crate::fuzz::{Class, Found, RunnerExec};
use crate::report;
use crate::results::limits::Limits;
use crate::results::ResultsDoc;
use crate::runner::{self, RunOptions};
use anyhow::{bail, Context};
use std::path::PathBuf;
use std::time::Instant;

/// `wasm-matrix report`: the results files read and merged, and a limits.json if given.
pub struct ReportPlan {
    args: ReportArgs,
    doc: ResultsDoc,
    extras: report::Extras,
}

impl ReportPlan {
    pub fn new(args: ReportArgs) -> anyhow::Result<ReportPlan> {
        let mut inputs = Vec::new();
        let mut extras = report::Extras::default();
        for path in &args.results {
            // A limits.json (`probe`) and an audit.json (`audit`) are told apart by their shape.
            let text = std::fs::read_to_string(path).ok();
            if let Some(limits) = text.as_deref().and_then(|t| serde_json::from_str::<Limits>(t).ok()) {
                extras.atlas = Some(limits);
                continue;
            }
            if let Some(records) = text.as_deref().and_then(|t| serde_json::from_str::<Vec<crate::results::audit::Record>>(t).ok()) {
                extras.modules.extend(records);
                continue;
            }
            inputs.push((path.clone(), ResultsDoc::read(path)?));
        }
        let doc = crate::results::merge(inputs)?;
        extras.baseline = match &args.baseline {
            Some(p) => Some(ResultsDoc::read(p).context("--baseline")?),
            None => None,
        };
        Ok(ReportPlan { args, doc, extras })
    }

    pub fn execute(self) -> anyhow::Result<Finished> {
        let ReportPlan { args, doc, extras } = self;
        report::write_dir_with(&doc, &extras, &args.out).with_context(|| args.out.display().to_string())?;
        if let Some(path) = &args.junit {
            report::junit::write(&doc, path).with_context(|| format!("{}: cannot write JUnit", path.display()))?;
        }
        let summary = doc.summary.clone().unwrap_or_default();
        // Counts only: the merged `seconds` is the longest input's, not a rate.
        let counts = summary.line();
        println!("{} (from {} results file(s))", counts.split(" in ").next().unwrap_or(&counts), args.results.len());
        println!("wrote {}", ["index.html", "REPORT.md", "results.json"].map(|f| args.out.join(f).display().to_string()).join(", "));
        Ok(Finished::Report { check: args.check, fail: summary.fail, fixed: summary.fixed, interrupted: doc.interrupted })
    }
}

/// `wasm-matrix diff`: both runs read.
pub struct DiffPlan {
    out: Option<PathBuf>,
    old: ResultsDoc,
    new: ResultsDoc,
}

impl DiffPlan {
    pub fn new(args: DiffArgs) -> anyhow::Result<DiffPlan> {
        let old = ResultsDoc::read(&args.old)?;
        let new = ResultsDoc::read(&args.new)?;
        Ok(DiffPlan { out: args.out, old, new })
    }

    pub fn execute(self) -> anyhow::Result<Finished> {
        let changes = crate::results::rundiff::diff(&self.old, &self.new);
        let text = crate::results::rundiff::markdown(&self.old, &self.new, &changes);
        print!("{text}");
        if let Some(dir) = &self.out {
            std::fs::create_dir_all(dir).and_then(|_| std::fs::write(dir.join("DIFF.md"), &text)).with_context(|| dir.display().to_string())?;
        }
        Ok(Finished::Diff { regressed: changes.iter().any(|c| c.change == crate::results::rundiff::Change::Regressed) })
    }
}

/// `wasm-matrix list`: nothing to plan; load errors are said and counted.
pub fn list(args: ListArgs) -> Finished {
    if args.ci_groups {
        let matrix = serde_json::json!({ "include": engine::ci_matrix(args.shards as usize) });
        println!("{matrix}");
        return Finished::List { load_errors: 0 };
    }
    let (cases, errors) = load_paths(&args.paths);
    super::run::print_load_errors(&errors);
    println!("engines:");
    for e in ENGINES {
        match e.availability() {
            Ok(v) => println!("  {:<18} {:<12} available    {}; configuration: {}", e.id, v, e.what, e.configuration),
            Err(why) => println!("  {:<18} {:<12} unavailable  {}; configuration: {} ({why})", e.id, "-", e.what, e.configuration),
        }
    }
    println!("cases ({}):", cases.len());
    for c in &cases {
        let tags = if c.tags.is_empty() { String::new() } else { format!(" [{}]", c.tags.join(", ")) };
        println!("  {}{tags}: {}", c.id, c.summary);
    }
    Finished::List { load_errors: errors.len() }
}

/// `--engines` for bench and fuzz: the list given, or every embedded engine.
fn engines_or_embedded(list: Option<&str>) -> anyhow::Result<Vec<&'static Column>> {
    match list {
        None => Ok(engine::embedded()),
        Some(l) => engine::parse_list(l).map_err(anyhow::Error::msg),
    }
}

/// `wasm-matrix bench`: the embedded engines against their plain loops, the
/// JS columns' rates, the main command.
pub struct BenchPlan {
    count: usize,
    engines: Vec<&'static Column>,
    main: Option<PathBuf>,
}

impl BenchPlan {
    pub fn new(args: BenchArgs) -> anyhow::Result<BenchPlan> {
        let engines = match args.engines.as_deref() {
            Some(list) => engine::parse_list(list).map_err(anyhow::Error::msg)?,
            None => ENGINES.iter().collect(),
        };
        if args.count < 3 {
            bail!("--count must be at least 3");
        }
        let main = if args.no_main { None } else { Some(args.main_cases) };
        if let Some(dir) = main.as_ref().filter(|d| !d.exists()) {
            bail!("{}: no such corpus for the main command (--main-cases)", dir.display());
        }
        Ok(BenchPlan { count: args.count, engines, main })
    }

    pub fn execute(self) -> anyhow::Result<Finished> {
        let failed = match crate::bench::run(self.count, &self.engines, self.main.as_deref()) {
            Ok(()) => false,
            Err(e) => {
                eprintln!("error: {e:#}");
                true
            }
        };
        Ok(Finished::Bench { failed })
    }
}

/// `wasm-matrix probe`.
pub struct ProbePlan {
    engines: Vec<&'static Column>,
    opts: crate::probe::ProbeOptions,
    out: PathBuf,
}

impl ProbePlan {
    pub fn new(args: ProbeArgs) -> anyhow::Result<ProbePlan> {
        let engines = engine::parse_list(&args.engines).map_err(anyhow::Error::msg)?;
        crate::probe::check_measures(&args.measures).map_err(anyhow::Error::msg)?;
        let budget = args.memory_budget.map(|Budget(b)| b).unwrap_or_else(crate::budget::default_budget);
        let opts = crate::probe::ProbeOptions { light: args.light, budget, only: args.measures };
        Ok(ProbePlan { engines, opts, out: args.out })
    }

    pub fn execute(self) -> anyhow::Result<Finished> {
        let start = Instant::now();
        let limits = crate::probe::run(&self.engines, &self.opts, |engine, name, m| {
            eprintln!("  {engine:<18} {name:<34} {}", crate::results::limits::cell(m));
        });
        print!("{}", crate::probe::tables(&limits));
        let text = serde_json::to_string_pretty(&limits).expect("limits serialize");
        std::fs::write(&self.out, text + "\n").with_context(|| format!("{}: cannot write", self.out.display()))?;
        println!("\nwrote {} in {:.1} s", self.out.display(), start.elapsed().as_secs_f64());
        Ok(Finished::Probe)
    }
}

/// `wasm-matrix fuzz`.
pub struct FuzzPlan {
    args: FuzzArgs,
    count: Option<usize>,
    exec: RunnerExec,
}

impl FuzzPlan {
    pub fn new(args: FuzzArgs) -> anyhow::Result<FuzzPlan> {
        let columns = engines_or_embedded(args.engines.as_deref())?;
        if args.count == Some(0) {
            bail!("--count must be at least 1");
        }
        let count = if args.time.is_none() { Some(args.count.unwrap_or(1000)) } else { None };
        let mut opts = RunOptions::new(super::own_exe()?);
        // A worker waits on its pipe part of the time; with programs this small
        // a second process per core keeps the cores busy (wasmtime alone: 68% of
        // the ideal with one per core, 72-80% with two). Browsers stay at one
        // session per core: each is a whole browser.
        let browsers = columns.iter().any(|c| matches!(c.launch, Launch::Browser(_)));
        opts.jobs = args.jobs.unwrap_or_else(|| runner::default_jobs() * if browsers { 1 } else { 2 });
        Ok(FuzzPlan { args, count, exec: RunnerExec { columns, opts, heavy_seconds: 0.0 } })
    }

    pub fn execute(self) -> anyhow::Result<Finished> {
        let FuzzPlan { args, count, mut exec } = self;
        // The engines' own cost is measured before the run and again after it,
        // and the two are averaged: this machine's pace drifts by 10-25% within
        // minutes, and one sample after the run mistook that for the harness.
        const SAMPLE: usize = 200;
        let before = crate::fuzz::own_cost(&exec.columns, args.seed, SAMPLE);
        let (found, stats) = crate::fuzz::fuzz(&mut exec, args.seed, count, args.time);
        std::fs::create_dir_all(&args.out).with_context(|| args.out.display().to_string())?;
        let findings: Vec<&Found> = found.iter().filter(|f| f.class == Class::Finding).collect();
        for (i, f) in findings.iter().enumerate() {
            let path = args.out.join(format!("finding-{:02}.yaml", i + 1));
            std::fs::write(&path, crate::fuzz::yaml(f, i + 1)).with_context(|| path.display().to_string())?;
            println!("finding {}: {} ({} programs) -> {}", i + 1, f.key, f.count, path.display());
        }
        for f in found.iter().filter(|f| f.class == Class::Nondeterministic) {
            println!("nondeterministic (memory.grow may fail): {} ({} programs)", f.key, f.count);
        }
        for f in found.iter().filter(|f| f.class == Class::Timeout) {
            println!("timeout (no answer in the case's time, not judged): {} ({} programs)", f.key, f.count);
        }
        let total: usize = findings.iter().map(|f| f.count).sum();
        println!(
            "{} programs in {:.2} s ({:.0} programs/s), {total} findings in {} classes",
            stats.programs,
            stats.seconds,
            stats.programs as f64 / stats.seconds.max(1e-9),
            findings.len()
        );
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
        if let (Some(before), Some(after)) = (before, crate::fuzz::own_cost(&exec.columns, args.seed, SAMPLE)) {
            let per_program = (before + after) / 2.0;
            let (ms, ideal) = (per_program * 1e3, crate::fuzz::ideal(per_program, cores, &stats));
            let reached = stats.programs as f64 / stats.seconds.max(1e-9);
            let others = exec.columns.iter().filter(|c| !matches!(c.launch, Launch::Worker(_))).count();
            let only = match others {
                0 => String::new(),
                n => format!(" (the embedded columns' alone: the {n} JS and browser columns' own cost is not in it)"),
            };
            println!(
                "ideal: the embedded engines' own cost is {ms:.2} ms per program ({:.2} before the run, {:.2} after it; in this process, no harness; {} heavy programs' cells took {:.1} s of CPU), so {ideal:.0} programs/s on {cores} cores: {:.0}% of it reached{only}",
                before * 1e3,
                after * 1e3,
                stats.heavy,
                stats.heavy_seconds,
                100.0 * reached / ideal
            );
        }
        Ok(Finished::Fuzz { findings: findings.len() })
    }
}

/// `wasm-matrix audit`: the modules read (bad input before any work), the
/// columns chosen.
pub struct AuditPlan {
    modules: Vec<crate::audit::Module>,
    engines: Vec<&'static Column>,
    out: Option<PathBuf>,
    opts: RunOptions,
    /// `--expect`: the requirements, read before any work.
    expect: Vec<crate::audit::expect::Requirement>,
}

impl AuditPlan {
    pub fn new(args: AuditArgs) -> anyhow::Result<AuditPlan> {
        let engines = engine::parse_list(&args.engines).map_err(anyhow::Error::msg)?;
        if args.jobs == Some(0) {
            bail!("--jobs must be at least 1");
        }
        if !(args.timeout > 0.0 && args.timeout.is_finite()) {
            bail!("--timeout must be a positive number of seconds");
        }
        let modules = crate::audit::modules(&args.paths)?;
        let expect = match &args.expect {
            Some(path) => crate::audit::expect::read(path)?,
            None => vec![],
        };
        let mut opts = RunOptions::new(super::own_exe()?);
        opts.timeout = std::time::Duration::from_secs_f64(args.timeout);
        // One process per column: twenty columns already run side by side on
        // a few cores, and each process keeps a big module's compiled code.
        opts.jobs = args.jobs.unwrap_or(1);
        if let Some(Budget(b)) = args.memory_budget {
            opts.memory_budget = b;
        }
        opts.resident_limit = match args.resident_limit {
            Some(Budget(b)) => b,
            None => crate::budget::default_resident_limit(),
        };
        Ok(AuditPlan { modules, engines, out: args.out, opts, expect })
    }

    pub fn execute(self) -> anyhow::Result<Finished> {
        let start = Instant::now();
        let tmp = tempfile::tempdir().context("cannot make a temporary directory")?;
        let dir = self.out.clone().unwrap_or_else(|| tmp.path().to_path_buf());
        let run_timeout = self.opts.timeout.as_secs_f64();
        crate::audit::write_cases(&self.modules, &dir, run_timeout)?;
        let doc = crate::audit::run(&dir, &self.modules, &self.engines, self.opts)?;
        let records = crate::audit::records::records(&self.modules, &doc, run_timeout);
        for m in &self.modules {
            let mine: Vec<&crate::audit::records::Record> = records.iter().filter(|r| r.module == m.path.display().to_string()).collect();
            print!("{}", crate::audit::records::table(m, &mine));
        }
        let json = serde_json::to_string_pretty(&records).expect("records serialize");
        if let Some(out) = &self.out {
            let path = out.join("audit.json");
            std::fs::write(&path, json + "\n").with_context(|| format!("{}: cannot write", path.display()))?;
            println!("\nwrote {} (and results.json, the cases beside it)", path.display());
        }
        println!("{} module(s) on {} column(s) in {:.1} s", self.modules.len(), self.engines.len(), start.elapsed().as_secs_f64());
        if self.expect.is_empty() {
            return Ok(Finished::Audit { unmet: 0 });
        }
        let unmet = crate::audit::expect::check(&self.expect, &records);
        if unmet.is_empty() {
            println!("expect: every requirement met ({} requirement(s))", self.expect.len());
        } else {
            println!("expect: {} requirement(s) unmet:", unmet.len());
            for u in &unmet {
                println!("  {u}");
            }
        }
        Ok(Finished::Audit { unmet: unmet.len() })
    }
}

