// Catalog context, the point of the bridge, against both providers:
//   auto   the latest user text is searched through the MCP search_products
//          tool and the top products go to the model as a system message
//          (id, name, brand, price, availability, rating); the response
//          names them in X-Pennyworth-Context-Products; nothing is added
//          when nothing matches.
//   tools  the catalog tools are offered to the model as function tools,
//          its calls are executed server-side and the loop goes on until it
//          answers; the client's own tools pass through.
//   off    the request goes upstream as the client sent it.
// The mode comes from the header X-Pennyworth-Context or a top-level
// `context` field (never forwarded), default auto. What the products should
// be is asked independently through the server's own MCP endpoint.

import { describe, it, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { T } from '../server/lib/harness.mjs';
import { startBridge, stopBridge, collect, rawChat, readSse, searchCatalog, systemTextOf,
  contextIds, AWS } from './lib/bridge.mjs';
import { BOTH, callSearch } from './lib/providers.mjs';

const QUERY = 'mascara for long lashes';
const WEATHER = { type: 'function', function: { name: 'get_weather',
  parameters: { type: 'object', properties: { city: { type: 'string' } } } } };

describe('catalog context', () => {
  let b;
  let client;
  let expected;
  before(async () => {
    b = await startBridge({ tag: 'context' });
    client = b.client();
    expected = await searchCatalog(b, QUERY, 10);
    assert.ok(expected.length > 0, 'the demo catalog has mascara');
  });
  after(async () => stopBridge(b));
  afterEach(() => b.reset());

  it('auto injects the top 5 of many matches, in the search\'s order', T, async () => {
    const q = 'I need a new smartphone';
    const many = await searchCatalog(b, q, 10);
    assert.ok(many.length > 5, 'the query matches more than five products');
    b.openai.script('gpt-4o-mini', { text: 'Phones.' });
    const { response } = await client.chat.completions.create({ model: 'openai/gpt-4o-mini',
      messages: [{ role: 'user', content: q }] }).withResponse();
    assert.deepEqual(contextIds(response.headers), many.slice(0, 5).map((p) => String(p.id)));
    const sys = systemTextOf(b.openai.seen('gpt-4o-mini')[0]);
    for (const p of many.slice(5)) {
      assert.ok(!sys.includes(p.name), `${p.name} (rank > 5) is not injected`);
    }
    b.assertClean();
  });

  for (const P of BOTH) {
    describe(P.name, () => {
      it('auto (the default): injects the top products and names them in the header', T, async () => {
        P.fake(b).script(P.key, P.text('See product 1.'));
        const { data: c, response } = await client.chat.completions.create({ model: P.model,
          messages: [{ role: 'system', content: 'You are a shop assistant.' },
            { role: 'user', content: 'hello' }, { role: 'assistant', content: 'Hi! How can I help?' },
            { role: 'user', content: QUERY }] }).withResponse();
        assert.equal(c.choices[0].message.content, 'See product 1.');
        const ids = contextIds(response.headers);
        assert.ok(ids && ids.length >= 1 && ids.length <= 5, `header ids: ${ids}`);
        const byId = new Map(expected.map((p) => [String(p.id), p]));
        for (const id of ids) assert.ok(byId.has(id), `injected id ${id} is a search hit`);
        assert.equal(ids[0], String(expected[0].id), 'the best hit comes first');
        const [rec] = P.fake(b).seen(P.key);
        const sys = systemTextOf(rec);
        assert.match(sys, /You are a shop assistant\./, 'the client system message is kept');
        for (const id of ids) {
          const p = byId.get(id);
          assert.ok(sys.includes(id), `system text names id ${id}`);
          assert.ok(sys.includes(p.name), `system text names ${p.name}`);
          if (p.brand) assert.ok(sys.includes(p.brand), `system text names brand ${p.brand}`);
          const amount = (p.price.amountMinor / 100).toFixed(2);
          assert.ok(sys.includes(amount), `system text has the price ${amount}`);
          assert.ok(sys.includes(p.availability), `system text has availability ${p.availability}`);
          assert.ok(sys.includes(String(p.rating)) || sys.includes(p.rating.toFixed(1)),
            `system text has the rating ${p.rating}`);
        }
        assert.deepEqual(P.userTexts(rec).at(-1), QUERY, 'the user text is unchanged');
        b.assertClean();
      });

      it('auto while streaming: the header is on the SSE response too', T, async () => {
        P.fake(b).script(P.key, P.text('Streamed with context.'));
        const { data: s, response } = await client.chat.completions.create({ model: P.model,
          stream: true, messages: [{ role: 'user', content: QUERY }] },
        { headers: { 'x-pennyworth-context': 'auto' } }).withResponse();
        const r = await collect(s);
        assert.equal(r.error, null, String(r.error));
        assert.equal(r.text, 'Streamed with context.');
        const ids = contextIds(response.headers);
        assert.ok(ids && ids.length >= 1, `header ids: ${ids}`);
        assert.ok(systemTextOf(P.fake(b).seen(P.key)[0]).includes(ids[0]));
        b.assertClean();
      });

      it('auto adds nothing when nothing matches', T, async () => {
        P.fake(b).script(P.key, P.text('Nothing found.'));
        const { response } = await client.chat.completions.create({ model: P.model,
          messages: [{ role: 'user', content: 'qxzvbnm wqrtplk' }] }).withResponse();
        const ids = contextIds(response.headers);
        assert.ok(ids === null || ids.length === 0, `header ids: ${ids}`);
        assert.equal(systemTextOf(P.fake(b).seen(P.key)[0]), '');
        b.assertClean();
      });

      it('off (header): nothing injected, no products named', T, async () => {
        P.fake(b).script(P.key, P.text('Plain.'));
        const { response } = await client.chat.completions.create({ model: P.model,
          messages: [{ role: 'user', content: QUERY }] },
        { headers: { 'x-pennyworth-context': 'off' } }).withResponse();
        const ids = contextIds(response.headers);
        assert.ok(ids === null || ids.length === 0, `header ids: ${ids}`);
        assert.equal(systemTextOf(P.fake(b).seen(P.key)[0]), '');
        b.assertClean();
      });

      it('off (body field): honoured and never forwarded', T, async () => {
        P.fake(b).script(P.key, P.text('Plain.'));
        const res = await rawChat(b, { model: P.model, context: 'off',
          messages: [{ role: 'user', content: QUERY }] });
        assert.equal(res.status, 200, await res.clone().text());
        const ids = contextIds(res.headers);
        assert.ok(ids === null || ids.length === 0, `header ids: ${ids}`);
        const [rec] = P.fake(b).seen(P.key);
        assert.equal(systemTextOf(rec), '');
        assert.equal(rec.body.context, undefined, 'context field removed');
        b.assertClean();
      });

      it('tools: runs the model\'s catalog search server-side and loops to the answer', T, async () => {
        const fake = P.fake(b);
        fake.script(P.key, callSearch(P, 'mascara', 'call_cat1'), P.text('The Essence mascara is great.'));
        const { data: c, response } = await client.chat.completions.create({ model: P.model,
          messages: [{ role: 'user', content: 'Which mascara should I buy?' }] },
        { headers: { 'x-pennyworth-context': 'tools' } }).withResponse();
        assert.equal(c.choices[0].message.content, 'The Essence mascara is great.');
        assert.equal(c.choices[0].message.tool_calls ?? undefined, undefined,
          'the catalog call is not returned to the client');
        assert.equal(c.choices[0].finish_reason, 'stop');
        const recs = fake.seen(P.key);
        assert.equal(recs.length, 2, 'two rounds upstream');
        assert.ok(P.offeredTools(recs[0]).some((n) => /search_products$/.test(n)),
          `catalog tools offered: ${P.offeredTools(recs[0])}`);
        const results = P.toolResults(recs[1]);
        assert.equal(results.length, 1);
        assert.equal(results[0].id, 'call_cat1');
        assert.match(results[0].text, /Mascara/i, 'the tool result holds the products');
        const ids = contextIds(response.headers);
        assert.ok(ids && ids.length >= 1, `products named in the header: ${ids}`);
        b.assertClean();
      });

      it('tools: a call to the client\'s own tool is returned to the client', T, async () => {
        const fake = P.fake(b);
        fake.script(P.key, P.tools([{ id: 'call_w', name: 'get_weather', input: { city: 'Oslo' } }]));
        const c = await client.chat.completions.create({ model: P.model, tools: [WEATHER],
          messages: [{ role: 'user', content: 'Do I need an umbrella in Oslo?' }] },
        { headers: { 'x-pennyworth-context': 'tools' } });
        assert.equal(c.choices[0].finish_reason, 'tool_calls');
        assert.deepEqual(c.choices[0].message.tool_calls.map((t) => t.function.name), ['get_weather']);
        const offered = P.offeredTools(fake.seen(P.key)[0]);
        assert.ok(offered.includes('get_weather'), `client tool passed through: ${offered}`);
        assert.ok(offered.some((n) => /search_products$/.test(n)));
        b.assertClean();
      });

      it('tools: a model that never stops calling the catalog is cut off after 4 rounds', T, async () => {
        const o = P.other('loops');
        P.fake(b).always(o.key, callSearch(P, 'mascara', undefined));
        const res = await rawChat(b, { model: o.model,
          messages: [{ role: 'user', content: 'Find me mascara' }] },
        { headers: { 'x-pennyworth-context': 'tools' } });
        const body = await res.json();
        assert.ok(res.status === 200 || body.error, `an answer or an error: ${JSON.stringify(body)}`);
        const n = P.fake(b).seen(o.key).length;
        assert.ok(n >= 2 && n <= 5, `${n} upstream rounds`);
        if (res.status === 200) {
          assert.ok(!(body.choices[0].message.tool_calls ?? []).some((t) => /search_products/.test(t.function.name)),
            'no catalog call leaks to the client');
        }
      });

      it('tools while streaming: the client sees only the final answer', T, async () => {
        const fake = P.fake(b);
        fake.script(P.key, callSearch(P, 'lipstick', 'call_cat2'), P.text('Try the red lipstick.'));
        const res = await rawChat(b, { model: P.model, stream: true,
          messages: [{ role: 'user', content: 'A lipstick please' }] },
        { headers: { 'x-pennyworth-context': 'tools' } });
        assert.equal(res.status, 200);
        const { data } = await readSse(res);
        assert.equal(data.at(-1), '[DONE]');
        const chunks = data.slice(0, -1).map((d) => JSON.parse(d));
        const text = chunks.map((ch) => ch.choices[0]?.delta?.content ?? '').join('');
        assert.equal(text, 'Try the red lipstick.');
        assert.ok(chunks.every((ch) => !ch.choices[0]?.delta?.tool_calls),
          'no catalog tool call reaches the client');
        assert.equal(fake.seen(P.key).length, 2);
        b.assertClean();
      });
    });
  }
});

describe('context modes from the configuration', () => {
  let b;
  before(async () => {
    b = await startBridge({ tag: 'context-config', config: ({ openai: o, bedrock: br }) => ({
      models: {
        'shop-off': { context: 'off', deployments: [{ provider: 'openai', model: 'cfg-off',
          base_url: o.baseUrl }] },
        'shop-tools': { context: 'tools', deployments: [{ provider: 'bedrock',
          model: 'cfg.tools-v1:0', region: AWS.region, base_url: br.origin }] },
        'shop-default': { deployments: [{ provider: 'openai', model: 'cfg-default',
          base_url: o.baseUrl }] },
      },
    }) });
  });
  after(async () => stopBridge(b));
  afterEach(() => b.reset());

  it('an alias with context off injects nothing; the header turns it on', T, async () => {
    b.openai.script('cfg-off', { text: 'a' }, { text: 'b' });
    const client = b.client();
    await client.chat.completions.create({ model: 'shop-off', messages: [{ role: 'user', content: QUERY }] });
    assert.equal(systemTextOf(b.openai.seen('cfg-off')[0]), '');
    const { response } = await client.chat.completions.create({ model: 'shop-off',
      messages: [{ role: 'user', content: QUERY }] },
    { headers: { 'x-pennyworth-context': 'auto' } }).withResponse();
    assert.ok(contextIds(response.headers)?.length >= 1);
    assert.notEqual(systemTextOf(b.openai.seen('cfg-off')[1]), '');
    b.assertClean();
  });

  it('an alias with context tools offers the catalog tools', T, async () => {
    const P = BOTH[1];
    b.bedrock.script('cfg.tools-v1:0', { text: 'ok' });
    await b.client().chat.completions.create({ model: 'shop-tools',
      messages: [{ role: 'user', content: QUERY }] });
    const offered = P.offeredTools(b.bedrock.seen('cfg.tools-v1:0')[0]);
    assert.ok(offered.some((n) => /search_products$/.test(n)), `offered: ${offered}`);
    b.assertClean();
  });

  it('an alias without a mode defaults to auto', T, async () => {
    b.openai.script('cfg-default', { text: 'ok' });
    const { response } = await b.client().chat.completions.create({ model: 'shop-default',
      messages: [{ role: 'user', content: QUERY }] }).withResponse();
    assert.ok(contextIds(response.headers)?.length >= 1);
    b.assertClean();
  });
});
