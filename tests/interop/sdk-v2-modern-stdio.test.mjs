// The official v2 SDK client (@modelcontextprotocol/client) pinned to
// revision 2026-07-28 (stateless: per-request _meta, no initialize) against
// the real catalog server over stdio, every server message validated
// against the 2026-07-28 schema: discover, lists with cache hints, a tool
// call, a resource read, resource-not-found as -32602, a subscriptions/listen
// stream that hears a product change made by another process, and a
// multi-round-trip tool call (check_availability asks through elicitation,
// the SDK fulfils it with our handler and retries with the sealed state).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Client } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { StdioRecordingTransport } from './lib/recorder.mjs';
import { pwBin, freshDatabase, serverEnv, killIfAlive, structured,
  TEST_TIMEOUT_MS } from './lib/env.mjs';
import { checkListenUpdate, checkMultiRoundTrip } from './lib/modern-checks.mjs';

describe('@modelcontextprotocol/client v2 pinned to 2026-07-28 over stdio', () => {
  const T = { timeout: TEST_TIMEOUT_MS };
  let db;
  let client;
  let rec;
  let asked = 0;
  let closed = false;

  before(async () => {
    db = freshDatabase('sdk-v2-modern');
    client = new Client({ name: 'pennyworth-interop-modern', version: '1.0.0' }, {
      capabilities: { elicitation: { form: {} } },
      versionNegotiation: { mode: { pin: '2026-07-28' } },
    });
    client.setRequestHandler('elicitation/create', async (req) => {
      asked++;
      assert.equal(req.params.requestedSchema.properties.quantity.type, 'integer');
      return { action: 'accept', content: { quantity: 2 } };
    });
    rec = new StdioRecordingTransport(
      new StdioClientTransport({ command: pwBin(), args: ['stdio'], env: serverEnv(db.path),
        stderr: 'pipe' }),
      { label: 'sdk-v2-modern:pennyworth' });
    await client.connect(rec);
  }, T);

  after(async () => {
    if (!closed) await client?.close().catch(() => {});
    killIfAlive(rec?.childPid);
    db?.cleanup();
  });

  it('speaks 2026-07-28 without initialize', T, () => {
    assert.equal(client.getNegotiatedProtocolVersion(), '2026-07-28');
    assert.ok(!rec.sent.some((s) => s.msg.method === 'initialize'), 'no initialize was sent');
    const discover = rec.sent.find((s) => s.msg.method === 'server/discover');
    assert.ok(discover, 'the client discovered the server');
  });

  it('lists tools in a stable order, with cache hints', T, async () => {
    const a = (await client.listTools()).tools.map((t) => t.name);
    const b = (await client.listTools({}, { cacheMode: 'bypass' })).tools.map((t) => t.name);
    assert.deepEqual(a, b);
    assert.ok(a.includes('search_products'));
    const lists = rec.lines.map((l) => JSON.parse(l.text)).filter((m) => m.result?.tools);
    assert.ok(lists.length > 0);
    for (const m of lists) {
      assert.equal(m.result.resultType, 'complete');
      assert.equal(m.result.cacheScope, 'public');
      assert.ok(Number.isInteger(m.result.ttlMs) && m.result.ttlMs > 0);
      assert.equal(m.result._meta['io.modelcontextprotocol/serverInfo'].name, 'pennyworth');
    }
  });

  it('calls a tool and reads a resource', T, async () => {
    const res = await client.callTool({ name: 'search_products', arguments: { query: 'iphone', limit: 3 } });
    assert.match(structured(res, 'search_products').products[0]?.name ?? '', /iphone/i);
    const cats = await client.readResource({ uri: 'catalog://categories' });
    assert.ok(JSON.parse(cats.contents[0].text).categories.length > 0);
  });

  it('answers an unknown resource with -32602 and its uri', T, async () => {
    await assert.rejects(client.readResource({ uri: 'catalog://products/no-such-id' }),
      (e) => e.code === -32602 && e.data?.uri === 'catalog://products/no-such-id');
  });

  it('delivers a live product change on a subscriptions/listen stream', T, () =>
    checkListenUpdate(client, db.path));

  it('runs a multi-round-trip tool call through the elicitation handler', T, async () => {
    const sc = await checkMultiRoundTrip(client, () => asked);
    assert.equal(sc.available, true);
  });

  it('close, and every server message matched the 2026-07-28 schema', T, async () => {
    await client.close();
    closed = true;
    assert.ok(rec.lines.length >= 10, `recorded ${rec.lines.length} server lines`);
    rec.assertValid();
  });
});
