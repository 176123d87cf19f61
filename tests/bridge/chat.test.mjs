// The OpenAI-compatible chat API end to end, with the real `openai` SDK as
// the client, against both providers (the fake OpenAI and the fake Bedrock,
// each checking what pennyworth sends): non-streamed and streamed answers,
// client tool calls round-tripped, usage (with Bedrock's cache tokens),
// provider errors surfacing as the SDK's error classes, /v1/models and the
// /api/v1/completions alias. Context injection is off here (header) so the
// upstream requests are exactly the client's; context.test.mjs covers it.

import { describe, it, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { T } from '../server/lib/harness.mjs';
import { openai } from './lib/deps.mjs';
import { startBridge, stopBridge, collect, rawChat, readSse, CLIENT_SECRET_MARK, CLAUDE }
  from './lib/bridge.mjs';
import { BOTH } from './lib/providers.mjs';

const OFF = { 'x-pennyworth-context': 'off' };
// Headers a client might send that must stay between it and pennyworth.
const CLIENT_HEADERS = { ...OFF, 'x-test-client-trace': `trace-${CLIENT_SECRET_MARK}`,
  'x-test-client-org': 'org-1' };

const WEATHER = { type: 'function', function: { name: 'get_weather', description: 'Weather now',
  parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } };
const TIME = { type: 'function', function: { name: 'get_time', description: 'The time',
  parameters: { type: 'object', properties: {} } } };

describe('chat completions through both providers', () => {
  let b;
  let client;
  before(async () => {
    b = await startBridge({ tag: 'chat' });
    client = b.client({ defaultHeaders: CLIENT_HEADERS });
  });
  after(async () => stopBridge(b));
  afterEach(() => b.reset());

  for (const P of BOTH) {
    describe(P.name, () => {
      it('answers a non-streamed request', T, async () => {
        P.fake(b).script(P.key, { ...P.text('Hello, shopper.'), ...P.usage(30, 4) });
        const { data: c, response } = await client.chat.completions.create({
          model: P.model,
          messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hi there' }],
          max_tokens: 50,
          temperature: 0.2,
        }).withResponse();
        assert.equal(response.status, 200);
        assert.equal(c.object, 'chat.completion');
        assert.match(c.id, /^chatcmpl-/);
        assert.equal(typeof c.created, 'number');
        assert.equal(typeof c.model, 'string');
        assert.equal(c.choices.length, 1);
        assert.equal(c.choices[0].index, 0);
        assert.equal(c.choices[0].message.role, 'assistant');
        assert.equal(c.choices[0].message.content, 'Hello, shopper.');
        assert.equal(c.choices[0].finish_reason, 'stop');
        assert.equal(c.usage.prompt_tokens, 30);
        assert.equal(c.usage.completion_tokens, 4);
        assert.equal(c.usage.total_tokens, 34);
        const [rec] = P.fake(b).seen(P.key);
        assert.ok(rec, 'the provider was called');
        assert.deepEqual(P.userTexts(rec), ['Hi there']);
        if (P.name === 'openai') {
          assert.equal(rec.body.model, 'gpt-4o-mini');
          assert.equal(rec.body.messages[0].role, 'system');
          assert.equal(rec.body.max_tokens ?? rec.body.max_completion_tokens, 50);
          assert.equal(rec.body.temperature, 0.2);
        } else {
          assert.equal(rec.key, CLAUDE);
          assert.equal(rec.rawPath, `/model/${encodeURIComponent(CLAUDE)}/${rec.stream
            ? 'converse-stream' : 'converse'}`);
          assert.deepEqual(rec.body.system, [{ text: 'Be brief.' }]);
          assert.equal(rec.body.inferenceConfig.maxTokens, 50);
          assert.equal(rec.body.inferenceConfig.temperature, 0.2);
        }
        b.assertClean();
      });

      it('streams an answer in OpenAI chunks, with the usage chunk when asked', T, async () => {
        P.fake(b).script(P.key, { ...P.text('One two three four.'), ...P.usage(12, 5) });
        const s = await client.chat.completions.create({ model: P.model, stream: true,
          stream_options: { include_usage: true },
          messages: [{ role: 'user', content: 'Count' }] });
        const r = await collect(s);
        assert.equal(r.error, null, String(r.error));
        assert.equal(r.text, 'One two three four.');
        assert.equal(r.finish, 'stop');
        const ids = new Set(r.chunks.map((c) => c.id));
        assert.equal(ids.size, 1, 'one id across chunks');
        assert.match([...ids][0], /^chatcmpl-/);
        for (const c of r.chunks) assert.equal(c.object, 'chat.completion.chunk');
        const contentChunks = r.chunks.filter((c) => c.choices[0]?.delta?.content);
        assert.ok(contentChunks.length >= 2, 'the text arrives in several deltas');
        const last = r.chunks.at(-1);
        assert.deepEqual(last.choices, [], 'the usage chunk comes last with choices: []');
        assert.equal(last.usage.prompt_tokens, 12);
        assert.equal(last.usage.completion_tokens, 5);
        assert.equal(last.usage.total_tokens, 17);
        assert.equal(r.chunks.filter((c) => c.usage).length, 1, 'only one chunk has usage');
        b.assertClean();
      });

      it('sends no usage chunk unless asked', T, async () => {
        P.fake(b).script(P.key, P.text('No usage please.'));
        const r = await collect(await client.chat.completions.create({ model: P.model,
          stream: true, messages: [{ role: 'user', content: 'Hi' }] }));
        assert.equal(r.error, null, String(r.error));
        assert.equal(r.text, 'No usage please.');
        assert.ok(r.chunks.every((c) => !c.usage), 'no chunk carries usage');
        assert.ok(r.chunks.every((c) => c.choices.length === 1), 'no choices: [] chunk');
        b.assertClean();
      });

      it('round-trips client tool calls (non-streamed)', T, async () => {
        const fake = P.fake(b);
        fake.script(P.key, P.tools([{ id: 'call_w1', name: 'get_weather', input: { city: 'Paris' } },
          { id: 'call_t1', name: 'get_time', input: {} }]));
        const messages = [{ role: 'user', content: 'Weather and time in Paris?' }];
        const c1 = await client.chat.completions.create({ model: P.model, messages,
          tools: [WEATHER, TIME], tool_choice: 'auto' });
        const m = c1.choices[0].message;
        assert.equal(c1.choices[0].finish_reason, 'tool_calls');
        assert.equal(m.tool_calls.length, 2);
        assert.deepEqual(m.tool_calls.map((t) => [t.id, t.type, t.function.name,
          JSON.parse(t.function.arguments)]), [['call_w1', 'function', 'get_weather', { city: 'Paris' }],
          ['call_t1', 'function', 'get_time', {}]]);
        const [r1] = fake.seen(P.key);
        assert.deepEqual(P.offeredTools(r1), ['get_weather', 'get_time']);
        if (P.name === 'bedrock') {
          assert.deepEqual(r1.body.toolConfig.tools[0], { toolSpec: { name: 'get_weather',
            description: 'Weather now', inputSchema: { json: WEATHER.function.parameters } } });
        } else {
          assert.deepEqual(r1.body.tools, [WEATHER, TIME]);
          assert.equal(r1.body.tool_choice, 'auto');
        }

        fake.script(P.key, P.text('Sunny, and it is noon.'));
        messages.push(m, { role: 'tool', tool_call_id: 'call_w1', content: '{"sky":"sunny"}' },
          { role: 'tool', tool_call_id: 'call_t1', content: '12:00' });
        const c2 = await client.chat.completions.create({ model: P.model, messages,
          tools: [WEATHER, TIME] });
        assert.equal(c2.choices[0].message.content, 'Sunny, and it is noon.');
        const r2 = fake.seen(P.key)[1];
        assert.deepEqual(P.historyCalls(r2), [
          { id: 'call_w1', name: 'get_weather', input: { city: 'Paris' } },
          { id: 'call_t1', name: 'get_time', input: {} }]);
        assert.deepEqual(P.toolResults(r2).map((t) => t.id), ['call_w1', 'call_t1']);
        assert.match(P.toolResults(r2)[0].text, /sunny/);
        if (P.name === 'bedrock') {
          const roles = r2.body.messages.map((x) => x.role);
          assert.deepEqual(roles, ['user', 'assistant', 'user'],
            'both tool results merged into one user turn');
          assert.ok(r2.body.toolConfig, 'toolConfig sent with tool history');
        }
        b.assertClean();
      });

      it('streams tool-call deltas: id, type and name only first, indexes 0, 1, 2', T, async () => {
        P.fake(b).script(P.key, P.tools([
          { id: 'call_a', name: 'get_weather', input: { city: 'Lisbon, Portugal' } },
          { id: 'call_b', name: 'get_weather', input: { city: 'Porto' } },
          { id: 'call_c', name: 'get_time', input: {} }]));
        const r = await collect(await client.chat.completions.create({ model: P.model, stream: true,
          messages: [{ role: 'user', content: 'Weather in two cities and the time' }],
          tools: [WEATHER, TIME] }));
        assert.equal(r.error, null, String(r.error));
        assert.equal(r.finish, 'tool_calls');
        assert.deepEqual(r.calls.map((c) => [c.id, c.type, c.name, JSON.parse(c.arguments || 'null')]), [
          ['call_a', 'function', 'get_weather', { city: 'Lisbon, Portugal' }],
          ['call_b', 'function', 'get_weather', { city: 'Porto' }],
          ['call_c', 'function', 'get_time', {}]]);
        const seenIndex = new Set();
        for (const ch of r.chunks) {
          for (const t of ch.choices[0]?.delta?.tool_calls ?? []) {
            assert.equal(typeof t.index, 'number');
            if (!seenIndex.has(t.index)) {
              assert.ok(t.id && t.type === 'function' && t.function?.name,
                `first delta of call ${t.index} has id, type and name: ${JSON.stringify(t)}`);
              seenIndex.add(t.index);
            } else {
              assert.equal(t.id, undefined, `later delta repeats id: ${JSON.stringify(t)}`);
              assert.equal(t.type, undefined, `later delta repeats type: ${JSON.stringify(t)}`);
              assert.equal(t.function?.name, undefined, `later delta repeats name: ${JSON.stringify(t)}`);
            }
          }
        }
        assert.deepEqual([...seenIndex], [0, 1, 2]);
        b.assertClean();
      });

      // Each failure test uses its own upstream model, so that the failures
      // do not add up in one deployment's circuit breaker.
      it('surfaces a provider 400 as BadRequestError, without retrying', T, async () => {
        const o = P.other('errors-400');
        P.fake(b).always(o.key, { status: 400 });
        const e = await client.chat.completions.create({ model: o.model,
          messages: [{ role: 'user', content: 'x' }] }).catch((x) => x);
        assert.ok(e instanceof openai.BadRequestError, `got ${e?.constructor?.name} ${e?.message}`);
        assert.equal(e.status, 400);
        assert.equal(P.fake(b).seen(o.key).length, 1, 'a 400 is not retried');
      });

      it('surfaces a provider that keeps failing as a 5xx APIError', T, async () => {
        const o = P.other('errors-500');
        P.fake(b).always(o.key, { status: 500 });
        const e = await client.chat.completions.create({ model: o.model,
          messages: [{ role: 'user', content: 'x' }] }).catch((x) => x);
        assert.ok(e instanceof openai.APIError, `got ${e?.constructor?.name}`);
        assert.ok(e instanceof openai.InternalServerError, `status ${e.status}`);
        assert.ok(e.status === 502 || e.status === 503, `status ${e.status}`);
        assert.equal(typeof e.error?.message, 'string');
        assert.equal(P.fake(b).seen(o.key).length, 3, 'tried once and retried twice (default)');
      });

      it('surfaces provider throttling as RateLimitError', T, async () => {
        const o = P.other('errors-429');
        P.fake(b).always(o.key, { status: 429, retryAfter: 0 });
        const e = await client.chat.completions.create({ model: o.model,
          messages: [{ role: 'user', content: 'x' }] }).catch((x) => x);
        assert.ok(e instanceof openai.RateLimitError, `got ${e?.constructor?.name} ${e?.status}`);
        assert.ok(P.fake(b).seen(o.key).length >= 2, 'a 429 is retried before giving up');
      });

      it('surfaces a provider 403 without retrying', T, async () => {
        const o = P.other('errors-403');
        P.fake(b).always(o.key, { status: 403 });
        const e = await client.chat.completions.create({ model: o.model,
          messages: [{ role: 'user', content: 'x' }] }).catch((x) => x);
        assert.ok(e instanceof openai.APIError, `got ${e?.constructor?.name}`);
        assert.ok(e.status === 403 || e.status === 502, `status ${e.status}`);
        assert.equal(P.fake(b).seen(o.key).length, 1, 'a 403 is not retried');
      });
    });
  }

  it('reports Bedrock cache tokens: prompt = input + cache read + cache write', T, async () => {
    const usage = { inputTokens: 10, outputTokens: 5, cacheReadInputTokens: 100,
      cacheWriteInputTokens: 20 };
    b.bedrock.script(CLAUDE, { text: 'Cached.', usage }, { text: 'Cached.', usage });
    const c = await client.chat.completions.create({ model: `bedrock/${CLAUDE}`,
      messages: [{ role: 'user', content: 'hi' }] });
    assert.equal(c.usage.prompt_tokens, 130);
    assert.equal(c.usage.completion_tokens, 5);
    assert.equal(c.usage.total_tokens, 135);
    assert.equal(c.usage.prompt_tokens_details?.cached_tokens, 100);
    const r = await collect(await client.chat.completions.create({ model: `bedrock/${CLAUDE}`,
      stream: true, stream_options: { include_usage: true },
      messages: [{ role: 'user', content: 'hi' }] }));
    assert.equal(r.usage.prompt_tokens, 130);
    assert.equal(r.usage.total_tokens, 135);
    assert.equal(r.usage.prompt_tokens_details?.cached_tokens, 100);
  });

  it('passes OpenAI cached tokens through', T, async () => {
    b.openai.script('gpt-4o-mini', { text: 'ok', usage: { prompt_tokens: 2000, completion_tokens: 3,
      cached_tokens: 1536 } });
    const c = await client.chat.completions.create({ model: 'openai/gpt-4o-mini',
      messages: [{ role: 'user', content: 'hi' }] });
    assert.equal(c.usage.prompt_tokens, 2000);
    assert.equal(c.usage.prompt_tokens_details?.cached_tokens, 1536);
  });

  it('passes unknown fields through to OpenAI and leaves them out for Bedrock', T, async () => {
    b.openai.script('gpt-4o-mini', { text: 'ok' });
    b.bedrock.script(CLAUDE, { text: 'ok' });
    const extra = { seed: 7, user: 'u-42', logit_bias: { 50256: -100 }, metadata: { a: 'b' },
      frobnicate: true, response_format: { type: 'json_object' }, parallel_tool_calls: false,
      presence_penalty: 0.5, logprobs: true, top_logprobs: 2 };
    await client.chat.completions.create({ model: 'openai/gpt-4o-mini',
      messages: [{ role: 'user', content: 'hi' }], ...extra });
    const [o] = b.openai.seen('gpt-4o-mini');
    for (const k of Object.keys(extra)) assert.deepEqual(o.body[k], extra[k], `field ${k}`);
    await client.chat.completions.create({ model: `bedrock/${CLAUDE}`,
      messages: [{ role: 'user', content: 'hi' }], ...extra });
    b.assertClean();
  });

  it('keeps the Converse rules with a history that breaks them in OpenAI terms', T, async () => {
    // Consecutive user turns, a blank assistant text beside tool calls,
    // consecutive tool results, a user turn right after them, a blank text
    // part, and tool calls in the history without `tools` in the request:
    // the fake Bedrock checks alternation, blank blocks and toolConfig.
    b.bedrock.script(CLAUDE, { text: 'Rules kept.' });
    const c = await client.chat.completions.create({ model: `bedrock/${CLAUDE}`, messages: [
      { role: 'system', content: 'System one.' },
      { role: 'developer', content: 'Developer two.' },
      { role: 'user', content: 'first' },
      { role: 'user', content: [{ type: 'text', text: 'second' }, { type: 'text', text: '' }] },
      { role: 'assistant', content: '', tool_calls: [
        { id: 'c1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Rome"}' } },
        { id: 'c2', type: 'function', function: { name: 'get_time', arguments: '' } }] },
      { role: 'tool', tool_call_id: 'c1', content: 'sunny' },
      { role: 'tool', tool_call_id: 'c2', content: [{ type: 'text', text: 'noon' }] },
      { role: 'user', content: 'thanks' },
      { role: 'assistant', content: '   ' },
      { role: 'assistant', content: 'Anything else?' },
      { role: 'user', content: 'no' }] });
    assert.equal(c.choices[0].message.content, 'Rules kept.');
    b.assertClean();
    const [rec] = b.bedrock.seen(CLAUDE);
    assert.deepEqual(rec.body.messages.map((m) => m.role), ['user', 'assistant', 'user', 'assistant', 'user']);
    assert.match(JSON.stringify(rec.body.system), /System one\..*Developer two\./s);
    // Without `tools` the bridge may keep the calls as toolUse blocks (then
    // the fake insists on a toolConfig) or render them as text; either way
    // the model must still see what was called and what came back.
    const said = JSON.stringify(rec.body.messages.slice(1, 3));
    for (const s2 of ['c1', 'get_weather', 'Rome', 'c2', 'get_time', 'sunny', 'noon', 'thanks']) {
      assert.ok(said.includes(s2), `${s2} kept in the history: ${said}`);
    }
  });

  it('maps tool_choice to Converse (auto, required -> any, a named tool; none leaves tools out)', T, async () => {
    const tools = [WEATHER, TIME];
    const want = [['auto', { auto: {} }], ['required', { any: {} }],
      [{ type: 'function', function: { name: 'get_time' } }, { tool: { name: 'get_time' } }]];
    for (const [choice, expected] of want) {
      b.bedrock.script(CLAUDE, { text: 'ok' });
      await client.chat.completions.create({ model: `bedrock/${CLAUDE}`, tools, tool_choice: choice,
        messages: [{ role: 'user', content: 'hi' }] });
      const rec = b.bedrock.seen(CLAUDE).at(-1);
      assert.deepEqual(rec.body.toolConfig.toolChoice ?? { auto: {} }, expected, JSON.stringify(choice));
    }
    b.bedrock.script(CLAUDE, { text: 'ok' });
    await client.chat.completions.create({ model: `bedrock/${CLAUDE}`, tools, tool_choice: 'none',
      messages: [{ role: 'user', content: 'hi' }] });
    assert.equal(b.bedrock.seen(CLAUDE).at(-1).body.toolConfig, undefined);
    b.assertClean();
  });

  for (const stream of [false, true]) {
    it(`maps Bedrock stop reasons to finish_reason (${stream ? 'stream' : 'no stream'})`, T, async () => {
      const map = [['end_turn', 'stop'], ['stop_sequence', 'stop'], ['max_tokens', 'length'],
        ['guardrail_intervened', 'content_filter'], ['content_filtered', 'content_filter']];
      for (const [reason, finish] of map) {
        b.bedrock.script(CLAUDE, { text: 'Some text.', stopReason: reason });
        const req = { model: `bedrock/${CLAUDE}`, stream, messages: [{ role: 'user', content: 'hi' }] };
        const got = stream ? (await collect(await client.chat.completions.create(req))).finish
          : (await client.chat.completions.create(req)).choices[0].finish_reason;
        assert.equal(got, finish, reason);
      }
    });
  }

  it('sends stop sequences and max_completion_tokens to Bedrock', T, async () => {
    b.bedrock.script(CLAUDE, { text: 'ok' });
    await client.chat.completions.create({ model: `bedrock/${CLAUDE}`, stop: ['END', '###'],
      max_completion_tokens: 77, top_p: 0.9, messages: [{ role: 'user', content: 'hi' }] });
    const [rec] = b.bedrock.seen(CLAUDE);
    assert.deepEqual(rec.body.inferenceConfig, { maxTokens: 77, topP: 0.9, stopSequences: ['END', '###'] });
    b.assertClean();
  });

  it('serves many concurrent requests on both providers without cross-talk', T, async () => {
    const lastUser = (texts) => texts.at(-1);
    for (const P of BOTH) {
      P.fake(b).always(P.key, (rec) => ({ text: `echo ${lastUser(P.userTexts(rec))}`, gapMs: 5 }));
    }
    const jobs = [];
    for (let i = 0; i < 24; i++) {
      const P = BOTH[i % 2];
      const stream = i % 3 !== 0;
      const req = { model: P.model, stream, messages: [{ role: 'user', content: `n${i}` }] };
      jobs.push(client.chat.completions.create(req).then(async (r) => (stream
        ? (await collect(r)).text : r.choices[0].message.content)));
    }
    const got = await Promise.all(jobs);
    got.forEach((text, i) => assert.equal(text, `echo n${i}`));
    b.assertClean();
  });

  it('passes content parts and image URLs to OpenAI unchanged', T, async () => {
    b.openai.script('gpt-4o-mini', { text: 'A cat.' });
    const content = [{ type: 'text', text: 'What is in this picture?' },
      { type: 'image_url', image_url: { url: 'https://example.com/cat.png', detail: 'low' } }];
    const c = await client.chat.completions.create({ model: 'openai/gpt-4o-mini',
      messages: [{ role: 'developer', content: 'Describe images.' }, { role: 'user', content }] });
    assert.equal(c.choices[0].message.content, 'A cat.');
    const [rec] = b.openai.seen('gpt-4o-mini');
    assert.deepEqual(rec.body.messages, [{ role: 'developer', content: 'Describe images.' },
      { role: 'user', content }]);
    b.assertClean();
  });

  it('refuses n > 1 for Bedrock with 400', T, async () => {
    const e = await client.chat.completions.create({ model: `bedrock/${CLAUDE}`, n: 2,
      messages: [{ role: 'user', content: 'hi' }] }).catch((x) => x);
    assert.ok(e instanceof openai.BadRequestError, `got ${e?.constructor?.name}`);
    assert.equal(b.bedrock.seen().length, 0);
  });

  it('answers 404 model_not_found for a model nobody serves', T, async () => {
    for (const model of ['nosuch/model', 'gpt-4o-mini-without-prefix', 'anthropic/claude']) {
      const e = await client.chat.completions.create({ model,
        messages: [{ role: 'user', content: 'hi' }] }).catch((x) => x);
      assert.ok(e instanceof openai.NotFoundError, `${model}: got ${e?.constructor?.name}`);
      assert.equal(e.code, 'model_not_found', model);
    }
    assert.equal(b.openai.seen().length + b.bedrock.seen().length, 0);
  });

  it('serves the same thing on /api/v1/completions', T, async () => {
    b.openai.script('gpt-4o-mini', { text: 'Alias works.' }, { text: 'Alias streams.' });
    const res = await rawChat(b, { model: 'openai/gpt-4o-mini',
      messages: [{ role: 'user', content: 'hi' }] }, { path: '/api/v1/completions', headers: OFF });
    assert.equal(res.status, 200);
    const c = await res.json();
    assert.equal(c.object, 'chat.completion');
    assert.equal(c.choices[0].message.content, 'Alias works.');
    const s = await rawChat(b, { model: 'openai/gpt-4o-mini', stream: true,
      messages: [{ role: 'user', content: 'hi' }] }, { path: '/api/v1/completions', headers: OFF });
    assert.equal(s.status, 200);
    assert.match(s.headers.get('content-type'), /^text\/event-stream/);
    const { data } = await readSse(s);
    assert.equal(data.at(-1), '[DONE]');
    const text = data.slice(0, -1).map((d) => JSON.parse(d))
      .map((c2) => c2.choices[0]?.delta?.content ?? '').join('');
    assert.equal(text, 'Alias streams.');
  });

  it('lists models on /v1/models in OpenAI\'s shape', T, async () => {
    const res = await fetch(`${b.base}/v1/models`, { signal: AbortSignal.timeout(10_000) });
    assert.equal(res.status, 200);
    const body = await res.json();
    assert.equal(body.object, 'list');
    assert.ok(Array.isArray(body.data));
    for (const m of body.data) {
      assert.equal(typeof m.id, 'string');
      assert.equal(m.object, 'model');
    }
    const list = [];
    for await (const m of client.models.list()) list.push(m.id);
    assert.deepEqual(list, body.data.map((m) => m.id));
  });
});
