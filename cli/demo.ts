// `npm run demo`: brings up the local stack (Temporal dev server, PostgreSQL, S3), starts two gpu worker
// processes and an io worker in this process, runs sweeps/demo.yaml (MNIST subset, small CNN, IID + class
// forget sets, oracle + DEL + 4 baselines, 2 seeds), watches it, and prints the leaderboard and timings.
// Running it again resumes / reuses every finished stage (content keys), so a second run takes seconds;
// `--fresh` uses a new cache namespace to recompute everything. `--file <sweep.yaml>` runs another sweep file the
// same way (the local stack and workers, then its leaderboard): `npm run demo -- --file sweeps/mnist-del-tuning.yaml`.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureStack, stackEnv, describeStack } from '../infra/stack.js';
import { loadSweep } from './sweep-file.js';
import { connectClient, startSweep, watchSweep, progressTable } from './sweep.js';
import { sweepTiming } from './stats.js';
import { expandSweep, planCounts } from '../sweep/plan.js';
import { CONFIRM_TRIALS, formatPlan, planReport } from './sweep-plan.js';
import { demoConfig } from '../config/index.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const fresh = args.includes('--fresh');
const fileArg = args.indexOf('--file');
if (fileArg >= 0 && !args[fileArg + 1]) {
  console.error('demo: --file needs a sweep file path');
  process.exit(2);
}
const sweepFile = fileArg >= 0 ? path.resolve(args[fileArg + 1]) : path.join(root, 'sweeps', 'demo.yaml');
const demo = demoConfig(process.env);
const gpuWorkers = demo.gpuWorkers;
const t0 = Date.now();
const say = (m: string) => console.log(`[demo ${((Date.now() - t0) / 1000).toFixed(1)}s] ${m}`);

// the sweep file is validated before anything starts (errors name the file, the field and the problem)
let cfg: ReturnType<typeof loadSweep>;
try {
  cfg = loadSweep(sweepFile);
} catch (e) {
  console.error(`demo: ${(e as Error).message}`);
  process.exit(2);
}
// the plan's size before anything starts: counted from the grid (nothing expanded), no service needed
{
  const counts = planCounts(cfg);
  if (counts.trials > CONFIRM_TRIALS && !args.includes('--yes')) {
    console.error(`demo: ${sweepFile}: ${counts.trials.toLocaleString('en-US')} trials (more than ${CONFIRM_TRIALS.toLocaleString('en-US')}): check \`unlearn sweep plan ${path.relative(process.cwd(), sweepFile)}\` and add --yes`);
    process.exit(2);
  }
}
if (fresh) cfg = { ...cfg, cacheNamespace: `fresh-${randomBytes(3).toString('hex')}` };

const stack = await ensureStack({ profile: 'demo', log: (l) => say(l) });
for (const line of describeStack(stack)) say(line);
Object.assign(process.env, stackEnv(stack));
process.env.UNLEARN_QUEUE_PREFIX ??= 'demo-';

const children: ChildProcess[] = [];
let ioWorker: { shutdown(): void; run(): Promise<void> } | undefined;
let ioRun: Promise<void> | undefined;
async function cleanup() {
  for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
  await Promise.all(children.map((c) => (c.exitCode === null ? new Promise((r) => c.once('exit', r)) : undefined)));
  ioWorker?.shutdown();
  await ioRun?.catch(() => undefined);
  await stack.stop();
}
process.once('SIGINT', () => void cleanup().finally(() => process.exit(130)));

try {
  // Workers: N gpu processes (the wasm backend is single-threaded: one process per core) + io in this process.
  // Each gpu worker's whole output goes to a log file (its stage failures and retries are there, not on this screen).
  const logDir = path.join(root, '.stack', 'demo', 'logs');
  mkdirSync(logDir, { recursive: true, mode: 0o700 });
  const ready: Promise<void>[] = [];
  for (let i = 0; i < gpuWorkers; i++) {
    const c = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'cli', 'main.ts'), 'worker', '--queue', 'gpu'], { cwd: root, env: process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(c);
    const logFile = path.join(logDir, `gpu-worker-${i + 1}.log`);
    const log = createWriteStream(logFile, { flags: 'a', mode: 0o600 });
    c.stdout!.pipe(log, { end: false });
    c.stderr!.pipe(log, { end: false });
    c.once('exit', () => log.end());
    ready.push(new Promise<void>((resolve, reject) => {
      let out = '';
      let reported = false;
      const onData = (d: Buffer) => {
        if (reported) return;
        out += d.toString();
        const m = /\[worker [^\n]*\n/.exec(out);
        if (m && /state: 'RUNNING'/.test(out)) { reported = true; say(`gpu worker ${i + 1}: ${m[0].trim()} (log: ${path.relative(process.cwd(), logFile)})`); resolve(); }
      };
      c.stdout!.on('data', onData);
      c.stderr!.on('data', onData);
      c.once('exit', (code) => reject(new Error(`gpu worker ${i + 1} exited (${code}):\n${out.slice(-2000)}`)));
    }));
  }
  const { createWorkers } = await import('../workers/worker.js');
  const io = await createWorkers({ queue: 'io', log: (l) => say(l) });
  ioWorker = io;
  ioRun = io.run();
  await Promise.all(ready);

  const c = await connectClient();
  try {
    const id = fresh ? `${cfg.name}-${cfg.cacheNamespace}` : cfg.name;
    // trials and stages by kind, what the database already holds, and the compute estimate from recorded timings
    const report = await planReport(cfg, id);
    console.log(formatPlan(cfg, id, report));
    const started = Date.now();
    const r = await startSweep(c.client, cfg, { id });
    const plan = expandSweep(cfg, id);
    say(`${r.started ? 'started' : 'attached to'} sweep ${id}: ${plan.stages.length} stages, ${plan.trials.length} trials${stack.temporal.uiUrl ? `; web UI ${stack.temporal.uiUrl}/namespaces/${stack.temporal.namespace}/workflows/${id}` : ''}`);
    const result = await watchSweep(c.client, id);
    const wall = (Date.now() - started) / 1000;
    console.log(progressTable(result));
    const { openDb } = await import('../db/client.js');
    const db = openDb(stack.databaseUrl);
    try {
      const { leaderboard } = await import('../db/leaderboard.js');
      const { formatLeaderboard } = await import('../db/leaderboard-format.js');
      const rows = await leaderboard(db.db, { sweep: id });
      console.log('\nResults (mean ± 95% t-interval over seeds; Δ = oracle − unlearned):');
      console.log(formatLeaderboard(rows, 'table'));
      const timing = await sweepTiming(db, plan, wall, gpuWorkers, started);
      console.log(`\nwall ${wall.toFixed(1)} s for the sweep (${((Date.now() - t0) / 1000).toFixed(1)} s with stack and workers); ${timing.stagesRan} stages ran, the rest were cached`);
      for (const [k, v] of Object.entries(timing.byKind)) console.log(`  ${k.padEnd(16)} ran ${String(v.ran).padStart(3)}  compute ${v.computeSeconds.toFixed(1).padStart(7)} s  activity ${v.activitySeconds.toFixed(1).padStart(7)} s`);
      console.log(`  gpu worker time outside compute: ${(timing.fractionOutsideCompute * 100).toFixed(1)}%, outside training stages: ${(timing.fractionOutsideTraining * 100).toFixed(1)}% (${gpuWorkers} gpu workers x ${wall.toFixed(1)} s)`);
      if (demo.timingJson) console.log(`TIMING_JSON ${JSON.stringify({ wall, total: (Date.now() - t0) / 1000, ...timing })}`);
    } finally {
      await db.close();
    }
  } finally {
    await c.close();
  }
} finally {
  await cleanup();
}
