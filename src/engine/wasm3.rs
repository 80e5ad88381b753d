//! wasm3 (interpreter for microcontrollers), through `wasm3x-sys`: the
//! Wasm3 v0.9.0 C sources vendored and maintained (2026), where the `wasm3`
//! crate (0.3.1) vendors 2021's. Every unsafe call and C callback of wasm3
//! is in this file.
//!
//! wasm3's shape: a runtime holds one module and one memory, so each
//! instance is a runtime of its own, made from the module's bytes (a parsed
//! module is consumed by the runtime that loads it); functions compile on
//! first call (wasm3's default), so an invalid body is found then. What
//! `wasm3.h` does not offer the tool reads from the bytes with wasmparser
//! (the imports, the exported memories' names, the page size). A host grow
//! is wasm3's own `ResizeMemory`, the function `memory.grow` runs (wasm3.h
//! has no grow of its own). Host memories and tables, a host memory cap and
//! linking another instance's exports are unsupported.

use super::backend::{cstring, interned, read_raw, type_letter, write_raw};
use super::session::{Backend, Fault, MemorySpec, Result};
use crate::case::{Feature, Host, Val, ValType};
use std::ffi::{c_void, CStr};
use std::rc::Rc;
use std::sync::OnceLock;
use wasm3x_sys as sys;

unsafe extern "C" {
    /// wasm3's memory resize (m3_env.c), what `memory.grow` calls: sets the
    /// memory to `pages` pages or fails with the reason.
    fn ResizeMemory(runtime: sys::IM3Runtime, pages: u32) -> sys::M3Result;
}

/// The operand stack each runtime gets: wasm3's own CLI default (64 KiB).
const STACK_BYTES: u32 = 64 * 1024;

pub struct Wasm3;

/// wasm3's own version (`M3_VERSION` in its `wasm3.h`), not its crate's.
pub const VERSION: &str = {
    let (text, _nul) = sys::M3_VERSION.split_at(sys::M3_VERSION.len() - 1);
    match std::str::from_utf8(text) {
        Ok(v) => v,
        Err(_) => panic!("M3_VERSION is ASCII"),
    }
};

/// wasm3's environment (type tables shared by runtimes): one per process.
#[derive(Clone, Copy)]
pub struct Env(sys::IM3Environment);

// SAFETY: the environment is made once and only used by the worker's one
// engine thread.
unsafe impl Send for Env {}
unsafe impl Sync for Env {}

impl Backend for Wasm3 {
    type Engine = Env;
    type Store = Wasm3Store;

    fn engine(&self, _: &[(Feature, bool)], host: &Host) -> Result<Env> {
        if host.max_memory_bytes.is_some() {
            return Err(Fault::Unsupported("wasm3.h has no host memory cap (a runtime's memoryLimit is internal)".into()));
        }
        static ENV: OnceLock<Env> = OnceLock::new();
        // SAFETY: made once, never freed.
        let env = *ENV.get_or_init(|| Env(unsafe { sys::m3_NewEnvironment() }));
        if env.0.is_null() {
            return Err(Fault::Unsupported("m3_NewEnvironment failed".into()));
        }
        Ok(env)
    }

    fn store(&self, env: &Env, _: &Host) -> Wasm3Store {
        Wasm3Store { env: *env }
    }
}

pub struct Wasm3Store {
    env: Env,
}

/// A module: its bytes and what the tool read from them.
#[derive(Clone)]
pub struct W3Module(Rc<ModuleInfo>);

pub struct ModuleInfo {
    bytes: Rc<[u8]>,
    imports: Vec<(String, String)>,
    memory_exports: Vec<String>,
    page_size: u64,
    /// The memory's declared initial size in bytes.
    initial_bytes: u64,
}

/// A runtime with its one module loaded; freed with the module.
struct RuntimeInner {
    raw: sys::IM3Runtime,
    module: sys::IM3Module,
    /// The module's bytes (wasm3 keeps pointers into them) and what the
    /// tool read from them.
    info: W3Module,
    /// The most bytes the tool has seen the memory hold (see `size`).
    seen_bytes: std::cell::Cell<u64>,
}

impl Drop for RuntimeInner {
    fn drop(&mut self) {
        // SAFETY: the runtime owns the module it loaded; freed once.
        unsafe { sys::m3_FreeRuntime(self.raw) }
    }
}

#[derive(Clone)]
pub struct W3Instance(Rc<RuntimeInner>);

/// A runtime's memory (wasm3 has one per runtime).
#[derive(Clone)]
pub struct W3Memory(W3Instance);

#[derive(Clone)]
pub enum W3Extern {
    Func { signature: Option<&'static CStr>, trap: Option<&'static CStr> },
    Global(Val),
    Other(&'static str),
}

/// A wasm3 result: null is success, else a static C string.
fn check(r: sys::M3Result) -> std::result::Result<(), String> {
    if r.is_null() {
        Ok(())
    } else {
        // SAFETY: wasm3's results are static NUL-terminated strings (or a
        // stub's message, kept alive by the instance's imports).
        Err(unsafe { CStr::from_ptr(r) }.to_string_lossy().into_owned())
    }
}

/// A failure while running wasm: a trap, in wasm3's words.
fn trap(message: String) -> Fault {
    Fault::Trap { kind: None, message }
}

/// wasm3's signature for a raw function (`i(iI)`: results, then params),
/// or none if a type has no letter (then nothing is checked).
fn signature(params: &[ValType], results: &[ValType]) -> Option<&'static CStr> {
    let p: Option<String> = params.iter().map(type_letter).collect();
    let r: String = results.iter().map(type_letter).collect::<Option<String>>()?;
    Some(interned(&format!("{}({})", if r.is_empty() { "v" } else { &r }, p?)))
}

/// A host function that does nothing (spectest's prints).
unsafe extern "C" fn noop(_: sys::IM3Runtime, _: sys::IM3ImportContext, _: *mut u64, _: *mut c_void) -> *const c_void {
    std::ptr::null()
}

/// A stub: traps with its userdata (the message) as wasm3's result.
unsafe extern "C" fn stub(_: sys::IM3Runtime, ctx: sys::IM3ImportContext, _: *mut u64, _: *mut c_void) -> *const c_void {
    // SAFETY: wasm3 passes the context it was linked with.
    unsafe { (*ctx).userdata as *const c_void }
}

fn read_info(bytes: &[u8]) -> std::result::Result<ModuleInfo, String> {
    let mut info = ModuleInfo { bytes: bytes.into(), imports: Vec::new(), memory_exports: Vec::new(), page_size: 65536, initial_bytes: 0 };
    for payload in wasmparser::Parser::new(0).parse_all(bytes) {
        match payload.map_err(|e| e.to_string())? {
            wasmparser::Payload::ImportSection(r) => {
                for import in r.into_imports() {
                    let i = import.map_err(|e| e.to_string())?;
                    info.imports.push((i.module.to_string(), i.name.to_string()));
                }
            }
            wasmparser::Payload::MemorySection(r) => {
                for m in r.into_iter().flatten().take(1) {
                    info.page_size = m.page_size_log2.map_or(65536, |p| 1u64 << p);
                    info.initial_bytes = m.initial.saturating_mul(info.page_size);
                }
            }
            wasmparser::Payload::ExportSection(r) => {
                for e in r.into_iter().flatten() {
                    if e.kind == wasmparser::ExternalKind::Memory {
                        info.memory_exports.push(e.name.to_string());
                    }
                }
            }
            _ => {}
        }
    }
    Ok(info)
}

impl Wasm3Store {
    /// Parses `bytes` with wasm3 (then frees the parse: each instance parses
    /// its own copy).
    fn parse(&self, bytes: &[u8]) -> std::result::Result<sys::IM3Module, String> {
        let len = u32::try_from(bytes.len()).map_err(|_| "a module of 4 GiB or more".to_string())?;
        let mut module = std::ptr::null_mut();
        // SAFETY: the bytes outlive the parsed module (the caller keeps them).
        check(unsafe { sys::m3_ParseModule(self.env.0, &mut module, bytes.as_ptr(), len) })?;
        Ok(module)
    }
}

fn to_val(ty: sys::M3ValueType::Type, slot: &u64) -> Option<Val> {
    Some(match ty {
        sys::M3ValueType::c_m3Type_i32 => Val::I32(*slot as u32 as i32),
        sys::M3ValueType::c_m3Type_i64 => Val::I64(*slot as i64),
        sys::M3ValueType::c_m3Type_f32 => Val::F32(*slot as u32),
        sys::M3ValueType::c_m3Type_f64 => Val::F64(*slot),
        _ => return None,
    })
}

impl super::session::Store for Wasm3Store {
    type Module = W3Module;
    type Instance = W3Instance;
    type Extern = W3Extern;
    type Memory = W3Memory;

    fn validate(&mut self, wasm: &[u8]) -> bool {
        self.compile(wasm).is_ok()
    }

    fn compile(&mut self, wasm: &[u8]) -> Result<W3Module> {
        let info = read_info(wasm).unwrap_or_else(|_| ModuleInfo { bytes: wasm.into(), imports: vec![], memory_exports: vec![], page_size: 65536, initial_bytes: 0 });
        let module = self.parse(&info.bytes).map_err(|message| Fault::Error { message })?;
        // SAFETY: parsed and not loaded: freed here.
        unsafe { sys::m3_FreeModule(module) };
        Ok(W3Module(Rc::new(info)))
    }

    fn imports(&self, module: &W3Module) -> Vec<(String, String)> {
        module.0.imports.clone()
    }

    fn instantiate(&mut self, module: &W3Module, imports: &[(&str, &str, W3Extern)]) -> Result<W3Instance> {
        let parsed = self.parse(&module.0.bytes).map_err(|message| Fault::Error { message })?;
        // SAFETY: a runtime per instance; the parsed module is handed to it
        // (freed here only if loading fails); the names linked live for the
        // call (wasm3 compares them only), the signatures and stub messages
        // are interned.
        unsafe {
            let raw = sys::m3_NewRuntime(self.env.0, STACK_BYTES, std::ptr::null_mut());
            if raw.is_null() {
                sys::m3_FreeModule(parsed);
                return Err(Fault::error("m3_NewRuntime failed"));
            }
            if let Err(message) = check(sys::m3_LoadModule(raw, parsed)) {
                sys::m3_FreeModule(parsed);
                sys::m3_FreeRuntime(raw);
                return Err(Fault::Error { message });
            }
            let instance = W3Instance(Rc::new(RuntimeInner { raw, module: parsed, info: module.clone(), seen_bytes: module.0.initial_bytes.into() }));
            for (m, n, e) in imports {
                let (mc, nc) = (cstring(m), cstring(n));
                let linked = match e {
                    W3Extern::Func { signature, trap: message } => {
                        let (f, data): (unsafe extern "C" fn(_, _, _, _) -> _, *const c_void) = match message {
                            None => (noop, std::ptr::null()),
                            Some(m) => (stub, m.as_ptr() as *const c_void),
                        };
                        let sig = signature.as_ref().map_or(std::ptr::null(), |s| s.as_ptr());
                        sys::m3_LinkRawFunctionEx(parsed, mc.as_ptr(), nc.as_ptr(), sig, Some(f), data)
                    }
                    W3Extern::Global(v) => {
                        let mut t: sys::M3TaggedValue = std::mem::zeroed();
                        match *v {
                            Val::I32(x) => (t.type_, t.value.i32_) = (sys::M3ValueType::c_m3Type_i32, x as u32),
                            Val::I64(x) => (t.type_, t.value.i64_) = (sys::M3ValueType::c_m3Type_i64, x as u64),
                            Val::F32(x) => (t.type_, t.value.f32_) = (sys::M3ValueType::c_m3Type_f32, f32::from_bits(x)),
                            Val::F64(x) => (t.type_, t.value.f64_) = (sys::M3ValueType::c_m3Type_f64, f64::from_bits(x)),
                            _ => return Err(Fault::Unsupported("a reference or v128 global import".into())),
                        }
                        sys::m3_LinkGlobal(parsed, mc.as_ptr(), nc.as_ptr(), &mut t)
                    }
                    W3Extern::Other(what) => return Err(Fault::Unsupported(format!("importing {what} (wasm3.h links host functions and globals only)"))),
                };
                // "function lookup failed": the module has no such import of
                // that kind; the engine decides what a wrong kind means.
                if let Err(message) = check(linked) {
                    if !message.contains("lookup failed") {
                        return Err(Fault::Link { message });
                    }
                }
            }
            check(sys::m3_RunStart(parsed)).map_err(trap)?;
            Ok(instance)
        }
    }

    /// Linking another runtime's exports is not in wasm3.h: nothing is
    /// offered to `register`.
    fn exports(&mut self, _: &W3Instance) -> Vec<(String, W3Extern)> {
        Vec::new()
    }

    fn call(&mut self, instance: &W3Instance, name: &str, args: &[Val]) -> Result<Vec<Val>> {
        let name = cstring(name);
        // SAFETY: a live runtime; one slot per argument and result.
        unsafe {
            let mut f = std::ptr::null_mut();
            if check(sys::m3_FindFunction(&mut f, instance.0.raw, name.as_ptr())).is_err() {
                return Err(Fault::Missing);
            }
            let n_args = sys::m3_GetArgCount(f) as usize;
            if n_args != args.len() {
                return Err(Fault::error(format!("the function takes {n_args} arguments, {} given", args.len())));
            }
            let mut slots = Vec::with_capacity(n_args);
            for (i, a) in args.iter().enumerate() {
                let ty = sys::m3_GetArgType(f, i as u32);
                let slot: u64 = match (*a, ty) {
                    (Val::I32(x), sys::M3ValueType::c_m3Type_i32) => x as u32 as u64,
                    (Val::I64(x), sys::M3ValueType::c_m3Type_i64) => x as u64,
                    (Val::F32(x), sys::M3ValueType::c_m3Type_f32) => x as u64,
                    (Val::F64(x), sys::M3ValueType::c_m3Type_f64) => x,
                    (Val::I32(_) | Val::I64(_) | Val::F32(_) | Val::F64(_), _) => return Err(Fault::error("an argument of the wrong type")),
                    _ => return Err(Fault::Unsupported("a v128 or reference argument (wasm3.h passes numbers)".into())),
                };
                slots.push(slot);
            }
            let ptrs: Vec<*const c_void> = slots.iter().map(|s| s as *const u64 as *const c_void).collect();
            check(sys::m3_Call(f, n_args as u32, ptrs.as_ptr() as *mut *const c_void)).map_err(trap)?;
            let n_rets = sys::m3_GetRetCount(f) as usize;
            let mut rets = vec![0u64; n_rets];
            let rptrs: Vec<*const c_void> = rets.iter_mut().map(|s| s as *mut u64 as *const c_void).collect();
            check(sys::m3_GetResults(f, n_rets as u32, rptrs.as_ptr() as *mut *const c_void)).map_err(Fault::error)?;
            (0..n_rets).map(|i| to_val(sys::m3_GetRetType(f, i as u32), &rets[i])).collect::<Option<Vec<_>>>().ok_or_else(Fault::unshowable)
        }
    }

    fn global(&mut self, instance: &W3Instance, name: &str) -> Result<Val> {
        let name = cstring(name);
        // SAFETY: a live runtime's module.
        unsafe {
            let g = sys::m3_FindGlobal(instance.0.module, name.as_ptr());
            if g.is_null() {
                return Err(Fault::Missing);
            }
            let mut t: sys::M3TaggedValue = std::mem::zeroed();
            check(sys::m3_GetGlobal(g, &mut t)).map_err(Fault::error)?;
            Ok(match t.type_ {
                sys::M3ValueType::c_m3Type_i32 => Val::I32(t.value.i32_ as i32),
                sys::M3ValueType::c_m3Type_i64 => Val::I64(t.value.i64_ as i64),
                sys::M3ValueType::c_m3Type_f32 => Val::F32(t.value.f32_.to_bits()),
                sys::M3ValueType::c_m3Type_f64 => Val::F64(t.value.f64_.to_bits()),
                _ => return Err(Fault::unshowable()),
            })
        }
    }

    fn exported_memory(&mut self, instance: &W3Instance, name: &str) -> Option<W3Memory> {
        instance.0.info.0.memory_exports.iter().any(|n| n == name).then(|| W3Memory(instance.clone()))
    }

    fn new_memory(&mut self, _: &MemorySpec) -> Result<W3Memory> {
        Err(Fault::Unsupported("wasm3.h makes no host memories (a memory belongs to its runtime)".into()))
    }

    fn memory_extern(&mut self, _: &W3Memory) -> W3Extern {
        W3Extern::Other("a memory")
    }

    fn grow(&mut self, memory: &W3Memory, delta: u64) -> Result<u64> {
        let prev = self.size(memory);
        let pages = u32::try_from(prev + delta).map_err(|_| Fault::error(format!("{} pages do not fit wasm3's u32 page count", prev + delta)))?;
        // SAFETY: a live runtime.
        check(unsafe { ResizeMemory(memory.0 .0.raw, pages) }).map_err(|message| Fault::Error { message })?;
        let inner = &memory.0 .0;
        inner.seen_bytes.set(u64::from(pages) * inner.info.0.page_size);
        Ok(prev)
    }

    /// wasm3's API gives a memory's length as a u32 (`m3_GetMemorySize`),
    /// so a 4 GiB memory reads as 0 bytes; a host grow from there computed
    /// its new size from 0 and shrank the memory (the audit's search went
    /// from 65536 pages to 32768 and on). A memory never shrinks: its length
    /// is the one, of those the u32 can stand for, at least the most this
    /// backend has seen it hold (the declared initial size, or what a host
    /// grow made). (A memory declared with 0 pages that wasm grows to
    /// exactly 4 GiB before the host first looks still reads 0.)
    fn size(&mut self, memory: &W3Memory) -> u64 {
        let inner = &memory.0 .0;
        // SAFETY: a live runtime.
        let mut bytes = unsafe { sys::m3_GetMemorySize(inner.raw) } as u64;
        while bytes < inner.seen_bytes.get() {
            bytes += 1 << 32;
        }
        inner.seen_bytes.set(bytes);
        bytes / inner.info.0.page_size
    }

    fn read(&mut self, memory: &W3Memory, offset: u64, len: u64) -> Result<Vec<u8>> {
        let (base, size) = bytes(memory);
        // SAFETY: the engine's memory, live while `memory` is.
        unsafe { read_raw(base, size, offset, len) }
    }

    fn write(&mut self, memory: &W3Memory, offset: u64, data: &[u8]) -> Result<()> {
        let (base, size) = bytes(memory);
        // SAFETY: as in read.
        unsafe { write_raw(base, size, offset, data) }
    }

    fn host_func(&mut self, params: &[ValType]) -> Result<W3Extern> {
        Ok(W3Extern::Func { signature: signature(params, &[]), trap: None })
    }

    fn host_global(&mut self, value: Val) -> Result<W3Extern> {
        Ok(W3Extern::Global(value))
    }

    fn host_table(&mut self, _: u64, _: u64, _: crate::case::AddressType) -> Result<W3Extern> {
        Ok(W3Extern::Other("a table"))
    }

    fn stub_func(&mut self, params: &[ValType], results: &[ValType], message: &str) -> Result<W3Extern> {
        Ok(W3Extern::Func { signature: signature(params, results), trap: Some(interned(message)) })
    }

    fn stub_global(&mut self, ty: ValType, _: bool) -> Result<W3Extern> {
        Ok(W3Extern::Global(Val::zero(ty)))
    }

    fn stub_table(&mut self, _: ValType, _: u64, _: Option<u64>) -> Result<W3Extern> {
        Ok(W3Extern::Other("a table"))
    }
}

/// The memory's base and size in bytes.
fn bytes(memory: &W3Memory) -> (*mut u8, usize) {
    let mut size = 0u32;
    // SAFETY: a live runtime; memory index 0 (wasm3 has one).
    let base = unsafe { sys::m3_GetMemory(memory.0 .0.raw, &mut size, 0) };
    if base.is_null() { (std::ptr::NonNull::dangling().as_ptr(), 0) } else { (base, size as usize) }
}
