//! A raw case file -> a [`Case`]: the module, imports, host set-up and the
//! plan its steps make.

use super::ctx::{none_if_empty, Ctx};
use super::step::build_step;
use super::raw::*;
use super::super::error::LoadError;
use crate::case::*;
use super::super::module::ModuleInfo;
use super::super::spans::{block_step_lines, LazySpans};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Weak};
use std::time::SystemTime;


pub(super) fn build(raw: RawCase, file: &Path, id: String, spans: &LazySpans, vary: BTreeMap<String, String>) -> Result<Case, LoadError> {
    // The scan must find one line per step, or it is not used.
    let step_lines = block_step_lines(spans.text()).filter(|l| l.len() == raw.steps.len());
    let cx = Ctx { file, spans, step_lines };
    if raw.timeout.is_some_and(|t| !(t > 0.0 && t.is_finite())) {
        return Err(cx.err("timeout", "`timeout` must be a positive number of seconds"));
    }
    let needs_memory = size(raw.needs_memory.as_ref(), "needs_memory", &cx)?;
    let memory_budget = size(raw.memory_budget.as_ref(), "memory_budget", &cx)?;
    if let (Some(need), Some(budget)) = (needs_memory, memory_budget) {
        if need > budget {
            return Err(cx.err("memory_budget", format!("the case's budget ({}) is below what it says it needs (needs_memory: {})", crate::budget::show(budget), crate::budget::show(need))));
        }
    }
    if raw.summary.trim().is_empty() {
        return Err(cx.err("summary", "`summary` must say what the case checks"));
    }
    let mut modules = Vec::new();
    let mut named: BTreeMap<String, (usize, ModuleInfo)> = BTreeMap::new();
    for (name, wat) in &raw.modules {
        let key = format!("modules.{name}");
        let wasm = compile_wat(wat, &key, &cx)?;
        let info = ModuleInfo::read(&wasm).map_err(|e| cx.err(&key, format!("cannot read the compiled module: {e}")))?;
        named.insert(name.clone(), (modules.len(), info));
        modules.push(Wasm(wasm));
    }
    let (wasm, info) = match (&raw.module, &raw.module_file) {
        (Some(_), Some(_)) => {
            return Err(cx.err("module_file", "a case takes its module from `module` (WAT text) or from `module_file` (a .wasm file), not both"));
        }
        (Some(wat), None) => {
            let wasm = compile_wat(wat, "module", &cx)?;
            let info = ModuleInfo::read(&wasm).map_err(|e| cx.err("module", format!("cannot read the compiled module: {e}")))?;
            (Some(Arc::from(wasm)), Some(info))
        }
        (None, Some(path)) => {
            let wasm = read_module_file(path, &cx)?;
            let info = ModuleInfo::read(&wasm).map_err(|e| cx.err("module_file", format!("`{path}` is not a whole WebAssembly module: {e}")))?;
            (Some(wasm), Some(info))
        }
        (None, None) => (None, None),
    };

    let mut steps = Vec::new();
    let mut host_memories: Vec<(String, AddressType)> = Vec::new();
    let mut has_instantiate = false;
    // The instance `invoke` and `get` use without `instance`: a `module: NAME`
    // step's, else the main module's.
    let mut current: Option<String> = None;
    let glue = match &raw.glue {
        Some(g) => Some(read_glue(g, raw.module_file.is_some(), &cx)?),
        None => None,
    };
    for (i, rs) in raw.steps.into_iter().enumerate() {
        let path = format!("steps.{i}");
        let (action, mut step) = build_step(rs, &path, &cx, info.as_ref(), &named, current.as_deref(), &host_memories, glue.is_some())?;
        step.line = cx.step_line(i, &path);
        match &action {
            Action::Module { name, .. } => current = name.clone(),
            Action::Instantiate => current = None,
            _ => {}
        }
        if let Action::NewMemory { name, address, .. } = &action {
            if host_memories.iter().any(|(n, _)| n == name) {
                return Err(cx.err(&format!("{path}.new_memory.as"), format!("a memory named `{name}` is already made by an earlier step")));
            }
            host_memories.push((name.clone(), *address));
        }
        // A case that compiles or counts instances itself says when it instantiates.
        // The glue instantiates the module itself.
        has_instantiate |= matches!(action, Action::Instantiate | Action::Compile | Action::Instances { .. } | Action::GlueStart);
        steps.push((action, step));
    }
    if steps.is_empty() && wasm.is_none() {
        return Err(cx.err("summary", "a case needs `steps` or a `module` (expected at least one of them)"));
    }
    if wasm.is_some() && !has_instantiate {
        let at = steps.iter().position(|(a, _)| !matches!(a, Action::NewMemory { .. })).unwrap_or(steps.len());
        steps.insert(at, (Action::Instantiate, Step { implicit: true, ..Step::new(Expect::Ok) }));
    }

    let (imports, stubs) = imports(&raw.imports, info.as_ref(), &host_memories, &cx)?;
    let plan = Plan { host: raw.host, imports, stubs, modules, glue, ..Plan::of(wasm, raw.features) };
    Ok(Case {
        summary: raw.summary,
        tags: raw.tags,
        source: raw.source,
        wat: raw.module,
        vary,
        timeout: raw.timeout,
        needs_memory,
        memory_budget,
        runs_on: raw.runs_on,
        ..Case::new(id, file.to_path_buf(), steps, plan)
    })
}

/// A size key (`4GiB`, `512MiB`, bytes as the `--memory-budget` option
/// reads them, or `65536 pages` of 64 KiB, which `vary` can fill in).
fn size(value: Option<&serde_yaml::Value>, key: &str, cx: &Ctx) -> Result<Option<u64>, LoadError> {
    let text = match value {
        None => return Ok(None),
        Some(serde_yaml::Value::String(s)) => s.clone(),
        Some(serde_yaml::Value::Number(n)) => n.to_string(),
        Some(_) => return Err(cx.err(key, format!("`{key}` is a size: expected e.g. 4GiB, 512MiB or 65536 pages"))),
    };
    if let Some(n) = text.trim().strip_suffix("pages").map(str::trim) {
        return match n.parse::<u64>().ok().filter(|n| *n > 0).and_then(|n| n.checked_mul(65536)) {
            Some(bytes) => Ok(Some(bytes)),
            None => Err(cx.err(key, format!("`{text}`: expected a positive number of 64 KiB pages"))),
        };
    }
    match crate::budget::parse(&text) {
        Ok(Some(bytes)) => Ok(Some(bytes)),
        Ok(None) => Err(cx.err(key, format!("`{key}` is a size: expected e.g. 4GiB or 512MiB, not `{text}`"))),
        Err(e) => Err(cx.err(key, format!("`{key}`: {e}"))),
    }
}

/// The largest glue file read (Emscripten's loaders are tens of KiB).
const MAX_GLUE_BYTES: u64 = 4 << 20;

/// `glue`: the toolchain's loader beside the case file, which the glue
/// steps run with the case's `module_file`.
fn read_glue(g: &RawGlue, has_module_file: bool, cx: &Ctx) -> Result<Glue, LoadError> {
    if !has_module_file {
        return Err(cx.err("glue", "the glue loads the case's module: the case needs a `module_file` (the .wasm the toolchain wrote beside it)"));
    }
    if g.kind == GlueKind::Emscripten && g.factory.as_deref().is_none_or(|f| f.trim().is_empty()) {
        return Err(cx.err("glue.factory", "an Emscripten glue needs `factory`: the build's EXPORT_NAME (a MODULARIZE build's factory function)"));
    }
    let bytes = read_beside(&g.file, "glue.file", MAX_GLUE_BYTES, cx)?;
    let text = |bytes: Vec<u8>, key: &str, name: &str| String::from_utf8(bytes).map_err(|e| cx.err(key, format!("`{name}` is not UTF-8 text: {e}")));
    let script = text(bytes, "glue.file", &g.file)?;
    let mut files = Vec::new();
    for (i, name) in g.files.iter().enumerate() {
        let key = format!("glue.files.{i}");
        if name.contains('/') || name.contains('\\') {
            return Err(cx.err(&key, format!("`{name}`: a file the glue loads by name lies beside it (a name, no folder)")));
        }
        let script = text(read_beside(name, &key, MAX_GLUE_BYTES, cx)?, &key, name)?;
        files.push(GlueFile { name: name.clone(), path: absolute_beside(name, cx), script });
    }
    Ok(Glue { kind: g.kind, file: g.file.clone(), factory: g.factory.clone(), script, path: absolute_beside(&g.file, cx), files })
}

/// The absolute path of a file beside the case file.
fn absolute_beside(name: &str, cx: &Ctx) -> String {
    let full = cx.file.parent().unwrap_or(Path::new(".")).join(name);
    std::path::absolute(&full).unwrap_or(full).display().to_string()
}

/// The largest module file read: real modules (ffmpeg's core) are tens of MiB.
const MAX_MODULE_BYTES: u64 = 256 << 20;

/// A `module_file`: the bytes of a WebAssembly binary beside the case file.
/// The cases that name one file (a `vary` sweep, an audit's cases of a
/// module) share one copy, read once while any of them holds it.
fn read_module_file(path: &str, cx: &Ctx) -> Result<Arc<[u8]>, LoadError> {
    static READ: Mutex<Vec<(PathBuf, SystemTime, Weak<[u8]>)>> = Mutex::new(Vec::new());
    let full = cx.file.parent().unwrap_or(Path::new(".")).join(path);
    let stamp = std::fs::canonicalize(&full).ok().zip(std::fs::metadata(&full).and_then(|m| m.modified()).ok());
    let mut read = READ.lock().unwrap_or_else(|p| p.into_inner());
    read.retain(|(_, _, w)| w.strong_count() > 0);
    if let Some((at, modified)) = &stamp {
        if let Some(bytes) = read.iter().find(|(p, m, _)| p == at && m == modified).and_then(|(_, _, w)| w.upgrade()) {
            return Ok(bytes);
        }
    }
    let bytes = read_beside(path, "module_file", MAX_MODULE_BYTES, cx)?;
    if !bytes.starts_with(b"\0asm") {
        return Err(cx.err("module_file", format!("`{path}` is not a WebAssembly binary: expected a file that starts with \\0asm")));
    }
    let bytes: Arc<[u8]> = bytes.into();
    if let Some((at, modified)) = stamp {
        read.push((at, modified, Arc::downgrade(&bytes)));
    }
    Ok(bytes)
}

/// A file the case names (`key`), relative to the case file, at most `max` bytes.
fn read_beside(path: &str, key: &str, max: u64, cx: &Ctx) -> Result<Vec<u8>, LoadError> {
    let full = cx.file.parent().unwrap_or(Path::new(".")).join(path);
    let size = std::fs::metadata(&full).map_err(|e| cx.err(key, format!("cannot read `{}`: {e}", full.display())))?.len();
    if size > max {
        return Err(cx.err(key, format!("`{path}` is {}, larger than a `{key}` may be ({})", crate::budget::show(size), crate::budget::show(max))));
    }
    std::fs::read(&full).map_err(|e| cx.err(key, format!("cannot read `{}`: {e}", full.display())))
}

pub(super) fn compile_wat(wat: &str, key: &str, cx: &Ctx) -> Result<Vec<u8>, LoadError> {
    let fail = |err: ::wast::Error| {
        let (line, col) = err.span().linecol_in(wat);
        let pos = cx.spans.get().inside(key, line + 1, col + 1);
        LoadError::new(cx.file, pos, format!("WAT does not parse: {} (WAT line {}, column {})", err.message(), line + 1, col + 1))
    };
    let buf = ::wast::parser::ParseBuffer::new(wat).map_err(fail)?;
    let mut parsed: ::wast::Wat = ::wast::parser::parse(&buf).map_err(fail)?;
    parsed.encode().map_err(fail)
}


/// The case's `imports`: memory imports bound to the memories its
/// `new_memory` steps make, and imports stubbed as the module declares them.
fn imports(raw: &RawImports, info: Option<&ModuleInfo>, host_memories: &[(String, AddressType)], cx: &Ctx) -> Result<(Vec<MemoryImport>, Vec<crate::case::module::ImportStub>), LoadError> {
    let mut imports = Vec::new();
    let mut stubs = Vec::new();
    let map = match raw {
        RawImports::All(word) if word == "stub" => {
            let info = info.ok_or_else(|| cx.err("imports", "`imports: stub` stubs a module's imports: the case needs a `module` or `module_file`"))?;
            stubs = info.imports.clone();
            BTreeMap::new()
        }
        RawImports::All(other) => return Err(cx.err("imports", format!("expected `stub` or a map of `module.name` to a memory's name or `stub`, found `{other}`"))),
        RawImports::Some(map) => map.clone(),
    };
    for (key, memory) in &map {
        let at = format!("imports.{key}");
        if memory == "stub" {
            let stub = info.and_then(|i| i.imports.iter().find(|s| format!("{}.{}", s.module, s.name) == *key));
            match stub {
                Some(s) => stubs.push(s.clone()),
                None => return Err(cx.err(&at, format!("the module imports nothing named `{key}`"))),
            }
            continue;
        }
        let (module, name) = key
            .split_once('.')
            .ok_or_else(|| cx.err(&at, format!("import `{key}` must be written `module.name` (e.g. `env.memory`)")))?;
        if !host_memories.iter().any(|(n, _)| n == memory) {
            return Err(cx.err(&at, format!("import `{key}` names memory `{memory}`, but no `new_memory` step makes it")));
        }
        if let Some(info) = info {
            if !info.memory_imports.iter().any(|(m, n)| m == module && n == name) {
                let list: Vec<String> = info.memory_imports.iter().map(|(m, n)| format!("{m}.{n}")).collect();
                return Err(cx.err(&at, format!("the module imports no memory `{key}` (memory imports: {})", none_if_empty(&list))));
            }
        }
        imports.push(MemoryImport { module: module.into(), name: name.into(), memory: memory.clone() });
    }

    Ok((imports, stubs))
}
