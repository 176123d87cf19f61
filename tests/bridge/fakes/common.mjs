// What the two fake providers share: an HTTP server on 127.0.0.1 with an
// ephemeral port, a record of every request exactly as it arrived (raw path,
// raw headers, raw body bytes), a list of violations (rules of the real API
// that the bridge broke: tests assert it stays empty), and a scenario
// registry that lets a test script the next answers for a key (the model
// name) and choose misbehaviour: slow first byte, a hang, a reset, an HTTP
// error with Retry-After, garbage, a stream cut after N events.
//
// A scenario step is a plain object (or a function of the request record
// returning one). Steps queued with script() are used once each, in order;
// when a key has none left, the step set with always() is used, then the
// fake's default (a normal answer).
//
// Every socket is tracked so close() ends hanging responses too: the fakes
// never keep a test process alive.

import http from 'node:http';

export function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

// Header names the bridge must never forward from its client: the tests
// send these to the bridge and the fakes flag them if they arrive upstream.
export const CLIENT_HEADER_PREFIX = 'x-test-client';
export const CLIENT_SECRET_MARK = 'CLIENT-ONLY-SECRET';

export class FakeBase {
  constructor(name) {
    this.name = name;
    this.requests = [];
    this.violations = [];
    this.plans = new Map();
    this.persistent = new Map();
    this.sockets = new Set();
    this.waiters = [];
    this.server = null;
    this.port = 0;
    // The openai SDK's own headers (x-stainless-*, its user agent) come
    // from the bridge's client and must not be forwarded either; off only
    // when the SDK talks to a fake directly (the self-test).
    this.flagSdkHeaders = true;
  }

  async listen() {
    this.server = http.createServer((req, res) => {
      this.receive(req, res).catch((e) => {
        this.violate(`internal fake error: ${e.stack ?? e}`);
        try {
          if (!res.headersSent) res.writeHead(599);
          res.end();
        } catch { /* socket gone */ }
      });
    });
    this.server.keepAliveTimeout = 5_000;
    this.server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(0, '127.0.0.1', resolve);
    });
    this.port = this.server.address().port;
    return this;
  }

  get origin() {
    return `http://127.0.0.1:${this.port}`;
  }

  async close() {
    for (const s of this.sockets) s.destroy();
    this.server.closeAllConnections?.();
    await new Promise((r) => this.server.close(() => r()));
  }

  // Queues one-shot steps for a key, used in order.
  script(key, ...steps) {
    const q = this.plans.get(key) ?? [];
    q.push(...steps);
    this.plans.set(key, q);
    return this;
  }

  // The step for a key once its script is used up (undefined: the default).
  always(key, step) {
    if (step === undefined) this.persistent.delete(key);
    else this.persistent.set(key, step);
    return this;
  }

  // Forgets records, violations and scripts (between tests).
  reset() {
    this.requests.length = 0;
    this.violations.length = 0;
    this.plans.clear();
    this.persistent.clear();
  }

  violate(msg) {
    this.violations.push(msg);
  }

  nextStep(key, rec) {
    const q = this.plans.get(key);
    let step = q && q.length ? q.shift() : this.persistent.get(key);
    if (typeof step === 'function') step = step(rec);
    return step ?? {};
  }

  // The requests whose key matches (all when key is undefined).
  seen(key) {
    return key === undefined ? this.requests : this.requests.filter((r) => r.key === key);
  }

  // Resolves once `n` requests (for `key`, or any) arrived; rejects after ms.
  async waitRequests(n, ms = 10_000, key) {
    const start = Date.now();
    while (this.seen(key).length < n) {
      if (Date.now() - start > ms) {
        throw new Error(`${this.name}: timed out after ${ms} ms waiting for ${n} request(s)` +
          `${key ? ` for ${key}` : ''}; have ${this.seen(key).length}`);
      }
      await sleep(20);
    }
    return this.seen(key);
  }

  async readBody(req) {
    const parts = [];
    for await (const c of req) parts.push(c);
    return Buffer.concat(parts);
  }

  // Flags client headers that reached us (names and values).
  checkNoClientHeaders(rec) {
    for (let i = 0; i < rec.rawHeaders.length; i += 2) {
      const name = rec.rawHeaders[i].toLowerCase();
      const value = rec.rawHeaders[i + 1];
      if (name.startsWith(CLIENT_HEADER_PREFIX) || name.startsWith('x-pennyworth')
          || (this.flagSdkHeaders && (name.startsWith('x-stainless')
            || (name === 'user-agent' && /OpenAI\/JS/.test(value))))) {
        this.violate(`client header forwarded upstream: ${rec.rawHeaders[i]}: ${value}`);
      }
      if (value.includes(CLIENT_SECRET_MARK)) {
        this.violate(`client secret forwarded upstream in header ${rec.rawHeaders[i]}`);
      }
    }
  }

  // Common misbehaviour before any byte of the answer: returns true when
  // the step fully handled the request.
  async before(step, req, res, rec) {
    if (step.delayMs) await sleep(step.delayMs);
    if (step.reset) {
      rec.outcome = 'reset';
      req.socket.destroy();
      return true;
    }
    if (step.hang) {
      rec.outcome = 'hang';
      await new Promise((resolve) => {
        req.socket.once('close', resolve);
      });
      rec.clientGaveUpAt = Date.now();
      return true;
    }
    if (step.garbage !== undefined) {
      rec.outcome = 'garbage';
      const ct = step.contentType ?? 'application/json';
      res.writeHead(step.status ?? 200, { 'content-type': ct });
      res.end(typeof step.garbage === 'string' ? step.garbage : '<html>502 Bad Gateway</html');
      return true;
    }
    return false;
  }
}

// Writes pieces to a response with an optional gap (and `pauses`: {index:
// ms} after a given piece); cuts the socket after
// `cutAfter` pieces or ends the body cleanly after `endAfter` when asked.
// Resolves how it ended ('done', 'cut', 'ended early', 'gone': the client
// went away first).
export async function writeSequence(res, pieces, { gapMs = 0, cutAfter, endAfter, pauses = {} } = {}) {
  for (let i = 0; i < pieces.length; i++) {
    if (endAfter !== undefined && i === endAfter) {
      res.end();
      return 'ended early';
    }
    if (cutAfter !== undefined && i === cutAfter) {
      await new Promise((r) => res.write('', r));
      await sleep(20);
      res.socket?.destroy();
      return 'cut';
    }
    if (res.destroyed || res.socket?.destroyed) return 'gone';
    res.write(pieces[i]);
    if (gapMs) await sleep(gapMs);
    if (pauses[i]) await sleep(pauses[i]);
  }
  res.end();
  return 'done';
}

// Splits text into small pieces (words with their following space), so a
// streamed answer arrives in several deltas.
export function splitText(text) {
  return text.match(/\S+\s*|\s+/g) ?? [];
}
