//! Browsers as registry rows: how each WebDriver browser is found (its
//! binary, its driver, or an endpoint given) and what it is started with.
//! Driving one is `transport::browser`'s job.

use std::path::{Path, PathBuf};

/// How one WebDriver browser is found, started and driven: a column's row
/// in the registry ([`super::ENGINES`]) holds one. Everything that differs
/// between browsers is data here; the code below has no browser's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Browser {
    /// The column id (`chrome`).
    pub id: &'static str,
    /// The environment variable naming an existing WebDriver endpoint.
    pub webdriver_env: &'static str,
    /// The environment variable naming the browser binary, and the names
    /// (or absolute paths) looked for on PATH.
    pub binary_env: &'static str,
    pub binary_names: &'static [&'static str],
    /// The environment variable naming the driver, and its name on PATH.
    pub driver_env: &'static str,
    pub driver_name: &'static str,
    /// The driver's arguments to listen on loopback only; `{port}` is the port.
    pub driver_args: &'static [&'static str],
    /// The W3C `browserName`, and the capability that holds the browser's
    /// options (`goog:chromeOptions`).
    pub browser_name: &'static str,
    pub options_key: &'static str,
    /// The browser's own arguments.
    pub args: &'static [&'static str],
    /// Where a fresh profile directory per session is passed, as an
    /// argument prefix (`--user-data-dir=`), for a browser started here.
    pub profile_arg: Option<&'static str>,
    /// Preferences, as a JSON object (`prefs` in the options), or "".
    pub prefs: &'static str,
    /// Whether it needs an X display (a private Xvfb when DISPLAY is unset).
    pub needs_display: bool,
}

/// How to reach a browser: a driver to start, or an endpoint to use.
#[derive(Debug, Clone)]
pub enum Setup {
    /// A driver started here; `address_space` limits it and everything it
    /// starts (RLIMIT_AS is inherited): the whole browser.
    Local { binary: PathBuf, driver: PathBuf, address_space: Option<u64> },
    Remote { url: String },
}

fn find(env: &str, names: &[&str], what: &str) -> Result<PathBuf, String> {
    if let Some(p) = std::env::var_os(env) {
        let p = PathBuf::from(p);
        return if p.is_file() { Ok(p) } else { Err(format!("{env}={} does not exist", p.display())) };
    }
    for name in names {
        if name.starts_with('/') {
            if Path::new(name).is_file() {
                return Ok(PathBuf::from(name));
            }
        } else if let Ok(p) = which::which(name) {
            return Ok(p);
        }
    }
    // cargo install puts geckodriver here, which is not always on PATH.
    if let Some(home) = std::env::var_os("HOME") {
        for name in names {
            let p = PathBuf::from(&home).join(".cargo/bin").join(name);
            if p.is_file() {
                return Ok(p);
            }
        }
    }
    Err(format!("{what} not found: looked for {} on PATH (set {env}, or run drivers/install.sh)", names.join(", ")))
}

/// The browser row of column `id`, if it is a WebDriver browser.
pub fn browser(id: &str) -> Option<Browser> {
    match super::spec(id)?.launch {
        super::Launch::Browser(b) => Some(b),
        _ => None,
    }
}

impl Browser {
    /// The driver's arguments to listen on `port`, on loopback only.
    pub fn driver_args(&self, port: u16) -> Vec<String> {
        self.driver_args.iter().map(|a| a.replace("{port}", &port.to_string())).collect()
    }

    /// Where this browser comes from here, or why it is unavailable.
    pub fn setup(&self, remote: Option<&str>) -> Result<Setup, String> {
        if let Some(url) = remote.map(str::to_string).or_else(|| std::env::var(self.webdriver_env).ok()).filter(|u| !u.is_empty()) {
            return Ok(Setup::Remote { url });
        }
        let binary = find(self.binary_env, self.binary_names, self.id)?;
        let driver = find(self.driver_env, &[self.driver_name], self.driver_name)?;
        Ok(Setup::Local { binary, driver, address_space: None })
    }

    /// The browser's version where it is installed here: what its binary's
    /// `--version` says, or its driver's (MiniBrowser has none; WebKitGTK's
    /// WebKitWebDriver says WebKitGTK's); a remote one's is known only once
    /// a session is open.
    pub fn version(&self) -> Result<String, String> {
        let (binary, driver) = match self.setup(None)? {
            Setup::Remote { url } => return Ok(format!("remote {url}")),
            Setup::Local { binary, driver, .. } => (binary, driver),
        };
        let said = |p: &Path| {
            let out = std::process::Command::new(p).arg("--version").output().ok()?;
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            text.split_whitespace().find(|w| w.chars().next().is_some_and(|c| c.is_ascii_digit())).map(str::to_string)
        };
        Ok(said(&binary).or_else(|| said(&driver)).or_else(|| packaged(&binary)).unwrap_or_else(|| "installed".into()))
    }
}

/// The upstream version of the Debian package that installed `binary`
/// (MiniBrowser prints none without a display: its package is WebKitGTK's).
fn packaged(binary: &Path) -> Option<String> {
    let run = |args: &[&str]| {
        let out = std::process::Command::new("dpkg-query").args(args).output().ok().filter(|o| o.status.success())?;
        Some(String::from_utf8_lossy(&out.stdout).trim().to_string())
    };
    let owner = run(&["-S", &binary.display().to_string()])?;
    let package = owner.split(':').next()?.trim().to_string();
    let version = run(&["-W", "-f=${Version}", &package])?;
    // `2.50.6-1~deb12u2`: the upstream part, after any epoch.
    let upstream = version.rsplit_once(':').map_or(version.as_str(), |(_, v)| v);
    Some(upstream.split('-').next().unwrap_or(upstream).to_string()).filter(|v| !v.is_empty())
}
