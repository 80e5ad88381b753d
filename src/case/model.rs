//! The case model: what a loaded, validated case looks like to the rest of the
//! tool. `load.rs` builds it from YAML; engines receive the [`Plan`] part of
//! it over the worker protocol.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

/// A proposal a case needs. Engines switch it on where they have a switch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Feature {
    Memory64,
    Threads,
    MultiMemory,
    CustomPageSizes,
}

impl Feature {
    pub const ALL: [Feature; 4] = [Feature::Memory64, Feature::Threads, Feature::MultiMemory, Feature::CustomPageSizes];

    /// The name cases and the CLI use (`multi-memory`).
    pub fn name(self) -> &'static str {
        match self {
            Feature::Memory64 => "memory64",
            Feature::Threads => "threads",
            Feature::MultiMemory => "multi-memory",
            Feature::CustomPageSizes => "custom-page-sizes",
        }
    }
}

/// `run --features`: proposals to switch on (`memory64`) and off
/// (`-multi-memory`) for every case, on top of the cases' own `features`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FeatureSwitches {
    pub on: Vec<Feature>,
    pub off: Vec<Feature>,
}

impl std::str::FromStr for FeatureSwitches {
    type Err = String;

    fn from_str(s: &str) -> Result<FeatureSwitches, String> {
        let mut out = FeatureSwitches::default();
        for word in s.split(',').map(str::trim).filter(|w| !w.is_empty()) {
            let (off, name) = match word.strip_prefix('-') {
                Some(n) => (true, n),
                None => (false, word.strip_prefix('+').unwrap_or(word)),
            };
            let Some(f) = Feature::ALL.into_iter().find(|f| f.name() == name) else {
                let known: Vec<&str> = Feature::ALL.iter().map(|f| f.name()).collect();
                return Err(format!("unknown proposal `{name}`: expected one of {} (prefix `-` to switch one off)", known.join(", ")));
            };
            if off { out.off.push(f) } else { out.on.push(f) }
        }
        Ok(out)
    }
}

/// Each proposal of `on` with `true` and of `off` with `false`, in the order
/// an engine's config should apply them (`off` last, so it wins).
pub fn switches<'a>(on: &'a [Feature], off: &'a [Feature]) -> impl Iterator<Item = (Feature, bool)> + 'a {
    on.iter().map(|f| (*f, true)).chain(off.iter().map(|f| (*f, false)))
}

/// A key for an engine config made from `on` and `off` (one bit per
/// proposal each way): engines keep one config per key, and looking it up
/// per case allocates nothing.
pub fn switches_key(on: &[Feature], off: &[Feature]) -> u16 {
    switches(on, off).fold(0, |key, (f, enable)| key | 1 << (f as u16 * 2 + u16::from(!enable)))
}

impl FeatureSwitches {
    /// Applies the switches to a plan: `off` wins over the case's own `features`.
    pub fn apply(&self, plan: &mut Plan) {
        for f in &self.on {
            if !plan.features.contains(f) {
                plan.features.push(*f);
            }
        }
        plan.features.retain(|f| !self.off.contains(f));
        for f in &self.off {
            if !plan.without.contains(f) {
                plan.without.push(*f);
            }
        }
    }
}

/// What the embedder sets up around the module.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Host {
    /// A host-imposed cap on each memory, in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_memory_bytes: Option<u64>,
    /// Browsers load the harness with (true) or without COOP/COEP headers.
    #[serde(default = "yes")]
    pub cross_origin_isolated: bool,
}

fn yes() -> bool {
    true
}

impl Default for Host {
    fn default() -> Self {
        Host { max_memory_bytes: None, cross_origin_isolated: true }
    }
}

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

/// Index type of a memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AddressType {
    #[default]
    I32,
    I64,
}

/// What a step does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Instantiate,
    Validate,
    /// `results`: the export's result types (JS engines need them to read
    /// the values back exactly).
    Invoke {
        name: String,
        args: Vec<Val>,
        #[serde(default)]
        results: Vec<ValType>,
        /// A named instance (.wast `$name`); the current one when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        instance: Option<String>,
    },
    /// Compile `plan.modules[module]` and, with `instantiate`, instantiate it
    /// as the current instance; `name` names the instance (or, without
    /// `instantiate`, the module definition).
    Module {
        module: usize,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
        instantiate: bool,
        /// The module is WAT text (.wast `module quote` in `assert_malformed`):
        /// for engines whose API accepts the text format.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        text: bool,
        /// An assertion's module (.wast `assert_trap` / `assert_unlinkable`):
        /// even when it instantiates, it does not become the current instance.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        assertion: bool,
    },
    /// Instantiate a named module definition (.wast `module instance`).
    Instance { #[serde(default, skip_serializing_if = "Option::is_none")] instance: Option<String>, module: Option<String> },
    /// Make an instance's exports importable under `name`.
    Register { name: String, #[serde(default, skip_serializing_if = "Option::is_none")] instance: Option<String> },
    /// Read an exported global.
    Get {
        global: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        instance: Option<String>,
        /// The global's type (JS engines need it to read the value exactly).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ty: Option<ValType>,
    },
    /// A command the tool cannot express: reported `unsupported`, never run.
    Unsupported { what: String, reason: String },
    /// Host grow. `js_form`: how the JS API gets the delta, as the case
    /// says (absent: the spec's form for the memory's `address`).
    Grow {
        memory: String,
        delta: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        js_form: Option<JsForm>,
        #[serde(default, skip_serializing_if = "AddressType::is_i32")]
        address: AddressType,
    },
    Size { memory: String },
    Read { memory: String, offset: u64, len: u64 },
    Write { memory: String, offset: u64, #[serde(with = "hex_bytes")] bytes: Vec<u8> },
    /// `js_form`: how the JS API gets `initial` and `maximum`, as the case
    /// says (absent: the spec's form for `address`).
    NewMemory {
        name: String,
        initial: u64,
        maximum: Option<u64>,
        shared: bool,
        address: AddressType,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        js_form: Option<JsForm>,
    },
    /// JS API only: `memory.buffer` (`resizable` absent), `toResizableBuffer()`
    /// (true) or `toFixedLengthBuffer()` (false); returns its byteLength (its
    /// maxByteLength if resizable). The harness keeps it as the memory's buffer.
    Buffer {
        memory: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        resizable: Option<bool>,
    },
    /// JS API only: the byteLength, now, of the buffer the last `buffer` step
    /// took (0 once a grow has detached it).
    BufferLength { memory: String },
    /// JS API only: `resize(bytes)` on the buffer the last `buffer` step took.
    Resize { memory: String, bytes: u64 },
}

/// How the JS API gets a memory's sizes: BigInts (what the current JS API
/// wants for i64 memories) or Numbers (for i32 memories).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JsForm {
    Bigint,
    Number,
}

impl JsForm {
    /// The JS API's form for a memory of this address type.
    pub fn spec(address: AddressType) -> JsForm {
        match address {
            AddressType::I32 => JsForm::Number,
            AddressType::I64 => JsForm::Bigint,
        }
    }
}

impl AddressType {
    pub fn is_i32(&self) -> bool {
        *self == AddressType::I32
    }
}

impl Action {
    /// A JS form other than the spec's, when the step asks for one: a test
    /// of the JS API's argument conversion, which embedders do not have.
    pub fn non_spec_js_form(&self) -> Option<JsForm> {
        match self {
            Action::Grow { js_form: Some(f), address, .. } | Action::NewMemory { js_form: Some(f), address, .. } => {
                (*f != JsForm::spec(*address)).then_some(*f)
            }
            _ => None,
        }
    }
}

impl Action {
    /// A short label, as shown in results and reports (`invoke grow`).
    pub fn label(&self) -> String {
        match self {
            Action::Instantiate => "instantiate".into(),
            Action::Validate => "validate".into(),
            Action::Invoke { name, args, instance, .. } => {
                let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
                let on = instance.as_ref().map(|i| format!("{i}.")).unwrap_or_default();
                format!("invoke {on}{name}({})", args.join(", "))
            }
            Action::Module { name, instantiate, text, .. } => {
                let name = name.as_ref().map(|n| format!(" {n}")).unwrap_or_default();
                let quote = if *text { " quote" } else { "" };
                if *instantiate { format!("module{name}{quote}") } else { format!("module definition{name}{quote}") }
            }
            Action::Instance { instance, module } => {
                let i = instance.as_deref().unwrap_or("");
                let m = module.as_deref().unwrap_or("(last definition)");
                format!("module instance {i} {m}").replace("  ", " ")
            }
            Action::Register { name, instance } => {
                format!("register {name:?}{}", instance.as_ref().map(|i| format!(" {i}")).unwrap_or_default())
            }
            Action::Get { global, instance, .. } => {
                format!("get {}{global}", instance.as_ref().map(|i| format!("{i}.")).unwrap_or_default())
            }
            Action::Unsupported { what, .. } => what.clone(),
            Action::Grow { memory, delta, js_form, address } => {
                format!("grow {memory} by {delta}{}", form_label(*js_form, *address))
            }
            Action::Size { memory } => format!("size {memory}"),
            Action::Read { memory, offset, len } => format!("read {memory}[{offset}..+{len}]"),
            Action::Write { memory, offset, bytes } => {
                format!("write {memory}[{offset}..+{}]", bytes.len())
            }
            Action::NewMemory { name, initial, maximum, shared, address, js_form } => {
                let max = maximum.map(|m| format!(" max {m}")).unwrap_or_default();
                let shared = if *shared { " shared" } else { "" };
                let addr = if *address == AddressType::I64 { " i64" } else { "" };
                format!("new_memory {name} ({initial}{max}{shared}{addr}){}", form_label(*js_form, *address))
            }
            Action::Buffer { memory, resizable: None } => format!("buffer {memory}"),
            Action::Buffer { memory, resizable: Some(true) } => format!("buffer {memory} toResizableBuffer"),
            Action::Buffer { memory, resizable: Some(false) } => format!("buffer {memory} toFixedLengthBuffer"),
            Action::BufferLength { memory } => format!("buffer_length {memory}"),
            Action::Resize { memory, bytes } => format!("resize {memory} buffer to {bytes}"),
        }
    }

    /// The memory a step works on, if any.
    pub fn memory(&self) -> Option<&str> {
        match self {
            Action::Grow { memory, .. }
            | Action::Buffer { memory, .. }
            | Action::BufferLength { memory }
            | Action::Resize { memory, .. }
            | Action::Size { memory }
            | Action::Read { memory, .. }
            | Action::Write { memory, .. } => Some(memory),
            _ => None,
        }
    }
}

/// The JS form in a step label: ` (bigint)` / ` (number)` for i64 memories
/// and wherever the case names one, so results say the form that was used.
fn form_label(form: Option<JsForm>, address: AddressType) -> &'static str {
    match form.or((address == AddressType::I64).then_some(JsForm::Bigint)) {
        Some(JsForm::Bigint) => " (bigint)",
        Some(JsForm::Number) => " (number)",
        None => "",
    }
}

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

impl Expect {
    /// JSON as results.json shows it (`{"returns": [-1]}`, `"ok"`).
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::json;
        match self {
            Expect::Ok => json!("ok"),
            Expect::Any => json!("any"),
            Expect::Returns(v) => json!({ "returns": v.iter().map(|v| v.to_json()).collect::<Vec<_>>() }),
            Expect::Pages(p) => json!({ "pages": p }),
            Expect::Bytes(b) => json!({ "bytes": hex_bytes::encode(b) }),
            Expect::Trap(t) => json!({ "trap": t.name() }),
            Expect::Error(e) => json!({ "error": e.name() }),
            Expect::OneOf(list) => json!({ "one_of": list.iter().map(|e| e.to_json()).collect::<Vec<_>>() }),
            Expect::Results(p) => json!({ "returns": p.iter().map(|p| match p {
                Pattern::Val(v) => v.to_json(),
                other => other.to_string().into(),
            }).collect::<Vec<_>>() }),
            Expect::TrapAny => json!({ "trap": "any" }),
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
        }
    }
}

/// One step of a case: an action, what is expected, and where it was written.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub action: Action,
    pub expect: Expect,
    /// What a claim under test (a seed-guide claim, a blog post) predicts for
    /// this step, where it differs from `expect` (extension).
    pub claim: Option<Expect>,
    /// The text the case gives for the expected failure (.wast assertion
    /// messages): shown beside the engine's text, never compared.
    pub message: Option<String>,
    /// Line in the case file (1-based); 0 for implicit steps.
    pub line: usize,
    /// Inserted by the loader (the implicit `instantiate`).
    pub implicit: bool,
    /// Where the step comes from, shown before it (.wast:
    /// `memory_grow.wast:123 assert_return`).
    pub prefix: Option<String>,
}

impl Step {
    /// A step the tool makes itself (no file line, claim or message).
    pub fn new(action: Action, expect: Expect) -> Step {
        Step { action, expect, claim: None, message: None, line: 0, implicit: false, prefix: None }
    }

    pub fn label(&self) -> String {
        let label = self.action.label();
        match &self.prefix {
            Some(p) => format!("{p}: {label}"),
            None if self.implicit => format!("{label} (implicit)"),
            None => label,
        }
    }
}

/// A memory import bound to a host memory made by a `new_memory` step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemoryImport {
    pub module: String,
    pub name: String,
    pub memory: String,
}

/// What an engine needs to run a case: the module bytes and the steps.
/// This is what travels to workers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    #[serde(default, with = "hex_bytes_opt", skip_serializing_if = "Option::is_none")]
    pub wasm: Option<Vec<u8>>,
    #[serde(default)]
    pub features: Vec<Feature>,
    /// Proposals switched off where an engine has a switch (`run --features
    /// -multi-memory`: scripts written before a proposal was standard).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub without: Vec<Feature>,
    #[serde(default)]
    pub host: Host,
    #[serde(default)]
    pub imports: Vec<MemoryImport>,
    /// Further modules (.wast scripts, named modules) that `module` actions
    /// refer to by index.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub modules: Vec<Wasm>,
    pub actions: Vec<Action>,
}

/// Module bytes, hex on the wire.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Wasm(#[serde(with = "hex_bytes")] pub Vec<u8>);

/// A loaded case.
#[derive(Debug, Clone)]
pub struct Case {
    /// `grow/beyond-maximum`, with a `[name=value]` suffix for `vary` expansions.
    pub id: String,
    pub file: PathBuf,
    pub summary: String,
    pub tags: Vec<String>,
    pub source: Option<String>,
    /// The WAT text after `vary` substitution.
    pub wat: Option<String>,
    pub steps: Vec<Step>,
    pub plan: Arc<Plan>,
    /// The `vary` values this expansion uses.
    pub vary: BTreeMap<String, String>,
    /// Extension: seconds the case may take (for cases that allocate GiBs);
    /// the runner uses the larger of this and its own limit.
    pub timeout: Option<f64>,
    /// The most bytes the case's memories can reach, where whoever made the
    /// case knows it (the fuzzer does; not a YAML key). Memory-heavy cases
    /// with a bound share the memory budget instead of running one at a
    /// time (see the runner).
    pub commits_at_most: Option<u64>,
}

impl Case {
    pub fn has_tag(&self, tag: &str) -> bool {
        self.tags.iter().any(|t| t == tag)
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

mod hex_bytes_opt {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
        match bytes {
            Some(b) => super::hex_bytes::serialize(b, s),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<u8>>, D::Error> {
        let s = Option::<String>::deserialize(d)?;
        s.map(|s| super::hex_bytes::decode(&s).map_err(serde::de::Error::custom)).transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feature_switches_parse_and_off_wins() {
        let s: FeatureSwitches = "threads,-multi-memory, +memory64".parse().unwrap();
        assert_eq!(s.on, [Feature::Threads, Feature::Memory64]);
        assert_eq!(s.off, [Feature::MultiMemory]);
        let mut plan = Plan {
            wasm: None,
            features: vec![Feature::Memory64, Feature::MultiMemory],
            without: vec![],
            host: Host::default(),
            imports: vec![],
            modules: vec![],
            actions: vec![],
        };
        s.apply(&mut plan);
        assert_eq!(plan.features, [Feature::Memory64, Feature::Threads]);
        assert_eq!(plan.without, [Feature::MultiMemory]);
        let order: Vec<(Feature, bool)> = switches(&plan.features, &plan.without).collect();
        assert_eq!(order.last(), Some(&(Feature::MultiMemory, false)));
        // Switching a proposal off is a different config from leaving it at the default.
        assert_ne!(switches_key(&[], &[Feature::MultiMemory]), switches_key(&[], &[]));
        assert_ne!(switches_key(&[Feature::MultiMemory], &[]), switches_key(&[], &[Feature::MultiMemory]));
        assert_eq!(switches_key(&plan.features, &plan.without), switches_key(&[Feature::Threads, Feature::Memory64], &plan.without));
        assert!("multi_memory".parse::<FeatureSwitches>().unwrap_err().contains("unknown proposal `multi_memory`"));
    }
}
