// Bad input, from the client and from the providers: every case gets a
// clear OpenAI-shaped error ({"error": {message, type, param, code}}) with
// the matching status, nothing reaches a provider that should not, and the
// server keeps serving afterwards (checked after each group; the sanitizer
// build makes leaks fail the exit status checked at the end). Also: an
// invalid --config file stops start-up with a message naming the file, the
// JSON pointer and the reason.

import { describe, it, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { T, runPw, fdCount } from '../server/lib/harness.mjs';
import { openai } from './lib/deps.mjs';
import { startBridge, stopBridge, rawChat, assertOpenAIError, assertServing, tmpDir, CLAUDE,
  AWS } from './lib/bridge.mjs';

const OFF = { 'x-pennyworth-context': 'off' };
const USER = [{ role: 'user', content: 'hi' }];
const FIXTURES = new URL('../../fixtures/bridge/', import.meta.url);

// [name, body, status, param (undefined: not checked)]
const CLIENT_CASES = [
  ['malformed JSON', '{"model": "openai/gpt-4o-mini", "messages": [', 400],
  ['an empty body', '', 400],
  ['a JSON array', '[]', 400],
  ['a JSON string', '"hello"', 400],
  ['missing messages', { model: 'openai/gpt-4o-mini' }, 400, 'messages'],
  ['empty messages', { model: 'openai/gpt-4o-mini', messages: [] }, 400, 'messages'],
  ['messages not an array', { model: 'openai/gpt-4o-mini', messages: 'hi' }, 400, 'messages'],
  ['missing model', { messages: USER }, 400, 'model'],
  ['model not a string', { model: 42, messages: USER }, 400, 'model'],
  ['a message without a role', { model: 'openai/gpt-4o-mini', messages: [{ content: 'x' }] }, 400],
  ['an unknown role', { model: 'openai/gpt-4o-mini', messages: [{ role: 'wizard', content: 'x' }] }, 400],
  ['content of the wrong type', { model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 7 }] }, 400],
  ['a content part without type', { model: 'openai/gpt-4o-mini',
    messages: [{ role: 'user', content: [{ text: 'x' }] }] }, 400],
  ['temperature as a string', { model: 'openai/gpt-4o-mini', messages: USER, temperature: 'hot' }, 400, 'temperature'],
  ['stream not a boolean', { model: 'openai/gpt-4o-mini', messages: USER, stream: 'yes' }, 400, 'stream'],
  ['max_tokens negative', { model: 'openai/gpt-4o-mini', messages: USER, max_tokens: -5 }, 400, 'max_tokens'],
  ['tools not an array', { model: 'openai/gpt-4o-mini', messages: USER, tools: { a: 1 } }, 400, 'tools'],
  ['a tool message without tool_call_id', { model: 'openai/gpt-4o-mini',
    messages: [...USER, { role: 'tool', content: 'r' }] }, 400],
  ['an unknown context mode', { model: 'openai/gpt-4o-mini', messages: USER, context: 'sometimes' }, 400],
];

describe('bad input from clients', () => {
  let b;
  before(async () => { b = await startBridge({ tag: 'badinput' }); });
  after(async () => stopBridge(b));
  afterEach(() => b.reset());

  for (const [name, body, status, param] of CLIENT_CASES) {
    it(`${name}: ${status}`, T, async () => {
      const res = await rawChat(b, body, { headers: OFF });
      const e = await assertOpenAIError(res, status, { type: 'invalid_request_error' });
      if (param !== undefined) assert.equal(e.error.param, param, JSON.stringify(e));
      assert.equal(b.openai.seen().length + b.bedrock.seen().length, 0, 'nothing went upstream');
    });
  }

  it('an unknown context header value: 400', T, async () => {
    const res = await rawChat(b, { model: 'openai/gpt-4o-mini', messages: USER },
      { headers: { 'x-pennyworth-context': 'maybe' } });
    await assertOpenAIError(res, 400);
  });

  it('an unknown model: 404 model_not_found, streaming or not', T, async () => {
    for (const stream of [false, true]) {
      const res = await rawChat(b, { model: 'no-such-model', messages: USER, stream }, { headers: OFF });
      const e = await assertOpenAIError(res, 404, { code: 'model_not_found' });
      assert.equal(e.error.param, 'model');
    }
  });

  it('a body over 6 MB: 413, and the server keeps serving', T, async () => {
    const big = JSON.stringify({ model: 'openai/gpt-4o-mini',
      messages: [{ role: 'user', content: 'x'.repeat(6 * 1024 * 1024 + 10) }] });
    const res = await rawChat(b, big, { headers: OFF });
    assert.equal(res.status, 413);
    const text = await res.text();
    const e = JSON.parse(text);
    assert.equal(typeof e.error?.message, 'string', text);
    assert.equal(b.openai.seen().length, 0);
    await assertServing(b);
  });

  it('a body just under 6 MB is accepted', T, async () => {
    b.openai.script('gpt-4o-mini', { text: 'Big is fine.' });
    const body = JSON.stringify({ model: 'openai/gpt-4o-mini',
      messages: [{ role: 'user', content: 'y'.repeat(5 * 1024 * 1024) }] });
    const res = await rawChat(b, body, { headers: OFF });
    assert.equal(res.status, 200, (await res.clone().text()).slice(0, 500));
    assert.equal((await res.json()).choices[0].message.content, 'Big is fine.');
  });

  it('the wrong method on the API routes: an OpenAI-shaped error', T, async () => {
    for (const [method, path] of [['GET', '/v1/chat/completions'], ['DELETE', '/v1/models'],
      ['PUT', '/api/v1/completions']]) {
      const res = await fetch(`${b.base}${path}`, { method, signal: AbortSignal.timeout(10_000) });
      assert.ok(res.status === 405 || res.status === 404, `${method} ${path}: ${res.status}`);
      const e = await res.json();
      assert.equal(typeof e.error?.message, 'string');
    }
  });

  it('Bedrock cannot take a remote image URL: 400 before any call', T, async () => {
    const res = await rawChat(b, { model: `bedrock/${CLAUDE}`, messages: [{ role: 'user', content: [
      { type: 'text', text: 'What is this?' },
      { type: 'image_url', image_url: { url: 'https://example.com/cat.png' } }] }] }, { headers: OFF });
    await assertOpenAIError(res, 400);
    assert.equal(b.bedrock.seen().length, 0);
  });

  it('a data: URL image goes to Bedrock as bytes', T, async () => {
    b.bedrock.script(CLAUDE, { text: 'A red dot.' });
    const png = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==';
    const res = await rawChat(b, { model: `bedrock/${CLAUDE}`, messages: [{ role: 'user', content: [
      { type: 'text', text: 'What is this?' },
      { type: 'image_url', image_url: { url: `data:image/png;base64,${png}` } }] }] }, { headers: OFF });
    assert.equal(res.status, 200, await res.clone().text());
    const [rec] = b.bedrock.seen(CLAUDE);
    const img = rec.body.messages[0].content.find((c) => c.image);
    assert.equal(img.image.format, 'png');
    assert.equal(img.image.source.bytes, png);
    b.assertClean();
  });

  it('keeps serving after all of that, without leaking descriptors', T, async () => {
    const before = fdCount(b.srv.pid);
    for (let i = 0; i < 20; i++) {
      const res = await rawChat(b, '{"broken', { headers: OFF });
      await res.text();
    }
    await assertServing(b);
    const afterCount = fdCount(b.srv.pid);
    assert.ok(afterCount <= before + 4, `fds ${before} -> ${afterCount}`);
  });
});

describe('bad answers from providers', () => {
  let b;
  let client;
  before(async () => {
    b = await startBridge({ tag: 'badprov', config: ({ openai: o, bedrock: br }) => ({
      retries: 1,
      backoff: { base_ms: 20, max_ms: 50 },
      models: {
        'hangs-openai': { context: 'off', deployments: [{ provider: 'openai', model: 'hang-o',
          base_url: o.baseUrl, timeouts: { first_byte_ms: 800 } }] },
        'hangs-bedrock': { context: 'off', deployments: [{ provider: 'bedrock', model: 'hang.b-v1:0',
          region: AWS.region, base_url: br.origin, timeouts: { first_byte_ms: 800 } }] },
        'stalls-bedrock': { context: 'off', deployments: [{ provider: 'bedrock', model: 'stall.b-v1:0',
          region: AWS.region, base_url: br.origin, retries: 0, timeouts: { total_ms: 1_500 } }] },
      },
    }) });
    client = b.client({ defaultHeaders: OFF });
  });
  after(async () => stopBridge(b));
  afterEach(() => b.reset());

  const garbage = [
    ['OpenAI: 200 with HTML', 'openai', 'gpt-4o-mini', { garbage: '<html>oops</html>', contentType: 'text/html' }],
    ['OpenAI: 200 JSON that is not a completion', 'openai', 'gpt-4o-mini', { garbage: '{"hello":"world"}' }],
    ['OpenAI: 200 truncated JSON', 'openai', 'gpt-4o-mini', { garbage: '{"id":"x","choices":[{' }],
    ['OpenAI: 500 with HTML', 'openai', 'gpt-4o-mini', { garbage: '<h1>500</h1>', status: 500, contentType: 'text/html' }],
    ['Bedrock: 200 with HTML', 'bedrock', CLAUDE, { garbage: '<html>oops</html>', contentType: 'text/html' }],
    ['Bedrock: 200 JSON that is not Converse', 'bedrock', CLAUDE, { garbage: '{"output":42}' }],
    ['Bedrock: 200 event stream of garbage', 'bedrock', CLAUDE, { garbage: 'not frames at all, just text',
      contentType: 'application/vnd.amazon.eventstream' }],
    ['Bedrock: 200 stream with a bad first frame', 'bedrock', CLAUDE, { corrupt: 'prelude-crc', after: 0 }],
    ['Bedrock: 200 stream with an absurd frame length', 'bedrock', CLAUDE, { corrupt: 'length', after: 0 }],
    ['Bedrock: 502 with HTML', 'bedrock', CLAUDE, { garbage: '<h1>bad gateway</h1>', status: 502, contentType: 'text/html' }],
  ];
  garbage.forEach(([name, fakeName, base, step], i) => {
    for (const stream of [false, true]) {
      it(`${name} (${stream ? 'streaming' : 'non-streaming'} client): 502, still serving`, T, async () => {
        // Its own model per case: the failures must not open one breaker.
        const key = fakeName === 'openai' ? `garbage-${i}-${stream}` : `garbage-${i}-${stream}.${base}`;
        b[fakeName].always(key, step);
        const model = `${fakeName}/${key}`;
        const res = await rawChat(b, { model, stream, messages: USER }, { headers: OFF });
        const e = await assertOpenAIError(res, 502);
        assert.ok(!/undefined|null\b/.test(e.error.message), `a clear message: ${e.error.message}`);
        await assertServing(b);
      });
    }
  });

  for (const [alias, fakeName, key] of [['hangs-openai', 'openai', 'hang-o'],
    ['hangs-bedrock', 'bedrock', 'hang.b-v1:0']]) {
    it(`${alias}: a provider that never answers: 504 within the deadline`, T, async () => {
      b[fakeName].always(key, { hang: true });
      const started = Date.now();
      const e = await client.chat.completions.create({ model: alias, messages: USER }).catch((x) => x);
      const took = Date.now() - started;
      assert.ok(e instanceof openai.APIError && e.status === 504, `got ${e?.constructor?.name} ${e?.status}`);
      assert.ok(took < 6_000, `answered after ${took} ms`);
      await assertServing(b);
    });
  }

  it('a Bedrock stream that stalls after its first event: timeout, still serving', T, async () => {
    b.bedrock.always('stall.b-v1:0', { text: 'a b c', gapMs: 10_000 });
    const started = Date.now();
    const e = await client.chat.completions.create({ model: 'stalls-bedrock', stream: true,
      messages: USER }).then(async (s) => {
      for await (const ch of s) void ch;
      return null;
    }).catch((x) => x);
    assert.ok(Date.now() - started < 6_000, 'bounded by the total deadline');
    if (e) assert.ok(e instanceof openai.APIError, `got ${e?.constructor?.name}`);
    await assertServing(b);
  });
});

describe('configuration files', () => {
  const files = readdirSync(FIXTURES).filter((f) => f.startsWith('bad-') && f.endsWith('.json'));

  it('has bad configuration fixtures', () => {
    assert.ok(files.length >= 3, `fixtures/bridge/bad-*.json: ${files}`);
  });

  for (const f of files) {
    it(`refuses ${f}, naming the file, the JSON pointer and the reason`, T, async () => {
      const spec = JSON.parse(readFileSync(new URL(f, FIXTURES), 'utf8'));
      const t = tmpDir('config');
      try {
        const file = join(t.dir, f);
        writeFileSync(file, typeof spec.config === 'string' ? spec.config : JSON.stringify(spec.config));
        const r = await runPw(['serve', '--listen', '127.0.0.1:0', '--db', join(t.dir, 'c.db'),
          '--config', file], { AWS_REGION: 'us-east-1' }, 10_000);
        assert.notEqual(r.code, 0, 'start-up fails');
        assert.ok(r.stderr.includes(file), `names the file: ${r.stderr}`);
        assert.ok(r.stderr.includes(spec.pointer), `names ${spec.pointer}: ${r.stderr}`);
        assert.match(r.stderr, new RegExp(spec.reason, 'i'));
      } finally {
        t.cleanup();
      }
    });
  }
});
