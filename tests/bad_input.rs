//! The bad-input catalogue: the binary on many distinct bad inputs. For
//! each: the documented exit status (2), a message naming the file (and the
//! line where there is one) and what was expected, no panic, and — for a bad
//! case file beside a good one — the good case's cell still in the results.

use std::path::Path;
use std::process::{Command, Output};
use wasm_matrix::diff::Verdict;
use wasm_matrix::results::ResultsDoc;

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_wasm-matrix"));
    c.current_dir(env!("CARGO_MANIFEST_DIR")).env_remove("WASM_MATRIX_REQUIRE");
    c
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

const GOOD: &str = "summary: good\nmodule: |\n  (module (memory (export \"mem\") 1 2)\n    (func (export \"grow\") (param i32) (result i32) (memory.grow (local.get 0))))\nsteps:\n  - invoke: grow\n    args: [1]\n    expect: { returns: [1] }\n";

/// A module the step cases below use: one i32 -> i32 export and a memory.
const M: &str = "module: |\n  (module (memory (export \"mem\") 1 2)\n    (func (export \"grow\") (param i32) (result i32) (memory.grow (local.get 0))))\n";

/// The toolchain corpus, for cases that name its files (absolute: the bad
/// files are written to a temporary folder).
const TC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/cases/toolchains");

/// What the bad file's error must say (besides its name).
struct Bad {
    name: &'static str,
    file: &'static str,
    content: Vec<u8>,
    /// `file:line` must appear (where the input has a line to point at).
    line: Option<usize>,
    says: &'static str,
}

fn bad(name: &'static str, file: &'static str, content: impl Into<Vec<u8>>, line: Option<usize>, says: &'static str) -> Bad {
    Bad { name, file, content: content.into(), line, says }
}

fn case_files() -> Vec<Bad> {
    let mut bomb = String::from("a: &a [\"x\",\"x\",\"x\",\"x\",\"x\",\"x\",\"x\",\"x\",\"x\"]\n");
    for (i, c) in "bcdefghij".chars().enumerate() {
        let prev = (b'a' + i as u8) as char;
        bomb.push_str(&format!("{c}: &{c} [{}]\n", vec![format!("*{prev}"); 9].join(",")));
    }
    bomb.push_str("summary: s\nsteps: []\n");
    let mut junk = vec![0u8, 159, 146, 150, b'\n', 0xff, 0xfe];
    junk.extend((0..2000u32).map(|i| (i * 7919 % 251) as u8));
    let huge = format!("summary: \"{}\"\nsteps: []\n", "x".repeat(10 << 20));
    vec![
        bad("YAML syntax error", "bad.yaml", "summary: [unclosed\nsteps: []\n", Some(2), "did not find expected"),
        bad("wrong type", "bad.yaml", "summary: [1, 2]\nsteps: []\n", Some(1), "expected a string"),
        bad("unknown top-level key", "bad.yaml", "summary: s\ncolour: red\nsteps: []\n", Some(2), "unknown field `colour`"),
        bad("unknown step kind", "bad.yaml", format!("summary: s\n{M}steps:\n  - dance: {{}}\n"), Some(6), "unknown field `dance`"),
        bad("unknown expect kind", "bad.yaml", format!("summary: s\n{M}steps:\n  - invoke: grow\n    args: [1]\n    expect: {{ explodes: 1 }}\n"), Some(8), "explodes"),
        bad("unknown trap kind", "bad.yaml", format!("summary: s\n{M}steps:\n  - invoke: grow\n    args: [1]\n    expect: {{ trap: kaboom }}\n"), Some(8), "kaboom"),
        bad("unknown error kind", "bad.yaml", format!("summary: s\n{M}steps:\n  - grow: {{ memory: mem, delta: 1 }}\n    expect: {{ error: kaboom }}\n"), Some(7), "kaboom"),
        bad("missing summary", "bad.yaml", format!("{M}steps: []\n"), Some(1), "missing field `summary`"),
        bad("missing steps", "bad.yaml", format!("summary: s\n{M}"), Some(1), "missing field `steps`"),
        bad("vary with an unknown variable", "bad.yaml", format!("summary: s\nvary:\n  n: [1, 2]\n{M}steps:\n  - invoke: grow\n    args: [${{nope}}]\n    expect: {{ returns: [1] }}\n"), Some(9), "`${nope}` is not a `vary` name"),
        bad("vary that is not a list", "bad.yaml", format!("summary: s\nvary:\n  n: 3\n{M}steps: []\n"), Some(3), "must be a non-empty list"),
        bad("args of the wrong type", "bad.yaml", format!("summary: s\n{M}steps:\n  - invoke: grow\n    args: [\"abc\"]\n    expect: {{ returns: [1] }}\n"), Some(7), "argument 1"),
        bad("args of the wrong count", "bad.yaml", format!("summary: s\n{M}steps:\n  - invoke: grow\n    args: [1, 2]\n    expect: {{ returns: [1] }}\n"), Some(7), "takes 1 argument"),
        bad("an i64 literal out of range", "bad.yaml", "summary: s\nmodule: (module (func (export \"f\") (param i64)))\nsteps:\n  - invoke: f\n    args: [\"0x1ffffffffffffffff\"]\n    expect: ok\n", Some(5), "argument 1"),
        bad("an export that does not exist", "bad.yaml", format!("summary: s\n{M}steps:\n  - invoke: nothere\n    expect: ok\n"), Some(6), "exports no function `nothere`"),
        bad("a memory that does not exist", "bad.yaml", format!("summary: s\n{M}steps:\n  - grow: {{ memory: nomem, delta: 1 }}\n    expect: {{ returns: [1] }}\n"), Some(6), "no memory named `nomem`"),
        bad("invalid hex in bytes", "bad.yaml", format!("summary: s\n{M}steps:\n  - write: {{ memory: mem, offset: 0, bytes: \"zz\" }}\n"), Some(6), "hex"),
        bad("an expectation the step cannot have", "bad.yaml", format!("summary: s\n{M}steps:\n  - invoke: grow\n    args: [1]\n    expect: {{ pages: 1 }}\n"), Some(8), "`pages` only on `size` steps"),
        bad("returns with the wrong count", "bad.yaml", format!("summary: s\n{M}steps:\n  - invoke: grow\n    args: [1]\n    expect: {{ returns: [1, 2] }}\n"), Some(8), "expected 1 result value"),
        bad("a host memory made twice", "bad.yaml", "summary: s\nsteps:\n  - new_memory: { as: m, initial: 1 }\n  - new_memory: { as: m, initial: 1 }\n", Some(4), "already made"),
        bad("a duplicate key", "bad.yaml", "summary: s\nsummary: t\nsteps: []\n", None, "duplicate entry with key \"summary\""),
        bad("WAT syntax error", "bad.yaml", "summary: s\nmodule: |\n  (module\n    (func (i32.bogus)))\nsteps: []\n", Some(4), "WAT does not parse"),
        bad(".wast syntax error", "bad.wast", "(module (func)\n(assert_return (invoke \"f\")", Some(2), ""),
        bad(".wast unknown directive", "bad.wast", "(module)\n(assert_frobnicate (invoke \"f\"))\n", Some(2), ""),
        bad("an empty file", "bad.yaml", "", Some(1), "expected a mapping with `summary`"),
        bad("a document that is no mapping", "bad.yaml", "- just\n- a list\n", Some(1), "expected a mapping with `summary`"),
        bad("binary junk", "bad.yaml", junk, None, "is not UTF-8 text"),
        bad("a YAML alias bomb", "bad.yaml", bomb, None, "repetition limit exceeded"),
        bad("a 10 MB case file", "bad.yaml", huge, None, "larger than a case file may be"),
        bad("a module file that is not wasm", "bad.yaml", "summary: s\nmodule_file: bad.yaml\nsteps: []\n", Some(2), "is not a WebAssembly binary"),
        bad("a module file that is not there", "bad.yaml", "summary: s\nmodule_file: nothere.wasm\nsteps: []\n", Some(2), "cannot read"),
        bad("instances without a limit", "bad.yaml", format!("summary: s\n{M}steps:\n  - instances: {{}}\n    expect: any\n"), Some(6), "missing field `limit`"),
        bad("instances with a limit of 0", "bad.yaml", format!("summary: s\n{M}steps:\n  - instances: {{ limit: 0 }}\n    expect: any\n"), Some(6), "a limit of at least 1"),
        bad("compile without a module", "bad.yaml", "summary: s\nsteps:\n  - compile: {}\n", Some(3), "compile"),
        bad("both module and module_file", "bad.yaml", format!("summary: s\n{M}module_file: x.wasm\nsteps: []\n"), Some(5), "not both"),
        bad("imports: stub without a module", "bad.yaml", "summary: s\nimports: stub\nsteps:\n  - new_memory: { as: m, initial: 1 }\n", Some(2), "the case needs a `module`"),
        bad("a stub for an import the module lacks", "bad.yaml", format!("summary: s\n{M}imports:\n  env.nothere: stub\nsteps: []\n"), Some(6), "imports nothing named `env.nothere`"),
        bad("imports that are neither stub nor a map", "bad.yaml", format!("summary: s\n{M}imports: everything\nsteps: []\n"), Some(5), "expected `stub` or a map"),
        bad("a testharness file outside a js-api suite", "bad.any.js", "test(() => {});\n", None, "inside a `js-api`"),
        bad("glue without a module file", "bad.yaml", format!("summary: s\n{M}glue: {{ file: x.js, kind: go }}\nsteps: []\n"), Some(5), "needs a `module_file`"),
        bad("an Emscripten glue without its factory", "bad.yaml", format!("summary: s\nmodule_file: {0}/em-max-memory.wasm\nglue: {{ file: {0}/em-max-memory.js, kind: emscripten }}\nsteps: []\n", TC), Some(3), "EXPORT_NAME"),
        bad("a glue of an unknown kind", "bad.yaml", format!("summary: s\nmodule_file: {0}/go-js.wasm\nglue: {{ file: {0}/go-wasm_exec.js, kind: rustc }}\nsteps: []\n", TC), Some(3), "unknown variant `rustc`"),
        bad("a glue step without a glue", "bad.yaml", format!("summary: s\n{M}steps:\n  - glue_call: {{ name: f }}\n    expect: any\n"), Some(6), "needs a `glue`"),
        bad("a glue file in another folder", "bad.yaml", format!("summary: s\nmodule_file: {0}/em-pthread.wasm\nglue: {{ file: {0}/em-pthread.js, kind: emscripten, factory: f, files: [../em-pthread.worker.js] }}\nsteps: []\n", TC), Some(3), "lies beside it"),
        bad("a glue file that is not there", "bad.yaml", format!("summary: s\nmodule_file: {0}/em-pthread.wasm\nglue: {{ file: {0}/em-pthread.js, kind: emscripten, factory: f, files: [nope.worker.js] }}\nsteps: []\n", TC), Some(3), "cannot read"),
        bad("runs_on an unknown kind of column", "bad.yaml", format!("summary: s\n{M}runs_on: [browser, phone]\nsteps: []\n"), Some(5), "unknown variant `phone`"),
        bad("an empty text expectation", "bad.yaml", format!("summary: s\n{M}steps:\n  - invoke: grow\n    args: [1]\n    expect: {{ text: \"\" }}\n"), Some(8), "non-empty"),
    ]
}

#[test]
fn every_bad_case_file_is_named_with_its_line_and_the_good_case_still_runs() {
    let cases = case_files();
    assert!(cases.len() >= 36);
    let mut wrong = Vec::new();
    for b in &cases {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("known-divergences.yaml"), "{}\n").unwrap();
        std::fs::write(dir.path().join("good.yaml"), GOOD).unwrap();
        std::fs::write(dir.path().join(b.file), &b.content).unwrap();
        let out = dir.path().join("r.json");
        let o = bin().args(["run", dir.path().to_str().unwrap(), "--engines", "wasmi", "--out", out.to_str().unwrap()]).output().unwrap();
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{}: exit status; stderr: {err}", b.name);
        assert!(!err.contains("panicked"), "{}: a panic: {err}", b.name);
        let named = match b.line {
            Some(line) => format!("{}:{line}:", b.file),
            None => format!("{}:", b.file),
        };
        if !err.contains(&named) || !err.contains(b.says) {
            wrong.push(format!("{}: the message should name `{named}` and say `{}`: {err}", b.name, b.says));
            continue;
        }
        let doc = ResultsDoc::read(&out).unwrap_or_else(|e| panic!("{}: results: {e}", b.name));
        assert!(
            doc.cells.iter().any(|c| c.case == "good" && c.verdict == Verdict::Pass),
            "{}: the good case beside it still ran: {doc:?}",
            b.name
        );
        assert_eq!(doc.load_errors.len(), 1, "{}: the load error is in the results", b.name);
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn an_unreadable_file_and_a_directory_without_cases_are_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("known-divergences.yaml"), "{}\n").unwrap();
    std::fs::write(dir.path().join("good.yaml"), GOOD).unwrap();
    std::os::unix::fs::symlink("/nonexistent/case.yaml", dir.path().join("gone.yaml")).unwrap();
    let o = bin().args(["run", dir.path().to_str().unwrap(), "--engines", "wasmi", "--out", dir.path().join("r.json").to_str().unwrap()]).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("gone.yaml: cannot read"), "{}", stderr(&o));

    let empty = tempfile::tempdir().unwrap();
    let o = bin().args(["run", empty.path().to_str().unwrap(), "--engines", "wasmi"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("no case files (*.yaml, *.wast, *.any.js) in this directory"), "{}", stderr(&o));
}

#[test]
fn two_corpora_whose_case_ids_collide_are_bad_input() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    for d in [a.path(), b.path()] {
        std::fs::write(d.join("known-divergences.yaml"), "{}\n").unwrap();
        std::fs::write(d.join("same.yaml"), GOOD).unwrap();
    }
    let o = bin().args(["run", a.path().to_str().unwrap(), b.path().to_str().unwrap(), "--engines", "wasmi"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("case id `same` is also used by"), "{}", stderr(&o));
}

/// Bad command lines: the arguments, and what the message must say.
#[test]
fn bad_command_lines_are_exit_2_with_what_was_expected() {
    let tmp = tempfile::tempdir().unwrap();
    let notjson = tmp.path().join("notjson.json");
    std::fs::write(&notjson, "this is not json\n").unwrap();
    let n = notjson.to_str().unwrap();
    let rep = tmp.path().join("rep");
    let rep = rep.to_str().unwrap();
    let zero = "cases/grow/zero.yaml";
    let lines: Vec<(Vec<&str>, &str)> = vec![
        (vec!["run", zero, "--engines", "wasmtime,v8"], "unknown engine `v8`"),
        (vec!["run", zero, "--engines", ""], "no engines selected"),
        (vec!["run", zero, "--shard", "3/2"], "expected K/N with 1 <= K <= N"),
        (vec!["run", zero, "--shard", "0/2"], "expected K/N with 1 <= K <= N"),
        (vec!["run", zero, "--shard", "half"], "expected K/N"),
        (vec!["run", zero, "--jobs", "0"], "--jobs must be at least 1"),
        (vec!["run", zero, "--jobs", "many"], "invalid digit"),
        (vec!["run", zero, "--timeout", "nan"], "--timeout must be a positive number"),
        (vec!["run", zero, "--timeout=-1"], "--timeout must be a positive number"),
        (vec!["run", zero, "--timeout", "soon"], "invalid float"),
        (vec!["run", zero, "--timeout-multiplier", "0"], "--timeout-multiplier must be a positive number"),
        (vec!["run", zero, "--memory-budget", "lots"], "is not a size"),
        (vec!["run", zero, "--memory-budget", "6 parsecs"], "unknown unit"),
        (vec!["run", zero, "--memory-budget", "1MiB"], "below 64 MiB"),
        (vec!["run", zero, "--webdriver", "chrome=notaurl"], "`notaurl` is not a URL"),
        (vec!["run", zero, "--webdriver", "chrome=ftp://grid:4444"], "is not a WebDriver endpoint"),
        (vec!["run", zero, "--webdriver", "safari=http://127.0.0.1:4444"], "`safari` is not a browser engine"),
        (vec!["run", zero, "--webdriver", "chrome"], "expected NAME=URL"),
        (vec!["run", zero, "--features", "telepathy"], "telepathy"),
        (vec!["run", "no/such/dir"], "no/such/dir: cannot read"),
        (vec!["run", zero, "--resume", n], "notjson.json:1: expected a results document"),
        (vec!["report", n, "--out", rep], "notjson.json:1: expected a results document"),
        (vec!["report", "no/such/results.json"], "no/such/results.json: cannot read"),
    ];
    for (args, says) in &lines {
        let o = bin().args(args).output().unwrap();
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: exit status; stderr: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: the message says `{says}`: {err}");
    }
}

#[test]
fn merging_results_of_different_tool_versions_is_bad_input() {
    let tmp = tempfile::tempdir().unwrap();
    let a = tmp.path().join("a.json");
    let o = bin().args(["run", "cases/grow/zero.yaml", "--engines", "wasmi", "--out", a.to_str().unwrap()]).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let mut doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&a).unwrap()).unwrap();
    doc["tool"]["version"] = "0.0.1".into();
    let b = tmp.path().join("b.json");
    std::fs::write(&b, doc.to_string()).unwrap();
    let o = bin().args(["report", a.to_str().unwrap(), b.to_str().unwrap(), "--out", tmp.path().join("rep").to_str().unwrap()]).output().unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("tool version"), "{}", stderr(&o));
    assert!(!Path::new(&tmp.path().join("rep/index.html")).exists(), "no report from a refused merge");
}

#[test]
fn a_truncated_module_file_is_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("known-divergences.yaml"), "{}\n").unwrap();
    let wasm = std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("cases/binary/grow-1-2.wasm")).unwrap();
    std::fs::write(dir.path().join("cut.wasm"), &wasm[..wasm.len() - 5]).unwrap();
    std::fs::write(dir.path().join("cut.yaml"), "summary: s\nmodule_file: cut.wasm\nsteps: []\n").unwrap();
    let o = bin().args(["run", dir.path().to_str().unwrap(), "--engines", "wasmi", "--out", dir.path().join("r.json").to_str().unwrap()]).output().unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("cut.yaml:2:") && err.contains("`cut.wasm` is not a whole WebAssembly module"), "{err}");
}

