//! V8 through Node.js: `node harness.js`, speaking the worker line protocol.
//! The harness (drivers/harness.js) is built into this binary and written to
//! a cache file, so the tool works from any directory.

use std::path::{Path, PathBuf};

/// Where the Node binary is taken from when set.
pub const NODE_ENV: &str = "WASM_MATRIX_NODE";

/// The JS harness shared by Node and the browsers.
pub const HARNESS_JS: &str = include_str!("../../drivers/harness.js");

/// V8 flags for proposals Node ships behind a flag (the way spec-test
/// runners switch them on). Unknown to a newer Node they are harmless.
const V8_FLAGS: &[&str] = &["--experimental-wasm-memory64"];

/// Finds `name` on PATH.
pub fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|d| d.join(name)).find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    p.metadata().map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0).unwrap_or(false)
}

/// The Node binary, or why there is none.
pub fn binary() -> Result<PathBuf, String> {
    match std::env::var_os(NODE_ENV) {
        Some(p) if is_executable(Path::new(&p)) => Ok(PathBuf::from(p)),
        Some(p) => Err(format!("{NODE_ENV}={} is not an executable file", Path::new(&p).display())),
        None => which("node").ok_or_else(|| format!("node not found on PATH (install Node.js or set {NODE_ENV})")),
    }
}

/// Writes the harness to a cache file named by its content, once.
pub fn harness_file() -> Result<PathBuf, String> {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    HARNESS_JS.hash(&mut h);
    let path = std::env::temp_dir().join(format!("wasm-matrix-harness-{:016x}.js", h.finish()));
    if std::fs::read_to_string(&path).map(|t| t == HARNESS_JS).unwrap_or(false) {
        return Ok(path);
    }
    let tmp = path.with_extension(format!("{}.tmp", std::process::id()));
    std::fs::write(&tmp, HARNESS_JS).and_then(|_| std::fs::rename(&tmp, &path)).map_err(|e| format!("cannot write the JS harness to {}: {e}", path.display()))?;
    Ok(path)
}

/// The command that starts a Node worker.
pub fn command() -> Result<(PathBuf, Vec<String>), String> {
    let node = binary()?;
    let harness = harness_file()?;
    let mut args: Vec<String> = V8_FLAGS.iter().map(|s| s.to_string()).collect();
    args.push(harness.display().to_string());
    Ok((node, args))
}

/// `node --version`, for listings.
pub fn version() -> Result<String, String> {
    let node = binary()?;
    let out = std::process::Command::new(&node).arg("--version").output().map_err(|e| format!("cannot run {}: {e}", node.display()))?;
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}
