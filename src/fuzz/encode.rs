//! A program encoded as a module with wasm-encoder: one function per
//! operation kind and memory.

use super::generate::*;

impl Program {
    pub(super) fn idx(&self, mem: u32) -> wasm_encoder::ValType {
        if self.mems[mem as usize].i64 { wasm_encoder::ValType::I64 } else { wasm_encoder::ValType::I32 }
    }

    /// The functions the operations call, each once: (name, params,
    /// results, body). A function no operation calls is not in the module.
    #[allow(clippy::type_complexity)]
    pub(super) fn funcs(&self) -> Vec<(String, Vec<wasm_encoder::ValType>, Vec<wasm_encoder::ValType>, Vec<wasm_encoder::Instruction<'static>>)> {
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

    pub(super) fn func_name(&self, op: &Op) -> Option<String> {
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
}
