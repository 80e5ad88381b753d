//! wasm-matrix: runs WebAssembly linear-memory cases on many engines and
//! shows where they diverge. See DESIGN in the README for the parts:
//! `case` (load) -> `runner` + `engine` (run) -> `diff` (judge) -> `report`.

pub mod audit;
pub mod bench;
pub mod budget;
pub mod case;
pub mod cli;
pub mod diff;
pub mod fuzz;
pub mod engine;
pub mod outcome;
pub mod probe;
pub mod report;
pub mod results;
pub mod runner;
pub mod shard;
