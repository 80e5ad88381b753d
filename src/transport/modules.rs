//! A run's large modules, sent once and as bytes. A case whose module is
//! [`BY_REFERENCE`] bytes or more does not carry it hex-encoded in every
//! request line (a 31 MiB module was a 62 MB line, five times per column):
//! the runner writes it once to a file named by its sha256, and the request
//! names it ([`ModuleRef`]). A worker or a JS shell reads the file (once per
//! process: they keep it by hash), a browser page fetches it from the
//! loopback harness server (`/module/SHA256`), and each keeps the module it
//! compiled by hash across the run's cases (a `compile` step still compiles
//! afresh: its time is what it measures).

use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;

/// Modules this large or larger travel by reference.
pub const BY_REFERENCE: usize = 64 << 10;

/// A module written for the run: its hash, where it is, how long.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModuleRef {
    pub sha256: String,
    pub path: PathBuf,
    pub len: usize,
}

/// The run's modules by hash, in a folder of their own that goes with it
/// (made when the first large module comes: most runs have none).
pub struct ModuleStore {
    dir: std::sync::OnceLock<Option<tempfile::TempDir>>,
    by_hash: Mutex<HashMap<String, ModuleRef>>,
}

impl ModuleStore {
    pub fn new() -> ModuleStore {
        ModuleStore { dir: std::sync::OnceLock::new(), by_hash: Mutex::new(HashMap::new()) }
    }

    /// The reference for `bytes`, written on first use; none for a small
    /// module (or where it cannot be written: it then travels inline).
    pub fn put(&self, bytes: &[u8]) -> Option<ModuleRef> {
        if bytes.len() < BY_REFERENCE {
            return None;
        }
        // Without a folder (none could be made) modules travel inline.
        let dir = self.dir.get_or_init(|| tempfile::Builder::new().prefix("wasm-matrix-modules-").tempdir().ok()).as_ref()?;
        let sha256 = sha256_hex(bytes);
        let mut map = self.by_hash.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(r) = map.get(&sha256) {
            return Some(r.clone());
        }
        let path = dir.path().join(format!("{sha256}.wasm"));
        std::fs::write(&path, bytes).ok()?;
        let r = ModuleRef { sha256: sha256.clone(), path, len: bytes.len() };
        map.insert(sha256, r.clone());
        Some(r)
    }

    /// The file of a module the run wrote, by hash (the harness server).
    pub fn path(&self, sha256: &str) -> Option<PathBuf> {
        self.by_hash.lock().unwrap_or_else(|p| p.into_inner()).get(sha256).map(|r| r.path.clone())
    }
}

impl Default for ModuleStore {
    fn default() -> Self {
        ModuleStore::new()
    }
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// A process's side: the modules it read, by hash, the most recent kept
/// (a worker holds at most [`KEPT_BYTES`] of them).
#[derive(Default)]
pub struct Received {
    kept: Vec<(String, std::sync::Arc<[u8]>)>,
}

/// The most module bytes a process keeps.
pub const KEPT_BYTES: usize = 128 << 20;

impl Received {
    /// The bytes of `r`, read from its file on first use.
    pub fn bytes(&mut self, r: &ModuleRef) -> Result<std::sync::Arc<[u8]>, String> {
        if let Some(pos) = self.kept.iter().position(|(h, _)| *h == r.sha256) {
            let entry = self.kept.remove(pos);
            let bytes = entry.1.clone();
            self.kept.push(entry);
            return Ok(bytes);
        }
        let bytes = std::fs::read(&r.path).map_err(|e| format!("cannot read the module the runner wrote ({}): {e}", r.path.display()))?;
        if bytes.len() != r.len {
            return Err(format!("{}: {} bytes, the runner wrote {}", r.path.display(), bytes.len(), r.len));
        }
        let bytes: std::sync::Arc<[u8]> = bytes.into();
        self.kept.push((r.sha256.clone(), bytes.clone()));
        while self.kept.iter().map(|(_, b)| b.len()).sum::<usize>() > KEPT_BYTES && self.kept.len() > 1 {
            self.kept.remove(0);
        }
        Ok(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_large_module_is_written_once_and_read_back_by_hash() {
        let store = ModuleStore::new();
        assert_eq!(store.put(&[0u8; 100]), None, "small modules travel inline");
        let big: Vec<u8> = (0..BY_REFERENCE + 7).map(|i| i as u8).collect();
        let r = store.put(&big).unwrap();
        assert_eq!(store.put(&big).unwrap(), r, "written once");
        assert_eq!(store.path(&r.sha256), Some(r.path.clone()));
        let mut got = Received::default();
        assert_eq!(*got.bytes(&r).unwrap(), big);
        std::fs::remove_file(&r.path).unwrap();
        assert_eq!(*got.bytes(&r).unwrap(), big, "kept by hash: not read again");
    }
}
