// Self-test of the fake providers, independent of pennyworth: the fakes
// judge the C bridge, so they are checked here first.
//   - The fake Bedrock's SigV4 verifier (AWS's @smithy/signature-v4 over the
//     request as received) accepts AWS's own test vectors, and accepts
//     requests signed by a second, hand-written signer (lib/handsign.mjs,
//     itself checked against the same vectors), including a model id with
//     ':' sent as %3A and signed as %253A, an inference-profile id and a
//     session token; it refuses tampered bodies, the wrong service, a
//     single-encoded path, an unsigned or missing session token.
//   - Its ConverseStream frames decode with @smithy/eventstream-codec, the
//     broken ones fail to, and the Converse rule checker catches each rule.
//   - The fake OpenAI speaks well enough for the real `openai` SDK, checks
//     what it receives and misbehaves on demand.

import { describe, it, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { T } from '../server/lib/harness.mjs';
import { startFakeBedrock, verifySigV4, checkConverse, streamFrames, corruptFrame,
  exceptionFrame } from './fakes/bedrock.mjs';
import { startFakeOpenAI, checkChat } from './fakes/openai.mjs';
import { handSign, amzDateOf, canonicalPath } from './lib/handsign.mjs';
import { OpenAI, openai, SignatureV4, HttpRequest, Sha256, codec, toUtf8 } from './lib/deps.mjs';
import { splitFrames } from './lib/bridge.mjs';

const VECTORS = new URL('../../fixtures/sigv4/', import.meta.url);

// Parses AWS's "header-signed-request.txt" into its parts.
function parseSigned(text) {
  const lines = text.split('\n');
  const first = lines[0];
  const sp1 = first.indexOf(' ');
  const sp2 = first.lastIndexOf(' ');
  const target = first.slice(sp1 + 1, sp2);
  const headers = {};
  let i = 1;
  for (; i < lines.length && lines[i] !== ''; i++) {
    const c = lines[i].indexOf(':');
    const name = lines[i].slice(0, c).toLowerCase();
    const value = lines[i].slice(c + 1);
    headers[name] = headers[name] !== undefined ? `${headers[name]},${value}` : value;
  }
  const q = target.indexOf('?');
  return {
    method: first.slice(0, sp1),
    rawUrl: target,
    rawPath: q < 0 ? target : target.slice(0, q),
    rawQuery: q < 0 ? '' : target.slice(q + 1),
    headers,
    body: lines.slice(i + 1).join('\n'),
  };
}

// AWS suite cases whose request an HTTP server can receive as written (no
// spaces or raw UTF-8 in the request line, no multi-line header values) and
// that use the default double-encoding and normalisation. (post-sts-header-after
// adds the session token unsigned, which Bedrock calls must never do.)
const AWS_CASES = ['get-vanilla', 'get-vanilla-query', 'get-vanilla-empty-query-key',
  'get-vanilla-query-order-key-case', 'get-vanilla-query-unreserved', 'get-unreserved',
  'get-vanilla-with-session-token', 'get-header-value-trim', 'get-header-key-duplicate',
  'post-vanilla', 'post-vanilla-query', 'post-vanilla-empty-query-value', 'post-header-key-sort',
  'post-header-key-case', 'post-header-value-case', 'post-x-www-form-urlencoded',
  'post-x-www-form-urlencoded-parameters', 'post-sts-header-before'];

function context(name) {
  return JSON.parse(readFileSync(new URL(`${name}/context.json`, VECTORS), 'utf8'));
}

// Sends bytes exactly as given (path not re-encoded) and resolves
// {status, headers, body: Buffer}.
function rawPost(port, path, headers, body) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method: 'POST', path, headers }, (res) => {
      const parts = [];
      res.on('data', (d) => parts.push(d));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers,
        body: Buffer.concat(parts) }));
      res.on('error', reject);
    });
    req.setTimeout(10_000, () => req.destroy(new Error('raw request timed out')));
    req.on('error', reject);
    req.end(body);
  });
}

const CREDS = {
  accessKeyId: 'AKIDSELFTEST00000001',
  secretAccessKey: 'self/test/secret+key/for/the/fake/bedrock',
  sessionToken: 'IQoJb3JpZ2luX2VjEXAMPLE//session+token==',
};
const REGION = 'eu-west-3';
const CONVERSE = { messages: [{ role: 'user', content: [{ text: 'Which shoes are in stock?' }] }],
  inferenceConfig: { maxTokens: 64 } };

// Signs a Converse call by hand for the fake at `port`.
function signed(port, modelPath, body, { service = 'bedrock', creds = CREDS, dropToken = false,
  signToken = true } = {}) {
  const amzDate = amzDateOf(new Date());
  const headers = {
    host: `127.0.0.1:${port}`,
    'content-type': 'application/json',
    'x-amz-date': amzDate,
  };
  if (creds.sessionToken && !dropToken && signToken) headers['x-amz-security-token'] = creds.sessionToken;
  const { authorization } = handSign({ method: 'POST', rawPath: modelPath, headers, body,
    accessKeyId: creds.accessKeyId, secretAccessKey: creds.secretAccessKey, region: REGION,
    service, amzDate });
  const out = { ...headers, authorization };
  if (creds.sessionToken && !dropToken && !signToken) out['x-amz-security-token'] = creds.sessionToken;
  return out;
}

describe('the hand-written SigV4 signer', () => {
  for (const name of AWS_CASES) {
    it(`reproduces AWS's vector ${name}`, () => {
      const ctx = context(name);
      const r = parseSigned(readFileSync(new URL(`${name}/header-signed-request.txt`, VECTORS), 'utf8'));
      const expected = readFileSync(new URL(`${name}/header-signature.txt`, VECTORS), 'utf8').trim();
      const headers = { ...r.headers };
      delete headers.authorization;
      const s = handSign({ method: r.method, rawPath: r.rawPath, rawQuery: r.rawQuery, headers,
        body: r.body, accessKeyId: ctx.credentials.access_key_id,
        secretAccessKey: ctx.credentials.secret_access_key, region: ctx.region,
        service: ctx.service, amzDate: headers['x-amz-date'] });
      assert.equal(s.signature, expected);
    });
  }

  it('encodes a model id with ":" twice in the canonical path', () => {
    assert.equal(canonicalPath('/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse'),
      '/model/anthropic.claude-3-5-sonnet-20240620-v1%253A0/converse');
  });
});

describe('the fake Bedrock SigV4 verifier (@smithy/signature-v4)', () => {
  for (const name of AWS_CASES) {
    it(`accepts AWS's vector ${name}`, T, async () => {
      const ctx = context(name);
      const r = parseSigned(readFileSync(new URL(`${name}/header-signed-request.txt`, VECTORS), 'utf8'));
      const v = await verifySigV4({
        method: r.method, rawUrl: r.rawUrl, headers: r.headers, body: Buffer.from(r.body),
        credentials: { accessKeyId: ctx.credentials.access_key_id,
          secretAccessKey: ctx.credentials.secret_access_key,
          sessionToken: r.headers['x-amz-security-token'] },
        region: ctx.region, service: ctx.service, now: Date.parse(ctx.timestamp),
      });
      assert.equal(v.ok, true, JSON.stringify(v));
    });
  }

  it('refuses an AWS vector with one byte of the signature changed', T, async () => {
    const ctx = context('post-vanilla');
    const r = parseSigned(readFileSync(new URL('post-vanilla/header-signed-request.txt', VECTORS), 'utf8'));
    r.headers.authorization = r.headers.authorization.replace(/.$/, (c) => (c === '0' ? '1' : '0'));
    const v = await verifySigV4({ method: r.method, rawUrl: r.rawUrl, headers: r.headers,
      body: Buffer.from(r.body), credentials: { accessKeyId: ctx.credentials.access_key_id,
        secretAccessKey: ctx.credentials.secret_access_key }, region: ctx.region,
      service: ctx.service, now: Date.parse(ctx.timestamp) });
    assert.equal(v.ok, false);
    assert.equal(v.type, 'InvalidSignatureException');
  });

  it('agrees with @smithy/signature-v4 signing the way the AWS SDK does', T, async () => {
    const signer = new SignatureV4({ credentials: CREDS, region: REGION, service: 'bedrock',
      sha256: Sha256 });
    const body = JSON.stringify(CONVERSE);
    const req = new HttpRequest({ method: 'POST', protocol: 'http:', hostname: 'localhost',
      path: '/model/us.anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse-stream',
      headers: { host: 'localhost', 'content-type': 'application/json' }, body });
    const when = new Date();
    const s = await signer.sign(req, { signingDate: when });
    const mine = handSign({ method: 'POST', rawPath: req.path,
      headers: { host: 'localhost', 'content-type': 'application/json',
        'x-amz-date': s.headers['x-amz-date'],
        'x-amz-security-token': CREDS.sessionToken,
        'x-amz-content-sha256': s.headers['x-amz-content-sha256'] },
      body, accessKeyId: CREDS.accessKeyId, secretAccessKey: CREDS.secretAccessKey,
      region: REGION, service: 'bedrock', amzDate: s.headers['x-amz-date'] });
    assert.equal(s.headers.authorization, mine.authorization);
  });
});

describe('the fake Bedrock over HTTP', () => {
  let fake;
  before(async () => {
    fake = await startFakeBedrock({ region: REGION, ...CREDS, bearerToken: 'bedrock-api-key-selftest' });
  });
  after(async () => fake.close());
  beforeEach(() => fake.reset());

  const MODELS = [
    'anthropic.claude-3-5-sonnet-20240620-v1:0',
    'us.anthropic.claude-3-5-sonnet-20240620-v1:0',
    'arn:aws:bedrock:eu-west-3:123456789012:inference-profile/eu.anthropic.claude-3-haiku-20240307-v1:0',
    'amazon.nova-lite-v1:0',
  ];
  for (const id of MODELS) {
    it(`accepts a correctly signed Converse call for ${id}`, T, async () => {
      const path = `/model/${encodeURIComponent(id)}/converse`;
      const body = JSON.stringify(CONVERSE);
      const r = await rawPost(fake.port, path, signed(fake.port, path, body), body);
      assert.equal(r.status, 200, r.body.toString());
      const j = JSON.parse(r.body);
      assert.equal(j.output.message.role, 'assistant');
      assert.equal(j.stopReason, 'end_turn');
      assert.equal(fake.requests[0].key, id);
      assert.deepEqual(fake.violations, []);
    });
  }

  it('accepts a call signed by @smithy/signature-v4 as the AWS SDK signs it', T, async () => {
    const signer = new SignatureV4({ credentials: CREDS, region: REGION, service: 'bedrock',
      sha256: Sha256 });
    const path = `/model/${encodeURIComponent(MODELS[1])}/converse`;
    const body = JSON.stringify(CONVERSE);
    const host = `127.0.0.1:${fake.port}`;
    const req = new HttpRequest({ method: 'POST', protocol: 'http:', hostname: '127.0.0.1',
      port: fake.port, path, headers: { host, 'content-type': 'application/json' }, body });
    const s = await signer.sign(req);
    assert.ok(s.headers['x-amz-content-sha256'], 'the SDK way adds the payload hash header');
    const ok = await rawPost(fake.port, path, s.headers, body);
    assert.equal(ok.status, 200, ok.body.toString());
    const bad = await rawPost(fake.port, path, s.headers, body.replace('64', '65'));
    assert.equal(bad.status, 400, 'the body no longer matches x-amz-content-sha256');
    const h2 = { ...s.headers, authorization: s.headers.authorization.replace(/Signature=./,
      (m) => (m.endsWith('0') ? `${m.slice(0, -1)}1` : `${m.slice(0, -1)}0`)) };
    const tampered = await rawPost(fake.port, path, h2, body);
    assert.equal(tampered.status, 403);
  });

  it('refuses a tampered body with 403 InvalidSignatureException', T, async () => {
    const path = `/model/${encodeURIComponent(MODELS[0])}/converse`;
    const body = JSON.stringify(CONVERSE);
    const h = signed(fake.port, path, body);
    const r = await rawPost(fake.port, path, h, body.replace('shoes', 'shirt'));
    assert.equal(r.status, 403);
    assert.match(r.headers['x-amzn-errortype'], /^InvalidSignatureException:/);
    assert.match(JSON.parse(r.body).message, /signature we calculated does not match/);
  });

  it('refuses a path signed with ":" encoded only once', T, async () => {
    const path = `/model/${encodeURIComponent(MODELS[0])}/converse`;
    const body = JSON.stringify(CONVERSE);
    const h = signed(fake.port, `/model/${MODELS[0]}/converse`, body);
    const r = await rawPost(fake.port, path, h, body);
    assert.equal(r.status, 403);
    assert.match(r.headers['x-amzn-errortype'], /^InvalidSignatureException:/);
    assert.equal(fake.authFailures[0].detail.canonicalPath,
      '/model/anthropic.claude-3-5-sonnet-20240620-v1%253A0/converse');
  });

  it('refuses the service name "bedrock-runtime" in the scope', T, async () => {
    const path = `/model/${encodeURIComponent(MODELS[0])}/converse`;
    const body = JSON.stringify(CONVERSE);
    const r = await rawPost(fake.port, path, signed(fake.port, path, body,
      { service: 'bedrock-runtime' }), body);
    assert.equal(r.status, 403);
    assert.match(JSON.parse(r.body).message, /correct service: 'bedrock'/);
  });

  it('refuses a missing or unsigned session token', T, async () => {
    const path = `/model/${encodeURIComponent(MODELS[0])}/converse`;
    const body = JSON.stringify(CONVERSE);
    const a = await rawPost(fake.port, path, signed(fake.port, path, body, { dropToken: true }), body);
    assert.equal(a.status, 403);
    const b = await rawPost(fake.port, path, signed(fake.port, path, body, { signToken: false }), body);
    assert.equal(b.status, 403);
    assert.match(JSON.parse(b.body).message, /session token header is not signed/);
  });

  it('refuses an x-amz-content-sha256 that is not the body hash', T, async () => {
    const path = `/model/${encodeURIComponent(MODELS[0])}/converse`;
    const body = JSON.stringify(CONVERSE);
    const h = signed(fake.port, path, body);
    h['x-amz-content-sha256'] = createHash('sha256').update('other').digest('hex');
    const r = await rawPost(fake.port, path, h, body);
    assert.equal(r.status, 400);
    assert.match(r.headers['x-amzn-errortype'], /^XAmzContentSHA256Mismatch:/);
  });

  it('accepts its Bedrock API key as a bearer token and refuses another', T, async () => {
    const path = `/model/${encodeURIComponent(MODELS[0])}/converse`;
    const body = JSON.stringify(CONVERSE);
    const ok = await rawPost(fake.port, path, { authorization: 'Bearer bedrock-api-key-selftest',
      'content-type': 'application/json' }, body);
    assert.equal(ok.status, 200);
    const bad = await rawPost(fake.port, path, { authorization: 'Bearer nope',
      'content-type': 'application/json' }, body);
    assert.equal(bad.status, 403);
    assert.match(bad.headers['x-amzn-errortype'], /^AccessDeniedException:/);
  });

  it('streams ConverseStream frames that @smithy/eventstream-codec decodes', T, async () => {
    fake.script(MODELS[0], {
      text: 'Two pairs are in stock.',
      toolUses: [{ name: 'check_stock', input: { sku: 'A1' } }, { name: 'noop', noInput: true }],
      usage: { inputTokens: 10, outputTokens: 5, cacheReadInputTokens: 100, cacheWriteInputTokens: 7 },
    });
    const path = `/model/${encodeURIComponent(MODELS[0])}/converse-stream`;
    const body = JSON.stringify({ ...CONVERSE, toolConfig: { tools: [
      { toolSpec: { name: 'check_stock', inputSchema: { json: { type: 'object' } } } },
      { toolSpec: { name: 'noop', inputSchema: { json: { type: 'object' } } } }] } });
    const r = await rawPost(fake.port, path, signed(fake.port, path, body), body);
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-type'], 'application/vnd.amazon.eventstream');
    const events = splitFrames(r.body).map((f) => codec.decode(f));
    const types = events.map((e) => e.headers[':event-type'].value);
    assert.deepEqual(types, ['messageStart', 'contentBlockDelta', 'contentBlockDelta',
      'contentBlockDelta', 'contentBlockDelta', 'contentBlockDelta', 'contentBlockStop',
      'contentBlockStart', 'contentBlockDelta', 'contentBlockDelta', 'contentBlockStop',
      'contentBlockStart', 'contentBlockStop', 'messageStop', 'metadata']);
    const payloads = events.map((e) => JSON.parse(toUtf8(e.body)));
    const text = payloads.filter((p) => p.delta?.text).map((p) => p.delta.text).join('');
    assert.equal(text, 'Two pairs are in stock.');
    assert.deepEqual(payloads[7].start.toolUse.name, 'check_stock');
    const input = payloads.filter((p) => p.contentBlockIndex === 1 && p.delta?.toolUse)
      .map((p) => p.delta.toolUse.input).join('');
    assert.deepEqual(JSON.parse(input), { sku: 'A1' });
    assert.equal(payloads[13].stopReason, 'tool_use');
    assert.deepEqual(payloads[14].usage, { inputTokens: 10, outputTokens: 5, totalTokens: 122,
      cacheReadInputTokens: 100, cacheWriteInputTokens: 7 });
  });

  it('puts an exception event inside a 200 stream', T, async () => {
    fake.script(MODELS[0], { exception: 'throttlingException', after: 1 });
    const path = `/model/${encodeURIComponent(MODELS[0])}/converse-stream`;
    const body = JSON.stringify(CONVERSE);
    const r = await rawPost(fake.port, path, signed(fake.port, path, body), body);
    assert.equal(r.status, 200);
    const events = splitFrames(r.body).map((f) => codec.decode(f));
    assert.equal(events.length, 2);
    assert.equal(events[1].headers[':message-type'].value, 'exception');
    assert.equal(events[1].headers[':exception-type'].value, 'throttlingException');
  });

  it('answers 429 ThrottlingException with Retry-After on demand', T, async () => {
    fake.script(MODELS[0], { status: 429, retryAfter: 2 });
    const path = `/model/${encodeURIComponent(MODELS[0])}/converse`;
    const body = JSON.stringify(CONVERSE);
    const r = await rawPost(fake.port, path, signed(fake.port, path, body), body);
    assert.equal(r.status, 429);
    assert.equal(r.headers['retry-after'], '2');
    assert.match(r.headers['x-amzn-errortype'], /^ThrottlingException:/);
  });

  it('rejects a Converse body that breaks a rule and records it', T, async () => {
    const path = `/model/${encodeURIComponent(MODELS[0])}/converse`;
    const body = JSON.stringify({ messages: [{ role: 'user', content: [{ text: ' ' }] }] });
    const r = await rawPost(fake.port, path, signed(fake.port, path, body), body);
    assert.equal(r.status, 400);
    assert.match(r.headers['x-amzn-errortype'], /^ValidationException:/);
    assert.equal(fake.violations.length, 1);
    assert.match(fake.violations[0], /text is blank/);
  });

  it('flags client headers that reach it', T, async () => {
    const path = `/model/${encodeURIComponent(MODELS[0])}/converse`;
    const body = JSON.stringify(CONVERSE);
    const h = signed(fake.port, path, body);
    h['x-test-client-trace'] = 'abc';
    await rawPost(fake.port, path, h, body);
    assert.match(fake.violations.join('\n'), /client header forwarded upstream: x-test-client-trace/);
  });
});

describe('event-stream frames the fake can break', () => {
  const a = { pieces: ['Hi'], toolUses: [], stopReason: 'end_turn',
    usage: { inputTokens: 1, outputTokens: 1, totalTokens: 2 } };

  it('encodes good frames that decode', () => {
    for (const f of streamFrames(a)) assert.ok(codec.decode(f).headers[':event-type']);
    assert.equal(codec.decode(exceptionFrame('validationException', 'x')).headers[':message-type'].value,
      'exception');
  });

  for (const kind of ['prelude-crc', 'message-crc', 'payload']) {
    it(`breaks a frame's ${kind} so that the codec refuses it`, () => {
      assert.throws(() => codec.decode(corruptFrame(kind)), /checksum/);
    });
  }
});

describe('the Converse rule checker', () => {
  const user = (text) => ({ role: 'user', content: [{ text }] });
  const asst = (content) => ({ role: 'assistant', content });
  const tools = { tools: [{ toolSpec: { name: 't', inputSchema: { json: { type: 'object' } } } }] };
  const use = { toolUse: { toolUseId: 'u1', name: 't', input: {} } };
  const result = { toolResult: { toolUseId: 'u1', content: [{ text: 'ok' }] } };
  const cases = [
    ['valid', { messages: [user('hi')] }, null],
    ['valid tool round', { messages: [user('hi'), asst([use]), { role: 'user', content: [result] }],
      toolConfig: tools }, null],
    ['two user turns', { messages: [user('a'), user('b')] }, /alternate/],
    ['starts with assistant', { messages: [asst([{ text: 'x' }]), user('b')] }, /start with a user/],
    ['blank text', { messages: [user('')] }, /blank/],
    ['blank system', { system: [{ text: '\n' }], messages: [user('a')] }, /system\[0\].text is blank/],
    ['tool use without toolConfig', { messages: [user('hi'), asst([use]),
      { role: 'user', content: [result] }] }, /toolConfig field must be defined/],
    ['unanswered tool use', { messages: [user('hi'), asst([use]), user('next')], toolConfig: tools },
      /expected toolResult/],
    ['tool choice none', { messages: [user('a')], toolConfig: { ...tools, toolChoice: { none: {} } } },
      /toolChoice/],
    ['string tool input', { messages: [user('hi'), asst([{ toolUse: { toolUseId: 'u1', name: 't',
      input: '{}' } }]), { role: 'user', content: [result] }], toolConfig: tools }, /object input/],
    ['unknown top-level field', { messages: [user('a')], user: 'x' }, /extraneous key \[user\]/],
    ['temperature above 1', { messages: [user('a')], inferenceConfig: { temperature: 1.5 } },
      /temperature/],
    ['system role in messages', { messages: [{ role: 'system', content: [{ text: 'a' }] }] },
      /not user or assistant/],
  ];
  for (const [name, body, want] of cases) {
    it(name, () => {
      const p = checkConverse(body);
      if (want === null) assert.deepEqual(p, []);
      else assert.match(p.join('\n'), want);
    });
  }
});

describe('the fake OpenAI with the openai SDK', () => {
  let fake;
  let client;
  before(async () => {
    fake = await startFakeOpenAI({ apiKey: 'sk-selftest' });
    fake.flagSdkHeaders = false;
    client = new OpenAI({ apiKey: 'sk-selftest', baseURL: fake.baseUrl, maxRetries: 0, timeout: 10_000 });
  });
  after(async () => fake.close());
  beforeEach(() => fake.reset());

  it('answers a completion with usage', T, async () => {
    fake.script('gpt-4o-mini', { text: 'Hi there.', usage: { prompt_tokens: 5, completion_tokens: 3, cached_tokens: 2 } });
    const c = await client.chat.completions.create({ model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'hi' }] });
    assert.equal(c.choices[0].message.content, 'Hi there.');
    assert.equal(c.usage.total_tokens, 8);
    assert.equal(c.usage.prompt_tokens_details.cached_tokens, 2);
    assert.deepEqual(fake.violations, []);
  });

  it('streams text and tool calls the SDK reassembles', T, async () => {
    fake.script('gpt-4o-mini', { toolCalls: [{ name: 'a', arguments: '{"x":1,"y":"long value"}' },
      { name: 'b', arguments: '{}' }] });
    const s = await client.chat.completions.create({ model: 'gpt-4o-mini', stream: true,
      stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'hi' }],
      tools: [{ type: 'function', function: { name: 'a' } }, { type: 'function', function: { name: 'b' } }] });
    const calls = [];
    let usage;
    let finish;
    for await (const ch of s) {
      if (ch.usage) usage = ch.usage;
      for (const c of ch.choices) {
        if (c.finish_reason) finish = c.finish_reason;
        for (const t of c.delta.tool_calls ?? []) {
          calls[t.index] ??= { id: t.id, name: t.function?.name, args: '' };
          calls[t.index].args += t.function?.arguments ?? '';
        }
      }
    }
    assert.equal(finish, 'tool_calls');
    assert.deepEqual(calls.map((c) => [c.name, JSON.parse(c.args)]),
      [['a', { x: 1, y: 'long value' }], ['b', {}]]);
    assert.ok(usage.total_tokens > 0);
  });

  it('flags a streamed call without include_usage and a forwarded context field', T, async () => {
    await assert.rejects(client.chat.completions.create({ model: 'm', stream: true, context: 'auto',
      messages: [{ role: 'user', content: 'hi' }] }), openai.BadRequestError);
    assert.match(fake.violations.join('\n'), /include_usage/);
    assert.match(fake.violations.join('\n'), /context/);
  });

  it('misbehaves on demand: 429 with Retry-After, 500, garbage', T, async () => {
    fake.script('m', { status: 429, retryAfter: 3 }, { status: 500 }, { garbage: 'not json' });
    const msg = { model: 'm', messages: [{ role: 'user', content: 'hi' }] };
    const e1 = await client.chat.completions.create(msg).catch((e) => e);
    assert.ok(e1 instanceof openai.RateLimitError);
    assert.equal(e1.headers.get('retry-after'), '3');
    const e2 = await client.chat.completions.create(msg).catch((e) => e);
    assert.ok(e2 instanceof openai.InternalServerError);
    await assert.rejects(client.chat.completions.create(msg));
  });

  it('cuts a stream mid-way on demand', T, async () => {
    fake.script('m', { text: 'one two three four five', cutAfter: 3 });
    const s = await client.chat.completions.create({ model: 'm', stream: true,
      stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'hi' }] });
    let text = '';
    await assert.rejects((async () => {
      for await (const ch of s) text += ch.choices[0]?.delta?.content ?? '';
    })());
    assert.equal(text, 'one two ');
  });

  it('checks tool messages answer the assistant tool calls', () => {
    assert.match(checkChat({ model: 'm', messages: [{ role: 'user', content: 'a' },
      { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function',
        function: { name: 'f', arguments: '{}' } }] }, { role: 'user', content: 'b' }] }).join(),
    /not answered/);
  });
});

it('the AWS vectors directory is present', () => {
  assert.ok(existsSync(VECTORS) && readdirSync(VECTORS).length > 10);
});
