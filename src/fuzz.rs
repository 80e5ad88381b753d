//! `wasm-matrix fuzz`: random memory programs — a memory (32- or 64-bit,
//! with or without a maximum), `memory.grow` from wasm and the host, sizes,
//! loads and stores of every width at addresses biased towards the bounds,
//! fill and copy near the edges — built with wasm-encoder, run as ordinary
//! cases on the selected columns, and judged against a reference model of
//! the spec. A step where an engine does what the spec does not allow is a
//! finding; a `memory.grow` that fails below the maximum (the spec allows
//! it) is its own "nondeterministic" class; a message-only difference is
//! nothing. Findings are grouped by class (the operation, what the spec
//! says, what the engines did, which engines), one minimized case per class
//! is written as YAML in the project's format. Same seed, same programs,
//! same files.

use crate::case::{Action, AddressType, Case, ErrorKind, Expect, Feature, Host, Plan, Step, TrapKind, Val, ValType};
use crate::outcome::Outcome;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;
use std::sync::Arc;

/// splitmix64: small, fast, and the same sequence everywhere.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next() % n }
    }
    fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len() as u64) as usize]
    }
}

const PAGE: u64 = 65536;

/// One operation of a program.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    Grow(u64),
    Size,
    Load { width: u8, offset: u64, addr: u64 },
    Store { width: u8, offset: u64, addr: u64, value: u64 },
    Fill { dst: u64, value: u8, len: u64 },
    Copy { dst: u64, src: u64, len: u64 },
    HostGrow(u64),
    HostSize,
}

/// A generated program: one memory and its operations.
#[derive(Debug, Clone, PartialEq)]
pub struct Program {
    pub i64: bool,
    pub min: u64,
    pub max: Option<u64>,
    pub ops: Vec<Op>,
}

impl Program {
    /// A random program; sizes stay small (at most 64 pages live) so that
    /// programs are cheap, and addresses are biased towards the bounds:
    /// the current size, 2^16, 2^32, the declared maximum.
    pub fn generate(rng: &mut Rng) -> Program {
        let i64 = rng.below(4) == 0;
        let min = rng.pick(&[0, 0, 1, 1, 2, 3]);
        let max = match rng.below(3) {
            0 => None,
            1 => Some(min + rng.below(4)),
            _ => Some(min),
        };
        let mut size = min;
        let mut ops = Vec::new();
        for _ in 0..(2 + rng.below(8)) {
            let bound = size * PAGE;
            let near = |rng: &mut Rng, width: u64| -> u64 {
                let base = rng.pick(&[bound, bound, 1 << 16, 1 << 32, max.unwrap_or(size) * PAGE, 0]);
                let delta = rng.pick(&[0i64, -1, -(width as i64), 1, -(width as i64) + 1, -2]);
                (base as i64).wrapping_add(delta).max(0) as u64
            };
            let limit_addr = |a: u64| if i64 { a } else { a & 0xffff_ffff };
            let op = match rng.below(8) {
                0 | 1 => {
                    let d = rng.pick(&[0, 1, 1, 2, 5]);
                    // Deltas to the 2^16 bound and past the maximum; without a
                    // maximum, a grow to 4 GiB is real work (interpreters commit
                    // it), so rarely.
                    let d = if rng.below(6) == 0 && (max.is_some() || rng.below(32) == 0) {
                        rng.pick(&[65536 - size, 65536 - size + 1, max.unwrap_or(size).saturating_sub(size) + 1, 1 << 20])
                    } else {
                        d
                    };
                    if size + d <= max.unwrap_or(64).min(64) {
                        size += d;
                    }
                    Op::Grow(d)
                }
                2 => Op::Size,
                3 | 4 => {
                    let width = rng.pick(&[1u8, 2, 4, 8]);
                    let offset = rng.pick(&[0, 0, 0, 1, 8, 65535, 65536]);
                    Op::Load { width, offset, addr: limit_addr(near(rng, width as u64).saturating_sub(offset)) }
                }
                5 => {
                    let width = rng.pick(&[1u8, 2, 4, 8]);
                    let offset = rng.pick(&[0, 0, 1, 65536]);
                    Op::Store { width, offset, addr: limit_addr(near(rng, width as u64).saturating_sub(offset)), value: rng.next() }
                }
                6 => match rng.below(3) {
                    0 => Op::Fill { dst: limit_addr(near(rng, 4)), value: rng.below(256) as u8, len: rng.pick(&[0, 1, 4, 100]) },
                    1 => Op::Copy { dst: limit_addr(near(rng, 4)), src: limit_addr(near(rng, 4)), len: rng.pick(&[0, 1, 4, 100]) },
                    _ => Op::HostSize,
                },
                _ => {
                    let d = rng.pick(&[0, 1, 2, max.unwrap_or(size).saturating_sub(size) + 1]);
                    if size + d <= max.unwrap_or(64).min(64) {
                        size += d;
                    }
                    Op::HostGrow(d)
                }
            };
            ops.push(op);
        }
        Program { i64, min, max, ops }
    }

    fn idx(&self) -> wasm_encoder::ValType {
        if self.i64 { wasm_encoder::ValType::I64 } else { wasm_encoder::ValType::I32 }
    }

    /// The exports the operations need: (name, params, results, body).
    fn funcs(&self) -> Vec<(String, Vec<wasm_encoder::ValType>, Vec<wasm_encoder::ValType>, Vec<wasm_encoder::Instruction<'static>>)> {
        use wasm_encoder::{Instruction as I, MemArg, ValType as T};
        let x = self.idx();
        let mut out = vec![
            ("grow".to_string(), vec![x], vec![x], vec![I::LocalGet(0), I::MemoryGrow(0), I::End]),
            ("size".to_string(), vec![], vec![x], vec![I::MemorySize(0), I::End]),
            ("fill".to_string(), vec![x, T::I32, x], vec![], vec![I::LocalGet(0), I::LocalGet(1), I::LocalGet(2), I::MemoryFill(0), I::End]),
            ("copy".to_string(), vec![x, x, x], vec![], vec![I::LocalGet(0), I::LocalGet(1), I::LocalGet(2), I::MemoryCopy { src_mem: 0, dst_mem: 0 }, I::End]),
        ];
        let mut seen = std::collections::BTreeSet::new();
        for op in &self.ops {
            match *op {
                Op::Load { width, offset, .. } if seen.insert(("load", width, offset)) => {
                    let m = MemArg { offset, align: 0, target: wasm_encoder::MemArgTarget::Memory(0), ordering: None };
                    let load = match width {
                        1 => I::I64Load8U(m),
                        2 => I::I64Load16U(m),
                        4 => I::I64Load32U(m),
                        _ => I::I64Load(m),
                    };
                    out.push((format!("load{width}_{offset}"), vec![x], vec![T::I64], vec![I::LocalGet(0), load, I::End]));
                }
                Op::Store { width, offset, .. } if seen.insert(("store", width, offset)) => {
                    let m = MemArg { offset, align: 0, target: wasm_encoder::MemArgTarget::Memory(0), ordering: None };
                    let store = match width {
                        1 => I::I64Store8(m),
                        2 => I::I64Store16(m),
                        4 => I::I64Store32(m),
                        _ => I::I64Store(m),
                    };
                    out.push((format!("store{width}_{offset}"), vec![x, T::I64], vec![], vec![I::LocalGet(0), I::LocalGet(1), store, I::End]));
                }
                _ => {}
            }
        }
        out
    }

    /// The module, encoded with wasm-encoder.
    pub fn wasm(&self) -> Vec<u8> {
        use wasm_encoder::*;
        let funcs = self.funcs();
        let mut types = TypeSection::new();
        let mut fsec = FunctionSection::new();
        let mut exports = ExportSection::new();
        let mut code = CodeSection::new();
        for (i, (name, params, results, body)) in funcs.iter().enumerate() {
            types.ty().function(params.clone(), results.clone());
            fsec.function(i as u32);
            exports.export(name, ExportKind::Func, i as u32);
            let mut f = Function::new([]);
            for ins in body {
                f.instruction(ins);
            }
            code.function(&f);
        }
        exports.export("mem", ExportKind::Memory, 0);
        let mut mems = MemorySection::new();
        mems.memory(MemoryType { minimum: self.min, maximum: self.max, memory64: self.i64, shared: false, page_size_log2: None });
        let mut m = Module::new();
        m.section(&types).section(&fsec).section(&mems).section(&exports).section(&code);
        m.finish()
    }

    fn val(&self, n: u64) -> Val {
        if self.i64 { Val::I64(n as i64) } else { Val::I32(n as u32 as i32) }
    }

    fn ty(&self) -> ValType {
        if self.i64 { ValType::I64 } else { ValType::I32 }
    }

    /// The steps, each with what the spec says (the reference model).
    pub fn steps(&self) -> Vec<Step> {
        let address = if self.i64 { AddressType::I64 } else { AddressType::I32 };
        let limit = self.max.unwrap_or(if self.i64 { 1 << 48 } else { 65536 });
        let mut size = self.min;
        let mut bytes: HashMap<u64, u8> = HashMap::new();
        let step = Step::new;
        let inb = |size: u64, at: u64, len: u64| at.checked_add(len).is_some_and(|end| end <= size * PAGE);
        let invoke = |name: &str, args: Vec<Val>, results: Vec<ValType>| Action::Invoke { name: name.into(), args, results, instance: None };
        let mut out = vec![step(Action::Instantiate, Expect::Ok)];
        let minus_one = if self.i64 { Val::I64(-1) } else { Val::I32(-1) };
        for op in &self.ops {
            let s = match *op {
                Op::Grow(d) => {
                    let e = if size.checked_add(d).is_some_and(|n| n <= limit) {
                        let prev = size;
                        size += d;
                        // The spec lets memory.grow fail even below the maximum.
                        Expect::OneOf(vec![Expect::Returns(vec![self.val(prev)]), Expect::Returns(vec![minus_one])])
                    } else {
                        Expect::Returns(vec![minus_one])
                    };
                    step(invoke("grow", vec![self.val(d)], vec![self.ty()]), e)
                }
                Op::Size => step(invoke("size", vec![], vec![self.ty()]), Expect::Returns(vec![self.val(size)])),
                Op::Load { width, offset, addr } => {
                    let e = match addr.checked_add(offset) {
                        Some(at) if inb(size, at, width as u64) => {
                            let v = (0..width as u64).fold(0u64, |acc, i| acc | (*bytes.get(&(at + i)).unwrap_or(&0) as u64) << (8 * i));
                            Expect::Returns(vec![Val::I64(v as i64)])
                        }
                        _ => Expect::Trap(TrapKind::OutOfBounds),
                    };
                    step(invoke(&format!("load{width}_{offset}"), vec![self.val(addr)], vec![ValType::I64]), e)
                }
                Op::Store { width, offset, addr, value } => {
                    let e = match addr.checked_add(offset) {
                        Some(at) if inb(size, at, width as u64) => {
                            for i in 0..width as u64 {
                                bytes.insert(at + i, (value >> (8 * i)) as u8);
                            }
                            Expect::Returns(vec![])
                        }
                        _ => Expect::Trap(TrapKind::OutOfBounds),
                    };
                    step(invoke(&format!("store{width}_{offset}"), vec![self.val(addr), Val::I64(value as i64)], vec![]), e)
                }
                Op::Fill { dst, value, len } => {
                    let e = if inb(size, dst, len) {
                        for i in 0..len {
                            bytes.insert(dst + i, value);
                        }
                        Expect::Returns(vec![])
                    } else {
                        Expect::Trap(TrapKind::OutOfBounds)
                    };
                    step(invoke("fill", vec![self.val(dst), Val::I32(value as i32), self.val(len)], vec![]), e)
                }
                Op::Copy { dst, src, len } => {
                    let e = if inb(size, dst, len) && inb(size, src, len) {
                        let data: Vec<u8> = (0..len).map(|i| *bytes.get(&(src + i)).unwrap_or(&0)).collect();
                        for (i, b) in data.into_iter().enumerate() {
                            bytes.insert(dst + i as u64, b);
                        }
                        Expect::Returns(vec![])
                    } else {
                        Expect::Trap(TrapKind::OutOfBounds)
                    };
                    step(invoke("copy", vec![self.val(dst), self.val(src), self.val(len)], vec![]), e)
                }
                Op::HostGrow(d) => {
                    let e = if size.checked_add(d).is_some_and(|n| n <= limit) {
                        let prev = size;
                        size += d;
                        Expect::OneOf(vec![Expect::Returns(vec![Val::I64(prev as i64)]), Expect::Error(ErrorKind::GrowFailed)])
                    } else {
                        Expect::Error(ErrorKind::GrowFailed)
                    };
                    step(Action::Grow { memory: "mem".into(), delta: d, js_form: None, address }, e)
                }
                Op::HostSize => step(Action::Size { memory: "mem".into() }, Expect::Pages(size)),
            };
            out.push(s);
        }
        out
    }

    /// The program as a case the runner takes.
    pub fn case(&self, id: &str) -> Case {
        let steps = self.steps();
        let plan = Plan {
            wasm: Some(self.wasm()),
            features: if self.i64 { vec![Feature::Memory64] } else { vec![] },
            without: vec![],
            host: Host::default(),
            imports: vec![],
            modules: vec![],
            actions: steps.iter().map(|s| s.action.clone()).collect(),
        };
        Case {
            id: id.into(),
            file: format!("{id}.yaml").into(),
            summary: "generated by wasm-matrix fuzz".into(),
            tags: vec!["found".into()],
            source: None,
            // Printed only when a finding is written (`yaml`): not for every program.
            wat: None,
            steps,
            plan: Arc::new(plan),
            vary: BTreeMap::new(),
            // A grow towards 4 GiB without a maximum is real work for the
            // interpreters (they commit it): a heavy case, one at a time.
            timeout: self.grows_big().then_some(120.0),
        }
    }

    fn grows_big(&self) -> bool {
        self.max.is_none() && self.ops.iter().any(|o| matches!(o, Op::Grow(d) | Op::HostGrow(d) if *d >= 16384))
    }
}

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
}

/// The first step where `outcomes` miss the spec; unsupported steps (an
/// engine without the feature) are not misses.
pub fn first_miss(steps: &[Step], outcomes: &[Outcome]) -> Option<Miss> {
    for (i, (s, o)) in steps.iter().zip(outcomes).enumerate() {
        if matches!(o, Outcome::Unsupported(_)) {
            return None;
        }
        if s.expect.check(o) == Some(false) {
            return Some(Miss { step: i, outcome: o.clone() });
        }
    }
    None
}

/// A grow the spec lets succeed that failed.
fn grow_failed_below_maximum(step: &Step, o: &Outcome) -> bool {
    matches!(step.expect, Expect::OneOf(_))
        && matches!((&step.action, o), (Action::Invoke { name, .. }, Outcome::Returns(v)) if name == "grow" && matches!(v.as_slice(), [Val::I32(-1)] | [Val::I64(-1)]))
        || matches!((&step.action, o), (Action::Grow { .. }, Outcome::Error(ErrorKind::GrowFailed, _)))
}

/// What the outcome was, without the engine's text.
fn short(o: &Outcome) -> String {
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
fn class_key(step: &Step, misses: &[(&str, &Miss)]) -> (Class, String) {
    let op = match &step.action {
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
    let class = if misses.iter().all(|(_, m)| grow_failed_below_maximum(step, &m.outcome)) { Class::Nondeterministic } else { Class::Finding };
    let mut groups: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for (e, m) in misses {
        groups.entry(kind(&m.outcome)).or_default().push(e);
    }
    let said: Vec<String> = groups.iter().map(|(k, es)| format!("{} {k}", es.join(","))).collect();
    (class, format!("{op}: spec {} / {}", spec(&step.expect), said.join("; ")))
}

/// Runs programs on engines: per case, per engine (in `engines` order), the outcomes.
pub trait Exec {
    fn engines(&self) -> Vec<&'static str>;
    fn run(&mut self, cases: &[Case]) -> Vec<Vec<Vec<Outcome>>>;
    /// The same, on these engines only (minimizing needs only those that missed).
    fn subset(&mut self, ids: &[&str]) -> Box<dyn Exec + '_>;
}

/// The runner on real columns.
pub struct RunnerExec {
    pub columns: Vec<&'static crate::engine::Column>,
    pub opts: crate::runner::RunOptions,
}

impl Exec for RunnerExec {
    fn engines(&self) -> Vec<&'static str> {
        self.columns.iter().map(|c| c.id).collect()
    }

    fn subset(&mut self, ids: &[&str]) -> Box<dyn Exec + '_> {
        let columns = self.columns.iter().filter(|c| ids.contains(&c.id)).copied().collect();
        Box::new(RunnerExec { columns, opts: self.opts.clone() })
    }

    fn run(&mut self, cases: &[Case]) -> Vec<Vec<Vec<Outcome>>> {
        let cases = Arc::new(cases.to_vec());
        let cells: Vec<(usize, &'static crate::engine::Column)> =
            (0..cases.len()).flat_map(|c| self.columns.iter().map(move |e| (c, *e))).collect();
        let mut out = vec![vec![Vec::new(); self.columns.len()]; cases.len()];
        let ids = self.engines();
        crate::runner::run_blocking(cases.clone(), cells, self.opts.clone(), |ev| {
            match ev {
                crate::runner::RunEvent::Cell(c) => {
                    if let Some(e) = ids.iter().position(|id| *id == c.engine) {
                        out[c.case][e] = c.outcomes;
                    }
                }
                crate::runner::RunEvent::NotRun { case, engine, reason } => {
                    if let Some(e) = ids.iter().position(|id| *id == engine) {
                        out[case][e] = vec![Outcome::Unsupported(reason)];
                    }
                }
                _ => {}
            }
            true
        });
        out
    }
}

/// One class of findings and its minimized representative.
#[derive(Debug, Clone)]
pub struct Found {
    pub class: Class,
    pub key: String,
    pub count: usize,
    pub program: Program,
    /// The observed outcome of each engine that missed, at the step.
    pub observed: Vec<(String, String)>,
    /// The engines that missed.
    pub engines: Vec<String>,
}

/// The summary numbers.
#[derive(Debug, Default)]
pub struct Stats {
    pub programs: usize,
    pub seconds: f64,
}

/// The misses of one run of one program: (engine, miss).
fn misses<'e>(engines: &[&'e str], case: &Case, outcomes: &[Vec<Outcome>]) -> Vec<(&'e str, Miss)> {
    engines.iter().zip(outcomes).filter_map(|(e, o)| first_miss(&case.steps, o).map(|m| (*e, m))).collect()
}

/// The classes in a run of one program (at the first step any engine misses).
fn classes_of(engines: &[&str], case: &Case, outcomes: &[Vec<Outcome>]) -> Option<(Class, String, usize, Vec<(String, String)>)> {
    let all = misses(engines, case, outcomes);
    let first = all.iter().map(|(_, m)| m.step).min()?;
    let at: Vec<(&str, &Miss)> = all.iter().filter(|(_, m)| m.step == first).map(|(e, m)| (*e, m)).collect();
    let (class, key) = class_key(&case.steps[first], &at);
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

/// Drops operations while the same class still shows: first everything
/// after the step where it shows, then each earlier operation in turn.
pub fn minimize(exec: &mut dyn Exec, program: &Program, key: &str, budget: usize) -> Program {
    let engines = exec.engines();
    let still = |exec: &mut dyn Exec, p: &Program| -> Option<usize> {
        let case = p.case("min");
        let out = exec.run(std::slice::from_ref(&case));
        classes_of(&engines, &case, &out[0]).filter(|(_, k, ..)| k == key).map(|(_, _, step, _)| step)
    };
    let mut best = program.clone();
    let Some(step) = still(exec, &best) else { return best };
    best.ops.truncate(step); // step 0 is the instantiate: op i is step i + 1
    let mut tries = 0;
    let mut i = best.ops.len();
    while i > 0 && tries < budget {
        i -= 1;
        if i + 1 >= best.ops.len() {
            continue; // the op that shows it stays
        }
        let mut candidate = best.clone();
        candidate.ops.remove(i);
        tries += 1;
        if still(exec, &candidate).is_some() {
            best = candidate;
        }
    }
    best
}

/// Generates `count` programs from `seed` (or as many as fit in `time`), runs
/// them in batches, classifies, minimizes one program per class.
pub fn fuzz(exec: &mut dyn Exec, seed: u64, count: Option<usize>, time: Option<std::time::Duration>) -> (Vec<Found>, Stats) {
    let start = std::time::Instant::now();
    let engines = exec.engines();
    let mut rng = Rng::new(seed);
    let mut found: BTreeMap<(Class, String), Found> = BTreeMap::new();
    let mut programs = 0;
    // Each batch is one run of the runner (its workers start once a batch).
    const BATCH: usize = 2000;
    loop {
        let n = match (count, time) {
            (Some(c), _) => BATCH.min(c - programs),
            (None, Some(t)) if start.elapsed() < t => BATCH,
            _ => 0,
        };
        if n == 0 {
            break;
        }
        let batch: Vec<Program> = (0..n).map(|_| Program::generate(&mut rng)).collect();
        let cases: Vec<Case> = batch.iter().enumerate().map(|(i, p)| p.case(&format!("p{}", programs + i))).collect();
        let out = exec.run(&cases);
        for ((p, case), o) in batch.iter().zip(&cases).zip(&out) {
            if let Some((class, key, _, observed)) = classes_of(&engines, case, o) {
                let engines = observed.iter().map(|(e, _)| e.clone()).collect();
                found.entry((class, key.clone())).and_modify(|f| f.count += 1).or_insert(Found { class, key, count: 1, program: p.clone(), observed, engines });
            }
        }
        programs += n;
    }
    let seconds = start.elapsed().as_secs_f64();
    let mut list: Vec<Found> = found.into_values().collect();
    for f in &mut list {
        if f.class == Class::Finding {
            let ids: Vec<&str> = f.engines.iter().map(String::as_str).collect();
            let mut only = exec.subset(&ids);
            f.program = minimize(only.as_mut(), &f.program, &f.key, 40);
        }
    }
    (list, Stats { programs, seconds })
}

/// A class as a case file in the project's format.
pub fn yaml(f: &Found, n: usize) -> String {
    let case = f.program.case("found");
    let mut o = String::new();
    let _ = writeln!(o, "# Found by wasm-matrix fuzz ({:?}, {} program(s) in the run): {}", f.class, f.count, f.key);
    for (e, what) in &f.observed {
        let _ = writeln!(o, "#   {e}: {}", what.replace('\n', " "));
    }
    let _ = writeln!(o, "summary: \"fuzz finding {n}: {}\"", f.key.replace('"', "'"));
    let _ = writeln!(o, "tags: [found, memory{}]", if f.program.i64 { ", memory64" } else { "" });
    let _ = writeln!(o, "source: \"wasm-matrix fuzz; expect: from the core spec (bounds checks, memory.grow, bulk memory)\"");
    if f.program.i64 {
        let _ = writeln!(o, "features: [memory64]");
    }
    let _ = writeln!(o, "module: |");
    let wat = wasmprinter::print_bytes(case.plan.wasm.as_deref().unwrap_or_default()).unwrap_or_default();
    for line in wat.lines() {
        let _ = writeln!(o, "  {line}");
    }
    let _ = writeln!(o, "steps:");
    for s in case.steps.iter().skip(1) {
        match &s.action {
            Action::Invoke { name, args, .. } => {
                let args: Vec<String> = args.iter().map(|a| match a {
                    Val::I64(v) => format!("\"{v}\""),
                    other => other.to_string(),
                }).collect();
                let _ = writeln!(o, "  - invoke: {name}\n    args: [{}]", args.join(", "));
            }
            Action::Grow { delta, .. } => {
                let _ = writeln!(o, "  - grow: {{ memory: mem, delta: {delta} }}");
            }
            Action::Size { .. } => {
                let _ = writeln!(o, "  - size: {{ memory: mem }}");
            }
            _ => {}
        }
        let _ = writeln!(o, "    expect: {}", expect_yaml(&s.expect));
    }
    o
}

fn expect_yaml(e: &Expect) -> String {
    let val = |v: &Val| match v {
        Val::I64(x) => format!("\"{x}\""),
        other => other.to_string(),
    };
    match e {
        Expect::Ok | Expect::Returns(_) if matches!(e, Expect::Returns(v) if v.is_empty()) => "ok".into(),
        Expect::Returns(v) => format!("{{ returns: [{}] }}", v.iter().map(val).collect::<Vec<_>>().join(", ")),
        Expect::Trap(k) => format!("{{ trap: {} }}", k.name()),
        Expect::Error(k) => format!("{{ error: {} }}", k.name()),
        Expect::Pages(p) => format!("{{ pages: {p} }}"),
        Expect::OneOf(list) => format!("{{ one_of: [{}] }}", list.iter().map(expect_yaml).collect::<Vec<_>>().join(", ")),
        _ => "any".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::session::Embedded;
    use crate::engine::Engine;
    use crate::outcome::{normalize, RawOutcome};

    /// Runs in this process: wasmi, and a fake engine that is wasmi except
    /// that a successful `memory.grow` reports one page more than it had.
    struct InProcess {
        engines: Vec<(&'static str, Box<dyn Engine>)>,
    }

    struct Liar(Embedded<crate::engine::wasmi::Wasmi>);

    impl Engine for Liar {
        fn run(&mut self, plan: &Plan, from: usize, emit: &mut dyn FnMut(usize, RawOutcome)) {
            self.0.run(plan, from, &mut |i, o| {
                let grow = matches!(&plan.actions[i], Action::Invoke { name, .. } if name == "grow");
                emit(i, match o {
                    RawOutcome::Returns { values } if grow => RawOutcome::Returns {
                        values: values.iter().map(|v| match *v {
                            Val::I32(x) if x >= 0 => Val::I32(x + 1),
                            Val::I64(x) if x >= 0 => Val::I64(x + 1),
                            other => other,
                        }).collect(),
                    },
                    o => o,
                })
            })
        }
        fn plain(&mut self, _: &[Vec<u8>]) -> Result<(), String> {
            Ok(())
        }
        fn probe(&mut self, m: &str, h: bool) -> crate::probe::Measure {
            self.0.probe(m, h)
        }
    }

    impl Exec for InProcess {
        fn engines(&self) -> Vec<&'static str> {
            self.engines.iter().map(|(id, _)| *id).collect()
        }
        fn subset(&mut self, ids: &[&str]) -> Box<dyn Exec + '_> {
            let engines = std::mem::take(&mut self.engines);
            let (mine, rest): (Vec<_>, Vec<_>) = engines.into_iter().partition(|(id, _)| ids.contains(id));
            self.engines = rest;
            Box::new(Borrowed { inner: self, mine })
        }
        fn run(&mut self, cases: &[Case]) -> Vec<Vec<Vec<Outcome>>> {
            cases
                .iter()
                .map(|c| {
                    self.engines
                        .iter_mut()
                        .map(|(_, e)| {
                            let mut out = vec![Outcome::Skipped("not reported".into()); c.plan.actions.len()];
                            e.run(&c.plan, 0, &mut |i, o| out[i] = normalize(o));
                            out
                        })
                        .collect()
                })
                .collect()
        }
    }

    /// A subset of an in-process exec; the engines go back when it ends.
    struct Borrowed<'a> {
        inner: &'a mut InProcess,
        mine: Vec<(&'static str, Box<dyn Engine>)>,
    }

    impl Drop for Borrowed<'_> {
        fn drop(&mut self) {
            self.inner.engines.append(&mut self.mine);
        }
    }

    impl Exec for Borrowed<'_> {
        fn engines(&self) -> Vec<&'static str> {
            self.mine.iter().map(|(id, _)| *id).collect()
        }
        fn subset(&mut self, _: &[&str]) -> Box<dyn Exec + '_> {
            unimplemented!("not needed by the tests")
        }
        fn run(&mut self, cases: &[Case]) -> Vec<Vec<Vec<Outcome>>> {
            let mut tmp = InProcess { engines: std::mem::take(&mut self.mine) };
            let out = tmp.run(cases);
            self.mine = tmp.engines;
            out
        }
    }

    fn exec() -> InProcess {
        InProcess {
            engines: vec![
                ("wasmi", Box::new(Embedded::new(crate::engine::wasmi::Wasmi))),
                ("liar", Box::new(Liar(Embedded::new(crate::engine::wasmi::Wasmi)))),
            ],
        }
    }

    #[test]
    fn a_planted_divergence_is_found_minimized_and_its_case_reproduces_it() {
        let mut exec = exec();
        let (found, stats) = fuzz(&mut exec, 7, Some(300), None);
        assert_eq!(stats.programs, 300);
        let grow: Vec<&Found> = found.iter().filter(|f| f.class == Class::Finding && f.key.starts_with("grow:")).collect();
        assert_eq!(grow.len(), 1, "one class for the lying grow: {:?}", found.iter().map(|f| &f.key).collect::<Vec<_>>());
        let f = grow[0];
        assert!(f.key.contains("liar"), "{}", f.key);
        assert!(!f.key.contains("wasmi"), "wasmi conforms: {}", f.key);
        assert!(f.program.ops.len() <= 3, "minimized to a few steps: {:?}", f.program.ops);
        // The written case loads and reproduces it: wasmi passes, the liar fails.
        let text = yaml(f, 1);
        let case = crate::case::load::parse_case(&text, std::path::Path::new("finding-01.yaml"), "found/finding-01").unwrap().remove(0);
        let out = exec.run(std::slice::from_ref(&case));
        assert!(first_miss(&case.steps, &out[0][0]).is_none(), "wasmi conforms to the written case");
        assert!(first_miss(&case.steps, &out[0][1]).is_some(), "the liar does not");
        // No finding against wasmi alone: the model agrees with a real engine.
        assert!(found.iter().filter(|f| f.class == Class::Finding).all(|f| f.key.contains("liar")), "{:?}", found.iter().map(|f| &f.key).collect::<Vec<_>>());
    }

    #[test]
    fn the_same_seed_gives_the_same_programs() {
        let a: Vec<Program> = { let mut r = Rng::new(1); (0..50).map(|_| Program::generate(&mut r)).collect() };
        let b: Vec<Program> = { let mut r = Rng::new(1); (0..50).map(|_| Program::generate(&mut r)).collect() };
        assert_eq!(a, b);
        assert_eq!(a.iter().map(|p| p.wasm()).collect::<Vec<_>>(), b.iter().map(|p| p.wasm()).collect::<Vec<_>>());
        let c: Vec<Program> = { let mut r = Rng::new(2); (0..50).map(|_| Program::generate(&mut r)).collect() };
        assert_ne!(a, c);
    }
}
