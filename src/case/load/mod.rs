//! Loading case files: YAML -> validated [`Case`]s.
//!
//! Every error names the file, line and column and what was expected. A bad
//! file never stops the others from loading: [`load_paths`] returns the
//! cases it could load beside the errors.

//!
//! The parts: `discover` finds case files and corpus roots; `vary`
//! expands `vary` blocks; `raw` is the serde model of a case file; `build`
//! turns it into a [`Case`], `step` its steps, `expect` their expectations
//! and `literals` their values.

mod build;
mod ctx;
mod discover;
mod expect;
mod literals;
mod raw;
mod step;
mod vary;

pub use discover::{corpus_root, load_paths, walk_files, KNOWN_FILE};
pub use literals::typed;

use build::build;
use raw::RawCase;
use vary::{placeholders_as_scalars, substitute, vary_combinations, without_vary_block};
use super::spans::Pos;
use super::error::LoadError;
use super::model::*;
use super::spans::LazySpans;
use serde_yaml::Value as Yaml;
use std::path::Path;

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
        std::io::ErrorKind::InvalidData => LoadError::whole(file, "is not UTF-8 text: expected a YAML case file, a .wast script or a testharness file"),
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
    if super::testharness::is_testharness_file(file) {
        // So do testharness files: `memory/grow.any.js`.
        let id = rel.to_string_lossy().replace('\\', "/");
        return super::testharness::parse_testharness(&text, file, &id);
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
    mark_varying_steps(&mut cases);
    Ok(cases)
}

/// Marks the steps whose action differs between a file's variants (a step
/// past the first variant's last differs).
fn mark_varying_steps(cases: &mut [Case]) {
    let Some(first) = cases.first() else { return };
    let differs: Vec<bool> = (0..cases.iter().map(|c| c.steps.len()).max().unwrap_or(0))
        .map(|i| cases.iter().any(|c| c.plan.actions.get(i) != first.plan.actions.get(i)))
        .collect();
    for case in cases.iter_mut() {
        for (step, differs) in case.steps.iter_mut().zip(&differs) {
            step.varies = *differs;
        }
    }
}


#[cfg(test)]
mod tests {
    use super::literals::special_float;
    use super::*;
    use crate::case::*;

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
        assert_eq!(cases[1].plan.actions[1], Action::Invoke { name: "grow".into(), args: vec![Val::I32(65536)], results: vec![ValType::I32], instance: None });
        assert!(cases[1].wat.as_deref().unwrap().contains("1 65536"));
        assert_eq!(cases[1].vary.get("max").map(String::as_str), Some("65536"));
    }

    #[test]
    fn implicit_instantiate_goes_after_leading_new_memory_steps() {
        let text = "summary: s\nimports: {\"env.m\": m}\nmodule: (module (import \"env\" \"m\" (memory 1)))\nsteps:\n  - new_memory: {as: m, initial: 1}\n  - size: {memory: m}\n    expect: {pages: 1}\n";
        let case = &parse(text).unwrap()[0];
        let labels: Vec<String> = (0..case.steps.len()).map(|i| case.step_label(i)).collect();
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
        let Action::Invoke { args, .. } = &case.plan.actions[1] else { panic!() };
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
