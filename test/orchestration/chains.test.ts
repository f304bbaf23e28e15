// Stage chains through the real Temporal dev server, PostgreSQL and S3: the workflow runs a stage and the stages
// that wait on it alone (unlearn → evaluate → record) as one activity. A scripted no-op compute makes a chain's
// second stage fail three ways, and each failure must land on the stage it belongs to:
//   - finetune: its evaluation fails for good (non-retryable): unlearn counted ran, evaluate failed, record skipped
//   - del: its evaluation fails once (retryable): the chain is retried, its unlearn (made by the first attempt) is
//     found memoized and still counted ran, the trial completes
//   - gradient-ascent: its evaluation outlasts the stage timeout twice (the failure carries no details): the
//     chain's stages run again one at a time, and the trial completes
// and a sweep cancelled while a chain is in its second stage counts the first finished, the rest cancelled.
// Workers run in this process (the compute is scripted); services come from `npm test`'s stack.
import test, { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { NativeConnection, Worker } from '@temporalio/worker';
import { openDb, type DbHandle } from '../../db/client.js';
import { WorkflowFailedError } from '@temporalio/client';
import { connectClient, startSweep, type SweepClient } from '../../cli/sweep.js';
import { progressQuery } from '../../workflows/sweep.js';
import { parseSweepText } from '../../sweep/registries.js';
import { expandSweep } from '../../sweep/plan.js';
import { databaseUrl, queueNames, s3Config, temporalConfig } from '../../config/index.js';
import { connectionOptions } from '../../infra/temporal.js';
import { workflowBundle } from '../../workers/worker.js';
import { createActivities, defaultDeps } from '../../activities/stages.js';
import { InvalidConfigError, noopCompute, type Compute } from '../../activities/compute.js';
import { setupEnv, waitFor } from './helpers.js';

let env: { prefix: string; ns: string };
let c: SweepClient;
let db: DbHandle;
let stopWorkers: () => Promise<void>;
/** evaluate runs seen so far, by stage label */
const evaluations = new Map<string, number>();

/** The no-op compute, with the scripted failures of the evaluations named in the header. */
const scripted: Compute = {
  ...noopCompute,
  async run(ctx) {
    const { kind, label } = ctx.stage;
    if (kind === 'evaluate') {
      const n = (evaluations.get(label) ?? 0) + 1;
      evaluations.set(label, n);
      if (label.startsWith('evaluate finetune')) throw new InvalidConfigError('scripted: this evaluation refuses its input');
      if (label.startsWith('evaluate del') && n === 1) throw new Error('scripted: a transient fault');
      if (label.startsWith('evaluate hold')) {
        // held until the sweep is cancelled (the cancellation test)
        const until = Date.now() + 60_000;
        while (Date.now() < until && !ctx.signal.aborted) await new Promise((r) => setTimeout(r, 50));
      }
      if (label.startsWith('evaluate gradient-ascent') && n <= 2) {
        // past the chain's timeout (3 stages × 2 s): the attempt times out, and the failure says nothing of the chain
        const until = Date.now() + 9000;
        while (Date.now() < until && !ctx.signal.aborted) await new Promise((r) => setTimeout(r, 50));
      }
    }
    return noopCompute.run(ctx);
  },
};

before(async () => {
  env = await setupEnv('chains');
  const cfg = temporalConfig(process.env);
  const queues = queueNames(process.env);
  const native = await NativeConnection.connect(connectionOptions(cfg));
  const activities = createActivities(defaultDeps({ noop: scripted }, queues.io, { s3: s3Config(process.env), databaseUrl: databaseUrl(process.env), host: 'chains-test' }));
  const io = await Worker.create({ connection: native, namespace: cfg.namespace, taskQueue: queues.io, workflowBundle: await workflowBundle(), activities, maxConcurrentActivityTaskExecutions: 8 });
  const gpu = await Worker.create({ connection: native, namespace: cfg.namespace, taskQueue: queues.gpu, activities, maxConcurrentActivityTaskExecutions: 4, maxHeartbeatThrottleInterval: '1s' });
  const running = Promise.all([io.run(), gpu.run()]);
  stopWorkers = async () => {
    io.shutdown();
    gpu.shutdown();
    await running;
    await native.close();
  };
  c = await connectClient();
  db = openDb();
});

after(async () => {
  await stopWorkers?.();
  await c?.close();
  await db?.close();
});

const q = async (text: string, values: unknown[] = []) => (await db.pool.query(text, values)).rows;

/** A no-op sweep of one seed and one forget set, no oracle, with these algorithms (YAML list items). */
const noopSweep = (name: string, ns: string, algorithms: string, execution: string) => parseSweepText(`
name: ${name}
cacheNamespace: ${ns}
compute: noop
seeds: [0]
grid:
  datasets: [{ id: synthetic }]
  models: [{ id: mlp, params: { hidden: [16] } }]
  recipes: [{ name: quick, epochs: 1, batchSize: 32, lr: 0.1 }]
  forgetSets: [{ kind: iid, fraction: 0.1 }]
  algorithms:${algorithms}
oracle: false
evaluation: { mia: false, perExample: false }
execution: ${execution}
`, `${name}.yaml`);

void test('a chain that fails at its second stage: the failure lands on that stage, finished ones count as ran, retries and timeouts recover', async () => {
  const cfg = noopSweep('chains', env.ns, `
    - { name: finetune, hparams: { lr: 0.05, epochs: 1 } }
    - { name: del, localization: { strategy: wg-channel, alpha: 0.3 }, hparams: { lr: 0.05, epochs: 1 } }
    - { name: gradient-ascent, hparams: { lr: 0.01, epochs: 1 } }`, '{ window: 4, heartbeatTimeoutS: 10, stageTimeoutS: 2, maxAttempts: 2, retryInitialS: 1 }');
  const id = `${env.ns}-sweep`;
  const plan = expandSweep(cfg, id);
  const { handle } = await startSweep(c.client, cfg, { id });
  const r = await handle.result();

  // Every stage finished once, in the workflow's counts: the failed evaluation's record is the only one skipped.
  assert.equal(r.status, 'completed_with_failures');
  assert.deepEqual(r.byKind.evaluate, { ran: 3, failed: 1 }, JSON.stringify(r.byKind));
  assert.deepEqual(r.byKind.record, { ran: 3, skipped: 1 }, JSON.stringify(r.byKind));
  // finetune's and del's unlearning ran in their chains (del's was found memoized by the retry of its own
  // chain: still ran); gradient-ascent's chain timed out, so its unlearning, run again alone, finds it cached
  assert.deepEqual(r.byKind.unlearn, { ran: 2, cached: 1 }, JSON.stringify(r.byKind));
  assert.equal(Object.values(r.byStatus).reduce((a, b) => a + b, 0), plan.stages.length);

  const stage = async (labelStart: string) => {
    const rows = await q('SELECT kind, status, attempts, error FROM stages WHERE key = ANY($1::text[]) AND kind <> $2', [plan.stages.filter((s) => s.label.includes(labelStart)).map((s) => s.key), 'none']);
    return Object.fromEntries(rows.map((x) => [x.kind, x]));
  };
  const ft = await stage('finetune');
  assert.deepEqual([ft.unlearn.status, ft.evaluate.status, ft.record.status], ['done', 'failed', 'skipped']);
  assert.equal(ft.evaluate.attempts, 1, 'non-retryable: one attempt');
  const del = await stage(' del ');
  assert.deepEqual([del.unlearn.status, del.unlearn.attempts, del.evaluate.status, del.evaluate.attempts, del.record.status], ['done', 1, 'done', 2, 'done']);
  const ga = await stage('gradient-ascent');
  assert.deepEqual([ga.unlearn.status, ga.evaluate.status, ga.record.status], ['done', 'done', 'done']);
  assert.equal(evaluations.get(plan.stages.find((s) => s.kind === 'evaluate' && s.label.startsWith('evaluate gradient-ascent'))!.label), 3, 'two timed-out chain attempts, then alone');

  const trials = await q('SELECT algorithm, status, error FROM trials WHERE sweep_id = $1 ORDER BY algorithm NULLS FIRST', [id]);
  assert.deepEqual(trials.map((t) => [t.algorithm, t.status]), [[null, 'completed'], ['del', 'completed'], ['finetune', 'failed'], ['gradient-ascent', 'completed']]);
  assert.match(trials[2].error, /scripted: this evaluation refuses its input/);

  // The workflow ran chains (and single stages where a stage had several dependents).
  const history = await handle.fetchHistory();
  const scheduled = (history.events ?? []).map((e) => e.activityTaskScheduledEventAttributes?.activityType?.name).filter(Boolean);
  assert.ok(scheduled.includes('runChain') && scheduled.includes('runStage'), scheduled.join(', '));
});

void test('a sweep cancelled while a chain runs its second stage: the first counts as finished, the others cancelled', async () => {
  const cfg = noopSweep('chains-cancel', `${env.ns}-cancel`, `
    - { name: finetune, label: hold, hparams: { lr: 0.05, epochs: 1 } }`, '{ window: 4 }');
  const id = `${env.ns}-cancel`;
  const plan = expandSweep(cfg, id);
  const held = plan.stages.find((s) => s.kind === 'evaluate' && s.label.startsWith('evaluate hold'))!;
  const unlearn = plan.stages.find((s) => s.kind === 'unlearn')!;
  const { handle } = await startSweep(c.client, cfg, { id });
  await waitFor('the held evaluation running', async () => (await q('SELECT status FROM stages WHERE key = $1', [held.key]))[0]?.status === 'running', 60_000, 100);
  await handle.cancel();
  await assert.rejects(handle.result(), (e: unknown) => e instanceof WorkflowFailedError);
  const p = await handle.query(progressQuery);
  assert.deepEqual(p.byKind.unlearn, { ran: 1 }, JSON.stringify(p.byKind));
  assert.deepEqual(p.byKind.evaluate, { ran: 1, cancelled: 1 }, JSON.stringify(p.byKind));
  assert.deepEqual(p.byKind.record, { ran: 1, cancelled: 1 }, JSON.stringify(p.byKind));
  const rows = await q('SELECT key, status FROM stages WHERE key = ANY($1::text[])', [[unlearn.key, held.key]]);
  assert.deepEqual(Object.fromEntries(rows.map((x) => [x.key, x.status])), { [unlearn.key]: 'done', [held.key]: 'cancelled' });
});
