//! wasmtime, in the configurations embedders run it with: one backend, the
//! configuration is its argument ([`Flavor`]).

use super::session::{range, type_of, Backend, Fault, MemorySpec, Result};
use crate::case::{AddressType, Feature, Host, RefType, Val, ValType};
use wasmtime::{
    Config, Extern, ExternRef, Global, GlobalType, Instance, Linker, Memory, MemoryTypeBuilder, Module, Mutability, Ref,
    SharedMemory, Store, StoreLimits, StoreLimitsBuilder, Strategy, Table, TableType, Trap,
};

/// A wasmtime configuration (one column each).
#[derive(Debug, Clone, Copy)]
pub enum Flavor {
    /// Cranelift, the defaults.
    Cranelift,
    /// The Winch baseline compiler.
    Winch,
    /// The Pulley interpreter.
    Pulley,
    /// Explicit bounds checks instead of guard pages and signal handlers.
    NoSignals,
    /// A 64 MiB reservation without guard pages; memories may move (small devices).
    SmallReservation,
}

impl Flavor {
    fn configure(self, config: &mut Config) -> Result<()> {
        match self {
            Flavor::Cranelift => config.strategy(Strategy::Cranelift),
            Flavor::Winch => config.strategy(Strategy::Winch),
            Flavor::Pulley => config.target("pulley64").map_err(fault)?,
            Flavor::NoSignals => config.signals_based_traps(false),
            Flavor::SmallReservation => config.memory_reservation(64 << 20).memory_guard_size(0).memory_may_move(true),
        };
        Ok(())
    }
}

impl Backend for Flavor {
    type Engine = wasmtime::Engine;
    type Store = WasmtimeStore;

    fn engine(&self, switches: &[(Feature, bool)], _: &Host) -> Result<wasmtime::Engine> {
        let mut config = Config::new();
        self.configure(&mut config)?;
        for &(f, enable) in switches {
            match f {
                Feature::Memory64 => config.wasm_memory64(enable),
                Feature::Threads => config.wasm_threads(enable).shared_memory(enable),
                Feature::MultiMemory => config.wasm_multi_memory(enable),
                Feature::CustomPageSizes => config.wasm_custom_page_sizes(enable),
            };
        }
        wasmtime::Engine::new(&config).map_err(fault)
    }

    fn store(&self, engine: &wasmtime::Engine, host: &Host) -> WasmtimeStore {
        let mut limits = StoreLimitsBuilder::new();
        if let Some(max) = host.max_memory_bytes {
            limits = limits.memory_size(usize::try_from(max).unwrap_or(usize::MAX));
        }
        let mut store = Store::new(engine, limits.build());
        store.limiter(|l| l);
        WasmtimeStore { engine: engine.clone(), store }
    }
}

pub struct WasmtimeStore {
    engine: wasmtime::Engine,
    store: Store<StoreLimits>,
}

#[derive(Clone)]
pub enum Mem {
    Plain(Memory),
    Shared(SharedMemory),
}

/// wasmtime's full error text: the message and its causes, as `{:?}` prints it.
fn fault(e: wasmtime::Error) -> Fault {
    match e.downcast_ref::<Trap>() {
        Some(trap) => Fault::Trap { kind: trap_kind(*trap), message: format!("{e:?}") },
        None => Fault::Error { message: format!("{e:?}") },
    }
}

/// wasmtime's trap codes. Its `Trap` is `#[non_exhaustive]`, so a code added
/// upstream lands in the last arm: it is then read from its text.
fn trap_kind(trap: Trap) -> Option<crate::case::TrapKind> {
    use crate::case::TrapKind;
    Some(match trap {
        Trap::StackOverflow => TrapKind::StackExhausted,
        Trap::MemoryOutOfBounds | Trap::HeapMisaligned | Trap::TableOutOfBounds | Trap::ArrayOutOfBounds => TrapKind::OutOfBounds,
        Trap::IndirectCallToNull | Trap::BadSignature => TrapKind::IndirectCall,
        Trap::IntegerOverflow | Trap::BadConversionToInteger => TrapKind::IntegerOverflow,
        Trap::IntegerDivisionByZero => TrapKind::IntegerDivideByZero,
        Trap::UnreachableCodeReached => TrapKind::Unreachable,
        _ => return None,
    })
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

fn from_val(store: &mut Store<StoreLimits>, v: &Val) -> Result<wasmtime::Val> {
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
        Val::RefExtern(n) => wasmtime::Val::ExternRef(Some(ExternRef::new(store, n).map_err(fault)?)),
        Val::RefFunc => return Err(Fault::Unsupported("a function reference cannot be passed in".into())),
    })
}

fn val_type(t: ValType) -> wasmtime::ValType {
    match t {
        ValType::I32 => wasmtime::ValType::I32,
        ValType::I64 => wasmtime::ValType::I64,
        ValType::F32 => wasmtime::ValType::F32,
        ValType::F64 => wasmtime::ValType::F64,
        ValType::V128 => wasmtime::ValType::V128,
        ValType::FuncRef => wasmtime::ValType::FUNCREF,
        ValType::ExternRef => wasmtime::ValType::EXTERNREF,
        ValType::AnyRef | ValType::OtherRef => wasmtime::ValType::ANYREF,
    }
}

impl super::session::Store for WasmtimeStore {
    type Module = Module;
    type Instance = Instance;
    type Extern = Extern;
    type Memory = Mem;

    fn validate(&mut self, wasm: &[u8]) -> bool {
        Module::validate(&self.engine, wasm).is_ok()
    }

    fn compile(&mut self, wasm: &[u8]) -> Result<Module> {
        Module::new(&self.engine, wasm).map_err(|e| Fault::error(format!("{e:?}")))
    }

    fn imports(&self, module: &Module) -> Vec<(String, String)> {
        module.imports().map(|i| (i.module().to_string(), i.name().to_string())).collect()
    }

    fn instantiate(&mut self, module: &Module, imports: &[(&str, &str, Extern)]) -> Result<Instance> {
        let mut linker: Linker<StoreLimits> = Linker::new(&self.engine);
        linker.allow_shadowing(true);
        for (m, n, e) in imports {
            linker.define(&self.store, m, n, e.clone()).map_err(fault)?;
        }
        linker.instantiate(&mut self.store, module).map_err(fault)
    }

    fn exports(&mut self, instance: &Instance) -> Vec<(String, Extern)> {
        let names: Vec<String> = instance.exports(&mut self.store).map(|e| e.name().to_string()).collect();
        names.into_iter().filter_map(|n| Some((n.clone(), instance.get_export(&mut self.store, &n)?))).collect()
    }

    fn call(&mut self, instance: &Instance, name: &str, args: &[Val]) -> Result<Vec<Val>> {
        let func = instance.get_func(&mut self.store, name).ok_or(Fault::Missing)?;
        let params = args.iter().map(|a| from_val(&mut self.store, a)).collect::<Result<Vec<_>>>()?;
        let mut results = vec![wasmtime::Val::I32(0); func.ty(&self.store).results().len()];
        func.call(&mut self.store, &params, &mut results).map_err(fault)?;
        let values = results.iter().map(|v| to_val(&self.store, v)).collect::<Option<Vec<_>>>();
        values.ok_or_else(Fault::unshowable)
    }

    fn global(&mut self, instance: &Instance, name: &str) -> Result<Val> {
        let g = instance.get_global(&mut self.store, name).ok_or(Fault::Missing)?;
        let v = g.get(&mut self.store);
        to_val(&self.store, &v).ok_or_else(Fault::unshowable)
    }

    fn exported_memory(&mut self, instance: &Instance, name: &str) -> Option<Mem> {
        match instance.get_export(&mut self.store, name)? {
            Extern::Memory(m) => Some(Mem::Plain(m)),
            Extern::SharedMemory(m) => Some(Mem::Shared(m)),
            _ => None,
        }
    }

    fn new_memory(&mut self, spec: &MemorySpec) -> Result<Mem> {
        let ty = MemoryTypeBuilder::new()
            .min(spec.initial)
            .max(spec.maximum)
            .memory64(spec.address == AddressType::I64)
            .shared(spec.shared)
            .build()
            .map_err(fault)?;
        if spec.shared {
            SharedMemory::new(&self.engine, ty).map(Mem::Shared).map_err(fault)
        } else {
            Memory::new(&mut self.store, ty).map(Mem::Plain).map_err(fault)
        }
    }

    fn memory_extern(&mut self, memory: &Mem) -> Extern {
        match memory {
            Mem::Plain(m) => (*m).into(),
            Mem::Shared(m) => m.clone().into(),
        }
    }

    fn grow(&mut self, memory: &Mem, delta: u64) -> Result<u64> {
        match memory {
            Mem::Plain(m) => m.grow(&mut self.store, delta),
            Mem::Shared(m) => m.grow(delta),
        }
        .map_err(fault)
    }

    fn size(&mut self, memory: &Mem) -> u64 {
        match memory {
            Mem::Plain(m) => m.size(&self.store),
            Mem::Shared(m) => m.size(),
        }
    }

    fn read(&mut self, memory: &Mem, offset: u64, len: u64) -> Result<Vec<u8>> {
        let mut buf = vec![0u8; len as usize];
        match memory {
            Mem::Plain(m) => m.read(&self.store, offset as usize, &mut buf).map_err(Fault::error)?,
            Mem::Shared(m) => {
                let data = m.data();
                let r = range(offset, len, data.len()).ok_or_else(|| Fault::error("out of bounds memory access"))?;
                for (dst, cell) in buf.iter_mut().zip(&data[r]) {
                    // SAFETY: no other thread touches this memory during a case.
                    *dst = unsafe { *cell.get() };
                }
            }
        }
        Ok(buf)
    }

    fn write(&mut self, memory: &Mem, offset: u64, bytes: &[u8]) -> Result<()> {
        match memory {
            Mem::Plain(m) => m.write(&mut self.store, offset as usize, bytes).map_err(Fault::error),
            Mem::Shared(m) => {
                let data = m.data();
                let r = range(offset, bytes.len() as u64, data.len()).ok_or_else(|| Fault::error("out of bounds memory access"))?;
                for (src, cell) in bytes.iter().zip(&data[r]) {
                    // SAFETY: no other thread touches this memory during a case.
                    unsafe { *cell.get() = *src };
                }
                Ok(())
            }
        }
    }

    fn host_func(&mut self, params: &[ValType]) -> Result<Extern> {
        let ty = wasmtime::FuncType::new(&self.engine, params.iter().map(|t| val_type(*t)), []);
        Ok(wasmtime::Func::new(&mut self.store, ty, |_, _, _| Ok(())).into())
    }

    fn host_global(&mut self, value: Val) -> Result<Extern> {
        let ty = GlobalType::new(val_type(type_of(value)), Mutability::Const);
        let v = from_val(&mut self.store, &value)?;
        Ok(Global::new(&mut self.store, ty, v).map_err(fault)?.into())
    }

    fn host_table(&mut self, min: u64, max: u64, address: AddressType) -> Result<Extern> {
        let ty = match address {
            AddressType::I32 => TableType::new(wasmtime::RefType::FUNCREF, min as u32, Some(max as u32)),
            AddressType::I64 => TableType::new64(wasmtime::RefType::FUNCREF, min, Some(max)),
        };
        Ok(Table::new(&mut self.store, ty, Ref::Func(None)).map_err(fault)?.into())
    }

    fn stub_func(&mut self, params: &[ValType], results: &[ValType], message: &str) -> Result<Extern> {
        let ty = wasmtime::FuncType::new(&self.engine, params.iter().map(|t| val_type(*t)), results.iter().map(|t| val_type(*t)));
        let message = message.to_string();
        Ok(wasmtime::Func::new(&mut self.store, ty, move |_, _, _| Err(wasmtime::Error::msg(message.clone()))).into())
    }

    fn stub_global(&mut self, ty: ValType, mutable: bool) -> Result<Extern> {
        let gt = GlobalType::new(val_type(ty), if mutable { Mutability::Var } else { Mutability::Const });
        let v = from_val(&mut self.store, &Val::zero(ty))?;
        Ok(Global::new(&mut self.store, gt, v).map_err(fault)?.into())
    }

    fn stub_table(&mut self, element: ValType, min: u64, max: Option<u64>) -> Result<Extern> {
        let (rt, init) = match element {
            ValType::ExternRef => (wasmtime::RefType::EXTERNREF, Ref::Extern(None)),
            _ => (wasmtime::RefType::FUNCREF, Ref::Func(None)),
        };
        let ty = TableType::new(rt, u32::try_from(min).map_err(|_| Fault::Unsupported("a stub table above 2^32 entries".into()))?, max.map(|m| m.min(u32::MAX as u64) as u32));
        Ok(Table::new(&mut self.store, ty, init).map_err(fault)?.into())
    }
}
