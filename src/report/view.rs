//! What the HTML and Markdown reports show, computed once from a results
//! document: the matrix rows, per-engine conformance, pairwise agreement,
//! the message matrix, the limits table and the seed claims.

use crate::outcome::Outcomes as _;
use super::terminal::{same_outcome, short};
use crate::diff::Verdict;
use crate::results::{CaseEntry, CaseStep, CellEntry, EngineEntry, ResultsDoc, StepEntry, StepOutcome};
use std::collections::BTreeMap;

/// One row of the matrix: a case, shown at its headline step.
pub struct Row<'a> {
    pub id: &'a str,
    pub case: Option<&'a CaseEntry>,
    /// The group it is shown under (its first tag, else its directory).
    pub group: String,
    pub tags: Vec<String>,
    /// The report tables its tags give it (read once from `tags`).
    pub tables: Vec<TableTag>,
    /// The step the row shows: the first where engines differ or a cell
    /// fails its case, else the last step.
    pub step: Option<usize>,
    pub step_label: String,
    pub expected: String,
    /// Per engine (in `View::engines` order).
    pub cells: Vec<Option<&'a CellEntry>>,
    /// Per engine: which group of identical outcomes (over all steps) it is
    /// in, 0-based in engine order; `None` when it did not run.
    pub agree: Vec<Option<usize>>,
}

impl Row<'_> {
    /// Engines that ran disagree somewhere in the case.
    pub fn divergent(&self) -> bool {
        self.agree.iter().flatten().any(|g| *g > 0)
    }

    pub fn failing(&self) -> bool {
        self.cells.iter().flatten().any(|c| c.verdict.is_failure())
    }

    /// What a cell shows: the observed value at the row's step; for a
    /// script or a testharness file, its assertions passed/total.
    pub fn value(&self, engine: usize) -> String {
        match self.cells[engine] {
            None => String::new(),
            Some(c) if c.verdict == Verdict::Unavailable => "unavailable".into(),
            Some(c) if c.verdict == Verdict::OverBudget => "over budget".into(),
            Some(c) if c.verdict == Verdict::Unsupported => "not for it".into(),
            Some(c) if self.case.is_some_and(|k| k.form.counted()) => crate::results::count_text(c.passed()),
            Some(c) => self.step.and_then(|i| c.steps.get(i)).map(short).unwrap_or_else(|| c.verdict.name().into()),
        }
    }

    /// The verbatim message at the row's step, if any.
    pub fn message(&self, engine: usize) -> Option<&str> {
        match self.cells[engine] {
            Some(c) if !c.verdict.ran() => c.reason.as_deref(),
            Some(c) => self.step.and_then(|i| c.steps.get(i)).and_then(StepEntry::message),
            None => None,
        }
    }
}

pub struct Conformance {
    pub pass: usize,
    pub known: usize,
    pub fail: usize,
    pub fixed: usize,
    pub unavailable: usize,
    pub over_budget: usize,
    pub unsupported: usize,
    /// Steps with a verdict (`expect` other than `any`), and those that met
    /// it: for .wast scripts, the assertions.
    pub steps_judged: usize,
    pub steps_ok: usize,
}

impl Conformance {
    pub fn ran(&self) -> usize {
        self.pass + self.known + self.fail + self.fixed
    }

    pub fn pct(&self, n: usize) -> f64 {
        if self.ran() == 0 { 0.0 } else { 100.0 * n as f64 / self.ran() as f64 }
    }

    pub fn steps_pct(&self) -> f64 {
        if self.steps_judged == 0 { 0.0 } else { 100.0 * self.steps_ok as f64 / self.steps_judged as f64 }
    }
}

/// Distinct message headlines of one outcome kind on one engine.
#[derive(Default)]
pub struct Messages {
    /// headline -> (count, first case id, full text)
    pub texts: BTreeMap<String, (usize, String, String)>,
}

pub struct MessageRow {
    /// `trap out_of_bounds`, `error grow_failed`, `crash`, ...
    pub kind: String,
    pub per_engine: Vec<Messages>,
}

pub struct LimitRow {
    /// The case id without its `[name=value]` part.
    pub base: String,
    /// The `vary` values in order (`pages=65536`), empty for a plain case.
    pub variants: Vec<String>,
    /// Per engine: (largest variant that succeeded, first that failed and how).
    pub per_engine: Vec<(Option<String>, Option<(String, String)>)>,
}

pub enum Holds {
    Yes,
    No(String),
    /// The steps the claim is about did not run (an earlier step failed,
    /// or the engine lacks a feature): why.
    Untested(String),
    NotRun,
}

pub struct ClaimRow<'a> {
    pub id: &'a str,
    pub claim: String,
    pub summary: String,
    pub per_engine: Vec<Holds>,
}

pub struct View<'a> {
    pub doc: &'a ResultsDoc,
    pub engines: Vec<&'a EngineEntry>,
    pub rows: Vec<Row<'a>>,
    /// Group name -> row indices, groups sorted by name.
    pub groups: Vec<(String, Vec<usize>)>,
    pub conformance: Vec<Conformance>,
    /// [a][b] = (cases with identical outcomes, cases both ran).
    pub pairwise: Vec<Vec<(usize, usize)>>,
    pub messages: Vec<MessageRow>,
    pub limits: Vec<LimitRow>,
    /// `probe`'s measures, when the report is given a limits.json.
    pub atlas: Option<&'a crate::results::limits::Limits>,
    /// `audit`'s records, when the report is given an audit.json.
    pub modules: &'a [crate::results::audit::Record],
    /// What changed since `--baseline`: engine versions (id, old, new) and the cells.
    pub baseline: Option<(Vec<(String, String, String)>, Vec<crate::results::rundiff::CellChange>)>,
    pub claims: Vec<ClaimRow<'a>>,
}

/// A step's outcome without its message: what "identical normalized
/// outcome" compares.
fn signature(cell: &CellEntry) -> Vec<StepOutcome> {
    cell.steps.iter().map(|s| s.outcome.normalized()).collect()
}

/// The informative line of an engine message: wasmtime's innermost
/// `Caused by` entry, else the first line.
pub fn headline(message: &str) -> String {
    let text = match message.rfind("Caused by:") {
        Some(at) => {
            let last = message[at..].lines().rev().map(str::trim).find(|l| !l.is_empty()).unwrap_or("");
            last.split_once(": ").filter(|(n, _)| n.chars().all(|c| c.is_ascii_digit())).map(|(_, t)| t).unwrap_or(last)
        }
        None => message.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or(""),
    };
    // Thread and process ids (`thread 'main' (12104) panicked`) differ on every run.
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find(" (") {
        let after = &rest[at + 2..];
        let digits = after.chars().take_while(char::is_ascii_digit).count();
        if digits > 0 && after[digits..].starts_with(')') {
            out.push_str(&rest[..at]);
            rest = &after[digits + 1..];
        } else {
            out.push_str(&rest[..at + 2]);
            rest = after;
        }
    }
    out.push_str(rest);
    out.chars().take(200).collect()
}

/// Whether a step did not go through: it failed, or (`written` grows a
/// memory) the grow was refused.
fn is_failure_kind(step: &StepEntry, written: Option<&CaseStep>) -> bool {
    !matches!(step.outcome, StepOutcome::Ok | StepOutcome::Returns { .. } | StepOutcome::Pages { .. } | StepOutcome::Bytes { .. })
        || (written.is_some_and(|w| w.grows) && step.outcome.is_grow_failure())
}

/// `limits/declared-maximum[pages=65536]` -> (`limits/declared-maximum`, `pages=65536`).
fn split_variant(id: &str) -> (&str, &str) {
    match id.find('[') {
        Some(at) if id.ends_with(']') => (&id[..at], &id[at + 1..id.len() - 1]),
        _ => (id, ""),
    }
}

/// Sort key of a variant: its numbers compared as numbers.
fn variant_key(v: &str) -> Vec<(u8, u128, String)> {
    v.split(',')
        .map(|part| {
            let value = part.split_once('=').map(|(_, x)| x).unwrap_or(part).trim();
            match value.parse::<u128>() {
                Ok(n) => (0, n, String::new()),
                Err(_) => (1, 0, value.to_string()),
            }
        })
        .collect()
}

/// An engine's family: as results.json says, else as this tool's registry
/// says for that id (results written before families were recorded), else
/// the id itself.
pub fn family(e: &EngineEntry) -> String {
    e.family
        .clone()
        .or_else(|| crate::engine::spec(&e.id).map(|c| c.family.to_string()))
        .unwrap_or_else(|| e.id.clone())
}

/// A tag that gives its cases a table of the report's own (README: the
/// case format's `tags`, the report's sections).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableTag {
    /// `limits`: a `vary` sweep; the limits table shows per column the
    /// largest variant that went through and the first that did not.
    Limits,
    /// `seed-claim`: a claim of the guide the project grew from; the claims
    /// table says whether it holds on each column.
    SeedClaim,
}

impl TableTag {
    pub const ALL: [TableTag; 2] = [TableTag::Limits, TableTag::SeedClaim];

    /// The word a case file writes in its `tags`.
    pub const fn word(self) -> &'static str {
        match self {
            TableTag::Limits => "limits",
            TableTag::SeedClaim => "seed-claim",
        }
    }
}

/// The memory features the feature table decides, each by the cases whose
/// id starts with one of its prefixes or that carry one of its tags.
pub const FEATURES: &[(&str, &[&str], &[&str])] = &[
    ("memory64", &[], &["memory64"]),
    ("multi-memory", &[], &["multi-memory"]),
    ("shared memories (threads)", &[], &["shared"]),
    ("custom page sizes", &[], &["custom-page-sizes"]),
    ("host memory caps", &["host/cap-"], &[]),
    ("resizable buffers (JS)", &["js-api/buffer-resiz", "js-api/buffer-fixed-length"], &[]),
    ("i64 JS descriptors (BigInt)", &["js-api/i64-bigint-descriptor"], &[]),
];

/// A feature's answer for one column: yes (every deciding cell passes),
/// no (none does), partial, or no cells to decide it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Has {
    Yes,
    No,
    Partial,
    Undecided,
}

impl<'a> View<'a> {
    /// The feature table: per feature, its deciding case ids, and per engine
    /// (in column order) the answer.
    pub fn features(&self) -> Vec<(&'static str, Vec<&'a str>, Vec<Has>)> {
        let mut out = Vec::new();
        for (name, prefixes, tags) in FEATURES {
            // A core feature is decided by core cases: the js-api ones test the
            // JS API's own surface (embedders report those unsupported).
            let decides = |id: &str, case_tags: &[String]| {
                prefixes.iter().any(|p| id.starts_with(p)) || (!id.starts_with("js-api/") && case_tags.iter().any(|t| tags.contains(&t.as_str())))
            };
            let cases: Vec<&str> = self.doc.cases.iter().filter(|c| decides(&c.id, &c.tags)).map(|c| c.id.as_str()).collect();
            let answers = self
                .engines
                .iter()
                .map(|e| {
                    let cells: Vec<&CellEntry> = self.doc.cells.iter().filter(|c| c.engine == e.id && cases.contains(&c.case.as_str())).collect();
                    let pass = cells.iter().filter(|c| c.verdict == crate::diff::Verdict::Pass).count();
                    match (cells.len(), pass) {
                        (0, _) => Has::Undecided,
                        (n, p) if p == n => Has::Yes,
                        (_, 0) => Has::No,
                        _ => Has::Partial,
                    }
                })
                .collect();
            out.push((*name, cases, answers));
        }
        out
    }

    /// The atlas's columns: by family in registry order, then any other.
    pub fn atlas_columns(&self) -> Vec<&'a str> {
        let Some(atlas) = self.atlas else { return vec![] };
        let mut ids: Vec<&str> = atlas.engines.keys().map(String::as_str).collect();
        let rank = |id: &str| crate::engine::ENGINES.iter().position(|c| c.id == id).unwrap_or(usize::MAX);
        ids.sort_by_key(|id| (rank(id), id.to_string()));
        ids
    }

    /// The families of the columns, in order, with how many columns each.
    pub fn families(&self) -> Vec<(String, usize)> {
        let mut out: Vec<(String, usize)> = Vec::new();
        for e in &self.engines {
            let f = family(e);
            match out.last_mut() {
                Some((last, n)) if *last == f => *n += 1,
                _ => out.push((f, 1)),
            }
        }
        out
    }

    pub fn new(doc: &'a ResultsDoc) -> View<'a> {
        let engines = ordered_engines(doc);
        let n = engines.len();
        let rows = rows(doc, &engines);
        let mut groups: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for (i, r) in rows.iter().enumerate() {
            groups.entry(r.group.clone()).or_default().push(i);
        }
        View {
            doc,
            engines,
            conformance: conformance(&rows, n),
            pairwise: pairwise(&rows, n),
            messages: messages(&rows, n),
            limits: limits(&rows, n),
            claims: claims(&rows),
            rows,
            groups: groups.into_iter().collect(),
            atlas: None,
            modules: &[],
            baseline: None,
        }
    }

    /// Cases both engines ran with identical outcomes, in percent.
    pub fn agreement(&self, a: usize, b: usize) -> Option<f64> {
        let (same, both) = self.pairwise[a][b];
        (both > 0).then(|| 100.0 * same as f64 / both as f64)
    }

    /// Header facts that do not change between runs of the same results: the
    /// tool and the corpus revision.
    pub fn facts(&self) -> Vec<(&'static str, String)> {
        let mut out = vec![("tool", format!("{} {}", self.doc.tool.name, self.doc.tool.version))];
        if let Some(c) = &self.doc.corpus {
            out.push(("corpus", c.revision.clone().unwrap_or_else(|| "(not in git)".into())));
        }
        out
    }
}

/// A letter per agreement group: A, B, C, ...
pub fn group_letter(g: usize) -> char {
    (b'A' + (g % 26) as u8) as char
}


/// The columns by family, each family where its first column stands.
fn ordered_engines(doc: &ResultsDoc) -> Vec<&EngineEntry> {
    let mut engines: Vec<&EngineEntry> = doc.engines.iter().collect();
    let families: Vec<String> = engines.iter().map(|e| family(e)).collect();
    let rank = |f: &str| families.iter().position(|x| x == f).unwrap_or(0);
    let mut order: Vec<usize> = (0..engines.len()).collect();
    order.sort_by_key(|&i| (rank(&families[i]), i));
    engines = order.iter().map(|&i| engines[i]).collect();
    engines
}

/// A row per case: its cells by column, the step that shows it, and which
/// columns agree; `vary` variants in the order of their values.
fn rows<'a>(doc: &'a ResultsDoc, engines: &[&EngineEntry]) -> Vec<Row<'a>> {
    let n = engines.len();
    let pos = |e: &str| engines.iter().position(|x| x.id == e);
    let case_by_id: BTreeMap<&str, &CaseEntry> = doc.cases.iter().map(|c| (c.id.as_str(), c)).collect();
    let mut by_case: BTreeMap<&str, Vec<Option<&CellEntry>>> = BTreeMap::new();
    for c in &doc.cells {
        let slot = by_case.entry(c.case.as_str()).or_insert_with(|| vec![None; n]);
        if let Some(i) = pos(&c.engine) {
            slot[i] = Some(c);
        }
    }

    let mut rows = Vec::new();
    for (id, cells) in by_case {
        let case = case_by_id.get(id).copied();
        let ran: Vec<&CellEntry> = cells.iter().flatten().filter(|c| c.verdict.ran()).copied().collect();
        let steps = ran.iter().map(|c| c.steps.len()).max().unwrap_or(0);
        let mut step = None;
        for i in 0..steps {
            let here: Vec<(&CellEntry, &StepEntry)> = ran.iter().filter_map(|c| c.steps.get(i).map(|s| (*c, s))).collect();
            let diverges = here.windows(2).any(|w| !same_outcome(w[0].1, w[1].1));
            let fails = here.iter().any(|(c, s)| s.ok == Some(false) && c.verdict != Verdict::Pass);
            if diverges || fails {
                step = Some(i);
                break;
            }
        }
        let step = step.or(steps.checked_sub(1));
        let first_step = step.and_then(|i| ran.iter().find_map(|c| c.steps.get(i)));
        let step_label = step
            .and_then(|i| case.and_then(|c| c.steps.get(i)).map(|s| s.step.clone()))
            .or_else(|| first_step.map(|s| s.step.clone()))
            .unwrap_or_default();
        let expected = step
            .and_then(|i| case.and_then(|c| c.steps.get(i)).map(|s| s.expect.to_string()))
            .or_else(|| first_step.and_then(|s| s.expect.as_ref()).map(ToString::to_string))
            .unwrap_or_default();
        let mut sigs: Vec<Vec<StepOutcome>> = Vec::new();
        let agree = cells
            .iter()
            .map(|c| match c {
                Some(c) if c.verdict.ran() => {
                    let s = signature(c);
                    Some(sigs.iter().position(|x| *x == s).unwrap_or_else(|| {
                        sigs.push(s);
                        sigs.len() - 1
                    }))
                }
                _ => None,
            })
            .collect();
        let tags: Vec<String> = case.map(|c| c.tags.clone()).unwrap_or_default();
        let group = tags.first().cloned().unwrap_or_else(|| id.split('/').next().unwrap_or(id).to_string());
        let tables = TableTag::ALL.into_iter().filter(|t| tags.iter().any(|w| w == t.word())).collect();
        rows.push(Row { id, case, group, tags, tables, step, step_label, expected, cells, agree });
    }
    // `vary` variants in the order of their values (8192 before 16384).
    rows.sort_by(|a, b| {
        let (ba, va) = split_variant(a.id);
        let (bb, vb) = split_variant(b.id);
        ba.cmp(bb).then_with(|| variant_key(va).cmp(&variant_key(vb)))
    });
    rows
}

/// Each column's verdict counts and judged steps.
fn conformance(rows: &[Row], n: usize) -> Vec<Conformance> {
    (0..n)
        .map(|e| {
            let mut c = Conformance { pass: 0, known: 0, fail: 0, fixed: 0, unavailable: 0, over_budget: 0, unsupported: 0, steps_judged: 0, steps_ok: 0 };
            for cell in rows.iter().filter_map(|r| r.cells[e]) {
                if cell.verdict.ran() {
                    c.steps_judged += cell.steps.iter().filter(|s| s.ok.is_some()).count();
                    c.steps_ok += cell.steps.iter().filter(|s| s.ok == Some(true)).count();
                }
                match cell.verdict {
                    Verdict::Pass => c.pass += 1,
                    Verdict::Known => c.known += 1,
                    Verdict::Fail => c.fail += 1,
                    Verdict::Fixed => c.fixed += 1,
                    Verdict::Unavailable => c.unavailable += 1,
                    Verdict::OverBudget => c.over_budget += 1,
                    Verdict::Unsupported => c.unsupported += 1,
                }
            }
            c
        })
        .collect()
}

/// For each pair of columns: cases with identical outcomes, cases both ran.
fn pairwise(rows: &[Row], n: usize) -> Vec<Vec<(usize, usize)>> {
    let mut pairwise = vec![vec![(0, 0); n]; n];
    for r in rows {
        for a in 0..n {
            for b in 0..n {
                if let (Some(x), Some(y)) = (r.agree[a], r.agree[b]) {
                    pairwise[a][b].1 += 1;
                    if x == y {
                        pairwise[a][b].0 += 1;
                    }
                }
            }
        }
    }
    pairwise
}

/// The engines' texts, by outcome kind and column.
fn messages(rows: &[Row], n: usize) -> Vec<MessageRow> {
    let mut by_kind: BTreeMap<String, Vec<Messages>> = BTreeMap::new();
    for r in rows {
        for (e, cell) in r.cells.iter().enumerate() {
            let Some(cell) = cell else { continue };
            for s in &cell.steps {
                let Some(m) = s.message() else { continue };
                let kind = match &s.outcome {
                    StepOutcome::Trap { trap, .. } => format!("trap {}", trap.name()),
                    StepOutcome::Error { error, .. } => format!("error {}", error.name()),
                    StepOutcome::Skipped { .. } => continue,
                    o => o.kind().to_string(),
                };
                let slot = by_kind.entry(kind).or_insert_with(|| (0..n).map(|_| Messages::default()).collect());
                let entry = slot[e].texts.entry(headline(m)).or_insert_with(|| (0, r.id.to_string(), m.to_string()));
                entry.0 += 1;
            }
        }
    }
    by_kind.into_iter().map(|(kind, per_engine)| MessageRow { kind, per_engine }).collect()
}

/// The `limits` sweeps: per column, the largest variant that went through
/// and the first that did not.
fn limits(rows: &[Row], n: usize) -> Vec<LimitRow> {
    let mut limit_groups: BTreeMap<&str, Vec<(&str, &Row)>> = BTreeMap::new();
    for r in rows.iter().filter(|r| r.tables.contains(&TableTag::Limits)) {
        let (base, variant) = split_variant(r.id);
        limit_groups.entry(base).or_default().push((variant, r));
    }
    limit_groups
        .into_iter()
        .map(|(base, mut variants)| {
            variants.sort_by_key(|(v, _)| variant_key(v));
            let per_engine = (0..n)
                .map(|e| {
                    let mut best = None;
                    let mut first_fail = None;
                    for (v, r) in &variants {
                        let Some(cell) = r.cells[e].filter(|c| c.verdict.ran()) else { continue };
                        let label = v.to_string();
                        // A sweep is judged on the steps that use its values
                        // (`invoke grow(32768)` for `pages=32768`: the loader
                        // marks them), else on all.
                        let written = |i: usize| r.case.and_then(|c| c.steps.get(i));
                        let uses = |i: usize| written(i).is_some_and(|w| w.varies);
                        let steps = cell.steps.iter().enumerate();
                        let judged: Vec<(usize, &StepEntry)> = if (0..cell.steps.len()).any(uses) {
                            steps.filter(|(i, s)| uses(*i) || matches!(s.outcome, StepOutcome::Crash { .. } | StepOutcome::OverBudget { .. } | StepOutcome::Timeout { .. } | StepOutcome::Unsupported { .. })).collect()
                        } else {
                            steps.collect()
                        };
                        match judged.into_iter().map(|(i, s)| (s, written(i))).find(|(s, w)| is_failure_kind(s, *w)).map(|(s, _)| s) {
                            None if first_fail.is_none() => best = Some(label),
                            None => {}
                            Some(s) if first_fail.is_none() => first_fail = Some((label, format!("{}: {}", s.step, short(s)))),
                            Some(_) => {}
                        }
                    }
                    (best, first_fail)
                })
                .collect();
            LimitRow { base: base.to_string(), variants: variants.iter().map(|(v, _)| v.to_string()).collect(), per_engine }
        })
        .collect()
}

/// The seed claims: whether each holds on each column.
fn claims<'a>(rows: &[Row<'a>]) -> Vec<ClaimRow<'a>> {
    rows
        .iter()
        .filter(|r| r.tables.contains(&TableTag::SeedClaim))
        .map(|r| {
            let has_claims = r.case.is_some_and(|c| c.steps.iter().any(|s| s.claim.is_some()));
            let per_engine = r
                .cells
                .iter()
                .map(|c| match c {
                    Some(c) if c.verdict.ran() => {
                        let missed = c.steps.iter().find(|s| {
                            if has_claims { s.claim_ok == Some(false) } else { s.ok == Some(false) }
                        });
                        let untestable = |s: &StepEntry| matches!(s.outcome, StepOutcome::Crash { .. } | StepOutcome::OverBudget { .. } | StepOutcome::Timeout { .. } | StepOutcome::Unsupported { .. } | StepOutcome::Skipped { .. });
                        match missed {
                            Some(s) if untestable(s) => {
                                // Name the step that stopped it, not the skipped one.
                                let cause = c.steps.iter().find(|s| s.ok == Some(false) || untestable(s)).unwrap_or(s);
                                Holds::Untested(format!("{}: {}", cause.step, short(cause)))
                            }
                            Some(s) => Holds::No(format!("{}: {}", s.step, short(s))),
                            None => Holds::Yes,
                        }
                    }
                    _ => Holds::NotRun,
                })
                .collect();
            ClaimRow {
                id: r.id,
                claim: r.case.and_then(|c| c.source.clone()).unwrap_or_default(),
                summary: r.case.map(|c| c.summary.clone()).unwrap_or_default(),
                per_engine,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn headlines_drop_backtraces_and_thread_ids() {
        assert_eq!(super::headline("error while executing\n\nCaused by:\n    0: memory fault\n    1: wasm trap: out of bounds memory access\n"), "wasm trap: out of bounds memory access");
        assert_eq!(super::headline("worker died; stderr: thread 'main' (12104) panicked at x (a Rust panic)"), "worker died; stderr: thread 'main' panicked at x (a Rust panic)");
    }
}
