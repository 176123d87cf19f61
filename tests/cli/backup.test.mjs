// `pennyworth backup` and `restore` end to end, against a real `pennyworth
// serve` on 127.0.0.1 (tests/server/lib/harness.mjs): backups taken while
// the server writes (API keys created one after another through /admin/)
// open, pass integrity_check and hold a consistent snapshot (the first M
// keys created, for an M between the counts before and after the backup);
// restore refuses while the server has the database open and changes
// nothing, then works once it stopped (the old database kept as .bak) and a
// new server serves what was restored; bad backups are refused, each case a
// row of `badBackups`; --force, and no temporary files left behind. The
// databases are read with node:sqlite, read-only.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, readdirSync, existsSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { T, startServer, runPw } from '../server/lib/harness.mjs';

const ADMIN = 'admin-test-key-0123456789abcdef';
const PRODUCTS = 20000; // a database of some 5,000 pages: a backup takes several steps
const BACKUPS = 3; // backups taken while the writes go on

function readDb(path, fn) {
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

const integrity = (path) => readDb(path, (db) => db.prepare('PRAGMA integrity_check').get().integrity_check);
const count = (path, table) => readDb(path, (db) => db.prepare(`SELECT count(*) AS n FROM ${table}`).get().n);
const keyNames = (path) => readDb(path, (db) =>
  db.prepare('SELECT name FROM api_keys').all().map((r) => r.name));

async function createKey(srv, name) {
  const res = await fetch(`${srv.base}/admin/keys`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name, tier: 'free' }),
    signal: AbortSignal.timeout(10_000),
  });
  assert.equal(res.status, 201, await res.text());
}

describe('backup and restore', () => {
  let dir;
  let srv;
  let db;
  const created = []; // key names, in the order the server committed them

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pw-cli-backup-'));
    db = join(dir, 'catalog.db');
    const gen = await runPw(['catalog', 'generate', String(PRODUCTS), '--output', join(dir, 'p.jsonl')]);
    assert.equal(gen.code, 0, gen.stderr);
    const imp = await runPw(['catalog', 'import', join(dir, 'p.jsonl'), '--db', db], {}, 60_000);
    assert.equal(imp.code, 0, imp.stderr);
    srv = await startServer({ dir, removeDir: false, env: { PENNYWORTH_ADMIN_KEY: ADMIN } });
  });

  after(async () => {
    if (srv) await srv.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('backs up while the server writes: each copy is sound and one snapshot', T, async () => {
    let writing = true;
    const writer = (async () => {
      for (let i = 0; writing; i++) {
        const name = `k${String(i).padStart(5, '0')}`;
        await createKey(srv, name);
        created.push(name);
      }
    })();
    try {
      for (let b = 0; b < BACKUPS; b++) {
        const file = join(dir, `copy${b}.db`);
        const before = created.length;
        const r = await runPw(['backup', file, '--db', db], {}, 30_000);
        const afterCount = created.length;
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, /^backed up .* to .*copy\d\.db: \d+ pages of 4096 bytes/);
        assert.equal(integrity(file), 'ok');
        assert.equal(count(file, 'products'), PRODUCTS);
        // The copy is one moment of the database: exactly the first M keys,
        // M no fewer than existed when the backup began (the key being
        // created then may be in or out) and no more than at its end.
        const names = keyNames(file).sort();
        assert.ok(names.length >= before && names.length <= afterCount + 1,
          `${names.length} keys, expected ${before}..${afterCount + 1}`);
        assert.deepEqual(names, Array.from({ length: names.length },
          (_, i) => `k${String(i).padStart(5, '0')}`));
        // A single self-contained file (journal_mode delete), nothing beside it.
        assert.equal(readDb(file, (d) => d.prepare('PRAGMA journal_mode').get().journal_mode),
          'delete');
        assert.ok(!existsSync(`${file}-wal`));
      }
    } finally {
      writing = false;
      await writer;
    }
    assert.ok(created.length > 0);
  });

  it('refuses an existing FILE without --force and replaces it with it', T, async () => {
    const file = join(dir, 'copy0.db');
    const size = statSync(file).size;
    const r = await runPw(['backup', file, '--db', db]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /already exists \(--force replaces it\)/);
    assert.equal(statSync(file).size, size);
    const f = await runPw(['backup', file, '--db', db, '--force']);
    assert.equal(f.code, 0, f.stderr);
    assert.equal(keyNames(file).length, created.length);
  });

  it('refuses to restore while the server has the database open', T, async () => {
    const keysBefore = count(db, 'api_keys');
    const r = await runPw(['restore', join(dir, 'copy1.db'), '--db', db]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /is open in another process \(a running pennyworth serve/);
    assert.equal(count(db, 'api_keys'), keysBefore);
    assert.ok(!existsSync(`${db}.bak`));
    await createKey(srv, 'still-serving'); // the server is unharmed
  });

  // Files that are not a backup of ours; restore must refuse each, and leave
  // the database alone.
  const badBackups = [
    { name: 'text', make: (p) => writeFileSync(p, 'not a database at all\n'.repeat(100)),
      error: /is not a database/ },
    { name: 'other sqlite', make: (p) => { const d = new DatabaseSync(p); d.exec('CREATE TABLE t (x)'); d.close(); },
      error: /is not a pennyworth database/ },
    { name: 'from the future', make: (p) => { const d = new DatabaseSync(p); d.exec('CREATE TABLE products (x); PRAGMA user_version = 999'); d.close(); },
      error: /schema version 999, newer than this program's/ },
    { name: 'missing', make: () => {}, error: /No such file/ },
  ];
  for (const bad of badBackups) {
    it(`refuses to restore a bad backup: ${bad.name}`, T, async () => {
      const file = join(dir, `bad-${bad.name.replace(/ /g, '-')}.db`);
      bad.make(file);
      const r = await runPw(['restore', file, '--db', join(dir, 'untouched.db')]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, bad.error);
      assert.ok(!existsSync(join(dir, 'untouched.db')));
    });
  }

  it('restores once the server stopped, keeps the old database, and serves it', T, async () => {
    await srv.stop();
    srv = null;
    const keysNow = count(db, 'api_keys');
    const file = join(dir, 'copy1.db');
    const want = count(file, 'api_keys');
    assert.ok(want < keysNow);
    const r = await runPw(['restore', file, '--db', db], {}, 30_000);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^restored .*copy1\.db into .*catalog\.db \(\d+ pages, schema version \d+\)/);
    assert.match(r.stdout, /the database it replaced is .*catalog\.db\.bak/);
    assert.equal(integrity(db), 'ok');
    assert.equal(count(db, 'api_keys'), want);
    assert.equal(count(`${db}.bak`, 'api_keys'), keysNow);
    assert.equal(readDb(db, (d) => d.prepare('PRAGMA journal_mode').get().journal_mode), 'wal');
    srv = await startServer({ dir, removeDir: false, env: { PENNYWORTH_ADMIN_KEY: ADMIN } });
    const res = await fetch(`${srv.base}/admin/keys`, {
      headers: { authorization: `Bearer ${ADMIN}` }, signal: AbortSignal.timeout(10_000),
    });
    assert.equal(res.status, 200);
    assert.equal((await res.json()).keys.length, want);
  });

  it('leaves no temporary files behind', T, () => {
    assert.deepEqual(readdirSync(dir).filter((f) => f.includes('.partial-')), []);
  });
});
