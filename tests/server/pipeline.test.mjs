// Regression tests for requests that once stalled or spent for strangers:
// HTTP pipelining and its family (bytes after a body, a refused body
// followed by the next request, a body on GET or DELETE, a pipelined
// request behind an SSE stream), chunked request bodies, and cross-site
// POSTs to the OpenAI-compatible API.
//
// Every case writes its bytes in one send() and then checks three things:
// what came back (answered in order, or a clean close), that the server is
// idle afterwards (CPU ticks of the process over a window: a spinning loop
// burns a whole core), and that /health still answers. The server is
// stopped with SIGTERM at the end and must exit 0 (a spinning loop once
// ignored it). No step depends on timing beyond generous bounds.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { readFileSync, mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, initialize, rssBytes, T, LATEST, sleep } from './lib/harness.mjs';

// Process CPU time (user + system) in clock ticks.
function cpuTicks(pid) {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return Number(f[11]) + Number(f[12]);
}

// Ticks used over `ms` of wall time; an idle server uses next to none, a
// spinning one about ms/10 (100 ticks a second).
async function cpuOver(pid, ms = 1000) {
  const a = cpuTicks(pid);
  await sleep(ms);
  return cpuTicks(pid) - a;
}

// Writes `data` in one send and reads until the server closes or `want`
// whole responses arrived (then waits `linger` ms for anything extra).
// Resolves {responses: [{status, headers, body}], closed}.
function exchange(port, data, { want = Infinity, ms = 8000, linger = 300 } = {}) {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    let buf = Buffer.alloc(0);
    let closed = false;
    let timer = setTimeout(done, ms);
    function parse() {
      const out = [];
      let off = 0;
      for (;;) {
        const end = buf.indexOf('\r\n\r\n', off);
        if (end < 0) break;
        const head = buf.subarray(off, end).toString('latin1').split('\r\n');
        const status = Number(head[0].split(' ')[1]);
        const headers = {};
        for (const l of head.slice(1)) {
          const i = l.indexOf(':');
          headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
        }
        let p = end + 4;
        let body;
        if (headers['transfer-encoding'] === 'chunked') {
          const parts = [];
          for (;;) {
            const le = buf.indexOf('\r\n', p);
            if (le < 0) return out;
            const n = parseInt(buf.subarray(p, le).toString(), 16);
            if (buf.length < le + 2 + n + 2) return out;
            parts.push(buf.subarray(le + 2, le + 2 + n));
            p = le + 2 + n + 2;
            if (n === 0) break;
          }
          body = Buffer.concat(parts).toString();
        } else {
          const n = Number(headers['content-length'] ?? 0);
          if (buf.length < p + n) break;
          body = buf.subarray(p, p + n).toString();
          p += n;
        }
        out.push({ status, headers, body });
        off = p;
      }
      return out;
    }
    function done() {
      clearTimeout(timer);
      sock.destroy();
      resolve({ responses: parse(), closed });
    }
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      if (parse().length >= want) {
        clearTimeout(timer);
        timer = setTimeout(done, linger);
      }
    });
    sock.on('close', () => { closed = true; done(); });
    sock.on('error', () => {});
    sock.on('connect', () => sock.write(data));
  });
}

// The server is idle (a spinning loop burns a whole core) and /health
// answers.
async function settledOn(srv, what) {
  const ticks = await cpuOver(srv.pid);
  assert.ok(ticks < 30, `${what}: the server is idle afterwards (${ticks} ticks in 1 s)`);
  const h = await exchange(srv.port, get('/health', 'Connection: close\r\n'), { want: 1 });
  assert.equal(h.responses[0]?.status, 200, `${what}: /health still answers`);
}

const CHAT = JSON.stringify({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });
const post = (path, body, extra = '') =>
  `POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n${extra}` +
  `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
const get = (path, extra = '') => `GET ${path} HTTP/1.1\r\nHost: x\r\n${extra}\r\n`;

// A provider that refuses connections: chat requests go upstream (the
// answer comes later, from the curl thread) and fail fast with 502.
const startUpstreamDown = (tag) => startServer({
  tag, env: { OPENAI_API_KEY: 'sk-test', OPENAI_BASE_URL: 'http://127.0.0.1:9/v1' },
});

describe('pipelined and malformed request framing', () => {
  let srv;
  before(async () => {
    srv = await startUpstreamDown('pipeline');
  }, T);
  after(async () => {
    if (srv) assert.deepEqual(await srv.stop(5000), { code: 0, signal: null }, srv.stderr().slice(-2000));
  });

  const settled = (what) => settledOn(srv, what);

  it('two chat POSTs in one write: the connection closes, the server stays idle', T, async () => {
    const r = await exchange(srv.port, post('/v1/chat/completions', CHAT).repeat(2));
    assert.ok(r.closed, 'the server closed the connection');
    assert.ok(r.responses.length <= 2);
    for (const res of r.responses) assert.equal(res.status, 502);
    await settled('pipelined chat');
  });

  it('a chat POST followed by a stray CRLF', T, async () => {
    const r = await exchange(srv.port, `${post('/v1/chat/completions', CHAT)}\r\n`);
    assert.ok(r.closed);
    await settled('trailing CRLF');
  });

  it('pipelined requests answered at once come back in order', T, async () => {
    const r = await exchange(srv.port, get('/health') + get('/v1/models') + get('/health', 'Connection: close\r\n'));
    assert.deepEqual(r.responses.map((x) => x.status), [200, 200, 200]);
    assert.match(r.responses[1].body, /"object":\s*"list"/);
    await settled('pipelined GETs');
  });

  it('a refused body (404, 405, 403) and the next request on the same connection', T, async () => {
    for (const [what, first, status] of [
      ['unknown /v1 path', post('/v1/nope', '{"a":1}'), 404],
      ['static route', post('/index.html', '{"a":1}'), 405],
      ['foreign Origin', post('/mcp', '{"a":1}', 'Origin: https://evil.example\r\n'), 403],
    ]) {
      const r = await exchange(srv.port, first + get('/health'));
      assert.equal(r.responses[0]?.status, status, what);
      assert.ok(r.closed || r.responses.length === 2, `${what}: closed, or the next request answered`);
      if (r.responses.length === 2) assert.equal(r.responses[1].status, 200, what);
      await settled(what);
    }
  });

  it('a request with a body pipelined behind an answered one is refused, never misread', T, async () => {
    const ping = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' });
    for (const [what, first] of [
      ['GET /health', get('/health')],
      ['a refused POST', post('/nope', '{"a":1}')],
      ['a GET with a body', 'GET /health HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello'],
    ]) {
      const r = await exchange(srv.port, first + post('/mcp', ping, 'Accept: application/json, text/event-stream\r\n'));
      assert.ok(r.closed, `${what}: closed`);
      assert.ok(r.responses.length >= 1, `${what}: the first is answered`);
      if (r.responses.length === 2) {
        assert.equal(r.responses[1].status, 400, what);
        assert.match(r.responses[1].body, /must not be pipelined/, what);
      }
      await settled(what);
    }
  });

  it('a body that is too large is refused with 413 and the next request waits no longer', T, async () => {
    const big = 'x'.repeat(7 * 1024 * 1024);
    const r = await exchange(srv.port, post('/v1/chat/completions', big) + get('/health'), { want: 1 });
    assert.equal(r.responses[0]?.status, 413);
    await settled('413');
  });

  it('GET and DELETE with a Content-Length body are read and answered', T, async () => {
    const alone = await exchange(srv.port,
      'GET /health HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello');
    assert.deepEqual(alone.responses.map((x) => x.status), [200]);
    // Bytes after a body: answered, then closed (the next request is not read).
    const r = await exchange(srv.port,
      `GET /health HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello${get('/health')}`);
    assert.equal(r.responses[0]?.status, 200);
    assert.ok(r.closed);
    const d = await exchange(srv.port,
      `DELETE /mcp HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nMcp-Session-Id: nope\r\n\r\nabc${get('/health')}`, { want: 2 });
    assert.ok(d.responses.length >= 1 && d.responses[0].status >= 400 && d.responses[0].status < 500);
    await settled('bodies on GET and DELETE');
  });

  it('a chunked request body is refused with 411 and the connection closed', T, async () => {
    const r = await exchange(srv.port,
      'POST /mcp HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n' +
      '5\r\nhello\r\n0\r\n\r\n');
    assert.equal(r.responses[0]?.status, 411);
    assert.ok(r.closed);
    const bad = await exchange(srv.port, post('/mcp', '{}').replace(/Content-Length: \d+/, 'Content-Length: 2x'));
    assert.equal(bad.responses[0]?.status, 400);
    await settled('chunked');
  });

  it('a request pipelined behind an SSE stream closes that connection', T, async () => {
    const init = await fetch(`${srv.base}/mcp`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify(initialize(LATEST, 1)),
    });
    await init.text();
    const sid = init.headers.get('mcp-session-id');
    assert.ok(sid);
    const stream = get('/mcp', `Accept: text/event-stream\r\nMcp-Session-Id: ${sid}\r\nMCP-Protocol-Version: ${LATEST}\r\n`);
    const r = await exchange(srv.port, stream + get('/health'), { ms: 15_000 });
    assert.ok(r.closed, 'the stream was closed');
    assert.equal(r.responses.length === 0 ? 200 : r.responses[0].status, 200);
    await settled('SSE + pipelined GET');
  });
});

describe('cross-site requests to the OpenAI-compatible API', () => {
  let srv;
  before(async () => {
    srv = await startUpstreamDown('xsite');
  }, T);
  after(async () => { await srv?.stop(); });

  for (const path of ['/v1/chat/completions', '/api/v1/completions']) {
    it(`${path}: a foreign Origin gets 403, text/plain gets 415, both OpenAI-shaped`, T, async () => {
      const foreign = await fetch(srv.base + path, {
        method: 'POST', body: CHAT,
        headers: { 'content-type': 'application/json', origin: 'https://evil.example' },
      });
      assert.equal(foreign.status, 403);
      assert.equal((await foreign.json()).error.type, 'permission_error');
      const plain = await fetch(srv.base + path, {
        method: 'POST', body: CHAT, headers: { 'content-type': 'text/plain' },
      });
      assert.equal(plain.status, 415);
      assert.match((await plain.json()).error.message, /application\/json/);
      const local = await fetch(srv.base + path, {
        method: 'POST', body: CHAT,
        headers: { 'content-type': 'application/json; charset=utf-8', origin: `http://127.0.0.1:${srv.port}` },
      });
      assert.equal(local.status, 502, 'a same-site JSON request goes upstream (which refuses)');
      await local.text();
    });
  }
});

describe('request bodies share one memory budget', () => {
  let srv;
  before(async () => {
    srv = await startServer({ tag: 'bodies', args: ['--max-body-memory', '100000', '--body-timeout', '1'] });
  }, T);
  after(async () => {
    if (srv) assert.deepEqual(await srv.stop(5000), { code: 0, signal: null }, srv.stderr().slice(-2000));
  });

  // Ten clients each declare 90,000 bytes and send 60,000: a body buffer
  // grows as bytes arrive, and the budget holds at most one buffer big
  // enough for 60,000 bytes beside the others, whatever order they are read
  // in, so at least nine are refused with 503 and closed. Once they are
  // gone the budget is whole again: a complete 90,000-byte body is read
  // (and answered 400: it is not JSON).
  it('refuses the bodies past the budget with 503 and gives the memory back', T, async () => {
    const head = (n) => 'POST /mcp HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n' +
      `Accept: application/json, text/event-stream\r\nConnection: close\r\nContent-Length: ${n}\r\n\r\n`;
    const socks = [];
    const results = Array.from({ length: 10 }, (_, i) => new Promise((resolve) => {
      const sock = net.connect(srv.port, '127.0.0.1');
      socks[i] = sock;
      let buf = '';
      sock.on('data', (d) => { buf += d.toString('latin1'); });
      sock.on('close', () => resolve(buf));
      sock.on('error', () => {});
      sock.on('connect', () => sock.write(head(90_000) + ' '.repeat(60_000)));
    }));
    const refused = [];
    await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`only ${refused.length} refused`)), 20_000);
      for (const p of results) {
        p.then((text) => {
          refused.push(Number(text.split(' ')[1]));
          if (refused.length === 9) { clearTimeout(timer); resolve(); }
        });
      }
    });
    assert.deepEqual(refused, Array(9).fill(503));
    for (const sock of socks) sock.destroy();
    await Promise.all(results);
    const whole = await exchange(srv.port, head(90_000) + 'x'.repeat(90_000), { want: 1 });
    assert.equal(whole.responses[0]?.status, 400, 'a whole 90,000-byte body fits again');
    await settledOn(srv, 'body budget');
  });

  // lws times out a body only between two of its pieces; a body must also
  // be in within --body-timeout of its headers, so a trickle cannot hold
  // its share of the budget for ever. The second piece comes well after
  // the deadline, whatever the machine's speed.
  it('refuses a body that trickles past --body-timeout with 408 and closes', T, async () => {
    const sock = net.connect(srv.port, '127.0.0.1');
    let buf = '';
    sock.on('data', (d) => { buf += d.toString('latin1'); });
    const closed = new Promise((resolve) => sock.on('close', resolve));
    sock.on('error', () => {});
    await new Promise((resolve) => sock.on('connect', resolve));
    sock.write('POST /mcp HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n' +
      'Content-Length: 1000\r\n\r\n' + ' '.repeat(10));
    await sleep(1500);
    sock.write(' '.repeat(10));
    await closed;
    assert.match(buf, /^HTTP\/1\.1 408 /);
  });
});

describe('large answers to clients that do not read them', () => {
  let srv;
  let dir;
  const SIZE = 15 * 1024 * 1024; // larger than loopback's socket buffers
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pw-big-'));
    writeFileSync(join(dir, 'index.html'), '<!doctype html><title>t</title>');
    writeFileSync(join(dir, 'big.bin'), Buffer.alloc(SIZE, 7));
    srv = await startServer({ tag: 'big', args: ['--web-root', dir] });
  }, T);
  after(async () => {
    if (srv) assert.deepEqual(await srv.stop(5000), { code: 0, signal: null }, srv.stderr().slice(-2000));
    rmSync(dir, { recursive: true, force: true });
  });

  // Each answer is queued whole for its client; 300 of them would be 4.5
  // GB. Answers together stay within the out budget (256 MiB by default):
  // the rest get 503, and the memory is back once the clients are gone.
  it('300 clients that ask for a large file and leave cannot pin it 300 times', T, async () => {
    const rss0 = rssBytes(srv.pid);
    await Promise.all(Array.from({ length: 300 }, () => new Promise((resolve) => {
      const sock = net.connect(srv.port, '127.0.0.1', () => {
        sock.write(get('/big.bin'));
        sock.destroy();
        resolve();
      });
      sock.on('error', resolve);
    })));
    let peak = 0;
    for (let i = 0; i < 30; i++) {
      peak = Math.max(peak, rssBytes(srv.pid) - rss0);
      const h = await exchange(srv.port, get('/health', 'Connection: close\r\n'), { want: 1 });
      if (h.responses[0]?.status === 200 && i > 3) break;
      await sleep(100);
    }
    assert.ok(peak < 1024 * 1024 * 1024, `RSS grew by ${(peak / 1048576).toFixed(0)} MiB at most`);
    await settledOn(srv, 'large answers abandoned');
    const whole = await fetch(`${srv.base}/big.bin`);
    assert.equal((await whole.arrayBuffer()).byteLength, SIZE, 'a reading client still gets it whole');
  });

  // A client that stops reading and then half-closes (or sends a byte):
  // lws does not read a connection while its answer is still queued, so
  // the input would keep the loop from ever waiting.
  for (const [what, act] of [['half-closes', (s) => s.end()], ['sends a byte', (s) => s.write('x')]]) {
    it(`a client that stops reading a large answer and ${what} leaves the server idle`, T, async () => {
      const sock = net.connect(srv.port, '127.0.0.1');
      sock.on('error', () => {});
      await new Promise((resolve) => sock.on('connect', resolve));
      sock.pause();
      sock.write(get('/big.bin'));
      await sleep(300);
      act(sock);
      await sleep(200);
      const ticks = await cpuOver(srv.pid);
      assert.ok(ticks < 30, `idle while the connection is open (${ticks} ticks in 1 s)`);
      sock.destroy();
      await settledOn(srv, what);
    });
  }
});
