// A fake Bedrock Runtime for the bridge tests (node:http on 127.0.0.1,
// ephemeral port): POST /model/{modelId}/converse answers Converse JSON and
// POST /model/{modelId}/converse-stream answers ConverseStream as
// application/vnd.amazon.eventstream, every frame encoded by AWS's own
// @smithy/eventstream-codec.
//
// Authentication, checked on every request like the real service:
//   - SigV4: the signature is recomputed with AWS's @smithy/signature-v4
//     over the request exactly as it arrived: the raw path (a model id with
//     ':' arrives as %3A; the signer escapes it once more, as AWS does, so
//     the canonical path holds %253A), the signed headers with the values
//     received, the body bytes; service "bedrock", the region and the
//     credentials (session token included) the fake was given. A mismatch,
//     a wrong scope, a missing or unsigned session token, or an
//     x-amz-content-sha256 that is not the body's hash answers 403 (400 for
//     the hash) with an AWS-shaped error (x-amzn-ErrorType + {"message"}).
//   - Bedrock API keys: "Authorization: Bearer KEY" when the fake has one.
//
// The Converse rules are checked too (see checkConverse); breaking one
// answers 400 ValidationException and records a violation.
//
// Answers per model id (the scenario key) are scripted by the test, see
// common.mjs; Bedrock-specific step fields:
//   text, pieces              the assistant text (pieces: exact deltas)
//   toolUses                  [{id, name, input, inputPieces?, noInput?}]
//   stopReason                default end_turn / tool_use
//   usage                     {inputTokens, outputTokens,
//                              cacheReadInputTokens, cacheWriteInputTokens}
//   status, retryAfter, type, message   an HTTP error (x-amzn-ErrorType)
//   exception, after, message an exception event after N events (200)
//   corrupt, after            'prelude-crc' | 'message-crc' | 'length' |
//                             'garbage': a broken frame after N events
//   gapMs, cutAfter           stream pacing; cut the socket after N frames
//   endAfter                  end the body cleanly after N frames
//   pauses                    {index: ms} pauses after given frames
//   echo                      reply with the system text received

import { createHash } from 'node:crypto';
import { FakeBase, splitText, writeSequence } from './common.mjs';
import { SignatureV4, HttpRequest, Sha256, codec, fromUtf8 } from '../lib/deps.mjs';

export const ERROR_NAMESPACE = 'http://internal.amazon.com/coral/com.amazon.bedrock/';
const SIGNATURE_MISMATCH = 'The request signature we calculated does not match the signature ' +
  'you provided. Check your AWS Secret Access Key and signing method. Consult the service ' +
  'documentation for details.';

export class FakeBedrock extends FakeBase {
  constructor({
    region = 'us-east-1',
    accessKeyId = 'AKIDFAKEBEDROCK00001',
    secretAccessKey = 'fake/secret/key+for/the/bridge/tests0001',
    sessionToken,
    bearerToken,
  } = {}) {
    super('fake-bedrock');
    this.region = region;
    this.credentials = { accessKeyId, secretAccessKey, sessionToken };
    this.bearerToken = bearerToken;
    this.counter = 0;
    this.authFailures = [];
  }

  reset() {
    super.reset();
    this.authFailures.length = 0;
  }

  async receive(req, res) {
    const raw = await this.readBody(req);
    const q = req.url.indexOf('?');
    const rawPath = q < 0 ? req.url : req.url.slice(0, q);
    const rec = {
      at: Date.now(),
      method: req.method,
      rawPath,
      rawUrl: req.url,
      headers: req.headers,
      rawHeaders: req.rawHeaders,
      raw,
      body: undefined,
      key: undefined,
      stream: false,
      auth: undefined,
      outcome: undefined,
    };
    this.requests.push(rec);
    this.checkNoClientHeaders(rec);

    const m = /^\/model\/([^/]+)\/(converse|converse-stream)$/.exec(rawPath);
    if (req.method !== 'POST' || !m) {
      this.violate(`unexpected ${req.method} ${req.url}`);
      return awsError(res, 404, 'UnknownOperationException', `Unknown operation ${req.url}`);
    }
    let modelId;
    try {
      modelId = decodeURIComponent(m[1]);
    } catch {
      return awsError(res, 400, 'ValidationException', 'malformed model id in the path');
    }
    rec.key = modelId;
    rec.stream = m[2] === 'converse-stream';

    const denied = await this.authenticate(req, rec);
    if (denied) {
      rec.outcome = `auth: ${denied.message}`;
      this.authFailures.push({ path: rawPath, ...denied });
      return awsError(res, denied.status, denied.type, denied.message);
    }

    let body;
    try {
      body = JSON.parse(raw.toString('utf8'));
    } catch {
      this.violate('Converse body is not JSON');
      return awsError(res, 400, 'SerializationException', 'Could not parse the request body');
    }
    rec.body = body;
    const problems = checkConverse(body);
    if (problems.length) {
      for (const p of problems) this.violate(`Converse rule: ${p}`);
      rec.outcome = 'rejected';
      return awsError(res, 400, 'ValidationException',
        `fake-bedrock: Converse rule broken: ${problems.join('; ')}`);
    }

    const step = this.nextStep(modelId, rec);
    rec.step = step;
    if (await this.before(step, req, res, rec)) return undefined;
    if (step.status) {
      rec.outcome = `status ${step.status}`;
      const headers = {};
      if (step.retryAfter !== undefined) headers['retry-after'] = String(step.retryAfter);
      const [type, message] = errorFor(step);
      return awsError(res, step.status, type, message, headers);
    }
    const a = this.answer(step, body);
    if (rec.stream) {
      rec.outcome = 'streaming';
      rec.outcome = await this.stream(res, step, a);
    } else {
      rec.outcome = 'converse';
      sendJson(res, 200, converseResult(a));
    }
    return undefined;
  }

  // Returns undefined when the request is authentic, else why not.
  async authenticate(req, rec) {
    const auth = req.headers.authorization ?? '';
    if (auth.startsWith('Bearer ')) {
      rec.auth = 'bearer';
      if (this.bearerToken && auth.slice(7) === this.bearerToken) return undefined;
      return { status: 403, type: 'AccessDeniedException',
        message: 'Authentication failed: Please make sure your API Key is valid.' };
    }
    rec.auth = 'sigv4';
    const v = await verifySigV4({
      method: req.method,
      rawUrl: req.url,
      headers: req.headers,
      body: rec.raw,
      credentials: this.credentials,
      region: this.region,
      service: 'bedrock',
    });
    rec.sigv4 = v;
    return v.ok ? undefined : v;
  }

  answer(step, body) {
    this.counter += 1;
    let text = step.text;
    if (step.echo) {
      text = (body.system ?? []).filter((b) => typeof b.text === 'string').map((b) => b.text)
        .join('\n---\n') || '(no system prompt)';
    }
    const toolUses = (step.toolUses ?? []).map((t, i) => ({
      id: t.id ?? `tooluse_fake${this.counter}_${i}`,
      name: t.name,
      input: t.input ?? {},
      inputPieces: t.inputPieces,
      noInput: t.noInput === true,
    }));
    if (text === undefined && !toolUses.length) text = 'Hello from the fake Bedrock.';
    const u = step.usage ?? {};
    const usage = {
      inputTokens: u.inputTokens ?? 17,
      outputTokens: u.outputTokens ?? 8,
    };
    usage.totalTokens = usage.inputTokens + usage.outputTokens +
      (u.cacheReadInputTokens ?? 0) + (u.cacheWriteInputTokens ?? 0);
    if (u.cacheReadInputTokens !== undefined) usage.cacheReadInputTokens = u.cacheReadInputTokens;
    if (u.cacheWriteInputTokens !== undefined) usage.cacheWriteInputTokens = u.cacheWriteInputTokens;
    return {
      text: text ?? null,
      pieces: step.pieces ?? (text !== undefined ? splitText(text) : []),
      toolUses,
      stopReason: step.stopReason ?? (toolUses.length ? 'tool_use' : 'end_turn'),
      usage,
    };
  }

  async stream(res, step, a) {
    const frames = streamFrames(a);
    if (step.exception) {
      const at = Math.min(step.after ?? 0, frames.length);
      frames.splice(at, frames.length, exceptionFrame(step.exception,
        step.message ?? `fake-bedrock: scripted ${step.exception}`));
    } else if (step.corrupt) {
      const at = Math.min(step.after ?? 1, frames.length);
      frames.splice(at, frames.length, corruptFrame(step.corrupt));
    }
    res.writeHead(200, {
      'content-type': 'application/vnd.amazon.eventstream',
      'x-amzn-requestid': `fake-${this.counter}-0000-0000-000000000000`,
    });
    res.flushHeaders();
    return writeSequence(res, frames, { gapMs: step.gapMs ?? 0, cutAfter: step.cutAfter,
      endAfter: step.endAfter, pauses: step.pauses });
  }
}

// One event-stream frame of a ConverseStream event. Bedrock pads payloads
// with a "p" member; so does the fake, so the bridge must ignore it.
export function eventFrame(type, payload) {
  const body = fromUtf8(JSON.stringify({ ...payload, p: 'abcdefghijklmnopqrstuvwxyzABCDEFGH' }));
  return Buffer.from(codec.encode({
    headers: {
      ':event-type': { type: 'string', value: type },
      ':content-type': { type: 'string', value: 'application/json' },
      ':message-type': { type: 'string', value: 'event' },
    },
    body,
  }));
}

export function exceptionFrame(type, message) {
  return Buffer.from(codec.encode({
    headers: {
      ':exception-type': { type: 'string', value: type },
      ':content-type': { type: 'string', value: 'application/json' },
      ':message-type': { type: 'string', value: 'exception' },
    },
    body: fromUtf8(JSON.stringify({ message })),
  }));
}

// A frame broken in one way, built from a good one.
export function corruptFrame(kind) {
  const good = eventFrame('contentBlockDelta', { contentBlockIndex: 0, delta: { text: 'XX' } });
  const f = Buffer.from(good);
  if (kind === 'prelude-crc') f[9] ^= 0xff;
  else if (kind === 'message-crc') f[f.length - 1] ^= 0xff;
  else if (kind === 'payload') f[f.length - 8] ^= 0x01;
  else if (kind === 'length') f.writeUInt32BE(f.length + 1_000_000, 0);
  else if (kind === 'garbage') return Buffer.from('<html><body>503 Service Unavailable</body></html>');
  else throw new Error(`unknown corruption ${kind}`);
  return f;
}

// The frames of a whole ConverseStream answer: text blocks get no start
// event (as in Bedrock), tool uses get contentBlockStart with id and name
// and their input as string pieces (none at all with noInput).
export function streamFrames(a) {
  const frames = [eventFrame('messageStart', { role: 'assistant' })];
  let index = 0;
  if (a.pieces.length) {
    for (const p of a.pieces) {
      frames.push(eventFrame('contentBlockDelta', { contentBlockIndex: index, delta: { text: p } }));
    }
    frames.push(eventFrame('contentBlockStop', { contentBlockIndex: index }));
    index += 1;
  }
  for (const t of a.toolUses) {
    frames.push(eventFrame('contentBlockStart', {
      contentBlockIndex: index, start: { toolUse: { toolUseId: t.id, name: t.name } },
    }));
    if (!t.noInput) {
      const json = JSON.stringify(t.input);
      const pieces = t.inputPieces ?? [json.slice(0, 5), json.slice(5)].filter((s) => s.length);
      for (const p of pieces) {
        frames.push(eventFrame('contentBlockDelta', {
          contentBlockIndex: index, delta: { toolUse: { input: p } },
        }));
      }
    }
    frames.push(eventFrame('contentBlockStop', { contentBlockIndex: index }));
    index += 1;
  }
  frames.push(eventFrame('messageStop', { stopReason: a.stopReason }));
  frames.push(eventFrame('metadata', { usage: a.usage, metrics: { latencyMs: 123 } }));
  return frames;
}

function converseResult(a) {
  const content = [];
  if (a.text !== null && a.text !== undefined) content.push({ text: a.text });
  for (const t of a.toolUses) {
    content.push({ toolUse: { toolUseId: t.id, name: t.name, input: t.noInput ? {} : t.input } });
  }
  return {
    output: { message: { role: 'assistant', content } },
    stopReason: a.stopReason,
    usage: a.usage,
    metrics: { latencyMs: 123 },
  };
}

function errorFor(step) {
  const byStatus = {
    400: ['ValidationException', 'fake-bedrock: scripted validation error'],
    403: ['AccessDeniedException', 'You don\'t have access to the model with the specified model ID.'],
    404: ['ResourceNotFoundException', 'fake-bedrock: model not found'],
    408: ['ModelTimeoutException', 'Model has timed out in processing the request.'],
    424: ['ModelErrorException', 'fake-bedrock: model error'],
    429: ['ThrottlingException', 'Too many requests, please wait before trying again.'],
    500: ['InternalServerException', 'fake-bedrock: internal server error'],
    503: ['ServiceUnavailableException', 'fake-bedrock: service unavailable'],
  };
  const [type, message] = byStatus[step.status] ?? ['InternalServerException', 'fake-bedrock'];
  return [step.type ?? type, step.message ?? message];
}

function sendJson(res, status, obj, headers = {}) {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(obj));
}

export function awsError(res, status, type, message, headers = {}) {
  sendJson(res, status, { message }, {
    'x-amzn-errortype': `${type}:${ERROR_NAMESPACE}`,
    'x-amzn-requestid': 'fake-error-0000-0000-000000000000',
    ...headers,
  });
}

const AUTH_RE = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/;

function parseAmzDate(s) {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(s ?? '');
  if (!m) return null;
  return new Date(Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]));
}

function deny(message, status = 403, type = 'InvalidSignatureException') {
  return { ok: false, status, type, message };
}

// Verifies a SigV4-signed request as AWS would, from the bytes received.
// Resolves {ok: true, signedHeaders, canonicalPath} or {ok: false, status,
// type, message, ...details}.
export async function verifySigV4({ method, rawUrl, headers, body, credentials, region,
  service, now = Date.now() }) {
  const auth = headers.authorization;
  if (!auth) return deny('Missing Authentication Token', 403, 'MissingAuthenticationTokenException');
  const m = AUTH_RE.exec(auth);
  if (!m) return deny(`Authorization header is malformed: ${auth}`, 403, 'IncompleteSignatureException');
  const [, keyId, scopeDate, scopeRegion, scopeService, signedList, signature] = m;
  if (keyId !== credentials.accessKeyId) {
    return deny('The security token included in the request is invalid.', 403,
      'UnrecognizedClientException');
  }
  const amzDate = headers['x-amz-date'];
  const when = parseAmzDate(amzDate);
  if (!when) return deny(`X-Amz-Date ${JSON.stringify(amzDate)} is missing or malformed`);
  if (Math.abs(now - when.getTime()) > 5 * 60_000) {
    return deny(`Signature expired: ${amzDate} is not within 5 minutes of the server time`);
  }
  if (scopeDate !== amzDate.slice(0, 8)) {
    return deny(`Credential date ${scopeDate} does not match X-Amz-Date ${amzDate}`);
  }
  if (scopeRegion !== region) {
    return deny(`Credential should be scoped to a valid region, not '${scopeRegion}'`);
  }
  if (scopeService !== service) {
    return deny(`Credential should be scoped to correct service: '${service}', not ` +
      `'${scopeService}'`);
  }
  const signed = signedList.split(';');
  const sorted = [...signed].sort();
  if (signed.join(';') !== sorted.join(';')) return deny(`SignedHeaders not sorted: ${signedList}`);
  for (const need of ['host', 'x-amz-date']) {
    if (!signed.includes(need)) return deny(`SignedHeaders lacks ${need}: ${signedList}`);
  }
  if (credentials.sessionToken) {
    if (headers['x-amz-security-token'] !== credentials.sessionToken) {
      return deny('The security token included in the request is invalid.', 403,
        'UnrecognizedClientException');
    }
    if (!signed.includes('x-amz-security-token')) {
      return deny(`the session token header is not signed: SignedHeaders=${signedList}`);
    }
  }
  const hash = createHash('sha256').update(body).digest('hex');
  const claimed = headers['x-amz-content-sha256'];
  if (claimed !== undefined && claimed !== hash) {
    return deny(`x-amz-content-sha256 ${claimed} is not the body's hash ${hash}`, 400,
      'XAmzContentSHA256Mismatch');
  }
  const hdrs = {};
  for (const name of signed) {
    const v = headers[name];
    if (v === undefined) return deny(`signed header ${name} is not in the request`);
    hdrs[name] = Array.isArray(v) ? v.join(',') : v;
  }
  const q = rawUrl.indexOf('?');
  const path = q < 0 ? rawUrl : rawUrl.slice(0, q);
  const query = {};
  if (q >= 0) {
    for (const [k, v] of new URLSearchParams(rawUrl.slice(q + 1))) query[k] = v;
  }
  const host = headers.host ?? '';
  const request = new HttpRequest({
    method,
    protocol: 'http:',
    hostname: host.replace(/:\d+$/, ''),
    port: Number(/:(\d+)$/.exec(host)?.[1]) || undefined,
    path,
    query,
    headers: hdrs,
    body,
  });
  const signer = new SignatureV4({
    credentials,
    region,
    service,
    sha256: Sha256,
    uriEscapePath: true,
    applyChecksum: false,
  });
  const out = await signer.sign(request, { signingDate: when });
  const expected = /Signature=([0-9a-f]{64})/.exec(out.headers.authorization)[1];
  const expectedList = /SignedHeaders=([^,]+)/.exec(out.headers.authorization)[1];
  const canonicalPath = signer.getCanonicalPath({ path });
  if (expected !== signature || expectedList !== signedList) {
    return {
      ...deny(SIGNATURE_MISMATCH),
      detail: { canonicalPath, expectedSignedHeaders: expectedList, signedHeaders: signedList,
        expected, got: signature },
    };
  }
  return { ok: true, signedHeaders: signed, canonicalPath };
}

const TOP_KEYS = new Set(['messages', 'system', 'inferenceConfig', 'toolConfig',
  'guardrailConfig', 'additionalModelRequestFields', 'promptVariables',
  'additionalModelResponseFieldPaths', 'requestMetadata', 'performanceConfig']);
const BLOCK_KEYS = new Set(['text', 'image', 'document', 'video', 'toolUse', 'toolResult',
  'guardContent', 'cachePoint', 'reasoningContent', 'citationsContent']);
const INFERENCE_KEYS = new Set(['maxTokens', 'temperature', 'topP', 'stopSequences']);
const IMAGE_FORMATS = new Set(['png', 'jpeg', 'gif', 'webp']);

function isObj(v) {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function blank(s) {
  return typeof s !== 'string' || s.trim() === '';
}

// The Converse request rules Bedrock enforces (and gateways broke).
// Returns the list of broken rules (empty when the body is valid).
export function checkConverse(b) {
  const p = [];
  if (!isObj(b)) return ['body is not an object'];
  for (const k of Object.keys(b)) if (!TOP_KEYS.has(k)) p.push(`extraneous key [${k}] is not permitted`);
  if (b.system !== undefined) {
    if (!Array.isArray(b.system)) p.push('system is not an array');
    else {
      b.system.forEach((s, i) => {
        if (!isObj(s) || Object.keys(s).length !== 1) p.push(`system[${i}] is not one block`);
        else if ('text' in s && blank(s.text)) p.push(`system[${i}].text is blank`);
        else if (!('text' in s) && !('cachePoint' in s) && !('guardContent' in s)) {
          p.push(`system[${i}] has an unknown block ${Object.keys(s)[0]}`);
        }
      });
    }
  }
  if (b.inferenceConfig !== undefined) {
    const c = b.inferenceConfig;
    if (!isObj(c)) p.push('inferenceConfig is not an object');
    else {
      for (const k of Object.keys(c)) if (!INFERENCE_KEYS.has(k)) p.push(`inferenceConfig.${k} is not permitted`);
      if (c.maxTokens !== undefined && !(Number.isInteger(c.maxTokens) && c.maxTokens >= 1)) {
        p.push(`inferenceConfig.maxTokens ${c.maxTokens}`);
      }
      for (const k of ['temperature', 'topP']) {
        if (c[k] !== undefined && !(typeof c[k] === 'number' && c[k] >= 0 && c[k] <= 1)) {
          p.push(`inferenceConfig.${k} ${c[k]} is outside [0, 1]`);
        }
      }
      if (c.stopSequences !== undefined && (!Array.isArray(c.stopSequences) ||
          c.stopSequences.some((s) => typeof s !== 'string' || !s.length))) {
        p.push('inferenceConfig.stopSequences must be non-empty strings');
      }
    }
  }
  const toolNames = new Set();
  if (b.toolConfig !== undefined) {
    const t = b.toolConfig;
    if (!isObj(t) || !Array.isArray(t.tools) || !t.tools.length) {
      p.push('toolConfig.tools must be a non-empty array');
    } else {
      t.tools.forEach((tool, i) => {
        if (isObj(tool) && 'cachePoint' in tool) return;
        const s = tool?.toolSpec;
        if (!isObj(s) || typeof s.name !== 'string' || !/^[a-zA-Z0-9_-]{1,64}$/.test(s.name)) {
          p.push(`toolConfig.tools[${i}].toolSpec.name invalid`);
          return;
        }
        if (s.description !== undefined && blank(s.description)) {
          p.push(`toolConfig.tools[${i}].toolSpec.description is blank`);
        }
        if (!isObj(s.inputSchema) || !isObj(s.inputSchema.json)) {
          p.push(`toolConfig.tools[${i}].toolSpec.inputSchema.json must be an object`);
        }
        toolNames.add(s.name);
      });
      if (t.toolChoice !== undefined) {
        const c = t.toolChoice;
        const keys = isObj(c) ? Object.keys(c) : [];
        if (keys.length !== 1 || !['auto', 'any', 'tool'].includes(keys[0])) {
          p.push(`toolConfig.toolChoice ${JSON.stringify(c)} is not auto, any or tool`);
        } else if (keys[0] === 'tool' && !toolNames.has(c.tool?.name)) {
          p.push(`toolConfig.toolChoice names unknown tool ${c.tool?.name}`);
        }
      }
    }
  }
  if (!Array.isArray(b.messages) || !b.messages.length) {
    p.push('messages must be a non-empty array');
    return p;
  }
  let usesTools = false;
  let openUses = [];
  b.messages.forEach((m, i) => {
    const at = `messages[${i}]`;
    if (!isObj(m) || (m.role !== 'user' && m.role !== 'assistant')) {
      p.push(`${at}.role ${JSON.stringify(m?.role)} is not user or assistant`);
      return;
    }
    if (i === 0 && m.role !== 'user') p.push('A conversation must start with a user message.');
    if (i > 0 && b.messages[i - 1]?.role === m.role) {
      p.push(`${at}: roles must alternate between user and assistant (two ${m.role} in a row)`);
    }
    if (!Array.isArray(m.content) || !m.content.length) {
      p.push(`${at}.content must be a non-empty array`);
      return;
    }
    const results = [];
    const uses = [];
    m.content.forEach((blk, j) => {
      const bat = `${at}.content[${j}]`;
      const keys = isObj(blk) ? Object.keys(blk) : [];
      if (keys.length !== 1 || !BLOCK_KEYS.has(keys[0])) {
        p.push(`${bat} must hold exactly one known block, has ${JSON.stringify(keys)}`);
        return;
      }
      if ('text' in blk && blank(blk.text)) p.push(`${bat}.text is blank`);
      if ('image' in blk) {
        const img = blk.image;
        if (!IMAGE_FORMATS.has(img?.format) || typeof img?.source?.bytes !== 'string'
            || !img.source.bytes.length) {
          p.push(`${bat}.image must be {format, source: {bytes}}`);
        }
      }
      if ('toolUse' in blk) {
        usesTools = true;
        const u = blk.toolUse;
        if (m.role !== 'assistant') p.push(`${bat}: toolUse outside an assistant message`);
        if (blank(u?.toolUseId) || blank(u?.name) || !isObj(u?.input)) {
          p.push(`${bat}.toolUse needs toolUseId, name and an object input`);
        }
        uses.push(u?.toolUseId);
      }
      if ('toolResult' in blk) {
        usesTools = true;
        const r = blk.toolResult;
        if (m.role !== 'user') p.push(`${bat}: toolResult outside a user message`);
        if (blank(r?.toolUseId) || !Array.isArray(r?.content) || !r.content.length) {
          p.push(`${bat}.toolResult needs toolUseId and non-empty content`);
        } else {
          r.content.forEach((c, k) => {
            const ck = isObj(c) ? Object.keys(c) : [];
            if (ck.length !== 1 || !['text', 'json', 'image', 'document'].includes(ck[0])) {
              p.push(`${bat}.toolResult.content[${k}] is not one text/json/image/document`);
            } else if (ck[0] === 'text' && blank(c.text)) {
              p.push(`${bat}.toolResult.content[${k}].text is blank`);
            }
          });
        }
        if (r?.status !== undefined && r.status !== 'success' && r.status !== 'error') {
          p.push(`${bat}.toolResult.status ${r.status}`);
        }
        results.push(r?.toolUseId);
      }
    });
    if (m.role === 'user') {
      const missing = openUses.filter((id) => !results.includes(id));
      if (missing.length) {
        p.push(`${at}: expected toolResult blocks for the ids ${missing.join(', ')}`);
      }
      const extra = results.filter((id) => !openUses.includes(id));
      if (extra.length) p.push(`${at}: toolResult for ${extra.join(', ')} has no toolUse in the previous turn`);
      openUses = [];
    } else {
      if (openUses.length) p.push(`${at}: tool uses ${openUses.join(', ')} were never answered`);
      openUses = uses;
    }
  });
  if (usesTools && b.toolConfig === undefined) {
    p.push('The toolConfig field must be defined when using toolUse and toolResult content blocks.');
  }
  return p;
}

export async function startFakeBedrock(opts) {
  return new FakeBedrock(opts).listen();
}
