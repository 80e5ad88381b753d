//! The JS columns' harness measures: ordinary cases through the runner.

use crate::outcome::Outcomes as _;
use super::measure::{gib, wat};
use crate::case::Val;
use crate::engine::Column;
use crate::results::measures::{Kind, Measure, MeasureSpec, Unit, What};
use std::collections::BTreeMap;

// The measures a JS column is probed for through the harness as ordinary
// cases (`What::js_search`): each round runs 8 points per (column,
// measure) between its known good and bad bounds, every measure and column
// at once (a round starts the browsers once), so a 2^63 range takes about
// 21 rounds.

/// The points a JS measure searches: 0..=hi (sizes, or grow deltas).
fn js_hi(spec: &MeasureSpec) -> u64 {
    let kind = spec.kind;
    match spec.what {
        What::DeclaredMax => kind.encoding_bound(),
        What::InitialPages => kind.size_bound(),
        _ if kind == Kind::Page1 => 1 << 32,
        _ => kind.size_bound() - 1,
    }
}

fn js_case(spec: &MeasureSpec, n: u64, id: String) -> crate::case::Case {
    use crate::case::{Action, ValType};
    let kind = spec.kind;
    let ty = if kind == Kind::I64 { ValType::I64 } else { ValType::I32 };
    let invoke = |name: &str, args: Vec<Val>| Action::Invoke { name: name.into(), args, results: vec![ty], instance: None };
    let (wasm, actions) = match (spec.what, kind.host_spec(1)) {
        (What::DeclaredMax, _) => (Some(wat(&format!("(module (memory {}))", kind.memtype(0, Some(n))))), vec![Action::Instantiate]),
        (What::InitialPages, _) => {
            let max = (kind == Kind::Shared).then_some(n.max(1));
            (Some(wat(&format!("(module (memory (export \"m\") {}))", kind.memtype(n, max)))), vec![Action::Instantiate])
        }
        (What::HostGrowReach, Some(spec)) => (
            None,
            vec![
                Action::NewMemory { name: "m".into(), initial: 1, maximum: spec.maximum, shared: spec.shared, address: spec.address, js_form: None },
                Action::Grow { memory: "m".into(), delta: n, js_form: None, address: spec.address },
                // A grow that reports success must have grown (V8 in Node 24
                // once took the delta modulo 2^32 and grew nothing).
                Action::Size { memory: "m".into() },
            ],
        ),
        (What::HostGrowReach, None) => (
            Some(wat(&kind.grow_module(1))),
            vec![Action::Instantiate, Action::Grow { memory: "m".into(), delta: n, js_form: None, address: kind.address() }, invoke("s", vec![])],
        ),
        _ => (Some(wat(&kind.grow_module(1))), vec![Action::Instantiate, invoke("g", vec![kind.val(n)]), invoke("s", vec![])]),
    };
    // A case that may allocate 1 GiB or more has a time limit of its own,
    // which makes the runner run it alone (`memory_heavy`): engines that
    // commit what they allocate (WebKit does) then never hold several such
    // memories at once.
    let timeout = (spec.what != What::DeclaredMax && n.saturating_mul(kind.page_bytes()) >= 1 << 30).then_some(60.0);
    probe_case(id, format!("probe {} at {n}", spec.name), wasm, kind.features(), crate::case::Host::default(), actions, timeout)
}

/// The address-space limit a measure runs its engine under: the whole
/// shell process, or the browser's driver and all it starts.
fn address_space(spec: &MeasureSpec) -> Option<u64> {
    (spec.what == What::CoexistingUnderAs).then(|| spec.bytes())
}

/// An in-page measure's case (the harness's `measure` step, by the
/// measure's name): one case each, run once.
fn in_page_case(spec: &MeasureSpec, id: String) -> crate::case::Case {
    use crate::case::Action;
    // Under a limit: the count of live i32 memories, in a page of the limited engine.
    let asked = if address_space(spec).is_some() { "coexisting_memories_in_page.i32" } else { spec.name };
    let actions = vec![Action::Measure { name: asked.into() }, Action::MeasureText];
    // A shared memory without isolation is asked on a page served without
    // COOP/COEP (the shells have no such thing).
    let host = crate::case::Host { cross_origin_isolated: spec.what != What::SharedWithoutIsolation, ..Default::default() };
    let features = if spec.kind == Kind::I64 { vec![crate::case::Feature::Memory64] } else { vec![] };
    // Counting memories stops after 60 s, each worker may take 60 s: a
    // time limit of its own makes the runner run it alone.
    let timeout = Some(if spec.what == What::WorkersWithMemory { 600.0 } else { 180.0 });
    probe_case(id, format!("probe {}", spec.name), None, features, host, actions, timeout)
}

/// The in-page measures of the JS columns: one run per measure, every
/// column at once, so that each measure has a fresh process or page (what
/// one measure leaves for the garbage collector would count against the next).
pub(super) fn run_in_page(columns: &[&'static Column], specs: &[&'static MeasureSpec], opts: &crate::runner::RunOptions) -> BTreeMap<(&'static str, &'static str), Measure> {
    let mut out = BTreeMap::new();
    for spec in specs {
        out.extend(run_in_page_one(columns, spec, opts));
    }
    out
}

fn run_in_page_one(columns: &[&'static Column], spec: &'static MeasureSpec, opts: &crate::runner::RunOptions) -> BTreeMap<(&'static str, &'static str), Measure> {
    use crate::outcome::Outcome;
    let name = spec.name;
    let cases: Vec<_> = columns.iter().map(|column| in_page_case(spec, format!("probe-{name}-{}", column.id))).collect();
    let cells: Vec<_> = columns.iter().enumerate().map(|(c, column)| (c, *column)).collect();
    let mut results: BTreeMap<usize, Vec<Outcome>> = BTreeMap::new();
    let mut not_started: BTreeMap<&str, String> = BTreeMap::new();
    let started = std::time::Instant::now();
    let mut opts = opts.clone();
    opts.address_space = address_space(spec);
    crate::runner::run_blocking(std::sync::Arc::new(cases), cells, opts, |ev| {
        match ev {
            crate::runner::RunEvent::Cell(c) => {
                results.insert(c.case, c.outcomes);
            }
            crate::runner::RunEvent::Unavailable { engine, reason } => {
                not_started.insert(engine, reason);
            }
            _ => {}
        }
        true
    });
    eprintln!("  {name}: {} columns in {:.1} s", columns.len(), started.elapsed().as_secs_f64());
    let unit = spec.unit();
    let mut out = BTreeMap::new();
    // Case `c` is column `c`'s.
    for (c, column) in columns.iter().enumerate() {
        let m = match results.get(&c).map(Vec::as_slice) {
            Some([Outcome::Returns(v), text, ..]) => {
                let num = |i: usize| match v.get(i) {
                    Some(Val::F64(bits)) => Some(f64::from_bits(*bits)).filter(|x| x.is_finite()),
                    _ => None,
                };
                let message = match text {
                    Outcome::Error(_, m) => Some(m.clone()),
                    _ => None,
                };
                in_page_measure(spec, num(0), num(1), message)
            }
            Some([other, ..]) => Measure::not_measured(unit, other.message().map(str::to_string).unwrap_or_else(|| other.kind().to_string())),
            // Under an address-space limit, an engine that cannot start is
            // the answer: no memory at all.
            None if address_space(spec).is_some() && not_started.contains_key(column.id) => {
                Measure::of(0.0, unit).with_message(not_started.get(column.id).cloned()).with_note("the engine did not start under the limit")
            }
            _ => Measure::not_measured(unit, "the column did not run"),
        };
        out.insert((column.id, name), m);
    }
    out
}

/// A measure from what the harness said: the value, the second number, the text.
fn in_page_measure(spec: &MeasureSpec, value: Option<f64>, extra: Option<f64>, message: Option<String>) -> Measure {
    let unit = spec.unit();
    match (spec.what, value) {
        (What::GrowCostInPage, Some(ms)) => Measure::of(ms / 1000.0, unit).with_note("wall time of Memory.grow inside the engine (performance.now())"),
        (What::GrowCostInPage, None) => Measure::not_measured(unit, format!("the grow failed: {}", message.unwrap_or_default())),
        (What::CoexistingInPage | What::CoexistingUnderAs, Some(n)) => {
            let stopped = match (&message, extra) {
                (None, Some(ms)) if ms > 60000.0 => Some("stopped after 60 s, none failed"),
                (None, _) => Some("stopped at 20000"),
                _ => None,
            };
            let limit = address_space(spec).map(|b| {
                format!("live 1-page i32 memories in a page, the whole engine (a shell's process; a browser's driver and all it starts) under a {} RLIMIT_AS", gib(b))
            });
            let note: Vec<String> = [limit, stopped.map(str::to_string)].into_iter().flatten().collect();
            let m = Measure::of(n, unit).with_message(message);
            if note.is_empty() { m } else { m.with_note(note.join("; ")) }
        }
        (What::WorkersWithMemory, Some(n)) => {
            let m = Measure::of(n, unit).with_message(message.clone());
            let each = extra.map(|b| format!("each worker's memory grew to {}", crate::results::audit::human(b as u64)));
            let cap = if message.is_none() { Some("stopped at 16 workers".to_string()) } else { None };
            let note: Vec<String> = [each, cap].into_iter().flatten().collect();
            if note.is_empty() { m } else { m.with_note(note.join("; ")) }
        }
        (What::SharedWithoutIsolation, Some(v)) => Measure::of(v, unit)
            .with_note(format!("a module's shared memory {}; {}", if extra == Some(1.0) { "instantiates" } else { "does not instantiate" }, message.unwrap_or_default())),
        (_, Some(v)) => Measure::of(v, unit).with_message(message),
        (_, None) => Measure::not_measured(unit, message.unwrap_or_default()),
    }
}

/// A probe's case: its steps observe (`expect: any`).
fn probe_case(
    id: String,
    summary: String,
    wasm: Option<Vec<u8>>,
    features: Vec<crate::case::Feature>,
    host: crate::case::Host,
    actions: Vec<crate::case::Action>,
    timeout: Option<f64>,
) -> crate::case::Case {
    use crate::case::{Case, Expect, Plan, Step};
    let steps = actions.into_iter().map(|a| (a, Step::new(Expect::Any))).collect();
    let file = format!("{id}.yaml").into();
    Case { summary, timeout, ..Case::new(id, file, steps, Plan { host, ..Plan::of(wasm.map(Into::into), features) }) }
}

/// Whether a probe case went through — for a grow by `n`, that it
/// returned no -1 and the memory then had `1 + n` pages — or its failure.
fn js_ok(outcomes: &[crate::outcome::Outcome], grow: Option<u64>) -> Result<(), String> {
    use crate::outcome::Outcome;
    let last = outcomes.len().saturating_sub(1);
    for (i, o) in outcomes.iter().enumerate() {
        let size = match o {
            Outcome::Pages(p) => Some(*p),
            Outcome::Returns(v) => match v.as_slice() {
                [Val::I32(-1)] | [Val::I64(-1)] if i < last => return Err("memory.grow returned -1".into()),
                [Val::I32(s)] => Some(*s as u32 as u64),
                [Val::I64(s)] => Some(*s as u64),
                _ => None,
            },
            Outcome::Ok => None,
            other => return Err(other.message().map(str::to_string).unwrap_or_else(|| other.kind().to_string())),
        };
        if let (Some(n), Some(size), true) = (grow, size, i == last) {
            if size != 1 + n {
                return Err(format!("the grow by {n} reported success, but the memory is {size} pages"));
            }
        }
    }
    Ok(())
}

/// The JS columns' harness measures, by k-ary search in rounds through the runner.
pub(super) fn run_js(columns: &[&'static Column], specs: &[&'static MeasureSpec], opts: &crate::runner::RunOptions) -> BTreeMap<(&'static str, &'static str), Measure> {
    struct Search {
        column: usize,
        measure: &'static MeasureSpec,
        good: u64,
        bad: u64,
        fail: Option<String>,
        alive: bool,
    }
    let mut searches: Vec<Search> = specs
        .iter()
        .flat_map(|m| (0..columns.len()).map(move |c| Search { column: c, measure: m, good: 0, bad: js_hi(m) + 1, fail: None, alive: true }))
        .collect();
    for round in 0..64 {
        let mut cases = Vec::new();
        let mut cells = Vec::new();
        let mut asked: Vec<(usize, u64)> = Vec::new(); // (search, point), by case
        for (si, s) in searches.iter().enumerate() {
            if !s.alive || (round > 0 && s.bad - s.good <= 1) {
                continue;
            }
            let points: Vec<u64> = if round == 0 {
                vec![0, js_hi(s.measure)]
            } else {
                let step = ((s.bad - s.good) / 9).max(1);
                (1..=8).map(|k| s.good + k * step).filter(|p| *p < s.bad).collect()
            };
            for p in points {
                cases.push(js_case(s.measure, p, format!("probe-{}-{}-{p}", s.measure.name, columns[s.column].id)));
                cells.push((cases.len() - 1, columns[s.column]));
                asked.push((si, p));
            }
        }
        if cases.is_empty() {
            break;
        }
        let started = std::time::Instant::now();
        let count = cases.len();
        let cases = std::sync::Arc::new(cases);
        let mut results: BTreeMap<usize, Vec<crate::outcome::Outcome>> = BTreeMap::new();
        crate::runner::run_blocking(cases.clone(), cells, opts.clone(), |ev| {
            if let crate::runner::RunEvent::Cell(c) = ev {
                results.insert(c.case, c.outcomes);
            }
            true
        });
        eprintln!("  JS round {}: {count} cases in {:.1} s", round + 1, started.elapsed().as_secs_f64());
        for (case, (si, p)) in asked.into_iter().enumerate() {
            let s = &mut searches[si];
            let grow = s.measure.what.reaches().then_some(p);
            let r = results.get(&case).map(|o| js_ok(o, grow)).unwrap_or_else(|| Err("the column did not run".into()));
            match r {
                Ok(()) => s.good = s.good.max(p),
                Err(e) if round == 0 && p == 0 => {
                    s.alive = false;
                    s.fail = Some(e);
                }
                Err(e) if p < s.bad => {
                    s.bad = p;
                    s.fail = Some(e);
                }
                Err(_) => {}
            }
        }
    }
    let mut out = BTreeMap::new();
    for s in searches {
        let m = if !s.alive {
            Measure::not_measured(Unit::Pages, s.fail.unwrap_or_default())
        } else {
            let value = if s.measure.what.reaches() { s.good + 1 } else { s.good };
            Measure::of(value as f64, Unit::Pages).with_message(if s.bad > js_hi(s.measure) { None } else { s.fail })
        };
        out.insert((columns[s.column].id, s.measure.name), m);
    }
    out
}
