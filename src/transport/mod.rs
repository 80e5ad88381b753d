//! How the runner (and probe) reach an engine: the line protocol
//! ([`protocol`]) and the run's large modules it names ([`modules`]), the
//! worker process of an embedded engine (its child side
//! [`child`], its parent side [`proc::Proc`], the [`mirror`] between them),
//! a JS shell (a [`proc::Proc`] running the harness), and a browser over
//! WebDriver ([`browser`], its pages from the loopback [`server`]). The
//! engines themselves, and the rows that say how each is found and
//! started, are `engine`'s; this floor only carries cases to them and
//! events back.

pub mod browser;
pub mod child;
pub mod mirror;
pub mod modules;
pub mod proc;
pub mod process;
pub mod protocol;
pub mod server;

/// How a connection to an engine ended.
#[derive(Debug, Clone)]
pub struct Death {
    /// The outcome of the step it ended in.
    pub outcome: crate::outcome::Outcome,
    /// A browser's driver (or its display) died: no case broke the session,
    /// and the cells in flight are lost with it.
    pub driver_died: bool,
}
