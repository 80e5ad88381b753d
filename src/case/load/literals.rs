//! YAML literals -> typed values: plain numbers typed by the signature,
//! i64 beyond 2^53 as strings, special floats, references.

use crate::case::*;
use serde_yaml::Value as Yaml;

/// A YAML scalar as a value of type `t`. Integers wrap into their width
/// (`4294967295` is i32 -1); i64 beyond 2^53 and special floats may be
/// strings (`"0xffffffffffffffff"`, `"nan"`, `"-inf"`, `"nan:0x200000"`).
pub fn typed(v: &Yaml, t: ValType) -> Result<Val, String> {
    let text = match v {
        Yaml::Number(n) => n.to_string(),
        Yaml::String(s) => s.trim().to_string(),
        other => return Err(format!("expected a number, found {}", yaml_kind(other))),
    };
    let int = |bits: u32| -> Result<i128, String> {
        let (neg, body) = match text.strip_prefix('-') {
            Some(b) => (true, b),
            None => (false, text.as_str()),
        };
        let body = body.replace('_', "");
        let mag = match body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
            Some(h) => i128::from_str_radix(h, 16),
            None => body.parse::<i128>(),
        }
        .map_err(|_| format!("expected an integer, found `{text}`"))?;
        let val = if neg { -mag } else { mag };
        let lo = -(1i128 << (bits - 1));
        let hi = (1i128 << bits) - 1;
        if val < lo || val > hi {
            return Err(format!("{text} does not fit in i{bits}"));
        }
        Ok(val)
    };
    Ok(match t {
        ValType::I32 => Val::I32(int(32)? as u32 as i32),
        ValType::I64 => Val::I64(int(64)? as u64 as i64),
        ValType::F32 => Val::F32(match special_float(&text, 23) {
            Some(bits) => bits as u32,
            None => text.parse::<f32>().map_err(|_| format!("expected an f32, found `{text}`"))?.to_bits(),
        }),
        ValType::F64 => Val::F64(match special_float(&text, 52) {
            Some(bits) => bits,
            None => text.parse::<f64>().map_err(|_| format!("expected an f64, found `{text}`"))?.to_bits(),
        }),
        ValType::V128 => {
            let digits = text.strip_prefix("0x").ok_or_else(|| format!("expected a v128 as 0x and 32 hex digits, found `{text}`"))?;
            Val::V128(u128::from_str_radix(&digits.replace('_', ""), 16).map_err(|_| format!("`{text}` is not a v128"))?)
        }
        ValType::FuncRef if text == "null" => Val::RefNull(RefType::Func),
        ValType::ExternRef if text == "null" => Val::RefNull(RefType::Extern),
        ValType::AnyRef if text == "null" => Val::RefNull(RefType::Any),
        ValType::ExternRef => Val::RefExtern(text.parse().map_err(|_| format!("expected `null` or a number (a host reference), found `{text}`"))?),
        other => return Err(format!("a {} value cannot be written in a case (only `null`)", other.name())),
    })
}

/// `nan`, `-nan`, `nan:0xPAYLOAD`, `inf`, `-inf` as bits of a float with a
/// `mantissa`-bit fraction.
pub(super) fn special_float(text: &str, mantissa: u32) -> Option<u64> {
    let (neg, body) = match text.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let exp_bits = if mantissa == 23 { 8 } else { 11 };
    let exp = ((1u64 << exp_bits) - 1) << mantissa;
    let sign = if neg { 1u64 << (mantissa + exp_bits) } else { 0 };
    let frac = match body {
        "inf" | "infinity" => 0,
        "nan" => 1u64 << (mantissa - 1),
        _ => {
            let payload = body.strip_prefix("nan:0x")?;
            let p = u64::from_str_radix(payload, 16).ok()?;
            if p == 0 || p >= 1u64 << mantissa {
                return None;
            }
            p
        }
    };
    Some(sign | exp | frac)
}

pub(super) fn yaml_kind(v: &Yaml) -> &'static str {
    match v {
        Yaml::Null => "nothing",
        Yaml::Bool(_) => "a boolean",
        Yaml::Number(_) => "a number",
        Yaml::String(_) => "a string",
        Yaml::Sequence(_) => "a list",
        Yaml::Mapping(_) => "a mapping",
        Yaml::Tagged(_) => "a tagged value",
    }
}

