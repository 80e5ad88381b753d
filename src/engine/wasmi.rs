//! wasmi (interpreter).

use super::{Engine, MemorySpec, Session};
use crate::case::{AddressType, Feature, Plan, Val};
use crate::outcome::{RawOutcome, Stage};
use std::collections::HashMap;
use wasmi::{Config, Instance, Linker, Memory, MemoryType, Module, Store, StoreLimits, StoreLimitsBuilder, F32, F64};

#[derive(Default)]
pub struct Wasmi {
    engines: HashMap<Vec<Feature>, wasmi::Engine>,
}

impl Wasmi {
    fn engine(&mut self, features: &[Feature]) -> wasmi::Engine {
        self.engines
            .entry(features.to_vec())
            .or_insert_with(|| {
                let mut config = Config::default();
                for f in features {
                    match f {
                        Feature::Memory64 => config.wasm_memory64(true),
                        Feature::MultiMemory => config.wasm_multi_memory(true),
                        Feature::CustomPageSizes => config.wasm_custom_page_sizes(true),
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
        let engine = self.engine(&plan.features);
        let mut limits = StoreLimitsBuilder::new();
        if let Some(max) = plan.host.max_memory_bytes {
            limits = limits.memory_size(usize::try_from(max).unwrap_or(usize::MAX));
        }
        let mut store = Store::new(&engine, limits.build());
        store.limiter(|l| l);
        Box::new(WasmiSession { plan, engine, store, instance: None, host: HashMap::new() })
    }
}

struct WasmiSession<'a> {
    plan: &'a Plan,
    engine: wasmi::Engine,
    store: Store<StoreLimits>,
    instance: Option<Instance>,
    host: HashMap<String, Memory>,
}

fn failure(e: wasmi::Error, stage: Stage) -> RawOutcome {
    match e.as_trap_code() {
        Some(code) => RawOutcome::Trap { code: Some(format!("{code:?}")), message: e.to_string() },
        None => RawOutcome::Error { stage, code: None, message: e.to_string() },
    }
}

impl WasmiSession<'_> {
    fn memory(&self, name: &str) -> Option<Memory> {
        self.host.get(name).copied().or_else(|| self.instance?.get_memory(&self.store, name))
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
        let mut linker: Linker<StoreLimits> = Linker::new(&self.engine);
        for imp in &self.plan.imports {
            if let Some(m) = self.host.get(&imp.memory) {
                if let Err(e) = linker.define(&imp.module, &imp.name, *m) {
                    return RawOutcome::Error { stage: Stage::Link, code: None, message: e.to_string() };
                }
            }
        }
        match linker.instantiate_and_start(&mut self.store, &module) {
            Ok(i) => {
                self.instance = Some(i);
                RawOutcome::Ok
            }
            Err(e) => failure(e, Stage::Instantiate),
        }
    }

    fn invoke(&mut self, name: &str, args: &[Val]) -> RawOutcome {
        let Some(func) = self.instance.and_then(|i| i.get_func(&self.store, name)) else {
            return RawOutcome::Error { stage: Stage::Call, code: None, message: format!("no exported function `{name}`") };
        };
        let n = func.ty(&self.store).results().len();
        let params: Vec<wasmi::Val> = args
            .iter()
            .map(|v| match *v {
                Val::I32(x) => wasmi::Val::I32(x),
                Val::I64(x) => wasmi::Val::I64(x),
                Val::F32(x) => wasmi::Val::F32(F32::from_bits(x)),
                Val::F64(x) => wasmi::Val::F64(F64::from_bits(x)),
            })
            .collect();
        let mut results = vec![wasmi::Val::I32(0); n];
        match func.call(&mut self.store, &params, &mut results) {
            Ok(()) => {
                let values: Option<Vec<Val>> = results
                    .iter()
                    .map(|v| match v {
                        wasmi::Val::I32(x) => Some(Val::I32(*x)),
                        wasmi::Val::I64(x) => Some(Val::I64(*x)),
                        wasmi::Val::F32(x) => Some(Val::F32(x.to_bits())),
                        wasmi::Val::F64(x) => Some(Val::F64(x.to_bits())),
                        _ => None,
                    })
                    .collect();
                match values {
                    Some(values) => RawOutcome::Returns { values },
                    None => RawOutcome::Unsupported { message: "a result type the case format cannot show".into() },
                }
            }
            Err(e) => failure(e, Stage::Call),
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
        self.instance.is_some()
    }

    fn has_memory(&mut self, name: &str) -> bool {
        self.memory(name).is_some()
    }
}
