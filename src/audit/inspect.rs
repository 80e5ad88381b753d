//! What a module declares about memory, read from its binary with
//! wasmparser: its memories (defined or imported: limits, shared, 64-bit,
//! page size), its imports by module and kind, its start function and the
//! memories it exports.

pub use crate::results::audit::{human, MemoryDecl};
use serde::Serialize;
use std::collections::BTreeMap;
use wasmparser::{ExternalKind, Parser, Payload, TypeRef};

/// What a module declares.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Declared {
    pub memories: Vec<MemoryDecl>,
    /// Imports by module, then by kind (`func`, `memory`, `table`, `global`, `tag`): how many.
    pub imports: BTreeMap<String, BTreeMap<&'static str, usize>>,
    /// The start function's index, if it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start: Option<u32>,
    pub bytes: usize,
    /// Every import as `module.name`, in order.
    #[serde(skip)]
    pub import_names: Vec<String>,
}

impl Declared {
    pub fn read(wasm: &[u8]) -> Result<Declared, String> {
        let mut d = Declared { bytes: wasm.len(), ..Declared::default() };
        let mut exports: Vec<(String, u32)> = Vec::new();
        for payload in Parser::new(0).parse_all(wasm) {
            match payload.map_err(|e| e.to_string())? {
                Payload::ImportSection(r) => {
                    for imp in r.into_imports() {
                        let imp = imp.map_err(|e| e.to_string())?;
                        d.import_names.push(format!("{}.{}", imp.module, imp.name));
                        let kind = match imp.ty {
                            TypeRef::Func(_) | TypeRef::FuncExact(_) => "func",
                            TypeRef::Memory(m) => {
                                d.memories.push(decl(m, Some(format!("{}.{}", imp.module, imp.name))));
                                "memory"
                            }
                            TypeRef::Table(_) => "table",
                            TypeRef::Global(_) => "global",
                            TypeRef::Tag(_) => "tag",
                        };
                        *d.imports.entry(imp.module.to_string()).or_default().entry(kind).or_default() += 1;
                    }
                }
                Payload::MemorySection(r) => {
                    for m in r {
                        d.memories.push(decl(m.map_err(|e| e.to_string())?, None));
                    }
                }
                Payload::ExportSection(r) => {
                    for e in r {
                        let e = e.map_err(|e| e.to_string())?;
                        if e.kind == ExternalKind::Memory {
                            exports.push((e.name.to_string(), e.index));
                        }
                    }
                }
                Payload::StartSection { func, .. } => d.start = Some(func),
                _ => {}
            }
        }
        for (name, index) in exports {
            if let Some(m) = d.memories.get_mut(index as usize) {
                m.exports.push(name);
            }
        }
        Ok(d)
    }
}

fn decl(m: wasmparser::MemoryType, import: Option<String>) -> MemoryDecl {
    MemoryDecl {
        import,
        exports: vec![],
        initial: m.initial,
        maximum: m.maximum,
        shared: m.shared,
        memory64: m.memory64,
        page_bytes: m.page_size_log2.map_or(65536, |p| 1u64 << p),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_imported_shared_memory_and_an_exported_one_are_told_apart() {
        let wat = r#"(module
            (import "env" "memory" (memory 16384 16384 shared))
            (import "env" "f" (func))
            (import "env" "g" (global i32))
            (memory (export "mem") (export "m2") 1)
            (func $s) (start $s))"#;
        let buf = wast::parser::ParseBuffer::new(wat).unwrap();
        let wasm = wast::parser::parse::<wast::Wat>(&buf).unwrap().encode().unwrap();
        let d = Declared::read(&wasm).unwrap();
        assert_eq!(d.memories.len(), 2);
        assert_eq!(d.memories[0].import.as_deref(), Some("env.memory"));
        assert_eq!(d.memories[0].describe(), "16384..16384 pages (1.0 GiB..1.0 GiB), shared");
        assert_eq!(d.memories[1].exports, ["mem", "m2"]);
        assert_eq!(d.memories[1].describe(), "1 pages (64 KiB), no maximum");
        assert_eq!(d.imports["env"]["func"], 1);
        assert_eq!(d.imports["env"]["memory"], 1);
        assert_eq!(d.start, Some(1), "the imported function is function 0");
        assert!(Declared::read(b"\0asm\x01\0\0\0\x05\x04").is_err());
    }
}
