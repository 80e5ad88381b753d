//! Random programs: the generator's RNG, the program model (memories, data
//! segments, operations) and how a program is drawn.

use crate::case::Feature;


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
    pub(super) fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len() as u64) as usize]
    }
}

pub(super) const PAGE: u64 = 65536;

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
    pub(super) fn page(&self) -> u64 {
        if self.page1 { 1 } else { PAGE }
    }

    /// The spec's largest size, in pages: the declared maximum, else the
    /// address space's.
    pub(super) fn limit(&self) -> u64 {
        self.max.unwrap_or(if self.page1 { u32::MAX as u64 } else if self.i64 { 1 << 48 } else { 65536 })
    }

    /// The largest size a generated program grows to (programs stay
    /// cheap: 64 64-KiB pages, or 4 MiB of 1-byte pages).
    pub(super) fn cap(&self) -> u64 {
        self.limit().min(if self.page1 { 64 * PAGE } else { 64 })
    }

    pub(super) fn ty(&self) -> wasm_encoder::MemoryType {
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
    pub(super) fn mems_mut(&mut self) -> Vec<&mut u32> {
        match self {
            Op::Grow { mem, .. } | Op::Size { mem } | Op::Load { mem, .. } | Op::Store { mem, .. } | Op::Fill { mem, .. } => vec![mem],
            Op::Init { mem, .. } | Op::HostGrow { mem, .. } | Op::HostSize { mem } => vec![mem],
            Op::Copy { dst_mem, src_mem, .. } => vec![dst_mem, src_mem],
            Op::DataDrop { .. } => vec![],
        }
    }

    /// The memories the operation touches.
    pub(super) fn mems(&self) -> Vec<u32> {
        self.clone().mems_mut().into_iter().map(|m| *m).collect()
    }

    pub(super) fn seg(&self) -> Option<u32> {
        match *self {
            Op::Init { seg, .. } | Op::DataDrop { seg } => Some(seg),
            _ => None,
        }
    }

    /// Smaller versions of the operation, for the minimizer: each number
    /// towards 0 or 1, one at a time.
    pub(super) fn simpler(&self) -> Vec<Op> {
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
pub(super) fn named(base: &str, mem: u32) -> String {
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
}
