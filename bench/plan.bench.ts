// `npm run bench -- plan`: the planning activity's work without Temporal. For each size in PLAN_BENCH_TRIALS
// (default `10000,100000`, comma separated) a `compute: noop` sweep (10 seeds × 2 forget sets × (original +
// retrain + a finetune lr grid), as bench/orchestration.bench.ts builds it) is planned by storeSweepPlan
// (activities/stages.ts: the body of the `planSweep` activity) into a scratch database next to DATABASE_URL
// (created, migrated and dropped here), one run per size, each step timed: validate, sweep row, settings rows,
// stored-plan lookup, expansion (keys and hashing), pruning of old trial rows, writing `stages` and `plan_stages`.
// Then the same config again (the stored plan is found and reused), and the process's CPU time. Then the sweep is
// cancelled as the workflow does it (the `markStages` activity, run in-process through @temporalio/testing's
// MockActivityEnvironment, with every position of the plan as unfinished ranges): every stage marked `cancelled`
// and every trial row written `failed: cancelled`, timed.
// Needs DATABASE_URL (e.g. `eval "$(npm run -s stack -- env --profile test)"`). Prints JSON to stdout and writes
// bench/results/plan-<timestamp>.json.
import { randomBytes } from 'node:crypto';
import { loadavg } from 'node:os';
import { createScratchDatabase } from '../infra/stack.js';
import { openDb } from '../db/client.js';
import { parseSweep } from '../sweep/schema.js';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities, storeSweepPlan, type ActivityDeps, type PlanPhases } from '../activities/stages.js';
import type { MarkStagesInput } from '../activities/types.js';
import { machineInfo, writeBenchResult } from './result-file.js';

const sizes = (process.env.PLAN_BENCH_TRIALS ?? '10000,100000').split(',').map((v) => Number(v.trim()));
for (const n of sizes) if (!(Number.isInteger(n) && n >= 60)) throw new Error(`PLAN_BENCH_TRIALS: expected integers ≥ 60, comma separated, got "${process.env.PLAN_BENCH_TRIALS}"`);
const base = process.env.DATABASE_URL;
if (!base) throw new Error('bench plan: DATABASE_URL is not set; point it at a PostgreSQL server (e.g. eval "$(npm run -s stack -- env --profile test)")');
const machine = machineInfo();
const log = (m: string) => console.error(`[bench plan] ${m}`);
const ms = (x: number) => Math.round(x);

/** The orchestration benchmark's sweep at `trials` trials. */
function sweepText(trials: number, tag: string): string {
  const seeds = 10;
  const perCombo = Math.max(3, Math.round(trials / (seeds * 2)));
  const lrs = Array.from({ length: perCombo - 2 }, (_, i) => Number((0.001 * (i + 1)).toFixed(6)));
  return JSON.stringify({
    name: 'bench-plan', compute: 'noop', cacheNamespace: `bench-plan-${tag}`, seeds: Array.from({ length: seeds }, (_, i) => i),
    grid: {
      datasets: [{ id: 'synthetic' }], models: [{ id: 'mlp', params: { hidden: [8] } }],
      recipes: [{ name: 'r', epochs: 1, batchSize: 8, lr: 0.1 }],
      forgetSets: [{ kind: 'iid', fraction: 0.1 }, { kind: 'classes', classes: [0], fraction: 0.1 }],
      algorithms: [{ name: 'finetune', hparams: { lr: lrs, epochs: 1 } }],
    },
    execution: { window: 64 },
  });
}

const scratch = await createScratchDatabase(base, 'unlearn_bench_plan');
const db = openDb(scratch.url);
const runs: unknown[] = [];
try {
  for (const n of sizes) {
    const tag = randomBytes(4).toString('hex');
    const cfg = parseSweep(sweepText(n, tag), `bench-plan-${n}.json`);
    const sweepId = `bench-plan-${n}-${tag}`;
    const phases: PlanPhases = {};
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const info = await storeSweepPlan(db, { sweepId, config: cfg }, { phases });
    const wall = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    const again: PlanPhases = {};
    const t1 = performance.now();
    await storeSweepPlan(db, { sweepId, config: cfg }, { phases: again });
    const reuse = performance.now() - t1;
    // cancellation of the whole plan, as the workflow sends it
    const acts = createActivities({ store: undefined, db, computes: {}, identity: 'bench:plan:io' } as unknown as ActivityDeps);
    const cancel: MarkStagesInput = { sweepId, planId: info.planId, marks: [], ranges: { ranges: [[0, info.stages]], status: 'cancelled', error: 'sweep cancelled' } };
    const t2 = performance.now();
    await new MockActivityEnvironment().run(acts.markStages, cancel);
    const cancelMs = performance.now() - t2;
    const rows = (await db.pool.query(`SELECT count(*)::int AS n FROM trials WHERE sweep_id = $1 AND status = 'failed' AND error = 'cancelled: sweep cancelled'`, [sweepId])).rows[0].n as number;
    if (rows !== info.trials) throw new Error(`bench plan: cancellation wrote ${rows} trial rows, the plan has ${info.trials} trials`);
    const run = {
      trials: info.trials, stages: info.stages, kinds: info.kinds,
      planMs: ms(wall), cpuMs: ms((cpu.user + cpu.system) / 1000),
      phasesMs: Object.fromEntries(Object.entries(phases).map(([k, v]) => [k, ms(v)])),
      storedPlanReusedMs: ms(reuse),
      cancelMs: ms(cancelMs),
    };
    log(`${info.trials} trials, ${info.stages} stages: planned in ${run.planMs} ms (${run.cpuMs} ms CPU of this process) ${JSON.stringify(run.phasesMs)}; same config again ${run.storedPlanReusedMs} ms; cancelling all ${info.trials} trials ${run.cancelMs} ms`);
    runs.push(run);
  }
  const result = { bench: 'plan', machine, loadavgAtEnd: loadavg().map((x) => Math.round(x * 100) / 100), runs };
  const file = writeBenchResult('plan', result);
  console.log(JSON.stringify(result, null, 2));
  log(`wrote ${file}`);
} finally {
  await db.close();
  await scratch.drop();
}
