//! Which cases are heavy (they run alone in their process's window) and
//! what share of the memory budget a memory-heavy case takes.

use crate::case::{Action, Case};
use std::time::Duration;

/// A case that may take long (it raises its own `timeout` above the run's:
/// GiB allocations, whole .wast scripts): it runs alone in its process's
/// window, so that no quick case waits behind it and no other heavy case
/// queues behind it while another process is free.
/// A case with its own memory budget runs alone too: the budget holds its
/// process while it runs, and no other case may be charged for it.
pub(super) fn heavy(case: &Case, run_timeout: Duration) -> bool {
    case.memory_budget.is_some() || case.timeout.is_some_and(|t| Duration::from_secs_f64(t) > run_timeout)
}

/// How far a case's memories can reach, where it is known: what the fuzzer
/// computed, or what the case says it needs (`needs_memory`).
fn reach(case: &Case) -> Option<u64> {
    case.commits_at_most.or(case.needs_memory)
}

/// A case that may use GiBs: one whose memories can reach 1 GiB where the
/// case says how far they can reach (`commits_at_most`); else a YAML case
/// with its own `timeout` (what the corpus gives its GiB allocations; not
/// a .wast script or a testharness file), or a
/// host grow or memory of at least 1 GiB.
pub(super) fn memory_heavy(case: &Case) -> bool {
    const GIB_PAGES: u64 = 16384;
    if let Some(bytes) = reach(case) {
        return bytes >= 1 << 30;
    }
    // Scripts and testharness files raise their time limit for their length.
    (case.timeout.is_some() && case.form.is_case())
        || case.plan.actions.iter().any(|a| match a {
            Action::Grow { delta, .. } => *delta >= GIB_PAGES,
            Action::NewMemory { initial, .. } => *initial >= GIB_PAGES,
            _ => false,
        })
}

/// What memory-heavy cases take of the memory budget on a column, as
/// permits of one MiB: the budget's whole when a case does not say how far
/// its memories reach (so such cases run one at a time across the whole
/// run, every engine together, and their budgets never overlap), else that
/// bound and 256 MiB for the engine itself. So the fuzzer's 4 GiB grows run
/// four at a time in a 19 GiB budget. Without a budget, one at a time.
/// `commits`: the column commits what its memories grow to (the registry's
/// `grow_commits`); on one that does not, a case that says what it
/// `needs_memory` (what a committing engine commits) takes nothing: its
/// grows reserve address space (the fuzzer's bound, `commits_at_most`,
/// holds on every column: its cases may fill what they grow). Returns the
/// permits in all and each case's weight (0: not memory-heavy).
pub(super) fn heavy_weights(cases: &[Case], budget: Option<u64>, commits: bool) -> (u32, Vec<u32>) {
    const MIB: u64 = 1 << 20;
    let units = budget.map_or(1, |b| (b / MIB).clamp(1, u64::from(u32::MAX >> 4)) as u32);
    let weights = cases
        .iter()
        .map(|c| match (memory_heavy(c), budget, reach(c)) {
            (false, ..) => 0,
            (true, ..) if !commits && c.commits_at_most.is_none() && c.needs_memory.is_some() => 0,
            (true, Some(_), Some(bytes)) => (bytes.saturating_add(256 * MIB).div_ceil(MIB)).clamp(1, u64::from(units)) as u32,
            (true, ..) => units,
        })
        .collect();
    (units, weights)
}

/// Whether a worker runs the case at a raised CPU priority: a memory-heavy
/// case with its own time limit (a GiB grow that an interpreter commits) is
/// the cell a run waits for at its end, and there are few of them at once
/// (they share the memory budget). Scripts are not: dozens run at once, and
/// raised they would starve the JS shells' and browsers' batches.
pub(super) fn raised(case: &Case, weight: u32) -> bool {
    weight > 0 && case.timeout.is_some()
}
