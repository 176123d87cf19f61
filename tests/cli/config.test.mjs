// One configuration file for the server, access and the bridge
// (`serve --config FILE`, cli/serve_config.c): its "server" members are the
// serve flags of the same names, its "access" member is access's
// configuration, its other members the bridge's. Checked end to end against
// a real `pennyworth serve` on 127.0.0.1: every kind of server setting takes
// effect (a number, a list, a switch), a flag on the command line wins over
// the file, the access section's limits apply, and a wrong value or an
// unknown setting stops the server with a message naming the member.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { T, startServer, runPw, waitFor } from '../server/lib/harness.mjs';

const SHOP = 'https://shop.example';

function postMcp(srv, bytes) {
  return fetch(`${srv.base}/mcp`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
    body: 'x'.repeat(bytes),
    signal: AbortSignal.timeout(10_000),
  });
}

describe('serve --config FILE', () => {
  let dir;
  before(() => { dir = mkdtempSync(join(tmpdir(), 'pw-config-')); });
  after(() => rmSync(dir, { recursive: true, force: true }));

  function file(name, doc) {
    const path = join(dir, name);
    writeFileSync(path, JSON.stringify(doc));
    return path;
  }

  it('applies the server section, and a flag wins over it', T, async () => {
    const conf = file('server.json', {
      server: { listen: '127.0.0.1:1', max_body: 100, allow_origins: [SHOP], access_log: true },
      models: {},
    });
    // The harness's --listen 127.0.0.1:0 wins over the file's port 1.
    const srv = await startServer({ args: ['--config', conf], tag: 'config' });
    try {
      const big = await postMcp(srv, 200);
      assert.equal(big.status, 413, 'max_body from the file');
      await big.body?.cancel();
      const pre = await fetch(`${srv.base}/mcp`, { method: 'OPTIONS', headers: { origin: SHOP,
        'access-control-request-method': 'POST' }, signal: AbortSignal.timeout(10_000) });
      assert.equal(pre.headers.get('access-control-allow-origin'), SHOP, 'allow_origins');
      await pre.body?.cancel();
      await waitFor(() => (/"msg":"request"/.test(srv.stderr()) ? true : undefined), 10_000,
        'an access log line (access_log from the file)');
    } finally {
      assert.equal((await srv.stop()).code, 0);
    }
    const over = await startServer({ args: ['--config', conf, '--max-body', '1000'],
      tag: 'config-flag' });
    try {
      const res = await postMcp(over, 200);
      assert.notEqual(res.status, 413, 'the flag --max-body wins over the file');
      await res.body?.cancel();
    } finally {
      assert.equal((await over.stop()).code, 0);
    }
  });

  it('applies the access section', T, async () => {
    const sub = mkdtempSync(join(dir, 'access-'));
    const db = join(sub, 'catalog.db');
    const made = await runPw(['keys', 'create', '--db', db, '--name', 'someone', '--tier',
      'free']);
    assert.equal(made.code, 0, made.stderr);
    const conf = file('access.json', { access: { ipLimit: { requests: 2, windowSeconds: 60 } } });
    const srv = await startServer({ args: ['--config', conf], dir: sub, tag: 'config-access' });
    try {
      const statuses = [];
      for (let i = 0; i < 3; i++) {
        const res = await fetch(`${srv.base}/v1/models`, { headers: {
          authorization: 'Bearer pw_wrong' }, signal: AbortSignal.timeout(10_000) });
        statuses.push(res.status);
        await res.body?.cancel();
      }
      assert.deepEqual(statuses, [401, 401, 429], 'two failures allowed per address, then 429');
    } finally {
      assert.equal((await srv.stop()).code, 0);
    }
  });

  it('refuses a wrong value or an unknown setting, naming it', T, async () => {
    const cases = [
      [{ server: { max_body: 'big' } }, /\/server\/max_body: expected a non-negative integer/],
      [{ server: { allow_origins: [1] } }, /\/server\/allow_origins\/0/],
      [{ server: { listn: '127.0.0.1:0' } }, /\/server\/listn: no such server setting/],
      [{ server: { ip_limit: 'lots' } }, /--ip-limit/],
      [{ server: [] }, /\/server: expected an object/],
    ];
    for (const [i, [doc, want]] of cases.entries()) {
      const r = await runPw(['serve', '--listen', '127.0.0.1:0', '--db', join(dir, 'x.db'),
        '--config', file(`bad${i}.json`, doc)]);
      assert.equal(r.code, 2, `case ${i}: ${r.stderr}`);
      assert.match(r.stderr, want, `case ${i}`);
    }
  });
});
