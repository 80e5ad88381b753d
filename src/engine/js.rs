//! JS shells (Node, Deno, Bun) running `drivers/harness/` over the worker
//! line protocol. Each column's [`Shell`] row says where its binary is found,
//! how it is started and how its version is read; the harness is the same
//! file for all of them (it feature-detects), built into this binary and
//! written to a cache file, so the tool works from any directory.

use std::path::{Path, PathBuf};

/// The JS harness shared by the shells and the browsers: one script, in six
/// files by job (drivers/harness/), in this order.
pub const HARNESS_JS: &str = concat!(
    include_str!("../../drivers/harness/values.js"),
    include_str!("../../drivers/harness/case.js"),
    include_str!("../../drivers/harness/glue.js"),
    include_str!("../../drivers/harness/testharness-run.js"),
    include_str!("../../drivers/harness/measures.js"),
    include_str!("../../drivers/harness/main.js"),
);

/// How one JS shell is found and started.
#[derive(Debug, Clone, Copy)]
pub struct Shell {
    /// The environment variable that names the binary.
    pub env: &'static str,
    /// The pinned build's folder under `drivers/runtimes/`, as
    /// `drivers/runtimes.txt` lists it ("" for none).
    pub local: &'static str,
    /// Names looked for on PATH (none for a pinned build: another version
    /// on PATH is not this column).
    pub path: &'static [&'static str],
    /// Arguments before the harness file.
    pub args: &'static [&'static str],
    /// How to install it, for the unavailable message.
    pub install_hint: &'static str,
}

/// The project-local runtimes folder: `drivers/runtimes` beside the
/// sources this binary was built from, or `WASM_MATRIX_RUNTIMES`.
pub fn runtimes_dir() -> PathBuf {
    match std::env::var_os("WASM_MATRIX_RUNTIMES") {
        Some(d) => PathBuf::from(d),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("drivers/runtimes"),
    }
}

/// The pinned runtimes `drivers/install.sh` installs: folder, npm package,
/// binary inside the folder, one a line.
pub const PINNED: &str = include_str!("../../drivers/runtimes.txt");

/// The binary inside a pinned runtime's folder, as `drivers/runtimes.txt` says.
pub fn pinned(folder: &str) -> Option<&'static str> {
    PINNED
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .find(|w| w.len() == 3 && !folder.is_empty() && w[0] == folder)
        .map(|w| w[2])
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    p.metadata().map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0).unwrap_or(false)
}

impl Shell {
    /// The binary: the environment variable, then the project-local
    /// install, then PATH; or why there is none.
    pub fn binary(&self) -> Result<PathBuf, String> {
        if let Some(p) = std::env::var_os(self.env) {
            return if is_executable(Path::new(&p)) {
                Ok(PathBuf::from(p))
            } else {
                Err(format!("{}={} is not an executable file", self.env, Path::new(&p).display()))
            };
        }
        let mut looked = Vec::new();
        if let Some(inside) = pinned(self.local) {
            let p = runtimes_dir().join(self.local).join(inside);
            if is_executable(&p) {
                return Ok(p);
            }
            looked.push(p.display().to_string());
        }
        for name in self.path {
            if let Ok(p) = which::which(name) {
                return Ok(p);
            }
            looked.push(format!("{name} on PATH"));
        }
        Err(format!("not found: looked for {} ({}, or set {})", looked.join(", "), self.install_hint, self.env))
    }

    /// The command that starts one harness process.
    pub fn command(&self) -> Result<(PathBuf, Vec<String>), String> {
        self.command_for(&harness_file()?)
    }

    /// The command that runs `script` in this shell.
    pub fn command_for(&self, script: &Path) -> Result<(PathBuf, Vec<String>), String> {
        let bin = self.binary()?;
        let mut args: Vec<String> = self.args.iter().map(|s| s.to_string()).collect();
        args.push(script.display().to_string());
        Ok((bin, args))
    }

    /// `BINARY --version`, reduced to the version: the first word of its
    /// first line that starts with a digit (or `v` and a digit).
    pub fn version(&self) -> Result<String, String> {
        let bin = self.binary()?;
        let out = std::process::Command::new(&bin).arg("--version").output().map_err(|e| format!("cannot run {}: {e}", bin.display()))?;
        let text = String::from_utf8_lossy(&out.stdout);
        let first = text.lines().next().unwrap_or_default();
        let word = first.split_whitespace().find(|w| {
            let w = w.strip_prefix('v').unwrap_or(w);
            w.starts_with(|c: char| c.is_ascii_digit())
        });
        Ok(word.unwrap_or(first).trim().to_string())
    }
}

/// Writes the harness to a cache file named by its content, once. It is a
/// `.cjs` file: a CommonJS script to every shell (Deno takes a `.js` file
/// without a package.json for an ES module).
pub fn harness_file() -> Result<PathBuf, String> {
    script_file("harness", HARNESS_JS)
}

/// The shells' probe script (`wasm-matrix probe`).
pub const PROBE_JS: &str = include_str!("../../drivers/probe.js");

/// Writes `text` to a cache file `wasm-matrix-NAME-HASH.cjs`, once.
pub fn script_file(name: &str, text: &str) -> Result<PathBuf, String> {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    text.hash(&mut h);
    let path = std::env::temp_dir().join(format!("wasm-matrix-{name}-{:016x}.cjs", h.finish()));
    if std::fs::read_to_string(&path).map(|t| t == text).unwrap_or(false) {
        return Ok(path);
    }
    // A name of its own per writer: every column of a run may write it at once.
    static WRITER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = WRITER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = path.with_extension(format!("{}.{n}.tmp", std::process::id()));
    std::fs::write(&tmp, text).and_then(|_| std::fs::rename(&tmp, &path)).map_err(|e| format!("cannot write the JS {name} to {}: {e}", path.display()))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{Launch, ENGINES};

    /// Every pinned shell's folder is in drivers/runtimes.txt, which
    /// install.sh installs from: the list is written once.
    #[test]
    fn every_pinned_shell_is_in_the_runtimes_list() {
        let mut pinned_rows = 0;
        for c in ENGINES {
            if let Launch::Js(shell) = c.launch {
                if !shell.local.is_empty() {
                    pinned_rows += 1;
                    assert!(pinned(shell.local).is_some(), "{}: `{}` is not in drivers/runtimes.txt", c.id, shell.local);
                }
            }
        }
        assert!(pinned_rows >= 5, "{pinned_rows}");
        assert_eq!(pinned("nowhere"), None);
        assert_eq!(pinned(""), None);
    }
}
