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

// Wire values: {"i32": n}, {"i64": "n"}, {"f32": bits}, {"f64": "bits"}.
function fromVal(v) {
  if ('i32' in v) return Number(v.i32) | 0;
  if ('i64' in v) return BigInt.asIntN(64, BigInt(v.i64));
  if ('f32' in v) { scratch.setUint32(0, Number(v.f32)); return scratch.getFloat32(0); }
  scratch.setBigUint64(0, BigInt(v.f64));
  return scratch.getFloat64(0);
}

function toVal(x, type) {
  switch (type) {
    case 'i32': return { i32: Number(x) | 0 };
    case 'i64': return { i64: BigInt.asIntN(64, BigInt(x)).toString() };
    case 'f32': scratch.setFloat32(0, Number(x)); return { f32: scratch.getUint32(0) };
    default: scratch.setFloat64(0, Number(x)); return { f64: scratch.getBigUint64(0).toString() };
  }
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
          // The synchronous API where engines allow it (Chrome refuses it on
          // the main thread above 4 KiB): the async one costs a task hop
          // each, ~1 ms per tiny module, and throws the same errors.
          const sync = bytes.length <= SYNC_LIMIT;
          let module = null;
          try {
            module = sync ? new WebAssembly.Module(bytes) : await WebAssembly.compile(bytes);
          } catch (e) {
            outcome = error('compile', e);
          }
          if (module) {
            const imports = {};
            for (const imp of plan.imports || []) {
              if (!hostMemories.has(imp.memory)) continue;
              (imports[imp.module] = imports[imp.module] || {})[imp.name] = hostMemories.get(imp.memory);
            }
            try {
              instance = sync ? new WebAssembly.Instance(module, imports) : await WebAssembly.instantiate(module, imports);
              outcome = { kind: 'ok' };
            } catch (e) {
              if (e instanceof WebAssembly.LinkError) outcome = error('link', e);
              else if (e instanceof WebAssembly.RuntimeError) outcome = trap(e);
              else outcome = error('instantiate', e);
            }
          }
          if (outcome.kind !== 'ok') failedInstantiate = i;
          break;
        }
        case 'invoke': {
          if (!instance) {
            outcome = { kind: 'skipped', message: noInstance() };
            break;
          }
          const f = instance.exports[arg.name];
          if (typeof f !== 'function') {
            outcome = { kind: 'error', stage: 'call', message: `no exported function \`${arg.name}\`` };
            break;
          }
          try {
            const r = f(...arg.args.map(fromVal));
            const types = arg.results || [];
            const list = types.length === 0 ? [] : types.length === 1 ? [r] : Array.from(r);
            outcome = { kind: 'returns', values: list.map((x, j) => toVal(x, types[j])) };
          } catch (e) {
            outcome = trap(e);
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
