//! The command line as clap reads it: every subcommand and flag, with the
//! help text. Nothing here decides anything; `plan` checks the values.

use super::{parse_budget, Budget};
use crate::engine::{self, REQUIRE_ENV};
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Parser)]
#[command(
    name = "wasm-matrix",
    version,
    about = "Runs WebAssembly linear-memory cases on many engines and shows where they diverge",
    after_help = "Exit status: 0 every cell passes, 1 an unexpected divergence (or a listed one that now conforms), 2 bad input or a required engine missing."
)]
pub(super) struct Cli {
    #[command(subcommand)]
    pub(super) command: Command,
}

#[derive(Subcommand)]
pub(super) enum Command {
    /// Run cases on engines and report divergences
    Run(RunArgs),
    /// Merge results files (e.g. shards) and write index.html, REPORT.md and results.json
    Report(ReportArgs),
    /// List cases and engines (with availability and versions)
    List(ListArgs),
    /// Measure what the tool costs and what a user waits for: tiny generated cases
    /// (loading; each embedded engine plainly in-process and through `run --jobs 1`;
    /// each JS shell and browser's cells/s, whole and marginal, and where a cell's
    /// time goes), then the main command (`run cases` on every column, its time, CPU
    /// in user space and in the kernel, and peak memory)
    Bench(BenchArgs),
    /// Measure each engine's memory limits, reservations and costs (writes limits.json)
    Probe(ProbeArgs),
    /// What changed between two runs, per cell (exit 1 on a regression)
    Diff(DiffArgs),
    /// Audit built modules (.wasm files or directories of them): what each
    /// declares, and on every column whether it validates, how long it takes to
    /// compile, whether it instantiates with every import stubbed, how many
    /// live instances one process holds (and under 16 GiB of address space),
    /// how far its memory grows and what one page past does; each answer yes,
    /// no (the engine's whole text) or not answered and why. Exit 0, 1 when
    /// an --expect requirement is unmet, 2 for bad input
    Audit(AuditArgs),
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
pub(super) struct DiffArgs {
    /// The earlier run's results
    pub(super) old: PathBuf,
    /// The later run's results
    pub(super) new: PathBuf,
    /// Also write DIR/DIFF.md
    #[arg(long, value_name = "DIR")]
    pub(super) out: Option<PathBuf>,
}

#[derive(Args)]
pub(super) struct FuzzArgs {
    /// The programs come from this seed: the same seed, the same programs and files
    #[arg(long, default_value_t = 1)]
    pub(super) seed: u64,
    /// How many programs
    #[arg(long, value_name = "N", conflicts_with = "time")]
    pub(super) count: Option<usize>,
    /// Or for how long (e.g. 10m, 30s)
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub(super) time: Option<Duration>,
    /// Engines, comma-separated [default: every embedded engine]
    #[arg(long, value_name = "LIST")]
    pub(super) engines: Option<String>,
    /// Where the cases go (one YAML file per class of finding)
    #[arg(long, default_value = "found", value_name = "DIR")]
    pub(super) out: PathBuf,
    /// Engine processes per engine [default: twice the number of cores, or the
    /// number of cores when a browser is among the engines]
    #[arg(long, value_name = "N")]
    pub(super) jobs: Option<usize>,
}

#[derive(Args)]
pub(super) struct ProbeArgs {
    #[arg(long, default_value = "all", value_name = "LIST", help = engine::engines_help())]
    pub(super) engines: String,
    /// Where to write the limits
    #[arg(long, default_value = "limits.json", value_name = "FILE")]
    pub(super) out: PathBuf,
    /// Only these measures (comma-separated names or families: `grow_cost`, `reserved_bytes.i64`)
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    pub(super) measures: Vec<String>,
    /// Skip the 16 GiB grow (about 22 s on wasmi here, 17 GB resident)
    #[arg(long)]
    pub(super) light: bool,
    /// Memory each probe process may keep resident (as for `run`); a size
    /// that could exceed it is not tried on an engine that commits what it grows
    #[arg(long, value_name = "SIZE", value_parser = parse_budget)]
    pub(super) memory_budget: Option<Budget>,
}

#[derive(Args)]
pub(super) struct BenchArgs {
    /// How many tiny cases to generate
    #[arg(long, default_value_t = 3000, value_name = "N")]
    pub(super) count: usize,
    /// Columns to measure, comma-separated [default: every column; unavailable ones
    /// are said so]
    #[arg(long, value_name = "LIST")]
    pub(super) engines: Option<String>,
    /// The corpus the main command runs (on the columns measured)
    #[arg(long, default_value = "cases", value_name = "DIR")]
    pub(super) main_cases: PathBuf,
    /// Leave the main command out
    #[arg(long)]
    pub(super) no_main: bool,
}

#[derive(Args)]
pub(super) struct RunArgs {
    /// Case files (.yaml), .wast scripts and testharness .any.js files, or directories of them (searched recursively)
    #[arg(default_value = "cases")]
    pub(super) paths: Vec<PathBuf>,
    #[arg(long, default_value = "all", value_name = "LIST", help = engine::engines_help())]
    pub(super) engines: String,
    /// Only cases with one of these tags (comma-separated)
    #[arg(long, value_name = "LIST")]
    pub(super) tags: Option<String>,
    /// Only cases whose id contains this text
    #[arg(long, value_name = "TEXT")]
    pub(super) filter: Option<String>,
    /// Proposals to switch on for every case (memory64, threads, multi-memory,
    /// custom-page-sizes), or off with a `-` (`-multi-memory` for scripts written
    /// before multi-memory was standard); embedded engines only
    #[arg(long, value_name = "LIST", allow_hyphen_values = true)]
    pub(super) features: Option<crate::case::FeatureSwitches>,
    /// Run only part K of N of the selected cases (a stable split by case id;
    /// the N parts together run every cell once; merge them with `report`)
    #[arg(long, value_name = "K/N")]
    pub(super) shard: Option<crate::shard::Shard>,
    /// Engine processes per engine [default: the number of cores]; browsers open
    /// one session per 4,000 cells, at most this many
    #[arg(long, value_name = "N")]
    pub(super) jobs: Option<usize>,
    /// Memory each engine process may keep resident (e.g. 6GiB, 512MiB, or off);
    /// one over it is killed, its cell is a `crash` that says so, and the run
    /// goes on [default: the memory available less 2 GiB, at most 80% of RAM]
    #[arg(long, value_name = "SIZE", value_parser = parse_budget)]
    pub(super) memory_budget: Option<Budget>,
    /// Seconds a case may take before its engine process is killed (a case's own
    /// `timeout` key may raise it)
    #[arg(long, default_value_t = 10.0, value_name = "SECS")]
    pub(super) timeout: f64,
    /// Stretch every time limit by this factor: --timeout, each case's own
    /// `timeout` and a testharness file's own timeout (10 s, or 60 s for
    /// `timeout=long`), as wptrunner's option of that name (for a slow or
    /// loaded machine)
    #[arg(long, default_value_t = 1.0, value_name = "F")]
    pub(super) timeout_multiplier: f64,
    /// Results file (JSON lines while running, the final JSON document at the end)
    /// [default: results.json, or the --resume file]
    #[arg(long, value_name = "FILE")]
    pub(super) out: Option<PathBuf>,
    /// Go on with an interrupted run: keep the cells this results file (JSON
    /// lines or a final document) already has, run the rest of the selection
    #[arg(long, value_name = "FILE")]
    pub(super) resume: Option<PathBuf>,
    /// Also write JUnit XML (one test case per cell; a .wast script's or testharness file's cell is one per assertion or subtest)
    #[arg(long, value_name = "FILE")]
    pub(super) junit: Option<PathBuf>,
    /// Show each engine's verbatim message under every row of the table
    #[arg(long)]
    pub(super) messages: bool,
    /// The full divergence table, a column per engine (by default each row's
    /// engines are grouped by identical outcome and every line fits the
    /// terminal: COLUMNS, the terminal's width, or 120)
    #[arg(long)]
    pub(super) wide: bool,
    /// Known-divergence list [default: known-divergences.yaml at the corpus root]
    #[arg(long, value_name = "FILE")]
    pub(super) known: Option<PathBuf>,
    /// Engines that must be available (comma-separated); also from WASM_MATRIX_REQUIRE
    #[arg(long, value_name = "LIST", env = REQUIRE_ENV)]
    pub(super) require: Option<String>,
    /// Use existing WebDriver endpoints (e.g. a Selenium Grid) instead of starting
    /// drivers: chrome=URL,firefox=URL; also WASM_MATRIX_WEBDRIVER_CHROME / _FIREFOX
    #[arg(long, value_name = "NAME=URL,...")]
    pub(super) webdriver: Option<String>,
    /// Address the harness server for browsers listens on; the browser must reach
    /// it (it serves only the harness files) [default: 127.0.0.1:0, a free loopback port]
    #[arg(long, value_name = "ADDR:PORT")]
    pub(super) serve_addr: Option<std::net::SocketAddr>,
    /// No progress bar, even on a terminal
    #[arg(long)]
    pub(super) no_progress: bool,
    /// Exit 0 only when all engines that ran agree on every step's outcome,
    /// whatever the cases expect (1 when any two differ)
    #[arg(long)]
    pub(super) unanimous: bool,
}

#[derive(Args)]
pub(super) struct ReportArgs {
    /// Results files written by `run --out` (shards of one run are merged)
    #[arg(required = true, value_name = "RESULTS.json")]
    pub(super) results: Vec<PathBuf>,
    /// Directory to write index.html, REPORT.md and results.json into
    #[arg(long, default_value = "report", value_name = "DIR")]
    pub(super) out: PathBuf,
    /// Also write JUnit XML of the merged results
    #[arg(long, value_name = "FILE")]
    pub(super) junit: Option<PathBuf>,
    /// Exit 1 when the merged results hold an unexpected divergence (a `fail`
    /// or `fixed` cell), as `run` does
    #[arg(long)]
    pub(super) check: bool,
    /// An earlier run's results: the report gets a "what changed" section
    /// (as `wasm-matrix diff` sees it)
    #[arg(long, value_name = "OLD.json")]
    pub(super) baseline: Option<PathBuf>,
}

#[derive(Args)]
pub(super) struct ListArgs {
    /// Case files or directories
    #[arg(default_value = "cases")]
    pub(super) paths: Vec<PathBuf>,
    /// Print the CI matrix instead, as JSON for a workflow's `fromJSON`:
    /// `{"include": [{"group", "engines", "install", "shard", "shards"}]}`,
    /// every column of the registry in exactly one group
    #[arg(long)]
    pub(super) ci_groups: bool,
    /// Shards per group in the CI matrix (with --ci-groups)
    #[arg(long, default_value_t = 2, value_name = "N", requires = "ci_groups", value_parser = clap::value_parser!(u32).range(1..=64))]
    pub(super) shards: u32,
}

#[derive(Args)]
pub(super) struct AuditArgs {
    /// Modules (.wasm) or directories of them (searched recursively)
    #[arg(required = true, value_name = "FILE.wasm|DIR")]
    pub(super) paths: Vec<PathBuf>,
    #[arg(long, default_value = "all", value_name = "LIST", help = engine::engines_help())]
    pub(super) engines: String,
    /// Write DIR/results.json, DIR/audit.json and the generated cases (one
    /// folder per module, with a copy of it) [default: a temporary directory]
    #[arg(long, value_name = "DIR")]
    pub(super) out: Option<PathBuf>,
    /// Engine processes per engine [default: 1: the columns already run side
    /// by side, and each process holds a big module's compiled code]
    #[arg(long, value_name = "N")]
    pub(super) jobs: Option<usize>,
    /// Memory each engine process may keep resident (as for `run`)
    #[arg(long, value_name = "SIZE", value_parser = parse_budget)]
    pub(super) memory_budget: Option<Budget>,
    /// What all the audit's processes together may hold before a cell that
    /// may take much memory (a big module's, a memory-heavy one) waits for
    /// room; one such cell always runs [default: half of the machine's
    /// memory; `off`: no ceiling]
    #[arg(long, value_name = "SIZE", value_parser = parse_budget)]
    pub(super) resident_limit: Option<Budget>,
    /// Seconds a case may take; a module's cases get 3 s more per MiB of
    /// it (a 30 MB module takes Cranelift tens of seconds to compile on a
    /// busy machine)
    #[arg(long, default_value_t = 120.0, value_name = "SECS")]
    pub(super) timeout: f64,
    /// Requirements the modules must meet (YAML: module glob, columns or
    /// families, instantiates / reaches / instances / instances_16gib /
    /// compile_ms): exit 1 naming each unmet one, 2 for a bad file
    #[arg(long, value_name = "FILE")]
    pub(super) expect: Option<PathBuf>,
}

