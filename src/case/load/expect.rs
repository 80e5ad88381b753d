//! `expect:` (and `claim:`) -> an [`Expect`], typed by the step's action.

use super::literals::{typed, yaml_kind};
use super::ctx::type_list;
use super::ctx::Ctx;
use super::raw::*;
use super::super::error::LoadError;
use crate::case::*;
use serde_yaml::Value as Yaml;

pub(super) const EXPECT_KINDS: &str = "`ok`, `any`, `returns`, `pages`, `bytes`, `trap`, `error`, `text` or `one_of`";

/// Reads an `expect` value: `ok`, `any`, or a mapping with one kind.
pub(super) fn raw_expect(v: &Yaml, path: &str, cx: &Ctx) -> Result<RawExpect, LoadError> {
    let err = |m: String| cx.err(path, m);
    let from = |v: &Yaml, kind: &str| -> Result<_, LoadError> { Ok((v.clone(), format!("{path}.{kind}"))) };
    match v {
        Yaml::String(s) if s == "ok" => return Ok(RawExpect::Ok),
        Yaml::String(s) if s == "any" => return Ok(RawExpect::Any),
        Yaml::String(s) => return Err(err(format!("unknown expectation `{s}` (expected {EXPECT_KINDS})"))),
        Yaml::Mapping(m) if m.len() == 1 => {
            let (k, val) = m.iter().next().expect("one entry");
            let kind = k.as_str().unwrap_or_default();
            let (val, at) = from(val, kind)?;
            let conv = |e: serde_yaml::Error| cx.err(&at, format!("`{kind}`: {e}"));
            return Ok(match kind {
                "returns" => RawExpect::Returns(serde_yaml::from_value(val).map_err(conv)?),
                "pages" => RawExpect::Pages(serde_yaml::from_value(val).map_err(conv)?),
                "bytes" => RawExpect::Bytes(serde_yaml::from_value(val).map_err(conv)?),
                "trap" => RawExpect::Trap(serde_yaml::from_value(val).map_err(conv)?),
                "error" => RawExpect::Error(serde_yaml::from_value(val).map_err(conv)?),
                "text" => RawExpect::Text(serde_yaml::from_value(val).map_err(conv)?),
                "one_of" => {
                    let list: Vec<Yaml> = serde_yaml::from_value(val).map_err(conv)?;
                    let mut out = Vec::new();
                    for (i, item) in list.iter().enumerate() {
                        out.push(raw_expect(item, &format!("{at}.{i}"), cx)?);
                    }
                    RawExpect::OneOf(out)
                }
                "ok" | "any" => return Err(err(format!("`{kind}` takes no value: write `expect: {kind}`"))),
                other => return Err(err(format!("unknown expectation `{other}` (expected {EXPECT_KINDS})"))),
            });
        }
        Yaml::Mapping(m) => {
            let keys: Vec<String> = m.keys().map(|k| k.as_str().unwrap_or("?").to_string()).collect();
            Err(err(format!("an expectation has exactly one kind, found {}: {}", keys.len(), keys.join(", "))))
        }
        other => Err(err(format!("expected {EXPECT_KINDS}, found {}", yaml_kind(other)))),
    }
}

/// Converts and checks an `expect` against what the step can produce.
pub(super) fn expect(raw: RawExpect, action: &Action, results: Option<&[ValType]>, path: &str, cx: &Ctx) -> Result<Expect, LoadError> {
    let kind = match action {
        Action::Instantiate => "instantiate",
        Action::Validate => "validate",
        Action::Compile => "compile",
        Action::Instances { .. } => "instances",
        Action::Measure { .. } | Action::MeasureText => "measure",
        Action::Invoke { .. } => "invoke",
        Action::Grow { .. } => "grow",
        Action::Size { .. } => "size",
        Action::Read { .. } => "read",
        Action::Write { .. } => "write",
        Action::NewMemory { .. } => "new_memory",
        Action::Buffer { .. } => "buffer",
        Action::BufferLength { .. } => "buffer_length",
        Action::Resize { .. } => "resize",
        Action::Module { .. } | Action::Instance { .. } => "module",
        Action::Register { .. } => "register",
        Action::Get { .. } => "get",
        Action::Unsupported { .. } => "unsupported",
        Action::Testharness { .. } => "testharness",
        Action::GlueStart => "glue_start",
        Action::GlueCall { .. } => "glue_call",
        Action::GlueOutput => "glue_output",
    };
    let wrong = |what: &str, allowed: &str| cx.err(path, format!("a `{kind}` step cannot expect `{what}` (expected {allowed})"));
    Ok(match raw {
        RawExpect::Any => Expect::Any,
        RawExpect::OneOf(list) => {
            if list.len() < 2 {
                return Err(cx.err(path, "`one_of` needs at least two alternatives"));
            }
            let mut out = Vec::new();
            for (i, r) in list.into_iter().enumerate() {
                out.push(expect(r, action, results, &format!("{path}.one_of.{i}"), cx)?);
            }
            Expect::OneOf(out)
        }
        RawExpect::Ok => match action {
            // A function with no results returns nothing: `ok` is `returns: []`.
            Action::Invoke { .. } if results.is_some_and(|r| r.is_empty()) => Expect::Returns(vec![]),
            Action::Instantiate
            | Action::GlueStart
            | Action::GlueCall { .. }
            | Action::GlueOutput
            | Action::Write { .. }
            | Action::NewMemory { .. }
            | Action::Resize { .. }
            | Action::Module { .. }
            | Action::Register { .. } => Expect::Ok,
            _ => return Err(wrong("ok", "`returns`, `trap`, `error`, `one_of` or `any`")),
        },
        RawExpect::Returns(values) => {
            let Some(types) = results else {
                return Err(wrong("returns", "`ok`, `trap`, `error`, `pages` or `bytes` as the step gives"));
            };
            if values.len() != types.len() {
                return Err(cx.err(
                    path,
                    format!("expected {} result value(s) ({}) for `{}`, found {}", types.len(), type_list(types), action.label(), values.len()),
                ));
            }
            let mut out = Vec::new();
            for (i, (v, t)) in values.iter().zip(types).enumerate() {
                out.push(typed(v, *t).map_err(|e| cx.err(&format!("{path}.returns.{i}"), format!("result {}: {e}", i + 1)))?);
            }
            Expect::Returns(out)
        }
        RawExpect::Pages(p) => match action {
            Action::Size { .. } => Expect::Pages(p),
            _ => return Err(wrong("pages", "`pages` only on `size` steps")),
        },
        RawExpect::Bytes(b) => match action {
            Action::Read { .. } => Expect::Bytes(hex_bytes::decode(&b).map_err(|e| cx.err(path, e))?),
            _ => return Err(wrong("bytes", "`bytes` only on `read` steps")),
        },
        RawExpect::Trap(t) => match action {
            Action::Instantiate | Action::Invoke { .. } | Action::Module { .. } | Action::GlueStart | Action::GlueCall { .. } => Expect::Trap(t),
            _ => return Err(wrong("trap", "`trap` only on `instantiate`, `module` and `invoke` steps (host API failures are `error`)")),
        },
        RawExpect::Error(e) => match action {
            Action::Validate | Action::Instances { .. } | Action::Size { .. } => return Err(wrong("error", "`returns`/`pages`")),
            _ => Expect::Error(e),
        },
        RawExpect::Text(t) if t.is_empty() => return Err(cx.err(path, "`text` needs the words to find: expected a non-empty string")),
        RawExpect::Text(t) => match action {
            Action::Validate | Action::Instances { .. } | Action::Size { .. } => return Err(wrong("text", "`returns`/`pages`")),
            _ => Expect::Text(t),
        },
    })
}
