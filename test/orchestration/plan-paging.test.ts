// A sweep read in pages through the real Temporal dev server, PostgreSQL and S3 with a real worker process:
// pages far smaller than the plan, few unfinished stages held at once and a short history force many page reads
// and several continue-as-new runs; every planned stage still runs exactly once, every trial is recorded once,
// and the same id again runs nothing. (Production pages hold 1,000 positions; the mechanism is the same.)
import test, { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { openDb, type DbHandle } from '../../db/client.js';
import { connectClient, startSweep, type SweepClient } from '../../cli/sweep.js';
import { parseSweepText } from '../../sweep/registries.js';
import { expandSweep, countByKind } from '../../sweep/plan.js';
import { trialRowId } from '../../activities/stages.js';
import { setupEnv, startWorker, type WorkerProc } from './helpers.js';

let env: { prefix: string; ns: string };
let c: SweepClient;
let db: DbHandle;
let worker: WorkerProc;

before(async () => {
  env = await setupEnv('paging');
  worker = startWorker('all', env.prefix);
  c = await connectClient();
  db = openDb();
  await worker.ready;
});

after(async () => {
  await worker?.stop('SIGTERM');
  await c?.close();
  await db?.close();
});

const q = async (text: string, values: unknown[] = []) => (await db.pool.query(text, values)).rows;

void test('a plan read in pages of 7 with at most 25 unfinished stages held runs every stage once across continue-as-new runs', async () => {
  const id = `${env.ns}-sweep`;
  const cfg = parseSweepText(`
name: paging
compute: noop
cacheNamespace: ${env.ns}
seeds: [0, 1, 2]
grid:
  datasets: [{ id: synthetic }]
  models: [{ id: mlp, params: { hidden: [8] } }]
  recipes: [{ name: r, epochs: 1, batchSize: 8, lr: 0.1 }]
  forgetSets: [{ kind: iid, fraction: 0.1 }, { kind: classes, classes: [0], fraction: 0.1 }]
  algorithms:
    - { name: finetune, hparams: { lr: [0.001, 0.002, 0.003, 0.004, 0.005, 0.006], epochs: 1 } }
    - { name: del, localization: { strategy: wg-channel, alpha: [0.1, 0.3] }, hparams: { lr: 0.01, epochs: 1 } }
execution: { window: 6, historyLimit: 200 }
`, 'paging.yaml');
  const plan = expandSweep(cfg, id);
  const keys = plan.stages.map((s) => s.key);
  assert.ok(plan.stages.length > 150, `a plan of many pages (${plan.stages.length} stages, ${JSON.stringify(countByKind(plan.stages))})`);
  const paging = { pageSize: 7, maxLoaded: 25 };

  const r1 = await (await startSweep(c.client, cfg, { id, paging })).handle.result();
  assert.equal(r1.status, 'completed', JSON.stringify(r1.errors));
  assert.ok(r1.run >= 3, `several continue-as-new runs (${r1.run})`);
  assert.equal(r1.total, plan.stages.length);
  assert.equal(r1.byStatus.ran, plan.stages.length, JSON.stringify(r1.byStatus));
  assert.deepEqual(Object.fromEntries(Object.entries(r1.byKind).map(([k, v]) => [k, v.ran])), countByKind(plan.stages));
  assert.equal(r1.trials.done, plan.trials.length);
  // every stage ran exactly once and has its artifact; every trial has exactly one completed row
  const st = await q(`SELECT status, attempts, count(*)::int AS n FROM stages WHERE key = ANY($1::text[]) GROUP BY 1, 2`, [keys]);
  assert.deepEqual(st.map((r) => [r.status, r.attempts, r.n]), [['done', 1, plan.stages.length]]);
  const [arts] = await q(`SELECT count(*)::int AS n FROM artifacts WHERE key = ANY($1::text[])`, [keys]);
  assert.equal(arts.n, plan.stages.length);
  const trials = await q(`SELECT id, status FROM trials WHERE sweep_id = $1`, [id]);
  assert.equal(trials.length, plan.trials.length);
  assert.ok(trials.every((t) => t.status === 'completed'));
  assert.deepEqual(new Set(trials.map((t) => t.id)), new Set(plan.trials.map((t) => trialRowId(id, t.id))));

  // The same id again: every stage is found complete page by page; nothing runs.
  const r2 = await (await startSweep(c.client, cfg, { id, paging })).handle.result();
  assert.equal(r2.byStatus.cached, plan.stages.length);
  assert.equal(r2.byStatus.ran ?? 0, 0);
  assert.equal(r2.trainingRan, 0);
  assert.equal(r2.trials.done, plan.trials.length);
});
