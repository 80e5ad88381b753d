//! The case loader on arbitrary text: YAML -> cases, `vary` expansion,
//! validation, WAT. It must return cases or an error, never panic or hang.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = wasm_matrix::case::load::parse_case(text, std::path::Path::new("fuzz.yaml"), "fuzz");
    }
});
