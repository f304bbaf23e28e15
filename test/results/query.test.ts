// `unlearn query` is read-only: writes (INSERT/UPDATE/DELETE/DROP, a writing function, nextval, multiple
// statements, switching the transaction to read-write, COPY) are refused and the data is unchanged. It runs as the
// read-only role; test/security/query-role.test.ts has the attacks that target the role itself.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { freshDatabase, seedSweep, type FreshDb } from './helpers.js';
import { runReadOnlyQuery } from '../../db/query.js';
import { openDb, type DbHandle } from '../../db/client.js';
import { readOnlyUrlFor } from '../security/read-role.js';

const run = promisify(execFile);
const entry = fileURLToPath(new URL('./cli-entry.ts', import.meta.url));
const root = fileURLToPath(new URL('../../', import.meta.url));

let f: FreshDb;
let readUrl: string;
let reader: DbHandle;
before(async () => {
  f = await freshDatabase('query');
  await seedSweep(f.db, 'sweep-q');
  // a function that writes, as a user might have defined one
  await f.handle.pool.query(`CREATE FUNCTION sneaky_write() RETURNS int LANGUAGE plpgsql AS $$
    BEGIN UPDATE metrics SET value = 0; INSERT INTO sweeps (id, name) VALUES ('evil', 'evil'); RETURN 1; END $$`);
  await f.handle.pool.query('CREATE SEQUENCE some_seq');
  readUrl = await readOnlyUrlFor(f.url);
  reader = openDb(readUrl);
});
after(async () => { await reader?.close(); await f?.drop(); });

/** A digest of every row of the tables a write could touch. */
async function fingerprint(): Promise<string> {
  const h = createHash('sha256');
  for (const t of ['sweeps', 'trials', 'metrics', 'curves', 'forget_outputs', 'stages', 'artifacts']) {
    const { rows } = await f.handle.pool.query(`SELECT to_jsonb(x)::text AS j FROM ${t} x ORDER BY 1`);
    h.update(`${t}:${rows.map((r: { j: string }) => r.j).join('\n')}`);
  }
  const { rows } = await f.handle.pool.query(`SELECT count(*)::int AS n FROM pg_class WHERE relname = 'metrics'`);
  h.update(String(rows[0].n));
  return h.digest('hex');
}

// Whatever refuses them first: the read-only role's missing grants, the read-only transaction, the cursor wrapper
// (only a query that returns rows) or the extended protocol (one statement).
const WRITES: [string, RegExp][] = [
  [`INSERT INTO sweeps (id, name) VALUES ('x', 'x')`, /INSERT cannot run here/],
  [`UPDATE metrics SET value = 0`, /UPDATE cannot run here/],
  [`DELETE FROM trials`, /DELETE cannot run here/],
  [`DROP TABLE metrics CASCADE`, /DROP cannot run here/],
  [`TRUNCATE metrics`, /TRUNCATE cannot run here/],
  [`CREATE TABLE t (a int)`, /CREATE cannot run here/],
  [`SELECT sneaky_write()`, /read-only transaction|permission denied/],
  [`SELECT nextval('some_seq')`, /read-only transaction|permission denied/],
  [`WITH d AS (DELETE FROM metrics RETURNING 1) SELECT count(*) FROM d`, /must not contain data-modifying statements/],
  [`SELECT * FROM trials FOR UPDATE`, /read-only transaction|permission denied/],
  [`DO $$ BEGIN DELETE FROM metrics; END $$`, /DO statements are not allowed/],
  [`SELECT 1; COMMIT; DELETE FROM metrics`, /multiple commands/],
  [`COMMIT`, /COMMIT statements are not allowed/],
  [`  -- sneaky\n  SET transaction_read_only = off`, /SET statements are not allowed/],
  [`SELECT set_config('transaction_read_only', 'off', false)`, /read-write mode|read-only/],
  [`COPY metrics FROM STDIN`, /COPY statements are not allowed/],
];

void describe('unlearn query', () => {
  void test('reads: SELECT over the views works', async () => {
    const r = await runReadOnlyQuery(reader.pool, `SELECT algorithm, n_seeds FROM leaderboard WHERE forget_kind = 'iid' ORDER BY algorithm, n_seeds`);
    assert.deepEqual(r.fields, ['algorithm', 'n_seeds']);
    assert.deepEqual(r.rows.map((x) => x.algorithm), ['del', 'finetune', 'finetune', 'neggrad', 'retrain', 'salun']);
  });

  void test('every kind of write is refused and leaves the data unchanged', async () => {
    const before = await fingerprint();
    for (const [text, why] of WRITES) {
      await assert.rejects(runReadOnlyQuery(reader.pool, text), why, text);
    }
    assert.equal(await fingerprint(), before);
    // the pool still works after the refusals (no connection left in a transaction)
    const r = await runReadOnlyQuery(reader.pool, 'SELECT count(*)::int AS n FROM trials');
    assert.ok((r.rows[0].n as number) > 0);
  });

  void test('the CLI prints rows and exits non-zero on a write, naming the refusal', async () => {
    const env = { ...process.env, DATABASE_URL: f.url, UNLEARN_QUERY_DATABASE_URL: readUrl };
    const before = await fingerprint();
    const ok = await run(process.execPath, ['--import', 'tsx', entry, 'query', `SELECT id FROM sweeps ORDER BY id`, '--format', 'json'], { cwd: root, env });
    assert.deepEqual(JSON.parse(ok.stdout), [{ id: 'sweep-q' }]);
    for (const text of [`INSERT INTO sweeps (id, name) VALUES ('cli', 'cli')`, `UPDATE trials SET seed = 9`, `DROP TABLE trials CASCADE`, `SELECT sneaky_write()`]) {
      await assert.rejects(run(process.execPath, ['--import', 'tsx', entry, 'query', text], { cwd: root, env }), (e: { code?: number; stderr?: string }) => {
        assert.equal(e.code, 1, text);
        assert.match(e.stderr ?? '', /cannot run here|read-only transaction|permission denied/, text);
        return true;
      });
    }
    assert.equal(await fingerprint(), before);
  });

  void test('the CLI refuses a role that can write unless told to accept it', async () => {
    const env = { ...process.env, DATABASE_URL: f.url, UNLEARN_QUERY_DATABASE_URL: '' };
    await assert.rejects(run(process.execPath, ['--import', 'tsx', entry, 'query', 'SELECT 1 AS one'], { cwd: root, env }), (e: { code?: number; stderr?: string }) => {
      assert.equal(e.code, 1);
      assert.match(e.stderr ?? '', /refusing to run as role .* from DATABASE_URL: it can write or owns results tables/);
      assert.doesNotMatch(e.stderr ?? '', /\n\s+at /, 'no stack trace');
      return true;
    });
    const ok = await run(process.execPath, ['--import', 'tsx', entry, 'query', 'SELECT 1 AS one', '--format', 'json', '--allow-writer-role'], { cwd: root, env });
    assert.deepEqual(JSON.parse(ok.stdout), [{ one: 1 }]);
  });
});
