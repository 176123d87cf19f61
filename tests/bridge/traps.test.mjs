// The traps other gateways fell into (the list), one test each,
// end to end through `pennyworth serve` and the fakes:
//   SigV4: model ids with ':' and inference-profile ids (ARNs too) sign
//   correctly (the fake recomputes with @smithy/signature-v4), service
//   "bedrock", session token signed, no client header forwarded or signed,
//   signing without a session token, Bedrock API keys (bearer).
//   Event stream: an early exception event in a 200 stream becomes a proper
//   status; a stream cut, broken or failing mid-way ends with an error
//   event, never with what looks like success; bad CRCs are caught; a tool
//   call with no input streams "{}".
//   SSE: every data line is JSON except [DONE], no event: names, comments
//   only as keep-alives, [DONE] last and the connection closed after it.

import { describe, it, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { T, sleep } from '../server/lib/harness.mjs';
import { openai } from './lib/deps.mjs';
import { startBridge, stopBridge, collect, rawChat, readSse, assertOpenAIError, assertServing,
  CLAUDE, PROFILE, PROFILE_ARN, AWS, CLIENT_KEY, CLIENT_SECRET_MARK } from './lib/bridge.mjs';
import { BOTH } from './lib/providers.mjs';

const OFF = { 'x-pennyworth-context': 'off' };
const SIGNABLE = new Set(['host', 'x-amz-date', 'x-amz-security-token', 'x-amz-content-sha256',
  'content-type', 'content-length', 'accept']);
const USER = [{ role: 'user', content: 'Tell me about running shoes' }];

// Parses a raw SSE body into data strings, checking the format strictly.
function checkSseFormat(data) {
  assert.ok(data.length >= 2, 'some chunks and [DONE]');
  assert.equal(data.at(-1), '[DONE]', '[DONE] is the last event');
  assert.equal(data.filter((d) => d === '[DONE]').length, 1);
  return data.slice(0, -1).map((d) => {
    assert.doesNotThrow(() => JSON.parse(d), `data line is JSON: ${d}`);
    return JSON.parse(d);
  });
}

// What an SSE response that failed mid-way must look like: some content,
// then an error object, and no chunk that looks like a normal end.
function checkErrorEnd(data) {
  const parsed = data.filter((d) => d !== '[DONE]').map((d) => JSON.parse(d));
  const errAt = parsed.findIndex((c) => c.error);
  assert.ok(errAt >= 0, `an error event is sent: ${data.join(' | ')}`);
  assert.equal(typeof parsed[errAt].error.message, 'string');
  assert.ok(!parsed.some((c) => c.choices?.some((ch) => ch.finish_reason === 'stop')),
    'no finish_reason "stop" after a failure');
  return parsed.slice(0, errAt);
}

describe('SigV4 traps', () => {
  let b;
  let client;
  before(async () => {
    b = await startBridge({ tag: 'sigv4' });
    client = b.client({ defaultHeaders: { ...OFF, 'x-test-client-id': `id-${CLIENT_SECRET_MARK}`,
      'x-amz-date': '20000101T000000Z', 'x-amz-security-token': 'client-token' } });
  });
  after(async () => stopBridge(b));
  afterEach(() => b.reset());

  for (const id of [CLAUDE, PROFILE, PROFILE_ARN, 'amazon.nova-pro-v1:0',
    'meta.llama3-1-70b-instruct-v1:0', 'mistral.mistral-large-2407-v1:0']) {
    for (const stream of [false, true]) {
      it(`signs ${id} (${stream ? 'ConverseStream' : 'Converse'}) as AWS verifies it`, T, async () => {
        b.bedrock.script(id, { text: 'Signed right.' });
        const req = { model: `bedrock/${id}`, messages: USER, stream };
        const out = stream ? await collect(await client.chat.completions.create(req))
          : await client.chat.completions.create(req);
        if (stream) {
          assert.equal(out.error, null, String(out.error));
          assert.equal(out.text, 'Signed right.');
        } else {
          assert.equal(out.choices[0].message.content, 'Signed right.');
        }
        const [rec] = b.bedrock.seen(id);
        assert.equal(rec.auth, 'sigv4');
        assert.ok(rec.sigv4?.ok, JSON.stringify(b.bedrock.authFailures));
        const op = rec.stream ? 'converse-stream' : 'converse';
        assert.equal(rec.rawPath, `/model/${encodeURIComponent(id)}/${op}`,
          'the model id is sent URI-encoded once (":" as %3A, "/" as %2F)');
        assert.ok(rec.sigv4.canonicalPath.includes('%253A'), 'signed double-encoded');
        b.assertClean();
      });
    }
  }

  it('signs as service "bedrock", signs the session token, signs no client header', T, async () => {
    b.bedrock.script(CLAUDE, { text: 'ok' });
    await client.chat.completions.create({ model: `bedrock/${CLAUDE}`, messages: USER });
    const [rec] = b.bedrock.seen(CLAUDE);
    assert.match(rec.headers.authorization, /\/eu-central-1\/bedrock\/aws4_request/);
    assert.equal(rec.headers['x-amz-security-token'], AWS.sessionToken);
    assert.ok(rec.sigv4.signedHeaders.includes('x-amz-security-token'));
    for (const h of rec.sigv4.signedHeaders) {
      assert.ok(SIGNABLE.has(h), `signed header ${h} is one of ours`);
    }
    assert.notEqual(rec.headers['x-amz-date'], '20000101T000000Z', 'client x-amz-date not used');
    assert.ok(!JSON.stringify(rec.rawHeaders).includes(CLIENT_KEY), 'client key not forwarded');
    b.assertClean();
  });

  it('never forwards the client\'s headers to OpenAI either', T, async () => {
    b.openai.script('gpt-4o-mini', { text: 'ok' });
    await client.chat.completions.create({ model: 'openai/gpt-4o-mini', messages: USER });
    const [rec] = b.openai.seen('gpt-4o-mini');
    assert.equal(rec.headers.authorization, `Bearer ${b.openai.apiKey}`);
    assert.equal(rec.headers['x-amz-date'], undefined);
    b.assertClean();
  });
});

describe('SigV4 without a session token', () => {
  let b;
  before(async () => { b = await startBridge({ tag: 'notoken', bedrock: { sessionToken: null } }); });
  after(async () => stopBridge(b));

  it('signs without x-amz-security-token', T, async () => {
    b.bedrock.script(PROFILE, { text: 'No token.' });
    const r = await collect(await b.client().chat.completions.create({ model: `bedrock/${PROFILE}`,
      stream: true, messages: USER }, { headers: OFF }));
    assert.equal(r.error, null, String(r.error));
    assert.equal(r.text, 'No token.');
    const [rec] = b.bedrock.seen(PROFILE);
    assert.equal(rec.headers['x-amz-security-token'], undefined);
    b.assertClean();
  });
});

// The fake's checks are live end to end: credentials that differ from the
// fake's by one character are refused, and the client is told.
describe('SigV4 with a wrong secret or region', () => {
  let b;
  before(async () => {
    b = await startBridge({ tag: 'wrongkey', env: {
      AWS_SECRET_ACCESS_KEY: AWS.secretAccessKey.replace(/.$/, (c) => (c === 'x' ? 'y' : 'x')) } });
  });
  after(async () => stopBridge(b));

  it('is refused by the fake Bedrock and surfaces as an error', T, async () => {
    const e = await b.client().chat.completions.create({ model: `bedrock/${CLAUDE}`,
      messages: USER }, { headers: OFF }).catch((x) => x);
    assert.ok(e instanceof openai.APIError, `got ${e?.constructor?.name}`);
    assert.ok(e.status === 403 || e.status === 502, `status ${e.status}`);
    assert.equal(b.bedrock.seen(CLAUDE).length, 1, 'an auth failure is not retried');
    assert.match(b.bedrock.authFailures[0].message, /signature we calculated does not match/);
  });

  it('a region the fake does not serve is refused too', T, async () => {
    const w = await startBridge({ tag: 'wrongregion', env: { AWS_REGION: 'ap-south-1' } });
    try {
      const e = await w.client().chat.completions.create({ model: `bedrock/${CLAUDE}`,
        messages: USER }, { headers: OFF }).catch((x) => x);
      assert.ok(e instanceof openai.APIError, `got ${e?.constructor?.name}`);
      assert.match(w.bedrock.authFailures[0]?.message ?? '', /region/);
    } finally {
      await stopBridge(w);
    }
  });
});

describe('the endpoint from AWS_ENDPOINT_URL when the Bedrock-specific one is unset', () => {
  let b;
  before(async () => {
    b = await startBridge({ tag: 'endpoint', env: ({ bedrock }) => ({
      AWS_ENDPOINT_URL_BEDROCK_RUNTIME: undefined, AWS_ENDPOINT_URL: bedrock.origin }) });
  });
  after(async () => stopBridge(b));

  it('reaches Bedrock through AWS_ENDPOINT_URL', T, async () => {
    b.bedrock.script(CLAUDE, { text: 'Via the general endpoint.' });
    const c = await b.client().chat.completions.create({ model: `bedrock/${CLAUDE}`,
      messages: USER }, { headers: OFF });
    assert.equal(c.choices[0].message.content, 'Via the general endpoint.');
    b.assertClean();
  });
});

describe('Bedrock API keys (AWS_BEARER_TOKEN_BEDROCK)', () => {
  let b;
  before(async () => { b = await startBridge({ tag: 'bearer', bearer: 'ABSKbedrock-api-key-0123456789' }); });
  after(async () => stopBridge(b));

  it('sends the key as a bearer token instead of signing', T, async () => {
    b.bedrock.script(CLAUDE, { text: 'Bearer works.' }, { text: 'Bearer streams.' });
    const c = await b.client().chat.completions.create({ model: `bedrock/${CLAUDE}`,
      messages: USER }, { headers: OFF });
    assert.equal(c.choices[0].message.content, 'Bearer works.');
    const r = await collect(await b.client().chat.completions.create({ model: `bedrock/${CLAUDE}`,
      stream: true, messages: USER }, { headers: OFF }));
    assert.equal(r.text, 'Bearer streams.');
    for (const rec of b.bedrock.seen(CLAUDE)) {
      assert.equal(rec.auth, 'bearer');
      assert.equal(rec.headers['x-amz-security-token'], undefined);
    }
    b.assertClean();
  });
});

describe('event-stream traps', () => {
  let b;
  let client;
  before(async () => {
    b = await startBridge({ tag: 'evstream' });
    client = b.client({ defaultHeaders: OFF });
  });
  after(async () => stopBridge(b));
  afterEach(() => b.reset());

  const early = [
    ['throttlingException', openai.RateLimitError, 429],
    ['validationException', openai.BadRequestError, 400],
    ['modelStreamErrorException', openai.InternalServerError, null],
    ['internalServerException', openai.InternalServerError, null],
  ];
  for (const [exc, cls, status] of early) {
    for (const stream of [true, false]) {
      it(`an early ${exc} in a 200 stream becomes a proper status (${stream ? 'streaming' : 'non-streaming'} client)`, T, async () => {
        const id = `early-${exc}-${stream}.model-v1:0`;
        b.bedrock.always(id, { exception: exc, after: 1 });
        const e = await (async () => {
          const s = await client.chat.completions.create({ model: `bedrock/${id}`, stream,
            messages: USER });
          if (stream) {
            const r = await collect(s);
            throw r.error ?? new Error(`stream succeeded: ${r.text}`);
          }
          return s;
        })().catch((x) => x);
        assert.ok(e instanceof cls, `got ${e?.constructor?.name}: ${e?.message}`);
        if (status) assert.equal(e.status, status);
        else assert.ok(e.status >= 500, `status ${e.status}`);
        await assertServing(b);
      });
    }
  }

  it('an early OpenAI error object in a 200 stream becomes a proper status', T, async () => {
    // Only the role chunk came before the error: no real content yet.
    b.openai.always('early-error', { text: 'never shown', errorAfter: 1 });
    const res = await rawChat(b, { model: 'openai/early-error', stream: true, messages: USER },
      { headers: OFF });
    const e = await assertOpenAIError(res, res.status);
    assert.ok(res.status >= 500, `status ${res.status}: ${JSON.stringify(e)}`);
    assert.ok(b.openai.seen('early-error').length >= 2, 'retried while nothing was sent');
    await assertServing(b);
  });

  it('an early exception is retried while nothing reached the client', T, async () => {
    b.bedrock.script(CLAUDE, { exception: 'throttlingException', after: 0 }, { text: 'Second try.' });
    const r = await collect(await client.chat.completions.create({ model: `bedrock/${CLAUDE}`,
      stream: true, messages: USER }));
    assert.equal(r.error, null, String(r.error));
    assert.equal(r.text, 'Second try.');
    assert.equal(b.bedrock.seen(CLAUDE).length, 2);
  });

  const midway = [
    ['a cut connection', { text: 'alpha beta gamma delta epsilon zeta', cutAfter: 4 }],
    ['a modelStreamErrorException', { text: 'alpha beta gamma delta epsilon zeta',
      exception: 'modelStreamErrorException', after: 4 }],
    ['a throttlingException', { text: 'alpha beta gamma delta epsilon zeta',
      exception: 'throttlingException', after: 4 }],
    ['a bad message CRC', { text: 'alpha beta gamma delta epsilon zeta', corrupt: 'message-crc', after: 4 }],
    ['a bad prelude CRC', { text: 'alpha beta gamma delta epsilon zeta', corrupt: 'prelude-crc', after: 4 }],
    ['a flipped payload byte', { text: 'alpha beta gamma delta epsilon zeta', corrupt: 'payload', after: 4 }],
    ['garbage instead of a frame', { text: 'alpha beta gamma delta epsilon zeta', corrupt: 'garbage', after: 4 }],
  ];
  midway.forEach(([what, step], i) => {
    it(`a stream that meets ${what} after content ends with an error event`, T, async () => {
      // Its own model id: these failures must not add up in one breaker.
      const id = `midway-${i}.model-v1:0`;
      b.bedrock.script(id, { ...step, gapMs: 30 });
      const res = await rawChat(b, { model: `bedrock/${id}`, stream: true, messages: USER },
        { headers: OFF });
      assert.equal(res.status, 200);
      const { data } = await readSse(res);
      const before = checkErrorEnd(data);
      const text = before.map((c) => c.choices?.[0]?.delta?.content ?? '').join('');
      assert.equal(text, 'alpha beta gamma ', 'the content before the failure arrived once');
      assert.equal(b.bedrock.seen(id).length, 1, 'no retry after content reached the client');
      assert.equal(b.openai.seen().length, 0, 'no silent provider switch');
      b.bedrock.script(id, { ...step });
      const r = await collect(await client.chat.completions.create({ model: `bedrock/${id}`,
        stream: true, messages: USER }));
      assert.ok(r.error instanceof openai.APIError, `the SDK sees an error: ${r.error}`);
      await assertServing(b);
    });
  });

  it('an OpenAI stream cut mid-way ends with an error event too', T, async () => {
    b.openai.script('cut-mid', { text: 'one two three four five six', cutAfter: 4, gapMs: 30 });
    const res = await rawChat(b, { model: 'openai/cut-mid', stream: true, messages: USER },
      { headers: OFF });
    const { data } = await readSse(res);
    checkErrorEnd(data);
  });

  it('an OpenAI stream that ends cleanly before its finish is not a success', T, async () => {
    b.openai.script('end-early', { text: 'one two three four', endAfter: 3 });
    const res = await rawChat(b, { model: 'openai/end-early', stream: true, messages: USER },
      { headers: OFF });
    const { data } = await readSse(res);
    checkErrorEnd(data);
  });

  it('a non-streaming client gets an error, not half an answer, when the stream breaks', T, async () => {
    const id = 'broken-whole.model-v1:0';
    b.bedrock.always(id, { text: 'alpha beta gamma delta', corrupt: 'message-crc', after: 3 });
    const res = await rawChat(b, { model: `bedrock/${id}`, messages: USER }, { headers: OFF });
    const body = await assertOpenAIError(res, res.status);
    assert.ok(res.status >= 500, `status ${res.status}: ${JSON.stringify(body)}`);
  });

  for (const stream of [true, false]) {
    it(`a Bedrock tool call with no input becomes arguments "{}" (${stream ? 'stream' : 'no stream'})`, T, async () => {
      b.bedrock.script(CLAUDE, { toolUses: [{ id: 'tooluse_now', name: 'get_time', noInput: true }] });
      const req = { model: `bedrock/${CLAUDE}`, stream, messages: USER,
        tools: [{ type: 'function', function: { name: 'get_time', parameters: { type: 'object' } } }] };
      let args;
      if (stream) {
        const r = await collect(await client.chat.completions.create(req));
        assert.equal(r.error, null, String(r.error));
        assert.equal(r.finish, 'tool_calls');
        args = r.calls[0].arguments;
        assert.equal(r.calls[0].id, 'tooluse_now');
      } else {
        const c = await client.chat.completions.create(req);
        args = c.choices[0].message.tool_calls[0].function.arguments;
      }
      assert.deepEqual(JSON.parse(args), {});
      b.assertClean();
    });
  }

  it('numbers Bedrock tool calls 0, 1, 2 after a text block (Converse indexes 1, 2, 3)', T, async () => {
    b.bedrock.script(CLAUDE, { text: 'Let me check.', toolUses: [
      { id: 't1', name: 'get_time', input: { tz: 'UTC' } },
      { id: 't2', name: 'get_time', noInput: true },
      { id: 't3', name: 'get_time', input: { tz: 'CET' }, inputPieces: ['{"t', 'z":', '"CET"}'] }] });
    const r = await collect(await client.chat.completions.create({ model: `bedrock/${CLAUDE}`,
      stream: true, messages: USER,
      tools: [{ type: 'function', function: { name: 'get_time', parameters: { type: 'object' } } }] }));
    assert.equal(r.error, null, String(r.error));
    assert.equal(r.text, 'Let me check.');
    assert.deepEqual(r.calls.map((c) => [c.id, JSON.parse(c.arguments)]),
      [['t1', { tz: 'UTC' }], ['t2', {}], ['t3', { tz: 'CET' }]]);
  });
});

describe('SSE format', () => {
  let b;
  before(async () => { b = await startBridge({ tag: 'sse' }); });
  after(async () => stopBridge(b));
  afterEach(() => b.reset());

  for (const P of BOTH) {
    for (const usage of [true, false]) {
      it(`${P.name}: JSON data lines, no event names, [DONE] last, closed after it (usage ${usage})`, T, async () => {
        P.fake(b).script(P.key, P.tools([{ id: 'call_1', name: 'get_time', input: { a: 1 } }],
          { text: 'Checking the time.' }));
        const body = { model: P.model, stream: true, messages: USER,
          tools: [{ type: 'function', function: { name: 'get_time', parameters: { type: 'object' } } }] };
        if (usage) body.stream_options = { include_usage: true };
        const res = await rawChat(b, body, { headers: OFF });
        assert.equal(res.status, 200);
        assert.match(res.headers.get('content-type'), /^text\/event-stream/);
        const started = Date.now();
        const { data, names } = await readSse(res, 10_000);
        assert.ok(Date.now() - started < 9_000, 'the connection closed after [DONE]');
        assert.deepEqual(names, [], 'no event: names');
        const chunks = checkSseFormat(data);
        const usageChunks = chunks.filter((c) => c.choices.length === 0);
        if (usage) {
          assert.equal(usageChunks.length, 1);
          assert.equal(chunks.at(-1), usageChunks[0], 'the usage chunk is the last before [DONE]');
          assert.ok(usageChunks[0].usage.total_tokens > 0);
        } else {
          assert.equal(usageChunks.length, 0, 'no usage chunk unless asked');
          assert.ok(chunks.every((c) => c.usage === undefined || c.usage === null));
        }
        const finishes = chunks.filter((c) => c.choices[0]?.finish_reason);
        assert.equal(finishes.length, 1, 'one finish_reason');
        assert.equal(finishes[0].choices[0].finish_reason, 'tool_calls');
        assert.equal(chunks.find((c) => c.choices.length)?.choices[0].delta.role, 'assistant',
          'the first chunk carries the role');
        b.assertClean();
      });
    }
  }

  // The stream's end is the connection's end: a keep-alive HTTP/1.1 client
  // sees the socket closed right after [DONE] (fetch would hide that).
  for (const P of BOTH) {
    it(`${P.name}: the server closes the connection after [DONE]`, T, async () => {
      P.fake(b).script(P.key, P.text('Closing time.'));
      const body = JSON.stringify({ model: P.model, stream: true, messages: USER });
      const url = new URL(b.base);
      const sock = net.connect(Number(url.port), url.hostname);
      sock.write(`POST /v1/chat/completions HTTP/1.1\r\nHost: ${url.host}\r\n` +
        'Connection: keep-alive\r\nContent-Type: application/json\r\n' +
        `X-Pennyworth-Context: off\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
      let text = '';
      sock.on('data', (d) => { text += d; });
      const closed = await Promise.race([
        new Promise((r) => sock.on('close', () => r(true))),
        sleep(5_000).then(() => false),
      ]);
      sock.destroy();
      assert.match(text, /^HTTP\/1\.1 200/);
      assert.match(text, /data: \[DONE\]/);
      assert.ok(closed, `the connection stayed open after [DONE]:\n${text.slice(0, 400)}`);
      b.assertClean();
    });
  }

  for (const P of BOTH) {
    it(`${P.name}: a client that goes away mid-stream: the upstream call is dropped`, T, async () => {
      const o = P.other('client-leaves');
      P.fake(b).script(o.key, { text: 'w '.repeat(200), gapMs: 50 });
      const ac = new AbortController();
      const res = await fetch(`${b.base}/v1/chat/completions`, { method: 'POST',
        headers: { 'content-type': 'application/json', ...OFF }, signal: ac.signal,
        body: JSON.stringify({ model: o.model, stream: true, messages: USER }) });
      const reader = res.body.getReader();
      await reader.read();
      ac.abort();
      const rec = (await P.fake(b).waitRequests(1, 5_000, o.key))[0];
      const start = Date.now();
      while (rec.outcome === 'streaming' && Date.now() - start < 5_000) await sleep(50);
      assert.equal(rec.outcome, 'gone', 'the bridge closed the upstream stream');
      await assertServing(b);
    });
  }

  it('keeps a quiet stream alive with ":" comments only', { timeout: 60_000 }, async () => {
    // The bridge's keep-alive interval is 15 s: a 16.5 s silence after the
    // first token must be filled with comments, never with data or events.
    b.openai.script('quiet', { text: 'before after', pauses: { 1: 16_500 } });
    const res = await rawChat(b, { model: 'openai/quiet', stream: true, messages: USER },
      { headers: OFF });
    const { data, names, comments } = await readSse(res, 25_000);
    assert.ok(comments >= 1, 'a keep-alive comment was sent');
    assert.deepEqual(names, []);
    const chunks = checkSseFormat(data);
    assert.equal(chunks.map((c) => c.choices[0]?.delta?.content ?? '').join(''), 'before after');
  });

  for (const P of BOTH) {
    it(`${P.name}: sends the first token before the provider finished`, T, async () => {
      const o = P.other('first-token');
      P.fake(b).script(o.key, { text: 'first second third fourth', gapMs: 700 });
      const res = await rawChat(b, { model: o.model, stream: true, messages: USER },
        { headers: OFF });
      const started = Date.now();
      const reader = res.body.getReader();
      let got = '';
      while (!got.includes('first')) {
        const { value, done } = await reader.read();
        if (done) break;
        got += Buffer.from(value).toString();
      }
      const firstAt = Date.now() - started;
      await reader.cancel();
      assert.ok(got.includes('first'), 'the first token arrived');
      assert.ok(firstAt < 1_500, `first token after ${firstAt} ms, the whole answer takes ~2.8 s`);
    });
  }
});

describe('secrets stay out of the logs', () => {
  it('prints no key, secret or token, even after failures', T, async () => {
    const b = await startBridge({ tag: 'secrets' });
    try {
      b.bedrock.always(CLAUDE, { status: 403 });
      b.openai.always('gpt-4o-mini', { status: 401 });
      for (const model of [`bedrock/${CLAUDE}`, 'openai/gpt-4o-mini']) {
        await b.client().chat.completions.create({ model, messages: USER }).catch(() => {});
      }
    } finally {
      await stopBridge(b);
    }
    const logs = b.srv.stderr() + b.srv.stdout();
    for (const secret of [AWS.secretAccessKey, AWS.sessionToken, b.openai.apiKey, CLIENT_KEY]) {
      assert.ok(!logs.includes(secret), `the logs hold a secret: ${secret}`);
    }
  });
});
