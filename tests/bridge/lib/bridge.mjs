// Set-up shared by the bridge tests: both fakes, a `pennyworth serve`
// wired to them through the environment the issue names (OPENAI_BASE_URL,
// OPENAI_API_KEY, AWS_ENDPOINT_URL_BEDROCK_RUNTIME, AWS_REGION, the AWS
// credential variables or AWS_BEARER_TOKEN_BEDROCK) and optionally a --config
// file, an `openai` SDK client pointed at it, raw SSE reading, and catalog
// look-ups through the server's own MCP endpoint (to know which products
// context injection should find).
//
// The server is started and stopped with tests/server/lib/harness.mjs
// (ephemeral port, stopped by PID, every wait bounded).

import assert from 'node:assert/strict';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, openSession, post, request, SseReader } from '../../server/lib/harness.mjs';
import { startFakeOpenAI } from '../fakes/openai.mjs';
import { startFakeBedrock } from '../fakes/bedrock.mjs';
import { CLIENT_SECRET_MARK } from '../fakes/common.mjs';
import { OpenAI } from './deps.mjs';

export { CLIENT_SECRET_MARK };

export const OPENAI_KEY = 'sk-fake-upstream-key-0123456789';
export const AWS = {
  region: 'eu-central-1',
  accessKeyId: 'AKIDBRIDGETEST000001',
  secretAccessKey: 'bridge/test/secret+key/0123456789abcdefghij',
  sessionToken: 'IQoJb3JpZ2luX2VjBRIDGE//test+session/token==',
};
// The key clients send to pennyworth; it must never reach a provider.
export const CLIENT_KEY = `pw-client-key-${CLIENT_SECRET_MARK}`;

export const CLAUDE = 'anthropic.claude-3-5-sonnet-20240620-v1:0';
export const PROFILE = 'us.anthropic.claude-3-5-sonnet-20240620-v1:0';
export const PROFILE_ARN =
  'arn:aws:bedrock:eu-central-1:123456789012:inference-profile/eu.anthropic.claude-3-haiku-20240307-v1:0';

// Splits an application/vnd.amazon.eventstream body into whole frames by
// their total-length prelude.
export function splitFrames(buf) {
  const out = [];
  let off = 0;
  while (off + 4 <= buf.length) {
    const len = buf.readUInt32BE(off);
    if (len < 16 || off + len > buf.length) throw new Error(`bad frame length ${len} at ${off}`);
    out.push(new Uint8Array(buf.buffer, buf.byteOffset + off, len));
    off += len;
  }
  if (off !== buf.length) throw new Error(`${buf.length - off} trailing bytes`);
  return out;
}

// Starts the fakes and a bridge wired to them. Options:
//   config      an object written to a --config file (see configFile)
//   env         environment for the server, over the defaults above
//               (a value of undefined removes a default), or a function
//               of the fakes returning it
//   bedrock     options for the fake Bedrock (sessionToken: null to omit)
//   bearer      use AWS_BEARER_TOKEN_BEDROCK instead of SigV4 credentials
//   args        extra serve arguments
export async function startBridge({ config, env = {}, bedrock = {}, bearer, args = [],
  tag = 'bridge' } = {}) {
  const openaiFake = await startFakeOpenAI({ apiKey: OPENAI_KEY });
  const sessionToken = bedrock.sessionToken === null ? undefined
    : (bedrock.sessionToken ?? AWS.sessionToken);
  const bedrockFake = await startFakeBedrock({ ...AWS, ...bedrock, sessionToken,
    bearerToken: bearer });
  const dir = mkdtempSync(join(tmpdir(), `pw-bridge-${tag}-`));
  const serverEnv = {
    OPENAI_API_KEY: OPENAI_KEY,
    OPENAI_BASE_URL: openaiFake.baseUrl,
    AWS_REGION: AWS.region,
    AWS_ENDPOINT_URL_BEDROCK_RUNTIME: bedrockFake.origin,
  };
  if (bearer) serverEnv.AWS_BEARER_TOKEN_BEDROCK = bearer;
  else {
    serverEnv.AWS_ACCESS_KEY_ID = AWS.accessKeyId;
    serverEnv.AWS_SECRET_ACCESS_KEY = AWS.secretAccessKey;
    if (sessionToken) serverEnv.AWS_SESSION_TOKEN = sessionToken;
  }
  Object.assign(serverEnv, typeof env === 'function'
    ? env({ openai: openaiFake, bedrock: bedrockFake }) : env);
  for (const k of Object.keys(serverEnv)) if (serverEnv[k] === undefined) delete serverEnv[k];
  const serveArgs = [...args];
  if (config) {
    const file = join(dir, 'bridge.json');
    writeFileSync(file, JSON.stringify(typeof config === 'function'
      ? config({ openai: openaiFake, bedrock: bedrockFake }) : config, null, 2));
    serveArgs.push('--config', file);
  }
  let srv;
  try {
    srv = await startServer({ args: serveArgs, env: serverEnv, tag, dir });
  } catch (e) {
    await openaiFake.close();
    await bedrockFake.close();
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  const b = {
    srv,
    dir,
    openai: openaiFake,
    bedrock: bedrockFake,
    base: srv.base,
    client(opts = {}) {
      return new OpenAI({
        apiKey: CLIENT_KEY,
        baseURL: `${srv.base}/v1`,
        maxRetries: 0,
        timeout: 30_000,
        ...opts,
      });
    },
    reset() {
      openaiFake.reset();
      bedrockFake.reset();
    },
    // No fake saw a rule broken.
    assertClean() {
      assert.deepEqual(openaiFake.violations, [], 'fake OpenAI saw rules broken');
      assert.deepEqual(bedrockFake.violations, [], 'fake Bedrock saw rules broken');
      assert.deepEqual(bedrockFake.authFailures.map((f) => f.message), [],
        'fake Bedrock refused signatures');
    },
    async stop() {
      const r = await srv.stop();
      await openaiFake.close();
      await bedrockFake.close();
      rmSync(dir, { recursive: true, force: true });
      return r;
    },
  };
  return b;
}

// Stops a bridge and checks it exited cleanly: status 0 (LeakSanitizer
// makes it non-zero) and no sanitizer report in its output (UBSan only
// prints).
export async function stopBridge(b) {
  if (!b) return;
  const r = await b.stop();
  const err = b.srv.stderr();
  assert.equal(r.code, 0, `server exit ${JSON.stringify(r)}\n${err.slice(-4000)}`);
  assert.doesNotMatch(err, /runtime error:|Sanitizer/, err.slice(-4000));
}

// A raw POST to the bridge (fetch), for what the SDK would not send.
export function rawChat(b, body, { path = '/v1/chat/completions', headers = {} } = {}) {
  return fetch(`${b.base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${CLIENT_KEY}`,
      ...headers },
    body: typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
}

// Reads a whole SSE response: every event's data (strings, '[DONE]'
// included), the raw text, comments counted, and any `event:` names seen.
export async function readSse(res, ms = 30_000) {
  const r = new SseReader(res.body);
  const data = [];
  const names = [];
  for (;;) {
    const ev = await r.next(ms);
    if (!ev) break;
    if (ev.event !== undefined) names.push(ev.event);
    if (ev.data !== undefined) data.push(ev.data);
  }
  return { data, names, comments: r.comments };
}

// Collects an SDK stream: the chunks, the text, the tool calls merged by
// index, the finish reason, the usage; `error` if iteration threw.
export async function collect(stream) {
  const out = { chunks: [], text: '', calls: [], finish: null, usage: null, error: null };
  try {
    for await (const ch of stream) {
      out.chunks.push(ch);
      if (ch.usage) out.usage = ch.usage;
      for (const c of ch.choices ?? []) {
        if (c.finish_reason) out.finish = c.finish_reason;
        if (typeof c.delta?.content === 'string') out.text += c.delta.content;
        for (const t of c.delta?.tool_calls ?? []) {
          out.calls[t.index] ??= { id: undefined, type: undefined, name: undefined, arguments: '' };
          const m = out.calls[t.index];
          if (t.id !== undefined) m.id = t.id;
          if (t.type !== undefined) m.type = t.type;
          if (t.function?.name !== undefined) m.name = t.function.name;
          m.arguments += t.function?.arguments ?? '';
        }
      }
    }
  } catch (e) {
    out.error = e;
  }
  return out;
}

// Searches the catalog through the server's own MCP endpoint; resolves the
// products (structuredContent.products).
export async function searchCatalog(b, query, limit = 10) {
  const sid = await openSession(b.srv);
  const res = await post(b.srv, request('tools/call', { name: 'search_products',
    arguments: { query, limit } }), { sid, accept: 'application/json, text/event-stream' });
  const ct = res.headers.get('content-type') ?? '';
  let msg;
  if (ct.includes('text/event-stream')) {
    const r = new SseReader(res.body);
    for (;;) {
      const ev = await r.nextMessage(10_000);
      if (!ev) throw new Error('no tools/call answer');
      if (ev.msg.id !== undefined) {
        msg = ev.msg;
        await r.cancel();
        break;
      }
    }
  } else {
    msg = await res.json();
  }
  assert.ok(msg.result, `search_products failed: ${JSON.stringify(msg)}`);
  return msg.result.structuredContent.products;
}

// The system/developer text a fake received in its request (OpenAI shape
// or Converse shape), joined.
export function systemTextOf(rec) {
  const b = rec.body;
  if (Array.isArray(b.system)) return b.system.map((s) => s.text ?? '').join('\n');
  return (b.messages ?? []).filter((m) => m.role === 'system' || m.role === 'developer')
    .map((m) => (typeof m.content === 'string' ? m.content
      : (m.content ?? []).map((p) => p.text ?? '').join(''))).join('\n');
}

// The ids listed in X-Pennyworth-Context-Products ('' or absent: none).
export function contextIds(headers) {
  const v = typeof headers.get === 'function' ? headers.get('x-pennyworth-context-products')
    : headers['x-pennyworth-context-products'];
  if (v === null || v === undefined) return null;
  return v.split(',').map((s) => s.trim()).filter(Boolean);
}

// Asserts an OpenAI-shaped error body and returns it.
export async function assertOpenAIError(res, status, { code, type } = {}) {
  const text = await res.text();
  assert.equal(res.status, status, `expected HTTP ${status}, got ${res.status}: ${text}`);
  assert.match(res.headers.get('content-type') ?? '', /application\/json/);
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    assert.fail(`error body is not JSON: ${text}`);
  }
  assert.equal(typeof body.error, 'object', text);
  assert.equal(typeof body.error.message, 'string', text);
  assert.ok(body.error.message.length > 0, text);
  assert.equal(typeof body.error.type, 'string', text);
  assert.ok('param' in body.error, `error.param missing: ${text}`);
  assert.ok('code' in body.error, `error.code missing: ${text}`);
  if (code !== undefined) assert.equal(body.error.code, code, text);
  if (type !== undefined) assert.equal(body.error.type, type, text);
  return body;
}

// The bridge still answers (after something that could have broken it).
export async function assertServing(b) {
  b.openai.script('alive-check', { text: 'still here' });
  const c = await b.client().chat.completions.create({ model: 'openai/alive-check',
    messages: [{ role: 'user', content: 'ping' }] }, { headers: { 'x-pennyworth-context': 'off' } });
  assert.equal(c.choices[0].message.content, 'still here');
}

export function tmpDir(tag) {
  const dir = mkdtempSync(join(tmpdir(), `pw-bridge-${tag}-`));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
