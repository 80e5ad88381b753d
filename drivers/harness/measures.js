// wasm-matrix JS harness, part 5 of 6 (see values.js): probe's in-page
// measures.

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
