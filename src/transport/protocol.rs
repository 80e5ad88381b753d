//! The line protocol between the runner and an engine process: one JSON
//! object per line each way. The same protocol serves embedded-engine
//! workers, the JS harness in the shells, and (through `execute_async`
//! batches) the harness page in the browsers.
//!
//! runner -> engine: `{"id": 7, "plan": {...}}` (a [`Request`]), several may
//! be in flight; the engine answers them in order. `"from": 12` starts at
//! step 12 (a case going on in a new process after its engine died);
//! `"timeout": 120` is a heavy case's own time limit, `"raise": true` asks a
//! worker to run it at a raised CPU priority; `"module": {"sha256", "path",
//! "len"}` names a large main module written once for the run (the plan has
//! no `wasm` then: a worker or shell reads the file, a browser page fetches
//! `/module/SHA256` from the harness server). `{"forget":true}`
//! ([`FORGET_LINE`], workers and shells) is no case: the process drops the
//! modules it kept compiled, and nothing is answered.
//! engine -> runner: first `{"ready": {"engine": "wasmtime", "version": "48.0.0"}}`,
//! then per request one `{"step": {"id": 7, "index": 0, "outcome": {...},
//! "us": 412}}` per step as it finishes (`us`: the step's own time) and a closing `{"done": {"id": 7, "us": 812}}`
//! (a worker adds `"cpu_us"`, its process's CPU time for the case),
//! or `{"panicked": {"id": 7, "message": "..."}}` when the engine panicked in
//! the case's next step (a worker catches it and goes on).

use crate::case::Plan;
use crate::outcome::RawOutcome;
use serde::{Deserialize, Serialize};

#[derive(Debug, Serialize, Deserialize)]
pub struct Request {
    pub id: u64,
    pub plan: Plan,
    /// The first step to run (the ones before it ran in an earlier process).
    #[serde(default)]
    pub from: usize,
    /// Run the case at a raised CPU priority where the system allows it (the
    /// runner asks for its memory-heavy cases with their own time limit).
    #[serde(default)]
    pub raise: bool,
    /// The main module, where it travels apart (see [`super::modules`]):
    /// the plan's `wasm` is then absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub module: Option<super::modules::ModuleRef>,
}

#[derive(Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    Ready { engine: String, version: String },
    /// `us`: the engine's own time for this step, in microseconds.
    Step {
        id: u64,
        index: usize,
        outcome: RawOutcome,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        us: Option<u64>,
    },
    /// `us`: the engine's own time for the whole case, in microseconds.
    /// Browsers add whether the page was cross-origin isolated.
    Done {
        id: u64,
        us: u64,
        /// Workers: the CPU time the process spent on the case (user and
        /// system: an interpreter's page zeroing counts), in microseconds.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cpu_us: Option<u64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cross_origin_isolated: Option<bool>,
    },
    /// The engine panicked in the case's first unreported step; it ends the
    /// case (no `done` follows). The worker goes on with a new engine.
    Panicked { id: u64, message: String },
}

/// A line to a worker or shell that is not a case: `{"forget": true}`, sent
/// when the runner's process is done with a large module's cases for now
/// (it lets go of its core): the process drops the modules it kept compiled
/// and hands back the memory, rather than holding a module's code while it
/// waits for a core or the resident ceiling (five wasmtime workers and
/// wasmer held 2-3 GB so between an audit's modules).
/// The line is this exact text (no request line is: a request starts with
/// its `id`), so a worker tells it apart without parsing it twice.
pub const FORGET_LINE: &str = "{\"forget\":true}\n";

/// Serializes a request line (with the trailing newline) that starts at step
/// `from`; `timeout`: the case's own limit in seconds (browsers give its
/// batch that long; workers are timed by the runner and ignore it); `raise`:
/// see [`Request::raise`]; `module`: the plan's main module, written by the
/// run's [`super::modules::ModuleStore`] (then left out of the plan).
pub fn request_line_from(id: u64, plan: &Plan, from: usize, timeout: Option<f64>, raise: bool, module: Option<&super::modules::ModuleRef>) -> String {
    #[derive(Serialize)]
    struct Borrowed<'a> {
        id: u64,
        plan: &'a Plan,
        #[serde(skip_serializing_if = "is_zero")]
        from: usize,
        #[serde(skip_serializing_if = "Option::is_none")]
        timeout: Option<f64>,
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        raise: bool,
        #[serde(skip_serializing_if = "Option::is_none")]
        module: Option<&'a super::modules::ModuleRef>,
    }
    fn is_zero(n: &usize) -> bool {
        *n == 0
    }
    let light;
    let plan = match module {
        Some(_) => {
            light = plan.without_module();
            &light
        }
        None => plan,
    };
    let mut s = serde_json::to_string(&Borrowed { id, plan, from, timeout, raise, module }).expect("plans serialize");
    s.push('\n');
    s
}
