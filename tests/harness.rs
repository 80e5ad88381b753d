//! The JS harness (drivers/harness/) spoken to directly over the line protocol, in a real
//! shell: what the tool's own side never sends.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use wasm_matrix::engine::{spec, Launch};

/// A step kind the harness does not know (one added in Rust and forgotten
/// in the harness) is a tool error, a crash cell, never "unsupported": it
/// must not pass for an engine's limitation. The steps it knows still run.
#[test]
fn an_unknown_step_kind_is_a_tool_error_not_unsupported() {
    if !common::available_or_skip("node") {
        return;
    }
    let Launch::Js(shell) = spec("node").unwrap().launch else { panic!("node is a shell") };
    let (bin, args) = shell.command().unwrap();
    let mut child = Command::new(bin).args(args).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    writeln!(stdin, r#"{{"id":1,"plan":{{"actions":[{{"new_memory":{{"name":"m","initial":1,"maximum":null,"shared":false}}}},{{"teleport":{{"memory":"m"}}}},{{"size":{{"memory":"m"}}}}]}}}}"#).unwrap();
    drop(stdin);
    let events: Vec<serde_json::Value> = BufReader::new(child.stdout.take().unwrap()).lines().map(|l| serde_json::from_str(&l.unwrap()).unwrap()).collect();
    child.wait().unwrap();
    let step = |i: u64| events.iter().find(|e| e["step"]["index"] == i).map(|e| e["step"]["outcome"].clone()).unwrap_or_else(|| panic!("step {i}: {events:?}"));
    assert_eq!(step(0)["kind"], "ok", "{events:?}");
    assert_eq!(step(1)["kind"], "crash", "{events:?}");
    assert!(step(1)["message"].as_str().unwrap().contains("tool error: the JS harness does not know the step `teleport`"), "{events:?}");
    assert_eq!(step(2)["kind"], "pages", "the steps it knows still run: {events:?}");
    // The runner reads it as a crash outcome.
    let raw: wasm_matrix::outcome::RawOutcome = serde_json::from_value(step(1)).unwrap();
    assert!(matches!(wasm_matrix::outcome::normalize(raw), wasm_matrix::outcome::Outcome::Crash(_)));
}
