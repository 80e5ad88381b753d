//! The reference model: what the spec says each step of a program does,
//! and the program as a case the runner takes.

use super::generate::*;
use crate::case::{Action, AddressType, Case, ErrorKind, Expect, Plan, Step, TrapKind, Val, ValType};
use std::collections::HashMap;

impl Program {
    pub(super) fn val(&self, mem: u32, n: u64) -> Val {
        if self.mems[mem as usize].i64 { Val::I64(n as i64) } else { Val::I32(n as u32 as i32) }
    }

    pub(super) fn ty(&self, mem: u32) -> ValType {
        if self.mems[mem as usize].i64 { ValType::I64 } else { ValType::I32 }
    }

    /// The steps, each with what the spec says (the reference model).
    pub fn steps(&self) -> Vec<(Action, Step)> {
        let mut sizes: Vec<u64> = self.mems.iter().map(|m| m.min).collect();
        let mut bytes: HashMap<(u32, u64), u8> = HashMap::new();
        let step = |action: Action, expect: Expect| (action, Step::new(expect));
        let inb = |sizes: &[u64], mem: u32, at: u64, len: u64| {
            at.checked_add(len).is_some_and(|end| end <= sizes[mem as usize] * self.mems[mem as usize].page())
        };
        let invoke = |name: String, args: Vec<Val>, results: Vec<ValType>| Action::Invoke { name, args, results, instance: None };
        // Instantiation copies the active segments in order; one that does
        // not fit traps and the instance does not exist.
        for d in &self.data {
            if let Some(at) = d.offset {
                let at = if self.mems[d.mem as usize].i64 { at } else { at & 0xffff_ffff };
                if !inb(&sizes, d.mem, at, d.bytes.len() as u64) {
                    return vec![step(Action::Instantiate, Expect::Trap(TrapKind::OutOfBounds))];
                }
                for (i, b) in d.bytes.iter().enumerate() {
                    bytes.insert((d.mem, at + i as u64), *b);
                }
            }
        }
        // Active segments are dropped once copied.
        let mut segs: Vec<Vec<u8>> = self.data.iter().map(|d| if d.offset.is_some() { vec![] } else { d.bytes.clone() }).collect();
        let mut out = vec![step(Action::Instantiate, Expect::Ok)];
        let oob = || Expect::Trap(TrapKind::OutOfBounds);
        let ok = || Expect::Returns(vec![]);
        for op in &self.ops {
            let name = self.func_name(op).unwrap_or_default();
            let s = match *op {
                Op::Grow { mem, delta } | Op::HostGrow { mem, delta } => {
                    let host = matches!(op, Op::HostGrow { .. });
                    let size = &mut sizes[mem as usize];
                    let minus_one = if host { Expect::Error(ErrorKind::GrowFailed) } else { Expect::Returns(vec![self.val(mem, u64::MAX)]) };
                    let e = if size.checked_add(delta).is_some_and(|n| n <= self.mems[mem as usize].limit()) {
                        let prev = *size;
                        *size += delta;
                        // The spec lets memory.grow fail even below the maximum.
                        let grew = if host { Expect::Returns(vec![Val::I64(prev as i64)]) } else { Expect::Returns(vec![self.val(mem, prev)]) };
                        Expect::OneOf(vec![grew, minus_one])
                    } else {
                        minus_one
                    };
                    let action = if host {
                        Action::Grow { memory: named("mem", mem), delta, js_form: None, address: if self.mems[mem as usize].i64 { AddressType::I64 } else { AddressType::I32 } }
                    } else {
                        invoke(name, vec![self.val(mem, delta)], vec![self.ty(mem)])
                    };
                    step(action, e)
                }
                Op::Size { mem } => step(invoke(name, vec![], vec![self.ty(mem)]), Expect::Returns(vec![self.val(mem, sizes[mem as usize])])),
                Op::HostSize { mem } => step(Action::Size { memory: named("mem", mem) }, Expect::Pages(sizes[mem as usize])),
                Op::Load { mem, width, offset, addr } => {
                    let e = match addr.checked_add(offset) {
                        Some(at) if inb(&sizes, mem, at, width as u64) => {
                            let v = (0..width as u64).fold(0u64, |acc, i| acc | (*bytes.get(&(mem, at + i)).unwrap_or(&0) as u64) << (8 * i));
                            Expect::Returns(vec![Val::I64(v as i64)])
                        }
                        _ => oob(),
                    };
                    step(invoke(name, vec![self.val(mem, addr)], vec![ValType::I64]), e)
                }
                Op::Store { mem, width, offset, addr, value } => {
                    let e = match addr.checked_add(offset) {
                        Some(at) if inb(&sizes, mem, at, width as u64) => {
                            for i in 0..width as u64 {
                                bytes.insert((mem, at + i), (value >> (8 * i)) as u8);
                            }
                            ok()
                        }
                        _ => oob(),
                    };
                    step(invoke(name, vec![self.val(mem, addr), Val::I64(value as i64)], vec![]), e)
                }
                Op::Fill { mem, dst, value, len } => {
                    let e = if inb(&sizes, mem, dst, len) {
                        for i in 0..len {
                            bytes.insert((mem, dst + i), value);
                        }
                        ok()
                    } else {
                        oob()
                    };
                    step(invoke(name, vec![self.val(mem, dst), Val::I32(value as i32), self.val(mem, len)], vec![]), e)
                }
                Op::Copy { dst_mem, src_mem, dst, src, len } => {
                    let e = if inb(&sizes, dst_mem, dst, len) && inb(&sizes, src_mem, src, len) {
                        let data: Vec<u8> = (0..len).map(|i| *bytes.get(&(src_mem, src + i)).unwrap_or(&0)).collect();
                        for (i, b) in data.into_iter().enumerate() {
                            bytes.insert((dst_mem, dst + i as u64), b);
                        }
                        ok()
                    } else {
                        oob()
                    };
                    step(invoke(name, vec![self.val(dst_mem, dst), self.val(dst_mem, src), self.val(dst_mem, len)], vec![]), e)
                }
                Op::Init { mem, seg, dst, src, len } => {
                    let data = &segs[seg as usize];
                    let fits = src.checked_add(len).is_some_and(|end| end <= data.len() as u64) && inb(&sizes, mem, dst, len);
                    let e = if fits {
                        for i in 0..len {
                            bytes.insert((mem, dst + i), data[(src + i) as usize]);
                        }
                        ok()
                    } else {
                        oob()
                    };
                    step(invoke(name, vec![self.val(mem, dst), Val::I32(src as u32 as i32), Val::I32(len as u32 as i32)], vec![]), e)
                }
                Op::DataDrop { seg } => {
                    segs[seg as usize].clear();
                    step(invoke(name, vec![], vec![]), ok())
                }
            };
            out.push(s);
        }
        out
    }

    /// The program as a case the runner takes.
    pub fn case(&self, id: &str) -> Case {
        let steps = self.steps();
        // (Its WAT is printed only when a finding is written: `yaml`.)
        Case {
            summary: "generated by wasm-matrix fuzz".into(),
            tags: vec!["found".into()],
            // A grow towards 4 GiB without a maximum is real work for the
            // interpreters (they commit it): a heavy case, which takes what
            // its memories can reach of the memory budget.
            timeout: self.grows_big().then_some(120.0),
            commits_at_most: Some(self.commits_at_most()),
            ..Case::new(id.into(), format!("{id}.yaml").into(), steps, Plan::of(Some(self.wasm().into()), self.features()))
        }
    }

    /// The most bytes the program's memories can reach as the spec allows:
    /// each memory's minimum plus every grow of it, within its limit.
    pub(super) fn commits_at_most(&self) -> u64 {
        let mut pages: Vec<u64> = self.mems.iter().map(|m| m.min).collect();
        for o in &self.ops {
            if let Op::Grow { mem, delta } | Op::HostGrow { mem, delta } = *o {
                let m = &self.mems[mem as usize];
                let d = if m.i64 { delta } else { delta & 0xffff_ffff };
                pages[mem as usize] = pages[mem as usize].saturating_add(d).min(m.limit());
            }
        }
        self.mems.iter().zip(pages).map(|(m, p)| p.saturating_mul(m.page())).fold(0, u64::saturating_add)
    }

    pub(super) fn grows_big(&self) -> bool {
        self.ops.iter().any(|o| match *o {
            Op::Grow { mem, delta } | Op::HostGrow { mem, delta } => {
                let m = &self.mems[mem as usize];
                m.max.is_none() && delta * m.page() >= 1 << 30
            }
            _ => false,
        })
    }
}
