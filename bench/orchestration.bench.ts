// `npm run bench -- orchestration`: orchestration overhead with no-op compute through the REAL Temporal dev
// server, PostgreSQL and S3 (services from the environment, else `ensureStack({profile:'test'})`).
// A `compute: noop` sweep of ORCH_BENCH_TRIALS trials (default 10000; 3 stages per trial + shared stages) is
// started with the real CLI (`unlearn sweep start FILE`, timed) and runs on two worker processes (`unlearn worker
// --queue io` and `--queue gpu`); every stage still reads and verifies its inputs from S3, writes its artifact and
// upserts its rows. Reports: `sweep start` wall time, planning time, wall ms per trial and per stage, the runs of
// the continue-as-new chain with their history lengths, the longest workflow task (and any failed or timed-out
// one), the io worker's peak memory, activity latency per stage kind, and a memoized rerun (ms per stage).
// Env: ORCH_BENCH_TRIALS, ORCH_BENCH_WINDOW (default 64), ORCH_BENCH_CONCURRENCY (activities per worker, default 32),
// ORCH_BENCH_CHAINS=0 (one activity a stage: execution.chainStages false),
// ORCH_BENCH_PROFILE_DIR (a CPU profile of each worker process there), ORCH_BENCH_SECONDS (stop the sweep after that long and report the part that ran), ORCH_BENCH_STOP=terminate (stop
// it by terminating; default: cancel it, which marks every unfinished stage and trial, and time that),
// ORCH_BENCH_DEMO=1 also runs the demo sweep with real compute (`npm run demo -- --fresh`, minutes) and reports the
// fraction of gpu-worker wall time spent outside compute / outside training stages.
// Prints JSON to stdout and writes bench/results/orchestration-<timestamp>.json.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { machineInfo, writeBenchResult } from './result-file.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.join(here, '..');
const machine = machineInfo();
const TRIALS = Number(process.env.ORCH_BENCH_TRIALS ?? 10000);
const WINDOW = Number(process.env.ORCH_BENCH_WINDOW ?? 64);
const CONC = Number(process.env.ORCH_BENCH_CONCURRENCY ?? 32);
/** Stage chains (execution.chainStages; ORCH_BENCH_CHAINS=0: one activity a stage, as before them). */
const CHAINS = process.env.ORCH_BENCH_CHAINS !== '0';
/** When set: stop the sweep (cancel) after this many seconds and report the part that ran (no memoized rerun). */
const CAP_S = Number(process.env.ORCH_BENCH_SECONDS ?? 0);
/** How a capped run stops: cancel (the unfinished stages and trials are marked, timed) or terminate (nothing is marked). */
const STOP = process.env.ORCH_BENCH_STOP === 'terminate' ? 'terminate' : 'cancel';
const log = (m: string) => console.error(`[bench orchestration] ${m}`);

let stop: (() => Promise<void>) | undefined;
if (!process.env.TEMPORAL_ADDRESS || !process.env.DATABASE_URL || !process.env.S3_ENDPOINT) {
  const { createScratchDatabase, ensureStack, stackEnv } = await import('../infra/stack.js');
  const stack = await ensureStack({ profile: 'test', log });
  // A fresh database, as `npm test` gives each run: comparable numbers, and no schema left by other checkouts.
  const scratch = await createScratchDatabase(stack.databaseUrl, 'unlearn_bench');
  Object.assign(process.env, stackEnv(stack), { DATABASE_URL: scratch.url });
  stop = async () => {
    await scratch.drop();
    await stack.stop();
  };
}
const tag = randomBytes(4).toString('hex');
process.env.UNLEARN_QUEUE_PREFIX = `bench-${tag}-`;

const { migrate } = await import('../db/migrate.js');
const { parseSweep } = await import('../sweep/schema.js');
const { countByKind, expandSweep } = await import('../sweep/plan.js');
const { connectClient, startSweep } = await import('../cli/sweep.js');
const { openDb } = await import('../db/client.js');
await migrate(process.env.DATABASE_URL);

// Trials = seeds × 2 forget sets × (original + retrain + finetune grid). Choose the grid to reach TRIALS.
const seeds = 10;
const perCombo = Math.max(3, Math.round(TRIALS / (seeds * 2)));
const lrs = Array.from({ length: perCombo - 2 }, (_, i) => Number((0.001 * (i + 1)).toFixed(6)));
const sweepJson = JSON.stringify({
  name: 'bench-noop', compute: 'noop', cacheNamespace: `bench-${tag}`, seeds: Array.from({ length: seeds }, (_, i) => i),
  grid: {
    datasets: [{ id: 'synthetic' }], models: [{ id: 'mlp', params: { hidden: [8] } }],
    recipes: [{ name: 'r', epochs: 1, batchSize: 8, lr: 0.1 }],
    forgetSets: [{ kind: 'iid', fraction: 0.1 }, { kind: 'classes', classes: [0], fraction: 0.1 }],
    algorithms: [{ name: 'finetune', hparams: { lr: lrs, epochs: 1 } }],
  },
  execution: { window: WINDOW, historyLimit: 4000, chainStages: CHAINS },
});
const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-orch-'));
const file = path.join(dir, 'bench.json');
writeFileSync(file, sweepJson);
const cfg = parseSweep(sweepJson, file);
const id = `bench-noop-${tag}`;
const plan = expandSweep(cfg, id);
const keys = plan.stages.map((s) => s.key);
const trials = plan.trials.length;
const stages = plan.stages.length;
const stagesByKind = countByKind(plan.stages);
log(`${trials} trials, ${stages} stages ${JSON.stringify(stagesByKind)}, window ${WINDOW}, ${CONC} activities per worker`);

/** A worker process; resolves once it polls. */
function startWorkerProcess(queue: 'io' | 'gpu'): Promise<ChildProcess> {
  const profile = process.env.ORCH_BENCH_PROFILE_DIR ? ['--cpu-prof', '--cpu-prof-dir', process.env.ORCH_BENCH_PROFILE_DIR, '--cpu-prof-name', `${queue}-worker.cpuprofile`] : [];
  const p = spawn(process.execPath, [...profile, '--import', 'tsx', path.join(root, 'cli', 'main.ts'), 'worker', '--queue', queue, '--concurrency', String(CONC)], {
    cwd: root, env: process.env, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  return new Promise((resolve, reject) => {
    const on = (d: Buffer) => {
      out += d.toString();
      if (/state: 'RUNNING'/.test(out) && /\[worker .*backend=/.test(out)) resolve(p);
      if (out.length > 100_000) out = out.slice(-50_000);
    };
    p.stdout!.on('data', on);
    p.stderr!.on('data', on);
    p.on('exit', (code) => reject(new Error(`${queue} worker exited with ${code}:\n${out.slice(-3000)}`)));
  });
}
const kib = (pid: number, field: 'VmRSS' | 'VmHWM'): number => {
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : 0;
};

/**
 * CPU seconds (user + system) of every process on the machine, grouped: the two workers by pid, the rest by
 * command name (temporal, postgres, versitygw, node for this bench). On a 2-core machine the run's pace is set by
 * where the CPU goes, not by the window: this says which process to make cheaper.
 */
const clockTicks = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim() || 100);
function cpuByProcess(named: Record<number, string>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    const close = stat.lastIndexOf(')');
    const comm = stat.slice(stat.indexOf('(') + 1, close);
    const fields = stat.slice(close + 2).split(' ');
    // utime + stime, plus cutime + cstime: the time of its children that ended and were reaped (PostgreSQL's
    // backends come and go with the pools' connections; without these their CPU would vanish from the sum)
    const seconds = (Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14])) / clockTicks;
    const group = named[Number(entry)] ?? (/^postgres/.test(comm) ? 'postgres' : comm);
    out[group] = (out[group] ?? 0) + seconds;
  }
  return out;
}
function cpuSince(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  const d: Record<string, number> = {};
  for (const [k, v] of Object.entries(after)) {
    const x = Math.round((v - (before[k] ?? 0)) * 10) / 10;
    if (x >= 0.5) d[k] = x;
  }
  return Object.fromEntries(Object.entries(d).sort((a, b) => b[1] - a[1]));
}

const [io, gpu] = await Promise.all([startWorkerProcess('io'), startWorkerProcess('gpu')]);
const workerNames = (): Record<number, string> => ({ [io.pid!]: 'io worker (workflows + io activities)', [gpu.pid!]: 'gpu worker', [process.pid]: 'bench process' });
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    for (const p of [io, gpu]) p.kill('SIGTERM');
    process.exit(130);
  });
}
const c = await connectClient();
const db = openDb();
try {
  // `sweep start` for the file, through the real CLI (process start, validation, workflow start).
  // Its CPU time too (GNU time, when installed): on a shared machine the wall time mostly measures the queue for a core.
  const timeBin = '/usr/bin/time';
  const cli = [process.execPath, '--import', 'tsx', path.join(root, 'cli', 'main.ts'), 'sweep', 'start', file, '--id', id, '--yes']; // --yes: a bench plan is meant to be large
  const withTime = existsSync(timeBin);
  const cpuBefore = cpuByProcess(workerNames());
  const tStart = Date.now();
  const started = withTime
    ? spawnSync(timeBin, ['-f', 'CPU_SECONDS %U %S', ...cli], { cwd: root, env: process.env, encoding: 'utf8' })
    : spawnSync(cli[0], cli.slice(1), { cwd: root, env: process.env, encoding: 'utf8' });
  const sweepStartMs = Date.now() - tStart;
  if (started.status !== 0) throw new Error(`sweep start failed (${started.status}): ${started.stderr}`);
  const cpu = /CPU_SECONDS ([\d.]+) ([\d.]+)/.exec(started.stderr ?? '');
  const sweepStartCpuMs = cpu ? Math.round((Number(cpu[1]) + Number(cpu[2])) * 1000) : null;
  log(`sweep start: ${sweepStartMs} ms wall, ${sweepStartCpuMs} ms CPU (${started.stdout.trim()})`);
  let ioPeakRssKiB = 0;
  const sampler = setInterval(() => { ioPeakRssKiB = Math.max(ioPeakRssKiB, kib(io.pid!, 'VmRSS')); }, 1000);
  const handle = c.client.workflow.getHandle<typeof import('../workflows/sweep.js').SweepWorkflow>(id);
  const resultP = handle.result();
  // (the cap's timer is cleared when the sweep ends first: left pending, it kept the process alive for the rest of the cap)
  let capTimer: NodeJS.Timeout | undefined;
  const capped = CAP_S > 0 ? await Promise.race([resultP.then(() => false), new Promise<boolean>((r) => (capTimer = setTimeout(() => r(true), CAP_S * 1000)))]) : false;
  clearTimeout(capTimer);
  let r1: { status: string; run: number; trials: { done: number }; byStatus: Record<string, number> };
  let cancelMs = 0;
  if (capped) {
    const p = await handle.query<import('../workflows/sweep.js').SweepProgress>('progress');
    r1 = { ...p, status: `stopped after ${CAP_S} s` };
    const tc = Date.now();
    if (STOP === 'terminate') await handle.terminate('benchmark time cap');
    else await handle.cancel();
    await resultP.catch(() => undefined);
    cancelMs = Date.now() - tc;
    log(`stopped after ${CAP_S} s: ${r1.trials.done} trials done; ${STOP === 'terminate' ? 'terminating' : 'cancelling the rest'} took ${cancelMs} ms`);
  } else {
    r1 = await resultP;
  }
  const wall1 = capped ? CAP_S : (Date.now() - tStart) / 1000;
  const cpuSecondsByProcess = cpuSince(cpuBefore, cpuByProcess(workerNames()));
  clearInterval(sampler);
  log(`CPU seconds by process during the run: ${JSON.stringify(cpuSecondsByProcess)}`);
  log(`sweep ${r1.status} in ${wall1.toFixed(1)} s, ${r1.run} runs`);

  // Every run of the continue-as-new chain: history length, workflow task durations, planning time.
  const runs: { historyLength: number; longestWorkflowTaskMs: number; workflowTasks: number; failedOrTimedOutWorkflowTasks: number }[] = [];
  let planningMs = 0;
  const num = (v: unknown) => (v && typeof v === 'object' && 'toNumber' in v ? (v as { toNumber(): number }).toNumber() : Number(v ?? 0));
  const ms = (t: { seconds?: unknown; nanos?: number | null } | null | undefined) => (t ? num(t.seconds) * 1000 + (t.nanos ?? 0) / 1e6 : 0);
  const runIds: string[] = [];
  const workflowTaskProblems: Record<string, number> = {};
  for await (const ex of c.client.workflow.list({ query: `WorkflowId = '${id}'` })) runIds.push(ex.runId);
  for (const runId of runIds.reverse()) {
    const h = c.client.workflow.getHandle(id, runId);
    const history = await h.fetchHistory();
    const events = history.events ?? [];
    let started = 0, longest = 0, count = 0, bad = 0;
    const scheduled = new Map<string, number>();
    for (const e of events) {
      if (e.workflowTaskStartedEventAttributes) started = ms(e.eventTime);
      if (e.workflowTaskCompletedEventAttributes) { longest = Math.max(longest, ms(e.eventTime) - started); count++; }
      if (e.workflowTaskFailedEventAttributes || e.workflowTaskTimedOutEventAttributes) {
        bad++;
        // why: a failure's cause (e.g. UNHANDLED_COMMAND, a benign race the server resolves) or a timeout's type
        const why = e.workflowTaskFailedEventAttributes
          ? `failed: ${String(e.workflowTaskFailedEventAttributes.cause ?? '?')} ${e.workflowTaskFailedEventAttributes.failure?.message?.slice(0, 200) ?? ''}`.trim()
          : `timed out: ${String(e.workflowTaskTimedOutEventAttributes?.timeoutType ?? '?')}`;
        workflowTaskProblems[why] = (workflowTaskProblems[why] ?? 0) + 1;
      }
      const a = e.activityTaskScheduledEventAttributes;
      if (a?.activityType?.name === 'planSweep') scheduled.set(String(e.eventId), ms(e.eventTime));
      const done = e.activityTaskCompletedEventAttributes;
      if (done && scheduled.has(String(done.scheduledEventId))) planningMs = ms(e.eventTime) - (scheduled.get(String(done.scheduledEventId)) as number);
    }
    runs.push({ historyLength: events.length, longestWorkflowTaskMs: longest, workflowTasks: count, failedOrTimedOutWorkflowTasks: bad });
  }
  const lat = await db.pool.query(`SELECT kind, count(*)::int AS n, avg((metadata->>'seconds')::float) * 1000 AS mean_ms,
      percentile_cont(0.5) WITHIN GROUP (ORDER BY (metadata->>'seconds')::float) * 1000 AS p50_ms,
      percentile_cont(0.95) WITHIN GROUP (ORDER BY (metadata->>'seconds')::float) * 1000 AS p95_ms
    FROM artifacts WHERE key = ANY($1::text[]) GROUP BY kind ORDER BY kind`, [keys]);
  const ioRssAfterRunKiB = kib(io.pid!, 'VmRSS');

  // The same id again: every stage memoized (read page by page, checked against S3), nothing runs.
  let memoizedRerun: Record<string, number> | null = null;
  if (!capped) {
    const t1 = Date.now();
    const r2 = await (await startSweep(c.client, cfg, { id })).handle.result();
    const wall2 = (Date.now() - t1) / 1000;
    log(`memoized rerun in ${wall2.toFixed(1)} s (${r2.byStatus.cached ?? 0} cached, ${r2.byStatus.ran ?? 0} ran)`);
    memoizedRerun = { wallSeconds: wall2, cached: r2.byStatus.cached ?? 0, ran: r2.byStatus.ran ?? 0, msPerStage: (wall2 * 1000) / stages };
  }
  const trialsDone = r1.trials.done;
  const stagesDone = (r1.byStatus.ran ?? 0) + (r1.byStatus.cached ?? 0);

  const out = {
    bench: 'orchestration',
    when: new Date().toISOString(),
    machine: { ...machine, loadavgAtEnd: os.loadavg().map((x) => Math.round(x * 100) / 100), cores: os.cpus().length },
    backend: 'noop compute (no tensors); real Temporal dev server, PostgreSQL, S3 (versitygw); workers: one io and one gpu process',
    trials,
    stages,
    stagesByKind,
    window: WINDOW,
    chainStages: CHAINS,
    activityConcurrencyPerWorker: CONC,
    sweepStartMs,
    sweepStartCpuMs,
    planningMs,
    run: {
      status: r1.status,
      trialsDone,
      stagesDone,
      wallSeconds: wall1,
      // from `sweep start` (CLI process included) to the end, over the trials and stages that finished
      wallMsPerTrial: (wall1 * 1000) / trialsDone,
      wallMsPerStage: (wall1 * 1000) / stagesDone,
      // the same without the CLI start and the planning activity: the steady scheduling rate
      steadyMsPerTrial: (wall1 * 1000 - sweepStartMs - planningMs) / trialsDone,
      steadyMsPerStage: (wall1 * 1000 - sweepStartMs - planningMs) / stagesDone,
      stoppedBy: capped ? STOP : undefined,
      stopMs: capped ? cancelMs : undefined,
      continueAsNewRuns: runs.length,
      historyLengthPerRun: runs.map((r) => r.historyLength),
      maxHistoryLength: Math.max(...runs.map((r) => r.historyLength)),
      longestWorkflowTaskMs: Math.max(...runs.map((r) => r.longestWorkflowTaskMs)),
      workflowTasks: runs.reduce((a, r) => a + r.workflowTasks, 0),
      failedOrTimedOutWorkflowTasks: runs.reduce((a, r) => a + r.failedOrTimedOutWorkflowTasks, 0),
      workflowTaskProblems,
      ioWorkerPeakRssMiB: Math.round(Math.max(ioPeakRssKiB, kib(io.pid!, 'VmHWM')) / 1024),
      ioWorkerRssAfterRunMiB: Math.round(ioRssAfterRunKiB / 1024),
      activityLatencyByKind: lat.rows,
      // where the machine's CPU went from `sweep start` to the end (all processes; the CLI's own run is in 'node')
      cpuSecondsByProcess,
      cpuMsPerTrial: Math.round((Object.values(cpuSecondsByProcess).reduce((a, b) => a + b, 0) * 1000) / trialsDone * 10) / 10,
    },
    memoizedRerun,
  };
  let demo: Record<string, unknown> | undefined;
  if (process.env.ORCH_BENCH_DEMO === '1') {
    // The demo sweep (real compute) with a fresh cache namespace and its own task queues: the fraction of wall
    // time outside training.
    log('running the demo sweep (npm run demo -- --fresh) for the fraction of time outside training');
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'cli', 'demo.ts'), '--fresh'], {
      env: { ...process.env, UNLEARN_DEMO_TIMING_JSON: '1', UNLEARN_QUEUE_PREFIX: `benchdemo-${tag}-` }, stdio: ['ignore', 'pipe', 'inherit'],
    });
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    const line = stdout.split('\n').find((l) => l.startsWith('TIMING_JSON '));
    if (code !== 0 || !line) throw new Error(`demo failed (${code}):\n${stdout.slice(-3000)}`);
    demo = JSON.parse(line.slice('TIMING_JSON '.length)) as Record<string, unknown>;
  }
  const result = demo ? { ...out, demo } : out;
  console.log(JSON.stringify(result, null, 2));
  log(`results: ${writeBenchResult('orchestration', result)}`);
} finally {
  await c.close();
  await db.close();
  for (const p of [io, gpu]) p.kill('SIGTERM');
  await Promise.all([io, gpu].map((p) => new Promise((r) => (p.exitCode !== null ? r(null) : p.once('exit', r)))));
  rmSync(dir, { recursive: true, force: true });
  await stop?.();
}
