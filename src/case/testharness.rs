//! The third case kind: a testharness file (`.any.js`) of the JS API's own
//! tests, in the layout of the spec's `test/js-api` or WPT's `wasm/jsapi`.
//! One file is one case; its subtests are found when it runs. The file
//! runs with the suite's own `testharness.js` (found next to the suite:
//! `test/harness/` in the spec's layout, `resources/` in WPT's), its
//! `// META: script=` includes (`/wasm/jsapi/...` resolved from the suite
//! root) and on the globals `// META: global=` names.

use super::error::LoadError;
use super::{Action, Case, Expect, Form, Plan, Step};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// A script a testharness case runs, in order: the harness, the includes,
/// the file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Script {
    /// Where it was read from (shown in stack traces).
    pub name: String,
    pub text: String,
}

/// Where a testharness file runs: `jsshell` on the JS shells, `window` in
/// the browsers (`dedicatedworker`, `shadowrealm` and the others are not run).
pub const SHELL: &str = "jsshell";
pub const WINDOW: &str = "window";

/// Seconds a file may take before its unfinished subtests time out, as
/// testharness.js's own defaults are (10 s, 60 s for `timeout=long`).
const NORMAL_SECONDS: f64 = 10.0;
const LONG_SECONDS: f64 = 60.0;

/// The file name of a testharness file.
pub fn is_testharness_file(path: &Path) -> bool {
    path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.ends_with(".any.js"))
}

/// The `// META:` lines of a file, in order: (key, value, line).
fn meta(text: &str) -> Vec<(String, String, usize)> {
    text.lines()
        .enumerate()
        .map_while(|(i, l)| {
            let l = l.trim();
            (l.is_empty() || l.starts_with("//")).then_some((i, l))
        })
        .filter_map(|(i, l)| {
            let rest = l.strip_prefix("//")?.trim().strip_prefix("META:")?.trim();
            let (k, v) = rest.split_once('=')?;
            Some((k.trim().to_string(), v.trim().to_string(), i + 1))
        })
        .collect()
}

/// The suite directory a file belongs to: the nearest ancestor named
/// `js-api` (the spec's layout) or `jsapi` (WPT's), which `/wasm/jsapi/`
/// in an include means.
fn suite_dir(file: &Path) -> Option<PathBuf> {
    file.ancestors().skip(1).find(|d| d.file_name().is_some_and(|n| n == "js-api" || n == "jsapi")).map(Path::to_path_buf)
}

/// The suite's own testharness.js: `../harness/testharness.js` from the
/// spec's `test/js-api`, `resources/testharness.js` at WPT's root, or the
/// first of those found going up from the suite.
fn harness_file(suite: &Path) -> Result<PathBuf, Vec<PathBuf>> {
    let mut looked = Vec::new();
    for dir in suite.ancestors().skip(1) {
        for candidate in [dir.join("harness/testharness.js"), dir.join("resources/testharness.js")] {
            if candidate.is_file() {
                return Ok(candidate);
            }
            looked.push(candidate);
        }
    }
    Err(looked)
}

fn read(path: &Path, file: &Path, line: usize) -> Result<Script, LoadError> {
    let text = std::fs::read_to_string(path).map_err(|e| LoadError {
        file: file.to_path_buf(),
        line,
        col: 1,
        message: format!("cannot read {}: {e}", path.display()),
    })?;
    Ok(Script { name: path.display().to_string(), text })
}

/// One testharness file as a case with id `id`.
pub fn parse_testharness(text: &str, file: &Path, id: &str) -> Result<Vec<Case>, LoadError> {
    let file_abs = std::fs::canonicalize(file).unwrap_or_else(|_| file.to_path_buf());
    let suite = suite_dir(&file_abs).ok_or_else(|| {
        LoadError::whole(file, "a testharness file must be inside a `js-api` (WebAssembly/spec test/js-api) or `jsapi` (WPT wasm/jsapi) directory, where its includes and testharness.js are found")
    })?;
    let harness = harness_file(&suite).map_err(|looked| {
        let looked: Vec<String> = looked.iter().take(4).map(|p| p.display().to_string()).collect();
        LoadError::whole(file, format!("the suite's testharness.js was not found (looked for {}, ...)", looked.join(", ")))
    })?;
    let mut scripts = vec![read(&harness, file, 0)?];
    let mut globals: Vec<String> = Vec::new();
    let mut long = false;
    for (key, value, line) in meta(text) {
        match key.as_str() {
            "global" => globals.extend(value.split(',').map(|g| g.trim().to_string()).filter(|g| !g.is_empty())),
            "script" => {
                let path = match value.strip_prefix("/wasm/jsapi/") {
                    Some(rest) => suite.join(rest),
                    None if value.starts_with('/') => {
                        return Err(LoadError { file: file.to_path_buf(), line, col: 1, message: format!("`{value}`: an absolute include must start with /wasm/jsapi/") });
                    }
                    None => file_abs.parent().unwrap_or(Path::new(".")).join(&value),
                };
                scripts.push(read(&path, file, line)?);
            }
            "timeout" => long = value == "long",
            // title, variant and the others change nothing here.
            _ => {}
        }
    }
    // A file without `global=` runs where testharness files run by default.
    if globals.is_empty() {
        globals = vec![WINDOW.to_string(), "dedicatedworker".to_string()];
    }
    scripts.push(Script { name: file_abs.display().to_string(), text: text.to_string() });
    let seconds = if long { LONG_SECONDS } else { NORMAL_SECONDS };
    let action = Action::Testharness { scripts, globals, seconds };
    let name = file.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
    Ok(vec![Case {
        form: Form::Testharness,
        summary: format!("the JS API's own tests in {name}"),
        tags: vec!["testharness".into()],
        source: Some(format!("testharness file {}", file.display())),
        // The harness times its subtests out first; the process gets more:
        // a file's synchronous tests all run before any timer can fire (the
        // harness's timeout among them), so twice the file's time and 10 s.
        // Measured: limits.any.js (60 s) takes 15 s on one Node alone and
        // 86-99 s on six shells side by side on two cores; with 70 s it was
        // killed there and lost its 143 subtests.
        timeout: Some(seconds * 2.0 + 10.0),
        ..Case::new(id.to_string(), file.to_path_buf(), vec![(action, Step::new(Expect::Ok))], Plan::of(None, vec![]))
    }])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meta_lines_are_read_from_the_header_only() {
        let m = meta("// META: global=window,jsshell\n// META: script=/wasm/jsapi/assertions.js\n\n'use strict';\n// META: script=late.js\n");
        assert_eq!(m, vec![("global".into(), "window,jsshell".into(), 1), ("script".into(), "/wasm/jsapi/assertions.js".into(), 2)]);
    }

    #[test]
    fn a_file_outside_a_suite_or_without_a_harness_is_bad_input() {
        let tmp = tempfile::tempdir().unwrap();
        let lone = tmp.path().join("x.any.js");
        std::fs::write(&lone, "test(() => {});").unwrap();
        let e = parse_testharness("", &lone, "x.any.js").unwrap_err();
        assert!(e.message.contains("inside a `js-api`"), "{e}");
        let suite = tmp.path().join("test/js-api");
        std::fs::create_dir_all(&suite).unwrap();
        let f = suite.join("a.any.js");
        std::fs::write(&f, "").unwrap();
        let e = parse_testharness("", &f, "a.any.js").unwrap_err();
        assert!(e.message.contains("testharness.js was not found"), "{e}");
        std::fs::create_dir_all(tmp.path().join("test/harness")).unwrap();
        std::fs::write(tmp.path().join("test/harness/testharness.js"), "// harness").unwrap();
        std::fs::write(suite.join("helper.js"), "// helper").unwrap();
        let text = "// META: global=jsshell\n// META: script=/wasm/jsapi/helper.js\n// META: timeout=long\ntest(() => {});\n";
        let case = parse_testharness(text, &f, "a.any.js").unwrap().remove(0);
        let Action::Testharness { scripts, globals, seconds } = &case.plan.actions[0] else { panic!() };
        assert_eq!(scripts.iter().map(|s| s.text.as_str()).collect::<Vec<_>>(), ["// harness", "// helper", text]);
        assert_eq!(globals, &["jsshell"]);
        assert_eq!(*seconds, LONG_SECONDS);
        let e = parse_testharness("// META: script=/wasm/jsapi/missing.js\n", &f, "a.any.js").unwrap_err();
        assert_eq!(e.line, 1);
        assert!(e.message.contains("missing.js"), "{e}");
    }
}
