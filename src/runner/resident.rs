//! The run's resident ceiling (`audit --resident-limit`): a cell that may
//! take much memory — a memory-heavy one, or one of a big module, whose
//! compile holds hundreds of MB — starts only while every process of the
//! run (the tool, its workers, shells, drivers and browsers) holds less
//! than the ceiling with what the cells already started may still take and
//! what this one may take; or when no such cell is running anywhere, so
//! that one always runs. Cells wait in turn (a 4 GiB grow is not passed
//! over by a stream of smaller cells). Quick cells are not held back. It is
//! a soft limit: a cell's process grows after it starts, by what it claims.

use crate::budget::tree_rss;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub(super) struct Ceiling {
    limit: u64,
    admitted: Mutex<State>,
    changed: tokio::sync::Notify,
}

#[derive(Default)]
struct State {
    /// Cells admitted and not done.
    cells: usize,
    /// What they claim in all.
    claims: u64,
    /// The turns of the cells waiting, first first.
    waiting: std::collections::VecDeque<u64>,
    next_turn: u64,
}

impl State {
    fn room(&self, limit: u64, claim: u64) -> bool {
        self.cells == 0 || tree_rss(std::process::id()).saturating_add(self.claims).saturating_add(claim) <= limit
    }
}

/// A cell's place under the ceiling, given back when dropped.
pub(super) struct Admission {
    ceiling: Arc<Ceiling>,
    claim: u64,
}

impl Drop for Admission {
    fn drop(&mut self) {
        let mut a = self.ceiling.admitted.lock().unwrap();
        a.cells -= 1;
        a.claims -= self.claim;
        drop(a);
        self.ceiling.changed.notify_waiters();
    }
}

/// How often a waiting cell measures again when nothing else changed.
const RECHECK: Duration = Duration::from_millis(250);

impl Ceiling {
    pub(super) fn new(limit: u64) -> Arc<Ceiling> {
        Arc::new(Ceiling { limit, admitted: Mutex::new(State::default()), changed: tokio::sync::Notify::new() })
    }

    fn enter(self: &Arc<Self>, a: &mut State, claim: u64) -> Admission {
        a.cells += 1;
        a.claims += claim;
        Admission { ceiling: self.clone(), claim }
    }

    /// A place for a cell that may take `claim` bytes, if there is one now
    /// and no cell waits for one.
    pub(super) fn try_admit(self: &Arc<Self>, claim: u64) -> Option<Admission> {
        let mut a = self.admitted.lock().unwrap();
        (a.waiting.is_empty() && a.room(self.limit, claim)).then(|| self.enter(&mut a, claim))
    }

    /// Waits for a place, in turn.
    pub(super) async fn admit(self: &Arc<Self>, claim: u64) -> Admission {
        let turn = {
            let mut a = self.admitted.lock().unwrap();
            let t = a.next_turn;
            a.next_turn += 1;
            a.waiting.push_back(t);
            t
        };
        loop {
            let changed = self.changed.notified();
            {
                let mut a = self.admitted.lock().unwrap();
                if a.waiting.front() == Some(&turn) && a.room(self.limit, claim) {
                    a.waiting.pop_front();
                    let admitted = self.enter(&mut a, claim);
                    drop(a);
                    // The next in turn may fit too.
                    self.changed.notify_waiters();
                    return admitted;
                }
            }
            tokio::select! {
                _ = changed => {}
                _ = tokio::time::sleep(RECHECK) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Ceiling;

    #[test]
    fn one_cell_always_runs_and_a_second_waits_for_room() {
        // A ceiling below what this test process already holds: the first
        // cell runs (nothing else is admitted), the second waits, and gets
        // its place when the first is done.
        let c = Ceiling::new(1);
        let first = c.try_admit(1 << 30).expect("the one cell in flight always runs");
        assert!(c.try_admit(0).is_none(), "no room beside it");
        drop(first);
        assert!(c.try_admit(0).is_some());
        // Room for both: a ceiling far above the process and both claims.
        let roomy = Ceiling::new(u64::MAX / 4);
        let _a = roomy.try_admit(1 << 30).unwrap();
        assert!(roomy.try_admit(1 << 30).is_some());
    }

    #[test]
    fn a_waiting_cell_is_not_passed_over() {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let c = Ceiling::new(1);
            let first = c.try_admit(0).unwrap();
            // A cell waits (no room beside the first)...
            let waiter = tokio::spawn({
                let c = c.clone();
                async move { c.admit(1 << 30).await }
            });
            tokio::task::yield_now().await;
            // ...and a later one may not go before it, even where it would fit.
            let roomy_later = c.admitted.lock().unwrap().waiting.len();
            assert_eq!(roomy_later, 1);
            assert!(c.try_admit(0).is_none());
            drop(first);
            let admitted = waiter.await.unwrap();
            assert_eq!(c.admitted.lock().unwrap().cells, 1);
            drop(admitted);
            assert_eq!(c.admitted.lock().unwrap().cells, 0);
        });
    }
}
