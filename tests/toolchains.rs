//! The toolchain corpus (cases/toolchains): its .wasm files (and the JS
//! glue beside them) are what build.sh makes from src/ with Debian's clang
//! 14, wasm-ld 14 and 19, AssemblyScript (npm), Emscripten 3.1.6, rustc
//! 1.63 and Go 1.19 — every one of them byte for byte reproducible here. When those are here, the script runs into a
//! temporary folder and the bytes must match the committed ones (the cases
//! themselves run in tests/cases.rs).

use std::path::Path;
use std::process::Command;

#[test]
fn the_committed_modules_are_what_build_sh_makes() {
    let here = Path::new(env!("CARGO_MANIFEST_DIR")).join("cases/toolchains");
    let runs = |p: &str| Command::new(p).arg("--version").output().is_ok_and(|o| o.status.success());
    let have = runs("clang")
        && runs("npm")
        && runs("emcc")
        && Command::new("go").arg("version").output().is_ok_and(|o| o.status.success())
        && Path::new("/usr/bin/rustc").is_file()
        && Path::new("/usr/lib/rustlib/wasm32-unknown-unknown").is_dir()
        && Path::new("/usr/lib/wasm32-wasi/libc.a").is_file()
        && Path::new("/usr/lib/llvm-19/bin/wasm-ld").is_file();
    if !have {
        // CI (every engine required) installs them: there a missing
        // toolchain fails the test instead of skipping the comparison.
        assert!(std::env::var_os("WASM_MATRIX_REQUIRE").is_none(), "clang, wasi-libc, lld-19, npm, emscripten, Debian's rustc with its wasm32 std and Go are required here: cases/toolchains/build.sh installs them");
        eprintln!("skipped: clang, wasi-libc, lld-19, npm, emscripten, rustc and go are not all here (cases/toolchains/build.sh installs them)");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let o = Command::new("bash").arg(here.join("build.sh")).arg(tmp.path()).output().unwrap();
    assert!(o.status.success(), "{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    let mut compared = 0;
    for entry in std::fs::read_dir(&here).unwrap() {
        let p = entry.unwrap().path();
        // The modules and the glue written beside them (Emscripten's .js, Go's wasm_exec.js).
        if p.extension().is_some_and(|e| e == "wasm" || e == "js") {
            let built = std::fs::read(tmp.path().join(p.file_name().unwrap())).unwrap_or_else(|e| panic!("build.sh did not make {}: {e}", p.display()));
            assert!(built == std::fs::read(&p).unwrap(), "{} differs from what build.sh makes now: rebuild and commit it", p.display());
            compared += 1;
        }
    }
    assert!(compared >= 35, "{compared}");
}
