use super::*;
use crate::case::{Action, Expect, Val};
use crate::outcome::Outcome;
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
    fn store(&mut self, capped: bool, features: &[crate::case::Feature]) -> Result<Box<dyn crate::engine::backend::AnyStore>, crate::engine::backend::Fault> {
        self.0.store(capped, features)
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
    assert!(first_miss(&case, &out[0][0]).is_none(), "wasmi conforms to the written case");
    assert!(first_miss(&case, &out[0][1]).is_some(), "the liar does not");
    // No finding against wasmi alone: the model agrees with a real engine.
    assert!(found.iter().filter(|f| f.class == Class::Finding).all(|f| f.key.contains("liar")), "{:?}", found.iter().map(|f| &f.key).collect::<Vec<_>>());
}

/// The reference model against two real engines over programs with
/// several memories, shared and 1-byte-page memories, data segments and
/// bulk memory: wasmtime meets it everywhere (wasmi has no threads:
/// those programs it refuses, which is no finding either; what else it
/// misses is its own, see cases/found/page1-largest-memory.yaml).
#[test]
fn the_model_agrees_with_wasmtime_and_wasmi() {
    let mut exec = InProcess {
        engines: vec![
            ("wasmtime", Box::new(Embedded::new(crate::engine::wasmtime::Flavor::Cranelift))),
            ("wasmi", Box::new(Embedded::new(crate::engine::wasmi::Wasmi))),
        ],
    };
    let mut rng = Rng::new(5);
    let programs: Vec<Program> = (0..400).map(|_| Program::generate(&mut rng)).collect();
    let has = |f: &dyn Fn(&Program) -> bool| programs.iter().filter(|p| f(p)).count();
    assert!(has(&|p| p.mems.len() > 1) > 20);
    assert!(has(&|p| p.mems.iter().any(|m| m.shared)) > 20);
    assert!(has(&|p| p.mems.iter().any(|m| m.page1)) > 20);
    assert!(has(&|p| p.ops.iter().any(|o| matches!(o, Op::Init { .. }))) > 20);
    assert!(has(&|p| p.steps()[0].1.expect != Expect::Ok) > 5, "some active segments do not fit");
    let (found, stats) = fuzz(&mut exec, 5, Some(400), None);
    assert_eq!(stats.programs, 400);
    let against_wasmtime: Vec<&String> = found.iter().filter(|f| f.class == Class::Finding && f.engines.iter().any(|e| e == "wasmtime")).map(|f| &f.key).collect();
    assert!(against_wasmtime.is_empty(), "{against_wasmtime:?}");
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

/// A column refusing a module for a proposal it lacks says nothing about
/// the program, whether it calls the module invalid or, as a decoder that
/// does not know the encoding, malformed (wasm3 on a 64-bit memory); a
/// module that needs no proposal refused as malformed is a miss.
#[test]
fn a_refused_proposal_is_no_finding_however_the_engine_words_it() {
    use crate::case::ErrorKind;
    let case = |features: &str| {
        let memory = if features.is_empty() { "1" } else { "i64 1" };
        let text = format!("summary: s\nmodule: (module (memory {memory}))\n{features}steps:\n  - instantiate: {{}}\n");
        crate::case::load::parse_case(&text, std::path::Path::new("t.yaml"), "t").unwrap().remove(0)
    };
    let malformed = [Outcome::Error(ErrorKind::Malformed, "malformed Wasm binary".into())];
    let invalid = [Outcome::Error(ErrorKind::Invalid, "WASM module load failed: invalid limits flags".into())];
    assert!(judge::refuses_proposal(&case("features: [memory64]\n"), &malformed));
    assert!(judge::refuses_proposal(&case("features: [memory64]\n"), &invalid));
    assert!(!judge::refuses_proposal(&case(""), &malformed));
    assert!(!judge::refuses_proposal(&case("features: [memory64]\n"), &[Outcome::Ok]));
}

/// An engine whose grow fails where the spec lets it (WAMR refuses a host
/// grow of a module without memory.grow) is not judged on the steps after
/// it, which expect the grown memory: its miss is the grow, and the class
/// is nondeterministic, not a finding about the size.
#[test]
fn steps_after_an_allowed_grow_failure_are_not_judged() {
    use crate::case::ErrorKind;
    let text = "summary: s\nmodule: (module (memory (export \"mem\") 0))\nsteps:\n  - grow: {memory: mem, delta: 1}\n    expect: {one_of: [{returns: [\"0\"]}, {error: grow_failed}]}\n  - size: {memory: mem}\n    expect: {pages: 1}\n";
    let case = crate::case::load::parse_case(text, std::path::Path::new("t.yaml"), "t").unwrap().remove(0);
    // Step 0 is the implicit instantiate.
    let failed = vec![Outcome::Ok, Outcome::Error(ErrorKind::GrowFailed, "refused".into()), Outcome::Pages(0)];
    let miss = first_miss(&case, &failed).expect("the failed grow is a miss");
    assert_eq!(miss.step, 1);
    let (class, _) = judge::class_key(&case.plan.actions[1], &case.steps[1], &[("wamr", &miss)]);
    assert_eq!(class, Class::Nondeterministic);
    // The grow that succeeded is judged on: a wrong size after it is a miss.
    let lied = vec![Outcome::Ok, Outcome::Returns(vec![Val::I64(0)]), Outcome::Pages(0)];
    assert_eq!(first_miss(&case, &lied).map(|m| m.step), Some(2));
    let grown = vec![Outcome::Ok, Outcome::Returns(vec![Val::I64(0)]), Outcome::Pages(1)];
    assert_eq!(first_miss(&case, &grown), None);
}
