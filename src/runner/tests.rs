use super::weight::heavy_weights;
use crate::case::{load::parse_case, Case};
use std::path::Path;

fn case(text: &str, reach: Option<u64>) -> Case {
    let mut c = parse_case(text, Path::new("t.yaml"), "t").unwrap().remove(0);
    c.commits_at_most = reach;
    c
}

fn a_script() -> Case {
    crate::case::wast::parse_wast("(module (memory 1))\n(assert_return (invoke \"f\"))\n", Path::new("t.wast"), "t").unwrap().remove(0)
}

#[test]
fn memory_heavy_cases_share_the_budget_by_what_they_say_they_reach() {
    const GIB: u64 = 1 << 30;
    let quick = "summary: quick\nmodule: (module (memory (export \"m\") 1))\nsteps: []\n";
    let grow = "summary: host grow\nmodule: (module (memory (export \"m\") 1))\nsteps:\n  - grow: { memory: m, delta: 65535 }\n    expect: { returns: [\"1\"] }\n";
    let cases = [case(quick, None), case(grow, None), case(grow, Some(4 * GIB)), case(grow, Some(GIB / 2)), case(quick, Some(64 * GIB))];
    // A 19 GiB budget: 19,456 MiB permits.
    let (units, w) = heavy_weights(&cases, Some(19 * GIB), true);
    assert_eq!(units, 19 * 1024);
    // Not heavy; heavy without a bound (the whole budget: one at a time);
    // 4 GiB and 256 MiB; a bound under 1 GiB is not heavy; a bound past
    // the budget takes all of it.
    assert_eq!(w, [0, units, 4096 + 256, 0, units]);
    // Without a budget every heavy case runs alone.
    assert_eq!(heavy_weights(&cases, None, true), (1, vec![0, 1, 1, 0, 1]));
    // On a column that reserves what it grows, a case that says what it
    // needs_memory takes nothing; one without a bound, or with the
    // fuzzer's, takes what it takes everywhere.
    let mut needs = case(grow, None);
    needs.needs_memory = Some(4 * GIB);
    let both = [needs, case(grow, None), case(grow, Some(4 * GIB))];
    assert_eq!(heavy_weights(&both, Some(19 * GIB), false).1, [0, units, 4096 + 256]);
    assert_eq!(heavy_weights(&both, Some(19 * GIB), true).1, [4096 + 256, units, 4096 + 256]);
    // A memory-heavy case with its own time limit runs raised; a script
    // (heavy by its time limit only) and a quick case do not.
    let mut long = case(grow, Some(4 * GIB));
    long.timeout = Some(120.0);
    let (_, w) = heavy_weights(std::slice::from_ref(&long), Some(19 * GIB), true);
    assert!(super::raised(&long, w[0]));
    let script = a_script();
    let (_, w) = heavy_weights(std::slice::from_ref(&script), Some(19 * GIB), true);
    assert_eq!(w, [0]);
    assert!(!super::raised(&script, w[0]));
    assert!(!super::raised(&cases[0], 0));
}
