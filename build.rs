//! Records the locked version of every dependency (from Cargo.lock) as a
//! constant, `locked::WASMTIME` for the `wasmtime` package, so every result
//! can name the exact engine it came from. Packages locked at more than one
//! version get no constant (their name does not say which).

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
}
