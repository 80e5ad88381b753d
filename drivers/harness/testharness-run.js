// wasm-matrix JS harness, part 4 of 6 (see values.js): a testharness
// file of the JS API's own tests, in a fresh global.

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
