//! A class of findings as a case file in the project's format.

use super::Found;
use crate::case::{Action, Expect, Val};
use std::fmt::Write;

/// A class as a case file in the project's format.
pub fn yaml(f: &Found, n: usize) -> String {
    let case = f.program.case("found");
    let mut o = String::new();
    let _ = writeln!(o, "# Found by wasm-matrix fuzz ({:?}, {} program(s) in the run): {}", f.class, f.count, f.key);
    for (e, what) in &f.observed {
        let _ = writeln!(o, "#   {e}: {}", what.replace('\n', " "));
    }
    let _ = writeln!(o, "summary: \"fuzz finding {n}: {}\"", f.key.replace('"', "'"));
    let features: Vec<&str> = f.program.features().iter().map(|f| f.name()).collect();
    let tags: Vec<&str> = ["found", "memory"].into_iter().chain(features.iter().copied()).collect();
    let _ = writeln!(o, "tags: [{}]", tags.join(", "));
    let _ = writeln!(o, "source: \"wasm-matrix fuzz; expect: from the core spec (bounds checks, memory.grow, bulk memory, data segments)\"");
    if !features.is_empty() {
        let _ = writeln!(o, "features: [{}]", features.join(", "));
    }
    let _ = writeln!(o, "module: |");
    let wat = wasmprinter::print_bytes(case.plan.wasm.as_deref().unwrap_or_default()).unwrap_or_default();
    for line in wat.lines() {
        let _ = writeln!(o, "  {line}");
    }
    let _ = writeln!(o, "steps:");
    // The instantiation is implicit unless it is what the spec makes fail.
    let skip = usize::from(case.steps[0].expect == Expect::Ok);
    for (action, s) in case.steps().skip(skip) {
        match action {
            Action::Invoke { name, args, .. } => {
                let args: Vec<String> = args.iter().map(|a| match a {
                    Val::I64(v) => format!("\"{v}\""),
                    other => other.to_string(),
                }).collect();
                let _ = writeln!(o, "  - invoke: {name}\n    args: [{}]", args.join(", "));
            }
            Action::Grow { memory, delta, .. } => {
                let _ = writeln!(o, "  - grow: {{ memory: {memory}, delta: {delta} }}");
            }
            Action::Size { memory } => {
                let _ = writeln!(o, "  - size: {{ memory: {memory} }}");
            }
            Action::Instantiate => {
                let _ = writeln!(o, "  - instantiate: {{}}");
            }
            _ => {}
        }
        let _ = writeln!(o, "    expect: {}", expect_yaml(&s.expect));
    }
    o
}

pub(super) fn expect_yaml(e: &Expect) -> String {
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

