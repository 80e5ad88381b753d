//! Compiled modules an embedded worker keeps between cases: the five cases
//! `audit` writes for one 30 MB module then compile it once per engine
//! configuration instead of five times. Only large modules are kept (a
//! small one compiles faster than it is hashed and compared), only the
//! most recent one (an audit runs a module's cases one after another on a
//! column; the code of the module before is hundreds of MB that nothing
//! asks for again), and a `compile` step always compiles afresh (its time
//! is what it measures).

use sha2::{Digest, Sha256};

/// Modules below this many bytes are not kept.
const SMALLEST: usize = 64 << 10;
/// Modules above this many bytes are not kept either.
const LARGEST: usize = 64 << 20;

/// An engine configuration (its feature switches and host cap) and the
/// sha256 of a module's bytes, as a key: the bytes themselves are not kept
/// (the case's own copy is the worker's only one).
type Key = ((u16, Option<u64>), [u8; 32]);

pub struct ModuleCache<M> {
    kept: Option<(Key, usize, M)>,
    /// The current case's module (where its bytes are, its length) and its
    /// key, hashed once per case (`forget_other`) rather than at each look.
    /// Its bytes live as long as the case, so their address names them.
    current: Option<(usize, usize, Key)>,
}

impl<M: Clone> Default for ModuleCache<M> {
    fn default() -> Self {
        ModuleCache { kept: None, current: None }
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
        let k = self.key_of(engine, wasm);
        self.kept.iter().find(|(ek, len, _)| *ek == k && *len == wasm.len()).map(|(_, _, m)| m.clone())
    }

    /// The key of `wasm`: the current case's, if these are its bytes.
    fn key_of(&self, engine: (u16, Option<u64>), wasm: &[u8]) -> Key {
        match self.current {
            Some((at, len, k)) if at == wasm.as_ptr() as usize && len == wasm.len() && k.0 == engine => k,
            _ => key(engine, wasm),
        }
    }

    /// At a case's start: the kept module goes unless the case is of it (a
    /// column that moved on to other modules does not hold the code of one
    /// it is done with; `wasm`: the case's module, if it has one).
    pub fn forget_other(&mut self, engine: (u16, Option<u64>), wasm: Option<&[u8]>) {
        self.current = wasm.filter(|w| w.len() >= SMALLEST).map(|w| (w.as_ptr() as usize, w.len(), key(engine, w)));
        let same = match (&self.kept, self.current) {
            (Some((k, len, _)), Some((_, wlen, wk))) => *len == wlen && *k == wk,
            _ => false,
        };
        if !same {
            self.kept = None;
        }
    }

    /// Lets the kept module go (the runner is done with its cases for now).
    pub fn clear(&mut self) {
        self.kept = None;
        self.current = None;
    }

    /// Keeps a module compiled from `wasm` (if it is large enough to be
    /// worth it) in place of the one kept before.
    pub fn put(&mut self, engine: (u16, Option<u64>), wasm: &[u8], module: M) {
        if wasm.len() < SMALLEST || wasm.len() > LARGEST || self.get(engine, wasm).is_some() {
            return;
        }
        self.kept = Some((self.key_of(engine, wasm), wasm.len(), module));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_modules_are_kept_per_engine_and_only_the_latest() {
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
        // Another module takes its place.
        let next = vec![1u8; 200 << 10];
        c.put((0, None), &next, 3);
        assert_eq!(c.get((0, None), &big), None);
        assert_eq!(c.get((0, None), &next), Some(3));
        let huge = vec![1u8; LARGEST + 1];
        c.put((0, None), &huge, 4);
        assert_eq!((c.get((0, None), &huge), c.get((0, None), &next)), (None, Some(3)), "too large to keep");
        // A case of the same module keeps it; one of another module (or of
        // none) lets it go.
        c.forget_other((0, None), Some(&next));
        assert_eq!(c.get((0, None), &next), Some(3));
        // The same bytes elsewhere are the same module (hashed, not the
        // case's key by address); other bytes at the case's length are not.
        assert_eq!(c.get((0, None), &next.clone()), Some(3));
        let mut changed = next.clone();
        changed[0] = 9;
        assert_eq!(c.get((0, None), &changed), None);
        c.forget_other((0, None), Some(&small));
        assert_eq!(c.get((0, None), &next), None);
        c.put((0, None), &next, 3);
        c.forget_other((0, None), None);
        assert_eq!(c.get((0, None), &next), None);
        c.put((0, None), &next, 3);
        c.clear();
        assert_eq!(c.get((0, None), &next), None);
    }
}
