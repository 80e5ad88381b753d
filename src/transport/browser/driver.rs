//! A browser's driver process: started on a free loopback port (a few
//! attempts), under the memory budget's watch, on a private Xvfb where the
//! browser needs a display; its whole process group killed when dropped.

use crate::engine::browser::{Browser, Setup};
use crate::transport::process::{die_with_parent, limit_address_space};
use anyhow::{anyhow, bail, Context};
use fantoccini::wd::Capabilities;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tokio::process::{Child, Command};

/// A started driver process and the endpoint it listens on.
pub(super) struct Driver {
    pub(super) url: String,
    _child: Option<Child>,
    /// The X server a local WebKit driver runs on, if the tool started one.
    _display: Option<Xvfb>,
    /// The memory budget's watch over the driver and its browser.
    watch: Option<crate::budget::Watch>,
    /// The driver's process group (its pid when started), kept apart from
    /// the child: once a dead driver is reaped the child has no pid, and
    /// the browser it started lives on in the group.
    group: Option<u32>,
}

impl Driver {
    /// How the driver (or the X server under it) ended, if it did: then the
    /// session is gone and no case is to blame.
    pub(super) fn exited(&mut self) -> Option<String> {
        if let Some(Ok(Some(status))) = self._child.as_mut().map(|c| c.try_wait()) {
            return Some(format!("the WebDriver process exited ({status})"));
        }
        if let Some(x) = self._display.as_mut() {
            if let Ok(Some(status)) = x.child.try_wait() {
                return Some(format!("the Xvfb display :{} exited ({status})", x.display));
            }
        }
        None
    }

    /// Why the budget killed this driver's browser, if it did.
    pub(super) fn budget_kill(&self) -> Option<String> {
        self.watch.as_ref().and_then(|w| w.killed())
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        if let Some(w) = &self.watch {
            w.stop();
        }
        // The driver leads its own process group, the browser with it: end
        // them all, so that no browser outlives its session.
        if let Some(pid) = self.group {
            // SAFETY: kill(2) on a process group this process created.
            unsafe { libc::kill(-(pid as i32), libc::SIGKILL) };
        }
    }
}

/// How many times a local driver is started (each on a fresh port) before
/// the column is given up: on a loaded machine a driver can lose its port
/// to another process between the probe and its bind, or start too slowly.
const DRIVER_ATTEMPTS: u32 = 3;

/// How long a started driver gets to listen on its port.
const DRIVER_LISTEN: Duration = Duration::from_secs(45);

pub(super) async fn start_driver(browser: &Browser, setup: &Setup, budget: Option<u64>) -> anyhow::Result<Driver> {
    let (binary_driver, address_space) = match setup {
        Setup::Remote { url } => return Ok(Driver { url: url.clone(), _child: None, _display: None, watch: None, group: None }),
        Setup::Local { driver, address_space, .. } => (driver.clone(), *address_space),
    };
    let mut why = anyhow!("no attempt");
    for _ in 0..DRIVER_ATTEMPTS {
        match start_local_driver(browser, &binary_driver, budget, address_space).await {
            Ok(d) => return Ok(d),
            Err(e) => why = e,
        }
    }
    Err(why.context(format!("{} did not start in {DRIVER_ATTEMPTS} attempts, each on a fresh port; the last time", binary_driver.display())))
}

/// One attempt: the driver on a fresh port, its output kept in a file so
/// that a failed start can say what the driver said.
async fn start_local_driver(browser: &Browser, binary_driver: &Path, budget: Option<u64>, address_space: Option<u64>) -> anyhow::Result<Driver> {
    let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).context("no free loopback port for the driver")?.port();
    let mut cmd = Command::new(binary_driver);
    die_with_parent(&mut cmd);
    if let Some(bytes) = address_space {
        limit_address_space(&mut cmd, bytes);
    }
    let mut display = None;
    // MiniBrowser needs an X display: without one, a private Xvfb that lives
    // and dies with this driver.
    if browser.needs_display && std::env::var_os("DISPLAY").is_none_or(|d| d.is_empty()) {
        let x = Xvfb::start().await?;
        cmd.env("DISPLAY", format!(":{}", x.display));
        display = Some(x);
    }
    cmd.args(browser.driver_args(port));
    let log = tempfile::tempfile().with_context(|| format!("cannot make a log file for {}", binary_driver.display()))?;
    let clone = || log.try_clone().map(std::process::Stdio::from).with_context(|| format!("cannot share the log file of {}", binary_driver.display()));
    let (out, err) = (clone()?, clone()?);
    let mut child = cmd
        .stdin(std::process::Stdio::null())
        .stdout(out)
        .stderr(err)
        .kill_on_drop(true)
        .process_group(0)
        .spawn()
        .with_context(|| format!("cannot start {}", binary_driver.display()))?;
    let start = Instant::now();
    while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
        if let Ok(Some(status)) = child.try_wait() {
            bail!("it exited ({status}) before listening on port {port}{}", said(log));
        }
        if start.elapsed() > DRIVER_LISTEN {
            let _ = child.start_kill();
            bail!("it did not listen on port {port} within {} s{}", DRIVER_LISTEN.as_secs(), said(log));
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    // The budget covers the driver and the browser it starts (its process
    // group): what can be seen of a browser from outside.
    let watch = crate::budget::Watch::start(child.id(), budget);
    let group = child.id();
    Ok(Driver { url: format!("http://127.0.0.1:{port}"), _child: Some(child), _display: display, watch, group })
}

/// The last lines a driver wrote, for an error message.
fn said(mut log: std::fs::File) -> String {
    use std::io::{Read, Seek};
    let mut text = String::new();
    let _ = log.seek(std::io::SeekFrom::Start(0)).and_then(|_| log.read_to_string(&mut text));
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    if lines.is_empty() {
        return String::new();
    }
    format!(" (it said: {})", lines[lines.len().saturating_sub(4)..].join(" | "))
}

/// A private X server (Xvfb) on a free display number; killed when dropped.
struct Xvfb {
    display: u32,
    child: Child,
}

impl Xvfb {
    async fn start() -> anyhow::Result<Xvfb> {
        let xvfb = which::which("Xvfb").context("Xvfb not found on PATH: WebKitGTK needs an X display (set DISPLAY, or run drivers/install.sh)")?;
        // Display numbers from one per process upwards, so that parallel
        // runs and sessions rarely try the same one; a taken one is skipped.
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let base = 100 + (std::process::id() % 400) * 8;
        for _ in 0..32 {
            let n = base + NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % 3000;
            let socket = PathBuf::from(format!("/tmp/.X11-unix/X{n}"));
            if socket.exists() || Path::new(&format!("/tmp/.X{n}-lock")).exists() {
                continue;
            }
            let mut cmd = Command::new(&xvfb);
            die_with_parent(&mut cmd);
            let mut child = cmd
                .args([format!(":{n}"), "-nolisten".into(), "tcp".into(), "-screen".into(), "0".into(), "1280x1024x24".into()])
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .kill_on_drop(true)
                .spawn()
                .with_context(|| format!("cannot start {}", xvfb.display()))?;
            let start = Instant::now();
            while start.elapsed() < Duration::from_secs(10) {
                if socket.exists() {
                    return Ok(Xvfb { display: n, child });
                }
                if let Ok(Some(_)) = child.try_wait() {
                    break; // taken after all: the next number
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            let _ = child.start_kill();
        }
        bail!("Xvfb did not start on any of 32 display numbers")
    }
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

/// The capabilities a new session of `browser` asks for: its arguments,
/// a fresh profile where it takes one, its preferences, its binary.
pub(super) fn capabilities(browser: &Browser, setup: &Setup, profile: Option<&std::path::Path>) -> Capabilities {
    let mut args: Vec<String> = browser.args.iter().map(|a| a.to_string()).collect();
    if let (Some(arg), Some(p)) = (browser.profile_arg, profile) {
        args.push(format!("{arg}{}", p.display()));
    }
    let mut opts = json!({ "args": args });
    if !browser.prefs.is_empty() {
        opts["prefs"] = serde_json::from_str(browser.prefs).expect("a browser row's prefs are a JSON object");
    }
    if let Setup::Local { binary, .. } = setup {
        opts["binary"] = binary.display().to_string().into();
    }
    let caps = json!({ "browserName": browser.browser_name, browser.options_key: opts });
    caps.as_object().cloned().unwrap_or_default()
}
