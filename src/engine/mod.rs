//! Engines. One file per engine, each implementing [`Engine`]; the registry
//! [`ENGINES`] lists them with how they run. Embedded engines run inside a
//! worker child process (`worker.rs`); the runner talks to every kind of
//! engine through the same line protocol (`protocol.rs`).

pub mod node;
pub mod protocol;
pub mod server;
pub mod webdriver;
pub mod wasmi;
pub mod wasmer;
pub mod wasmtime;
pub mod worker;

use crate::case::{Action, AddressType, Plan, Val};
use crate::outcome::RawOutcome;

/// An engine embedded in this binary. Runs one case at a time, in a worker.
pub trait Engine {
    /// The engine's version (its crate version).
    fn version(&self) -> String;
    /// Sets up a fresh store for one case.
    fn session<'a>(&'a mut self, plan: &'a Plan) -> Box<dyn Session + 'a>;
}

/// One case's state in one engine: the store, the instance, host memories.
/// Each method does one step and reports the engine's raw outcome.
pub trait Session {
    fn validate(&mut self) -> RawOutcome;
    fn instantiate(&mut self) -> RawOutcome;
    /// Calls an export of the named instance, or of the current one.
    fn invoke(&mut self, instance: Option<&str>, name: &str, args: &[Val]) -> RawOutcome;
    /// Compiles `wasm` (one of `plan.modules`); with `instantiate`, instantiates it
    /// (imports from registered instances, host memories and `spectest`),
    /// named `name` if given, as the current instance if `current`; without,
    /// keeps it as the definition `name`.
    fn module(&mut self, wasm: &[u8], name: Option<&str>, instantiate: bool, current: bool) -> RawOutcome {
        let _ = (wasm, name, instantiate, current);
        RawOutcome::Unsupported { message: "this engine's adapter runs single-module cases only".into() }
    }
    /// Instantiates a definition kept by `module(.., false)`.
    fn module_instance(&mut self, instance: Option<&str>, module: Option<&str>) -> RawOutcome {
        let _ = (instance, module);
        RawOutcome::Unsupported { message: "this engine's adapter has no module definitions".into() }
    }
    /// Makes the exports of an instance (the current one by default)
    /// importable under `name`.
    fn register(&mut self, name: &str, instance: Option<&str>) -> RawOutcome {
        let _ = (name, instance);
        RawOutcome::Unsupported { message: "this engine's adapter has no registered instances".into() }
    }
    /// Reads an exported global.
    fn get(&mut self, instance: Option<&str>, global: &str) -> RawOutcome {
        let _ = (instance, global);
        RawOutcome::Unsupported { message: "this engine's adapter cannot read globals".into() }
    }
    fn new_memory(&mut self, spec: &MemorySpec) -> RawOutcome;
    fn grow(&mut self, memory: &str, delta: u64) -> RawOutcome;
    fn size(&mut self, memory: &str) -> RawOutcome;
    fn read(&mut self, memory: &str, offset: u64, len: u64) -> RawOutcome;
    fn write(&mut self, memory: &str, offset: u64, bytes: &[u8]) -> RawOutcome;
    /// Whether an instance exists (instantiate succeeded).
    fn instantiated(&self) -> bool;
    /// Whether `name` names a memory (host-made, or exported by the instance).
    fn has_memory(&mut self, name: &str) -> bool;
}

/// A `new_memory` step's memory type.
pub struct MemorySpec<'a> {
    pub name: &'a str,
    pub initial: u64,
    pub maximum: Option<u64>,
    pub shared: bool,
    pub address: AddressType,
}

/// Runs a plan's steps on a session in order, reporting each outcome as soon
/// as it is known. Steps that need an instance or a memory that does not
/// exist (because an earlier step failed) are skipped. Starts at step `from`
/// (the steps before it ran in a process that died).
pub fn drive(session: &mut dyn Session, plan: &Plan, from: usize, emit: &mut dyn FnMut(usize, RawOutcome)) {
    let mut failed_instantiate: Option<usize> = None;
    let mut failed_memories: Vec<&str> = Vec::new();
    for (i, action) in plan.actions.iter().enumerate().skip(from) {
        let skipped = |why: String| RawOutcome::Skipped { message: why };
        let no_instance = |failed: Option<usize>| match failed {
            Some(step) => format!("no instance: instantiate (step {}) failed", step + 1),
            None => "no instance: the module was not instantiated".to_string(),
        };
        let outcome = match action {
            Action::Instantiate => {
                let o = session.instantiate();
                if o != RawOutcome::Ok {
                    failed_instantiate = Some(i);
                }
                o
            }
            Action::Validate => session.validate(),
            Action::Invoke { name, args, instance, .. } => {
                if instance.is_some() || session.instantiated() {
                    session.invoke(instance.as_deref(), name, args)
                } else {
                    skipped(no_instance(failed_instantiate))
                }
            }
            Action::Module { module, name, instantiate, assertion, .. } => match plan.modules.get(*module) {
                Some(wasm) => session.module(&wasm.0, name.as_deref(), *instantiate, !*assertion),
                None => RawOutcome::Unsupported { message: format!("the plan has no module {module}") },
            },
            Action::Instance { instance, module } => session.module_instance(instance.as_deref(), module.as_deref()),
            Action::Register { name, instance } => {
                if instance.is_some() || session.instantiated() {
                    session.register(name, instance.as_deref())
                } else {
                    skipped(no_instance(failed_instantiate))
                }
            }
            Action::Get { global, instance, .. } => {
                if instance.is_some() || session.instantiated() {
                    session.get(instance.as_deref(), global)
                } else {
                    skipped(no_instance(failed_instantiate))
                }
            }
            Action::Unsupported { reason, .. } => RawOutcome::Unsupported { message: reason.clone() },
            Action::NewMemory { name, initial, maximum, shared, address } => {
                let o = session.new_memory(&MemorySpec {
                    name,
                    initial: *initial,
                    maximum: *maximum,
                    shared: *shared,
                    address: *address,
                });
                if o != RawOutcome::Ok {
                    failed_memories.push(name);
                }
                o
            }
            Action::Grow { memory, .. } | Action::Size { memory } | Action::Read { memory, .. } | Action::Write { memory, .. }
                if !session.has_memory(memory) =>
            {
                if session.instantiated() || failed_memories.contains(&memory.as_str()) {
                    skipped(format!("no memory `{memory}`: the step that makes it failed"))
                } else {
                    skipped(format!("no memory `{memory}`: {}", no_instance(failed_instantiate)))
                }
            }
            Action::Grow { memory, delta } => session.grow(memory, *delta),
            Action::Size { memory } => session.size(memory),
            Action::Read { memory, offset, len } => session.read(memory, *offset, *len),
            Action::Write { memory, offset, bytes } => session.write(memory, *offset, bytes),
        };
        emit(i, outcome);
    }
}

/// How an engine is run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Launch {
    /// Embedded in this binary; runs in `wasm-matrix __worker ID` processes.
    Worker,
    /// `node drivers/harness.js`, the same line protocol.
    Node,
    /// A browser over WebDriver, the harness page served by the tool.
    Browser(webdriver::Browser),
}

/// A column of the matrix.
#[derive(Debug, Clone, Copy)]
pub struct EngineSpec {
    pub id: &'static str,
    pub what: &'static str,
    pub launch: Launch,
    /// The version, where it is known without starting the engine ("" if not).
    pub version: &'static str,
}

impl EngineSpec {
    /// The command that starts one engine process, or why it cannot start.
    pub fn command(&self, worker_exe: &std::path::Path) -> Result<(std::path::PathBuf, Vec<String>), String> {
        match self.launch {
            Launch::Worker => Ok((worker_exe.to_path_buf(), vec!["__worker".into(), self.id.into()])),
            Launch::Node => node::command(),
            Launch::Browser(_) => Err("browsers are driven over WebDriver, not started as a command".into()),
        }
    }

    /// Requests in flight per connection: browsers take them in batches.
    pub fn window(&self) -> usize {
        match self.launch {
            Launch::Worker | Launch::Node => 16,
            Launch::Browser(_) => 512,
        }
    }

    /// The version if the engine is available here, else why not.
    pub fn availability(&self) -> Result<String, String> {
        match self.launch {
            Launch::Worker => Ok(self.version.to_string()),
            Launch::Node => node::version(),
            Launch::Browser(b) => match b.setup(None)? {
                webdriver::Setup::Remote { url } => Ok(format!("remote {url}")),
                webdriver::Setup::Local { binary, .. } => {
                    let out = std::process::Command::new(&binary).arg("--version").output();
                    let text = out.map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string()).unwrap_or_default();
                    Ok(text.split(' ').find(|w| w.chars().next().is_some_and(|c| c.is_ascii_digit())).unwrap_or("installed").to_string())
                }
            },
        }
    }
}

/// Every engine the tool knows, in column order.
pub const ENGINES: &[EngineSpec] = &[
    EngineSpec { id: "wasmtime", what: "wasmtime crate, Cranelift", launch: Launch::Worker, version: env!("WASM_MATRIX_WASMTIME_VERSION") },
    EngineSpec { id: "wasmer", what: "wasmer crate, sys, Cranelift", launch: Launch::Worker, version: env!("WASM_MATRIX_WASMER_VERSION") },
    EngineSpec { id: "wasmi", what: "wasmi crate (interpreter)", launch: Launch::Worker, version: env!("WASM_MATRIX_WASMI_VERSION") },
    EngineSpec { id: "node", what: "V8 in Node.js", launch: Launch::Node, version: "" },
    EngineSpec { id: "chrome", what: "Chromium + chromedriver, headless", launch: Launch::Browser(webdriver::Browser::Chrome), version: "" },
    EngineSpec { id: "firefox", what: "Firefox + geckodriver, headless", launch: Launch::Browser(webdriver::Browser::Firefox), version: "" },
];

pub fn spec(id: &str) -> Option<&'static EngineSpec> {
    ENGINES.iter().find(|e| e.id == id)
}

/// The engines `WASM_MATRIX_REQUIRE` names (none when it is unset).
pub fn required_from_env() -> Result<Vec<&'static str>, String> {
    match std::env::var(crate::cli::REQUIRE_ENV) {
        Ok(list) if !list.trim().is_empty() => Ok(parse_list(&list)?.iter().map(|e| e.id).collect()),
        _ => Ok(vec![]),
    }
}

/// Resolves a comma-separated engine list (`all` for every engine).
pub fn parse_list(list: &str) -> Result<Vec<&'static EngineSpec>, String> {
    let mut out: Vec<&'static EngineSpec> = Vec::new();
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

/// Creates an embedded engine by id (inside a worker).
pub fn create(id: &str) -> Option<Box<dyn Engine>> {
    match id {
        "wasmtime" => Some(Box::new(wasmtime::Wasmtime::default())),
        "wasmer" => Some(Box::new(wasmer::Wasmer::default())),
        "wasmi" => Some(Box::new(wasmi::Wasmi::default())),
        _ => None,
    }
}

/// A session's instances and module definitions (.wast scripts, named
/// modules), whatever the engine's instance and module types are.
pub struct Instances<I, M> {
    /// The instance steps use when they name none.
    pub current: Option<I>,
    named: std::collections::HashMap<String, I>,
    defs: std::collections::HashMap<String, M>,
    last_def: Option<M>,
}

impl<I: Clone, M: Clone> Default for Instances<I, M> {
    fn default() -> Self {
        Instances { current: None, named: Default::default(), defs: Default::default(), last_def: None }
    }
}

impl<I: Clone, M: Clone> Instances<I, M> {
    /// The named instance, or the current one.
    pub fn pick(&self, name: Option<&str>) -> Result<I, RawOutcome> {
        match name {
            Some(n) => self.named.get(n).cloned().ok_or_else(|| RawOutcome::Error {
                stage: crate::outcome::Stage::Call,
                code: None,
                message: format!("no instance named {n}"),
            }),
            None => self.current.clone().ok_or_else(|| RawOutcome::Skipped { message: "no instance".into() }),
        }
    }

    /// Records a new instance: named if `name`, the current one if `current`.
    pub fn add(&mut self, instance: I, name: Option<&str>, current: bool) {
        if let Some(n) = name {
            self.named.insert(n.to_string(), instance.clone());
        }
        if current {
            self.current = Some(instance);
        }
    }

    /// Keeps a compiled module for a later `module instance`.
    pub fn define(&mut self, module: M, name: Option<&str>) {
        if let Some(n) = name {
            self.defs.insert(n.to_string(), module.clone());
        }
        self.last_def = Some(module);
    }

    /// The named definition, or the last one.
    pub fn definition(&self, name: Option<&str>) -> Result<M, RawOutcome> {
        let found = match name {
            Some(n) => self.defs.get(n).cloned(),
            None => self.last_def.clone(),
        };
        found.ok_or_else(|| RawOutcome::Error {
            stage: crate::outcome::Stage::Link,
            code: None,
            message: format!("no module definition {}", name.unwrap_or("")),
        })
    }
}
