// The read-only role is the boundary of `unlearn query`: the denial-of-service and escape queries of a hostile or
// careless query string fail under it, through the query path and also sent straight to the server on a plain
// connection (where only the role's grants stand in the way), the data stays unchanged and no lock is left held.
// The query path refuses a superuser or a role with server-file privileges, and bounds rows and bytes.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import pg from 'pg';
import { openDb, type DbHandle } from '../../db/client.js';
import { runReadOnlyQuery } from '../../db/query.js';
import { checkQueryRole, QUERY_URL_VAR } from '../../db/roles.js';
import { createScratchDatabase, psqlAsPostgres, scramVerifier } from '../../infra/stack.js';
import { requireEnv } from '../foundation/env.js';
import { seedSweep } from '../results/helpers.js';

let scratch: Awaited<ReturnType<typeof createScratchDatabase>>;
let owner: DbHandle;
let reader: DbHandle;
let readRole: string;

before(async () => {
  const env = requireEnv('DATABASE_URL', QUERY_URL_VAR);
  // restrictPublic: PUBLIC loses advisory locks and backend signals in this database, as `stack up` does for its own
  scratch = await createScratchDatabase(env.DATABASE_URL, 'unlearn_sec_query', { queryUrl: env[QUERY_URL_VAR], restrictPublic: true });
  owner = openDb(scratch.url);
  reader = openDb(scratch.queryUrl);
  readRole = decodeURIComponent(new URL(scratch.queryUrl!).username);
  await seedSweep(owner.db, 'sweep-sec');
});
after(async () => {
  await reader?.close();
  await owner?.close();
  await scratch?.drop();
});

async function fingerprint(): Promise<string> {
  const h = createHash('sha256');
  for (const t of ['sweeps', 'trials', 'metrics', 'leaderboard_agg', 'stages', 'artifacts']) {
    const { rows } = await owner.pool.query(`SELECT to_jsonb(x)::text AS j FROM ${t} x ORDER BY 1`);
    h.update(`${t}:${rows.map((r: { j: string }) => r.j).join('\n')}`);
  }
  const { rows } = await owner.pool.query(`SELECT string_agg(indexrelid::text, ',' ORDER BY indexrelid) AS i FROM pg_index WHERE indrelid = 'trials'::regclass`);
  h.update(rows[0].i as string); // REINDEX would give the indexes new relfilenodes, CLUSTER would mark one
  return h.digest('hex');
}

/** Locks held by the read role's sessions (advisory or on relations), seen by the owner. */
async function readerLocks(): Promise<number> {
  const { rows } = await owner.pool.query(
    `SELECT count(*)::int AS n FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid WHERE a.usename = $1 AND l.locktype IN ('advisory', 'relation') AND a.pid <> pg_backend_pid()`,
    [readRole],
  );
  return rows[0].n as number;
}

// The attacks of the issue, each with what refuses it through `unlearn query`.
const ATTACKS: [string, string, RegExp][] = [
  ['DO block that locks a table and sleeps', `DO $$ BEGIN LOCK TABLE trials IN ACCESS EXCLUSIVE MODE; PERFORM pg_sleep(55); END $$`, /DO statements are not allowed/],
  ['terminate every other backend', `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid <> pg_backend_pid()`, /permission denied for function pg_terminate_backend/],
  ['cancel every other backend', `SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE pid <> pg_backend_pid()`, /permission denied for function pg_cancel_backend/],
  ["the leaderboard's advisory lock (session)", `SELECT pg_advisory_lock(734511, 0)`, /permission denied for function pg_advisory_lock/],
  ["the leaderboard's advisory lock (transaction) and a sleep", `SELECT pg_advisory_xact_lock(734511, 0), pg_sleep(55)`, /permission denied for function pg_advisory_xact_lock/],
  ['advisory lock through dynamic SQL', `SELECT query_to_xml('SELECT pg_advisory_lock(734511, 0)', true, true, '')`, /permission denied for function pg_advisory_lock/],
  ['CLUSTER', `CLUSTER trials USING trials_pkey`, /CLUSTER statements are not allowed/],
  ['REINDEX', `REINDEX TABLE trials`, /REINDEX statements are not allowed/],
  ['LOCK TABLE', `LOCK TABLE trials IN ACCESS EXCLUSIVE MODE`, /LOCK statements are not allowed/],
  ['read a server file', `SELECT pg_read_file('/etc/passwd')`, /permission denied for function pg_read_file/],
  ['list a server folder', `SELECT pg_ls_dir('.')`, /permission denied for function pg_ls_dir/],
  ['large object export', `SELECT lo_export(lo_from_bytea(0, 'x'), '/tmp/unlearn-sec-lo')`, /read-only transaction|permission denied/],
  ['COPY TO PROGRAM', `COPY (SELECT 1) TO PROGRAM 'touch /tmp/unlearn-sec-copy'`, /COPY statements are not allowed/],
  ['a write behind nested comments', `/* outer /* inner */ SELECT 1 still a comment */ DELETE FROM trials`, /DELETE cannot run here/],
  ['a DO behind nested comments', `/* /* */ */ DO $$ BEGIN EXECUTE 'DELETE FROM trials'; END $$`, /DO statements are not allowed/],
  ['a -- comment ended by \\r', `-- note\rDELETE FROM trials`, /DELETE cannot run here/],
  ['COPY after a -- comment ended by \\r', `-- note\rCOPY trials TO PROGRAM 'id'`, /COPY statements are not allowed/],
  ['DO with EXECUTE', `DO $$ BEGIN EXECUTE 'TRUNCATE trials CASCADE'; END $$`, /DO statements are not allowed/],
];

// The same attacks sent straight to the server as the read role, after switching its sessions' read-only default
// off: what refuses them then is the role's lack of privileges alone.
const DIRECT: [string, RegExp][] = [
  [`DO $$ BEGIN LOCK TABLE trials IN ACCESS EXCLUSIVE MODE; PERFORM pg_sleep(55); END $$`, /permission denied for table trials/],
  [`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid <> pg_backend_pid()`, /permission denied for function pg_terminate_backend/],
  [`SELECT pg_advisory_lock(734511, 0)`, /permission denied for function pg_advisory_lock/],
  [`DO $$ BEGIN PERFORM pg_advisory_xact_lock(734511, 0); PERFORM pg_sleep(55); END $$`, /permission denied for function pg_advisory_xact_lock/],
  [`CLUSTER trials USING trials_pkey`, /must be owner of table trials/],
  [`REINDEX TABLE trials`, /must be owner of table trials/],
  [`SELECT pg_read_file('/etc/passwd')`, /permission denied for function pg_read_file/],
  [`SELECT lo_export(lo_from_bytea(0, 'x'), '/tmp/unlearn-sec-lo')`, /permission denied for function lo_export/],
  [`COPY (SELECT 1) TO PROGRAM 'touch /tmp/unlearn-sec-copy'`, /pg_execute_server_program/],
  [`DO $$ BEGIN EXECUTE 'TRUNCATE trials CASCADE'; END $$`, /permission denied for table trials/],
  [`/* a /* b */ c */ DELETE FROM trials`, /permission denied for table trials/],
  [`-- x\rDELETE FROM trials`, /permission denied for table trials/],
];

void describe('the read-only role', () => {
  void test('the DoS and escape queries fail through `unlearn query`; data unchanged, no lock held afterwards', async () => {
    const before = await fingerprint();
    // a writer's connection: a terminate loop must not reach it
    const writer = new pg.Client({ connectionString: scratch.url });
    await writer.connect();
    try {
      const writerPid = (await writer.query('SELECT pg_backend_pid() AS p')).rows[0].p as number;
      for (const [name, text, why] of ATTACKS) {
        await assert.rejects(runReadOnlyQuery(reader.pool, text, { timeoutMs: 10_000 }), why, name);
      }
      assert.equal((await writer.query('SELECT pg_backend_pid() AS p')).rows[0].p, writerPid, 'the writer kept its connection');
      assert.equal(await fingerprint(), before);
      assert.equal(await readerLocks(), 0, 'no lock held by the read role afterwards');
      // writers are not blocked: the leaderboard lock and an exclusive table lock are free at once
      await writer.query('BEGIN');
      await writer.query(`SET LOCAL lock_timeout = '2s'`);
      await writer.query('SELECT pg_advisory_xact_lock(734511, 0)');
      await writer.query('LOCK TABLE trials IN ACCESS EXCLUSIVE MODE');
      await writer.query('ROLLBACK');
    } finally {
      await writer.end();
    }
  });

  void test('sent straight to the server as the read role, the same queries fail for lack of privileges', async () => {
    const before = await fingerprint();
    const c = new pg.Client({ connectionString: scratch.queryUrl });
    await c.connect();
    try {
      assert.equal((await c.query('SHOW default_transaction_read_only')).rows[0].default_transaction_read_only, 'on', 'sessions start read-only');
      assert.equal((await c.query('SHOW statement_timeout')).rows[0].statement_timeout, '1min', 'the role has its own statement timeout');
      await c.query('SET default_transaction_read_only = off'); // a convenience, not the boundary: anyone can turn it off
      await c.query(`SET statement_timeout = '10s'`);
      for (const [text, why] of DIRECT) await assert.rejects(c.query(text), why, text);
    } finally {
      await c.end();
    }
    assert.equal(await fingerprint(), before);
    assert.equal(await readerLocks(), 0);
  });

  void test('refuses a superuser, a role with server-file or program privileges, and (unless allowed) a writer', async () => {
    const tag = randomBytes(4).toString('hex');
    const password = randomBytes(18).toString('base64url');
    const roles = { superuser: `unlearn_sec_${tag}_su`, files: `unlearn_sec_${tag}_files`, program: `unlearn_sec_${tag}_prog` };
    const verifier = scramVerifier(password)!;
    await psqlAsPostgres(
      [`CREATE ROLE ${roles.superuser} LOGIN SUPERUSER PASSWORD '${verifier}';`,
        `CREATE ROLE ${roles.files} LOGIN PASSWORD '${verifier}' IN ROLE pg_read_server_files;`,
        `CREATE ROLE ${roles.program} LOGIN NOINHERIT PASSWORD '${verifier}' IN ROLE pg_execute_server_program;`].join('\n'),
    );
    try {
      const urlAs = (role: string) => {
        const u = new URL(scratch.url);
        u.username = role;
        u.password = password;
        return u.toString();
      };
      const expect: [string, RegExp][] = [
        [roles.superuser, /it is a superuser/],
        [roles.files, /member of pg_read_server_files/],
        [roles.program, /member of pg_execute_server_program/],
      ];
      for (const [role, why] of expect) {
        const h = openDb(urlAs(role));
        try {
          await assert.rejects(runReadOnlyQuery(h.pool, `SELECT pg_read_file('/etc/hostname')`, { source: 'TEST_URL', allowWriterRole: true }), why, role);
          await assert.rejects(runReadOnlyQuery(h.pool, `SELECT 1`, { source: 'TEST_URL', allowWriterRole: true }), /refusing to run as role .* from TEST_URL/, role);
        } finally {
          await h.close();
        }
      }
      // the owner can write: refused unless allowed
      await assert.rejects(runReadOnlyQuery(owner.pool, 'SELECT 1'), /can write or owns results tables/);
      assert.equal((await runReadOnlyQuery(owner.pool, 'SELECT 1 AS one', { allowWriterRole: true })).rows[0].one, 1);
      // the read role passes
      const facts = await checkQueryRole(reader.pool);
      assert.deepEqual([facts.rolsuper, facts.dangerous, facts.writable], [false, [], []]);
    } finally {
      await psqlAsPostgres(Object.values(roles).map((r) => `DROP ROLE IF EXISTS ${r};`).join('\n'));
    }
  });

  void test('rows and bytes are bounded by the cursor', async () => {
    const many = await runReadOnlyQuery(reader.pool, 'SELECT g FROM generate_series(1, 1000000) g', { maxRows: 1234 });
    assert.equal(many.rows.length, 1234);
    assert.equal(many.truncated, 'rows');
    assert.equal(many.rows[1233].g, 1234);
    const wide = await runReadOnlyQuery(reader.pool, `SELECT repeat('x', 1000) AS s FROM generate_series(1, 100000)`, { maxBytes: 50_000 });
    assert.equal(wide.truncated, 'bytes');
    assert.equal(wide.rows.length, 50);
    assert.equal(wide.bytes, 50_000);
    const all = await runReadOnlyQuery(reader.pool, 'SELECT count(*)::int AS n FROM trials');
    assert.equal(all.truncated, undefined);
    assert.ok((all.rows[0].n as number) > 0);
    await assert.rejects(runReadOnlyQuery(reader.pool, 'SELECT pg_sleep(5)', { timeoutMs: 300 }), /statement timeout|timeout/);
  });
});
