// SweepWorkflow: runs a sweep's stage graph as a sliding window of stage activities.
// - Deterministic: the graph is expanded from the config with the pure workflows/plan.ts.
// - Memoization: prepareSweep (io) reports which stages already have complete, verified outputs; each stage
//   activity checks again before running (another sweep may have produced it meanwhile).
// - Bounded history: once the run's history passes `historyLimit` events (or the server suggests it), no new
//   stage starts; when the running ones finish, the workflow continues as new, carrying one status character
//   per stage, so a run's history stays bounded whatever the sweep size.
// - A failed stage (after its retries) marks itself failed and its dependents skipped; the sweep goes on.
// - Cancellation: running stages are cancelled (and waited for), finished ones stay; the stages that did not
//   finish are marked cancelled in the database and the sweep row says 'cancelled'.
// - Progress query `progress`: stages by status and kind, trials done/failed, ETA.
import {
  ActivityCancellationType,
  ApplicationFailure,
  CancellationScope,
  condition,
  continueAsNew,
  defineQuery,
  isCancellation,
  log,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { SweepConfig } from '../sweep/schema.js';
import type { StageMark, StageOutcome, SweepActivities } from '../activities/types.js';
import { expandSweep, TRAINING_KINDS, type StageKind } from '../sweep/plan.js';
import { FailureType, NON_RETRYABLE_FAILURE_TYPES, inputKeys } from '../sweep/stages.js';

/** One character per stage, carried across continue-as-new. */
export const ST = { pending: '.', running: 'r', ran: 'd', cached: 'c', failed: 'f', skipped: 's', cancelled: 'x' } as const;
type StatusChar = (typeof ST)[keyof typeof ST];
const STATUS_NAMES: Record<string, string> = { '.': 'pending', r: 'running', d: 'ran', c: 'cached', f: 'failed', s: 'skipped', x: 'cancelled' };

export interface SweepState {
  status: string;
  run: number;
  startedAtMs: number;
  /** per kind: [stages ran, total seconds of those] (for the ETA) */
  timing: Record<string, [number, number]>;
  /** first errors (key → message), at most 50 kept */
  errors: Record<string, string>;
  resumed: Record<string, number>;
  trainingRan: number;
}

export interface SweepInput {
  sweepId: string;
  config: SweepConfig;
  queues: { gpu: string; io: string };
  state?: SweepState;
}

export interface SweepProgress {
  sweepId: string;
  name: string;
  state: 'running' | 'draining' | 'finished' | 'cancelling';
  run: number;
  historyLength: number;
  window: number;
  total: number;
  byStatus: Record<string, number>;
  byKind: Record<string, Record<string, number>>;
  trials: { total: number; done: number; failed: number };
  running: { key: string; kind: string; label: string }[];
  elapsedSeconds: number;
  etaSeconds: number | null;
  /** training stages (train.*, localize, unlearn) run in this execution chain */
  trainingRan: number;
  /** stages whose retried attempt resumed from a saved epoch: key → epoch */
  resumed: Record<string, number>;
  errors: Record<string, string>;
}

export interface SweepResult extends SweepProgress {
  status: 'completed' | 'completed_with_failures';
}

export const progressQuery = defineQuery<SweepProgress>('progress');

export async function SweepWorkflow(input: SweepInput): Promise<SweepResult> {
  const cfg = input.config;
  const ex = cfg.execution;
  const plan = expandSweep(cfg, input.sweepId);
  const n = plan.stages.length;
  const index = new Map<string, number>();
  plan.stages.forEach((s, i) => index.set(s.key, i));
  const dependents: number[][] = plan.stages.map(() => []);
  plan.stages.forEach((s, i) => {
    for (const k of inputKeys(s)) {
      const j = index.get(k);
      if (j === undefined) throw ApplicationFailure.nonRetryable(`stage ${s.key} names unknown input ${k}`, FailureType.InvalidConfig);
      dependents[j].push(i);
    }
  });

  const state: SweepState = input.state ?? {
    status: ST.pending.repeat(n),
    run: 0,
    startedAtMs: Date.now(),
    timing: {},
    errors: {},
    resumed: {},
    trainingRan: 0,
  };
  state.run += 1;
  const status: StatusChar[] = state.status.split('') as StatusChar[];
  if (status.length !== n) throw ApplicationFailure.nonRetryable(`carried state has ${status.length} stages, plan has ${n}`, FailureType.InvalidConfig);

  const common = {
    retry: { initialInterval: `${ex.retryInitialS}s`, backoffCoefficient: 2, maximumInterval: '2m', maximumAttempts: ex.maxAttempts, nonRetryableErrorTypes: [...NON_RETRYABLE_FAILURE_TYPES] },
  };
  const gpu = proxyActivities<SweepActivities>({
    ...common,
    taskQueue: input.queues.gpu,
    startToCloseTimeout: `${ex.stageTimeoutS}s`,
    heartbeatTimeout: `${ex.heartbeatTimeoutS}s`,
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  });
  const io = proxyActivities<SweepActivities>({
    ...common,
    taskQueue: input.queues.io,
    startToCloseTimeout: '10m',
    heartbeatTimeout: `${Math.max(ex.heartbeatTimeoutS, 60)}s`,
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  });

  const trialRecord = plan.trials.map((t) => index.get(t.stages.record) as number);
  let phase: SweepProgress['state'] = 'running';
  const running = new Set<number>();
  const pendingMarks: StageMark[] = [];

  const progress = (): SweepProgress => {
    const byStatus: Record<string, number> = {};
    const byKind: Record<string, Record<string, number>> = {};
    for (let i = 0; i < n; i++) {
      const name = STATUS_NAMES[status[i]];
      byStatus[name] = (byStatus[name] ?? 0) + 1;
      const k = (byKind[plan.stages[i].kind] ??= {});
      k[name] = (k[name] ?? 0) + 1;
    }
    let done = 0, failed = 0;
    for (const i of trialRecord) {
      if (status[i] === ST.ran || status[i] === ST.cached) done++;
      else if (status[i] === ST.failed || status[i] === ST.skipped || status[i] === ST.cancelled) failed++;
    }
    const elapsedSeconds = (Date.now() - state.startedAtMs) / 1000;
    // ETA: remaining stages weighted by the mean time of their kind, divided by the parallelism achieved so far.
    let spent = 0, remainingWork = 0, unknown = false;
    for (const [, [c, s]] of Object.entries(state.timing)) { spent += s; void c; }
    for (let i = 0; i < n; i++) {
      if (status[i] !== ST.pending && status[i] !== ST.running) continue;
      const t = state.timing[plan.stages[i].kind];
      if (!t || t[0] === 0) { unknown = true; continue; }
      remainingWork += (t[1] / t[0]) * (status[i] === ST.running ? 0.5 : 1);
    }
    const parallel = elapsedSeconds > 0 && spent > 0 ? Math.max(1, spent / elapsedSeconds) : 1;
    const etaSeconds = unknown && remainingWork === 0 && (byStatus.pending ?? 0) + (byStatus.running ?? 0) > 0 ? null : remainingWork / parallel;
    return {
      sweepId: input.sweepId,
      name: cfg.name,
      state: phase,
      run: state.run,
      historyLength: workflowInfo().historyLength,
      window: ex.window,
      total: n,
      byStatus,
      byKind,
      trials: { total: plan.trials.length, done, failed },
      running: [...running].map((i) => ({ key: plan.stages[i].key, kind: plan.stages[i].kind, label: plan.stages[i].label })),
      elapsedSeconds,
      etaSeconds,
      trainingRan: state.trainingRan,
      resumed: state.resumed,
      errors: state.errors,
    };
  };
  setHandler(progressQuery, progress);

  const markDone = (i: number, outcome: StageOutcome) => {
    status[i] = outcome.status === 'cached' ? ST.cached : ST.ran;
    if (outcome.status === 'ran') {
      const kind = plan.stages[i].kind;
      const t = (state.timing[kind] ??= [0, 0]);
      t[0] += 1;
      t[1] += outcome.seconds;
      if (TRAINING_KINDS.includes(kind as StageKind)) state.trainingRan++;
    }
    if (outcome.resumedFromEpoch) state.resumed[plan.stages[i].key] = outcome.resumedFromEpoch;
  };
  const skipDependents = (i: number, why: string) => {
    const stack = [...dependents[i]];
    while (stack.length > 0) {
      const j = stack.pop() as number;
      if (status[j] !== ST.pending) continue;
      status[j] = ST.skipped;
      const s = plan.stages[j];
      pendingMarks.push({ key: s.key, kind: s.kind, status: 'skipped', error: why, stage: s.kind === 'record' ? s : undefined });
      stack.push(...dependents[j]);
    }
  };
  const fail = (i: number, err: unknown) => {
    const s = plan.stages[i];
    status[i] = ST.failed;
    const message = describeError(err);
    if (Object.keys(state.errors).length < 50) state.errors[s.key] = `${s.label}: ${message}`;
    log.warn('stage failed', { key: s.key, kind: s.kind, error: message });
    pendingMarks.push({ key: s.key, kind: s.kind, status: 'failed', error: message, stage: s.kind === 'record' ? s : undefined });
    skipDependents(i, `input ${s.kind} ${s.key.slice(0, 12)} failed: ${message}`);
  };
  const flushMarks = async () => {
    while (pendingMarks.length > 0) {
      const marks = pendingMarks.splice(0, 500);
      await io.markStages({ sweepId: input.sweepId, marks });
    }
  };

  try {
    if (!input.state) {
      const prep = await io.prepareSweep({ sweepId: input.sweepId, config: cfg });
      for (const i of prep.complete) if (status[i] === ST.pending) status[i] = ST.cached;
    }
    // Stages left running by a previous run cannot exist (runs drain before continuing), but be safe.
    for (let i = 0; i < n; i++) if (status[i] === ST.running) status[i] = ST.pending;
    // A stage whose input failed earlier is skipped.
    for (let i = 0; i < n; i++) if (status[i] === ST.failed || status[i] === ST.skipped) skipDependents(i, 'input failed');

    const remaining = plan.stages.map((s) => inputKeys(s).filter((k) => {
      const c = status[index.get(k) as number];
      return c !== ST.ran && c !== ST.cached;
    }).length);
    const ready: number[] = [];
    for (let i = 0; i < n; i++) if (status[i] === ST.pending && remaining[i] === 0) ready.push(i);
    // Training first: keep the ready list ordered by plan position (originals and forget sets come first).
    let readyHead = 0;

    const start = (i: number) => {
      const s = plan.stages[i];
      status[i] = ST.running;
      running.add(i);
      const inputKinds: Record<string, string> = {};
      for (const [role, k] of Object.entries(s.inputs as Record<string, string>)) inputKinds[role] = plan.stages[index.get(k) as number].kind;
      const acts = s.queue === 'gpu' ? gpu : io;
      acts.runStage({ sweepId: input.sweepId, stage: s, inputKinds }).then(
        (outcome) => {
          running.delete(i);
          markDone(i, outcome);
          for (const j of dependents[i]) {
            remaining[j]--;
            if (remaining[j] === 0 && status[j] === ST.pending) insertReady(j);
          }
        },
        (err: unknown) => {
          running.delete(i);
          if (isCancellation(err) || phase === 'cancelling') {
            status[i] = ST.cancelled;
            return;
          }
          fail(i, err);
        },
      );
    };
    const insertReady = (j: number) => {
      // keep ready[readyHead..] sorted by plan position (small lists: linear insert from the end)
      let p = ready.length;
      while (p > readyHead && ready[p - 1] > j) p--;
      ready.splice(p, 0, j);
    };

    for (;;) {
      while (readyHead < ready.length && running.size < ex.window && phase === 'running') {
        const i = ready[readyHead++];
        if (status[i] === ST.pending) start(i);
      }
      if (readyHead > 1000) { ready.splice(0, readyHead); readyHead = 0; }
      if (running.size === 0 && (readyHead >= ready.length || phase === 'draining')) break;
      await condition(() =>
        pendingMarks.length >= 100 ||
        (running.size < ex.window && readyHead < ready.length && phase === 'running') ||
        running.size === 0 ||
        (phase === 'running' && shouldContinueAsNew(ex.historyLimit)),
      );
      if (pendingMarks.length >= 100) await flushMarks();
      if (phase === 'running' && shouldContinueAsNew(ex.historyLimit)) phase = 'draining';
    }
    await flushMarks();

    if (phase === 'draining' && status.some((c) => c === ST.pending)) {
      log.info('continuing as new', { run: state.run, historyLength: workflowInfo().historyLength });
      state.status = status.join('');
      await continueAsNew<typeof SweepWorkflow>({ ...input, state });
    }
    phase = 'finished';
    const p = progress();
    const hasFailures = (p.byStatus.failed ?? 0) + (p.byStatus.skipped ?? 0) > 0;
    const result: SweepResult = { ...p, status: hasFailures ? 'completed_with_failures' : 'completed' };
    await io.finishSweep({ sweepId: input.sweepId, status: result.status, summary: summarize(result) });
    return result;
  } catch (err) {
    if (!isCancellation(err)) throw err;
    // Cancelled: wait for running stages to acknowledge, then record what did not finish.
    phase = 'cancelling';
    await CancellationScope.nonCancellable(async () => {
      await condition(() => running.size === 0);
      for (let i = 0; i < n; i++) {
        if (status[i] === ST.pending || status[i] === ST.running || status[i] === ST.cancelled) {
          status[i] = ST.cancelled;
          const s = plan.stages[i];
          pendingMarks.push({ key: s.key, kind: s.kind, status: 'cancelled', error: 'sweep cancelled', stage: s.kind === 'record' ? s : undefined });
        }
      }
      await flushMarks();
      await io.finishSweep({ sweepId: input.sweepId, status: 'cancelled', summary: summarize(progress()) });
    });
    throw err;
  }
}

function shouldContinueAsNew(limit: number): boolean {
  const info = workflowInfo();
  return info.historyLength >= limit || info.continueAsNewSuggested;
}

function summarize(p: SweepProgress): Record<string, unknown> {
  return { byStatus: p.byStatus, byKind: p.byKind, trials: p.trials, elapsedSeconds: p.elapsedSeconds, runs: p.run, trainingRan: p.trainingRan, resumed: p.resumed };
}

function describeError(err: unknown): string {
  let e: any = err;
  const parts: string[] = [];
  while (e && parts.length < 4) {
    if (typeof e.message === 'string' && e.message !== '' && !parts.includes(e.message)) parts.push(e.message);
    e = e.cause;
  }
  return parts.join(': ') || String(err);
}
