// Records event histories of SweepWorkflow as it is now, for the replay test (test/orchestration/replay.test.ts):
//   npm run record:histories          (writes histories/<CURRENT_GENERATION>/)
// Runs small no-op sweeps on the test stack (services from TEMPORAL_ADDRESS / DATABASE_URL / S3_* when set, else
// started like `npm test` does) with an in-process worker, and writes each run's history to
// test/orchestration/replay/histories/<scenario>.json. Scenarios: a completed sweep, the same sweep again (all
// cached), a sweep that continues as new (one file per run), and a cancelled sweep.
// A change of the workflow's commands goes behind `patched()` and gets a new generation (CURRENT_GENERATION): the
// histories of the earlier generations stay, committed, and the replay test holds new workflow code to all of them.
import { mkdirSync, writeFileSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { Client, Connection, WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { historyToJSON } from '@temporalio/common/lib/proto-utils.js';
import type { temporal } from '@temporalio/proto';
import { createScratchDatabase, ensureStack, stackEnv } from '../../../infra/stack.js';
import { connectionOptions } from '../../../infra/temporal.js';
import { databaseUrl, s3Config, temporalConfig, workerHost } from '../../../config/index.js';
import { migrate } from '../../../db/migrate.js';
import { workflowBundle } from '../../../workers/worker.js';
import { createActivities, defaultDeps } from '../../../activities/stages.js';
import { noopCompute } from '../../../activities/compute.js';
import { parseSweepText } from '../../../sweep/registries.js';
import { startSweep } from '../../../cli/sweep.js';
import type { SweepProgress } from '../../../workflows/sweep.js';
import { smallGridYaml } from '../fixtures.js';

const here = path.dirname(fileURLToPath(import.meta.url));
/** One folder per generation of the workflow's commands; every generation's histories must keep replaying. */
export const HISTORIES_DIR = path.join(here, 'histories');
/** The generation this recorder writes: histories of the workflow as it is now (stage chains). Earlier ones:
 *  `before-chains` (one activity per stage). */
export const CURRENT_GENERATION = 'chains';

export const sweepText = (name: string, seeds: string, extra = '') => `
name: ${name}
compute: noop
seeds: ${seeds}
${smallGridYaml()}oracle: true
${extra}`;

async function main(): Promise<void> {
  const t0 = Date.now();
  const stack = await ensureStack({ profile: 'test', log: (l) => console.error(`[stack] ${l}`) });
  const env = stackEnv(stack);
  const scratch = stack.sources.postgres === 'env' ? undefined : await createScratchDatabase(stack.databaseUrl, 'unlearn_record');
  Object.assign(process.env, env, scratch ? { DATABASE_URL: scratch.url } : {});
  const tag = randomBytes(4).toString('hex');
  process.env.UNLEARN_QUEUE_PREFIX = `record-${tag}-`;
  const queues = { gpu: `record-${tag}-gpu`, io: `record-${tag}-io` };
  let worker: Worker | undefined;
  let running: Promise<void> | undefined;
  let connection: Connection | undefined;
  try {
    await migrate(process.env.DATABASE_URL);
    const cfg = temporalConfig(process.env);
    const native = await NativeConnection.connect(connectionOptions(cfg));
    // One worker on both queues is enough: histories do not depend on which worker ran a stage.
    const activities = createActivities(defaultDeps({ noop: noopCompute }, queues.io, { s3: s3Config(process.env), databaseUrl: databaseUrl(process.env), host: workerHost(process.env) }));
    worker = await Worker.create({ connection: native, namespace: cfg.namespace, taskQueue: queues.io, workflowBundle: await workflowBundle(), activities, maxConcurrentActivityTaskExecutions: 16 });
    const gpuWorker = await Worker.create({ connection: native, namespace: cfg.namespace, taskQueue: queues.gpu, activities, maxConcurrentActivityTaskExecutions: 8 });
    running = Promise.all([worker.run(), gpuWorker.run()]).then(() => undefined);
    const stopWorkers = () => { worker!.shutdown(); gpuWorker.shutdown(); };
    connection = await Connection.connect(connectionOptions(cfg));
    const client = new Client({ connection, namespace: cfg.namespace });

    const dir = path.join(HISTORIES_DIR, CURRENT_GENERATION);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const save = async (name: string, handle: WorkflowHandle) => {
      // Follow continue-as-new from the chain's first run: one file per run.
      const first = (handle as WorkflowHandle & { firstExecutionRunId?: string }).firstExecutionRunId;
      if (!first) throw new Error(`no first run id for ${handle.workflowId}`);
      let runId: string | undefined = first;
      const runs: temporal.api.history.v1.IHistory[] = [];
      while (runId) {
        const h: temporal.api.history.v1.IHistory = await client.workflow.getHandle(handle.workflowId, runId).fetchHistory();
        runs.push(h);
        const last: temporal.api.history.v1.IHistoryEvent | undefined = h.events?.[h.events.length - 1];
        runId = last?.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId ?? undefined;
      }
      runs.forEach((h, i) => {
        const file = path.join(dir, runs.length === 1 ? `${name}.json` : `${name}-run${i + 1}.json`);
        writeFileSync(file, `${historyToJSON(h)}\n`);
        console.log(`${path.relative(process.cwd(), file)}: ${h.events?.length} events`);
      });
    };

    const ns = `record-${tag}`;
    // 1. A completed sweep, then the same sweep again (every stage cached: a different path through the workflow).
    const basic = parseSweepText(sweepText('replay-basic', '[0]', `cacheNamespace: ${ns}-basic\nexecution: { window: 4 }`), 'replay-basic.yaml');
    const r1 = await startSweep(client, basic, { id: `${ns}-basic` });
    await r1.handle.result();
    await save('completed', r1.handle);
    const r2 = await startSweep(client, basic, { id: `${ns}-basic` });
    await r2.handle.result();
    await save('all-cached', r2.handle);

    // 2. A sweep that continues as new (history limit 200: about 30 activities per run; four seeds, so that the
    //    chains' fewer activities still take several runs).
    const can = parseSweepText(sweepText('replay-can', '[0, 1, 2, 3]', `cacheNamespace: ${ns}-can\nexecution: { window: 6, historyLimit: 200 }`), 'replay-can.yaml');
    const r3 = await startSweep(client, can, { id: `${ns}-can` });
    const res3 = await r3.handle.result();
    if (res3.run < 2) throw new Error(`the continue-as-new scenario ran in ${res3.run} run(s); expected several`);
    await save('continued-as-new', r3.handle);

    // 3. A cancelled sweep: cancel once a few stages finished.
    const cancel = parseSweepText(sweepText('replay-cancel', '[0]', `cacheNamespace: ${ns}-cancel\nexecution: { window: 2 }`), 'replay-cancel.yaml');
    const r4 = await startSweep(client, cancel, { id: `${ns}-cancel` });
    for (;;) {
      const p = await r4.handle.query<SweepProgress>('progress').catch(() => null);
      if (p && (p.byStatus.ran ?? 0) >= 4) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    await r4.handle.cancel();
    await r4.handle.result().then(
      () => { throw new Error('the cancelled sweep completed'); },
      (e: unknown) => { if (!(e instanceof WorkflowFailedError)) throw e; },
    );
    await save('cancelled', r4.handle);
    stopWorkers();
    console.log(`recorded ${readdirSync(dir).length} histories in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  } finally {
    if (worker?.getState() === 'RUNNING') worker.shutdown();
    await running?.catch(() => undefined);
    await connection?.close();
    await scratch?.drop();
    await stack.stop();
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().then(
    () => process.exit(0),
    (e: unknown) => {
      console.error(e);
      process.exit(1);
    },
  );
}
