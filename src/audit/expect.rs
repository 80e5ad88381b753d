//! `audit --expect FILE`: what an app's modules must do, the gate a CI job
//! puts after its build. The file is a YAML list of requirements, each for
//! the modules whose path matches a glob, on some columns:
//!
//! ```yaml
//! - module: "dist/*.wasm"           # a glob on the module's path, or its file name
//!   on: [chrome, firefox, webkit]   # columns, families (V8, SpiderMonkey, ...) or all (a
//!                                   # column's id names the column, not its family)
//!   instantiates: true
//!   reaches: 2GiB                   # or `32768 pages`
//!   instances: 4                    # live instances in one process, at least
//!   instances_16gib: 2              # the same under a 16 GiB address space
//!   compile_ms: 5000                # a fresh compile, at most
//! ```
//!
//! A requirement on a cell that gave no answer (timed out, over the memory
//! budget, crashed, unavailable) is unmet, with why.

use crate::engine::{Column, ENGINES};
use crate::results::audit::{human, Record};
use serde::Deserialize;
use std::path::{Path, PathBuf};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRequirement {
    module: String,
    #[serde(default)]
    on: Option<OneOrMany>,
    #[serde(default)]
    instantiates: Option<bool>,
    #[serde(default)]
    reaches: Option<serde_yaml::Value>,
    #[serde(default)]
    instances: Option<u64>,
    #[serde(default)]
    instances_16gib: Option<u64>,
    #[serde(default)]
    compile_ms: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

/// One requirement, checked: where it was written, the modules and columns
/// it is for, and what they must do.
#[derive(Debug)]
pub struct Requirement {
    /// `FILE:LINE`, for the message that names it.
    pub at: String,
    glob: globset::GlobMatcher,
    pattern: String,
    columns: Vec<&'static str>,
    instantiates: Option<bool>,
    /// Bytes the first memory must reach.
    reaches: Option<u64>,
    instances: Option<u64>,
    instances_16gib: Option<u64>,
    compile_ms: Option<f64>,
}

/// A requirement a module did not meet on a column.
#[derive(Debug, Clone, PartialEq)]
pub struct Unmet {
    pub at: String,
    pub module: String,
    pub column: String,
    /// What was required, and what the column did (the engine's text, or
    /// why it did not answer).
    pub text: String,
}

impl std::fmt::Display for Unmet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {} on {}: {}", self.at, self.module, self.column, self.text)
    }
}

/// Reads an expect file; bad input is an error naming `file:line:col`.
pub fn read(path: &Path) -> anyhow::Result<Vec<Requirement>> {
    let text = std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("{}: cannot read the expect file: {e}", path.display()))?;
    parse(&text, path)
}

pub fn parse(text: &str, path: &Path) -> anyhow::Result<Vec<Requirement>> {
    let at = |line: usize, col: usize| format!("{}:{line}:{col}", path.display());
    let raws: Vec<serde_yaml::Value> = serde_yaml::from_str(text).map_err(|e| match e.location() {
        Some(l) => anyhow::anyhow!("{}: {}: expected a list of requirements (`- module: GLOB`, ...)", at(l.line(), l.column()), e),
        None => anyhow::anyhow!("{}: {e}: expected a list of requirements (`- module: GLOB`, ...)", path.display()),
    })?;
    let lines = item_lines(text);
    let mut out = Vec::new();
    for (i, raw) in raws.into_iter().enumerate() {
        let line = lines.get(i).copied().unwrap_or(1);
        let here = format!("{}:{line}", path.display());
        let r: RawRequirement = serde_yaml::from_value(raw).map_err(|e| anyhow::anyhow!("{here}: {e} (keys: module, on, instantiates, reaches, instances, instances_16gib, compile_ms)"))?;
        let glob = globset::Glob::new(&r.module).map_err(|e| anyhow::anyhow!("{here}: `module: {}` is not a glob: {e}", r.module))?.compile_matcher();
        let names = match r.on {
            None => vec!["all".to_string()],
            Some(OneOrMany::One(s)) => vec![s],
            Some(OneOrMany::Many(v)) => v,
        };
        let columns = columns(&names).map_err(|e| anyhow::anyhow!("{here}: {e}"))?;
        let reaches = match &r.reaches {
            None => None,
            Some(v) => Some(size(v).map_err(|e| anyhow::anyhow!("{here}: `reaches`: {e}"))?),
        };
        if r.instantiates.is_none() && reaches.is_none() && r.instances.is_none() && r.instances_16gib.is_none() && r.compile_ms.is_none() {
            anyhow::bail!("{here}: the requirement asks nothing: give instantiates, reaches, instances, instances_16gib or compile_ms");
        }
        out.push(Requirement {
            at: here,
            glob,
            pattern: r.module,
            columns,
            instantiates: r.instantiates,
            reaches,
            instances: r.instances,
            instances_16gib: r.instances_16gib,
            compile_ms: r.compile_ms,
        });
    }
    if out.is_empty() {
        anyhow::bail!("{}: no requirements (expected a list: `- module: GLOB`, ...)", path.display());
    }
    Ok(out)
}

/// The line of each top-level list item (`- ` at the start of a line).
fn item_lines(text: &str) -> Vec<usize> {
    text.lines().enumerate().filter(|(_, l)| l.starts_with('-')).map(|(i, _)| i + 1).collect()
}

/// Column ids, families (`V8`) or `all`, to the registry's columns.
fn columns(names: &[String]) -> Result<Vec<&'static str>, String> {
    let mut out = Vec::new();
    for n in names {
        // A column's id names that column (`wasmtime` is the column, not
        // its family); a family names its columns (`V8`).
        let found: Vec<&'static Column> = if n == "all" {
            ENGINES.iter().collect()
        } else if let Some(c) = crate::engine::spec(n) {
            vec![c]
        } else {
            ENGINES.iter().filter(|c| c.family.eq_ignore_ascii_case(n)).collect()
        };
        if found.is_empty() {
            let mut families: Vec<&str> = ENGINES.iter().map(|c| c.family).collect();
            families.dedup();
            return Err(format!("`on`: unknown column or family `{n}` (columns: {}; families: {})", ENGINES.iter().map(|c| c.id).collect::<Vec<_>>().join(", "), families.join(", ")));
        }
        out.extend(found.into_iter().map(|c| c.id));
    }
    out.dedup();
    Ok(out)
}

/// `2GiB`, `512 MiB`, `32768 pages`, or a number of bytes.
fn size(v: &serde_yaml::Value) -> Result<u64, String> {
    let text = match v {
        serde_yaml::Value::Number(n) => return n.as_u64().ok_or_else(|| format!("`{n}` is not a number of bytes")),
        serde_yaml::Value::String(s) => s.trim().to_string(),
        other => return Err(format!("expected a size (2GiB, 32768 pages), not {other:?}")),
    };
    if let Some(n) = text.strip_suffix("pages").map(str::trim) {
        return n.parse::<u64>().ok().and_then(|p| p.checked_mul(65536)).ok_or_else(|| format!("`{text}`: expected a number of 64 KiB pages"));
    }
    let (num, unit) = text.split_at(text.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(text.len()));
    let n: f64 = num.parse().map_err(|_| format!("`{text}` is not a size (expected e.g. 2GiB or 32768 pages)"))?;
    let mult: u64 = match unit.trim() {
        "" | "B" | "bytes" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        other => return Err(format!("`{text}`: unknown unit `{other}` (expected bytes, KiB, MiB, GiB or pages)")),
    };
    Ok((n * mult as f64) as u64)
}

/// Whether `module` (its path as given) is one the requirement is for.
fn matches(r: &Requirement, module: &str) -> bool {
    let path = PathBuf::from(module);
    r.glob.is_match(&path) || path.file_name().is_some_and(|f| r.glob.is_match(f))
}

/// Every requirement held against the records: what is unmet. A module the
/// audit did not have, or a column it did not run, is unmet too (a gate
/// that checks nothing must not pass).
pub fn check(requirements: &[Requirement], records: &[Record]) -> Vec<Unmet> {
    let mut out = Vec::new();
    for r in requirements {
        let mine: Vec<&Record> = records.iter().filter(|rec| matches(r, &rec.module)).collect();
        if mine.is_empty() {
            out.push(Unmet { at: r.at.clone(), module: r.pattern.clone(), column: "-".into(), text: "no audited module matches".into() });
            continue;
        }
        let mut modules: Vec<&str> = mine.iter().map(|m| m.module.as_str()).collect();
        modules.dedup();
        for module in modules {
            for column in &r.columns {
                let unmet = |text: String| Unmet { at: r.at.clone(), module: module.to_string(), column: column.to_string(), text };
                let Some(rec) = mine.iter().find(|m| m.module == module && m.column == *column) else {
                    out.push(unmet("the audit did not run this column (add it to --engines)".into()));
                    continue;
                };
                if !rec.available {
                    out.push(unmet(format!("unavailable: {}", rec.reason.as_deref().unwrap_or_default())));
                    continue;
                }
                out.extend(unmet_on(r, rec).into_iter().map(unmet));
            }
        }
    }
    out
}

/// What `rec` (one module on one column) misses of `r`.
fn unmet_on(r: &Requirement, rec: &Record) -> Vec<String> {
    let why = |field: &str| rec.unanswered.get(field).map_or_else(|| "no answer".to_string(), |u| format!("not answered: {}", u.text));
    let texts = || if rec.messages.is_empty() { String::new() } else { format!(": {}", rec.messages.join("; ")) };
    let mut out = Vec::new();
    if let Some(want) = r.instantiates {
        match rec.instantiates {
            Some(got) if got == want => {}
            Some(got) => out.push(format!("must {}instantiate; it {}{}", if want { "" } else { "not " }, if got { "does" } else { "does not" }, texts())),
            None => out.push(format!("must {}instantiate; {}", if want { "" } else { "not " }, why("instantiates"))),
        }
    }
    if let Some(bytes) = r.reaches {
        let page = rec.memories.first().map_or(65536, |m| m.page_bytes);
        match rec.reached_pages {
            Some(p) if p.saturating_mul(page) >= bytes => {}
            Some(p) => out.push(format!("must reach {}; its memory reached {p} pages ({}){}", human(bytes), human(p.saturating_mul(page)), texts())),
            None if rec.memories.is_empty() => out.push(format!("must reach {}; the module has no memory", human(bytes))),
            None => out.push(format!("must reach {}; {}", human(bytes), why("reached_pages"))),
        }
    }
    for (want, got, field, what) in [(r.instances, rec.instances, "instances", "live instances"), (r.instances_16gib, rec.instances_16gib, "instances_16gib", "live instances under a 16 GiB address space")] {
        if let Some(n) = want {
            match got {
                Some(g) if g >= n => {}
                Some(g) => out.push(format!("must hold {n} {what}; it held {g}{}", texts())),
                None => out.push(format!("must hold {n} {what}; {}", why(field))),
            }
        }
    }
    if let Some(ms) = r.compile_ms {
        match rec.compile_ms {
            Some(got) if got <= ms => {}
            Some(got) => out.push(format!("must compile in {ms} ms at most; it took {got:.1} ms")),
            None => out.push(format!("must compile in {ms} ms at most; {}", why("compile_ms"))),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::audit::{Unanswered, Why};

    fn record(module: &str, column: &str) -> Record {
        serde_json::from_value(serde_json::json!({
            "module": module, "sha256": "00", "bytes": 10, "memories": [{"initial": 1, "maximum": 32768, "shared": false, "memory64": false, "page_bytes": 65536}],
            "column": column, "available": true, "compiles": true, "instantiates": true, "reached_pages": 32768, "instances": 100
        }))
        .unwrap()
    }

    #[test]
    fn a_met_requirement_is_silent_and_an_unmet_one_names_file_line_column_and_why() {
        let text = "- module: \"*.wasm\"\n  on: [wasmtime]\n  instantiates: true\n  reaches: 2GiB\n- module: app.wasm\n  on: wasmi\n  instances: 4\n";
        let reqs = parse(text, Path::new("expect.yaml")).unwrap();
        let mut timed_out = record("dist/app.wasm", "wasmi");
        timed_out.instances = None;
        timed_out.unanswered.insert("instances".into(), Unanswered::timed_out(120.0));
        let unmet = check(&reqs, &[record("dist/app.wasm", "wasmtime"), timed_out]);
        assert_eq!(unmet.len(), 1, "{unmet:?}");
        assert_eq!(unmet[0].to_string(), "expect.yaml:5: dist/app.wasm on wasmi: must hold 4 live instances; not answered: timed out after 120 s");
    }

    #[test]
    fn families_expand_and_an_unknown_key_or_column_is_bad_input_at_its_line() {
        let reqs = parse("- module: a.wasm\n  on: [V8]\n  instantiates: true\n", Path::new("e.yaml")).unwrap();
        assert!(reqs[0].columns.contains(&"chrome") && reqs[0].columns.contains(&"node"), "{:?}", reqs[0].columns);
        let e = parse("- module: a.wasm\n  instantiates: true\n- module: b.wasm\n  instantiate: true\n", Path::new("e.yaml")).unwrap_err().to_string();
        assert!(e.starts_with("e.yaml:3: unknown field `instantiate`"), "{e}");
        let e = parse("- module: a.wasm\n  on: [safari]\n  instantiates: true\n", Path::new("e.yaml")).unwrap_err().to_string();
        assert!(e.starts_with("e.yaml:1: `on`: unknown column or family `safari`"), "{e}");
        let e = parse("- module: [\n", Path::new("e.yaml")).unwrap_err().to_string();
        assert!(e.starts_with("e.yaml:"), "{e}");
        let e = parse("- module: a.wasm\n  reaches: 2 parsecs\n", Path::new("e.yaml")).unwrap_err().to_string();
        assert!(e.contains("unknown unit"), "{e}");
        let _ = Why::TimedOut;
    }
}
