//! wasmtime (Cranelift).

use super::{Engine, Instances, MemorySpec, Session};
use crate::case::{AddressType, Feature, Plan, RefType, Val};
use crate::outcome::{RawOutcome, Stage};
use std::collections::HashMap;
use wasmtime::{
    Config, Extern, ExternRef, Global, GlobalType, Instance, Linker, Memory, MemoryType, MemoryTypeBuilder, Module,
    Mutability, Ref, SharedMemory, Store, StoreLimits, StoreLimitsBuilder, Strategy, Table, TableType, Trap, ValType,
};

/// Engines are costly to build, so one is kept per feature set.
#[derive(Default)]
pub struct Wasmtime {
    engines: HashMap<u16, wasmtime::Engine>,
}

impl Wasmtime {
    /// An engine with `on` switched on and `off` switched off.
    fn engine(&mut self, on: &[Feature], off: &[Feature]) -> Result<wasmtime::Engine, String> {
        let key = crate::case::switches_key(on, off);
        if let Some(e) = self.engines.get(&key) {
            return Ok(e.clone());
        }
        let mut config = Config::new();
        config.strategy(Strategy::Cranelift);
        for (f, enable) in crate::case::switches(on, off) {
            match f {
                Feature::Memory64 => config.wasm_memory64(enable),
                Feature::Threads => config.wasm_threads(enable).shared_memory(enable),
                Feature::MultiMemory => config.wasm_multi_memory(enable),
                Feature::CustomPageSizes => config.wasm_custom_page_sizes(enable),
            };
        }
        let engine = wasmtime::Engine::new(&config).map_err(|e| format!("{e:?}"))?;
        self.engines.insert(key, engine.clone());
        Ok(engine)
    }
}

impl Engine for Wasmtime {
    fn version(&self) -> String {
        env!("WASM_MATRIX_WASMTIME_VERSION").into()
    }

    fn session<'a>(&'a mut self, plan: &'a Plan) -> Box<dyn Session + 'a> {
        let engine = self.engine(&plan.features, &plan.without);
        let mut limits = StoreLimitsBuilder::new();
        if let Some(max) = plan.host.max_memory_bytes {
            limits = limits.memory_size(usize::try_from(max).unwrap_or(usize::MAX));
        }
        let store = engine.as_ref().ok().map(|e| {
            let mut store = Store::new(e, limits.build());
            store.limiter(|l| l);
            store
        });
        Box::new(WasmtimeSession {
            plan,
            engine,
            store,
            instances: Instances::default(),
            host: HashMap::new(),
            linker: None,
        })
    }
}

enum Mem {
    Plain(Memory),
    Shared(SharedMemory),
}

struct WasmtimeSession<'a> {
    plan: &'a Plan,
    engine: Result<wasmtime::Engine, String>,
    store: Option<Store<StoreLimits>>,
    instances: Instances<Instance, Module>,
    host: HashMap<String, Mem>,
    /// Made on first use: `spectest` and registered instances live here.
    linker: Option<Linker<StoreLimits>>,
}

/// wasmtime's full error text: the message and its causes, as `{:?}` prints it.
fn text(e: &wasmtime::Error) -> String {
    format!("{e:?}")
}

/// A failed call or instantiation: a trap if wasm trapped, else a host error.
fn failure(e: wasmtime::Error, stage: Stage) -> RawOutcome {
    match e.downcast_ref::<Trap>() {
        Some(trap) => RawOutcome::Trap { code: Some(format!("{trap:?}")), message: text(&e) },
        None => RawOutcome::Error { stage, code: None, message: text(&e) },
    }
}

fn to_val(store: &Store<StoreLimits>, v: &wasmtime::Val) -> Option<Val> {
    Some(match v {
        wasmtime::Val::I32(x) => Val::I32(*x),
        wasmtime::Val::I64(x) => Val::I64(*x),
        wasmtime::Val::F32(x) => Val::F32(*x),
        wasmtime::Val::F64(x) => Val::F64(*x),
        wasmtime::Val::V128(x) => Val::V128(x.as_u128()),
        wasmtime::Val::FuncRef(None) => Val::RefNull(RefType::Func),
        wasmtime::Val::FuncRef(Some(_)) => Val::RefFunc,
        wasmtime::Val::ExternRef(None) => Val::RefNull(RefType::Extern),
        wasmtime::Val::ExternRef(Some(r)) => Val::RefExtern(*r.data(store).ok()??.downcast_ref::<u32>()?),
        wasmtime::Val::AnyRef(None) => Val::RefNull(RefType::Any),
        wasmtime::Val::ExnRef(None) => Val::RefNull(RefType::Exn),
        _ => return None,
    })
}

fn from_val(store: &mut Store<StoreLimits>, v: &Val) -> Result<wasmtime::Val, String> {
    Ok(match *v {
        Val::I32(x) => wasmtime::Val::I32(x),
        Val::I64(x) => wasmtime::Val::I64(x),
        Val::F32(x) => wasmtime::Val::F32(x),
        Val::F64(x) => wasmtime::Val::F64(x),
        Val::V128(x) => wasmtime::Val::V128(x.into()),
        Val::RefNull(RefType::Func) => wasmtime::Val::FuncRef(None),
        Val::RefNull(RefType::Extern) => wasmtime::Val::ExternRef(None),
        Val::RefNull(RefType::Any) => wasmtime::Val::AnyRef(None),
        Val::RefNull(RefType::Exn) => wasmtime::Val::ExnRef(None),
        Val::RefExtern(n) => wasmtime::Val::ExternRef(Some(ExternRef::new(store, n).map_err(|e| text(&e))?)),
        Val::RefFunc => return Err("a function reference cannot be passed in".into()),
    })
}

/// The spec tests' host module, as the reference interpreter defines it.
fn define_spectest(linker: &mut Linker<StoreLimits>, store: &mut Store<StoreLimits>) -> wasmtime::Result<()> {
    linker.func_wrap("spectest", "print", || {})?;
    linker.func_wrap("spectest", "print_i32", |_: i32| {})?;
    linker.func_wrap("spectest", "print_i64", |_: i64| {})?;
    linker.func_wrap("spectest", "print_f32", |_: f32| {})?;
    linker.func_wrap("spectest", "print_f64", |_: f64| {})?;
    linker.func_wrap("spectest", "print_i32_f32", |_: i32, _: f32| {})?;
    linker.func_wrap("spectest", "print_f64_f64", |_: f64, _: f64| {})?;
    let globals = [
        ("global_i32", ValType::I32, wasmtime::Val::I32(666)),
        ("global_i64", ValType::I64, wasmtime::Val::I64(666)),
        ("global_f32", ValType::F32, wasmtime::Val::F32(666.6f32.to_bits())),
        ("global_f64", ValType::F64, wasmtime::Val::F64(666.6f64.to_bits())),
    ];
    for (name, ty, val) in globals {
        let g = Global::new(&mut *store, GlobalType::new(ty, Mutability::Const), val)?;
        linker.define(&mut *store, "spectest", name, g)?;
    }
    let table = Table::new(&mut *store, TableType::new(wasmtime::RefType::FUNCREF, 10, Some(20)), Ref::Func(None))?;
    linker.define(&mut *store, "spectest", "table", table)?;
    let memory = Memory::new(&mut *store, MemoryType::new(1, Some(2)))?;
    linker.define(&mut *store, "spectest", "memory", memory)?;
    Ok(())
}

impl WasmtimeSession<'_> {
    fn ensure_linker(&mut self) -> Result<(), RawOutcome> {
        if self.linker.is_some() {
            return Ok(());
        }
        let Ok(engine) = &self.engine else { return Err(self.engine_error()) };
        let store = self.store.as_mut().expect("a store exists when the engine does");
        let mut linker: Linker<StoreLimits> = Linker::new(engine);
        linker.allow_shadowing(true);
        define_spectest(&mut linker, store)
            .map_err(|e| RawOutcome::Error { stage: Stage::Link, code: None, message: format!("spectest: {}", text(&e)) })?;
        self.linker = Some(linker);
        Ok(())
    }

    /// Instantiates with imports from host memories, registered instances
    /// and `spectest`; the result becomes the current instance.
    fn instantiate_module(&mut self, module: &Module, name: Option<&str>, current: bool) -> RawOutcome {
        if let Err(o) = self.ensure_linker() {
            return o;
        }
        let store = self.store.as_mut().expect("a store exists when the engine does");
        let linker = self.linker.as_mut().expect("made");
        for imp in &self.plan.imports {
            let ext: Extern = match self.host.get(&imp.memory) {
                Some(Mem::Plain(m)) => (*m).into(),
                Some(Mem::Shared(m)) => m.clone().into(),
                None => continue, // its new_memory step failed: the link error will say so
            };
            if let Err(e) = linker.define(&mut *store, &imp.module, &imp.name, ext) {
                return RawOutcome::Error { stage: Stage::Link, code: None, message: text(&e) };
            }
        }
        match linker.instantiate(&mut *store, module) {
            Ok(i) => {
                self.instances.add(i, name, current);
                RawOutcome::Ok
            }
            Err(e) => failure(e, Stage::Instantiate),
        }
    }

    fn engine_error(&self) -> RawOutcome {
        let message = self.engine.as_ref().err().cloned().unwrap_or_default();
        RawOutcome::Error { stage: Stage::Compile, code: None, message: format!("engine configuration: {message}") }
    }

    fn memory(&mut self, name: &str) -> Option<Mem> {
        if let Some(m) = self.host.get(name) {
            return Some(match m {
                Mem::Plain(m) => Mem::Plain(*m),
                Mem::Shared(m) => Mem::Shared(m.clone()),
            });
        }
        let store = self.store.as_mut()?;
        match self.instances.current?.get_export(&mut *store, name)? {
            Extern::Memory(m) => Some(Mem::Plain(m)),
            Extern::SharedMemory(m) => Some(Mem::Shared(m)),
            _ => None,
        }
    }
}

impl Session for WasmtimeSession<'_> {
    fn validate(&mut self) -> RawOutcome {
        let Ok(engine) = &self.engine else { return self.engine_error() };
        let wasm = self.plan.wasm.as_deref().unwrap_or_default();
        match Module::validate(engine, wasm) {
            Ok(()) => RawOutcome::Returns { values: vec![Val::I32(1)] },
            Err(_) => RawOutcome::Returns { values: vec![Val::I32(0)] },
        }
    }

    fn instantiate(&mut self) -> RawOutcome {
        let Ok(engine) = &self.engine else { return self.engine_error() };
        let wasm = self.plan.wasm.as_deref().unwrap_or_default();
        let module = match Module::new(engine, wasm) {
            Ok(m) => m,
            Err(e) => return RawOutcome::Error { stage: Stage::Compile, code: None, message: text(&e) },
        };
        self.instantiate_module(&module, None, true)
    }

    fn invoke(&mut self, instance: Option<&str>, name: &str, args: &[Val]) -> RawOutcome {
        let inst = match self.instances.pick(instance) {
            Ok(i) => i,
            Err(o) => return o,
        };
        let store = self.store.as_mut().expect("instantiated");
        let Some(func) = inst.get_func(&mut *store, name) else {
            return RawOutcome::Error { stage: Stage::Call, code: None, message: format!("no exported function `{name}`") };
        };
        let ty = func.ty(&*store);
        let mut params = Vec::with_capacity(args.len());
        for a in args {
            match from_val(store, a) {
                Ok(v) => params.push(v),
                Err(message) => return RawOutcome::Unsupported { message },
            }
        }
        let mut results = vec![wasmtime::Val::I32(0); ty.results().len()];
        match func.call(&mut *store, &params, &mut results) {
            Ok(()) => match results.iter().map(|v| to_val(store, v)).collect::<Option<Vec<_>>>() {
                Some(values) => RawOutcome::Returns { values },
                None => RawOutcome::Unsupported { message: "a result type the case format cannot show".into() },
            },
            Err(e) => failure(e, Stage::Call),
        }
    }

    fn module(&mut self, wasm: &[u8], name: Option<&str>, instantiate: bool, current: bool) -> RawOutcome {
        let Ok(engine) = &self.engine else { return self.engine_error() };
        let module = match Module::new(engine, wasm) {
            Ok(m) => m,
            Err(e) => return RawOutcome::Error { stage: Stage::Compile, code: None, message: text(&e) },
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
        let inst = match self.instances.pick(instance) {
            Ok(i) => i,
            Err(o) => return o,
        };
        if let Err(o) = self.ensure_linker() {
            return o;
        }
        let store = self.store.as_mut().expect("store");
        match self.linker.as_mut().expect("made").instance(&mut *store, name, inst) {
            Ok(_) => RawOutcome::Ok,
            Err(e) => RawOutcome::Error { stage: Stage::Link, code: None, message: text(&e) },
        }
    }

    fn get(&mut self, instance: Option<&str>, global: &str) -> RawOutcome {
        let inst = match self.instances.pick(instance) {
            Ok(i) => i,
            Err(o) => return o,
        };
        let store = self.store.as_mut().expect("store");
        let Some(g) = inst.get_global(&mut *store, global) else {
            return RawOutcome::Error { stage: Stage::Call, code: None, message: format!("no exported global `{global}`") };
        };
        let v = g.get(&mut *store);
        match to_val(store, &v) {
            Some(v) => RawOutcome::Returns { values: vec![v] },
            None => RawOutcome::Unsupported { message: "a global type the case format cannot show".into() },
        }
    }

    fn new_memory(&mut self, spec: &MemorySpec) -> RawOutcome {
        let Ok(engine) = &self.engine else { return self.engine_error() };
        let ty = MemoryTypeBuilder::new()
            .min(spec.initial)
            .max(spec.maximum)
            .memory64(spec.address == AddressType::I64)
            .shared(spec.shared)
            .build();
        let ty = match ty {
            Ok(t) => t,
            Err(e) => return RawOutcome::Error { stage: Stage::NewMemory, code: None, message: text(&e) },
        };
        let made = if spec.shared {
            SharedMemory::new(engine, ty).map(Mem::Shared)
        } else {
            let store = self.store.as_mut().expect("a store exists when the engine does");
            Memory::new(&mut *store, ty).map(Mem::Plain)
        };
        match made {
            Ok(m) => {
                self.host.insert(spec.name.to_string(), m);
                RawOutcome::Ok
            }
            Err(e) => RawOutcome::Error { stage: Stage::NewMemory, code: None, message: text(&e) },
        }
    }

    fn grow(&mut self, memory: &str, delta: u64) -> RawOutcome {
        let result = match self.memory(memory).expect("checked by has_memory") {
            Mem::Plain(m) => m.grow(self.store.as_mut().expect("store"), delta),
            Mem::Shared(m) => m.grow(delta),
        };
        match result {
            Ok(prev) => RawOutcome::Returns { values: vec![Val::I64(prev as i64)] },
            Err(e) => RawOutcome::Error { stage: Stage::Grow, code: None, message: text(&e) },
        }
    }

    fn size(&mut self, memory: &str) -> RawOutcome {
        let pages = match self.memory(memory).expect("checked by has_memory") {
            Mem::Plain(m) => m.size(self.store.as_ref().expect("store")),
            Mem::Shared(m) => m.size(),
        };
        RawOutcome::Pages { pages }
    }

    fn read(&mut self, memory: &str, offset: u64, len: u64) -> RawOutcome {
        let mem = self.memory(memory).expect("checked by has_memory");
        let mut buf = vec![0u8; len as usize];
        let result = match mem {
            Mem::Plain(m) => m.read(self.store.as_ref().expect("store"), offset as usize, &mut buf).map_err(|e| e.to_string()),
            Mem::Shared(m) => {
                let data = m.data();
                match range(offset, len, data.len()) {
                    Some(r) => {
                        for (dst, cell) in buf.iter_mut().zip(&data[r]) {
                            // SAFETY: no other thread touches this memory during a case.
                            *dst = unsafe { *cell.get() };
                        }
                        Ok(())
                    }
                    None => Err("out of bounds memory access".to_string()),
                }
            }
        };
        match result {
            Ok(()) => RawOutcome::Bytes { hex: buf },
            Err(message) => RawOutcome::Error { stage: Stage::Access, code: None, message },
        }
    }

    fn write(&mut self, memory: &str, offset: u64, bytes: &[u8]) -> RawOutcome {
        let mem = self.memory(memory).expect("checked by has_memory");
        let result = match mem {
            Mem::Plain(m) => m.write(self.store.as_mut().expect("store"), offset as usize, bytes).map_err(|e| e.to_string()),
            Mem::Shared(m) => {
                let data = m.data();
                match range(offset, bytes.len() as u64, data.len()) {
                    Some(r) => {
                        for (src, cell) in bytes.iter().zip(&data[r]) {
                            // SAFETY: no other thread touches this memory during a case.
                            unsafe { *cell.get() = *src };
                        }
                        Ok(())
                    }
                    None => Err("out of bounds memory access".to_string()),
                }
            }
        };
        match result {
            Ok(()) => RawOutcome::Ok,
            Err(message) => RawOutcome::Error { stage: Stage::Access, code: None, message },
        }
    }

    fn instantiated(&self) -> bool {
        self.instances.current.is_some()
    }

    fn has_memory(&mut self, name: &str) -> bool {
        self.memory(name).is_some()
    }
}

/// `offset..offset+len` if it lies within `size` bytes.
pub(crate) fn range(offset: u64, len: u64, size: usize) -> Option<std::ops::Range<usize>> {
    let end = offset.checked_add(len)?;
    (end <= size as u64).then(|| offset as usize..end as usize)
}
