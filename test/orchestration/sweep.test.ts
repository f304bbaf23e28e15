// Sweeps through the real Temporal dev server, PostgreSQL and S3 with real worker processes:
// completion with every trial's metrics stored, memoized rerun, adding an algorithm, SIGKILL mid-training
// with resume from a saved epoch, a failed trial that does not fail the sweep, cancellation, and a malformed
// sweep file rejected before anything starts.
import test, { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { WorkflowFailedError, WorkflowNotFoundError } from '@temporalio/client';
import { openDb, type DbHandle } from '../../db/client.js';
import { connectClient, startSweep, type SweepClient } from '../../cli/sweep.js';
import { parseSweepText } from '../../sweep/registries.js';
import { expandSweep } from '../../sweep/plan.js';
import { s3Store } from '../../activities/store.js';
import { s3Config } from '../../config/index.js';
import { checkpointPrefix, trialRowId } from '../../activities/stages.js';
import type { SweepProgress, SweepResult } from '../../workflows/sweep.js';
import { root, setupEnv, startWorker, waitFor, type WorkerProc } from './helpers.js';

let env: { prefix: string; ns: string };
let c: SweepClient;
let db: DbHandle;
const workers: WorkerProc[] = [];
const baseText = readFileSync(path.join(root, 'sweeps', 'synthetic-test.yaml'), 'utf8');

before(async () => {
  env = await setupEnv('orch');
  const io = startWorker('io', env.prefix);
  const gpu = startWorker('gpu', env.prefix);
  workers.push(io, gpu);
  c = await connectClient();
  db = openDb();
  await Promise.all([io.ready, gpu.ready]);
});

after(async () => {
  await Promise.all(workers.map((w) => w.stop('SIGTERM')));
  await c?.close();
  await db?.close();
});

const q = async (text: string, values: unknown[] = []) => (await db.pool.query(text, values)).rows;

function config(extra: string, ns: string) {
  return parseSweepText(`${baseText}\ncacheNamespace: ${ns}\n${extra}`, 'synthetic-test.yaml');
}

async function metricCounts(sweepId: string) {
  return q(`SELECT t.algorithm, t.status, count(m.*)::int AS metrics, count(DISTINCT (m.split, m.name))::int AS distinct_metrics
            FROM trials t LEFT JOIN metrics m ON m.trial_id = t.id WHERE t.sweep_id = $1 GROUP BY t.id, t.algorithm, t.status`, [sweepId]);
}

void test('a sweep of 2 forget sets x 3 algorithms x 2 seeds completes with every trial\'s metrics; a rerun trains nothing; a new algorithm runs only its stages', async () => {
  const ns = `${env.ns}-main`;
  const id = `${ns}-sweep`;
  const cfg = config('', ns);
  const plan = expandSweep(cfg, id);
  const r1 = await (await startSweep(c.client, cfg, { id })).handle.result();
  assert.equal(r1.status, 'completed', JSON.stringify(r1.errors));
  assert.equal(r1.trials.done, 20);
  assert.equal(r1.byStatus.ran, plan.stages.length);
  const rows = await metricCounts(id);
  assert.equal(rows.length, 20, 'one trial row per trial (3 algorithms + retrain + original) x 2 forget sets x 2 seeds');
  for (const r of rows) {
    assert.equal(r.status, 'completed');
    assert.equal(r.metrics, 6, `${r.algorithm}: forget/retain/test accuracy, forget/test loss, MIA efficacy`);
  }
  const [sweepRow] = await q('SELECT status FROM sweeps WHERE id = $1', [id]);
  assert.equal(sweepRow.status, 'completed');
  const attemptsBefore = await q(`SELECT key, attempts, finished_at FROM stages WHERE key = ANY($1::text[]) ORDER BY key`, [plan.stages.map((s) => s.key)]);

  // Same id again: everything is memoized, no training stage starts.
  const r2 = await (await startSweep(c.client, cfg, { id })).handle.result();
  assert.equal(r2.trainingRan, 0);
  assert.equal(r2.byStatus.cached, plan.stages.length);
  assert.equal(r2.byStatus.ran ?? 0, 0);
  assert.deepEqual(await q(`SELECT key, attempts, finished_at FROM stages WHERE key = ANY($1::text[]) ORDER BY key`, [plan.stages.map((s) => s.key)]), attemptsBefore);

  // One more algorithm: only its unlearn/evaluate/record stages run (4 each: 2 forget sets x 2 seeds).
  const cfg3 = config('', ns);
  cfg3.grid.algorithms.push({ name: 'l1-sparse', hparams: { lr: 0.02, epochs: 2, batchSize: 32 } });
  const r3 = await (await startSweep(c.client, cfg3, { id })).handle.result();
  const ran = Object.fromEntries(Object.entries(r3.byKind).map(([k, v]) => [k, v.ran ?? 0]).filter(([, v]) => v !== 0));
  assert.deepEqual(ran, { unlearn: 4, evaluate: 4, record: 4 });
  assert.equal(r3.trainingRan, 4);
  assert.equal(r3.trials.done, 24);
  const rows3 = await metricCounts(id);
  assert.equal(rows3.length, 24);
  assert.ok(rows3.every((r) => r.metrics === 6 && r.distinct_metrics === 6));

  // Back to the first file under the same id: nothing runs, and the sweep's rows mirror its config again.
  const r4 = await (await startSweep(c.client, cfg, { id })).handle.result();
  assert.equal(r4.byStatus.ran ?? 0, 0);
  assert.equal((await metricCounts(id)).length, 20);
});

void test('SIGKILL of the gpu worker mid-training: a new worker resumes from a saved epoch; a diverging trial fails alone', async () => {
  const ns = `${env.ns}-kill`;
  const id = `${ns}-sweep`;
  const cfg = parseSweepText(`
name: kill-test
cacheNamespace: ${ns}
seeds: [0]
grid:
  datasets: [{ id: synthetic, subset: { perClass: 250, testPerClass: 25 }, params: { numClasses: 4, shape: [16, 16, 1] } }]
  models: [{ id: cnn, params: { channels: [8, 16], dense: 32 } }]
  recipes: [{ name: slow, epochs: 8, batchSize: 32, lr: 0.05 }]
  forgetSets: [{ kind: iid, fraction: 0.1 }]
  algorithms:
    - { name: finetune, hparams: { lr: 0.02, epochs: 1, batchSize: 64 } }
    - { name: gradient-ascent, hparams: { lr: 1.0e+12, epochs: 2, batchSize: 64 } }
oracle: false
evaluation: { mia: false, perExample: true }
execution: { window: 2, heartbeatTimeoutS: 4, maxAttempts: 5, retryInitialS: 1 }
`, 'kill.yaml');
  const plan = expandSweep(cfg, id);
  const original = plan.stages.find((s) => s.kind === 'train.original')!;
  const store = s3Store(s3Config(process.env));
  const { handle } = await startSweep(c.client, cfg, { id });
  // Wait for the first epoch checkpoint of the original model, then kill the gpu worker without warning.
  await waitFor('an epoch checkpoint', async () => (await store.list(checkpointPrefix(original.key))).length > 0, 90_000, 100);
  const gpu = workers[1];
  assert.equal(await gpu.stop('SIGKILL'), null, 'killed by a signal');
  const replacement = startWorker('gpu', env.prefix);
  workers[1] = replacement;
  await replacement.ready;
  const r = await handle.result();
  const resumed = r.resumed[original.key];
  assert.ok(resumed !== undefined && resumed > 0, `the retried original resumed from epoch ${resumed} (resumed: ${JSON.stringify(r.resumed)})`);
  const [stageRow] = await q('SELECT status, attempts FROM stages WHERE key = $1', [original.key]);
  assert.equal(stageRow.status, 'done');
  assert.ok(stageRow.attempts >= 2);
  // The diverging algorithm failed (non-retryable: one attempt), was recorded with its error, the sweep went on.
  assert.equal(r.status, 'completed_with_failures');
  const trials = await q('SELECT role, algorithm, label, status, error, code_version, backend, worker_host FROM trials WHERE sweep_id = $1 ORDER BY label', [id]);
  assert.deepEqual(trials.map((t) => [t.role, t.algorithm, t.label, t.status]), [
    ['method', 'finetune', 'finetune', 'completed'], ['method', 'gradient-ascent', 'gradient-ascent', 'failed'], ['original', null, 'original', 'completed'],
  ]);
  // provenance: the code version, backend/device and worker host of every completed trial
  for (const t of trials.filter((x) => x.status === 'completed')) {
    assert.match(t.code_version, /^\d+\.\d+\.\d+/);
    assert.match(t.backend, /\/cpu$/);
    assert.ok(t.worker_host, 'worker host recorded');
  }
  assert.match(trials[1].error, /diverg|NaN|Inf/i);
  const ga = plan.stages.find((s) => s.kind === 'unlearn' && s.params.algorithm === 'gradient-ascent')!;
  const [gaRow] = await q('SELECT status, attempts FROM stages WHERE key = $1', [ga.key]);
  assert.deepEqual([gaRow.status, gaRow.attempts], ['failed', 1]);
  // No metric row duplicated.
  const m = await q(`SELECT trial_id, split, name, count(*)::int AS n FROM metrics WHERE trial_id = ANY($1::text[]) GROUP BY 1, 2, 3 HAVING count(*) > 1`, [plan.trials.map((t) => trialRowId(id, t.id))]);
  assert.equal(m.length, 0);
  const counts = await metricCounts(id);
  assert.ok(counts.filter((x) => x.status === 'completed').every((x) => x.metrics === 6));
});

void test('cancelling mid-sweep stops running stages and keeps finished results', async () => {
  const ns = `${env.ns}-cancel`;
  const id = `${ns}-sweep`;
  const cfg = config('', ns);
  cfg.execution.window = 2;
  const { handle } = await startSweep(c.client, cfg, { id });
  await waitFor('a finished trial', async () => {
    const p = await handle.query<SweepProgress>('progress').catch(() => null);
    return p && p.trials.done >= 2 && p.trials.done < p.trials.total - 4;
  }, 90_000, 50);
  await handle.cancel();
  await assert.rejects(handle.result(), (e: unknown) => e instanceof WorkflowFailedError);
  const [sweepRow] = await q('SELECT status FROM sweeps WHERE id = $1', [id]);
  assert.equal(sweepRow.status, 'cancelled');
  const rows = await metricCounts(id);
  const completed = rows.filter((r) => r.status === 'completed');
  assert.ok(completed.length >= 2, `finished trials kept (${completed.length})`);
  assert.ok(completed.every((r) => r.metrics === 6));
  assert.ok(rows.some((r) => r.status === 'failed'), 'unfinished trials are recorded as not completed');
  const plan = expandSweep(cfg, id);
  const st = await q(`SELECT status, count(*)::int AS n FROM stages WHERE key = ANY($1::text[]) GROUP BY status`, [plan.stages.map((s) => s.key)]);
  const by = Object.fromEntries(st.map((r) => [r.status, r.n]));
  assert.ok(by.cancelled > 0 && by.done > 0, JSON.stringify(by));
  assert.equal(by.running ?? 0, 0, 'no stage left running');
  // Finished artifacts are intact: resuming the same id reuses them and completes.
  const r = await (await startSweep(c.client, cfg, { id })).handle.result() as SweepResult;
  assert.equal(r.status, 'completed');
  assert.ok((r.byStatus.cached ?? 0) >= by.done);
});

void test('a malformed sweep file is rejected before anything starts, naming the file and the path', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sweep-'));
  const file = path.join(dir, 'bad.yaml');
  writeFileSync(file, baseText.replace('{ lr: 0.02, epochs: 2, batchSize: 32, beta: 0.95 }', '{ lr: fast, epochs: 2, batchSize: 32, beta: 0.95 }'));
  const id = `${env.ns}-bad`;
  const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(root, 'cli', 'main.ts'), 'sweep', 'start', file, '--id', id], { cwd: root, encoding: 'utf8', env: process.env });
  assert.equal(r.status, 2, r.stderr); // 2: the file is invalid (sweep plan and start)
  assert.match(r.stderr, new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: grid\\.algorithms\\[2\\]\\.hparams\\.lr: expected number, received string`));
  await assert.rejects(c.client.workflow.getHandle(id).describe(), (e: unknown) => e instanceof WorkflowNotFoundError);
  assert.equal((await q('SELECT 1 FROM sweeps WHERE id = $1', [id])).length, 0);
});

void test('workers report backend and version at start and stop gracefully on SIGTERM', async () => {
  for (const w of workers) {
    assert.match(w.output(), /\[worker \S+\] queues=t-\S+ backend=(wasm|cpu|node|node-gpu|noop) device=\w+ tfjs=\S+ unlearn=\S+/);
    assert.equal(await w.stop('SIGTERM'), 0);
    assert.match(w.output(), /stopped/);
  }
});
