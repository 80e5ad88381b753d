//! Cases: the YAML case format (v1), loaded and validated.

pub mod error;
pub mod load;
mod expect;
mod features;
mod model;
mod values;
pub mod module;
pub mod spans;
pub mod testharness;
pub mod wast;

pub use error::LoadError;
pub use load::load_paths;
pub use expect::*;
pub use features::*;
pub use model::*;
pub use values::*;
