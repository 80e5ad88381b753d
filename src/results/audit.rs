//! `audit.json`, what `wasm-matrix audit` found per module and column: a
//! contract like results.json (documented in the README), which `report`
//! reads for its "Modules" section.

use serde::{Deserialize, Serialize};

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
