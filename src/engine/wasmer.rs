//! wasmer (sys backend, Cranelift).

use super::{Engine, MemorySpec, Session};
use crate::case::{AddressType, Feature, Plan, Val};
use crate::outcome::{RawOutcome, Stage};
use std::collections::HashMap;
use std::ptr::NonNull;
use wasmer::sys::vm::{MemoryError, MemoryStyle, TableStyle, VMMemory, VMMemoryDefinition, VMTable, VMTableDefinition};
use wasmer::sys::{BaseTunables, CompilerConfig, Cranelift, EngineBuilder, NativeEngineExt, Target, Tunables};
use wasmer::{Imports, Instance, InstantiationError, LinkError, Memory, MemoryType, Module, Pages, RuntimeError, Store, TableType, Value};

/// Engines are costly to build, so one is kept per feature set and cap.
#[derive(Default)]
pub struct Wasmer {
    engines: HashMap<(Vec<Feature>, Option<u64>), wasmer::Engine>,
}

impl Wasmer {
    fn engine(&mut self, features: &[Feature], cap: Option<u64>) -> wasmer::Engine {
        self.engines
            .entry((features.to_vec(), cap))
            .or_insert_with(|| {
                let compiler = Cranelift::default();
                let mut enabled = compiler.default_features_for_target(&Target::default());
                for f in features {
                    match f {
                        Feature::Memory64 => enabled.memory64(true),
                        Feature::Threads => enabled.threads(true),
                        Feature::MultiMemory => enabled.multi_memory(true),
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
        let engine = self.engine(&plan.features, plan.host.max_memory_bytes);
        let store = Store::new(engine);
        Box::new(WasmerSession { plan, store, instance: None, host: HashMap::new() })
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
    instance: Option<Instance>,
    host: HashMap<String, Memory>,
}

fn runtime_failure(e: &RuntimeError, stage: Stage) -> RawOutcome {
    match e.clone().to_trap() {
        Some(code) => RawOutcome::Trap { code: Some(format!("{code:?}")), message: e.to_string() },
        None => RawOutcome::Error { stage, code: None, message: e.to_string() },
    }
}

impl WasmerSession<'_> {
    fn memory(&self, name: &str) -> Option<Memory> {
        if let Some(m) = self.host.get(name) {
            return Some(m.clone());
        }
        self.instance.as_ref()?.exports.get_memory(name).ok().cloned()
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
        let mut imports = Imports::new();
        for imp in &self.plan.imports {
            if let Some(m) = self.host.get(&imp.memory) {
                imports.define(&imp.module, &imp.name, m.clone());
            }
        }
        match Instance::new(&mut self.store, &module, &imports) {
            Ok(i) => {
                self.instance = Some(i);
                RawOutcome::Ok
            }
            Err(InstantiationError::Start(e)) | Err(InstantiationError::Link(LinkError::Trap(e))) => {
                runtime_failure(&e, Stage::Instantiate)
            }
            Err(e @ InstantiationError::Link(_)) => RawOutcome::Error { stage: Stage::Link, code: None, message: e.to_string() },
            Err(e) => RawOutcome::Error { stage: Stage::Instantiate, code: None, message: e.to_string() },
        }
    }

    fn invoke(&mut self, name: &str, args: &[Val]) -> RawOutcome {
        let func = match self.instance.as_ref().map(|i| i.exports.get_function(name)) {
            Some(Ok(f)) => f.clone(),
            _ => return RawOutcome::Error { stage: Stage::Call, code: None, message: format!("no exported function `{name}`") },
        };
        let params: Vec<Value> = args
            .iter()
            .map(|v| match *v {
                Val::I32(x) => Value::I32(x),
                Val::I64(x) => Value::I64(x),
                Val::F32(x) => Value::F32(f32::from_bits(x)),
                Val::F64(x) => Value::F64(f64::from_bits(x)),
            })
            .collect();
        match func.call(&mut self.store, &params) {
            Ok(results) => {
                let values: Option<Vec<Val>> = results
                    .iter()
                    .map(|v| match v {
                        Value::I32(x) => Some(Val::I32(*x)),
                        Value::I64(x) => Some(Val::I64(*x)),
                        Value::F32(x) => Some(Val::F32(x.to_bits())),
                        Value::F64(x) => Some(Val::F64(x.to_bits())),
                        _ => None,
                    })
                    .collect();
                match values {
                    Some(values) => RawOutcome::Returns { values },
                    None => RawOutcome::Unsupported { message: "a result type the case format cannot show".into() },
                }
            }
            Err(e) => runtime_failure(&e, Stage::Call),
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
        self.instance.is_some()
    }

    fn has_memory(&mut self, name: &str) -> bool {
        self.memory(name).is_some()
    }
}
