//! wasmtime (Cranelift).

use super::{Engine, MemorySpec, Session};
use crate::case::{AddressType, Feature, Plan, Val};
use crate::outcome::{RawOutcome, Stage};
use std::collections::HashMap;
use wasmtime::{
    Config, Extern, Instance, Linker, Memory, MemoryTypeBuilder, Module, SharedMemory, Store, StoreLimits,
    StoreLimitsBuilder, Strategy, Trap,
};

/// Engines are costly to build, so one is kept per feature set.
#[derive(Default)]
pub struct Wasmtime {
    engines: HashMap<Vec<Feature>, wasmtime::Engine>,
}

impl Wasmtime {
    fn engine(&mut self, features: &[Feature]) -> Result<wasmtime::Engine, String> {
        if let Some(e) = self.engines.get(features) {
            return Ok(e.clone());
        }
        let mut config = Config::new();
        config.strategy(Strategy::Cranelift);
        for f in features {
            match f {
                Feature::Memory64 => config.wasm_memory64(true),
                Feature::Threads => config.wasm_threads(true).shared_memory(true),
                Feature::MultiMemory => config.wasm_multi_memory(true),
                Feature::CustomPageSizes => config.wasm_custom_page_sizes(true),
            };
        }
        let engine = wasmtime::Engine::new(&config).map_err(|e| format!("{e:?}"))?;
        self.engines.insert(features.to_vec(), engine.clone());
        Ok(engine)
    }
}

impl Engine for Wasmtime {
    fn version(&self) -> String {
        env!("WASM_MATRIX_WASMTIME_VERSION").into()
    }

    fn session<'a>(&'a mut self, plan: &'a Plan) -> Box<dyn Session + 'a> {
        let engine = self.engine(&plan.features);
        let mut limits = StoreLimitsBuilder::new();
        if let Some(max) = plan.host.max_memory_bytes {
            limits = limits.memory_size(usize::try_from(max).unwrap_or(usize::MAX));
        }
        let store = engine.as_ref().ok().map(|e| {
            let mut store = Store::new(e, limits.build());
            store.limiter(|l| l);
            store
        });
        Box::new(WasmtimeSession { plan, engine, store, instance: None, host: HashMap::new() })
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
    instance: Option<Instance>,
    host: HashMap<String, Mem>,
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

fn to_val(v: &wasmtime::Val) -> Option<Val> {
    Some(match v {
        wasmtime::Val::I32(x) => Val::I32(*x),
        wasmtime::Val::I64(x) => Val::I64(*x),
        wasmtime::Val::F32(x) => Val::F32(*x),
        wasmtime::Val::F64(x) => Val::F64(*x),
        _ => return None,
    })
}

fn from_val(v: &Val) -> wasmtime::Val {
    match *v {
        Val::I32(x) => wasmtime::Val::I32(x),
        Val::I64(x) => wasmtime::Val::I64(x),
        Val::F32(x) => wasmtime::Val::F32(x),
        Val::F64(x) => wasmtime::Val::F64(x),
    }
}

impl WasmtimeSession<'_> {
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
        match self.instance?.get_export(&mut *store, name)? {
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
        let store = self.store.as_mut().expect("a store exists when the engine does");
        let mut linker: Linker<StoreLimits> = Linker::new(engine);
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
        match linker.instantiate(&mut *store, &module) {
            Ok(i) => {
                self.instance = Some(i);
                RawOutcome::Ok
            }
            Err(e) => failure(e, Stage::Instantiate),
        }
    }

    fn invoke(&mut self, name: &str, args: &[Val]) -> RawOutcome {
        let store = self.store.as_mut().expect("instantiated");
        let Some(func) = self.instance.and_then(|i| i.get_func(&mut *store, name)) else {
            return RawOutcome::Error { stage: Stage::Call, code: None, message: format!("no exported function `{name}`") };
        };
        let ty = func.ty(&*store);
        let params: Vec<wasmtime::Val> = args.iter().map(from_val).collect();
        let mut results = vec![wasmtime::Val::I32(0); ty.results().len()];
        match func.call(&mut *store, &params, &mut results) {
            Ok(()) => match results.iter().map(to_val).collect::<Option<Vec<_>>>() {
                Some(values) => RawOutcome::Returns { values },
                None => RawOutcome::Unsupported { message: "a result type the case format cannot show".into() },
            },
            Err(e) => failure(e, Stage::Call),
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
        self.instance.is_some()
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
