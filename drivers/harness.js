// wasm-matrix JS harness: runs cases with the WebAssembly JS API. One file
// serves Node (`node harness.js`: the worker line protocol on stdin/stdout)
// and the browsers (harness.html loads it; the tool calls
// `wasmMatrix.runBatch(requests)` through WebDriver's execute_async).
//
// It reports what the engine did and said, verbatim; it never classifies.
// Which error kind a text means is decided in Rust (src/outcome.rs).
'use strict';

const PAGE = 65536;
const SYNC_LIMIT = 4096;
const scratch = new DataView(new ArrayBuffer(8));

function hexToBytes(hex) {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.substr(i * 2, 2), 16);
  return out;
}

function bytesToHex(bytes) {
  let s = '';
  for (const b of bytes) s += (b < 16 ? '0' : '') + b.toString(16);
  return s;
}

// A value the JS API cannot carry (v128, a function reference passed in).
class Unsupported extends Error {}

// Host references (`ref.extern N`): one object per number, so identity holds.
const hostRefs = new Map();
function hostRef(n) {
  if (!hostRefs.has(n)) hostRefs.set(n, { hostref: n });
  return hostRefs.get(n);
}

// Wire values: {"i32": n}, {"i64": "n"}, {"f32": bits}, {"f64": "bits"},
// {"v128": "0x.."}, {"ref_null": "func"|"extern"}, {"ref_extern": n}.
function fromVal(v) {
  if ('i32' in v) return Number(v.i32) | 0;
  if ('i64' in v) return BigInt.asIntN(64, BigInt(v.i64));
  if ('f32' in v) { scratch.setUint32(0, Number(v.f32)); return scratch.getFloat32(0); }
  if ('f64' in v) { scratch.setBigUint64(0, BigInt(v.f64)); return scratch.getFloat64(0); }
  if ('ref_null' in v) return null;
  if ('ref_extern' in v) return hostRef(Number(v.ref_extern));
  if ('v128' in v) throw new Unsupported('a v128 value cannot cross the JS API');
  throw new Unsupported('a function reference cannot be passed in from JS');
}

function toVal(x, type) {
  switch (type) {
    case 'i32': return { i32: Number(x) | 0 };
    case 'i64': return { i64: BigInt.asIntN(64, BigInt(x)).toString() };
    case 'f32': scratch.setFloat32(0, Number(x)); return { f32: scratch.getUint32(0) };
    case 'f64': scratch.setFloat64(0, Number(x)); return { f64: scratch.getBigUint64(0).toString() };
    case 'funcref': return x === null ? { ref_null: 'func' } : { ref_func: null };
    case 'externref':
      if (x === null) return { ref_null: 'extern' };
      if (x && typeof x === 'object' && 'hostref' in x) return { ref_extern: x.hostref };
      throw new Unsupported('an externref that is not a host reference of the case');
    default: throw new Unsupported(`a ${type} value cannot cross the JS API`);
  }
}

// The spec tests' host module, as the reference interpreter defines it.
function makeSpectest() {
  const nop = () => {};
  return {
    print: nop, print_i32: nop, print_i64: nop, print_f32: nop, print_f64: nop, print_i32_f32: nop, print_f64_f64: nop,
    global_i32: new WebAssembly.Global({ value: 'i32' }, 666),
    global_i64: new WebAssembly.Global({ value: 'i64' }, 666n),
    global_f32: new WebAssembly.Global({ value: 'f32' }, 666.6),
    global_f64: new WebAssembly.Global({ value: 'f64' }, 666.6),
    table: new WebAssembly.Table({ initial: 10, maximum: 20, element: 'anyfunc' }),
    memory: new WebAssembly.Memory({ initial: 1, maximum: 2 }),
  };
}

// The exception as the JS engine gives it: `${constructor.name}: ${message}`.
function describe(e) {
  if (e && typeof e === 'object' && e.constructor) return `${e.constructor.name}: ${e.message}`;
  return String(e);
}

function codeOf(e) {
  return e && typeof e === 'object' && e.constructor ? e.constructor.name : typeof e;
}

const trap = (e) => ({ kind: 'trap', code: codeOf(e), message: describe(e) });
const error = (stage, e) => ({ kind: 'error', stage, code: codeOf(e), message: describe(e) });

// Calls f with `n` as a Number, and again as a BigInt if the engine wants one
// (the i64 memories of the memory64 JS API); the last failure is reported.
function withIndex(f, n) {
  try {
    return f(n);
  } catch (e) {
    if (!(e instanceof TypeError)) throw e;
    return f(BigInt(n));
  }
}

// Runs one case; emit(index, outcome) is called as each step finishes.
async function runCase(plan, emit) {
  const actions = plan.actions;
  if (plan.host && plan.host.max_memory_bytes != null) {
    for (let i = 0; i < actions.length; i++) {
      emit(i, { kind: 'unsupported', message: 'the JS API has no host memory cap (host.max_memory_bytes)' });
    }
    return;
  }
  const bytes = plan.wasm ? hexToBytes(plan.wasm) : new Uint8Array(0);
  const hostMemories = new Map();
  const failedMemories = new Set();
  let instance = null;
  let failedInstantiate = null;
  const named = new Map();
  const defs = new Map();
  let lastDef = null;
  const registered = new Map();
  let spectest = null;

  // Compiles bytes to { module, sync }: the synchronous API where engines
  // allow it (Chrome refuses it on the main thread above 4 KiB): the async
  // one costs a task hop each, ~1 ms per tiny module, and throws the same errors.
  const compile = async (b) => {
    const sync = b.length <= SYNC_LIMIT;
    return { module: sync ? new WebAssembly.Module(b) : await WebAssembly.compile(b), sync };
  };
  // Instantiates a compiled module with imports from host memories,
  // registered instances and `spectest`; the current instance unless
  // `current` is false. Returns the outcome.
  const instantiate = async ({ module, sync }, name, current = true) => {
    const imports = {};
    const put = (m, n, v) => { (imports[m] = imports[m] || {})[n] = v; };
    for (const imp of WebAssembly.Module.imports(module)) {
      // Every module name gets a namespace, so that a missing item is a
      // LinkError (unlinkable), not a TypeError about the import object.
      imports[imp.module] = imports[imp.module] || {};
      if (registered.has(imp.module) && imp.name in registered.get(imp.module)) {
        put(imp.module, imp.name, registered.get(imp.module)[imp.name]);
      } else if (imp.module === 'spectest') {
        spectest = spectest || makeSpectest();
        if (imp.name in spectest) put(imp.module, imp.name, spectest[imp.name]);
      }
    }
    for (const imp of plan.imports || []) {
      if (hostMemories.has(imp.memory)) put(imp.module, imp.name, hostMemories.get(imp.memory));
    }
    try {
      const inst = sync ? new WebAssembly.Instance(module, imports) : await WebAssembly.instantiate(module, imports);
      if (current) instance = inst;
      if (name) named.set(name, inst);
      return { kind: 'ok' };
    } catch (e) {
      if (e instanceof WebAssembly.LinkError) return error('link', e);
      if (e instanceof WebAssembly.RuntimeError) return trap(e);
      return error('instantiate', e);
    }
  };
  // The named instance or the current one: { inst } or { outcome } saying why not.
  const pick = (name) => {
    const inst = name ? named.get(name) : instance;
    if (inst) return { inst };
    return { outcome: name ? { kind: 'error', stage: 'call', message: `no instance named ${name}` } : { kind: 'skipped', message: noInstance() } };
  };

  const noInstance = () =>
    failedInstantiate === null
      ? 'no instance: the module was not instantiated'
      : `no instance: instantiate (step ${failedInstantiate + 1}) failed`;
  const memory = (name) => {
    if (hostMemories.has(name)) return hostMemories.get(name);
    const m = instance && instance.exports[name];
    return m instanceof WebAssembly.Memory ? m : null;
  };

  for (let i = 0; i < actions.length; i++) {
    const action = actions[i];
    const kind = typeof action === 'string' ? action : Object.keys(action)[0];
    const arg = typeof action === 'string' ? null : action[kind];
    let outcome;
    if (arg && arg.memory !== undefined && !memory(arg.memory)) {
      outcome = {
        kind: 'skipped',
        message: instance || failedMemories.has(arg.memory)
          ? `no memory \`${arg.memory}\`: the step that makes it failed`
          : `no memory \`${arg.memory}\`: ${noInstance()}`,
      };
    } else {
      switch (kind) {
        case 'validate':
          outcome = { kind: 'returns', values: [{ i32: WebAssembly.validate(bytes) ? 1 : 0 }] };
          break;
        case 'instantiate': {
          let module = null;
          try {
            module = await compile(bytes);
          } catch (e) {
            outcome = error('compile', e);
          }
          if (module) outcome = await instantiate(module, null);
          if (outcome.kind !== 'ok') failedInstantiate = i;
          break;
        }
        case 'module': {
          if (arg.text) {
            outcome = { kind: 'unsupported', message: 'a text-format module: the JS API compiles binaries only' };
            break;
          }
          let module = null;
          try {
            module = await compile(hexToBytes(plan.modules[arg.module]));
          } catch (e) {
            outcome = error('compile', e);
          }
          if (module && arg.instantiate) {
            outcome = await instantiate(module, arg.name, !arg.assertion);
          } else if (module) {
            if (arg.name) defs.set(arg.name, module);
            lastDef = module;
            outcome = { kind: 'ok' };
          }
          break;
        }
        case 'instance': {
          const def = arg.module ? defs.get(arg.module) : lastDef;
          outcome = def ? await instantiate(def, arg.instance) : { kind: 'error', stage: 'link', message: `no module definition ${arg.module || ''}` };
          break;
        }
        case 'register': {
          const { inst, outcome: missing } = pick(arg.instance);
          if (missing) {
            outcome = missing;
            break;
          }
          registered.set(arg.name, inst.exports);
          outcome = { kind: 'ok' };
          break;
        }
        case 'get': {
          const { inst, outcome: missing } = pick(arg.instance);
          if (missing) {
            outcome = missing;
            break;
          }
          const g = inst.exports[arg.global];
          if (!(g instanceof WebAssembly.Global)) {
            outcome = { kind: 'error', stage: 'call', message: `no exported global \`${arg.global}\`` };
            break;
          }
          try {
            outcome = { kind: 'returns', values: [toVal(g.value, arg.ty || 'f64')] };
          } catch (e) {
            outcome = e instanceof Unsupported ? { kind: 'unsupported', message: e.message } : trap(e);
          }
          break;
        }
        case 'unsupported':
          outcome = { kind: 'unsupported', message: arg.reason };
          break;
        case 'invoke': {
          const { inst, outcome: missing } = pick(arg.instance);
          if (missing) {
            outcome = missing;
            break;
          }
          const f = inst.exports[arg.name];
          if (typeof f !== 'function') {
            outcome = { kind: 'error', stage: 'call', message: `no exported function \`${arg.name}\`` };
            break;
          }
          const cannot = (arg.results || []).find((t) => t === 'v128' || t === 'otherref');
          if (cannot) {
            outcome = { kind: 'unsupported', message: `a ${cannot} result cannot cross the JS API` };
            break;
          }
          let args;
          try {
            args = arg.args.map(fromVal);
          } catch (e) {
            outcome = { kind: 'unsupported', message: e.message };
            break;
          }
          try {
            const r = f(...args);
            const types = arg.results || [];
            const list = types.length === 0 ? [] : types.length === 1 ? [r] : Array.from(r);
            outcome = { kind: 'returns', values: list.map((x, j) => toVal(x, types[j])) };
          } catch (e) {
            outcome = e instanceof Unsupported ? { kind: 'unsupported', message: e.message } : trap(e);
          }
          break;
        }
        case 'new_memory': {
          const desc = { initial: arg.initial, shared: !!arg.shared };
          if (arg.maximum !== null && arg.maximum !== undefined) desc.maximum = arg.maximum;
          if (arg.address === 'i64') {
            desc.address = 'i64';
            desc.index = 'i64'; // the older spelling, for engines that still use it
          }
          try {
            let m;
            try {
              m = new WebAssembly.Memory(desc);
            } catch (e) {
              if (!(e instanceof TypeError) || arg.address !== 'i64') throw e;
              const big = { ...desc, initial: BigInt(desc.initial) };
              if (desc.maximum !== undefined) big.maximum = BigInt(desc.maximum);
              m = new WebAssembly.Memory(big);
            }
            hostMemories.set(arg.name, m);
            outcome = { kind: 'ok' };
          } catch (e) {
            failedMemories.add(arg.name);
            outcome = error('new_memory', e);
          }
          break;
        }
        case 'grow':
          try {
            const m = memory(arg.memory);
            const prev = withIndex((d) => m.grow(d), arg.delta);
            outcome = { kind: 'returns', values: [{ i64: BigInt(prev).toString() }] };
          } catch (e) {
            outcome = error('grow', e);
          }
          break;
        case 'size':
          outcome = { kind: 'pages', pages: memory(arg.memory).buffer.byteLength / PAGE };
          break;
        case 'read':
          try {
            outcome = { kind: 'bytes', hex: bytesToHex(new Uint8Array(memory(arg.memory).buffer, arg.offset, arg.len)) };
          } catch (e) {
            outcome = error('access', e);
          }
          break;
        case 'write':
          try {
            const data = hexToBytes(arg.bytes);
            new Uint8Array(memory(arg.memory).buffer, arg.offset, data.length).set(data);
            outcome = { kind: 'ok' };
          } catch (e) {
            outcome = error('access', e);
          }
          break;
        default:
          outcome = { kind: 'unsupported', message: `the JS harness does not know the step \`${kind}\`` };
      }
    }
    emit(i, outcome);
  }
}

// Runs requests one after another; returns the protocol events.
async function runBatch(requests) {
  const events = [];
  for (const req of requests) {
    const t0 = performance.now();
    try {
      await runCase(req.plan, (index, outcome) => events.push({ step: { id: req.id, index, outcome } }));
    } catch (e) {
      events.push({ step: { id: req.id, index: 0, outcome: { kind: 'unsupported', message: `harness error: ${describe(e)}` } } });
    }
    const done = { id: req.id, us: Math.round((performance.now() - t0) * 1000) };
    if (typeof self !== 'undefined' && 'crossOriginIsolated' in self) done.cross_origin_isolated = self.crossOriginIsolated === true;
    events.push({ done });
  }
  return events;
}

if (typeof window !== 'undefined') {
  window.wasmMatrix = {
    runBatch,
    info: () => ({ crossOriginIsolated: self.crossOriginIsolated === true, userAgent: navigator.userAgent }),
  };
} else if (typeof process !== 'undefined' && process.versions && process.versions.node) {
  const out = (ev) => process.stdout.write(JSON.stringify(ev) + '\n');
  out({ ready: { engine: 'node', version: process.version } });
  const queue = [];
  let busy = false;
  let closed = false;
  const pump = async () => {
    if (busy) return;
    busy = true;
    while (queue.length) {
      const req = JSON.parse(queue.shift());
      const t0 = performance.now();
      await runCase(req.plan, (index, outcome) => out({ step: { id: req.id, index, outcome } }));
      out({ done: { id: req.id, us: Math.round((performance.now() - t0) * 1000) } });
    }
    busy = false;
    if (closed) process.exit(0);
  };
  const rl = require('readline').createInterface({ input: process.stdin });
  rl.on('line', (line) => {
    if (line.trim()) {
      queue.push(line);
      pump();
    }
  });
  rl.on('close', () => {
    closed = true;
    if (!busy) process.exit(0);
  });
}
