//! The command line. Glue only: parse arguments, call the library, print,
//! choose the exit status.

use crate::case::{load_paths, Case, LoadError};
use crate::diff::Known;
use crate::engine::{self, Column, ENGINES};
use crate::report;
use crate::results::{Collector, Corpus, ResultsDoc};
use crate::runner::{self, RunEvent, RunOptions};
use clap::{Args, Parser, Subcommand};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Exit statuses.
pub const EXIT_PASS: i32 = 0;
pub const EXIT_DIVERGENCE: i32 = 1;
pub const EXIT_BAD_INPUT: i32 = 2;

/// The environment variable that names engines which must be available.
pub const REQUIRE_ENV: &str = "WASM_MATRIX_REQUIRE";

#[derive(Parser)]
#[command(
    name = "wasm-matrix",
    version,
    about = "Runs WebAssembly linear-memory cases on many engines and shows where they diverge",
    after_help = "Exit status: 0 every cell passes, 1 an unexpected divergence (or a listed one that now conforms), 2 bad input or a required engine missing."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run cases on engines and report divergences
    Run(RunArgs),
    /// Merge results files (e.g. shards) and write index.html, REPORT.md and results.json
    Report(ReportArgs),
    /// List cases and engines (with availability and versions)
    List(ListArgs),
    /// Measure what the tool costs on top of the embedded engines (tiny generated
    /// cases: loading, each engine plainly in-process and through `run --jobs 1`)
    Bench(BenchArgs),
    /// Measure each engine's memory limits, reservations and costs (writes limits.json)
    Probe(ProbeArgs),
    /// What changed between two runs, per cell (exit 1 on a regression)
    Diff(DiffArgs),
    /// Generate random memory programs, run them on the engines, and write one
    /// minimized case per class of divergence from the spec
    Fuzz(FuzzArgs),
    /// Serve one embedded engine over the worker line protocol (internal)
    #[command(name = "__worker", hide = true)]
    Worker { engine: String },
    /// Run one probe measure of an embedded engine (internal)
    #[command(name = "__probe", hide = true)]
    ProbeOne {
        engine: String,
        measure: String,
        /// Bytes the measure may keep resident
        #[arg(long)]
        budget: Option<u64>,
    },
}

#[derive(Args)]
struct DiffArgs {
    /// The earlier run's results
    old: PathBuf,
    /// The later run's results
    new: PathBuf,
    /// Also write DIR/DIFF.md
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
}

#[derive(Args)]
struct FuzzArgs {
    /// The programs come from this seed: the same seed, the same programs and files
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// How many programs
    #[arg(long, value_name = "N", conflicts_with = "time")]
    count: Option<usize>,
    /// Or for how long (e.g. 10m, 30s)
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    time: Option<Duration>,
    /// Engines, comma-separated [default: every embedded engine]
    #[arg(long, value_name = "LIST")]
    engines: Option<String>,
    /// Where the cases go (one YAML file per class of finding)
    #[arg(long, default_value = "found", value_name = "DIR")]
    out: PathBuf,
    /// Engine processes per engine [default: twice the number of cores, or the
    /// number of cores when a browser is among the engines]
    #[arg(long, value_name = "N")]
    jobs: Option<usize>,
}

#[derive(Args)]
struct ProbeArgs {
    #[arg(long, default_value = "all", value_name = "LIST", help = engine::engines_help())]
    engines: String,
    /// Where to write the limits
    #[arg(long, default_value = "limits.json", value_name = "FILE")]
    out: PathBuf,
    /// Only these measures (comma-separated names or families: `grow_cost`, `reserved_bytes.i64`)
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    measures: Vec<String>,
    /// Skip the 16 GiB grow (about 35 s on each interpreter, 17 GB resident)
    #[arg(long)]
    light: bool,
    /// Memory each probe process may keep resident (as for `run`); a size
    /// that could exceed it is not tried on an engine that commits what it grows
    #[arg(long, value_name = "SIZE", value_parser = parse_budget)]
    memory_budget: Option<Budget>,
}

#[derive(Args)]
struct BenchArgs {
    /// How many tiny cases to generate
    #[arg(long, default_value_t = 3000, value_name = "N")]
    count: usize,
    /// Embedded engines to measure, comma-separated [default: every embedded engine]
    #[arg(long, value_name = "LIST")]
    engines: Option<String>,
}

#[derive(Args)]
struct RunArgs {
    /// Case files (.yaml) and .wast scripts, or directories of them (searched recursively)
    #[arg(default_value = "cases")]
    paths: Vec<PathBuf>,
    #[arg(long, default_value = "all", value_name = "LIST", help = engine::engines_help())]
    engines: String,
    /// Only cases with one of these tags (comma-separated)
    #[arg(long, value_name = "LIST")]
    tags: Option<String>,
    /// Only cases whose id contains this text
    #[arg(long, value_name = "TEXT")]
    filter: Option<String>,
    /// Proposals to switch on for every case (memory64, threads, multi-memory,
    /// custom-page-sizes), or off with a `-` (`-multi-memory` for scripts written
    /// before multi-memory was standard); embedded engines only
    #[arg(long, value_name = "LIST", allow_hyphen_values = true)]
    features: Option<crate::case::FeatureSwitches>,
    /// Run only part K of N of the selected cases (a stable split by case id;
    /// the N parts together run every cell once; merge them with `report`)
    #[arg(long, value_name = "K/N")]
    shard: Option<crate::shard::Shard>,
    /// Engine processes per engine [default: the number of cores]; browsers open
    /// one session per 4,000 cells, at most this many
    #[arg(long, value_name = "N")]
    jobs: Option<usize>,
    /// Memory each engine process may keep resident (e.g. 6GiB, 512MiB, or off);
    /// one over it is killed, its cell is a `crash` that says so, and the run
    /// goes on [default: the memory available less 2 GiB, at most 80% of RAM]
    #[arg(long, value_name = "SIZE", value_parser = parse_budget)]
    memory_budget: Option<Budget>,
    /// Seconds a case may take before its engine process is killed (a case's own
    /// `timeout` key may raise it)
    #[arg(long, default_value_t = 10.0, value_name = "SECS")]
    timeout: f64,
    /// Results file (JSON lines while running, the final JSON document at the end)
    /// [default: results.json, or the --resume file]
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Go on with an interrupted run: keep the cells this results file (JSON
    /// lines or a final document) already has, run the rest of the selection
    #[arg(long, value_name = "FILE")]
    resume: Option<PathBuf>,
    /// Also write JUnit XML (one test case per cell)
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
    /// Show each engine's verbatim message under every row of the table
    #[arg(long)]
    messages: bool,
    /// Known-divergence list [default: known-divergences.yaml at the corpus root]
    #[arg(long, value_name = "FILE")]
    known: Option<PathBuf>,
    /// Engines that must be available (comma-separated); also from WASM_MATRIX_REQUIRE
    #[arg(long, value_name = "LIST", env = REQUIRE_ENV)]
    require: Option<String>,
    /// Use existing WebDriver endpoints (e.g. a Selenium Grid) instead of starting
    /// drivers: chrome=URL,firefox=URL; also WASM_MATRIX_WEBDRIVER_CHROME / _FIREFOX
    #[arg(long, value_name = "NAME=URL,...")]
    webdriver: Option<String>,
    /// Address the harness server for browsers listens on; the browser must reach
    /// it (it serves only the harness files) [default: 127.0.0.1:0, a free loopback port]
    #[arg(long, value_name = "ADDR:PORT")]
    serve_addr: Option<std::net::SocketAddr>,
    /// No progress bar, even on a terminal
    #[arg(long)]
    no_progress: bool,
    /// Exit 0 only when all engines that ran agree on every step's outcome,
    /// whatever the cases expect (1 when any two differ)
    #[arg(long)]
    unanimous: bool,
}

#[derive(Args)]
struct ReportArgs {
    /// Results files written by `run --out` (shards of one run are merged)
    #[arg(required = true, value_name = "RESULTS.json")]
    results: Vec<PathBuf>,
    /// Directory to write index.html, REPORT.md and results.json into
    #[arg(long, default_value = "report", value_name = "DIR")]
    out: PathBuf,
    /// Also write JUnit XML of the merged results
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
    /// Exit 1 when the merged results hold an unexpected divergence (a `fail`
    /// or `fixed` cell), as `run` does
    #[arg(long)]
    check: bool,
    /// An earlier run's results: the report gets a "what changed" section
    /// (as `wasm-matrix diff` sees it)
    #[arg(long, value_name = "OLD.json")]
    baseline: Option<PathBuf>,
}

#[derive(Args)]
struct ListArgs {
    /// Case files or directories
    #[arg(default_value = "cases")]
    paths: Vec<PathBuf>,
}

/// Whether `args` (without the program name) parse as a command line of
/// this version; the error is clap's text. For checking scripts that call
/// the tool (the CI workflow).
pub fn parse_args(args: &[String]) -> Result<(), String> {
    let argv = std::iter::once("wasm-matrix".to_string()).chain(args.iter().cloned());
    Cli::try_parse_from(argv).map(|_| ()).map_err(|e| e.to_string())
}

/// Runs the CLI; returns the exit status.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { EXIT_BAD_INPUT } else { EXIT_PASS };
        }
    };
    match cli.command {
        Command::Worker { engine } => engine::worker::serve(&engine),
        Command::List(args) => list(args),
        Command::Bench(args) => bench(args),
        Command::Probe(args) => probe(args),
        Command::Fuzz(args) => fuzz(args),
        Command::Diff(args) => diff_cmd(args),
        Command::ProbeOne { engine, measure, budget } => crate::probe::serve(&engine, &measure, budget),
        Command::Run(args) => run(args),
        Command::Report(args) => report_cmd(args),
    }
}

/// `--memory-budget`: bytes, or none (`off`).
#[derive(Clone, Copy)]
struct Budget(Option<u64>);

fn parse_budget(text: &str) -> Result<Budget, String> {
    crate::budget::parse(text).map(Budget)
}

fn bad(message: impl std::fmt::Display) -> i32 {
    eprintln!("error: {message}");
    EXIT_BAD_INPUT
}

fn print_load_errors(errors: &[LoadError]) {
    for e in errors {
        eprintln!("error: {e}");
    }
}

/// Known-divergence entries for the roots of `paths` (or `--known FILE`).
fn known_for(paths: &[PathBuf], explicit: Option<&PathBuf>) -> Result<Known, LoadError> {
    let ids: Vec<&str> = ENGINES.iter().map(|e| e.id).collect();
    if let Some(file) = explicit {
        return Known::load(file, &ids);
    }
    let mut roots: Vec<PathBuf> = paths.iter().filter(|p| p.exists()).map(|p| crate::case::load::corpus_root(p)).collect();
    roots.sort();
    roots.dedup();
    let mut known = Known::default();
    for root in roots {
        let k = Known::for_root(&root, &ids)?;
        known.file = known.file.or(k.file);
        known.entries.extend(k.entries);
    }
    Ok(known)
}

fn select(cases: Vec<Case>, tags: Option<&str>, filter: Option<&str>) -> Vec<Case> {
    let tags: Vec<&str> = tags.map(|t| t.split(',').map(str::trim).filter(|t| !t.is_empty()).collect()).unwrap_or_default();
    cases
        .into_iter()
        .filter(|c| tags.is_empty() || tags.iter().any(|t| c.has_tag(t)))
        .filter(|c| filter.is_none_or(|f| c.id.contains(f)))
        .collect()
}

/// `--webdriver NAME=URL,...`, and the `WASM_MATRIX_WEBDRIVER_*` variables of
/// the browsers: a name that is no browser or a URL that is not an http(s)
/// URL with a host is bad input, said before any work starts.
fn parse_webdriver(list: Option<&str>) -> Result<Vec<(String, String)>, String> {
    let check = |what: &str, url: &str| -> Result<(), String> {
        match url::Url::parse(url) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Ok(()),
            Ok(u) => Err(format!("{what}: `{url}` is not a WebDriver endpoint (expected http://HOST:PORT, found scheme `{}`{})", u.scheme(), if u.host().is_none() { " and no host" } else { "" })),
            Err(e) => Err(format!("{what}: `{url}` is not a URL ({e}); expected e.g. chrome=http://127.0.0.1:4444")),
        }
    };
    let mut out = Vec::new();
    for item in list.unwrap_or_default().split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let Some((name, url)) = item.split_once('=') else {
            return Err(format!("--webdriver: expected NAME=URL, found `{item}`"));
        };
        let browsers: Vec<&str> = ENGINES.iter().filter(|e| matches!(e.launch, engine::Launch::Browser(_))).map(|e| e.id).collect();
        match engine::spec(name) {
            Some(s) if matches!(s.launch, engine::Launch::Browser(_)) => {
                check(&format!("--webdriver {name}"), url)?;
                out.push((name.to_string(), url.to_string()));
            }
            _ => return Err(format!("--webdriver: `{name}` is not a browser engine ({})", browsers.join(", "))),
        }
    }
    for e in ENGINES {
        if let engine::Launch::Browser(b) = e.launch {
            if let Ok(url) = std::env::var(b.webdriver_env()) {
                if !url.is_empty() {
                    check(b.webdriver_env(), &url)?;
                }
            }
        }
    }
    Ok(out)
}

fn run(args: RunArgs) -> i32 {
    let webdriver = match parse_webdriver(args.webdriver.as_deref()) {
        Ok(w) => w,
        Err(e) => return bad(e),
    };
    let engines = match engine::parse_list(&args.engines) {
        Ok(e) => e,
        Err(e) => return bad(e),
    };
    let required: Vec<&'static Column> = match args.require.as_deref().filter(|r| !r.trim().is_empty()) {
        Some(r) => match engine::parse_list(r) {
            Ok(r) => r,
            Err(e) => return bad(format!("--require / {REQUIRE_ENV}: {e}")),
        },
        None => vec![],
    };
    if !(args.timeout > 0.0 && args.timeout.is_finite()) {
        return bad("--timeout must be a positive number of seconds");
    }
    if args.jobs == Some(0) {
        return bad("--jobs must be at least 1");
    }
    let (mut cases, load_errors) = load_paths(&args.paths);
    print_load_errors(&load_errors);
    if let Some(switches) = &args.features {
        for case in &mut cases {
            switches.apply(std::sync::Arc::make_mut(&mut case.plan));
        }
    }
    let known = match known_for(&args.paths, args.known.as_ref()) {
        Ok(k) => k,
        Err(e) => return bad(e),
    };
    let loaded = cases.len();
    let cases = select(cases, args.tags.as_deref(), args.filter.as_deref());
    if cases.is_empty() {
        if loaded > 0 {
            return bad("no case matches --tags / --filter");
        }
        return bad("no cases to run");
    }
    let selected = cases.len();
    let cases: Vec<Case> = match args.shard {
        Some(shard) => {
            let ids: Vec<&str> = cases.iter().map(|c| c.id.as_str()).collect();
            let mine = shard.select(&ids);
            let mut keep = vec![false; cases.len()];
            for i in mine {
                keep[i] = true;
            }
            cases.into_iter().zip(keep).filter(|(_, k)| *k).map(|(c, _)| c).collect()
        }
        None => cases,
    };
    let ids: Vec<&str> = engines.iter().map(|e| e.id).collect();
    // A stale entry is only visible when the whole corpus it belongs to runs.
    let whole_corpus = |file: &std::path::Path| {
        args.filter.is_none()
            && args.tags.is_none()
            && args.shard.is_none()
            && file.parent().is_some_and(|root| args.paths.iter().any(|p| std::fs::canonicalize(p).ok().as_deref() == Some(root)))
    };
    for entry in known.unused(&cases, &ids) {
        if whole_corpus(&entry.file) {
            eprintln!("warning: {}:{}: `{}` for {} matches no case", entry.file.display(), entry.line, entry.pattern, entry.engine);
        }
    }

    // What an interrupted run already has: read before the results file
    // is written again (it may be the same file).
    let resumed = match &args.resume {
        Some(path) => match ResultsDoc::read(path) {
            Ok(doc) => Some(doc),
            Err(e) => return bad(format!("--resume: {e}")),
        },
        None => None,
    };
    let out_path = args.out.clone().or_else(|| args.resume.clone()).unwrap_or_else(|| PathBuf::from("results.json"));
    let cases = Arc::new(cases);
    let done: std::collections::HashSet<(&str, &str)> = resumed
        .iter()
        .flat_map(|d| d.cells.iter().map(|c| (c.case.as_str(), c.engine.as_str())))
        .collect();
    let cells: Vec<(usize, &'static Column)> = (0..cases.len())
        .flat_map(|c| engines.iter().map(move |e| (c, *e)))
        .filter(|(c, e)| !done.contains(&(cases[*c].id.as_str(), e.id)))
        .collect();
    let total = cells.len();
    let mut collector = match Collector::new(&cases, &known, &engines, Some(&out_path)) {
        Ok(c) => c,
        Err(e) => return bad(format!("{}: cannot write results: {e}", out_path.display())),
    };
    if let Some(doc) = &resumed {
        let kept = collector.resume_from(doc);
        eprintln!("resuming {}: {kept} cells kept, {total} to run", args.resume.as_ref().map(|p| p.display().to_string()).unwrap_or_default());
    }
    if let Some(first) = args.paths.iter().find(|p| p.exists()) {
        collector.doc.corpus = Some(Corpus::at(&crate::case::load::corpus_root(first)));
    }
    let exe = match std::env::current_exe() {
        Ok(p) => p,
        Err(e) => return bad(format!("cannot find this program's own path to start workers: {e}")),
    };
    let mut opts = RunOptions::new(exe);
    opts.webdriver = webdriver;
    if let Some(addr) = args.serve_addr {
        opts.serve_addr = addr;
    }
    opts.jobs = args.jobs.unwrap_or_else(|| runner::default_jobs());
    if let Some(Budget(b)) = args.memory_budget {
        opts.memory_budget = b;
    }
    opts.timeout = Duration::from_secs_f64(args.timeout);

    let progress = if std::io::stderr().is_terminal() && !args.no_progress {
        let pb = indicatif::ProgressBar::new(total as u64);
        pb.set_style(
            indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} cells {elapsed_precise} {msg}")
                .expect("a valid template"),
        );
        pb
    } else {
        indicatif::ProgressBar::hidden()
    };
    let start = Instant::now();
    let mut unavailable: Vec<(&'static str, String)> = Vec::new();
    let interrupted = runner::run_blocking(cases.clone(), cells.clone(), opts, |ev| {
        match ev {
            RunEvent::Started { engine, version } => collector.engine_started(engine, &version),
            RunEvent::Unavailable { engine, reason } => {
                collector.engine_unavailable(engine, &reason);
                unavailable.push((engine, reason));
            }
            RunEvent::NotRun { case, engine, reason } => {
                collector.add_unavailable(case, engine, &reason);
                progress.inc(1);
            }
            RunEvent::Cell(cell) => {
                let entry = collector.add(&cell);
                if entry.verdict.is_failure() {
                    progress.set_message(format!("last failure: {}::{}", entry.case, entry.engine));
                }
                progress.inc(1);
            }
        }
        true
    });
    progress.finish_and_clear();
    let seconds = start.elapsed().as_secs_f64();
    let load_texts: Vec<String> = load_errors.iter().map(|e| e.to_string()).collect();
    let doc = match collector.finish(seconds, load_texts, interrupted) {
        Ok(d) => d,
        Err(e) => return bad(format!("{}: cannot write results: {e}", out_path.display())),
    };
    if let Some(path) = &args.junit {
        if let Err(e) = report::junit::write(&doc, path) {
            eprintln!("error: {}: cannot write JUnit: {e}", path.display());
        }
    }

    print!("{}", report::terminal::divergence_table(&doc, args.messages));
    for e in &doc.engines {
        match (&e.version, e.available) {
            (_, false) => println!("{}: unavailable: {}", e.id, e.reason.as_deref().unwrap_or("")),
            (Some(v), true) => println!("{} {v}", e.id),
            (None, true) => println!("{}", e.id),
        }
    }
    let summary = doc.summary.clone().unwrap_or_default();
    if let Some(shard) = args.shard {
        println!("shard {shard}: {} of {selected} cases", cases.len());
    }
    println!("{}", summary.line());
    if interrupted {
        println!("interrupted: {} of {total} cells finished; {} holds them", doc.cells.len(), out_path.display());
    }
    if !load_errors.is_empty() {
        println!("{} file(s) could not be loaded (see the errors above)", load_errors.len());
    }
    let mut disagree = 0;
    if args.unanimous {
        let view = report::view::View::new(&doc);
        let differ: Vec<&report::view::Row> = view.rows.iter().filter(|r| r.divergent()).collect();
        disagree = differ.len();
        if differ.is_empty() {
            println!("unanimous: the engines that ran agree on every step of {} cases", view.rows.len());
        } else {
            println!("not unanimous: engines differ on {} of {} cases:", differ.len(), view.rows.len());
            for r in &differ {
                let groups: Vec<String> = (0..view.engines.len())
                    .filter_map(|e| r.agree[e].map(|g| format!("{}={}", view.engines[e].id, report::view::group_letter(g))))
                    .collect();
                println!("  {} ({}: {})", r.id, r.step_label, groups.join(" "));
            }
        }
    }
    let missing: Vec<&(&str, String)> = unavailable.iter().filter(|(e, _)| required.iter().any(|r| r.id == *e)).collect();
    for (engine, reason) in &missing {
        eprintln!("error: required engine {engine} is unavailable: {reason}");
    }
    if !load_errors.is_empty() || !missing.is_empty() {
        EXIT_BAD_INPUT
    } else if args.unanimous {
        if interrupted || disagree > 0 { EXIT_DIVERGENCE } else { EXIT_PASS }
    } else if interrupted || summary.fail > 0 || summary.fixed > 0 {
        EXIT_DIVERGENCE
    } else {
        EXIT_PASS
    }
}

fn report_cmd(args: ReportArgs) -> i32 {
    let mut inputs = Vec::new();
    let mut atlas: Option<crate::probe::Limits> = None;
    for path in &args.results {
        // A limits.json (`probe`) is told apart by its shape.
        if let Some(limits) = std::fs::read_to_string(path).ok().and_then(|t| serde_json::from_str::<crate::probe::Limits>(&t).ok()) {
            atlas = Some(limits);
            continue;
        }
        match ResultsDoc::read(path) {
            Ok(doc) => inputs.push((path.clone(), doc)),
            Err(e) => return bad(e),
        }
    }
    let doc = match crate::results::merge(inputs) {
        Ok(d) => d,
        Err(e) => return bad(e),
    };
    let baseline = match args.baseline.as_ref().map(|p| ResultsDoc::read(p)) {
        Some(Ok(old)) => Some(old),
        Some(Err(e)) => return bad(format!("--baseline: {e}")),
        None => None,
    };
    if let Err(e) = report::write_dir_with(&doc, atlas.as_ref(), baseline.as_ref(), &args.out) {
        return bad(format!("{}: {e}", args.out.display()));
    }
    if let Some(path) = &args.junit {
        if let Err(e) = report::junit::write(&doc, path) {
            return bad(format!("{}: cannot write JUnit: {e}", path.display()));
        }
    }
    let summary = doc.summary.clone().unwrap_or_default();
    // Counts only: the merged `seconds` is the longest input's, not a rate.
    let counts = summary.line();
    println!("{} (from {} results file(s))", counts.split(" in ").next().unwrap_or(&counts), args.results.len());
    println!("wrote {}", ["index.html", "REPORT.md", "results.json"].map(|f| args.out.join(f).display().to_string()).join(", "));
    if args.check && (summary.fail > 0 || summary.fixed > 0 || doc.interrupted) {
        EXIT_DIVERGENCE
    } else {
        EXIT_PASS
    }
}

fn diff_cmd(args: DiffArgs) -> i32 {
    let (old, new) = match (ResultsDoc::read(&args.old), ResultsDoc::read(&args.new)) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => return bad(e),
    };
    let changes = crate::rundiff::diff(&old, &new);
    let text = crate::rundiff::markdown(&old, &new, &changes);
    print!("{text}");
    if let Some(dir) = &args.out {
        if let Err(e) = std::fs::create_dir_all(dir).and_then(|_| std::fs::write(dir.join("DIFF.md"), &text)) {
            return bad(format!("{}: {e}", dir.display()));
        }
    }
    if changes.iter().any(|c| c.change == crate::rundiff::Change::Regressed) { EXIT_DIVERGENCE } else { EXIT_PASS }
}

/// `--engines` for bench and fuzz: the list given, or every embedded engine.
fn engines_or_embedded(list: Option<&str>) -> Result<Vec<&'static Column>, String> {
    match list {
        None => Ok(crate::bench::embedded()),
        Some(l) => engine::parse_list(l),
    }
}

fn fuzz(args: FuzzArgs) -> i32 {
    let columns = match engines_or_embedded(args.engines.as_deref()) {
        Ok(list) => list,
        Err(e) => return bad(e),
    };
    if args.count == Some(0) {
        return bad("--count must be at least 1");
    }
    let count = if args.time.is_none() { Some(args.count.unwrap_or(1000)) } else { None };
    let exe = match std::env::current_exe() {
        Ok(p) => p,
        Err(e) => return bad(format!("cannot find this program's own path to start workers: {e}")),
    };
    let mut opts = RunOptions::new(exe);
    // A worker waits on its pipe part of the time; with programs this small
    // a second process per core keeps the cores busy (wasmtime alone: 68% of
    // the ideal with one per core, 72-80% with two). Browsers stay at one
    // session per core: each is a whole browser.
    let browsers = columns.iter().any(|c| matches!(c.launch, engine::Launch::Browser(_)));
    opts.jobs = args.jobs.unwrap_or_else(|| runner::default_jobs() * if browsers { 1 } else { 2 });
    let mut exec = crate::fuzz::RunnerExec { columns, opts, heavy_seconds: 0.0 };
    // The engines' own cost is measured before the run and again after it,
    // and the two are averaged: this machine's pace drifts by 10-25% within
    // minutes, and one sample after the run mistook that for the harness.
    const SAMPLE: usize = 200;
    let before = crate::fuzz::own_cost(&exec.columns, args.seed, SAMPLE);
    let (found, stats) = crate::fuzz::fuzz(&mut exec, args.seed, count, args.time);
    if let Err(e) = std::fs::create_dir_all(&args.out) {
        return bad(format!("{}: {e}", args.out.display()));
    }
    let findings: Vec<&crate::fuzz::Found> = found.iter().filter(|f| f.class == crate::fuzz::Class::Finding).collect();
    for (i, f) in findings.iter().enumerate() {
        let path = args.out.join(format!("finding-{:02}.yaml", i + 1));
        if let Err(e) = std::fs::write(&path, crate::fuzz::yaml(f, i + 1)) {
            return bad(format!("{}: {e}", path.display()));
        }
        println!("finding {}: {} ({} programs) -> {}", i + 1, f.key, f.count, path.display());
    }
    for f in found.iter().filter(|f| f.class == crate::fuzz::Class::Nondeterministic) {
        println!("nondeterministic (memory.grow may fail): {} ({} programs)", f.key, f.count);
    }
    for f in found.iter().filter(|f| f.class == crate::fuzz::Class::Timeout) {
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
        let others = exec.columns.iter().filter(|c| !matches!(c.launch, engine::Launch::Worker(_))).count();
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
    if findings.is_empty() { EXIT_PASS } else { EXIT_DIVERGENCE }
}

fn probe(args: ProbeArgs) -> i32 {
    let engines = match engine::parse_list(&args.engines) {
        Ok(e) => e,
        Err(e) => return bad(e),
    };
    if let Err(e) = crate::probe::check_measures(&args.measures) {
        return bad(e);
    }
    let budget = args.memory_budget.map(|Budget(b)| b).unwrap_or_else(crate::budget::default_budget);
    let start = Instant::now();
    let opts = crate::probe::ProbeOptions { light: args.light, budget, only: args.measures.clone() };
    let limits = crate::probe::run(&engines, &opts, |engine, name, m| {
        eprintln!("  {engine:<18} {name:<34} {}", crate::probe::cell(m));
    });
    print!("{}", crate::probe::tables(&limits));
    let text = serde_json::to_string_pretty(&limits).expect("limits serialize");
    if let Err(e) = std::fs::write(&args.out, text + "\n") {
        return bad(format!("{}: cannot write: {e}", args.out.display()));
    }
    println!("\nwrote {} in {:.1} s", args.out.display(), start.elapsed().as_secs_f64());
    EXIT_PASS
}

fn bench(args: BenchArgs) -> i32 {
    let engines = match engines_or_embedded(args.engines.as_deref()) {
        Ok(list) => list,
        Err(e) => return bad(e),
    };
    if let Some(c) = engines.iter().find(|c| !matches!(c.launch, engine::Launch::Worker(_))) {
        return bad(format!("bench measures embedded engines; `{}` is not one", c.id));
    }
    if args.count == 0 {
        return bad("--count must be at least 1");
    }
    match crate::bench::run(args.count, &engines) {
        Ok(()) => EXIT_PASS,
        Err(e) => {
            eprintln!("error: {e}");
            EXIT_DIVERGENCE
        }
    }
}

fn list(args: ListArgs) -> i32 {
    let (cases, errors) = load_paths(&args.paths);
    print_load_errors(&errors);
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
    if errors.is_empty() { EXIT_PASS } else { EXIT_BAD_INPUT }
}
