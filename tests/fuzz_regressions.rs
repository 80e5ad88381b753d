//! Inputs that crashed or hung the loaders (found by the fuzz targets in
//! `fuzz/`, or by hand): each must load or be refused with an error, in
//! bounded time, never a panic.

use std::time::{Duration, Instant};

fn each(dir: &str) -> Vec<(std::path::PathBuf, String)> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz_regressions").join(dir);
    let mut out: Vec<_> = std::fs::read_dir(&path)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .map(|p| {
            let text = String::from_utf8_lossy(&std::fs::read(&p).unwrap()).into_owned();
            (p, text)
        })
        .collect();
    out.sort();
    out
}

#[test]
fn the_case_loader_survives_its_regressions() {
    let inputs = each("case_loader");
    assert!(inputs.len() >= 3);
    for (path, text) in inputs {
        let start = Instant::now();
        let result = std::panic::catch_unwind(|| wasm_matrix::case::load::parse_case(&text, &path, "fuzz").map(|c| c.len()));
        assert!(result.is_ok(), "{}: the loader panicked", path.display());
        assert!(start.elapsed() < Duration::from_secs(5), "{}: took {:?}", path.display(), start.elapsed());
    }
    // The vary product that used to hang: refused, saying why.
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fuzz_regressions/case_loader/vary-product-explosion.yaml")).unwrap();
    let err = wasm_matrix::case::load::parse_case(&text, std::path::Path::new("v.yaml"), "v").unwrap_err();
    assert!(err.to_string().contains("expands into more than 10000 cases"), "{err}");
}

#[test]
fn the_wast_importer_survives_its_regressions() {
    let inputs = each("wast_importer");
    assert!(inputs.len() >= 2);
    for (path, text) in inputs {
        let start = Instant::now();
        let result = std::panic::catch_unwind(|| wasm_matrix::case::wast::parse_wast(&text, &path, "fuzz.wast").map(|c| c.len()));
        assert!(result.is_ok(), "{}: the importer panicked", path.display());
        assert!(start.elapsed() < Duration::from_secs(5), "{}: took {:?}", path.display(), start.elapsed());
    }
}
