// wasm-matrix probe script for the JS shells (Node, Deno, Bun): the
// measures a page cannot make, observed from outside the shell's process
// (its /proc status, its rlimits) by `wasm-matrix probe`.
//
//   SHELL probe.cjs coexist KIND -    says "before", waits for a line (the tool may limit the process's
//                                     address space then), makes live 1-page memories until one fails
//                                     (stops at 20,000 or after 60 s), says the count, waits
//   SHELL probe.cjs reserve KIND N    says "before", waits for a line, makes N live memories, says "after", waits
//   SHELL probe.cjs grow PAGES -      a 0-page memory (i64 above 4 GiB); says "before", waits, grows, says the time
//
// KIND: i32, i64 or shared. Every line out is one JSON object.
'use strict';

// Always three words after the script ("-" for none).
const [mode, kind, arg] = process.argv.slice(-3);

function describe(e) {
  if (e && typeof e === 'object' && e.constructor) return `${e.constructor.name}: ${e.message}`;
  return String(e);
}

function make(kind, initial) {
  switch (kind) {
    case 'i32': return new WebAssembly.Memory({ initial });
    case 'i64': return new WebAssembly.Memory({ initial: BigInt(initial), address: 'i64' });
    case 'shared': return new WebAssembly.Memory({ initial, maximum: 65536, shared: true });
    default: throw new Error(`unknown kind ${kind}`);
  }
}

const say = (o) => process.stdout.write(JSON.stringify(o) + '\n');

// Resolves on each line of stdin; `end` on its end.
let waiting = [];
let buffered = '';
process.stdin.on('data', (chunk) => {
  buffered += chunk;
  while (buffered.includes('\n')) {
    buffered = buffered.slice(buffered.indexOf('\n') + 1);
    const w = waiting.shift();
    if (w) w();
  }
});
const line = () => new Promise((resolve) => waiting.push(resolve));
const live = [];

(async () => {
  if (mode === 'coexist') {
    // Some engines (V8 in Deno) slow down past their address space instead
    // of failing: the count stops after 60 s too.
    let message = null, stopped = null;
    say({ at: 'before' });
    await line();
    const t0 = performance.now();
    while (live.length < 20000) {
      if (live.length % 64 === 0 && performance.now() - t0 > 60000) {
        stopped = 'time';
        break;
      }
      try {
        live.push(make(kind, 1));
      } catch (e) {
        message = describe(e);
        break;
      }
    }
    say({ count: live.length, message, stopped });
    await line();
  } else if (mode === 'reserve') {
    say({ at: 'before' });
    await line();
    try {
      for (let i = 0; i < Number(arg); i++) live.push(make(kind, 1));
      say({ at: 'after' });
    } catch (e) {
      say({ error: describe(e) });
    }
    await line();
  } else if (mode === 'grow') {
    const pages = Number(kind);
    let m;
    try {
      m = make(pages > 65536 ? 'i64' : 'i32', 0);
    } catch (e) {
      say({ error: describe(e) });
      process.exit(0);
    }
    say({ at: 'before' });
    await line();
    const t0 = performance.now();
    try {
      m.grow(pages > 65536 ? BigInt(pages) : pages);
      say({ ms: performance.now() - t0 });
    } catch (e) {
      say({ error: describe(e) });
    }
    await line();
  }
  process.exit(0);
})();
