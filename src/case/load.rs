//! Loading case files: YAML -> validated [`Case`]s.
//!
//! Every error names the file, line and column and what was expected. A bad
//! file never stops the others from loading: [`load_paths`] returns the
//! cases it could load beside the errors.

use super::model::*;
use super::module::ModuleInfo;
use super::spans::{block_step_lines, LazySpans, Pos};
use serde::Deserialize;
use serde_yaml::Value as Yaml;
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The file that lists known divergences; it also marks a corpus root.
pub const KNOWN_FILE: &str = "known-divergences.yaml";

/// A problem with an input file, with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError {
    pub file: PathBuf,
    /// 1-based; 0 when the problem is the file as a whole.
    pub line: usize,
    pub col: usize,
    pub message: String,
}

impl LoadError {
    pub fn new(file: &Path, pos: Pos, message: impl Into<String>) -> Self {
        LoadError { file: file.to_owned(), line: pos.line, col: pos.col, message: message.into() }
    }

    pub fn whole(file: &Path, message: impl Into<String>) -> Self {
        LoadError { file: file.to_owned(), line: 0, col: 0, message: message.into() }
    }

    /// From a serde_yaml error, whose position (if any) is kept.
    pub fn yaml(file: &Path, err: &serde_yaml::Error) -> Self {
        let text = err.to_string();
        match err.location() {
            Some(loc) => {
                // serde_yaml says " at line L column C"; the position goes in front instead.
                let message = strip_position(&text);
                LoadError { file: file.to_owned(), line: loc.line(), col: loc.column(), message }
            }
            None => LoadError::whole(file, text),
        }
    }
}

/// Removes serde_yaml's " at line L column C" from a message.
fn strip_position(text: &str) -> String {
    let Some(i) = text.find(" at line ") else { return text.to_string() };
    let rest = &text[i + " at line ".len()..];
    let digits = |s: &str| s.len() - s.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    let n = digits(rest);
    let after = &rest[n..];
    match after.strip_prefix(" column ") {
        Some(col) => format!("{}{}", &text[..i], &col[digits(col)..]),
        None => text.to_string(),
    }
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file.display(), self.message)
        } else {
            write!(f, "{}:{}:{}: {}", self.file.display(), self.line, self.col, self.message)
        }
    }
}

impl std::error::Error for LoadError {}

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
fn common_ancestor(dirs: &[&PathBuf]) -> PathBuf {
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
fn case_files(path: &Path) -> Result<Vec<(PathBuf, PathBuf)>, LoadError> {
    let meta = std::fs::metadata(path)
        .map_err(|e| LoadError::whole(path, format!("cannot read: {e} (expected a case file or a directory of them)")))?;
    let root = corpus_root(path);
    if meta.is_file() {
        if !is_case_file(path) {
            return Err(LoadError::whole(path, "not a case file: expected a `.yaml`, `.yml` or `.wast` file"));
        }
        return Ok(vec![(path.to_path_buf(), root)]);
    }
    let mut files = Vec::new();
    walk(path, &mut files).map_err(|e| LoadError::whole(path, format!("cannot read directory: {e}")))?;
    files.sort();
    if files.is_empty() {
        return Err(LoadError::whole(path, "no case files (*.yaml, *.wast) in this directory"));
    }
    Ok(files.into_iter().map(|f| (f, root.clone())).collect())
}

fn is_case_file(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    (name.ends_with(".yaml") || name.ends_with(".yml") || name.ends_with(".wast")) && name != KNOWN_FILE
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            walk(&path, out)?;
        } else if is_case_file(&path) {
            out.push(path);
        }
    }
    Ok(())
}

/// The largest case file read: the corpus's largest is a few KiB; a bigger
/// one is a mistake (or hostile), and would cost its size several times over
/// in YAML readings.
pub const MAX_CASE_BYTES: u64 = 4 << 20;
/// The most cases one file's `vary` may expand into.
pub const MAX_VARY_CASES: usize = 10_000;
/// The largest .wast script read (the spec suite's largest is under 2 MiB).
pub const MAX_SCRIPT_BYTES: u64 = 64 << 20;

/// Loads one case file; `vary` makes it several cases.
pub fn load_file(file: &Path, root: &Path) -> Result<Vec<Case>, LoadError> {
    let script = file.extension().is_some_and(|e| e == "wast");
    let limit = if script { MAX_SCRIPT_BYTES } else { MAX_CASE_BYTES };
    let size = std::fs::metadata(file).map_err(|e| LoadError::whole(file, format!("cannot read: {e}")))?.len();
    if size > limit {
        return Err(LoadError::whole(
            file,
            format!("{} MiB is larger than a {} may be ({} MiB)", size >> 20, if script { ".wast script" } else { "case file" }, limit >> 20),
        ));
    }
    let text = std::fs::read_to_string(file).map_err(|e| match e.kind() {
        std::io::ErrorKind::InvalidData => LoadError::whole(file, "is not UTF-8 text: expected a YAML case file or a .wast script"),
        _ => LoadError::whole(file, format!("cannot read: {e}")),
    })?;
    // The directory is resolved, not the file: a symlinked script keeps the
    // name and place it has under the corpus.
    let dir = file.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let abs = match (std::fs::canonicalize(dir), file.file_name()) {
        (Ok(dir), Some(name)) => dir.join(name),
        _ => file.to_path_buf(),
    };
    let rel = abs.strip_prefix(root).unwrap_or(&abs);
    if file.extension().is_some_and(|e| e == "wast") {
        // Scripts keep their extension: `spec/memory_grow.wast`.
        let id = rel.to_string_lossy().replace('\\', "/");
        return super::wast::parse_wast(&text, file, &id);
    }
    let id = rel.with_extension("").to_string_lossy().replace('\\', "/");
    parse_case(&text, file, &id)
}

/// Parses the text of one case file into its case(s).
pub fn parse_case(text: &str, file: &Path, id: &str) -> Result<Vec<Case>, LoadError> {
    // `${name}` is not valid YAML everywhere (`[${n}]` opens a flow mapping):
    // the first reading, which only looks for `vary`, sees a plain scalar there.
    let spans = LazySpans::new(text);
    // Only a file that may have `vary` needs the first reading: a block
    // mapping's top-level key starts a line (a file that is one flow mapping
    // starts with `{`). The rest is one reading less per file.
    let may_vary = text.trim_start().starts_with('{') || text.lines().any(|l| l.starts_with("vary"));
    let combos = if may_vary {
        let doc: Yaml = serde_yaml::from_str(&placeholders_as_scalars(text)).map_err(|e| LoadError::yaml(file, &e))?;
        if !doc.is_mapping() {
            return Err(LoadError::new(file, Pos { line: 1, col: 1 }, "expected a mapping with `summary`, `module` and `steps`"));
        }
        vary_combinations(&doc, file, &spans)?
    } else {
        vec![vec![]]
    };
    // Each variant reads the file without its `vary` block: a sweep of N
    // values would otherwise parse N values N times.
    let template = if combos.len() > 1 { without_vary_block(text) } else { text.to_string() };
    let mut cases = Vec::with_capacity(combos.len());
    for combo in combos {
        let expanded = substitute(&template, &combo, file)?;
        let raw: RawCase = match serde_yaml::from_str(&expanded) {
            Ok(raw) => raw,
            // serde stops at the first wrong type; a syntax error further on
            // is what the file needs fixed first, and a document that is no
            // mapping at all is told what a case file is.
            Err(e) => {
                return Err(match serde_yaml::from_str::<Yaml>(&placeholders_as_scalars(text)) {
                    Err(syntax) => LoadError::yaml(file, &syntax),
                    Ok(Yaml::Mapping(_)) => LoadError::yaml(file, &e),
                    Ok(_) => LoadError::new(file, Pos { line: 1, col: 1 }, "expected a mapping with `summary`, `module` and `steps`"),
                })
            }
        };
        // Without `vary` the text is unchanged: its positions are known already.
        let expanded_spans;
        let spans = if combo.is_empty() {
            &spans
        } else {
            expanded_spans = LazySpans::new(&expanded);
            &expanded_spans
        };
        let id = if combo.is_empty() {
            id.to_string()
        } else {
            let parts: Vec<String> = combo.iter().map(|(k, v)| format!("{k}={v}")).collect();
            format!("{id}[{}]", parts.join(","))
        };
        let vary = combo.into_iter().collect();
        cases.push(build(raw, file, id, spans, vary)?);
    }
    Ok(cases)
}

// ---------------------------------------------------------------- vary

/// Every combination of the `vary` values, in the order written (one empty
/// combination when there is no `vary`).
fn vary_combinations(doc: &Yaml, file: &Path, spans: &LazySpans) -> Result<Vec<Vec<(String, String)>>, LoadError> {
    let spans = spans.get();
    let Some(vary) = doc.get("vary") else { return Ok(vec![vec![]]) };
    let map = vary
        .as_mapping()
        .ok_or_else(|| LoadError::new(file, spans.find("vary"), "`vary` must map names to lists of values"))?;
    // The product is checked before it is made: three lists of 100 values
    // would be a million cases.
    let product = map.iter().map(|(_, v)| v.as_sequence().map_or(1, |s| s.len().max(1))).try_fold(1usize, |acc, n| acc.checked_mul(n));
    if product.is_none_or(|n| n > MAX_VARY_CASES) {
        let sizes: Vec<String> = map.iter().map(|(k, v)| format!("{} x{}", k.as_str().unwrap_or("?"), v.as_sequence().map_or(1, |s| s.len()))).collect();
        return Err(LoadError::new(
            file,
            spans.find("vary"),
            format!("`vary` expands into more than {MAX_VARY_CASES} cases ({}); split the sweep into several files", sizes.join(", ")),
        ));
    }
    let mut combos: Vec<Vec<(String, String)>> = vec![vec![]];
    for (name, values) in map {
        let name = name
            .as_str()
            .ok_or_else(|| LoadError::new(file, spans.find("vary"), "`vary` names must be strings"))?
            .to_string();
        let at = spans.find(&format!("vary.{name}"));
        let values = values
            .as_sequence()
            .filter(|v| !v.is_empty())
            .ok_or_else(|| LoadError::new(file, at, format!("`vary.{name}` must be a non-empty list of values")))?;
        let mut texts = Vec::new();
        for v in values {
            texts.push(match v {
                Yaml::Number(n) => n.to_string(),
                Yaml::String(s) => s.clone(),
                Yaml::Bool(b) => b.to_string(),
                _ => return Err(LoadError::new(file, at, format!("`vary.{name}` values must be numbers or strings"))),
            });
        }
        combos = combos
            .into_iter()
            .flat_map(|c| {
                let name = &name;
                texts.iter().map(move |t| {
                    let mut c = c.clone();
                    c.push((name.clone(), t.clone()));
                    c
                })
            })
            .collect();
    }
    Ok(combos)
}

fn placeholders_as_scalars(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        match rest[start..].find(['}', '\n']) {
            Some(end) if rest.as_bytes()[start + end] == b'}' => {
                out.push('0');
                rest = &rest[start + end + 1..];
            }
            _ => {
                out.push_str("${");
                rest = &rest[start + 2..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The text with the lines of a block-style top-level `vary` entry blanked
/// (line numbers stay as they are); unchanged when `vary` is written some
/// other way.
fn without_vary_block(text: &str) -> String {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let Some(start) = lines.iter().position(|l| l.starts_with("vary:")) else { return text.to_string() };
    let top_level = |l: &str| !l.trim().is_empty() && !l.starts_with([' ', '\t', '#']);
    let end = lines.iter().skip(start + 1).position(|l| top_level(l)).map(|n| start + 1 + n).unwrap_or(lines.len());
    let mut out = String::with_capacity(text.len());
    for (i, l) in lines.iter().enumerate() {
        if (start..end).contains(&i) {
            out.push('\n');
        } else {
            out.push_str(l);
        }
    }
    out
}

/// Replaces `${name}` everywhere but in the `vary` block. Lines are kept, so
/// positions in the expanded text are positions in the file.
fn substitute(text: &str, combo: &[(String, String)], file: &Path) -> Result<String, LoadError> {
    let mut out = String::with_capacity(text.len());
    for (i, line) in text.split_inclusive('\n').enumerate() {
        let mut rest = line;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let end = after.find('}').ok_or_else(|| {
                LoadError::new(file, Pos { line: i + 1, col: line.len() - rest.len() + start + 1 }, "unclosed `${`")
            })?;
            let name = &after[..end];
            match combo.iter().find(|(k, _)| k == name) {
                Some((_, v)) => out.push_str(v),
                None => {
                    let known: Vec<&str> = combo.iter().map(|(k, _)| k.as_str()).collect();
                    let col = line.len() - rest.len() + start + 1;
                    return Err(LoadError::new(
                        file,
                        Pos { line: i + 1, col },
                        if known.is_empty() {
                            format!("`${{{name}}}` is used but the case has no `vary`")
                        } else {
                            format!("`${{{name}}}` is not a `vary` name (expected one of: {})", known.join(", "))
                        },
                    ));
                }
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
    }
    Ok(out)
}

// ---------------------------------------------------------------- raw serde model

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCase {
    summary: String,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    source: Option<String>,
    #[serde(default)]
    module: Option<String>,
    /// Further modules by name (extension): a `module: NAME` step
    /// instantiates one as the instance NAME.
    #[serde(default)]
    modules: BTreeMap<String, String>,
    #[serde(default)]
    features: Vec<Feature>,
    #[serde(default)]
    host: Host,
    #[serde(default)]
    imports: BTreeMap<String, String>,
    #[serde(default)]
    timeout: Option<f64>,
    /// Already expanded by the time the rest is read.
    #[serde(default, rename = "vary")]
    _vary: Option<Yaml>,
    /// Required: a case says what it checks (`steps: []` for a case whose
    /// only check is the implicit instantiate).
    steps: Vec<RawStep>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Empty {}

/// `instantiate:` with no value means the same as `instantiate: {}`.
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Empty>, D::Error> {
    Ok(Some(Option::<Empty>::deserialize(d)?.unwrap_or_default()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStep {
    #[serde(default, deserialize_with = "present")]
    instantiate: Option<Empty>,
    #[serde(default, deserialize_with = "present")]
    validate: Option<Empty>,
    invoke: Option<String>,
    args: Option<Vec<Yaml>>,
    grow: Option<RawGrow>,
    size: Option<RawMemory>,
    read: Option<RawRead>,
    write: Option<RawWrite>,
    new_memory: Option<RawNewMemory>,
    /// JS API steps (extension): a memory's ArrayBuffer.
    buffer: Option<RawBuffer>,
    buffer_length: Option<RawMemory>,
    resize: Option<RawResize>,
    /// Read by hand (serde_yaml 0.9 wants YAML tags for enums; the case
    /// format writes `{returns: [-1]}` and `ok`).
    expect: Option<Yaml>,
    /// What a claim under test predicts (extension; same forms as `expect`).
    claim: Option<Yaml>,
    /// Instantiate the named module of `modules` as the instance of that name,
    /// which becomes the current one (extension).
    module: Option<String>,
    /// Make an instance's exports importable (extension).
    register: Option<RawRegister>,
    /// Read an exported global (extension).
    get: Option<String>,
    /// The named instance `invoke` / `get` works on (extension).
    instance: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRegister {
    #[serde(rename = "as")]
    name: String,
    #[serde(default)]
    instance: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGrow {
    memory: String,
    delta: u64,
    #[serde(default)]
    js_form: Option<JsForm>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBuffer {
    memory: String,
    #[serde(default)]
    resizable: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawResize {
    memory: String,
    bytes: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMemory {
    memory: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRead {
    memory: String,
    offset: u64,
    len: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWrite {
    memory: String,
    offset: u64,
    bytes: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNewMemory {
    #[serde(rename = "as")]
    name: String,
    initial: u64,
    #[serde(default)]
    maximum: Option<u64>,
    #[serde(default)]
    shared: bool,
    #[serde(default)]
    address: AddressType,
    #[serde(default)]
    js_form: Option<JsForm>,
}

enum RawExpect {
    Ok,
    Any,
    Returns(Vec<Yaml>),
    Pages(u64),
    Bytes(String),
    Trap(TrapKind),
    Error(ErrorKind),
    OneOf(Vec<RawExpect>),
}

// ---------------------------------------------------------------- raw -> Case

struct Ctx<'a> {
    file: &'a Path,
    spans: &'a LazySpans<'a>,
    /// The steps' lines, where a line scan finds them (else from `spans`).
    step_lines: Option<Vec<usize>>,
}

impl Ctx<'_> {
    fn err(&self, path: &str, message: impl Into<String>) -> LoadError {
        LoadError::new(self.file, self.spans.get().find(path), message)
    }

    /// The line of step `index` (its path is `path`).
    fn step_line(&self, index: usize, path: &str) -> usize {
        match self.step_lines.as_ref().and_then(|l| l.get(index)) {
            Some(line) => *line,
            None => self.spans.get().find(path).line,
        }
    }
}

fn build(raw: RawCase, file: &Path, id: String, spans: &LazySpans, vary: BTreeMap<String, String>) -> Result<Case, LoadError> {
    // The scan must find one line per step, or it is not used.
    let step_lines = block_step_lines(spans.text()).filter(|l| l.len() == raw.steps.len());
    let cx = Ctx { file, spans, step_lines };
    if raw.timeout.is_some_and(|t| !(t > 0.0 && t.is_finite())) {
        return Err(cx.err("timeout", "`timeout` must be a positive number of seconds"));
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
    let (wasm, info) = match &raw.module {
        Some(wat) => {
            let wasm = compile_wat(wat, "module", &cx)?;
            let info = ModuleInfo::read(&wasm).map_err(|e| cx.err("module", format!("cannot read the compiled module: {e}")))?;
            (Some(wasm), Some(info))
        }
        None => (None, None),
    };

    let mut steps = Vec::new();
    let mut host_memories: Vec<(String, AddressType)> = Vec::new();
    let mut has_instantiate = false;
    // The instance `invoke` and `get` use without `instance`: a `module: NAME`
    // step's, else the main module's.
    let mut current: Option<String> = None;
    for (i, rs) in raw.steps.into_iter().enumerate() {
        let path = format!("steps.{i}");
        let mut step = build_step(rs, &path, &cx, info.as_ref(), &named, current.as_deref(), &host_memories)?;
        step.line = cx.step_line(i, &path);
        match &step.action {
            Action::Module { name, .. } => current = name.clone(),
            Action::Instantiate => current = None,
            _ => {}
        }
        if let Action::NewMemory { name, address, .. } = &step.action {
            if host_memories.iter().any(|(n, _)| n == name) {
                return Err(cx.err(&format!("{path}.new_memory.as"), format!("a memory named `{name}` is already made by an earlier step")));
            }
            host_memories.push((name.clone(), *address));
        }
        has_instantiate |= step.action == Action::Instantiate;
        steps.push(step);
    }
    if steps.is_empty() && wasm.is_none() {
        return Err(cx.err("summary", "a case needs `steps` or a `module` (expected at least one of them)"));
    }
    if wasm.is_some() && !has_instantiate {
        let at = steps.iter().position(|s| !matches!(s.action, Action::NewMemory { .. })).unwrap_or(steps.len());
        steps.insert(at, Step { implicit: true, ..Step::new(Action::Instantiate, Expect::Ok) });
    }

    let mut imports = Vec::new();
    for (key, memory) in &raw.imports {
        let at = format!("imports.{key}");
        let (module, name) = key
            .split_once('.')
            .ok_or_else(|| cx.err(&at, format!("import `{key}` must be written `module.name` (e.g. `env.memory`)")))?;
        if !host_memories.iter().any(|(n, _)| n == memory) {
            return Err(cx.err(&at, format!("import `{key}` names memory `{memory}`, but no `new_memory` step makes it")));
        }
        if let Some(info) = &info {
            if !info.memory_imports.iter().any(|(m, n)| m == module && n == name) {
                let list: Vec<String> = info.memory_imports.iter().map(|(m, n)| format!("{m}.{n}")).collect();
                return Err(cx.err(&at, format!("the module imports no memory `{key}` (memory imports: {})", none_if_empty(&list))));
            }
        }
        imports.push(MemoryImport { module: module.into(), name: name.into(), memory: memory.clone() });
    }

    let plan = Plan {
        wasm,
        features: raw.features,
        without: vec![],
        host: raw.host,
        imports,
        modules,
        actions: steps.iter().map(|s| s.action.clone()).collect(),
    };
    Ok(Case {
        id,
        file: file.to_path_buf(),
        summary: raw.summary,
        tags: raw.tags,
        source: raw.source,
        wat: raw.module,
        steps,
        plan: Arc::new(plan),
        vary,
        timeout: raw.timeout,
        commits_at_most: None,
    })
}

fn none_if_empty(list: &[String]) -> String {
    if list.is_empty() { "none".into() } else { list.join(", ") }
}

fn compile_wat(wat: &str, key: &str, cx: &Ctx) -> Result<Vec<u8>, LoadError> {
    let fail = |err: wast::Error| {
        let (line, col) = err.span().linecol_in(wat);
        let pos = cx.spans.get().inside(key, line + 1, col + 1);
        LoadError::new(cx.file, pos, format!("WAT does not parse: {} (WAT line {}, column {})", err.message(), line + 1, col + 1))
    };
    let buf = wast::parser::ParseBuffer::new(wat).map_err(fail)?;
    let mut parsed: wast::Wat = wast::parser::parse(&buf).map_err(fail)?;
    parsed.encode().map_err(fail)
}

fn build_step(
    rs: RawStep,
    path: &str,
    cx: &Ctx,
    main: Option<&ModuleInfo>,
    named: &BTreeMap<String, (usize, ModuleInfo)>,
    current: Option<&str>,
    host_memories: &[(String, AddressType)],
) -> Result<Step, LoadError> {
    let mut actions = Vec::new();
    let need_module = |what: &str| -> Result<&ModuleInfo, LoadError> {
        main.ok_or_else(|| cx.err(path, format!("`{what}` needs a `module`, and the case has none")))
    };
    let named_info = |name: &str, key: &str| -> Result<&ModuleInfo, LoadError> {
        named.get(name).map(|(_, i)| i).ok_or_else(|| {
            let known: Vec<String> = named.keys().cloned().collect();
            cx.err(&format!("{path}.{key}"), format!("no module named `{name}` in `modules` (known: {})", none_if_empty(&known)))
        })
    };
    // `invoke` and `get` work on the named instance, or the main module's.
    let target = |what: &str| -> Result<&ModuleInfo, LoadError> {
        match (&rs.instance, current) {
            (Some(n), _) => named_info(n, "instance"),
            (None, Some(n)) => named_info(n, "module"),
            (None, None) => need_module(what),
        }
    };
    if rs.instance.is_some() && rs.invoke.is_none() && rs.get.is_none() {
        return Err(cx.err(&format!("{path}.instance"), "`instance` belongs to an `invoke` or `get` step"));
    }
    let info = main;
    let memory = |name: &str, key: &str| -> Result<AddressType, LoadError> {
        if let Some((_, a)) = host_memories.iter().find(|(n, _)| n == name) {
            return Ok(*a);
        }
        if let Some(a) = info.and_then(|i| i.memories.get(name)) {
            return Ok(*a);
        }
        if let Some(a) = named.values().find_map(|(_, i)| i.memories.get(name)) {
            return Ok(*a);
        }
        let mut known: Vec<String> = host_memories.iter().map(|(n, _)| n.clone()).collect();
        if let Some(i) = info {
            known.extend(i.memories.keys().cloned());
        }
        known.extend(named.values().flat_map(|(_, i)| i.memories.keys().cloned()));
        Err(cx.err(
            &format!("{path}.{key}.memory"),
            format!("no memory named `{name}`: expected an exported memory or one made by an earlier `new_memory` (known: {})", none_if_empty(&known)),
        ))
    };
    let mut result_types: Option<Vec<ValType>> = None;
    if rs.instantiate.is_some() {
        need_module("instantiate")?;
        actions.push(Action::Instantiate);
    }
    if rs.validate.is_some() {
        need_module("validate")?;
        actions.push(Action::Validate);
        result_types = Some(vec![ValType::I32]);
    }
    if let Some(name) = &rs.module {
        let (index, _) = named.get(name).ok_or_else(|| {
            let known: Vec<String> = named.keys().cloned().collect();
            cx.err(&format!("{path}.module"), format!("no module named `{name}` in `modules` (known: {})", none_if_empty(&known)))
        })?;
        actions.push(Action::Module { module: *index, name: Some(name.clone()), instantiate: true, text: false, assertion: false });
    }
    if let Some(r) = &rs.register {
        if let Some(n) = &r.instance {
            named_info(n, "register.instance")?;
        }
        actions.push(Action::Register { name: r.name.clone(), instance: r.instance.clone() });
    }
    if let Some(global) = &rs.get {
        let info = target("get")?;
        let Some(ty) = info.globals.get(global) else {
            let known: Vec<String> = info.globals.keys().cloned().collect();
            return Err(cx.err(&format!("{path}.get"), format!("no exported global `{global}` (exported globals: {})", none_if_empty(&known))));
        };
        result_types = Some(vec![*ty]);
        actions.push(Action::Get { global: global.clone(), instance: rs.instance.clone(), ty: Some(*ty) });
    }
    if let Some(name) = &rs.invoke {
        let info = target("invoke")?;
        let Some((params, results)) = info.funcs.get(name) else {
            let known: Vec<String> = info.funcs.keys().cloned().collect();
            return Err(cx.err(
                &format!("{path}.invoke"),
                format!("the module exports no function `{name}` (exported functions: {})", none_if_empty(&known)),
            ));
        };
        let raw_args = rs.args.clone().unwrap_or_default();
        if raw_args.len() != params.len() {
            return Err(cx.err(
                &format!("{path}.args"),
                format!("`{name}` takes {} argument(s) ({}), the step gives {}", params.len(), type_list(params), raw_args.len()),
            ));
        }
        let mut args = Vec::new();
        for (j, (v, t)) in raw_args.iter().zip(params).enumerate() {
            args.push(typed(v, *t).map_err(|e| cx.err(&format!("{path}.args.{j}"), format!("argument {}: {e}", j + 1)))?);
        }
        result_types = Some(results.clone());
        actions.push(Action::Invoke { name: name.clone(), args, results: results.clone(), instance: rs.instance.clone() });
    } else if rs.args.is_some() {
        return Err(cx.err(&format!("{path}.args"), "`args` belongs to an `invoke` step"));
    }
    if let Some(g) = rs.grow {
        let address = memory(&g.memory, "grow")?;
        result_types = Some(vec![ValType::I64]);
        actions.push(Action::Grow { memory: g.memory, delta: g.delta, js_form: g.js_form, address });
    }
    if let Some(b) = rs.buffer {
        memory(&b.memory, "buffer")?;
        result_types = Some(vec![ValType::I64]);
        actions.push(Action::Buffer { memory: b.memory, resizable: b.resizable });
    }
    if let Some(b) = rs.buffer_length {
        memory(&b.memory, "buffer_length")?;
        result_types = Some(vec![ValType::I64]);
        actions.push(Action::BufferLength { memory: b.memory });
    }
    if let Some(r) = rs.resize {
        memory(&r.memory, "resize")?;
        actions.push(Action::Resize { memory: r.memory, bytes: r.bytes });
    }
    if let Some(s) = rs.size {
        memory(&s.memory, "size")?;
        actions.push(Action::Size { memory: s.memory });
    }
    if let Some(r) = rs.read {
        memory(&r.memory, "read")?;
        actions.push(Action::Read { memory: r.memory, offset: r.offset, len: r.len });
    }
    if let Some(w) = rs.write {
        memory(&w.memory, "write")?;
        let bytes = hex_bytes::decode(&w.bytes).map_err(|e| cx.err(&format!("{path}.write.bytes"), e))?;
        actions.push(Action::Write { memory: w.memory, offset: w.offset, bytes });
    }
    if let Some(m) = rs.new_memory {
        actions.push(Action::NewMemory {
            name: m.name,
            initial: m.initial,
            maximum: m.maximum,
            shared: m.shared,
            address: m.address,
            js_form: m.js_form,
        });
    }
    let action = match actions.len() {
        1 => actions.pop().unwrap(),
        0 => {
            return Err(cx.err(
                path,
                "the step does nothing: expected one of `instantiate`, `validate`, `invoke`, `grow`, `size`, `read`, `write`, `new_memory`, `buffer`, `buffer_length`, `resize`, `module`, `register`, `get`",
            ))
        }
        _ => {
            let labels: Vec<String> = actions.iter().map(|a| a.label()).collect();
            return Err(cx.err(path, format!("one step may do one thing, this one does {}: {}", actions.len(), labels.join("; "))));
        }
    };
    let expect_path = format!("{path}.expect");
    let expected = match rs.expect {
        None => match action {
            Action::Instantiate | Action::Write { .. } | Action::NewMemory { .. } | Action::Resize { .. } | Action::Module { .. } | Action::Register { .. } => Expect::Ok,
            _ => return Err(cx.err(path, format!("`{}` needs an `expect`", action.label()))),
        },
        Some(raw) => expect(raw_expect(&raw, &expect_path, cx)?, &action, result_types.as_deref(), &expect_path, cx)?,
    };
    let claim = match rs.claim {
        None => None,
        Some(raw) => {
            let at = format!("{path}.claim");
            Some(expect(raw_expect(&raw, &at, cx)?, &action, result_types.as_deref(), &at, cx)?)
        }
    };
    // The line is filled in by the caller, which knows the step's index.
    Ok(Step { action, expect: expected, claim, message: None, line: 0, implicit: false, prefix: None })
}

fn type_list(types: &[ValType]) -> String {
    let names: Vec<&str> = types.iter().map(|t| t.name()).collect();
    if names.is_empty() { "none".into() } else { names.join(", ") }
}

const EXPECT_KINDS: &str = "`ok`, `any`, `returns`, `pages`, `bytes`, `trap`, `error` or `one_of`";

/// Reads an `expect` value: `ok`, `any`, or a mapping with one kind.
fn raw_expect(v: &Yaml, path: &str, cx: &Ctx) -> Result<RawExpect, LoadError> {
    let err = |m: String| cx.err(path, m);
    let from = |v: &Yaml, kind: &str| -> Result<_, LoadError> { Ok((v.clone(), format!("{path}.{kind}"))) };
    match v {
        Yaml::String(s) if s == "ok" => return Ok(RawExpect::Ok),
        Yaml::String(s) if s == "any" => return Ok(RawExpect::Any),
        Yaml::String(s) => return Err(err(format!("unknown expectation `{s}` (expected {EXPECT_KINDS})"))),
        Yaml::Mapping(m) if m.len() == 1 => {
            let (k, val) = m.iter().next().expect("one entry");
            let kind = k.as_str().unwrap_or_default();
            let (val, at) = from(val, kind)?;
            let conv = |e: serde_yaml::Error| cx.err(&at, format!("`{kind}`: {e}"));
            return Ok(match kind {
                "returns" => RawExpect::Returns(serde_yaml::from_value(val).map_err(conv)?),
                "pages" => RawExpect::Pages(serde_yaml::from_value(val).map_err(conv)?),
                "bytes" => RawExpect::Bytes(serde_yaml::from_value(val).map_err(conv)?),
                "trap" => RawExpect::Trap(serde_yaml::from_value(val).map_err(conv)?),
                "error" => RawExpect::Error(serde_yaml::from_value(val).map_err(conv)?),
                "one_of" => {
                    let list: Vec<Yaml> = serde_yaml::from_value(val).map_err(conv)?;
                    let mut out = Vec::new();
                    for (i, item) in list.iter().enumerate() {
                        out.push(raw_expect(item, &format!("{at}.{i}"), cx)?);
                    }
                    RawExpect::OneOf(out)
                }
                "ok" | "any" => return Err(err(format!("`{kind}` takes no value: write `expect: {kind}`"))),
                other => return Err(err(format!("unknown expectation `{other}` (expected {EXPECT_KINDS})"))),
            });
        }
        Yaml::Mapping(m) => {
            let keys: Vec<String> = m.keys().map(|k| k.as_str().unwrap_or("?").to_string()).collect();
            Err(err(format!("an expectation has exactly one kind, found {}: {}", keys.len(), keys.join(", "))))
        }
        other => Err(err(format!("expected {EXPECT_KINDS}, found {}", yaml_kind(other)))),
    }
}

/// Converts and checks an `expect` against what the step can produce.
fn expect(raw: RawExpect, action: &Action, results: Option<&[ValType]>, path: &str, cx: &Ctx) -> Result<Expect, LoadError> {
    let kind = match action {
        Action::Instantiate => "instantiate",
        Action::Validate => "validate",
        Action::Invoke { .. } => "invoke",
        Action::Grow { .. } => "grow",
        Action::Size { .. } => "size",
        Action::Read { .. } => "read",
        Action::Write { .. } => "write",
        Action::NewMemory { .. } => "new_memory",
        Action::Buffer { .. } => "buffer",
        Action::BufferLength { .. } => "buffer_length",
        Action::Resize { .. } => "resize",
        Action::Module { .. } | Action::Instance { .. } => "module",
        Action::Register { .. } => "register",
        Action::Get { .. } => "get",
        Action::Unsupported { .. } => "unsupported",
    };
    let wrong = |what: &str, allowed: &str| cx.err(path, format!("a `{kind}` step cannot expect `{what}` (expected {allowed})"));
    Ok(match raw {
        RawExpect::Any => Expect::Any,
        RawExpect::OneOf(list) => {
            if list.len() < 2 {
                return Err(cx.err(path, "`one_of` needs at least two alternatives"));
            }
            let mut out = Vec::new();
            for (i, r) in list.into_iter().enumerate() {
                out.push(expect(r, action, results, &format!("{path}.one_of.{i}"), cx)?);
            }
            Expect::OneOf(out)
        }
        RawExpect::Ok => match action {
            // A function with no results returns nothing: `ok` is `returns: []`.
            Action::Invoke { .. } if results.is_some_and(|r| r.is_empty()) => Expect::Returns(vec![]),
            Action::Instantiate
            | Action::Write { .. }
            | Action::NewMemory { .. }
            | Action::Resize { .. }
            | Action::Module { .. }
            | Action::Register { .. } => Expect::Ok,
            _ => return Err(wrong("ok", "`returns`, `trap`, `error`, `one_of` or `any`")),
        },
        RawExpect::Returns(values) => {
            let Some(types) = results else {
                return Err(wrong("returns", "`ok`, `trap`, `error`, `pages` or `bytes` as the step gives"));
            };
            if values.len() != types.len() {
                return Err(cx.err(
                    path,
                    format!("expected {} result value(s) ({}) for `{}`, found {}", types.len(), type_list(types), action.label(), values.len()),
                ));
            }
            let mut out = Vec::new();
            for (i, (v, t)) in values.iter().zip(types).enumerate() {
                out.push(typed(v, *t).map_err(|e| cx.err(&format!("{path}.returns.{i}"), format!("result {}: {e}", i + 1)))?);
            }
            Expect::Returns(out)
        }
        RawExpect::Pages(p) => match action {
            Action::Size { .. } => Expect::Pages(p),
            _ => return Err(wrong("pages", "`pages` only on `size` steps")),
        },
        RawExpect::Bytes(b) => match action {
            Action::Read { .. } => Expect::Bytes(hex_bytes::decode(&b).map_err(|e| cx.err(path, e))?),
            _ => return Err(wrong("bytes", "`bytes` only on `read` steps")),
        },
        RawExpect::Trap(t) => match action {
            Action::Instantiate | Action::Invoke { .. } | Action::Module { .. } => Expect::Trap(t),
            _ => return Err(wrong("trap", "`trap` only on `instantiate`, `module` and `invoke` steps (host API failures are `error`)")),
        },
        RawExpect::Error(e) => match action {
            Action::Validate | Action::Size { .. } => return Err(wrong("error", "`returns`/`pages`")),
            _ => Expect::Error(e),
        },
    })
}

/// A YAML scalar as a value of type `t`. Integers wrap into their width
/// (`4294967295` is i32 -1); i64 beyond 2^53 and special floats may be
/// strings (`"0xffffffffffffffff"`, `"nan"`, `"-inf"`, `"nan:0x200000"`).
pub fn typed(v: &Yaml, t: ValType) -> Result<Val, String> {
    let text = match v {
        Yaml::Number(n) => n.to_string(),
        Yaml::String(s) => s.trim().to_string(),
        other => return Err(format!("expected a number, found {}", yaml_kind(other))),
    };
    let int = |bits: u32| -> Result<i128, String> {
        let (neg, body) = match text.strip_prefix('-') {
            Some(b) => (true, b),
            None => (false, text.as_str()),
        };
        let body = body.replace('_', "");
        let mag = match body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
            Some(h) => i128::from_str_radix(h, 16),
            None => body.parse::<i128>(),
        }
        .map_err(|_| format!("expected an integer, found `{text}`"))?;
        let val = if neg { -mag } else { mag };
        let lo = -(1i128 << (bits - 1));
        let hi = (1i128 << bits) - 1;
        if val < lo || val > hi {
            return Err(format!("{text} does not fit in i{bits}"));
        }
        Ok(val)
    };
    Ok(match t {
        ValType::I32 => Val::I32(int(32)? as u32 as i32),
        ValType::I64 => Val::I64(int(64)? as u64 as i64),
        ValType::F32 => Val::F32(match special_float(&text, 23) {
            Some(bits) => bits as u32,
            None => text.parse::<f32>().map_err(|_| format!("expected an f32, found `{text}`"))?.to_bits(),
        }),
        ValType::F64 => Val::F64(match special_float(&text, 52) {
            Some(bits) => bits,
            None => text.parse::<f64>().map_err(|_| format!("expected an f64, found `{text}`"))?.to_bits(),
        }),
        ValType::V128 => {
            let digits = text.strip_prefix("0x").ok_or_else(|| format!("expected a v128 as 0x and 32 hex digits, found `{text}`"))?;
            Val::V128(u128::from_str_radix(&digits.replace('_', ""), 16).map_err(|_| format!("`{text}` is not a v128"))?)
        }
        ValType::FuncRef if text == "null" => Val::RefNull(RefType::Func),
        ValType::ExternRef if text == "null" => Val::RefNull(RefType::Extern),
        ValType::AnyRef if text == "null" => Val::RefNull(RefType::Any),
        ValType::ExternRef => Val::RefExtern(text.parse().map_err(|_| format!("expected `null` or a number (a host reference), found `{text}`"))?),
        other => return Err(format!("a {} value cannot be written in a case (only `null`)", other.name())),
    })
}

/// `nan`, `-nan`, `nan:0xPAYLOAD`, `inf`, `-inf` as bits of a float with a
/// `mantissa`-bit fraction.
fn special_float(text: &str, mantissa: u32) -> Option<u64> {
    let (neg, body) = match text.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let exp_bits = if mantissa == 23 { 8 } else { 11 };
    let exp = ((1u64 << exp_bits) - 1) << mantissa;
    let sign = if neg { 1u64 << (mantissa + exp_bits) } else { 0 };
    let frac = match body {
        "inf" | "infinity" => 0,
        "nan" => 1u64 << (mantissa - 1),
        _ => {
            let payload = body.strip_prefix("nan:0x")?;
            let p = u64::from_str_radix(payload, 16).ok()?;
            if p == 0 || p >= 1u64 << mantissa {
                return None;
            }
            p
        }
    };
    Some(sign | exp | frac)
}

fn yaml_kind(v: &Yaml) -> &'static str {
    match v {
        Yaml::Null => "nothing",
        Yaml::Bool(_) => "a boolean",
        Yaml::Number(_) => "a number",
        Yaml::String(_) => "a string",
        Yaml::Sequence(_) => "a list",
        Yaml::Mapping(_) => "a mapping",
        Yaml::Tagged(_) => "a tagged value",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Vec<Case>, LoadError> {
        parse_case(text, Path::new("t.yaml"), "topic/t")
    }

    const GROW: &str = "summary: s\nmodule: |\n  (module (memory (export \"mem\") 1 ${max})\n    (func (export \"grow\") (param i32) (result i32) (memory.grow (local.get 0))))\n";

    #[test]
    fn vary_expands_with_ids_and_substitution() {
        let text = format!("{GROW}vary:\n  max: [2, 65536]\nsteps:\n  - invoke: grow\n    args: [${{max}}]\n    expect: {{ returns: [-1] }}\n");
        let cases = parse(&text).unwrap();
        let ids: Vec<&str> = cases.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, ["topic/t[max=2]", "topic/t[max=65536]"]);
        assert_eq!(cases[1].steps[1].action, Action::Invoke { name: "grow".into(), args: vec![Val::I32(65536)], results: vec![ValType::I32], instance: None });
        assert!(cases[1].wat.as_deref().unwrap().contains("1 65536"));
        assert_eq!(cases[1].vary.get("max").map(String::as_str), Some("65536"));
    }

    #[test]
    fn implicit_instantiate_goes_after_leading_new_memory_steps() {
        let text = "summary: s\nimports: {\"env.m\": m}\nmodule: (module (import \"env\" \"m\" (memory 1)))\nsteps:\n  - new_memory: {as: m, initial: 1}\n  - size: {memory: m}\n    expect: {pages: 1}\n";
        let case = &parse(text).unwrap()[0];
        let labels: Vec<String> = case.steps.iter().map(|s| s.label()).collect();
        assert_eq!(labels, ["new_memory m (1)", "instantiate (implicit)", "size m"]);
        assert_eq!(case.plan.imports, vec![MemoryImport { module: "env".into(), name: "m".into(), memory: "m".into() }]);
        assert_eq!(case.steps[2].line, 6);
    }

    #[test]
    fn variants_are_read_without_the_vary_block_and_keep_their_lines() {
        let text = "summary: s\nvary:\n  n: [1,\n      2]\n  # a comment\nmodule: (module (memory ${n}))\nsteps:\n  - instantiate: {}\n";
        let blanked = without_vary_block(text);
        assert_eq!(blanked.lines().count(), text.lines().count());
        assert!(!blanked.contains("vary") && blanked.contains("module: (module (memory ${n}))"));
        let cases = parse(text).unwrap();
        assert_eq!(cases.len(), 2);
        assert_eq!(cases[1].id, "topic/t[n=2]");
        assert_eq!(cases[1].steps[0].line, 8);
    }

    #[test]
    fn a_claim_is_read_like_an_expectation_and_checked_against_the_step() {
        let text = "summary: s\nsteps:\n  - new_memory: {as: m, initial: 1, maximum: 2}\n  - grow: {memory: m, delta: 5}\n    expect: {error: grow_failed}\n    claim: {returns: [-1]}\n";
        let case = &parse(text).unwrap()[0];
        assert_eq!(case.steps[1].claim, Some(Expect::Returns(vec![Val::I64(-1)])));
        assert_eq!(case.steps[0].claim, None);
        let bad = "summary: s\nsteps:\n  - new_memory: {as: m, initial: 1}\n  - size: {memory: m}\n    expect: {pages: 1}\n    claim: {trap: out_of_bounds}\n";
        let err = parse(bad).unwrap_err().to_string();
        assert!(err.contains(":6:") && err.contains("cannot expect `trap`"), "{err}");
    }

    #[test]
    fn args_and_results_are_typed_by_the_signature() {
        let text = "summary: s\nmodule: |\n  (module (func (export \"f\") (param i32 i64 f32 f64) (result i64) (local.get 1)))\nsteps:\n  - invoke: f\n    args: [4294967295, \"0xffffffffffffffff\", nan, -1.5]\n    expect: { returns: [-1] }\n";
        let case = &parse(text).unwrap()[0];
        let Action::Invoke { args, .. } = &case.steps[1].action else { panic!() };
        assert_eq!(args[0], Val::I32(-1));
        assert_eq!(args[1], Val::I64(-1));
        assert_eq!(args[2], Val::F32(0x7fc0_0000));
        assert_eq!(args[3], Val::F64((-1.5f64).to_bits()));
        assert_eq!(case.steps[1].expect, Expect::Returns(vec![Val::I64(-1)]));
        assert_eq!(typed(&Yaml::from(4294967296u64), ValType::I32).unwrap_err(), "4294967296 does not fit in i32");
    }

    #[test]
    fn mistakes_are_reported_where_they_are() {
        let cases = [
            ("summary: s\nmodule: (module)\nsteps:\n  - validate: {}\n    expect: { pages: 1 }\n", 5, "cannot expect `pages`"),
            ("summary: s\nmodule: (module (func (export \"f\")))\nsteps:\n  - invoke: f\n    args: [1]\n", 5, "takes 0 argument(s)"),
            ("summary: s\nsteps:\n  - size: {memory: m}\n    expect: {pages: 1}\n", 3, "no memory named `m`"),
            ("summary: s\nimports: {\"env.m\": nope}\nsteps:\n  - new_memory: {as: m, initial: 1}\n", 2, "no `new_memory` step makes it"),
            ("summary: s\nsteps:\n  - grow: {memory: m, delta: 1}\n    invoke: f\n", 3, "needs a `module`"),
            ("summary: s\nsteps:\n  - new_memory: {as: m, initial: 1}\n    expect: { one_of: [ok] }\n", 4, "at least two"),
            ("summary: s\nmodule: (module)\nsteps:\n  - instantiate: {}\n    expect: { trap: out_of_bounds, error: invalid }\n", 5, "exactly one kind"),
            ("summary: s\nmodule: (module)\ntimeout: -1\nsteps: []\n", 3, "positive number"),
        ];
        for (text, line, what) in cases {
            let err = parse(text).unwrap_err();
            assert_eq!(err.line, line, "{text}: {err}");
            assert!(err.message.contains(what), "{text}: {err}");
        }
    }

    #[test]
    fn special_floats() {
        assert_eq!(special_float("-inf", 52), Some(0xfff0_0000_0000_0000));
        assert_eq!(special_float("nan:0x200000", 23), Some(0x7fa0_0000));
        assert_eq!(special_float("nan:0x0", 23), None);
        assert_eq!(special_float("1.5", 23), None);
    }
}
