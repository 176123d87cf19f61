// Server life: the graceful stop on SIGTERM and SIGINT. Idle, it exits 0;
// with WebSocket sessions and SSE streams open it closes them (1001, end of
// stream) and exits 0; with calls in flight on both transports every call
// is answered before its connection closes, within the grace period; when
// the grace period (--grace-ms) is too short the rest is cancelled and it
// still exits 0 (under the sanitizers: without a leak); a second signal
// ends it at once (held in its stop phase by a /v1 call to a fake upstream
// that never answers). Misbehaving clients are in abuse.test.mjs.
//
// Plain sockets with "Connection: close" carry the HTTP here, so no client
// keep-alive pool holds connections open across the stop.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  T, LATEST, startServer, rawWs, rawHttp, openSession, openGet, initialize, request, notification, post,
  JSON_HEADERS, sleep, waitFor,
} from './lib/harness.mjs';
import { startFakeOpenAI } from '../bridge/fakes/openai.mjs';

// About 45 KiB of answer, a few ms of work each.
const BIG_SEARCH = (id) => request('tools/call', { name: 'search_products', arguments: { query: 'a', limit: 50 } }, id);

// A WebSocket session with `n` calls in flight; resolves {ws, ids}.
async function wsWithCalls(port, n, first = 100) {
  const { ws } = await rawWs(port);
  ws.send(initialize(LATEST, 1));
  assert.equal((await ws.nextMessage()).id, 1);
  ws.send(notification('notifications/initialized'));
  const ids = [];
  ws.sock.cork(); // one write: the server reads them all at once
  for (let i = 0; i < n; i++) {
    ids.push(first + i);
    ws.send(BIG_SEARCH(first + i));
  }
  ws.sock.uncork();
  return { ws, ids };
}

// Every message until the server closes; resolves {answered ids, close code}.
async function drain(ws, ms = 15_000) {
  const answered = new Set();
  for (;;) {
    let m;
    try {
      m = await ws.nextMessage(ms);
    } catch (e) {
      const code = /^closed (\d+)/.exec(e.message);
      if (code) return { answered, code: Number(code[1]) };
      throw e;
    }
    if (!m) return { answered, code: 1006 };
    if ('id' in m && !('method' in m)) answered.add(m.id);
  }
}

// `n` HTTP calls on one session at once, each on its own connection.
function httpCalls(srv, sid, n, first = 500) {
  return Array.from({ length: n }, (_, i) => rawHttp(srv.port, 'POST', '/mcp',
    { ...JSON_HEADERS, 'mcp-session-id': sid, 'mcp-protocol-version': LATEST },
    JSON.stringify(BIG_SEARCH(first + i)), 20_000).catch((e) => ({ status: 0, error: e.message })));
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

  for (const signal of ['SIGTERM', 'SIGINT']) {
    it(`${signal} with calls in flight on both transports: each is answered, then exit 0`, T, async () => {
      const srv = await startServer({ tag: `inflight-${signal}` });
      try {
        const sid = await openSession(srv);
        const { ws, ids } = await wsWithCalls(srv.port, 150);
        const calls = httpCalls(srv, sid, 20);
        // The first answer shows the server has read the calls (they came in
        // one read); the others are in flight when the signal comes.
        const first = await ws.nextMessage();
        process.kill(srv.pid, signal);
        const { answered, code } = await drain(ws);
        answered.add(first.id);
        assert.equal(code, 1001, 'the WebSocket closes with 1001 (going away)');
        const missing = ids.filter((id) => !answered.has(id));
        assert.deepEqual(missing, [], `every WebSocket call in flight was answered before the close (${answered.size} were)`);
        for (const r of await Promise.all(calls)) {
          // Answered (200), or refused because it arrived after the stop
          // began (503, or the connection refused / reset).
          assert.ok([200, 503, 0].includes(r.status), `HTTP status ${r.status}: ${r.body ?? r.error}`);
          if (r.status === 200) assert.ok(JSON.parse(r.body).result, r.body);
        }
        assert.deepEqual(await srv.exited, { code: 0, signal: null }, srv.stderr().slice(-3000));
      } finally {
        await srv.stop();
      }
    });
  }

  it('cancels what the grace period cannot finish, and still exits 0', T, async () => {
    const srv = await startServer({ tag: 'grace', args: ['--grace-ms', '1'] });
    try {
      const sid = await openSession(srv);
      const { ws } = await wsWithCalls(srv.port, 200);
      const calls = httpCalls(srv, sid, 20);
      const { sse } = await openGet(srv, sid);
      await sse.next();
      await sleep(10);
      const t0 = Date.now();
      process.kill(srv.pid, 'SIGTERM');
      assert.deepEqual(await srv.exited, { code: 0, signal: null }, srv.stderr().slice(-3000));
      assert.ok(Date.now() - t0 < 5000, `exited ${Date.now() - t0} ms after the signal`);
      await drain(ws);
      assert.equal(await sse.next(5000).catch(() => null), null, 'the GET stream ended');
      // Answered, refused (503), or cut (no status) when the grace ran out.
      for (const r of await Promise.all(calls)) {
        assert.ok([200, 503, 0].includes(r.status), `HTTP status ${r.status}: ${r.body ?? r.error}`);
      }
    } finally {
      await srv.stop();
    }
  });

  it('a second signal while stopping ends it at once, exit 0', T, async () => {
    // What holds the server in its stop phase is a /v1 call whose upstream
    // (a fake OpenAI run here) never answers: an exchange in flight that the
    // stop waits for up to --grace-ms, and that ends only when the server
    // drops it. Nothing depends on timing or kernel buffer sizes.
    const upstream = await startFakeOpenAI({ apiKey: 'x' });
    upstream.always('x', { hang: true });
    const srv = await startServer({
      tag: 'twice',
      args: ['--grace-ms', '30000'],
      env: { OPENAI_BASE_URL: upstream.baseUrl, OPENAI_API_KEY: 'x' },
    });
    try {
      const call = rawHttp(srv.port, 'POST', '/v1/chat/completions', { 'content-type': 'application/json' },
        JSON.stringify({ model: 'openai/x', stream: true, messages: [{ role: 'user', content: 'hi' }] }), 20_000)
        .catch((e) => ({ status: 0, error: e.message }));
      await upstream.waitRequests(1);
      process.kill(srv.pid, 'SIGTERM');
      await waitFor(() => (/server: stopping/.test(srv.stderr()) ? true : undefined), 10_000, 'the stop to begin');
      assert.match(srv.stderr(), /stopping \(up to 30000 ms for 1 active exchanges\)/);
      const early = await Promise.race([srv.exited, sleep(300).then(() => 'running')]);
      assert.equal(early, 'running', 'the first signal alone has not ended it');
      const t0 = Date.now();
      process.kill(srv.pid, 'SIGINT');
      assert.deepEqual(await srv.exited, { code: 0, signal: null }, srv.stderr().slice(-3000));
      assert.ok(Date.now() - t0 < 2000, `the second signal ended it promptly (${Date.now() - t0} ms)`);
      assert.match(srv.stderr(), /second stop request/);
      const cut = await call;
      assert.ok(!/\[DONE\]/.test(cut.body ?? ''), `the held call was cut, not answered: ${cut.body ?? cut.error}`);
    } finally {
      await srv.stop();
      await upstream.close();
    }
  });
});
