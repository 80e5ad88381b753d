//! Cases: the YAML case format (v1), loaded and validated.

pub mod load;
mod model;
pub mod module;
pub mod spans;
pub mod wast;

pub use load::{load_paths, LoadError};
pub use model::*;
