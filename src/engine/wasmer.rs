//! wasmer (sys backend, Cranelift).

use super::{Engine, Instances, MemorySpec, Session};
use crate::case::{AddressType, Feature, Plan, RefType, Val};
use crate::outcome::{RawOutcome, Stage};
use std::collections::HashMap;
use std::ptr::NonNull;
use wasmer::sys::vm::{MemoryError, MemoryStyle, TableStyle, VMMemory, VMMemoryDefinition, VMTable, VMTableDefinition};
use wasmer::sys::{BaseTunables, CompilerConfig, Cranelift, EngineBuilder, NativeEngineExt, Target, Tunables};
use wasmer::{
    Extern, ExternRef, Function, Global, Imports, Instance, InstantiationError, LinkError, Memory, MemoryType, Module, Pages,
    RuntimeError, Store, Table, TableType, Type, Value,
};

/// Engines are costly to build, so one is kept per feature set and cap.
#[derive(Default)]
pub struct Wasmer {
    engines: HashMap<(u16, Option<u64>), wasmer::Engine>,
}

impl Wasmer {
    /// An engine with `on` switched on, `off` switched off, and a memory cap.
    fn engine(&mut self, on: &[Feature], off: &[Feature], cap: Option<u64>) -> wasmer::Engine {
        self.engines
            .entry((crate::case::switches_key(on, off), cap))
            .or_insert_with(|| {
                let compiler = Cranelift::default();
                let mut enabled = compiler.default_features_for_target(&Target::default());
                for (f, enable) in crate::case::switches(on, off) {
                    match f {
                        Feature::Memory64 => enabled.memory64(enable),
                        Feature::Threads => enabled.threads(enable),
                        Feature::MultiMemory => enabled.multi_memory(enable),
                        // wasmer has no switch for custom page sizes.
                        Feature::CustomPageSizes => &mut enabled,
                    };
                }
                let mut engine: wasmer::Engine = EngineBuilder::new(compiler).set_features(Some(enabled)).into();
                if let Some(bytes) = cap {
                    let limit = Pages((bytes / wasmer::WASM_PAGE_SIZE as u64).min(u32::MAX as u64) as u32);
                    engine.set_tunables(CapTunables { limit, base: BaseTunables::new() });
                }
                engine
            })
            .clone()
    }
}

impl Engine for Wasmer {
    fn version(&self) -> String {
        env!("WASM_MATRIX_WASMER_VERSION").into()
    }

    fn session<'a>(&'a mut self, plan: &'a Plan) -> Box<dyn Session + 'a> {
        let engine = self.engine(&plan.features, &plan.without, plan.host.max_memory_bytes);
        let store = Store::new(engine);
        Box::new(WasmerSession {
            plan,
            store,
            instances: Instances::default(),
            host: HashMap::new(),
            registered: Vec::new(),
            spectest: None,
        })
    }
}

/// `host.max_memory_bytes` for wasmer: Tunables that clamp every memory's
/// maximum to the cap (a memory with no maximum gets the cap as maximum) and
/// refuse a memory whose minimum is above it.
struct CapTunables {
    limit: Pages,
    base: BaseTunables,
}

impl CapTunables {
    fn clamp(&self, ty: &MemoryType) -> Result<MemoryType, MemoryError> {
        if ty.minimum > self.limit {
            return Err(MemoryError::Generic(format!(
                "memory minimum of {} pages exceeds the allowed memory limit of {} pages",
                ty.minimum.0, self.limit.0
            )));
        }
        let mut ty = *ty;
        ty.maximum = Some(ty.maximum.map_or(self.limit, |m| m.min(self.limit)));
        Ok(ty)
    }
}

impl Tunables for CapTunables {
    fn memory_style(&self, memory: &MemoryType) -> MemoryStyle {
        let clamped = self.clamp(memory).unwrap_or(*memory);
        self.base.memory_style(&clamped)
    }

    fn table_style(&self, table: &TableType) -> TableStyle {
        self.base.table_style(table)
    }

    fn create_host_memory(&self, ty: &MemoryType, style: &MemoryStyle) -> Result<VMMemory, MemoryError> {
        self.base.create_host_memory(&self.clamp(ty)?, style)
    }

    unsafe fn create_vm_memory(
        &self,
        ty: &MemoryType,
        style: &MemoryStyle,
        vm_definition_location: NonNull<VMMemoryDefinition>,
    ) -> Result<VMMemory, MemoryError> {
        let ty = self.clamp(ty)?;
        // SAFETY: forwarded unchanged from the caller's contract.
        unsafe { self.base.create_vm_memory(&ty, style, vm_definition_location) }
    }

    fn create_host_table(&self, ty: &TableType, style: &TableStyle) -> Result<VMTable, String> {
        self.base.create_host_table(ty, style)
    }

    unsafe fn create_vm_table(
        &self,
        ty: &TableType,
        style: &TableStyle,
        vm_definition_location: NonNull<VMTableDefinition>,
    ) -> Result<VMTable, String> {
        // SAFETY: forwarded unchanged from the caller's contract.
        unsafe { self.base.create_vm_table(ty, style, vm_definition_location) }
    }
}

struct WasmerSession<'a> {
    plan: &'a Plan,
    store: Store,
    instances: Instances<Instance, Module>,
    host: HashMap<String, Memory>,
    /// Instances whose exports are importable, by module name.
    registered: Vec<(String, Instance)>,
    /// The spec tests' host module, made on first use.
    spectest: Option<Vec<(&'static str, Extern)>>,
}

fn to_val(store: &Store, v: &Value) -> Option<Val> {
    Some(match v {
        Value::I32(x) => Val::I32(*x),
        Value::I64(x) => Val::I64(*x),
        Value::F32(x) => Val::F32(x.to_bits()),
        Value::F64(x) => Val::F64(x.to_bits()),
        Value::V128(x) => Val::V128(*x),
        Value::FuncRef(None) => Val::RefNull(RefType::Func),
        Value::FuncRef(Some(_)) => Val::RefFunc,
        Value::ExternRef(None) => Val::RefNull(RefType::Extern),
        Value::ExternRef(Some(r)) => Val::RefExtern(*r.downcast::<u32>(store)?),
        _ => return None,
    })
}

fn from_val(store: &mut Store, v: &Val) -> Result<Value, String> {
    Ok(match *v {
        Val::I32(x) => Value::I32(x),
        Val::I64(x) => Value::I64(x),
        Val::F32(x) => Value::F32(f32::from_bits(x)),
        Val::F64(x) => Value::F64(f64::from_bits(x)),
        Val::V128(x) => Value::V128(x),
        Val::RefNull(RefType::Func) => Value::FuncRef(None),
        Val::RefNull(RefType::Extern) => Value::ExternRef(None),
        Val::RefExtern(n) => Value::ExternRef(Some(ExternRef::new(store, n))),
        Val::RefFunc => return Err("a function reference cannot be passed in".into()),
        Val::RefNull(t) => return Err(format!("wasmer's API has no {t:?} references (GC / exception handling)")),
    })
}

/// The spec tests' host module, as the reference interpreter defines it.
fn spectest(store: &mut Store) -> Result<Vec<(&'static str, Extern)>, String> {
    let mut out: Vec<(&'static str, Extern)> = vec![
        ("print", Function::new_typed(store, || {}).into()),
        ("print_i32", Function::new_typed(store, |_: i32| {}).into()),
        ("print_i64", Function::new_typed(store, |_: i64| {}).into()),
        ("print_f32", Function::new_typed(store, |_: f32| {}).into()),
        ("print_f64", Function::new_typed(store, |_: f64| {}).into()),
        ("print_i32_f32", Function::new_typed(store, |_: i32, _: f32| {}).into()),
        ("print_f64_f64", Function::new_typed(store, |_: f64, _: f64| {}).into()),
        ("global_i32", Global::new(store, Value::I32(666)).into()),
        ("global_i64", Global::new(store, Value::I64(666)).into()),
        ("global_f32", Global::new(store, Value::F32(666.6)).into()),
        ("global_f64", Global::new(store, Value::F64(666.6)).into()),
    ];
    let table = Table::new(store, TableType::new(Type::FuncRef, 10, Some(20)), Value::FuncRef(None)).map_err(|e| e.to_string())?;
    out.push(("table", table.into()));
    let memory = Memory::new(store, MemoryType::new(1, Some(2), false)).map_err(|e| e.to_string())?;
    out.push(("memory", memory.into()));
    Ok(out)
}

fn runtime_failure(e: &RuntimeError, stage: Stage) -> RawOutcome {
    match e.clone().to_trap() {
        Some(code) => RawOutcome::Trap { code: Some(format!("{code:?}")), message: e.to_string() },
        None => RawOutcome::Error { stage, code: None, message: e.to_string() },
    }
}

impl WasmerSession<'_> {
    /// Instantiates with imports from host memories, registered instances
    /// and `spectest`; the result becomes the current instance.
    fn instantiate_module(&mut self, module: &Module, name: Option<&str>, current: bool) -> RawOutcome {
        if self.spectest.is_none() {
            match spectest(&mut self.store) {
                Ok(items) => self.spectest = Some(items),
                Err(message) => return RawOutcome::Error { stage: Stage::Link, code: None, message: format!("spectest: {message}") },
            }
        }
        let mut imports = Imports::new();
        for (item, ext) in self.spectest.as_ref().expect("made") {
            imports.define("spectest", item, ext.clone());
        }
        for (ns, inst) in &self.registered {
            for (item, ext) in inst.exports.iter() {
                imports.define(ns, item, ext.clone());
            }
        }
        for imp in &self.plan.imports {
            if let Some(m) = self.host.get(&imp.memory) {
                imports.define(&imp.module, &imp.name, m.clone());
            }
        }
        match Instance::new(&mut self.store, module, &imports) {
            Ok(i) => {
                self.instances.add(i, name, current);
                RawOutcome::Ok
            }
            Err(InstantiationError::Start(e)) | Err(InstantiationError::Link(LinkError::Trap(e))) => {
                runtime_failure(&e, Stage::Instantiate)
            }
            Err(e @ InstantiationError::Link(_)) => RawOutcome::Error { stage: Stage::Link, code: None, message: e.to_string() },
            Err(e) => RawOutcome::Error { stage: Stage::Instantiate, code: None, message: e.to_string() },
        }
    }

    fn memory(&self, name: &str) -> Option<Memory> {
        if let Some(m) = self.host.get(name) {
            return Some(m.clone());
        }
        self.instances.current.as_ref()?.exports.get_memory(name).ok().cloned()
    }
}

impl Session for WasmerSession<'_> {
    fn validate(&mut self) -> RawOutcome {
        let wasm = self.plan.wasm.as_deref().unwrap_or_default();
        let valid = Module::validate(&self.store, wasm).is_ok();
        RawOutcome::Returns { values: vec![Val::I32(valid as i32)] }
    }

    fn instantiate(&mut self) -> RawOutcome {
        let wasm = self.plan.wasm.as_deref().unwrap_or_default();
        let module = match Module::new(&self.store, wasm) {
            Ok(m) => m,
            Err(e) => return RawOutcome::Error { stage: Stage::Compile, code: None, message: e.to_string() },
        };
        self.instantiate_module(&module, None, true)
    }

    fn invoke(&mut self, instance: Option<&str>, name: &str, args: &[Val]) -> RawOutcome {
        let inst = match self.instances.pick(instance) {
            Ok(i) => i,
            Err(o) => return o,
        };
        let func = match inst.exports.get_function(name) {
            Ok(f) => f.clone(),
            Err(_) => return RawOutcome::Error { stage: Stage::Call, code: None, message: format!("no exported function `{name}`") },
        };
        let mut params = Vec::with_capacity(args.len());
        for a in args {
            match from_val(&mut self.store, a) {
                Ok(v) => params.push(v),
                Err(message) => return RawOutcome::Unsupported { message },
            }
        }
        match func.call(&mut self.store, &params) {
            Ok(results) => match results.iter().map(|v| to_val(&self.store, v)).collect::<Option<Vec<_>>>() {
                Some(values) => RawOutcome::Returns { values },
                None => RawOutcome::Unsupported { message: "a result type the case format cannot show".into() },
            },
            Err(e) => runtime_failure(&e, Stage::Call),
        }
    }

    fn module(&mut self, wasm: &[u8], name: Option<&str>, instantiate: bool, current: bool) -> RawOutcome {
        let module = match Module::new(&self.store, wasm) {
            Ok(m) => m,
            Err(e) => return RawOutcome::Error { stage: Stage::Compile, code: None, message: e.to_string() },
        };
        if instantiate {
            return self.instantiate_module(&module, name, current);
        }
        self.instances.define(module, name);
        RawOutcome::Ok
    }

    fn module_instance(&mut self, instance: Option<&str>, module: Option<&str>) -> RawOutcome {
        match self.instances.definition(module) {
            Ok(def) => self.instantiate_module(&def, instance, true),
            Err(o) => o,
        }
    }

    fn register(&mut self, name: &str, instance: Option<&str>) -> RawOutcome {
        match self.instances.pick(instance) {
            Ok(i) => {
                self.registered.retain(|(n, _)| n != name);
                self.registered.push((name.to_string(), i));
                RawOutcome::Ok
            }
            Err(o) => o,
        }
    }

    fn get(&mut self, instance: Option<&str>, global: &str) -> RawOutcome {
        let inst = match self.instances.pick(instance) {
            Ok(i) => i,
            Err(o) => return o,
        };
        let Ok(g) = inst.exports.get_global(global) else {
            return RawOutcome::Error { stage: Stage::Call, code: None, message: format!("no exported global `{global}`") };
        };
        let v = g.get(&mut self.store);
        match to_val(&self.store, &v) {
            Some(v) => RawOutcome::Returns { values: vec![v] },
            None => RawOutcome::Unsupported { message: "a global type the case format cannot show".into() },
        }
    }

    fn new_memory(&mut self, spec: &MemorySpec) -> RawOutcome {
        if spec.address == AddressType::I64 {
            return RawOutcome::Unsupported { message: "wasmer's MemoryType has no 64-bit (i64 address) memories".into() };
        }
        let pages = |n: u64| u32::try_from(n).map(Pages);
        let (Ok(min), Ok(max)) = (pages(spec.initial), spec.maximum.map(pages).transpose()) else {
            return RawOutcome::Unsupported { message: "wasmer's Pages is a u32: the limits do not fit".into() };
        };
        match Memory::new(&mut self.store, MemoryType::new(min, max, spec.shared)) {
            Ok(m) => {
                self.host.insert(spec.name.to_string(), m);
                RawOutcome::Ok
            }
            Err(e) => RawOutcome::Error { stage: Stage::NewMemory, code: None, message: e.to_string() },
        }
    }

    fn grow(&mut self, memory: &str, delta: u64) -> RawOutcome {
        let m = self.memory(memory).expect("checked by has_memory");
        let Ok(delta) = u32::try_from(delta) else {
            return RawOutcome::Unsupported { message: format!("wasmer's grow takes a u32 page count; {delta} does not fit") };
        };
        match m.grow(&mut self.store, Pages(delta)) {
            Ok(prev) => RawOutcome::Returns { values: vec![Val::I64(prev.0 as i64)] },
            Err(e) => RawOutcome::Error { stage: Stage::Grow, code: None, message: e.to_string() },
        }
    }

    fn size(&mut self, memory: &str) -> RawOutcome {
        let m = self.memory(memory).expect("checked by has_memory");
        RawOutcome::Pages { pages: m.view(&self.store).size().0 as u64 }
    }

    fn read(&mut self, memory: &str, offset: u64, len: u64) -> RawOutcome {
        let m = self.memory(memory).expect("checked by has_memory");
        let mut buf = vec![0u8; len as usize];
        match m.view(&self.store).read(offset, &mut buf) {
            Ok(()) => RawOutcome::Bytes { hex: buf },
            Err(e) => RawOutcome::Error { stage: Stage::Access, code: None, message: e.to_string() },
        }
    }

    fn write(&mut self, memory: &str, offset: u64, bytes: &[u8]) -> RawOutcome {
        let m = self.memory(memory).expect("checked by has_memory");
        match m.view(&self.store).write(offset, bytes) {
            Ok(()) => RawOutcome::Ok,
            Err(e) => RawOutcome::Error { stage: Stage::Access, code: None, message: e.to_string() },
        }
    }

    fn instantiated(&self) -> bool {
        self.instances.current.is_some()
    }

    fn has_memory(&mut self, name: &str) -> bool {
        self.memory(name).is_some()
    }
}
