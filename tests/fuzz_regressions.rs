//! Inputs that crashed or hung the loaders (found by the fuzz targets in
//! `fuzz/`, or by hand): each must load or be refused with an error, in
//! bounded time, never a panic.


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

/// Each input of `dir` through `parse`: no panic; how many. (How long
/// each takes is `bench`'s to measure, not a test's to assert.)
fn survive(dir: &str, parse: impl Fn(&str, &std::path::Path) -> Result<usize, String> + std::panic::RefUnwindSafe) -> usize {
    let inputs = each(dir);
    for (path, text) in &inputs {
        let result = std::panic::catch_unwind(|| parse(text, path));
        assert!(result.is_ok(), "{}: panicked", path.display());
    }
    inputs.len()
}

#[test]
fn the_case_loader_survives_its_regressions() {
    let n = survive("case_loader", |text, path| wasm_matrix::case::load::parse_case(text, path, "fuzz").map(|c| c.len()).map_err(|e| e.to_string()));
    assert!(n >= 3);
    // The vary product that used to hang: refused, saying why.
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fuzz_regressions/case_loader/vary-product-explosion.yaml")).unwrap();
    let err = wasm_matrix::case::load::parse_case(&text, std::path::Path::new("v.yaml"), "v").unwrap_err();
    assert!(err.to_string().contains("expands into more than 10000 cases"), "{err}");
}

#[test]
fn the_wast_importer_survives_its_regressions() {
    let n = survive("wast_importer", |text, path| wasm_matrix::case::wast::parse_wast(text, path, "fuzz.wast").map(|c| c.len()).map_err(|e| e.to_string()));
    assert!(n >= 2);
}
