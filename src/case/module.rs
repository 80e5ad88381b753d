//! What the loader needs to know about a compiled module: its exported
//! functions' signatures (to type YAML numbers), its exported memories and
//! its memory imports (to check the names steps use).
//!
//! This reads the binary's structure only; whether the module is *valid* is
//! for each engine to say.

use super::{AddressType, ValType};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use wasmparser::{CompositeInnerType, ExternalKind, Parser, Payload, TypeRef};

#[derive(Debug, Default)]
pub struct ModuleInfo {
    /// Exported functions: name -> (params, results).
    pub funcs: BTreeMap<String, (Vec<ValType>, Vec<ValType>)>,
    /// Exported memories: name -> address type.
    pub memories: BTreeMap<String, AddressType>,
    /// Imported memories as (module, name).
    pub memory_imports: Vec<(String, String)>,
    /// Exported globals: name -> value type.
    pub globals: BTreeMap<String, ValType>,
    /// Every import with its declared type, in order: what `imports: stub`
    /// makes for it.
    pub imports: Vec<ImportStub>,
}

/// An import and what stubs it: made exactly as the module declares it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImportStub {
    pub module: String,
    pub name: String,
    pub kind: StubKind,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StubKind {
    /// A function that traps (throws) when called, naming the import.
    Func { params: Vec<ValType>, results: Vec<ValType> },
    Memory {
        initial: u64,
        maximum: Option<u64>,
        shared: bool,
        address: AddressType,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        page_size_log2: Option<u32>,
    },
    Table { element: ValType, initial: u64, maximum: Option<u64>, address: AddressType },
    /// A global holding zero (null for a reference).
    Global { ty: ValType, mutable: bool },
    Tag { params: Vec<ValType> },
    /// A type the tool cannot make (a GC reference, a typed function
    /// reference): why.
    Unsupported { what: String },
}

impl ModuleInfo {
    pub fn read(wasm: &[u8]) -> Result<ModuleInfo, String> {
        let mut types: Vec<Option<(Vec<ValType>, Vec<ValType>)>> = Vec::new();
        // Whether each type is a function type (for typed references).
        let mut is_func: Vec<bool> = Vec::new();
        let mut func_types: Vec<u32> = Vec::new();
        let mut mem_types: Vec<AddressType> = Vec::new();
        let mut global_types: Vec<Option<ValType>> = Vec::new();
        let mut info = ModuleInfo::default();
        let mut exports = Vec::new();
        for payload in Parser::new(0).parse_all(wasm) {
            match payload.map_err(|e| e.to_string())? {
                Payload::TypeSection(r) => {
                    let mut subs = Vec::new();
                    for group in r {
                        subs.extend(group.map_err(|e| e.to_string())?.into_types());
                    }
                    is_func.extend(subs.iter().map(|s| matches!(s.composite_type.inner, CompositeInnerType::Func(_))));
                    for sub in &subs {
                        types.push(match &sub.composite_type.inner {
                            CompositeInnerType::Func(f) => {
                                let p = f.params().iter().map(|t| val_type(*t, &is_func)).collect::<Option<Vec<_>>>();
                                let r = f.results().iter().map(|t| val_type(*t, &is_func)).collect::<Option<Vec<_>>>();
                                p.zip(r)
                            }
                            _ => None,
                        });
                    }
                }
                Payload::ImportSection(r) => {
                    for imp in r.into_imports() {
                        let imp = imp.map_err(|e| e.to_string())?;
                        let sig = |t: u32| types.get(t as usize).cloned().flatten();
                        let unsupported = |what: &str| StubKind::Unsupported { what: format!("{what} import `{}.{}` of a type the tool cannot make", imp.module, imp.name) };
                        let kind = match imp.ty {
                            TypeRef::Func(t) | TypeRef::FuncExact(t) => {
                                func_types.push(t);
                                match sig(t) {
                                    Some((params, results)) if !params.iter().chain(&results).any(|v| *v == ValType::OtherRef) => StubKind::Func { params, results },
                                    _ => unsupported("a function"),
                                }
                            }
                            TypeRef::Global(g) => {
                                let t = val_type(g.content_type, &is_func);
                                global_types.push(t);
                                match t {
                                    Some(ty) if ty != ValType::OtherRef => StubKind::Global { ty, mutable: g.mutable },
                                    _ => unsupported("a global"),
                                }
                            }
                            TypeRef::Memory(m) => {
                                mem_types.push(addr(m.memory64));
                                info.memory_imports.push((imp.module.to_string(), imp.name.to_string()));
                                StubKind::Memory { initial: m.initial, maximum: m.maximum, shared: m.shared, address: addr(m.memory64), page_size_log2: m.page_size_log2 }
                            }
                            TypeRef::Table(t) => match val_type(wasmparser::ValType::Ref(t.element_type), &is_func) {
                                Some(element @ (ValType::FuncRef | ValType::ExternRef)) => {
                                    StubKind::Table { element, initial: t.initial, maximum: t.maximum, address: addr(t.table64) }
                                }
                                _ => unsupported("a table"),
                            },
                            TypeRef::Tag(t) => match sig(t.func_type_idx) {
                                Some((params, _)) => StubKind::Tag { params },
                                None => unsupported("a tag"),
                            },
                        };
                        info.imports.push(ImportStub { module: imp.module.to_string(), name: imp.name.to_string(), kind });
                    }
                }
                Payload::FunctionSection(r) => {
                    for t in r {
                        func_types.push(t.map_err(|e| e.to_string())?);
                    }
                }
                Payload::GlobalSection(r) => {
                    for g in r {
                        global_types.push(val_type(g.map_err(|e| e.to_string())?.ty.content_type, &is_func));
                    }
                }
                Payload::MemorySection(r) => {
                    for m in r {
                        mem_types.push(addr(m.map_err(|e| e.to_string())?.memory64));
                    }
                }
                Payload::ExportSection(r) => {
                    for e in r {
                        let e = e.map_err(|e| e.to_string())?;
                        exports.push((e.name.to_string(), e.kind, e.index));
                    }
                }
                _ => {}
            }
        }
        for (name, kind, index) in exports {
            match kind {
                ExternalKind::Func => {
                    // Functions with types the case format cannot write (v128,
                    // references) are left out: steps cannot invoke them.
                    let sig = func_types.get(index as usize).and_then(|t| types.get(*t as usize)).cloned().flatten();
                    if let Some(sig) = sig {
                        info.funcs.insert(name, sig);
                    }
                }
                ExternalKind::Global => {
                    if let Some(Some(t)) = global_types.get(index as usize) {
                        info.globals.insert(name, *t);
                    }
                }
                ExternalKind::Memory => {
                    let a = mem_types.get(index as usize).copied().unwrap_or_default();
                    info.memories.insert(name, a);
                }
                _ => {}
            }
        }
        Ok(info)
    }
}

fn addr(memory64: bool) -> AddressType {
    if memory64 { AddressType::I64 } else { AddressType::I32 }
}

/// `is_func`: whether each of the module's types is a function type, so that
/// a typed reference (`(ref null $t)`) is shown as the funcref or anyref it is.
fn val_type(t: wasmparser::ValType, is_func: &[bool]) -> Option<ValType> {
    match t {
        wasmparser::ValType::I32 => Some(ValType::I32),
        wasmparser::ValType::I64 => Some(ValType::I64),
        wasmparser::ValType::F32 => Some(ValType::F32),
        wasmparser::ValType::F64 => Some(ValType::F64),
        wasmparser::ValType::V128 => Some(ValType::V128),
        wasmparser::ValType::Ref(r) if r.is_func_ref() => Some(ValType::FuncRef),
        wasmparser::ValType::Ref(r) if r.is_extern_ref() => Some(ValType::ExternRef),
        wasmparser::ValType::Ref(r) => {
            use wasmparser::{AbstractHeapType as A, HeapType};
            Some(match r.heap_type() {
                HeapType::Abstract { ty: A::Any | A::Eq | A::I31 | A::Struct | A::Array | A::None, .. } => ValType::AnyRef,
                HeapType::Abstract { ty: A::NoFunc, .. } => ValType::FuncRef,
                HeapType::Abstract { ty: A::NoExtern, .. } => ValType::ExternRef,
                HeapType::Concrete(i) | HeapType::Exact(i) => match i.as_module_index().and_then(|i| is_func.get(i as usize)) {
                    Some(true) => ValType::FuncRef,
                    Some(false) => ValType::AnyRef,
                    None => ValType::OtherRef,
                },
                _ => ValType::OtherRef,
            })
        }
    }
}
