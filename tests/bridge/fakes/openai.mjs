// A fake OpenAI chat completions server for the bridge tests (node:http on
// 127.0.0.1, ephemeral port). It answers POST /v1/chat/completions in
// OpenAI's exact shapes, non-streamed (chat.completion) and streamed (SSE of
// chat.completion.chunk objects, the usage chunk with `choices: []` when
// stream_options.include_usage is set, then `data: [DONE]`), with tool calls
// and usage, and GET /v1/models.
//
// It checks what the bridge sends, as OpenAI would and a little stricter:
// the bearer key, a JSON body with a model and messages, every assistant
// tool call answered by a tool message, no `context` field (ours, to be
// removed), stream_options.include_usage on streamed calls (the bridge needs
// usage for every request), and no client header forwarded. Breaking a rule
// answers 400 (401 for the key) and records a violation.
//
// Answers per model name (the scenario key) are scripted by the test, see
// common.mjs; OpenAI-specific step fields:
//   text, pieces        the assistant text (pieces: the exact deltas)
//   toolCalls           [{id, name, arguments, pieces?}]
//   finish              finish_reason (default stop / tool_calls)
//   usage               {prompt_tokens, completion_tokens, cached_tokens}
//   status, retryAfter, error   an HTTP error in OpenAI's error shape
//   gapMs, cutAfter     stream pacing; cut the socket after N SSE events
//   endAfter            stream: end the body cleanly after N events
//   pauses              stream: {index: ms} pauses after given events
//   errorAfter          stream: an `error` object after N events, then end
//   omitDone            stream: end without `data: [DONE]`
//   echo                reply with the text of the system messages received

import { FakeBase, splitText, writeSequence } from './common.mjs';

const ROLES = new Set(['system', 'developer', 'user', 'assistant', 'tool', 'function']);

export class FakeOpenAI extends FakeBase {
  constructor({ apiKey = 'sk-fake-openai' } = {}) {
    super('fake-openai');
    this.apiKey = apiKey;
    this.counter = 0;
  }

  get baseUrl() {
    return `${this.origin}/v1`;
  }

  async receive(req, res) {
    const raw = await this.readBody(req);
    const url = new URL(req.url, this.origin);
    const rec = {
      at: Date.now(),
      method: req.method,
      path: url.pathname,
      rawUrl: req.url,
      headers: req.headers,
      rawHeaders: req.rawHeaders,
      raw,
      body: undefined,
      key: undefined,
      stream: false,
      outcome: undefined,
    };
    this.requests.push(rec);
    this.checkNoClientHeaders(rec);

    if (req.headers.authorization !== `Bearer ${this.apiKey}`) {
      this.violate(`${req.method} ${url.pathname}: wrong Authorization ` +
        `${JSON.stringify(req.headers.authorization ?? null)}`);
      return sendError(res, 401, 'Incorrect API key provided.', 'invalid_request_error',
        'invalid_api_key');
    }
    if (req.method === 'GET' && url.pathname === '/v1/models') {
      rec.outcome = 'models';
      return sendJson(res, 200, {
        object: 'list',
        data: [{ id: 'gpt-4o-mini', object: 'model', created: 1721172741, owned_by: 'system' }],
      });
    }
    if (req.method !== 'POST' || url.pathname !== '/v1/chat/completions') {
      this.violate(`unexpected ${req.method} ${req.url}`);
      return sendError(res, 404, `Invalid URL (${req.method} ${url.pathname})`,
        'invalid_request_error', null);
    }
    if (!/^application\/json\b/.test(req.headers['content-type'] ?? '')) {
      this.violate(`content-type ${req.headers['content-type']}`);
    }
    let body;
    try {
      body = JSON.parse(raw.toString('utf8'));
    } catch {
      this.violate('request body is not JSON');
      return sendError(res, 400, 'We could not parse the JSON body of your request.',
        'invalid_request_error', null);
    }
    rec.body = body;
    rec.key = body.model;
    rec.stream = body.stream === true;
    const problems = checkChat(body);
    if (problems.length) {
      for (const p of problems) this.violate(`chat request: ${p}`);
      rec.outcome = 'rejected';
      return sendError(res, 400, `fake-openai: ${problems.join('; ')}`, 'invalid_request_error',
        null);
    }

    const step = this.nextStep(rec.key, rec);
    rec.step = step;
    if (await this.before(step, req, res, rec)) return undefined;
    if (step.status) {
      rec.outcome = `status ${step.status}`;
      const headers = {};
      if (step.retryAfter !== undefined) headers['retry-after'] = String(step.retryAfter);
      const e = step.error ?? errorFor(step.status);
      return sendError(res, step.status, e.message, e.type, e.code, headers);
    }
    const answer = this.answer(step, body);
    if (rec.stream) {
      rec.outcome = 'streaming';
      rec.outcome = await this.stream(res, step, answer, body);
    } else {
      rec.outcome = 'completion';
      sendJson(res, 200, completion(answer));
    }
    return undefined;
  }

  // The normalised answer for a step.
  answer(step, body) {
    this.counter += 1;
    let text = step.text;
    if (step.echo) {
      text = body.messages.filter((m) => m.role === 'system' || m.role === 'developer')
        .map((m) => contentText(m.content)).join('\n---\n') || '(no system message)';
    }
    const toolCalls = step.toolCalls ?? [];
    if (text === undefined && !toolCalls.length) text = 'Hello from the fake OpenAI.';
    const pieces = step.pieces ?? (text !== undefined ? splitText(text) : []);
    const u = step.usage ?? {};
    const prompt = u.prompt_tokens ?? 21;
    const completionTokens = u.completion_tokens ?? 9;
    return {
      id: `chatcmpl-fake${this.counter}`,
      created: 1700000000 + this.counter,
      model: step.model ?? `${body.model}-2024-07-18`,
      text: text ?? null,
      pieces,
      toolCalls: toolCalls.map((c, i) => ({
        id: c.id ?? `call_fake${this.counter}_${i}`,
        name: c.name,
        arguments: c.arguments ?? '{}',
        pieces: c.pieces,
      })),
      finish: step.finish ?? (toolCalls.length ? 'tool_calls' : 'stop'),
      usage: {
        prompt_tokens: prompt,
        completion_tokens: completionTokens,
        total_tokens: prompt + completionTokens,
        prompt_tokens_details: { cached_tokens: u.cached_tokens ?? 0, audio_tokens: 0 },
        completion_tokens_details: {
          reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0,
          rejected_prediction_tokens: 0,
        },
      },
    };
  }

  async stream(res, step, a, body) {
    const withUsage = body.stream_options?.include_usage === true;
    const base = {
      id: a.id, object: 'chat.completion.chunk', created: a.created, model: a.model,
      service_tier: 'default', system_fingerprint: 'fp_fake',
    };
    const chunk = (delta, finish = null) => {
      const c = { ...base, choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }] };
      if (withUsage) c.usage = null;
      return `data: ${JSON.stringify(c)}\n\n`;
    };
    const events = [chunk({ role: 'assistant', content: a.toolCalls.length && !a.pieces.length
      ? null : '', refusal: null })];
    for (const p of a.pieces) events.push(chunk({ content: p }));
    a.toolCalls.forEach((c, index) => {
      events.push(chunk({
        tool_calls: [{ index, id: c.id, type: 'function', function: { name: c.name, arguments: '' } }],
      }));
      const argPieces = c.pieces ?? (c.arguments.length ? chop(c.arguments, 7) : []);
      for (const p of argPieces) {
        events.push(chunk({ tool_calls: [{ index, function: { arguments: p } }] }));
      }
    });
    events.push(chunk({}, a.finish));
    if (withUsage) {
      events.push(`data: ${JSON.stringify({ ...base, choices: [], usage: a.usage })}\n\n`);
    }
    if (step.errorAfter !== undefined) {
      events.splice(step.errorAfter, events.length, `data: ${JSON.stringify({
        error: { message: 'The server had an error while processing your request.',
          type: 'server_error', param: null, code: null },
      })}\n\n`);
    } else if (!step.omitDone) {
      events.push('data: [DONE]\n\n');
    }
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      'x-request-id': `req_fake${this.counter}`,
    });
    res.flushHeaders();
    return writeSequence(res, events, { gapMs: step.gapMs ?? 0, cutAfter: step.cutAfter,
      endAfter: step.endAfter, pauses: step.pauses });
  }
}

function chop(s, n) {
  const out = [];
  for (let i = 0; i < s.length; i += n) out.push(s.slice(i, i + n));
  return out;
}

export function contentText(content) {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    return content.filter((p) => p && p.type === 'text').map((p) => p.text).join('');
  }
  return '';
}

function completion(a) {
  const message = { role: 'assistant', content: a.text, refusal: null, annotations: [] };
  if (a.toolCalls.length) {
    message.tool_calls = a.toolCalls.map((c) => ({
      id: c.id, type: 'function', function: { name: c.name, arguments: c.arguments },
    }));
  }
  return {
    id: a.id,
    object: 'chat.completion',
    created: a.created,
    model: a.model,
    choices: [{ index: 0, message, logprobs: null, finish_reason: a.finish }],
    usage: a.usage,
    service_tier: 'default',
    system_fingerprint: 'fp_fake',
  };
}

function errorFor(status) {
  if (status === 429) {
    return { message: 'Rate limit reached for gpt-4o-mini on requests per min (RPM): Limit 3.',
      type: 'requests', code: 'rate_limit_exceeded' };
  }
  if (status >= 500) {
    return { message: 'The server had an error while processing your request. Sorry about that!',
      type: 'server_error', code: null };
  }
  return { message: `fake-openai: scripted ${status}`, type: 'invalid_request_error',
    code: null };
}

function sendJson(res, status, obj, headers = {}) {
  const body = JSON.stringify(obj);
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(body);
}

function sendError(res, status, message, type, code, headers = {}) {
  sendJson(res, status, { error: { message, type, param: null, code } }, headers);
}

// The rules of the chat completions API (a subset OpenAI enforces, plus our
// own `context` field that must never reach a provider).
export function checkChat(b) {
  const p = [];
  if (typeof b !== 'object' || b === null || Array.isArray(b)) return ['body is not an object'];
  if (typeof b.model !== 'string' || !b.model) p.push('model missing');
  if ('context' in b) p.push('the pennyworth `context` field reached the provider');
  if (!Array.isArray(b.messages) || !b.messages.length) {
    p.push('messages missing or empty');
    return p;
  }
  if (b.stream === true && b.stream_options?.include_usage !== true) {
    p.push('streamed call without stream_options.include_usage: usage would be lost');
  }
  if (b.stream !== true && b.stream_options !== undefined) {
    p.push('stream_options given without stream');
  }
  const pending = new Set();
  b.messages.forEach((m, i) => {
    if (!m || !ROLES.has(m.role)) {
      p.push(`messages[${i}].role ${JSON.stringify(m?.role)}`);
      return;
    }
    if (m.role === 'tool') {
      if (!pending.has(m.tool_call_id)) {
        p.push(`messages[${i}] answers tool call ${m.tool_call_id} that no assistant made`);
      }
      pending.delete(m.tool_call_id);
      return;
    }
    if (pending.size) {
      p.push(`messages[${i}]: tool calls ${[...pending].join(',')} were not answered`);
      pending.clear();
    }
    if (m.role === 'assistant' && Array.isArray(m.tool_calls)) {
      for (const c of m.tool_calls) {
        if (c.type !== 'function' || typeof c.id !== 'string' || typeof c.function?.name !== 'string'
            || typeof c.function?.arguments !== 'string') {
          p.push(`messages[${i}].tool_calls: malformed ${JSON.stringify(c)}`);
        }
        pending.add(c.id);
      }
    } else if (m.content === undefined || m.content === null) {
      p.push(`messages[${i}] has no content`);
    }
  });
  if (pending.size) p.push(`tool calls ${[...pending].join(',')} were not answered`);
  if (b.tools !== undefined) {
    if (!Array.isArray(b.tools)) p.push('tools is not an array');
    else {
      b.tools.forEach((t, i) => {
        if (t?.type !== 'function' || typeof t.function?.name !== 'string') {
          p.push(`tools[${i}] malformed`);
        }
      });
    }
  }
  return p;
}

export async function startFakeOpenAI(opts) {
  return new FakeOpenAI(opts).listen();
}
