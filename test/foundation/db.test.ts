// PostgreSQL through drizzle: rows of the core tables round-trip; migrations are idempotent under concurrency.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { eq, sql } from 'drizzle-orm';
import { openDb, pingDb, type DbHandle } from '../../db/client.js';
import { listMigrations, migrate, MigrationChangedError } from '../../db/migrate.js';
import { artifacts, stages, sweeps } from '../../db/schema.js';
import { requireEnv, uniq } from './env.js';

let h: DbHandle;
before(async () => {
  requireEnv('DATABASE_URL');
  h = openDb();
  await pingDb(h);
});
after(async () => {
  await h.close();
});

void test('rows of sweeps, stages and artifacts round-trip through drizzle', async () => {
  const id = `sweep-${uniq()}`;
  const config = { grid: { algorithms: ['del', 'ga'], seeds: [0, 1, 2] }, note: 'ünïcode ✓' };
  await h.db.insert(sweeps).values({ id, name: 'round trip', config, status: 'running' });
  const [s] = await h.db.select().from(sweeps).where(eq(sweeps.id, id));
  assert.deepEqual(s.config, config);
  assert.equal(s.status, 'running');
  assert.ok(s.createdAt instanceof Date && Math.abs(s.createdAt.getTime() - Date.now()) < 60_000);

  const key = `stage-${uniq()}`;
  const startedAt = new Date('2026-01-02T03:04:05.678Z');
  await h.db.insert(stages).values({
    key,
    kind: 'train.original',
    params: { lr: 0.01, epochs: 3 },
    inputKeys: ['k1', 'k2,with comma', 'k3 "quoted"'],
    status: 'done',
    attempts: 2,
    wallSeconds: 12.5,
    worker: 'w1',
    backend: 'wasm',
    startedAt,
  });
  const [st] = await h.db.select().from(stages).where(eq(stages.key, key));
  assert.deepEqual(st.inputKeys, ['k1', 'k2,with comma', 'k3 "quoted"']);
  assert.deepEqual(st.params, { lr: 0.01, epochs: 3 });
  assert.equal(st.attempts, 2);
  assert.equal(st.wallSeconds, 12.5);
  assert.equal(st.startedAt?.toISOString(), startedAt.toISOString());
  assert.equal(st.finishedAt, null);

  const akey = `artifact-${uniq()}`;
  const bytes = 5_000_000_123; // above 2^32: a real int8
  await h.db.insert(artifacts).values({ key: akey, kind: 'checkpoint', uri: `s3://b/${akey}`, sha256: 'ab'.repeat(32), bytes, metadata: { epochs: 3 } });
  const [a] = await h.db.select().from(artifacts).where(eq(artifacts.key, akey));
  assert.equal(a.bytes, bytes);
  assert.equal(typeof a.bytes, 'number');
  // int8 from raw SQL comes back as a number too (count(*), sum over bigint casts).
  const r = await h.pool.query<{ n: number; b: number }>('SELECT count(*) AS n, max(bytes)::int8 AS b FROM artifacts WHERE key = $1', [akey]);
  assert.deepEqual(r.rows[0], { n: 1, b: bytes });
  const [{ n }] = (await h.db.execute(sql`SELECT count(*) AS n FROM stages WHERE key = ${key}`)).rows as { n: number }[];
  assert.equal(n, 1);
});

void test('migrate is idempotent and safe when called concurrently', async () => {
  const results = await Promise.all([migrate(process.env.DATABASE_URL), migrate(process.env.DATABASE_URL), migrate(process.env.DATABASE_URL)]);
  const all = listMigrations().map((m) => m.name);
  for (const res of results) {
    assert.deepEqual(res.applied, []);
    assert.deepEqual(res.alreadyApplied, all);
  }
  const rows = await h.pool.query<{ name: string }>('SELECT name FROM schema_migrations ORDER BY name');
  assert.deepEqual(rows.rows.map((x) => x.name), all);
});

void test('migrations apply in lexical order, once; an edited shipped migration is refused; a failing one rolls back', async () => {
  const schema = `mig_${uniq().replace(/-/g, '_')}`;
  await h.pool.query(`CREATE SCHEMA ${schema}`);
  const u = new URL(process.env.DATABASE_URL as string);
  u.searchParams.set('options', `-c search_path=${schema}`);
  const url = u.toString();
  const dir = mkdtempSync(join(tmpdir(), 'migrations-'));
  try {
    writeFileSync(join(dir, '0002_b.sql'), 'INSERT INTO t (v) VALUES (2);');
    writeFileSync(join(dir, '0001_a.sql'), 'CREATE TABLE t (v int);\nINSERT INTO t (v) VALUES (1);');
    writeFileSync(join(dir, 'README.md'), 'not a migration');
    assert.deepEqual((await migrate(url, { dir })).applied, ['0001_a.sql', '0002_b.sql']);
    assert.deepEqual((await migrate(url, { dir })).applied, []);
    const rows = await h.pool.query<{ v: number }>(`SELECT v FROM ${schema}.t ORDER BY v`);
    assert.deepEqual(rows.rows.map((r) => r.v), [1, 2], 'each file applied once, in order');

    writeFileSync(join(dir, '0001_a.sql'), 'CREATE TABLE t (v bigint);');
    await assert.rejects(() => migrate(url, { dir }), (e: unknown) => e instanceof MigrationChangedError && e.file === '0001_a.sql' && /immutable/.test(e.message));

    writeFileSync(join(dir, '0001_a.sql'), 'CREATE TABLE t (v int);\nINSERT INTO t (v) VALUES (1);');
    writeFileSync(join(dir, '0003_ok.sql'), 'CREATE TABLE u (x int);');
    writeFileSync(join(dir, '0004_bad.sql'), 'INSERT INTO no_such_table VALUES (1);');
    await assert.rejects(() => migrate(url, { dir }), /migration 0004_bad.sql failed/);
    const u3 = await h.pool.query(`SELECT to_regclass('${schema}.u') AS r`);
    assert.equal(u3.rows[0].r, null, 'all pending migrations run in one transaction: 0003 must be rolled back with 0004');
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await h.pool.query(`DROP SCHEMA ${schema} CASCADE`);
  }
});
