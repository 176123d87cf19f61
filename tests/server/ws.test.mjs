// MCP over WebSocket against a real `pennyworth serve`: the upgrade checks
// (path, subprotocol, Origin), a session (initialize, tools/call, a
// fragmented message, ping), and every way a peer can break the framing
// rules, each answered with its close code: 1009 oversized, 1003 binary,
// 1007 invalid UTF-8, 1002 protocol errors. After all that the server
// still answers.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  T, LATEST, startServer, rawWs, OP, initialize, request, notification,
} from './lib/harness.mjs';

describe('MCP over WebSocket', () => {
  let srv;

  before(async () => {
    srv = await startServer({ tag: 'ws', args: ['--allow-origin', 'https://shop.example'] });
  });

  after(async () => {
    const r = await srv.stop();
    assert.equal(r.code, 0, `server exit ${JSON.stringify(r)}\n${srv.stderr()}`);
  });

  async function session() {
    const { status, headers, ws } = await rawWs(srv.port);
    assert.equal(status, 101);
    assert.equal(headers['sec-websocket-protocol'], 'mcp');
    ws.send(initialize(LATEST, 1));
    const init = await ws.nextMessage();
    assert.equal(init.id, 1);
    assert.equal(init.result.protocolVersion, LATEST);
    ws.send(notification('notifications/initialized'));
    return ws;
  }

  it('initializes and calls a tool', T, async () => {
    const ws = await session();
    ws.send(request('tools/call', { name: 'search_products', arguments: { query: 'phone', limit: 2 } }, 2));
    const res = await ws.nextMessage();
    assert.equal(res.id, 2);
    assert.ok(!res.result.isError, JSON.stringify(res));
    assert.ok(res.result.structuredContent.products.length >= 1);
    ws.destroy();
  });

  it('works with the platform WebSocket client', T, async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${srv.port}/ws`, 'mcp');
    const got = [];
    const done = new Promise((resolve, reject) => {
      ws.onmessage = (e) => {
        got.push(JSON.parse(String(e.data)));
        if (got.length === 2) resolve();
      };
      ws.onerror = () => reject(new Error('websocket error'));
    });
    await new Promise((r) => { ws.onopen = r; });
    assert.equal(ws.protocol, 'mcp');
    ws.send(JSON.stringify(initialize(LATEST, 10)));
    ws.send(JSON.stringify(notification('notifications/initialized')));
    ws.send(JSON.stringify(request('ping', undefined, 11)));
    await done;
    assert.deepEqual(got.map((m) => m.id), [10, 11]);
    ws.close(1000);
  });

  it('reassembles a fragmented message', T, async () => {
    const ws = await session();
    const text = JSON.stringify(request('tools/list', undefined, 3));
    const a = Math.floor(text.length / 3);
    ws.sendFrame(OP.TEXT, text.slice(0, a), { fin: false });
    ws.sendFrame(OP.PING, 'in between'); // control frames may interleave
    ws.sendFrame(OP.CONT, text.slice(a, 2 * a), { fin: false });
    ws.sendFrame(OP.CONT, text.slice(2 * a), { fin: true });
    let pong = null;
    let res = null;
    while (!res) {
      const f = await ws.nextFrame();
      assert.ok(f, 'connection closed early');
      if (f.opcode === OP.PONG) pong = f.payload.toString();
      if (f.opcode === OP.TEXT) res = JSON.parse(f.payload.toString());
    }
    assert.equal(pong, 'in between');
    assert.equal(res.id, 3);
    assert.ok(Array.isArray(res.result.tools));
    ws.destroy();
  });

  it('answers a malformed JSON text with a parse error and keeps the session', T, async () => {
    const ws = await session();
    ws.sendFrame(OP.TEXT, '{"jsonrpc": "2.0", "id": ');
    const err = await ws.nextMessage();
    assert.equal(err.error.code, -32700);
    ws.send(request('ping', undefined, 4));
    assert.equal((await ws.nextMessage()).id, 4);
    ws.destroy();
  });

  it('closes with 1009 when a message passes 4 MiB (in fragments)', T, async () => {
    const ws = await session();
    const chunk = 'x'.repeat(1024 * 1024);
    ws.sendFrame(OP.TEXT, chunk, { fin: false });
    for (let i = 0; i < 4; i++) ws.sendFrame(OP.CONT, chunk, { fin: i === 3 });
    const c = await ws.waitClose();
    assert.equal(c.code, 1009);
  });

  it('closes with 1009 for a single oversized frame', T, async () => {
    const ws = await session();
    ws.sendFrame(OP.TEXT, 'y'.repeat(4 * 1024 * 1024 + 1));
    assert.equal((await ws.waitClose()).code, 1009);
  });

  it('closes with 1009 on the first bytes of a frame that announces more than 4 MiB', T, async () => {
    const ws = await session();
    const t0 = Date.now();
    ws.sendFrame(OP.TEXT, 'z'.repeat(1000), { declare: 64 * 1024 * 1024 });
    assert.equal((await ws.waitClose(5000)).code, 1009);
    assert.ok(Date.now() - t0 < 2000, 'refused without waiting for the rest');
  });

  it('closes with 1009 when a fragment announces more than what is left of 4 MiB', T, async () => {
    const ws = await session();
    ws.sendFrame(OP.TEXT, 'a'.repeat(3 * 1024 * 1024), { fin: false });
    ws.sendFrame(OP.CONT, 'b'.repeat(1000), { declare: 1024 * 1024 + 1 });
    assert.equal((await ws.waitClose(5000)).code, 1009);
  });

  it('closes with 1003 on a binary message', T, async () => {
    const ws = await session();
    ws.sendFrame(OP.BINARY, Buffer.from(JSON.stringify(request('ping', undefined, 5))));
    assert.equal((await ws.waitClose()).code, 1003);
  });

  it('closes with 1007 on invalid UTF-8', T, async () => {
    const ws = await session();
    ws.sendFrame(OP.TEXT, Buffer.from([0x7b, 0x22, 0xc3, 0x28, 0x22, 0x7d]));
    assert.equal((await ws.waitClose()).code, 1007);
  });

  it('closes with 1007 on UTF-8 cut at the end of a message', T, async () => {
    const ws = await session();
    ws.sendFrame(OP.TEXT, Buffer.from([0x22, 0xe2, 0x82]));
    assert.equal((await ws.waitClose()).code, 1007);
  });

  it('closes with 1002 on a reserved opcode', T, async () => {
    const ws = await session();
    ws.sendFrame(3, 'reserved');
    assert.equal((await ws.waitClose()).code, 1002);
  });

  it('closes with 1002 on reserved bits', T, async () => {
    const ws = await session();
    ws.sendFrame(OP.TEXT, '{}', { rsv: 4 });
    assert.equal((await ws.waitClose()).code, 1002);
  });

  it('closes with 1002 on a continuation without a start', T, async () => {
    const ws = await session();
    ws.sendFrame(OP.CONT, 'orphan');
    assert.equal((await ws.waitClose()).code, 1002);
  });

  it('refuses an upgrade without the mcp subprotocol (400)', T, async () => {
    const r = await rawWs(srv.port, { protocol: null });
    assert.equal(r.status, 400);
    assert.equal(JSON.parse(r.body).id, null);
    r.sock.destroy();
    const r2 = await rawWs(srv.port, { protocol: 'chat, superchat' });
    assert.equal(r2.status, 400);
    r2.sock.destroy();
  });

  it('refuses an upgrade on another path (404)', T, async () => {
    const r = await rawWs(srv.port, { path: '/nope' });
    assert.equal(r.status, 404);
    r.sock.destroy();
  });

  it('refuses a foreign Origin (403) and accepts local and configured ones', T, async () => {
    const bad = await rawWs(srv.port, { origin: 'https://evil.example' });
    assert.equal(bad.status, 403);
    const body = JSON.parse(bad.body);
    assert.equal(body.id, null);
    assert.ok(body.error.message.includes('Origin'));
    bad.sock.destroy();
    for (const origin of ['http://localhost:5173', 'http://127.0.0.1', 'https://[::1]:8443', 'https://shop.example']) {
      const ok = await rawWs(srv.port, { origin });
      assert.equal(ok.status, 101, origin);
      ok.ws.destroy();
    }
    for (const origin of ['http://localhost.evil.example', 'null', 'http://127.0.0.1.nip.io:80']) {
      const no = await rawWs(srv.port, { origin });
      assert.equal(no.status, 403, origin);
      no.sock.destroy();
    }
  });

  it('still serves after all of that', T, async () => {
    const ws = await session();
    ws.send(request('ping', undefined, 99));
    assert.equal((await ws.nextMessage()).id, 99);
    ws.sendFrame(OP.CLOSE, Buffer.from([0x03, 0xe8]));
    assert.equal((await ws.waitClose()).code, 1000);
  });
});

describe('WebSocket keep-alive (--ws-ping)', () => {
  let srv;

  before(async () => { srv = await startServer({ tag: 'ping', args: ['--ws-ping', '1'] }); });
  after(async () => {
    const r = await srv.stop();
    assert.equal(r.code, 0, srv.stderr());
  });

  it('pings an idle peer and drops it when no pong comes back', T, async () => {
    const { ws } = await rawWs(srv.port);
    const t0 = Date.now();
    const ping = await ws.nextFrame(5000);
    assert.equal(ping.opcode, OP.PING);
    // Never answer: the server hangs up about one more interval later.
    const end = await ws.nextFrame(6000).catch((e) => e);
    assert.ok(end === null || end.opcode === OP.CLOSE, `expected the connection to end, got ${end?.opcode ?? end}`);
    assert.ok(Date.now() - t0 < 6000);
  });

  it('keeps a peer that answers pings', T, async () => {
    const { ws } = await rawWs(srv.port);
    ws.send(initialize(LATEST, 1));
    assert.equal((await ws.nextMessage()).id, 1);
    for (let i = 0; i < 3; i++) {
      const f = await ws.nextFrame(5000);
      assert.equal(f.opcode, OP.PING);
      ws.sendFrame(OP.PONG, f.payload);
    }
    ws.send(request('ping', undefined, 2));
    assert.equal((await ws.nextMessage()).id, 2);
    ws.destroy();
  });
});
