// Server life: graceful stop on SIGTERM/SIGINT (exit 0, WebSockets closed
// with 1001, SSE streams ended), 200 clients that drop mid-request (the
// server keeps answering and its open fd count returns to the baseline),
// and half-open connections that must not stall anyone else.
//
// Plain sockets with "Connection: close" carry the HTTP here, so no client
// keep-alive pool holds server fds while we count them.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import {
  T, LATEST, startServer, rawWs, openSession, openGet, initialize, request, post, fdCount, waitFor, sleep,
} from './lib/harness.mjs';

// One HTTP/1.1 exchange on its own connection; resolves {status, body}.
function rawHttp(port, method, path, headers = {}, body = '') {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    let buf = '';
    const timer = setTimeout(() => { sock.destroy(); reject(new Error('raw HTTP timed out')); }, 10_000);
    sock.on('connect', () => {
      const h = { host: `127.0.0.1:${port}`, connection: 'close', 'content-length': Buffer.byteLength(body), ...headers };
      const lines = [`${method} ${path} HTTP/1.1`, ...Object.entries(h).map(([k, v]) => `${k}: ${v}`)];
      sock.write(`${lines.join('\r\n')}\r\n\r\n${body}`);
    });
    sock.on('data', (d) => { buf += d; });
    sock.on('error', (e) => { clearTimeout(timer); reject(e); });
    sock.on('close', () => {
      clearTimeout(timer);
      const status = Number(buf.split(' ')[1]);
      resolve({ status, body: buf.slice(buf.indexOf('\r\n\r\n') + 4) });
    });
  });
}

const JSON_HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };

function connect(port) {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

describe('graceful stop', () => {
  it('exits 0 on SIGTERM, closing WebSockets (1001) and SSE streams', T, async () => {
    const srv = await startServer({ tag: 'stop' });
    try {
      const sid = await openSession(srv);
      const { sse } = await openGet(srv, sid);
      await sse.next(); // priming
      const { ws } = await rawWs(srv.port);
      ws.send(initialize(LATEST, 1));
      assert.equal((await ws.nextMessage()).id, 1);
      process.kill(srv.pid, 'SIGTERM');
      const close = await ws.waitClose(10_000);
      assert.equal(close.code, 1001);
      assert.equal(await sse.next(10_000), null, 'the GET stream ends');
      const r = await srv.exited;
      assert.deepEqual(r, { code: 0, signal: null }, srv.stderr());
      assert.match(srv.stderr(), /stopping/);
    } finally {
      await srv.stop();
    }
  });

  it('exits 0 on SIGINT when idle', T, async () => {
    const srv = await startServer({ tag: 'sigint' });
    try {
      process.kill(srv.pid, 'SIGINT');
      const r = await srv.exited;
      assert.deepEqual(r, { code: 0, signal: null }, srv.stderr());
    } finally {
      await srv.stop();
    }
  });

  it('lets an answer in flight finish before exiting', T, async () => {
    const srv = await startServer({ tag: 'drain' });
    try {
      const sid = await openSession(srv);
      const call = post(srv, request('tools/call', { name: 'search_products', arguments: { query: 'phone' } }, 5),
        { sid, version: LATEST, headers: { connection: 'close' } });
      process.kill(srv.pid, 'SIGTERM');
      const res = await call.catch((e) => e);
      if (!(res instanceof Error)) {
        assert.ok([200, 503].includes(res.status), `status ${res.status}`);
        await res.text();
      }
      assert.deepEqual(await srv.exited, { code: 0, signal: null }, srv.stderr());
    } finally {
      await srv.stop();
    }
  });
});

describe('clients that misbehave', () => {
  it('survives 200 clients dropping mid-request; fds return to the baseline', T, async () => {
    const srv = await startServer({ tag: 'drop' });
    try {
      const port = srv.port;
      // Warm up: a session and tool calls, so every worker has opened its
      // database connection before we take the baseline.
      const sid = await openSession(srv); // via fetch: its pooled connection closes below
      for (let i = 0; i < 8; i++) {
        const r = await rawHttp(port, 'POST', '/mcp', { ...JSON_HEADERS, 'mcp-session-id': sid },
          JSON.stringify(request('tools/call', { name: 'search_products', arguments: { query: 'phone' } }, 100 + i)));
        assert.equal(r.status, 200);
      }
      await sleep(5000); // fetch's pooled connection idles out (4 s)
      const baseline = fdCount(srv.pid);

      const kinds = [
        // headers cut in half
        async () => { const s = await connect(port); s.write('POST /mcp HTTP/1.1\r\nHost: x\r\nContent-Ty'); await sleep(20); s.destroy(); },
        // a body shorter than its Content-Length
        async () => {
          const s = await connect(port);
          s.write(`POST /mcp HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\nmcp-session-id: ${sid}\r\n` +
            'content-length: 1000\r\n\r\n{"jsonrpc":"2.0","id":1,');
          await sleep(20);
          s.destroy();
        },
        // a whole tools/call, gone before the answer
        async () => {
          const s = await connect(port);
          const body = JSON.stringify(request('tools/call', { name: 'search_products', arguments: { query: 'laptop' } }));
          s.write(`POST /mcp HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\naccept: ${JSON_HEADERS.accept}\r\n` +
            `mcp-session-id: ${sid}\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
          s.destroy();
        },
        // an SSE stream, dropped once it started
        async () => {
          const s = await connect(port);
          s.write(`GET /mcp HTTP/1.1\r\nHost: x\r\naccept: text/event-stream\r\nmcp-session-id: ${sid}\r\n\r\n`);
          await new Promise((r) => { s.once('data', r); setTimeout(r, 2000); });
          s.destroy();
        },
        // a WebSocket, dropped after its upgrade
        async () => { const { ws } = await rawWs(port); ws.send(initialize(LATEST, 1)); ws.destroy(); },
      ];
      await Promise.all(Array.from({ length: 200 }, (_, i) => kinds[i % kinds.length]()));

      // Still answering, promptly.
      const t0 = Date.now();
      const again = await rawHttp(port, 'POST', '/mcp', JSON_HEADERS, JSON.stringify(initialize(LATEST, 2)));
      assert.equal(again.status, 200);
      assert.ok(Date.now() - t0 < 2000, 'answered within 2 s');
      await waitFor(() => (fdCount(srv.pid) <= baseline ? true : undefined), 15_000,
        `the fd count to return to ${baseline} (now ${fdCount(srv.pid)})`);
      // A tool call answered after the orphaned ones (the worker queue is
      // FIFO): the server still does real work, and what the dropped
      // clients started has drained before we stop it.
      const last = await rawHttp(port, 'POST', '/mcp', { ...JSON_HEADERS, 'mcp-session-id': sid },
        JSON.stringify(request('tools/call', { name: 'search_products', arguments: { query: 'phone' } }, 999)));
      assert.equal(last.status, 200);
      assert.equal(JSON.parse(last.body).id, 999);
      await sleep(300);
      const r = await srv.stop();
      assert.equal(r.code, 0, srv.stderr());
    } finally {
      await srv.stop();
    }
  });

  it('keeps answering while 50 half-open connections sit idle', T, async () => {
    const srv = await startServer({ tag: 'halfopen' });
    const idle = [];
    try {
      for (let i = 0; i < 25; i++) idle.push(await connect(srv.port));
      for (let i = 0; i < 25; i++) {
        const s = await connect(srv.port);
        s.write('POST /mcp HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\ncontent-length: 50\r\n\r\n{');
        idle.push(s);
      }
      const t0 = Date.now();
      const r = await rawHttp(srv.port, 'POST', '/mcp', JSON_HEADERS, JSON.stringify(initialize(LATEST, 3)));
      assert.equal(r.status, 200);
      assert.ok(Date.now() - t0 < 2000);
    } finally {
      for (const s of idle) s.destroy();
      const r = await srv.stop();
      assert.equal(r.code, 0, srv.stderr());
    }
  });
});
