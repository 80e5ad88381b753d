//! A step of a cell in results.json: its label, whether it met its
//! expectation, and its outcome as a typed enum. The JSON is the contract
//! other tools read: the outcome's fields sit beside `step` and `ok`, in
//! the order the file has always had them (alphabetical: `error`, `hex`,
//! `kind`, `message`, `pages`, `trap`, `values`), which [`StepWire`] fixes.

use crate::case::{hex_bytes, ErrorKind, TrapKind};
use crate::outcome::{Kind, Outcome, Outcomes};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A step's outcome as results.json records it. `values` are the values as
/// the report shows them ([`crate::case::Val::to_json`]: integers as
/// numbers, special floats as text), which is all a reader gets back.
#[derive(Debug, Clone, PartialEq)]
pub enum StepOutcome {
    Ok,
    Returns { values: Vec<Value> },
    Pages { pages: u64 },
    Bytes { hex: String },
    Trap { trap: TrapKind, message: String },
    Error { error: ErrorKind, message: String },
    Crash { message: String },
    /// A crash the memory budget caused (`"over_budget": true` beside
    /// `"kind": "crash"`, extension).
    OverBudget { message: String },
    Timeout { message: String },
    Unsupported { message: String },
    Skipped { message: String },
}

impl Outcomes for StepOutcome {
    fn parts(&self) -> (Kind, Option<&str>) {
        match self {
            StepOutcome::Ok => (Kind::Ok, None),
            StepOutcome::Returns { .. } => (Kind::Returns, None),
            StepOutcome::Pages { .. } => (Kind::Pages, None),
            StepOutcome::Bytes { .. } => (Kind::Bytes, None),
            StepOutcome::Trap { trap, message } => (Kind::Trap(*trap), Some(message)),
            StepOutcome::Error { error, message } => (Kind::Error(*error), Some(message)),
            StepOutcome::Crash { message } | StepOutcome::OverBudget { message } => (Kind::Crash, Some(message)),
            StepOutcome::Timeout { message } => (Kind::Timeout, Some(message)),
            StepOutcome::Unsupported { message } => (Kind::Unsupported, Some(message)),
            StepOutcome::Skipped { message } => (Kind::Skipped, Some(message)),
        }
    }
}

impl StepOutcome {
    /// The outcome without the engine's text: what "identical normalized
    /// outcome" compares.
    pub fn normalized(&self) -> StepOutcome {
        let mut o = self.clone();
        match &mut o {
            StepOutcome::Trap { message, .. }
            | StepOutcome::Error { message, .. }
            | StepOutcome::Crash { message }
            | StepOutcome::OverBudget { message }
            | StepOutcome::Timeout { message }
            | StepOutcome::Unsupported { message }
            | StepOutcome::Skipped { message } => message.clear(),
            _ => {}
        }
        o
    }

    /// A grow that failed the wasm way: it returned -1.
    pub fn is_grow_failure(&self) -> bool {
        matches!(self, StepOutcome::Returns { values } if values.len() == 1 && (values[0] == -1 || values[0] == "-1"))
    }
}

/// The outcome alone, as its fields stand in a step (`diff` prints it).
impl Serialize for StepOutcome {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let w = StepWire::of("", None, self, None, None, None);
        OutcomeWire { error: w.error, hex: w.hex, kind: w.kind, message: w.message, over_budget: w.over_budget, pages: w.pages, trap: w.trap, values: w.values }.serialize(s)
    }
}

#[derive(Serialize)]
struct OutcomeWire {
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<ErrorKind>,
    #[serde(skip_serializing_if = "Option::is_none")]
    hex: Option<String>,
    kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    over_budget: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pages: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    trap: Option<TrapKind>,
    #[serde(skip_serializing_if = "Option::is_none")]
    values: Option<Vec<Value>>,
}

impl From<&Outcome> for StepOutcome {
    fn from(o: &Outcome) -> StepOutcome {
        match o {
            Outcome::Ok => StepOutcome::Ok,
            Outcome::Returns(v) => StepOutcome::Returns { values: v.iter().map(|v| v.to_json()).collect() },
            Outcome::Pages(p) => StepOutcome::Pages { pages: *p },
            Outcome::Bytes(b) => StepOutcome::Bytes { hex: hex_bytes::encode(b) },
            Outcome::Trap(k, m) => StepOutcome::Trap { trap: *k, message: m.clone() },
            Outcome::Error(k, m) => StepOutcome::Error { error: *k, message: m.clone() },
            Outcome::Crash(m) => StepOutcome::Crash { message: m.clone() },
            Outcome::OverBudget(m) => StepOutcome::OverBudget { message: m.clone() },
            Outcome::Timeout(m) => StepOutcome::Timeout { message: m.clone() },
            Outcome::Unsupported(m) => StepOutcome::Unsupported { message: m.clone() },
            Outcome::Skipped(m) => StepOutcome::Skipped { message: m.clone() },
            // A testharness file's steps are its subtests (the collector
            // expands them); as one step, whether all passed.
            Outcome::Subtests(s) if s.all_pass() => StepOutcome::Ok,
            Outcome::Subtests(s) => {
                let failed = s.tests.iter().filter(|t| t.status != 0).count();
                StepOutcome::Error { error: ErrorKind::Other, message: format!("{failed} of {} subtests did not pass", s.tests.len()) }
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct StepEntry {
    /// `invoke grow(2)`
    pub step: String,
    /// Whether the outcome met `expect`; absent for `expect: any`.
    pub ok: Option<bool>,
    pub outcome: StepOutcome,
    /// What the case expects (extension: `"ok"`, `{"returns": [-1]}`, ...).
    pub expect: Option<super::Expected>,
    /// Whether the outcome met the step's `claim` (extension; only on steps
    /// that have one).
    pub claim_ok: Option<bool>,
    /// The engine's own time for this step, in milliseconds, where it said
    /// (extension).
    pub ms: Option<f64>,
}

impl StepEntry {
    pub fn kind(&self) -> &'static str {
        self.outcome.kind()
    }

    pub fn message(&self) -> Option<&str> {
        self.outcome.message()
    }
}

/// A step as it is written: the fields in the file's order.
#[derive(Serialize, Deserialize)]
struct StepWire {
    step: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ok: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    error: Option<ErrorKind>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    hex: Option<String>,
    kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    over_budget: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pages: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    trap: Option<TrapKind>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    values: Option<Vec<Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expect: Option<super::Expected>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    claim_ok: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ms: Option<f64>,
}

impl StepWire {
    fn of(step: &str, ok: Option<bool>, o: &StepOutcome, expect: Option<super::Expected>, claim_ok: Option<bool>, ms: Option<f64>) -> StepWire {
        StepWire {
            step: step.to_string(),
            ok,
            error: match o {
                StepOutcome::Error { error, .. } => Some(*error),
                _ => None,
            },
            hex: match o {
                StepOutcome::Bytes { hex } => Some(hex.clone()),
                _ => None,
            },
            kind: o.kind().to_string(),
            message: o.message().map(str::to_string),
            over_budget: matches!(o, StepOutcome::OverBudget { .. }).then_some(true),
            pages: match o {
                StepOutcome::Pages { pages } => Some(*pages),
                _ => None,
            },
            trap: match o {
                StepOutcome::Trap { trap, .. } => Some(*trap),
                _ => None,
            },
            values: match o {
                StepOutcome::Returns { values } => Some(values.clone()),
                _ => None,
            },
            expect,
            claim_ok,
            ms,
        }
    }
}

impl Serialize for StepEntry {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        StepWire::of(&self.step, self.ok, &self.outcome, self.expect.clone(), self.claim_ok, self.ms).serialize(s)
    }
}

impl<'de> Deserialize<'de> for StepEntry {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<StepEntry, D::Error> {
        use serde::de::Error;
        let w = StepWire::deserialize(d)?;
        let need = |what: &str| D::Error::custom(format!("a `{}` step has no `{what}`", w.kind));
        // A message is always written; one left out reads as empty.
        let message = || Ok::<String, D::Error>(w.message.clone().unwrap_or_default());
        let outcome = match w.kind.as_str() {
            "ok" => StepOutcome::Ok,
            "returns" => StepOutcome::Returns { values: w.values.clone().ok_or_else(|| need("values"))? },
            "pages" => StepOutcome::Pages { pages: w.pages.ok_or_else(|| need("pages"))? },
            "bytes" => StepOutcome::Bytes { hex: w.hex.clone().ok_or_else(|| need("hex"))? },
            "trap" => StepOutcome::Trap { trap: w.trap.ok_or_else(|| need("trap"))?, message: message()? },
            "error" => StepOutcome::Error { error: w.error.ok_or_else(|| need("error"))?, message: message()? },
            "crash" if w.over_budget == Some(true) => StepOutcome::OverBudget { message: message()? },
            "crash" => StepOutcome::Crash { message: message()? },
            "timeout" => StepOutcome::Timeout { message: message()? },
            "unsupported" => StepOutcome::Unsupported { message: message()? },
            "skipped" => StepOutcome::Skipped { message: message()? },
            other => {
                return Err(D::Error::custom(format!(
                    "unknown step kind `{other}` (expected ok, returns, pages, bytes, trap, error, crash, timeout, unsupported or skipped)"
                )))
            }
        };
        Ok(StepEntry { step: w.step, ok: w.ok, outcome, expect: w.expect, claim_ok: w.claim_ok, ms: w.ms })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bytes results.json has always had: outcome fields in alphabetical
    /// order between `ok` and `expect`; and they read back the same.
    #[test]
    fn steps_keep_their_json_bytes_and_read_back() {
        let cases = [
            (StepOutcome::Trap { trap: TrapKind::OutOfBounds, message: "oob".into() }, r#"{"step":"s","ok":true,"kind":"trap","message":"oob","trap":"out_of_bounds","expect":"ok"}"#),
            (StepOutcome::Error { error: ErrorKind::GrowFailed, message: "no".into() }, r#"{"step":"s","ok":true,"error":"grow_failed","kind":"error","message":"no","expect":"ok"}"#),
            (StepOutcome::Returns { values: vec![(-1).into(), "nan:0x7fc00000".into()] }, r#"{"step":"s","ok":true,"kind":"returns","values":[-1,"nan:0x7fc00000"],"expect":"ok"}"#),
            (StepOutcome::Pages { pages: 2 }, r#"{"step":"s","ok":true,"kind":"pages","pages":2,"expect":"ok"}"#),
            (StepOutcome::Bytes { hex: "00ff".into() }, r#"{"step":"s","ok":true,"hex":"00ff","kind":"bytes","expect":"ok"}"#),
            (StepOutcome::Ok, r#"{"step":"s","ok":true,"kind":"ok","expect":"ok"}"#),
            // A budget kill is a crash that says so; a plain crash does not.
            (StepOutcome::OverBudget { message: "memory budget: killed".into() }, r#"{"step":"s","ok":true,"kind":"crash","message":"memory budget: killed","over_budget":true,"expect":"ok"}"#),
            (StepOutcome::Crash { message: "signal 11".into() }, r#"{"step":"s","ok":true,"kind":"crash","message":"signal 11","expect":"ok"}"#),
        ];
        let trap = StepOutcome::Trap { trap: TrapKind::OutOfBounds, message: "oob".into() };
        assert_eq!(serde_json::to_string(&trap).unwrap(), r#"{"kind":"trap","message":"oob","trap":"out_of_bounds"}"#);
        for (outcome, json) in cases {
            let entry = StepEntry { step: "s".into(), ok: Some(true), outcome, expect: Some(crate::results::Expected::Word("ok".into())), claim_ok: None, ms: None };
            assert_eq!(serde_json::to_string(&entry).unwrap(), json);
            assert_eq!(serde_json::from_str::<StepEntry>(json).unwrap(), entry);
        }
        let err = serde_json::from_str::<StepEntry>(r#"{"step":"s","kind":"trap","message":"x"}"#).unwrap_err();
        assert!(err.to_string().contains("a `trap` step has no `trap`"), "{err}");
    }
}
