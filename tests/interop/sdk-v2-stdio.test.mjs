// A full stdio session driven by the official MCP TypeScript SDK v2
// (@modelcontextprotocol/client), same coverage as the v1 suite, every
// server message validated against the official schema.
//
// v2 connects with the 2025 `initialize` handshake by default (its
// versionNegotiation mode 'legacy'); the second suite opts in to 'auto',
// which first probes with the 2026-07-28 `server/discover` and falls back
// to initialize for a session-based server.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Client, LATEST_PROTOCOL_VERSION, SUPPORTED_PROTOCOL_VERSIONS } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { defineSessionSuite } from './lib/session-suite.mjs';
import { RecordingTransport } from './lib/recorder.mjs';
import { pwBin, freshDatabase, serverEnv, killIfAlive, structured, TEST_TIMEOUT_MS } from './lib/env.mjs';

defineSessionSuite({
  name: '@modelcontextprotocol/client v2 over stdio',
  tag: 'sdk-v2',
  expectedVersion: LATEST_PROTOCOL_VERSION,
  makeClient: () => new Client({ name: 'pennyworth-interop-sdk-v2', version: '1.0.0' }, { capabilities: {} }),
  makeTransport: (params) => new StdioClientTransport(params),
  onNotification: (client, method, fn) => client.setNotificationHandler(method, fn),
  callToolWithProgress: (client, params, onprogress) => client.callTool(params, { onprogress }),
});

describe('@modelcontextprotocol/client v2, versionNegotiation auto (server/discover probe)', () => {
  const T = { timeout: TEST_TIMEOUT_MS };
  let db;
  let client;
  let rec;
  let closed = false;

  before(async () => {
    db = freshDatabase('sdk-v2-auto');
    client = new Client({ name: 'pennyworth-interop-sdk-v2-auto', version: '1.0.0' },
      { capabilities: {}, versionNegotiation: { mode: 'auto', probe: { timeoutMs: 5000 } } });
    rec = new RecordingTransport(
      new StdioClientTransport({ command: pwBin(), args: ['stdio'], env: serverEnv(db.path), stderr: 'pipe' }),
      { label: 'sdk-v2-auto:pennyworth' });
    await client.connect(rec);
  }, T);

  after(async () => {
    if (!closed) await client?.close().catch(() => {});
    killIfAlive(rec?.childPid);
    db?.cleanup();
  });

  it('negotiates a revision both sides support', T, () => {
    const v = client.getNegotiatedProtocolVersion();
    assert.ok(SUPPORTED_PROTOCOL_VERSIONS.includes(v) || v === '2026-07-28', `negotiated ${v}`);
    const probe = rec.sent.find((s) => s.msg.method === 'server/discover');
    assert.ok(probe, 'the client probed with server/discover');
  });

  it('tools/list and a search work in the negotiated era', T, async () => {
    const tools = (await client.listTools()).tools.map((t) => t.name);
    assert.ok(tools.includes('search_products'), `search_products listed (got ${tools})`);
    const res = await client.callTool({ name: 'search_products', arguments: { query: 'iphone', limit: 5 } });
    const sc = structured(res, 'search_products');
    assert.match(sc.products[0]?.name ?? '', /iphone/i);
  });

  it('close, and every server message (the probe included) matched the schema', T, async () => {
    await client.close();
    closed = true;
    rec.assertValid();
  });
});

// Older session revisions: the client offers exactly one, the server must
// answer with it, and everything it sends must match that revision's schema
// (2024-11-05 is checked against 2025-03-26; see lib/schema.mjs).
for (const revision of ['2024-11-05', '2025-03-26', '2025-06-18']) {
  describe(`@modelcontextprotocol/client v2 offering only ${revision}`, () => {
    const T = { timeout: TEST_TIMEOUT_MS };
    let db;
    let client;
    let rec;
    let closed = false;

    before(async () => {
      db = freshDatabase(`sdk-v2-${revision}`);
      client = new Client({ name: 'pennyworth-interop-sdk-v2-old', version: '1.0.0' },
        { capabilities: {}, supportedProtocolVersions: [revision] });
      rec = new RecordingTransport(
        new StdioClientTransport({ command: pwBin(), args: ['stdio'], env: serverEnv(db.path), stderr: 'pipe' }),
        { label: `sdk-v2-${revision}:pennyworth` });
      await client.connect(rec);
    }, T);

    after(async () => {
      if (!closed) await client?.close().catch(() => {});
      killIfAlive(rec?.childPid);
      db?.cleanup();
    });

    it(`negotiates ${revision}`, T, () => {
      assert.equal(client.getNegotiatedProtocolVersion(), revision);
    });

    it('tools, resources and prompts work', T, async () => {
      const tools = (await client.listTools()).tools.map((t) => t.name);
      assert.ok(tools.includes('search_products'), `search_products listed (got ${tools})`);
      const res = await client.callTool({ name: 'search_products', arguments: { query: 'iphone', limit: 5 } });
      assert.notEqual(res.isError, true, `search_products: ${JSON.stringify(res.content)}`);
      assert.match(JSON.stringify(res.content), /iPhone/, 'the text content names the iPhones');
      const read = await client.readResource({ uri: 'catalog://products/1' });
      assert.equal(read.contents[0]?.uri, 'catalog://products/1');
      const prompt = await client.getPrompt({ name: 'compare', arguments: { ids: '1,2' } });
      assert.ok(prompt.messages.length > 0, 'compare has messages');
    });

    it('close, and every server message matched the schema', T, async () => {
      await client.close();
      closed = true;
      rec.assertValid();
    });
  });
}
