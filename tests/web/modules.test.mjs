// The page's pure modules under node (no browser): the SSE parser against
// the ways a stream can be cut into chunks, the chat error sorting and the
// context header. The browser test covers the rest in place (the modules
// that import the MCP SDK resolve it only inside the bundle).
//
// SPDX-License-Identifier: MIT

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SseParser } from '../../web/app/sse.js';
import { classify, parseContextIds } from '../../web/app/chat.js';

describe('SseParser', () => {
  const stream = ': keep-alive\n\ndata: {"a":1}\n\nevent: x\ndata: one\ndata: two\r\n\r\n' +
    'data:nospace\r\rdata: [DONE]\n\n';
  const want = [
    { event: 'message', data: '{"a":1}' },
    { event: 'x', data: 'one\ntwo' },
    { event: 'message', data: 'nospace' },
    { event: 'message', data: '[DONE]' },
  ];

  it('parses a stream given whole', () => {
    assert.deepEqual(new SseParser().push(stream), want);
  });

  it('parses the same stream cut at every position, and byte by byte', () => {
    for (let cut = 0; cut <= stream.length; cut++) {
      const p = new SseParser();
      const got = [...p.push(stream.slice(0, cut)), ...p.push(stream.slice(cut))];
      assert.deepEqual(got, want, `cut at ${cut}`);
    }
    const p = new SseParser();
    const got = [];
    for (const ch of stream) got.push(...p.push(ch));
    assert.deepEqual(got, want);
  });

  it('drops an event without its blank line and a block without data', () => {
    const p = new SseParser();
    assert.deepEqual(p.push('event: only\n\ndata: half'), []);
    p.end();
    assert.deepEqual(p.push('data: next\n\n'), [{ event: 'message', data: 'next' }]);
  });
});

describe('chat errors and context', () => {
  const oa = (message, type = 'invalid_request_error', code = null) =>
    ({ error: { message, type, param: null, code } });

  it('sorts errors into what the page says', () => {
    const cases = [
      [401, oa('Invalid API key', 'invalid_request_error', 'invalid_api_key'), 'auth'],
      [403, oa('model not allowed for this key'), 'auth'],
      [429, oa('Rate limit reached', 'rate_limit_exceeded'), 'rate'],
      [429, oa('budget exceeded', 'budget_exceeded'), 'rate'],
      [405, { jsonrpc: '2.0', id: null, error: { code: -32000, message: 'Method Not Allowed' } }, 'unavailable'],
      [404, { jsonrpc: '2.0', id: null, error: { code: -32000, message: 'Not Found' } }, 'unavailable'],
      [404, oa('The model `x` does not exist', 'invalid_request_error', 'model_not_found'), 'config'],
      [503, oa('no provider configured for openai: set OPENAI_API_KEY'), 'config'],
      [502, oa('upstream transfer failed: Could not resolve host: api.openai.com', 'api_error'), 'upstream'],
      [500, null, 'upstream'],
    ];
    for (const [status, body, kind] of cases) {
      const e = classify(status, body);
      assert.equal(e.kind, kind, `${status} ${JSON.stringify(body)}`);
      assert.equal(e.status, status);
    }
    assert.equal(classify(404, oa('x', 't', 'model_not_found')).code, 'model_not_found');
  });

  it('reads the context header in its forms', () => {
    assert.deepEqual(parseContextIds('124, 121,122'), ['124', '121', '122']);
    assert.deepEqual(parseContextIds(''), []);
    assert.deepEqual(parseContextIds(null), []);
    assert.deepEqual(parseContextIds('["7","8"]'), ['7', '8']);
    assert.deepEqual(parseContextIds('[broken'), []);
  });
});
