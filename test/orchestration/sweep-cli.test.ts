// `unlearn sweep plan` / `sweep start` against the real stack (npm test's PostgreSQL, S3 and Temporal): every bad
// input is refused before anything starts (exit 2, `file: path: problem`), with the database's rows and the object
// store's listing unchanged and no workflow started; a grid above 5,000 new trials needs --yes; a valid file's plan
// prints its counts and, with a database, its cached counts.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { Connection, Client, WorkflowNotFoundError } from '@temporalio/client';
import { BAD_INPUTS, BASE } from './bad-inputs.js';
import { loadSweep } from '../../cli/sweep-file.js';
import { SweepFileError } from '../../sweep/schema.js';
import { s3Store } from '../../activities/store.js';
import { connectionOptions } from '../../infra/temporal.js';
import { s3Config, temporalConfig } from '../../config/index.js';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../../', import.meta.url));
const dir = mkdtempSync(path.join(tmpdir(), 'unlearn-sweep-cli-'));

async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(process.execPath, ['--import', 'tsx', path.join(root, 'cli', 'main.ts'), ...args], { cwd: root, env: process.env, maxBuffer: 1 << 24 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const x = e as { code: number; stdout: string; stderr: string };
    return { code: x.code, stdout: x.stdout, stderr: x.stderr };
  }
}

let db: pg.Client;
before(async () => {
  if (!process.env.DATABASE_URL || !process.env.S3_ENDPOINT) throw new Error('this test needs the test stack (npm test): DATABASE_URL and S3_* are not set');
  db = new pg.Client({ connectionString: process.env.DATABASE_URL });
  await db.connect();
});
after(async () => { await db?.end(); });

/** What a start could change: row counts of every table it writes, and the object store's listing. */
async function snapshot(): Promise<{ rows: Record<string, number>; objects: string[] }> {
  const rows: Record<string, number> = {};
  for (const t of ['sweeps', 'stages', 'artifacts', 'trials', 'metrics', 'settings', 'methods']) {
    rows[t] = Number((await db.query(`SELECT count(*) AS n FROM ${t}`)).rows[0].n);
  }
  return { rows, objects: (await s3Store(s3Config(process.env)).list('')).sort() };
}

void test('every bad input is refused before anything starts; nothing stored changes; no workflow starts', async () => {
  const before = await snapshot();
  for (const [what, from, to, expect] of BAD_INPUTS) {
    const file = path.join(dir, `bad-${what.replace(/\W+/g, '-')}.yaml`);
    writeFileSync(file, BASE.replace(from, to));
    // what `sweep start` and the demo do first
    assert.throws(() => loadSweep(file), (e: unknown) => e instanceof SweepFileError && expect.test(e.message) && e.message.startsWith(`${file}: `), what);
  }
  // through the command itself: one file with three of the problems (the unknown-algorithm message included)
  const file = path.join(dir, 'bad-start.yaml');
  writeFileSync(file, BASE.replace('classes: [2, 5]', 'classes: [2, 11]').replace('{ name: finetune, hparams', '{ name: x, hparams')
    .replace('name: v', 'name: must-not-start\nworkDir: /tmp'));
  const r = await cli('sweep', 'start', file, '--id', 'must-not-start');
  assert.equal(r.code, 2, r.stderr);
  assert.equal(r.stdout, '', 'no plan printed, nothing started');
  const lines = r.stderr.trim().split('\n');
  for (const l of lines) assert.match(l, new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: \\S+: \\S`), l);
  assert.match(r.stderr, /: \(root\): Unrecognized key: "workDir"/);
  const fixed = BASE.replace('classes: [2, 5]', 'classes: [2, 11]').replace('{ name: finetune, hparams', '{ name: x, hparams');
  writeFileSync(file, fixed);
  const r2 = await cli('sweep', 'plan', file);
  assert.equal(r2.code, 2);
  assert.match(r2.stderr, /grid\.algorithms\[0\]\.name: unknown algorithm "x" \(known: /);
  assert.match(r2.stderr, /grid\.forgetSets\[1\]\.classes: class 11 outside 0\.\.9/);
  assert.deepEqual(await snapshot(), before, 'row counts and object listing unchanged');
  const cfg = temporalConfig(process.env);
  const connection = await Connection.connect(connectionOptions(cfg));
  try {
    const client = new Client({ connection, namespace: cfg.namespace });
    await assert.rejects(client.workflow.getHandle('must-not-start').describe(), WorkflowNotFoundError);
  } finally {
    await connection.close();
  }
});

void test('more than 5,000 new trials need --yes; `sweep plan` counts a large grid and the cached stages', async () => {
  const lrs = Array.from({ length: 2600 }, (_, i) => +(0.0001 * (i + 1)).toFixed(4)).join(', ');
  const file = path.join(dir, 'big.yaml');
  writeFileSync(file, BASE.replace('name: v', 'name: too-big-to-start').replace('{ lr: 0.02, epochs: 1 }', `{ lr: [${lrs}], epochs: 1 }`));
  const before = await snapshot();
  const r = await cli('sweep', 'start', file);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stdout, /sweep too-big-to-start: 5,204 trials \(2 original, 2 oracle, 5,200 method\)/);
  assert.match(r.stderr, /5,204 new trials \(more than 5,000\): check the plan above and start again with --yes/);
  assert.deepEqual(await snapshot(), before);

  const plan = await cli('sweep', 'plan', path.join(root, 'sweeps', 'synthetic-test.yaml'), '--json');
  assert.equal(plan.code, 0, plan.stderr);
  const j = JSON.parse(plan.stdout) as { counts: { trials: number; byKind: Record<string, number> }; cached: Record<string, number>; cachedTrials: number };
  assert.equal(j.counts.trials, 20);
  assert.equal(j.counts.byKind.record, 20);
  assert.ok(j.cached && typeof j.cachedTrials === 'number', 'cached counts come from the configured database');
});
