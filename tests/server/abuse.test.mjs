// Clients that misbehave, against a real `pennyworth serve`, and the
// server's resources afterwards.
//
// Half-open connections (a bare TCP connect, half a request head, half a
// body, a WebSocket that never answers pings, half a WebSocket frame) sit
// while a well-behaved client is served promptly, and the server hangs up
// on each of them by itself, within its network timeouts.
//
// 1,000 clients that connect and drop mid-request, in waves of 250, a mix
// of WebSocket and HTTP: cut heads and bodies, requests dropped before the
// answer, SSE streams dropped, sessions initialized and abandoned (they
// expire: --session-idle 3), WebSockets dropped, cut mid-frame, over the
// size bound (1009), binary (1003), invalid UTF-8 (1007), and WebSockets
// that stop reading. A well-behaved WebSocket and HTTP client is served
// throughout. Afterwards the server's open fds (/proc/PID/fd) return to
// the baseline taken after a warm-up wave, and its resident memory
// (/proc/PID/status VmRSS) to within a tolerance of it.
//
// A WebSocket that stops reading while answers pile up is dropped once its
// queue passes the bound (1008), an HTTP client that stops reading a large
// answer once it has made no progress for 20 s, and nobody else waits for
// either.
//
// Raw sockets carry the HTTP here ("Connection: close"), so no client
// keep-alive pool holds server fds while they are counted.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  T, LATEST, startServer, rawWs, rawHttp, connect, initialize, request, notification,
  fdCount, rssBytes, waitFor, sleep, OP, JSON_HEADERS,
  settledFds,
} from './lib/harness.mjs';

const CLIENTS = 1000;
const WAVE = 250;
const MiB = 1024 * 1024;
// Memory may settle a little above the baseline (allocator caches, lws
// buffer pools sized by the peak); a leak of a few KiB per client over
// 1,000 clients would not fit in this.
const RSS_SLACK = 6 * MiB;
const RSS_SLACK_ASAN = 24 * MiB; // plus the sanitizer's quarantine of freed blocks

// About 45 KiB of answer.
const BIG_SEARCH = (id) => request('tools/call', { name: 'search_products', arguments: { query: 'a', limit: 50 } }, id);
const SEARCH = (id) => request('tools/call', { name: 'search_products', arguments: { query: 'phone', limit: 50 } }, id);

// Whether the server runs with AddressSanitizer (its runtime is mapped).
function usesAsan(pid) {
  return /libasan|libclang_rt\.asan/.test(readFileSync(`/proc/${pid}/maps`, 'utf8'));
}

// Resolves when the server closes `sock` (or `ms` passes: false).
function closedByServer(sock, ms) {
  return new Promise((resolve) => {
    if (sock.destroyed) return resolve(true);
    const t = setTimeout(() => resolve(false), ms);
    sock.on('close', () => { clearTimeout(t); resolve(true); });
    sock.on('error', () => {});
    sock.on('data', () => {});
  });
}

function head(lines) {
  return `${lines.join('\r\n')}\r\n\r\n`;
}

function wsUpgrade(key = 'dGhlIHNhbXBsZSBub25jZQ==') {
  return head(['GET /ws HTTP/1.1', 'Host: x', 'Upgrade: websocket', 'Connection: Upgrade',
    `Sec-WebSocket-Key: ${key}`, 'Sec-WebSocket-Version: 13', 'Sec-WebSocket-Protocol: mcp']);
}

// A client that sends its WebSocket close code, or null when the socket just ends.
async function wsCloseCode(ws, ms = 5000) {
  const c = await ws.waitClose(ms).catch(() => null);
  ws.destroy();
  return c?.code ?? null;
}

// The misbehaving clients; each is bounded and ends its own socket.
function misbehaviours(port, sid) {
  const sidHeader = `mcp-session-id: ${sid}`;
  return [
    async function bareConnect() {
      const s = await connect(port);
      s.destroy();
    },
    async function halfHead() {
      const s = await connect(port);
      s.write('POST /mcp HTTP/1.1\r\nHost: x\r\nContent-Ty');
      await sleep(20);
      s.destroy();
    },
    async function shortBody() {
      const s = await connect(port);
      s.write(head(['POST /mcp HTTP/1.1', 'Host: x', 'content-type: application/json', sidHeader,
        'content-length: 1000']) + '{"jsonrpc":"2.0","id":1,');
      await sleep(20);
      s.destroy();
    },
    async function callThenDrop() {
      const s = await connect(port);
      const body = JSON.stringify(SEARCH(7));
      s.write(head(['POST /mcp HTTP/1.1', 'Host: x', 'content-type: application/json',
        `accept: ${JSON_HEADERS.accept}`, sidHeader, `content-length: ${Buffer.byteLength(body)}`]) + body);
      s.destroy();
    },
    async function initializeThenDrop() {
      const s = await connect(port);
      const body = JSON.stringify(initialize(LATEST, 1));
      s.write(head(['POST /mcp HTTP/1.1', 'Host: x', 'content-type: application/json',
        `accept: ${JSON_HEADERS.accept}`, `content-length: ${Buffer.byteLength(body)}`]) + body);
      await sleep(10);
      s.destroy();
    },
    async function sseDropped() {
      const s = await connect(port);
      s.write(head(['GET /mcp HTTP/1.1', 'Host: x', 'accept: text/event-stream', sidHeader]));
      await new Promise((r) => { s.once('data', r); setTimeout(r, 2000); });
      s.destroy();
    },
    async function overLimitBody() {
      const s = await connect(port);
      s.write(head(['POST /mcp HTTP/1.1', 'Host: x', 'content-type: application/json', sidHeader,
        `content-length: ${7 * MiB}`]) + 'x'.repeat(1024));
      await sleep(20);
      s.destroy();
    },
    async function badHeaders() {
      const r = await rawHttp(port, 'POST', '/mcp', { 'content-type': 'text/plain', accept: JSON_HEADERS.accept },
        JSON.stringify(request('ping', undefined, 1)));
      assert.equal(r.status, 415);
    },
    async function wsDropped() {
      const { ws } = await rawWs(port);
      ws.send(initialize(LATEST, 1));
      ws.destroy();
    },
    async function wsHalfFrame() {
      const { ws } = await rawWs(port);
      ws.sendFrame(OP.TEXT, '{"jsonrpc":"2.0",', { declare: 1000 });
      await sleep(20);
      ws.destroy();
    },
    async function wsOversized() {
      const { ws } = await rawWs(port);
      ws.sendFrame(OP.TEXT, 'x'.repeat(512), { declare: 64 * MiB });
      assert.equal(await wsCloseCode(ws), 1009);
    },
    async function wsBinary() {
      const { ws } = await rawWs(port);
      ws.sendFrame(OP.BINARY, Buffer.from('{}'));
      assert.equal(await wsCloseCode(ws), 1003);
    },
    async function wsBadUtf8() {
      const { ws } = await rawWs(port);
      ws.sendFrame(OP.TEXT, Buffer.from([0x22, 0xc3, 0x28, 0x22]));
      assert.equal(await wsCloseCode(ws), 1007);
    },
    async function wsStopsReading() {
      const { ws } = await rawWs(port);
      ws.sock.pause();
      ws.send(initialize(LATEST, 1));
      ws.send(notification('notifications/initialized'));
      for (let i = 0; i < 10; i++) ws.send(SEARCH(100 + i));
      await sleep(300);
      ws.destroy();
    },
  ];
}

// A well-behaved client on both transports, looping until stop(): every
// answer must come, and promptly. Resolves {count, worst, errors}.
function wellBehaved(srv, sid, ws) {
  let running = true;
  const stats = { count: 0, worst: 0, errors: [] };
  const pending = new Map();
  ws.onmessage = (e) => {
    const m = JSON.parse(String(e.data));
    pending.get(m.id)?.(m);
  };
  let id = 1000;
  const wsCall = (msg) => new Promise((resolve, reject) => {
    const t = setTimeout(() => { pending.delete(msg.id); reject(new Error(`WebSocket: no answer to ${msg.id}`)); }, 10_000);
    pending.set(msg.id, (m) => { clearTimeout(t); pending.delete(msg.id); resolve(m); });
    ws.send(JSON.stringify(msg));
  });
  const loop = (async () => {
    while (running) {
      const t0 = performance.now();
      try {
        const a = await wsCall(request('tools/call', { name: 'get_product', arguments: { id: '3' } }, ++id));
        assert.ok(a.result && !a.result.isError, JSON.stringify(a));
        const b = await rawHttp(srv.port, 'POST', '/mcp',
          { ...JSON_HEADERS, 'mcp-session-id': sid, 'mcp-protocol-version': LATEST },
          JSON.stringify(request('tools/call', { name: 'get_product', arguments: { id: '4' } }, ++id)));
        assert.equal(b.status, 200, b.body);
        assert.equal(JSON.parse(b.body).id, id);
        stats.count++;
      } catch (e) {
        stats.errors.push(e.message);
      }
      stats.worst = Math.max(stats.worst, performance.now() - t0);
      await sleep(20);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return stats;
    },
  };
}

// A Streamable HTTP session opened over raw sockets; resolves its id.
async function rawSession(port, version = LATEST) {
  const init = await rawHttp(port, 'POST', '/mcp', JSON_HEADERS, JSON.stringify(initialize(version, 1)));
  assert.equal(init.status, 200, init.body);
  const sid = init.headers['mcp-session-id'];
  assert.match(sid ?? '', /^[0-9a-f]{32}$/);
  const n = await rawHttp(port, 'POST', '/mcp', { ...JSON_HEADERS, 'mcp-session-id': sid, 'mcp-protocol-version': version },
    JSON.stringify(notification('notifications/initialized')));
  assert.equal(n.status, 202);
  return sid;
}

async function openPlatformWs(port) {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`, 'mcp');
  await new Promise((resolve, reject) => { ws.onopen = resolve; ws.onerror = () => reject(new Error('ws error')); });
  const got = new Promise((resolve) => { ws.onmessage = (e) => resolve(JSON.parse(String(e.data))); });
  ws.send(JSON.stringify(initialize(LATEST, 1)));
  assert.equal((await got).id, 1);
  ws.send(JSON.stringify(notification('notifications/initialized')));
  return ws;
}

// Runs `n` misbehaving clients, all at once; every one must end by itself.
async function wave(kinds, n, offset = 0) {
  const results = await Promise.allSettled(Array.from({ length: n }, (_, i) => kinds[(offset + i) % kinds.length]()));
  const failed = results.map((r, i) => [r, kinds[(offset + i) % kinds.length].name]).filter(([r]) => r.status === 'rejected');
  assert.deepEqual(failed.map(([r, name]) => `${name}: ${r.reason?.message}`), [], 'every misbehaving client ran as planned');
}


const MiBs = (b) => `${(b / MiB).toFixed(1)} MiB`;

describe('clients that misbehave', () => {
  it('half-open connections sit while others are served, and the server hangs up on each', T, async (t) => {
    const srv = await startServer({ tag: 'halfopen', args: ['--ws-ping', '2'] });
    const idle = [];
    try {
      const warm = await rawHttp(srv.port, 'POST', '/mcp', JSON_HEADERS, JSON.stringify(initialize(LATEST, 1)));
      assert.equal(warm.status, 200);
      const baseline = await settledFds(srv.pid, 500);
      const kinds = {
        'bare TCP': '',
        'half a request head': 'POST /mcp HTTP/1.1\r\nHost: x\r\nContent-Ty',
        'half a body': head(['POST /mcp HTTP/1.1', 'Host: x', 'content-type: application/json',
          'content-length: 100']) + '{"a',
        'a WebSocket that never answers pings': wsUpgrade(),
        'half a WebSocket frame': `${wsUpgrade()}\x81\xfe\x03\xe8abcd{"js`,
      };
      const t0 = Date.now();
      for (const [kind, bytes] of Object.entries(kinds)) {
        for (let i = 0; i < 10; i++) {
          const s = await connect(srv.port);
          if (bytes) s.write(bytes, 'latin1');
          idle.push({ kind, closed: closedByServer(s, 30_000).then((ok) => (ok ? Date.now() - t0 : null)), s });
        }
      }
      for (let i = 0; i < 10; i++) {
        const a = Date.now();
        const r = await rawHttp(srv.port, 'POST', '/mcp', JSON_HEADERS, JSON.stringify(initialize(LATEST, 2)));
        assert.equal(r.status, 200);
        assert.ok(Date.now() - a < 2000, 'answered within 2 s while 50 half-open connections sit');
      }
      const times = await Promise.all(idle.map((c) => c.closed));
      const byKind = {};
      idle.forEach((c, i) => { (byKind[c.kind] ??= []).push(times[i]); });
      for (const [kind, ts] of Object.entries(byKind)) {
        t.diagnostic(`${kind}: the server hung up after ${Math.max(...ts.map((x) => x ?? Infinity))} ms at most`);
        for (const x of ts) assert.ok(x !== null, `the server never hung up on ${kind}`);
      }
      await waitFor(() => (fdCount(srv.pid) <= baseline ? true : undefined), 10_000,
        `the fd count to return to ${baseline} (now ${fdCount(srv.pid)})`);
    } finally {
      for (const c of idle) c.s.destroy();
      const r = await srv.stop();
      assert.equal(r.code, 0, srv.stderr());
    }
  });

  it(`${CLIENTS} clients drop mid-request; others are served; fds and memory return to the baseline`,
    { timeout: 150_000 }, async (t) => {
      // Under ASan a 16 MiB quarantine (not 256) keeps freed blocks from
      // looking like growth, and still catches use after free.
      const asanOptions = [process.env.ASAN_OPTIONS, 'quarantine_size_mb=16'].filter(Boolean).join(':');
      const srv = await startServer({ tag: 'drop', args: ['--session-idle', '3'], env: { ASAN_OPTIONS: asanOptions } });
      let good;
      let ws;
      try {
        const asan = usesAsan(srv.pid);
        ws = await openPlatformWs(srv.port);

        // Warm-up: one wave, so worker connections, allocator arenas and lws
        // pools exist before the baseline; then every session expires.
        let sid = await rawSession(srv.port);
        good = wellBehaved(srv, sid, ws);
        await wave(misbehaviours(srv.port, sid), WAVE);
        await good.stop();
        await sleep(4500);

        sid = await rawSession(srv.port);
        const kinds = misbehaviours(srv.port, sid);
        const fd0 = await settledFds(srv.pid, 1000);
        const rss0 = rssBytes(srv.pid);

        let peakFds = fd0;
        const sampler = setInterval(() => { peakFds = Math.max(peakFds, fdCount(srv.pid)); }, 50);
        good = wellBehaved(srv, sid, ws);
        for (let done = 0; done < CLIENTS; done += WAVE) await wave(kinds, WAVE, done);
        const stats = await good.stop();
        good = null;
        clearInterval(sampler);
        t.diagnostic(`well-behaved client: ${stats.count} rounds (WS + HTTP), worst ${stats.worst.toFixed(0)} ms`);
        assert.deepEqual(stats.errors, [], 'the well-behaved client was always answered');
        assert.ok(stats.count > 0, 'the well-behaved client ran during the waves');
        assert.ok(stats.worst < 5000, `worst round took ${stats.worst.toFixed(0)} ms`);

        // Abandoned sessions expire (3 s idle), dropped sockets are closed.
        await sleep(4500);
        const fd1 = await waitFor(() => {
          const n = fdCount(srv.pid);
          return n <= fd0 ? n : undefined;
        }, 30_000, `the fd count to return to ${fd0}`);
        const slack = asan ? RSS_SLACK_ASAN : RSS_SLACK;
        const rss1 = await waitFor(() => {
          const r = rssBytes(srv.pid);
          return r <= rss0 + slack ? r : undefined;
        }, 10_000, `VmRSS to return to ${MiBs(rss0)} + ${MiBs(slack)} (now ${MiBs(rssBytes(srv.pid))})`)
          .catch((e) => e);
        t.diagnostic(`fds: baseline ${fd0}, peak ${peakFds}, after ${fd1}`);
        t.diagnostic(`VmRSS: baseline ${MiBs(rss0)}, after ${MiBs(rssBytes(srv.pid))} ` +
          `(slack ${MiBs(slack)}${asan ? ', ASan' : ''})`);
        if (rss1 instanceof Error) assert.fail(rss1.message);
        assert.ok(peakFds > fd0 + 50, `the waves were concurrent (peak ${peakFds} fds)`);

        // Still serving.
        const sid2 = await rawSession(srv.port);
        const last = await rawHttp(srv.port, 'POST', '/mcp',
          { ...JSON_HEADERS, 'mcp-session-id': sid2, 'mcp-protocol-version': LATEST }, JSON.stringify(SEARCH(999)));
        assert.equal(last.status, 200);
        assert.equal(JSON.parse(last.body).id, 999);
      } finally {
        await good?.stop();
        ws?.close();
        const r = await srv.stop();
        assert.equal(r.code, 0, srv.stderr().slice(-3000));
      }
    });

  it('an HTTP client that stops reading a large answer is dropped after 20 s without progress', T, async (t) => {
    const srv = await startServer({ tag: 'slowhttp' });
    let slow;
    try {
      // A 2025-03-26 batch of 100 searches: a ~4.5 MiB answer, more than
      // the socket buffers hold. A first one, read, warms both workers.
      const sid = await rawSession(srv.port, '2025-03-26');
      const batch = (first) => JSON.stringify(Array.from({ length: 100 }, (_, i) => BIG_SEARCH(first + i)));
      const headers = { ...JSON_HEADERS, accept: 'application/json', 'mcp-session-id': sid, 'mcp-protocol-version': '2025-03-26' };
      const warm = await rawHttp(srv.port, 'POST', '/mcp', headers, batch(1), 30_000);
      assert.equal(warm.status, 200);
      assert.ok(warm.body.length > 4 * MiB, `the answer is large (${warm.body.length} bytes)`);
      const baseline = await settledFds(srv.pid, 500);
      slow = await connect(srv.port);
      slow.pause();
      const body = batch(1000);
      slow.write(head(['POST /mcp HTTP/1.1', 'Host: x', ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
        `content-length: ${Buffer.byteLength(body)}`]) + body);
      await waitFor(() => (fdCount(srv.pid) > baseline ? true : undefined), 5000, 'the slow connection to be accepted');
      const t0 = Date.now();
      const ok = await rawHttp(srv.port, 'POST', '/mcp', headers, JSON.stringify(request('ping', undefined, 7)));
      assert.equal(ok.status, 200, 'others are served meanwhile');
      await waitFor(() => (fdCount(srv.pid) <= baseline ? true : undefined), 40_000,
        `the server to drop the client that does not read (fds ${fdCount(srv.pid)}, baseline ${baseline})`);
      t.diagnostic(`dropped ${Date.now() - t0} ms after its request`);
    } finally {
      slow?.destroy();
      const r = await srv.stop();
      assert.equal(r.code, 0, srv.stderr().slice(-3000));
    }
  });

  // Its own bound: several rounds of big answers, slow under a sanitizer on a busy machine.
  it('a WebSocket that stops reading is dropped (1008) once its queue passes the bound; others go on', { timeout: 180_000 }, async () => {
    const srv = await startServer({ tag: 'slowreader' });
    const sock = [];
    try {
      const { ws } = await rawWs(srv.port);
      sock.push(ws);
      ws.send(initialize(LATEST, 1));
      assert.equal((await ws.nextMessage()).id, 1);
      // Warm-up: a burst of calls, so every worker has opened its database
      // connection before the baseline (this peer's socket is in it too).
      for (let i = 0; i < 32; i++) ws.send(BIG_SEARCH(2000 + i));
      for (let i = 0; i < 32; i++) assert.ok((await ws.nextMessage()).result);
      const baseline = await settledFds(srv.pid, 500) - 1;
      ws.sock.pause();
      // ~45 KiB per answer, in rounds under the engine's 256 calls in flight
      // per session: several times the 16 MiB queue bound plus what the
      // kernel buffers hold.
      const started = Date.now();
      for (let round = 0; round < 6 && !/not reading/.test(srv.stderr()); round++) {
        for (let i = 0; i < 200; i++) ws.send(BIG_SEARCH(10 + 200 * round + i));
        await sleep(1000);
      }
      const other = await rawWs(srv.port);
      sock.push(other.ws);
      other.ws.send(initialize(LATEST, 1));
      for (let i = 0; i < 5; i++) {
        const a = Date.now();
        other.ws.send(request('ping', undefined, 50 + i));
        let m;
        do m = await other.ws.nextMessage(10_000); while (m.id !== 50 + i);
        assert.ok(Date.now() - a < 3000, 'another client is answered while one stops reading');
      }
      await waitFor(() => (/not reading/.test(srv.stderr()) ? true : undefined), 60_000,
        'the server to give up on the peer that does not read');
      assert.match(srv.stderr(), /closing with 1008/);
      other.ws.destroy();
      await waitFor(() => (fdCount(srv.pid) <= baseline ? true : undefined), 20_000,
        `the fd count to return to ${baseline} (now ${fdCount(srv.pid)}, ${Date.now() - started} ms)`);
    } finally {
      for (const s of sock) s.destroy();
      const r = await srv.stop();
      assert.equal(r.code, 0, srv.stderr().slice(-3000));
    }
  });
});
