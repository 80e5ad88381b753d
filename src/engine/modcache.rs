//! Compiled modules an embedded worker keeps between cases: the five cases
//! `audit` writes for one 30 MB module then compile it once per engine
//! configuration instead of five times. Only large modules are kept (a
//! small one compiles faster than it is hashed and compared), the oldest
//! go first past a total, and a `compile` step always compiles afresh (its
//! time is what it measures).

use sha2::{Digest, Sha256};
use std::collections::VecDeque;

/// Modules below this many bytes are not kept.
const SMALLEST: usize = 64 << 10;
/// The most wasm bytes kept compiled, all entries together (a module's
/// cases run one after another; an engine's code for a 30 MB module is
/// hundreds of MB).
const TOTAL: usize = 64 << 20;

/// An engine configuration (its feature switches and host cap) and the
/// sha256 of a module's bytes, as a key: the bytes themselves are not kept
/// (the case's own copy is the worker's only one).
type Key = ((u16, Option<u64>), [u8; 32]);

pub struct ModuleCache<M> {
    entries: VecDeque<(Key, usize, M)>,
    bytes: usize,
}

impl<M: Clone> Default for ModuleCache<M> {
    fn default() -> Self {
        ModuleCache { entries: VecDeque::new(), bytes: 0 }
    }
}

fn key(engine: (u16, Option<u64>), wasm: &[u8]) -> Key {
    (engine, Sha256::digest(wasm).into())
}

impl<M: Clone> ModuleCache<M> {
    /// The module compiled from exactly these bytes for this engine, if kept.
    pub fn get(&self, engine: (u16, Option<u64>), wasm: &[u8]) -> Option<M> {
        if wasm.len() < SMALLEST {
            return None;
        }
        let k = key(engine, wasm);
        self.entries.iter().find(|(ek, len, _)| *ek == k && *len == wasm.len()).map(|(_, _, m)| m.clone())
    }

    /// Keeps a module compiled from `wasm` (if it is large enough to be worth it).
    pub fn put(&mut self, engine: (u16, Option<u64>), wasm: &[u8], module: M) {
        if wasm.len() < SMALLEST || wasm.len() > TOTAL || self.get(engine, wasm).is_some() {
            return;
        }
        while self.bytes + wasm.len() > TOTAL {
            match self.entries.pop_front() {
                Some((_, len, _)) => self.bytes -= len,
                None => break,
            }
        }
        self.bytes += wasm.len();
        self.entries.push_back((key(engine, wasm), wasm.len(), module));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_modules_are_kept_per_engine_and_the_oldest_go_first() {
        let mut c: ModuleCache<u32> = ModuleCache::default();
        let big = vec![7u8; 100 << 10];
        let small = vec![7u8; 100];
        c.put((0, None), &big, 1);
        c.put((0, None), &small, 2);
        assert_eq!(c.get((0, None), &big), Some(1));
        assert_eq!(c.get((1, None), &big), None, "another engine configuration");
        assert_eq!(c.get((0, None), &small), None, "small modules are not kept");
        let mut other = big.clone();
        other[5] = 8;
        assert_eq!(c.get((0, None), &other), None);
        // Past the total, the oldest entry goes.
        let huge = vec![1u8; TOTAL - (50 << 10)];
        c.put((0, None), &huge, 3);
        assert_eq!(c.get((0, None), &big), None);
        assert_eq!(c.get((0, None), &huge), Some(3));
    }
}
