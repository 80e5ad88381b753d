// A plain run of one testharness file, to check wasm-matrix's counts
// against (scripts/js-api-plain.py drives it): the suite's testharness.js,
// the file's META scripts and the file, evaluated as one global script by
// indirect eval in the shell's main realm, nothing of wasm-matrix's harness.
// Runs on Node, Deno and Bun: `SHELL js-api-plain.js SECONDS FILE...`.
// Prints one JSON line: {"status", "message", "tests": [{"name", "status"}]}.
const argv = typeof Deno !== 'undefined' ? Deno.args : process.argv.slice(2);
const read = typeof Deno !== 'undefined' ? (p) => Deno.readTextFileSync(p) : (p) => require('fs').readFileSync(p, 'utf8');
const say = (line) => (typeof Deno !== 'undefined' ? console.log(line) : process.stdout.write(line + '\n'));
// Done once the results are said: the harness's own timeout timer would
// hold the shell for its whole length.
const exit = () => (typeof Deno !== 'undefined' ? Deno.exit(0) : process.exit(0));
const seconds = Number(argv[0]);
const [harness, ...rest] = argv.slice(1);
let said = false;
// A promise rejection nobody handled, before the results or in the 50 ms
// after: the file's harness error, as the tool charges it.
let rejected = null;
const onRejection = (reason) => { rejected = rejected || String(reason); };
if (typeof Deno !== 'undefined') globalThis.addEventListener('unhandledrejection', (e) => { e.preventDefault(); onRejection(e.reason); });
else process.on('unhandledRejection', onRejection);
globalThis.__plainDone = (tests, status) => {
  if (said) return;
  said = true;
  const tests_ = Array.from(tests).map((t) => ({ name: String(t.name), status: t.status }));
  // As the tool does, a file's late failures are given 50 ms to show.
  setTimeout(() => {
    say(JSON.stringify({ status: status.status, message: status.message == null ? null : String(status.message), rejected, tests: tests_ }));
    exit();
  }, 50);
};
const hook = 'add_completion_callback(function (tests, status) { __plainDone(tests, status); });\n'
  + 'setup({ explicit_timeout: true, output: false });\n'
  + `setTimeout(function () { timeout(); }, ${Math.round(seconds * 1000)});\n`;
const source = ['var self = globalThis;', read(harness), hook, ...rest.map(read), 'done();'].join('\n;\n');
try {
  (0, eval)(source);
} catch (e) {
  globalThis.__plainDone([], { status: 1, message: `threw at the top level: ${e}` });
}
