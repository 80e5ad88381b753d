//! Engines: what differs between them, and the one session. The registry
//! [`ENGINES`] is the one list of columns: each row says what the column
//! is, how it is found and started, and where its version comes from. An
//! embedded engine is one backend file implementing the primitives of
//! [`backend`]; [`session`] runs every case on it the same way. A JS shell
//! ([`js::Shell`]) and a browser ([`browser::Browser`]) are data rows. How
//! the runner reaches each (worker processes, shells, WebDriver) is
//! `transport`'s.

pub mod backend;
pub mod browser;
pub mod imports;
pub mod js;
pub mod modcache;
pub mod session;
pub mod tinywasm;
pub mod wamr;
pub mod wasm3;
pub mod wasmer;
pub mod wasmi;
pub mod wasmtime;

use crate::case::Plan;
use crate::outcome::RawOutcome;

/// The locked versions of this build's dependencies (`build.rs`, from Cargo.lock).
pub mod locked {
    include!(concat!(env!("OUT_DIR"), "/locked.rs"));
}

/// An engine embedded in this binary: runs one case at a time, in a worker.
pub trait Engine {
    /// Runs `plan` from step `from`, reporting each step's raw outcome.
    fn run(&mut self, plan: &Plan, from: usize, emit: &mut dyn FnMut(usize, RawOutcome));
    /// The engine's own cost, without the session: each module compiled and
    /// instantiated in a fresh store, then `k()` and `grow(1)` called,
    /// straight through the backend's primitives.
    fn plain(&mut self, modules: &[Vec<u8>]) -> Result<(), String>;
    /// A fresh store for probe's measures: `capped`, a 1 MiB host cap;
    /// `features` switched on (the engine's defaults for the rest).
    fn store(&mut self, capped: bool, features: &[crate::case::Feature]) -> Result<Box<dyn backend::AnyStore>, backend::Fault>;
    /// Drops the modules kept compiled for later cases (the runner is done
    /// with their cases for now).
    fn forget_modules(&mut self) {}
}

/// How an engine is run.
#[derive(Debug, Clone, Copy)]
pub enum Launch {
    /// Embedded in this binary; runs in `wasm-matrix __worker ID` processes
    /// made by this constructor.
    Worker(fn() -> Box<dyn Engine>),
    /// A JS shell running `drivers/harness/` over the same line protocol.
    Js(js::Shell),
    /// A browser over WebDriver, the harness page served by the tool.
    Browser(browser::Browser),
}

/// A column of the matrix.
#[derive(Debug, Clone, Copy)]
pub struct Column {
    pub id: &'static str,
    /// What the report calls the column (WebKit's is WebKitGTK, not Safari).
    pub name: &'static str,
    /// The engine family, for grouping columns (`wasmtime`, `V8`, ...).
    pub family: &'static str,
    pub what: &'static str,
    /// How this column configures its engine, beyond the engine's defaults
    /// ("defaults" if it does not).
    pub configuration: &'static str,
    pub launch: Launch,
    /// The engine allocates what a memory grows to (and zeroes it): a grow's
    /// bytes are resident at once, so a case's `needs_memory` counts against
    /// the memory budget here (probe's `grow_cost` shows it: the peak RSS
    /// follows the grow). Engines that reserve address space and let the
    /// kernel commit pages on first touch do not.
    pub grow_commits: bool,
    /// The engine's own version, where it is known without starting the
    /// engine ("" if not): WAMR's and wasm3's, not their -sys crates'.
    pub version: &'static str,
}

/// What a CI job must install before it runs a group of columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Install {
    /// Nothing: the engine is built into the binary.
    Nothing,
    /// The pinned JS runtimes (`drivers/install.sh`) and a system Node.
    JsShells,
    /// A browser and its driver (`drivers/install.sh`).
    Browser,
}

impl Column {
    /// The CI job group this column runs in, and what its job installs: a
    /// browser alone (a browser job installs its own), the JS shells
    /// together, the C engines together, wasmtime's configurations together,
    /// the other embedded engines together. Derived from the row, so a new
    /// column is in a group without anyone listing it (`list --ci-groups`).
    pub fn ci_group(&self) -> (&'static str, Install) {
        match self.launch {
            Launch::Browser(_) => (self.id, Install::Browser),
            Launch::Js(_) => ("js-shells", Install::JsShells),
            Launch::Worker(_) => match self.family {
                "WAMR" | "wasm3" => ("c-engines", Install::Nothing),
                "wasmtime" if self.id != "wasmtime" => ("wasmtime-configs", Install::Nothing),
                _ => ("embedded", Install::Nothing),
            },
        }
    }

    /// The command that starts one engine process, or why it cannot start.
    pub fn command(&self, worker_exe: &std::path::Path) -> Result<(std::path::PathBuf, Vec<String>), String> {
        match self.launch {
            Launch::Worker(_) => Ok((worker_exe.to_path_buf(), vec!["__worker".into(), self.id.into()])),
            Launch::Js(shell) => shell.command(),
            Launch::Browser(_) => Err("browsers are driven over WebDriver, not started as a command".into()),
        }
    }

    /// Requests in flight per connection: browsers take them in batches.
    pub fn window(&self) -> usize {
        match self.launch {
            // Workers answer a batch with one write when no request waits:
            // a deeper window means fewer round trips.
            Launch::Worker(_) => 64,
            Launch::Js(_) => 16,
            Launch::Browser(_) => 512,
        }
    }

    /// The version if the engine is available here, else why not.
    pub fn availability(&self) -> Result<String, String> {
        match self.launch {
            Launch::Worker(_) => Ok(self.version.to_string()),
            Launch::Js(shell) => shell.version(),
            Launch::Browser(ref b) => b.version(),
        }
    }
}

/// Firefox's preferences: no network but loopback (keep it from phoning
/// home), and less to do at start-up.
const FIREFOX_PREFS: &str = r#"{
    "app.update.enabled": false,
    "browser.safebrowsing.malware.enabled": false,
    "browser.safebrowsing.phishing.enabled": false,
    "datareporting.policy.dataSubmissionEnabled": false,
    "network.captive-portal-service.enabled": false,
    "network.connectivity-service.enabled": false,
    "toolkit.telemetry.enabled": false,
    "extensions.update.enabled": false,
    "browser.newtabpage.enabled": false,
    "browser.shell.checkDefaultBrowser": false,
    "browser.startup.homepage_override.mstone": "ignore",
    "browser.startup.page": 0,
    "browser.sessionstore.resume_from_crash": false,
    "browser.places.importBookmarksHTML": false,
    "extensions.autoDisableScopes": 15,
    "extensions.enabledScopes": 0,
    "dom.ipc.processPrelaunch.enabled": false,
    "places.history.enabled": false
}"#;

/// Every engine the tool knows, in column order: by family, the JS engines
/// (V8, SpiderMonkey, JavaScriptCore) first, then the embedded engines.
pub const ENGINES: &[Column] = &[
    Column { id: "node", name: "node", family: "V8", what: "V8 in Node.js (the node on PATH)", configuration: "--experimental-wasm-memory64",
        grow_commits: false,
        launch: Launch::Js(js::Shell { env: "WASM_MATRIX_NODE", local: "", path: &["node"], args: &["--experimental-wasm-memory64", "--expose-gc"], install_hint: "install Node.js" }),
        version: "" },
    Column { id: "node22", name: "node22", family: "V8", what: "V8 in Node.js 22 (pinned)", configuration: "--experimental-wasm-memory64",
        grow_commits: false,
        launch: Launch::Js(js::Shell { env: "WASM_MATRIX_NODE22", local: "node22", path: &[], args: &["--experimental-wasm-memory64", "--expose-gc"], install_hint: "run drivers/install.sh" }),
        version: "" },
    Column { id: "node24", name: "node24", family: "V8", what: "V8 in Node.js 24 (pinned)", configuration: "defaults",
        grow_commits: false,
        launch: Launch::Js(js::Shell { env: "WASM_MATRIX_NODE24", local: "node24", path: &[], args: &["--expose-gc"], install_hint: "run drivers/install.sh" }),
        version: "" },
    Column { id: "node26", name: "node26", family: "V8", what: "V8 in Node.js 26 (pinned)", configuration: "defaults",
        grow_commits: false,
        launch: Launch::Js(js::Shell { env: "WASM_MATRIX_NODE26", local: "node26", path: &[], args: &["--expose-gc"], install_hint: "run drivers/install.sh" }),
        version: "" },
    Column { id: "deno", name: "deno", family: "V8", what: "V8 in Deno", configuration: "defaults (--allow-read: the harness reads the run's large modules)",
        grow_commits: false,
        launch: Launch::Js(js::Shell { env: "WASM_MATRIX_DENO", local: "deno", path: &["deno"], args: &["run", "--quiet", "--no-prompt", "--allow-read", "--v8-flags=--expose-gc"], install_hint: "run drivers/install.sh" }),
        version: "" },
    Column { id: "chrome", name: "chrome", family: "V8", what: "Chromium + chromedriver, headless", configuration: "defaults",
        grow_commits: false,
        launch: Launch::Browser(browser::Browser {
            id: "chrome", webdriver_env: "WASM_MATRIX_WEBDRIVER_CHROME",
            binary_env: "WASM_MATRIX_CHROME", binary_names: &["chromium", "chromium-browser", "google-chrome", "chrome"],
            driver_env: "WASM_MATRIX_CHROMEDRIVER", driver_name: "chromedriver", driver_args: &["--port={port}", "--allowed-ips=127.0.0.1"],
            browser_name: "chrome", options_key: "goog:chromeOptions",
            args: &["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic", "--js-flags=--expose-gc"],
            profile_arg: Some("--user-data-dir="), prefs: "", needs_display: false }),
        version: "" },
    Column { id: "firefox", name: "firefox", family: "SpiderMonkey", what: "Firefox ESR + geckodriver, headless", configuration: "defaults",
        grow_commits: false,
        launch: Launch::Browser(browser::Browser {
            id: "firefox", webdriver_env: "WASM_MATRIX_WEBDRIVER_FIREFOX",
            binary_env: "WASM_MATRIX_FIREFOX", binary_names: &["firefox-esr", "firefox"],
            driver_env: "WASM_MATRIX_GECKODRIVER", driver_name: "geckodriver", driver_args: &["--port", "{port}", "--host", "127.0.0.1", "--log", "fatal"],
            browser_name: "firefox", options_key: "moz:firefoxOptions", args: &["-headless"], profile_arg: None,
            prefs: FIREFOX_PREFS, needs_display: false }),
        version: "" },
    Column { id: "webkit", name: "WebKit (WebKitGTK)", family: "JavaScriptCore", what: "WebKit (WebKitGTK): MiniBrowser + WebKitWebDriver, under Xvfb", configuration: "defaults",
        grow_commits: false,
        launch: Launch::Browser(browser::Browser {
            id: "webkit", webdriver_env: "WASM_MATRIX_WEBDRIVER_WEBKIT",
            // Not on PATH: where libwebkit2gtk installs it.
            binary_env: "WASM_MATRIX_MINIBROWSER", binary_names: &["/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser",
                "/usr/lib/x86_64-linux-gnu/webkit2gtk-4.0/MiniBrowser", "/usr/libexec/webkit2gtk-4.1/MiniBrowser", "MiniBrowser"],
            driver_env: "WASM_MATRIX_WEBKITWEBDRIVER", driver_name: "WebKitWebDriver", driver_args: &["--port={port}", "--host=127.0.0.1"],
            browser_name: "MiniBrowser", options_key: "webkitgtk:browserOptions", args: &["--automation"], profile_arg: None,
            prefs: "", needs_display: true }),
        version: "" },
    Column { id: "bun", name: "bun", family: "JavaScriptCore", what: "JavaScriptCore in Bun", configuration: "defaults",
        grow_commits: false,
        launch: Launch::Js(js::Shell { env: "WASM_MATRIX_BUN", local: "bun", path: &["bun"], args: &[], install_hint: "run drivers/install.sh" }),
        version: "" },
    Column { id: "wasmtime", name: "wasmtime", family: "wasmtime", what: "wasmtime crate, Cranelift", configuration: "defaults (Strategy::Cranelift)",
        grow_commits: false,
        launch: Launch::Worker(|| Box::new(session::Embedded::new(wasmtime::Flavor::Cranelift))), version: locked::WASMTIME },
    Column { id: "wasmtime-winch", name: "wasmtime-winch", family: "wasmtime", what: "wasmtime crate, Winch baseline compiler", configuration: "Strategy::Winch",
        grow_commits: false,
        launch: Launch::Worker(|| Box::new(session::Embedded::new(wasmtime::Flavor::Winch))), version: locked::WASMTIME },
    Column { id: "wasmtime-pulley", name: "wasmtime-pulley", family: "wasmtime", what: "wasmtime crate, Pulley interpreter", configuration: "target pulley64",
        grow_commits: false,
        launch: Launch::Worker(|| Box::new(session::Embedded::new(wasmtime::Flavor::Pulley))), version: locked::WASMTIME },
    Column { id: "wasmtime-nosignals", name: "wasmtime-nosignals", family: "wasmtime", what: "wasmtime crate, explicit bounds checks", configuration: "signals_based_traps(false)",
        grow_commits: false,
        launch: Launch::Worker(|| Box::new(session::Embedded::new(wasmtime::Flavor::NoSignals))), version: locked::WASMTIME },
    Column { id: "wasmtime-smallres", name: "wasmtime-smallres", family: "wasmtime", what: "wasmtime crate, small reservation (small devices)",
        configuration: "memory_reservation 64 MiB, memory_guard_size 0, memory_may_move true",
        grow_commits: false,
        launch: Launch::Worker(|| Box::new(session::Embedded::new(wasmtime::Flavor::SmallReservation))), version: locked::WASMTIME },
    Column { id: "wasmer", name: "wasmer", family: "wasmer", what: "wasmer crate, sys, Cranelift", configuration: "defaults",
        grow_commits: false,
        launch: Launch::Worker(|| Box::new(session::Embedded::new(wasmer::Wasmer))), version: locked::WASMER },
    Column { id: "wasmi", name: "wasmi", family: "wasmi", what: "wasmi crate (interpreter)", configuration: "defaults",
        grow_commits: true,
        launch: Launch::Worker(|| Box::new(session::Embedded::new(wasmi::Wasmi))), version: locked::WASMI },
    Column { id: "tinywasm", name: "tinywasm", family: "tinywasm", what: "tinywasm crate (interpreter)", configuration: "defaults",
        grow_commits: true,
        launch: Launch::Worker(|| Box::new(session::Embedded::new(tinywasm::Tinywasm))), version: locked::TINYWASM },
    Column { id: "wamr", name: "wamr", family: "WAMR", what: "WAMR 2.4.3 fast interpreter (wamrx-sys), software bounds checks",
        configuration: "wamrx-sys defaults (bulk memory, reference types); no host-managed heap",
        // Measured (audit of @swc/wasm, 97 pages, no maximum): every grow
        // copies the whole memory, so what it grows to is resident, twice
        // while it copies (2 -> 3 GiB: 5.7 s; the worker reached 8.9 GB
        // growing to 4 GiB). Why (strace): WAMR's os_mmap marks the 2 MiB-
        // aligned part of a linear memory MADV_HUGEPAGE, which splits the
        // mapping when its size is no multiple of 2 MiB (97 pages); mremap
        // of the whole then fails (EFAULT) and os_mremap_slow maps a new
        // memory and copies the old. wamr-hwbound reserves and does not.
        grow_commits: true,
        launch: Launch::Worker(|| Box::new(session::Embedded::new(wamr::Wamr::Soft))), version: wamr::VERSION },
    Column { id: "wamr-hwbound", name: "wamr-hwbound", family: "WAMR", what: "WAMR 2.4.3 fast interpreter, hardware bounds checks (guard pages)",
        configuration: "WAMR_DISABLE_HW_BOUND_CHECK=0 (build.rs); otherwise as wamr",
        grow_commits: false,
        launch: Launch::Worker(|| Box::new(session::Embedded::new(wamr::Wamr::Hw))), version: wamr::VERSION },
    Column { id: "wasm3", name: "wasm3", family: "wasm3", what: "wasm3 v0.9.0 interpreter (wasm3x-sys)", configuration: "64 KiB stack (wasm3's CLI default), lazy compilation",
        grow_commits: true,
        launch: Launch::Worker(|| Box::new(session::Embedded::new(wasm3::Wasm3))), version: wasm3::VERSION },
];

/// The `--engines` help: every column id, from the registry.
pub fn engines_help() -> String {
    let ids: Vec<&str> = ENGINES.iter().map(|e| e.id).collect();
    format!("Engines to run, comma-separated ({}), or `all`", ids.join(", "))
}

/// The embedded columns.
pub fn embedded() -> Vec<&'static Column> {
    ENGINES.iter().filter(|c| matches!(c.launch, Launch::Worker(_))).collect()
}

/// One job of the CI matrix: a group of columns and a shard of the corpus.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CiJob {
    pub group: &'static str,
    /// The group's columns, comma-separated (for `--engines` and `--require`).
    pub engines: String,
    pub install: Install,
    pub shard: usize,
    pub shards: usize,
}

/// The CI matrix: every group of [`Column::ci_group`] times `shards`
/// shards, groups in registry order.
pub fn ci_matrix(shards: usize) -> Vec<CiJob> {
    let mut groups: Vec<(&'static str, Install, Vec<&'static str>)> = Vec::new();
    for c in ENGINES {
        let (group, install) = c.ci_group();
        match groups.iter_mut().find(|g| g.0 == group) {
            Some(g) => g.2.push(c.id),
            None => groups.push((group, install, vec![c.id])),
        }
    }
    let shards = shards.max(1);
    groups.into_iter().flat_map(|(group, install, ids)| (1..=shards).map(move |shard| CiJob { group, engines: ids.join(","), install, shard, shards })).collect()
}

pub fn spec(id: &str) -> Option<&'static Column> {
    ENGINES.iter().find(|e| e.id == id)
}

/// The environment variable that names engines which must be available.
pub const REQUIRE_ENV: &str = "WASM_MATRIX_REQUIRE";

/// The engines `WASM_MATRIX_REQUIRE` names (none when it is unset).
pub fn required_from_env() -> Result<Vec<&'static str>, String> {
    match std::env::var(REQUIRE_ENV) {
        Ok(list) if !list.trim().is_empty() => Ok(parse_list(&list)?.iter().map(|e| e.id).collect()),
        _ => Ok(vec![]),
    }
}

/// Resolves a comma-separated engine list (`all` for every engine).
pub fn parse_list(list: &str) -> Result<Vec<&'static Column>, String> {
    let mut out: Vec<&'static Column> = Vec::new();
    for name in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        if name == "all" {
            out.extend(ENGINES.iter());
            continue;
        }
        match spec(name) {
            Some(s) => out.push(s),
            None => {
                let known: Vec<&str> = ENGINES.iter().map(|e| e.id).collect();
                return Err(format!("unknown engine `{name}` (known engines: {}, or `all`)", known.join(", ")));
            }
        }
    }
    out.sort_by_key(|s| ENGINES.iter().position(|e| e.id == s.id));
    out.dedup_by_key(|s| s.id);
    if out.is_empty() {
        return Err("no engines selected".into());
    }
    Ok(out)
}
