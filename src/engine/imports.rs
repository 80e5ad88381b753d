//! What the session makes for a module's imports besides host memories
//! and registered instances: `spectest`'s items (the spec tests' host
//! module) and import stubs (`imports: stub`), each on the backend's
//! primitives.

use super::backend::{Fault, MemorySpec, Result, Store};
use crate::case::module::{ImportStub, StubKind};
use crate::case::{AddressType, Val, ValType};

/// An item of the spec tests' host module.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SpectestItem {
    Func(&'static [ValType]),
    Global(Val),
    Table { min: u64, max: u64, address: AddressType },
    Memory { min: u64, max: u64 },
}

/// `spectest`, as the reference interpreter defines it
/// (`interpreter/host/spectest.ml`). `drivers/harness/` mirrors this table;
/// a unit test keeps the two equal.
pub const SPECTEST: &[(&str, SpectestItem)] = &[
    ("print", SpectestItem::Func(&[])),
    ("print_i32", SpectestItem::Func(&[ValType::I32])),
    ("print_i64", SpectestItem::Func(&[ValType::I64])),
    ("print_f32", SpectestItem::Func(&[ValType::F32])),
    ("print_f64", SpectestItem::Func(&[ValType::F64])),
    ("print_i32_f32", SpectestItem::Func(&[ValType::I32, ValType::F32])),
    ("print_f64_f64", SpectestItem::Func(&[ValType::F64, ValType::F64])),
    ("global_i32", SpectestItem::Global(Val::I32(666))),
    ("global_i64", SpectestItem::Global(Val::I64(666))),
    ("global_f32", SpectestItem::Global(Val::F32(666.6f32.to_bits()))),
    ("global_f64", SpectestItem::Global(Val::F64(666.6f64.to_bits()))),
    ("table", SpectestItem::Table { min: 10, max: 20, address: AddressType::I32 }),
    ("table64", SpectestItem::Table { min: 10, max: 20, address: AddressType::I64 }),
    ("memory", SpectestItem::Memory { min: 1, max: 2 }),
];


/// An import made as the module declares it (`imports: stub`).
pub fn stub<S: Store>(store: &mut S, s: &ImportStub) -> Result<S::Extern> {
    match &s.kind {
        StubKind::Func { params, results } => {
            let message = format!("called the stub of import `{}.{}` (imports: stub)", s.module, s.name);
            store.stub_func(params, results, &message)
        }
        StubKind::Memory { initial, maximum, shared, address, page_size_log2: None } => {
            let m = store.new_memory(&MemorySpec { initial: *initial, maximum: *maximum, shared: *shared, address: *address })?;
            Ok(store.memory_extern(&m))
        }
        StubKind::Memory { page_size_log2: Some(p), .. } => Err(Fault::Unsupported(format!("a stub for a memory of {}-byte pages", 1u64 << p))),
        StubKind::Table { element, initial, maximum, .. } => store.stub_table(*element, *initial, *maximum),
        StubKind::Global { ty, mutable } => store.stub_global(*ty, *mutable),
        StubKind::Tag { .. } => Err(Fault::Unsupported(format!("a stub for tag import `{}.{}` (the embedders' APIs make no tags here)", s.module, s.name))),
        StubKind::Unsupported { what } => Err(Fault::Unsupported(what.clone())),
    }
}
