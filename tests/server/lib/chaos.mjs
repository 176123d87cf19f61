// Chaos for the network tests (chaos.test.mjs): a seeded PRNG, generators
// of mutated and random HTTP requests and WebSocket frame sequences for
// every route of `pennyworth serve`, and a player that plays one generated
// case on a connection of its own.
//
// A case is plain data (the bytes to write, the pauses between writes, how
// long to read, how to hang up), made from (seed, case number) and the
// chaos session id alone: any case of a run can be made again, replayed by
// itself and printed as a reproducer (describeCase), whatever order the
// concurrent runners happened to play the cases in.

import net from 'node:net';

// A 32-bit integer mix (multiply and xor-shift rounds), so that seeds and
// case numbers that differ in one bit give unrelated streams.
function mix32(x) {
  x = Math.imul((x ^ (x >>> 16)) >>> 0, 0x9e3779b1);
  x = Math.imul((x ^ (x >>> 13)) >>> 0, 0x2545f491);
  return (x ^ (x >>> 16)) >>> 0;
}

// Marsaglia's xorshift32: fast, seedable, and good enough to choose bytes
// and mutations (nothing here needs statistical quality).
class Rng {
  constructor(seed) {
    this.s = mix32(seed >>> 0) || 1;
  }

  u32() {
    let s = this.s;
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    this.s = s >>> 0;
    return this.s;
  }

  int(n) { return n <= 1 ? 0 : this.u32() % n; }
  range(lo, hi) { return lo + this.int(hi - lo + 1); }
  chance(p) { return this.u32() < p * 4294967296; }
  pick(a) { return a[this.int(a.length)]; }

  // [[weight, value], ...] -> a value.
  weighted(table) {
    let r = this.int(table.reduce((s, [w]) => s + w, 0));
    for (const [w, v] of table) {
      if (r < w) return v;
      r -= w;
    }
    return table[table.length - 1][1];
  }

  bytes(n) {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = this.u32() & 255;
    return b;
  }

  // Printable ASCII (what a fuzzer of text protocols mostly wants).
  text(n) {
    let s = '';
    for (let i = 0; i < n; i++) s += String.fromCharCode(32 + this.int(95));
    return s;
  }

  hex(n) {
    let s = '';
    for (let i = 0; i < n; i++) s += '0123456789abcdef'[this.int(16)];
    return s;
  }
}

function caseRng(seed, n) {
  return new Rng(mix32((seed >>> 0) ^ mix32(n + 0x5bd1e995)));
}

// JSON-RPC messages, valid and not -------------------------------------------------

const LATEST = '2025-11-25';
const QUERIES = ['phone', 'a', '', '"', '*', 'NEAR(', 'OR OR', '\u0000', 'x'.repeat(3000), 'ñandú 🎧', '-', '()'];
const IDS = ['3', '1', '0', '-1', '999999', '', 'abc', null, 3, 1e300, [], {}];

function jsonrpc(rng) {
  const id = rng.weighted([[8, rng.int(100000)], [1, rng.hex(8)], [1, null], [1, { a: 1 }], [1, 2 ** 60]]);
  const call = (name, args) => ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: args } });
  return rng.weighted([
    [3, { jsonrpc: '2.0', id, method: 'initialize',
      params: { protocolVersion: rng.pick([LATEST, '2025-03-26', '2024-11-05', 'bogus']), capabilities: {},
        clientInfo: { name: 'chaos', version: '0' } } }],
    [2, { jsonrpc: '2.0', method: 'notifications/initialized' }],
    [2, { jsonrpc: '2.0', id, method: 'tools/list' }],
    [5, call('search_products', { query: rng.pick(QUERIES), limit: rng.pick([1, 5, 50, 0, -1, 1e9, 'x']),
      maxPrice: rng.pick([undefined, 100, -5, 'cheap']) })],
    [3, call('get_product', { id: rng.pick(IDS) })],
    [1, call('compare_products', { ids: [rng.pick(IDS), rng.pick(IDS)] })],
    [1, call('check_availability', { id: rng.pick(IDS) })],
    [1, call(rng.pick(['list_categories', 'export_catalog', 'nope', '']), {})],
    [2, { jsonrpc: '2.0', id, method: 'resources/read',
      params: { uri: rng.pick(['catalog://products/3', 'catalog://stats', 'catalog://categories/x', 'file:///etc/passwd', '']) } }],
    [1, { jsonrpc: '2.0', id, method: 'prompts/get', params: { name: 'compare', arguments: { a: '1', b: '2' } } }],
    [1, { jsonrpc: '2.0', id, method: 'ping' }],
    [1, { jsonrpc: '2.0', id, method: rng.text(rng.range(0, 40)), params: rng.pick([[], 1, 'x', null]) }],
    [1, { jsonrpc: rng.pick(['1.0', 2, null]), id, method: 'ping' }],
    [1, { jsonrpc: '2.0', id, result: {} }],
  ]);
}

function jsonBody(rng) {
  if (rng.chance(0.15)) {
    return JSON.stringify(Array.from({ length: rng.range(0, 8) }, () => jsonrpc(rng)));
  }
  return JSON.stringify(jsonrpc(rng));
}

// Text damage: a cut, random bytes in, a byte changed, a slice doubled,
// deep nesting, invalid UTF-8.
function damage(rng, buf) {
  const at = rng.int(buf.length + 1);
  switch (rng.int(6)) {
    case 0: return buf.subarray(0, at);
    case 1: return Buffer.concat([buf.subarray(0, at), rng.bytes(rng.range(1, 16)), buf.subarray(at)]);
    case 2: {
      const b = Buffer.from(buf);
      if (b.length) b[rng.int(b.length)] = rng.pick([0x22, 0x7b, 0x7d, 0x5b, 0x00, 0xff, 0x5c, rng.int(256)]);
      return b;
    }
    case 3: return Buffer.concat([buf.subarray(0, at), buf.subarray(rng.int(at + 1))]);
    case 4: {
      const n = rng.pick([64, 1000, 20000]);
      return Buffer.from('['.repeat(n) + (rng.chance(0.5) ? ']'.repeat(n) : ''));
    }
    default: return Buffer.concat([buf.subarray(0, at), Buffer.from([0xc3, 0x28, 0xed, 0xa0, 0x80, 0xf8]), buf.subarray(at)]);
  }
}

// HTTP requests ----------------------------------------------------------------------

// A request is {method, path, version, headers: [[name, value] | raw line],
// body: Buffer, eol, length: a Content-Length value to send instead of the
// body's, or null for none; te: chunked coding; tail: bytes after it}.
function req(method, path, headers, body = '') {
  const b = Buffer.isBuffer(body) ? body : Buffer.from(body);
  const hasBody = b.length > 0 || ['POST', 'PUT', 'PATCH'].includes(method);
  return {
    method, path, version: 'HTTP/1.1', headers: [['Host', '127.0.0.1'], ...headers],
    body: b, eol: '\r\n', length: hasBody ? undefined : null, te: null, tail: null,
  };
}

const JSON_CT = ['Content-Type', 'application/json'];
const ACCEPT = ['Accept', 'application/json, text/event-stream'];
const EVIL = ['Origin', 'http://evil.example'];

// The routes, each a generator of a plausible request.
function routes(ctx) {
  const sid = (rng) => ['Mcp-Session-Id', rng.weighted([[6, ctx.sid], [2, rng.hex(32)], [1, ''], [1, rng.text(80)]])];
  const ver = (rng) => ['Mcp-Protocol-Version', rng.pick([LATEST, '2025-03-26', '2026-07-28', 'x'])];
  const model = (rng) => rng.pick(['openai/x', 'openai/gpt-4o-mini', 'bedrock/x', 'x', '', 'openai/', '/', 'a'.repeat(500)]);
  const chat = (rng) => JSON.stringify({
    model: model(rng),
    messages: rng.chance(0.8) ? [{ role: rng.pick(['user', 'system', 'tool', 'x']), content: rng.pick(['hi', '', 'a phone?', 5]) }]
      : rng.pick([[], 'x', null, [{}]]),
    stream: rng.pick([true, false, 'yes', undefined]),
    max_tokens: rng.pick([undefined, 1, -1, 1e12]),
  });
  return {
    mcpPost: (rng) => req('POST', '/mcp', [JSON_CT, ACCEPT, sid(rng), ver(rng)], jsonBody(rng)),
    mcpInit: (rng) => req('POST', '/mcp', [JSON_CT, ACCEPT],
      JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize',
        params: { protocolVersion: LATEST, capabilities: {}, clientInfo: { name: 'chaos', version: '0' } } })),
    mcpGet: (rng) => req('GET', '/mcp', [['Accept', 'text/event-stream'], sid(rng), ver(rng),
      ...(rng.chance(0.3) ? [['Last-Event-ID', rng.pick(['0', '1', 'x', rng.hex(40)])]] : [])]),
    mcpDelete: (rng) => req('DELETE', '/mcp', [['Mcp-Session-Id', rng.hex(32)], ver(rng)]),
    wsAsHttp: (rng) => req('GET', '/ws', [['Upgrade', rng.pick(['websocket', 'h2c', 'WebSocket', ''])],
      ['Connection', 'Upgrade'], ['Sec-WebSocket-Key', rng.pick(['dGhlIHNhbXBsZSBub25jZQ==', 'x', ''])],
      ['Sec-WebSocket-Version', rng.pick(['13', '8', ''])], ['Sec-WebSocket-Protocol', 'mcp']]),
    chat: (rng) => req('POST', rng.pick(['/v1/chat/completions', '/api/v1/completions']), [JSON_CT,
      ...(rng.chance(0.3) ? [['X-Pennyworth-Context', rng.pick(['auto', 'tools', 'off', 'x'])]] : []),
      ...(rng.chance(0.2) ? [['Authorization', `Bearer ${rng.text(20)}`]] : [])], chat(rng)),
    v1: (rng) => req(rng.pick(['GET', 'POST']), rng.pick(['/v1/models', '/v1/version', '/v1/embeddings', '/v1/', '/v1/x/y']), []),
    health: (rng) => req(rng.pick(['GET', 'GET', 'HEAD', 'POST']),
      rng.pick(['/health', '/api/v1/health/live', '/api/v1/health/ready', '/metrics']), []),
    admin: (rng) => req(rng.pick(['GET', 'POST', 'DELETE', 'PATCH', 'PUT']),
      rng.pick(['/admin/keys', `/admin/keys/${rng.hex(8)}`, `/admin/keys/${rng.hex(8)}/rotate`, '/admin/usage',
        '/admin/usage/day/30d', '/admin/', '/admin/../admin/keys', `/admin/${rng.text(30)}`]),
      [rng.pick([['Authorization', `Bearer ${rng.text(30)}`], ['X-API-Key', rng.hex(20)], ['X-Chaos', '1']]), JSON_CT],
      rng.chance(0.5) ? JSON.stringify({ name: 'chaos', tier: rng.pick(['basic', 'x']), budget: -1 }) : ''),
    ticket: (rng) => req('POST', '/auth/ws-ticket', [JSON_CT], rng.chance(0.5) ? '{}' : ''),
    page: (rng) => req(rng.pick(['GET', 'GET', 'HEAD']),
      rng.pick(['/', '/index.html', '/app.js', '/style.css', '/placeholder.svg', '/licenses.txt', '/nope',
        '/..%2f..%2fetc/passwd', '/../../etc/passwd', '/%00', '//', '/./index.html', '/index.html?x=1', '/%zz']),
      rng.chance(0.4) ? [rng.pick([['Range', 'bytes=0-10'], ['Range', 'bytes=-5,99999999999-'], ['If-None-Match', '"x"'],
        ['If-Modified-Since', 'yesterday'], ['Accept-Encoding', 'gzip, br']])] : []),
    preflight: (rng) => req('OPTIONS', rng.pick(['/mcp', '/v1/chat/completions', '/health', '/admin/keys', '*']),
      [['Origin', rng.pick(['http://localhost:3000', 'http://evil.example', 'null'])],
        ['Access-Control-Request-Method', rng.pick(['POST', 'DELETE', 'X'])],
        ['Access-Control-Request-Headers', 'content-type, mcp-session-id']]),
  };
}

const ROUTE_WEIGHTS = [[5, 'mcpPost'], [1, 'mcpInit'], [2, 'mcpGet'], [1, 'mcpDelete'], [1, 'wsAsHttp'], [4, 'chat'],
  [1, 'v1'], [2, 'health'], [2, 'admin'], [1, 'ticket'], [2, 'page'], [1, 'preflight']];

const BOGUS_METHODS = ['PUT', 'PATCH', 'TRACE', 'CONNECT', 'PRI', 'XYZZY', 'get', 'G ET', '', 'POST\tX', 'A'.repeat(300), 'GET\0'];
const BOGUS_VERSIONS = ['HTTP/1.0', 'HTTP/2.0', 'HTTP/1.2', 'HTTP/0.9', 'HTTP/1.1x', 'HTTP/11', 'http/1.1', '', 'HTTP/1.1 HTTP/1.1', 'HTTP/9', 'HTTP/'];
const BAD_LENGTHS = ['-1', 'abc', '+5', ' 5', '5 ', '0x10', '99999999999999999999', '18446744073709551615',
  '9223372036854775807', '', '1,1', '1e3'];

// Request mutations; each changes one thing about the request.
const MUTATIONS = {
  method(rng, q) { q.method = rng.pick(BOGUS_METHODS); },
  version(rng, q) { q.version = rng.pick(BOGUS_VERSIONS); },
  path(rng, q) {
    q.path = rng.pick([`${q.path}/${'a'.repeat(rng.range(2000, 12000))}`, `${q.path}?${'q=1&'.repeat(rng.range(10, 3000))}`,
      `${q.path}%zz%`, `${q.path}\0x`, '*', `http://127.0.0.1${q.path}`, '', `${q.path} extra`, `${q.path}#f`,
      `${q.path}\xff\xfe`, q.path.toUpperCase()]);
  },
  bigHeader(rng, q) { q.headers.push([`X-Chaos-${rng.hex(4)}`, 'v'.repeat(rng.pick([4000, 9000, 70000]))]); },
  manyHeaders(rng, q) {
    for (let i = rng.range(50, 400); i > 0; i--) q.headers.push([`X-H${i}`, rng.text(rng.range(0, 40))]);
  },
  badHeader(rng, q) {
    q.headers.splice(rng.int(q.headers.length + 1), 0, rng.pick(['no colon here', ' folded: continuation',
      'X-Nul: a\0b', ': empty name', 'X-Bytes: \xff\xfe\x80', 'X-Space : v', 'Host: second.example', 'X-Ctl: \x01\x7f',
      `${rng.text(20)}`, '\t']));
  },
  noHost(rng, q) { q.headers = q.headers.filter((h) => !Array.isArray(h) || h[0] !== 'Host'); },
  length(rng, q) {
    const n = q.body.length;
    q.length = rng.pick([...BAD_LENGTHS, String(Math.max(0, n - rng.range(1, 10))), String(n + rng.range(1, 100)),
      `${n}, ${n + 1}`, `00${n}`]);
    if (rng.chance(0.3)) q.headers.push(['Content-Length', String(rng.int(n + 10))]);
  },
  chunked(rng, q) {
    q.te = rng.pick(['chunked', 'chunked', 'gzip, chunked', 'chunked, identity', 'identity']);
    if (rng.chance(0.7)) q.length = null;
  },
  bodyless(rng, q) {
    q.method = rng.pick(['GET', 'DELETE', 'HEAD', 'OPTIONS']);
    if (!q.body.length) q.body = Buffer.from(jsonBody(rng));
    q.length = rng.chance(0.8) ? undefined : null;
  },
  bigBody(rng, q) {
    q.body = Buffer.from(JSON.stringify({ pad: 'p'.repeat(rng.pick([5000, 70000, 300000])), ...jsonrpc(rng) }));
    if (rng.chance(0.3)) q.length = String(rng.pick([5000, 70000, 7 << 20, 60 << 20]));
  },
  tail(rng, q) {
    q.tail = rng.chance(0.5) ? rng.bytes(rng.range(1, 64)) : Buffer.from(rng.pick(['\r\n', '\r\n\r\n', 'GET / HTTP/1.1\r\n', 'x']));
  },
  body(rng, q) { q.body = damage(rng, q.body); },
  eol(rng, q) { q.eol = rng.pick(['\n', '\r', '\r\r\n', '\n\r']); },
  expect(rng, q) { q.headers.push(['Expect', rng.pick(['100-continue', 'x'])]); },
  connection(rng, q) { q.headers.push(['Connection', rng.pick(['keep-alive', 'close', 'Upgrade', 'keep-alive, Upgrade', 'x'])]); },
  h2c(rng, q) { q.headers.push(['Upgrade', 'h2c'], ['Connection', 'Upgrade, HTTP2-Settings'], ['HTTP2-Settings', 'AAMAAABkAARAAAAAAAIAAAAA']); },
  origin(rng, q) { q.headers.push(EVIL); },
};
const MUTATION_NAMES = Object.keys(MUTATIONS);

function chunk(rng, body) {
  const parts = [];
  for (let off = 0; off < body.length;) {
    const n = Math.min(body.length - off, rng.range(1, 4096));
    const size = rng.chance(0.05) ? rng.pick(['zz', '-1', 'ffffffffffffffff', '', `${n.toString(16)};ext=1`, ' 1']) : n.toString(16);
    parts.push(Buffer.from(`${size}\r\n`), body.subarray(off, off + n), Buffer.from('\r\n'));
    off += n;
  }
  if (rng.chance(0.9)) parts.push(Buffer.from(rng.chance(0.1) ? '0\r\nX-Trailer: 1\r\n\r\n' : '0\r\n\r\n'));
  return Buffer.concat(parts);
}

function serialize(rng, q) {
  const lines = [`${q.method} ${q.path}${q.version ? ` ${q.version}` : ''}`];
  for (const h of q.headers) lines.push(Array.isArray(h) ? `${h[0]}: ${h[1]}` : h);
  let body = q.body;
  if (q.te) {
    lines.push(`Transfer-Encoding: ${q.te}`);
    body = chunk(rng, body);
  }
  if (q.length !== null) lines.push(`Content-Length: ${q.length ?? q.body.length}`);
  const head = Buffer.from(`${lines.join(q.eol)}${q.eol}${q.eol}`, 'latin1');
  return Buffer.concat([head, body, q.tail ?? Buffer.alloc(0)]);
}

function httpRequest(rng, ctx, { mutate = true } = {}) {
  const name = rng.weighted(ROUTE_WEIGHTS);
  const q = routes(ctx)[name](rng);
  const muts = [];
  if (mutate && rng.chance(0.75)) {
    for (let i = rng.range(1, 3); i > 0; i--) muts.push(rng.pick(MUTATION_NAMES));
  }
  for (const m of muts) MUTATIONS[m](rng, q);
  return { name, muts, bytes: serialize(rng, q) };
}

// A request the server refuses (403 Origin, 404 path, 411 no length, 413
// too large, 400 garbage), for pipelining a valid one behind it.
function refusedRequest(rng, ctx) {
  const q = routes(ctx).mcpPost(rng);
  const how = rng.pick(['origin', 'path', 'nolength', 'large', 'bodyless']);
  if (how === 'origin') q.headers.push(EVIL);
  else if (how === 'path') q.path = `/nope/${rng.hex(6)}`;
  else if (how === 'nolength') q.length = null;
  else if (how === 'large') {
    q.path = rng.pick(['/health', '/auth/ws-ticket', '/admin/keys']);
    q.body = Buffer.from('x'.repeat(rng.pick([10, 5000, 70000])));
  } else MUTATIONS.bodyless(rng, q);
  return { name: `refused:${how}`, muts: [], bytes: serialize(rng, q) };
}

// WebSocket frames ----------------------------------------------------------------------

const OP = { CONT: 0, TEXT: 1, BINARY: 2, CLOSE: 8, PING: 9, PONG: 10 };

// One frame; `declare` is the length put in the header (a number or a
// BigInt), `form` forces the 16- or 64-bit length encoding.
function frame(rng, op, payload = Buffer.alloc(0), { fin = true, rsv = 0, mask = true, declare, form } = {}) {
  const n = declare ?? payload.length;
  const big = BigInt(n);
  const f = form ?? (big < 126n ? 7 : big < 65536n ? 16 : 64);
  const m = mask ? 0x80 : 0;
  const head = [(fin ? 0x80 : 0) | ((rsv & 7) << 4) | (op & 15)];
  if (f === 7) head.push(m | Number(big & 0x7fn));
  else if (f === 16) head.push(m | 126, Number((big >> 8n) & 255n), Number(big & 255n));
  else {
    const l = Buffer.alloc(8);
    l.writeBigUInt64BE(big & 0xffffffffffffffffn);
    head.push(m | 127, ...l);
  }
  if (!mask) return Buffer.concat([Buffer.from(head), payload]);
  const key = rng.bytes(4);
  const body = Buffer.alloc(payload.length);
  for (let i = 0; i < payload.length; i++) body[i] = payload[i] ^ key[i & 3];
  return Buffer.concat([Buffer.from(head), key, body]);
}

function closePayload(rng) {
  if (rng.chance(0.1)) return rng.bytes(rng.pick([0, 1]));
  const code = Buffer.alloc(2);
  code.writeUInt16BE(rng.pick([1000, 1001, 1002, 1003, 1005, 1006, 1007, 1008, 1009, 1010, 1011, 1012, 1015,
    0, 999, 1004, 1016, 2999, 3000, 3999, 4000, 4999, 5000, 65535, rng.int(65536)]));
  const reason = rng.pick([Buffer.alloc(0), Buffer.from('bye'), Buffer.from('r'.repeat(200)), Buffer.from([0xc3, 0x28])]);
  return Buffer.concat([code, reason]);
}

// Splits a text message into fragments, sometimes with control frames
// between them (allowed) or a new data frame (not allowed).
function fragmented(rng, payload, op = OP.TEXT) {
  const k = rng.range(2, Math.min(8, Math.max(2, payload.length)));
  const out = [];
  let off = 0;
  for (let i = 0; i < k; i++) {
    const end = i === k - 1 ? payload.length : off + rng.int(payload.length - off + 1);
    out.push(frame(rng, i === 0 ? op : OP.CONT, payload.subarray(off, end), { fin: i === k - 1 }));
    off = end;
    if (i < k - 1 && rng.chance(0.2)) {
      out.push(rng.chance(0.8) ? frame(rng, rng.pick([OP.PING, OP.PONG]), rng.bytes(rng.int(10)))
        : frame(rng, OP.TEXT, Buffer.from('{}')));
    }
  }
  return Buffer.concat(out);
}

// The frame actions of a WebSocket case; `last` ones leave the stream in a
// state nothing can follow (a cut frame).
const WS_ACTIONS = [
  [10, 'message', (rng) => frame(rng, OP.TEXT, Buffer.from(jsonBody(rng)))],
  [4, 'fragmented', (rng) => fragmented(rng, Buffer.from(jsonBody(rng)))],
  [2, 'damaged', (rng) => frame(rng, OP.TEXT, damage(rng, Buffer.from(jsonBody(rng))))],
  [1, 'badUtf8Split', (rng) => fragmented(rng, Buffer.from([0x22, 0xe2, 0x82, 0xac, 0xc3, 0x28, 0xf0, 0x9f, 0x22]))],
  [2, 'badOpcode', (rng) => frame(rng, rng.pick([3, 4, 5, 6, 7, 11, 12, 13, 14, 15]), rng.bytes(rng.int(20)))],
  [2, 'rsv', (rng) => frame(rng, OP.TEXT, Buffer.from('{}'), { rsv: rng.range(1, 7) })],
  [2, 'unmasked', (rng) => frame(rng, OP.TEXT, Buffer.from(jsonBody(rng)), { mask: false })],
  [1, 'controlFragmented', (rng) => frame(rng, OP.PING, Buffer.from('p'), { fin: false })],
  [1, 'controlTooLong', (rng) => frame(rng, rng.pick([OP.PING, OP.PONG, OP.CLOSE]), Buffer.alloc(rng.range(126, 300), 0x61))],
  [1, 'contWithoutStart', (rng) => frame(rng, OP.CONT, Buffer.from('{}'))],
  [1, 'openFragment', (rng) => frame(rng, OP.TEXT, Buffer.from('{"jsonrpc":'), { fin: false })],
  [2, 'hugeLength', (rng) => frame(rng, OP.TEXT, rng.bytes(rng.int(64)),
    { declare: rng.pick([2n ** 63n - 1n, 2n ** 63n, 2n ** 64n - 1n, 2n ** 40n, 70000, 2 ** 31]), form: 64 }), 'last'],
  [1, 'nonMinimalLength', (rng) => frame(rng, OP.TEXT, Buffer.from('{}'), { form: rng.pick([16, 64]) })],
  [2, 'cut', (rng) => frame(rng, OP.TEXT, Buffer.from('{"jsonrpc":"2.0"'), { declare: rng.range(20, 5000) }), 'last'],
  [1, 'binary', (rng) => frame(rng, OP.BINARY, rng.bytes(rng.int(100)))],
  [2, 'close', (rng) => frame(rng, OP.CLOSE, closePayload(rng))],
  [2, 'ping', (rng) => frame(rng, rng.pick([OP.PING, OP.PONG]), rng.bytes(rng.int(126)))],
  [1, 'empty', (rng) => frame(rng, rng.pick([OP.TEXT, OP.CONT]), Buffer.alloc(0), { fin: rng.chance(0.5) })],
  [1, 'tinyFragments', (rng) => {
    const p = Buffer.from(jsonBody(rng));
    const out = [];
    for (let i = 0; i < p.length; i++) out.push(frame(rng, i ? OP.CONT : OP.TEXT, p.subarray(i, i + 1), { fin: i === p.length - 1 }));
    return Buffer.concat(out);
  }],
  [1, 'bigMessage', (rng) => frame(rng, OP.TEXT, Buffer.from(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping',
    params: { pad: 'p'.repeat(rng.pick([60000, 900000, 1100000, 5000000])) } })))],
  [1, 'randomBytes', (rng) => rng.bytes(rng.range(1, 200)), 'last'],
];

function wsHandshake(rng) {
  const q = req('GET', '/ws', [['Upgrade', 'websocket'], ['Connection', 'Upgrade'],
    ['Sec-WebSocket-Key', rng.bytes(16).toString('base64')], ['Sec-WebSocket-Version', '13'], ['Sec-WebSocket-Protocol', 'mcp']]);
  const muts = [];
  if (rng.chance(0.15)) {
    const m = rng.pick(['version', 'key', 'protocol', 'origin', 'path', 'post', 'http']);
    muts.push(`ws-${m}`);
    const set = (name, value) => {
      q.headers = q.headers.filter((h) => h[0] !== name);
      if (value !== null) q.headers.push([name, value]);
    };
    if (m === 'version') set('Sec-WebSocket-Version', rng.pick(['8', '14', '', '13, 8', null]));
    else if (m === 'key') set('Sec-WebSocket-Key', rng.pick(['short', '', '!!!!', null, 'a'.repeat(200)]));
    else if (m === 'protocol') set('Sec-WebSocket-Protocol', rng.pick(['', 'foo', 'mcp, mcp', 'MCP', null]));
    else if (m === 'origin') q.headers.push(EVIL);
    else if (m === 'path') q.path = rng.pick(['/wsx', '/ws?x=1', '/ws/', '/mcp', '/v1/chat/completions']);
    else if (m === 'post') q.method = 'POST';
    else MUTATIONS[rng.pick(['bigHeader', 'badHeader', 'eol', 'version', 'tail', 'bodyless'])](rng, q);
  }
  return { muts, bytes: serialize(rng, q) };
}

// Cases ----------------------------------------------------------------------------------

// Spreads bytes over writes: one write, a few at random points with short
// pauses, byte by byte (short streams), or with one long pause.
function writes(rng, buf) {
  const how = rng.weighted([[5, 'one'], [4, 'split'], [1, 'bytes'], [1, 'stall']]);
  if (how === 'one' || buf.length < 2) return [{ write: buf }];
  if (how === 'bytes' && buf.length <= 300) {
    return Array.from(buf, (b) => ({ write: Buffer.from([b]) }));
  }
  const cuts = how === 'stall' ? [rng.int(buf.length)]
    : Array.from({ length: rng.range(1, 7) }, () => rng.int(buf.length)).sort((a, b) => a - b);
  const steps = [];
  let off = 0;
  for (const c of cuts) {
    if (c <= off) continue;
    steps.push({ write: buf.subarray(off, c) }, { pause: how === 'stall' ? rng.range(200, 1200) : rng.int(25) });
    off = c;
  }
  steps.push({ write: buf.subarray(off) });
  return steps;
}

// Case `n` of a run with `seed`; ctx.sid is the chaos HTTP session.
export function makeCase(seed, n, ctx) {
  const rng = caseRng(seed, n);
  const kind = rng.weighted([[45, 'http'], [15, 'pipeline'], [5, 'random'], [35, 'ws']]);
  const c = { n, kind, what: '', steps: [], halfClose: rng.chance(0.15), readMs: 0 };
  // Never a reset after a half-close: libuv refuses to reset a socket that
  // is shutting down, and node then never closes it (its exit hangs).
  c.reset = rng.chance(0.25) && !c.halfClose;
  c.readMs = rng.weighted([[1, 0], [6, rng.range(20, 300)], [2, rng.range(300, 1500)]]);
  if (kind === 'http') {
    const r = httpRequest(rng, ctx);
    let bytes = r.bytes;
    if (rng.chance(0.1)) bytes = bytes.subarray(0, rng.int(bytes.length));
    c.what = `${r.name}${r.muts.length ? ` +${r.muts.join('+')}` : ''}`;
    c.steps = writes(rng, bytes);
  } else if (kind === 'pipeline') {
    const reqs = rng.chance(0.35) ? [refusedRequest(rng, ctx), httpRequest(rng, ctx, { mutate: false })]
      : Array.from({ length: rng.range(2, 5) }, () => httpRequest(rng, ctx, { mutate: rng.chance(0.3) }));
    c.what = reqs.map((r) => `${r.name}${r.muts.length ? ` +${r.muts.join('+')}` : ''}`).join(' | ');
    c.steps = writes(rng, Buffer.concat(reqs.map((r) => r.bytes)));
  } else if (kind === 'random') {
    const bytes = rng.chance(0.5) ? rng.bytes(rng.range(1, 4096))
      : Buffer.from(Array.from({ length: rng.range(1, 30) }, () => rng.text(rng.range(0, 100))).join(rng.pick(['\r\n', '\n'])));
    c.what = `random ${bytes.length} bytes`;
    c.steps = writes(rng, bytes);
  } else {
    const hs = wsHandshake(rng);
    const names = [];
    const frames = [];
    if (rng.chance(0.7)) {
      names.push('initialize');
      frames.push(frame(rng, OP.TEXT, Buffer.from(JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'initialize',
        params: { protocolVersion: LATEST, capabilities: {}, clientInfo: { name: 'chaos', version: '0' } } }))));
    }
    for (let i = rng.range(1, 12); i > 0; i--) {
      const [, name, make, last] = rng.weighted(WS_ACTIONS.map((a) => [a[0], a]));
      names.push(name);
      frames.push(make(rng));
      if (last) break;
    }
    c.what = `ws${hs.muts.length ? ` +${hs.muts.join('+')}` : ''}: ${names.join(' ')}`;
    const stream = Buffer.concat(frames);
    // Usually frames follow the 101; sometimes they ride with the handshake.
    c.steps = rng.chance(0.85) ? [...writes(rng, hs.bytes), { head: 1000 }, ...writes(rng, stream)]
      : writes(rng, Buffer.concat([hs.bytes, stream]));
    c.readMs = Math.max(c.readMs, rng.range(50, 400));
  }
  return c;
}

// Bytes as a JavaScript string literal (for Buffer.from(s, 'latin1')).
function literal(b) {
  let s = '';
  for (const x of b) {
    if (x === 0x0d) s += '\\r';
    else if (x === 0x0a) s += '\\n';
    else if (x === 0x27 || x === 0x5c) s += `\\${String.fromCharCode(x)}`;
    else if (x >= 0x20 && x < 0x7f) s += String.fromCharCode(x);
    else s += `\\x${x.toString(16).padStart(2, '0')}`;
  }
  return `'${s}'`;
}

// A reproducer: the case's bytes (long ones shortened) and what the player
// does.
export function describeCase(c, max = 600) {
  const show = (b) => (b.length > max ? `${literal(b.subarray(0, max))}... (${b.length} bytes)` : literal(b));
  const steps = c.steps.map((s) => (s.write ? `write ${show(s.write)}`
    : s.pause !== undefined ? `pause ${s.pause} ms` : `wait for the response head (${s.head} ms)`));
  return [`case ${c.n} (${c.kind}): ${c.what}`, ...steps.map((s) => `  ${s}`),
    `  ${c.halfClose ? 'half-close, ' : ''}read up to ${c.readMs} ms, then ${c.reset ? 'reset' : 'close'}`].join('\n');
}

// Plays a case on a new connection. Resolves {statuses: [HTTP status
// codes seen], bytes received, closedByServer}; never rejects.
export function play(port, c) {
  return new Promise((resolve) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    const got = [];
    let size = 0;
    let connected = false;
    let closed = false;
    let waiter = null;
    const giveUp = setTimeout(() => sock.destroy(), 5000); // a connect that hangs
    sock.on('error', () => {});
    sock.on('data', (d) => {
      if (size < 262144) got.push(d);
      size += d.length;
      waiter?.();
    });
    sock.on('close', () => {
      closed = true;
      clearTimeout(giveUp);
      if (!connected) resolve({ statuses: [], bytes: 0, closedByServer: true, connectFailed: true });
      waiter?.();
    });
    // Resolves after ms, or sooner once the server hangs up or until() holds.
    const wait = (ms, until) => new Promise((r) => {
      const done = () => {
        clearTimeout(t);
        waiter = null;
        r();
      };
      const t = setTimeout(done, ms);
      waiter = () => { if (closed || until()) done(); };
      waiter();
    });
    const hasHead = () => Buffer.concat(got).includes('\r\n\r\n');
    sock.once('connect', async () => {
      connected = true;
      clearTimeout(giveUp);
      for (const s of c.steps) {
        if (closed) break;
        if (s.write) sock.write(s.write);
        else if (s.pause !== undefined) await new Promise((r) => setTimeout(r, s.pause));
        else await wait(s.head, hasHead);
      }
      if (!closed && c.halfClose) sock.end();
      if (!closed && c.readMs) await wait(c.readMs, () => false);
      const closedByServer = closed;
      if (c.reset && !sock.destroyed) sock.resetAndDestroy();
      else sock.destroy();
      const text = Buffer.concat(got).toString('latin1');
      const statuses = [...text.matchAll(/HTTP\/1\.[01] (\d{3}) /g)].map((m) => Number(m[1]));
      resolve({ statuses, bytes: size, closedByServer });
    });
  });
}
