// wasm-matrix JS harness, part 5 of 5 (see values.js): batches, the
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
