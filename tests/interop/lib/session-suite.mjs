// One full MCP session driven by a real SDK client: every tool, resource,
// template, prompt and completion of the catalog contract, a resource
// subscription fed by a second process (`pennyworth catalog set`), ping,
// progress and close; then every message the server sent is validated
// against the official schema of the negotiated revision
// (lib/recorder.mjs).
//
// What differs per SDK (how to make the client and its transports, how to
// register a notification handler, how to pass a progress callback) comes
// from an adapter (lib/sdk-adapters.mjs); what differs per transport (where
// the server runs, how its messages are tapped, how a session ends) comes
// from a link: stdioLink here, the network links in
// tests/server/lib/links.mjs. So the same scenario runs over stdio,
// WebSocket and Streamable HTTP without a copy.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { StdioRecordingTransport } from './recorder.mjs';
import {
  pwBin, freshDatabase, serverEnv, runPw, waitFor, killIfAlive, structured, errorText, TEST_TIMEOUT_MS,
} from './env.mjs';
import {
  TOOL_NAMES, IPHONES, assertProduct, assertProductOne, resourceJson, promptText,
} from './catalog-asserts.mjs';

const T = { timeout: TEST_TIMEOUT_MS };

/*
 * link = {
 *   name                      transport name for suite titles
 *   async open(adapter, tag) -> {
 *     rec                     a RecordingTransport around a new SDK transport
 *     env                     environment for `pennyworth catalog ...` on the
 *                             server's database
 *     async finish(client)    ends the session the transport's way; resolves
 *                             {check()}, which asserts that it ended cleanly
 *     cleanup()               frees what is left (always called)
 *   }
 * }
 */
export const stdioLink = {
  name: 'stdio',
  async open(adapter, tag) {
    const db = freshDatabase(tag);
    const env = serverEnv(db.path);
    const rec = new StdioRecordingTransport(
      adapter.transports.stdio({ command: pwBin(), args: ['stdio'], env, stderr: 'pipe' }),
      { label: `${tag}:pennyworth` });
    return {
      rec,
      env,
      async finish(client) {
        // The SDK closes the server's stdin, waits 2 s, then signals.
        await client.close();
        const exit = await waitFor(() => rec.exit, 5000, 'the server to exit');
        return {
          check() {
            assert.deepEqual(exit, { code: 0, signal: null }, 'the server exits 0 on its own when stdin closes');
          },
        };
      },
      cleanup() {
        killIfAlive(rec.childPid);
        db.cleanup();
      },
    };
  },
};

export function defineSessionSuite(adapter, link = stdioLink) {
  describe(`${adapter.name} over ${link.name}`, () => {
    let session;
    let client;
    let rec;
    let env;
    let closed = false;
    const updated = [];

    before(async () => {
      session = await link.open(adapter, `${adapter.tag}-${link.name.replace(/\W+/g, '')}`);
      ({ rec, env } = session);
      client = adapter.makeClient();
      adapter.onNotification(client, 'notifications/resources/updated', (n) => {
        updated.push({ uri: n.params?.uri, t: Date.now() });
      });
      await client.connect(rec);
    }, T);

    after(async () => {
      if (!closed) await client?.close().catch(() => {});
      await session?.cleanup();
    });

    it('initialize: negotiates the client\'s revision, names the server, advertises capabilities', T, () => {
      const init = rec.messages().find((m) => m.result?.protocolVersion);
      assert.ok(init, 'an initialize result was recorded');
      assert.equal(init.result.protocolVersion, adapter.expectedVersion);
      const info = client.getServerVersion();
      assert.ok(info?.name, 'serverInfo.name is set');
      assert.ok(info?.version, 'serverInfo.version is set');
      const caps = client.getServerCapabilities();
      assert.ok(caps?.tools, 'tools capability');
      assert.ok(caps?.resources, 'resources capability');
      assert.equal(caps.resources.subscribe, true, 'resources.subscribe');
      assert.ok(caps?.prompts, 'prompts capability');
      assert.ok(caps?.completions, 'completions capability');
    });

    let tools;
    it('tools/list: the five catalog tools, each with inputSchema and outputSchema', T, async () => {
      const res = await client.listTools();
      tools = new Map(res.tools.map((t) => [t.name, t]));
      for (const name of TOOL_NAMES) {
        const t = tools.get(name);
        assert.ok(t, `tool ${name} is listed (got ${[...tools.keys()].join(', ')})`);
        assert.equal(typeof t.description, 'string', `${name}.description`);
        assert.equal(t.inputSchema?.type, 'object', `${name}.inputSchema.type`);
        assert.equal(t.outputSchema?.type, 'object', `${name}.outputSchema.type`);
      }
      const search = tools.get('search_products');
      for (const p of ['query', 'category', 'brand', 'min_price', 'max_price', 'availability', 'min_rating', 'sort', 'limit', 'cursor']) {
        assert.ok(search.inputSchema.properties?.[p], `search_products.inputSchema.properties.${p}`);
      }
      assert.deepEqual(tools.get('get_product').inputSchema.required, ['id']);
    });

    it('tools/call search_products "iphone": iPhones first', T, async () => {
      const res = await client.callTool({ name: 'search_products', arguments: { query: 'iphone', limit: 10 } });
      const sc = structured(res, 'search_products');
      assert.ok(Array.isArray(sc.products) && sc.products.length > 0, 'products is a non-empty array');
      assert.ok(Number.isInteger(sc.total) && sc.total >= IPHONES.length, `total >= ${IPHONES.length} (got ${sc.total})`);
      sc.products.forEach((p, i) => assertProduct(p, `products[${i}]`));
      assert.match(sc.products[0].name, /iphone/i, `first result is an iPhone (got ${sc.products[0].name})`);
      const names = sc.products.map((p) => p.name);
      for (const n of IPHONES) assert.ok(names.includes(n), `${n} is in the results (${names.join(', ')})`);
      assert.ok(Array.isArray(res.content) && res.content.length > 0, 'content is not empty (text fallback)');
    });

    it('tools/call get_product "1"', T, async () => {
      const res = await client.callTool({ name: 'get_product', arguments: { id: '1' } });
      assertProductOne(structured(res, 'get_product'));
    });

    it('tools/call list_categories: includes smartphones', T, async () => {
      const res = await client.callTool({ name: 'list_categories', arguments: {} });
      const sc = structured(res, 'list_categories');
      assert.ok(Array.isArray(sc.categories), 'categories is an array');
      for (const c of sc.categories) {
        assert.equal(typeof c.name, 'string');
        assert.ok(Number.isInteger(c.count), `count of ${c.name} is an integer`);
      }
      const phones = sc.categories.find((c) => c.name === 'smartphones');
      assert.ok(phones, 'smartphones is a category');
      assert.equal(phones.count, 16, 'the demo catalog has 16 smartphones');
      assert.equal(sc.categories.reduce((a, c) => a + c.count, 0), 194, 'category counts add up to the 194 products');
    });

    it('tools/call compare_products ["1","2"]', T, async () => {
      const res = await client.callTool({ name: 'compare_products', arguments: { ids: ['1', '2'] } });
      const sc = structured(res, 'compare_products');
      assert.ok(Array.isArray(sc.products), 'products is an array');
      assert.deepEqual(sc.products.map((p) => p.id), ['1', '2']);
      sc.products.forEach((p, i) => assertProduct(p, `products[${i}]`));
      assert.ok(sc.comparison && typeof sc.comparison === 'object', 'comparison is an object');
    });

    it('tools/call check_availability {"id":"1","quantity":1}', T, async () => {
      const res = await client.callTool({ name: 'check_availability', arguments: { id: '1', quantity: 1 } });
      const sc = structured(res, 'check_availability');
      assert.equal(sc.id, '1');
      assert.equal(sc.name, 'Essence Mascara Lash Princess');
      assert.equal(sc.available, true);
      assert.equal(typeof sc.availability, 'string');
      assert.equal(sc.stock, 99, 'seeded stock of product 1');
      assert.equal(sc.requested, 1);
    });

    it('a missing product is a tool error (isError), not a protocol error', T, async () => {
      let res;
      try {
        res = await client.callTool({ name: 'get_product', arguments: { id: '999999' } });
      } catch (e) {
        assert.fail(`get_product of a missing id raised a protocol error instead of an isError result: ${e.message}`);
      }
      assert.equal(res.isError, true, 'isError is true');
      assert.ok(errorText(res).length > 0, 'the error is explained in a text content block');
    });

    it('invalid arguments (limit 500) are a tool error naming the field', T, async () => {
      let res;
      try {
        res = await client.callTool({ name: 'search_products', arguments: { query: 'iphone', limit: 500 } });
      } catch (e) {
        assert.fail(`search_products with limit 500 raised a protocol error instead of an isError result: ${e.message}`);
      }
      assert.equal(res.isError, true, 'isError is true');
      assert.match(errorText(res), /limit/, 'the error text names the field "limit"');
    });

    it('resources/list and resources/read for each resource', T, async () => {
      const res = await client.listResources();
      const byUri = new Map(res.resources.map((r) => [r.uri, r]));
      for (const uri of ['catalog://categories', 'catalog://stats']) {
        const r = byUri.get(uri);
        assert.ok(r, `${uri} is listed (got ${[...byUri.keys()].join(', ')})`);
        assert.equal(r.mimeType, 'application/json', `${uri} mimeType`);
        assert.equal(typeof r.name, 'string', `${uri} name`);
      }
      const cats = resourceJson(await client.readResource({ uri: 'catalog://categories' }), 'catalog://categories');
      assert.match(JSON.stringify(cats), /"smartphones"/, 'catalog://categories mentions smartphones');
      const stats = resourceJson(await client.readResource({ uri: 'catalog://stats' }), 'catalog://stats');
      assert.ok(stats && typeof stats === 'object', 'catalog://stats is a JSON object');
      assert.match(JSON.stringify(stats), /194/, 'catalog://stats counts the 194 products');
    });

    it('resources/templates/list and a read through each template', T, async () => {
      const res = await client.listResourceTemplates();
      const templates = res.resourceTemplates.map((t) => t.uriTemplate);
      for (const tpl of ['catalog://products/{id}', 'catalog://categories/{name}']) {
        assert.ok(templates.includes(tpl), `${tpl} is listed (got ${templates.join(', ')})`);
      }
      const p = resourceJson(await client.readResource({ uri: 'catalog://products/1' }), 'catalog://products/1');
      assertProductOne(p.product ?? p);
      const c = resourceJson(await client.readResource({ uri: 'catalog://categories/smartphones' }), 'catalog://categories/smartphones');
      const text = JSON.stringify(c);
      for (const n of IPHONES) assert.ok(text.includes(n), `catalog://categories/smartphones lists ${n}`);
    });

    it('prompts/list and prompts/get for each prompt', T, async () => {
      const res = await client.listPrompts();
      const prompts = new Map(res.prompts.map((p) => [p.name, p]));
      const pa = prompts.get('product_assistant');
      assert.ok(pa, `product_assistant is listed (got ${[...prompts.keys()].join(', ')})`);
      const paArgs = new Map((pa.arguments || []).map((a) => [a.name, a]));
      assert.equal(paArgs.get('question')?.required, true, 'product_assistant.question is required');
      assert.ok(paArgs.has('budget'), 'product_assistant has a budget argument');
      assert.notEqual(paArgs.get('budget').required, true, 'budget is optional');
      const cmp = prompts.get('compare');
      assert.ok(cmp, 'compare is listed');
      assert.equal((cmp.arguments || []).find((a) => a.name === 'ids')?.required, true, 'compare.ids is required');

      const question = 'Which phone has the best camera?';
      const g1 = await client.getPrompt({ name: 'product_assistant', arguments: { question, budget: '500' } });
      assert.ok(Array.isArray(g1.messages) && g1.messages.length > 0, 'product_assistant has messages');
      assert.ok(promptText(g1).includes(question), 'product_assistant carries the question');

      const g2 = await client.getPrompt({ name: 'compare', arguments: { ids: '1,2' } });
      assert.ok(Array.isArray(g2.messages) && g2.messages.length > 0, 'compare has messages');
      const t2 = promptText(g2);
      const names = t2.includes('Essence Mascara Lash Princess') && t2.includes('Eyeshadow Palette with Mirror');
      const links = t2.includes('catalog://products/1') && t2.includes('catalog://products/2');
      assert.ok(names || links, 'compare refers to both products (by name or by resource)');
    });

    it('completion/complete: category names, product ids, prompt ids', T, async () => {
      const c1 = await client.complete({
        ref: { type: 'ref/resource', uri: 'catalog://categories/{name}' },
        argument: { name: 'name', value: 'sm' },
      });
      assert.ok(c1.completion.values.includes('smartphones'), `"sm" completes to smartphones (got ${c1.completion.values})`);
      for (const v of c1.completion.values) assert.ok(v.startsWith('sm'), `${v} starts with "sm"`);

      const c2 = await client.complete({
        ref: { type: 'ref/resource', uri: 'catalog://products/{id}' },
        argument: { name: 'id', value: '12' },
      });
      assert.ok(c2.completion.values.length > 0, 'product ids complete');
      assert.ok(c2.completion.values.includes('12') || c2.completion.values.some((v) => v.startsWith('12')),
        `"12" completes to ids starting with 12 (got ${c2.completion.values})`);
      assert.ok(c2.completion.values.length <= 100, 'at most 100 values');

      const c3 = await client.complete({
        ref: { type: 'ref/prompt', name: 'compare' },
        argument: { name: 'ids', value: '12' },
      });
      assert.ok(c3.completion.values.length > 0, 'compare ids complete');
      assert.ok(c3.completion.values.some((v) => v.includes('12')), `compare ids for "12" (got ${c3.completion.values})`);
    });

    it('completion/complete: brand, where an argument named brand is offered', T, async (t) => {
      const prompts = (await client.listPrompts()).prompts;
      const withBrand = prompts.find((p) => (p.arguments || []).some((a) => a.name === 'brand'));
      const templates = (await client.listResourceTemplates()).resourceTemplates;
      const tplBrand = templates.find((x) => x.uriTemplate.includes('{brand}'));
      if (!withBrand && !tplBrand) {
        t.skip('no prompt or template takes a brand argument');
        return;
      }
      const ref = withBrand ? { type: 'ref/prompt', name: withBrand.name } : { type: 'ref/resource', uri: tplBrand.uriTemplate };
      const c = await client.complete({ ref, argument: { name: 'brand', value: 'App' } });
      assert.ok(c.completion.values.includes('Apple'), `"App" completes to Apple (got ${c.completion.values})`);
    });

    it('resources/subscribe: a change made by another process is notified within 2 s', T, async () => {
      const uri = 'catalog://products/1';
      await client.subscribeResource({ uri });
      const before = updated.length;
      const r = await runPw(['catalog', 'set', '1', '--stock', '3'], env);
      assert.equal(r.code, 0, `pennyworth catalog set 1 --stock 3 exited ${r.code}: ${r.stderr}`);
      const done = Date.now();
      const hit = await waitFor(() => updated.slice(before).find((u) => u.uri === uri), 2000,
        `notifications/resources/updated for ${uri}`).catch((e) => e);
      if (hit instanceof Error) {
        assert.fail(`${hit.message} (after the catalog set process exited; got ${JSON.stringify(updated.slice(before))})`);
      }
      assert.ok(hit.t - done <= 2000);
      assert.ok(rec.messages().some((m) => m.method === 'notifications/resources/updated' && m.params?.uri === uri),
        'the notification is among the recorded server messages');
      const p = resourceJson(await client.readResource({ uri }), uri);
      assert.equal((p.product ?? p).stock, 3, 'the re-read resource shows the new stock');
      await client.unsubscribeResource({ uri });
    });

    it('ping', T, async () => {
      const res = await client.ping();
      assert.deepEqual(Object.keys(res).filter((k) => k !== '_meta' && k !== 'resultType'), [], 'ping result is empty');
    });

    it('tools/call with a progressToken succeeds (progress notifications optional)', T, async () => {
      const progress = [];
      const res = await adapter.callToolWithProgress(client,
        { name: 'search_products', arguments: { query: 'phone' } },
        (p) => progress.push(p));
      const sc = structured(res, 'search_products');
      assert.ok(Array.isArray(sc.products), 'products is an array');
      const sent = rec.sent.map((s) => s.msg).filter((m) => m.method === 'tools/call').pop();
      const token = sent.params?._meta?.progressToken;
      assert.ok(token !== undefined, 'the SDK sent a progressToken');
      for (const p of progress) assert.equal(typeof p.progress, 'number', 'progress is a number');
      // On the wire, whatever progress there is for the call comes before
      // its response (SDKs may deliver them to the callback later).
      const wire = rec.messages();
      const answer = wire.findIndex((m) => m.id === sent.id && !('method' in m));
      assert.ok(answer >= 0, 'the response was recorded');
      wire.forEach((m, i) => {
        if (m.method === 'notifications/progress' && m.params?.progressToken === token) {
          assert.ok(i < answer, 'a progress notification came after the response');
        }
      });
    });

    it('close ends the session cleanly, and every server message matched the schema', T, async () => {
      const end = await session.finish(client);
      closed = true;
      const n = rec.assertValid();
      assert.deepEqual(rec.transportErrors, [], 'no HTTP errors in a well-behaved session');
      end.check();
      assert.ok(n > 10, `recorded the session (${n} messages)`);
    });
  });
}

// A v2 client with versionNegotiation 'auto': it probes with the 2026-07-28
// `server/discover` first, and speaks 2026-07-28 when the server answers it
// or falls back to initialize when it does not. Whatever it settles on must
// work and match the schema.
export function defineProbeSuite(adapter, link = stdioLink) {
  describe(`${adapter.name} over ${link.name}`, () => {
    let session;
    let client;
    let rec;
    let closed = false;

    before(async () => {
      session = await link.open(adapter, `${adapter.tag}-${link.name.replace(/\W+/g, '')}`);
      rec = session.rec;
      client = adapter.makeClient();
      await client.connect(rec);
    }, T);

    after(async () => {
      if (!closed) await client?.close().catch(() => {});
      await session?.cleanup();
    });

    it('negotiates a revision both sides support', T, (t) => {
      const v = client.getNegotiatedProtocolVersion();
      t.diagnostic(`negotiated ${v}`);
      assert.ok(adapter.knownVersions.includes(v) || v === '2026-07-28', `negotiated ${v}`);
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
      const end = await session.finish(client);
      closed = true;
      rec.assertValid();
      // A server that does not speak the probe's revision over HTTP may refuse
      // it at the transport level (400); nothing else may fail.
      for (const e of rec.transportErrors) {
        assert.equal(e.method, 'server/discover', `HTTP ${e.status} for ${e.method}: ${e.text}`);
        assert.equal(e.status, 400, `the probe was refused with HTTP ${e.status}: ${e.text}`);
      }
      end.check();
    });
  });
}
