//! wasmer (sys backend, Cranelift).

use super::session::{Backend, Fault, MemorySpec, Result};
use crate::case::{AddressType, Feature, Host, RefType, Val, ValType};
use std::ptr::NonNull;
use wasmer::sys::vm::{MemoryError, MemoryStyle, TableStyle, VMMemory, VMMemoryDefinition, VMTable, VMTableDefinition};
use wasmer::sys::{BaseTunables, CompilerConfig, Cranelift, EngineBuilder, NativeEngineExt, Target, Tunables};
use wasmer::{
    Extern, ExternRef, Function, FunctionType, Global, Imports, Instance, InstantiationError, LinkError, Memory, MemoryType,
    Module, Pages, RuntimeError, Store, Table, TableType, Type, Value,
};

/// wasmer with Cranelift, its default compiler.
pub struct Wasmer;

impl Backend for Wasmer {
    type Engine = wasmer::Engine;
    type Store = Store;

    fn engine(&self, switches: &[(Feature, bool)], host: &Host) -> Result<wasmer::Engine> {
        // One compile thread: the tool runs one worker per core, and wasmer
        // builds a thread pool of that size for every module it compiles
        // (no outcome depends on it).
        let mut compiler = Cranelift::default();
        compiler.num_threads(std::num::NonZero::new(1).expect("1 is not 0"));
        let mut enabled = compiler.default_features_for_target(&Target::default());
        for &(f, enable) in switches {
            match f {
                Feature::Memory64 => enabled.memory64(enable),
                Feature::Threads => enabled.threads(enable),
                Feature::MultiMemory => enabled.multi_memory(enable),
                // wasmer has no switch for custom page sizes.
                Feature::CustomPageSizes => &mut enabled,
            };
        }
        let mut engine: wasmer::Engine = EngineBuilder::new(compiler).set_features(Some(enabled)).into();
        if let Some(bytes) = host.max_memory_bytes {
            let limit = Pages((bytes / wasmer::WASM_PAGE_SIZE as u64).min(u32::MAX as u64) as u32);
            engine.set_tunables(CapTunables { limit, base: BaseTunables::new() });
        }
        Ok(engine)
    }

    fn store(&self, engine: &wasmer::Engine, _: &Host) -> Store {
        Store::new(engine.clone())
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
    fn clamp(&self, ty: &MemoryType) -> std::result::Result<MemoryType, MemoryError> {
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

    fn create_host_memory(&self, ty: &MemoryType, style: &MemoryStyle) -> std::result::Result<VMMemory, MemoryError> {
        self.base.create_host_memory(&self.clamp(ty)?, style)
    }

    unsafe fn create_vm_memory(
        &self,
        ty: &MemoryType,
        style: &MemoryStyle,
        vm_definition_location: NonNull<VMMemoryDefinition>,
    ) -> std::result::Result<VMMemory, MemoryError> {
        let ty = self.clamp(ty)?;
        // SAFETY: forwarded unchanged from the caller's contract.
        unsafe { self.base.create_vm_memory(&ty, style, vm_definition_location) }
    }

    fn create_host_table(&self, ty: &TableType, style: &TableStyle) -> std::result::Result<VMTable, String> {
        self.base.create_host_table(ty, style)
    }

    unsafe fn create_vm_table(
        &self,
        ty: &TableType,
        style: &TableStyle,
        vm_definition_location: NonNull<VMTableDefinition>,
    ) -> std::result::Result<VMTable, String> {
        // SAFETY: forwarded unchanged from the caller's contract.
        unsafe { self.base.create_vm_table(ty, style, vm_definition_location) }
    }
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

fn from_val(store: &mut Store, v: &Val) -> Result<Value> {
    Ok(match *v {
        Val::I32(x) => Value::I32(x),
        Val::I64(x) => Value::I64(x),
        Val::F32(x) => Value::F32(f32::from_bits(x)),
        Val::F64(x) => Value::F64(f64::from_bits(x)),
        Val::V128(x) => Value::V128(x),
        Val::RefNull(RefType::Func) => Value::FuncRef(None),
        Val::RefNull(RefType::Extern) => Value::ExternRef(None),
        Val::RefExtern(n) => Value::ExternRef(Some(ExternRef::new(store, n))),
        Val::RefFunc => return Err(Fault::Unsupported("a function reference cannot be passed in".into())),
        Val::RefNull(t) => return Err(Fault::Unsupported(format!("wasmer's API has no {t:?} references (GC / exception handling)"))),
    })
}

fn val_type(t: ValType) -> Type {
    match t {
        ValType::I32 => Type::I32,
        ValType::I64 => Type::I64,
        ValType::F32 => Type::F32,
        ValType::F64 => Type::F64,
        ValType::V128 => Type::V128,
        ValType::FuncRef | ValType::AnyRef | ValType::OtherRef => Type::FuncRef,
        ValType::ExternRef => Type::ExternRef,
    }
}

fn runtime_fault(e: &RuntimeError) -> Fault {
    match e.clone().to_trap() {
        Some(code) => Fault::Trap { kind: trap_kind(code), message: e.to_string() },
        None => Fault::error(e),
    }
}

/// wasmer's trap codes, every one: a code added upstream fails to compile here.
fn trap_kind(code: wasmer::sys::vm::TrapCode) -> Option<crate::case::TrapKind> {
    use crate::case::TrapKind as K;
    use wasmer::sys::vm::TrapCode as C;
    Some(match code {
        C::StackOverflow => K::StackExhausted,
        C::HeapAccessOutOfBounds | C::HeapMisaligned | C::TableAccessOutOfBounds => K::OutOfBounds,
        C::IndirectCallToNull | C::BadSignature => K::IndirectCall,
        C::IntegerOverflow | C::BadConversionToInteger => K::IntegerOverflow,
        C::IntegerDivisionByZero => K::IntegerDivideByZero,
        C::UnreachableCodeReached => K::Unreachable,
        C::UnalignedAtomic | C::UncaughtException | C::UninitializedExnRef | C::YieldOutsideAsyncContext | C::HostInterrupt | C::ReadonlyTableModified => return None,
    })
}

impl super::session::Store for Store {
    type Module = Module;
    type Instance = Instance;
    type Extern = Extern;
    type Memory = Memory;

    fn validate(&mut self, wasm: &[u8]) -> bool {
        Module::validate(self, wasm).is_ok()
    }

    fn compile(&mut self, wasm: &[u8]) -> Result<Module> {
        Module::new(self, wasm).map_err(Fault::error)
    }

    fn imports(&self, module: &Module) -> Vec<(String, String)> {
        module.imports().map(|i| (i.module().to_string(), i.name().to_string())).collect()
    }

    fn instantiate(&mut self, module: &Module, items: &[(&str, &str, Extern)]) -> Result<Instance> {
        let mut imports = Imports::new();
        for (m, n, e) in items {
            imports.define(m, n, e.clone());
        }
        Instance::new(self, module, &imports).map_err(|e| match e {
            InstantiationError::Start(e) | InstantiationError::Link(LinkError::Trap(e)) => runtime_fault(&e),
            e @ InstantiationError::Link(_) => Fault::Link { message: e.to_string() },
            e => Fault::error(e),
        })
    }

    fn exports(&mut self, instance: &Instance) -> Vec<(String, Extern)> {
        instance.exports.iter().map(|(n, e)| (n.clone(), e.clone())).collect()
    }

    fn call(&mut self, instance: &Instance, name: &str, args: &[Val]) -> Result<Vec<Val>> {
        let func = instance.exports.get_function(name).map_err(|_| Fault::Missing)?.clone();
        let params = args.iter().map(|a| from_val(self, a)).collect::<Result<Vec<_>>>()?;
        let results = func.call(self, &params).map_err(|e| runtime_fault(&e))?;
        let values = results.iter().map(|v| to_val(self, v)).collect::<Option<Vec<_>>>();
        values.ok_or_else(Fault::unshowable)
    }

    fn global(&mut self, instance: &Instance, name: &str) -> Result<Val> {
        let g = instance.exports.get_global(name).map_err(|_| Fault::Missing)?;
        let v = g.get(self);
        to_val(self, &v).ok_or_else(Fault::unshowable)
    }

    fn exported_memory(&mut self, instance: &Instance, name: &str) -> Option<Memory> {
        instance.exports.get_memory(name).ok().cloned()
    }

    fn new_memory(&mut self, spec: &MemorySpec) -> Result<Memory> {
        if spec.address == AddressType::I64 {
            return Err(Fault::Unsupported("wasmer's MemoryType has no 64-bit (i64 address) memories".into()));
        }
        let pages = |n: u64| u32::try_from(n).map(Pages);
        let (Ok(min), Ok(max)) = (pages(spec.initial), spec.maximum.map(pages).transpose()) else {
            return Err(Fault::Unsupported("wasmer's Pages is a u32: the limits do not fit".into()));
        };
        Memory::new(self, MemoryType::new(min, max, spec.shared)).map_err(Fault::error)
    }

    fn memory_extern(&mut self, memory: &Memory) -> Extern {
        memory.clone().into()
    }

    fn grow(&mut self, memory: &Memory, delta: u64) -> Result<u64> {
        let delta = u32::try_from(delta)
            .map_err(|_| Fault::Unsupported(format!("wasmer's grow takes a u32 page count; {delta} does not fit")))?;
        memory.grow(self, Pages(delta)).map(|prev| prev.0 as u64).map_err(Fault::error)
    }

    fn size(&mut self, memory: &Memory) -> u64 {
        memory.view(self).size().0 as u64
    }

    fn read(&mut self, memory: &Memory, offset: u64, len: u64) -> Result<Vec<u8>> {
        let mut buf = vec![0u8; len as usize];
        memory.view(self).read(offset, &mut buf).map_err(Fault::error)?;
        Ok(buf)
    }

    fn write(&mut self, memory: &Memory, offset: u64, bytes: &[u8]) -> Result<()> {
        memory.view(self).write(offset, bytes).map_err(Fault::error)
    }

    fn host_func(&mut self, params: &[ValType]) -> Result<Extern> {
        let ty = FunctionType::new(params.iter().map(|t| val_type(*t)).collect::<Vec<_>>(), vec![]);
        Ok(Function::new(self, ty, |_| Ok(vec![])).into())
    }

    fn host_global(&mut self, value: Val) -> Result<Extern> {
        let v = from_val(self, &value)?;
        Ok(Global::new(self, v).into())
    }

    fn host_table(&mut self, min: u64, max: u64, address: AddressType) -> Result<Extern> {
        if address == AddressType::I64 {
            return Err(Fault::Unsupported("a 64-bit table (wasmer has no memory64)".into()));
        }
        let ty = TableType::new(Type::FuncRef, min as u32, Some(max as u32));
        Ok(Table::new(self, ty, Value::FuncRef(None)).map_err(Fault::error)?.into())
    }

    fn stub_func(&mut self, params: &[ValType], results: &[ValType], message: &str) -> Result<Extern> {
        let ty = FunctionType::new(params.iter().map(|t| val_type(*t)).collect::<Vec<_>>(), results.iter().map(|t| val_type(*t)).collect::<Vec<_>>());
        let message = message.to_string();
        Ok(Function::new(self, ty, move |_| Err(wasmer::RuntimeError::new(message.clone()))).into())
    }

    fn stub_global(&mut self, ty: ValType, mutable: bool) -> Result<Extern> {
        let v = from_val(self, &Val::zero(ty))?;
        Ok(if mutable { Global::new_mut(self, v) } else { Global::new(self, v) }.into())
    }

    fn stub_table(&mut self, element: ValType, min: u64, max: Option<u64>) -> Result<Extern> {
        let (t, init) = match element {
            ValType::ExternRef => (Type::ExternRef, Value::ExternRef(None)),
            _ => (Type::FuncRef, Value::FuncRef(None)),
        };
        let min = u32::try_from(min).map_err(|_| Fault::Unsupported("a stub table above 2^32 entries".into()))?;
        let ty = TableType::new(t, min, max.map(|m| m.min(u32::MAX as u64) as u32));
        Ok(Table::new(self, ty, init).map_err(Fault::error)?.into())
    }
}
