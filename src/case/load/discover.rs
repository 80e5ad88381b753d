//! Finding case files and .wast scripts under the paths given, and the
//! corpus root each belongs to.

use super::super::error::LoadError;
use crate::case::Case;
use super::load_file;
use std::path::{Path, PathBuf};

/// The file that lists known divergences; it also marks a corpus root.
pub const KNOWN_FILE: &str = "known-divergences.yaml";

/// Loads every case under `paths` (files or directories, recursively).
/// Cases come back sorted by id; errors in input order.
pub fn load_paths(paths: &[PathBuf]) -> (Vec<Case>, Vec<LoadError>) {
    let mut cases = Vec::new();
    let mut errors = Vec::new();
    if paths.is_empty() {
        errors.push(LoadError::whole(Path::new("."), "no case paths given: name a case file or directory (e.g. `cases`)"));
    }
    let mut files = Vec::new();
    for path in paths {
        match case_files(path) {
            Ok(mut f) => files.append(&mut f),
            Err(e) => errors.push(e),
        }
    }
    // Paths under different roots, none of them a corpus (no
    // known-divergences.yaml): ids are relative to what they have in common,
    // so that `run data/wasm-v2 data/wasm-latest` keeps both trees apart
    // (`wasm-v2/memory.wast`, `wasm-latest/memory.wast`).
    let mut roots: Vec<&PathBuf> = files.iter().map(|(_, r)| r).collect();
    roots.sort();
    roots.dedup();
    if roots.len() > 1 && roots.iter().all(|r| !r.join(KNOWN_FILE).is_file()) {
        let common = common_ancestor(&roots);
        for (_, root) in &mut files {
            *root = common.clone();
        }
    }
    // Files load on every core, each thread a contiguous slice, so that the
    // results keep the files' order.
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1).min(files.len().div_ceil(64)).max(1);
    let chunk = files.len().div_ceil(threads).max(1);
    let loaded: Vec<Vec<Result<Vec<Case>, LoadError>>> = std::thread::scope(|s| {
        let handles: Vec<_> = files
            .chunks(chunk)
            .map(|part| s.spawn(move || part.iter().map(|(file, root)| load_file(file, root)).collect::<Vec<_>>()))
            .collect();
        handles.into_iter().map(|h| h.join().expect("a case file's loading does not panic")).collect()
    });
    for result in loaded.into_iter().flatten() {
        match result {
            Ok(mut c) => cases.append(&mut c),
            Err(e) => errors.push(e),
        }
    }
    cases.sort_by(|a, b| a.id.cmp(&b.id));
    // The same case reached through two paths runs once.
    cases.dedup_by(|a, b| a.id == b.id && a.file == b.file);
    for pair in cases.windows(2) {
        if pair[0].id == pair[1].id {
            errors.push(LoadError::whole(
                &pair[1].file,
                format!("case id `{}` is also used by {}", pair[1].id, pair[0].file.display()),
            ));
        }
    }
    (cases, errors)
}

/// The deepest directory that holds all of `dirs`.
pub(super) fn common_ancestor(dirs: &[&PathBuf]) -> PathBuf {
    let mut common = dirs[0].to_path_buf();
    while !dirs.iter().all(|d| d.starts_with(&common)) {
        if !common.pop() {
            break;
        }
    }
    common
}

/// The directory case ids are relative to: the nearest ancestor of `path`
/// (itself included) that holds `known-divergences.yaml`, else `path` itself
/// (for a file, its directory).
pub fn corpus_root(path: &Path) -> PathBuf {
    let start = if path.is_dir() { path.to_path_buf() } else { path.parent().unwrap_or(Path::new(".")).to_path_buf() };
    let abs = std::fs::canonicalize(&start).unwrap_or(start.clone());
    let mut dir = Some(abs.as_path());
    while let Some(d) = dir {
        if d.join(KNOWN_FILE).is_file() {
            return d.to_path_buf();
        }
        dir = d.parent();
    }
    abs
}

/// The case files under `path`, each with the root its id is relative to.
pub(super) fn case_files(path: &Path) -> Result<Vec<(PathBuf, PathBuf)>, LoadError> {
    let meta = std::fs::metadata(path)
        .map_err(|e| LoadError::whole(path, format!("cannot read: {e} (expected a case file or a directory of them)")))?;
    let root = corpus_root(path);
    if meta.is_file() {
        if !is_case_file(path) {
            return Err(LoadError::whole(path, "not a case file: expected a `.yaml`, `.yml` or `.wast` file, or a testharness `.any.js` file"));
        }
        return Ok(vec![(path.to_path_buf(), root)]);
    }
    let mut files = Vec::new();
    walk_files(path, &is_case_file, &mut files).map_err(|e| LoadError::whole(path, format!("cannot read directory: {e}")))?;
    files.sort();
    if files.is_empty() {
        return Err(LoadError::whole(path, "no case files (*.yaml, *.wast, *.any.js) in this directory"));
    }
    Ok(files.into_iter().map(|f| (f, root.clone())).collect())
}

pub(super) fn is_case_file(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    (name.ends_with(".yaml") || name.ends_with(".yml") || name.ends_with(".wast") || name.ends_with(".any.js")) && name != KNOWN_FILE
}

/// The files under `dir` (recursively) that `wanted` takes.
pub fn walk_files(dir: &Path, wanted: &dyn Fn(&Path) -> bool, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            walk_files(&path, wanted, out)?;
        } else if wanted(&path) {
            out.push(path);
        }
    }
    Ok(())
}
