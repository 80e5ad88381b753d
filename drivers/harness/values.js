// wasm-matrix JS harness: runs cases with the WebAssembly JS API. One script
// serves the JS shells (Node, Deno, Bun: `node harness.cjs`, the worker line
// protocol on stdin/stdout)
// and the browsers (harness.html loads it; the tool calls
// `wasmMatrix.pipe(requests, keep)` through WebDriver's execute_async).
// It is written in six files by job, which the tool concatenates in this
// order (src/engine/js.rs) into the one script it writes for the shells and
// serves to the browsers: values.js (wire values, the bits wrappers,
// spectest, import stubs), case.js (one case, step by step), glue.js (a
// toolchain's JS glue: Emscripten, Go), testharness-run.js (a testharness file), measures.js (probe's in-page
// measures), main.js (batches, the pipeline, the shells' protocol loop).
//
// It reports what the engine did and said, verbatim; it never classifies.
// Which error kind a text means is decided in Rust (src/outcome.rs).
'use strict';

const PAGE = 65536;
// A dedicated worker of the harness page (see `runInWorker` in main.js):
// a classic worker has importScripts, a shell's main realm does not.
const IN_PAGE_WORKER = typeof importScripts === 'function' && typeof window === 'undefined';
// The harness page or its worker (files come from the tool's server), as
// against a shell (files are on disk).
const IN_BROWSER = typeof window !== 'undefined' || IN_PAGE_WORKER;
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
