// The static-file route (server/static.c) as a browser meets it, over real
// HTTP against `pennyworth serve --web-root`: the page and its assets with
// the right types and validators, HEAD, 304, 405, 404 for traversal (sent
// raw, so no client normalises the path first), dot files and a symlink out
// of the web root, and the MCP routes not shadowed by "/".
//
// SPDX-License-Identifier: MIT

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { mkdtempSync, mkdirSync, writeFileSync, symlinkSync, rmSync, readFileSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { T, startServer, rawWs, initialize } from '../server/lib/harness.mjs';
import { webRoot } from './lib.mjs';

// Sends one raw HTTP/1.1 request; resolves {status, headers, body}.
function rawGet(port, target, method = 'GET') {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    let buf = '';
    const timer = setTimeout(() => { sock.destroy(); reject(new Error('raw request timed out')); }, 10_000);
    sock.on('connect', () => sock.write(`${method} ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\n` +
      'Connection: close\r\n\r\n'));
    sock.on('data', (d) => { buf += d.toString('latin1'); });
    sock.on('error', (e) => { clearTimeout(timer); reject(e); });
    sock.on('close', () => {
      clearTimeout(timer);
      const end = buf.indexOf('\r\n\r\n');
      const head = buf.slice(0, end).split('\r\n');
      const headers = {};
      for (const l of head.slice(1)) {
        const c = l.indexOf(':');
        headers[l.slice(0, c).trim().toLowerCase()] = l.slice(c + 1).trim();
      }
      resolve({ status: Number(head[0].split(' ')[1]), headers, body: buf.slice(end + 4) });
    });
  });
}

describe('static files of the storefront page', () => {
  let srv;
  let root;

  before(async () => {
    root = webRoot();
    srv = await startServer({ tag: 'web-static', args: ['--web-root', root] });
  });

  after(async () => {
    const r = await srv.stop();
    assert.equal(r.code, 0, `server exit ${JSON.stringify(r)}\n${srv.stderr()}`);
  });

  it('serves the page at / with its assets and types', T, async () => {
    const page = await fetch(`${srv.base}/`);
    assert.equal(page.status, 200);
    assert.equal(page.headers.get('content-type'), 'text/html; charset=utf-8');
    assert.equal(page.headers.get('cache-control'), 'no-cache');
    assert.equal(page.headers.get('x-content-type-options'), 'nosniff');
    const html = await page.text();
    assert.equal(html, readFileSync(join(root, 'index.html'), 'utf8'));
    assert.match(html, /Content-Security-Policy/);
    const types = {
      'app.js': 'text/javascript; charset=utf-8',
      'style.css': 'text/css; charset=utf-8',
      'placeholder.svg': 'image/svg+xml',
      'licenses.txt': 'text/plain; charset=utf-8',
    };
    for (const [file, type] of Object.entries(types)) {
      const r = await fetch(`${srv.base}/${file}`);
      assert.equal(r.status, 200, file);
      assert.equal(r.headers.get('content-type'), type, file);
      const body = Buffer.from(await r.arrayBuffer());
      assert.ok(body.equals(readFileSync(join(root, file))), `${file} body`);
    }
  });

  it('answers HEAD with the length and no body, and 304 for a known ETag', T, async () => {
    const g = await fetch(`${srv.base}/app.js`);
    const len = (await g.arrayBuffer()).byteLength;
    const etag = g.headers.get('etag');
    assert.match(etag, /^"[0-9a-f]+-[0-9a-f]+"$/);
    assert.match(g.headers.get('last-modified'), /^[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT$/);
    const h = await rawGet(srv.port, '/app.js', 'HEAD');
    assert.equal(h.status, 200);
    assert.equal(Number(h.headers['content-length']), len);
    assert.equal(h.body, '');
    const c = await fetch(`${srv.base}/app.js`, { headers: { 'if-none-match': `"other", ${etag}` } });
    assert.equal(c.status, 304);
    assert.equal(c.headers.get('etag'), etag);
    assert.equal((await c.arrayBuffer()).byteLength, 0);
    const w = await fetch(`${srv.base}/app.js`, { headers: { 'if-none-match': `W/${etag}` } });
    assert.equal(w.status, 304, 'weak comparison');
    const m = await fetch(`${srv.base}/app.js`, { headers: { 'if-none-match': '"nope"' } });
    assert.equal(m.status, 200);
    await m.arrayBuffer();
  });

  it('refuses other methods with 405 and Allow', T, async () => {
    for (const method of ['POST', 'PUT', 'DELETE']) {
      const r = await fetch(`${srv.base}/index.html`, { method, headers: { 'content-type': 'text/plain' }, body: method === 'DELETE' ? undefined : 'x' });
      assert.equal(r.status, 405, method);
      assert.equal(r.headers.get('allow'), 'GET, HEAD');
      await r.arrayBuffer();
    }
  });

  it('answers 404 for traversal, dot files and missing files', T, async () => {
    const targets = ['/../../../../etc/passwd', '/%2e%2e/%2e%2e/etc/passwd', '/..%2f..%2fetc%2fpasswd',
      '/.hidden', '/a/../../etc/passwd', '/missing.js', '/index.html/', '//etc/passwd',
      '/%5c..%5cetc%5cpasswd'];
    for (const t of targets) {
      const r = await rawGet(srv.port, t);
      assert.ok(r.status === 404 || r.status === 400, `${t}: HTTP ${r.status}`);
      assert.doesNotMatch(r.body, /root:/, t);
    }
  });

  it('leaves /mcp and /ws to their own routes', T, async () => {
    const m = await fetch(`${srv.base}/mcp`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify(initialize()),
    });
    assert.equal(m.status, 200);
    assert.equal((await m.json()).result.serverInfo.name, 'pennyworth');
    const w = await rawWs(srv.port);
    assert.equal(w.status, 101);
    w.ws.send(initialize());
    const reply = await w.ws.nextMessage();
    assert.equal(reply.result.serverInfo.name, 'pennyworth');
    w.ws.destroy();
  });
});

describe('a web root with a symlink leading out of it', () => {
  let srv;
  let dir;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pw-web-root-'));
    const inner = join(dir, 'root');
    const outside = join(dir, 'outside.txt');
    writeFileSync(outside, 'outside secret');
    mkdirSync(inner);
    writeFileSync(join(inner, 'index.html'), '<!doctype html><title>t</title>');
    writeFileSync(join(inner, 'page.txt'), 'inside');
    symlinkSync('../outside.txt', join(inner, 'out.txt'));
    symlinkSync('page.txt', join(inner, 'in.txt'));
    srv = await startServer({ tag: 'web-links', args: ['--web-root', inner] });
  });

  after(async () => {
    const r = await srv.stop();
    rmSync(dir, { recursive: true, force: true });
    assert.equal(r.code, 0, `server exit ${JSON.stringify(r)}\n${srv.stderr()}`);
  });

  it('follows links that stay inside and refuses the one that leaves', T, async () => {
    const inside = await fetch(`${srv.base}/in.txt`);
    assert.equal(inside.status, 200);
    assert.equal(await inside.text(), 'inside');
    const out = await fetch(`${srv.base}/out.txt`);
    assert.equal(out.status, 404);
    assert.doesNotMatch(await out.text(), /outside secret/);
  });

  it('serves each version of a changed file, never a stale copy', T, async () => {
    const file = join(dir, 'root', 'page.txt');
    assert.equal(await (await fetch(`${srv.base}/page.txt`)).text(), 'inside');
    assert.equal(await (await fetch(`${srv.base}/page.txt`)).text(), 'inside', 'a cached read');
    writeFileSync(file, 'rewritten, longer');
    assert.equal(await (await fetch(`${srv.base}/page.txt`)).text(), 'rewritten, longer');
    // Same size, another modification time: still a new version.
    writeFileSync(file, 'REWRITTEN, LONGER');
    utimesSync(file, new Date(2001, 1, 1), new Date(2001, 1, 1));
    assert.equal(await (await fetch(`${srv.base}/page.txt`)).text(), 'REWRITTEN, LONGER');
  });

  it('serves a large file to many clients at once, whole', T, async () => {
    const big = Buffer.alloc(4 * 1024 * 1024);
    for (let i = 0; i < big.length; i++) big[i] = (i * 31) & 0xff;
    writeFileSync(join(dir, 'root', 'big.bin'), big);
    const got = await Promise.all(Array.from({ length: 20 }, async () =>
      Buffer.from(await (await fetch(`${srv.base}/big.bin`)).arrayBuffer())));
    for (const b of got) assert.ok(b.equals(big));
  });

  it('refuses to start with a web root that does not exist', T, async () => {
    await assert.rejects(startServer({ tag: 'web-missing', args: ['--web-root', join(dir, 'nope')] }),
      /web root .*nope/);
  });
});
