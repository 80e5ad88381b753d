//! The primitives an embedded engine's backend implements — what differs
//! between engines, and nothing else: [`Backend`] builds an engine for a
//! feature set, [`Store`] compiles, instantiates with imports, calls, reads
//! globals and does the memory operations, each failure as the engine's
//! own [`Fault`]. The session (`session.rs`) and the import makers
//! (`imports.rs`) are written once on them, and probe's measures on
//! [`AnyStore`], the same primitives with their types erased.

use crate::case::{AddressType, Feature, Host, TrapKind, Val, ValType};
use crate::outcome::{RawOutcome, Stage};

/// A failure as the engine reports it; the session adds the stage.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// wasm execution trapped; `kind`: the engine's own trap code, mapped
    /// by an exhaustive `match` in its backend (none where the engine gives
    /// text only: the text is then read).
    Trap { kind: Option<TrapKind>, message: String },
    /// The host API refused, with the engine's verbatim text.
    Error { message: String },
    /// Import resolution failed (for engines whose API tells it apart).
    Link { message: String },
    /// No export of that name and kind.
    Missing,
    /// The engine's API cannot express this.
    Unsupported(String),
}

impl Fault {
    pub fn error(e: impl std::fmt::Display) -> Fault {
        Fault::Error { message: e.to_string() }
    }

    /// A value the engine returned that the case format has no form for.
    pub fn unshowable() -> Fault {
        Fault::Unsupported("a result type the case format cannot show".into())
    }

    pub(super) fn outcome(self, stage: Stage, what: &str) -> RawOutcome {
        match self {
            Fault::Trap { kind, message } => RawOutcome::Trap { code: None, trap: kind, message },
            Fault::Error { message } => RawOutcome::Error { stage, code: None, message },
            Fault::Link { message } => RawOutcome::Error { stage: Stage::Link, code: None, message },
            Fault::Missing => RawOutcome::Error { stage: Stage::Call, code: None, message: format!("no exported {what}") },
            Fault::Unsupported(message) => RawOutcome::Unsupported { message },
        }
    }
}

pub type Result<T> = std::result::Result<T, Fault>;

/// A host memory's type (`new_memory`).
#[derive(Debug, Clone, Copy)]
pub struct MemorySpec {
    pub initial: u64,
    pub maximum: Option<u64>,
    pub shared: bool,
    pub address: AddressType,
}

/// An engine family with one configuration (a column): builds engines.
pub trait Backend: 'static {
    /// What is costly to build: kept per feature set and host cap.
    type Engine: Clone;
    type Store: Store + 'static;
    /// An engine with proposals switched on or off as given (the engine's
    /// defaults for the rest) and the host's cap, if the engine takes it
    /// here; `Fault::Unsupported` for what the engine has no way to express
    /// (every step of the case is then unsupported).
    fn engine(&self, switches: &[(Feature, bool)], host: &Host) -> Result<Self::Engine>;
    /// A fresh store for one case (the host cap, where it is per store).
    fn store(&self, engine: &Self::Engine, host: &Host) -> Self::Store;
}

/// One case's store: the primitives.
pub trait Store {
    type Module: Clone + 'static;
    type Instance: Clone + 'static;
    type Extern: Clone;
    type Memory: Clone + 'static;

    fn validate(&mut self, wasm: &[u8]) -> bool;
    fn compile(&mut self, wasm: &[u8]) -> Result<Self::Module>;
    /// The module's imports, in order, as (module, name).
    fn imports(&self, module: &Self::Module) -> Vec<(String, String)>;
    /// Instantiates with these imports (any the module does not name are
    /// ignored; a missing one is the engine's link error).
    fn instantiate(&mut self, module: &Self::Module, imports: &[(&str, &str, Self::Extern)]) -> Result<Self::Instance>;
    fn exports(&mut self, instance: &Self::Instance) -> Vec<(String, Self::Extern)>;
    fn call(&mut self, instance: &Self::Instance, name: &str, args: &[Val]) -> Result<Vec<Val>>;
    fn global(&mut self, instance: &Self::Instance, name: &str) -> Result<Val>;
    fn exported_memory(&mut self, instance: &Self::Instance, name: &str) -> Option<Self::Memory>;
    fn new_memory(&mut self, spec: &MemorySpec) -> Result<Self::Memory>;
    fn memory_extern(&mut self, memory: &Self::Memory) -> Self::Extern;
    /// Grows by `delta` pages; the previous size.
    fn grow(&mut self, memory: &Self::Memory, delta: u64) -> Result<u64>;
    fn size(&mut self, memory: &Self::Memory) -> u64;
    fn read(&mut self, memory: &Self::Memory, offset: u64, len: u64) -> Result<Vec<u8>>;
    fn write(&mut self, memory: &Self::Memory, offset: u64, bytes: &[u8]) -> Result<()>;
    /// A host function that takes `params` and does nothing (spectest's prints).
    fn host_func(&mut self, params: &[ValType]) -> Result<Self::Extern>;
    /// An immutable global.
    fn host_global(&mut self, value: Val) -> Result<Self::Extern>;
    /// A funcref table, 32- or 64-bit (`Fault::Unsupported` where the
    /// engine has no 64-bit tables).
    fn host_table(&mut self, min: u64, max: u64, address: AddressType) -> Result<Self::Extern>;
    /// A function of this type that traps with `message` when called (an
    /// import's stub).
    fn stub_func(&mut self, params: &[ValType], results: &[ValType], message: &str) -> Result<Self::Extern>;
    /// A global of type `ty` holding zero (null), mutable or not.
    fn stub_global(&mut self, ty: ValType, mutable: bool) -> Result<Self::Extern>;
    /// A null-filled table of `element` (funcref or externref).
    fn stub_table(&mut self, element: ValType, min: u64, max: Option<u64>) -> Result<Self::Extern>;
}

/// A store's module, instance or memory, its type erased.
pub struct Handle(Box<dyn std::any::Any>);

impl Handle {
    fn of<T: 'static>(t: T) -> Handle {
        Handle(Box::new(t))
    }

    fn get<T: 'static>(&self) -> &T {
        self.0.downcast_ref().expect("a handle is used only with the store that made it")
    }
}

/// The primitives probe's measures use, on any backend's store: written
/// once, a measure runs on whatever store a column's engine hands out.
pub trait AnyStore {
    fn compile(&mut self, wasm: &[u8]) -> Result<Handle>;
    /// Instantiates a module that imports nothing.
    fn instantiate(&mut self, module: &Handle) -> Result<Handle>;
    fn call(&mut self, instance: &Handle, name: &str, args: &[Val]) -> Result<Vec<Val>>;
    fn exported_memory(&mut self, instance: &Handle, name: &str) -> Option<Handle>;
    fn new_memory(&mut self, spec: &MemorySpec) -> Result<Handle>;
    /// Grows by `delta` pages; the previous size.
    fn grow(&mut self, memory: &Handle, delta: u64) -> Result<u64>;
    fn size(&mut self, memory: &Handle) -> u64;
}

impl<S: Store> AnyStore for S {
    fn compile(&mut self, wasm: &[u8]) -> Result<Handle> {
        Store::compile(self, wasm).map(Handle::of)
    }

    fn instantiate(&mut self, module: &Handle) -> Result<Handle> {
        Store::instantiate(self, module.get::<S::Module>(), &[]).map(Handle::of)
    }

    fn call(&mut self, instance: &Handle, name: &str, args: &[Val]) -> Result<Vec<Val>> {
        Store::call(self, instance.get::<S::Instance>(), name, args)
    }

    fn exported_memory(&mut self, instance: &Handle, name: &str) -> Option<Handle> {
        Store::exported_memory(self, instance.get::<S::Instance>(), name).map(Handle::of)
    }

    fn new_memory(&mut self, spec: &MemorySpec) -> Result<Handle> {
        Store::new_memory(self, spec).map(Handle::of)
    }

    fn grow(&mut self, memory: &Handle, delta: u64) -> Result<u64> {
        Store::grow(self, memory.get::<S::Memory>(), delta)
    }

    fn size(&mut self, memory: &Handle) -> u64 {
        Store::size(self, memory.get::<S::Memory>())
    }
}

/// A C string a C engine keeps a pointer to for as long as a module lives
/// (a stub's message, a signature; modules outlive cases in the worker's
/// cache): made once per text, never freed.
pub fn interned(s: &str) -> &'static std::ffi::CStr {
    use std::collections::HashMap;
    static ALL: std::sync::Mutex<Option<HashMap<String, &'static std::ffi::CStr>>> = std::sync::Mutex::new(None);
    let mut all = ALL.lock().unwrap_or_else(|p| p.into_inner());
    let map = all.get_or_insert_with(HashMap::new);
    if let Some(c) = map.get(s) {
        return c;
    }
    let c: &'static std::ffi::CStr = Box::leak(cstring(s).into_boxed_c_str());
    map.insert(s.to_string(), c);
    c
}

/// `s` for a C API (a NUL inside becomes a space).
pub fn cstring(s: &str) -> std::ffi::CString {
    std::ffi::CString::new(s.replace('\0', " ")).expect("no NUL left")
}

/// The letter C engines' signature strings give a number type (`i`, `I`,
/// `f`, `F`; WAMR's and wasm3's alike), or none.
pub fn type_letter(t: &ValType) -> Option<char> {
    match t {
        ValType::I32 => Some('i'),
        ValType::I64 => Some('I'),
        ValType::F32 => Some('f'),
        ValType::F64 => Some('F'),
        _ => None,
    }
}

/// Reads `len` bytes at `offset` of a memory a C engine gives as a base
/// pointer and a size in bytes.
///
/// # Safety
/// `base` points at `size` bytes that nothing else touches meanwhile.
pub unsafe fn read_raw(base: *const u8, size: usize, offset: u64, len: u64) -> Result<Vec<u8>> {
    let r = range(offset, len, size).ok_or_else(|| Fault::error("out of bounds memory access"))?;
    // SAFETY: `r` lies inside the `size` bytes at `base`.
    Ok(unsafe { std::slice::from_raw_parts(base.add(r.start), r.len()) }.to_vec())
}

/// Writes `data` at `offset` of such a memory.
///
/// # Safety
/// As for [`read_raw`].
pub unsafe fn write_raw(base: *mut u8, size: usize, offset: u64, data: &[u8]) -> Result<()> {
    let r = range(offset, data.len() as u64, size).ok_or_else(|| Fault::error("out of bounds memory access"))?;
    // SAFETY: as above.
    unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), base.add(r.start), r.len()) };
    Ok(())
}

/// `offset..offset+len` if it lies within `size` bytes.
pub fn range(offset: u64, len: u64, size: usize) -> Option<std::ops::Range<usize>> {
    let end = offset.checked_add(len)?;
    (end <= size as u64).then(|| offset as usize..end as usize)
}
