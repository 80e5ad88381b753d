//! The raw serde model of a case file, before it is checked and typed.

use crate::case::*;
use serde::Deserialize;
use serde_yaml::Value as Yaml;
use std::collections::BTreeMap;


#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCase {
    pub(super) summary: String,
    #[serde(default)]
    pub(super) tags: Vec<String>,
    #[serde(default)]
    pub(super) source: Option<String>,
    #[serde(default)]
    pub(super) module: Option<String>,
    /// The module as a binary file, relative to the case file (extension).
    #[serde(default)]
    pub(super) module_file: Option<String>,
    /// Further modules by name (extension): a `module: NAME` step
    /// instantiates one as the instance NAME.
    #[serde(default)]
    pub(super) modules: BTreeMap<String, String>,
    #[serde(default)]
    pub(super) features: Vec<Feature>,
    #[serde(default)]
    pub(super) host: Host,
    #[serde(default)]
    pub(super) imports: RawImports,
    #[serde(default)]
    pub(super) timeout: Option<f64>,
    /// A toolchain's JS loader for the module (extension).
    #[serde(default)]
    pub(super) glue: Option<RawGlue>,
    /// The kinds of column the case is for (extension; all when absent).
    #[serde(default)]
    pub(super) runs_on: Option<Vec<ColumnKind>>,
    /// What the case commits on an engine that commits what it grows
    /// (extension): `4GiB`.
    #[serde(default)]
    pub(super) needs_memory: Option<Yaml>,
    /// The case's own memory budget (extension): `1GiB`.
    #[serde(default)]
    pub(super) memory_budget: Option<Yaml>,
    /// Already expanded by the time the rest is read.
    #[serde(default, rename = "vary")]
    pub(super) _vary: Option<Yaml>,
    /// Required: a case says what it checks (`steps: []` for a case whose
    /// only check is the implicit instantiate).
    pub(super) steps: Vec<RawStep>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct Empty {}

/// `glue: {file, kind, factory}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawGlue {
    pub(super) file: String,
    pub(super) kind: GlueKind,
    #[serde(default)]
    pub(super) factory: Option<String>,
    /// Files beside it that the glue loads by name (a pthreads build's
    /// `NAME.worker.js`).
    #[serde(default)]
    pub(super) files: Vec<String>,
}

/// `glue_call: {name, args}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawGlueCall {
    pub(super) name: String,
    #[serde(default)]
    pub(super) args: Vec<f64>,
}

/// `instantiate:` with no value means the same as `instantiate: {}`.
pub(super) fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Empty>, D::Error> {
    Ok(Some(Option::<Empty>::deserialize(d)?.unwrap_or_default()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawStep {
    #[serde(default, deserialize_with = "present")]
    pub(super) instantiate: Option<Empty>,
    #[serde(default, deserialize_with = "present")]
    pub(super) validate: Option<Empty>,
    /// Compile only (extension).
    #[serde(default, deserialize_with = "present")]
    pub(super) compile: Option<Empty>,
    /// Live instances of the module, at most `limit` (extension).
    pub(super) instances: Option<RawInstances>,
    pub(super) invoke: Option<String>,
    pub(super) args: Option<Vec<Yaml>>,
    pub(super) grow: Option<RawGrow>,
    pub(super) size: Option<RawMemory>,
    pub(super) read: Option<RawRead>,
    pub(super) write: Option<RawWrite>,
    pub(super) new_memory: Option<RawNewMemory>,
    /// JS API steps (extension): a memory's ArrayBuffer.
    pub(super) buffer: Option<RawBuffer>,
    pub(super) buffer_length: Option<RawMemory>,
    pub(super) resize: Option<RawResize>,
    /// Toolchain glue steps (extension).
    #[serde(default, deserialize_with = "present")]
    pub(super) glue_start: Option<Empty>,
    pub(super) glue_call: Option<RawGlueCall>,
    #[serde(default, deserialize_with = "present")]
    pub(super) glue_output: Option<Empty>,
    /// Read by hand (serde_yaml 0.9 wants YAML tags for enums; the case
    /// format writes `{returns: [-1]}` and `ok`).
    pub(super) expect: Option<Yaml>,
    /// What a claim under test predicts (extension; same forms as `expect`).
    pub(super) claim: Option<Yaml>,
    /// Instantiate the named module of `modules` as the instance of that name,
    /// which becomes the current one (extension).
    pub(super) module: Option<String>,
    /// Make an instance's exports importable (extension).
    pub(super) register: Option<RawRegister>,
    /// Read an exported global (extension).
    pub(super) get: Option<String>,
    /// The named instance `invoke` / `get` works on (extension).
    pub(super) instance: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawInstances {
    pub(super) limit: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRegister {
    #[serde(rename = "as")]
    pub(super) name: String,
    #[serde(default)]
    pub(super) instance: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawGrow {
    pub(super) memory: String,
    pub(super) delta: u64,
    #[serde(default)]
    pub(super) js_form: Option<JsForm>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawBuffer {
    pub(super) memory: String,
    #[serde(default)]
    pub(super) resizable: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawResize {
    pub(super) memory: String,
    pub(super) bytes: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMemory {
    pub(super) memory: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRead {
    pub(super) memory: String,
    pub(super) offset: u64,
    pub(super) len: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawWrite {
    pub(super) memory: String,
    pub(super) offset: u64,
    pub(super) bytes: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawNewMemory {
    #[serde(rename = "as")]
    pub(super) name: String,
    pub(super) initial: u64,
    #[serde(default)]
    pub(super) maximum: Option<u64>,
    #[serde(default)]
    pub(super) shared: bool,
    #[serde(default)]
    pub(super) address: AddressType,
    #[serde(default)]
    pub(super) js_form: Option<JsForm>,
}

pub(super) enum RawExpect {
    Ok,
    Any,
    Returns(Vec<Yaml>),
    Pages(u64),
    Bytes(String),
    Trap(TrapKind),
    Error(ErrorKind),
    OneOf(Vec<RawExpect>),
    Text(String),
}

/// `imports`: `stub` (every import of the module made as it declares it),
/// or a map `module.name` -> a host memory's name or `stub`.
#[derive(Deserialize)]
#[serde(untagged)]
pub(super) enum RawImports {
    All(String),
    Some(BTreeMap<String, String>),
}

impl Default for RawImports {
    fn default() -> Self {
        RawImports::Some(BTreeMap::new())
    }
}

