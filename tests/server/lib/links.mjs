// Network links for the interop session suite (tests/interop/lib/
// session-suite.mjs): each `open` starts its own `pennyworth serve` (fresh
// database, so every session sees the seeded catalog) and hands the suite
// an SDK transport wrapped in a RecordingTransport whose tap records the raw
// server messages (tests/interop/lib/net-taps.mjs):
//
//   wsLink()      ws://.../ws with the SDK's WebSocket transport; the
//                 session ends with a close handshake
//   httpLink()    http://.../mcp with the SDK's Streamable HTTP transport;
//                 the session ends with DELETE, after which the session id
//                 must be unknown (404); a stateless (2026-07-28) exchange
//                 has no session to end
//   { tls: true } the same over wss/https, with a certificate made at run
//                 time and trusted by this process
//   { args }      extra `serve` options (e.g. SEP-1699 polling)
//
// `finish` stops the server and its check asserts a clean exit (0), which
// under the sanitizers also means no leak at exit.

import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RecordingTransport } from '../../interop/lib/recorder.mjs';
import { captureWsFrames, recordingFetch } from '../../interop/lib/net-taps.mjs';
import { serverEnv } from '../../interop/lib/env.mjs';
import { startServer, makeCert, trustCert, LATEST } from './harness.mjs';

const STDERR_KEPT = 64 * 1024;
const STATELESS = '2026-07-28';

async function serve(tag, { tls = false, args = [] } = {}) {
  if (!tls) return startServer({ tag, args });
  const dir = mkdtempSync(join(tmpdir(), `pw-server-${tag}-`));
  const c = makeCert(dir);
  trustCert(c.pem);
  return startServer({ tag, dir, removeDir: true, args: ['--tls-cert', c.cert, '--tls-key', c.key, ...args] });
}

// Ends the server by SIGTERM; resolves its exit.
async function stopped(srv, rec) {
  const exit = await srv.stop();
  rec.stderrText = srv.stderr().slice(-STDERR_KEPT);
  return exit;
}

function cleanExit(exit, srv) {
  assert.deepEqual(exit, { code: 0, signal: null },
    `the server exits 0 on SIGTERM after the session\n${srv.stderr().slice(-3000)}`);
}

export function wsLink({ tls = false, args = [] } = {}) {
  return {
    name: tls ? 'WebSocket (wss)' : 'WebSocket',
    async open(adapter, tag) {
      const srv = await serve(tag, { tls, args });
      const url = new URL(`${tls ? 'wss' : 'ws'}://127.0.0.1:${srv.port}/ws`);
      const rec = new RecordingTransport(adapter.transports.ws(url),
        { label: `${tag}:pennyworth`, capture: captureWsFrames });
      return {
        rec,
        env: serverEnv(srv.db),
        async finish(client) {
          await client.close();
          const exit = await stopped(srv, rec);
          return { check: () => cleanExit(exit, srv) };
        },
        cleanup: () => srv.stop(),
      };
    },
  };
}

export function httpLink({ tls = false, args = [] } = {}) {
  return {
    name: `Streamable HTTP${tls ? ' (https)' : ''}${args.length ? ` ${args.join(' ')}` : ''}`,
    async open(adapter, tag) {
      const srv = await serve(tag, { tls, args });
      const rec = new RecordingTransport(
        (recorder) => adapter.transports.http(new URL(srv.url), { fetch: recordingFetch(recorder) }),
        { label: `${tag}:pennyworth` });
      return {
        rec,
        env: serverEnv(srv.db),
        async finish(client) {
          // 2026-07-28 (a v2 client that negotiated it) has no sessions.
          const stateless = client.getNegotiatedProtocolVersion?.() === STATELESS;
          const sid = rec.sessionId;
          let after;
          if (!stateless) {
            await rec.terminateSession();
            after = await fetch(srv.url, {
              method: 'POST',
              headers: {
                'content-type': 'application/json', accept: 'application/json, text/event-stream',
                'mcp-session-id': sid ?? '', 'mcp-protocol-version': LATEST,
              },
              body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
            });
            await after.arrayBuffer();
          }
          await client.close();
          const exit = await stopped(srv, rec);
          return {
            check() {
              if (!stateless) {
                assert.match(sid ?? '', /^[0-9a-f]{32}$/, 'the server issued a session id');
                assert.equal(after.status, 404, 'the session is gone after DELETE');
              }
              cleanExit(exit, srv);
            },
          };
        },
        cleanup: () => srv.stop(),
      };
    },
  };
}
