// Runs one invocation of the official MCP conformance suite (server mode)
// against a fresh conformance-server, and fails unless every check passed.
//
// Usage: node run.mjs SERVER PACKAGE [--expect=CHECK...] [SUITE ARGS...]
//   SERVER   the conformance-server executable
//   PACKAGE  the suite's package under tests/interop/node_modules
//            ("conformance-0.1", "conformance-0.2")
//   --expect=CHECK  a check id that must be among the passed checks: some
//            scenarios only report INFO when a feature is not exercised at
//            all (an SSE-polling scenario answered with plain JSON), so the
//            features we must have are named here
//   SUITE ARGS  passed to `conformance server` (--requirements, --spec-version)
//
// Steps, each bounded in time: start the server on 127.0.0.1:0 and read the
// address it prints; run the suite with --output-dir; count the statuses of
// every check in the checks.json files it wrote (scored or not: a failure
// anywhere fails this test, and so does a warning, a scenario timeout, a
// suite exit code other than 0 or a summary that disagrees with the files);
// stop the server by PID with SIGTERM and require a clean exit (status 0, so
// sanitizer reports fail the test too). Nothing is left running: every
// child is killed by PID on every path out.
//
// SPDX-License-Identifier: MIT
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const START_MS = 15000;      // the server prints its address
const SUITE_MS = 480000;     // one whole suite run (meson's timeout is 600 s)
const STOP_MS = 15000;       // graceful stop, sanitizer reports included

const [server, pkg, ...rest] = process.argv.slice(2);
const expected = rest.filter((a) => a.startsWith('--expect=')).map((a) => a.slice(9));
const suiteArgs = rest.filter((a) => !a.startsWith('--expect='));
if (!server || !pkg) {
  console.error('usage: run.mjs SERVER PACKAGE [--expect=CHECK...] [SUITE ARGS...]');
  process.exit(2);
}
const here = dirname(fileURLToPath(import.meta.url));
const cli = resolve(here, '../interop/node_modules', pkg, 'dist/index.js');
const children = new Set();

function start(cmd, args) {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  child.done = new Promise((res) => child.on('exit', (code, signal) => {
    children.delete(child);
    res({ code, signal });
  }));
  return child;
}

function killAll() {
  for (const c of children) c.kill('SIGKILL');
}
process.on('exit', killAll);

function within(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, rej) => {
    timer = setTimeout(() => rej(new Error(`${what}: no result within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

// Starts the server; resolves with its URL.
async function startServer() {
  const srv = start(server, ['--listen', '127.0.0.1:0']);
  let err = '';
  srv.stderr.on('data', (d) => { err += d; process.stderr.write(d); });
  const url = await within(new Promise((res, rej) => {
    let out = '';
    srv.stdout.on('data', (d) => {
      out += d;
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) res(m[1]);
    });
    srv.done.then((r) => rej(new Error(`server exited early (${r.code ?? r.signal}): ${err}`)));
  }), START_MS, 'server start');
  return { srv, url };
}

// Every checks.json under dir, flattened.
function readChecks(dir) {
  const checks = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) checks.push(...readChecks(p));
    else if (name === 'checks.json') {
      for (const c of JSON.parse(readFileSync(p, 'utf8'))) checks.push({ ...c, file: p });
    }
  }
  return checks;
}

async function main() {
  const out = mkdtempSync(join(tmpdir(), 'pw-conformance-'));
  const { srv, url } = await startServer();
  let failed = false;
  try {
    const suite = start(process.execPath,
      [cli, 'server', '--url', url, '--output-dir', out, ...suiteArgs]);
    let text = '';
    suite.stdout.on('data', (d) => { text += d; process.stdout.write(d); });
    suite.stderr.on('data', (d) => process.stderr.write(d));
    const r = await within(suite.done, SUITE_MS, `conformance ${suiteArgs.join(' ')}`);

    const checks = readChecks(out);
    const count = (s) => checks.filter((c) => c.status === s).length;
    const passed = count('SUCCESS');
    const failures = checks.filter((c) => c.status === 'FAILURE');
    const warnings = checks.filter((c) => c.status === 'WARNING');
    // "Total: P passed, F failed" after a suite, "Passed: P/N, F failed" after one scenario.
    const total = /Total: (\d+) passed, (\d+) failed/.exec(text) ??
      /Passed: (\d+)\/\d+, (\d+) failed/.exec(text);
    console.log(`\nconformance (${pkg} ${suiteArgs.join(' ') || 'active suite'}): ` +
      `${passed} passed, ${failures.length} failed, ${warnings.length} warnings, ` +
      `${count('SKIPPED')} skipped, ${count('INFO')} info, in ${checks.length} checks`);
    for (const c of [...failures, ...warnings]) {
      console.log(`  ${c.status} ${c.id}: ${c.errorMessage ?? c.description} (${c.file})`);
    }
    if (r.code !== 0) { console.log(`suite exited with ${r.code ?? r.signal}`); failed = true; }
    if (!total || Number(total[1]) !== passed || Number(total[2]) !== failures.length) {
      console.log('the suite\'s summary does not match its checks.json files'); failed = true;
    }
    for (const id of expected) {
      if (!checks.some((c) => c.id === id && c.status === 'SUCCESS')) {
        console.log(`  expected check ${id} did not pass`);
        failed = true;
      }
    }
    if (passed === 0 || failures.length || warnings.length) failed = true;
  } finally {
    srv.kill('SIGTERM');
    const r = await within(srv.done, STOP_MS, 'server stop').catch((e) => {
      srv.kill('SIGKILL');
      return { error: e.message };
    });
    if (r.code !== 0) {
      console.log(`server did not stop cleanly: ${JSON.stringify(r)}`);
      failed = true;
    }
    rmSync(out, { recursive: true, force: true });
  }
  return failed ? 1 : 0;
}

main().then((code) => process.exit(code), (e) => {
  console.error(`conformance: ${e.message}`);
  process.exit(1);
});
