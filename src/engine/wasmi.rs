//! wasmi (interpreter).

use super::{Engine, Instances, MemorySpec, Session};
use crate::case::{AddressType, Feature, Plan, RefType, Val};
use crate::outcome::{RawOutcome, Stage};
use std::collections::HashMap;
use wasmi::{
    Config, ExternRef, Global, Instance, Linker, Memory, MemoryType, Module, Mutability, Nullable, Ref, Store, StoreLimits,
    StoreLimitsBuilder, Table, TableType, F32, F64,
};

#[derive(Default)]
pub struct Wasmi {
    engines: HashMap<u16, wasmi::Engine>,
}

impl Wasmi {
    /// An engine with `on` switched on and `off` switched off.
    fn engine(&mut self, on: &[Feature], off: &[Feature]) -> wasmi::Engine {
        self.engines
            .entry(crate::case::switches_key(on, off))
            .or_insert_with(|| {
                let mut config = Config::default();
                for (f, enable) in crate::case::switches(on, off) {
                    match f {
                        Feature::Memory64 => config.wasm_memory64(enable),
                        Feature::MultiMemory => config.wasm_multi_memory(enable),
                        Feature::CustomPageSizes => config.wasm_custom_page_sizes(enable),
                        // wasmi has no threads support and so no switch for it.
                        Feature::Threads => &mut config,
                    };
                }
                wasmi::Engine::new(&config)
            })
            .clone()
    }
}

impl Engine for Wasmi {
    fn version(&self) -> String {
        env!("WASM_MATRIX_WASMI_VERSION").into()
    }

    fn session<'a>(&'a mut self, plan: &'a Plan) -> Box<dyn Session + 'a> {
        let engine = self.engine(&plan.features, &plan.without);
        let mut limits = StoreLimitsBuilder::new();
        if let Some(max) = plan.host.max_memory_bytes {
            limits = limits.memory_size(usize::try_from(max).unwrap_or(usize::MAX));
        }
        let mut store = Store::new(&engine, limits.build());
        store.limiter(|l| l);
        Box::new(WasmiSession {
            plan,
            engine,
            store,
            instances: Instances::default(),
            host: HashMap::new(),
            linker: None,
        })
    }
}

struct WasmiSession<'a> {
    plan: &'a Plan,
    engine: wasmi::Engine,
    store: Store<StoreLimits>,
    instances: Instances<Instance, Module>,
    host: HashMap<String, Memory>,
    /// Made on first use: `spectest` and registered instances live here.
    linker: Option<Linker<StoreLimits>>,
}

fn to_val(store: &Store<StoreLimits>, v: &wasmi::Val) -> Option<Val> {
    Some(match v {
        wasmi::Val::I32(x) => Val::I32(*x),
        wasmi::Val::I64(x) => Val::I64(*x),
        wasmi::Val::F32(x) => Val::F32(x.to_bits()),
        wasmi::Val::F64(x) => Val::F64(x.to_bits()),
        wasmi::Val::V128(x) => Val::V128(x.as_u128()),
        wasmi::Val::FuncRef(Nullable::Null) => Val::RefNull(RefType::Func),
        wasmi::Val::FuncRef(Nullable::Val(_)) => Val::RefFunc,
        wasmi::Val::ExternRef(Nullable::Null) => Val::RefNull(RefType::Extern),
        wasmi::Val::ExternRef(Nullable::Val(r)) => Val::RefExtern(*r.data(store).downcast_ref::<u32>()?),
    })
}

fn from_val(store: &mut Store<StoreLimits>, v: &Val) -> Result<wasmi::Val, String> {
    Ok(match *v {
        Val::I32(x) => wasmi::Val::I32(x),
        Val::I64(x) => wasmi::Val::I64(x),
        Val::F32(x) => wasmi::Val::F32(F32::from_bits(x)),
        Val::F64(x) => wasmi::Val::F64(F64::from_bits(x)),
        Val::V128(x) => wasmi::Val::V128(x.into()),
        Val::RefNull(RefType::Func) => wasmi::Val::FuncRef(Nullable::Null),
        Val::RefNull(RefType::Extern) => wasmi::Val::ExternRef(Nullable::Null),
        Val::RefExtern(n) => wasmi::Val::ExternRef(Nullable::Val(ExternRef::new(store, n))),
        Val::RefFunc => return Err("a function reference cannot be passed in".into()),
        Val::RefNull(t) => return Err(format!("wasmi has no {t:?} references (GC / exception handling)")),
    })
}

/// The spec tests' host module, as the reference interpreter defines it.
fn define_spectest(linker: &mut Linker<StoreLimits>, store: &mut Store<StoreLimits>) -> Result<(), wasmi::Error> {
    linker.func_wrap("spectest", "print", || {})?;
    linker.func_wrap("spectest", "print_i32", |_: i32| {})?;
    linker.func_wrap("spectest", "print_i64", |_: i64| {})?;
    linker.func_wrap("spectest", "print_f32", |_: F32| {})?;
    linker.func_wrap("spectest", "print_f64", |_: F64| {})?;
    linker.func_wrap("spectest", "print_i32_f32", |_: i32, _: F32| {})?;
    linker.func_wrap("spectest", "print_f64_f64", |_: F64, _: F64| {})?;
    let globals = [
        ("global_i32", wasmi::Val::I32(666)),
        ("global_i64", wasmi::Val::I64(666)),
        ("global_f32", wasmi::Val::F32(F32::from(666.6f32))),
        ("global_f64", wasmi::Val::F64(F64::from(666.6f64))),
    ];
    for (name, val) in globals {
        let g = Global::new(&mut *store, val, Mutability::Const);
        linker.define("spectest", name, g)?;
    }
    let table = Table::new(&mut *store, TableType::new(wasmi::RefType::Func, 10, Some(20)), Ref::Func(Nullable::Null))?;
    linker.define("spectest", "table", table)?;
    let memory = Memory::new(&mut *store, MemoryType::new(1, Some(2)))?;
    linker.define("spectest", "memory", memory)?;
    Ok(())
}

fn failure(e: wasmi::Error, stage: Stage) -> RawOutcome {
    match e.as_trap_code() {
        Some(code) => RawOutcome::Trap { code: Some(format!("{code:?}")), message: e.to_string() },
        None => RawOutcome::Error { stage, code: None, message: e.to_string() },
    }
}

impl WasmiSession<'_> {
    fn ensure_linker(&mut self) -> Result<(), RawOutcome> {
        if self.linker.is_none() {
            let mut linker: Linker<StoreLimits> = Linker::new(&self.engine);
            linker.allow_shadowing(true);
            define_spectest(&mut linker, &mut self.store)
                .map_err(|e| RawOutcome::Error { stage: Stage::Link, code: None, message: format!("spectest: {e}") })?;
            self.linker = Some(linker);
        }
        Ok(())
    }

    /// Instantiates with imports from host memories, registered instances
    /// and `spectest`; the result becomes the current instance.
    fn instantiate_module(&mut self, module: &Module, name: Option<&str>, current: bool) -> RawOutcome {
        if let Err(o) = self.ensure_linker() {
            return o;
        }
        let linker = self.linker.as_mut().expect("made");
        for imp in &self.plan.imports {
            if let Some(m) = self.host.get(&imp.memory) {
                if let Err(e) = linker.define(&imp.module, &imp.name, *m) {
                    return RawOutcome::Error { stage: Stage::Link, code: None, message: e.to_string() };
                }
            }
        }
        match linker.instantiate_and_start(&mut self.store, module) {
            Ok(i) => {
                self.instances.add(i, name, current);
                RawOutcome::Ok
            }
            Err(e) => failure(e, Stage::Instantiate),
        }
    }

    fn memory(&self, name: &str) -> Option<Memory> {
        self.host.get(name).copied().or_else(|| self.instances.current?.get_memory(&self.store, name))
    }
}

impl Session for WasmiSession<'_> {
    fn validate(&mut self) -> RawOutcome {
        let wasm = self.plan.wasm.as_deref().unwrap_or_default();
        let valid = Module::validate(&self.engine, wasm).is_ok();
        RawOutcome::Returns { values: vec![Val::I32(valid as i32)] }
    }

    fn instantiate(&mut self) -> RawOutcome {
        let wasm = self.plan.wasm.as_deref().unwrap_or_default();
        let module = match Module::new(&self.engine, wasm) {
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
        let Some(func) = inst.get_func(&self.store, name) else {
            return RawOutcome::Error { stage: Stage::Call, code: None, message: format!("no exported function `{name}`") };
        };
        let n = func.ty(&self.store).results().len();
        let mut params = Vec::with_capacity(args.len());
        for a in args {
            match from_val(&mut self.store, a) {
                Ok(v) => params.push(v),
                Err(message) => return RawOutcome::Unsupported { message },
            }
        }
        let mut results = vec![wasmi::Val::I32(0); n];
        match func.call(&mut self.store, &params, &mut results) {
            Ok(()) => match results.iter().map(|v| to_val(&self.store, v)).collect::<Option<Vec<_>>>() {
                Some(values) => RawOutcome::Returns { values },
                None => RawOutcome::Unsupported { message: "a result type the case format cannot show".into() },
            },
            Err(e) => failure(e, Stage::Call),
        }
    }

    fn module(&mut self, wasm: &[u8], name: Option<&str>, instantiate: bool, current: bool) -> RawOutcome {
        let module = match Module::new(&self.engine, wasm) {
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
        let inst = match self.instances.pick(instance) {
            Ok(i) => i,
            Err(o) => return o,
        };
        if let Err(o) = self.ensure_linker() {
            return o;
        }
        match self.linker.as_mut().expect("made").instance(&mut self.store, name, inst) {
            Ok(_) => RawOutcome::Ok,
            Err(e) => RawOutcome::Error { stage: Stage::Link, code: None, message: e.to_string() },
        }
    }

    fn get(&mut self, instance: Option<&str>, global: &str) -> RawOutcome {
        let inst = match self.instances.pick(instance) {
            Ok(i) => i,
            Err(o) => return o,
        };
        let Some(g) = inst.get_global(&self.store, global) else {
            return RawOutcome::Error { stage: Stage::Call, code: None, message: format!("no exported global `{global}`") };
        };
        let v = g.get(&self.store);
        match to_val(&self.store, &v) {
            Some(v) => RawOutcome::Returns { values: vec![v] },
            None => RawOutcome::Unsupported { message: "a global type the case format cannot show".into() },
        }
    }

    fn new_memory(&mut self, spec: &MemorySpec) -> RawOutcome {
        if spec.shared {
            return RawOutcome::Unsupported { message: "wasmi has no shared memories (no threads support)".into() };
        }
        let mut b = MemoryType::builder();
        b.min(spec.initial).max(spec.maximum).memory64(spec.address == AddressType::I64);
        let ty = match b.build() {
            Ok(t) => t,
            Err(e) => return RawOutcome::Error { stage: Stage::NewMemory, code: None, message: e.to_string() },
        };
        match Memory::new(&mut self.store, ty) {
            Ok(m) => {
                self.host.insert(spec.name.to_string(), m);
                RawOutcome::Ok
            }
            Err(e) => RawOutcome::Error { stage: Stage::NewMemory, code: None, message: e.to_string() },
        }
    }

    fn grow(&mut self, memory: &str, delta: u64) -> RawOutcome {
        let m = self.memory(memory).expect("checked by has_memory");
        match m.grow(&mut self.store, delta) {
            Ok(prev) => RawOutcome::Returns { values: vec![Val::I64(prev as i64)] },
            Err(e) => RawOutcome::Error { stage: Stage::Grow, code: None, message: e.to_string() },
        }
    }

    fn size(&mut self, memory: &str) -> RawOutcome {
        let m = self.memory(memory).expect("checked by has_memory");
        RawOutcome::Pages { pages: m.size(&self.store) }
    }

    fn read(&mut self, memory: &str, offset: u64, len: u64) -> RawOutcome {
        let m = self.memory(memory).expect("checked by has_memory");
        let mut buf = vec![0u8; len as usize];
        match usize::try_from(offset).map_err(|e| e.to_string()).and_then(|o| m.read(&self.store, o, &mut buf).map_err(|e| e.to_string())) {
            Ok(()) => RawOutcome::Bytes { hex: buf },
            Err(message) => RawOutcome::Error { stage: Stage::Access, code: None, message },
        }
    }

    fn write(&mut self, memory: &str, offset: u64, bytes: &[u8]) -> RawOutcome {
        let m = self.memory(memory).expect("checked by has_memory");
        match usize::try_from(offset).map_err(|e| e.to_string()).and_then(|o| m.write(&mut self.store, o, bytes).map_err(|e| e.to_string())) {
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
