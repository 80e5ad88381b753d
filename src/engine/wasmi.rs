//! wasmi (interpreter).

use super::session::{Backend, Fault, MemorySpec, Result};
use crate::case::{AddressType, Feature, Host, RefType, Val, ValType};
use wasmi::{
    Config, Extern, ExternRef, Func, FuncType, Global, Instance, Linker, Memory, MemoryType, Module, Mutability, Nullable,
    Ref, Store, StoreLimits, StoreLimitsBuilder, Table, TableType, F32, F64,
};

/// wasmi with its default configuration.
pub struct Wasmi;

impl Backend for Wasmi {
    type Engine = wasmi::Engine;
    type Store = WasmiStore;

    fn engine(&self, switches: &[(Feature, bool)], _: &Host) -> Result<wasmi::Engine> {
        let mut config = Config::default();
        for &(f, enable) in switches {
            match f {
                Feature::Memory64 => config.wasm_memory64(enable),
                Feature::MultiMemory => config.wasm_multi_memory(enable),
                Feature::CustomPageSizes => config.wasm_custom_page_sizes(enable),
                // wasmi has no threads support and so no switch for it.
                Feature::Threads => &mut config,
            };
        }
        Ok(wasmi::Engine::new(&config))
    }

    fn store(&self, engine: &wasmi::Engine, host: &Host) -> WasmiStore {
        let mut limits = StoreLimitsBuilder::new();
        if let Some(max) = host.max_memory_bytes {
            limits = limits.memory_size(usize::try_from(max).unwrap_or(usize::MAX));
        }
        let mut store = Store::new(engine, limits.build());
        store.limiter(|l| l);
        WasmiStore { engine: engine.clone(), store }
    }
}

pub struct WasmiStore {
    engine: wasmi::Engine,
    store: Store<StoreLimits>,
}

fn fault(e: wasmi::Error) -> Fault {
    match e.as_trap_code() {
        Some(code) => Fault::Trap { kind: trap_kind(code), message: e.to_string() },
        None => Fault::error(e),
    }
}

/// wasmi's trap codes, every one: a code added upstream fails to compile here.
fn trap_kind(code: wasmi::TrapCode) -> Option<crate::case::TrapKind> {
    use crate::case::TrapKind as K;
    use wasmi::TrapCode as C;
    Some(match code {
        C::UnreachableCodeReached => K::Unreachable,
        C::MemoryOutOfBounds | C::TableOutOfBounds => K::OutOfBounds,
        C::IndirectCallToNull | C::BadSignature => K::IndirectCall,
        C::IntegerDivisionByZero => K::IntegerDivideByZero,
        C::IntegerOverflow | C::BadConversionToInteger => K::IntegerOverflow,
        C::StackOverflow => K::StackExhausted,
        C::GrowthOperationLimited => K::GrowLimited,
        C::OutOfFuel | C::OutOfSystemMemory => return None,
    })
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

fn from_val(store: &mut Store<StoreLimits>, v: &Val) -> Result<wasmi::Val> {
    Ok(match *v {
        Val::I32(x) => wasmi::Val::I32(x),
        Val::I64(x) => wasmi::Val::I64(x),
        Val::F32(x) => wasmi::Val::F32(F32::from_bits(x)),
        Val::F64(x) => wasmi::Val::F64(F64::from_bits(x)),
        Val::V128(x) => wasmi::Val::V128(x.into()),
        Val::RefNull(RefType::Func) => wasmi::Val::FuncRef(Nullable::Null),
        Val::RefNull(RefType::Extern) => wasmi::Val::ExternRef(Nullable::Null),
        Val::RefExtern(n) => wasmi::Val::ExternRef(Nullable::Val(ExternRef::new(store, n))),
        Val::RefFunc => return Err(Fault::Unsupported("a function reference cannot be passed in".into())),
        Val::RefNull(t) => return Err(Fault::Unsupported(format!("wasmi has no {t:?} references (GC / exception handling)"))),
    })
}

fn val_type(t: ValType) -> wasmi::ValType {
    match t {
        ValType::I32 => wasmi::ValType::I32,
        ValType::I64 => wasmi::ValType::I64,
        ValType::F32 => wasmi::ValType::F32,
        ValType::F64 => wasmi::ValType::F64,
        ValType::V128 => wasmi::ValType::V128,
        ValType::FuncRef | ValType::AnyRef | ValType::OtherRef => wasmi::ValType::FuncRef,
        ValType::ExternRef => wasmi::ValType::ExternRef,
    }
}

impl super::session::Store for WasmiStore {
    type Module = Module;
    type Instance = Instance;
    type Extern = Extern;
    type Memory = Memory;

    fn validate(&mut self, wasm: &[u8]) -> bool {
        Module::validate(&self.engine, wasm).is_ok()
    }

    fn compile(&mut self, wasm: &[u8]) -> Result<Module> {
        Module::new(&self.engine, wasm).map_err(Fault::error)
    }

    fn imports(&self, module: &Module) -> Vec<(String, String)> {
        module.imports().map(|i| (i.module().to_string(), i.name().to_string())).collect()
    }

    fn instantiate(&mut self, module: &Module, imports: &[(&str, &str, Extern)]) -> Result<Instance> {
        let mut linker: Linker<StoreLimits> = Linker::new(&self.engine);
        linker.allow_shadowing(true);
        for (m, n, e) in imports {
            linker.define(m, n, *e).map_err(Fault::error)?;
        }
        linker.instantiate_and_start(&mut self.store, module).map_err(fault)
    }

    fn exports(&mut self, instance: &Instance) -> Vec<(String, Extern)> {
        instance.exports(&self.store).map(|e| (e.name().to_string(), e.into_extern())).collect()
    }

    fn call(&mut self, instance: &Instance, name: &str, args: &[Val]) -> Result<Vec<Val>> {
        let func = instance.get_func(&self.store, name).ok_or(Fault::Missing)?;
        let params = args.iter().map(|a| from_val(&mut self.store, a)).collect::<Result<Vec<_>>>()?;
        let mut results = vec![wasmi::Val::I32(0); func.ty(&self.store).results().len()];
        func.call(&mut self.store, &params, &mut results).map_err(fault)?;
        let values = results.iter().map(|v| to_val(&self.store, v)).collect::<Option<Vec<_>>>();
        values.ok_or_else(Fault::unshowable)
    }

    fn global(&mut self, instance: &Instance, name: &str) -> Result<Val> {
        let g = instance.get_global(&self.store, name).ok_or(Fault::Missing)?;
        to_val(&self.store, &g.get(&self.store)).ok_or_else(Fault::unshowable)
    }

    fn exported_memory(&mut self, instance: &Instance, name: &str) -> Option<Memory> {
        instance.get_memory(&self.store, name)
    }

    fn new_memory(&mut self, spec: &MemorySpec) -> Result<Memory> {
        if spec.shared {
            return Err(Fault::Unsupported("wasmi has no shared memories (no threads support)".into()));
        }
        let mut b = MemoryType::builder();
        b.min(spec.initial).max(spec.maximum).memory64(spec.address == AddressType::I64);
        let ty = b.build().map_err(Fault::error)?;
        Memory::new(&mut self.store, ty).map_err(Fault::error)
    }

    fn memory_extern(&mut self, memory: &Memory) -> Extern {
        (*memory).into()
    }

    fn grow(&mut self, memory: &Memory, delta: u64) -> Result<u64> {
        memory.grow(&mut self.store, delta).map_err(Fault::error)
    }

    fn size(&mut self, memory: &Memory) -> u64 {
        memory.size(&self.store)
    }

    fn read(&mut self, memory: &Memory, offset: u64, len: u64) -> Result<Vec<u8>> {
        let mut buf = vec![0u8; len as usize];
        let offset = usize::try_from(offset).map_err(Fault::error)?;
        memory.read(&self.store, offset, &mut buf).map_err(Fault::error)?;
        Ok(buf)
    }

    fn write(&mut self, memory: &Memory, offset: u64, bytes: &[u8]) -> Result<()> {
        let offset = usize::try_from(offset).map_err(Fault::error)?;
        memory.write(&mut self.store, offset, bytes).map_err(Fault::error)
    }

    fn host_func(&mut self, params: &[ValType]) -> Result<Extern> {
        let ty = FuncType::new(params.iter().map(|t| val_type(*t)), []);
        Ok(Func::new(&mut self.store, ty, |_, _, _| Ok(())).into())
    }

    fn host_global(&mut self, value: Val) -> Result<Extern> {
        let v = from_val(&mut self.store, &value)?;
        Ok(Global::new(&mut self.store, v, Mutability::Const).into())
    }

    fn host_table(&mut self, min: u64, max: u64, address: AddressType) -> Result<Extern> {
        let ty = match address {
            AddressType::I32 => TableType::new(wasmi::RefType::Func, min as u32, Some(max as u32)),
            AddressType::I64 => TableType::new64(wasmi::RefType::Func, min, Some(max)),
        };
        Ok(Table::new(&mut self.store, ty, Ref::Func(Nullable::Null)).map_err(Fault::error)?.into())
    }

    fn stub_func(&mut self, params: &[ValType], results: &[ValType], message: &str) -> Result<Extern> {
        let ty = FuncType::new(params.iter().map(|t| val_type(*t)), results.iter().map(|t| val_type(*t)));
        let message = message.to_string();
        Ok(Func::new(&mut self.store, ty, move |_, _, _| Err(wasmi::Error::new(message.clone()))).into())
    }

    fn stub_global(&mut self, ty: ValType, mutable: bool) -> Result<Extern> {
        let v = from_val(&mut self.store, &Val::zero(ty))?;
        Ok(Global::new(&mut self.store, v, if mutable { Mutability::Var } else { Mutability::Const }).into())
    }

    fn stub_table(&mut self, element: ValType, min: u64, max: Option<u64>) -> Result<Extern> {
        let (rt, init) = match element {
            ValType::ExternRef => (wasmi::RefType::Extern, Ref::Extern(Nullable::Null)),
            _ => (wasmi::RefType::Func, Ref::Func(Nullable::Null)),
        };
        let min = u32::try_from(min).map_err(|_| Fault::Unsupported("a stub table above 2^32 entries".into()))?;
        let ty = TableType::new(rt, min, max.map(|m| m.min(u32::MAX as u64) as u32));
        Ok(Table::new(&mut self.store, ty, init).map_err(Fault::error)?.into())
    }
}
