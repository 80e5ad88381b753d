//! The cases an audit runs for one module, written as ordinary case files
//! (`module_file` beside them, `imports: stub`), so that an audit can be
//! committed as regression cases and `run` takes them unchanged. Every step
//! observes (`expect: any`): an audit records what each column does.

use super::inspect::{Declared, MemoryDecl};
use std::fmt::Write;

/// The module's copy beside its cases.
pub const MODULE_FILE: &str = "module.wasm";

/// A case: its file name and YAML text.
pub struct CaseFile {
    pub name: &'static str,
    pub text: String,
}

/// The proposals a module's memories need switched on.
fn features(d: &Declared) -> Vec<&'static str> {
    let mut f = Vec::new();
    if d.memories.iter().any(|m| m.shared) {
        f.push("threads");
    }
    if d.memories.iter().any(|m| m.memory64) {
        f.push("memory64");
    }
    if d.memories.len() > 1 {
        f.push("multi-memory");
    }
    if d.memories.iter().any(|m| m.page_bytes != 65536) {
        f.push("custom-page-sizes");
    }
    f
}

/// The largest size (pages) a memory without a maximum is grown to: the
/// address type's limit.
fn type_limit(m: &MemoryDecl) -> u64 {
    match (m.memory64, m.page_bytes) {
        (true, p) => (1u64 << 48) / (p / 65536).max(1),
        (false, 65536) => 65536,
        (false, p) => (u32::MAX as u64) / p,
    }
}

fn head(out: &mut String, summary: &str, source: &str, d: &Declared) {
    let _ = writeln!(out, "summary: {}", yaml_str(summary));
    let _ = writeln!(out, "tags: [audit]");
    let _ = writeln!(out, "source: {}", yaml_str(source));
    let f = features(d);
    if !f.is_empty() {
        let _ = writeln!(out, "features: [{}]", f.join(", "));
    }
    let _ = writeln!(out, "module_file: {MODULE_FILE}");
}

fn yaml_str(s: &str) -> String {
    serde_json::to_string(s).expect("a string serializes")
}

/// `validate` and `instantiate` (every import stubbed), and, when the
/// first memory can be reached from the host (exported, or imported and
/// so made here), `grow`: to its declared maximum (or the address type's
/// limit when it has none), then one page past.
pub fn cases(d: &Declared, source: &str) -> Vec<CaseFile> {
    let mut out = Vec::new();
    let mut t = String::new();
    head(&mut t, "audit: the module validates and instantiates with every import stubbed", source, d);
    t.push_str("imports: stub\nsteps:\n  - validate: {}\n    expect: any\n  - instantiate: {}\n    expect: any\n");
    out.push(CaseFile { name: "instantiate.yaml", text: t });

    let Some(m) = d.memories.first() else { return out };
    let target = m.maximum.unwrap_or_else(|| type_limit(m));
    let delta = target.saturating_sub(m.initial);
    let mut t = String::new();
    let what = match m.maximum {
        Some(max) => format!("its declared maximum ({max} pages)"),
        None => format!("the address type's limit ({target} pages: it declares no maximum)"),
    };
    head(&mut t, &format!("audit: the module's memory grows from {} pages to {what}, then one page past", m.initial), source, d);
    // A GiB grow takes its time on engines that commit what they grow (the
    // case then runs as a memory-heavy one, within the budget).
    t.push_str("timeout: 120\n");
    let memory = match (&m.import, m.exports.first()) {
        (Some(import), _) => {
            // Imported: made here, as declared, and bound; the rest stubbed.
            let _ = writeln!(t, "imports:\n  {}: audited", yaml_str(import));
            for name in d.import_names.iter().filter(|n| *n != import) {
                let _ = writeln!(t, "  {}: stub", yaml_str(name));
            }
            "audited".to_string()
        }
        (None, Some(export)) => {
            t.push_str("imports: stub\n");
            export.clone()
        }
        (None, None) => return out,
    };
    t.push_str("steps:\n");
    if m.import.is_some() {
        let max = m.maximum.map(|x| format!(", maximum: {x}")).unwrap_or_default();
        let shared = if m.shared { ", shared: true" } else { "" };
        let addr = if m.memory64 { ", address: i64" } else { "" };
        let _ = writeln!(t, "  - new_memory: {{ as: audited, initial: {}{max}{shared}{addr} }}\n    expect: any", m.initial);
    }
    let _ = writeln!(t, "  - instantiate: {{}}\n    expect: any");
    let _ = writeln!(t, "  - grow: {{ memory: {}, delta: {delta} }}\n    expect: any", yaml_str(&memory));
    let _ = writeln!(t, "  - size: {{ memory: {} }}\n    expect: any", yaml_str(&memory));
    let _ = writeln!(t, "  - grow: {{ memory: {}, delta: 1 }}\n    expect: any", yaml_str(&memory));
    out.push(CaseFile { name: "grow.yaml", text: t });
    out
}
