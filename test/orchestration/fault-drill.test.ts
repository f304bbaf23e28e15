// The fault drill, on real services of its own (test/orchestration/drill-services.ts: a Temporal dev server with a
// persistent database, a dedicated PostgreSQL instance, versitygw) and real worker processes. During one no-op
// sweep whose gpu stages last a few hundred milliseconds: each gpu worker is SIGKILLed once and the io worker once
// (each replaced by a new process), the Temporal server is stopped and started again on its database, PostgreSQL
// is restarted, and S3 is down for 20 s. Between faults the sweep must make progress again. At the end: the sweep
// completed without failures, every planned trial has exactly one row (completed, with its metrics once), and
// every planned stage's object in S3 hashes to the sha256 its artifact row records.
import test, { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { openDb, type DbHandle } from '../../db/client.js';
import { startSweep } from '../../cli/sweep.js';
import { parseSweepText } from '../../sweep/registries.js';
import { expandSweep } from '../../sweep/plan.js';
import { ObjectStore } from '../../storage/object-store.js';
import { s3Config } from '../../config/index.js';
import { artifactKey, trialRowId } from '../../activities/stages.js';
import type { SweepResult } from '../../workflows/sweep.js';
import { DrillServices } from './drill-services.js';
import { setupEnv, startWorker, waitFor, type WorkerProc } from './helpers.js';

const log = (l: string) => console.log(`[drill +${((Date.now() - t0) / 1000).toFixed(1)}s] ${l}`);
const t0 = Date.now();
const services = new DrillServices();
const workers: Record<string, WorkerProc> = {};
let db: DbHandle | undefined;
let connection: Connection | undefined;
let prefix = '';
/** gpu stages last this long (noop compute), so faults hit stages in flight */
const STAGE_MS = '300';

before(async () => {
  await services.startAll();
  Object.assign(process.env, services.env());
  ({ prefix } = await setupEnv('drill'));
  log(`services up in ${services.dir}`);
});

after(async () => {
  for (const w of Object.values(workers)) await w.stop('SIGKILL').catch(() => undefined);
  await connection?.close().catch(() => undefined);
  await db?.close().catch(() => undefined);
  await services.cleanup();
});

function spawnWorker(name: 'gpu1' | 'gpu2' | 'io'): WorkerProc {
  const w = name === 'io' ? startWorker('io', prefix) : startWorker('gpu', prefix, { args: ['--concurrency', '3'], env: { UNLEARN_NOOP_STAGE_MS: STAGE_MS } });
  workers[name] = w;
  return w;
}

async function killAndReplace(name: 'gpu1' | 'gpu2' | 'io'): Promise<void> {
  assert.equal(await workers[name].stop('SIGKILL'), null, `${name} killed by a signal`);
  log(`SIGKILL ${name}; starting a new one`);
  await spawnWorker(name).ready;
}

void test('a sweep survives SIGKILLed gpu and io workers, a Temporal restart, a PostgreSQL restart and 20 s without S3', async () => {
  const w = [spawnWorker('io'), spawnWorker('gpu1'), spawnWorker('gpu2')];
  await Promise.all(w.map((x) => x.ready));
  db = openDb();
  connection = await Connection.connect({ address: process.env.TEMPORAL_ADDRESS! });
  const client = new Client({ connection });

  const id = 'fault-drill';
  const cfg = parseSweepText(`
name: fault-drill
compute: noop
seeds: [0, 1, 2, 3]
grid:
  datasets: [{ id: synthetic }]
  models: [{ id: mlp, params: { hidden: [8] } }]
  recipes: [{ name: r, epochs: 1, batchSize: 8, lr: 0.1 }]
  forgetSets: [{ kind: iid, fraction: 0.1 }, { kind: classes, classes: [0], fraction: 0.1 }]
  algorithms:
    - { name: finetune, hparams: { lr: [0.001, 0.002, 0.003, 0.004, 0.005, 0.006, 0.007, 0.008], epochs: 1 } }
    - { name: del, localization: { strategy: wg-channel, alpha: [0.1, 0.3] }, hparams: { lr: 0.01, epochs: 1 } }
execution: { window: 6, heartbeatTimeoutS: 10, maxAttempts: 12, retryInitialS: 1 }
`, 'fault-drill.yaml');
  const plan = expandSweep(cfg, id);
  const keys = plan.stages.map((s) => s.key);
  log(`${plan.trials.length} trials, ${plan.stages.length} stages`);

  // Finished stages, from the database (the progress query needs a live io worker; faults come and go).
  const finished = async (): Promise<number> => {
    try {
      const r = await db!.pool.query('SELECT count(*)::int AS n FROM artifacts WHERE key = ANY($1::text[])', [keys]);
      return r.rows[0].n as number;
    } catch {
      return -1;
    }
  };
  /** Waits until `more` further stages finished: the sweep recovered from the last fault. */
  const progressBy = async (what: string, more: number) => {
    const base = Math.max(0, await finished());
    const n = await waitFor(`${more} more stages after ${what}`, async () => {
      const f = await finished();
      return f >= base + more ? f : null;
    }, 180_000, 300);
    log(`${what}: recovered (${n}/${plan.stages.length} stages finished)`);
    assert.ok(n < plan.stages.length, `the sweep was still running after ${what}: make it longer, or the drill proves nothing`);
  };

  await startSweep(client, cfg, { id });
  await progressBy('start', 15);

  await killAndReplace('gpu1');
  await progressBy('SIGKILL of gpu worker 1', 8);
  await killAndReplace('gpu2');
  await progressBy('SIGKILL of gpu worker 2', 8);
  await killAndReplace('io');
  await progressBy('SIGKILL of the io worker', 8);

  log('stopping the Temporal server');
  await services.stopTemporal();
  await new Promise((r) => setTimeout(r, 3000));
  await services.startTemporal();
  log('Temporal server started again on its database');
  await progressBy('the Temporal restart', 8);

  log('restarting PostgreSQL');
  await services.restartPostgres();
  await progressBy('the PostgreSQL restart', 8);

  log('S3 down for 20 s');
  await services.stopS3();
  await new Promise((r) => setTimeout(r, 20_000));
  await services.startS3();
  log('S3 up again');
  await progressBy('the S3 outage', 8);

  // The end: the workflow completes (its client reconnects by itself; poll through describe).
  const handle = client.workflow.getHandle(id);
  await waitFor('the sweep to end', async () => {
    const d = await handle.describe().catch(() => null);
    return d && d.status.name !== 'RUNNING' ? d : null;
  }, 300_000, 1000);
  const r = (await handle.result()) as SweepResult;
  log(`sweep ${r.status} in ${r.run} run(s); ${JSON.stringify(r.byStatus)}`);
  assert.equal(r.status, 'completed', JSON.stringify(r.errors));
  assert.equal(r.trials.done, plan.trials.length);
  assert.equal((r.byStatus.ran ?? 0) + (r.byStatus.cached ?? 0), plan.stages.length);

  // Every planned trial exactly once, completed, with its metrics once.
  const trials = (await db.pool.query('SELECT id, status FROM trials WHERE sweep_id = $1', [id])).rows;
  assert.equal(trials.length, plan.trials.length);
  assert.deepEqual(new Set(trials.map((t) => t.id)), new Set(plan.trials.map((t) => trialRowId(id, t.id))));
  assert.ok(trials.every((t) => t.status === 'completed'), JSON.stringify(trials.filter((t) => t.status !== 'completed').slice(0, 3)));
  const dup = await db.pool.query(`SELECT trial_id FROM metrics WHERE trial_id = ANY($1::text[]) GROUP BY trial_id, split, name HAVING count(*) > 1`, [trials.map((t) => t.id)]);
  assert.equal(dup.rows.length, 0);
  const perTrial = await db.pool.query(`SELECT count(DISTINCT trial_id)::int AS n FROM metrics WHERE trial_id = ANY($1::text[])`, [trials.map((t) => t.id)]);
  assert.equal(perTrial.rows[0].n, plan.trials.length, 'every trial has its metrics');

  // Every stage's object hashes to its recorded sha256; the faults did cost retries.
  const arts = (await db.pool.query('SELECT key, kind, sha256 FROM artifacts WHERE key = ANY($1::text[])', [keys])).rows;
  assert.equal(arts.length, plan.stages.length);
  const s3 = new ObjectStore(s3Config(process.env));
  for (const a of arts) {
    const bytes = await s3.getBytes(artifactKey(a));
    assert.equal(createHash('sha256').update(bytes).digest('hex'), a.sha256, `${a.kind} ${a.key}`);
  }
  const retried = await db.pool.query(`SELECT count(*)::int AS n FROM stages WHERE key = ANY($1::text[]) AND attempts > 1`, [keys]);
  log(`${retried.rows[0].n} stages needed more than one attempt`);
  assert.ok(retried.rows[0].n > 0, 'the faults hit stages in flight');
});
