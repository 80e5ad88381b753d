//! One raw step -> its action and expectation.

use super::expect::{expect, raw_expect};
use super::literals::typed;
use super::ctx::{none_if_empty, type_list};
use crate::case::module::ModuleInfo;
use std::collections::BTreeMap;
use super::ctx::Ctx;
use super::raw::*;
use super::super::error::LoadError;
use crate::case::*;

/// What a step may name: the case's modules, the instance it works on, the
/// memories made so far; each lookup fails as bad input at the step's path.
struct Scope<'a> {
    path: &'a str,
    cx: &'a Ctx<'a>,
    main: Option<&'a ModuleInfo>,
    named: &'a BTreeMap<String, (usize, ModuleInfo)>,
    current: Option<&'a str>,
    host_memories: &'a [(String, AddressType)],
    /// Whether the case has a `glue`.
    glue: bool,
}

impl<'a> Scope<'a> {
    fn need_module(&self, what: &str) -> Result<&'a ModuleInfo, LoadError> {
        self.main.ok_or_else(|| self.cx.err(self.path, format!("`{what}` needs a `module`, and the case has none")))
    }

    fn named_info(&self, name: &str, key: &str) -> Result<&'a ModuleInfo, LoadError> {
        self.named.get(name).map(|(_, i)| i).ok_or_else(|| {
            let known: Vec<String> = self.named.keys().cloned().collect();
            self.cx.err(&format!("{}.{key}", self.path), format!("no module named `{name}` in `modules` (known: {})", none_if_empty(&known)))
        })
    }

    /// `invoke` and `get` work on the named instance, or the main module's.
    fn target(&self, instance: &Option<String>, what: &str) -> Result<&'a ModuleInfo, LoadError> {
        match (instance, self.current) {
            (Some(n), _) => self.named_info(n, "instance"),
            (None, Some(n)) => self.named_info(n, "module"),
            (None, None) => self.need_module(what),
        }
    }

    /// The address type of a memory the step names.
    fn memory(&self, name: &str, key: &str) -> Result<AddressType, LoadError> {
        if let Some((_, a)) = self.host_memories.iter().find(|(n, _)| n == name) {
            return Ok(*a);
        }
        if let Some(a) = self.main.and_then(|i| i.memories.get(name)) {
            return Ok(*a);
        }
        if let Some(a) = self.named.values().find_map(|(_, i)| i.memories.get(name)) {
            return Ok(*a);
        }
        let mut known: Vec<String> = self.host_memories.iter().map(|(n, _)| n.clone()).collect();
        if let Some(i) = self.main {
            known.extend(i.memories.keys().cloned());
        }
        known.extend(self.named.values().flat_map(|(_, i)| i.memories.keys().cloned()));
        Err(self.cx.err(
            &format!("{}.{key}.memory", self.path),
            format!("no memory named `{name}`: expected an exported memory or one made by an earlier `new_memory` (known: {})", none_if_empty(&known)),
        ))
    }
}

/// An action the step asks for, with the types of what it returns (for
/// its expectation's values), where it returns values.
type Found = Vec<(Action, Option<Vec<ValType>>)>;

pub(super) fn build_step(
    rs: RawStep,
    path: &str,
    cx: &Ctx,
    main: Option<&ModuleInfo>,
    named: &BTreeMap<String, (usize, ModuleInfo)>,
    current: Option<&str>,
    host_memories: &[(String, AddressType)],
    glue: bool,
) -> Result<(Action, Step), LoadError> {
    let sc = Scope { path, cx, main, named, current, host_memories, glue };
    if rs.instance.is_some() && rs.invoke.is_none() && rs.get.is_none() {
        return Err(cx.err(&format!("{path}.instance"), "`instance` belongs to an `invoke` or `get` step"));
    }
    let mut found: Found = Vec::new();
    module_actions(&rs, &sc, &mut found)?;
    call_actions(&rs, &sc, &mut found)?;
    glue_actions(&rs, &sc, &mut found)?;
    let (expect_raw, claim_raw) = (rs.expect.clone(), rs.claim.clone());
    memory_actions(rs, &sc, &mut found)?;
    let (action, result_types) = one(found, &sc)?;
    let expect_path = format!("{path}.expect");
    let expected = match expect_raw {
        None => match action {
            Action::Instantiate | Action::Compile | Action::Write { .. } | Action::NewMemory { .. } | Action::Resize { .. } | Action::Module { .. } | Action::Register { .. } | Action::GlueStart => Expect::Ok,
            _ => return Err(cx.err(path, format!("`{}` needs an `expect`", action.label()))),
        },
        Some(raw) => expect(raw_expect(&raw, &expect_path, cx)?, &action, result_types.as_deref(), &expect_path, cx)?,
    };
    let claim = match claim_raw {
        None => None,
        Some(raw) => {
            let at = format!("{path}.claim");
            Some(expect(raw_expect(&raw, &at, cx)?, &action, result_types.as_deref(), &at, cx)?)
        }
    };
    // The line is filled in by the caller, which knows the step's index.
    Ok((action, Step { expect: expected, claim, message: None, line: 0, implicit: false, prefix: None, varies: false }))
}

/// The one action of a step, or why the step is not one.
fn one(mut found: Found, sc: &Scope) -> Result<(Action, Option<Vec<ValType>>), LoadError> {
    match found.len() {
        1 => Ok(found.pop().expect("one")),
        0 => Err(sc.cx.err(
            sc.path,
            "the step does nothing: expected one of `instantiate`, `validate`, `invoke`, `grow`, `size`, `read`, `write`, `new_memory`, `buffer`, `buffer_length`, `resize`, `module`, `register`, `get`, `glue_start`, `glue_call`, `glue_output`",
        )),
        n => {
            let labels: Vec<String> = found.iter().map(|(a, _)| a.label()).collect();
            Err(sc.cx.err(sc.path, format!("one step may do one thing, this one does {n}: {}", labels.join("; "))))
        }
    }
}

/// What a step does with modules: instantiate, validate, compile, count
/// instances, instantiate a named module, register an instance.
fn module_actions(rs: &RawStep, sc: &Scope, found: &mut Found) -> Result<(), LoadError> {
    let path = sc.path;
    if rs.instantiate.is_some() {
        sc.need_module("instantiate")?;
        found.push((Action::Instantiate, None));
    }
    if rs.validate.is_some() {
        sc.need_module("validate")?;
        found.push((Action::Validate, Some(vec![ValType::I32])));
    }
    if rs.compile.is_some() {
        sc.need_module("compile")?;
        found.push((Action::Compile, None));
    }
    if let Some(i) = &rs.instances {
        sc.need_module("instances")?;
        if i.limit == 0 {
            return Err(sc.cx.err(&format!("{path}.instances.limit"), "expected a limit of at least 1 instance"));
        }
        found.push((Action::Instances { limit: i.limit }, Some(vec![ValType::I32])));
    }
    if let Some(name) = &rs.module {
        let (index, _) = sc.named.get(name).ok_or_else(|| {
            let known: Vec<String> = sc.named.keys().cloned().collect();
            sc.cx.err(&format!("{path}.module"), format!("no module named `{name}` in `modules` (known: {})", none_if_empty(&known)))
        })?;
        found.push((Action::Module { module: *index, name: Some(name.clone()), instantiate: true, text: false, assertion: false }, None));
    }
    if let Some(r) = &rs.register {
        if let Some(n) = &r.instance {
            sc.named_info(n, "register.instance")?;
        }
        found.push((Action::Register { name: r.name.clone(), instance: r.instance.clone() }, None));
    }
    Ok(())
}

/// What a step calls: `get` a global, `invoke` a function with its `args`.
fn call_actions(rs: &RawStep, sc: &Scope, found: &mut Found) -> Result<(), LoadError> {
    let (path, cx) = (sc.path, sc.cx);
    if let Some(global) = &rs.get {
        let info = sc.target(&rs.instance, "get")?;
        let Some(ty) = info.globals.get(global) else {
            let known: Vec<String> = info.globals.keys().cloned().collect();
            return Err(cx.err(&format!("{path}.get"), format!("no exported global `{global}` (exported globals: {})", none_if_empty(&known))));
        };
        found.push((Action::Get { global: global.clone(), instance: rs.instance.clone(), ty: Some(*ty) }, Some(vec![*ty])));
    }
    let Some(name) = &rs.invoke else {
        if rs.args.is_some() {
            return Err(cx.err(&format!("{path}.args"), "`args` belongs to an `invoke` step"));
        }
        return Ok(());
    };
    let info = sc.target(&rs.instance, "invoke")?;
    let Some((params, results)) = info.funcs.get(name) else {
        let known: Vec<String> = info.funcs.keys().cloned().collect();
        return Err(cx.err(&format!("{path}.invoke"), format!("the module exports no function `{name}` (exported functions: {})", none_if_empty(&known))));
    };
    let raw_args = rs.args.clone().unwrap_or_default();
    if raw_args.len() != params.len() {
        return Err(cx.err(&format!("{path}.args"), format!("`{name}` takes {} argument(s) ({}), the step gives {}", params.len(), type_list(params), raw_args.len())));
    }
    let mut args = Vec::new();
    for (j, (v, t)) in raw_args.iter().zip(params).enumerate() {
        args.push(typed(v, *t).map_err(|e| cx.err(&format!("{path}.args.{j}"), format!("argument {}: {e}", j + 1)))?);
    }
    found.push((Action::Invoke { name: name.clone(), args, results: results.clone(), instance: rs.instance.clone() }, Some(results.clone())));
    Ok(())
}

/// What a step does through the case's toolchain glue: start it, call a
/// function through it, take what it said.
fn glue_actions(rs: &RawStep, sc: &Scope, found: &mut Found) -> Result<(), LoadError> {
    let need = |key: &str| {
        if sc.glue {
            Ok(())
        } else {
            Err(sc.cx.err(&format!("{}.{key}", sc.path), format!("`{key}` runs the case's toolchain glue: the case needs a `glue` (file, kind)")))
        }
    };
    if rs.glue_start.is_some() {
        need("glue_start")?;
        found.push((Action::GlueStart, None));
    }
    if let Some(c) = &rs.glue_call {
        need("glue_call")?;
        if c.name.trim().is_empty() {
            return Err(sc.cx.err(&format!("{}.glue_call.name", sc.path), "expected the name of a function the glue exports"));
        }
        found.push((Action::GlueCall { name: c.name.clone(), args: c.args.clone() }, Some(vec![ValType::F64])));
    }
    if rs.glue_output.is_some() {
        need("glue_output")?;
        found.push((Action::GlueOutput, None));
    }
    Ok(())
}

/// What a step does to a memory: grow, buffer, resize, size, read, write,
/// or make one.
fn memory_actions(rs: RawStep, sc: &Scope, found: &mut Found) -> Result<(), LoadError> {
    if let Some(g) = rs.grow {
        let address = sc.memory(&g.memory, "grow")?;
        found.push((Action::Grow { memory: g.memory, delta: g.delta, js_form: g.js_form, address }, Some(vec![ValType::I64])));
    }
    if let Some(b) = rs.buffer {
        sc.memory(&b.memory, "buffer")?;
        found.push((Action::Buffer { memory: b.memory, resizable: b.resizable }, Some(vec![ValType::I64])));
    }
    if let Some(b) = rs.buffer_length {
        sc.memory(&b.memory, "buffer_length")?;
        found.push((Action::BufferLength { memory: b.memory }, Some(vec![ValType::I64])));
    }
    if let Some(r) = rs.resize {
        sc.memory(&r.memory, "resize")?;
        found.push((Action::Resize { memory: r.memory, bytes: r.bytes }, None));
    }
    if let Some(s) = rs.size {
        sc.memory(&s.memory, "size")?;
        found.push((Action::Size { memory: s.memory }, None));
    }
    if let Some(r) = rs.read {
        sc.memory(&r.memory, "read")?;
        found.push((Action::Read { memory: r.memory, offset: r.offset, len: r.len }, None));
    }
    if let Some(w) = rs.write {
        sc.memory(&w.memory, "write")?;
        let bytes = hex_bytes::decode(&w.bytes).map_err(|e| sc.cx.err(&format!("{}.write.bytes", sc.path), e))?;
        found.push((Action::Write { memory: w.memory, offset: w.offset, bytes }, None));
    }
    if let Some(m) = rs.new_memory {
        found.push((Action::NewMemory { name: m.name, initial: m.initial, maximum: m.maximum, shared: m.shared, address: m.address, js_form: m.js_form }, None));
    }
    Ok(())
}
