//! Judging: how each engine's run of a program meets the spec, and the
//! class a finding belongs to.

use crate::outcome::Outcomes as _;
use crate::case::{Action, Case, ErrorKind, Expect, Step, Val};
use crate::outcome::Outcome;
use std::collections::BTreeMap;

/// How one engine's run of a program meets the spec: the first step that
/// does not, and what happened there.
#[derive(Debug, Clone, PartialEq)]
pub struct Miss {
    pub step: usize,
    pub outcome: Outcome,
}

/// Kinds of divergence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Class {
    /// An outcome the spec does not allow.
    Finding,
    /// memory.grow failed below the maximum: allowed, reported apart.
    Nondeterministic,
    /// No answer in the case's time: not judged (a loaded machine, or an
    /// engine that hangs), reported apart.
    Timeout,
}

/// The first step where `outcomes` miss the spec; unsupported steps (an
/// engine without the feature) are not misses. A grow the spec lets
/// succeed or fail that failed ends the judging there too: the steps after
/// it expect what the model computed after the grow succeeded, so the
/// engine's own (allowed) path is not judged against them; the failed grow
/// is the miss, which its class calls nondeterministic.
pub fn first_miss(case: &Case, outcomes: &[Outcome]) -> Option<Miss> {
    for (i, ((a, s), o)) in case.steps().zip(outcomes).enumerate() {
        if matches!(o, Outcome::Unsupported(_)) {
            return None;
        }
        if s.expect.check(o) == Some(false) || (matches!(s.expect, Expect::OneOf(_)) && grow_failed_below_maximum(a, s, o)) {
            return Some(Miss { step: i, outcome: o.clone() });
        }
    }
    None
}

/// A grow the spec lets succeed that failed.
pub(super) fn grow_failed_below_maximum(action: &Action, step: &Step, o: &Outcome) -> bool {
    matches!(step.expect, Expect::OneOf(_))
        && matches!((action, o), (Action::Invoke { name, .. }, Outcome::Returns(v)) if name == "grow" && matches!(v.as_slice(), [Val::I32(-1)] | [Val::I64(-1)]))
        || matches!((action, o), (Action::Grow { .. }, Outcome::Error(ErrorKind::GrowFailed, _)))
}

/// What the outcome was, without the engine's text.
pub(super) fn short(o: &Outcome) -> String {
    match o {
        Outcome::Returns(v) => format!("returns {}", v.iter().map(|v| v.to_string()).collect::<Vec<_>>().join(", ")),
        Outcome::Trap(k, _) => format!("trap {}", k.name()),
        Outcome::Error(k, _) => format!("error {}", k.name()),
        Outcome::Pages(p) => format!("{p} pages"),
        other => other.kind().to_string(),
    }
}

/// A finding's class key: the operation, the spec's answer, each group of
/// engines with what it did. Values differ from program to program; the
/// kinds do not, so one root cause is one class.
pub(super) fn class_key(action: &Action, step: &Step, misses: &[(&str, &Miss)]) -> (Class, String) {
    let op = match action {
        Action::Invoke { name, .. } => name.split('_').next().unwrap_or(name).to_string(),
        other => other.label().split(' ').next().unwrap_or("").to_string(),
    };
    let kind = |o: &Outcome| match o {
        Outcome::Returns(v) if v.is_empty() => "ok".to_string(),
        Outcome::Returns(v) if matches!(v.as_slice(), [Val::I32(-1)] | [Val::I64(-1)]) => "returns -1".to_string(),
        Outcome::Returns(_) => "returns a value".to_string(),
        other => short(other),
    };
    fn spec(e: &Expect) -> String {
        match e {
            Expect::Returns(v) if v.is_empty() => "ok".into(),
            Expect::Returns(v) if matches!(v.as_slice(), [Val::I32(-1)] | [Val::I64(-1)]) => "-1".into(),
            Expect::Returns(_) => "a value".into(),
            Expect::OneOf(list) => list.iter().map(spec).collect::<Vec<_>>().join(" or "),
            Expect::Trap(k) => format!("trap {}", k.name()),
            Expect::Error(k) => format!("error {}", k.name()),
            Expect::Pages(_) => "pages".into(),
            other => format!("{other:?}"),
        }
    }
    let class = if misses.iter().all(|(_, m)| grow_failed_below_maximum(action, step, &m.outcome)) { Class::Nondeterministic } else { Class::Finding };
    let mut groups: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for (e, m) in misses {
        groups.entry(kind(&m.outcome)).or_default().push(e);
    }
    let said: Vec<String> = groups.iter().map(|(k, es)| format!("{} {k}", es.join(","))).collect();
    (class, format!("{op}: spec {} / {}", spec(&step.expect), said.join("; ")))
}

/// The misses of one run of one program: (engine, miss).
pub(super) fn misses<'e>(engines: &[&'e str], case: &Case, outcomes: &[Vec<Outcome>]) -> Vec<(&'e str, Miss)> {
    engines
        .iter()
        .zip(outcomes)
        .filter(|(_, o)| !refuses_proposal(case, o))
        .filter_map(|(e, o)| first_miss(case, o).map(|m| (*e, m)))
        .collect()
}

/// An engine without a proposal the program uses (multi-memory, threads,
/// memory64, custom page sizes) rejects the module: that column has nothing
/// to say about the program, which is no finding. A decoder that does not
/// know the proposal's encoding calls the module malformed (wasm3: "malformed
/// Wasm binary" for a 64-bit memory's limits flags); that is a refusal too.
pub(super) fn refuses_proposal(case: &Case, outcomes: &[Outcome]) -> bool {
    !case.plan.features.is_empty()
        && matches!(outcomes.first(), Some(Outcome::Error(ErrorKind::Invalid | ErrorKind::Malformed, _) | Outcome::Unsupported(_)))
}

/// The classes in a run of one program (at the first step any engine misses).
pub(super) fn classes_of(engines: &[&str], case: &Case, outcomes: &[Vec<Outcome>]) -> Option<(Class, String, usize, Vec<(String, String)>)> {
    let all = misses(engines, case, outcomes);
    let first = all.iter().map(|(_, m)| m.step).min()?;
    let at: Vec<(&str, &Miss)> = all.iter().filter(|(_, m)| m.step == first).map(|(e, m)| (*e, m)).collect();
    // A timeout says nothing about the spec: the class is the other
    // engines' at that step, or a timeout class when there are none.
    let answered: Vec<(&str, &Miss)> = at.iter().filter(|(_, m)| !matches!(m.outcome, Outcome::Timeout(_))).copied().collect();
    let at = if answered.is_empty() { at } else { answered };
    let (class, key) = class_key(&case.plan.actions[first], &case.steps[first], &at);
    let class = if at.iter().all(|(_, m)| matches!(m.outcome, Outcome::Timeout(_))) { Class::Timeout } else { class };
    // The engines' own texts for traps and errors; a crash's or a timeout's
    // text carries pids and timings, and the files must not change from run
    // to run.
    let said = |o: &Outcome| match o {
        Outcome::Trap(_, m) | Outcome::Error(_, m) => format!("{}: {}", short(o), m.lines().next().unwrap_or("")),
        other => short(other),
    };
    let observed = at.iter().map(|(e, m)| (e.to_string(), said(&m.outcome))).collect();
    Some((class, key, first, observed))
}
