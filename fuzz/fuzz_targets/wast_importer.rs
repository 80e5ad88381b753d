//! The .wast importer on arbitrary text: scripts -> cases.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = wasm_matrix::case::wast::parse_wast(text, std::path::Path::new("fuzz.wast"), "fuzz.wast");
    }
});
