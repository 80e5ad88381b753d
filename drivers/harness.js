// wasm-matrix JS harness: runs cases with the WebAssembly JS API. One file
// serves the JS shells (Node, Deno, Bun: `node harness.cjs`, the worker line
// protocol on stdin/stdout)
// and the browsers (harness.html loads it; the tool calls
// `wasmMatrix.pipe(requests, keep)` through WebDriver's execute_async).
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
    case 'anyref':
      if (x === null) return { ref_null: 'any' };
      throw new Unsupported('a non-null anyref (a GC object) cannot be shown');
    default: throw new Unsupported(`a ${type} value cannot cross the JS API`);
  }
}

// Values the JS API cannot carry exactly (a float's NaN payload becomes a JS
// number's, a v128 not at all) cross through a small wasm module instead, as
// the spec's own JS test harness does: it imports the export, takes and
// returns their bits as i32 / i64 (a v128 as two i64 lanes) and reinterprets
// them inside wasm, where nothing is lost.
const TYPE_CODE = { i32: 0x7f, i64: 0x7e, f32: 0x7d, f64: 0x7c, v128: 0x7b, funcref: 0x70, externref: 0x6f };
const BITS = { f32: ['i32'], f64: ['i64'], v128: ['i64', 'i64'] };
const needsBits = (types) => types.some((t) => t in BITS);
const bitsTypes = (types) => types.flatMap((t) => BITS[t] || [t]);

function leb(n) {
  const out = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n) b |= 0x80;
    out.push(b);
  } while (n);
  return out;
}
const vec = (items) => [...leb(items.length), ...items.flat()];
const section = (id, body) => [id, ...leb(body.length), ...body];
const name = (s) => vec([...s].map((c) => c.charCodeAt(0)));
const functype = (params, results) => [0x60, ...vec(params.map((t) => TYPE_CODE[t])), ...vec(results.map((t) => TYPE_CODE[t]))];

// Wrapper modules by signature (and global readers by type); compiled once each.
const wrappers = new Map();

// Module: (import "m" "f" (func params -> results)) and an export "w" taking
// and returning bits.
function bitsWrapper(params, results) {
  const key = `${params}>${results}`;
  if (wrappers.has(key)) return wrappers.get(key);
  const body = [];
  let local = 0;
  for (const t of params) {
    if (t === 'f32') body.push(0x20, ...leb(local++), 0xbe);
    else if (t === 'f64') body.push(0x20, ...leb(local++), 0xbf);
    else if (t === 'v128') {
      body.push(0xfd, 0x0c, ...new Array(16).fill(0));
      body.push(0x20, ...leb(local++), 0xfd, 0x1e, 0, 0x20, ...leb(local++), 0xfd, 0x1e, 1);
    } else body.push(0x20, ...leb(local++));
  }
  body.push(0x10, 0);
  const first = local;
  for (let i = results.length - 1; i >= 0; i--) body.push(0x21, ...leb(first + i));
  results.forEach((t, i) => {
    const get = [0x20, ...leb(first + i)];
    if (t === 'f32') body.push(...get, 0xbc);
    else if (t === 'f64') body.push(...get, 0xbd);
    else if (t === 'v128') body.push(...get, 0xfd, 0x1d, 0, ...get, 0xfd, 0x1d, 1);
    else body.push(...get);
  });
  body.push(0x0b);
  const locals = vec(results.map((t) => [1, TYPE_CODE[t]]));
  const code = [...locals, ...body];
  const bytes = [
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec([functype(params, results), functype(bitsTypes(params), bitsTypes(results))])),
    ...section(2, vec([[...name('m'), ...name('f'), 0x00, 0x00]])),
    ...section(3, vec([[0x01]])),
    ...section(7, vec([[...name('w'), 0x00, 0x01]])),
    ...section(10, vec([[...leb(code.length), ...code]])),
  ];
  const module = new WebAssembly.Module(new Uint8Array(bytes));
  wrappers.set(key, module);
  return module;
}

// A wire value's type.
function valType(v) {
  if ('ref_null' in v) return `${v.ref_null}ref`;
  if ('ref_extern' in v) return 'externref';
  return Object.keys(v)[0];
}

// A wire value as the wrapper takes it: floats and v128 as their bits.
function bitsArgs(v) {
  if ('f32' in v) return [Number(v.f32) | 0];
  if ('f64' in v) return [BigInt.asIntN(64, BigInt(v.f64))];
  if ('v128' in v) {
    const n = BigInt(v.v128);
    return [BigInt.asIntN(64, n & 0xffffffffffffffffn), BigInt.asIntN(64, n >> 64n)];
  }
  return [fromVal(v)];
}

// The wrapper's results back to wire values of the original types.
function fromBits(list, types) {
  const out = [];
  let k = 0;
  for (const t of types) {
    if (t === 'f32') out.push({ f32: list[k++] >>> 0 });
    else if (t === 'f64') out.push({ f64: BigInt.asUintN(64, list[k++]).toString() });
    else if (t === 'v128') {
      const lo = BigInt.asUintN(64, list[k++]);
      const hi = BigInt.asUintN(64, list[k++]);
      out.push({ v128: '0x' + hi.toString(16).padStart(16, '0') + lo.toString(16).padStart(16, '0') });
    } else out.push(toVal(list[k++], t));
  }
  return out;
}

// Calls export `f` with wire `args`, expecting `results` types; wire values back.
function call(f, args, results) {
  const params = args.map(valType);
  let w = null;
  // Only signatures the wrapper can spell; others are called directly.
  if ([...params, ...results].every((t) => t in TYPE_CODE) && (needsBits(params) || needsBits(results))) {
    let module;
    try {
      module = bitsWrapper(params, results);
    } catch (e) {
      throw new Unsupported(`the JS engine cannot compile the module that carries exact float / v128 bits: ${describe(e)}`);
    }
    try {
      w = new WebAssembly.Instance(module, { m: { f } }).exports.w;
    } catch (e) {
      // The signature is not what the arguments say (a link error): call
      // directly and let the JS API report the mismatch.
      if (!(e instanceof WebAssembly.LinkError)) throw e;
    }
  }
  const callee = w || f;
  const r = callee(...(w ? args.flatMap(bitsArgs) : args.map(fromVal)));
  const n = w ? bitsTypes(results).length : results.length;
  const list = n === 0 ? [] : n === 1 ? [r] : Array.from(r);
  return w ? fromBits(list, results) : list.map((x, j) => toVal(x, results[j]));
}

// A float global's exact bits, through a module that imports it.
function globalBits(g, type) {
  for (const mut of [0, 1]) {
    try {
      const w = new WebAssembly.Instance(globalReader(type, mut), { m: { g } }).exports.w;
      return fromBits([w()], [type])[0];
    } catch (e) {
      if (!(e instanceof WebAssembly.LinkError)) throw e;
    }
  }
  return toVal(g.value, type);
}

// Module: (import "m" "g" (global [mut] type)) and an export "w" returning
// its bits; compiled once per type and mutability, kept with the wrappers.
function globalReader(type, mut) {
  const key = `global ${type} ${mut}`;
  if (wrappers.has(key)) return wrappers.get(key);
  const body = [0x23, 0x00, type === 'f32' ? 0xbc : 0xbd, 0x0b];
  const bytes = [
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec([functype([], BITS[type])])),
    ...section(2, vec([[...name('m'), ...name('g'), 0x03, TYPE_CODE[type], mut]])),
    ...section(3, vec([[0x00]])),
    ...section(7, vec([[...name('w'), 0x00, 0x00]])),
    ...section(10, vec([[...leb(body.length + 1), 0x00, ...body]])),
  ];
  const module = new WebAssembly.Module(new Uint8Array(bytes));
  wrappers.set(key, module);
  return module;
}

// The spec tests' host module, as the reference interpreter defines it.
// The spec tests' host module as data: the same table as SPECTEST in
// src/engine/session.rs (a unit test there keeps the two equal).
// spectest-begin
const SPECTEST = {
  "print": {"func": []},
  "print_i32": {"func": ["i32"]},
  "print_i64": {"func": ["i64"]},
  "print_f32": {"func": ["f32"]},
  "print_f64": {"func": ["f64"]},
  "print_i32_f32": {"func": ["i32", "f32"]},
  "print_f64_f64": {"func": ["f64", "f64"]},
  "global_i32": {"global": {"i32": 666}},
  "global_i64": {"global": {"i64": "666"}},
  "global_f32": {"global": {"f32": 1143383654}},
  "global_f64": {"global": {"f64": "4649074691427585229"}},
  "table": {"table": {"min": 10, "max": 20, "address": "i32"}},
  "table64": {"table": {"min": 10, "max": 20, "address": "i64"}},
  "memory": {"memory": {"min": 1, "max": 2}}
};
// spectest-end

function makeSpectest() {
  const nop = () => {};
  const out = {};
  for (const [name, item] of Object.entries(SPECTEST)) {
    if (item.func) {
      out[name] = nop;
    } else if (item.global) {
      const [ty, v] = Object.entries(item.global)[0];
      const value = ty === 'i64' ? BigInt(v)
        : ty === 'f32' ? new Float32Array(new Uint32Array([v]).buffer)[0]
        : ty === 'f64' ? new Float64Array(new BigUint64Array([BigInt(v)]).buffer)[0]
        : v;
      out[name] = new WebAssembly.Global({ value: ty }, value);
    } else if (item.table) {
      // A 64-bit table takes BigInt limits (JS API memory64); an engine
      // without them throws, and the item is left out (a link error names it).
      const t = item.table;
      try {
        out[name] = t.address === 'i64'
          ? new WebAssembly.Table({ initial: BigInt(t.min), maximum: BigInt(t.max), element: 'anyfunc', address: 'i64' })
          : new WebAssembly.Table({ initial: t.min, maximum: t.max, element: 'anyfunc' });
      } catch (e) {
        // not made here
      }
    } else if (item.memory) {
      out[name] = new WebAssembly.Memory({ initial: item.memory.min, maximum: item.memory.max });
    }
  }
  return out;
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

// A size in the JS form the case names, else the spec's for the memory's
// address type: a BigInt for i64 memories, a Number for i32 ones. Never
// retried in the other form: an engine that wants the other one fails the
// step, and that is the finding.
// An import's stub (`imports: stub`): a function that throws when called,
// naming the import; a memory, table, global (zero) or tag as declared.
const STUB_VALUE = { i32: 'i32', i64: 'i64', f32: 'f32', f64: 'f64', v128: 'v128', funcref: 'anyfunc', externref: 'externref', anyref: 'anyref' };
function makeStub({ module, name, kind }) {
  const [k, d] = Object.entries(kind)[0];
  switch (k) {
    case 'func':
      return () => { throw new WebAssembly.RuntimeError(`called the stub of import \`${module}.${name}\` (imports: stub)`); };
    case 'memory': {
      const desc = { initial: sized(d.initial, null, d.address) };
      if (d.maximum != null) desc.maximum = sized(d.maximum, null, d.address);
      if (d.shared) desc.shared = true;
      if (d.address === 'i64') desc.address = 'i64';
      if (d.page_size_log2 != null) desc.pageSize = 2 ** d.page_size_log2;
      return new WebAssembly.Memory(desc);
    }
    case 'table': {
      const desc = { element: d.element === 'externref' ? 'externref' : 'anyfunc', initial: sized(d.initial, null, d.address) };
      if (d.maximum != null) desc.maximum = sized(d.maximum, null, d.address);
      if (d.address === 'i64') desc.address = 'i64';
      return new WebAssembly.Table(desc);
    }
    case 'global': {
      const value = STUB_VALUE[d.ty];
      const zero = d.ty === 'i64' ? 0n : (d.ty === 'funcref' || d.ty === 'externref' || d.ty === 'anyref') ? null : 0;
      return new WebAssembly.Global({ value, mutable: d.mutable }, zero);
    }
    case 'tag':
      return new WebAssembly.Tag({ parameters: d.params.map((t) => STUB_VALUE[t]) });
    default:
      throw new Error(d && d.what ? d.what : `no stub for a ${k} import`);
  }
}

function sized(n, form, address) {
  return (form || (address === 'i64' ? 'bigint' : 'number')) === 'bigint' ? BigInt(n) : n;
}

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

// A request's main module: inline (hex in the plan), or by reference: a
// shell reads the file the tool wrote, a page fetches it from the tool's
// loopback server.
async function moduleBytes(req) {
  const m = req.module;
  if (!m) return req.plan.wasm ? hexToBytes(req.plan.wasm) : new Uint8Array(0);
  if (received.has(m.sha256)) return keep(received, m.sha256, received.get(m.sha256), 2);
  let bytes;
  if (typeof window !== 'undefined') {
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
    // The module's hash where it came by reference: its compiled module is kept.
    this.sha256 = sha256;
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
    // The last in-page measure, for `measure_text`.
    this.lastMeasure = null;
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

// An export of the named or current instance: { inst } or { outcome }.
const calls = (run, arg, what, test) => {
  const { inst, outcome } = run.pick(arg.instance);
  if (outcome) return { outcome };
  const x = inst.exports[arg[what === 'global' ? 'global' : 'name']];
  return test(x) ? { x } : { outcome: { kind: 'error', stage: 'call', message: `no exported ${what} \`${arg[what === 'global' ? 'global' : 'name']}\`` } };
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
  compile: async (run) => (await run.compiled(true)).outcome || { kind: 'ok' },
  // Live instances (kept here until the case ends), until one fails.
  instances: async (run, arg) => {
    const c = await run.compiled();
    if (c.outcome) return c.outcome;
    const live = [];
    while (live.length < arg.limit) {
      if ((await run.instantiate(c.module, null, false, live)).kind !== 'ok') break;
    }
    run.held.push(live);
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
    const { x: g, outcome } = calls(run, arg, 'global', (g) => g instanceof WebAssembly.Global);
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
    const { x: f, outcome } = calls(run, arg, 'function', (f) => typeof f === 'function');
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
      ? { kind: 'crash', message: `tool error: the JS harness does not know the step \`${kind}\` (the tool and drivers/harness.js are out of step)` }
      : run.missingMemory(arg) || await step(run, arg, i);
    // The step's own time (the page's clock: coarse where it is clamped).
    const now = performance.now();
    emit(i, outcome, Math.round((now - stepStart) * 1000));
    stepStart = now;
  }
}

// A testharness file (the JS API's own tests): its scripts (the suite's
// testharness.js, the includes, the file) run in a fresh global, a page's
// iframe where there is a document, else a new V8/JSC context (node:vm),
// which testharness.js takes for a JS shell. The outcome is every
// subtest's status and message, and the harness's. Subtests still
// running after `seconds` are timed out by testharness.js itself.
function testharnessResult(tests, status) {
  return {
    kind: 'subtests',
    status: status.status,
    message: status.message == null ? undefined : String(status.message),
    tests: tests.map((t) => ({ name: String(t.name), status: t.status, message: t.message == null ? undefined : String(t.message) })),
  };
}
// What a shell does with a promise rejection nobody handles while a
// testharness file runs: the file's harness error (a page's
// unhandledrejection event does the same), not the process's death.
let strayRejection = null;
// How long a file's results wait for what it leaves behind: a rejection or
// an exception it causes after its last test is done (a compile that
// settles late, a timer) is its own failure, and the wait comes in the order
// timers fire, before the next file starts.
const LATE_MS = 50;
// A rejection later still, after the file was reported: said on stderr, and
// never the death of the process (which would blame the next file).
const lateRejection = (reason) => {
  if (typeof process !== 'undefined' && process.stderr) process.stderr.write(`a promise rejection nobody handled, after its testharness file was reported: ${describe(reason)}\n`);
};
function runTestharness({ scripts, seconds }) {
  return new Promise((resolve) => {
    let finished = false;
    // An exception a script threw (a shell has no onerror to tell the harness).
    let uncaught = null;
    strayRejection = (reason) => {
      const text = `unhandled promise rejection${finished ? ' after the file\'s results were in' : ''}: ${describe(reason)}`;
      uncaught = uncaught ? `${uncaught}; ${text}` : text;
    };
    const finish = (tests, status) => {
      if (finished) return;
      finished = true;
      clearTimeout(guard);
      setTimeout(() => {
        strayRejection = lateRejection;
        // The file's own error first: the harness's word after it is often
        // only a consequence ("done() was called without first defining any
        // tests" after a top-level throw).
        if (uncaught) status = { status: 1, message: status.status && status.message ? `${uncaught}; then the harness said: ${status.message}` : uncaught };
        resolve(testharnessResult(tests, status));
      }, LATE_MS);
    };
    // The last word if the harness never completes (a script that never
    // settles a promise the harness waits on, a frame that never loads).
    const guard = setTimeout(() => finish([], { status: 2, message: `no completion in ${seconds + 5} s` }), (seconds + 5) * 1000);
    // After testharness.js: report completion, and time out what is still
    // running after `seconds` (testharness.js's own timeout()).
    const hook = `add_completion_callback(function (tests, status) { __wasmMatrixDone(tests, status); });\n`
      + `setup({ explicit_timeout: true, output: false });\n`
      + `setTimeout(function () { timeout(); }, ${Math.round(seconds * 1000)});\n`;
    if (typeof document !== 'undefined') {
      const frame = document.createElement('iframe');
      const urls = [];
      const blob = (text) => { const u = URL.createObjectURL(new Blob([text], { type: 'text/javascript' })); urls.push(u); return u; };
      window.__wasmMatrixDone = (tests, status) => {
        const r = [Array.from(tests), status];
        setTimeout(() => { frame.remove(); urls.forEach((u) => URL.revokeObjectURL(u)); }, 0);
        finish(...r);
      };
      const tags = [scripts[0], { text: 'var __wasmMatrixDone = parent.__wasmMatrixDone;\n' + hook }, ...scripts.slice(1)]
        .map((s) => `<script src="${blob(s.text)}"></script>`).join('\n');
      frame.srcdoc = `<!doctype html><meta charset="utf-8"><title>${scripts[scripts.length - 1].name.split('/').pop()}</title>${tags}`;
      frame.style.display = 'none';
      document.body.appendChild(frame);
      return;
    }
    let vm;
    try {
      vm = typeof require === 'function' ? require('node:vm') : process.getBuiltinModule('node:vm');
    } catch (e) {
      finish([], { status: 1, message: `no node:vm to run a testharness file in: ${describe(e)}` });
      return;
    }
    // No window, document or self: testharness.js takes this global for a shell's.
    const sandbox = { console, setTimeout, clearTimeout, setInterval, clearInterval, queueMicrotask, __wasmMatrixDone: finish };
    const ctx = vm.createContext(sandbox);
    try {
      // `self` is the global, as JS shells' test runners define it.
      vm.runInContext('var self = globalThis;', ctx);
      vm.runInContext(scripts[0].text, ctx, { filename: scripts[0].name });
      vm.runInContext(hook, ctx, { filename: 'wasm-matrix' });
    } catch (e) {
      finish([], { status: 1, message: `testharness.js did not load: ${describe(e)}` });
      return;
    }
    for (const s of scripts.slice(1)) {
      try {
        vm.runInContext(s.text, ctx, { filename: s.name });
      } catch (e) {
        // As a page's onerror would: the harness errs, the tests defined so far run.
        uncaught = `uncaught exception in ${s.name.split('/').pop()}: ${describe(e)}`;
        break;
      }
    }
    // A shell has no load event: the file's tests are all defined now.
    try {
      vm.runInContext('done();', ctx);
    } catch (e) {
      finish([], { status: 1, message: `done() failed: ${describe(e)}` });
    }
  });
}

// In-page measures for `wasm-matrix probe` on the JS columns: what a page
// or an isolate can observe from inside. Each resolves to
// { value, extra, message }: the number, a second number where the measure
// has one, and the engine's text of what stopped it (null if nothing did).
const PAGES = { '1gib': 16384, '2gib': 32768, '4gib': 65536 };
const makeMemory = (kind) => {
  switch (kind) {
    case 'i32': return new WebAssembly.Memory({ initial: 1 });
    // The spec's form (BigInt); V8 before its current memory64 API wants a Number.
    case 'i64':
      try {
        return new WebAssembly.Memory({ initial: 1n, address: 'i64' });
      } catch (e) {
        if (!(e instanceof TypeError)) throw e;
        return new WebAssembly.Memory({ initial: 1, address: 'i64' });
      }
    case 'shared': return new WebAssembly.Memory({ initial: 1, maximum: 65536, shared: true });
    default: throw new Error(`unknown memory kind ${kind}`);
  }
};
// A worker that makes a memory of `pages` maximum and grows it there, then
// says how many bytes it holds (or why not), and stays alive.
const WORKER_SOURCE = (pages) => `
  const said = (o) => (typeof postMessage === 'function' ? postMessage(o) : require('worker_threads').parentPort.postMessage(o));
  try {
    const m = new WebAssembly.Memory({ initial: 0, maximum: ${pages} });
    m.grow(${pages});
    said({ bytes: m.buffer.byteLength });
    globalThis.__kept = m;
  } catch (e) {
    said({ message: (e && e.constructor ? e.constructor.name + ': ' : '') + (e && e.message) });
  }
  setInterval(() => {}, 1 << 30);
`;
function startWorker(pages) {
  return new Promise((resolve) => {
    let w;
    const timer = setTimeout(() => resolve({ worker: w, message: 'the worker did not answer in 60 s' }), 60000);
    const done = (m) => { clearTimeout(timer); resolve({ worker: w, ...m }); };
    try {
      if (typeof Worker === 'function') {
        const url = URL.createObjectURL(new Blob([WORKER_SOURCE(pages)], { type: 'text/javascript' }));
        // Deno runs module workers only; browsers and Bun take either.
        w = new Worker(url, typeof Deno !== 'undefined' ? { type: 'module' } : undefined);
        w.onmessage = (ev) => done(ev.data);
        w.onerror = (ev) => { if (ev.preventDefault) ev.preventDefault(); done({ message: `worker error: ${ev.message || ev}` }); };
      } else {
        const { Worker: NodeWorker } = require('worker_threads');
        w = new NodeWorker(WORKER_SOURCE(pages), { eval: true });
        w.on('message', done);
        w.on('error', (e) => done({ message: `worker error: ${describe(e)}` }));
      }
    } catch (e) {
      done({ message: describe(e) });
    }
  });
}
const IN_PAGE = {
  // Live 1-page memories until construction fails (20,000 or 60 s at most).
  async coexisting_memories_in_page(kind) {
    const live = [];
    let message = null;
    const t0 = performance.now();
    while (live.length < 20000 && !(live.length % 64 === 0 && performance.now() - t0 > 60000)) {
      try {
        live.push(makeMemory(kind));
      } catch (e) {
        message = describe(e);
        break;
      }
    }
    return { value: live.length, extra: performance.now() - t0, message };
  },
  // Workers each holding a memory of SIZE maximum grown to it, until one
  // fails (16 at most); extra: the bytes the first one holds.
  async workers_with_memory(size) {
    const workers = [];
    let message = null, bytes = null;
    try {
      while (workers.length < 16) {
        const r = await startWorker(PAGES[size]);
        if (r.worker) workers.push(r.worker);
        if (r.bytes == null) {
          message = r.message || 'no answer';
          break;
        }
        if (bytes === null) bytes = r.bytes;
      }
    } finally {
      for (const w of workers) w.terminate();
    }
    return { value: message === null ? workers.length : workers.length - 1, extra: bytes, message };
  },
  // The grow's wall time inside the engine (ms).
  async grow_cost_in_page(size) {
    const m = new WebAssembly.Memory({ initial: 0 });
    const t0 = performance.now();
    try {
      m.grow(PAGES[size]);
    } catch (e) {
      return { value: null, extra: performance.now() - t0, message: describe(e) };
    }
    return { value: performance.now() - t0, extra: m.buffer.byteLength, message: null };
  },
  // A shared memory where the page is not cross-origin isolated: value 1 if
  // new Memory({shared}) works, extra 1 if a module's shared memory
  // instantiates; the message says what each did, and what the page has.
  async shared_without_isolation() {
    const said = [];
    const tryIt = (what, f) => {
      try {
        const r = f();
        said.push(`${what}: ok${r === undefined ? '' : ` (${r})`}`);
        return 1;
      } catch (e) {
        said.push(`${what}: ${describe(e)}`);
        return 0;
      }
    };
    const value = tryIt('new Memory({shared, initial 1, maximum 2})', () => `buffer is ${new WebAssembly.Memory({ initial: 1, maximum: 2, shared: true }).buffer.constructor.name}`);
    tryIt('new Memory({shared, initial 1}) without maximum', () => { new WebAssembly.Memory({ initial: 1, shared: true }); });
    // (module (memory (export "m") 1 2 shared))
    const bytes = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 5, 4, 1, 3, 1, 2, 7, 5, 1, 1, 109, 2, 0]);
    const extra = tryIt('a module with (memory 1 2 shared)', () => { new WebAssembly.Instance(new WebAssembly.Module(bytes), {}); });
    said.push(`SharedArrayBuffer ${typeof SharedArrayBuffer === 'undefined' ? 'undefined' : 'defined'}`);
    if (typeof crossOriginIsolated !== 'undefined') said.push(`crossOriginIsolated ${crossOriginIsolated}`);
    return { value, extra, message: said.join('; ') };
  },
};

// Runs requests one after another; returns the protocol events (pushed
// into `events` as they come). With `yieldMs`, the event loop gets a turn
// between cases that often.
async function runBatch(requests, yieldMs = Infinity, events = []) {
  let since = performance.now();
  for (const req of requests) {
    if (performance.now() - since > yieldMs) {
      await macrotask();
      since = performance.now();
    }
    const t0 = performance.now();
    try {
      await runCase(req, (index, outcome, us) => events.push({ step: { id: req.id, index, outcome, us } }));
    } catch (e) {
      events.push({ step: { id: req.id, index: 0, outcome: { kind: 'crash', message: `tool error: the harness failed: ${describe(e)}` } } });
    }
    const done = { id: req.id, us: Math.round((performance.now() - t0) * 1000) };
    if (typeof self !== 'undefined' && 'crossOriginIsolated' in self) done.cross_origin_isolated = self.crossOriginIsolated === true;
    events.push({ done });
  }
  return events;
}

// A turn of the page's event loop (a message to itself: no timer clamping).
// One channel for all (a channel per turn piled up in WebKit and slowed
// every later case), made on first use (an open port keeps Node alive).
let tick = null;
const ticks = [];
const macrotask = () => new Promise((resolve) => {
  if (!tick) {
    tick = new MessageChannel();
    tick.port1.onmessage = () => ticks.shift()();
  }
  ticks.push(resolve);
  tick.port2.postMessage(null);
});

// Batches in a pipeline (the browsers' side of the tool): `pipe(requests,
// keep, waitMs)` queues a batch behind the ones still running; then, while
// no more than `keep` batches are unanswered, it answers null at once, and
// else with `{ events, done }` for the oldest unanswered batch: its events
// since the last answer, when the batch is done or after `waitMs`, whichever
// comes first (so the tool sees a long batch's progress, and tells a case
// that hangs from a batch that is slow). The tool hands the page its next
// batch while the last one runs. A batch gives the event loop a turn every
// 4 ms: only then do the driver's answer and its next command get through
// (Chrome sent the answer to a call only when the page went idle, so the
// page waited for the round trip anyway).
const unanswered = [];
let tail = Promise.resolve();
function pipe(requests, keep, waitMs) {
  if (requests) {
    const batch = { events: [], done: false };
    batch.run = tail.then(() => runBatch(requests, 4, batch.events)).then(() => { batch.done = true; });
    tail = batch.run.catch(() => {});
    unanswered.push(batch);
  }
  if (unanswered.length <= keep) return Promise.resolve(null);
  const oldest = unanswered[0];
  let timer;
  const waited = new Promise((resolve) => { timer = setTimeout(resolve, waitMs); });
  return Promise.race([oldest.run, waited]).then(() => {
    clearTimeout(timer);
    if (oldest.done) unanswered.shift();
    return { events: oldest.events.splice(0), done: oldest.done };
  });
}

if (typeof window !== 'undefined') {
  window.wasmMatrix = {
    runBatch,
    pipe,
    info: () => ({ crossOriginIsolated: self.crossOriginIsolated === true, userAgent: navigator.userAgent }),
  };
} else if (typeof process !== 'undefined' && process.stdin && process.stdout) {
  const out = (ev) => process.stdout.write(JSON.stringify(ev) + '\n');
  process.on('unhandledRejection', (reason) => {
    if (strayRejection) return strayRejection(reason);
    // Outside a testharness file, as a shell does by default: the process dies.
    process.stderr.write(`unhandled promise rejection: ${describe(reason)}\n`);
    process.exit(1);
  });
  out({ ready: { engine: 'js', version: process.version } });
  const queue = [];
  let busy = false;
  let closed = false;
  const pump = async () => {
    if (busy) return;
    busy = true;
    while (queue.length) {
      const req = JSON.parse(queue.shift());
      const t0 = performance.now();
      try {
        await runCase(req, (index, outcome, us) => out({ step: { id: req.id, index, outcome, us } }));
      } catch (e) {
        out({ step: { id: req.id, index: req.from || 0, outcome: { kind: 'crash', message: `tool error: the harness failed: ${describe(e)}` } } });
      }
      out({ done: { id: req.id, us: Math.round((performance.now() - t0) * 1000) } });
    }
    busy = false;
    if (closed) process.exit(0);
  };
  // Lines from stdin, without `require` (the same code runs where only the
  // `process` global is Node-compatible).
  let pending = '';
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', (chunk) => {
    pending += chunk;
    let nl;
    while ((nl = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      if (line.trim()) queue.push(line);
    }
    pump();
  });
  process.stdin.on('end', () => {
    closed = true;
    if (!busy) process.exit(0);
  });
}
