// Gateway controls end to end: `pennyworth serve` with the access module
// wired in, the fake OpenAI upstream, and real HTTP. Keys are made with the
// CLI (on the server's database) and the /admin API (PENNYWORTH_ADMIN_KEY),
// used, rotated and revoked; scopes and allowed models (with /v1/models
// filtered); the free tier's 10 requests a minute hit exactly under
// concurrency, with x-ratelimit-* on every answer and Retry-After on 429; a
// budget refusal (budget_exceeded, x-should-retry: false, which the openai
// SDK does not retry); usage records against the fake's token counts
// (`pennyworth usage --json` and GET /admin/usage); /metrics through
// `promtool check metrics`, with client-chosen MCP methods counted as
// "other"; the health routes; the per-IP guard (--ip-limit over the
// configuration; failed authentications count, keyed traffic does not);
// /mcp and /ws behind keys (revocation reaching open sessions); CORS for
// pages; the response cache, per permission set however long the list.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { T, pwBin } from '../server/lib/harness.mjs';
import { startBridge, stopBridge } from '../bridge/lib/bridge.mjs';
import { OpenAI } from '../bridge/lib/deps.mjs';

const ADMIN = 'admin-test-key-0123456789abcdef';
const OFF = { 'x-pennyworth-context': 'off' };
const PROMPT = 21; // the fake OpenAI's default usage
const COMPLETION = 9;

function cli(args, env = {}) {
  return new Promise((resolve) => {
    execFile(pwBin(), args, { env: { ...process.env, ...env }, timeout: 20_000 },
      (e, stdout, stderr) => resolve({ code: e ? e.code ?? 1 : 0, stdout, stderr }));
  });
}

function chat(b, key, model = 'mini', extra = {}) {
  const headers = { 'content-type': 'application/json', ...OFF, ...extra };
  if (key) headers.authorization = `Bearer ${key}`;
  return fetch(`${b.base}/v1/chat/completions`, {
    method: 'POST', headers, signal: AbortSignal.timeout(20_000),
    body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }] }),
  });
}

function admin(b, method, path, body) {
  return fetch(`${b.base}${path}`, {
    method,
    headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
    body: body ? JSON.stringify(body) : undefined,
    signal: AbortSignal.timeout(10_000),
  });
}

async function createKey(b, spec) {
  const res = await admin(b, 'POST', '/admin/keys', spec);
  assert.equal(res.status, 201, await res.clone().text());
  return res.json();
}

async function waitUntil(fn, ms, what) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function dbText(b) {
  return readdirSync(b.dir).filter((f) => f.startsWith('catalog.db'))
    .map((f) => readFileSync(join(b.dir, f)).toString('latin1')).join('\n');
}

describe('gateway controls', () => {
  let b;
  before(async () => {
    b = await startBridge({
      tag: 'access',
      env: { PENNYWORTH_ADMIN_KEY: ADMIN },
      config: ({ openai: o }) => ({
        models: {
          mini: { context: 'off', deployments: [{ provider: 'openai', model: 'gpt-4o-mini',
            base_url: o.baseUrl }] },
          big: { context: 'off', deployments: [{ provider: 'openai', model: 'gpt-4o',
            base_url: o.baseUrl }] },
        },
      }),
    });
  });
  after(async () => stopBridge(b));

  it('serves the health and version routes', T, async () => {
    for (const p of ['/health', '/api/v1/health/live', '/api/v1/health/ready', '/v1/version']) {
      const res = await fetch(`${b.base}${p}`, { signal: AbortSignal.timeout(10_000) });
      assert.equal(res.status, 200, p);
      assert.equal(typeof (await res.json()), 'object', p);
    }
    const ready = await (await fetch(`${b.base}/api/v1/health/ready`,
      { signal: AbortSignal.timeout(10_000) })).json();
    assert.equal(ready.checks.database, 'ok');
    assert.equal(ready.checks.providers['openai/gpt-4o-mini'], 'closed', JSON.stringify(ready));
  });

  it('takes a key through create, use, rotate and revoke', T, async () => {
    const made = await cli(['keys', 'create', '--db', b.srv.db, '--name', 'life', '--tier',
      'premium', '--json']);
    assert.equal(made.code, 0, made.stderr);
    const { key, record } = JSON.parse(made.stdout);
    assert.match(key, /^pw_[a-z0-9]{12}_[a-z0-9]{52}$/);
    const id = record.id;

    const ok = await chat(b, key);
    assert.equal(ok.status, 200, await ok.clone().text());
    assert.equal(ok.headers.get('x-ratelimit-limit-requests'), '1000');
    assert.ok(Number(ok.headers.get('x-ratelimit-remaining-requests')) < 1000);
    assert.ok(ok.headers.get('x-ratelimit-reset-requests'));
    // X-API-Key works as well as Bearer.
    const viaHeader = await fetch(`${b.base}/v1/models`, { headers: { 'x-api-key': key },
      signal: AbortSignal.timeout(10_000) });
    assert.equal(viaHeader.status, 200);

    const bad = await chat(b, `${key.slice(0, -4)}aaaa`);
    assert.equal(bad.status, 401);
    assert.equal((await bad.json()).error.type, 'invalid_api_key');
    assert.equal((await chat(b, null)).status, 401, 'a key exists: open mode is over');

    const rot = await admin(b, 'POST', `/admin/keys/${id}/rotate`);
    assert.equal(rot.status, 200);
    const rotated = (await rot.json()).key;
    assert.notEqual(rotated, key);
    assert.equal((await chat(b, key)).status, 401, 'the old secret stops at once');
    assert.equal((await chat(b, rotated)).status, 200);

    const rev = await cli(['keys', 'revoke', id, '--db', b.srv.db]);
    assert.equal(rev.code, 0, rev.stderr);
    assert.equal((await chat(b, rotated)).status, 401, 'revocation counts from the next request');
    const shown = await (await admin(b, 'GET', `/admin/keys/${id}`)).json();
    assert.equal(shown.status, 'revoked');

    const text = dbText(b);
    for (const k of [key, rotated]) {
      assert.ok(!text.includes(k), 'a plaintext key is in the database files');
      assert.ok(!text.includes(k.split('_')[2]), 'a key secret is in the database files');
    }
    assert.ok(!b.srv.stderr().includes(rotated.split('_')[2]), 'a secret is in the log');
  });

  it('enforces scopes and allowed models, and filters /v1/models', T, async () => {
    const { key } = await createKey(b, { name: 'minis', tier: 'premium', models: ['mini'] });
    const list = await fetch(`${b.base}/v1/models`, {
      headers: { authorization: `Bearer ${key}` }, signal: AbortSignal.timeout(10_000) });
    assert.equal(list.status, 200);
    assert.deepEqual((await list.json()).data.map((m) => m.id), ['mini']);
    assert.equal((await chat(b, key, 'mini')).status, 200);
    const big = await chat(b, key, 'big');
    assert.equal(big.status, 403);
    await big.body?.cancel();

    const { key: mcpOnly } = await createKey(b, { name: 'mcp', tier: 'premium',
      scopes: ['mcp'] });
    const res = await chat(b, mcpOnly);
    assert.equal(res.status, 403);
    await res.body?.cancel();
    // Admin routes refuse a key without the admin scope.
    const adm = await fetch(`${b.base}/admin/keys`, {
      headers: { authorization: `Bearer ${key}` }, signal: AbortSignal.timeout(10_000) });
    assert.ok([401, 403].includes(adm.status), `admin with a chat key: ${adm.status}`);
    await adm.body?.cancel();
  });

  it('holds the free tier to exactly 10 requests a minute under concurrency', T, async () => {
    const { key } = await createKey(b, { name: 'free', tier: 'free' });
    const all = await Promise.all(Array.from({ length: 16 }, () => chat(b, key)));
    const codes = all.map((r) => r.status).sort();
    assert.equal(codes.filter((c) => c === 200).length, 10, JSON.stringify(codes));
    assert.equal(codes.filter((c) => c === 429).length, 6, JSON.stringify(codes));
    for (const r of all) {
      assert.equal(r.headers.get('x-ratelimit-limit-requests'), '10');
      assert.ok(r.headers.has('x-ratelimit-remaining-requests'));
      if (r.status === 429) {
        assert.ok(Number(r.headers.get('retry-after')) >= 1);
        assert.ok(Number(r.headers.get('retry-after-ms')) > 0);
        assert.equal((await r.json()).error.type, 'rate_limit_exceeded');
      } else {
        await r.body?.cancel();
      }
    }
  });

  it('refuses a key over its budget with budget_exceeded, not retried', T, async () => {
    const { key } = await createKey(b, { name: 'budget', tier: 'premium',
      budgetUsd: '0.000001' });
    assert.equal((await chat(b, key)).status, 200, 'a request that starts under budget runs');
    let calls = 0;
    const client = new OpenAI({
      apiKey: key, baseURL: `${b.base}/v1`, maxRetries: 3, timeout: 10_000,
      defaultHeaders: OFF,
      fetch: (...a) => { calls += 1; return fetch(...a); },
    });
    await waitUntil(async () => {
      const r = await chat(b, key);
      await r.body?.cancel();
      return r.status === 429;
    }, 5_000, 'the spend to be counted');
    calls = 0;
    await assert.rejects(client.chat.completions.create({ model: 'mini',
      messages: [{ role: 'user', content: 'hi' }] }), (e) => {
      assert.equal(e.status, 429);
      assert.equal(e.error?.type ?? e.type, 'budget_exceeded');
      assert.equal(e.headers?.get?.('x-should-retry') ?? e.headers?.['x-should-retry'], 'false');
      return true;
    });
    assert.equal(calls, 1, 'the SDK retried a budget refusal');
  });

  it('records usage that matches the provider\'s token counts', T, async () => {
    const { key, record } = await createKey(b, { name: 'metered', tier: 'premium' });
    for (let i = 0; i < 3; i++) assert.equal((await chat(b, key)).status, 200);
    const row = await waitUntil(async () => {
      const res = await admin(b, 'GET', '/admin/usage?by=key&since=1d');
      assert.equal(res.status, 200);
      const r = (await res.json()).rows.find((x) => x.group === record.id);
      return r && r.requests === 3 ? r : undefined;
    }, 5_000, 'three usage records');
    assert.equal(row.promptTokens, 3 * PROMPT);
    assert.equal(row.completionTokens, 3 * COMPLETION);
    assert.ok(row.costMicros > 0, 'gpt-4o-mini is priced by the built-in table');
    const path = await (await admin(b, 'GET', '/admin/usage/key/1d')).json();
    assert.deepEqual(path.rows.find((x) => x.group === record.id), row);
    const out = await cli(['usage', '--by', 'key', '--since', '1d', '--json', '--db', b.srv.db]);
    assert.equal(out.code, 0, out.stderr);
    const cliRow = JSON.parse(out.stdout).rows.find((x) => x.group === record.id);
    assert.equal(cliRow.promptTokens, 3 * PROMPT);
    assert.equal(cliRow.completionTokens, 3 * COMPLETION);
  });

  it('exposes metrics that promtool accepts', T, async (t) => {
    if (spawnSync('promtool', ['--version']).error) {
      t.skip('promtool (Debian package prometheus) is not installed');
      return;
    }
    const res = await fetch(`${b.base}/metrics`, { signal: AbortSignal.timeout(10_000) });
    assert.equal(res.status, 200);
    const text = await res.text();
    assert.match(text, /pennyworth_/);
    const file = join(b.dir, 'metrics.txt');
    writeFileSync(file, text);
    const r = spawnSync('sh', ['-c', `promtool check metrics < "${file}"`], { encoding: 'utf8',
      timeout: 20_000 });
    assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
  });
});

describe('the per-client-IP limit', () => {
  let b;
  let dir;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pw-access-ip-'));
    const conf = join(dir, 'access.json');
    // The flag wins over the file's ipLimit.
    writeFileSync(conf, JSON.stringify({ ipLimit: { requests: 500, windowSeconds: 300 } }));
    b = await startBridge({ tag: 'access-ip',
      args: ['--access-config', conf, '--ip-limit', '5/5m'] });
  });
  after(async () => {
    await stopBridge(b);
    rmSync(dir, { recursive: true, force: true });
  });
  it('refuses a client over it, before authentication', T, async () => {
    // Open mode (no key, loopback) said so on stderr, and counts no address.
    assert.match(b.srv.stderr(), /serving OPEN/);
    for (let i = 0; i < 7; i++) {
      const r = await fetch(`${b.base}/v1/models`, { signal: AbortSignal.timeout(10_000) });
      assert.equal(r.status, 200, 'open mode has no key check to guard');
      await r.body?.cancel();
    }
    const made = await cli(['keys', 'create', '--db', b.srv.db, '--name', 'ip', '--tier',
      'premium', '--json']);
    assert.equal(made.code, 0, made.stderr);
    const { key } = JSON.parse(made.stdout);
    // A backend with a valid key, one address, more requests than the
    // per-IP number: its key's tier is its only limit.
    for (let i = 0; i < 12; i++) {
      const r = await fetch(`${b.base}/v1/models`, { headers: { authorization: `Bearer ${key}` },
        signal: AbortSignal.timeout(10_000) });
      assert.equal(r.status, 200, `keyed request ${i + 1}`);
      assert.equal(r.headers.get('x-ratelimit-limit-requests'), '1000', 'the tier reports');
      await r.body?.cancel();
    }
    // Guessing keys (and sending none): 401 until the address has failed
    // 5 times, then 429 before any key check, the right key included.
    const guesses = await Promise.all(Array.from({ length: 8 }, (_, i) =>
      fetch(`${b.base}/v1/models`, { headers: i % 2 ? { authorization: `Bearer pw_guess${i}` } : {},
        signal: AbortSignal.timeout(10_000) })));
    const codes = guesses.map((r) => r.status).sort();
    assert.deepEqual(codes, [401, 401, 401, 401, 401, 429, 429, 429]);
    for (const r of guesses) {
      if (r.status === 429) assert.ok(Number(r.headers.get('retry-after')) >= 1);
      await r.body?.cancel();
    }
    const right = await fetch(`${b.base}/v1/models`, {
      headers: { authorization: `Bearer ${key}` }, signal: AbortSignal.timeout(10_000) });
    assert.equal(right.status, 429);
    await right.body?.cancel();
  });
});

// One MCP Streamable HTTP exchange: a JSON answer (Accept: application/json).
function mcpPost(b, key, body, sid) {
  const headers = { 'content-type': 'application/json', accept: 'application/json',
    'mcp-protocol-version': '2025-06-18' };
  if (key) headers.authorization = `Bearer ${key}`;
  if (sid) headers['mcp-session-id'] = sid;
  return fetch(`${b.base}/mcp`, { method: 'POST', headers, body: JSON.stringify(body),
    signal: AbortSignal.timeout(10_000) });
}

const INIT = { jsonrpc: '2.0', id: 1, method: 'initialize', params: {
  protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'gw', version: '1' } } };

// A WebSocket's next message (or its close), bounded.
function nextEvent(ws, ms = 10_000) {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('no WebSocket event')), ms);
    const done = (v) => { clearTimeout(t); ws.onmessage = null; ws.onclose = null; resolve(v); };
    ws.onmessage = (e) => done({ message: JSON.parse(e.data) });
    ws.onclose = (e) => done({ close: e.code });
  });
}

describe('MCP sessions behind keys', () => {
  let b;
  before(async () => {
    b = await startBridge({ tag: 'access-mcp', env: { PENNYWORTH_ADMIN_KEY: ADMIN },
      args: ['--cors-origin', 'https://shop.example'] });
  });
  after(async () => stopBridge(b));

  it('answers browser pages from allowed origins with CORS headers', T, async () => {
    const { key } = await createKey(b, { name: 'page', tier: 'premium' });
    const pre = await fetch(`${b.base}/v1/chat/completions`, { method: 'OPTIONS',
      headers: { origin: 'https://shop.example', 'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization, content-type, x-stainless-os' },
      signal: AbortSignal.timeout(10_000) });
    assert.equal(pre.status, 204);
    assert.equal(pre.headers.get('access-control-allow-origin'), 'https://shop.example');
    assert.match(pre.headers.get('access-control-allow-headers'), /authorization/);
    assert.match(pre.headers.get('access-control-allow-methods'), /POST/);
    const evil = await fetch(`${b.base}/v1/chat/completions`, { method: 'OPTIONS',
      headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' },
      signal: AbortSignal.timeout(10_000) });
    assert.equal(evil.headers.get('access-control-allow-origin'), null);
    const res = await fetch(`${b.base}/v1/models`, { headers: { origin: 'http://localhost:5173',
      authorization: `Bearer ${key}` }, signal: AbortSignal.timeout(10_000) });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('access-control-allow-origin'), 'http://localhost:5173');
    assert.match(res.headers.get('access-control-expose-headers'), /x-ratelimit-remaining-requests/);
    await res.body?.cancel();
    const refused = await fetch(`${b.base}/v1/models`, { headers: {
      origin: 'https://shop.example', authorization: 'Bearer pw_wrong' },
    signal: AbortSignal.timeout(10_000) });
    assert.equal(refused.status, 401);
    assert.equal(refused.headers.get('access-control-allow-origin'), 'https://shop.example',
      'a page must be able to read a refusal too');
    await refused.body?.cancel();
  });

  it('admits /mcp by key, per request, so revocation ends an open session', T, async () => {
    const { key, record } = await createKey(b, { name: 'mcp', tier: 'premium',
      scopes: ['mcp'] });
    assert.equal((await mcpPost(b, null, INIT)).status, 401);
    const init = await mcpPost(b, key, INIT);
    assert.equal(init.status, 200, await init.clone().text());
    assert.ok(init.headers.get('x-ratelimit-limit-requests'));
    const sid = init.headers.get('mcp-session-id');
    await init.body?.cancel();
    const note = await mcpPost(b, key, { jsonrpc: '2.0', method: 'notifications/initialized' },
      sid);
    assert.equal(note.status, 202);
    const list = await mcpPost(b, key, { jsonrpc: '2.0', id: 2, method: 'tools/list' }, sid);
    assert.equal(list.status, 200);
    assert.ok((await list.json()).result.tools.length > 0);
    // Method names the client makes up are counted as "other", never as
    // labels of their own (a megabyte label per series would pin memory and
    // bloat every scrape).
    const bogus = `x/${'m'.repeat(4000)}`;
    for (let i = 0; i < 3; i++) {
      const r = await mcpPost(b, key, { jsonrpc: '2.0', id: 10 + i, method: `${bogus}${i}` }, sid);
      await r.body?.cancel();
    }
    const metrics = await (await fetch(`${b.base}/metrics`,
      { signal: AbortSignal.timeout(10_000) })).text();
    const methods = metrics.split('\n').filter((l) => l.startsWith('pennyworth_mcp_requests_total{'));
    assert.ok(methods.includes('pennyworth_mcp_requests_total{method="other"} 3'),
      methods.join('\n'));
    assert.ok(methods.some((l) => l.startsWith('pennyworth_mcp_requests_total{method="tools/list"}')));
    assert.ok(!metrics.includes('mmmm'), 'a client-chosen method is a label');
    // A chat-only key may not use MCP.
    const { key: chatKey } = await createKey(b, { name: 'chat', tier: 'premium',
      scopes: ['chat'] });
    assert.equal((await mcpPost(b, chatKey, { jsonrpc: '2.0', id: 3, method: 'tools/list' },
      sid)).status, 403);

    assert.equal((await admin(b, 'POST', `/admin/keys/${record.id}/revoke`)).status, 200);
    const after = await mcpPost(b, key, { jsonrpc: '2.0', id: 4, method: 'tools/list' }, sid);
    assert.equal(after.status, 401);
    await after.body?.cancel();
  });

  it('admits /ws by a subprotocol ticket and refuses the next message after revocation',
    T, async () => {
      const { key, record } = await createKey(b, { name: 'ws', tier: 'premium',
        scopes: ['mcp'] });
      const res = await fetch(`${b.base}/auth/ws-ticket`, { method: 'POST',
        headers: { authorization: `Bearer ${key}` }, signal: AbortSignal.timeout(10_000) });
      assert.equal(res.status, 200, await res.clone().text());
      const { ticket } = await res.json();
      const url = `${b.base.replace('http', 'ws')}/ws`;
      const ws = new WebSocket(url, ['mcp', `pw-ticket.${ticket}`]);
      await new Promise((resolve, reject) => { ws.onopen = resolve; ws.onerror = reject; });
      assert.equal(ws.protocol, 'mcp');
      ws.send(JSON.stringify(INIT));
      const first = await nextEvent(ws);
      assert.ok(first.message?.result, JSON.stringify(first));
      ws.send(JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }));
      ws.send(JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list' }));
      const listed = await nextEvent(ws);
      assert.ok(listed.message?.result?.tools, JSON.stringify(listed));

      const rev = await cli(['keys', 'revoke', record.id, '--db', b.srv.db]);
      assert.equal(rev.code, 0, rev.stderr);
      ws.send(JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'tools/list' }));
      const refused = await nextEvent(ws);
      assert.equal(refused.message?.id, 3);
      assert.ok(refused.message?.error, JSON.stringify(refused));
      assert.equal((await nextEvent(ws)).close, 1008);

      // A ticket is single use.
      const again = new WebSocket(url, ['mcp', `pw-ticket.${ticket}`]);
      const ev = await new Promise((resolve) => {
        again.onclose = (e) => resolve(e.code);
        again.onerror = () => {};
      });
      assert.notEqual(ev, 1000);
    });
});

describe('the response cache', () => {
  let b;
  before(async () => {
    b = await startBridge({
      tag: 'access-cache',
      env: { PENNYWORTH_ADMIN_KEY: ADMIN },
      args: ['--cache-ttl', '60'],
      config: ({ openai: o }) => ({
        models: {
          mini: { context: 'off', deployments: [{ provider: 'openai', model: 'gpt-4o-mini',
            base_url: o.baseUrl }] },
          big: { context: 'off', deployments: [{ provider: 'openai', model: 'gpt-4o',
            base_url: o.baseUrl }] },
        },
      }),
    });
  });
  after(async () => stopBridge(b));

  function ask(key, extra = {}) {
    return fetch(`${b.base}/v1/chat/completions`, {
      method: 'POST', signal: AbortSignal.timeout(20_000),
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      body: JSON.stringify({ model: 'mini', temperature: 0,
        messages: [{ role: 'user', content: 'cache me' }], ...extra }),
    });
  }

  it('answers identical temperature-0 requests from memory, per permission set', T,
    async () => {
      const a = (await createKey(b, { name: 'a', tier: 'premium' })).key;
      const a2 = (await createKey(b, { name: 'a2', tier: 'premium' })).key;
      const narrow = (await createKey(b, { name: 'n', tier: 'premium', models: ['mini'] })).key;
      // Model lists that agree on their first 120+ characters are still
      // different permission sets.
      const long = ['a'.repeat(60), 'b'.repeat(60)];
      const wide1 = (await createKey(b, { name: 'w1', tier: 'premium',
        models: [...long, 'mini'] })).key;
      const wide2 = (await createKey(b, { name: 'w2', tier: 'premium',
        models: [...long, 'mini', 'big'] })).key;
      const upstream = () => b.openai.requests.length;
      const before0 = upstream();

      const first = await ask(a);
      assert.equal(first.status, 200);
      assert.equal(first.headers.get('x-cache'), 'MISS');
      const body = await first.text();
      assert.equal(upstream(), before0 + 1);

      const again = await ask(a);
      assert.equal(again.headers.get('x-cache'), 'HIT');
      assert.equal(await again.text(), body);
      assert.ok(again.headers.get('x-ratelimit-remaining-requests'), 'limits still count');
      // Same permissions (every model): shared. Another permission set: not.
      assert.equal((await ask(a2)).headers.get('x-cache'), 'HIT');
      const other = await ask(narrow);
      assert.equal(other.headers.get('x-cache'), 'MISS');
      await other.body?.cancel();
      assert.equal(upstream(), before0 + 2);
      for (const [k, want] of [[wide1, 'MISS'], [wide1, 'HIT'], [wide2, 'MISS']]) {
        const r = await ask(k);
        assert.equal(r.status, 200);
        assert.equal(r.headers.get('x-cache'), want);
        await r.body?.cancel();
      }
      assert.equal(upstream(), before0 + 4);

      // Not cacheable: another temperature, a stream.
      const warm = await ask(a, { temperature: 0.7 });
      assert.equal(warm.headers.get('x-cache'), null);
      await warm.body?.cancel();
      const streamed = await ask(a, { stream: true });
      assert.equal(streamed.headers.get('x-cache'), null);
      await streamed.text();
      assert.equal(upstream(), before0 + 6);
    });
});
