//! The case model: what a loaded, validated case looks like to the rest of the
//! tool. `load.rs` builds it from YAML; engines receive the [`Plan`] part of
//! it over the worker protocol.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use super::features::*;
use super::values::*;
use super::expect::*;
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
    /// Compile the case's module, nothing more (extension): what a JS
    /// `new WebAssembly.Module` or an embedder's `Module::new` does.
    Compile,
    /// Instantiate the case's module again and again, each instance kept
    /// alive, until one fails or `limit` live instances (extension); returns
    /// how many. A following `instantiate` tries one more and says why not.
    Instances { limit: u32 },
    /// An in-page measure of `wasm-matrix probe` on the JS columns (not a
    /// YAML step): returns `[value, extra]` as f64 (NaN for none).
    Measure { name: String },
    /// The text of what stopped the last `Measure`: `ok` when nothing did,
    /// else an error with the engine's text.
    MeasureText,
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
    /// A testharness file (`.any.js`): its scripts in order (the suite's
    /// testharness.js, the includes, the file), the globals it runs on
    /// (`jsshell`, `window`, ...) and the seconds its subtests may take.
    Testharness { scripts: Vec<super::testharness::Script>, globals: Vec<String>, seconds: f64 },
    /// JS columns only (extension): start the case's toolchain glue
    /// (`plan.glue`) with the case's module: Emscripten's factory called
    /// with the module's bytes, Go's `wasm_exec.js` `Go` run.
    GlueStart,
    /// JS columns only (extension): call a function through the glue
    /// (Emscripten's `Module._NAME`, a Go program's `globalThis.NAME`) with
    /// JS numbers; returns its number as f64, or what it threw.
    GlueCall { name: String, args: Vec<f64> },
    /// JS columns only (extension): what the glue said since the start or
    /// the last `glue_output` (its `print`, `printErr`, `onAbort` and console
    /// lines): `ok` when nothing, else an error whose text is the lines.
    GlueOutput,
}

/// A toolchain's JS loader for the case's module (extension, `glue:`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Glue {
    pub kind: GlueKind,
    /// The file, relative to the case file (for labels and reports).
    pub file: String,
    /// Emscripten's `EXPORT_NAME` (the factory a `MODULARIZE` build defines).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub factory: Option<String>,
    /// The loader's text, as the toolchain wrote it.
    pub script: String,
    /// Where the loader is on disk (absolute): a shell's glue hands it to
    /// the threads it starts (Emscripten's `mainScriptUrlOrBlob`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub path: String,
    /// Files beside the loader that it loads by name (`locateFile`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<GlueFile>,
}

/// A file a glue loads by name: a pthreads build's `NAME.worker.js`. The
/// shells get its path on disk (Node's `Worker` takes a file), the
/// browsers its text (as a blob: URL).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GlueFile {
    pub name: String,
    pub path: String,
    pub script: String,
}

/// The kinds of column (`runs_on`, extension): a case that is about a page
/// (cross-origin isolation) is for the browsers only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ColumnKind {
    /// The engines embedded in the tool (wasmtime, wasmi, WAMR, ...).
    Embedded,
    /// The JS shells (Node, Deno, Bun).
    Shell,
    /// The browsers over WebDriver.
    Browser,
}

impl ColumnKind {
    pub fn name(self) -> &'static str {
        match self {
            ColumnKind::Embedded => "embedded",
            ColumnKind::Shell => "shell",
            ColumnKind::Browser => "browser",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GlueKind {
    /// An Emscripten `-s MODULARIZE=1` build's `.js`.
    Emscripten,
    /// Go's `wasm_exec.js` (`GOOS=js GOARCH=wasm`).
    Go,
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
    /// Whether it grows a memory: a `grow` step, or an invoke of an export
    /// the case named for `memory.grow` (`grow`, `grow64`, `grow_to`), whose
    /// -1 is a refused grow.
    pub fn grows(&self) -> bool {
        match self {
            Action::Grow { .. } => true,
            Action::Invoke { name, .. } => name.contains("grow"),
            _ => false,
        }
    }

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
            Action::Compile => "compile".into(),
            Action::Instances { limit } => format!("instances (at most {limit})"),
            Action::Measure { name } => format!("measure {name}"),
            Action::MeasureText => "measure text".into(),
            Action::GlueStart => "glue start".into(),
            Action::GlueCall { name, args } => {
                let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
                format!("glue call {name}({})", args.join(", "))
            }
            Action::GlueOutput => "glue output".into(),
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
            Action::Testharness { scripts, .. } => {
                let file = scripts.last().map(|s| s.name.rsplit('/').next().unwrap_or(&s.name).to_string()).unwrap_or_default();
                format!("testharness {file}")
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

/// One step of a case: what is expected of its action (the plan's action of
/// the same index: an action is stored once, in the plan that travels) and
/// where it was written.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
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
    /// Its action differs between the file's `vary` variants: it uses the
    /// varied values (a limit sweep is judged on such steps).
    pub varies: bool,
}

impl Step {
    /// A step the tool makes itself (no file line, claim or message).
    pub fn new(expect: Expect) -> Step {
        Step { expect, claim: None, message: None, line: 0, implicit: false, prefix: None, varies: false }
    }

    /// The step as reports show it: its action, where it comes from.
    pub fn label(&self, action: &Action) -> String {
        let label = action.label();
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
    #[serde(default, with = "super::values::hex_bytes_opt", skip_serializing_if = "Option::is_none")]
    pub wasm: Option<Arc<[u8]>>,
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
    /// Imports of the main module made as it declares them (`imports: stub`):
    /// functions that trap when called, memories, tables, globals, tags.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stubs: Vec<super::module::ImportStub>,
    /// Further modules (.wast scripts, named modules) that `module` actions
    /// refer to by index.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub modules: Vec<Wasm>,
    /// The toolchain's JS loader the glue steps run (extension).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub glue: Option<Glue>,
    pub actions: Vec<Action>,
}

impl Plan {
    /// A plan around one module (or none) with these proposals: no imports,
    /// stubs or further modules; its actions come from the case's steps
    /// ([`Case::new`]).
    pub fn of(wasm: Option<Arc<[u8]>>, features: Vec<Feature>) -> Plan {
        Plan { wasm, features, without: vec![], host: Host::default(), imports: vec![], stubs: vec![], modules: vec![], glue: None, actions: vec![] }
    }

    /// The plan without its main module's bytes (they travel apart: see
    /// `transport::modules`), the rest copied.
    pub fn without_module(&self) -> Plan {
        Plan {
            wasm: None,
            features: self.features.clone(),
            without: self.without.clone(),
            host: self.host.clone(),
            imports: self.imports.clone(),
            stubs: self.stubs.clone(),
            modules: self.modules.clone(),
            glue: self.glue.clone(),
            actions: self.actions.clone(),
        }
    }
}

/// Module bytes, hex on the wire.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Wasm(#[serde(with = "hex_bytes")] pub Vec<u8>);

/// What a case was written as. A script (.wast) holds many assertions and a
/// testharness file many subtests: the reports show their cells as
/// passed/total, and their time limits grow with their length.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Form {
    /// A YAML case (or one the tool makes: fuzz, probe, audit).
    #[default]
    Case,
    /// A `.wast` script's module and its commands.
    Script,
    /// A JS API testharness file.
    Testharness,
}

impl Form {
    /// Whether its cells are counted (passed/total).
    pub fn counted(self) -> bool {
        self != Form::Case
    }

    pub fn is_case(&self) -> bool {
        *self == Form::Case
    }
}

/// A loaded case.
#[derive(Debug, Clone)]
pub struct Case {
    /// `grow/beyond-maximum`, with a `[name=value]` suffix for `vary` expansions.
    pub id: String,
    pub file: PathBuf,
    pub form: Form,
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
    /// What the case commits on an engine that commits what it grows
    /// (`needs_memory`, extension): on such a column a run whose memory
    /// budget is smaller does not run it (verdict `over_budget`).
    pub needs_memory: Option<u64>,
    /// The case's own memory budget (`memory_budget`, extension): its
    /// process is held to the smaller of this and the run's while it runs.
    pub memory_budget: Option<u64>,
    /// The kinds of column it is for (`runs_on`, extension); `None`: all.
    pub runs_on: Option<Vec<ColumnKind>>,
}

impl Case {
    /// A case of `steps`, each an action and what is expected of it, run by
    /// `plan`: the actions go to the plan (set here, the one place that
    /// does), the rest stays in `steps`, index for index. Every maker of
    /// cases (the loader, .wast scripts, testharness files, the fuzzer,
    /// probe) starts here and sets the fields it knows: `Case { summary,
    /// ..Case::new(...) }`.
    pub fn new(id: String, file: PathBuf, steps: Vec<(Action, Step)>, mut plan: Plan) -> Case {
        let (actions, steps) = steps.into_iter().unzip();
        plan.actions = actions;
        Case {
            id,
            file,
            form: Form::Case,
            summary: String::new(),
            tags: vec![],
            source: None,
            wat: None,
            steps,
            plan: Arc::new(plan),
            vary: BTreeMap::new(),
            timeout: None,
            commits_at_most: None,
            needs_memory: None,
            memory_budget: None,
            runs_on: None,
        }
    }

    /// Each step with its action.
    pub fn steps(&self) -> impl Iterator<Item = (&Action, &Step)> {
        self.plan.actions.iter().zip(&self.steps)
    }

    /// Step `i` as reports show it.
    pub fn step_label(&self, i: usize) -> String {
        self.steps[i].label(&self.plan.actions[i])
    }

    pub fn has_tag(&self, tag: &str) -> bool {
        self.tags.iter().any(|t| t == tag)
    }

    /// Stretches the case's own time limits by `factor` (`--timeout-multiplier`,
    /// as wptrunner's): its `timeout` and a testharness file's own seconds.
    pub fn scale_time(&mut self, factor: f64) {
        self.timeout = self.timeout.map(|t| t * factor);
        let scale = |a: &mut Action| {
            if let Action::Testharness { seconds, .. } = a {
                *seconds *= factor;
            }
        };
        Arc::make_mut(&mut self.plan).actions.iter_mut().for_each(scale);
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
        let mut plan = Plan::of(None, vec![Feature::Memory64, Feature::MultiMemory]);
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
