//! What a step is expected to do: trap and error kinds, expectations and
//! value patterns.

use super::values::*;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Trap kinds (a trap is a runtime failure inside wasm execution).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrapKind {
    OutOfBounds,
    Unreachable,
    StackExhausted,
    GrowLimited,
    IntegerDivideByZero,
    IntegerOverflow,
    IndirectCall,
    Other,
}

/// Error kinds (a failure reported by the host API or the loader).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    Invalid,
    Malformed,
    Unlinkable,
    GrowFailed,
    Resource,
    TypeError,
    Other,
}

macro_rules! snake_names {
    ($t:ty { $($v:ident => $s:literal),* $(,)? }) => {
        impl $t {
            pub fn name(self) -> &'static str {
                match self { $(Self::$v => $s),* }
            }
        }
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.name())
            }
        }
    };
}

snake_names!(TrapKind {
    OutOfBounds => "out_of_bounds", Unreachable => "unreachable", StackExhausted => "stack_exhausted",
    GrowLimited => "grow_limited", IntegerDivideByZero => "integer_divide_by_zero",
    IntegerOverflow => "integer_overflow", IndirectCall => "indirect_call", Other => "other",
});
snake_names!(ErrorKind {
    Invalid => "invalid", Malformed => "malformed", Unlinkable => "unlinkable",
    GrowFailed => "grow_failed", Resource => "resource", TypeError => "type_error", Other => "other",
});

/// What a step is expected to do (shown in results.json by `to_json`).
#[derive(Debug, Clone, PartialEq)]
pub enum Expect {
    Ok,
    Returns(Vec<Val>),
    Pages(u64),
    Bytes(Vec<u8>),
    Trap(TrapKind),
    Error(ErrorKind),
    OneOf(Vec<Expect>),
    /// Observe only: no verdict.
    Any,
    /// Results matched by patterns (.wast: `nan:canonical`, `either`, v128
    /// lanes, references).
    Results(Vec<Pattern>),
    /// Some trap, whichever (.wast `assert_trap`: the script's text is
    /// documentation, not a kind).
    TrapAny,
    /// A trap or an error whose verbatim text contains this (extension:
    /// what a toolchain's glue or an engine says, e.g. `Aborted(OOM)`).
    Text(String),
}

/// A pattern for one result value.
#[derive(Debug, Clone, PartialEq)]
pub enum Pattern {
    Val(Val),
    /// `nan:canonical` / `nan:arithmetic` of f32 (`f64: false`) or f64.
    Nan { f64: bool, canonical: bool },
    Either(Vec<Pattern>),
    /// A v128 whose float lanes are patterns (4 x f32 or 2 x f64).
    Lanes { f64: bool, lanes: Vec<Pattern> },
    /// Any null reference.
    RefNull,
    /// Any non-null function reference.
    RefFunc,
}

impl Pattern {
    pub fn matches(&self, v: &Val) -> bool {
        match (self, v) {
            (Pattern::Val(a), b) => a == b,
            (Pattern::Nan { f64: false, canonical }, Val::F32(bits)) => {
                f32::from_bits(*bits).is_nan() && if *canonical { bits & 0x7fff_ffff == 0x7fc0_0000 } else { bits & 0x0040_0000 != 0 }
            }
            (Pattern::Nan { f64: true, canonical }, Val::F64(bits)) => {
                f64::from_bits(*bits).is_nan()
                    && if *canonical { bits & 0x7fff_ffff_ffff_ffff == 0x7ff8_0000_0000_0000 } else { bits & 0x0008_0000_0000_0000 != 0 }
            }
            (Pattern::Either(list), v) => list.iter().any(|p| p.matches(v)),
            (Pattern::Lanes { f64, lanes }, Val::V128(bits)) => lanes.iter().enumerate().all(|(i, p)| {
                let lane = if *f64 { Val::F64((bits >> (64 * i)) as u64) } else { Val::F32((bits >> (32 * i)) as u32) };
                p.matches(&lane)
            }),
            (Pattern::RefNull, Val::RefNull(_)) => true,
            (Pattern::RefFunc, Val::RefFunc) => true,
            _ => false,
        }
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Pattern::Val(v) => write!(f, "{v}"),
            Pattern::Nan { f64, canonical } => {
                write!(f, "{}:nan:{}", if *f64 { "f64" } else { "f32" }, if *canonical { "canonical" } else { "arithmetic" })
            }
            Pattern::Either(list) => {
                let v: Vec<String> = list.iter().map(|p| p.to_string()).collect();
                write!(f, "either({})", v.join(" | "))
            }
            Pattern::Lanes { f64, lanes } => {
                let v: Vec<String> = lanes.iter().map(|p| p.to_string()).collect();
                write!(f, "{}[{}]", if *f64 { "f64x2" } else { "f32x4" }, v.join(" "))
            }
            Pattern::RefNull => f.write_str("ref.null"),
            Pattern::RefFunc => f.write_str("ref.func"),
        }
    }
}

impl fmt::Display for Expect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expect::Ok => f.write_str("ok"),
            Expect::Any => f.write_str("any"),
            Expect::Returns(v) => {
                let v: Vec<String> = v.iter().map(|v| v.to_string()).collect();
                write!(f, "returns [{}]", v.join(", "))
            }
            Expect::Pages(p) => write!(f, "pages {p}"),
            Expect::Bytes(b) => write!(f, "bytes {}", hex_bytes::encode(b)),
            Expect::Trap(t) => write!(f, "trap {t}"),
            Expect::Error(e) => write!(f, "error {e}"),
            Expect::OneOf(list) => {
                let v: Vec<String> = list.iter().map(|e| e.to_string()).collect();
                write!(f, "one of: {}", v.join(" | "))
            }
            Expect::Results(p) => {
                let v: Vec<String> = p.iter().map(|p| p.to_string()).collect();
                write!(f, "returns [{}]", v.join(", "))
            }
            Expect::TrapAny => f.write_str("trap (any kind)"),
            Expect::Text(t) => write!(f, "a trap or error saying {t:?}"),
        }
    }
}

