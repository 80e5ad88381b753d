// wasm-matrix JS harness, part 2 of 6 (see values.js): one case, run
// step by step on the WebAssembly JS API.

// Why a case cannot run on the JS columns at all, or null.
function notForJs(plan) {
  if (plan.host && plan.host.max_memory_bytes != null) return 'the JS API has no host memory cap (host.max_memory_bytes)';
  if (plan.host && plan.host.address_space_bytes != null) {
    return 'an address-space limit (host.address_space_bytes) is set on the tool\'s own engine processes only (the embedded columns)';
  }
  return null;
}

// The run's large modules (tool: src/transport/modules.rs), each read or
// fetched once per process or page, by hash; and what each compiled to, so
// that a module is compiled once across the run's cases (a `compile` step
// still compiles afresh). The most recent are kept: a module's cases run
// one after another (the runner sends a big module's cases alone), and an
// engine's compiled code is hundreds of MB for a 30 MB module.
const received = new Map();
const compiledByHash = new Map();
const keep = (map, key, value, most = 1) => {
  map.delete(key);
  map.set(key, value);
  while (map.size > most) map.delete(map.keys().next().value);
  return value;
};

// What the process kept of large modules goes (the runner is done with
// their cases for now), and a collection runs where the engine has one.
function forgetModules() {
  received.clear();
  compiledByHash.clear();
  if (collectGarbage) collectGarbage();
}

// A request's main module: inline (hex in the plan), or by reference: a
// shell reads the file the tool wrote, a page fetches it from the tool's
// loopback server.
async function moduleBytes(req) {
  const m = req.module;
  if (!m) return req.plan.wasm ? hexToBytes(req.plan.wasm) : new Uint8Array(0);
  if (received.has(m.sha256)) return keep(received, m.sha256, received.get(m.sha256), 2);
  let bytes;
  if (IN_BROWSER) {
    const r = await fetch(`/module/${m.sha256}`);
    if (!r.ok) throw new Error(`cannot fetch the module ${m.sha256} from the harness server: HTTP ${r.status}`);
    bytes = new Uint8Array(await r.arrayBuffer());
  } else if (typeof Deno !== 'undefined') {
    bytes = Deno.readFileSync(m.path);
  } else {
    bytes = new Uint8Array(require('fs').readFileSync(m.path));
  }
  if (bytes.length !== m.len) throw new Error(`the module ${m.path}: ${bytes.length} bytes, the tool wrote ${m.len}`);
  return keep(received, m.sha256, bytes, 2);
}

// One case's state, written once for every step: its module, instances
// (current, named, registered), module definitions, host memories and the
// buffers taken of them.
class CaseRun {
  constructor(plan, bytes, sha256) {
    this.plan = plan;
    this.bytes = bytes;
    // The module's hash where it came by reference: its compiled module is
    // kept, until a case of another module (or of none) comes.
    this.sha256 = sha256;
    if (!sha256 || !compiledByHash.has(sha256)) compiledByHash.clear();
    this.hostMemories = new Map();
    // The ArrayBuffer each memory's last `buffer` step took.
    this.buffers = new Map();
    this.failedMemories = new Set();
    this.instance = null;
    this.failedInstantiate = null;
    this.named = new Map();
    this.defs = new Map();
    this.lastDef = null;
    this.registered = new Map();
    this.spectest = null;
    // The instances an `instances` step keeps alive.
    this.held = [];
    // Whether a step made something big that is garbage once the case ends.
    this.bulky = false;
    // The last in-page measure, for `measure_text`.
    this.lastMeasure = null;
  }

  // At the case's end: what it kept alive goes, and after a step that made
  // something big (live instances with their memories, a fresh compile of a
  // module) a full collection runs, so that an idle process between cases
  // does not hold GBs of garbage beside the next one's work (four Node
  // processes held 4.3 GB for a minute after auditing a 20 MiB memory's
  // instances).
  release() {
    this.held = [];
    this.instance = null;
    this.named.clear();
    this.registered.clear();
    this.hostMemories.clear();
    this.buffers.clear();
    if (this.bulky && collectGarbage) collectGarbage();
  }

  // Compiles bytes to { module, sync }: the synchronous API where engines
  // allow it (Chrome refuses it on the main thread above 4 KiB): the async
  // one costs a task hop each, ~1 ms per tiny module, and throws the same errors.
  async compile(b) {
    const sync = b.length <= SYNC_LIMIT;
    return { module: sync ? new WebAssembly.Module(b) : await WebAssembly.compile(b), sync };
  }

  // The case's module compiled: { module } or { outcome } (the compile
  // error). A large module is compiled once per process or page, unless
  // `fresh` (a `compile` step, whose time is the compile time).
  async compiled(fresh = false) {
    if (!fresh && this.sha256 && compiledByHash.has(this.sha256)) return { module: compiledByHash.get(this.sha256) };
    try {
      const module = await this.compile(this.bytes);
      if (this.sha256) keep(compiledByHash, this.sha256, module);
      return { module };
    } catch (e) {
      return { outcome: error('compile', e) };
    }
  }

  // The import object for a module: host memories, registered instances,
  // `spectest`, and (`imports: stub`) what is still missing, made as the
  // module declares it. { imports } or { outcome } when a stub cannot be made.
  imports(module) {
    const imports = {};
    const put = (m, n, v) => { (imports[m] = imports[m] || {})[n] = v; };
    for (const imp of WebAssembly.Module.imports(module)) {
      // Every module name gets a namespace, so that a missing item is a
      // LinkError (unlinkable), not a TypeError about the import object.
      imports[imp.module] = imports[imp.module] || {};
      if (this.registered.has(imp.module) && imp.name in this.registered.get(imp.module)) {
        put(imp.module, imp.name, this.registered.get(imp.module)[imp.name]);
      } else if (imp.module === 'spectest') {
        this.spectest = this.spectest || makeSpectest();
        if (imp.name in this.spectest) put(imp.module, imp.name, this.spectest[imp.name]);
      }
    }
    for (const imp of this.plan.imports || []) {
      if (this.hostMemories.has(imp.memory)) put(imp.module, imp.name, this.hostMemories.get(imp.memory));
    }
    for (const s of this.plan.stubs || []) {
      if (imports[s.module] && s.name in imports[s.module]) continue;
      try {
        put(s.module, s.name, makeStub(s));
      } catch (e) {
        return { outcome: s.kind.unsupported ? { kind: 'unsupported', message: s.kind.unsupported.what } : error('link', e) };
      }
    }
    return { imports };
  }

  // Instantiates a compiled module; the current instance unless `current`
  // is false, named `name`, kept in `keep`. Returns the outcome.
  async instantiate({ module, sync }, name, current = true, keep = null) {
    const { imports, outcome } = this.imports(module);
    if (outcome) return outcome;
    try {
      const inst = sync ? new WebAssembly.Instance(module, imports) : await WebAssembly.instantiate(module, imports);
      if (current) this.instance = inst;
      if (name) this.named.set(name, inst);
      if (keep) keep.push(inst);
      return { kind: 'ok' };
    } catch (e) {
      if (e instanceof WebAssembly.LinkError) return error('link', e);
      if (e instanceof WebAssembly.RuntimeError) return trap(e);
      return error('instantiate', e);
    }
  }

  noInstance() {
    return this.failedInstantiate === null
      ? 'no instance: the module was not instantiated'
      : `no instance: instantiate (step ${this.failedInstantiate + 1}) failed`;
  }

  // The named instance or the current one: { inst } or { outcome } saying why not.
  pick(name) {
    const inst = name ? this.named.get(name) : this.instance;
    if (inst) return { inst };
    return { outcome: name ? { kind: 'error', stage: 'call', message: `no instance named ${name}` } : { kind: 'skipped', message: this.noInstance() } };
  }

  memory(name) {
    if (this.hostMemories.has(name)) return this.hostMemories.get(name);
    const m = this.instance && this.instance.exports[name];
    return m instanceof WebAssembly.Memory ? m : null;
  }

  // A step that names a memory that is not there is skipped, saying why.
  missingMemory(arg) {
    if (!arg || arg.memory === undefined || this.memory(arg.memory)) return null;
    return {
      kind: 'skipped',
      message: this.instance || this.failedMemories.has(arg.memory)
        ? `no memory \`${arg.memory}\`: the step that makes it failed`
        : `no memory \`${arg.memory}\`: ${this.noInstance()}`,
    };
  }

  // The buffer an earlier `buffer` step took of a memory, or why none.
  buffer(name) {
    const b = this.buffers.get(name);
    return b ? { b } : { outcome: { kind: 'skipped', message: `no buffer of \`${name}\`: no earlier \`buffer\` step took one` } };
  }
}

// Export `name` (a `what`) of the named or current instance: { x } or { outcome }.
const exported = (run, instance, name, what, test) => {
  const { inst, outcome } = run.pick(instance);
  if (outcome) return { outcome };
  const x = inst.exports[name];
  return test(x) ? { x } : { outcome: { kind: 'error', stage: 'call', message: `no exported ${what} \`${name}\`` } };
};

// Every step kind: (run, arg, index) -> outcome. A kind not here is a tool
// error (the Rust side has a step the harness was not taught), never an
// engine's limitation.
const STEPS = {
  testharness: (run, arg) => runTestharness(arg),
  validate: (run) => ({ kind: 'returns', values: [{ i32: WebAssembly.validate(run.bytes) ? 1 : 0 }] }),
  // An in-page measure: [value, extra] (f64; NaN where there is none), and
  // its text for the `measure_text` step after it.
  measure: async (run, arg) => {
    const [base, param] = arg.name.split('.');
    const f = IN_PAGE[base];
    if (!f) return { kind: 'unsupported', message: `no in-page measure ${arg.name}` };
    try {
      run.lastMeasure = await f(param === undefined ? null : param);
      const num = (x) => toVal(x == null ? NaN : Number(x), 'f64');
      return { kind: 'returns', values: [num(run.lastMeasure.value), num(run.lastMeasure.extra)] };
    } catch (e) {
      run.lastMeasure = null;
      return error('call', e);
    }
  },
  measure_text: (run) => (run.lastMeasure && run.lastMeasure.message != null ? { kind: 'error', stage: 'call', message: String(run.lastMeasure.message) } : { kind: 'ok' }),
  compile: async (run) => {
    run.bulky = true;
    return (await run.compiled(true)).outcome || { kind: 'ok' };
  },
  // Live instances (kept here until the case ends), until one fails.
  instances: async (run, arg) => {
    const c = await run.compiled();
    if (c.outcome) return c.outcome;
    const live = [];
    while (live.length < arg.limit) {
      if ((await run.instantiate(c.module, null, false, live)).kind !== 'ok') break;
    }
    run.held.push(live);
    run.bulky = true;
    return { kind: 'returns', values: [{ i32: live.length }] };
  },
  instantiate: async (run, arg, i) => {
    const c = await run.compiled();
    const outcome = c.outcome || await run.instantiate(c.module, null);
    if (outcome.kind !== 'ok') run.failedInstantiate = i;
    return outcome;
  },
  module: async (run, arg) => {
    if (arg.text) return { kind: 'unsupported', message: 'a text-format module: the JS API compiles binaries only' };
    let module;
    try {
      module = await run.compile(hexToBytes(run.plan.modules[arg.module]));
    } catch (e) {
      return error('compile', e);
    }
    if (arg.instantiate) return run.instantiate(module, arg.name, !arg.assertion);
    if (arg.name) run.defs.set(arg.name, module);
    run.lastDef = module;
    return { kind: 'ok' };
  },
  instance: async (run, arg) => {
    const def = arg.module ? run.defs.get(arg.module) : run.lastDef;
    return def ? run.instantiate(def, arg.instance) : { kind: 'error', stage: 'link', message: `no module definition ${arg.module || ''}` };
  },
  register: (run, arg) => {
    const { inst, outcome } = run.pick(arg.instance);
    if (outcome) return outcome;
    run.registered.set(arg.name, inst.exports);
    return { kind: 'ok' };
  },
  get: (run, arg) => {
    const { x: g, outcome } = exported(run, arg.instance, arg.global, 'global', (g) => g instanceof WebAssembly.Global);
    if (outcome) return outcome;
    try {
      const ty = arg.ty || 'f64';
      return { kind: 'returns', values: [ty === 'f32' || ty === 'f64' ? globalBits(g, ty) : toVal(g.value, ty)] };
    } catch (e) {
      return e instanceof Unsupported ? { kind: 'unsupported', message: e.message } : trap(e);
    }
  },
  unsupported: (run, arg) => ({ kind: 'unsupported', message: arg.reason }),
  invoke: (run, arg) => {
    const { x: f, outcome } = exported(run, arg.instance, arg.name, 'function', (f) => typeof f === 'function');
    if (outcome) return outcome;
    const cannot = (arg.results || []).find((t) => t === 'otherref');
    if (cannot) return { kind: 'unsupported', message: `a ${cannot} result cannot cross the JS API` };
    try {
      return { kind: 'returns', values: call(f, arg.args, arg.results || []) };
    } catch (e) {
      return e instanceof Unsupported ? { kind: 'unsupported', message: e.message } : trap(e);
    }
  },
  new_memory: (run, arg) => {
    const desc = { initial: sized(arg.initial, arg.js_form, arg.address), shared: !!arg.shared };
    if (arg.maximum !== null && arg.maximum !== undefined) desc.maximum = sized(arg.maximum, arg.js_form, arg.address);
    if (arg.address === 'i64') desc.address = 'i64';
    try {
      run.hostMemories.set(arg.name, new WebAssembly.Memory(desc));
      return { kind: 'ok' };
    } catch (e) {
      run.failedMemories.add(arg.name);
      return error('new_memory', e);
    }
  },
  grow: (run, arg) => {
    try {
      const prev = run.memory(arg.memory).grow(sized(arg.delta, arg.js_form, arg.address));
      return { kind: 'returns', values: [{ i64: BigInt(prev).toString() }] };
    } catch (e) {
      return error('grow', e);
    }
  },
  buffer: (run, arg) => {
    try {
      const m = run.memory(arg.memory);
      const b = arg.resizable === true ? m.toResizableBuffer()
        : arg.resizable === false ? m.toFixedLengthBuffer()
        : m.buffer;
      run.buffers.set(arg.memory, b);
      const len = arg.resizable === true ? b.maxByteLength : b.byteLength;
      return { kind: 'returns', values: [{ i64: String(len) }] };
    } catch (e) {
      return error('access', e);
    }
  },
  buffer_length: (run, arg) => {
    const { b, outcome } = run.buffer(arg.memory);
    return outcome || { kind: 'returns', values: [{ i64: String(b.byteLength) }] };
  },
  resize: (run, arg) => {
    const { b, outcome } = run.buffer(arg.memory);
    if (outcome) return outcome;
    try {
      b.resize(arg.bytes);
      return { kind: 'ok' };
    } catch (e) {
      return error('grow', e);
    }
  },
  size: (run, arg) => ({ kind: 'pages', pages: run.memory(arg.memory).buffer.byteLength / PAGE }),
  read: (run, arg) => {
    try {
      return { kind: 'bytes', hex: bytesToHex(new Uint8Array(run.memory(arg.memory).buffer, arg.offset, arg.len)) };
    } catch (e) {
      return error('access', e);
    }
  },
  write: (run, arg) => {
    try {
      const data = hexToBytes(arg.bytes);
      new Uint8Array(run.memory(arg.memory).buffer, arg.offset, data.length).set(data);
      return { kind: 'ok' };
    } catch (e) {
      return error('access', e);
    }
  },
};

// Runs one request's case from step `from` (the steps before it ran in a
// process that died); emit(index, outcome) is called as each step finishes.
async function runCase(req, emit) {
  const plan = req.plan;
  const from = req.from || 0;
  const actions = plan.actions;
  const without = notForJs(plan);
  if (without) {
    for (let i = from; i < actions.length; i++) emit(i, { kind: 'unsupported', message: without });
    return;
  }
  const run = new CaseRun(plan, await moduleBytes(req), req.module ? req.module.sha256 : null);
  let stepStart = performance.now();
  for (let i = from; i < actions.length; i++) {
    const action = actions[i];
    const kind = typeof action === 'string' ? action : Object.keys(action)[0];
    const arg = typeof action === 'string' ? null : action[kind];
    const step = Object.prototype.hasOwnProperty.call(STEPS, kind) ? STEPS[kind] : null;
    const outcome = !step
      ? { kind: 'crash', message: `tool error: the JS harness does not know the step \`${kind}\` (the tool and drivers/harness/ are out of step)` }
      : run.missingMemory(arg) || await step(run, arg, i);
    // The step's own time (the page's clock: coarse where it is clamped).
    const now = performance.now();
    emit(i, outcome, Math.round((now - stepStart) * 1000));
    stepStart = now;
  }
  run.release();
}

// A full garbage collection, where the engine offers one on call: Node and
// Deno with --expose-gc, Chrome with --js-flags=--expose-gc (the registry's
// flags), Bun.gc. Firefox and WebKit pages have none and collect on their
// own. (Without Bun's, a Bun process under the audit's 16 GiB limit still
// held the instances of the module before and could not read the next.)
const collectGarbage = typeof gc === 'function' ? () => gc()
  : (typeof Bun !== 'undefined' && typeof Bun.gc === 'function') ? () => Bun.gc(true) : null;
