//! The command line, in ripgrep's shape: `main -> run(parse()) ->
//! Result<ExitCode>`. `args` is what clap reads; each command's arguments
//! become one validated plan before any work starts (`run::RunPlan`,
//! `commands`); the work returns what happened ([`exit::Finished`]), and
//! one function, [`exit::Finished::status`], maps that to the documented
//! exit statuses. An `Err` anywhere is bad input (exit 2), said once.

mod args;
mod commands;
mod exit;
mod run;

pub use exit::{EXIT_BAD_INPUT, EXIT_DIVERGENCE, EXIT_PASS};

use args::{Cli, Command};
use clap::Parser;
use exit::Finished;
use std::process::ExitCode;

/// Whether `args` (without the program name) parse as a command line of
/// this version; the error is clap's text. For checking scripts that call
/// the tool (the CI workflow).
pub fn parse_args(args: &[String]) -> Result<(), String> {
    let argv = std::iter::once("wasm-matrix".to_string()).chain(args.iter().cloned());
    Cli::try_parse_from(argv).map(|_| ()).map_err(|e| e.to_string())
}

/// Parses the command line, runs it, and gives the exit status.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { EXIT_BAD_INPUT } else { EXIT_PASS });
        }
    };
    match run(cli) {
        Ok(finished) => ExitCode::from(finished.status()),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(EXIT_BAD_INPUT)
        }
    }
}

/// Plans the command (every argument checked before any work), then does it.
fn run(cli: Cli) -> anyhow::Result<Finished> {
    match cli.command {
        Command::Run(args) => run::RunPlan::new(args)?.execute(),
        Command::Report(args) => commands::ReportPlan::new(args)?.execute(),
        Command::Diff(args) => commands::DiffPlan::new(args)?.execute(),
        Command::List(args) => Ok(commands::list(args)),
        Command::Bench(args) => commands::BenchPlan::new(args)?.execute(),
        Command::Probe(args) => commands::ProbePlan::new(args)?.execute(),
        Command::Fuzz(args) => commands::FuzzPlan::new(args)?.execute(),
        Command::Audit(args) => commands::AuditPlan::new(args)?.execute(),
        Command::Worker { engine } => Ok(Finished::Internal(crate::transport::child::serve(&engine))),
        Command::ProbeOne { engine, measure, budget } => Ok(Finished::Internal(crate::probe::serve(&engine, &measure, budget))),
    }
}

/// `--memory-budget`: bytes, or none (`off`).
#[derive(Clone, Copy)]
struct Budget(Option<u64>);

fn parse_budget(text: &str) -> Result<Budget, String> {
    crate::budget::parse(text).map(Budget)
}

/// This program's own path, to start workers and probe processes from.
fn own_exe() -> anyhow::Result<std::path::PathBuf> {
    std::env::current_exe().map_err(|e| anyhow::anyhow!("cannot find this program's own path to start workers: {e}"))
}
