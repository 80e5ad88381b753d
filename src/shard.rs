//! `--shard K/N`: a deterministic split of a corpus's cases into N parts.
//!
//! Cases are ordered by a stable hash of their id (FNV-1a, 64 bit: the same
//! on every machine and every run) and dealt out in turn, so the parts
//! differ in size by at most one case and together hold every case once.
//! Every engine of a case goes to the same shard, so `--engines` and
//! `--shard` combine ("firefox, shard 2 of 4").

use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// 1-based.
    pub index: usize,
    pub count: usize,
}

impl FromStr for Shard {
    type Err = String;

    fn from_str(s: &str) -> Result<Shard, String> {
        let bad = || format!("expected K/N with 1 <= K <= N (e.g. 2/4), found `{s}`");
        let (k, n) = s.split_once('/').ok_or_else(bad)?;
        let index: usize = k.trim().parse().map_err(|_| bad())?;
        let count: usize = n.trim().parse().map_err(|_| bad())?;
        if index == 0 || count == 0 || index > count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// FNV-1a over the id's bytes.
pub fn stable_hash(id: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in id.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

impl Shard {
    /// Which of `ids` belong to this shard (indices into `ids`, in input order).
    pub fn select<S: AsRef<str>>(&self, ids: &[S]) -> Vec<usize> {
        let mut order: Vec<usize> = (0..ids.len()).collect();
        order.sort_by(|&a, &b| {
            let (a, b) = (ids[a].as_ref(), ids[b].as_ref());
            stable_hash(a).cmp(&stable_hash(b)).then(a.cmp(b))
        });
        let mut mine: Vec<usize> = order.into_iter().enumerate().filter(|(i, _)| i % self.count == self.index - 1).map(|(_, c)| c).collect();
        mine.sort_unstable();
        mine
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_rejects() {
        assert_eq!("2/4".parse::<Shard>().unwrap(), Shard { index: 2, count: 4 });
        for bad in ["0/4", "5/4", "1/0", "a/b", "3", ""] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
    }

    #[test]
    fn shards_cover_every_id_once_and_balance() {
        let ids: Vec<String> = (0..101).map(|i| format!("case/{i}")).collect();
        for n in 1..=7 {
            let mut seen = vec![0; ids.len()];
            let mut sizes = vec![];
            for k in 1..=n {
                let part = Shard { index: k, count: n }.select(&ids);
                sizes.push(part.len());
                for i in part {
                    seen[i] += 1;
                }
            }
            assert!(seen.iter().all(|&s| s == 1), "n={n}");
            assert!(sizes.iter().max().unwrap() - sizes.iter().min().unwrap() <= 1, "n={n}: {sizes:?}");
        }
    }

    #[test]
    fn the_hash_is_fixed() {
        // FNV-1a test vectors: the split must not change between builds.
        assert_eq!(stable_hash(""), 0xcbf29ce484222325);
        assert_eq!(stable_hash("a"), 0xaf63dc4c8601ec8c);
    }
}
