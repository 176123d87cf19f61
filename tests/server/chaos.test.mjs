// Network chaos against a real `pennyworth serve`: for a bounded time and
// number of cases, many concurrent connections send mutated and random
// HTTP requests to every route (split across writes at random points,
// pipelined, truncated, oversized heads, bogus methods and versions, bad
// Content-Length, bodies on GET and DELETE, bytes after bodies, chunked
// coding) and WebSocket frames (mutated, fragmented, bad opcodes and
// masks, oversized length fields, random close codes) (lib/chaos.mjs),
// while a well-behaved client keeps being served: MCP tools/call over
// WebSocket and over HTTP, and GET /health.
//
// The server must never die; every round of the well-behaved client must
// succeed within ROUND_MS; once the chaos stops its open fds must return
// to the baseline (polled, bounded) and its CPU use to idle (utime + stime
// from /proc/PID/stat over a window: a loop that spins shows as a whole
// core).
//
// Everything random comes from one seed, printed at the start; a case is a
// function of (seed, case number), so a failure replays:
//   PW_CHAOS_SEED=N            the same cases (the interleaving of the
//                              concurrent connections differs)
//   PW_CHAOS_CASES=3,17        only these cases, one at a time, each printed
//   PW_CHAOS_SECONDS=300       run longer by hand (default 20); give meson
//                              room: meson test -t 10 server-chaos
//   PW_CHAOS_CONNS, PW_CHAOS_MAX_CASES   concurrency (50), case bound
// /v1 calls go to a closed local port (OPENAI_BASE_URL and the Bedrock
// endpoint, with made-up credentials), so they fail fast upstream (502).

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { randomInt } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import {
  LATEST, startServer, rawHttp, rawWs, initialize, request, notification, fdCount, waitFor, sleep, JSON_HEADERS,
  settledFds,
} from './lib/harness.mjs';
import { makeCase, describeCase, play } from './lib/chaos.mjs';

const env = process.env;
const SECONDS = Number(env.PW_CHAOS_SECONDS ?? 20);
const SEED = env.PW_CHAOS_SEED !== undefined ? Number(env.PW_CHAOS_SEED) >>> 0 : randomInt(2 ** 32);
const CONNS = Number(env.PW_CHAOS_CONNS ?? 50);
const MAX_CASES = Number(env.PW_CHAOS_MAX_CASES ?? 100_000);
const ONLY = env.PW_CHAOS_CASES ? env.PW_CHAOS_CASES.split(',').map(Number) : null;

// Generous for a slow 2-core machine under ASan: a round is three small
// requests that take milliseconds when the server is healthy.
const ROUND_MS = 2000;
// The server's own timers (MCP ticks, catalog polls, WebSocket pings) cost
// next to nothing; a spinning loop costs a whole core.
const IDLE_CPU = 0.2;
const FD_WAIT_MS = 30_000;

function cpuTicks(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(f[11]) + Number(f[12]); // utime, stime (fields 14, 15)
}

const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' })) || 100;
  } catch {
    return 100;
  }
})();

// The share of one core the process used over `ms`.
async function cpuShare(pid, ms) {
  const t0 = performance.now();
  const c0 = cpuTicks(pid);
  await sleep(ms);
  return (cpuTicks(pid) - c0) / CLK_TCK / ((performance.now() - t0) / 1000);
}

// A port nothing listens on.
async function closedPort() {
  const s = net.createServer();
  await new Promise((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address();
  await new Promise((r) => s.close(r));
  return port;
}


async function httpSession(port) {
  const init = await rawHttp(port, 'POST', '/mcp', JSON_HEADERS, JSON.stringify(initialize(LATEST, 1)));
  assert.equal(init.status, 200, init.body);
  const sid = init.headers['mcp-session-id'];
  const n = await rawHttp(port, 'POST', '/mcp', { ...JSON_HEADERS, 'mcp-session-id': sid, 'mcp-protocol-version': LATEST },
    JSON.stringify(notification('notifications/initialized')));
  assert.equal(n.status, 202);
  return sid;
}

// The well-behaved client: rounds of a tools/call over WebSocket, one over
// HTTP and GET /health, until stop(). Resolves {rounds, worst, errors,
// broke: {after, before}}: the first failed round began at `before`, the
// last good one before it ended at `after` (performance.now() times).
async function wellBehaved(port) {
  const { ws } = await rawWs(port);
  ws.send(initialize(LATEST, 1));
  assert.equal((await ws.nextMessage()).id, 1);
  ws.send(notification('notifications/initialized'));
  const sid = await httpSession(port);
  let running = true;
  let id = 100;
  const stats = { rounds: 0, worst: 0, errors: [], broke: null };
  let lastOk = performance.now();
  const round = async () => {
    const wsId = ++id;
    ws.send(request('tools/call', { name: 'get_product', arguments: { id: '3' } }, wsId));
    let a;
    do a = await ws.nextMessage(ROUND_MS * 5); while (a && a.id !== wsId); // skips notifications
    assert.ok(a, 'the WebSocket closed');
    assert.ok(a.result && !a.result.isError, JSON.stringify(a));
    const httpId = ++id;
    const b = await rawHttp(port, 'POST', '/mcp', { ...JSON_HEADERS, 'mcp-session-id': sid, 'mcp-protocol-version': LATEST },
      JSON.stringify(request('tools/call', { name: 'search_products', arguments: { query: 'phone', limit: 5 } }, httpId)),
      ROUND_MS * 5);
    assert.equal(b.status, 200, b.body);
    assert.equal(JSON.parse(b.body).id, httpId);
    const h = await rawHttp(port, 'GET', '/health', {}, '', ROUND_MS * 5);
    assert.equal(h.status, 200, h.body);
  };
  const loop = (async () => {
    while (running) {
      const t0 = performance.now();
      const before = stats.errors.length;
      try {
        await round();
        stats.rounds++;
      } catch (e) {
        stats.errors.push(e.message);
      }
      const took = performance.now() - t0;
      stats.worst = Math.max(stats.worst, took);
      if (took >= ROUND_MS) stats.errors.push(`a round took ${took.toFixed(0)} ms`);
      if (stats.errors.length === before) lastOk = performance.now();
      else stats.broke ??= { after: lastOk, before: t0 };
      await sleep(20);
    }
  })();
  return {
    ws,
    async stop() {
      running = false;
      await loop;
      return stats;
    },
  };
}

// Every route once, and a burst of calls for every MCP worker, so lazily
// opened fds (database connections, the upstream thread's, WAL files) are
// in the baseline.
async function warmUp(port) {
  const { ws } = await rawWs(port);
  ws.send(initialize(LATEST, 1));
  assert.equal((await ws.nextMessage()).id, 1);
  for (let i = 0; i < 32; i++) ws.send(request('tools/call', { name: 'search_products', arguments: { query: 'a', limit: 50 } }, 10 + i));
  for (let answered = 0; answered < 32;) if ((await ws.nextMessage())?.id >= 10) answered++;
  ws.destroy();
  const chat = JSON.stringify({ model: 'openai/x', messages: [{ role: 'user', content: 'hi' }] });
  for (const [method, path, body] of [['POST', '/v1/chat/completions', chat], ['POST', '/api/v1/completions', chat],
    ['GET', '/v1/models'], ['GET', '/metrics'], ['GET', '/'], ['GET', '/admin/keys'], ['POST', '/auth/ws-ticket', '{}']]) {
    await rawHttp(port, method, path, { 'content-type': 'application/json' }, body ?? '', 30_000);
  }
}

describe('chaos', () => {
  it(`${ONLY ? `a replay of ${ONLY.length} case(s) of` : `${SECONDS} s of`} mutated HTTP and WebSocket traffic ` +
    `(${ONLY ? 1 : CONNS} connection(s) at a time); ` +
    'the server lives, serves, and returns to idle', { timeout: (SECONDS + 120) * 1000 }, async (t) => {
    const replay = `PW_CHAOS_SEED=${SEED}`;
    t.diagnostic(`seed ${SEED} (replay: ${replay})`);
    process.stderr.write(`chaos: seed ${SEED}\n`);
    const nowhere = `http://127.0.0.1:${await closedPort()}`;
    const srv = await startServer({
      tag: 'chaos',
      args: ['--session-idle', '10'],
      env: {
        PENNYWORTH_LOG: 'warn',
        OPENAI_BASE_URL: `${nowhere}/v1`,
        OPENAI_API_KEY: 'x',
        AWS_ENDPOINT_URL_BEDROCK_RUNTIME: nowhere,
        AWS_REGION: 'us-east-1',
        AWS_ACCESS_KEY_ID: 'x',
        AWS_SECRET_ACCESS_KEY: 'x',
      },
    });
    let died = null;
    srv.exited.then((r) => { died = r; });
    let good;
    let goodWs;
    const failures = [];
    try {
      await warmUp(srv.port);
      good = await wellBehaved(srv.port);
      goodWs = good.ws;
      const ctx = { sid: await httpSession(srv.port) };
      const fd0 = await settledFds(srv.pid);

      // The chaos: CONNS runners take case numbers in turn. A replay
      // (PW_CHAOS_CASES) plays its cases one at a time and checks after
      // each that the server still answers, so it names the case that broke it.
      const deadline = Date.now() + SECONDS * 1000;
      const chaosStart = performance.now();
      const queue = ONLY ? [...ONLY] : null;
      let next = 0;
      let peakFds = fd0;
      const kinds = {};
      const statuses = {};
      const spans = new Map(); // case number -> [start, end] (performance.now())
      let serverClosed = 0;
      const answered500 = [];
      const sampler = setInterval(() => { if (!died) peakFds = Math.max(peakFds, fdCount(srv.pid)); }, 200);
      const runner = async () => {
        while (!died) {
          let n;
          if (queue) {
            if (!queue.length) return;
            n = queue.shift();
          } else {
            if (next >= MAX_CASES || Date.now() >= deadline) return;
            n = next++;
          }
          const c = makeCase(SEED, n, ctx);
          if (ONLY) t.diagnostic(describeCase(c));
          const span = [performance.now(), Infinity];
          spans.set(n, span);
          const r = await play(srv.port, c);
          span[1] = performance.now();
          kinds[c.kind] = (kinds[c.kind] ?? 0) + 1;
          if (r.closedByServer) serverClosed++;
          for (const code of r.statuses) {
            statuses[code] = (statuses[code] ?? 0) + 1;
            // 500: the server failed at something a request made it do
            // (502, 503 and 504 are the upstream's and the stop's).
            if (code === 500 && answered500.length < 10) answered500.push(n);
          }
          if (ONLY) {
            const h = await rawHttp(srv.port, 'GET', '/health', {}, '', ROUND_MS).catch((e) => ({ status: 0, body: e.message }));
            if (h.status !== 200) {
              failures.push(`the server stopped answering (GET /health: ${h.status} ${h.body}) after case ${n}:\n${describeCase(c)}`);
              return;
            }
          }
        }
      };
      await Promise.all(Array.from({ length: ONLY ? 1 : CONNS }, runner));
      clearInterval(sampler);
      const cases = spans.size;
      const stats = await good.stop();
      good = null;
      t.diagnostic(`${cases} cases (${JSON.stringify(kinds)}); the server hung up on ${serverClosed}`);
      t.diagnostic(`HTTP statuses seen: ${JSON.stringify(statuses)}`);
      if (answered500.length) t.diagnostic(`cases answered 500: ${replay} PW_CHAOS_CASES=${answered500.join(',')}`);
      t.diagnostic(`well-behaved client: ${stats.rounds} rounds, worst ${stats.worst.toFixed(0)} ms`);
      if (stats.broke) {
        // What was being played between its last good round and the first
        // bad one; a replay of these, one at a time, finds the culprit.
        const suspects = [...spans].filter(([, [a, b]]) => a <= stats.broke.before && b >= stats.broke.after - 50)
          .map(([n]) => n).sort((a, b) => a - b);
        failures.push(`the well-behaved client first failed ${((stats.broke.before - chaosStart) / 1000).toFixed(1)} s ` +
          `into the chaos; replay what was in flight: ${replay} PW_CHAOS_CASES=${suspects.join(',')}`);
      }
      if (died) {
        assert.fail(`the server died (${JSON.stringify(died)}) during the chaos (${replay}):\n${srv.stderr().slice(-6000)}`);
      }
      if (stats.errors.length) {
        failures.unshift(`the well-behaved client failed ${stats.errors.length} time(s): ${[...new Set(stats.errors)].slice(0, 5).join('; ')}`);
      }
      if (!stats.rounds) failures.push('the well-behaved client completed no round');

      // Back to the baseline: every chaos connection was closed by us.
      const fd1 = await waitFor(() => (fdCount(srv.pid) <= fd0 ? fdCount(srv.pid) : undefined), FD_WAIT_MS,
        'the fds to return').catch(() => null);
      t.diagnostic(`fds: baseline ${fd0}, peak ${peakFds}, after ${fd1 ?? fdCount(srv.pid)}`);
      if (fd1 === null) failures.push(`open fds stayed at ${fdCount(srv.pid)} for ${FD_WAIT_MS} ms after the chaos (baseline ${fd0})`);

      // Idle: the least CPU over up to three 1 s windows, after a settle.
      await sleep(1000);
      let cpu = Infinity;
      for (let i = 0; i < 3 && cpu >= IDLE_CPU; i++) cpu = Math.min(cpu, await cpuShare(srv.pid, 1000));
      t.diagnostic(`CPU after the chaos: ${(cpu * 100).toFixed(1)}% of a core`);
      if (cpu >= IDLE_CPU) failures.push(`the server keeps using ${(cpu * 100).toFixed(0)}% of a core after the chaos stopped`);

      const h = await rawHttp(srv.port, 'GET', '/health').catch((e) => ({ status: 0, body: e.message }));
      if (h.status !== 200) failures.push(`GET /health after the chaos: ${h.status} ${h.body}`);
      if (died) assert.fail(`the server died (${JSON.stringify(died)}) after the chaos:\n${srv.stderr().slice(-6000)}`);
    } finally {
      await good?.stop();
      goodWs?.destroy();
      const alive = !died;
      const r = await srv.stop();
      if (alive && r.code !== 0) failures.push(`exit ${JSON.stringify(r)} on SIGTERM:\n${srv.stderr().slice(-4000)}`);
    }
    assert.deepEqual(failures, [], `${replay}`);
  });
});
