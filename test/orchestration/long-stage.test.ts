// Long stages through the real Temporal dev server, PostgreSQL and S3 with real worker processes: an unlearning
// stage whose epochs last several heartbeat timeouts completes with zero retries (the loops yield to the
// heartbeat ticker through ml/driver.ts, and its progress shows in the sweep's status); cancelling a sweep stops
// a running unlearning stage mid-run; a retried unlearning stage resumes from its epoch checkpoint.
// Latencies are printed (and measured in `npm run bench -- long-stage`), never asserted.
import test, { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { WorkflowFailedError } from '@temporalio/client';
import { openDb, type DbHandle } from '../../db/client.js';
import { connectClient, startSweep, sweepProgress, type RunningStage, type SweepClient } from '../../cli/sweep.js';
import { parseSweepText } from '../../sweep/registries.js';
import { expandSweep, type StageSpec } from '../../sweep/plan.js';
import { s3Store } from '../../activities/store.js';
import { s3Config } from '../../config/index.js';
import { checkpointPrefix } from '../../activities/stages.js';
import { setupEnv, startWorker, waitFor, type WorkerProc } from './helpers.js';

// Epochs must last a few heartbeat timeouts on a quiet machine too, whatever the kernels' speed: progress is
// reported once a second and heartbeats leave at most once a second, so a heartbeat from inside an epoch needs
// epochs of several seconds. 3,000 a class gave ~4 s epochs on the WebAssembly kernels and 2.2 s on the native
// ones (a CI run then saw no mid-epoch heartbeat); 6,000 a class and a 2 s timeout: 2.8 s epochs in a CI run with
// the native kernels (1.4 heartbeat timeouts, ≥ 2 heartbeats an epoch), more on slower kernels.
const HEARTBEAT_TIMEOUT_S = 2;
const PER_CLASS = 6000;
const CLASSES = 4;
const FORGET_FRACTION = 0.02;
let env: { prefix: string; ns: string };
let c: SweepClient;
let db: DbHandle;
const workers: WorkerProc[] = [];

before(async () => {
  env = await setupEnv('long');
  workers.push(startWorker('io', env.prefix), startWorker('gpu', env.prefix));
  c = await connectClient();
  db = openDb();
  await Promise.all(workers.map((w) => w.ready));
});

after(async () => {
  await Promise.all(workers.map((w) => w.stop('SIGTERM')));
  await c?.close();
  await db?.close();
});

const q = async (text: string, values: unknown[] = []) => (await db.pool.query(text, values)).rows;

/** 24,000 synthetic 32×32 images and a small CNN: one finetune epoch is 735 batches (about 3 s on the native kernels). */
function longSweep(tag: string, finetune: string) {
  const cfg = parseSweepText(`
name: long-${tag}
cacheNamespace: ${env.ns}
seeds: [0]
grid:
  datasets: [{ id: synthetic, subset: { perClass: ${PER_CLASS}, testPerClass: 25 }, params: { numClasses: ${CLASSES}, shape: [32, 32, 1] } }]
  models: [{ id: cnn, params: { channels: [16, 32], dense: 32 } }]
  recipes: [{ name: one, epochs: 1, batchSize: 32, lr: 0.05 }]
  forgetSets: [{ kind: iid, fraction: ${FORGET_FRACTION} }]
  algorithms:
    - { name: finetune, hparams: ${finetune} }
oracle: false
evaluation: { mia: true, perExample: false }
execution: { window: 2, heartbeatTimeoutS: ${HEARTBEAT_TIMEOUT_S}, maxAttempts: 5, retryInitialS: 1 }
`, `long-${tag}.yaml`);
  const id = `${env.ns}-${tag}`;
  const plan = expandSweep(cfg, id);
  const unlearnStage = plan.stages.find((s) => s.kind === 'unlearn') as StageSpec;
  return { cfg, id, plan, unlearnStage };
}

void test(`an unlearning stage whose epochs last several ${HEARTBEAT_TIMEOUT_S} s heartbeat timeouts completes with zero retries, its progress visible mid-epoch`, async () => {
  const { cfg, id, plan, unlearnStage } = longSweep('zero-retries', '{ lr: 0.01, epochs: 2, batchSize: 32 }');
  const { handle } = await startSweep(c.client, cfg, { id });
  const seen: RunningStage[] = [];
  let finished = false;
  const result = handle.result().finally(() => (finished = true));
  while (!finished) {
    const s = await sweepProgress(c.client, id).catch(() => null);
    for (const st of s?.stages ?? []) if (st.stage === unlearnStage.key && st.progress) seen.push(st);
    await new Promise((r) => setTimeout(r, 250));
  }
  const r = await result;
  assert.equal(r.status, 'completed', JSON.stringify(r.errors));
  const rows = await q('SELECT kind, attempts, status FROM stages WHERE key = ANY($1::text[])', [plan.stages.map((s) => s.key)]);
  assert.equal(rows.length, plan.stages.length);
  for (const row of rows) assert.deepEqual([row.kind, row.status, row.attempts], [row.kind, 'done', 1], `${row.kind} ran once`);
  // The server held heartbeat details from inside an epoch: the loop yielded while it computed.
  const mid = seen.find((st) => st.progress!.phase === 'unlearn' && st.progress!.step > 0 && st.progress!.step < (st.progress!.steps ?? 0));
  assert.ok(mid, `a heartbeat from inside an unlearning epoch (${seen.length} polls saw: ${JSON.stringify([...new Set(seen.map((st) => JSON.stringify(st.progress)))])})`);
  assert.equal(mid.progress!.epochs, 2);
  const train = PER_CLASS * CLASSES;
  assert.equal(mid.progress!.steps, Math.ceil((train - train * FORGET_FRACTION) / 32));
  const [art] = await q('SELECT metadata FROM artifacts WHERE key = $1', [unlearnStage.key]);
  const epochSeconds = Number(art.metadata.unlearnSeconds) / 2;
  console.log(`[long-stage] unlearn epoch ${epochSeconds.toFixed(1)} s = ${(epochSeconds / HEARTBEAT_TIMEOUT_S).toFixed(1)} x the heartbeat timeout; 0 retries`);
});

void test('cancelling a sweep stops its running unlearning stage mid-run', async () => {
  const { cfg, id, unlearnStage } = longSweep('cancel', '{ lr: 0.02, epochs: 30, batchSize: 32 }');
  const { handle } = await startSweep(c.client, cfg, { id });
  await waitFor('the unlearning stage at work', async () => {
    const s = await sweepProgress(c.client, id).catch(() => null);
    return s?.stages.some((st) => st.stage === unlearnStage.key && st.progress?.phase === 'unlearn' && st.progress.step > 0);
  }, 180_000, 200);
  const t0 = Date.now();
  await handle.cancel();
  await assert.rejects(handle.result(), (e: unknown) => e instanceof WorkflowFailedError);
  const latency = (Date.now() - t0) / 1000;
  console.log(`[long-stage] cancel -> workflow closed (running stage acknowledged) in ${latency.toFixed(2)} s`);
  const [row] = await q('SELECT status FROM stages WHERE key = $1', [unlearnStage.key]);
  assert.equal(row.status, 'cancelled');
  assert.equal((await q('SELECT 1 FROM artifacts WHERE key = $1', [unlearnStage.key])).length, 0, 'the stage did not run to its end');
  const curve = await q(`SELECT count(*)::int AS n FROM curves WHERE stage_key = $1 AND name = 'unlearn_loss'`, [unlearnStage.key]);
  assert.ok(curve[0].n < 30, `${curve[0].n} of 30 epochs ran`);
});

void test('a retried unlearning stage resumes from its last epoch checkpoint', async () => {
  const { cfg, id, unlearnStage } = longSweep('resume', '{ lr: 0.03, epochs: 2, batchSize: 32 }');
  const store = s3Store(s3Config(process.env));
  const { handle } = await startSweep(c.client, cfg, { id });
  const saved = await waitFor('an unlearning epoch checkpoint', async () => {
    const keys = await store.list(checkpointPrefix(unlearnStage.key));
    return keys.length > 0 ? keys : null;
  }, 240_000, 100);
  assert.equal(await workers[1].stop('SIGKILL'), null, 'killed by a signal');
  const epochAtKill = Math.max(...saved.map((k) => Number(/epoch-(\d+)\.ckpt$/.exec(k)![1])));
  workers[1] = startWorker('gpu', env.prefix);
  await workers[1].ready;
  const r = await handle.result();
  assert.equal(r.status, 'completed', JSON.stringify(r.errors));
  const resumed = r.resumed[unlearnStage.key];
  console.log(`[long-stage] unlearn stage killed with epoch ${epochAtKill} saved; the retry resumed from epoch ${resumed}`);
  // 2 epochs: the only checkpoint is epoch 1's (none after the last epoch)
  assert.equal(epochAtKill, 1);
  assert.equal(resumed, 1, `resumed from epoch ${resumed}`);
  const [row] = await q('SELECT status, attempts FROM stages WHERE key = $1', [unlearnStage.key]);
  assert.equal(row.status, 'done');
  assert.ok(row.attempts >= 2);
  const [art] = await q('SELECT metadata FROM artifacts WHERE key = $1', [unlearnStage.key]);
  assert.equal(art.metadata.resumedFromEpoch, resumed);
});
