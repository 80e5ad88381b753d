//! Proposals a case needs, how `run --features` switches them, and what
//! the embedder sets up around the module.

use super::Plan;
use serde::{Deserialize, Serialize};

/// A proposal a case needs. Engines switch it on where they have a switch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Feature {
    Memory64,
    Threads,
    MultiMemory,
    CustomPageSizes,
}

impl Feature {
    pub const ALL: [Feature; 4] = [Feature::Memory64, Feature::Threads, Feature::MultiMemory, Feature::CustomPageSizes];

    /// The name cases and the CLI use (`multi-memory`).
    pub fn name(self) -> &'static str {
        match self {
            Feature::Memory64 => "memory64",
            Feature::Threads => "threads",
            Feature::MultiMemory => "multi-memory",
            Feature::CustomPageSizes => "custom-page-sizes",
        }
    }
}

/// `run --features`: proposals to switch on (`memory64`) and off
/// (`-multi-memory`) for every case, on top of the cases' own `features`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FeatureSwitches {
    pub on: Vec<Feature>,
    pub off: Vec<Feature>,
}

impl std::str::FromStr for FeatureSwitches {
    type Err = String;

    fn from_str(s: &str) -> Result<FeatureSwitches, String> {
        let mut out = FeatureSwitches::default();
        for word in s.split(',').map(str::trim).filter(|w| !w.is_empty()) {
            let (off, name) = match word.strip_prefix('-') {
                Some(n) => (true, n),
                None => (false, word.strip_prefix('+').unwrap_or(word)),
            };
            let Some(f) = Feature::ALL.into_iter().find(|f| f.name() == name) else {
                let known: Vec<&str> = Feature::ALL.iter().map(|f| f.name()).collect();
                return Err(format!("unknown proposal `{name}`: expected one of {} (prefix `-` to switch one off)", known.join(", ")));
            };
            if off { out.off.push(f) } else { out.on.push(f) }
        }
        Ok(out)
    }
}

/// Each proposal of `on` with `true` and of `off` with `false`, in the order
/// an engine's config should apply them (`off` last, so it wins).
pub fn switches<'a>(on: &'a [Feature], off: &'a [Feature]) -> impl Iterator<Item = (Feature, bool)> + 'a {
    on.iter().map(|f| (*f, true)).chain(off.iter().map(|f| (*f, false)))
}

/// A key for an engine config made from `on` and `off` (one bit per
/// proposal each way): engines keep one config per key, and looking it up
/// per case allocates nothing.
pub fn switches_key(on: &[Feature], off: &[Feature]) -> u16 {
    switches(on, off).fold(0, |key, (f, enable)| key | 1 << (f as u16 * 2 + u16::from(!enable)))
}

impl FeatureSwitches {
    /// Applies the switches to a plan: `off` wins over the case's own `features`.
    pub fn apply(&self, plan: &mut Plan) {
        for f in &self.on {
            if !plan.features.contains(f) {
                plan.features.push(*f);
            }
        }
        plan.features.retain(|f| !self.off.contains(f));
        for f in &self.off {
            if !plan.without.contains(f) {
                plan.without.push(*f);
            }
        }
    }
}

/// What the embedder sets up around the module.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Host {
    /// A host-imposed cap on each memory, in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_memory_bytes: Option<u64>,
    /// Browsers load the harness with (true) or without COOP/COEP headers.
    #[serde(default = "yes")]
    pub cross_origin_isolated: bool,
    /// The engine process's address space (RLIMIT_AS, bytes) while the case
    /// runs (extension): on the embedded columns, whose workers are the
    /// tool's own processes; the JS columns report the case unsupported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address_space_bytes: Option<u64>,
}

fn yes() -> bool {
    true
}

impl Default for Host {
    fn default() -> Self {
        Host { max_memory_bytes: None, cross_origin_isolated: true, address_space_bytes: None }
    }
}
