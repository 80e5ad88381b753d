//! The one session every embedded engine runs in. A backend (one file per
//! engine) implements only the primitives that differ between engines —
//! [`Backend`] builds an engine for a feature set, [`Store`] compiles,
//! instantiates with imports, calls, reads globals and does the memory
//! operations, each failure as the engine's own [`Fault`]. Everything else is
//! written here once: current, named and defined instances, `register`, host
//! memories and `imports`, `spectest`, the skip rules, the per-feature engine
//! cache, and turning faults into outcomes with the step's stage.
//!
//! The shape follows wasmtime's differential oracles (`DiffEngine` /
//! `DiffInstance`) and its `wast` crate: one context owns a script's state.

pub use super::backend::{range, Backend, Fault, MemorySpec, Result, Store};
use super::imports::{SpectestItem, SPECTEST};
use super::Engine;
use crate::case::{Action, AddressType, Feature, Host, Plan, RefType, Val, ValType};
use crate::outcome::{RawOutcome, Stage};
use super::modcache::ModuleCache;
use std::collections::HashMap;

// ------------------------------------------------------------------ engines

/// An embedded column: a backend and its engines, one per feature set and cap.
pub struct Embedded<B: Backend> {
    backend: B,
    engines: HashMap<(u16, Option<u64>), Result<B::Engine>>,
    /// Large modules compiled by earlier cases, per engine configuration.
    modules: ModuleCache<<B::Store as Store>::Module>,
}

impl<B: Backend> Embedded<B> {
    pub fn new(backend: B) -> Self {
        Embedded { backend, engines: HashMap::new(), modules: ModuleCache::default() }
    }
}

impl<B: Backend> Engine for Embedded<B> {
    fn forget_modules(&mut self) {
        self.modules.clear();
    }

    fn run(&mut self, plan: &Plan, from: usize, emit: &mut dyn FnMut(usize, RawOutcome)) {
        let key = (crate::case::switches_key(&plan.features, &plan.without), plan.host.max_memory_bytes);
        let backend = &self.backend;
        let engine = self.engines.entry(key).or_insert_with(|| {
            let switches: Vec<(Feature, bool)> = crate::case::switches(&plan.features, &plan.without).collect();
            backend.engine(&switches, &plan.host)
        });
        match engine {
            Ok(engine) => {
                // The case's address-space limit holds while its session
                // lives (the store and its instances go before it is lifted).
                let _limit = match plan.host.address_space_bytes.map(AddressSpace::limit) {
                    Some(Err(why)) => {
                        for (i, _) in plan.actions.iter().enumerate().skip(from) {
                            emit(i, RawOutcome::Unsupported { message: why.clone() });
                        }
                        return;
                    }
                    Some(Ok(l)) => Some(l),
                    None => None,
                };
                self.modules.forget_other(key, plan.wasm.as_deref());
                let mut session = Session::new(backend.store(engine, &plan.host), plan);
                session.cache = Some((&mut self.modules, key));
                session.run(from, emit)
            }
            Err(fault) => {
                for (i, action) in plan.actions.iter().enumerate().skip(from) {
                    emit(i, match (action, &*fault) {
                        (Action::Unsupported { reason, .. }, _) => RawOutcome::Unsupported { message: reason.clone() },
                        (_, Fault::Unsupported(why)) => RawOutcome::Unsupported { message: why.clone() },
                        (_, f) => {
                            let why = match f {
                                Fault::Error { message } | Fault::Link { message } | Fault::Trap { message, .. } => message.clone(),
                                other => format!("{other:?}"),
                            };
                            RawOutcome::Error { stage: Stage::Compile, code: None, message: format!("engine configuration: {why}") }
                        }
                    });
                }
            }
        }
    }

    fn store(&mut self, capped: bool, features: &[Feature]) -> Result<Box<dyn super::backend::AnyStore>> {
        let host = Host { max_memory_bytes: capped.then_some(1 << 20), ..Host::default() };
        let switches: Vec<(Feature, bool)> = features.iter().map(|f| (*f, true)).collect();
        let key = (crate::case::switches_key(features, &[]), host.max_memory_bytes);
        let backend = &self.backend;
        let engine = self.engines.entry(key).or_insert_with(|| backend.engine(&switches, &host)).clone()?;
        Ok(Box::new(backend.store(&engine, &host)))
    }

    fn plain(&mut self, modules: &[Vec<u8>]) -> std::result::Result<(), String> {
        let engine = self.default_engine()?;
        let host = Host::default();
        for wasm in modules {
            let mut store = self.backend.store(&engine, &host);
            let fail = |f: Fault| format!("{f:?}");
            let module = store.compile(wasm).map_err(fail)?;
            let instance = store.instantiate(&module, &[]).map_err(fail)?;
            store.call(&instance, "k", &[]).map_err(fail)?;
            store.call(&instance, "grow", &[Val::I32(1)]).map_err(fail)?;
        }
        Ok(())
    }
}

impl<B: Backend> Embedded<B> {
    /// The engine for no switches and no cap.
    fn default_engine(&mut self) -> std::result::Result<B::Engine, String> {
        let backend = &self.backend;
        self.engines.entry((0, None)).or_insert_with(|| backend.engine(&[], &Host::default())).clone().map_err(|f| format!("{f:?}"))
    }
}

/// The process's soft RLIMIT_AS lowered for one case (`host.address_space_bytes`)
/// and put back when dropped: an engine worker runs one case at a time.
struct AddressSpace {
    before: (u64, u64),
}

impl AddressSpace {
    fn limit(bytes: u64) -> std::result::Result<AddressSpace, String> {
        use crate::budget::rlimit_as;
        let lower = |(_, hard): (u64, u64)| rlimit_as(0, Some((bytes.min(hard), hard)));
        let before = rlimit_as(0, None).and_then(lower).map_err(|e| format!("cannot set RLIMIT_AS to {bytes} bytes: {e}"))?;
        Ok(AddressSpace { before })
    }
}

impl Drop for AddressSpace {
    fn drop(&mut self) {
        // Raising the soft limit back up to the hard one is always allowed.
        let _ = crate::budget::rlimit_as(0, Some(self.before));
    }
}

// ------------------------------------------------------------------ the session

/// A compiled module and its imports.
struct Def<M> {
    module: M,
    imports: Vec<(String, String)>,
}

impl<M: Clone> Clone for Def<M> {
    fn clone(&self) -> Self {
        Def { module: self.module.clone(), imports: self.imports.clone() }
    }
}

/// What failed earlier in a case, to say why a later step is skipped.
#[derive(Default)]
struct Skips {
    /// The `instantiate` step that failed.
    instantiate: Option<usize>,
    /// Host memories whose `new_memory` failed.
    memories: Vec<String>,
}

impl Skips {
    fn no_instance(&self) -> String {
        match self.instantiate {
            Some(step) => format!("no instance: instantiate (step {}) failed", step + 1),
            None => "no instance: the module was not instantiated".to_string(),
        }
    }
}

/// One case's state in one engine.
pub struct Session<'p, S: Store> {
    store: S,
    plan: &'p Plan,
    /// The instance steps use when they name none.
    current: Option<S::Instance>,
    named: HashMap<String, S::Instance>,
    defs: HashMap<String, Def<S::Module>>,
    last_def: Option<Def<S::Module>>,
    /// Exports made importable by `register`, by module name.
    registered: HashMap<String, HashMap<String, S::Extern>>,
    /// spectest items, each made on first use.
    spectest: HashMap<&'static str, S::Extern>,
    host: HashMap<String, S::Memory>,
    /// The worker's compiled modules and this case's engine configuration.
    cache: Option<(&'p mut ModuleCache<S::Module>, (u16, Option<u64>))>,
}

impl<'p, S: Store> Session<'p, S> {
    pub fn new(store: S, plan: &'p Plan) -> Self {
        Session {
            store,
            plan,
            current: None,
            named: HashMap::new(),
            defs: HashMap::new(),
            last_def: None,
            registered: HashMap::new(),
            spectest: HashMap::new(),
            host: HashMap::new(),
            cache: None,
        }
    }

    /// Compiles `wasm`, or takes the module an earlier case compiled from the
    /// same bytes; `fresh` always compiles (and keeps the result).
    fn compile(&mut self, wasm: &[u8], fresh: bool) -> Result<S::Module> {
        if let (false, Some((cache, key))) = (fresh, &self.cache) {
            if let Some(m) = cache.get(*key, wasm) {
                return Ok(m);
            }
        }
        let m = self.store.compile(wasm)?;
        if let Some((cache, key)) = &mut self.cache {
            cache.put(*key, wasm, m.clone());
        }
        Ok(m)
    }

    /// Runs the plan's steps from step `from` (the steps before it ran in a
    /// process that died), reporting each outcome as soon as it is known.
    /// Steps that need an instance or a memory that does not exist (because
    /// an earlier step failed) are skipped.
    pub fn run(mut self, from: usize, emit: &mut dyn FnMut(usize, RawOutcome)) {
        let plan = self.plan;
        let mut skips = Skips::default();
        for (i, action) in plan.actions.iter().enumerate().skip(from) {
            let outcome = match action {
                _ if action.non_spec_js_form().is_some() => RawOutcome::Unsupported {
                    message: "a JS API argument form (BigInt or Number) other than the spec's: embedders take integers".into(),
                },
                Action::Instantiate => {
                    let o = self.module(plan.wasm.as_deref().unwrap_or_default(), None, true, true);
                    if o != RawOutcome::Ok {
                        skips.instantiate = Some(i);
                    }
                    o
                }
                Action::Validate => {
                    let valid = self.store.validate(plan.wasm.as_deref().unwrap_or_default());
                    RawOutcome::Returns { values: vec![Val::I32(valid as i32)] }
                }
                Action::Compile => match self.compile(plan.wasm.as_deref().unwrap_or_default(), true) {
                    Ok(_) => RawOutcome::Ok,
                    Err(f) => f.outcome(Stage::Compile, "module"),
                },
                Action::Instances { limit } => self.instances(plan.wasm.as_deref().unwrap_or_default(), *limit),
                Action::Measure { .. } | Action::MeasureText => {
                    RawOutcome::Unsupported { message: "an in-page measure runs on the JS columns (an embedder is measured in its own process)".into() }
                }
                Action::Invoke { instance: None, .. } | Action::Register { instance: None, .. } | Action::Get { instance: None, .. }
                    if self.current.is_none() =>
                {
                    RawOutcome::Skipped { message: skips.no_instance() }
                }
                Action::Invoke { name, args, instance, .. } => self.invoke(instance.as_deref(), name, args),
                Action::Register { name, instance } => self.register(name, instance.as_deref()),
                Action::Get { global, instance, .. } => self.get(instance.as_deref(), global),
                Action::Module { module, name, instantiate, assertion, .. } => match plan.modules.get(*module) {
                    Some(wasm) => self.module(&wasm.0, name.as_deref(), *instantiate, !*assertion),
                    None => RawOutcome::Unsupported { message: format!("the plan has no module {module}") },
                },
                Action::Instance { instance, module } => self.instance(instance.as_deref(), module.as_deref()),
                Action::Unsupported { reason, .. } => RawOutcome::Unsupported { message: reason.clone() },
                Action::NewMemory { name, initial, maximum, shared, address, .. } => {
                    let spec = MemorySpec { initial: *initial, maximum: *maximum, shared: *shared, address: *address };
                    match self.store.new_memory(&spec) {
                        Ok(m) => {
                            self.host.insert(name.clone(), m);
                            RawOutcome::Ok
                        }
                        Err(f) => {
                            skips.memories.push(name.clone());
                            f.outcome(Stage::NewMemory, "memory")
                        }
                    }
                }
                Action::Buffer { .. } | Action::BufferLength { .. } | Action::Resize { .. } => RawOutcome::Unsupported {
                    message: "a JS API step (a memory's ArrayBuffer): an embedder's memory has none".into(),
                },
                Action::Testharness { .. } => RawOutcome::Unsupported { message: "a testharness file runs on the JS columns only".into() },
                Action::GlueStart | Action::GlueCall { .. } | Action::GlueOutput => {
                    RawOutcome::Unsupported { message: "a toolchain's JS glue runs on the JS columns only".into() }
                }
                Action::Grow { memory, delta, .. } => self.on_memory(memory, &skips, |s, m| match s.grow(m, *delta) {
                    Ok(prev) => RawOutcome::Returns { values: vec![Val::I64(prev as i64)] },
                    Err(f) => f.outcome(Stage::Grow, "memory"),
                }),
                Action::Size { memory } => self.on_memory(memory, &skips, |s, m| RawOutcome::Pages { pages: s.size(m) }),
                Action::Read { memory, offset, len } => self.on_memory(memory, &skips, |s, m| match s.read(m, *offset, *len) {
                    Ok(hex) => RawOutcome::Bytes { hex },
                    Err(f) => f.outcome(Stage::Access, "memory"),
                }),
                Action::Write { memory, offset, bytes } => self.on_memory(memory, &skips, |s, m| match s.write(m, *offset, bytes) {
                    Ok(()) => RawOutcome::Ok,
                    Err(f) => f.outcome(Stage::Access, "memory"),
                }),
            };
            emit(i, outcome);
        }
    }

    /// A host memory, or one the current instance exports.
    fn memory(&mut self, name: &str) -> Option<S::Memory> {
        if let Some(m) = self.host.get(name) {
            return Some(m.clone());
        }
        let inst = self.current.clone()?;
        self.store.exported_memory(&inst, name)
    }

    /// Runs `f` on the named memory, or skips the step saying why there is none.
    fn on_memory(&mut self, name: &str, skips: &Skips, f: impl FnOnce(&mut S, &S::Memory) -> RawOutcome) -> RawOutcome {
        match self.memory(name) {
            Some(m) => f(&mut self.store, &m),
            None if self.current.is_some() || skips.memories.iter().any(|m| m == name) => {
                RawOutcome::Skipped { message: format!("no memory `{name}`: the step that makes it failed") }
            }
            None => RawOutcome::Skipped { message: format!("no memory `{name}`: {}", skips.no_instance()) },
        }
    }

    /// The named instance, or the current one.
    fn pick(&self, name: Option<&str>) -> std::result::Result<S::Instance, RawOutcome> {
        match name {
            Some(n) => self.named.get(n).cloned().ok_or_else(|| RawOutcome::Error {
                stage: Stage::Call,
                code: None,
                message: format!("no instance named {n}"),
            }),
            None => self.current.clone().ok_or_else(|| RawOutcome::Skipped { message: "no instance".into() }),
        }
    }

    /// Compiles `wasm`; with `instantiate`, instantiates it (named `name`, the
    /// current instance if `current`); without, keeps it as a definition.
    fn module(&mut self, wasm: &[u8], name: Option<&str>, instantiate: bool, current: bool) -> RawOutcome {
        let def = match self.def(wasm) {
            Ok(d) => d,
            Err(o) => return o,
        };
        if instantiate {
            return self.instantiate(&def, name, current);
        }
        if let Some(n) = name {
            self.defs.insert(n.to_string(), def.clone());
        }
        self.last_def = Some(def);
        RawOutcome::Ok
    }

    /// `wasm` compiled (or taken from the cache), with its imports.
    fn def(&mut self, wasm: &[u8]) -> std::result::Result<Def<S::Module>, RawOutcome> {
        let module = self.compile(wasm, false).map_err(|f| f.outcome(Stage::Compile, "module"))?;
        Ok(Def { imports: self.store.imports(&module), module })
    }

    /// Live instances of `wasm` (compiled once), until one fails or `limit`:
    /// the store keeps every instance until the case ends.
    fn instances(&mut self, wasm: &[u8], limit: u32) -> RawOutcome {
        let def = match self.def(wasm) {
            Ok(d) => d,
            Err(o) => return o,
        };
        let mut live = 0;
        while live < limit && self.instantiate(&def, None, false) == RawOutcome::Ok {
            live += 1;
        }
        RawOutcome::Returns { values: vec![Val::I32(live as i32)] }
    }

    /// `module instance`: instantiates a kept definition.
    fn instance(&mut self, instance: Option<&str>, module: Option<&str>) -> RawOutcome {
        let def = match module {
            Some(n) => self.defs.get(n).cloned(),
            None => self.last_def.clone(),
        };
        match def {
            Some(def) => self.instantiate(&def, instance, true),
            None => RawOutcome::Error { stage: Stage::Link, code: None, message: format!("no module definition {}", module.unwrap_or("")) },
        }
    }

    /// Instantiates with each import taken from, in this order: the case's
    /// `imports` (host memories), registered instances, `spectest`.
    fn instantiate(&mut self, def: &Def<S::Module>, name: Option<&str>, current: bool) -> RawOutcome {
        let mut items: Vec<(&str, &str, S::Extern)> = Vec::with_capacity(def.imports.len());
        for (module, field) in &def.imports {
            let bound = self.plan.imports.iter().find(|i| &i.module == module && &i.name == field);
            let item = match bound.and_then(|b| self.host.get(&b.memory).cloned()) {
                Some(m) => Some(self.store.memory_extern(&m)),
                None => match self.registered.get(module).and_then(|r| r.get(field)) {
                    Some(e) => Some(e.clone()),
                    None if module == "spectest" => match self.spectest_item(field) {
                        Ok(e) => e,
                        Err(f) => return f.outcome(Stage::Link, "spectest item"),
                    },
                    None => match self.plan.stubs.iter().find(|s| &s.module == module && &s.name == field).cloned() {
                        Some(stub) => match super::imports::stub(&mut self.store, &stub) {
                            Ok(e) => Some(e),
                            Err(f) => return f.outcome(Stage::Link, "import stub"),
                        },
                        None => None,
                    },
                },
            };
            if let Some(item) = item {
                items.push((module, field, item));
            }
        }
        match self.store.instantiate(&def.module, &items) {
            Ok(inst) => {
                if let Some(n) = name {
                    self.named.insert(n.to_string(), inst.clone());
                }
                if current {
                    self.current = Some(inst);
                }
                RawOutcome::Ok
            }
            Err(f) => f.outcome(Stage::Instantiate, "module"),
        }
    }

    /// A spectest item (made on first use, then shared), or `None` if
    /// spectest has no such item.
    fn spectest_item(&mut self, field: &str) -> Result<Option<S::Extern>> {
        let Some(&(key, item)) = SPECTEST.iter().find(|(n, _)| *n == field) else { return Ok(None) };
        if let Some(e) = self.spectest.get(key) {
            return Ok(Some(e.clone()));
        }
        let made = match item {
            SpectestItem::Func(params) => self.store.host_func(params)?,
            SpectestItem::Global(v) => self.store.host_global(v)?,
            SpectestItem::Table { min, max, address } => self.store.host_table(min, max, address)?,
            SpectestItem::Memory { min, max } => {
                let m = self.store.new_memory(&MemorySpec { initial: min, maximum: Some(max), shared: false, address: AddressType::I32 })?;
                self.store.memory_extern(&m)
            }
        };
        self.spectest.insert(key, made.clone());
        Ok(Some(made))
    }

    fn invoke(&mut self, instance: Option<&str>, name: &str, args: &[Val]) -> RawOutcome {
        let inst = match self.pick(instance) {
            Ok(i) => i,
            Err(o) => return o,
        };
        match self.store.call(&inst, name, args) {
            Ok(values) => RawOutcome::Returns { values },
            Err(f) => f.outcome(Stage::Call, &format!("function `{name}`")),
        }
    }

    fn register(&mut self, name: &str, instance: Option<&str>) -> RawOutcome {
        let inst = match self.pick(instance) {
            Ok(i) => i,
            Err(o) => return o,
        };
        let exports = self.store.exports(&inst).into_iter().collect();
        self.registered.insert(name.to_string(), exports);
        RawOutcome::Ok
    }

    fn get(&mut self, instance: Option<&str>, global: &str) -> RawOutcome {
        let inst = match self.pick(instance) {
            Ok(i) => i,
            Err(o) => return o,
        };
        match self.store.global(&inst, global) {
            Ok(v) => RawOutcome::Returns { values: vec![v] },
            Err(f) => f.outcome(Stage::Call, &format!("global `{global}`")),
        }
    }
}

/// A value's type.
pub fn type_of(v: Val) -> ValType {
    match v {
        Val::I32(_) => ValType::I32,
        Val::I64(_) => ValType::I64,
        Val::F32(_) => ValType::F32,
        Val::F64(_) => ValType::F64,
        Val::V128(_) => ValType::V128,
        Val::RefNull(RefType::Func) | Val::RefFunc => ValType::FuncRef,
        Val::RefNull(RefType::Extern) | Val::RefExtern(_) => ValType::ExternRef,
        Val::RefNull(_) => ValType::AnyRef,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::Outcomes as _;
    use crate::case::load::parse_case;
    use crate::case::wast::parse_wast;
    use crate::case::Case;
    use crate::diff::check_steps;
    use crate::outcome::{normalize, Outcome};
    use std::path::Path;

    /// Runs a case on an engine in this process; the normalized outcomes.
    fn run(engine: &mut dyn Engine, case: &Case) -> Vec<Outcome> {
        let mut out = vec![None; case.plan.actions.len()];
        engine.run(&case.plan, 0, &mut |i, o| out[i] = Some(normalize(o)));
        out.into_iter().map(|o| o.expect("every step reports")).collect()
    }

    fn yaml(text: &str) -> Case {
        parse_case(text, Path::new("t.yaml"), "t").unwrap().remove(0)
    }

    /// The smoke test every embedded backend must pass: compile, instantiate,
    /// call, grow from wasm and from the host, trap, read and write.
    const SMOKE: &str = r#"summary: smoke
module: |
  (module
    (memory (export "mem") 1 3)
    (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1)))
    (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
    (func (export "load") (param i32) (result i32) (i32.load (local.get 0))))
steps:
  - validate: {}
    expect: {returns: [1]}
  - invoke: add
    args: [2, 40]
    expect: {returns: [42]}
  - invoke: grow
    args: [1]
    expect: {returns: [1]}
  - invoke: grow
    args: [5]
    expect: {returns: [-1]}
  - grow: {memory: mem, delta: 1}
    expect: {returns: [2]}
  - grow: {memory: mem, delta: 1}
    expect: {error: grow_failed}
  - size: {memory: mem}
    expect: {pages: 3}
  - write: {memory: mem, offset: 65536, bytes: "2a000000"}
  - invoke: load
    args: [65536]
    expect: {returns: [42]}
  - invoke: load
    args: [196605]
    expect: {trap: out_of_bounds}
"#;

    /// A host memory imported beside a memory of the module's own
    /// (multi-memory): every embedded column does it, or says it cannot (a
    /// step unsupported; what follows it then shows nothing of the backend).
    const HOST_MEMORY: &str = r#"summary: host memory
imports: {"env.m": m}
module: |
  (module
    (import "env" "m" (memory 1 4))
    (memory (export "mem") 1 3)
    (func (export "size_m") (result i32) (memory.size 0)))
features: [multi-memory]
steps:
  - new_memory: {as: m, initial: 2, maximum: 4}
  - instantiate: {}
  - invoke: size_m
    expect: {returns: [2]}
  - read: {memory: m, offset: 131071, len: 1}
    expect: {bytes: "00"}
"#;

    #[test]
    fn every_embedded_column_passes_the_smoke_test() {
        let (smoke, host) = (yaml(SMOKE), yaml(HOST_MEMORY));
        let (mut ran, mut with_host_memories) = (0, 0);
        for column in super::super::ENGINES {
            let super::super::Launch::Worker(make) = column.launch else { continue };
            let outcomes = run(make().as_mut(), &smoke);
            for (i, ok) in check_steps(&smoke, &outcomes).iter().enumerate() {
                assert_ne!(*ok, Some(false), "{}: step {} ({}) gave {:?}", column.id, i + 1, smoke.step_label(i), outcomes[i]);
            }
            let outcomes = run(make().as_mut(), &host);
            let unsupported = outcomes.iter().position(|o| matches!(o, Outcome::Unsupported(_)));
            for (i, ok) in check_steps(&host, &outcomes).iter().enumerate() {
                let excused = unsupported.is_some_and(|u| i >= u);
                assert!(*ok != Some(false) || excused, "{}: host memory step {} ({}) gave {:?}", column.id, i + 1, host.step_label(i), outcomes[i]);
            }
            with_host_memories += usize::from(unsupported.is_none());
            ran += 1;
        }
        assert!(ran >= 11, "every embedded column ran ({ran})");
        // The Rust engines (the five wasmtime columns, wasmer, wasmi,
        // tinywasm) make host memories: an excuse is not the rule.
        assert!(with_host_memories >= 8, "only {with_host_memories} columns made and imported a host memory");
    }

    /// The session's own rules, on wasmi in this process: what is skipped
    /// after a failed instantiate or new_memory, `register` and imports from
    /// registered instances, spectest, named instances, definitions.
    #[test]
    fn the_session_skips_registers_and_imports() {
        let mut engine = Embedded::new(super::super::wasmi::Wasmi);
        let failed = yaml(
            "summary: s\nmodule: (module (memory (export \"mem\") 2 1))\nsteps:\n  - instantiate: {}\n    expect: {error: invalid}\n  - size: {memory: mem}\n    expect: {pages: 1}\n  - new_memory: {as: h, initial: 2, maximum: 1}\n    expect: {error: invalid}\n  - grow: {memory: h, delta: 1}\n    expect: {returns: [1]}\n",
        );
        let out = run(&mut engine, &failed);
        assert_eq!(out[0].kind(), "error");
        assert_eq!(out[1], Outcome::Skipped("no memory `mem`: no instance: instantiate (step 1) failed".into()));
        assert_eq!(out[3], Outcome::Skipped("no memory `h`: the step that makes it failed".into()));

        let script = parse_wast(
            r#"(module $a (memory (export "m") 1) (global (export "g") i32 (i32.const 7)) (func (export "f") (result i32) (i32.const 1)))
(register "A" $a)
(module $b (import "A" "m" (memory 1)) (import "A" "f" (func $f (result i32))) (import "spectest" "global_i32" (global i32))
  (func (export "load") (result i32) (i32.load (i32.const 0)))
  (func (export "f2") (result i32) (call $f))
  (func (export "sg") (result i32) (global.get 0)))
(assert_return (invoke $a "f") (i32.const 1))
(assert_return (invoke "f2") (i32.const 1))
(assert_return (invoke "sg") (i32.const 666))
(assert_return (get $a "g") (i32.const 7))
(assert_unlinkable (module (import "A" "nope" (func))) "unknown import")
(assert_return (invoke "load") (i32.const 0))
(module definition $d (func (export "h") (result i32) (i32.const 5)))
(module instance $i $d)
(assert_return (invoke $i "h") (i32.const 5))
"#,
            Path::new("t.wast"),
            "t",
        )
        .unwrap()
        .remove(0);
        let out = run(&mut engine, &script);
        let checks = check_steps(&script, &out);
        assert!(checks.iter().all(|c| *c != Some(false)), "{:?}", script.steps.iter().zip(&out).collect::<Vec<_>>());
        assert!(checks.iter().filter(|c| c.is_some()).count() >= 7);
        // A name that was never given is an error, not a skip.
        let named = yaml("summary: s\nmodule: (module (func (export \"f\") unreachable))\nsteps:\n  - invoke: f\n    expect: {trap: unreachable}\n");
        let mut plan = (*named.plan).clone();
        if let Action::Invoke { instance, .. } = &mut plan.actions[1] {
            *instance = Some("nobody".into());
        }
        let mut seen = Vec::new();
        engine.run(&plan, 0, &mut |_, o| seen.push(o));
        assert_eq!(seen[1], RawOutcome::Error { stage: Stage::Call, code: None, message: "no instance named nobody".into() });
    }

    /// the JS harness (drivers/harness/) builds spectest from a copy of [`SPECTEST`]; the
    /// copy must say the same.
    #[test]
    fn the_js_harness_mirrors_spectest() {
        let js = super::super::js::HARNESS_JS;
        let begin = js.find("// spectest-begin").expect("marker");
        let end = js.find("// spectest-end").expect("marker");
        let block = &js[begin..end];
        let json = &block[block.find('{').unwrap()..=block.rfind('}').unwrap()];
        let mirrored: serde_json::Value = serde_json::from_str(json).expect("the harness's table is JSON");
        let ours: serde_json::Map<String, serde_json::Value> =
            SPECTEST.iter().map(|(n, item)| (n.to_string(), serde_json::to_value(item).unwrap())).collect();
        assert_eq!(mirrored, serde_json::Value::Object(ours));
    }
}
