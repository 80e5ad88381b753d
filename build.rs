//! Records the engine crates' versions (from Cargo.lock) so every result can
//! name the exact engine it came from.

fn main() {
    println!("cargo:rerun-if-changed=Cargo.lock");
    let lock = std::fs::read_to_string("Cargo.lock").unwrap_or_default();
    for krate in ["wasmtime", "wasmer", "wasmi"] {
        let version = locked_version(&lock, krate).unwrap_or_else(|| "unknown".into());
        println!("cargo:rustc-env=WASM_MATRIX_{}_VERSION={version}", krate.to_uppercase());
    }
}

/// The version of the `[[package]]` entry named `name` in a Cargo.lock.
fn locked_version(lock: &str, name: &str) -> Option<String> {
    let needle = format!("name = \"{name}\"\n");
    let at = lock.find(&needle)? + needle.len();
    let line = lock[at..].lines().next()?;
    Some(line.strip_prefix("version = \"")?.trim_end_matches('"').to_string())
}
