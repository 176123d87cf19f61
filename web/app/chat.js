// The chat side of the page: one streamed request to the OpenAI-compatible
// /v1/chat/completions endpoint of the same server, read token by token.
//
// The bridge names the catalog products it injected as context in the
// response header X-Pennyworth-Context-Products (comma-separated ids; a
// JSON array is accepted too), which the page shows as cited cards. Errors
// come in OpenAI's shape {"error": {message, type, code}}; each becomes a
// ChatError whose `kind` tells the page what to say:
//   auth         401/403: an API key is needed or was refused
//   rate         429: a rate limit or budget
//   unavailable  the server has no chat API (404/405 outside OpenAI's shape)
//   config       no provider or model configured for the request
//   upstream     the provider failed (the page still explains configuration)
//   stream       the stream broke or carried an error event
//   network      the server could not be reached
// Cancelling is the caller's AbortSignal; it rejects with an AbortError.
//
// SPDX-License-Identifier: MIT

import { authHeaders } from './auth.js';
import { SseParser } from './sse.js';

export const CONTEXT_HEADER = 'x-pennyworth-context-products';
export const DEFAULT_MODEL = 'openai/gpt-4o-mini';

export class ChatError extends Error {
  constructor(message, { kind, status = 0, type = '', code = '' } = {}) {
    super(message);
    this.name = 'ChatError';
    this.kind = kind;
    this.status = status;
    this.type = type;
    this.code = code;
  }
}

export function parseContextIds(value) {
  if (!value) return [];
  const v = value.trim();
  if (v.startsWith('[')) {
    try {
      const arr = JSON.parse(v);
      return Array.isArray(arr) ? arr.map(String).filter(Boolean) : [];
    } catch {
      return [];
    }
  }
  return v.split(/[\s,]+/).filter(Boolean);
}

const CONFIG_HINT = /model_not_found|provider|configur|api[ _-]?key|credential|OPENAI_|AWS_|no route|deployment/i;

export function classify(status, body) {
  const e = body && typeof body.error === 'object' ? body.error : null;
  const openaiShape = e && typeof e.message === 'string' && body.jsonrpc === undefined;
  const message = e?.message ?? `HTTP ${status}`;
  const info = { status, type: openaiShape ? e.type ?? '' : '', code: openaiShape ? String(e.code ?? '') : '' };
  let kind;
  if (status === 401 || status === 403) kind = 'auth';
  else if (status === 429) kind = 'rate';
  else if (!openaiShape && (status === 404 || status === 405)) kind = 'unavailable';
  else if (CONFIG_HINT.test(`${info.type} ${info.code} ${message}`)) kind = 'config';
  else kind = 'upstream';
  return new ChatError(message, { kind, ...info });
}

// Streams one answer. Calls onProducts(ids) once the response head is in,
// onToken(text) for every piece of content. Resolves {finishReason}.
export async function streamChat({ model, messages, signal, onProducts, onToken }) {
  let res;
  try {
    res = await fetch('/v1/chat/completions', {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', ...authHeaders() },
      body: JSON.stringify({ model, messages, stream: true }),
      signal,
    });
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ChatError('could not reach the server', { kind: 'network' });
  }
  onProducts(parseContextIds(res.headers.get(CONTEXT_HEADER)));
  if (!res.ok) throw classify(res.status, await res.json().catch(() => null));

  const ctype = res.headers.get('content-type') ?? '';
  if (!ctype.includes('text/event-stream')) {
    const body = await res.json();
    const choice = body.choices?.[0];
    if (choice?.message?.content) onToken(choice.message.content);
    return { finishReason: choice?.finish_reason ?? null };
  }

  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  const parser = new SseParser();
  let finishReason = null;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      for (const ev of parser.push(decoder.decode(value, { stream: true }))) {
        if (ev.data === '[DONE]') return { finishReason };
        let chunk;
        try {
          chunk = JSON.parse(ev.data);
        } catch {
          throw new ChatError('the answer stream carried something that is not JSON', { kind: 'stream' });
        }
        if (chunk.error) {
          throw new ChatError(chunk.error.message ?? 'the provider failed mid-answer', {
            kind: 'stream', type: chunk.error.type ?? '', code: String(chunk.error.code ?? ''),
          });
        }
        for (const choice of chunk.choices ?? []) {
          const text = choice.delta?.content;
          if (text) onToken(text);
          if (choice.finish_reason) finishReason = choice.finish_reason;
        }
      }
    }
  } finally {
    reader.cancel().catch(() => {});
  }
  throw new ChatError('the answer stream ended before it was complete', { kind: 'stream' });
}

// The models this key may use (GET /v1/models); [] when there is no list.
export async function listModels(signal) {
  try {
    const res = await fetch('/v1/models', { headers: authHeaders(), signal });
    if (!res.ok) return [];
    const body = await res.json();
    return Array.isArray(body.data) ? body.data.map((m) => m.id).filter((id) => typeof id === 'string') : [];
  } catch {
    return [];
  }
}
