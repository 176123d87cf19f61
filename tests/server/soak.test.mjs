// Memory across bursts of MCP WebSocket sessions, against a real
// `pennyworth serve`.
//
// CYCLES times over, SESSIONS sessions open /ws (subprotocol "mcp") in
// concurrent waves of WAVE; each initializes, sends
// notifications/initialized and makes one small tools/call, and stays open
// until all of its cycle are open; then all of them close. After each cycle
// the test waits (polling, every wait bounded) for the server's open fds
// (/proc/PID/fd) to return to the baseline, then for its resident memory to
// settle, and reads VmRSS from /proc/PID/status. The RSS after the last
// cycle must be within a small bound of the RSS after the first: anything a
// closed session left behind, or a heap whose resident part creeps up burst
// after burst, would not fit. (The second happened: with a 64 KiB lws rx
// buffer per connection, RSS grew by about 10 MiB a cycle here.) The
// figures of every cycle are printed as diagnostics.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  LATEST, startServer, rawWs, OP, initialize, request, notification, fdCount, rssBytes, waitFor,
  sleep,
  settledFds,
} from './lib/harness.mjs';

const CYCLES = 5;
const SESSIONS = 1500;
const WAVE = 250;
const MiB = 1024 * 1024;
// What may be left over after four more cycles: caches that fill slowly
// (SQLite's page cache of the usage records, jansson's and lws's pools),
// not a few KiB per session over 6,000 sessions.
const RSS_SLACK = 8 * MiB;
const RSS_SLACK_ASAN = 16 * MiB; // the sanitizer's quarantine and size-class caches

const MiBs = (b) => `${(b / MiB).toFixed(1)} MiB`;

// Whether the server runs with AddressSanitizer (its runtime is mapped).
function usesAsan(pid) {
  return /libasan|libclang_rt\.asan/.test(readFileSync(`/proc/${pid}/maps`, 'utf8'));
}

// One session, initialized and with one answered call; resolves the socket.
async function openSession(port, i) {
  const { status, ws } = await rawWs(port);
  assert.equal(status, 101);
  ws.send(initialize(LATEST, 1));
  const init = await ws.nextMessage();
  assert.equal(init.id, 1, JSON.stringify(init));
  assert.ok(init.result, JSON.stringify(init));
  ws.send(notification('notifications/initialized'));
  ws.send(request('tools/call', { name: 'get_product', arguments: { id: String(1 + (i % 30)) } }, 2));
  const call = await ws.nextMessage();
  assert.equal(call.id, 2, JSON.stringify(call));
  assert.ok(call.result && !call.result.isError, JSON.stringify(call));
  return ws;
}

// Opens n sessions, WAVE at a time; resolves them all.
async function openAll(port, n) {
  const open = [];
  for (let done = 0; done < n; done += WAVE) {
    const wave = Array.from({ length: Math.min(WAVE, n - done) }, (_, i) => openSession(port, done + i));
    open.push(...await Promise.all(wave));
  }
  return open;
}

// Closes every session (a close frame, 1000), waits for the server's answer
// (or the socket's end) and drops the sockets.
async function closeAll(open) {
  for (const ws of open) ws.sendFrame(OP.CLOSE, Buffer.from([0x03, 0xe8]));
  await Promise.all(open.map((ws) => ws.waitClose(20_000).catch(() => null)));
  for (const ws of open) ws.destroy();
}


// Resolves VmRSS once it has moved by no more than 256 KiB for 1.5 s (the
// server gives freed memory back within a second of a burst's end).
async function settledRss(pid) {
  let last = rssBytes(pid);
  let since = Date.now();
  const deadline = Date.now() + 20_000;
  while (Date.now() - since < 1500 && Date.now() < deadline) {
    await sleep(100);
    const now = rssBytes(pid);
    if (Math.abs(now - last) > 256 * 1024) {
      last = now;
      since = Date.now();
    }
  }
  return last;
}

describe('memory across bursts of WebSocket sessions', () => {
  it(`${CYCLES} cycles of ${SESSIONS} sessions: RSS after the last is within a bound of the first`,
    { timeout: 150_000 }, async (t) => {
      // Under ASan a 16 MiB quarantine (not 256) keeps freed blocks from
      // looking like growth, and still catches use after free.
      const asanOptions = [process.env.ASAN_OPTIONS, 'quarantine_size_mb=16'].filter(Boolean).join(':');
      const srv = await startServer({ tag: 'soak', env: { ASAN_OPTIONS: asanOptions } });
      try {
        const asan = usesAsan(srv.pid);
        // Warm-up: one wave, so both workers have opened their database
        // connections before the fd baseline is taken.
        await closeAll(await openAll(srv.port, WAVE));
        const fd0 = await settledFds(srv.pid);
        const rss0 = await settledRss(srv.pid);
        t.diagnostic(`before: VmRSS ${MiBs(rss0)}, ${fd0} fds${asan ? ' (ASan)' : ''}`);

        const after = [];
        for (let c = 1; c <= CYCLES; c++) {
          const t0 = Date.now();
          const open = await openAll(srv.port, SESSIONS);
          const peak = rssBytes(srv.pid);
          const peakFds = fdCount(srv.pid);
          await closeAll(open);
          await waitFor(() => (fdCount(srv.pid) <= fd0 ? true : undefined), 30_000,
            `the fd count to return to ${fd0} after cycle ${c} (now ${fdCount(srv.pid)})`);
          const rss = await settledRss(srv.pid);
          after.push(rss);
          t.diagnostic(`cycle ${c}: ${SESSIONS} sessions open: VmRSS ${MiBs(peak)}, ${peakFds} fds; ` +
            `all closed: VmRSS ${MiBs(rss)} (${Date.now() - t0} ms)`);
          assert.ok(peakFds >= fd0 + SESSIONS, `all ${SESSIONS} sessions were open at once (${peakFds} fds)`);
        }

        const slack = asan ? RSS_SLACK_ASAN : RSS_SLACK;
        const first = after[0];
        const last = after[after.length - 1];
        t.diagnostic(`VmRSS after each cycle: ${after.map(MiBs).join(', ')}; ` +
          `last - first = ${MiBs(last - first)} (bound ${MiBs(slack)})`);
        assert.ok(last <= first + slack,
          `VmRSS after cycle ${CYCLES} (${MiBs(last)}) is more than ${MiBs(slack)} above ` +
          `VmRSS after cycle 1 (${MiBs(first)}): ${after.map(MiBs).join(', ')}`);

        // Still serving.
        const ws = await openSession(srv.port, 0);
        ws.destroy();
      } finally {
        const r = await srv.stop();
        assert.equal(r.code, 0, srv.stderr().slice(-3000));
      }
    });
});
