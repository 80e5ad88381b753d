//! WAMR (WebAssembly Micro Runtime, Bytecode Alliance), fast interpreter,
//! through its embedding API (`wasm_export.h`), in two builds of the same
//! vendored sources: software bounds checks (`wamrx-sys`'s default build,
//! the `wamr` column) and hardware bounds checks (guard pages and a SIGSEGV
//! handler, as servers run it; built by `build.rs` with its symbols renamed
//! `wmhw_...`, the `wamr-hwbound` column). Both are reached through one
//! table of C functions, [`Api`]; every unsafe call and C callback of WAMR
//! is in this file.
//!
//! What `wasm_export.h` cannot express is unsupported here: host memories,
//! globals and tables (imports are host functions only, registered by
//! module name), exports linked into another instance, references passed
//! in or out. Memory64, multi-memory and threads are not in this build of
//! WAMR (the fast interpreter forbids the first two): such modules fail to
//! load with WAMR's own text.

use super::backend::{cstring, interned, read_raw, type_letter, write_raw};
use super::session::{Backend, Fault, MemorySpec, Result};
use crate::case::{Feature, Host, Val, ValType};
use std::collections::BTreeMap;
use std::ffi::{c_char, c_void, CStr, CString};
use std::rc::Rc;
use std::sync::OnceLock;
use wamrx_sys as sys;

/// Declares the C functions the backend uses once: the table type, the
/// software build's table (wamrx-sys's bindings) and the hardware build's
/// (the same names with build.rs's `wmhw_` prefix).
macro_rules! wamr_api {
    ($($name:ident ( $($arg:ty),* ) $(-> $ret:ty)? ;)*) => {
        /// WAMR's embedding functions, from one build.
        pub struct Api { $($name: unsafe extern "C" fn($($arg),*) $(-> $ret)?,)* hw: bool }
        static SOFT: Api = Api { $($name: sys::$name,)* hw: false };
        mod hwbound {
            use super::sys;
            use std::ffi::{c_char, c_void};
            unsafe extern "C" {
                $( #[link_name = concat!("wmhw_", stringify!($name))] pub fn $name($(_: $arg),*) $(-> $ret)?; )*
            }
        }
        static HW: Api = Api { $($name: hwbound::$name,)* hw: true };
    };
}

wamr_api! {
    wasm_runtime_full_init(*mut sys::RuntimeInitArgs) -> bool;
    wasm_runtime_set_log_level(sys::log_level_t);
    wasm_runtime_load_ex(*mut u8, u32, *const sys::LoadArgs, *mut c_char, u32) -> sys::wasm_module_t;
    wasm_runtime_unload(sys::wasm_module_t);
    wasm_runtime_resolve_symbols(sys::wasm_module_t) -> bool;
    wasm_runtime_get_import_count(sys::wasm_module_t) -> i32;
    wasm_runtime_get_import_type(sys::wasm_module_t, i32, *mut sys::wasm_import_t);
    wasm_runtime_register_natives_raw(*const c_char, *mut sys::NativeSymbol, u32) -> bool;
    wasm_runtime_unregister_natives(*const c_char, *mut sys::NativeSymbol) -> bool;
    wasm_runtime_instantiation_args_create(*mut *mut sys::InstantiationArgs2) -> bool;
    wasm_runtime_instantiation_args_destroy(*mut sys::InstantiationArgs2);
    wasm_runtime_instantiation_args_set_host_managed_heap_size(*mut sys::InstantiationArgs2, u32);
    wasm_runtime_instantiation_args_set_max_memory_pages(*mut sys::InstantiationArgs2, u32);
    wasm_runtime_instantiate_ex2(sys::wasm_module_t, *const sys::InstantiationArgs2, *mut c_char, u32) -> sys::wasm_module_inst_t;
    wasm_runtime_deinstantiate(sys::wasm_module_inst_t);
    wasm_runtime_lookup_function(sys::wasm_module_inst_t, *const c_char) -> sys::wasm_function_inst_t;
    wasm_func_get_param_count(sys::wasm_function_inst_t, sys::wasm_module_inst_t) -> u32;
    wasm_func_get_result_count(sys::wasm_function_inst_t, sys::wasm_module_inst_t) -> u32;
    wasm_func_get_param_types(sys::wasm_function_inst_t, sys::wasm_module_inst_t, *mut sys::wasm_valkind_t);
    wasm_func_get_result_types(sys::wasm_function_inst_t, sys::wasm_module_inst_t, *mut sys::wasm_valkind_t);
    wasm_runtime_get_exec_env_singleton(sys::wasm_module_inst_t) -> sys::wasm_exec_env_t;
    wasm_runtime_call_wasm_a(sys::wasm_exec_env_t, sys::wasm_function_inst_t, u32, *mut sys::wasm_val_t, u32, *mut sys::wasm_val_t) -> bool;
    wasm_runtime_get_exception(sys::wasm_module_inst_t) -> *const c_char;
    wasm_runtime_clear_exception(sys::wasm_module_inst_t);
    wasm_runtime_set_exception(sys::wasm_module_inst_t, *const c_char);
    wasm_runtime_get_module_inst(sys::wasm_exec_env_t) -> sys::wasm_module_inst_t;
    wasm_runtime_get_function_attachment(sys::wasm_exec_env_t) -> *mut c_void;
    wasm_runtime_lookup_memory(sys::wasm_module_inst_t, *const c_char) -> sys::wasm_memory_inst_t;
    wasm_memory_get_cur_page_count(sys::wasm_memory_inst_t) -> u64;
    wasm_memory_get_bytes_per_page(sys::wasm_memory_inst_t) -> u64;
    wasm_memory_get_base_address(sys::wasm_memory_inst_t) -> *mut c_void;
    wasm_memory_enlarge(sys::wasm_memory_inst_t, u64) -> bool;
    wasm_runtime_get_export_global_inst(sys::wasm_module_inst_t, *const c_char, *mut sys::wasm_global_inst_t) -> bool;
}

/// WAMR's own version (its `core/version.h`, which `wasm_runtime_get_version`
/// returns), not the wamrx-sys crate's; a test holds it to the library.
pub const VERSION: &str = "2.4.3";

/// A WAMR build: software (`Wamr::Soft`) or hardware (`Wamr::Hw`) bounds checks.
#[derive(Debug, Clone, Copy)]
pub enum Wamr {
    Soft,
    Hw,
}

impl Wamr {
    fn api(self) -> &'static Api {
        match self {
            Wamr::Soft => &SOFT,
            Wamr::Hw => &HW,
        }
    }
}

/// WAMR's runtime is process-global: initialised once per build.
fn init(api: &'static Api) -> Result<()> {
    static DONE: [OnceLock<bool>; 2] = [OnceLock::new(), OnceLock::new()];
    let ok = *DONE[api.hw as usize].get_or_init(|| {
        let mut args = sys::RuntimeInitArgs { mem_alloc_type: sys::Alloc_With_System_Allocator, running_mode: sys::Mode_Interp, ..Default::default() };
        // SAFETY: a zeroed RuntimeInitArgs with the system allocator is what
        // WAMR's own iwasm passes; called once.
        unsafe {
            let ok = (api.wasm_runtime_full_init)(&mut args);
            // Warnings go to stdout otherwise (the worker points stdout at
            // stderr anyway); the engine's answers come through the API.
            (api.wasm_runtime_set_log_level)(sys::WASM_LOG_LEVEL_FATAL);
            ok
        }
    });
    if ok { Ok(()) } else { Err(Fault::Unsupported("wasm_runtime_full_init failed".into())) }
}

impl Backend for Wamr {
    type Engine = ();
    type Store = WamrStore;

    /// Proposals are compile-time options of WAMR: a switch changes nothing,
    /// and a module beyond the build fails to load with WAMR's text.
    fn engine(&self, _: &[(Feature, bool)], _: &Host) -> Result<()> {
        init(self.api())
    }

    fn store(&self, _: &(), host: &Host) -> WamrStore {
        // The host cap is WAMR's `max_memory_pages` instantiation argument
        // (64 KiB pages).
        let max_pages = host.max_memory_bytes.map(|b| u32::try_from(b / 65536).unwrap_or(u32::MAX));
        WamrStore { api: self.api(), max_pages }
    }
}

pub struct WamrStore {
    api: &'static Api,
    max_pages: Option<u32>,
}

/// A loaded module: WAMR keeps pointers into the bytes it was given.
struct ModuleInner {
    api: &'static Api,
    raw: sys::wasm_module_t,
    _bytes: Box<[u8]>,
}

impl Drop for ModuleInner {
    fn drop(&mut self) {
        // SAFETY: loaded by this api, unloaded once, after every instance
        // (each holds the module).
        unsafe { (self.api.wasm_runtime_unload)(self.raw) }
    }
}

#[derive(Clone)]
pub struct WModule(Rc<ModuleInner>);

struct InstanceInner {
    api: &'static Api,
    raw: sys::wasm_module_inst_t,
    _module: WModule,
}

impl Drop for InstanceInner {
    fn drop(&mut self) {
        // SAFETY: instantiated by this api, deinstantiated once.
        unsafe { (self.api.wasm_runtime_deinstantiate)(self.raw) }
    }
}

#[derive(Clone)]
pub struct WInstance(Rc<InstanceInner>);

/// An instance's memory (the instance is kept alive with it).
#[derive(Clone)]
pub struct WMemory {
    instance: WInstance,
    raw: sys::wasm_memory_inst_t,
}

/// What an instance can import: a host function (trapping with `trap`, or
/// doing nothing), or an item WAMR's API cannot import.
#[derive(Clone)]
pub enum WExtern {
    Func { signature: Option<&'static CStr>, trap: Option<&'static CStr> },
    Other(&'static str),
}

/// WAMR's signature string for a raw native (`(iF)I`), or none if a type
/// has no letter (then WAMR checks nothing).
fn signature(params: &[ValType], results: &[ValType]) -> Option<&'static CStr> {
    let p: Option<String> = params.iter().map(type_letter).collect();
    let r: Option<String> = results.iter().map(type_letter).collect();
    Some(interned(&format!("({}){}", p?, r?)))
}

/// A host function that does nothing (spectest's prints).
unsafe extern "C" fn noop(_: sys::wasm_exec_env_t, _: *mut u64) {}

/// A stub: raises its attachment (a message) as the instance's exception.
unsafe extern "C" fn raise<const HARD: bool>(env: sys::wasm_exec_env_t, _: *mut u64) {
    let api = if HARD { &HW } else { &SOFT };
    // SAFETY: WAMR calls a raw native with its exec env; the attachment is
    // an interned C string.
    unsafe {
        let message = (api.wasm_runtime_get_function_attachment)(env) as *const c_char;
        (api.wasm_runtime_set_exception)((api.wasm_runtime_get_module_inst)(env), message);
    }
}

impl WamrStore {
    fn load(&self, wasm: &[u8]) -> std::result::Result<WModule, String> {
        let mut bytes: Box<[u8]> = wasm.into();
        let mut error = [0 as c_char; 256];
        let args = sys::LoadArgs { name: c"".as_ptr() as *mut c_char, clone_wasm_binary: false, wasm_binary_freeable: false, no_resolve: true };
        let len = u32::try_from(bytes.len()).map_err(|_| "a module of 4 GiB or more".to_string())?;
        // SAFETY: the bytes live as long as the module (kept beside it).
        let raw = unsafe { (self.api.wasm_runtime_load_ex)(bytes.as_mut_ptr(), len, &args, error.as_mut_ptr(), error.len() as u32) };
        if raw.is_null() {
            return Err(text(error.as_ptr()));
        }
        Ok(WModule(Rc::new(ModuleInner { api: self.api, raw, _bytes: bytes })))
    }

    /// The instance's pending exception as a trap, cleared.
    fn exception(&self, inst: sys::wasm_module_inst_t) -> Fault {
        // SAFETY: a live instance.
        let message = unsafe {
            let m = (self.api.wasm_runtime_get_exception)(inst);
            let t = if m.is_null() { "the call failed without an exception".to_string() } else { text(m) };
            (self.api.wasm_runtime_clear_exception)(inst);
            t
        };
        Fault::Trap { kind: None, message }
    }
}

/// A C string WAMR wrote.
fn text(p: *const c_char) -> String {
    // SAFETY: WAMR's error buffers and exceptions are NUL-terminated.
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

fn to_val(v: &sys::wasm_val_t) -> Option<Val> {
    // SAFETY: the union's member is the one `kind` names.
    unsafe {
        Some(match v.kind as u32 {
            sys::WASM_I32 => Val::I32(v.of.i32_),
            sys::WASM_I64 => Val::I64(v.of.i64_),
            sys::WASM_F32 => Val::F32(v.of.f32_.to_bits()),
            sys::WASM_F64 => Val::F64(v.of.f64_.to_bits()),
            _ => return None,
        })
    }
}

fn from_val(v: &Val) -> Result<sys::wasm_val_t> {
    let mut out = sys::wasm_val_t::default();
    match *v {
        Val::I32(x) => (out.kind, out.of.i32_) = (sys::WASM_I32 as u8, x),
        Val::I64(x) => (out.kind, out.of.i64_) = (sys::WASM_I64 as u8, x),
        Val::F32(x) => (out.kind, out.of.f32_) = (sys::WASM_F32 as u8, f32::from_bits(x)),
        Val::F64(x) => (out.kind, out.of.f64_) = (sys::WASM_F64 as u8, f64::from_bits(x)),
        _ => return Err(Fault::Unsupported("a v128 or reference argument (WAMR's wasm_val_t carries references as host pointers)".into())),
    }
    Ok(out)
}

impl super::session::Store for WamrStore {
    type Module = WModule;
    type Instance = WInstance;
    type Extern = WExtern;
    type Memory = WMemory;

    fn validate(&mut self, wasm: &[u8]) -> bool {
        self.load(wasm).is_ok()
    }

    fn compile(&mut self, wasm: &[u8]) -> Result<WModule> {
        self.load(wasm).map_err(|message| Fault::Error { message })
    }

    fn imports(&self, module: &WModule) -> Vec<(String, String)> {
        // SAFETY: a loaded module; the names live as long as it does.
        unsafe {
            let n = (self.api.wasm_runtime_get_import_count)(module.0.raw);
            (0..n.max(0))
                .map(|i| {
                    let mut t: sys::wasm_import_t = std::mem::zeroed();
                    (self.api.wasm_runtime_get_import_type)(module.0.raw, i, &mut t);
                    (text(t.module_name), text(t.name))
                })
                .collect()
        }
    }

    /// Host functions are registered under their module's name, the
    /// module's imports resolved against them, and the registration taken
    /// back: WAMR keeps what it resolved in the module. An import left
    /// unresolved is WAMR's own behaviour (it traps when called).
    fn instantiate(&mut self, module: &WModule, imports: &[(&str, &str, WExtern)]) -> Result<WInstance> {
        // Per module name: the field names (kept for the registration) and
        // the symbols pointing at them.
        let mut by_module: BTreeMap<CString, (Vec<CString>, Vec<sys::NativeSymbol>)> = BTreeMap::new();
        for (m, n, e) in imports {
            let (signature, trap) = match e {
                WExtern::Func { signature, trap } => (signature, trap),
                WExtern::Other(what) => return Err(Fault::Unsupported(format!("importing {what} (WAMR's wasm_export.h imports host functions only)"))),
            };
            let func_ptr = match (trap, self.api.hw) {
                (None, _) => noop as *mut c_void,
                (Some(_), false) => raise::<false> as *mut c_void,
                (Some(_), true) => raise::<true> as *mut c_void,
            };
            let (names, symbols) = by_module.entry(cstring(m)).or_default();
            names.push(cstring(n));
            symbols.push(sys::NativeSymbol {
                // A CString's bytes stay put when the Vec holding it grows.
                symbol: names.last().expect("pushed").as_ptr(),
                func_ptr,
                signature: signature.map_or(std::ptr::null(), |s| s.as_ptr()),
                attachment: trap.map_or(std::ptr::null_mut(), |s| s.as_ptr() as *mut c_void),
            });
        }
        // SAFETY: each symbol array lives until it is unregistered; WAMR
        // keeps only the interned signature and attachment pointers.
        unsafe {
            for (name, (_, symbols)) in &mut by_module {
                (self.api.wasm_runtime_register_natives_raw)(name.as_ptr(), symbols.as_mut_ptr(), symbols.len() as u32);
            }
            (self.api.wasm_runtime_resolve_symbols)(module.0.raw);
            for (name, (_, symbols)) in &mut by_module {
                (self.api.wasm_runtime_unregister_natives)(name.as_ptr(), symbols.as_mut_ptr());
            }
            let mut args = std::ptr::null_mut();
            if !(self.api.wasm_runtime_instantiation_args_create)(&mut args) {
                return Err(Fault::error("wasm_runtime_instantiation_args_create failed"));
            }
            // No host-managed heap inside linear memory: a memory is as
            // large as the module says.
            (self.api.wasm_runtime_instantiation_args_set_host_managed_heap_size)(args, 0);
            if let Some(p) = self.max_pages {
                (self.api.wasm_runtime_instantiation_args_set_max_memory_pages)(args, p);
            }
            let mut error = [0 as c_char; 256];
            let raw = (self.api.wasm_runtime_instantiate_ex2)(module.0.raw, args, error.as_mut_ptr(), error.len() as u32);
            (self.api.wasm_runtime_instantiation_args_destroy)(args);
            if raw.is_null() {
                return Err(Fault::Error { message: text(error.as_ptr()) });
            }
            // A start function that trapped leaves an exception.
            let pending = (self.api.wasm_runtime_get_exception)(raw);
            let instance = WInstance(Rc::new(InstanceInner { api: self.api, raw, _module: module.clone() }));
            if !pending.is_null() {
                return Err(self.exception(raw));
            }
            Ok(instance)
        }
    }

    /// WAMR has no way to import another instance's export (multi-module
    /// is off in this build): nothing is offered to `register`.
    fn exports(&mut self, _: &WInstance) -> Vec<(String, WExtern)> {
        Vec::new()
    }

    fn call(&mut self, instance: &WInstance, name: &str, args: &[Val]) -> Result<Vec<Val>> {
        let inst = instance.0.raw;
        let name = cstring(name);
        // SAFETY: a live instance; argument and result arrays sized from the
        // function's own counts.
        unsafe {
            let func = (self.api.wasm_runtime_lookup_function)(inst, name.as_ptr());
            if func.is_null() {
                return Err(Fault::Missing);
            }
            let n_params = (self.api.wasm_func_get_param_count)(func, inst) as usize;
            let mut kinds = vec![0u8; n_params];
            (self.api.wasm_func_get_param_types)(func, inst, kinds.as_mut_ptr());
            if args.len() != n_params {
                return Err(Fault::error(format!("the function takes {n_params} arguments, {} given", args.len())));
            }
            let mut params = args.iter().map(from_val).collect::<Result<Vec<_>>>()?;
            if params.iter().zip(&kinds).any(|(p, k)| p.kind != *k) {
                return Err(Fault::error("an argument of the wrong type"));
            }
            let n_results = (self.api.wasm_func_get_result_count)(func, inst) as usize;
            let mut result_kinds = vec![0u8; n_results];
            (self.api.wasm_func_get_result_types)(func, inst, result_kinds.as_mut_ptr());
            let mut results = vec![sys::wasm_val_t::default(); n_results];
            for (r, k) in results.iter_mut().zip(&result_kinds) {
                r.kind = *k;
            }
            let env = (self.api.wasm_runtime_get_exec_env_singleton)(inst);
            if env.is_null() {
                return Err(Fault::error("wasm_runtime_get_exec_env_singleton failed"));
            }
            let ok = (self.api.wasm_runtime_call_wasm_a)(env, func, n_results as u32, results.as_mut_ptr(), params.len() as u32, params.as_mut_ptr());
            if !ok {
                return Err(self.exception(inst));
            }
            results.iter().map(to_val).collect::<Option<Vec<_>>>().ok_or_else(Fault::unshowable)
        }
    }

    fn global(&mut self, instance: &WInstance, name: &str) -> Result<Val> {
        let name = cstring(name);
        // SAFETY: a live instance; global_data points at a value of `kind`.
        unsafe {
            let mut g: sys::wasm_global_inst_t = std::mem::zeroed();
            if !(self.api.wasm_runtime_get_export_global_inst)(instance.0.raw, name.as_ptr(), &mut g) {
                return Err(Fault::Missing);
            }
            let p = g.global_data;
            Ok(match g.kind as u32 {
                sys::WASM_I32 => Val::I32(*(p as *const i32)),
                sys::WASM_I64 => Val::I64((p as *const i64).read_unaligned()),
                sys::WASM_F32 => Val::F32(*(p as *const u32)),
                sys::WASM_F64 => Val::F64((p as *const u64).read_unaligned()),
                _ => return Err(Fault::unshowable()),
            })
        }
    }

    fn exported_memory(&mut self, instance: &WInstance, name: &str) -> Option<WMemory> {
        let name = cstring(name);
        // SAFETY: a live instance.
        let raw = unsafe { (self.api.wasm_runtime_lookup_memory)(instance.0.raw, name.as_ptr()) };
        (!raw.is_null()).then(|| WMemory { instance: instance.clone(), raw })
    }

    fn new_memory(&mut self, _: &MemorySpec) -> Result<WMemory> {
        Err(Fault::Unsupported("WAMR's embedding API (wasm_export.h) makes no host memories".into()))
    }

    fn memory_extern(&mut self, _: &WMemory) -> WExtern {
        WExtern::Other("a memory")
    }

    fn grow(&mut self, memory: &WMemory, delta: u64) -> Result<u64> {
        let api = memory.instance.0.api;
        // SAFETY: the memory's instance is alive (held by `memory`).
        unsafe {
            let prev = (api.wasm_memory_get_cur_page_count)(memory.raw);
            if (api.wasm_memory_enlarge)(memory.raw, delta) {
                Ok(prev)
            } else {
                Err(Fault::error(format!("wasm_memory_enlarge(memory, {delta}) returned false (WAMR gives no reason)")))
            }
        }
    }

    fn size(&mut self, memory: &WMemory) -> u64 {
        // SAFETY: as in grow.
        unsafe { (memory.instance.0.api.wasm_memory_get_cur_page_count)(memory.raw) }
    }

    fn read(&mut self, memory: &WMemory, offset: u64, len: u64) -> Result<Vec<u8>> {
        let (base, size) = bytes(memory);
        // SAFETY: the engine's memory, live while `memory` is.
        unsafe { read_raw(base, size, offset, len) }
    }

    fn write(&mut self, memory: &WMemory, offset: u64, data: &[u8]) -> Result<()> {
        let (base, size) = bytes(memory);
        // SAFETY: as in read.
        unsafe { write_raw(base, size, offset, data) }
    }

    fn host_func(&mut self, params: &[ValType]) -> Result<WExtern> {
        Ok(WExtern::Func { signature: signature(params, &[]), trap: None })
    }

    fn host_global(&mut self, _: Val) -> Result<WExtern> {
        Ok(WExtern::Other("a global"))
    }

    fn host_table(&mut self, _: u64, _: u64, _: crate::case::AddressType) -> Result<WExtern> {
        Ok(WExtern::Other("a table"))
    }

    fn stub_func(&mut self, params: &[ValType], results: &[ValType], message: &str) -> Result<WExtern> {
        Ok(WExtern::Func { signature: signature(params, results), trap: Some(interned(message)) })
    }

    fn stub_global(&mut self, _: ValType, _: bool) -> Result<WExtern> {
        Ok(WExtern::Other("a global"))
    }

    fn stub_table(&mut self, _: ValType, _: u64, _: Option<u64>) -> Result<WExtern> {
        Ok(WExtern::Other("a table"))
    }
}

/// A memory's base and current size in bytes.
fn bytes(memory: &WMemory) -> (*mut u8, usize) {
    let api = memory.instance.0.api;
    // SAFETY: the memory's instance is alive.
    unsafe {
        let pages = (api.wasm_memory_get_cur_page_count)(memory.raw);
        let page = (api.wasm_memory_get_bytes_per_page)(memory.raw);
        ((api.wasm_memory_get_base_address)(memory.raw) as *mut u8, (pages * page) as usize)
    }
}

#[cfg(test)]
mod tests {
    /// The version the registry names is the one the linked library says.
    #[test]
    fn the_registry_names_the_linked_wamr_version() {
        let (mut major, mut minor, mut patch) = (0u32, 0u32, 0u32);
        // SAFETY: three valid out-pointers; the call only writes constants.
        unsafe { super::sys::wasm_runtime_get_version(&mut major, &mut minor, &mut patch) };
        assert_eq!(super::VERSION, format!("{major}.{minor}.{patch}"));
        assert_eq!(super::super::wasm3::VERSION, "0.9.0");
    }
}
