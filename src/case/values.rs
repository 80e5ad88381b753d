//! Values and their types: typed WebAssembly values as the wire and
//! results.json carry them, and hex byte strings.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A typed WebAssembly value. Floats are kept as bits so NaN payloads survive.
///
/// On the wire: `{"i32": -1}`, `{"i64": "-1"}`, `{"f32": 2143289344}` (bits),
/// `{"f64": "9221120237041090560"}` (bits). 64-bit values travel as strings
/// so that JavaScript (whose numbers hold 53 bits) reads them exactly;
/// numbers are accepted too.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Val {
    I32(i32),
    I64(i64),
    F32(u32),
    F64(u64),
    /// `{"v128": "0x000102..."}` (32 hex digits, lane 0 in the low bytes).
    V128(u128),
    /// `{"ref_null": "func"}`
    RefNull(RefType),
    /// A host reference made from a number (`ref.extern N` in .wast):
    /// `{"ref_extern": 1}`.
    RefExtern(u32),
    /// Some non-null function reference (results only): `{"ref_func": null}`.
    RefFunc,
}

/// The reference types a value can carry across the host boundary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RefType {
    Func,
    Extern,
    /// The GC proposal's `anyref` hierarchy (wasmtime).
    Any,
    /// The exception-handling proposal's `exnref` (wasmtime).
    Exn,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum WireVal {
    I32(Flex),
    I64(Flex),
    F32(Flex),
    F64(Flex),
    V128(String),
    RefNull(RefType),
    RefExtern(Flex),
    RefFunc(Option<serde_json::Value>),
}

#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum Flex {
    Int(i64),
    Big(u64),
    Text(String),
}

impl Flex {
    fn int(&self) -> Result<i128, String> {
        match self {
            Flex::Int(v) => Ok(*v as i128),
            Flex::Big(v) => Ok(*v as i128),
            Flex::Text(t) => t.trim().parse::<i128>().map_err(|_| format!("`{t}` is not an integer")),
        }
    }
}

impl Serialize for Val {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match *self {
            Val::I32(v) => WireVal::I32(Flex::Int(v as i64)),
            Val::I64(v) => WireVal::I64(Flex::Text(v.to_string())),
            Val::F32(v) => WireVal::F32(Flex::Int(v as i64)),
            Val::F64(v) => WireVal::F64(Flex::Text(v.to_string())),
            Val::V128(v) => WireVal::V128(format!("0x{v:032x}")),
            Val::RefNull(t) => WireVal::RefNull(t),
            Val::RefExtern(n) => WireVal::RefExtern(Flex::Int(n as i64)),
            Val::RefFunc => WireVal::RefFunc(None),
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for Val {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let fit = |r: Result<i128, String>, lo: i128, hi: i128| -> Result<i128, D::Error> {
            let v = r.map_err(D::Error::custom)?;
            if v < lo || v > hi { Err(D::Error::custom(format!("{v} is out of range"))) } else { Ok(v) }
        };
        Ok(match WireVal::deserialize(d)? {
            WireVal::I32(f) => Val::I32(fit(f.int(), i32::MIN as i128, u32::MAX as i128)? as u32 as i32),
            WireVal::I64(f) => Val::I64(fit(f.int(), i64::MIN as i128, u64::MAX as i128)? as u64 as i64),
            WireVal::F32(f) => Val::F32(fit(f.int(), 0, u32::MAX as i128)? as u32),
            WireVal::F64(f) => Val::F64(fit(f.int(), 0, u64::MAX as i128)? as u64),
            WireVal::V128(t) => {
                let digits = t.trim().trim_start_matches("0x");
                Val::V128(u128::from_str_radix(digits, 16).map_err(|_| D::Error::custom(format!("`{t}` is not a v128")))?)
            }
            WireVal::RefNull(t) => Val::RefNull(t),
            WireVal::RefExtern(f) => Val::RefExtern(fit(f.int(), 0, u32::MAX as i128)? as u32),
            WireVal::RefFunc(_) => Val::RefFunc,
        })
    }
}

impl Val {
    /// The zero of a type (null for a reference): what a stub global holds.
    pub fn zero(t: ValType) -> Val {
        match t {
            ValType::I32 => Val::I32(0),
            ValType::I64 => Val::I64(0),
            ValType::F32 => Val::F32(0),
            ValType::F64 => Val::F64(0),
            ValType::V128 => Val::V128(0),
            ValType::FuncRef => Val::RefNull(RefType::Func),
            ValType::ExternRef => Val::RefNull(RefType::Extern),
            ValType::AnyRef | ValType::OtherRef => Val::RefNull(RefType::Any),
        }
    }

    /// The value as results.json shows it: integers as numbers, floats as
    /// numbers where finite and as text (`nan:0x7fc00000`, `inf`) otherwise.
    pub fn to_json(self) -> serde_json::Value {
        match self {
            Val::I32(v) => v.into(),
            Val::I64(v) => v.into(),
            Val::F32(bits) => float_json(f32::from_bits(bits) as f64, bits as u64, 8),
            Val::F64(bits) => float_json(f64::from_bits(bits), bits, 16),
            Val::V128(v) => format!("v128:0x{v:032x}").into(),
            Val::RefNull(RefType::Func) => "ref.null func".into(),
            Val::RefNull(RefType::Extern) => "ref.null extern".into(),
            Val::RefNull(RefType::Any) => "ref.null any".into(),
            Val::RefNull(RefType::Exn) => "ref.null exn".into(),
            Val::RefExtern(n) => format!("ref.extern {n}").into(),
            Val::RefFunc => "ref.func".into(),
        }
    }
}

fn float_json(v: f64, bits: u64, width: usize) -> serde_json::Value {
    if v.is_nan() {
        format!("nan:0x{bits:0width$x}").into()
    } else if v.is_infinite() {
        (if v > 0.0 { "inf" } else { "-inf" }).into()
    } else {
        serde_json::Number::from_f64(v).map(Into::into).unwrap_or(serde_json::Value::Null)
    }
}

impl fmt::Display for Val {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.to_json() {
            serde_json::Value::String(s) => f.write_str(&s),
            other => write!(f, "{other}"),
        }
    }
}

/// The type of a value in an export's signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ValType {
    I32,
    I64,
    F32,
    F64,
    V128,
    FuncRef,
    ExternRef,
    /// The GC proposal's `any` hierarchy (`anyref`, `eqref`, `i31ref`, ...,
    /// abstract types only): a null crosses as `ref.null any`.
    AnyRef,
    /// Any other reference type (GC proposal): values cannot cross.
    OtherRef,
}

impl ValType {
    pub fn name(self) -> &'static str {
        match self {
            ValType::I32 => "i32",
            ValType::I64 => "i64",
            ValType::F32 => "f32",
            ValType::F64 => "f64",
            ValType::V128 => "v128",
            ValType::FuncRef => "funcref",
            ValType::ExternRef => "externref",
            ValType::AnyRef => "anyref",
            ValType::OtherRef => "(ref ...)",
        }
    }
}


/// Hex encoding for byte strings in YAML (`"00ff"`) and on the wire.
pub mod hex_bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn encode(bytes: &[u8]) -> String {
        use std::fmt::Write;
        let mut s = String::with_capacity(bytes.len() * 2);
        for b in bytes {
            let _ = write!(s, "{b:02x}");
        }
        s
    }

    /// Decodes hex, ignoring spaces and underscores between byte pairs.
    pub fn decode(text: &str) -> Result<Vec<u8>, String> {
        let digits: Vec<u8> = text.bytes().filter(|b| !matches!(b, b' ' | b'_')).collect();
        if digits.len() % 2 != 0 {
            return Err(format!("hex string {text:?} has an odd number of digits"));
        }
        digits
            .chunks(2)
            .map(|pair| {
                let s = std::str::from_utf8(pair).unwrap_or("??");
                u8::from_str_radix(s, 16).map_err(|_| format!("{s:?} in {text:?} is not a hex byte"))
            })
            .collect()
    }

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        decode(&s).map_err(serde::de::Error::custom)
    }
}

pub mod hex_bytes_opt {
    //! Shared bytes (a module the cases of one file, or one audit, share), hex on the wire.
    use serde::{Deserialize, Deserializer, Serializer};
    use std::sync::Arc;

    pub fn serialize<S: Serializer>(bytes: &Option<Arc<[u8]>>, s: S) -> Result<S::Ok, S::Error> {
        match bytes {
            Some(b) => super::hex_bytes::serialize(b, s),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Arc<[u8]>>, D::Error> {
        let s = Option::<String>::deserialize(d)?;
        s.map(|s| super::hex_bytes::decode(&s).map(Arc::from).map_err(serde::de::Error::custom)).transpose()
    }
}
