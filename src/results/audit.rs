//! `audit.json`, what `wasm-matrix audit` found per module and column: a
//! contract like results.json (documented in the README), which `report`
//! reads for its "Modules" section.

use serde::{Deserialize, Serialize};
use std::fmt::Write;

/// One memory of a module.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemoryDecl {
    /// `env.memory` for an imported memory, absent for a defined one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub import: Option<String>,
    /// The names it is exported under.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exports: Vec<String>,
    pub initial: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maximum: Option<u64>,
    pub shared: bool,
    pub memory64: bool,
    /// Bytes per page (65536 unless the custom-page-sizes proposal says else).
    pub page_bytes: u64,
}

impl MemoryDecl {
    /// `1..2 pages (64 KiB..128 KiB), shared, 64-bit`.
    pub fn describe(&self) -> String {
        let bytes = |pages: u64| human(pages.saturating_mul(self.page_bytes));
        let mut s = match self.maximum {
            Some(m) => format!("{}..{m} pages ({}..{})", self.initial, bytes(self.initial), bytes(m)),
            None => format!("{} pages ({}), no maximum", self.initial, bytes(self.initial)),
        };
        if self.shared {
            s += ", shared";
        }
        if self.memory64 {
            s += ", 64-bit";
        }
        if self.page_bytes != 65536 {
            s += &format!(", {}-byte pages", self.page_bytes);
        }
        s
    }
}

/// `64 KiB`, `2.0 GiB`.
pub fn human(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 30 => format!("{:.1} GiB", b as f64 / (1u64 << 30) as f64),
        b if b >= 1 << 20 => format!("{:.1} MiB", b as f64 / (1u64 << 20) as f64),
        b if b >= 1024 => format!("{} KiB", b / 1024),
        b => format!("{b} bytes"),
    }
}

/// One module on one column.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub module: String,
    pub sha256: String,
    pub bytes: usize,
    /// The module's memories as it declares them.
    pub memories: Vec<MemoryDecl>,
    /// Its imports: module name -> kind (`func`, `memory`, `table`,
    /// `global`, `tag`) -> how many (extension).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub imports: std::collections::BTreeMap<String, std::collections::BTreeMap<String, usize>>,
    pub column: String,
    /// Whether the column ran it at all, and if not why.
    pub available: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// `validate` said valid; `None` where the step did not answer (then
    /// `unanswered` says why).
    pub compiles: Option<bool>,
    /// The compile case compiled it (a fresh compile, alone) (extension).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compiled: Option<bool>,
    /// Instantiated with every import stubbed.
    pub instantiates: Option<bool>,
    /// The memory's size after the grow to its maximum (pages), and what a
    /// grow one page past gave (`-1`, `error grow_failed`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reached_pages: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub one_page_past: Option<String>,
    /// The engine's own time for instantiating the module (compiled by the
    /// step before: for a module of 64 KiB or more, the same compiled
    /// module; a smaller one is compiled again, a fraction of a
    /// millisecond), ms. (Audits before per-step times counted validate +
    /// compile + instantiate.)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instantiate_ms: Option<f64>,
    /// The engine's own time for a fresh compile, alone, ms (extension).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compile_ms: Option<f64>,
    /// How many instances of the module one process (page, isolate) held
    /// alive at once, each with its imports stubbed, before one failed or
    /// the audit's limit (`instances_limit`) was reached (extension).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instances: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instances_limit: Option<u64>,
    /// The same count with the engine process's address space limited to
    /// 16 GiB (RLIMIT_AS), on the columns that are the tool's own
    /// processes (the embedded ones); absent elsewhere (extension).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instances_16gib: Option<u64>,
    /// The engine's own texts for what failed, `step: text`, each whole
    /// (every line of it: the cause chain included).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub messages: Vec<String>,
    /// Why an answer is `null` (extension): the field's name (`compiles`,
    /// `compiled`, `instantiates`, `reached_pages`, `one_page_past`,
    /// `compile_ms`, `instantiate_ms`, `instances`, `instances_16gib`) ->
    /// "timed out after 120 s", "over the memory budget: ...", "crashed:
    /// ...", "unsupported: ...", "not run: ...". A `false` is the engine's
    /// answer, never this; a `null` without an entry here is a question that
    /// does not apply to the module (no memory to grow, ...).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub unanswered: std::collections::BTreeMap<String, Unanswered>,
}

/// Why a question got no answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Unanswered {
    pub why: Why,
    /// The whole text: the limit, the tool's or the engine's words.
    pub text: String,
    /// A timeout's limit, in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seconds: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Why {
    /// The case ran past its limit (`text` says how long it had).
    TimedOut,
    /// The memory budget stopped the engine, or kept the case from running.
    OverBudget,
    /// The engine process (or browser session) died.
    Crashed,
    /// The column cannot express what the case asks.
    Unsupported,
    /// The column is not installed here.
    Unavailable,
    /// The case did not run: an earlier step ended it, or the audit was
    /// interrupted.
    NotRun,
}

impl Unanswered {
    pub fn new(why: Why, text: impl Into<String>) -> Unanswered {
        Unanswered { why, text: text.into(), seconds: None }
    }

    pub fn timed_out(seconds: f64) -> Unanswered {
        Unanswered { why: Why::TimedOut, text: format!("timed out after {seconds:.0} s"), seconds: Some(seconds) }
    }

    /// A table cell's words: `timed out (120 s)`, `over budget`, ...
    pub fn label(&self) -> String {
        match self.why {
            Why::TimedOut => format!("timed out ({:.0} s)", self.seconds.unwrap_or_default()),
            Why::OverBudget => "over budget".into(),
            Why::Crashed => "crashed".into(),
            Why::Unsupported => "unsupported".into(),
            Why::Unavailable => "unavailable".into(),
            Why::NotRun => "not run".into(),
        }
    }
}

/// The answers' names, in the order of [`row`].
pub const ROW_HEAD: [&str; 10] = ["column", "validates", "compiles", "instantiates", "pages reached", "one page past", "inst. ms", "compile ms", "instances", "in 16 GiB"];

/// A column's row: every answer, yes / no / why not.
pub fn row(r: &Record) -> Vec<String> {
    let why = |field: &str| r.unanswered.get(field).map(|u| u.label());
    let yes = |b: Option<bool>, field: &str| match b {
        Some(true) => "yes".to_string(),
        Some(false) => "no".to_string(),
        None => why(field).unwrap_or_else(|| "-".into()),
    };
    let or_why = |v: Option<String>, field: &str| v.or_else(|| why(field)).unwrap_or_else(|| "-".into());
    vec![
        r.column.clone(),
        yes(r.compiles, "compiles"),
        yes(r.compiled, "compiled"),
        yes(r.instantiates, "instantiates"),
        or_why(r.reached_pages.map(|p| p.to_string()), "reached_pages"),
        or_why(r.one_page_past.clone(), "one_page_past"),
        or_why(r.instantiate_ms.map(|ms| format!("{ms:.1}")), "instantiate_ms"),
        or_why(r.compile_ms.map(|ms| format!("{ms:.1}")), "compile_ms"),
        or_why(r.instances.is_some().then(|| instances(r)), "instances"),
        or_why(r.instances_16gib.map(|n| n.to_string()), "instances_16gib"),
    ]
}

/// `12`, or `100 (limit)` when every instance the audit asked for came.
fn instances(r: &Record) -> String {
    match (r.instances, r.instances_limit) {
        (Some(n), Some(l)) if n >= l => format!("{n} (limit)"),
        (Some(n), _) => n.to_string(),
        _ => "-".into(),
    }
}

/// "instantiates on 15 of 17 columns (not on webkit: ...); reaches its
/// declared 16384 pages on 15 columns".
pub fn verdict(memories: &[MemoryDecl], records: &[&Record]) -> String {
    let ran: Vec<&&Record> = records.iter().filter(|r| r.available).collect();
    let answered: Vec<&&&Record> = ran.iter().filter(|r| r.instantiates.is_some()).collect();
    let ok: Vec<&&&Record> = answered.iter().copied().filter(|r| r.instantiates == Some(true)).collect();
    let mut s = format!("instantiates on {} of {} columns", ok.len(), answered.len());
    if answered.len() < ran.len() {
        s += " that answered";
    }
    let not: Vec<String> = answered
        .iter()
        .filter(|r| r.instantiates == Some(false))
        .map(|r| format!("{}: {}", r.column, r.messages.first().and_then(|m| m.lines().filter(|l| !l.trim().is_empty()).last()).map(str::trim).unwrap_or("no text")))
        .collect();
    if !not.is_empty() {
        let _ = write!(s, " (not on {})", not.join("; "));
    }
    let silent: Vec<String> = ran.iter().filter_map(|r| r.unanswered.get("instantiates").map(|u| format!("{}: {}", r.column, u.label()))).collect();
    if !silent.is_empty() {
        let _ = write!(s, "; answered on {} of {} columns (not answered on {})", answered.len(), ran.len(), silent.join(", "));
    }
    if let Some(mem) = memories.first() {
        let target = mem.maximum;
        let reached = ok.iter().filter(|r| r.reached_pages.is_some() && r.reached_pages == target).count();
        match target {
            Some(t) => {
                let _ = write!(s, "; reaches its declared {t} pages ({}) on {} of {}", human(t.saturating_mul(mem.page_bytes)), reached, ok.len());
            }
            None => {
                let reached: Vec<u64> = ok.iter().filter_map(|r| r.reached_pages).collect();
                if let (Some(lo), Some(hi)) = (reached.iter().min(), reached.iter().max()) {
                    let _ = write!(s, "; no declared maximum: grows to {lo}..{hi} pages ({}..{})", human(lo * mem.page_bytes), human(hi * mem.page_bytes));
                }
            }
        }
    }
    let mut groups: std::collections::BTreeMap<String, Vec<&str>> = Default::default();
    for r in ok.iter().filter(|r| r.instances.is_some()) {
        groups.entry(instances(r)).or_default().push(&r.column);
    }
    let counts: Vec<String> = groups
        .iter()
        .map(|(n, cols)| if cols.len() > 3 { format!("{n} on {} columns", cols.len()) } else { format!("{n} on {}", cols.join(", ")) })
        .collect();
    if !counts.is_empty() {
        let _ = write!(s, "; live instances per process: {}", counts.join(", "));
    }
    let under: Vec<String> = ok.iter().filter_map(|r| r.instances_16gib.filter(|n| r.instances_limit.is_some_and(|l| l > *n)).map(|n| format!("{n} on {}", r.column))).collect();
    if !under.is_empty() {
        let _ = write!(s, "; under a 16 GiB address space: {}", under.join(", "));
    }
    s
}
