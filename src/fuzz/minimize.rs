//! Shrinking a program while its class of finding still shows.

use super::exec::Exec;
use super::generate::*;
use super::judge::classes_of;

impl Program {

    /// The program without memory `k` (and what uses it), indices renumbered.
    pub(super) fn without_mem(&self, k: u32) -> Option<Program> {
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
    pub(super) fn without_segs(&self, gone: &[u32]) -> Program {
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

