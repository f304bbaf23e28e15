// `npm run bench -- long-stage`: long unlearning stages through the REAL Temporal dev server, PostgreSQL and S3
// (services from the environment, else `ensureStack({profile:'test'})`) with real worker processes (one io, one
// gpu, as `unlearn worker` runs them).
// 1. Long epochs: finetune, NegGrad+ and SCRUB stages whose epochs last several heartbeat timeouts
//    (LONG_BENCH_HEARTBEAT_S, default 3) on 6,000 synthetic 32×32 images with a small CNN. Reports each stage's
//    attempts (goal: 1, i.e. zero retries), epoch seconds and their ratio to the heartbeat timeout.
// 2. Cancellation latency: LONG_BENCH_CANCELS (default 5) sweeps are cancelled while their unlearning stage is
//    mid-epoch; reports seconds from `cancel` to the stage row turning `cancelled` (the compute has stopped and
//    the activity has answered) and to the workflow closing.
// Prints JSON to stdout and writes bench/results/long-stage-<timestamp>.json.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { machineInfo, writeBenchResult } from './result-file.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const machine = machineInfo();
const HEARTBEAT_S = Number(process.env.LONG_BENCH_HEARTBEAT_S ?? 3);
const CANCELS = Number(process.env.LONG_BENCH_CANCELS ?? 5);
const log = (m: string) => console.error(`[bench long-stage] ${m}`);

let stopStack: (() => Promise<void>) | undefined;
if (!process.env.TEMPORAL_ADDRESS || !process.env.DATABASE_URL || !process.env.S3_ENDPOINT) {
  const { ensureStack, stackEnv } = await import('../infra/stack.js');
  const stack = await ensureStack({ profile: 'test', log });
  Object.assign(process.env, stackEnv(stack));
  stopStack = () => stack.stop();
}
const tag = randomBytes(4).toString('hex');
const prefix = `bench-long-${tag}-`;
process.env.UNLEARN_QUEUE_PREFIX = prefix;

const { migrate } = await import('../db/migrate.js');
const { parseSweepText } = await import('../sweep/registries.js');
const { expandSweep } = await import('../sweep/plan.js');
const { connectClient, startSweep, sweepProgress } = await import('../cli/sweep.js');
const { openDb } = await import('../db/client.js');
await migrate(process.env.DATABASE_URL);

function worker(queue: 'io' | 'gpu'): { proc: ChildProcess; ready: Promise<string> } {
  const proc = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'cli', 'main.ts'), 'worker', '--queue', queue], { cwd: root, env: process.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const ready = new Promise<string>((resolve, reject) => {
    const on = (d: Buffer) => {
      out += d.toString();
      const m = /\[worker .*backend=\S+.*/.exec(out);
      if (m && /state: 'RUNNING'/.test(out)) resolve(m[0]);
    };
    proc.stdout!.on('data', on);
    proc.stderr!.on('data', on);
    proc.on('exit', (code) => reject(new Error(`${queue} worker exited with ${code}:\n${out.slice(-2000)}`)));
  });
  return { proc, ready };
}

const sweepText = (name: string, algorithms: string) => `
name: ${name}
cacheNamespace: bench-long-${tag}
seeds: [0]
grid:
  datasets: [{ id: synthetic, subset: { perClass: 1500, testPerClass: 25 }, params: { numClasses: 4, shape: [32, 32, 1] } }]
  models: [{ id: cnn, params: { channels: [16, 32], dense: 32 } }]
  recipes: [{ name: one, epochs: 1, batchSize: 32, lr: 0.05 }]
  forgetSets: [{ kind: iid, fraction: 0.02 }]
  algorithms:
${algorithms}
oracle: false
evaluation: { mia: true, perExample: false }
execution: { window: 1, heartbeatTimeoutS: ${HEARTBEAT_S}, maxAttempts: 5, retryInitialS: 1 }
`;

const workers = [worker('io'), worker('gpu')];
const workerLine = (await Promise.all(workers.map((w) => w.ready)))[1];
log(workerLine);
const c = await connectClient();
const db = openDb();
const q = async (text: string, values: unknown[] = []) => (await db.pool.query(text, values)).rows;
const r2 = (x: number) => Math.round(x * 100) / 100;
try {
  // 1. Long epochs, zero retries.
  const id1 = `bench-long-${tag}`;
  const cfg1 = parseSweepText(sweepText('bench-long', [
    '    - { name: finetune, hparams: { lr: 0.01, epochs: 2, batchSize: 32 } }',
    '    - { name: neggrad-plus, hparams: { lr: 0.01, epochs: 1, batchSize: 32 } }',
    '    - { name: scrub, hparams: { lr: 0.005, epochs: 1, batchSize: 32, maxSteps: 1 } }',
  ].join('\n')), 'bench-long.yaml');
  const plan1 = expandSweep(cfg1, id1);
  const t0 = Date.now();
  const r = await (await startSweep(c.client, cfg1, { id: id1 })).handle.result();
  const wall = (Date.now() - t0) / 1000;
  const rows = await q(`SELECT s.kind, s.attempts, s.status, a.metadata FROM stages s LEFT JOIN artifacts a ON a.key = s.key WHERE s.key = ANY($1::text[]) ORDER BY s.kind`, [plan1.stages.map((s) => s.key)]);
  const stages = rows.map((row) => ({ kind: row.kind, status: row.status, attempts: row.attempts, computeSeconds: r2(Number(row.metadata?.computeSeconds ?? NaN)) }));
  const unlearnRows = await q(`SELECT s.params->>'algorithm' AS algorithm, s.attempts, a.metadata FROM stages s JOIN artifacts a ON a.key = s.key WHERE s.key = ANY($1::text[]) AND s.kind = 'unlearn'`, [plan1.stages.map((s) => s.key)]);
  const longEpoch = {
    heartbeatTimeoutS: HEARTBEAT_S, sweepStatus: r.status, wallSeconds: r2(wall),
    retries: rows.reduce((a, row) => a + Math.max(0, Number(row.attempts) - 1), 0),
    unlearn: unlearnRows.map((u) => {
      const epochs = Number(u.metadata.epochs);
      const es = Number(u.metadata.unlearnSeconds) / epochs;
      return { algorithm: u.algorithm, attempts: u.attempts, epochs, epochSeconds: r2(es), epochOverHeartbeatTimeout: r2(es / HEARTBEAT_S) };
    }),
    stages,
  };
  log(`long epochs: ${JSON.stringify(longEpoch.unlearn)}; retries ${longEpoch.retries}`);

  // 2. Cancellation latency of a running unlearning stage.
  const cancels: { toStageCancelledS: number; toWorkflowClosedS: number; phaseAtCancel: string; stepAtCancel: number }[] = [];
  for (let i = 0; i < CANCELS; i++) {
    const id = `bench-long-${tag}-cancel-${i}`;
    const cfg = parseSweepText(sweepText(`bench-cancel-${i}`, `    - { name: finetune, hparams: { lr: ${0.011 + i * 0.001}, epochs: 50, batchSize: 32 } }`), 'bench-cancel.yaml');
    const key = expandSweep(cfg, id).stages.find((s) => s.kind === 'unlearn')!.key;
    const { handle } = await startSweep(c.client, cfg, { id });
    let at: { phase: string; step: number } | undefined;
    for (let tries = 0; !at && tries < 2400; tries++) {
      const s = await sweepProgress(c.client, id).catch(() => null);
      const st = s?.stages.find((x) => x.stage === key && x.progress?.phase === 'unlearn' && x.progress.step > 0);
      if (st) at = { phase: st.progress!.phase, step: st.progress!.step };
      else await new Promise((res) => setTimeout(res, 100));
    }
    if (!at) throw new Error(`cancel ${i}: the unlearning stage never reported progress`);
    const tc = Date.now();
    await handle.cancel();
    let stageAt = 0;
    const poll = (async () => {
      for (;;) {
        const [row] = await q('SELECT status FROM stages WHERE key = $1', [key]);
        if (row?.status === 'cancelled') { stageAt = Date.now(); return; }
        await new Promise((res) => setTimeout(res, 20));
      }
    })();
    await handle.result().catch(() => undefined);
    const closedAt = Date.now();
    await poll;
    cancels.push({ toStageCancelledS: r2((stageAt - tc) / 1000), toWorkflowClosedS: r2((closedAt - tc) / 1000), phaseAtCancel: at.phase, stepAtCancel: at.step });
    log(`cancel ${i}: ${JSON.stringify(cancels.at(-1))}`);
  }
  const xs = cancels.map((x) => x.toStageCancelledS);
  const result = {
    bench: 'long-stage',
    machine,
    worker: workerLine,
    config: { data: 'synthetic 6,000 × 32×32×1, 4 classes; forget 2 %', model: 'cnn channels [16, 32] dense 32', batchSize: 32, heartbeatTimeoutS: HEARTBEAT_S, workerHeartbeatThrottle: '1 s', cancels: CANCELS },
    longEpoch,
    cancellation: {
      samples: cancels,
      stageStoppedMeanS: r2(xs.reduce((a, b) => a + b, 0) / xs.length),
      stageStoppedMaxS: Math.max(...xs),
      workflowClosedMaxS: Math.max(...cancels.map((x) => x.toWorkflowClosedS)),
    },
  };
  console.log(JSON.stringify(result, null, 2));
  log(`wrote ${writeBenchResult('long-stage', result)}`);
} finally {
  for (const w of workers) w.proc.kill('SIGTERM');
  await c.close();
  await db.close();
  await stopStack?.();
}
