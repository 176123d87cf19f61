// Test harness for the network tests: a real `pennyworth serve` on
// 127.0.0.1 with an ephemeral port (--listen 127.0.0.1:0; the port is read
// from the line the server prints), a fresh database per server, stopping by
// PID, fd and memory readings through /proc, self-signed certificates made
// with the openssl CLI, raw HTTP exchanges on their own connections, a small
// raw WebSocket client (so tests can send frames no well-behaved client
// would), and SSE helpers.
//
// Every wait is bounded; every server is stopped (SIGTERM, then SIGKILL
// after a bound) by its PID.

import { spawn, execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, readdirSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import net from 'node:net';
import tls from 'node:tls';
import { randomBytes } from 'node:crypto';
import { childEnv } from '../../interop/lib/env.mjs';

export const TEST_TIMEOUT_MS = 60_000;
export const T = { timeout: TEST_TIMEOUT_MS };
export const LATEST = '2025-11-25';

export function pwBin() {
  const bin = process.env.PW_BIN;
  if (!bin) throw new Error('PW_BIN is not set; run with `meson test --suite server`');
  if (!existsSync(bin)) throw new Error(`PW_BIN=${bin} does not exist; build it first`);
  return bin;
}

function serveEnv(extra = {}) {
  return childEnv({ PENNYWORTH_LOG: 'info', ...extra });
}

export function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

// Resolves with the first value poll() gives that is not undefined, or
// rejects after ms.
export async function waitFor(poll, ms, what) {
  const start = Date.now();
  for (;;) {
    const v = await poll();
    if (v !== undefined) return v;
    if (Date.now() - start >= ms) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(25);
  }
}

// Starts `pennyworth serve`; resolves once it printed its address.
// The database goes in `dir` (default: a new temporary directory); stop()
// removes the directory when it made it, or when removeDir is set.
export async function startServer({ args = [], env = {}, tag = 'srv', dir, removeDir = !dir } = {}) {
  const own = removeDir;
  dir = dir ?? mkdtempSync(join(tmpdir(), `pw-server-${tag}-`));
  const db = join(dir, 'catalog.db');
  const child = spawn(pwBin(), ['serve', '--listen', '127.0.0.1:0', '--db', db, ...args], {
    env: serveEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => { out += d; });
  child.stderr.on('data', (d) => { err += d; });
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  let gone = null;
  exited.then((r) => { gone = r; });
  const m = await waitFor(() => {
    if (gone) throw new Error(`server exited early (${JSON.stringify(gone)}): ${err}`);
    const hit = /listening on (https?):\/\/127\.0\.0\.1:(\d+)/.exec(out);
    return hit ?? undefined;
  }, 15_000, 'the server to listen');
  const scheme = m[1];
  const port = Number(m[2]);
  const srv = {
    pid: child.pid,
    port,
    scheme,
    dir,
    db,
    base: `${scheme}://127.0.0.1:${port}`,
    url: `${scheme}://127.0.0.1:${port}/mcp`,
    exited,
    stderr: () => err,
    stdout: () => out,
    // Stops it by PID: SIGTERM, then SIGKILL after `ms`. Resolves {code, signal}.
    async stop(ms = 15_000) {
      if (!gone) {
        try { process.kill(child.pid, 'SIGTERM'); } catch { /* gone */ }
        const t = setTimeout(() => { try { process.kill(child.pid, 'SIGKILL'); } catch { /* gone */ } }, ms);
        await exited;
        clearTimeout(t);
      }
      if (own) rmSync(dir, { recursive: true, force: true });
      return gone ?? (await exited);
    },
  };
  return srv;
}

// Runs `pennyworth ARGS` to completion (bounded).
export function runPw(args, env = {}, timeoutMs = 15_000) {
  return new Promise((resolve) => {
    execFile(pwBin(), args, { env: serveEnv(env), timeout: timeoutMs, killSignal: 'SIGKILL' },
      (error, stdout, stderr) => resolve({ code: error ? (error.code ?? 1) : 0, stdout, stderr }));
  });
}

// The open file descriptors and the resident set size (bytes) of a process.
export function fdCount(pid) {
  return readdirSync(`/proc/${pid}/fd`).length;
}

// Resolves the open fd count of `pid` once it has not changed for `ms`
// (bounded: 20 s at most).
export async function settledFds(pid, ms = 1000) {
  let last = fdCount(pid);
  let since = Date.now();
  const deadline = Date.now() + 20_000;
  while (Date.now() - since < ms && Date.now() < deadline) {
    await sleep(100);
    const now = fdCount(pid);
    if (now !== last) {
      last = now;
      since = Date.now();
    }
  }
  return last;
}

export function rssBytes(pid) {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(m[1]) * 1024;
}

// TLS ------------------------------------------------------------------------------

// Makes a self-signed certificate for localhost and 127.0.0.1 in `dir` with
// the openssl CLI; returns {cert, key} paths and the PEM (to trust).
export function makeCert(dir) {
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1',
    '-nodes', '-keyout', key, '-out', cert, '-days', '1',
    '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'],
  { stdio: 'ignore', timeout: 20_000 });
  return { cert, key, pem: readFileSync(cert, 'utf8') };
}

// Adds a PEM to the CAs this process trusts by default (fetch and the
// platform WebSocket included), for clients that take no `ca` option.
export function trustCert(pem) {
  const now = tls.getCACertificates('default');
  if (!now.includes(pem)) tls.setDefaultCACertificates([...now, pem]);
}

// JSON-RPC ----------------------------------------------------------------------

let nextId = 1;
export function request(method, params, id = nextId++) {
  const m = { jsonrpc: '2.0', id, method };
  if (params !== undefined) m.params = params;
  return m;
}
export function notification(method, params) {
  const m = { jsonrpc: '2.0', method };
  if (params !== undefined) m.params = params;
  return m;
}
export function initialize(version = LATEST, id = nextId++) {
  return request('initialize', {
    protocolVersion: version,
    capabilities: {},
    clientInfo: { name: 'pennyworth-server-tests', version: '1.0.0' },
  }, id);
}

export const ACCEPT_BOTH = 'application/json, text/event-stream';

// POSTs a message to /mcp; resolves the fetch Response.
export function post(srv, body, { sid, version, accept = ACCEPT_BOTH, contentType = 'application/json', origin, headers = {} } = {}) {
  const h = { 'content-type': contentType, accept, ...headers };
  if (sid) h['mcp-session-id'] = sid;
  if (version) h['mcp-protocol-version'] = version;
  if (origin) h.origin = origin;
  if (accept === null) delete h.accept;
  return fetch(srv.url, { method: 'POST', headers: h, body: typeof body === 'string' ? body : JSON.stringify(body) });
}

// Initializes a Streamable HTTP session (and sends initialized); resolves its id.
export async function openSession(srv, version = LATEST) {
  const r = await post(srv, initialize(version));
  if (r.status !== 200) throw new Error(`initialize: HTTP ${r.status}: ${await r.text()}`);
  const sid = r.headers.get('mcp-session-id');
  await r.json();
  const n = await post(srv, notification('notifications/initialized'), { sid, version });
  if (n.status !== 202) throw new Error(`initialized: HTTP ${n.status}`);
  return sid;
}

// One HTTP/1.1 exchange on a connection of its own ("Connection: close", so
// no client pool keeps server fds open); resolves {status (0 when the
// connection ended without an answer), headers (lower case names), body}.
export function rawHttp(port, method, path, headers = {}, body = '', ms = 10_000) {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    let buf = '';
    const timer = setTimeout(() => { sock.destroy(); reject(new Error('raw HTTP timed out')); }, ms);
    sock.on('connect', () => {
      const h = { host: `127.0.0.1:${port}`, connection: 'close', 'content-length': Buffer.byteLength(body), ...headers };
      const lines = [`${method} ${path} HTTP/1.1`, ...Object.entries(h).map(([k, v]) => `${k}: ${v}`)];
      sock.write(`${lines.join('\r\n')}\r\n\r\n${body}`);
    });
    sock.on('data', (d) => { buf += d; });
    sock.on('error', (e) => { clearTimeout(timer); reject(e); });
    sock.on('close', () => {
      clearTimeout(timer);
      const end = buf.indexOf('\r\n\r\n');
      const lines = buf.slice(0, end < 0 ? buf.length : end).split('\r\n');
      const headers = {};
      for (const l of lines.slice(1)) {
        const c = l.indexOf(':');
        if (c > 0) headers[l.slice(0, c).trim().toLowerCase()] = l.slice(c + 1).trim();
      }
      resolve({ status: Number(lines[0].split(' ')[1]) || 0, headers, body: end < 0 ? '' : buf.slice(end + 4) });
    });
  });
}

export const JSON_HEADERS = { 'content-type': 'application/json', accept: ACCEPT_BOTH };

// A TCP connection to the server (resolves once connected).
export function connect(port) {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

// SSE ---------------------------------------------------------------------------

// Reads an SSE body incrementally. next() resolves {id, event, data, retry,
// t} for every block (including priming blocks with empty data; t is the
// performance.now() of the read that completed it); comments are counted in
// `comments`.
export class SseReader {
  constructor(body) {
    this.reader = body.getReader();
    this.buf = '';
    this.done = false;
    this.comments = 0;
    this.decoder = new TextDecoder();
  }

  async next(ms = 10_000) {
    const deadline = Date.now() + ms;
    for (;;) {
      const idx = this.buf.indexOf('\n\n');
      if (idx >= 0) {
        const block = this.buf.slice(0, idx);
        this.buf = this.buf.slice(idx + 2);
        const ev = { id: undefined, event: undefined, data: undefined, retry: undefined };
        let comment = true;
        for (const line of block.split('\n')) {
          if (line.startsWith(':')) continue;
          comment = false;
          const c = line.indexOf(':');
          const field = c < 0 ? line : line.slice(0, c);
          let value = c < 0 ? '' : line.slice(c + 1);
          if (value.startsWith(' ')) value = value.slice(1);
          if (field === 'data') ev.data = ev.data === undefined ? value : `${ev.data}\n${value}`;
          else if (field === 'id') ev.id = value;
          else if (field === 'event') ev.event = value;
          else if (field === 'retry') ev.retry = Number(value);
        }
        if (comment) {
          this.comments++;
          continue;
        }
        ev.t = this.lastReadAt;
        return ev;
      }
      if (this.done) return null;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('timed out waiting for an SSE event');
      let timer;
      const r = await Promise.race([
        this.reader.read(),
        new Promise((_, rej) => { timer = setTimeout(() => rej(new Error('timed out waiting for SSE data')), left); }),
      ]).finally(() => clearTimeout(timer));
      if (r.done) this.done = true;
      else this.buf += this.decoder.decode(r.value, { stream: true });
      this.lastReadAt = performance.now();
    }
  }

  // The next event that carries a JSON-RPC message (skips priming/retry blocks).
  async nextMessage(ms = 10_000) {
    for (;;) {
      const ev = await this.next(ms);
      if (!ev) return null;
      if (ev.data) return { ...ev, msg: JSON.parse(ev.data) };
    }
  }

  async cancel() {
    try { await this.reader.cancel(); } catch { /* already closed */ }
  }
}

// Opens the session's GET stream; resolves {res, sse}.
export async function openGet(srv, sid, { lastEventId, accept = 'text/event-stream', signal } = {}) {
  const h = { accept, 'mcp-session-id': sid };
  if (lastEventId) h['last-event-id'] = lastEventId;
  const res = await fetch(srv.url, { headers: h, signal });
  const sse = /text\/event-stream/.test(res.headers.get('content-type') ?? '') ? new SseReader(res.body) : null;
  return { res, sse };
}

// Raw WebSocket client --------------------------------------------------------------

export const OP = { CONT: 0, TEXT: 1, BINARY: 2, CLOSE: 8, PING: 9, PONG: 10 };

// Connects and performs the opening handshake by hand. Resolves
// { status, headers, ws } where ws is a RawWs when status is 101.
export function rawWs(port, { path = '/ws', protocol = 'mcp', origin, tlsOptions } = {}) {
  return new Promise((resolve, reject) => {
    const sock = tlsOptions
      ? tls.connect({ host: '127.0.0.1', port, servername: 'localhost', ...tlsOptions })
      : net.connect({ host: '127.0.0.1', port });
    const key = randomBytes(16).toString('base64');
    let buf = Buffer.alloc(0);
    const timer = setTimeout(() => { sock.destroy(); reject(new Error('WebSocket handshake timed out')); }, 10_000);
    sock.once('error', (e) => { clearTimeout(timer); reject(e); });
    sock.once(tlsOptions ? 'secureConnect' : 'connect', () => {
      const lines = [`GET ${path} HTTP/1.1`, `Host: 127.0.0.1:${port}`, 'Upgrade: websocket',
        'Connection: Upgrade', `Sec-WebSocket-Key: ${key}`, 'Sec-WebSocket-Version: 13'];
      if (protocol) lines.push(`Sec-WebSocket-Protocol: ${protocol}`);
      if (origin) lines.push(`Origin: ${origin}`);
      sock.write(`${lines.join('\r\n')}\r\n\r\n`);
    });
    const onData = (d) => {
      buf = Buffer.concat([buf, d]);
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      sock.off('data', onData);
      clearTimeout(timer);
      const head = buf.subarray(0, end).toString('latin1').split('\r\n');
      const status = Number(head[0].split(' ')[1]);
      const headers = {};
      for (const l of head.slice(1)) {
        const c = l.indexOf(':');
        headers[l.slice(0, c).trim().toLowerCase()] = l.slice(c + 1).trim();
      }
      const rest = buf.subarray(end + 4);
      if (status !== 101) {
        resolve({ status, headers, body: rest.toString('utf8'), ws: null, sock });
        return;
      }
      resolve({ status, headers, ws: new RawWs(sock, rest) });
    };
    sock.on('data', onData);
  });
}

export class RawWs {
  constructor(sock, initial) {
    this.sock = sock;
    this.buf = Buffer.alloc(0);
    this.frames = [];
    this.waiters = [];
    this.closed = false;
    this.closeFrame = null;
    sock.on('data', (d) => this.feed(d));
    sock.on('close', () => { this.closed = true; this.wake(); });
    sock.on('error', () => { /* reported as closed */ });
    if (initial.length) this.feed(initial);
  }

  feed(d) {
    this.buf = Buffer.concat([this.buf, d]);
    for (;;) {
      if (this.buf.length < 2) break;
      const b0 = this.buf[0];
      const b1 = this.buf[1];
      let len = b1 & 0x7f;
      let off = 2;
      if (len === 126) {
        if (this.buf.length < 4) break;
        len = this.buf.readUInt16BE(2);
        off = 4;
      } else if (len === 127) {
        if (this.buf.length < 10) break;
        len = Number(this.buf.readBigUInt64BE(2));
        off = 10;
      }
      if (this.buf.length < off + len) break;
      const frame = {
        fin: !!(b0 & 0x80), opcode: b0 & 0x0f, payload: this.buf.subarray(off, off + len), t: performance.now(),
      };
      this.buf = this.buf.subarray(off + len);
      if (frame.opcode === OP.CLOSE) {
        this.closeFrame = {
          code: frame.payload.length >= 2 ? frame.payload.readUInt16BE(0) : 1005,
          reason: frame.payload.subarray(2).toString('utf8'),
        };
      }
      this.frames.push(frame);
    }
    this.wake();
  }

  wake() {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  async nextFrame(ms = 10_000) {
    const deadline = Date.now() + ms;
    while (!this.frames.length) {
      if (this.closed) return null;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('timed out waiting for a WebSocket frame');
      await new Promise((r) => {
        const t = setTimeout(r, left);
        this.waiters.push(() => { clearTimeout(t); r(); });
      });
    }
    return this.frames.shift();
  }

  // The next complete text message, parsed as JSON (control frames
  // skipped); with `stamped`, {msg, t}, t being when its last frame came in.
  async nextMessage(ms = 10_000, { stamped = false } = {}) {
    let text = '';
    for (;;) {
      const f = await this.nextFrame(ms);
      if (!f) return null;
      if (f.opcode === OP.CLOSE) throw new Error(`closed ${this.closeFrame.code} ${this.closeFrame.reason}`);
      if (f.opcode !== OP.TEXT && f.opcode !== OP.CONT) continue;
      text += f.payload.toString('utf8');
      if (f.fin) return stamped ? { msg: JSON.parse(text), t: f.t } : JSON.parse(text);
    }
  }

  // Waits for the server's close frame (or the socket closing).
  async waitClose(ms = 10_000) {
    for (;;) {
      const f = await this.nextFrame(ms);
      if (!f || f.opcode === OP.CLOSE) return this.closeFrame ?? { code: 1006, reason: '' };
    }
  }

  // Sends one frame. `declare` puts another payload length in the header
  // than the bytes sent (a frame cut short, or one announcing a huge size).
  sendFrame(opcode, payload, { fin = true, rsv = 0, mask = true, declare } = {}) {
    const data = Buffer.isBuffer(payload) ? payload : Buffer.from(payload ?? '', 'utf8');
    const n = declare ?? data.length;
    const head = [];
    head.push((fin ? 0x80 : 0) | (rsv << 4) | opcode);
    const m = mask ? 0x80 : 0;
    if (n < 126) head.push(m | n);
    else if (n < 65536) head.push(m | 126, n >> 8, n & 255);
    else {
      head.push(m | 127);
      const l = Buffer.alloc(8);
      l.writeBigUInt64BE(BigInt(n));
      head.push(...l);
    }
    let body = data;
    const parts = [Buffer.from(head)];
    if (mask) {
      const key = randomBytes(4);
      body = Buffer.alloc(data.length);
      for (let i = 0; i < data.length; i++) body[i] = data[i] ^ key[i & 3];
      parts.push(key);
    }
    parts.push(body);
    this.sock.write(Buffer.concat(parts));
  }

  send(msg) {
    this.sendFrame(OP.TEXT, JSON.stringify(msg));
  }

  destroy() {
    this.sock.destroy();
  }
}
