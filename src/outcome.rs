//! Outcomes: what an engine reports for a step (raw, verbatim) and what the
//! tool makes of it (normalized). The ONE table that maps engines' raw errors
//! to kinds lives here; engines and the JS harness never classify.

use crate::case::{hex_bytes, ErrorKind, Expect, TrapKind, Val};
use serde::{Deserialize, Serialize};

/// Where in the host API a failure happened; with the text it decides the
/// error kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Compiling (decoding + validating) the module bytes.
    Compile,
    /// Resolving imports.
    Link,
    /// Instantiating: creating memories, tables, running initializers.
    Instantiate,
    /// Calling an export, outside of wasm execution (e.g. argument conversion).
    Call,
    /// The host grow API.
    Grow,
    /// Constructing a host memory.
    NewMemory,
    /// Host reads and writes of memory contents.
    Access,
}

/// A step's outcome as an engine reports it: values, or a failure with the
/// engine's own text and (where the engine has one) its own code name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RawOutcome {
    Ok,
    Returns { values: Vec<Val> },
    Pages { pages: u64 },
    Bytes { #[serde(with = "hex_bytes")] hex: Vec<u8> },
    /// wasm execution trapped (in a call, or in instantiation's initializers).
    Trap {
        /// A JS engine's exception name (`RuntimeError`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        code: Option<String>,
        /// An embedded engine's trap code, mapped by its backend.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        trap: Option<TrapKind>,
        message: String,
    },
    /// The host API refused.
    Error {
        stage: Stage,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        code: Option<String>,
        message: String,
    },
    Unsupported { message: String },
    Skipped { message: String },
    /// The tool itself failed at this step (the JS harness met a step kind
    /// it does not know, or threw): a crash cell, loud, never taken for an
    /// engine's limitation.
    Crash { message: String },
    /// The case ran past its limit and the engine's side stopped it (a
    /// browser page terminates the worker it runs cases in).
    Timeout { message: String },
    /// A testharness file ran: the harness's status and each subtest's.
    Subtests(Subtests),
}

/// What a testharness file's run gave: the harness status (testharness.js's
/// `OK` 0, `ERROR` 1, `TIMEOUT` 2, `PRECONDITION_FAILED` 3) with its
/// message, and every subtest in the order it was defined.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Subtests {
    pub status: u8,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    pub tests: Vec<Subtest>,
}

/// One subtest: its name, status (`PASS` 0, `FAIL` 1, `TIMEOUT` 2,
/// `NOTRUN` 3, `PRECONDITION_FAILED` 4) and message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Subtest {
    pub name: String,
    pub status: u8,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl Subtests {
    /// The harness ran to the end and every subtest passed.
    pub fn all_pass(&self) -> bool {
        self.status == 0 && self.tests.iter().all(|t| t.status == 0)
    }
}

/// A step's normalized outcome.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Ok,
    Returns(Vec<Val>),
    Pages(u64),
    Bytes(Vec<u8>),
    Trap(TrapKind, String),
    Error(ErrorKind, String),
    Crash(String),
    /// The run's memory budget killed the engine's process (or browser):
    /// the tool's limit, not the engine's answer. Its kind is `crash`.
    OverBudget(String),
    Timeout(String),
    Unsupported(String),
    Skipped(String),
    Subtests(Subtests),
}

/// What every form of a step's outcome is, whatever its values look like
/// ([`Outcome`] here, `results::StepOutcome` in results.json): its kind and
/// the engine's text. Each form says this once ([`Outcomes::parts`]);
/// `kind`, `message` and `same` are written here, once, for both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Ok,
    Returns,
    Pages,
    Bytes,
    Trap(TrapKind),
    Error(ErrorKind),
    Crash,
    Timeout,
    Unsupported,
    Skipped,
    Subtests,
}

impl Kind {
    /// The `kind` field: `ok`, `returns`, `trap`, ...
    pub fn name(self) -> &'static str {
        match self {
            Kind::Ok => "ok",
            Kind::Returns => "returns",
            Kind::Pages => "pages",
            Kind::Bytes => "bytes",
            Kind::Trap(_) => "trap",
            Kind::Error(_) => "error",
            Kind::Crash => "crash",
            Kind::Timeout => "timeout",
            Kind::Unsupported => "unsupported",
            Kind::Skipped => "skipped",
            Kind::Subtests => "subtests",
        }
    }

    /// Outcomes of this kind are the same whatever their text: a trap or
    /// an error by its kind, the tool's own verdicts (crash, timeout, ...)
    /// by being one; values are compared as values.
    fn text_only(self) -> bool {
        matches!(self, Kind::Trap(_) | Kind::Error(_) | Kind::Crash | Kind::Timeout | Kind::Unsupported | Kind::Skipped)
    }
}

/// A form of a step's outcome.
pub trait Outcomes: PartialEq {
    /// Its kind, and the engine's verbatim text where it has one.
    fn parts(&self) -> (Kind, Option<&str>);

    fn kind(&self) -> &'static str {
        self.parts().0.name()
    }

    /// The engine's verbatim text, for outcomes that have one.
    fn message(&self) -> Option<&str> {
        self.parts().1
    }

    /// Equal as normalized outcomes: same kind and value, whatever the text.
    fn same(&self, other: &Self) -> bool {
        let (a, b) = (self.parts().0, other.parts().0);
        if a.text_only() { a == b } else { self == other }
    }
}

impl Outcomes for Outcome {
    fn parts(&self) -> (Kind, Option<&str>) {
        match self {
            Outcome::Ok => (Kind::Ok, None),
            Outcome::Returns(_) => (Kind::Returns, None),
            Outcome::Pages(_) => (Kind::Pages, None),
            Outcome::Bytes(_) => (Kind::Bytes, None),
            Outcome::Trap(k, m) => (Kind::Trap(*k), Some(m)),
            Outcome::Error(k, m) => (Kind::Error(*k), Some(m)),
            Outcome::Crash(m) | Outcome::OverBudget(m) => (Kind::Crash, Some(m)),
            Outcome::Timeout(m) => (Kind::Timeout, Some(m)),
            Outcome::Unsupported(m) => (Kind::Unsupported, Some(m)),
            Outcome::Skipped(m) => (Kind::Skipped, Some(m)),
            Outcome::Subtests(_) => (Kind::Subtests, None),
        }
    }
}

impl Expect {
    /// Whether `outcome` meets this expectation; `None` for `any` (no verdict).
    pub fn check(&self, outcome: &Outcome) -> Option<bool> {
        match self {
            Expect::Any => None,
            other => Some(other.matches(outcome)),
        }
    }

    fn matches(&self, outcome: &Outcome) -> bool {
        match (self, outcome) {
            (Expect::Any, _) => true,
            (Expect::OneOf(list), o) => list.iter().any(|e| e.matches(o)),
            (Expect::Ok, Outcome::Ok) => true,
            (Expect::Ok, Outcome::Subtests(s)) => s.all_pass(),
            (Expect::Returns(a), Outcome::Returns(b)) => a == b,
            (Expect::Results(p), Outcome::Returns(b)) => p.len() == b.len() && p.iter().zip(b).all(|(p, v)| p.matches(v)),
            (Expect::TrapAny, Outcome::Trap(..)) => true,
            (Expect::Pages(a), Outcome::Pages(b)) => a == b,
            (Expect::Bytes(a), Outcome::Bytes(b)) => a == b,
            (Expect::Trap(a), Outcome::Trap(b, _)) => a == b,
            (Expect::Error(a), Outcome::Error(b, _)) => a == b,
            (Expect::Text(t), Outcome::Trap(_, m) | Outcome::Error(_, m)) => m.contains(t.as_str()),
            _ => false,
        }
    }
}

// ------------------------------------------------------------------ the table

/// Verbatim text fragments (lower-cased) -> trap kind, for engines that give
/// text only (JS engines) and for traps that reach the embedder as plain
/// errors. First match wins.
const TRAP_TEXTS: &[(&str, TrapKind)] = &[
    ("forcing a memory growth failure to be a trap", TrapKind::GrowLimited),
    ("growth operation limited", TrapKind::GrowLimited),
    ("memory access out of bounds", TrapKind::OutOfBounds), // V8
    ("out of bounds memory access", TrapKind::OutOfBounds), // spec, wasmtime, wasmi
    ("index out of bounds", TrapKind::OutOfBounds),         // SpiderMonkey
    ("invalid data segment initialization", TrapKind::OutOfBounds), // JavaScriptCore
    ("out of bounds", TrapKind::OutOfBounds),
    ("maximum call stack size exceeded", TrapKind::StackExhausted), // V8
    ("too much recursion", TrapKind::StackExhausted),               // SpiderMonkey
    ("call stack exhausted", TrapKind::StackExhausted),
    ("stack overflow", TrapKind::StackExhausted),
    ("value stack exhausted", TrapKind::StackExhausted), // tinywasm
    ("unreachable", TrapKind::Unreachable),
    ("divide by zero", TrapKind::IntegerDivideByZero),
    ("division by zero", TrapKind::IntegerDivideByZero),
    ("integer overflow", TrapKind::IntegerOverflow),
    ("invalid conversion to integer", TrapKind::IntegerOverflow),
    ("indirect call", TrapKind::IndirectCall),
    ("null function", TrapKind::IndirectCall),
    ("signature mismatch", TrapKind::IndirectCall),
    ("uninitialized element", TrapKind::IndirectCall),
];

/// Texts of malformed binaries (decoding errors, as the spec's
/// `assert_malformed` texts and wasmparser phrase them).
const MALFORMED_TEXTS: &[&str] = &[
    "magic header",
    "unknown binary version",
    "unexpected end",
    "malformed",
    "integer representation too long",
    "integer too large",
    "section size mismatch",
    "length out of bounds",
    "unexpected content after last section",
    "illegal opcode",
    "invalid section id",
    "zero byte expected",
    "too many locals",
    "junk after last section",
];

/// Texts of allocation failures the host could not satisfy.
const RESOURCE_TEXTS: &[&str] = &[
    "could not allocate",
    "cannot allocate",
    "out of memory",
    "failed to allocate",
    "allocation failed",
    "exceeds memory limits",
    "exceeds the allowed memory limit",
    "minimum exceeds",
    "insufficient resources",
    "mmap failed",
    "failed to mmap",
    "memory size exceeds",
    "resource limiter denied",
];

/// Texts of link failures.
const UNLINKABLE_TEXTS: &[&str] = &[
    "unknown import",
    "incompatible import",
    "import object",
    "not a memory",
    "imported memory",
    "linkerror",
    "type mismatch",
    "error while importing",
    "cannot find definition for import",
    "found definition for import", // wasmi: an import of the wrong kind
];

fn contains_any(text: &str, fragments: &[&str]) -> bool {
    fragments.iter().any(|f| text.contains(f))
}

/// The text every import stub fails with when called (session.rs and
/// drivers/harness/ write it).
pub const STUB_CALLED: &str = "called the stub of import";

/// The trap kind of a trap's text (a JS engine's, whose exception name says
/// only that it trapped, or an embedded engine's whose backend has no code
/// for it; the backends map their codes themselves).
pub fn trap_kind(message: &str) -> TrapKind {
    let lower = message.to_lowercase();
    TRAP_TEXTS.iter().find(|(t, _)| lower.contains(t)).map(|(_, k)| *k).unwrap_or(TrapKind::Other)
}

/// The error kind for a host API failure at `stage` with code and text.
/// JS engines give the exception's constructor name as the code
/// (`RangeError`, `TypeError`, `CompileError`, `LinkError`).
pub fn error_kind(stage: Stage, code: Option<&str>, message: &str) -> ErrorKind {
    let lower = message.to_lowercase();
    if code == Some("TypeError") {
        return ErrorKind::TypeError;
    }
    match stage {
        Stage::Compile => {
            if contains_any(&lower, MALFORMED_TEXTS) { ErrorKind::Malformed } else { ErrorKind::Invalid }
        }
        Stage::Link => {
            if contains_any(&lower, RESOURCE_TEXTS) { ErrorKind::Resource } else { ErrorKind::Unlinkable }
        }
        Stage::Instantiate => {
            if contains_any(&lower, RESOURCE_TEXTS) {
                ErrorKind::Resource
            } else if code == Some("LinkError") || contains_any(&lower, UNLINKABLE_TEXTS) {
                ErrorKind::Unlinkable
            } else {
                ErrorKind::Other
            }
        }
        Stage::Grow => ErrorKind::GrowFailed,
        Stage::NewMemory => {
            if contains_any(&lower, RESOURCE_TEXTS) { ErrorKind::Resource } else { ErrorKind::Invalid }
        }
        // A JS engine names what it threw: only a TypeError (caught above)
        // is one; what a toolchain's glue throws or says (`code` "Error",
        // "glue") is other. An embedder's call error is about the arguments.
        Stage::Call if code.is_some() => ErrorKind::Other,
        Stage::Call => ErrorKind::TypeError,
        Stage::Access => ErrorKind::Other,
    }
}

/// Raw engine outcome -> normalized outcome.
pub fn normalize(raw: RawOutcome) -> Outcome {
    match raw {
        RawOutcome::Ok => Outcome::Ok,
        RawOutcome::Returns { values } => Outcome::Returns(values),
        RawOutcome::Pages { pages } => Outcome::Pages(pages),
        RawOutcome::Bytes { hex } => Outcome::Bytes(hex),
        RawOutcome::Trap { trap, message, .. } => Outcome::Trap(trap.unwrap_or_else(|| trap_kind(&message)), message),
        // An import's stub failed inside wasm execution (`imports: stub`): the
        // call traps, whatever the embedder's API calls the host's error
        // (wasmtime and wasmer give it back as a plain error of the call).
        RawOutcome::Error { stage: Stage::Call, message, .. } if message.contains(STUB_CALLED) => Outcome::Trap(TrapKind::Other, message),
        RawOutcome::Error { stage, code, message } => match error_kind(stage, code.as_deref(), &message) {
            // Instantiation fails by linking, by resources or by trapping (a
            // segment out of bounds, a start function): an engine that
            // reports the trap as a plain error (wasmi: "out of bounds table
            // access: ... does not fit") still trapped.
            ErrorKind::Other if stage == Stage::Instantiate => match trap_kind(&message) {
                TrapKind::Other => Outcome::Error(ErrorKind::Other, message),
                trap => Outcome::Trap(trap, message),
            },
            kind => Outcome::Error(kind, message),
        },
        RawOutcome::Unsupported { message } => Outcome::Unsupported(message),
        RawOutcome::Subtests(s) => Outcome::Subtests(s),
        RawOutcome::Skipped { message } => Outcome::Skipped(message),
        RawOutcome::Crash { message } => Outcome::Crash(message),
        RawOutcome::Timeout { message } => Outcome::Timeout(message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_backends_trap_kind_wins_over_text() {
        let raw = RawOutcome::Trap { code: None, trap: Some(TrapKind::StackExhausted), message: "out of bounds".into() };
        assert!(matches!(normalize(raw), Outcome::Trap(TrapKind::StackExhausted, _)));
        let raw = RawOutcome::Trap { code: None, trap: None, message: "integer divide by zero".into() };
        assert!(matches!(normalize(raw), Outcome::Trap(TrapKind::IntegerDivideByZero, _)));
    }

    #[test]
    fn js_trap_texts() {
        assert_eq!(trap_kind("RuntimeError: memory access out of bounds"), TrapKind::OutOfBounds);
        assert_eq!(trap_kind("RuntimeError: index out of bounds"), TrapKind::OutOfBounds);
        assert_eq!(trap_kind("RangeError: Maximum call stack size exceeded"), TrapKind::StackExhausted);
        assert_eq!(trap_kind("InternalError: too much recursion"), TrapKind::StackExhausted);
        assert_eq!(trap_kind("RuntimeError: unreachable executed"), TrapKind::Unreachable);
        assert_eq!(trap_kind("something else entirely"), TrapKind::Other);
    }

    #[test]
    fn error_kinds_by_stage() {
        assert_eq!(error_kind(Stage::Compile, None, "size minimum must not be greater than maximum"), ErrorKind::Invalid);
        assert_eq!(error_kind(Stage::Compile, None, "magic header not detected: bad magic number"), ErrorKind::Malformed);
        assert_eq!(error_kind(Stage::Compile, None, "unexpected end-of-file (at offset 0x8)"), ErrorKind::Malformed);
        assert_eq!(error_kind(Stage::Grow, None, "failed to grow memory by `5`"), ErrorKind::GrowFailed);
        assert_eq!(error_kind(Stage::Grow, Some("RangeError"), "WebAssembly.Memory.grow(): Maximum memory size exceeded"), ErrorKind::GrowFailed);
        assert_eq!(error_kind(Stage::Grow, Some("TypeError"), "bad delta"), ErrorKind::TypeError);
        assert_eq!(error_kind(Stage::Call, Some("TypeError"), "Cannot convert 1 to a BigInt"), ErrorKind::TypeError);
        assert_eq!(error_kind(Stage::Call, Some("glue"), "onAbort: OOM"), ErrorKind::Other);
        assert_eq!(error_kind(Stage::Call, None, "argument type mismatch"), ErrorKind::TypeError);
        assert_eq!(error_kind(Stage::NewMemory, Some("RangeError"), "Property 'maximum': value 1 is below the lower bound 2"), ErrorKind::Invalid);
        assert_eq!(error_kind(Stage::NewMemory, Some("RangeError"), "WebAssembly.Memory(): could not allocate memory"), ErrorKind::Resource);
        assert_eq!(error_kind(Stage::Instantiate, None, "memory minimum size of 10 pages exceeds memory limits"), ErrorKind::Resource);
        assert_eq!(error_kind(Stage::Link, None, "unknown import: `env::memory` has not been defined"), ErrorKind::Unlinkable);
        assert_eq!(error_kind(Stage::Instantiate, Some("LinkError"), "WebAssembly.Instance(): Import #0"), ErrorKind::Unlinkable);
        let wrong_kind = "found definition for import (test,func) with type Global(GlobalType { content: I32, mutability: Const }) but found type Func(FuncType { core: FuncType { params: [], results: [] } })";
        assert_eq!(error_kind(Stage::Instantiate, None, wrong_kind), ErrorKind::Unlinkable);
    }

    #[test]
    fn an_instantiation_that_fails_with_a_trap_text_trapped() {
        // wasmi reports an element segment out of bounds as a plain error.
        let raw = RawOutcome::Error {
            stage: Stage::Instantiate,
            code: None,
            message: "out of bounds table access: Table(..) does not fit 1 elements starting from offset 10".into(),
        };
        assert!(matches!(normalize(raw), Outcome::Trap(TrapKind::OutOfBounds, _)));
        // Other stages keep their error kind; an instantiation error without a trap text stays `other`.
        let raw = RawOutcome::Error { stage: Stage::Access, code: None, message: "out of bounds memory access".into() };
        assert!(matches!(normalize(raw), Outcome::Error(ErrorKind::Other, _)));
        let raw = RawOutcome::Error { stage: Stage::Instantiate, code: None, message: "tried to instantiate too many tables".into() };
        assert!(matches!(normalize(raw), Outcome::Error(ErrorKind::Other, _)));
    }

    #[test]
    fn expectations() {
        let oob = Outcome::Trap(TrapKind::OutOfBounds, "x".into());
        assert_eq!(Expect::Trap(TrapKind::OutOfBounds).check(&oob), Some(true));
        assert_eq!(Expect::Trap(TrapKind::Unreachable).check(&oob), Some(false));
        assert_eq!(Expect::Any.check(&oob), None);
        let one_of = Expect::OneOf(vec![Expect::Returns(vec![Val::I32(-1)]), Expect::Returns(vec![Val::I32(1)])]);
        assert_eq!(one_of.check(&Outcome::Returns(vec![Val::I32(1)])), Some(true));
        assert_eq!(one_of.check(&Outcome::Returns(vec![Val::I32(2)])), Some(false));
        assert_eq!(Expect::Returns(vec![Val::I32(-1)]).check(&Outcome::Returns(vec![Val::I64(-1)])), Some(false));
        assert_eq!(Expect::Ok.check(&Outcome::Crash("signal 11".into())), Some(false));
    }

    #[test]
    fn same_ignores_messages_only() {
        let a = Outcome::Trap(TrapKind::OutOfBounds, "memory access out of bounds".into());
        let b = Outcome::Trap(TrapKind::OutOfBounds, "out of bounds memory access".into());
        assert!(a.same(&b));
        assert!(!a.same(&Outcome::Trap(TrapKind::Unreachable, "memory access out of bounds".into())));
        assert!(!Outcome::Returns(vec![Val::I32(1)]).same(&Outcome::Returns(vec![Val::I32(-1)])));
    }
}
