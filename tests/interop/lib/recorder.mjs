// A recording, schema-validating wrapper around an SDK client transport.
//
// The real SDK client drives the session: RecordingTransport is a Transport
// (start/send/close, onmessage/onerror/onclose) that delegates to an SDK
// transport (v1 or v2, whichever the test passes in). On the way it records
// every request the client sends (to know which method each response
// answers) and every message the server sent, as raw text taken before the
// SDK parsed it, so a message the SDK could not parse is still seen:
//
//   StdioRecordingTransport  every stdout line of the child, byte for byte
//                            (from the SDK stdio transport's child process)
//   RecordingTransport       whatever a tap feeds to record(): one text per
//                            message (lib/net-taps.mjs taps WebSocket frames
//                            and Streamable HTTP bodies and SSE events; the
//                            bodies of HTTP errors go to transportErrors)
//
// validate() then checks each server message against the official schema
// of the negotiated revision:
//
//   response  -> JSONRPCResponse/JSONRPCResultResponse envelope + the result
//                type of the request's method (tools/call -> CallToolResult,
//                ...); error -> JSONRPCError/JSONRPCErrorResponse
//   notification -> JSONRPCNotification + the ServerNotification member
//                   for its method
//   request   -> JSONRPCRequest + the ServerRequest member for its method
//
// The revision is the one the initialize result carries, or, for a
// 2026-07-28 (stateless) exchange, the protocol version the client put in
// the request's `_meta`.
//
// The generic class has no `stderr`/`pid`: SDK v2 treats a transport with
// both as stdio-shaped (its version probe differs), so only the stdio
// subclass has them.

import { AssertionError } from 'node:assert';
import { loadSchema, schemaRevisionFor, resultTypeFor, envelopeNames } from './schema.mjs';

export const PROTOCOL_VERSION_META_KEY = 'io.modelcontextprotocol/protocolVersion';

const MAX_JSON = 4000;

function clip(s, n = MAX_JSON) {
  return s.length > n ? `${s.slice(0, n)}... (${s.length} chars)` : s;
}

function idKey(id) {
  return JSON.stringify(id);
}

export class RecordingTransport {
  // `inner` is an SDK client transport that has not been started, or a
  // function (recorder) => transport, for taps that must be wired into the
  // transport when it is made (a recording fetch). `capture(inner,
  // recorder)` runs once the transport has started (a tap on its socket).
  constructor(inner, { label = 'server', capture } = {}) {
    this.label = label;
    this.unit = 'message';  // how violations name a recorded item
    this.lines = [];        // every server message: {n, text, t}
    this.sent = [];         // every message the client sent: {msg, t}
    this.stderrText = '';
    this.revisionsSet = []; // versions the SDK told the transport about
    this.onmessage = undefined;
    this.onerror = undefined;
    this.onclose = undefined;
    this.sdkErrors = [];    // errors the SDK transport reported (e.g. unparsable lines)
    // HTTP error answers (status >= 400), whose bodies are transport errors
    // rather than MCP messages: {status, method (of the request), text}
    this.transportErrors = [];
    this._capture = capture;
    this.inner = typeof inner === 'function' ? inner(this) : inner;
    this.inner.onmessage = (msg, extra) => this.onmessage?.(msg, extra);
    this.inner.onerror = (err) => {
      this.sdkErrors.push(err);
      this.onerror?.(err);
    };
    this.inner.onclose = () => this.onclose?.();
  }

  // One raw server message, as it came off the wire.
  record(text) {
    this.lines.push({ n: this.lines.length + 1, text, t: Date.now() });
  }

  get sessionId() {
    return this.inner.sessionId;
  }

  get protocolVersion() {
    return this.inner.protocolVersion;
  }

  // SDK v2 aborts a request's own stream instead of sending
  // notifications/cancelled when the transport has one per request.
  get hasPerRequestStream() {
    return this.inner.hasPerRequestStream;
  }

  setProtocolVersion(version) {
    this.revisionsSet.push(version);
    this.inner.setProtocolVersion?.(version);
  }

  setSupportedProtocolVersions(versions) {
    this.inner.setSupportedProtocolVersions?.(versions);
  }

  async terminateSession() {
    return this.inner.terminateSession?.();
  }

  async start() {
    await this.inner.start();
    this._capture?.(this.inner, this);
  }

  async send(message, options) {
    this.sent.push({ msg: structuredClone(message), t: Date.now() });
    return this.inner.send(message, options);
  }

  async close() {
    return this.inner.close();
  }

  // Parsed server messages (for tests that look for notifications).
  messages() {
    const out = [];
    for (const l of this.lines) {
      try {
        out.push(JSON.parse(l.text));
      } catch {
        /* reported by validate() */
      }
    }
    return out;
  }

  // Checks every recorded server line; returns a list of violation strings.
  validate() {
    const violations = [];
    const requests = new Map(); // id -> client request message
    for (const { msg } of this.sent) {
      if (msg && typeof msg === 'object' && 'method' in msg && 'id' in msg) {
        requests.set(idKey(msg.id), msg);
      }
    }

    // The session revision: what the server answered to initialize.
    let sessionVersion;
    for (const l of this.lines) {
      let m;
      try {
        m = JSON.parse(l.text);
      } catch {
        continue;
      }
      const req = m && 'id' in m ? requests.get(idKey(m.id)) : undefined;
      if (req?.method === 'initialize' && m.result?.protocolVersion) {
        sessionVersion = m.result.protocolVersion;
        break;
      }
    }
    // A stateless (2026-07-28) exchange: the version the client stamps on
    // its requests.
    let lastMetaVersion;
    for (const { msg } of this.sent) {
      const v = msg?.params?._meta?.[PROTOCOL_VERSION_META_KEY];
      if (typeof v === 'string') lastMetaVersion = v;
    }

    const answered = new Set();
    const where = (l, what) => `${this.label} ${this.unit} ${l.n}${what ? ` (${what})` : ''}`;

    for (const l of this.lines) {
      const text = l.text.endsWith('\r') ? l.text.slice(0, -1) : l.text;
      let m;
      try {
        m = JSON.parse(text);
      } catch (e) {
        violations.push(`${where(l)}: not a JSON message (${e.message})\n  line: ${clip(JSON.stringify(text))}`);
        continue;
      }
      if (m === null || typeof m !== 'object' || Array.isArray(m)) {
        violations.push(`${where(l)}: not a JSON-RPC message object\n  json: ${clip(text)}`);
        continue;
      }

      const isRequest = typeof m.method === 'string' && 'id' in m;
      const isNotification = typeof m.method === 'string' && !('id' in m);
      const isResponse = !('method' in m) && ('result' in m || 'error' in m);

      if (isResponse) {
        const key = idKey(m.id);
        const req = requests.get(key);
        if (!req) {
          violations.push(`${where(l)}: response to id ${key}, which the client never sent\n  json: ${clip(text)}`);
          continue;
        }
        if (answered.has(key)) {
          violations.push(`${where(l)}: second response to ${req.method} id ${key}\n  json: ${clip(text)}`);
          continue;
        }
        answered.add(key);
        let version = req.params?._meta?.[PROTOCOL_VERSION_META_KEY];
        if (typeof version !== 'string') {
          version = req.method === 'initialize' && m.result?.protocolVersion
            ? m.result.protocolVersion
            : sessionVersion;
        }
        const what = `response to ${req.method} id ${key}`;
        const rev = this._revision(version, l, what, violations, text);
        if (!rev) continue;
        const schema = loadSchema(rev);
        const env = envelopeNames(schema);
        if ('error' in m) {
          this._check(schema, env.error, m, m, l, what, version, violations, text);
        } else {
          const ok = this._check(schema, env.result, m, m, l, what, version, violations, text);
          const def = resultTypeFor(schema, req.method, m.result);
          if (ok && def) this._check(schema, def, m.result, m, l, what, version, violations, text, '/result');
        }
        continue;
      }

      if (isNotification || isRequest) {
        const kind = isRequest ? 'request' : 'notification';
        const what = `${kind} ${m.method}`;
        const version = sessionVersion ?? lastMetaVersion;
        const rev = this._revision(version, l, what, violations, text);
        if (!rev) continue;
        const schema = loadSchema(rev);
        const env = envelopeNames(schema);
        const union = isRequest ? 'ServerRequest' : 'ServerNotification';
        if (!this._check(schema, isRequest ? env.request : env.notification, m, m, l, what, version, violations, text)) continue;
        if (!schema.has(union)) {
          violations.push(`${where(l, what)}: revision ${rev} defines no ${union}; ` +
            `a server must not send one\n  json: ${clip(text)}`);
          continue;
        }
        const member = unionMemberFor(schema, union, m.method);
        if (!member) {
          violations.push(`${where(l, what)}: ${m.method} is not a ${union} in revision ${rev}\n  json: ${clip(text)}`);
          continue;
        }
        this._check(schema, member, m, m, l, what, version, violations, text);
        continue;
      }

      violations.push(`${where(l)}: neither a request, a notification nor a response\n  json: ${clip(text)}`);
    }

    violations.push(...this.trailingViolations());
    return violations;
  }

  // What a subclass finds wrong beyond the messages themselves.
  trailingViolations() {
    return [];
  }

  _revision(version, l, what, violations, text) {
    if (typeof version !== 'string') {
      violations.push(`${this.label} ${this.unit} ${l.n} (${what}): cannot tell the protocol revision ` +
        `(no initialize result and no _meta protocol version)\n  json: ${clip(text)}`);
      return null;
    }
    const rev = schemaRevisionFor(version);
    if (!rev) {
      violations.push(`${this.label} ${this.unit} ${l.n} (${what}): protocol version ${JSON.stringify(version)} ` +
        `has no schema in fixtures/mcp-schema\n  json: ${clip(text)}`);
      return null;
    }
    return rev;
  }

  _check(schema, def, value, whole, l, what, version, violations, text, prefix = '') {
    const errs = schema.check(def, value);
    if (errs.length === 0) return true;
    const revName = schema.revision === version ? schema.revision : `${schema.revision} (for ${version})`;
    const shown = errs.slice(0, 12).map((e) => {
      const path = prefix + (e.instancePath === '/' ? '' : e.instancePath) || '/';
      const at = valueAt(whole, path);
      const params = e.params && Object.keys(e.params).length ? ` ${JSON.stringify(e.params)}` : '';
      return `    at ${path}: ${e.message}${params}; value: ${clip(JSON.stringify(at) ?? 'undefined', 300)}`;
    });
    if (errs.length > shown.length) shown.push(`    ... ${errs.length - shown.length} more`);
    violations.push(`${this.label} ${this.unit} ${l.n} (${what}) does not match ${revName} ${def}:\n` +
      `${shown.join('\n')}\n  json: ${clip(text)}`);
    return false;
  }

  // Throws an AssertionError listing every violation (with the server's
  // stderr tail), or returns the number of lines checked.
  assertValid() {
    const v = this.validate();
    if (v.length > 0) {
      const tail = this.stderrText ? `\n--- server stderr (tail) ---\n${this.stderrText.slice(-3000)}` : '';
      throw new AssertionError({
        message: `${v.length} server message(s) violate the MCP schema:\n\n${v.join('\n\n')}${tail}`,
      });
    }
    return this.lines.length;
  }
}

// The stdio flavour: records every stdout line of the server child, byte
// for byte, from the SDK stdio transport's child process, and keeps its
// stderr for failure messages (pass stderr: 'pipe' in the transport's
// parameters).
export class StdioRecordingTransport extends RecordingTransport {
  constructor(inner, { label = 'server' } = {}) {
    super(inner, { label });
    this.unit = 'stdout line';
    this._partial = '';
    const err = this.inner.stderr;
    if (err && typeof err.on === 'function') {
      err.on('data', (chunk) => {
        if (this.stderrText.length < 64 * 1024) this.stderrText += chunk.toString('utf8');
      });
    }
  }

  // Both SDKs treat a transport with these as stdio-shaped.
  get stderr() {
    return this.inner.stderr;
  }

  get pid() {
    return this.inner.pid;
  }

  async start() {
    await this.inner.start();
    const proc = this.inner._process;
    if (!proc || !proc.stdout) {
      throw new Error('StdioRecordingTransport: the SDK stdio transport exposes no child process ' +
        '(_process); the pinned SDK changed shape, update tests/interop/lib/recorder.mjs');
    }
    this.childPid = proc.pid;
    this.exit = undefined; // {code, signal} once the server has exited
    proc.on('exit', (code, signal) => {
      this.exit = { code, signal };
    });
    proc.stdout.on('data', (chunk) => this._onStdout(chunk));
  }

  _onStdout(chunk) {
    this._partial += chunk.toString('utf8');
    let nl;
    while ((nl = this._partial.indexOf('\n')) >= 0) {
      const text = this._partial.slice(0, nl);
      this._partial = this._partial.slice(nl + 1);
      this.record(text);
    }
  }

  trailingViolations() {
    if (this._partial.length === 0) return [];
    return [`${this.label} stdout ended with an unterminated line: ${clip(JSON.stringify(this._partial))}`];
  }
}

// The member of a union definition (ServerNotification, ServerRequest)
// whose `method` is the constant `method`, or null.
function unionMemberFor(schema, union, method) {
  const branches = schema.defs[union].anyOf || schema.defs[union].oneOf || [];
  for (const b of branches) {
    const ref = b.$ref;
    if (!ref) continue;
    const name = ref.split('/').pop();
    const d = schema.defs[name];
    if (d?.properties?.method?.const === method) return name;
  }
  return null;
}

function valueAt(obj, pointer) {
  if (!pointer || pointer === '/') return obj;
  let cur = obj;
  for (const raw of pointer.split('/').slice(1)) {
    const k = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = cur[k];
  }
  return cur;
}
