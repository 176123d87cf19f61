// The built-in offline model and the serve banner, with no provider
// credentials at all (every OpenAI and AWS variable removed, no --config):
//   - /v1/models offers pennyworth-offline (the default model);
//   - the openai SDK gets a complete answer, non-streamed and streamed,
//     labelled as offline, that names the catalog products the search
//     finds (asked independently through the server's own /mcp), with their
//     ids and prices, finish_reason "stop" and usage that adds up;
//   - the lines serve prints under "listening on" give the storefront, MCP
//     and OpenAI URLs, two MCP client configurations that work (the stdio
//     one is launched and answers initialize) and a curl that works (run as
//     printed, bounded).
// A second server with credentials checks that a real provider stays the
// default while pennyworth-offline remains addressable by name. Every
// request goes to 127.0.0.1; the fakes must see nothing.
//
// SPDX-License-Identifier: MIT

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { T } from '../server/lib/harness.mjs';
import { startBridge, stopBridge, collect, searchCatalog, contextIds } from './lib/bridge.mjs';

const MODEL = 'pennyworth-offline';
const LABEL = '(offline demo model, no LLM configured)';
const QUESTION = 'Which smartphones do you have?';
const NO_CREDENTIALS = {
  OPENAI_API_KEY: undefined, OPENAI_BASE_URL: undefined, AWS_REGION: undefined,
  AWS_ENDPOINT_URL_BEDROCK_RUNTIME: undefined, AWS_ACCESS_KEY_ID: undefined,
  AWS_SECRET_ACCESS_KEY: undefined, AWS_SESSION_TOKEN: undefined,
};

// The answer names each product with its id and price, in the search's order.
function assertLists(text, products) {
  assert.ok(text.startsWith(LABEL), `labelled as offline: ${text}`);
  let at = 0;
  for (const p of products) {
    const line = text.split('\n').find((l) => l.includes(`[${p.id}]`));
    assert.ok(line, `the answer names product ${p.id} (${p.name}): ${text}`);
    assert.ok(line.includes(p.name), `${p.name} in: ${line}`);
    const price = p.price.formatted ?? (p.price.amountMinor / 100).toFixed(2);
    assert.ok(line.includes(price), `price ${price} in: ${line}`);
    const pos = text.indexOf(`[${p.id}]`);
    assert.ok(pos > at, 'in the search\'s order');
    at = pos;
  }
}

function run(cmd, args, ms) {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: ms, killSignal: 'SIGKILL', maxBuffer: 1 << 20 },
      (error, stdout, stderr) => resolve({ code: error ? (error.code ?? 1) : 0, stdout, stderr }));
  });
}

// Launches an MCP stdio server as a client configuration says and returns
// its answer to initialize (bounded).
function initializeOverStdio(server, ms = 15_000) {
  return new Promise((resolve, reject) => {
    const child = spawn(server.command, server.args, {
      env: { PATH: process.env.PATH, ...server.env }, stdio: ['pipe', 'pipe', 'ignore'] });
    let out = '';
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error('no answer')); }, ms);
    child.stdout.on('data', (d) => {
      out += d;
      const nl = out.indexOf('\n');
      if (nl < 0) return;
      clearTimeout(timer);
      child.stdin.end();
      child.on('exit', () => resolve(JSON.parse(out.slice(0, nl))));
    });
    child.on('error', reject);
    child.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize',
      params: { protocolVersion: '2025-06-18', capabilities: {},
        clientInfo: { name: 'banner-test', version: '1' } } })}\n`);
  });
}

describe('the offline model, with no credentials', () => {
  let b;
  let client;
  let expected;
  before(async () => {
    b = await startBridge({ tag: 'offline', env: NO_CREDENTIALS });
    client = b.client();
    expected = (await searchCatalog(b, QUESTION, 5));
    assert.ok(expected.length >= 3, 'the demo catalog has smartphones');
  });
  after(async () => {
    assert.equal(b.openai.seen('gpt-4o-mini').length, 0, 'nothing went to a provider');
    await stopBridge(b);
  });

  it('is the model /v1/models offers', T, async () => {
    const list = [];
    for await (const m of client.models.list()) list.push(m.id);
    assert.deepEqual(list, [MODEL]);
  });

  it('answers non-streamed from the catalog', T, async () => {
    const { data: c, response } = await client.chat.completions.create({ model: MODEL,
      messages: [{ role: 'user', content: QUESTION }] }).withResponse();
    assert.equal(c.object, 'chat.completion');
    assert.equal(c.model, MODEL);
    assert.equal(c.choices[0].finish_reason, 'stop');
    assert.deepEqual(contextIds(response.headers), expected.map((p) => String(p.id)));
    assertLists(c.choices[0].message.content, expected);
    const u = c.usage;
    assert.ok(u.prompt_tokens > 0 && u.completion_tokens > 0, JSON.stringify(u));
    assert.equal(u.total_tokens, u.prompt_tokens + u.completion_tokens);
  });

  it('streams the same answer in pieces, with usage', T, async () => {
    const plain = await client.chat.completions.create({ model: MODEL,
      messages: [{ role: 'user', content: QUESTION }] });
    const s = await collect(await client.chat.completions.create({ model: MODEL, stream: true,
      stream_options: { include_usage: true }, messages: [{ role: 'user', content: QUESTION }] }));
    assert.equal(s.error, null);
    assert.equal(s.finish, 'stop');
    assert.equal(s.text, plain.choices[0].message.content);
    assertLists(s.text, expected);
    assert.ok(s.chunks.filter((ch) => ch.choices[0]?.delta?.content).length > 2, 'in pieces');
    assert.deepEqual(s.usage, plain.usage);
  });

  it('says so when nothing in the catalog matches', T, async () => {
    const c = await client.chat.completions.create({ model: MODEL,
      messages: [{ role: 'user', content: 'qqqzzzx' }] });
    assert.match(c.choices[0].message.content, /^\(offline demo model, no LLM configured\) Nothing/);
    assert.equal(c.choices[0].finish_reason, 'stop');
  });

  it('is announced by serve: URLs, MCP configurations and a working curl', T, async () => {
    const out = b.srv.stdout();
    const lines = out.split('\n');
    assert.match(lines[0], /^pennyworth: listening on http:\/\/127\.0\.0\.1:\d+ /);
    assert.ok(out.includes(`storefront  ${b.base}/`), out);
    assert.ok(out.includes(`${b.base}/mcp`) && out.includes(`ws://127.0.0.1:${b.srv.port}/ws`));
    assert.ok(out.includes(`${b.base}/v1 (default model: ${MODEL}`), out);
    const configs = lines.filter((l) => l.trim().startsWith('{"mcpServers"'))
      .map((l) => JSON.parse(l).mcpServers.pennyworth);
    assert.equal(configs.length, 2, out);
    const [stdio, http] = configs;
    assert.deepEqual(stdio.args, ['stdio']);
    assert.equal(stdio.env.PENNYWORTH_DB, b.srv.db);
    const init = await initializeOverStdio(stdio);
    assert.equal(init.result?.serverInfo?.name, 'pennyworth', JSON.stringify(init));
    assert.deepEqual(http, { type: 'http', url: `${b.base}/mcp` });

    const curl = lines.find((l) => l.trim().startsWith('curl '));
    assert.ok(curl, out);
    const r = await run('bash', ['-c', `${curl.trim()} --max-time 15`], 20_000);
    assert.equal(r.code, 0, r.stderr);
    const answer = JSON.parse(r.stdout);
    assert.equal(answer.choices[0].finish_reason, 'stop');
    assertLists(answer.choices[0].message.content, expected);
  });
});

describe('the offline model, with a provider configured', () => {
  let b;
  before(async () => { b = await startBridge({ tag: 'offline-creds' }); });
  after(async () => stopBridge(b));

  it('leaves the real provider the default and stays addressable', T, async () => {
    const client = b.client();
    const list = [];
    for await (const m of client.models.list()) list.push(m.id);
    assert.deepEqual(list, ['openai/gpt-4o-mini']);
    assert.ok(b.srv.stdout().includes('(default model: openai/gpt-4o-mini)'));
    const c = await client.chat.completions.create({ model: MODEL,
      messages: [{ role: 'user', content: QUESTION }] });
    assert.ok(c.choices[0].message.content.startsWith(LABEL));
    assert.equal(b.openai.seen('gpt-4o-mini').length, 0);
  });
});
