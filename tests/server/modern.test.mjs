// Revision 2026-07-28 (stateless) over the network: the official v2 SDK
// client (@modelcontextprotocol/client) pinned to 2026-07-28 against a real
// `pennyworth serve`, over Streamable HTTP (one POST per request, no
// session) and WebSocket (lib/ws-transport.mjs; one connection, requests
// classified per message), every server message validated against the
// 2026-07-28 schema: discover, lists with cache hints, a tool call, a
// resource read, resource-not-found as -32602, a subscriptions/listen
// stream that hears a product change made by another process, and a
// multi-round-trip tool call (check_availability asks through elicitation).
//
// Then the parts the SDK does not drive, with plain fetch: the
// HeaderMismatch checks of Streamable HTTP (-32020, HTTP 400), GET and
// DELETE refused (405), a legacy session and a modern request sharing the
// server, and the tasks extension on the catalog's export_catalog tool
// (a task handle at once, tasks/get until the export is there).

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Client, StreamableHTTPClientTransport } from '../interop/lib/sdk-v2.mjs';
import { RecordingTransport } from '../interop/lib/recorder.mjs';
import { captureWsFrames, recordingFetch } from '../interop/lib/net-taps.mjs';
import { WebSocketClientTransport } from '../interop/lib/ws-transport.mjs';
import { structured } from '../interop/lib/env.mjs';
import { startServer, waitFor, T, LATEST } from './lib/harness.mjs';
import { checkListenUpdate, checkMultiRoundTrip } from '../interop/lib/modern-checks.mjs';

const MODERN = '2026-07-28';
const TASKS = 'io.modelcontextprotocol/tasks';

const links = {
  'Streamable HTTP': (srv, rec) => new StreamableHTTPClientTransport(new URL(srv.url),
    { fetch: recordingFetch(rec) }),
  WebSocket: (srv) => new WebSocketClientTransport(new URL(`ws://127.0.0.1:${srv.port}/ws`)),
};

for (const [name, make] of Object.entries(links)) {
  describe(`@modelcontextprotocol/client v2 pinned to ${MODERN} over ${name}`, () => {
    let srv;
    let client;
    let rec;
    let asked = 0;
    let closed = false;

    before(async () => {
      srv = await startServer({ tag: `modern-${name.replace(/\W+/g, '')}` });
      client = new Client({ name: 'pennyworth-modern-net', version: '1.0.0' }, {
        capabilities: { elicitation: { form: {} } },
        versionNegotiation: { mode: { pin: MODERN } },
      });
      client.setRequestHandler('elicitation/create', async (req) => {
        asked++;
        assert.equal(req.params.requestedSchema.properties.quantity.type, 'integer');
        return { action: 'accept', content: { quantity: 2 } };
      });
      rec = new RecordingTransport((r) => make(srv, r), {
        label: `modern-${name}:pennyworth`,
        capture: name === 'WebSocket' ? captureWsFrames : undefined,
      });
      await client.connect(rec);
    }, T);

    after(async () => {
      if (!closed) await client?.close().catch(() => {});
      await srv?.stop();
    });

    it('speaks 2026-07-28 without initialize', T, () => {
      assert.equal(client.getNegotiatedProtocolVersion(), MODERN);
      assert.ok(!rec.sent.some((s) => s.msg.method === 'initialize'), 'no initialize was sent');
    });

    it('lists tools with cache hints and calls one', T, async () => {
      const names = (await client.listTools()).tools.map((t) => t.name);
      assert.ok(names.includes('search_products') && names.includes('export_catalog'), `${names}`);
      const res = await client.callTool({ name: 'search_products', arguments: { query: 'iphone', limit: 3 } });
      assert.match(structured(res, 'search_products').products[0]?.name ?? '', /iphone/i);
      const lists = rec.messages().filter((m) => m.result?.tools);
      assert.ok(lists.length > 0, 'the tools/list answer was recorded');
      for (const m of lists) {
        assert.equal(m.result.cacheScope, 'public');
        assert.ok(Number.isInteger(m.result.ttlMs) && m.result.ttlMs > 0);
      }
    });

    it('reads a resource; an unknown one is -32602 with its uri', T, async () => {
      const cats = await client.readResource({ uri: 'catalog://categories' });
      assert.ok(JSON.parse(cats.contents[0].text).categories.length > 0);
      await assert.rejects(client.readResource({ uri: 'catalog://products/no-such-id' }),
        (e) => e.code === -32602 && e.data?.uri === 'catalog://products/no-such-id');
    });

    it('delivers a live product change on a subscriptions/listen stream', T, () =>
      checkListenUpdate(client, srv.db));

    it('runs a multi-round-trip tool call through the elicitation handler', T, () =>
      checkMultiRoundTrip(client, () => asked));

    it('close, and every server message matched the 2026-07-28 schema', T, async () => {
      await client.close();
      closed = true;
      assert.ok(rec.lines.length >= 8, `recorded ${rec.lines.length} server messages`);
      rec.assertValid();
      const exit = await srv.stop();
      assert.deepEqual(exit, { code: 0, signal: null }, srv.stderr().slice(-3000));
    });
  });
}

// Plain HTTP ---------------------------------------------------------------------------

const META = {
  'io.modelcontextprotocol/protocolVersion': MODERN,
  'io.modelcontextprotocol/clientCapabilities': { extensions: { [TASKS]: {} } },
  'io.modelcontextprotocol/clientInfo': { name: 'modern-raw', version: '1' },
};

let nextId = 1;

// POSTs one modern request; resolves {status, body} (an SSE answer's last
// message is the body).
async function post(url, method, params = {}, headers = {}) {
  const h = {
    'content-type': 'application/json', accept: 'application/json, text/event-stream',
    'mcp-protocol-version': MODERN, 'mcp-method': method, ...headers,
  };
  for (const k of Object.keys(h)) if (h[k] === undefined) delete h[k];
  const id = nextId++;
  const res = await fetch(url, {
    method: 'POST', headers: h,
    body: JSON.stringify({ jsonrpc: '2.0', id, method, params: { _meta: META, ...params } }),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  if ((res.headers.get('content-type') ?? '').includes('text/event-stream')) {
    const msgs = text.split('\n').filter((l) => l.startsWith('data:')).map((l) => JSON.parse(l.slice(5)));
    return { status: res.status, body: msgs.at(-1), id };
  }
  return { status: res.status, body: text ? JSON.parse(text) : undefined, id };
}

describe(`${MODERN} over plain Streamable HTTP: headers, eras side by side, tasks`, () => {
  let srv;
  before(async () => {
    srv = await startServer({ tag: 'modern-raw' });
  }, T);
  after(async () => {
    await srv?.stop();
  });

  it('refuses mismatched or missing mirrored headers with -32020 and HTTP 400', T, async () => {
    for (const [what, headers] of [
      ['Mcp-Method mismatch', { 'mcp-method': 'prompts/list' }],
      ['Mcp-Method missing', { 'mcp-method': undefined }],
      ['protocol version mismatch', { 'mcp-protocol-version': '2026-01-01' }],
    ]) {
      const r = await post(srv.url, 'tools/list', {}, headers);
      assert.equal(r.status, 400, what);
      assert.equal(r.body.error.code, -32020, what);
      assert.equal(r.body.id, r.id, `${what}: the error carries the request id`);
    }
    const wrongName = await post(srv.url, 'tools/call', { name: 'get_product', arguments: { id: '1' } },
      { 'mcp-name': 'search_products' });
    assert.equal(wrongName.body.error.code, -32020);
    const encoded = await post(srv.url, 'tools/call', { name: 'get_product', arguments: { id: '1' } },
      { 'mcp-name': `=?base64?${Buffer.from('get_product').toString('base64')}?=` });
    assert.equal(encoded.status, 200, JSON.stringify(encoded.body));
    assert.equal(encoded.body.result.resultType, 'complete');
  });

  it('binds a requestState to the credential that made it, once', T, async () => {
    const meta = { ...META, 'io.modelcontextprotocol/clientCapabilities': { elicitation: {} } };
    const call = (credential, extra = {}) => post(srv.url, 'tools/call',
      { name: 'check_availability', arguments: { id: '1', quantity: 100000 }, _meta: meta, ...extra },
      { 'mcp-name': 'check_availability', authorization: `Bearer ${credential}` });
    const first = await call('pw-alice');
    assert.equal(first.body.result.resultType, 'input_required', JSON.stringify(first.body));
    const retry = { requestState: first.body.result.requestState,
      inputResponses: { smaller_quantity: { action: 'decline' } } };
    const moved = await call('pw-mallory', retry);
    assert.equal(moved.body.error.code, -32602, JSON.stringify(moved.body));
    assert.match(moved.body.error.message, /belongs to another request/);
    const own = await call('pw-alice', retry);
    assert.equal(own.body.result.resultType, 'complete', JSON.stringify(own.body));
    const again = await call('pw-alice', retry);
    assert.match(again.body.error.message, /already used/);
  });

  it('answers unknown methods 404 -32601 and refuses GET and DELETE with 405', T, async () => {
    const r = await post(srv.url, 'initialize');
    assert.equal(r.status, 404);
    assert.equal(r.body.error.code, -32601);
    for (const method of ['GET', 'DELETE']) {
      const res = await fetch(srv.url, { method, headers: { 'mcp-protocol-version': MODERN } });
      await res.arrayBuffer();
      assert.equal(res.status, 405, method);
    }
  });

  it('serves a legacy session and modern requests at the same time', T, async () => {
    const init = await fetch(srv.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: {
        protocolVersion: LATEST, capabilities: {}, clientInfo: { name: 'legacy', version: '1' } } }),
    });
    const sid = init.headers.get('mcp-session-id');
    assert.equal((await init.json()).result.protocolVersion, LATEST);
    const modern = await post(srv.url, 'tools/list');
    assert.ok(modern.body.result.tools.length > 0);
    const legacy = await fetch(srv.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream',
        'mcp-session-id': sid, 'mcp-protocol-version': LATEST },
      body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list' }),
    });
    const lb = await legacy.json();
    assert.equal(lb.result.resultType, undefined, 'legacy results stay as they were');
    assert.deepEqual(lb.result.tools.map((t) => t.name), modern.body.result.tools.map((t) => t.name));
  });

  it('runs export_catalog as a task: a handle at once, the export on tasks/get', T, async () => {
    const created = await post(srv.url, 'tools/call', { name: 'export_catalog', arguments: { format: 'csv' } },
      { 'mcp-name': 'export_catalog' });
    assert.equal(created.status, 200, JSON.stringify(created.body));
    const task = created.body.result;
    assert.equal(task.resultType, 'task');
    assert.match(task.taskId, /^[0-9a-f]{32}$/);
    assert.ok(!('requestState' in task) && !('result' in task));
    const done = await waitFor(async () => {
      const r = await post(srv.url, 'tasks/get', { taskId: task.taskId }, { 'mcp-name': task.taskId });
      assert.equal(r.body.result.resultType, 'complete');
      return r.body.result.status === 'completed' ? r.body.result : undefined;
    }, 10_000, 'the export task to complete');
    assert.equal(done.result.structuredContent.format, 'csv');
    assert.match(done.result.content[0].resource.text, /^id,/);
    const cancel = await post(srv.url, 'tasks/cancel', { taskId: task.taskId }, { 'mcp-name': task.taskId });
    assert.deepEqual(Object.keys(cancel.body.result).sort(), ['_meta', 'resultType']);
    const unknown = await post(srv.url, 'tasks/get', { taskId: 'nope' }, { 'mcp-name': 'nope' });
    assert.equal(unknown.body.error.code, -32602);
  });

  it('keeps export_catalog synchronous for a client without the extension', T, async () => {
    const r = await post(srv.url, 'tools/call', {
      name: 'export_catalog', arguments: { format: 'jsonl' },
      _meta: { ...META, 'io.modelcontextprotocol/clientCapabilities': {} },
    }, { 'mcp-name': 'export_catalog' });
    assert.equal(r.body.result.resultType, 'complete');
    assert.ok(r.body.result.structuredContent.bytes > 0);
    const gated = await post(srv.url, 'tasks/get', {
      taskId: 'x', _meta: { ...META, 'io.modelcontextprotocol/clientCapabilities': {} },
    }, { 'mcp-name': 'x' });
    assert.equal(gated.status, 400);
    assert.equal(gated.body.error.code, -32021);
  });

  it('stops cleanly', T, async () => {
    const exit = await srv.stop();
    assert.deepEqual(exit, { code: 0, signal: null }, srv.stderr().slice(-3000));
  });
});
