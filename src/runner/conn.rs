//! A connection to one engine: a process speaking the line protocol, or a
//! browser session that looks like one.

use anyhow::Context;
use super::RunOptions;
use crate::transport::protocol::Event;
use crate::transport::server::HarnessServer;
use crate::transport::browser::BrowserConn;
use crate::transport::proc::Proc;
use crate::engine::{Column, Launch};
use crate::transport::Death;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A JS shell's `--version`, asked once per column and run.
pub(super) fn shell_version(id: &'static str, shell: &crate::engine::js::Shell) -> String {
    static SEEN: Mutex<BTreeMap<&'static str, String>> = Mutex::new(BTreeMap::new());
    let mut seen = SEEN.lock().unwrap();
    seen.entry(id).or_insert_with(|| shell.version().unwrap_or_else(|_| "unknown".into())).clone()
}

/// What a run's browser sessions share: the harness server every page loads
/// from (started by the first session, so that a fixed `--serve-addr` is
/// bound once), and the list of the sessions open, which the run's end
/// closes, however it ends.
#[derive(Default)]
pub(super) struct SharedServer {
    pub(super) server: tokio::sync::OnceCell<Arc<HarnessServer>>,
    pub(super) sessions: Arc<crate::transport::browser::OpenSessions>,
}

pub(super) enum Conn {
    Process(Proc),
    Browser(BrowserConn),
}

impl Conn {
    pub(super) async fn start(spec: &Column, opts: &RunOptions, server: &SharedServer, store: &Arc<crate::transport::modules::ModuleStore>) -> anyhow::Result<Conn> {
        match spec.launch {
            Launch::Browser(b) => {
                let remote = opts.webdriver.iter().find(|(e, _)| e == spec.id).map(|(_, u)| u.as_str());
                let mut setup = b.setup(remote).map_err(anyhow::Error::msg)?;
                if let crate::engine::browser::Setup::Local { address_space, .. } = &mut setup {
                    *address_space = opts.address_space;
                }
                let bind = opts.serve_addr;
                let store = store.clone();
                let sessions = server.sessions.clone();
                let server = server
                    .server
                    .get_or_try_init(|| async move {
                        HarnessServer::start(bind, store).await.map(Arc::new).with_context(|| format!("cannot start the harness server on {bind}"))
                    })
                    .await?
                    .clone();
                Ok(Conn::Browser(BrowserConn::start(b, setup, server, opts.timeout, opts.memory_budget, sessions).await?))
            }
            _ => {
                let (program, args) = spec.command(&opts.worker_exe).map_err(anyhow::Error::msg)?;
                let own = matches!(spec.launch, Launch::Worker(_));
                let mut proc = Proc::spawn(&program, &args, Duration::from_secs(60), opts.memory_budget, own, opts.address_space).await?;
                if let Launch::Js(shell) = spec.launch {
                    // The harness knows only a Node-compatible version
                    // (`process.version`); the shell says its own.
                    proc.version = shell_version(spec.id, &shell);
                }
                Ok(Conn::Process(proc))
            }
        }
    }

    pub(super) fn version(&self) -> String {
        match self {
            Conn::Process(p) => p.version.clone(),
            Conn::Browser(b) => b.version.clone(),
        }
    }

    /// A case's own memory budget, for the case sent next: a process is
    /// held to it (the runner sends such a case alone); a browser's tree is
    /// held to the run's budget only.
    pub(super) fn case_budget(&self, limit: Option<u64>) {
        if let Conn::Process(p) = self {
            p.case_budget(limit);
        }
    }

    /// Tells a worker or shell to drop the modules it kept compiled (a
    /// browser page ends its case worker by itself when another module's
    /// cases come).
    pub(super) fn forget_modules(&self) {
        if let Conn::Process(p) = self {
            p.send(crate::transport::protocol::FORGET_LINE.into());
        }
    }

    pub(super) fn send(&self, line: Arc<str>) {
        match self {
            Conn::Process(p) => p.send(line),
            Conn::Browser(b) => b.send(line),
        }
    }

    pub(super) async fn next_event(&mut self) -> Option<Result<Event, String>> {
        match self {
            Conn::Process(p) => p.next_event().await,
            Conn::Browser(b) => b.next_event().await,
        }
    }

    /// Browser sessions time cases out themselves (per batch, then per case).
    pub(super) fn keeps_time(&self) -> bool {
        matches!(self, Conn::Browser(_))
    }

    pub(super) fn clear_stderr(&self) {
        if let Conn::Process(p) = self {
            p.clear_stderr();
        }
    }

    pub(super) async fn kill(&mut self) {
        match self {
            Conn::Process(p) => p.kill().await,
            Conn::Browser(b) => b.close().await,
        }
    }

    pub(super) async fn death(&mut self) -> Death {
        match self {
            Conn::Process(p) => Death { outcome: p.death().await, driver_died: false },
            Conn::Browser(b) => b.death(),
        }
    }

    pub(super) async fn close(self) {
        match self {
            Conn::Process(p) => p.close().await,
            Conn::Browser(mut b) => b.close().await,
        }
    }
}

