// TLS: a self-signed certificate made at test time with the openssl CLI;
// `pennyworth serve --tls-cert --tls-key` then speaks https and wss only.
// Covers a Streamable HTTP session, an SSE stream fed by `catalog set`, a
// wss session, a TLS client vanishing mid-stream (no busy loop, fds
// released), plain HTTP being refused on the TLS port, and a graceful stop
// with wss and https calls in flight. The official SDKs run their full
// sessions over wss and https in sdk-v1.test.mjs and sdk-v2.test.mjs.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import {
  T, LATEST, startServer, runPw, rawWs, initialize, notification, request, fdCount, waitFor, sleep, makeCert,
} from './lib/harness.mjs';

// One HTTPS exchange; resolves {status, headers, body} (body read to the end
// unless `until` returns true on the text so far).
function httpsRequest(port, ca, { method = 'POST', headers = {}, body = '', until } = {}) {
  return new Promise((resolve, reject) => {
    const req = https.request({
      host: '127.0.0.1', port, path: '/mcp', method, ca, servername: 'localhost', agent: false,
      headers: { 'content-length': Buffer.byteLength(body), ...headers },
      timeout: 10_000,
    }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => {
        text += d;
        if (until && until(text)) {
          resolve({ status: res.statusCode, headers: res.headers, body: text, req });
        }
      });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: text, req }));
    });
    req.on('timeout', () => req.destroy(new Error('https request timed out')));
    req.on('error', reject);
    req.end(body);
  });
}

const H = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };

describe('TLS (https and wss)', () => {
  let dir;
  let ca;
  let srv;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pw-server-tls-'));
    const c = makeCert(dir);
    ca = c.pem;
    srv = await startServer({ tag: 'tls', dir, args: ['--tls-cert', c.cert, '--tls-key', c.key] });
    assert.equal(srv.scheme, 'https');
  });

  after(async () => {
    const r = await srv.stop();
    rmSync(dir, { recursive: true, force: true });
    assert.equal(r.code, 0, srv.stderr());
  });

  it('serves a Streamable HTTP session over https', T, async () => {
    const init = await httpsRequest(srv.port, ca, { headers: H, body: JSON.stringify(initialize(LATEST, 1)) });
    assert.equal(init.status, 200);
    const sid = init.headers['mcp-session-id'];
    assert.match(sid, /^[0-9a-f]{32}$/);
    assert.equal(JSON.parse(init.body).result.protocolVersion, LATEST);
    const n = await httpsRequest(srv.port, ca, {
      headers: { ...H, 'mcp-session-id': sid }, body: JSON.stringify(notification('notifications/initialized')),
    });
    assert.equal(n.status, 202);
    const call = await httpsRequest(srv.port, ca, {
      headers: { ...H, 'mcp-session-id': sid },
      body: JSON.stringify(request('tools/call', { name: 'search_products', arguments: { query: 'phone', limit: 1 } }, 2)),
    });
    assert.equal(JSON.parse(call.body).id, 2);

    // The GET stream over TLS, fed by another process.
    const sub = await httpsRequest(srv.port, ca, {
      headers: { ...H, 'mcp-session-id': sid },
      body: JSON.stringify(request('resources/subscribe', { uri: 'catalog://products/5' }, 3)),
    });
    assert.equal(sub.status, 200);
    const streamP = httpsRequest(srv.port, ca, {
      method: 'GET', headers: { accept: 'text/event-stream', 'mcp-session-id': sid },
      until: (t) => t.includes('resources/updated'),
    });
    await sleep(300);
    const set = await runPw(['catalog', 'set', '5', '--stock', '2', '--db', srv.db]);
    assert.equal(set.code, 0, set.stderr);
    const stream = await streamP;
    assert.match(stream.headers['content-type'], /text\/event-stream/);
    assert.match(stream.body, /catalog:\/\/products\/5/);
    stream.req.destroy();
  });

  it('serves a WebSocket session over wss', T, async () => {
    const { status, ws } = await rawWs(srv.port, { tlsOptions: { ca } });
    assert.equal(status, 101);
    ws.send(initialize(LATEST, 1));
    assert.equal((await ws.nextMessage()).id, 1);
    ws.send(request('tools/call', { name: 'search_products', arguments: { query: 'laptop', limit: 1 } }, 2));
    const res = await ws.nextMessage();
    assert.equal(res.id, 2);
    assert.ok(res.result.structuredContent);
    ws.destroy();
  });

  it('copes with TLS clients vanishing from SSE streams', T, async () => {
    const init = await httpsRequest(srv.port, ca, { headers: H, body: JSON.stringify(initialize(LATEST, 1)) });
    const sid = init.headers['mcp-session-id'];
    await sleep(300);
    const baseline = fdCount(srv.pid);
    for (let i = 0; i < 10; i++) {
      const s = await httpsRequest(srv.port, ca, {
        method: 'GET', headers: { accept: 'text/event-stream', 'mcp-session-id': sid }, until: (t) => t.includes('id:'),
      });
      s.req.destroy();
    }
    const stat = () => {
      const f = readFileSync(`/proc/${srv.pid}/stat`, 'utf8').split(') ')[1].split(' ');
      return Number(f[11]) + Number(f[12]);
    };
    await waitFor(() => (fdCount(srv.pid) <= baseline ? true : undefined), 10_000, 'fds back to baseline');
    const a = stat();
    await sleep(1000);
    assert.ok(stat() - a < 20, 'the loop is idle, not spinning');
  });

  it('refuses plain HTTP on the TLS port', T, async () => {
    const reply = await new Promise((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port: srv.port });
      let got = '';
      s.on('connect', () => s.write('GET /mcp HTTP/1.1\r\nHost: x\r\n\r\n'));
      s.on('data', (d) => { got += d; });
      s.on('close', () => resolve(got));
      s.on('error', () => resolve(got));
      setTimeout(() => { s.destroy(); resolve(got); }, 5000);
    });
    assert.ok(!reply.startsWith('HTTP/1.1 200'), `unexpected plain reply: ${reply.slice(0, 40)}`);
  });

  it('rejects a client that does not trust the certificate', T, async () => {
    await assert.rejects(new Promise((resolve, reject) => {
      const s = tls.connect({ host: '127.0.0.1', port: srv.port, servername: 'localhost' });
      s.on('secureConnect', () => { s.destroy(); resolve(); });
      s.on('error', reject);
    }), /self.signed|certificate/i);
  });
});

describe('TLS graceful stop', () => {
  it('SIGTERM with wss and https calls in flight: answered, 1001, exit 0', T, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pw-server-tls-stop-'));
    const c = makeCert(dir);
    const srv = await startServer({ tag: 'tls-stop', dir, removeDir: true, args: ['--tls-cert', c.cert, '--tls-key', c.key] });
    try {
      const init = await httpsRequest(srv.port, c.pem, { headers: H, body: JSON.stringify(initialize(LATEST, 1)) });
      const sid = init.headers['mcp-session-id'];
      const { ws } = await rawWs(srv.port, { tlsOptions: { ca: c.pem } });
      ws.send(initialize(LATEST, 1));
      assert.equal((await ws.nextMessage()).id, 1);
      const ids = [];
      ws.sock.cork(); // one write: the server reads them all at once
      for (let i = 0; i < 50; i++) {
        ids.push(100 + i);
        ws.send(request('tools/call', { name: 'search_products', arguments: { query: 'a', limit: 50 } }, 100 + i));
      }
      ws.sock.uncork();
      const calls = Array.from({ length: 5 }, (_, i) => httpsRequest(srv.port, c.pem, {
        headers: { ...H, 'mcp-session-id': sid, connection: 'close' },
        body: JSON.stringify(request('tools/call', { name: 'search_products', arguments: { query: 'a' } }, 500 + i)),
      }).catch((e) => ({ status: 0, body: e.message })));
      const answered = new Set([(await ws.nextMessage()).id]);
      process.kill(srv.pid, 'SIGTERM');
      let close;
      for (;;) {
        const m = await ws.nextMessage().catch((e) => e);
        if (m instanceof Error) {
          close = m.message;
          break;
        }
        if (!m) break;
        answered.add(m.id);
      }
      assert.match(close ?? '', /^closed 1001/);
      assert.deepEqual(ids.filter((id) => !answered.has(id)), [], 'every wss call in flight was answered');
      for (const r of await Promise.all(calls)) {
        assert.ok([200, 503, 0].includes(r.status), `https status ${r.status}: ${r.body}`);
      }
      assert.deepEqual(await srv.exited, { code: 0, signal: null }, srv.stderr().slice(-3000));
    } finally {
      await srv.stop();
    }
  });
});
