//! Helpers shared by the integration tests.

/// Whether `engine` can run here. When it cannot, says why and skips —
/// unless `WASM_MATRIX_REQUIRE` names it (as CI does): then the test fails.
pub fn available_or_skip(engine: &str) -> bool {
    let spec = wasm_matrix::engine::spec(engine).expect("a known engine");
    match spec.availability() {
        Ok(_) => true,
        Err(why) => {
            let required = wasm_matrix::engine::required_from_env().expect("WASM_MATRIX_REQUIRE names known engines");
            assert!(!required.contains(&engine), "{engine} is required (WASM_MATRIX_REQUIRE) but unavailable: {why}");
            eprintln!("skipped: {engine} unavailable: {why}");
            false
        }
    }
}
