//! `wasm-matrix run`: the plan (every argument checked and every input read
//! before a cell runs), then the run, the terminal report and the results.

use super::args::RunArgs;
use super::exit::Finished;
use super::Budget;
use crate::case::{load_paths, Case, LoadError};
use crate::diff::Known;
use crate::engine::{self, Column, ENGINES, REQUIRE_ENV};
use crate::report;
use crate::results::{Collector, Corpus, ResultsDoc};
use crate::runner::{self, RunEvent, RunOptions};
use anyhow::{anyhow, bail, Context};
use std::collections::HashSet;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A run, planned: what runs where, and where the results go.
pub struct RunPlan {
    args: RunArgs,
    engines: Vec<&'static Column>,
    required: Vec<&'static Column>,
    cases: Arc<Vec<Case>>,
    /// How many cases the selection had before `--shard`.
    selected: usize,
    load_errors: Vec<LoadError>,
    known: Known,
    /// What an interrupted run already has (`--resume`).
    resumed: Option<ResultsDoc>,
    out_path: PathBuf,
    opts: RunOptions,
}

impl RunPlan {
    pub fn new(args: RunArgs) -> anyhow::Result<RunPlan> {
        let webdriver = parse_webdriver(args.webdriver.as_deref())?;
        let engines = engine::parse_list(&args.engines).map_err(|e| anyhow!(e))?;
        let required: Vec<&'static Column> = match args.require.as_deref().filter(|r| !r.trim().is_empty()) {
            Some(r) => engine::parse_list(r).map_err(|e| anyhow!("--require / {REQUIRE_ENV}: {e}"))?,
            None => vec![],
        };
        if !(args.timeout > 0.0 && args.timeout.is_finite()) {
            bail!("--timeout must be a positive number of seconds");
        }
        if !(args.timeout_multiplier > 0.0 && args.timeout_multiplier.is_finite()) {
            bail!("--timeout-multiplier must be a positive number");
        }
        if args.jobs == Some(0) {
            bail!("--jobs must be at least 1");
        }
        let (mut cases, load_errors) = load_paths(&args.paths);
        print_load_errors(&load_errors);
        if let Some(switches) = &args.features {
            for case in &mut cases {
                switches.apply(Arc::make_mut(&mut case.plan));
            }
        }
        if args.timeout_multiplier != 1.0 {
            cases.iter_mut().for_each(|c| c.scale_time(args.timeout_multiplier));
        }
        let known = known_for(&args.paths, args.known.as_ref())?;
        let loaded = cases.len();
        let cases = select(cases, args.tags.as_deref(), args.filter.as_deref());
        if cases.is_empty() {
            if loaded > 0 {
                bail!("no case matches --tags / --filter");
            }
            bail!("no cases to run");
        }
        let selected = cases.len();
        let cases: Vec<Case> = match args.shard {
            Some(shard) => {
                let ids: Vec<&str> = cases.iter().map(|c| c.id.as_str()).collect();
                let mine: HashSet<usize> = shard.select(&ids).into_iter().collect();
                cases.into_iter().enumerate().filter(|(i, _)| mine.contains(i)).map(|(_, c)| c).collect()
            }
            None => cases,
        };
        // What an interrupted run already has: read before the results file
        // is written again (it may be the same file).
        let resumed = match &args.resume {
            Some(path) => Some(ResultsDoc::read(path).context("--resume")?),
            None => None,
        };
        let out_path = args.out.clone().or_else(|| args.resume.clone()).unwrap_or_else(|| PathBuf::from("results.json"));
        let mut opts = RunOptions::new(super::own_exe()?);
        opts.webdriver = webdriver;
        if let Some(addr) = args.serve_addr {
            opts.serve_addr = addr;
        }
        opts.jobs = args.jobs.unwrap_or_else(runner::default_jobs);
        if let Some(Budget(b)) = args.memory_budget {
            opts.memory_budget = b;
        }
        opts.timeout = Duration::from_secs_f64(args.timeout * args.timeout_multiplier);
        Ok(RunPlan { args, engines, required, cases: Arc::new(cases), selected, load_errors, known, resumed, out_path, opts })
    }

    pub fn execute(self) -> anyhow::Result<Finished> {
        let RunPlan { args, engines, required, cases, selected, load_errors, known, resumed, out_path, opts } = self;
        warn_unused_known(&args, &known, &cases, &engines);
        let done: HashSet<(&str, &str)> =
            resumed.iter().flat_map(|d| d.cells.iter().map(|c| (c.case.as_str(), c.engine.as_str()))).collect();
        let cells: Vec<(usize, &'static Column)> = (0..cases.len())
            .flat_map(|c| engines.iter().map(move |e| (c, *e)))
            .filter(|(c, e)| !done.contains(&(cases[*c].id.as_str(), e.id)))
            .collect();
        let total = cells.len();
        let cannot_write = || format!("{}: cannot write results", out_path.display());
        let mut collector = Collector::new(&cases, &known, &engines, Some(&out_path)).with_context(cannot_write)?;
        if let Some(doc) = &resumed {
            let kept = collector.resume_from(doc);
            eprintln!("resuming {}: {kept} cells kept, {total} to run", args.resume.as_ref().map(|p| p.display().to_string()).unwrap_or_default());
        }
        if let Some(first) = args.paths.iter().find(|p| p.exists()) {
            collector.doc.corpus = Some(Corpus::at(&crate::case::load::corpus_root(first)));
        }

        let progress = if std::io::stderr().is_terminal() && !args.no_progress {
            let pb = indicatif::ProgressBar::new(total as u64);
            pb.set_style(indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} cells {elapsed_precise} {msg}").expect("a valid template"));
            pb
        } else {
            indicatif::ProgressBar::hidden()
        };
        let start = Instant::now();
        let mut unavailable: Vec<(&'static str, String)> = Vec::new();
        let interrupted = collector.run(cases.clone(), cells, opts, |ev, entry| {
            if let RunEvent::Unavailable { engine, reason } = ev {
                unavailable.push((engine, reason.clone()));
            }
            if let Some(entry) = entry {
                if entry.verdict.is_failure() {
                    progress.set_message(format!("last failure: {}::{}", entry.case, entry.engine));
                }
                progress.inc(1);
            }
        });
        progress.finish_and_clear();
        let seconds = start.elapsed().as_secs_f64();
        let load_texts: Vec<String> = load_errors.iter().map(|e| e.to_string()).collect();
        let doc = collector.finish(seconds, load_texts, interrupted).with_context(cannot_write)?;
        if let Some(path) = &args.junit {
            if let Err(e) = report::junit::write(&doc, path) {
                eprintln!("error: {}: cannot write JUnit: {e:#}", path.display());
            }
        }

        // Every line fits the terminal (120 columns where there is none);
        // `--wide` prints the full table, a column per engine.
        let width = report::terminal::width();
        let fit = |text: &str| report::terminal::fit(text, width, 4);
        print!("{}", report::terminal::divergence_table(&doc, args.messages, args.wide, width));
        print!("{}", report::terminal::counts_table(&doc, args.wide, width));
        for e in &doc.engines {
            match (&e.version, e.available) {
                (_, false) => println!("{}", fit(&format!("{}: unavailable: {}", e.id, e.reason.as_deref().unwrap_or("")))),
                (Some(v), true) => println!("{}", fit(&format!("{} {v}", e.id))),
                (None, true) => println!("{}", e.id),
            }
        }
        let summary = doc.summary.clone().unwrap_or_default();
        if let Some(shard) = args.shard {
            println!("shard {shard}: {} of {selected} cases", cases.len());
        }
        println!("{}", fit(&summary.line()));
        if interrupted {
            println!("interrupted: {} of {total} cells finished; {} holds them", doc.cells.len(), out_path.display());
        }
        if !load_errors.is_empty() {
            println!("{} file(s) could not be loaded (see the errors above)", load_errors.len());
        }
        let unanimous = args.unanimous.then(|| print_unanimity(&doc));
        let missing: Vec<&(&str, String)> = unavailable.iter().filter(|(e, _)| required.iter().any(|r| r.id == *e)).collect();
        for (engine, reason) in &missing {
            eprintln!("error: required engine {engine} is unavailable: {reason}");
        }
        Ok(Finished::Run {
            load_errors: load_errors.len(),
            missing_required: missing.len(),
            interrupted,
            fail: summary.fail,
            fixed: summary.fixed,
            unanimous,
        })
    }
}

/// `--unanimous`: prints whether the engines that ran agree on every step;
/// the number of cases they do not agree on.
fn print_unanimity(doc: &ResultsDoc) -> usize {
    let view = report::view::View::new(doc);
    let differ: Vec<&report::view::Row> = view.rows.iter().filter(|r| r.divergent()).collect();
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
    differ.len()
}

/// Warns of known-divergence entries that match no case: a stale entry is
/// only visible when the whole corpus it belongs to runs.
fn warn_unused_known(args: &RunArgs, known: &Known, cases: &[Case], engines: &[&'static Column]) {
    let ids: Vec<&str> = engines.iter().map(|e| e.id).collect();
    let whole_corpus = |file: &Path| {
        args.filter.is_none()
            && args.tags.is_none()
            && args.shard.is_none()
            && file.parent().is_some_and(|root| args.paths.iter().any(|p| std::fs::canonicalize(p).ok().as_deref() == Some(root)))
    };
    for entry in known.unused(cases, &ids) {
        if whole_corpus(&entry.file) {
            eprintln!("warning: {}:{}: `{}` for {} matches no case", entry.file.display(), entry.line, entry.pattern, entry.engine);
        }
    }
}

pub(super) fn print_load_errors(errors: &[LoadError]) {
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
fn parse_webdriver(list: Option<&str>) -> anyhow::Result<Vec<(String, String)>> {
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
            bail!("--webdriver: expected NAME=URL, found `{item}`");
        };
        let browsers: Vec<&str> = ENGINES.iter().filter(|e| matches!(e.launch, engine::Launch::Browser(_))).map(|e| e.id).collect();
        match engine::spec(name) {
            Some(s) if matches!(s.launch, engine::Launch::Browser(_)) => {
                check(&format!("--webdriver {name}"), url).map_err(anyhow::Error::msg)?;
                out.push((name.to_string(), url.to_string()));
            }
            _ => bail!("--webdriver: `{name}` is not a browser engine ({})", browsers.join(", ")),
        }
    }
    for e in ENGINES {
        if let engine::Launch::Browser(b) = e.launch {
            if let Ok(url) = std::env::var(b.webdriver_env) {
                if !url.is_empty() {
                    check(b.webdriver_env, &url).map_err(anyhow::Error::msg)?;
                }
            }
        }
    }
    Ok(out)
}
