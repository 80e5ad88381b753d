//! The line protocol between the runner and an engine process: one JSON
//! object per line each way. The same protocol serves embedded-engine
//! workers and, later, the JS harness.
//!
//! runner -> engine: `{"id": 7, "plan": {...}}` (a [`Request`]), several may
//! be in flight; the engine answers them in order.
//! engine -> runner: first `{"ready": {"engine": "wasmtime", "version": "48.0.0"}}`,
//! then per request one `{"step": {"id": 7, "index": 0, "outcome": {...}}}`
//! per step as it finishes and a closing `{"done": {"id": 7, "us": 812}}`.

use crate::case::Plan;
use crate::outcome::RawOutcome;
use serde::{Deserialize, Serialize};

#[derive(Debug, Serialize, Deserialize)]
pub struct Request {
    pub id: u64,
    pub plan: Plan,
}

#[derive(Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    Ready { engine: String, version: String },
    Step { id: u64, index: usize, outcome: RawOutcome },
    /// `us`: the engine's own time for the whole case, in microseconds.
    /// Browsers add whether the page was cross-origin isolated.
    Done {
        id: u64,
        us: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cross_origin_isolated: Option<bool>,
    },
}

/// Serializes a request line (with the trailing newline).
pub fn request_line(id: u64, plan: &Plan) -> String {
    #[derive(Serialize)]
    struct Borrowed<'a> {
        id: u64,
        plan: &'a Plan,
    }
    let mut s = serde_json::to_string(&Borrowed { id, plan }).expect("plans serialize");
    s.push('\n');
    s
}
