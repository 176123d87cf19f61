// Resilience through a --config file of aliases (each an ordered list of
// deployments on the fakes): retries honouring Retry-After, a Retry-After
// too long to wait, fallback to the alias's next deployment after 5xx,
// connection errors and early exception events, the circuit breaker
// (open after 5 consecutive failures, half-open probe after the cool-down),
// deadlines (first byte: an error and the server keeps serving; total: the
// partial text with an explicit timeout notice, streamed or not), and
// /v1/models listing the aliases.

import { describe, it, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { T, sleep } from '../server/lib/harness.mjs';
import { openai } from './lib/deps.mjs';
import { startBridge, stopBridge, collect, assertServing, CLAUDE, AWS } from './lib/bridge.mjs';

const COOLDOWN_MS = 3_000;
const USER = [{ role: 'user', content: 'Recommend a sofa' }];
const SLOW_TEXT = 'one two three four five six seven eight nine ten eleven twelve';

function config({ openai: o, bedrock: br }) {
  const oa = (model, extra = {}) => ({ provider: 'openai', model, base_url: o.baseUrl, ...extra });
  const bd = (model, extra = {}) => ({ provider: 'bedrock', model, region: AWS.region,
    base_url: br.origin, ...extra });
  return {
    retries: 2,
    backoff: { base_ms: 50, max_ms: 200, max_retry_after_ms: 5_000 },
    breaker: { failures: 5, cooldown_ms: COOLDOWN_MS },
    models: {
      'shop-retry': { context: 'off', deployments: [oa('ra')] },
      'shop-retry-bedrock': { context: 'off', deployments: [bd('ra.model-v1:0')] },
      'shop-fallback': { context: 'off', deployments: [oa('primary-500', { retries: 0 }), bd(CLAUDE)] },
      'shop-dead': { context: 'off', deployments: [
        { provider: 'openai', model: 'nowhere', base_url: 'http://127.0.0.1:1/v1', retries: 0 },
        oa('alive')] },
      'shop-early-exc': { context: 'off', deployments: [bd('exc.model-v1:0', { retries: 0 }),
        oa('rescue')] },
      'shop-breaker': { context: 'off', deployments: [oa('flaky', { retries: 0 }), oa('steady')] },
      'shop-deadline': { context: 'off', deployments: [oa('slowpoke', { retries: 0,
        timeouts: { total_ms: 1_500 } })] },
      'shop-deadline-bedrock': { context: 'off', deployments: [bd('slow.model-v1:0', { retries: 0,
        timeouts: { total_ms: 1_500 } })] },
      'shop-hang': { context: 'off', deployments: [oa('hangs', { retries: 0,
        timeouts: { first_byte_ms: 1_000 } })] },
      'shop-slowstart': { context: 'off', deployments: [oa('slowstart', {
        timeouts: { first_byte_ms: 5_000 } })] },
      'shop-midway': { context: 'off', deployments: [bd('midway.model-v1:0'), oa('never')] },
      'shop-chain': { context: 'off', deployments: [oa('chain-a', { retries: 0 })],
        fallbacks: ['shop-retry'] },
    },
  };
}

describe('resilience', () => {
  let b;
  let client;
  before(async () => {
    b = await startBridge({ tag: 'resilience', config });
    client = b.client();
  });
  after(async () => stopBridge(b));
  afterEach(() => b.reset());

  it('retries a 429 after the Retry-After it was given', T, async () => {
    b.openai.script('ra', { status: 429, retryAfter: 1 }, { text: 'After waiting.' });
    const c = await client.chat.completions.create({ model: 'shop-retry', messages: USER });
    assert.equal(c.choices[0].message.content, 'After waiting.');
    const [r1, r2] = b.openai.seen('ra');
    assert.ok(r2, 'retried');
    const gap = r2.at - r1.at;
    assert.ok(gap >= 950, `waited ${gap} ms for Retry-After: 1 (backoff alone is 50-200 ms)`);
    assert.ok(gap < 4_000, `waited ${gap} ms`);
  });

  it('retries a Bedrock ThrottlingException after its Retry-After', T, async () => {
    b.bedrock.script('ra.model-v1:0', { status: 429, retryAfter: 1 }, { text: 'Bedrock waited.' });
    const r = await collect(await client.chat.completions.create({ model: 'shop-retry-bedrock',
      stream: true, messages: USER }));
    assert.equal(r.error, null, String(r.error));
    assert.equal(r.text, 'Bedrock waited.');
    const [r1, r2] = b.bedrock.seen('ra.model-v1:0');
    assert.ok(r2, 'retried');
    assert.ok(r2.at - r1.at >= 950, `waited ${r2.at - r1.at} ms for Retry-After: 1`);
    b.assertClean();
  });

  it('retries 500s with backoff, then succeeds on the same deployment', T, async () => {
    b.openai.script('ra', { status: 500 }, { status: 503 }, { text: 'Third time lucky.' });
    const c = await client.chat.completions.create({ model: 'shop-retry', messages: USER });
    assert.equal(c.choices[0].message.content, 'Third time lucky.');
    assert.equal(b.openai.seen('ra').length, 3);
  });

  it('does not wait for a Retry-After longer than the cap', T, async () => {
    b.openai.always('ra', { status: 429, retryAfter: 120 });
    const started = Date.now();
    const e = await client.chat.completions.create({ model: 'shop-retry', messages: USER })
      .catch((x) => x);
    assert.ok(e instanceof openai.RateLimitError, `got ${e?.constructor?.name}`);
    assert.ok(Date.now() - started < 4_000, 'answered without waiting two minutes');
    assert.equal(b.openai.seen('ra').length, 1);
  });

  it('falls back to the next deployment after a 500', T, async () => {
    b.openai.always('primary-500', { status: 500 });
    b.bedrock.script(CLAUDE, { text: 'Fallback answered.' }, { text: 'Fallback streamed.' });
    const c = await client.chat.completions.create({ model: 'shop-fallback', messages: USER });
    assert.equal(c.choices[0].message.content, 'Fallback answered.');
    const r = await collect(await client.chat.completions.create({ model: 'shop-fallback',
      stream: true, messages: USER }));
    assert.equal(r.error, null, String(r.error));
    assert.equal(r.text, 'Fallback streamed.');
    assert.equal(b.openai.seen('primary-500').length, 2, 'retries: 0 on the primary');
    b.assertClean();
  });

  it('falls back after a connection error', T, async () => {
    b.openai.script('alive', { text: 'Reached the live one.' });
    const c = await client.chat.completions.create({ model: 'shop-dead', messages: USER });
    assert.equal(c.choices[0].message.content, 'Reached the live one.');
  });

  it('falls back after an early exception event in a 200 stream', T, async () => {
    b.bedrock.always('exc.model-v1:0', { exception: 'serviceUnavailableException', after: 1 });
    b.openai.script('rescue', { text: 'Rescued.' });
    const r = await collect(await client.chat.completions.create({ model: 'shop-early-exc',
      stream: true, messages: USER }));
    assert.equal(r.error, null, String(r.error));
    assert.equal(r.text, 'Rescued.');
  });

  it('after the first byte reached the client: no retry, no provider switch, an error event', T, async () => {
    b.bedrock.always('midway.model-v1:0', { text: 'alpha beta gamma delta', cutAfter: 3, gapMs: 30 });
    b.openai.always('never', { text: 'SHOULD NOT BE USED' });
    const r = await collect(await client.chat.completions.create({ model: 'shop-midway',
      stream: true, messages: USER }));
    assert.equal(r.text, 'alpha beta ');
    assert.ok(r.error instanceof openai.APIError, `the stream ends in an error: ${r.error}`);
    assert.equal(b.bedrock.seen('midway.model-v1:0').length, 1);
    assert.equal(b.openai.seen('never').length, 0);
  });

  it('goes on to the aliases named in fallbacks', T, async () => {
    b.openai.always('chain-a', { status: 502 });
    b.openai.script('ra', { text: 'From the fallback alias.' });
    const c = await client.chat.completions.create({ model: 'shop-chain', messages: USER });
    assert.equal(c.choices[0].message.content, 'From the fallback alias.');
  });

  it('opens the circuit after 5 consecutive failures and probes after the cool-down', T, async () => {
    b.openai.always('flaky', { status: 500 });
    b.openai.always('steady', { text: 'Steady answer.' });
    const started = Date.now();
    for (let i = 0; i < 8; i++) {
      const c = await client.chat.completions.create({ model: 'shop-breaker', messages: USER });
      assert.equal(c.choices[0].message.content, 'Steady answer.', `request ${i}`);
    }
    const elapsed = Date.now() - started;
    assert.ok(elapsed < COOLDOWN_MS, `8 requests took ${elapsed} ms, longer than the cool-down`);
    assert.equal(b.openai.seen('flaky').length, 5, 'the open breaker keeps requests away');
    assert.equal(b.openai.seen('steady').length, 8);
    await sleep(COOLDOWN_MS - elapsed + 300);
    b.openai.always('flaky', { text: 'Flaky recovered.' });
    const probe = await client.chat.completions.create({ model: 'shop-breaker', messages: USER });
    assert.equal(probe.choices[0].message.content, 'Flaky recovered.', 'the half-open probe went');
    const again = await client.chat.completions.create({ model: 'shop-breaker', messages: USER });
    assert.equal(again.choices[0].message.content, 'Flaky recovered.', 'closed again');
  });

  it('a provider that hangs before the first byte: an error within the deadline', T, async () => {
    b.openai.always('hangs', { hang: true });
    const started = Date.now();
    const e = await client.chat.completions.create({ model: 'shop-hang', messages: USER })
      .catch((x) => x);
    const took = Date.now() - started;
    assert.ok(e instanceof openai.APIError && e.status === 504, `got ${e?.constructor?.name} ${e?.status}`);
    assert.ok(took >= 900 && took < 5_000, `answered after ${took} ms for a 1000 ms deadline`);
    await b.openai.waitRequests(1, 1_000, 'hangs');
    const rec = b.openai.seen('hangs')[0];
    const start = Date.now();
    while (!rec.clientGaveUpAt && Date.now() - start < 3_000) await sleep(50);
    assert.ok(rec.clientGaveUpAt, 'the bridge closed the hanging upstream connection');
    await assertServing(b);
  });

  it('waits for a slow first byte within the deadline', T, async () => {
    b.openai.script('slowstart', { delayMs: 1_500, text: 'Slow but fine.' });
    const r = await collect(await client.chat.completions.create({ model: 'shop-slowstart',
      stream: true, messages: USER }));
    assert.equal(r.error, null, String(r.error));
    assert.equal(r.text, 'Slow but fine.');
    assert.equal(b.openai.seen('slowstart').length, 1, 'not retried');
  });

  for (const [alias, fakeName, key] of [['shop-deadline', 'openai', 'slowpoke'],
    ['shop-deadline-bedrock', 'bedrock', 'slow.model-v1:0']]) {
    it(`${alias}: a streamed answer cut by the total deadline ends with a timeout notice`, T, async () => {
      b[fakeName].script(key, { text: SLOW_TEXT, gapMs: 400 });
      const started = Date.now();
      const res = await fetch(`${b.base}/v1/chat/completions`, {
        method: 'POST', headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: alias, stream: true, messages: USER }),
        signal: AbortSignal.timeout(20_000) });
      assert.equal(res.status, 200);
      const text = await res.text();
      const took = Date.now() - started;
      assert.ok(took < 4_000, `ended after ${took} ms (deadline 1500 ms)`);
      const data = text.split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6));
      const parsed = data.filter((d) => d !== '[DONE]').map((d) => JSON.parse(d));
      const got = parsed.map((c) => c.choices?.[0]?.delta?.content ?? '').join('');
      assert.ok(got.length > 0 && SLOW_TEXT.startsWith(got) && got !== SLOW_TEXT,
        `partial text: ${JSON.stringify(got)}`);
      const finish = parsed.map((c) => c.choices?.[0]?.finish_reason).filter(Boolean);
      assert.equal(finish.length, 1, `one finish_reason: ${finish}`);
      assert.notEqual(finish[0], 'stop');
      const err = parsed.find((c) => c.error);
      assert.ok(err, 'an error object tells the client why');
      assert.match(JSON.stringify(err.error), /time|deadline/i);
    });

    it(`${alias}: a non-streaming client gets the partial text with a timeout notice`, T, async () => {
      b[fakeName].script(key, { text: SLOW_TEXT, gapMs: 400 });
      const started = Date.now();
      const { data: c, response } = await client.chat.completions.create({ model: alias,
        messages: USER }).withResponse();
      const took = Date.now() - started;
      assert.equal(response.status, 200);
      assert.ok(took < 4_000, `answered after ${took} ms (deadline 1500 ms)`);
      const got = c.choices[0].message.content ?? '';
      assert.ok(got.startsWith('one two') && !got.includes('twelve'),
        `partial text: ${JSON.stringify(got)}`);
      assert.notEqual(c.choices[0].finish_reason, 'stop');
      assert.match(JSON.stringify(c), /time|deadline/i, 'an explicit timeout notice');
    });
  }

  it('lists the configured aliases on /v1/models', T, async () => {
    const ids = [];
    for await (const m of client.models.list()) ids.push(m.id);
    for (const alias of Object.keys(config({ openai: b.openai, bedrock: b.bedrock }).models)) {
      assert.ok(ids.includes(alias), `${alias} listed: ${ids}`);
    }
  });
});
