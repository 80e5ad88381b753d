//! A step's expectation as results.json records it (`"ok"`, `{"returns":
//! [-1]}`, `{"one_of": [...]}`): the case's [`Expect`] in the file's form,
//! read back into a type, so that a reader of the file (the report, the
//! terminal) matches on variants, never on JSON keys.

use crate::case::{hex_bytes, Expect, Pattern};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fmt;

/// An expectation as the file has it. Values are JSON as the report shows
/// them ([`crate::case::Val::to_json`]; a pattern such as `f32:nan:canonical`
/// is text). A form this version does not know is kept as it was written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Expected {
    /// `"ok"`, `"any"`.
    Word(String),
    Returns { returns: Vec<Value> },
    Pages { pages: u64 },
    Bytes { bytes: String },
    /// A trap kind, or `"any"` (a .wast `assert_trap`).
    Trap { trap: String },
    Error { error: String },
    OneOf { one_of: Vec<Expected> },
    /// A trap or error whose verbatim text contains this.
    Text { text: String },
    Other(Value),
}

impl From<&Expect> for Expected {
    fn from(e: &Expect) -> Expected {
        match e {
            Expect::Ok => Expected::Word("ok".into()),
            Expect::Any => Expected::Word("any".into()),
            Expect::Returns(v) => Expected::Returns { returns: v.iter().map(|v| v.to_json()).collect() },
            Expect::Pages(p) => Expected::Pages { pages: *p },
            Expect::Bytes(b) => Expected::Bytes { bytes: hex_bytes::encode(b) },
            Expect::Trap(t) => Expected::Trap { trap: t.name().into() },
            Expect::Error(k) => Expected::Error { error: k.name().into() },
            Expect::OneOf(list) => Expected::OneOf { one_of: list.iter().map(Expected::from).collect() },
            Expect::Results(p) => Expected::Returns {
                returns: p
                    .iter()
                    .map(|p| match p {
                        Pattern::Val(v) => v.to_json(),
                        other => other.to_string().into(),
                    })
                    .collect(),
            },
            Expect::TrapAny => Expected::Trap { trap: "any".into() },
            Expect::Text(t) => Expected::Text { text: t.clone() },
        }
    }
}

impl Expected {
    /// The file's JSON (what failure messages quote).
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

fn value_text(v: &Value) -> String {
    v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string())
}

/// As the report and the terminal show it: `ok`, `-1`, `pages 3`, `trap
/// out_of_bounds`, `one of -1 | 2`.
impl fmt::Display for Expected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expected::Word(w) => f.write_str(w),
            Expected::Returns { returns } => f.write_str(&returns.iter().map(value_text).collect::<Vec<_>>().join(", ")),
            Expected::Pages { pages } => write!(f, "pages {pages}"),
            Expected::Bytes { bytes } => write!(f, "bytes {bytes}"),
            Expected::Trap { trap } => write!(f, "trap {trap}"),
            Expected::Error { error } => write!(f, "error {error}"),
            Expected::OneOf { one_of } => write!(f, "one of {}", one_of.iter().map(|e| e.to_string()).collect::<Vec<_>>().join(" | ")),
            Expected::Text { text } => write!(f, "text {text}"),
            Expected::Other(v) => f.write_str(&value_text(v)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::case::{ErrorKind, TrapKind, Val};

    /// Every expectation reads back as the variant it was written from, and
    /// shows as the report has always shown it.
    #[test]
    fn expectations_read_back_typed_and_show_as_before() {
        let cases: Vec<(Expect, &str, &str)> = vec![
            (Expect::Ok, "\"ok\"", "ok"),
            (Expect::Any, "\"any\"", "any"),
            (Expect::Returns(vec![Val::I32(-1), Val::I64(2)]), "{\"returns\":[-1,2]}", "-1, 2"),
            (Expect::Pages(3), "{\"pages\":3}", "pages 3"),
            (Expect::Bytes(vec![0, 255]), "{\"bytes\":\"00ff\"}", "bytes 00ff"),
            (Expect::Trap(TrapKind::OutOfBounds), "{\"trap\":\"out_of_bounds\"}", "trap out_of_bounds"),
            (Expect::TrapAny, "{\"trap\":\"any\"}", "trap any"),
            (Expect::Error(ErrorKind::GrowFailed), "{\"error\":\"grow_failed\"}", "error grow_failed"),
            (Expect::OneOf(vec![Expect::Returns(vec![Val::I32(-1)]), Expect::Error(ErrorKind::GrowFailed)]), "{\"one_of\":[{\"returns\":[-1]},{\"error\":\"grow_failed\"}]}", "one of -1 | error grow_failed"),
            (Expect::Text("Aborted(OOM)".into()), "{\"text\":\"Aborted(OOM)\"}", "text Aborted(OOM)"),
        ];
        for (expect, json, shown) in cases {
            let e = Expected::from(&expect);
            assert_eq!(serde_json::to_string(&e).unwrap(), json);
            let back: Expected = serde_json::from_str(json).unwrap();
            assert_eq!(back, e, "{json}");
            assert_eq!(back.to_string(), shown);
        }
        let unknown: Expected = serde_json::from_str("{\"later\":1}").unwrap();
        assert_eq!(unknown, Expected::Other(serde_json::json!({"later": 1})));
    }
}
