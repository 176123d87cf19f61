// MCP over Streamable HTTP against a real `pennyworth serve`: sessions
// (issue, require, unknown, DELETE), every transport-level refusal with its
// status and a JSON-RPC error body with "id": null, JSON and SSE answers,
// the GET stream carrying notifications/resources/updated after a second
// process changes the catalog, Last-Event-ID resumption, SEP-1699 polling
// (the server closes SSE connections and clients resume), batches in
// 2025-03-26, Origin checks and CORS.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  T, LATEST, startServer, runPw, post, openSession, openGet, initialize, request, notification,
  ACCEPT_BOTH, sleep,
} from './lib/harness.mjs';

async function errorBody(res, status) {
  assert.equal(res.status, status, `expected HTTP ${status}, got ${res.status}`);
  assert.match(res.headers.get('content-type') ?? '', /application\/json/);
  const body = await res.json();
  assert.equal(body.jsonrpc, '2.0');
  assert.equal(body.id, null);
  assert.equal(typeof body.error.code, 'number');
  assert.equal(typeof body.error.message, 'string');
  return body;
}

describe('MCP over Streamable HTTP', () => {
  let srv;

  before(async () => {
    srv = await startServer({ tag: 'http', args: ['--allow-origin', 'https://shop.example'] });
  });

  after(async () => {
    const r = await srv.stop();
    assert.equal(r.code, 0, `server exit ${JSON.stringify(r)}\n${srv.stderr()}`);
  });

  it('issues a session id on initialize and answers in JSON', T, async () => {
    const res = await post(srv, initialize(LATEST, 1));
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type'), /^application\/json/);
    const sid = res.headers.get('mcp-session-id');
    assert.match(sid, /^[0-9a-f]{32}$/);
    const body = await res.json();
    assert.equal(body.id, 1);
    assert.equal(body.result.protocolVersion, LATEST);
    const n = await post(srv, notification('notifications/initialized'), { sid, version: LATEST });
    assert.equal(n.status, 202);
    assert.equal(await n.text(), '');
    const l = await post(srv, request('tools/list', undefined, 2), { sid, version: LATEST });
    assert.equal(l.status, 200);
    assert.ok((await l.json()).result.tools.some((t) => t.name === 'search_products'));
  });

  it('gives every session its own id', T, async () => {
    const a = await openSession(srv);
    const b = await openSession(srv);
    assert.notEqual(a, b);
  });

  it('requires the session id after initialize (400) and refuses unknown ones (404)', T, async () => {
    const e1 = await errorBody(await post(srv, request('tools/list')), 400);
    assert.match(e1.error.message, /Mcp-Session-Id/);
    await errorBody(await post(srv, request('tools/list'), { sid: '0123456789abcdef0123456789abcdef' }), 404);
    await errorBody(await post(srv, request('tools/list'), { sid: 'x'.repeat(300) }), 404);
    const g = await fetch(srv.url, { headers: { accept: 'text/event-stream' } });
    await errorBody(g, 400);
    const d = await fetch(srv.url, { method: 'DELETE', headers: { 'mcp-session-id': 'nope' } });
    await errorBody(d, 404);
  });

  it('ends a session on DELETE', T, async () => {
    const sid = await openSession(srv);
    const d = await fetch(srv.url, { method: 'DELETE', headers: { 'mcp-session-id': sid } });
    assert.equal(d.status, 200);
    await errorBody(await post(srv, request('tools/list'), { sid }), 404);
    await errorBody(await fetch(srv.url, { method: 'DELETE', headers: { 'mcp-session-id': sid } }), 404);
  });

  it('refuses an unsupported MCP-Protocol-Version (400) and accepts a missing one', T, async () => {
    const sid = await openSession(srv, '2025-06-18');
    const bad = await errorBody(await post(srv, request('ping'), { sid, version: '1999-01-01' }), 400);
    assert.match(bad.error.message, /MCP-Protocol-Version/);
    const none = await post(srv, request('ping', undefined, 7), { sid });
    assert.equal(none.status, 200);
    assert.equal((await none.json()).id, 7);
  });

  it('refuses a wrong Content-Type (415)', T, async () => {
    await errorBody(await post(srv, initialize(), { contentType: 'text/plain' }), 415);
    await errorBody(await post(srv, initialize(), { contentType: 'application/jsonx' }), 415);
    const ok = await post(srv, initialize(), { contentType: 'application/json; charset=utf-8' });
    assert.equal(ok.status, 200);
  });

  it('refuses an Accept that admits neither JSON nor SSE (406)', T, async () => {
    await errorBody(await post(srv, initialize(), { accept: 'text/html' }), 406);
    await errorBody(await post(srv, initialize(), { accept: 'application/json;q=0, text/event-stream;q=0' }), 406);
    const wild = await post(srv, initialize(), { accept: '*/*' });
    assert.equal(wild.status, 200);
    const sid = await openSession(srv);
    await errorBody(await fetch(srv.url, { headers: { accept: 'application/json', 'mcp-session-id': sid } }), 406);
  });

  it('answers invalid JSON with 400 and a parse error (-32700)', T, async () => {
    const e = await errorBody(await post(srv, '{"jsonrpc": "2.0", "id": 1, "method": '), 400);
    assert.equal(e.error.code, -32700);
    const sid = await openSession(srv);
    const e2 = await errorBody(await post(srv, 'not json', { sid }), 400);
    assert.equal(e2.error.code, -32700);
    const e3 = await errorBody(await post(srv, '42', { sid }), 400);
    assert.equal(e3.error.code, -32600);
    const e4 = await errorBody(await post(srv, '[]', { sid }), 400);
    assert.equal(e4.error.code, -32600);
  });

  it('refuses a body over the limit (413) and keeps serving', T, async () => {
    const big = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping', params: { pad: 'z'.repeat(7 * 1024 * 1024) } });
    await errorBody(await post(srv, big), 413);
    const ok = await post(srv, initialize());
    assert.equal(ok.status, 200);
  });

  it('refuses other methods (405) with an Allow header', T, async () => {
    const r = await fetch(srv.url, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: '{}' });
    await errorBody(r, 405);
    assert.match(r.headers.get('allow'), /POST/);
  });

  it('answers 404 outside its routes', T, async () => {
    await errorBody(await fetch(`${srv.base}/nothing-here`), 404);
  });

  it('answers a tools/call with a progressToken as an SSE stream', T, async () => {
    const sid = await openSession(srv);
    const res = await post(srv, request('tools/call', {
      name: 'search_products', arguments: { query: 'lipstick', limit: 1 }, _meta: { progressToken: 'p-1' },
    }, 21), { sid, version: LATEST });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type'), /^text\/event-stream/);
    const { SseReader } = await import('./lib/harness.mjs');
    const sse = new SseReader(res.body);
    const first = await sse.next();
    assert.ok(first.id, 'a priming event with an id comes first (2025-11-25)');
    assert.equal(first.data, '');
    const seen = [];
    for (;;) {
      const ev = await sse.nextMessage();
      assert.ok(ev, 'stream ended before the response');
      assert.ok(ev.id, 'every event has an id');
      seen.push(ev.msg);
      if (ev.msg.id === 21) break;
    }
    assert.ok(seen.some((m) => m.method === 'notifications/progress' && m.params.progressToken === 'p-1'));
    assert.equal(seen.at(-1).result.isError, undefined);
    assert.equal(await sse.next(), null, 'the stream ends after the response');
  });

  it('does not send priming events to 2025-06-18 sessions', T, async () => {
    const sid = await openSession(srv, '2025-06-18');
    const res = await post(srv, request('tools/call', {
      name: 'search_products', arguments: { query: 'phone', limit: 1 }, _meta: { progressToken: 7 },
    }, 22), { sid, version: '2025-06-18' });
    const { SseReader } = await import('./lib/harness.mjs');
    const sse = new SseReader(res.body);
    const first = await sse.next();
    assert.ok(first.data && first.data.length > 0, 'no empty-data event');
    await sse.cancel();
  });

  it('answers SSE-only clients with SSE and JSON-only clients with JSON', T, async () => {
    const res = await post(srv, initialize(LATEST, 30), { accept: 'text/event-stream' });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type'), /^text\/event-stream/);
    const sid = res.headers.get('mcp-session-id');
    assert.match(sid, /^[0-9a-f]{32}$/);
    const { SseReader } = await import('./lib/harness.mjs');
    const ev = await new SseReader(res.body).nextMessage();
    assert.equal(ev.msg.id, 30);
    const j = await post(srv, request('tools/call', {
      name: 'search_products', arguments: { query: 'phone', limit: 1 }, _meta: { progressToken: 1 },
    }, 31), { sid, accept: 'application/json' });
    assert.match(j.headers.get('content-type'), /^application\/json/);
    assert.equal((await j.json()).id, 31);
  });

  it('accepts responses and notifications with 202', T, async () => {
    const sid = await openSession(srv);
    const r = await post(srv, { jsonrpc: '2.0', id: 12345, result: {} }, { sid, version: LATEST });
    assert.equal(r.status, 202);
    const n = await post(srv, notification('notifications/cancelled', { requestId: 99 }), { sid, version: LATEST });
    assert.equal(n.status, 202);
  });

  it('delivers resources/updated on the GET stream after `catalog set`', T, async () => {
    const sid = await openSession(srv);
    const sub = await post(srv, request('resources/subscribe', { uri: 'catalog://products/1' }), { sid, version: LATEST });
    assert.equal(sub.status, 200);
    const { res, sse } = await openGet(srv, sid);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type'), /^text\/event-stream/);
    const prime = await sse.next();
    assert.ok(prime.id);
    const set = await runPw(['catalog', 'set', '1', '--stock', '3', '--db', srv.db]);
    assert.equal(set.code, 0, set.stderr);
    const ev = await sse.nextMessage(10_000);
    assert.equal(ev.msg.method, 'notifications/resources/updated');
    assert.equal(ev.msg.params.uri, 'catalog://products/1');
    assert.ok(ev.id);
    await sse.cancel();
  });

  it('resumes a stream with Last-Event-ID', T, async () => {
    const sid = await openSession(srv);
    await post(srv, request('resources/subscribe', { uri: 'catalog://products/2' }), { sid, version: LATEST });
    const g1 = await openGet(srv, sid);
    const prime = await g1.sse.next();
    await g1.sse.cancel(); // the client goes away
    await sleep(100);
    for (const stock of [5, 6]) {
      const set = await runPw(['catalog', 'set', '2', '--stock', String(stock), '--db', srv.db]);
      assert.equal(set.code, 0, set.stderr);
      await sleep(150); // separate changes, separate notifications
    }
    await sleep(300);
    const g2 = await openGet(srv, sid, { lastEventId: prime.id });
    assert.equal(g2.res.status, 200);
    const a = await g2.sse.nextMessage();
    const b = await g2.sse.nextMessage();
    assert.equal(a.msg.method, 'notifications/resources/updated');
    assert.equal(b.msg.method, 'notifications/resources/updated');
    await g2.sse.cancel();
    // Resuming from the first replays only the second, on the same stream.
    const g3 = await openGet(srv, sid, { lastEventId: a.id });
    const c = await g3.sse.nextMessage();
    assert.equal(c.id, b.id);
    await g3.sse.cancel();
    // An id that is not ours, or from the future, is refused.
    const bad = await openGet(srv, sid, { lastEventId: 'garbage' });
    await errorBody(bad.res, 400);
    const future = await openGet(srv, sid, { lastEventId: '0-999999' });
    await errorBody(future.res, 400);
  });

  it('batches requests in 2025-03-26', T, async () => {
    const sid = await openSession(srv, '2025-03-26');
    const r = await post(srv, [request('ping', undefined, 'a'), notification('notifications/x'), request('tools/list', undefined, 'b')],
      { sid, version: '2025-03-26' });
    assert.equal(r.status, 200);
    const body = await r.json();
    assert.ok(Array.isArray(body));
    assert.deepEqual(body.map((m) => m.id).sort(), ['a', 'b']);
    const sid2 = await openSession(srv, '2025-06-18');
    const r2 = await post(srv, [request('ping', undefined, 'c')], { sid: sid2, version: '2025-06-18' });
    await errorBody(r2, 400);
  });

  it('refuses a foreign Origin (403) and allows local and configured ones', T, async () => {
    const bad = await errorBody(await post(srv, initialize(), { origin: 'https://evil.example' }), 403);
    assert.match(bad.error.message, /Origin/);
    for (const origin of ['http://localhost:3000', 'https://shop.example']) {
      const ok = await post(srv, initialize(), { origin });
      assert.equal(ok.status, 200, origin);
      assert.equal(ok.headers.get('access-control-allow-origin'), origin);
      assert.match(ok.headers.get('access-control-expose-headers'), /mcp-session-id/);
    }
    const pre = await fetch(srv.url, { method: 'OPTIONS', headers: { origin: 'http://localhost:3000', 'access-control-request-method': 'POST' } });
    assert.equal(pre.status, 204);
    assert.match(pre.headers.get('access-control-allow-headers'), /mcp-session-id/);
  });

  it('accepts string request ids', T, async () => {
    const sid = await openSession(srv);
    const r = await post(srv, request('ping', undefined, 'str-id'), { sid, version: LATEST });
    assert.equal((await r.json()).id, 'str-id');
  });
});

describe('SEP-1699 polling (--sse-poll-ms)', () => {
  let srv;

  before(async () => {
    srv = await startServer({ tag: 'poll', args: ['--sse-poll-ms', '400', '--sse-retry-ms', '250'] });
  });

  after(async () => {
    const r = await srv.stop();
    assert.equal(r.code, 0, srv.stderr());
  });

  it('closes the GET connection with a retry hint; the client resumes without loss', T, async () => {
    const sid = await openSession(srv);
    await post(srv, request('resources/subscribe', { uri: 'catalog://products/3' }), { sid, version: LATEST });
    const g1 = await openGet(srv, sid);
    const prime = await g1.sse.next();
    assert.ok(prime.id);
    let last = prime.id;
    let retry;
    for (;;) {
      const ev = await g1.sse.next(5000);
      if (!ev) break;
      if (ev.retry !== undefined) retry = ev.retry;
      if (ev.id) last = ev.id;
    }
    assert.equal(retry, 250, 'a retry field before the server closed');
    // Changes made while the client is away wait for it.
    const set = await runPw(['catalog', 'set', '3', '--stock', '9', '--db', srv.db]);
    assert.equal(set.code, 0, set.stderr);
    await sleep(400);
    const g2 = await openGet(srv, sid, { lastEventId: last });
    const ev = await g2.sse.nextMessage();
    assert.equal(ev.msg.method, 'notifications/resources/updated');
    assert.equal(ev.msg.params.uri, 'catalog://products/3');
    await g2.sse.cancel();
  });

  it('keeps 2025-06-18 streams open', T, async () => {
    const sid = await openSession(srv, '2025-06-18');
    const ac = new AbortController();
    const g = await openGet(srv, sid, { signal: ac.signal });
    await assert.rejects(g.sse.next(1200), /timed out/);
    ac.abort();
  });
});

describe('idle HTTP sessions (--session-idle)', () => {
  let srv;

  before(async () => { srv = await startServer({ tag: 'idle', args: ['--session-idle', '1'] }); });
  after(async () => {
    const r = await srv.stop();
    assert.equal(r.code, 0, srv.stderr());
  });

  it('ends a session idle for longer than the bound, not one with an open stream', T, async () => {
    const idle = await openSession(srv);
    const busy = await openSession(srv);
    const g = await openGet(srv, busy);
    await g.sse.next();
    await sleep(2000);
    await errorBody(await post(srv, request('ping'), { sid: idle, version: LATEST }), 404);
    const ok = await post(srv, request('ping', undefined, 3), { sid: busy, version: LATEST });
    assert.equal(ok.status, 200);
    await g.sse.cancel();
  });
});
