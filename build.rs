//! Records the locked version of every dependency (from Cargo.lock) as a
//! constant, `locked::WASMTIME` for the `wasmtime` package, so every result
//! can name the exact engine it came from. Packages locked at more than one
//! version get no constant (their name does not say which).
//!
//! And builds WAMR a second time, with hardware bounds checks (the
//! `wamr-hwbound` column): `wamrx-sys` builds the software-checked library
//! the `wamr` column uses, and its `links = "iwasm"` allows one build of the
//! crate per binary, so this one is made from the same vendored sources with
//! WAMR's own CMake build and every symbol it defines renamed `wmhw_...`
//! (`objcopy --redefine-syms`), so both live in one binary.

use std::collections::BTreeMap;
use std::fmt::Write;

fn main() {
    println!("cargo:rerun-if-changed=Cargo.lock");
    let lock = std::fs::read_to_string("Cargo.lock").unwrap_or_default();
    let mut versions: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut name = None;
    for line in lock.lines() {
        if let Some(n) = line.strip_prefix("name = \"") {
            name = Some(n.trim_end_matches('"').to_string());
        } else if let (Some(v), Some(n)) = (line.strip_prefix("version = \""), name.take()) {
            versions.entry(n).or_default().push(v.trim_end_matches('"').to_string());
        }
    }
    let mut out = String::new();
    for (name, v) in versions.iter().filter(|(_, v)| v.len() == 1) {
        let ident = name.to_uppercase().replace('-', "_");
        let _ = writeln!(out, "pub const {ident}: &str = {:?};", v[0]);
    }
    let dir = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    std::fs::write(std::path::Path::new(&dir).join("locked.rs"), out).expect("OUT_DIR is writable");
    let wamrx = versions.get("wamrx-sys").and_then(|v| v.first()).expect("Cargo.lock locks wamrx-sys");
    wamr_hwbound(wamrx, std::path::Path::new(&dir));
}

/// The prefix of every symbol of the hardware-bounds-checked WAMR.
const HW_PREFIX: &str = "wmhw_";

/// The WAMR sources `wamrx-sys` vendors, from Cargo's package cache
/// (`WASM_MATRIX_WAMR_SOURCE` names another checkout of the same version).
fn wamr_source(version: &str) -> std::path::PathBuf {
    println!("cargo:rerun-if-env-changed=WASM_MATRIX_WAMR_SOURCE");
    if let Ok(dir) = std::env::var("WASM_MATRIX_WAMR_SOURCE") {
        return dir.into();
    }
    let home = std::env::var("CARGO_HOME").map(std::path::PathBuf::from).unwrap_or_else(|_| {
        std::path::PathBuf::from(std::env::var("HOME").expect("HOME is set")).join(".cargo")
    });
    let registry = home.join("registry/src");
    let found = std::fs::read_dir(&registry).into_iter().flatten().flatten().map(|e| e.path().join(format!("wamrx-sys-{version}/wasm-micro-runtime")))
        .find(|p| p.join("CMakeLists.txt").exists());
    found.unwrap_or_else(|| panic!("the WAMR sources of wamrx-sys {version} are not under {} (set WASM_MATRIX_WAMR_SOURCE to its wasm-micro-runtime folder)", registry.display()))
}

fn wamr_hwbound(version: &str, out: &std::path::Path) {
    let src = wamr_source(version);
    let target = match std::env::var("CARGO_CFG_TARGET_ARCH").as_deref() {
        Ok("x86_64") => "X86_64",
        Ok("aarch64") => "AARCH64",
        Ok(other) => panic!("wamr-hwbound: no WAMR target for {other}"),
        Err(_) => panic!("cargo sets CARGO_CFG_TARGET_ARCH"),
    };
    let dst = cmake::Config::new(&src)
        .out_dir(out.join("wamr-hwbound"))
        // The same build as wamrx-sys's defaults (fast interpreter, bulk
        // memory, reference types), but for the bounds checks.
        .define("WAMR_BUILD_INTERP", "1").define("WAMR_BUILD_FAST_INTERP", "1")
        .define("WAMR_BUILD_AOT", "0").define("WAMR_BUILD_JIT", "0").define("WAMR_BUILD_FAST_JIT", "0")
        .define("WAMR_BUILD_BULK_MEMORY", "1").define("WAMR_BUILD_REF_TYPES", "1")
        .define("WAMR_BUILD_TAIL_CALL", "0").define("WAMR_BUILD_GC", "0").define("WAMR_BUILD_SHARED_MEMORY", "0")
        .define("WAMR_BUILD_EXTENDED_CONST_EXPR", "0").define("WAMR_BUILD_SIMD", "0").define("WAMR_BUILD_LIB_SIMDE", "0")
        .define("WAMR_BUILD_CUSTOM_NAME_SECTION", "0").define("WAMR_BUILD_LOAD_CUSTOM_SECTION", "0")
        .define("WAMR_BUILD_DUMP_CALL_STACK", "0").define("WAMR_BUILD_MULTI_MODULE", "0").define("WAMR_BUILD_THREAD_MGR", "0")
        .define("WAMR_BUILD_PERF_PROFILING", "0").define("WAMR_BUILD_LIBC_BUILTIN", "0").define("WAMR_BUILD_LIBC_WASI", "0")
        .define("WAMR_DISABLE_HW_BOUND_CHECK", "0")
        .define("WAMR_BUILD_PLATFORM", "linux").define("WAMR_BUILD_TARGET", target)
        .build_target("vmlib")
        .build();
    let archive = dst.join("build/libiwasm.a");
    let nm = std::process::Command::new("nm").args(["-g", "--defined-only", "--format=posix"]).arg(&archive).output().expect("nm (binutils) runs");
    assert!(nm.status.success(), "nm {}: {}", archive.display(), String::from_utf8_lossy(&nm.stderr));
    let mut map = String::new();
    let mut seen = std::collections::BTreeSet::new();
    for line in String::from_utf8_lossy(&nm.stdout).lines() {
        let mut words = line.split_whitespace();
        if let (Some(name), Some(_kind)) = (words.next(), words.next()) {
            if !name.ends_with(':') && !name.ends_with(']') && seen.insert(name.to_string()) {
                let _ = writeln!(map, "{name} {HW_PREFIX}{name}");
            }
        }
    }
    let map_file = out.join("wamr-hwbound.syms");
    std::fs::write(&map_file, map).expect("OUT_DIR is writable");
    let renamed = out.join("libwamr_hwbound.a");
    let status = std::process::Command::new("objcopy").arg(format!("--redefine-syms={}", map_file.display())).arg(&archive).arg(&renamed)
        .status().expect("objcopy (binutils) runs");
    assert!(status.success(), "objcopy --redefine-syms on {} failed", archive.display());
    println!("cargo:rustc-link-search=native={}", out.display());
    println!("cargo:rustc-link-lib=static=wamr_hwbound");
}
