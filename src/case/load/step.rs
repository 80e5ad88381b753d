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

pub(super) fn build_step(
    rs: RawStep,
    path: &str,
    cx: &Ctx,
    main: Option<&ModuleInfo>,
    named: &BTreeMap<String, (usize, ModuleInfo)>,
    current: Option<&str>,
    host_memories: &[(String, AddressType)],
) -> Result<Step, LoadError> {
    let mut actions = Vec::new();
    let need_module = |what: &str| -> Result<&ModuleInfo, LoadError> {
        main.ok_or_else(|| cx.err(path, format!("`{what}` needs a `module`, and the case has none")))
    };
    let named_info = |name: &str, key: &str| -> Result<&ModuleInfo, LoadError> {
        named.get(name).map(|(_, i)| i).ok_or_else(|| {
            let known: Vec<String> = named.keys().cloned().collect();
            cx.err(&format!("{path}.{key}"), format!("no module named `{name}` in `modules` (known: {})", none_if_empty(&known)))
        })
    };
    // `invoke` and `get` work on the named instance, or the main module's.
    let target = |what: &str| -> Result<&ModuleInfo, LoadError> {
        match (&rs.instance, current) {
            (Some(n), _) => named_info(n, "instance"),
            (None, Some(n)) => named_info(n, "module"),
            (None, None) => need_module(what),
        }
    };
    if rs.instance.is_some() && rs.invoke.is_none() && rs.get.is_none() {
        return Err(cx.err(&format!("{path}.instance"), "`instance` belongs to an `invoke` or `get` step"));
    }
    let info = main;
    let memory = |name: &str, key: &str| -> Result<AddressType, LoadError> {
        if let Some((_, a)) = host_memories.iter().find(|(n, _)| n == name) {
            return Ok(*a);
        }
        if let Some(a) = info.and_then(|i| i.memories.get(name)) {
            return Ok(*a);
        }
        if let Some(a) = named.values().find_map(|(_, i)| i.memories.get(name)) {
            return Ok(*a);
        }
        let mut known: Vec<String> = host_memories.iter().map(|(n, _)| n.clone()).collect();
        if let Some(i) = info {
            known.extend(i.memories.keys().cloned());
        }
        known.extend(named.values().flat_map(|(_, i)| i.memories.keys().cloned()));
        Err(cx.err(
            &format!("{path}.{key}.memory"),
            format!("no memory named `{name}`: expected an exported memory or one made by an earlier `new_memory` (known: {})", none_if_empty(&known)),
        ))
    };
    let mut result_types: Option<Vec<ValType>> = None;
    if rs.instantiate.is_some() {
        need_module("instantiate")?;
        actions.push(Action::Instantiate);
    }
    if rs.validate.is_some() {
        need_module("validate")?;
        actions.push(Action::Validate);
        result_types = Some(vec![ValType::I32]);
    }
    if rs.compile.is_some() {
        need_module("compile")?;
        actions.push(Action::Compile);
    }
    if let Some(i) = &rs.instances {
        need_module("instances")?;
        if i.limit == 0 {
            return Err(cx.err(&format!("{path}.instances.limit"), "expected a limit of at least 1 instance"));
        }
        actions.push(Action::Instances { limit: i.limit });
        result_types = Some(vec![ValType::I32]);
    }
    if let Some(name) = &rs.module {
        let (index, _) = named.get(name).ok_or_else(|| {
            let known: Vec<String> = named.keys().cloned().collect();
            cx.err(&format!("{path}.module"), format!("no module named `{name}` in `modules` (known: {})", none_if_empty(&known)))
        })?;
        actions.push(Action::Module { module: *index, name: Some(name.clone()), instantiate: true, text: false, assertion: false });
    }
    if let Some(r) = &rs.register {
        if let Some(n) = &r.instance {
            named_info(n, "register.instance")?;
        }
        actions.push(Action::Register { name: r.name.clone(), instance: r.instance.clone() });
    }
    if let Some(global) = &rs.get {
        let info = target("get")?;
        let Some(ty) = info.globals.get(global) else {
            let known: Vec<String> = info.globals.keys().cloned().collect();
            return Err(cx.err(&format!("{path}.get"), format!("no exported global `{global}` (exported globals: {})", none_if_empty(&known))));
        };
        result_types = Some(vec![*ty]);
        actions.push(Action::Get { global: global.clone(), instance: rs.instance.clone(), ty: Some(*ty) });
    }
    if let Some(name) = &rs.invoke {
        let info = target("invoke")?;
        let Some((params, results)) = info.funcs.get(name) else {
            let known: Vec<String> = info.funcs.keys().cloned().collect();
            return Err(cx.err(
                &format!("{path}.invoke"),
                format!("the module exports no function `{name}` (exported functions: {})", none_if_empty(&known)),
            ));
        };
        let raw_args = rs.args.clone().unwrap_or_default();
        if raw_args.len() != params.len() {
            return Err(cx.err(
                &format!("{path}.args"),
                format!("`{name}` takes {} argument(s) ({}), the step gives {}", params.len(), type_list(params), raw_args.len()),
            ));
        }
        let mut args = Vec::new();
        for (j, (v, t)) in raw_args.iter().zip(params).enumerate() {
            args.push(typed(v, *t).map_err(|e| cx.err(&format!("{path}.args.{j}"), format!("argument {}: {e}", j + 1)))?);
        }
        result_types = Some(results.clone());
        actions.push(Action::Invoke { name: name.clone(), args, results: results.clone(), instance: rs.instance.clone() });
    } else if rs.args.is_some() {
        return Err(cx.err(&format!("{path}.args"), "`args` belongs to an `invoke` step"));
    }
    if let Some(g) = rs.grow {
        let address = memory(&g.memory, "grow")?;
        result_types = Some(vec![ValType::I64]);
        actions.push(Action::Grow { memory: g.memory, delta: g.delta, js_form: g.js_form, address });
    }
    if let Some(b) = rs.buffer {
        memory(&b.memory, "buffer")?;
        result_types = Some(vec![ValType::I64]);
        actions.push(Action::Buffer { memory: b.memory, resizable: b.resizable });
    }
    if let Some(b) = rs.buffer_length {
        memory(&b.memory, "buffer_length")?;
        result_types = Some(vec![ValType::I64]);
        actions.push(Action::BufferLength { memory: b.memory });
    }
    if let Some(r) = rs.resize {
        memory(&r.memory, "resize")?;
        actions.push(Action::Resize { memory: r.memory, bytes: r.bytes });
    }
    if let Some(s) = rs.size {
        memory(&s.memory, "size")?;
        actions.push(Action::Size { memory: s.memory });
    }
    if let Some(r) = rs.read {
        memory(&r.memory, "read")?;
        actions.push(Action::Read { memory: r.memory, offset: r.offset, len: r.len });
    }
    if let Some(w) = rs.write {
        memory(&w.memory, "write")?;
        let bytes = hex_bytes::decode(&w.bytes).map_err(|e| cx.err(&format!("{path}.write.bytes"), e))?;
        actions.push(Action::Write { memory: w.memory, offset: w.offset, bytes });
    }
    if let Some(m) = rs.new_memory {
        actions.push(Action::NewMemory {
            name: m.name,
            initial: m.initial,
            maximum: m.maximum,
            shared: m.shared,
            address: m.address,
            js_form: m.js_form,
        });
    }
    let action = match actions.len() {
        1 => actions.pop().unwrap(),
        0 => {
            return Err(cx.err(
                path,
                "the step does nothing: expected one of `instantiate`, `validate`, `invoke`, `grow`, `size`, `read`, `write`, `new_memory`, `buffer`, `buffer_length`, `resize`, `module`, `register`, `get`",
            ))
        }
        _ => {
            let labels: Vec<String> = actions.iter().map(|a| a.label()).collect();
            return Err(cx.err(path, format!("one step may do one thing, this one does {}: {}", actions.len(), labels.join("; "))));
        }
    };
    let expect_path = format!("{path}.expect");
    let expected = match rs.expect {
        None => match action {
            Action::Instantiate | Action::Compile | Action::Write { .. } | Action::NewMemory { .. } | Action::Resize { .. } | Action::Module { .. } | Action::Register { .. } => Expect::Ok,
            _ => return Err(cx.err(path, format!("`{}` needs an `expect`", action.label()))),
        },
        Some(raw) => expect(raw_expect(&raw, &expect_path, cx)?, &action, result_types.as_deref(), &expect_path, cx)?,
    };
    let claim = match rs.claim {
        None => None,
        Some(raw) => {
            let at = format!("{path}.claim");
            Some(expect(raw_expect(&raw, &at, cx)?, &action, result_types.as_deref(), &at, cx)?)
        }
    };
    // The line is filled in by the caller, which knows the step's index.
    Ok(Step { action, expect: expected, claim, message: None, line: 0, implicit: false, prefix: None })
}
