//! tinywasm (interpreter), with its default configuration. It has no
//! proposal switches: what it parses it parses always.

use super::session::{Backend, Fault, MemorySpec, Result};
use crate::case::{AddressType, Feature, Host, RefType, Val, ValType};
use tinywasm::types::{ExternRef, FuncRef, FuncType, GlobalType, MemoryArch, MemoryType, TableType, WasmType, WasmValue};
use tinywasm::{Error, Extern, ExternItem, Global, Imports, Memory, Module, ModuleInstance, Table};

pub struct Tinywasm;

impl Backend for Tinywasm {
    type Engine = ();
    type Store = tinywasm::Store;

    fn engine(&self, _: &[(Feature, bool)], host: &Host) -> Result<()> {
        match host.max_memory_bytes {
            Some(_) => Err(Fault::Unsupported("tinywasm has no host memory cap (no resource limiter)".into())),
            None => Ok(()),
        }
    }

    fn store(&self, _: &(), _: &Host) -> tinywasm::Store {
        tinywasm::Store::default()
    }
}

fn fault(e: Error) -> Fault {
    match e {
        Error::Trap(t) => Fault::Trap { kind: trap_kind(&t), message: t.to_string() },
        Error::Linker(e) => Fault::Link { message: e.to_string() },
        e => Fault::error(e),
    }
}

/// tinywasm's traps. Its `Trap` is `#[non_exhaustive]`, so a trap added
/// upstream lands in the last arm: it is then read from its text.
fn trap_kind(t: &tinywasm::Trap) -> Option<crate::case::TrapKind> {
    use crate::case::TrapKind as K;
    use tinywasm::Trap as T;
    Some(match t {
        T::Unreachable => K::Unreachable,
        T::MemoryOutOfBounds { .. } | T::TableOutOfBounds { .. } | T::UndefinedElement { .. } => K::OutOfBounds,
        T::DivisionByZero => K::IntegerDivideByZero,
        T::InvalidConversionToInt | T::IntegerOverflow => K::IntegerOverflow,
        T::CallStackOverflow | T::ValueStackOverflow => K::StackExhausted,
        T::UninitializedElement { .. } | T::IndirectCallTypeMismatch { .. } => K::IndirectCall,
        T::HostFunction(_) | T::InvalidStore | T::OutOfMemory | T::Other(_) => return None,
        _ => return None,
    })
}

fn to_val(v: &WasmValue) -> Val {
    match *v {
        WasmValue::I32(x) => Val::I32(x),
        WasmValue::I64(x) => Val::I64(x),
        WasmValue::F32(x) => Val::F32(x.to_bits()),
        WasmValue::F64(x) => Val::F64(x.to_bits()),
        WasmValue::V128(x) => Val::V128(u128::from_le_bytes(x)),
        WasmValue::RefFunc(r) if r.is_null() => Val::RefNull(RefType::Func),
        WasmValue::RefFunc(_) => Val::RefFunc,
        WasmValue::RefExtern(r) => match r.addr() {
            None => Val::RefNull(RefType::Extern),
            Some(n) => Val::RefExtern(n),
        },
    }
}

fn from_val(v: &Val) -> Result<WasmValue> {
    Ok(match *v {
        Val::I32(x) => WasmValue::I32(x),
        Val::I64(x) => WasmValue::I64(x),
        Val::F32(x) => WasmValue::F32(f32::from_bits(x)),
        Val::F64(x) => WasmValue::F64(f64::from_bits(x)),
        Val::V128(x) => WasmValue::V128(x.to_le_bytes()),
        Val::RefNull(RefType::Func) => WasmValue::RefFunc(FuncRef::null()),
        Val::RefNull(RefType::Extern) => WasmValue::RefExtern(ExternRef::null()),
        Val::RefExtern(n) => WasmValue::RefExtern(ExternRef::new(Some(n))),
        Val::RefFunc => return Err(Fault::Unsupported("a function reference cannot be passed in".into())),
        Val::RefNull(t) => return Err(Fault::Unsupported(format!("tinywasm has no {t:?} references (GC / exception handling)"))),
    })
}

fn val_type(t: ValType) -> WasmType {
    match t {
        ValType::I32 => WasmType::I32,
        ValType::I64 => WasmType::I64,
        ValType::F32 => WasmType::F32,
        ValType::F64 => WasmType::F64,
        ValType::V128 => WasmType::V128,
        ValType::FuncRef | ValType::AnyRef | ValType::OtherRef => WasmType::RefFunc,
        ValType::ExternRef => WasmType::RefExtern,
    }
}

impl super::session::Store for tinywasm::Store {
    type Module = Module;
    type Instance = ModuleInstance;
    type Extern = Extern;
    type Memory = Memory;

    fn validate(&mut self, wasm: &[u8]) -> bool {
        tinywasm::parse_bytes(wasm).is_ok()
    }

    fn compile(&mut self, wasm: &[u8]) -> Result<Module> {
        tinywasm::parse_bytes(wasm).map_err(Fault::error)
    }

    fn imports(&self, module: &Module) -> Vec<(String, String)> {
        module.imports.iter().map(|i| (i.module.to_string(), i.name.to_string())).collect()
    }

    fn instantiate(&mut self, module: &Module, items: &[(&str, &str, Extern)]) -> Result<ModuleInstance> {
        let mut imports = Imports::new();
        for (m, n, e) in items {
            imports.define(m, n, e.clone());
        }
        ModuleInstance::instantiate(self, module, Some(imports)).map_err(fault)
    }

    fn exports(&mut self, instance: &ModuleInstance) -> Vec<(String, Extern)> {
        let extern_of = |item: ExternItem| match item {
            ExternItem::Func(f) => Extern::Function(f),
            ExternItem::Memory(m) => Extern::Memory(m),
            ExternItem::Table(t) => Extern::Table(t),
            ExternItem::Global(g) => Extern::Global(g),
        };
        instance.exports().map(|(n, item)| (n.to_string(), extern_of(item))).collect()
    }

    fn call(&mut self, instance: &ModuleInstance, name: &str, args: &[Val]) -> Result<Vec<Val>> {
        let func = match instance.extern_item(name) {
            Ok(ExternItem::Func(f)) => f,
            _ => return Err(Fault::Missing),
        };
        let params = args.iter().map(from_val).collect::<Result<Vec<_>>>()?;
        let results = func.call(self, &params).map_err(fault)?;
        Ok(results.iter().map(to_val).collect())
    }

    fn global(&mut self, instance: &ModuleInstance, name: &str) -> Result<Val> {
        match instance.extern_item(name) {
            Ok(ExternItem::Global(g)) => g.get(self).map(|v| to_val(&v)).map_err(fault),
            _ => Err(Fault::Missing),
        }
    }

    fn exported_memory(&mut self, instance: &ModuleInstance, name: &str) -> Option<Memory> {
        match instance.extern_item(name) {
            Ok(ExternItem::Memory(m)) => Some(m),
            _ => None,
        }
    }

    fn new_memory(&mut self, spec: &MemorySpec) -> Result<Memory> {
        if spec.shared {
            return Err(Fault::Unsupported("tinywasm has no shared memories (no threads support)".into()));
        }
        let arch = if spec.address == AddressType::I64 { MemoryArch::I64 } else { MemoryArch::I32 };
        Memory::new(self, MemoryType::new(arch, spec.initial, spec.maximum, None)).map_err(fault)
    }

    fn memory_extern(&mut self, memory: &Memory) -> Extern {
        Extern::Memory(*memory)
    }

    fn grow(&mut self, memory: &Memory, delta: u64) -> Result<u64> {
        let delta = i64::try_from(delta).map_err(Fault::error)?;
        match memory.grow(self, delta).map_err(fault)? {
            Some(prev) => Ok(prev as u64),
            None => Err(Fault::error("tinywasm: Memory::grow returned None (it gives no error text)")),
        }
    }

    fn size(&mut self, memory: &Memory) -> u64 {
        memory.page_count(self).unwrap_or_default() as u64
    }

    fn read(&mut self, memory: &Memory, offset: u64, len: u64) -> Result<Vec<u8>> {
        let offset = usize::try_from(offset).map_err(Fault::error)?;
        memory.read_vec(self, offset, len as usize).map_err(Fault::error)
    }

    fn write(&mut self, memory: &Memory, offset: u64, bytes: &[u8]) -> Result<()> {
        let offset = usize::try_from(offset).map_err(Fault::error)?;
        memory.copy_from_slice(self, offset, bytes).map_err(Fault::error)
    }

    fn host_func(&mut self, params: &[ValType]) -> Result<Extern> {
        let params: Vec<WasmType> = params.iter().map(|t| val_type(*t)).collect();
        let ty = FuncType::new(&params, &[]);
        Ok(Extern::Function(tinywasm::HostFunction::from_untyped(self, &ty, |_, _| Ok(vec![]))))
    }

    fn host_global(&mut self, value: Val) -> Result<Extern> {
        let v = from_val(&value)?;
        let ty = GlobalType::new(WasmType::from(v), false);
        Ok(Extern::Global(Global::new(self, ty, v).map_err(fault)?))
    }

    fn host_table(&mut self, min: u64, max: u64, address: AddressType) -> Result<Extern> {
        let ty = match address {
            AddressType::I32 => TableType::new(WasmType::RefFunc, min, Some(max)),
            AddressType::I64 => TableType::new64(WasmType::RefFunc, min, Some(max)),
        };
        Ok(Extern::Table(Table::new(self, ty, WasmValue::RefFunc(FuncRef::null())).map_err(fault)?))
    }

    fn stub_func(&mut self, params: &[ValType], results: &[ValType], message: &str) -> Result<Extern> {
        let params: Vec<WasmType> = params.iter().map(|t| val_type(*t)).collect();
        let results: Vec<WasmType> = results.iter().map(|t| val_type(*t)).collect();
        let ty = FuncType::new(&params, &results);
        let message = message.to_string();
        Ok(Extern::Function(tinywasm::HostFunction::from_untyped(self, &ty, move |_, _| Err(Error::Other(message.clone())))))
    }

    fn stub_global(&mut self, ty: ValType, mutable: bool) -> Result<Extern> {
        let v = from_val(&Val::zero(ty))?;
        Ok(Extern::Global(Global::new(self, GlobalType::new(val_type(ty), mutable), v).map_err(fault)?))
    }

    fn stub_table(&mut self, element: ValType, min: u64, max: Option<u64>) -> Result<Extern> {
        let (t, init) = match element {
            ValType::ExternRef => (WasmType::RefExtern, WasmValue::RefExtern(ExternRef::null())),
            _ => (WasmType::RefFunc, WasmValue::RefFunc(FuncRef::null())),
        };
        Ok(Extern::Table(Table::new(self, TableType::new(t, min, max), init).map_err(fault)?))
    }
}
