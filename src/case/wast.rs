//! `.wast` scripts (the spec test suite's format) as cases: one case per
//! script, one step per command, parsed with the `wast` crate.
//!
//! Every command becomes a step: `module` (text, `binary`, `quote`, named;
//! `module definition` / `module instance`), `register`, `invoke`, `get`
//! and the assertions. What the tool cannot express (exceptions, threads,
//! text-level malformed modules, GC references) becomes an `unsupported`
//! step with the reason, so it is counted, never dropped. The script's
//! failure texts are kept as each step's expected `message`.

use super::error::LoadError;
use super::{expect::*, features::*, model::*, values::*};
use super::module::ModuleInfo;
use super::spans::Pos;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use wast::core::{AbstractHeapType, HeapType, NanPattern, V128Pattern, WastArgCore, WastRetCore};
use wast::parser::{self, ParseBuffer};
use wast::token::Span;
use wast::{QuoteWat, Wast, WastArg, WastDirective, WastExecute, WastInvoke, WastRet, Wat};

/// The proposals a script may use: engines switch them on where they can.
const FEATURES: [Feature; 2] = [Feature::Memory64, Feature::MultiMemory];

/// Seconds a whole script may take (scripts grow memories to GiBs).
const TIMEOUT: f64 = 120.0;

struct Builder<'t> {
    text: &'t str,
    file_name: String,
    modules: Vec<Wasm>,
    steps: Vec<(Action, Step)>,
    /// Exported function signatures of the current instance and of named ones.
    current: Option<Arc<ModuleInfo>>,
    named: HashMap<String, Arc<ModuleInfo>>,
    defs: HashMap<String, Arc<ModuleInfo>>,
    last_def: Option<Arc<ModuleInfo>>,
}

fn id_name(id: Option<wast::token::Id<'_>>) -> Option<String> {
    id.map(|i| format!("${}", i.name()))
}

impl Builder<'_> {
    fn line(&self, span: Span) -> usize {
        span.linecol_in(self.text).0 + 1
    }

    fn push(&mut self, span: Span, command: &str, action: Action, expect: Expect, message: Option<&str>) {
        let line = self.line(span);
        self.steps.push((action, Step {
            expect,
            claim: None,
            message: message.map(str::to_string),
            line,
            implicit: false,
            prefix: Some(format!("{}:{line} {command}", self.file_name)),
            varies: false,
        }));
    }

    fn unsupported(&mut self, span: Span, command: &str, reason: impl Into<String>) {
        let what = command.to_string();
        self.push(span, command, Action::Unsupported { what, reason: reason.into() }, Expect::Any, None);
    }

    /// Encodes a module; `None` (with the step made unsupported) when it
    /// cannot be.
    fn encode(&mut self, module: &mut QuoteWat<'_>, span: Span, command: &str) -> Option<(usize, Option<String>, Arc<ModuleInfo>)> {
        let name = match module {
            QuoteWat::Wat(Wat::Module(m)) => id_name(m.id),
            QuoteWat::Wat(Wat::Component(_)) | QuoteWat::QuoteComponent(..) => {
                self.unsupported(span, command, "components are not core modules: the engines here run core wasm");
                return None;
            }
            QuoteWat::QuoteModule(..) => None,
        };
        match module.encode() {
            Ok(bytes) => {
                let info = Arc::new(ModuleInfo::read(&bytes).unwrap_or_default());
                self.modules.push(Wasm(bytes));
                Some((self.modules.len() - 1, name, info))
            }
            Err(e) => {
                self.unsupported(span, command, format!("the wast crate cannot encode this module: {}", e.message()));
                None
            }
        }
    }

    /// `assert_invalid` / `assert_malformed`: a module that must not compile.
    /// A quoted module goes to the engines as text: those whose API takes
    /// the text format judge it.
    fn compile_fails(&mut self, module: &mut QuoteWat<'_>, span: Span, command: &str, kind: ErrorKind, message: &str) {
        let (index, text) = if let QuoteWat::QuoteModule(..) = module {
            match module.to_test() {
                Ok(wast::QuoteWatTest::Text(text)) => {
                    self.modules.push(Wasm(text));
                    (self.modules.len() - 1, true)
                }
                _ => return self.unsupported(span, command, "a quoted module the wast crate cannot read"),
            }
        } else {
            match self.encode(module, span, command) {
                Some((index, _, _)) => (index, false),
                None => return,
            }
        };
        let a = Action::Module { module: index, name: None, instantiate: false, text, assertion: false };
        self.push(span, command, a, compile_error(kind), Some(message));
    }

    fn info_for(&self, instance: Option<&str>) -> Option<Arc<ModuleInfo>> {
        match instance {
            Some(n) => self.named.get(n).cloned(),
            None => self.current.clone(),
        }
    }

    fn invoke_action(&self, inv: &WastInvoke<'_>) -> Result<Action, String> {
        let instance = id_name(inv.module);
        let mut args = Vec::new();
        for a in &inv.args {
            args.push(arg(a)?);
        }
        let results = self
            .info_for(instance.as_deref())
            .and_then(|i| i.funcs.get(inv.name).map(|(_, r)| r.clone()))
            .unwrap_or_default();
        Ok(Action::Invoke { name: inv.name.to_string(), args, results, instance })
    }

    fn get_action(&self, module: Option<wast::token::Id<'_>>, global: &str) -> Action {
        let instance = id_name(module);
        let ty = self.info_for(instance.as_deref()).and_then(|i| i.globals.get(global).copied());
        Action::Get { global: global.to_string(), instance, ty }
    }

    fn instantiated(&mut self, info: Arc<ModuleInfo>, name: Option<String>) {
        if let Some(n) = name {
            self.named.insert(n, info.clone());
        }
        self.current = Some(info);
    }

    fn directive(&mut self, d: WastDirective<'_>) {
        let span = d.span();
        match d {
            WastDirective::Module(mut m) => {
                if let Some((module, name, info)) = self.encode(&mut m, span, "module") {
                    self.push(span, "module", Action::Module { module, name: name.clone(), instantiate: true, text: false, assertion: false }, Expect::Ok, None);
                    self.instantiated(info, name);
                }
            }
            WastDirective::ModuleDefinition(mut m) => {
                if let Some((module, name, info)) = self.encode(&mut m, span, "module definition") {
                    self.push(span, "module definition", Action::Module { module, name: name.clone(), instantiate: false, text: false, assertion: false }, Expect::Ok, None);
                    if let Some(n) = name {
                        self.defs.insert(n, info.clone());
                    }
                    self.last_def = Some(info);
                }
            }
            WastDirective::ModuleInstance { instance, module, .. } => {
                let (instance, module) = (id_name(instance), id_name(module));
                let info = match &module {
                    Some(m) => self.defs.get(m).cloned(),
                    None => self.last_def.clone(),
                };
                self.push(span, "module instance", Action::Instance { instance: instance.clone(), module }, Expect::Ok, None);
                if let Some(info) = info {
                    self.instantiated(info, instance);
                }
            }
            WastDirective::Register { name, module, .. } => {
                self.push(span, "register", Action::Register { name: name.to_string(), instance: id_name(module) }, Expect::Ok, None);
            }
            WastDirective::Invoke(inv) => match self.invoke_action(&inv) {
                Ok(a) => self.push(span, "invoke", a, Expect::Any, None),
                Err(why) => self.unsupported(span, "invoke", why),
            },
            WastDirective::AssertReturn { exec, results, .. } => {
                let action = match &exec {
                    WastExecute::Invoke(inv) => self.invoke_action(inv),
                    WastExecute::Get { module, global, .. } => Ok(self.get_action(*module, global)),
                    WastExecute::Wat(_) => Err("assert_return on a module: a module has no results".into()),
                };
                let patterns: Result<Vec<Pattern>, String> = results.iter().map(ret).collect();
                match (action, patterns) {
                    (Ok(a), Ok(p)) => self.push(span, "assert_return", a, Expect::Results(p), None),
                    (Err(why), _) | (_, Err(why)) => self.unsupported(span, "assert_return", why),
                }
            }
            WastDirective::AssertTrap { exec, message, .. } => match exec {
                WastExecute::Invoke(inv) => match self.invoke_action(&inv) {
                    Ok(a) => self.push(span, "assert_trap", a, Expect::TrapAny, Some(message)),
                    Err(why) => self.unsupported(span, "assert_trap", why),
                },
                WastExecute::Get { module, global, .. } => {
                    let a = self.get_action(module, global);
                    self.push(span, "assert_trap", a, Expect::TrapAny, Some(message));
                }
                WastExecute::Wat(w) => {
                    let mut q = QuoteWat::Wat(w);
                    if let Some((module, name, _)) = self.encode(&mut q, span, "assert_trap") {
                        // A module that traps while instantiating does not become current.
                        let a = Action::Module { module, name, instantiate: true, text: false, assertion: true };
                        self.push(span, "assert_trap", a, Expect::TrapAny, Some(message));
                    }
                }
            },
            WastDirective::AssertExhaustion { call, message, .. } => match self.invoke_action(&call) {
                Ok(a) => self.push(span, "assert_exhaustion", a, Expect::Trap(TrapKind::StackExhausted), Some(message)),
                Err(why) => self.unsupported(span, "assert_exhaustion", why),
            },
            WastDirective::AssertInvalid { mut module, message, .. } => {
                self.compile_fails(&mut module, span, "assert_invalid", ErrorKind::Invalid, message)
            }
            WastDirective::AssertMalformed { mut module, message, .. } => {
                self.compile_fails(&mut module, span, "assert_malformed", ErrorKind::Malformed, message)
            }
            WastDirective::AssertUnlinkable { module, message, .. } => {
                let mut q = QuoteWat::Wat(module);
                if let Some((m, name, _)) = self.encode(&mut q, span, "assert_unlinkable") {
                    let a = Action::Module { module: m, name, instantiate: true, text: false, assertion: true };
                    self.push(span, "assert_unlinkable", a, Expect::Error(ErrorKind::Unlinkable), Some(message));
                }
            }
            WastDirective::AssertException { .. } => {
                self.unsupported(span, "assert_exception", "exceptions: the case format has no outcome for a wasm exception")
            }
            WastDirective::AssertSuspension { .. } => {
                self.unsupported(span, "assert_suspension", "stack switching: the case format has no outcome for a suspension")
            }
            WastDirective::Thread(_) => self.unsupported(span, "thread", "threads in scripts: a case runs on one thread"),
            WastDirective::Wait { .. } => self.unsupported(span, "wait", "threads in scripts: a case runs on one thread"),
            WastDirective::AssertInvalidCustom { .. } | WastDirective::AssertMalformedCustom { .. } => {
                self.unsupported(span, "assert_custom", "custom-section assertions: engines do not report on custom sections")
            }
        }
    }
}

/// `assert_invalid` / `assert_malformed`: the module must fail to compile.
/// Whether an engine's text says "invalid" or "malformed" is shown, not
/// judged: engine APIs report both as one compile error (the JS API's
/// CompileError; the spec's own JS harness accepts either for both).
fn compile_error(kind: ErrorKind) -> Expect {
    let other = if kind == ErrorKind::Invalid { ErrorKind::Malformed } else { ErrorKind::Invalid };
    Expect::OneOf(vec![Expect::Error(kind), Expect::Error(other)])
}

fn arg(a: &WastArg<'_>) -> Result<Val, String> {
    let WastArg::Core(a) = a else { return Err("a component-model value".into()) };
    Ok(match a {
        WastArgCore::I32(v) => Val::I32(*v),
        WastArgCore::I64(v) => Val::I64(*v),
        WastArgCore::F32(v) => Val::F32(v.bits),
        WastArgCore::F64(v) => Val::F64(v.bits),
        WastArgCore::V128(v) => Val::V128(u128::from_le_bytes(v.to_le_bytes())),
        WastArgCore::RefNull(HeapType::Abstract { ty: AbstractHeapType::Func, .. }) => Val::RefNull(RefType::Func),
        WastArgCore::RefNull(HeapType::Abstract { ty: AbstractHeapType::Extern, .. }) => Val::RefNull(RefType::Extern),
        WastArgCore::RefNull(HeapType::Abstract { ty: AbstractHeapType::Any, .. }) => Val::RefNull(RefType::Any),
        WastArgCore::RefNull(HeapType::Abstract { ty: AbstractHeapType::Exn, .. }) => Val::RefNull(RefType::Exn),
        WastArgCore::RefExtern(n) => Val::RefExtern(*n),
        other => return Err(format!("an argument the case format cannot pass ({other:?})")),
    })
}

fn nan<T>(p: &NanPattern<T>, f64: bool, bits: impl Fn(&T) -> Val) -> Pattern {
    match p {
        NanPattern::CanonicalNan => Pattern::Nan { f64, canonical: true },
        NanPattern::ArithmeticNan => Pattern::Nan { f64, canonical: false },
        NanPattern::Value(v) => Pattern::Val(bits(v)),
    }
}

fn lanes<const N: usize, T: Copy>(lanes: [T; N], width: u32, to_bits: impl Fn(T) -> u128) -> u128 {
    let mask = if width == 128 { u128::MAX } else { (1u128 << width) - 1 };
    lanes.iter().enumerate().fold(0u128, |acc, (i, l)| acc | ((to_bits(*l) & mask) << (width as usize * i)))
}

fn ret(r: &WastRet<'_>) -> Result<Pattern, String> {
    let WastRet::Core(r) = r else { return Err("a component-model result".into()) };
    ret_core(r)
}

fn ret_core(r: &WastRetCore<'_>) -> Result<Pattern, String> {
    Ok(match r {
        WastRetCore::I32(v) => Pattern::Val(Val::I32(*v)),
        WastRetCore::I64(v) => Pattern::Val(Val::I64(*v)),
        WastRetCore::F32(p) => nan(p, false, |f| Val::F32(f.bits)),
        WastRetCore::F64(p) => nan(p, true, |f| Val::F64(f.bits)),
        WastRetCore::V128(p) => match p {
            V128Pattern::I8x16(l) => Pattern::Val(Val::V128(lanes(*l, 8, |x| x as u8 as u128))),
            V128Pattern::I16x8(l) => Pattern::Val(Val::V128(lanes(*l, 16, |x| x as u16 as u128))),
            V128Pattern::I32x4(l) => Pattern::Val(Val::V128(lanes(*l, 32, |x| x as u32 as u128))),
            V128Pattern::I64x2(l) => Pattern::Val(Val::V128(lanes(*l, 64, |x| x as u64 as u128))),
            V128Pattern::F32x4(l) => Pattern::Lanes { f64: false, lanes: l.iter().map(|p| nan(p, false, |f| Val::F32(f.bits))).collect() },
            V128Pattern::F64x2(l) => Pattern::Lanes { f64: true, lanes: l.iter().map(|p| nan(p, true, |f| Val::F64(f.bits))).collect() },
        },
        WastRetCore::RefNull(_) => Pattern::RefNull,
        WastRetCore::RefExtern(Some(n)) => Pattern::Val(Val::RefExtern(*n)),
        WastRetCore::RefFunc(_) => Pattern::RefFunc,
        WastRetCore::Either(list) => Pattern::Either(list.iter().map(ret_core).collect::<Result<_, _>>()?),
        other => return Err(format!("a result the case format cannot match ({other:?})")),
    })
}

/// Parses a `.wast` script into one case.
pub fn parse_wast(text: &str, file: &Path, id: &str) -> Result<Vec<Case>, LoadError> {
    let at = |span: Span| {
        let (line, col) = span.linecol_in(text);
        Pos { line: line + 1, col: col + 1 }
    };
    // The spec's own scripts hold bidirectional-override characters in
    // strings on purpose (names.wast): accept them, as spec runners do.
    let mut lexer = wast::lexer::Lexer::new(text);
    lexer.allow_confusing_unicode(true);
    let buf = ParseBuffer::new_with_lexer(lexer).map_err(|e| LoadError::new(file, at(e.span()), format!("not a .wast script: {}", e.message())))?;
    let script: Wast = parser::parse(&buf).map_err(|e| LoadError::new(file, at(e.span()), format!("not a .wast script: {}", e.message())))?;
    let file_name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let mut b = Builder {
        text,
        file_name: file_name.clone(),
        modules: Vec::new(),
        steps: Vec::new(),
        current: None,
        named: HashMap::new(),
        defs: HashMap::new(),
        last_def: None,
    };
    for d in script.directives {
        b.directive(d);
    }
    let plan = Plan { modules: b.modules, ..Plan::of(None, FEATURES.to_vec()) };
    Ok(vec![Case {
        form: Form::Script,
        summary: format!("{file_name}: {} commands", b.steps.len()),
        tags: vec!["wast".into()],
        source: Some(format!(".wast script {file_name}")),
        wat: Some(text.to_string()),
        timeout: Some(TIMEOUT),
        ..Case::new(id.to_string(), file.to_path_buf(), b.steps, plan)
    }])
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    /// The project's own scripts use every command kind the format has; each
    /// is run or reported unsupported with a reason.
    #[test]
    fn every_command_kind_is_run_or_reported_unsupported() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("cases/wast");
        let mut seen = BTreeSet::new();
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            for case in parse_wast(&text, &path, "t").unwrap() {
                for (action, s) in case.steps() {
                    let prefix = s.prefix.as_deref().unwrap();
                    let command = prefix.split_once(' ').unwrap().1.to_string();
                    let kind = match action {
                        Action::Unsupported { reason, .. } => {
                            assert!(!reason.is_empty());
                            "unsupported"
                        }
                        Action::Module { text: true, .. } => "text module",
                        Action::Module { .. } | Action::Instance { .. } => "module",
                        Action::Register { .. } => "register",
                        Action::Get { .. } => "get",
                        Action::Invoke { .. } => "invoke",
                        other => panic!("unexpected action {other:?}"),
                    };
                    seen.insert(format!("{command}: {kind}"));
                }
            }
        }
        let expected = [
            "module: module",
            "module definition: module",
            "module instance: module",
            "register: register",
            "invoke: invoke",
            "assert_return: invoke",
            "assert_return: get",
            "assert_trap: invoke",
            "assert_trap: module",
            "assert_exhaustion: invoke",
            "assert_invalid: module",
            "assert_malformed: module",
            "assert_malformed: text module",
            "assert_unlinkable: module",
            "assert_exception: unsupported",
            "assert_suspension: unsupported",
            "thread: unsupported",
            "wait: unsupported",
        ];
        for e in expected {
            assert!(seen.contains(e), "no `{e}` in cases/wast (seen: {seen:?})");
        }
    }

    #[test]
    fn assertions_map_to_expectations() {
        let text = r#"(module (func (export "f") (result f32) (f32.const 1)))
(assert_return (invoke "f") (either (f32.const 1) (f32.const nan:canonical)))
(assert_trap (invoke "f") "some text")
(assert_exhaustion (invoke "f") "call stack exhausted")
(assert_invalid (module (memory 2 1)) "size minimum")"#;
        let case = &parse_wast(text, Path::new("x.wast"), "x.wast").unwrap()[0];
        let e: Vec<&Expect> = case.steps.iter().map(|s| &s.expect).collect();
        assert_eq!(e[0], &Expect::Ok);
        assert_eq!(
            e[1],
            &Expect::Results(vec![Pattern::Either(vec![Pattern::Val(Val::F32(1f32.to_bits())), Pattern::Nan { f64: false, canonical: true }])])
        );
        assert_eq!(e[2], &Expect::TrapAny);
        assert_eq!(case.steps[2].message.as_deref(), Some("some text"));
        assert_eq!(e[3], &Expect::Trap(TrapKind::StackExhausted));
        assert_eq!(e[4], &compile_error(ErrorKind::Invalid));
        assert_eq!(case.steps[1].line, 2);
        assert_eq!(case.step_label(1), "x.wast:2 assert_return: invoke f()");
        let Action::Invoke { results, .. } = &case.plan.actions[1] else { panic!() };
        assert_eq!(results, &[ValType::F32]);
    }

    #[test]
    fn bidirectional_override_characters_in_names_are_accepted() {
        // As in the spec's names.wast: the text is data, not a trick.
        let text = "(module (func (export \"\u{202e}abc\") (result i32) (i32.const 1)))\n(assert_return (invoke \"\u{202e}abc\") (i32.const 1))";
        let case = &parse_wast(text, Path::new("names.wast"), "names.wast").unwrap()[0];
        assert_eq!(case.steps.len(), 2);
        let Action::Invoke { name, .. } = &case.plan.actions[1] else { panic!() };
        assert_eq!(name, "\u{202e}abc");
    }

    #[test]
    fn a_script_that_does_not_parse_names_line_and_column() {
        let err = parse_wast("(module)\n(assert_return (invoke \"f\" (i32.const x)))", Path::new("bad.wast"), "bad.wast").unwrap_err();
        assert!(err.to_string().starts_with("bad.wast:2:"), "{err}");
    }
}
