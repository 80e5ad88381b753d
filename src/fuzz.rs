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

/// One declared memory.
#[derive(Debug, Clone, PartialEq)]
pub struct Mem {
    pub i64: bool,
    /// In pages of this memory's page size.
    pub min: u64,
    pub max: Option<u64>,
    /// Shared (threads): always has a maximum, always i32 here.
    pub shared: bool,
    /// 1-byte pages (custom page sizes), i32 here.
    pub page1: bool,
}

impl Mem {
    fn page(&self) -> u64 {
        if self.page1 { 1 } else { PAGE }
    }

    /// The spec's largest size, in pages: the declared maximum, else the
    /// address space's.
    fn limit(&self) -> u64 {
        self.max.unwrap_or(if self.page1 { u32::MAX as u64 } else if self.i64 { 1 << 48 } else { 65536 })
    }

    /// The largest size a generated program grows to (programs stay
    /// cheap: 64 64-KiB pages, or 4 MiB of 1-byte pages).
    fn cap(&self) -> u64 {
        self.limit().min(if self.page1 { 64 * PAGE } else { 64 })
    }

    fn ty(&self) -> wasm_encoder::MemoryType {
        wasm_encoder::MemoryType { minimum: self.min, maximum: self.max, memory64: self.i64, shared: self.shared, page_size_log2: self.page1.then_some(0) }
    }
}

/// A data segment: active at `offset` of memory `mem`, or passive.
#[derive(Debug, Clone, PartialEq)]
pub struct Data {
    pub mem: u32,
    pub offset: Option<u64>,
    pub bytes: Vec<u8>,
}

/// One operation of a program.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    Grow { mem: u32, delta: u64 },
    Size { mem: u32 },
    Load { mem: u32, width: u8, offset: u64, addr: u64 },
    Store { mem: u32, width: u8, offset: u64, addr: u64, value: u64 },
    Fill { mem: u32, dst: u64, value: u8, len: u64 },
    /// Between memories of the same address type.
    Copy { dst_mem: u32, src_mem: u32, dst: u64, src: u64, len: u64 },
    Init { mem: u32, seg: u32, dst: u64, src: u64, len: u64 },
    DataDrop { seg: u32 },
    HostGrow { mem: u32, delta: u64 },
    HostSize { mem: u32 },
}

impl Op {
    /// The memory indices the operation names, to renumber them.
    fn mems_mut(&mut self) -> Vec<&mut u32> {
        match self {
            Op::Grow { mem, .. } | Op::Size { mem } | Op::Load { mem, .. } | Op::Store { mem, .. } | Op::Fill { mem, .. } => vec![mem],
            Op::Init { mem, .. } | Op::HostGrow { mem, .. } | Op::HostSize { mem } => vec![mem],
            Op::Copy { dst_mem, src_mem, .. } => vec![dst_mem, src_mem],
            Op::DataDrop { .. } => vec![],
        }
    }

    /// The memories the operation touches.
    fn mems(&self) -> Vec<u32> {
        self.clone().mems_mut().into_iter().map(|m| *m).collect()
    }

    fn seg(&self) -> Option<u32> {
        match *self {
            Op::Init { seg, .. } | Op::DataDrop { seg } => Some(seg),
            _ => None,
        }
    }

    /// Smaller versions of the operation, for the minimizer: each number
    /// towards 0 or 1, one at a time.
    fn simpler(&self) -> Vec<Op> {
        let mut out = Vec::new();
        let mut try_ = |o: Op| {
            if o != *self && !out.contains(&o) {
                out.push(o);
            }
        };
        match self.clone() {
            Op::Grow { mem, delta } | Op::HostGrow { mem, delta } if delta > 1 => {
                let same = |d| if matches!(self, Op::Grow { .. }) { Op::Grow { mem, delta: d } } else { Op::HostGrow { mem, delta: d } };
                try_(same(1));
                try_(same(delta / 2));
            }
            Op::Load { mem, width, offset, addr } => {
                try_(Op::Load { mem, width: 1, offset, addr });
                try_(Op::Load { mem, width, offset: 0, addr: addr.saturating_add(offset) });
            }
            Op::Store { mem, width, offset, addr, value } => {
                try_(Op::Store { mem, width, offset, addr, value: 0 });
                try_(Op::Store { mem, width: 1, offset, addr, value });
                try_(Op::Store { mem, width, offset: 0, addr: addr.saturating_add(offset), value });
            }
            Op::Fill { mem, dst, value, len } => {
                try_(Op::Fill { mem, dst, value: 0, len });
                try_(Op::Fill { mem, dst, value, len: len.min(1) });
            }
            Op::Copy { dst_mem, src_mem, dst, src, len } => {
                try_(Op::Copy { dst_mem, src_mem, dst, src, len: len.min(1) });
                try_(Op::Copy { dst_mem, src_mem, dst, src: 0, len });
            }
            Op::Init { mem, seg, dst, src, len } => {
                try_(Op::Init { mem, seg, dst, src, len: len.min(1) });
                try_(Op::Init { mem, seg, dst, src: 0, len });
            }
            _ => {}
        }
        out
    }
}

/// A generated program: its memories, data segments and operations.
#[derive(Debug, Clone, PartialEq)]
pub struct Program {
    pub mems: Vec<Mem>,
    pub data: Vec<Data>,
    pub ops: Vec<Op>,
}

/// A name of a memory's export or function: `grow` for memory 0, `grow_m1` for 1.
fn named(base: &str, mem: u32) -> String {
    if mem == 0 { base.to_string() } else { format!("{base}_m{mem}") }
}

impl Program {
    /// A random program: one to three memories (32- or 64-bit, shared,
    /// 1-byte pages, with and without a maximum), active and passive data
    /// segments, and operations whose addresses are biased towards the
    /// bounds: the current size, 2^16, 2^32, the declared maximum. Sizes
    /// stay small (see [`Mem::cap`]) so that programs are cheap.
    pub fn generate(rng: &mut Rng) -> Program {
        let count = rng.pick(&[1, 1, 1, 1, 1, 1, 1, 2, 2, 3]);
        let mems: Vec<Mem> = (0..count)
            .map(|_| {
                let page1 = rng.below(8) == 0;
                let shared = !page1 && rng.below(8) == 0;
                let i64 = !page1 && !shared && rng.below(4) == 0;
                let min = if page1 { rng.pick(&[0, 1, 100, 65535, 65536, 65537]) } else { rng.pick(&[0, 0, 1, 1, 2, 3]) };
                let max = match rng.below(3) {
                    0 if !shared => None,
                    1 | 0 => Some(min + if page1 { rng.pick(&[1, 7, 65536]) } else { rng.below(4) }),
                    _ => Some(min),
                };
                Mem { i64, min, max, shared, page1 }
            })
            .collect();
        let mut sizes: Vec<u64> = mems.iter().map(|m| m.min).collect();
        let data: Vec<Data> = (0..rng.pick(&[0, 0, 1, 2]))
            .map(|_| {
                let mem = rng.below(count as u64) as u32;
                let bytes: Vec<u8> = (0..rng.pick(&[0, 1, 4, 17])).map(|_| rng.below(256) as u8).collect();
                let bound = sizes[mem as usize] * mems[mem as usize].page();
                let len = bytes.len() as u64;
                let offset = (rng.below(5) < 3).then(|| rng.pick(&[0, bound.saturating_sub(len), bound.saturating_sub(len) + 1, bound]));
                Data { mem, offset, bytes }
            })
            .collect();
        let mut ops = Vec::new();
        for _ in 0..(2 + rng.below(8)) {
            let mem = rng.below(count as u64) as u32;
            let m = mems[mem as usize].clone();
            let size = sizes[mem as usize];
            let bound = size * m.page();
            let max = m.max;
            let near = |rng: &mut Rng, width: u64| -> u64 {
                let base = rng.pick(&[bound, bound, 1 << 16, 1 << 32, max.unwrap_or(size) * m.page(), 0]);
                let delta = rng.pick(&[0i64, -1, -(width as i64), 1, -(width as i64) + 1, -2]);
                (base as i64).wrapping_add(delta).max(0) as u64
            };
            let limit_addr = |a: u64| if m.i64 { a } else { a & 0xffff_ffff };
            let cap = m.cap();
            // A delta is an address-sized value: an i32 memory's is taken mod 2^32.
            let grow = |rng: &mut Rng, d: u64| {
                limit_addr(if rng.below(6) == 0 && (max.is_some() || rng.below(512) == 0) {
                    let unit = if m.page1 { PAGE } else { 1 };
                    // Deltas to the 2^16 bound and past the maximum; without a
                    // maximum, a grow to 4 GiB is real work (interpreters
                    // commit it), so rarely.
                    // 2^20 pages is past every i32 limit; a 64-bit memory
                    // without a maximum would really grow to 64 GiB (wasmi
                    // commits it until the budget stops it:
                    // cases/found/memory64-grow-64gib.yaml), so it stops one
                    // page past 4 GiB instead.
                    let far = if m.i64 && max.is_none() { 65537 } else { 1 << 20 };
                    rng.pick(&[(65536 * unit).saturating_sub(size), (65536 * unit).saturating_sub(size) + 1, max.unwrap_or(size).saturating_sub(size) + 1, far])
                } else {
                    d
                })
            };
            let op = match rng.below(10) {
                0 | 1 => {
                    let d = if m.page1 { rng.pick(&[0, 1, 1, 7, 65536]) } else { rng.pick(&[0, 1, 1, 2, 5]) };
                    Op::Grow { mem, delta: grow(rng, d) }
                }
                2 => Op::Size { mem },
                3 | 4 => {
                    let width = rng.pick(&[1u8, 2, 4, 8]);
                    let offset = rng.pick(&[0, 0, 0, 1, 8, 65535, 65536]);
                    Op::Load { mem, width, offset, addr: limit_addr(near(rng, width as u64).saturating_sub(offset)) }
                }
                5 => {
                    let width = rng.pick(&[1u8, 2, 4, 8]);
                    let offset = rng.pick(&[0, 0, 1, 65536]);
                    Op::Store { mem, width, offset, addr: limit_addr(near(rng, width as u64).saturating_sub(offset)), value: rng.next() }
                }
                6 => match rng.below(3) {
                    0 => Op::Fill { mem, dst: limit_addr(near(rng, 4)), value: rng.below(256) as u8, len: rng.pick(&[0, 1, 4, 100]) },
                    1 => {
                        let same: Vec<u32> = (0..count as u32).filter(|k| mems[*k as usize].i64 == m.i64).collect();
                        let src_mem = rng.pick(&same);
                        let src_bound = sizes[src_mem as usize] * mems[src_mem as usize].page();
                        let src = limit_addr(rng.pick(&[0, src_bound, src_bound.saturating_sub(4), 1 << 16]));
                        Op::Copy { dst_mem: mem, src_mem, dst: limit_addr(near(rng, 4)), src, len: rng.pick(&[0, 1, 4, 100]) }
                    }
                    _ => Op::HostSize { mem },
                },
                7 if !data.is_empty() => {
                    let seg = rng.below(data.len() as u64) as u32;
                    let seg_len = data[seg as usize].bytes.len() as u64;
                    let len = rng.pick(&[0, 1, seg_len, seg_len + 1]);
                    Op::Init { mem, seg, dst: limit_addr(near(rng, len)), src: rng.pick(&[0, 0, 1, seg_len]), len }
                }
                8 if !data.is_empty() => Op::DataDrop { seg: rng.below(data.len() as u64) as u32 },
                _ => {
                    let d = rng.pick(&[0, 1, 2, max.unwrap_or(size).saturating_sub(size) + 1]);
                    Op::HostGrow { mem, delta: grow(rng, d) }
                }
            };
            if let Op::Grow { delta, .. } | Op::HostGrow { delta, .. } = op {
                if size + delta <= cap {
                    sizes[mem as usize] += delta;
                }
            }
            ops.push(op);
        }
        Program { mems, data, ops }
    }

    /// The proposals the program needs.
    pub fn features(&self) -> Vec<Feature> {
        let mut f = Vec::new();
        if self.mems.iter().any(|m| m.i64) {
            f.push(Feature::Memory64);
        }
        if self.mems.iter().any(|m| m.shared) {
            f.push(Feature::Threads);
        }
        if self.mems.len() > 1 {
            f.push(Feature::MultiMemory);
        }
        if self.mems.iter().any(|m| m.page1) {
            f.push(Feature::CustomPageSizes);
        }
        f
    }

    fn idx(&self, mem: u32) -> wasm_encoder::ValType {
        if self.mems[mem as usize].i64 { wasm_encoder::ValType::I64 } else { wasm_encoder::ValType::I32 }
    }

    /// The functions the operations call, each once: (name, params,
    /// results, body). A function no operation calls is not in the module.
    #[allow(clippy::type_complexity)]
    fn funcs(&self) -> Vec<(String, Vec<wasm_encoder::ValType>, Vec<wasm_encoder::ValType>, Vec<wasm_encoder::Instruction<'static>>)> {
        use wasm_encoder::{Instruction as I, MemArg, ValType as T};
        let mut out = Vec::new();
        let mut seen = std::collections::BTreeSet::new();
        for op in &self.ops {
            let name = self.func_name(op);
            let Some(name) = name.filter(|n| seen.insert(n.clone())) else { continue };
            let arg = |offset: u64, mem: u32| MemArg { offset, align: 0, target: wasm_encoder::MemArgTarget::Memory(mem), ordering: None };
            let f = match *op {
                Op::Grow { mem, .. } => (vec![self.idx(mem)], vec![self.idx(mem)], vec![I::LocalGet(0), I::MemoryGrow(mem)]),
                Op::Size { mem } => (vec![], vec![self.idx(mem)], vec![I::MemorySize(mem)]),
                Op::Fill { mem, .. } => {
                    let x = self.idx(mem);
                    (vec![x, T::I32, x], vec![], vec![I::LocalGet(0), I::LocalGet(1), I::LocalGet(2), I::MemoryFill(mem)])
                }
                Op::Copy { dst_mem, src_mem, .. } => {
                    let x = self.idx(dst_mem);
                    (vec![x, x, x], vec![], vec![I::LocalGet(0), I::LocalGet(1), I::LocalGet(2), I::MemoryCopy { src_mem, dst_mem }])
                }
                Op::Init { mem, seg, .. } => {
                    (vec![self.idx(mem), T::I32, T::I32], vec![], vec![I::LocalGet(0), I::LocalGet(1), I::LocalGet(2), I::MemoryInit { mem, data_index: seg }])
                }
                Op::DataDrop { seg } => (vec![], vec![], vec![I::DataDrop(seg)]),
                Op::Load { mem, width, offset, .. } => {
                    let m = arg(offset, mem);
                    let load = match width {
                        1 => I::I64Load8U(m),
                        2 => I::I64Load16U(m),
                        4 => I::I64Load32U(m),
                        _ => I::I64Load(m),
                    };
                    (vec![self.idx(mem)], vec![T::I64], vec![I::LocalGet(0), load])
                }
                Op::Store { mem, width, offset, .. } => {
                    let m = arg(offset, mem);
                    let store = match width {
                        1 => I::I64Store8(m),
                        2 => I::I64Store16(m),
                        4 => I::I64Store32(m),
                        _ => I::I64Store(m),
                    };
                    (vec![self.idx(mem), T::I64], vec![], vec![I::LocalGet(0), I::LocalGet(1), store])
                }
                Op::HostGrow { .. } | Op::HostSize { .. } => continue,
            };
            let (params, results, mut body) = f;
            body.push(I::End);
            out.push((name, params, results, body));
        }
        out
    }

    fn func_name(&self, op: &Op) -> Option<String> {
        Some(match *op {
            Op::Grow { mem, .. } => named("grow", mem),
            Op::Size { mem } => named("size", mem),
            Op::Fill { mem, .. } => named("fill", mem),
            Op::Copy { dst_mem, src_mem, .. } => format!("copy_m{dst_mem}_m{src_mem}"),
            Op::Init { mem, seg, .. } => format!("init{seg}_m{mem}"),
            Op::DataDrop { seg } => format!("drop{seg}"),
            Op::Load { mem, width, offset, .. } => named(&format!("load{width}_{offset}"), mem),
            Op::Store { mem, width, offset, .. } => named(&format!("store{width}_{offset}"), mem),
            Op::HostGrow { .. } | Op::HostSize { .. } => return None,
        })
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
        let mut mems = MemorySection::new();
        for (k, m) in self.mems.iter().enumerate() {
            mems.memory(m.ty());
            exports.export(&named("mem", k as u32), ExportKind::Memory, k as u32);
        }
        let mut data = DataSection::new();
        for d in &self.data {
            match d.offset {
                Some(at) if self.mems[d.mem as usize].i64 => data.active(d.mem, &ConstExpr::i64_const(at as i64), d.bytes.iter().copied()),
                Some(at) => data.active(d.mem, &ConstExpr::i32_const(at as u32 as i32), d.bytes.iter().copied()),
                None => data.passive(d.bytes.iter().copied()),
            };
        }
        let mut m = Module::new();
        m.section(&types).section(&fsec).section(&mems).section(&exports);
        if !self.data.is_empty() {
            m.section(&DataCountSection { count: self.data.len() as u32 });
        }
        m.section(&code);
        if !self.data.is_empty() {
            m.section(&data);
        }
        m.finish()
    }

    fn val(&self, mem: u32, n: u64) -> Val {
        if self.mems[mem as usize].i64 { Val::I64(n as i64) } else { Val::I32(n as u32 as i32) }
    }

    fn ty(&self, mem: u32) -> ValType {
        if self.mems[mem as usize].i64 { ValType::I64 } else { ValType::I32 }
    }

    /// The steps, each with what the spec says (the reference model).
    pub fn steps(&self) -> Vec<Step> {
        let mut sizes: Vec<u64> = self.mems.iter().map(|m| m.min).collect();
        let mut bytes: HashMap<(u32, u64), u8> = HashMap::new();
        let step = Step::new;
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
        let plan = Plan {
            wasm: Some(self.wasm()),
            features: self.features(),
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
            // interpreters (they commit it): a heavy case, which takes what
            // its memories can reach of the memory budget.
            timeout: self.grows_big().then_some(120.0),
            commits_at_most: Some(self.commits_at_most()),
        }
    }

    /// The most bytes the program's memories can reach as the spec allows:
    /// each memory's minimum plus every grow of it, within its limit.
    fn commits_at_most(&self) -> u64 {
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

    fn grows_big(&self) -> bool {
        self.ops.iter().any(|o| match *o {
            Op::Grow { mem, delta } | Op::HostGrow { mem, delta } => {
                let m = &self.mems[mem as usize];
                m.max.is_none() && delta * m.page() >= 1 << 30
            }
            _ => false,
        })
    }

    /// The program without memory `k` (and what uses it), indices renumbered.
    fn without_mem(&self, k: u32) -> Option<Program> {
        if self.mems.len() < 2 {
            return None;
        }
        let re = |m: u32| if m > k { m - 1 } else { m };
        let mut p = self.clone();
        p.mems.remove(k as usize);
        let gone: Vec<u32> = (0..self.data.len() as u32).filter(|s| self.data[*s as usize].mem == k).collect();
        let mut q = p.without_segs(&gone);
        q.ops.retain(|o| !o.mems().contains(&k));
        for d in &mut q.data {
            d.mem = re(d.mem);
        }
        for o in &mut q.ops {
            for mem in o.mems_mut() {
                *mem = re(*mem);
            }
        }
        Some(q)
    }

    /// The program without these data segments (and what uses them).
    fn without_segs(&self, gone: &[u32]) -> Program {
        let mut p = self.clone();
        p.data = self.data.iter().enumerate().filter(|(i, _)| !gone.contains(&(*i as u32))).map(|(_, d)| d.clone()).collect();
        p.ops.retain(|o| o.seg().is_none_or(|s| !gone.contains(&s)));
        for o in &mut p.ops {
            if let Op::Init { seg, .. } | Op::DataDrop { seg } = o {
                *seg -= gone.iter().filter(|g| **g < *seg).count() as u32;
            }
        }
        p
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
    /// No answer in the case's time: not judged (a loaded machine, or an
    /// engine that hangs), reported apart.
    Timeout,
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
    /// The seconds the heavy programs' cells took so far, where known.
    fn heavy_seconds(&self) -> f64 {
        0.0
    }
}

/// The runner on real columns.
pub struct RunnerExec {
    pub columns: Vec<&'static crate::engine::Column>,
    pub opts: crate::runner::RunOptions,
    /// The heavy programs' cell seconds so far.
    pub heavy_seconds: f64,
}

impl Exec for RunnerExec {
    fn engines(&self) -> Vec<&'static str> {
        self.columns.iter().map(|c| c.id).collect()
    }

    fn subset(&mut self, ids: &[&str]) -> Box<dyn Exec + '_> {
        let columns = self.columns.iter().filter(|c| ids.contains(&c.id)).copied().collect();
        Box::new(RunnerExec { columns, opts: self.opts.clone(), heavy_seconds: 0.0 })
    }

    fn heavy_seconds(&self) -> f64 {
        self.heavy_seconds
    }

    fn run(&mut self, cases: &[Case]) -> Vec<Vec<Vec<Outcome>>> {
        let cases = Arc::new(cases.to_vec());
        let cells: Vec<(usize, &'static crate::engine::Column)> =
            (0..cases.len()).flat_map(|c| self.columns.iter().map(move |e| (c, *e))).collect();
        let mut out = vec![vec![Vec::new(); self.columns.len()]; cases.len()];
        let ids = self.engines();
        let heavy = &mut self.heavy_seconds;
        crate::runner::run_blocking(cases.clone(), cells, self.opts.clone(), |ev| {
            match ev {
                crate::runner::RunEvent::Cell(c) => {
                    // A heavy cell of an embedded column, with its CPU time
                    // (its wall time counts the waits for a core); the ideal
                    // is the embedded columns' alone.
                    if let (Some(_), Some(us)) = (cases[c.case].timeout, c.cpu_us) {
                        *heavy += us as f64 / 1e6;
                    }
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
    /// Programs that grow a memory without a maximum by 1 GiB or more (see
    /// `Program::case`), and their embedded cells' CPU seconds.
    pub heavy: usize,
    pub heavy_seconds: f64,
}

/// The misses of one run of one program: (engine, miss).
fn misses<'e>(engines: &[&'e str], case: &Case, outcomes: &[Vec<Outcome>]) -> Vec<(&'e str, Miss)> {
    engines
        .iter()
        .zip(outcomes)
        .filter(|(_, o)| !refuses_proposal(case, o))
        .filter_map(|(e, o)| first_miss(&case.steps, o).map(|m| (*e, m)))
        .collect()
}

/// An engine without a proposal the program uses (multi-memory, threads,
/// memory64, custom page sizes) rejects the module: that column has nothing
/// to say about the program, which is no finding.
fn refuses_proposal(case: &Case, outcomes: &[Outcome]) -> bool {
    !case.plan.features.is_empty() && matches!(outcomes.first(), Some(Outcome::Error(ErrorKind::Invalid, _) | Outcome::Unsupported(_)))
}

/// The classes in a run of one program (at the first step any engine misses).
fn classes_of(engines: &[&str], case: &Case, outcomes: &[Vec<Outcome>]) -> Option<(Class, String, usize, Vec<(String, String)>)> {
    let all = misses(engines, case, outcomes);
    let first = all.iter().map(|(_, m)| m.step).min()?;
    let at: Vec<(&str, &Miss)> = all.iter().filter(|(_, m)| m.step == first).map(|(e, m)| (*e, m)).collect();
    // A timeout says nothing about the spec: the class is the other
    // engines' at that step, or a timeout class when there are none.
    let answered: Vec<(&str, &Miss)> = at.iter().filter(|(_, m)| !matches!(m.outcome, Outcome::Timeout(_))).copied().collect();
    let at = if answered.is_empty() { at } else { answered };
    let (class, key) = class_key(&case.steps[first], &at);
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

/// Shrinks a program while the same class still shows: first everything
/// after the step where it shows; then each earlier operation, each data
/// segment, each memory not needed; then the declarations (a maximum
/// dropped, a minimum to 0) and each operation's numbers (widths to 1,
/// offsets, values and lengths to 0 or 1, deltas to 1). At most `budget`
/// runs.
pub fn minimize(exec: &mut dyn Exec, program: &Program, key: &str, budget: usize) -> Program {
    let engines = exec.engines();
    let tries = std::cell::Cell::new(0);
    let still = |exec: &mut dyn Exec, p: &Program| -> Option<usize> {
        tries.set(tries.get() + 1);
        let case = p.case("min");
        let out = exec.run(std::slice::from_ref(&case));
        classes_of(&engines, &case, &out[0]).filter(|(_, k, ..)| k == key).map(|(_, _, step, _)| step)
    };
    let mut best = program.clone();
    let Some(step) = still(exec, &best) else { return best };
    // Step 0 is the instantiation: operation i is step i + 1.
    best.ops.truncate(step);
    let mut candidates: Vec<Box<dyn Fn(&Program) -> Vec<Program>>> = vec![
        Box::new(|p| (0..p.ops.len().saturating_sub(1)).rev().map(|i| { let mut c = p.clone(); c.ops.remove(i); c }).collect()),
        Box::new(|p| (0..p.data.len() as u32).rev().map(|s| p.without_segs(&[s])).collect()),
        Box::new(|p| (0..p.mems.len() as u32).rev().filter_map(|k| p.without_mem(k)).collect()),
        Box::new(|p| {
            let mut out = Vec::new();
            for k in 0..p.mems.len() {
                if p.mems[k].max.is_some() && !p.mems[k].shared {
                    let mut c = p.clone();
                    c.mems[k].max = None;
                    out.push(c);
                }
                if p.mems[k].min > 0 {
                    let mut c = p.clone();
                    c.mems[k].min = 0;
                    out.push(c);
                }
            }
            out
        }),
        Box::new(|p| (0..p.ops.len()).flat_map(|i| p.ops[i].simpler().into_iter().map(move |o| (i, o))).map(|(i, o)| { let mut c = p.clone(); c.ops[i] = o; c }).collect()),
    ];
    for pass in candidates.iter_mut() {
        // Each pass again from the start after a success, until none helps.
        'pass: loop {
            for c in pass(&best) {
                if tries.get() >= budget {
                    return best;
                }
                if still(exec, &c).is_some() {
                    best = c;
                    continue 'pass;
                }
            }
            break;
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
    let mut heavy = 0;
    // Each batch is one run of the runner (its workers start once a batch,
    // and a batch ends at the pace of its slowest cell); the next batch is
    // generated while one runs. Batches are as large as they can be: one
    // for a counted run up to MAX_BATCH programs, so that its heavy cells
    // (a GiB grow that an interpreter commits: seconds) run alongside all
    // the rest; a timed run's are about 30 s of programs at the pace so
    // far, so that it ends near its time.
    const BATCH: usize = 2000;
    const MAX_BATCH: usize = 20_000;
    let size = |programs: usize, start: std::time::Instant| match (count, time) {
        (Some(c), _) => MAX_BATCH.min(c - programs),
        (None, Some(t)) if start.elapsed() < t => match programs {
            0 => BATCH,
            done => {
                let left = (t - start.elapsed()).as_secs_f64().min(30.0);
                ((done as f64 / start.elapsed().as_secs_f64() * left) as usize).clamp(BATCH, MAX_BATCH)
            }
        },
        _ => 0,
    };
    let make = |rng: &mut Rng, n: usize, first: usize| -> (Vec<Program>, Vec<Case>) {
        let batch: Vec<Program> = (0..n).map(|_| Program::generate(rng)).collect();
        let cases = batch.iter().enumerate().map(|(i, p)| p.case(&format!("p{}", first + i))).collect();
        (batch, cases)
    };
    let first = size(0, start);
    let mut next = make(&mut rng, first, 0);
    while !next.0.is_empty() {
        let (batch, cases) = std::mem::take(&mut next);
        let n = batch.len();
        heavy += batch.iter().filter(|p| p.grows_big()).count();
        let following = size(programs + n, start);
        let out = std::thread::scope(|s| {
            let generating = s.spawn(|| make(&mut rng, following, programs + n));
            let out = exec.run(&cases);
            next = generating.join().expect("generating programs does not panic");
            out
        });
        for ((p, case), o) in batch.iter().zip(&cases).zip(&out) {
            if let Some((class, key, _, observed)) = classes_of(&engines, case, o) {
                let engines = observed.iter().map(|(e, _)| e.clone()).collect();
                found.entry((class, key.clone())).and_modify(|f| f.count += 1).or_insert(Found { class, key, count: 1, program: p.clone(), observed, engines });
            }
        }
        programs += n;
        // A time-limited run stops when its time is up, made batch or not.
        if count.is_none() && size(programs, start) == 0 {
            break;
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    let heavy_seconds = exec.heavy_seconds();
    let mut list: Vec<Found> = found.into_values().collect();
    for f in &mut list {
        if f.class == Class::Finding {
            let ids: Vec<&str> = f.engines.iter().map(String::as_str).collect();
            let mut only = exec.subset(&ids);
            f.program = minimize(only.as_mut(), &f.program, &f.key, 80);
        }
    }
    (list, Stats { programs, seconds, heavy, heavy_seconds })
}

/// The embedded columns' own cost of a light program, in seconds: the
/// first `sample` light programs of `seed`, each compiled, instantiated and
/// run in this process (no worker, no protocol), summed over the columns.
/// None without embedded columns.
pub fn own_cost(columns: &[&'static crate::engine::Column], seed: u64, sample: usize) -> Option<f64> {
    let mut rng = Rng::new(seed);
    let plans: Vec<Plan> = (0..sample).map(|_| Program::generate(&mut rng)).filter(|p| !p.grows_big()).map(|p| (*p.case("ideal").plan).clone()).collect();
    let mut per_program = 0.0;
    let mut any = false;
    // An engine that panics on a program (wasmer on 64-bit memories) is a
    // crash cell in a run; here the program is left out of its time, and
    // the engine is made again. The panics are not printed.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    for c in columns {
        let crate::engine::Launch::Worker(make) = c.launch else { continue };
        any = true;
        let mut engine = make();
        let (mut secs, mut ran) = (0.0, 0);
        for plan in &plans {
            let start = std::time::Instant::now();
            let ok = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| engine.run(plan, 0, &mut |_, _| {}))).is_ok();
            if ok {
                secs += start.elapsed().as_secs_f64();
                ran += 1;
            } else {
                engine = make();
            }
        }
        per_program += secs / f64::from(ran.max(1));
    }
    std::panic::set_hook(hook);
    any.then_some(per_program)
}

/// The ideal throughput of a run: the engines' own work divided among the
/// cores. The light programs at `per_program` ([`own_cost`]) each; the
/// heavy ones (GiB grows, which an interpreter commits: not to be made in
/// this process) at their cells' CPU time in the run. Programs per second.
pub fn ideal(per_program: f64, cores: usize, stats: &Stats) -> f64 {
    let light = stats.programs.saturating_sub(stats.heavy) as f64;
    let work = light * per_program + stats.heavy_seconds;
    stats.programs as f64 * cores as f64 / work.max(1e-12)
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
    for s in case.steps.iter().skip(skip) {
        match &s.action {
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
        fn probe(&mut self, m: &str, budget: Option<u64>) -> crate::probe::Measure {
            self.0.probe(m, budget)
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
        assert!(has(&|p| p.steps()[0].expect != Expect::Ok) > 5, "some active segments do not fit");
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
}
