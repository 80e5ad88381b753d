// wasm-matrix JS harness, part 6 of 6 (see values.js): batches, the
// browsers' pipeline, and the shells' line protocol on stdin/stdout.

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
    batch.run = tail.then(() => runInPage(requests, batch.events)).then(() => { batch.done = true; });
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

// In a page, cases run in a dedicated worker of the page, so that a case
// that never returns (a wasm loop) cannot hang the page: past its limit
// (`limit_ms`, from the tool) the page terminates the worker, answers
// `timeout` for the step in progress and `skipped` for the rest, and goes
// on in a fresh worker. The page stays free to answer its driver, so the
// session can always be closed: a driver answers no command, its DELETE
// included, while the page's own script spins (chromedriver, on a Grid's
// node too). A testharness file needs the page (its iframe), and probe's
// in-page measures are the page's: cases with those run in the page.
const HARNESS_URL = typeof document !== 'undefined' && document.currentScript ? document.currentScript.src : null;
const pageOnly = (req) => (req.plan.actions || []).some((a) => a && typeof a === 'object' && ('testharness' in a || 'measure' in a));
const inWorker = (req) => Boolean(HARNESS_URL) && typeof Worker === 'function' && !pageOnly(req);

// Runs `requests` in order: each run of consecutive cases that can go to
// the case worker there (a run of a large module's cases on its own), the
// others in the page.
async function runInPage(requests, events) {
  const large = (req) => (req.module ? req.module.sha256 : null);
  const key = (req) => (inWorker(req) ? `worker ${large(req) || ''}` : 'page');
  let i = 0;
  while (i < requests.length) {
    const here = key(requests[i]);
    let j = i;
    while (j < requests.length && key(requests[j]) === here) j += 1;
    const run = requests.slice(i, j);
    if (here === 'page') await runBatch(run, 4, events);
    else {
      recycleCaseWorker(large(requests[i]));
      await runInWorker(run, events);
    }
    i = j;
  }
}

let caseWorker = null;
// The large module (by hash) the case worker has run cases of, if any.
let caseWorkerModule = null;

// A case worker that ran a large module's cases ends when cases of another
// module come: with the module's compiled code it holds what those cases
// left for a garbage collector that Firefox and WebKit pages cannot call
// (WebKit's web process held 2 GB between an audit's modules); a fresh
// worker costs milliseconds. Consecutive cases of the module keep it (and
// its compiled module).
function recycleCaseWorker(sha) {
  if (caseWorker && caseWorkerModule && caseWorkerModule !== sha) {
    caseWorker.terminate();
    caseWorker = null;
  }
  if (sha || !caseWorker) caseWorkerModule = sha;
}
function runInWorker(requests, events) {
  return new Promise((resolve) => {
    let at = 0; // the request running
    let next = 0; // its next step
    let timer = null;
    const arm = () => {
      clearTimeout(timer);
      if (at >= requests.length) return;
      next = requests[at].from || 0;
      const limit = requests[at].limit_ms;
      if (limit > 0) timer = setTimeout(() => stop('timeout', `no answer in ${limit / 1000} s; the page stopped the worker the case ran in`), limit);
    };
    // Ends the case running with `kind` for its step in progress, skipped
    // for the rest, and goes on in a fresh worker.
    const stop = (kind, message) => {
      clearTimeout(timer);
      if (caseWorker) caseWorker.terminate();
      caseWorker = null;
      const req = requests[at];
      const n = (req.plan.actions || []).length;
      for (let k = next; k < Math.max(n, next + 1); k += 1) {
        const outcome = k === next ? { kind, message } : { kind: 'skipped', message: 'an earlier step failed fatally' };
        events.push({ step: { id: req.id, index: k, outcome } });
      }
      events.push({ done: { id: req.id, us: 0 } });
      at += 1;
      start();
    };
    const start = () => {
      if (at >= requests.length) {
        resolve();
        return;
      }
      if (!caseWorker) caseWorker = new Worker(HARNESS_URL);
      caseWorker.onmessage = (e) => {
        const ev = e.data;
        events.push(ev);
        if (ev.step && ev.step.id === requests[at].id) next = ev.step.index + 1;
        if (ev.done) {
          at += 1;
          if (at >= requests.length) {
            clearTimeout(timer);
            resolve();
          } else {
            arm();
          }
        }
      };
      caseWorker.onerror = (e) => {
        if (e.preventDefault) e.preventDefault();
        stop('crash', `tool error: the page's case worker failed: ${e.message || e}`);
      };
      arm();
      caseWorker.postMessage({ wasmMatrixBatch: requests.slice(at) });
    };
    start();
  });
}

if (typeof window !== 'undefined') {
  window.wasmMatrix = {
    runBatch,
    pipe,
    info: () => ({ crossOriginIsolated: self.crossOriginIsolated === true, userAgent: navigator.userAgent }),
  };
} else if (IN_PAGE_WORKER) {
  // The page's case worker (see `runInWorker`): a batch in, its events out
  // one message each as they come.
  self.onmessage = (e) => {
    if (e.data && e.data.wasmMatrixBatch) runBatch(e.data.wasmMatrixBatch, Infinity, { push: (ev) => postMessage(ev) });
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
      // The runner is done with a large module's cases for now (the
      // tool's FORGET_LINE): not a case, nothing is answered.
      if (req.forget) {
        forgetModules();
        continue;
      }
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
