// `unlearn sweep start FILE [--id ID]`, `sweep status ID`, `sweep watch ID`, `sweep cancel ID`.
// Programmatic API (used by the demo, tests and bench): connectClient, startSweep, sweepProgress, watchSweep.
import { Command } from 'commander';
// The Temporal client and the progress bars load when a command needs them (`sweep plan` needs neither).
import type { Client, WorkflowHandle } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import Table from 'cli-table3';
import { databaseUrl, queueNames, temporalConfig, type QueueNames, type TemporalConfig } from '../config/index.js';
import type { SweepConfig } from '../sweep/schema.js';
import { loadSweep } from './sweep-file.js';
import { exitCodeOf, formatPlan, needsConfirmation, planReport } from './sweep-plan.js';
import type { SweepInput, SweepWorkflow, SweepProgress, SweepResult } from '../workflows/sweep.js';
import type { HeartbeatDetails } from '../activities/compute.js';

export interface SweepClient { client: Client; close(): Promise<void> }

/** A Temporal client (settings: config/index.ts temporalConfig, read from this process's environment by default). */
export async function connectClient(cfg: TemporalConfig = temporalConfig(process.env)): Promise<SweepClient> {
  const { Client, Connection } = await import('@temporalio/client');
  const { connectionOptions } = await import('../infra/temporal.js');
  const connection = await Connection.connect(connectionOptions(cfg));
  return { client: new Client({ connection, namespace: cfg.namespace }), close: () => connection.close() };
}

export interface StartResult { id: string; handle: WorkflowHandle<typeof SweepWorkflow>; started: boolean }

/** Starts (or resumes: same id after it ended) a sweep. If a run with this id is still running, attaches to it. */
export async function startSweep(client: Client, config: SweepConfig, opts: { id?: string; window?: number; queues?: QueueNames; paging?: SweepInput['paging'] } = {}): Promise<StartResult> {
  const id = opts.id ?? config.name;
  if (opts.window !== undefined && !(Number.isInteger(opts.window) && opts.window >= 1 && opts.window <= 1000)) {
    throw new Error(`--window: expected an integer from 1 to 1000 (Temporal allows 2,000 pending activities per workflow run), got ${opts.window}`);
  }
  const cfg: SweepConfig = opts.window ? { ...config, execution: { ...config.execution, window: opts.window } } : config;
  const queues = opts.queues ?? queueNames(process.env);
  try {
    const handle = await client.workflow.start('SweepWorkflow', {
      workflowId: id,
      taskQueue: queues.io,
      args: [{ sweepId: id, config: cfg, queues, ...(opts.paging ? { paging: opts.paging } : {}) }],
    });
    return { id, handle: handle as WorkflowHandle<typeof SweepWorkflow>, started: true };
  } catch (e) {
    const { WorkflowExecutionAlreadyStartedError } = await import('@temporalio/client');
    if (e instanceof WorkflowExecutionAlreadyStartedError) return { id, handle: client.workflow.getHandle<typeof SweepWorkflow>(id), started: false };
    throw e;
  }
}

/** A running stage as its last heartbeat left it on the server: phase, epoch, step, ETA of its compute. */
export interface RunningStage extends HeartbeatDetails {
  attempt: number;
  lastHeartbeat: string | null;
}

type PendingActivity = { attempt?: number | null; lastHeartbeatTime?: { seconds?: unknown; nanos?: number | null } | null; heartbeatDetails?: { payloads?: unknown[] | null } | null };

/** The heartbeat details of the sweep's running stage activities (the workflow's pending activities). */
export function runningStages(pending: PendingActivity[] | null | undefined): RunningStage[] {
  const out: RunningStage[] = [];
  for (const a of pending ?? []) {
    const payload = a.heartbeatDetails?.payloads?.[0];
    if (!payload) continue;
    let d: HeartbeatDetails;
    try {
      d = defaultPayloadConverter.fromPayload(payload as never);
    } catch {
      continue;
    }
    if (!d || typeof d.stage !== 'string') continue;
    const t = a.lastHeartbeatTime?.seconds;
    out.push({ ...d, attempt: a.attempt ?? 1, lastHeartbeat: t !== undefined && t !== null ? new Date(Number(t) * 1000).toISOString() : null });
  }
  return out;
}

export async function sweepProgress(client: Client, id: string): Promise<{ status: string; progress: SweepProgress | null; stages: RunningStage[] }> {
  const handle = client.workflow.getHandle<typeof SweepWorkflow>(id);
  const desc = await handle.describe();
  let progress: SweepProgress | null = null;
  try {
    progress = await handle.query<SweepProgress>('progress');
  } catch {
    progress = null;
  }
  return { status: desc.status.name, progress, stages: runningStages(desc.raw.pendingActivities as PendingActivity[]) };
}

/** One line per running stage: `unlearn 3f2a…: unlearn epoch 2/30, step 120/352, ETA 41m (attempt 1)`. */
export function stageLines(stages: RunningStage[]): string[] {
  return stages.map((s) => {
    const p = s.progress;
    const where = !p ? 'started' : [
      p.phase,
      p.epoch !== undefined ? ` epoch ${p.epoch + 1}/${p.epochs ?? '?'}` : '',
      `, step ${p.step}${p.steps !== undefined ? `/${p.steps}` : ''}`,
      p.etaSeconds !== undefined ? `, ETA ${fmtS(p.etaSeconds)}` : '',
    ].join('');
    return `  ${s.kind} ${s.stage.slice(0, 12)}: ${where} (attempt ${s.attempt}${s.epoch ? `, checkpoint at epoch ${s.epoch}` : ''})`;
  });
}

const fmtS = (s: number | null) => (s === null ? '?' : s < 90 ? `${s.toFixed(0)}s` : s < 5400 ? `${(s / 60).toFixed(1)}m` : `${(s / 3600).toFixed(1)}h`);

export function progressTable(p: SweepProgress): string {
  const statuses = ['pending', 'running', 'ran', 'cached', 'failed', 'skipped', 'cancelled'];
  const t = new Table({ head: ['stage kind', ...statuses, 'total'], style: { head: [], border: [] } });
  for (const [kind, c] of Object.entries(p.byKind)) t.push([kind, ...statuses.map((s) => c[s] ?? 0), Object.values(c).reduce((a, b) => a + b, 0)]);
  t.push(['all', ...statuses.map((s) => p.byStatus[s] ?? 0), p.total]);
  const lines = [
    `sweep ${p.sweepId} (${p.name}): ${p.state}, run ${p.run}, history ${p.historyLength} events, window ${p.window}`,
    `trials ${p.trials.done}/${p.trials.total} done, ${p.trials.failed} failed; elapsed ${fmtS(p.elapsedSeconds)}, ETA ${fmtS(p.etaSeconds)}`,
    t.toString(),
  ];
  if (p.running.length > 0) lines.push(`running: ${p.running.slice(0, 8).map((r) => r.label).join('; ')}${p.running.length > 8 ? ` (+${p.running.length - 8})` : ''}`);
  const errs = Object.values(p.errors);
  if (errs.length > 0) lines.push(`errors (${errs.length}):`, ...errs.slice(0, 10).map((e) => `  ${e}`));
  return lines.join('\n');
}

/** Live progress bars (one per stage kind + trials) until the sweep ends; returns the result. */
export async function watchSweep(client: Client, id: string, opts: { intervalMs?: number; stream?: NodeJS.WriteStream } = {}): Promise<SweepResult> {
  const { default: cliProgress } = await import('cli-progress');
  const handle = client.workflow.getHandle<typeof SweepWorkflow>(id);
  const stream = opts.stream ?? process.stderr;
  const multi = new cliProgress.MultiBar(
    { stream, format: ' {name} |{bar}| {value}/{total} {extra}', hideCursor: true, clearOnComplete: false, forceRedraw: true, noTTYOutput: !stream.isTTY, notTTYSchedule: 10000 },
    cliProgress.Presets.shades_classic,
  );
  const bars = new Map<string, InstanceType<typeof cliProgress.SingleBar>>();
  const result = handle.result();
  let done = false;
  void result.finally(() => (done = true)).catch(() => undefined);
  try {
    while (!done) {
      try {
        const p = await handle.query<SweepProgress>('progress');
        const trialBar = bars.get('trials') ?? multi.create(p.trials.total, 0, { name: 'trials'.padEnd(16), extra: '' });
        bars.set('trials', trialBar);
        trialBar.setTotal(p.trials.total);
        trialBar.update(p.trials.done, { extra: `failed ${p.trials.failed}  ETA ${fmtS(p.etaSeconds)}  run ${p.run} history ${p.historyLength}` });
        for (const [kind, c] of Object.entries(p.byKind)) {
          const total = Object.values(c).reduce((a, b) => a + b, 0);
          const finished = (c.ran ?? 0) + (c.cached ?? 0);
          let bar = bars.get(kind);
          if (!bar) { bar = multi.create(total, 0, { name: kind.padEnd(16), extra: '' }); bars.set(kind, bar); }
          bar.setTotal(total);
          bar.update(finished, { extra: `ran ${c.ran ?? 0} cached ${c.cached ?? 0} running ${c.running ?? 0} failed ${(c.failed ?? 0) + (c.skipped ?? 0)}` });
        }
      } catch {
        // between runs (continue-as-new) or before the first workflow task: try again
      }
      await Promise.race([result.catch(() => undefined), new Promise((r) => setTimeout(r, opts.intervalMs ?? 1000))]);
    }
  } finally {
    multi.stop();
  }
  return result;
}

/** What the database says about a sweep (when no worker can answer the progress query). */
async function dbSummary(id: string): Promise<string> {
  const { openDb } = await import('../db/client.js');
  const db = openDb(databaseUrl(process.env));
  try {
    const sweep = (await db.pool.query('SELECT status, updated_at FROM sweeps WHERE id = $1', [id])).rows[0];
    const trials = (await db.pool.query('SELECT status, count(*)::int AS n FROM trials WHERE sweep_id = $1 GROUP BY status ORDER BY status', [id])).rows;
    return `database: sweep ${sweep ? `${sweep.status} (updated ${new Date(sweep.updated_at).toISOString()})` : 'not recorded'}; trials ${trials.map((t) => `${t.status} ${t.n}`).join(', ') || 'none'}`;
  } catch (e) {
    return `database: ${(e as Error).message}`;
  } finally {
    await db.close();
  }
}

function die(e: unknown): never {
  console.error((e as Error).message ?? String(e));
  process.exit(exitCodeOf(e));
}

export function register(program: Command): void {
  const sweep = program.command('sweep').description('start, inspect and cancel sweeps');
  sweep
    .command('plan <file>')
    .description('validate a sweep file and print its plan (trials by role, stages by kind; cached counts and an estimate when DATABASE_URL is set); starts nothing; exit 0 valid, 2 invalid')
    .option('--id <id>', 'sweep id the cached counts are for (default: the sweep name)')
    .option('--json', 'print JSON')
    .action(async (file: string, o: { id?: string; json?: boolean }) => {
      let cfg: SweepConfig;
      try {
        cfg = loadSweep(file);
      } catch (e) {
        die(e);
      }
      const id = o.id ?? cfg.name;
      const report = await planReport(cfg, id);
      console.log(o.json ? JSON.stringify({ file, sweepId: id, ...report }, null, 2) : `${file}: valid\n${formatPlan(cfg, id, report)}`);
    });
  sweep
    .command('start <file>')
    .description('validate a sweep file, print its plan and start it (same --id again resumes: finished stages are not run again)')
    .option('--id <id>', 'workflow id (default: the sweep name)')
    .option('--window <n>', 'sliding window: stages running at once', (v) => Number.parseInt(v, 10))
    .option('--watch', 'watch progress until it ends')
    .option('--yes', `start even when more than 5,000 trials are new`)
    .action(async (file: string, o: { id?: string; window?: number; watch?: boolean; yes?: boolean }) => {
      let cfg: SweepConfig;
      try {
        cfg = loadSweep(file);
      } catch (e) {
        die(e);
      }
      // start never expands the grid: cached counts come from a stored plan of this config, when there is one
      const report = await planReport(cfg, o.id ?? cfg.name, undefined, { expandMaxStages: 0 });
      console.log(formatPlan(cfg, o.id ?? cfg.name, report));
      const confirm = needsConfirmation(report, o.yes);
      if (confirm) {
        console.error(`${file}: ${confirm}`);
        process.exit(2);
      }
      const c = await connectClient();
      try {
        const r = await startSweep(c.client, cfg, { id: o.id, window: o.window });
        console.log(r.started ? `started sweep ${r.id} (workflow id ${r.id}, task queue ${queueNames(process.env).io})` : `sweep ${r.id} is already running: attached`);
        if (o.watch) console.log(progressTable(await watchSweep(c.client, r.id)));
      } finally {
        await c.close();
      }
    });
  sweep
    .command('status <id>')
    .description('progress of a sweep: stages by status and kind, trials done, ETA')
    .option('--json', 'print JSON')
    .action(async (id: string, o: { json?: boolean }) => {
      const c = await connectClient();
      try {
        const s = await sweepProgress(c.client, id);
        if (o.json) console.log(JSON.stringify(s, null, 2));
        else if (s.progress) console.log([`workflow ${id}: ${s.status}`, progressTable(s.progress), ...(s.stages.length ? ['stages at work:', ...stageLines(s.stages)] : [])].join('\n'));
        else console.log(`workflow ${id}: ${s.status} (no worker answered the progress query: is an io worker running?)\n${await dbSummary(id)}`);
      } catch (e) {
        const { WorkflowNotFoundError } = await import('@temporalio/client');
        if (e instanceof WorkflowNotFoundError) die(`no sweep with id ${id}`);
        throw e;
      } finally {
        await c.close();
      }
    });
  sweep
    .command('watch <id>')
    .description('live progress bars until the sweep ends')
    .action(async (id: string) => {
      const c = await connectClient();
      try {
        console.log(progressTable(await watchSweep(c.client, id)));
      } catch (e) {
        die(e);
      } finally {
        await c.close();
      }
    });
  sweep
    .command('cancel <id>')
    .description('cancel a sweep: running stages stop, finished results stay')
    .action(async (id: string) => {
      const c = await connectClient();
      try {
        const h = c.client.workflow.getHandle(id);
        await h.cancel();
        console.log(`cancellation requested for sweep ${id}`);
      } finally {
        await c.close();
      }
    });
}
