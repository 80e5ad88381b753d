//! The parent side of an engine process (a worker of this binary or a JS
//! shell running the harness): [`Proc`] starts it, sends requests, reads
//! events, and when it dies says how (exit code or signal, and the last
//! lines of its stderr).

use super::mirror::{mirror_path, read_mirror};
use super::process::{describe_status, die_with_parent, limit_address_space, own_child};
use super::protocol::Event;
use crate::outcome::{Outcome, Outcomes as _};
use anyhow::{bail, Context};
use std::collections::VecDeque;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};
use tokio::sync::mpsc;

/// How many stderr lines of a worker are kept to explain its death.
const STDERR_LINES: usize = 20;

/// A running engine process, seen from the runner.
pub struct Proc {
    child: Child,
    stdin: Option<mpsc::UnboundedSender<Arc<str>>>,
    lines: Lines<BufReader<ChildStdout>>,
    stderr: Arc<Mutex<VecDeque<String>>>,
    stderr_task: Option<tokio::task::JoinHandle<()>>,
    pub version: String,
    /// The memory budget's watch: why it killed the process, and its stop.
    budget: Option<crate::budget::Watch>,
    /// A worker's mirror, opened when it said `ready` and unlinked at
    /// once (so nothing is left behind, however either process ends).
    mirror: Option<std::fs::File>,
}

impl Proc {
    /// Starts `program args...` under the memory budget (bytes, if any) and
    /// waits for its `ready` line.
    /// `own`: the program is this binary's `__worker` (it then arranges its
    /// own death with the runner, see [`own_child`]).
    /// `address_space`: an RLIMIT_AS for the whole process.
    pub async fn spawn(program: &Path, args: &[String], ready_within: Duration, budget: Option<u64>, own: bool, address_space: Option<u64>) -> anyhow::Result<Proc> {
        let mut cmd = Command::new(program);
        if own {
            own_child(cmd.as_std_mut());
        } else {
            die_with_parent(&mut cmd);
        }
        if let Some(bytes) = address_space {
            limit_address_space(&mut cmd, bytes);
        }
        let mut child = cmd
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            // A panic's message, not its backtrace, is what explains a crash.
            .env("RUST_BACKTRACE", "0")
            // Its own process group: a Ctrl-C meant for the runner does not
            // kill the engines mid-case (the runner stops them itself).
            .process_group(0)
            .spawn()
            .with_context(|| format!("cannot start {}", program.display()))?;
        let mut raw_stdin = child.stdin.take().expect("piped");
        let lines = BufReader::new(child.stdout.take().expect("piped")).lines();
        let stderr = Arc::new(Mutex::new(VecDeque::new()));
        let tail = stderr.clone();
        let mut err_lines = BufReader::new(child.stderr.take().expect("piped")).lines();
        let stderr_task = tokio::spawn(async move {
            while let Ok(Some(line)) = err_lines.next_line().await {
                let mut t = tail.lock().unwrap();
                if t.len() == STDERR_LINES {
                    t.pop_front();
                }
                t.push_back(without_colours(&line));
            }
        });
        // A writer task, so that a full stdin pipe never blocks reading events.
        let (tx, mut rx) = mpsc::unbounded_channel::<Arc<str>>();
        tokio::spawn(async move {
            while let Some(line) = rx.recv().await {
                if raw_stdin.write_all(line.as_bytes()).await.is_err() {
                    break;
                }
            }
        });
        let budget = crate::budget::Watch::start_for_cases(child.id(), budget);
        let pid = child.id();
        let mut proc = Proc { child, stdin: Some(tx), lines, stderr, stderr_task: Some(stderr_task), version: String::new(), budget, mirror: None };
        match tokio::time::timeout(ready_within, proc.next_event()).await {
            Ok(Some(Ok(Event::Ready { version, .. }))) => {
                proc.version = version;
                if let Some(path) = pid.filter(|_| own).map(mirror_path) {
                    proc.mirror = std::fs::File::open(&path).ok();
                    let _ = std::fs::remove_file(&path);
                }
                Ok(proc)
            }
            Ok(Some(Ok(other))) => bail!("{} said {other:?} before `ready`", program.display()),
            Ok(Some(Err(e))) => Err(anyhow::Error::msg(e).context(format!("{} did not start", program.display()))),
            Ok(None) => Err(anyhow::Error::msg(proc.death().await.message().unwrap_or_default().to_string()).context(format!("{} did not start", program.display()))),
            Err(_) => {
                proc.kill().await;
                bail!("{} did not say `ready` within {} s", program.display(), ready_within.as_secs())
            }
        }
    }

    /// Queues one request line (ending in a newline).
    /// Holds the process to a case's own memory budget while it runs that
    /// case (`None`: the run's budget alone).
    pub fn case_budget(&self, limit: Option<u64>) {
        if let Some(w) = &self.budget {
            w.set_case_limit(limit);
        }
    }

    pub fn send(&self, line: Arc<str>) {
        if let Some(tx) = &self.stdin {
            let _ = tx.send(line);
        }
    }

    /// The next event; `None` when the process closed its stdout.
    pub async fn next_event(&mut self) -> Option<Result<Event, String>> {
        loop {
            let line = match self.lines.next_line().await {
                Ok(Some(l)) => l,
                Ok(None) | Err(_) => return None,
            };
            if line.trim().is_empty() {
                continue;
            }
            return Some(serde_json::from_str(&line).map_err(|e| format!("unreadable event from engine: {e}: {line}")));
        }
    }

    /// After it died or was killed: the events it had buffered and not
    /// written (see [`Output`]).
    pub fn unwritten(&self) -> Vec<Event> {
        self.mirror.as_ref().map(read_mirror).unwrap_or_default()
    }

    /// Clears the kept stderr lines (called when a case ends normally).
    pub fn clear_stderr(&self) {
        self.stderr.lock().unwrap().clear();
    }

    pub async fn kill(&mut self) {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
    }

    /// Waits for the process to end and says how it ended: a crash, or a
    /// budget kill (not just "signal 9").
    pub async fn death(&mut self) -> Outcome {
        if let Some(why) = self.budget.as_ref().and_then(|w| w.killed()) {
            let _ = tokio::time::timeout(Duration::from_secs(5), self.child.wait()).await;
            return Outcome::OverBudget(why);
        }
        let status = match tokio::time::timeout(Duration::from_secs(5), self.child.wait()).await {
            Ok(Ok(s)) => describe_status(s),
            _ => {
                self.kill().await;
                "closed its output and did not exit; killed".into()
            }
        };
        if let Some(task) = self.stderr_task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(1), task).await;
        }
        let tail: Vec<String> = self.stderr.lock().unwrap().iter().cloned().collect();
        let tail = tail.join("\n");
        Outcome::Crash(if tail.trim().is_empty() {
            format!("worker died: {status}")
        } else {
            format!("worker died: {status}; stderr: {}", tail.trim())
        })
    }

    /// Closes stdin (the worker then exits) and waits briefly for it.
    pub async fn close(mut self) {
        self.stdin = None;
        if tokio::time::timeout(Duration::from_secs(2), self.child.wait()).await.is_err() {
            self.kill().await;
        }
    }
}

/// A line without its terminal colour codes (Deno colours its uncaught
/// errors even into a pipe), as a reader of the death note would see it on
/// a terminal: `console`'s (indicatif's) ANSI parser.
fn without_colours(line: &str) -> String {
    console::strip_ansi_codes(line).into_owned()
}

#[cfg(test)]
mod tests {
    #[test]
    fn colour_codes_are_dropped_and_the_text_kept() {
        let deno = "\u{1b}[0m\u{1b}[1m\u{1b}[31merror\u{1b}[0m: Uncaught (in worker \"\") ReferenceError: __filename is not defined at \u{1b}[38;5;245mfile:///x.js\u{1b}[0m";
        assert_eq!(super::without_colours(deno), "error: Uncaught (in worker \"\") ReferenceError: __filename is not defined at file:///x.js");
        assert_eq!(super::without_colours("plain [1m text \u{1b}"), "plain [1m text \u{1b}");
    }
}
