// wasm-matrix JS harness, part 3 of 6 (see values.js): a toolchain's JS
// glue (the case's `glue`), where users see the errors: an Emscripten
// MODULARIZE build's factory, Go's wasm_exec.js. The glue gets the case's
// module as bytes (Emscripten's `wasmBinary`; Go's `WebAssembly.instantiate`
// with `go.importObject`), so it loads the same module on every column;
// what it prints (`print`, `printErr`, `onAbort`, and console lines while
// it runs: Go writes its stderr with console.log) is kept for `glue_output`
// and never reaches the harness's own stdout.

// Evaluates a loader's text as CommonJS does (Node loads these files with
// `require`, browsers with a <script>: either way the file's own code runs
// with these names), and gives back what it exports.
function evaluateGlue(script) {
  const module = { exports: {} };
  const req = typeof require === 'function' ? require : undefined;
  // eslint-disable-next-line no-new-func
  const f = new Function('module', 'exports', 'require', '__filename', '__dirname', script);
  f.call(globalThis, module, module.exports, req, '/glue.js', '/');
  return module.exports;
}

// Runs `f` with the console's lines kept in `lines` (Go's wasm_exec.js
// writes the program's stdout and stderr with console.log).
async function keepingConsole(lines, f) {
  const saved = {};
  for (const k of ['log', 'info', 'warn', 'error']) {
    saved[k] = console[k];
    console[k] = (...a) => lines.push(`console.${k}: ${a.map(String).join(' ')}`);
  }
  try {
    return await f();
  } finally {
    Object.assign(console, saved);
  }
}

// Where the glue finds a file it loads by name (`locateFile`) and its own
// script for the threads it starts (`mainScriptUrlOrBlob`): a shell's
// Worker takes a file, so the shells get the paths on disk; a page (or its
// worker) gets blob: URLs of the texts, as a site would serve them.
function glueFiles(glue) {
  const files = new Map();
  for (const f of glue.files || []) {
    files.set(f.name, IN_BROWSER ? URL.createObjectURL(new Blob([f.script], { type: 'text/javascript' })) : f.path);
  }
  const main = IN_BROWSER ? new Blob([glue.script], { type: 'text/javascript' }) : glue.path;
  return { locate: (path) => files.get(path) || path, main };
}

const GLUE_START = {
  emscripten: async (run, glue) => {
    const exported = evaluateGlue(glue.script);
    const factory = typeof exported === 'function' ? exported : globalThis[glue.factory];
    if (typeof factory !== 'function') return { kind: 'error', stage: 'instantiate', code: 'glue', message: `the glue defines no factory \`${glue.factory}\`` };
    const lines = run.glueLines;
    const files = glueFiles(glue);
    const M = await factory({
      wasmBinary: run.bytes,
      print: (s) => lines.push(`print: ${s}`),
      printErr: (s) => lines.push(`printErr: ${s}`),
      onAbort: (what) => lines.push(`onAbort: ${what}`),
      locateFile: files.locate,
      mainScriptUrlOrBlob: files.main,
    });
    run.glue = { call: (name, args) => {
      const f = M[`_${name}`];
      if (typeof f !== 'function') throw new TypeError(`the module exports no function _${name} through its glue`);
      return f(...args);
    } };
    return { kind: 'ok' };
  },
  go: async (run, glue) => {
    evaluateGlue(glue.script);
    if (typeof globalThis.Go !== 'function') return { kind: 'error', stage: 'instantiate', code: 'glue', message: 'wasm_exec.js defined no Go class' };
    const go = new globalThis.Go();
    const { instance } = await WebAssembly.instantiate(run.bytes, go.importObject);
    const lines = run.glueLines;
    // The program runs until it blocks (its functions set on globalThis) or
    // exits; run() settles when it exits.
    go.run(instance).then(() => lines.push(`exited: ${go.exited ? 'yes' : 'no'}`), (e) => lines.push(`run failed: ${describe(e)}`));
    run.glue = { call: (name, args) => {
      const f = globalThis[name];
      if (typeof f !== 'function') throw new TypeError(`the Go program set no function ${name} on globalThis`);
      return f(...args);
    } };
    return { kind: 'ok' };
  },
};

Object.assign(STEPS, {
  glue_start: async (run) => {
    const glue = run.plan.glue;
    run.glueLines = run.glueLines || [];
    const start = glue && GLUE_START[glue.kind];
    if (!start) return { kind: 'crash', message: `tool error: no glue of kind ${glue && glue.kind} in the JS harness` };
    try {
      return await keepingConsole(run.glueLines, () => start(run, glue));
    } catch (e) {
      return e instanceof WebAssembly.RuntimeError ? trap(e) : error('instantiate', e);
    }
  },
  glue_call: async (run, arg) => {
    if (!run.glue) return { kind: 'skipped', message: 'the glue did not start' };
    try {
      const r = await keepingConsole(run.glueLines, () => run.glue.call(arg.name, arg.args));
      // A function without a result (or a Go program that exited during the call).
      if (r === undefined) return { kind: 'ok' };
      return { kind: 'returns', values: [toVal(Number(r), 'f64')] };
    } catch (e) {
      return e instanceof WebAssembly.RuntimeError ? trap(e) : error('call', e);
    }
  },
  glue_output: (run) => {
    const lines = (run.glueLines || []).splice(0);
    return lines.length ? { kind: 'error', stage: 'call', code: 'glue', message: lines.join('\n') } : { kind: 'ok' };
  },
});
