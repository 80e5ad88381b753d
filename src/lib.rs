//! wasm-matrix: runs WebAssembly linear-memory cases on many engines and
//! shows where they diverge. The floors, from the ground up (README,
//! "Layout"): `case` (load) -> `outcome` -> `engine` (what differs between
//! engines) and `diff` (judge) -> `transport` (reaching an engine) ->
//! `runner` (run) -> `results` -> `report`, `probe`, `fuzz`, `bench` ->
//! `audit` -> `cli`.

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
pub mod transport;
