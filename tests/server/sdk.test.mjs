// Real peers over the network: the official MCP TypeScript SDK clients
// (v1 @modelcontextprotocol/sdk with its Streamable HTTP and WebSocket
// transports, v2 @modelcontextprotocol/client with Streamable HTTP) against
// `pennyworth serve`. Each connects, lists and calls tools (with progress),
// subscribes to a product and receives notifications/resources/updated when
// another process changes it, and closes. One run uses SEP-1699 polling:
// the server keeps closing the SSE connection and the SDK has to resume.
//
// The SDKs are installed under tests/interop (scripts/setup); they are
// imported by path from there.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { T, startServer, runPw, waitFor } from './lib/harness.mjs';

const SDK = '../interop/node_modules/@modelcontextprotocol/sdk/dist/esm';
const { Client } = await import(`${SDK}/client/index.js`);
const { StreamableHTTPClientTransport } = await import(`${SDK}/client/streamableHttp.js`);
const { WebSocketClientTransport } = await import(`${SDK}/client/websocket.js`);
const { CallToolResultSchema, ResourceUpdatedNotificationSchema, LATEST_PROTOCOL_VERSION } =
  await import(`${SDK}/types.js`);
const V2 = await import('../interop/node_modules/@modelcontextprotocol/client/dist/index.mjs');

// Records the methods (or "response") of what the transport delivers, in
// order. Progress is checked on the wire: SDK v1 runs notification handlers
// a microtask later than it settles responses, so a progress notification
// that arrives in the same read as its response can miss `onprogress`.
function record(transport) {
  const seen = [];
  const deliver = transport.onmessage;
  transport.onmessage = (m, extra) => {
    seen.push(m.method ?? 'response');
    deliver(m, extra);
  };
  return seen;
}

// The common script: tools, progress, a subscription fed by `catalog set`.
async function exercise(srv, client, transport, onUpdated, productId) {
  const seen = record(transport);
  const tools = await client.listTools();
  assert.ok(tools.tools.some((t) => t.name === 'search_products'));
  const res = await client.callTool({ name: 'search_products', arguments: { query: 'phone', limit: 2 } },
    CallToolResultSchema, { onprogress: () => {} });
  assert.ok(!res.isError);
  assert.ok(res.structuredContent.products.length >= 1);
  const p = seen.indexOf('notifications/progress');
  assert.ok(p >= 0 && p < seen.lastIndexOf('response'), `progress before the result: ${seen}`);
  const uri = `catalog://products/${productId}`;
  await client.subscribeResource({ uri });
  const set = await runPw(['catalog', 'set', String(productId), '--stock', '7', '--db', srv.db]);
  assert.equal(set.code, 0, set.stderr);
  await waitFor(() => (onUpdated.some((u) => u === uri) ? true : undefined), 10_000, `resources/updated for ${uri}`);
}

describe('official SDK clients over the network', () => {
  let srv;

  before(async () => { srv = await startServer({ tag: 'sdk' }); });
  after(async () => {
    const r = await srv.stop();
    assert.equal(r.code, 0, srv.stderr());
  });

  it('SDK v1, Streamable HTTP', T, async () => {
    const client = new Client({ name: 'pw-server-tests-v1-http', version: '1.0.0' }, { capabilities: {} });
    const updated = [];
    client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => { updated.push(n.params.uri); });
    const transport = new StreamableHTTPClientTransport(new URL(srv.url));
    await client.connect(transport);
    assert.equal(client.getServerVersion().name, 'pennyworth');
    assert.match(transport.sessionId, /^[0-9a-f]{32}$/);
    assert.equal(transport.protocolVersion, LATEST_PROTOCOL_VERSION);
    await exercise(srv, client, transport, updated, 11);
    const sid = transport.sessionId;
    await transport.terminateSession();
    await client.close();
    const after = await fetch(srv.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json', 'mcp-session-id': sid },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
    });
    assert.equal(after.status, 404, 'the session ended with DELETE');
  });

  it('SDK v1, WebSocket', T, async () => {
    const client = new Client({ name: 'pw-server-tests-v1-ws', version: '1.0.0' }, { capabilities: {} });
    const updated = [];
    client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => { updated.push(n.params.uri); });
    const transport = new WebSocketClientTransport(new URL(`ws://127.0.0.1:${srv.port}/ws`));
    await client.connect(transport);
    assert.equal(client.getServerVersion().name, 'pennyworth');
    await exercise(srv, client, transport, updated, 12);
    await client.close();
  });

  it('SDK v2, Streamable HTTP', T, async () => {
    const client = new V2.Client({ name: 'pw-server-tests-v2-http', version: '1.0.0' }, { capabilities: {} });
    const updated = [];
    client.setNotificationHandler('notifications/resources/updated', (n) => { updated.push(n.params.uri); });
    const transport = new V2.StreamableHTTPClientTransport(new URL(srv.url));
    await client.connect(transport);
    const tools = await client.listTools();
    assert.ok(tools.tools.some((t) => t.name === 'search_products'));
    const res = await client.callTool({ name: 'search_products', arguments: { query: 'laptop', limit: 1 } });
    assert.ok(!res.isError);
    await client.subscribeResource({ uri: 'catalog://products/13' });
    const set = await runPw(['catalog', 'set', '13', '--stock', '8', '--db', srv.db]);
    assert.equal(set.code, 0, set.stderr);
    await waitFor(() => (updated.includes('catalog://products/13') ? true : undefined), 10_000, 'resources/updated (v2)');
    await transport.terminateSession();
    await client.close();
  });
});

describe('official SDK v1 with SEP-1699 polling', () => {
  let srv;

  before(async () => {
    srv = await startServer({ tag: 'sdk-poll', args: ['--sse-poll-ms', '300', '--sse-retry-ms', '100'] });
  });
  after(async () => {
    const r = await srv.stop();
    assert.equal(r.code, 0, srv.stderr());
  });

  it('keeps receiving notifications while the server closes its streams', T, async () => {
    const client = new Client({ name: 'pw-server-tests-v1-poll', version: '1.0.0' }, { capabilities: {} });
    const updated = [];
    client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => { updated.push(n.params.uri); });
    const transport = new StreamableHTTPClientTransport(new URL(srv.url));
    await client.connect(transport);
    await client.subscribeResource({ uri: 'catalog://products/14' });
    await new Promise((r) => setTimeout(r, 1000)); // a few server-side closes happen
    const set = await runPw(['catalog', 'set', '14', '--stock', '1', '--db', srv.db]);
    assert.equal(set.code, 0, set.stderr);
    await waitFor(() => (updated.includes('catalog://products/14') ? true : undefined), 10_000,
      'resources/updated across polling reconnects');
    const res = await client.callTool({ name: 'get_product', arguments: { id: '14' } }, CallToolResultSchema);
    assert.ok(!res.isError, JSON.stringify(res));
    await transport.terminateSession();
    await client.close();
  });
});
