//! What `probe` measures, typed: one row per measure ([`MEASURES`]), each
//! with what it measures ([`What`]), the memory it measures it on
//! ([`Kind`]), the size it works at, and so its unit. The name is
//! limits.json's key and what `--measures` takes; it is checked against
//! the row (a test), and no code decides anything by reading it.

use crate::case::{AddressType, Feature};
use serde::{Deserialize, Serialize};

/// One measure's result, as limits.json holds it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Measure {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
    pub unit: String,
    /// The engine's verbatim failure text one step past the value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl Measure {
    pub fn of(value: f64, unit: Unit) -> Measure {
        Measure { value: Some(value), unit: unit.as_str().into(), message: None, note: None }
    }

    pub fn not_measured(unit: Unit, why: impl Into<String>) -> Measure {
        Measure { value: None, unit: unit.as_str().into(), message: None, note: Some(format!("not measured: {}", why.into())) }
    }

    pub fn with_message(mut self, m: Option<String>) -> Measure {
        self.message = m;
        self
    }

    pub fn with_note(mut self, n: impl Into<String>) -> Measure {
        self.note = Some(n.into());
        self
    }
}

/// The note of a bound the budget stopped the search at.
pub const AT_LEAST: &str = "at least this:";

/// What a measure measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum What {
    /// The largest maximum a module may declare (compiles).
    DeclaredMax,
    /// The largest initial size that instantiates.
    InitialPages,
    /// How far `memory.grow` reaches from 1 page.
    GrowReach,
    /// How far the host API's grow reaches from 1 page.
    HostGrowReach,
    /// Address space per live 1-page memory.
    Reserved,
    /// Live 1-page memories before one fails.
    Coexisting,
    /// The same under a 16 GiB address space beyond the baseline.
    CoexistingUnder16GibAs,
    /// Seconds to grow a memory to `gib` GiB.
    GrowCost,
    /// What a 1 MiB host cap does (the embedders' API).
    HostCap,
    /// Live 1-page memories inside a page or isolate (JS columns).
    CoexistingInPage,
    /// Workers that each grow a memory to `gib` GiB (JS columns).
    WorkersWithMemory,
    /// `Memory.grow` to `gib` GiB timed inside the engine (JS columns).
    GrowCostInPage,
    /// Whether a shared memory exists without cross-origin isolation.
    SharedWithoutIsolation,
    /// Live memories under a `gib` GiB address space (JS columns).
    CoexistingUnderAs,
}

impl What {
    /// The family: the first part of the measure's name.
    pub fn family(self) -> &'static str {
        match self {
            What::DeclaredMax => "declared_max_pages",
            What::InitialPages => "initial_pages",
            What::GrowReach => "grow_reach_pages",
            What::HostGrowReach => "host_grow_reach_pages",
            What::Reserved => "reserved_bytes",
            What::Coexisting => "coexisting_memories",
            What::CoexistingUnder16GibAs => "coexisting_under_16gib_as",
            What::GrowCost => "grow_cost",
            What::HostCap => "host_cap",
            What::CoexistingInPage => "coexisting_memories_in_page",
            What::WorkersWithMemory => "workers_with_memory",
            What::GrowCostInPage => "grow_cost_in_page",
            What::SharedWithoutIsolation => "shared_without_isolation",
            What::CoexistingUnderAs => "coexisting_memories_under_as",
        }
    }

    pub fn unit(self) -> Unit {
        match self {
            What::DeclaredMax | What::InitialPages | What::GrowReach | What::HostGrowReach | What::HostCap => Unit::Pages,
            What::Reserved => Unit::Bytes,
            What::Coexisting | What::CoexistingUnder16GibAs | What::CoexistingInPage | What::WorkersWithMemory | What::CoexistingUnderAs => Unit::Count,
            What::GrowCost | What::GrowCostInPage => Unit::Seconds,
            What::SharedWithoutIsolation => Unit::Boolean,
        }
    }

    /// Measured through the harness inside a JS column's page or isolate
    /// (the harness's `measure` step): an embedder has none.
    pub fn in_page(self) -> bool {
        matches!(self, What::CoexistingInPage | What::WorkersWithMemory | What::GrowCostInPage | What::SharedWithoutIsolation | What::CoexistingUnderAs)
    }

    /// Searched on the JS columns with ordinary cases through the runner.
    pub fn js_search(self) -> bool {
        matches!(self, What::DeclaredMax | What::InitialPages | What::GrowReach | What::HostGrowReach)
    }

    /// The answer is where a grow reached (1 page plus the delta).
    pub fn reaches(self) -> bool {
        matches!(self, What::GrowReach | What::HostGrowReach)
    }
}

/// The unit of a measure's value, as limits.json writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Pages,
    Bytes,
    Count,
    Seconds,
    Boolean,
}

impl Unit {
    pub fn as_str(self) -> &'static str {
        match self {
            Unit::Pages => "pages",
            Unit::Bytes => "bytes",
            Unit::Count => "count",
            Unit::Seconds => "s",
            Unit::Boolean => "boolean",
        }
    }
}

/// How a measure's memories are declared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    I32,
    I64,
    /// A shared i32 memory (threads). Shared memories must declare a
    /// maximum: 65,536 pages where the measure has none.
    Shared,
    /// An i32 memory of 1-byte pages (custom page sizes).
    Page1,
}

impl Kind {
    /// The name's suffix for this kind.
    pub fn suffix(self) -> &'static str {
        match self {
            Kind::I32 => "i32",
            Kind::I64 => "i64",
            Kind::Shared => "shared",
            Kind::Page1 => "i32-page1",
        }
    }

    pub fn address(self) -> AddressType {
        if self == Kind::I64 { AddressType::I64 } else { AddressType::I32 }
    }

    /// The proposal the kind needs.
    pub fn features(self) -> Vec<Feature> {
        match self {
            Kind::I32 => vec![],
            Kind::I64 => vec![Feature::Memory64],
            Kind::Shared => vec![Feature::Threads],
            Kind::Page1 => vec![Feature::CustomPageSizes],
        }
    }

    pub fn page_bytes(self) -> u64 {
        if self == Kind::Page1 { 1 } else { 65536 }
    }
}

/// One measure: what, on which memory, at which size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MeasureSpec {
    /// limits.json's key: the family, then the kind's suffix or the size.
    pub name: &'static str,
    pub what: What,
    pub kind: Kind,
    /// The size it works at, in GiB (grow costs, workers, address
    /// spaces); 0 where it has none.
    pub gib: u64,
}

impl MeasureSpec {
    const fn on(name: &'static str, what: What, kind: Kind) -> MeasureSpec {
        MeasureSpec { name, what, kind, gib: 0 }
    }

    const fn at(name: &'static str, what: What, gib: u64) -> MeasureSpec {
        MeasureSpec { name, what, kind: Kind::I32, gib }
    }

    pub fn unit(&self) -> Unit {
        self.what.unit()
    }

    pub fn family(&self) -> &'static str {
        self.what.family()
    }

    /// The size in bytes ([`MeasureSpec::gib`]).
    pub fn bytes(&self) -> u64 {
        self.gib << 30
    }

    /// The row of a measure named `name`.
    pub fn named(name: &str) -> Option<&'static MeasureSpec> {
        MEASURES.iter().find(|m| m.name == name)
    }
}

use Kind::{Page1, Shared, I32, I64};
use What::*;

/// Every measure, in the order a table shows them.
pub const MEASURES: &[MeasureSpec] = &[
    MeasureSpec::on("declared_max_pages.i32", DeclaredMax, I32),
    MeasureSpec::on("declared_max_pages.i64", DeclaredMax, I64),
    MeasureSpec::on("declared_max_pages.shared", DeclaredMax, Shared),
    MeasureSpec::on("declared_max_pages.i32-page1", DeclaredMax, Page1),
    MeasureSpec::on("initial_pages.i32", InitialPages, I32),
    MeasureSpec::on("initial_pages.i64", InitialPages, I64),
    MeasureSpec::on("initial_pages.shared", InitialPages, Shared),
    MeasureSpec::on("initial_pages.i32-page1", InitialPages, Page1),
    MeasureSpec::on("grow_reach_pages.i32", GrowReach, I32),
    MeasureSpec::on("grow_reach_pages.i64", GrowReach, I64),
    MeasureSpec::on("grow_reach_pages.shared", GrowReach, Shared),
    MeasureSpec::on("grow_reach_pages.i32-page1", GrowReach, Page1),
    MeasureSpec::on("host_grow_reach_pages.i32", HostGrowReach, I32),
    MeasureSpec::on("host_grow_reach_pages.i64", HostGrowReach, I64),
    MeasureSpec::on("host_grow_reach_pages.shared", HostGrowReach, Shared),
    MeasureSpec::on("host_grow_reach_pages.i32-page1", HostGrowReach, Page1),
    MeasureSpec::on("reserved_bytes.i32", Reserved, I32),
    MeasureSpec::on("reserved_bytes.i64", Reserved, I64),
    MeasureSpec::on("reserved_bytes.shared", Reserved, Shared),
    MeasureSpec::on("coexisting_memories.i32", Coexisting, I32),
    MeasureSpec::on("coexisting_memories.i64", Coexisting, I64),
    MeasureSpec::on("coexisting_memories.shared", Coexisting, Shared),
    MeasureSpec::on("coexisting_under_16gib_as.i32", CoexistingUnder16GibAs, I32),
    MeasureSpec::on("coexisting_under_16gib_as.i64", CoexistingUnder16GibAs, I64),
    MeasureSpec::on("coexisting_under_16gib_as.shared", CoexistingUnder16GibAs, Shared),
    MeasureSpec::at("grow_cost.1gib", GrowCost, 1),
    MeasureSpec::at("grow_cost.4gib", GrowCost, 4),
    MeasureSpec::at("grow_cost.16gib", GrowCost, 16),
    MeasureSpec::on("host_cap", HostCap, I32),
    MeasureSpec::on("coexisting_memories_in_page.i32", CoexistingInPage, I32),
    MeasureSpec::on("coexisting_memories_in_page.i64", CoexistingInPage, I64),
    MeasureSpec::on("coexisting_memories_in_page.shared", CoexistingInPage, Shared),
    MeasureSpec::at("workers_with_memory.1gib", WorkersWithMemory, 1),
    MeasureSpec::at("workers_with_memory.2gib", WorkersWithMemory, 2),
    MeasureSpec::at("workers_with_memory.4gib", WorkersWithMemory, 4),
    MeasureSpec::at("grow_cost_in_page.1gib", GrowCostInPage, 1),
    MeasureSpec::at("grow_cost_in_page.4gib", GrowCostInPage, 4),
    MeasureSpec::on("shared_without_isolation", SharedWithoutIsolation, Shared),
    MeasureSpec::at("coexisting_memories_under_as.16gib", CoexistingUnderAs, 16),
    MeasureSpec::at("coexisting_memories_under_as.8gib", CoexistingUnderAs, 8),
];

#[cfg(test)]
mod tests {
    use super::*;

    /// A name is its row's family and its kind or size: a name that says
    /// one thing and a row that measures another cannot both stand.
    #[test]
    fn every_name_says_what_its_row_measures() {
        for m in MEASURES {
            let expected = match (m.what, m.gib) {
                (HostCap | SharedWithoutIsolation, _) => m.family().to_string(),
                (_, 0) => format!("{}.{}", m.family(), m.kind.suffix()),
                (_, g) => format!("{}.{g}gib", m.family()),
            };
            assert_eq!(m.name, expected, "{m:?}");
            assert_eq!(MeasureSpec::named(m.name), Some(m), "names are unique");
        }
        assert_eq!(MEASURES.len(), 40);
    }
}
