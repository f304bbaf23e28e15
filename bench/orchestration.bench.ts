// `npm run bench -- orchestration`: orchestration overhead with no-op compute through the REAL Temporal dev
// server, PostgreSQL and S3 (services from the environment, else `ensureStack({profile:'test'})`).
// A `compute: noop` sweep of ORCH_BENCH_TRIALS trials (default 2000; 3 stages per trial + shared stages) runs
// through an in-process worker (gpu + io queues); every stage still fetches and verifies its inputs from S3,
// writes its artifact, upserts its rows. Reports trials/s, wall ms per trial, activity latency per stage,
// the event history length of every run of the continue-as-new chain, and a memoized rerun.
// Env: ORCH_BENCH_TRIALS, ORCH_BENCH_WINDOW (default 64), ORCH_BENCH_CONCURRENCY (activities per queue, default 32),
// ORCH_BENCH_DEMO=1 also runs the demo sweep with real compute (`npm run demo -- --fresh`, minutes) and reports the
// fraction of gpu-worker wall time spent outside compute / outside training stages.
// Prints JSON to stdout and writes bench/results/orchestration-<timestamp>.json.
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const loadAtStart = os.loadavg();
const TRIALS = Number(process.env.ORCH_BENCH_TRIALS ?? 2000);
const WINDOW = Number(process.env.ORCH_BENCH_WINDOW ?? 64);
const CONC = Number(process.env.ORCH_BENCH_CONCURRENCY ?? 32);
const log = (m: string) => console.error(`[bench orchestration] ${m}`);

let stop: (() => Promise<void>) | undefined;
if (!process.env.TEMPORAL_ADDRESS || !process.env.DATABASE_URL || !process.env.S3_ENDPOINT) {
  const { ensureStack, stackEnv } = await import('../infra/stack.js');
  const stack = await ensureStack({ profile: 'test', log });
  Object.assign(process.env, stackEnv(stack));
  stop = () => stack.stop();
}
const tag = randomBytes(4).toString('hex');
process.env.UNLEARN_QUEUE_PREFIX = `bench-${tag}-`;

const { migrate } = await import('../db/migrate.js');
const { parseSweep } = await import('../sweep/schema.js');
const { expandSweep, countByKind } = await import('../sweep/plan.js');
const { connectClient, startSweep } = await import('../cli/sweep.js');
const { createWorkers } = await import('../workers/worker.js');
const { openDb } = await import('../db/client.js');
await migrate(process.env.DATABASE_URL);

// Trials = seeds × 2 forget sets × (original + retrain + finetune grid). Choose the grid to reach TRIALS.
const seeds = 10;
const perCombo = Math.max(3, Math.round(TRIALS / (seeds * 2)));
const lrs = Array.from({ length: perCombo - 2 }, (_, i) => Number((0.001 * (i + 1)).toFixed(6)));
const cfg = parseSweep(JSON.stringify({
  name: 'bench-noop', compute: 'noop', cacheNamespace: `bench-${tag}`, seeds: Array.from({ length: seeds }, (_, i) => i),
  grid: {
    datasets: [{ id: 'synthetic' }], models: [{ id: 'mlp', params: { hidden: [8] } }],
    recipes: [{ name: 'r', epochs: 1, batchSize: 8, lr: 0.1 }],
    forgetSets: [{ kind: 'iid', fraction: 0.1 }, { kind: 'classes', classes: [0], fraction: 0.1 }],
    algorithms: [{ name: 'finetune', hparams: { lr: lrs, epochs: 1 } }],
  },
  execution: { window: WINDOW, historyLimit: 4000 },
}), 'bench.json');
const id = `bench-noop-${tag}`;
const plan = expandSweep(cfg, id);
log(`${plan.trials.length} trials, ${plan.stages.length} stages ${JSON.stringify(countByKind(plan.stages))}, window ${WINDOW}, ${CONC} activities per queue`);

const w = await createWorkers({ queue: 'all', ioConcurrency: CONC, gpuConcurrency: CONC, log });
const running = w.run();
const c = await connectClient();
const db = openDb();
try {
  const t0 = Date.now();
  const r1 = await (await startSweep(c.client, cfg, { id })).handle.result();
  const wall1 = (Date.now() - t0) / 1000;
  // Every run of the continue-as-new chain and its history length.
  const runs: { runId: string; historyLength: number; status: string }[] = [];
  for await (const ex of c.client.workflow.list({ query: `WorkflowId = '${id}'` })) {
    const d = await c.client.workflow.getHandle(id, ex.runId).describe();
    runs.push({ runId: ex.runId, historyLength: d.historyLength, status: d.status.name });
  }
  const lat = await db.pool.query(`SELECT kind, count(*)::int AS n, avg((metadata->>'seconds')::float) * 1000 AS mean_ms,
      percentile_cont(0.5) WITHIN GROUP (ORDER BY (metadata->>'seconds')::float) * 1000 AS p50_ms,
      percentile_cont(0.95) WITHIN GROUP (ORDER BY (metadata->>'seconds')::float) * 1000 AS p95_ms
    FROM artifacts WHERE key = ANY($1::text[]) GROUP BY kind ORDER BY kind`, [plan.stages.map((s) => s.key)]);
  const t1 = Date.now();
  const r2 = await (await startSweep(c.client, cfg, { id })).handle.result();
  const wall2 = (Date.now() - t1) / 1000;
  const out = {
    bench: 'orchestration',
    when: new Date().toISOString(),
    machine: { cpu: os.cpus()[0]?.model, cores: os.cpus().length, loadAverageAtStart: loadAtStart, note: 'shared with other engineers\' CPU-heavy work' },
    backend: 'noop compute (no tensors); real Temporal dev server, PostgreSQL, S3 (versitygw)',
    temporal: process.env.TEMPORAL_ADDRESS,
    trials: plan.trials.length,
    stages: plan.stages.length,
    stagesByKind: countByKind(plan.stages),
    window: WINDOW,
    activityConcurrencyPerQueue: CONC,
    run: {
      status: r1.status,
      wallSeconds: wall1,
      trialsPerSecond: plan.trials.length / wall1,
      stagesPerSecond: plan.stages.length / wall1,
      wallMsPerTrial: (wall1 * 1000) / plan.trials.length,
      wallMsPerStage: (wall1 * 1000) / plan.stages.length,
      continueAsNewRuns: runs.length,
      historyLengthPerRun: runs.map((r) => r.historyLength),
      maxHistoryLength: Math.max(...runs.map((r) => r.historyLength)),
      activityLatencyByKind: lat.rows,
    },
    memoizedRerun: { wallSeconds: wall2, cached: r2.byStatus.cached ?? 0, ran: r2.byStatus.ran ?? 0, msPerStage: (wall2 * 1000) / plan.stages.length },
  };
  let demo: Record<string, unknown> | undefined;
  if (process.env.ORCH_BENCH_DEMO === '1') {
    // The demo sweep (real compute) with a fresh cache namespace: fraction of wall time outside training.
    // This process's worker is stopped first and the demo gets its own task queues: a worker whose event loop
    // waits on a child would accept tasks it cannot run.
    w.shutdown();
    await running;
    log('running the demo sweep (npm run demo -- --fresh) for the fraction of time outside training');
    const { spawn } = await import('node:child_process');
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(here, '..', 'cli', 'demo.ts'), '--fresh'], {
      env: { ...process.env, UNLEARN_DEMO_TIMING_JSON: '1', UNLEARN_QUEUE_PREFIX: `benchdemo-${tag}-` }, stdio: ['ignore', 'pipe', 'inherit'],
    });
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    const line = stdout.split('\n').find((l) => l.startsWith('TIMING_JSON '));
    if (code !== 0 || !line) throw new Error(`demo failed (${code}):\n${stdout.slice(-3000)}`);
    demo = JSON.parse(line.slice('TIMING_JSON '.length)) as Record<string, unknown>;
  }
  const json = JSON.stringify(demo ? { ...out, demo } : out, null, 2);
  console.log(json);
  mkdirSync(path.join(here, 'results'), { recursive: true });
  writeFileSync(path.join(here, 'results', `orchestration-${new Date().toISOString().replace(/[:.]/g, '-')}.json`), json + '\n');
} finally {
  await c.close();
  await db.close();
  if (w.workers.some((x) => x.getState() === 'RUNNING')) w.shutdown();
  await running;
  await stop?.();
}
