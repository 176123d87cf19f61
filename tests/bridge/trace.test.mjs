// OpenTelemetry traces (trace/, pennyworth/trace.h): `pennyworth serve`
// with OTEL_EXPORTER_OTLP_ENDPOINT pointing at an OTLP/HTTP receiver in this
// test (node:http on 127.0.0.1), which checks every export's shape (OTLP's
// JSON encoding) and keeps the spans.
//   - a chat with catalog context is one trace: the request's SERVER span,
//     its admission, catalog context, MCP tools/call and upstream attempt
//     (GenAI attributes, token counts) children, in both context modes and
//     against both providers;
//   - a client's traceparent is honoured (same trace, our span its child),
//     an invalid one ignored; the upstream gets our attempt's traceparent;
//   - /mcp tools/call spans are children of their HTTP request's span;
//   - a collector that hangs or is down costs spans (counted as dropped or
//     failed), never requests.
// Bounds are counts and generous waits, never timings.

import { describe, it, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { T, waitFor } from '../server/lib/harness.mjs';
import { startBridge, stopBridge, rawChat, searchCatalog } from './lib/bridge.mjs';
import { PROVIDERS, callSearch } from './lib/providers.mjs';

const HEX32 = /^[0-9a-f]{32}$/;
const HEX16 = /^[0-9a-f]{16}$/;
const NANOS = /^[1-9][0-9]{18}$/;
const CLIENT_TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const CLIENT_SPAN = '00f067aa0ba902b7';

// Checks one span against OTLP/JSON and returns it with its attributes as
// a plain object (intValue as a number).
function checkSpan(s) {
  assert.match(s.traceId, HEX32, 'traceId: 32 lower-case hex');
  assert.match(s.spanId, HEX16, 'spanId: 16 lower-case hex');
  if (s.parentSpanId !== undefined) assert.match(s.parentSpanId, HEX16);
  assert.equal(typeof s.name, 'string');
  assert.ok([1, 2, 3].includes(s.kind), `kind is an integer: ${s.kind}`);
  assert.match(s.startTimeUnixNano, NANOS, 'start time: a decimal string of ns');
  assert.match(s.endTimeUnixNano, NANOS);
  assert.ok(BigInt(s.endTimeUnixNano) >= BigInt(s.startTimeUnixNano), 'ends after it starts');
  const attrs = {};
  for (const a of s.attributes) {
    assert.equal(typeof a.key, 'string');
    const v = a.value;
    assert.ok('stringValue' in v || 'intValue' in v, `attribute ${a.key} typed`);
    attrs[a.key] = 'intValue' in v ? Number(v.intValue) : v.stringValue;
  }
  return { ...s, attrs };
}

class Receiver {
  constructor({ hang = false } = {}) {
    this.hang = hang;
    this.spans = [];
    this.exports = [];
    this.problems = [];
    this.held = [];
  }

  async listen() {
    this.server = http.createServer((req, res) => {
      const parts = [];
      req.on('data', (c) => parts.push(c));
      req.on('end', () => this.receive(req, Buffer.concat(parts).toString(), res));
    });
    await new Promise((r) => this.server.listen(0, '127.0.0.1', r));
    this.origin = `http://127.0.0.1:${this.server.address().port}`;
    return this;
  }

  receive(req, body, res) {
    if (this.hang) {
      this.exports.push({ headers: req.headers });
      this.held.push(res); // never answered: a collector that hangs
      return;
    }
    try {
      assert.equal(req.method, 'POST');
      assert.equal(req.url, '/v1/traces');
      assert.match(req.headers['content-type'], /^application\/json/);
      const doc = JSON.parse(body);
      this.exports.push({ headers: req.headers, doc });
      for (const rs of doc.resourceSpans) {
        const res0 = Object.fromEntries(rs.resource.attributes.map((a) =>
          [a.key, a.value.stringValue]));
        for (const ss of rs.scopeSpans) {
          assert.equal(ss.scope.name, 'pennyworth');
          for (const s of ss.spans) this.spans.push({ ...checkSpan(s), resource: res0 });
        }
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{}');
    } catch (e) {
      this.problems.push(String(e.stack ?? e));
      res.writeHead(400);
      res.end();
    }
  }

  async close() {
    for (const r of this.held) r.destroy();
    this.server.closeAllConnections?.();
    await new Promise((r) => this.server.close(r));
  }

  // Every span of the trace whose SERVER span carries request id `rid`.
  async trace(rid, want) {
    return waitFor(() => {
      const root = this.spans.find((s) => s.kind === 2 && s.attrs['pennyworth.request_id'] === rid);
      if (!root) return undefined;
      const all = this.spans.filter((s) => s.traceId === root.traceId);
      return want(root, all) ? { root, all } : undefined;
    }, 20_000, `the spans of ${rid}`);
  }
}

const childrenOf = (all, parent) => all.filter((s) => s.parentSpanId === parent.spanId);

async function scrape(b) {
  const res = await fetch(`${b.base}/metrics`, { signal: AbortSignal.timeout(10_000) });
  const text = await res.text();
  const value = (name) => {
    const m = text.match(new RegExp(`^${name} ([0-9.e+]+)$`, 'm'));
    return m ? Number(m[1]) : 0;
  };
  return value;
}

describe('traces to an OTLP receiver', () => {
  let b;
  let recv;
  before(async () => {
    recv = await new Receiver().listen();
    b = await startBridge({ tag: 'trace', env: {
      OTEL_EXPORTER_OTLP_ENDPOINT: recv.origin,
      OTEL_EXPORTER_OTLP_HEADERS: 'x-otlp-token=tok%20en,  x-team = shop ',
      OTEL_SERVICE_NAME: 'pw-trace-test',
      OTEL_BSP_SCHEDULE_DELAY: '50',
    } });
  });
  after(async () => {
    await stopBridge(b);
    await recv.close();
  });
  afterEach(() => {
    assert.deepEqual(recv.problems, [], 'every export is well-formed OTLP/JSON');
    b.assertClean();
    b.reset();
  });

  it('one chat with auto context is one trace with its children', T, async () => {
    const P = PROVIDERS.openai;
    P.fake(b).script(P.key, P.text('Mascara.', P.usage(42, 7)));
    const rid = 'trace-auto-1';
    const res = await rawChat(b, { model: P.model,
      messages: [{ role: 'user', content: 'mascara for long lashes' }] },
    { headers: { 'x-request-id': rid, traceparent: `00-${CLIENT_TRACE}-${CLIENT_SPAN}-01`,
      tracestate: 'vendor=abc,other=1' } });
    assert.equal(res.status, 200);
    await res.json();
    const { root, all } = await recv.trace(rid, (r, spans) => spans.length >= 5);

    // The client's trace, our SERVER span its child.
    assert.equal(root.traceId, CLIENT_TRACE);
    assert.equal(root.parentSpanId, CLIENT_SPAN);
    assert.equal(root.traceState, 'vendor=abc,other=1');
    assert.equal(root.attrs['http.request.method'], 'POST');
    assert.equal(root.attrs['url.path'], '/v1/chat/completions');
    assert.equal(typeof root.attrs['http.route'], 'string');
    assert.equal(root.attrs['http.response.status_code'], 200);
    assert.equal(root.attrs['client.address'], '127.0.0.1');
    assert.equal(root.resource['service.name'], 'pw-trace-test');
    assert.equal(recv.exports[0].headers['x-otlp-token'], 'tok en', 'headers URL-decoded');
    assert.equal(recv.exports[0].headers['x-team'], 'shop');

    const kids = childrenOf(all, root);
    const adm = kids.find((s) => s.name === 'admission');
    assert.ok(adm, `admission child: ${kids.map((s) => s.name)}`);
    assert.equal(adm.attrs['pennyworth.admission.outcome'], 'admitted');

    const ctx = kids.find((s) => s.name === 'catalog context');
    assert.ok(ctx, 'catalog context child');
    assert.equal(ctx.attrs['pennyworth.context.mode'], 'auto');
    assert.ok(ctx.attrs['pennyworth.context.products'] >= 1, 'products counted');
    assert.equal(ctx.attrs['pennyworth.context.product_ids'].split(',').length,
      ctx.attrs['pennyworth.context.products']);
    const ids = res.headers.get('x-pennyworth-context-products').split(', ');
    assert.deepEqual(ctx.attrs['pennyworth.context.product_ids'].split(','), ids);

    const tool = childrenOf(all, ctx).find((s) => s.name === 'tools/call search_products');
    assert.ok(tool, 'the search is an MCP tools/call under the context span');
    assert.equal(tool.attrs['gen_ai.tool.name'], 'search_products');
    assert.equal(tool.attrs['pennyworth.mcp.transport'], 'bridge');

    const att = kids.find((s) => s.kind === 3);
    assert.ok(att, 'an upstream attempt CLIENT span');
    assert.equal(att.name, 'chat gpt-4o-mini');
    assert.equal(att.attrs['gen_ai.system'], 'openai');
    assert.equal(att.attrs['gen_ai.operation.name'], 'chat');
    assert.equal(att.attrs['gen_ai.request.model'], 'gpt-4o-mini');
    assert.equal(att.attrs['gen_ai.usage.input_tokens'], 42);
    assert.equal(att.attrs['gen_ai.usage.output_tokens'], 7);
    assert.equal(att.attrs['server.address'], '127.0.0.1');
    assert.equal(att.attrs['pennyworth.retry'], 0);
    assert.equal(att.attrs['error.type'], undefined);

    // Upstream: our attempt's traceparent, the client's tracestate.
    const up = P.fake(b).seen(P.key)[0].headers;
    assert.equal(up.traceparent, `00-${CLIENT_TRACE}-${att.spanId}-01`);
    assert.equal(up.tracestate, 'vendor=abc,other=1');
  });

  it('tools mode on Bedrock: a context span per catalog round, attempts per round', T,
    async () => {
      const P = PROVIDERS.bedrock;
      P.fake(b).script(P.key, callSearch(P, 'mascara', 'call_t1'),
        P.text('The Essence one.', P.usage(100, 20)));
      const rid = 'trace-tools-1';
      const res = await rawChat(b, { model: P.model,
        messages: [{ role: 'user', content: 'Which mascara should I buy?' }] },
      { headers: { 'x-request-id': rid, 'x-pennyworth-context': 'tools' } });
      assert.equal(res.status, 200);
      await res.json();
      const { root, all } = await recv.trace(rid, (r, spans) =>
        spans.filter((s) => s.kind === 3).length >= 2 && spans.length >= 6);
      assert.equal(root.parentSpanId, undefined, 'no client traceparent: a root span');
      const kids = childrenOf(all, root);
      const atts = kids.filter((s) => s.kind === 3);
      assert.equal(atts.length, 2, 'one attempt per round');
      for (const a of atts) assert.equal(a.attrs['gen_ai.system'], 'aws.bedrock');
      assert.deepEqual(atts.map((a) => a.attrs['pennyworth.round']).sort(), [0, 1]);
      const last = atts.find((a) => a.attrs['pennyworth.round'] === 1);
      assert.equal(last.attrs['gen_ai.usage.input_tokens'], 100);
      assert.equal(last.attrs['gen_ai.usage.output_tokens'], 20);
      const ctx = kids.find((s) => s.name === 'catalog context');
      assert.equal(ctx.attrs['pennyworth.context.mode'], 'tools');
      assert.ok(ctx.attrs['pennyworth.context.products'] >= 1);
      const tool = childrenOf(all, ctx).find((s) => s.name === 'tools/call search_products');
      assert.ok(tool, 'the model\'s catalog call is a tools/call under the round');
      // Each upstream request carried its own attempt's span id.
      const seen = P.fake(b).seen(P.key).map((r) => r.headers.traceparent);
      assert.deepEqual(seen.sort(), atts.map((a) => `00-${root.traceId}-${a.spanId}-01`).sort());
    });

  it('an invalid traceparent is ignored: a new trace', T, async () => {
    const P = PROVIDERS.openai;
    const bad = [
      `ff-${CLIENT_TRACE}-${CLIENT_SPAN}-01`,
      `00-${'0'.repeat(32)}-${CLIENT_SPAN}-01`,
      `00-${CLIENT_TRACE}-${'0'.repeat(16)}-01`,
      `00-${CLIENT_TRACE.toUpperCase()}-${CLIENT_SPAN}-01`,
      `00-${CLIENT_TRACE}-${CLIENT_SPAN}-01-extra`,
    ];
    for (const [i, tp] of bad.entries()) {
      P.fake(b).script(P.key, P.text('Hi.'));
      const rid = `trace-bad-${i}`;
      const res = await rawChat(b, { model: P.model, context: 'off',
        messages: [{ role: 'user', content: 'hi' }] },
      { headers: { 'x-request-id': rid, traceparent: tp, tracestate: 'a=b' } });
      assert.equal(res.status, 200);
      await res.json();
      const { root } = await recv.trace(rid, () => true);
      assert.notEqual(root.traceId, CLIENT_TRACE, tp);
      assert.equal(root.parentSpanId, undefined, tp);
      assert.equal(root.traceState, undefined, 'tracestate only with a valid traceparent');
    }
  });

  it('an MCP tools/call over /mcp is a child of its HTTP request span', T, async () => {
    await searchCatalog(b, 'lipstick', 3);
    const tool = await waitFor(() => recv.spans.find((s) =>
      s.name === 'tools/call search_products' && s.attrs['pennyworth.mcp.transport'] === 'http'),
    20_000, 'the /mcp tools/call span');
    const parent = await waitFor(() => recv.spans.find((s) => s.spanId === tool.parentSpanId),
      20_000, 'its parent');
    assert.equal(parent.kind, 2);
    assert.equal(parent.attrs['url.path'], '/mcp');
    assert.equal(parent.traceId, tool.traceId);
  });

  it('counts what it exported', T, async () => {
    const value = await scrape(b);
    assert.ok(value('pennyworth_trace_spans_exported_total') >= 5);
    assert.equal(value('pennyworth_trace_spans_dropped_total'), 0);
  });
});

// A collector that never answers, and one that is not there: requests go on
// as usual, the spans are dropped (queue full) or failed, and counted.
for (const mode of ['hangs', 'is down']) {
  describe(`a collector that ${mode}`, () => {
    let b;
    let recv;
    let endpoint;
    before(async () => {
      recv = await new Receiver({ hang: true }).listen();
      endpoint = recv.origin;
      if (mode === 'is down') await recv.close(); // nothing listens on the port now
      b = await startBridge({ tag: 'trace-slow', env: {
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${endpoint}/custom/path`,
        OTEL_BSP_SCHEDULE_DELAY: '20',
        OTEL_BSP_MAX_QUEUE_SIZE: '4',
        OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '2',
        OTEL_EXPORTER_OTLP_TIMEOUT: '60000',
      } });
    });
    after(async () => {
      await stopBridge(b); // the exit flush is bounded even with an export stuck
      if (mode === 'hangs') await recv.close();
    });

    it('requests complete; spans are dropped and counted', T, async () => {
      const P = PROVIDERS.openai;
      const N = 24;
      for (let i = 0; i < N; i++) P.fake(b).script(P.key, P.text(`ok ${i}`));
      for (let round = 0; round < N / 6; round++) {
        const res = await Promise.all(Array.from({ length: 6 }, () => rawChat(b,
          { model: P.model, context: 'off', messages: [{ role: 'user', content: 'hi' }] })));
        for (const r of res) {
          assert.equal(r.status, 200);
          await r.json();
        }
      }
      const value = await scrape(b);
      if (mode === 'hangs') {
        assert.ok(recv.exports.length >= 1, 'the exporter did try');
        assert.equal(recv.exports[0].headers['content-type'], 'application/json');
        // Two spans per request (server, attempt) and admission: far more
        // than the queue (4) and the one batch stuck in flight (2) hold.
        assert.ok(value('pennyworth_trace_spans_dropped_total') >= N,
          `dropped: ${value('pennyworth_trace_spans_dropped_total')}`);
      } else {
        const lost = value('pennyworth_trace_spans_dropped_total') +
          value('pennyworth_trace_spans_failed_total');
        assert.ok(value('pennyworth_trace_spans_failed_total') >= 1, 'exports failed');
        assert.ok(lost >= 1, `lost: ${lost}`);
      }
      assert.equal(value('pennyworth_trace_spans_exported_total'), 0);
      b.assertClean();
    });
  });
}
