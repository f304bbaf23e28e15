// SweepWorkflow: runs a sweep's stage graph as a sliding window of stage activities, at any plan size.
// - The plan is expanded once, by the `planSweep` activity, into the database; the workflow reads it in pages of
//   PAGE_SIZE positions (`planPage`) as the window needs work, and schedules stage positions (small integers).
//   No workflow task expands, hashes or walks the whole plan; per stage it holds one byte of state, and the
//   specs of at most MAX_LOADED not-yet-finished stages.
// - Memoization: each page reports which of its stages already have complete, verified outputs; each stage
//   activity checks again before running (another sweep may have produced it meanwhile).
// - Bounded history: once the run's history passes `historyLimit` events (or the server suggests it), no new
//   stage or page starts; when the running ones finish, the workflow continues as new carrying the stage states
//   as run lengths (workflows/status-runs.ts) and the counters, so a run's history stays bounded.
// - A failed stage (after its retries) marks itself failed and its dependents skipped; the sweep goes on.
// - Cancellation: running stages are cancelled (and waited for), finished ones stay; the stages that did not
//   finish are marked cancelled in the database and the sweep row says 'cancelled'.
// - Progress query `progress`: stages by status and kind, trials done/failed, ETA (from counters).
import {
  ActivityCancellationType,
  ApplicationFailure,
  CancellationScope,
  condition,
  continueAsNew,
  defineQuery,
  isCancellation,
  log,
  patched,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { SweepConfig } from '../sweep/schema.js';
import type { ChainFailureDetails, PlanInfo, PlanPage, StageMark, StageOutcome, SweepActivities } from '../activities/types.js';
import { STAGE_QUEUES, TRAINING_KINDS, type StageKind } from '../sweep/plan.js';
import { FailureType, NON_RETRYABLE_FAILURE_TYPES } from '../sweep/stages.js';
import { CARRY, decodeRuns, encodeRuns } from './status-runs.js';

/** Positions read per page (one `planPage` activity; ~100 bytes of history each). */
export const PAGE_SIZE = 1000;
/** Unfinished stages held at once: pages stop loading beyond this until some finish. */
export const MAX_LOADED = 20_000;
/** Stages one activity runs at most, one after the other (unlearn → evaluate → record is 3). */
export const MAX_CHAIN = 4;

/** Status codes of the per-stage byte array (index = code). */
const STATUS_NAMES = ['pending', 'running', 'ran', 'cached', 'failed', 'skipped', 'cancelled'] as const;
const PENDING = 0, RUNNING = 1, RAN = 2, CACHED = 3, FAILED = 4, SKIPPED = 5, CANCELLED = 6;
const isOk = (c: number) => c === RAN || c === CACHED;
const isLost = (c: number) => c === FAILED || c === SKIPPED || c === CANCELLED;

export interface SweepState {
  run: number;
  startedAtMs: number;
  plan: PlanInfo;
  /** stage states by position as run lengths (workflows/status-runs.ts) */
  carried: string;
  /** per kind: count of stages by status name (pending and running are derived) */
  counts: Record<string, Record<string, number>>;
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
  /** plan reading (defaults PAGE_SIZE, MAX_LOADED); small values exercise paging in tests */
  paging?: { pageSize?: number; maxLoaded?: number };
}

export interface SweepProgress {
  sweepId: string;
  name: string;
  state: 'planning' | 'running' | 'draining' | 'finished' | 'cancelling';
  run: number;
  historyLength: number;
  window: number;
  total: number;
  /** plan positions read so far in this run (pages of PAGE_SIZE) */
  loadedThrough: number;
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

/** A loaded, unfinished stage. */
interface Node {
  kind: string;
  key: string;
  label: string;
  /** inputs not yet finished */
  remaining: number;
  /** loaded stages waiting on this one */
  dependents: number[];
}

/** Min-heap of positions: ready stages start in plan order (originals and forget sets first). */
class ReadyHeap {
  private a: number[] = [];
  get size(): number {
    return this.a.length;
  }
  push(v: number): void {
    const a = this.a;
    let i = a.length;
    a.push(v);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (a[p] <= v) break;
      a[i] = a[p];
      i = p;
    }
    a[i] = v;
  }
  pop(): number {
    const a = this.a;
    const top = a[0];
    const last = a.pop() as number;
    if (a.length > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= a.length) break;
        const c = l + 1 < a.length && a[l + 1] < a[l] ? l + 1 : l;
        if (a[c] >= last) break;
        a[i] = a[c];
        i = c;
      }
      a[i] = last;
    }
    return top;
  }
}

export const progressQuery = defineQuery<SweepProgress>('progress');

export async function SweepWorkflow(input: SweepInput): Promise<SweepResult> {
  const cfg = input.config;
  const ex = cfg.execution;
  const common = {
    retry: { initialInterval: `${ex.retryInitialS}s`, backoffCoefficient: 2, maximumInterval: '2m', maximumAttempts: ex.maxAttempts, nonRetryableErrorTypes: [...NON_RETRYABLE_FAILURE_TYPES] },
  };
  // Stage activities by queue and by how many stages they run: a gpu stage may take `stageTimeoutS`, an io stage
  // 10 min, and a chain of k stages k times that. (One proxy per kind of call, made on first use.)
  const stageProxies = new Map<string, SweepActivities>();
  const stageActs = (queue: 'gpu' | 'io', length: number): SweepActivities => {
    const id = `${queue}:${length}`;
    let acts = stageProxies.get(id);
    if (!acts) {
      acts = proxyActivities<SweepActivities>({
        ...common,
        taskQueue: input.queues[queue],
        startToCloseTimeout: `${length * (queue === 'gpu' ? ex.stageTimeoutS : 600)}s`,
        heartbeatTimeout: `${ex.heartbeatTimeoutS}s`,
        cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
      });
      stageProxies.set(id, acts);
    }
    return acts;
  };
  // Bookkeeping (plan, pages, marks, finish) is idempotent and no stage's result: it retries through outages of
  // the database and the object store far longer than a stage's retries.
  // (40 attempts: ~18 min of outage; a fault that outlasts it fails the sweep, and starting it again resumes.)
  const bookRetry = { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 40, nonRetryableErrorTypes: [FailureType.InvalidConfig] };
  const book = proxyActivities<SweepActivities>({ taskQueue: input.queues.io, startToCloseTimeout: '10m', heartbeatTimeout: '30s', retry: bookRetry });
  // Expanding a large plan is one synchronous computation (~30 s at 100,000 trials on a busy machine) between
  // heartbeats: its heartbeat timeout must outlast it.
  const planner = proxyActivities<SweepActivities>({ taskQueue: input.queues.io, startToCloseTimeout: '30m', heartbeatTimeout: '10m', retry: bookRetry });

  // Stage chains (one activity for a stage and the stages that wait on it alone) change the commands a sweep
  // issues: a run whose history was recorded without them replays and goes on without them; the next run of the
  // chain (continue-as-new) and every new sweep use them. Asked once, before the first command. (A config from
  // before the option has no `chainStages`: on.)
  const chains = ex.chainStages !== false && patched('stage-chains');

  const pageSize = input.paging?.pageSize ?? PAGE_SIZE;
  const maxLoaded = input.paging?.maxLoaded ?? MAX_LOADED;
  let phase: SweepProgress['state'] = 'planning';
  let plan: PlanInfo | undefined = input.state?.plan;
  const state: Omit<SweepState, 'plan' | 'carried'> = input.state
    ? { ...input.state }
    : { run: 0, startedAtMs: Date.now(), counts: {}, timing: {}, errors: {}, resumed: {}, trainingRan: 0 };
  state.run += 1;

  let n = 0;
  let status = new Uint8Array(0);
  const loaded = new Map<number, Node>();
  const ready = new ReadyHeap();
  /** running activities: first position → the positions it runs (one, or a chain's) */
  const running = new Map<number, number[]>();
  /** stages to run one at a time: those of a chain that failed without saying where */
  const solo = new Set<number>();
  const pendingMarks: StageMark[] = [];
  let cursor = 0;
  let pageInFlight = false;
  let fatal: unknown;
  /** bumped by every callback, so the main loop's condition wakes on any change */
  let changes = 0;

  const bump = (kind: string, name: string, by: number) => {
    const k = (state.counts[kind] ??= {});
    k[name] = (k[name] ?? 0) + by;
  };
  /** Sets a loaded stage's status and keeps the counters (pending and running are derived, not counted). */
  const setStatus = (i: number, kind: string, code: number) => {
    const old = status[i];
    if (old >= RAN) bump(kind, STATUS_NAMES[old], -1);
    status[i] = code;
    if (code >= RAN) bump(kind, STATUS_NAMES[code], 1);
  };

  const progress = (): SweepProgress => {
    const byKind: Record<string, Record<string, number>> = {};
    const byStatus: Record<string, number> = {};
    const runningByKind: Record<string, number> = {};
    for (const i of runningStages()) {
      const k = loaded.get(i)?.kind ?? '?';
      runningByKind[k] = (runningByKind[k] ?? 0) + 1;
    }
    for (const [kind, total] of Object.entries(plan?.kinds ?? {})) {
      const c: Record<string, number> = {};
      let finished = 0;
      for (const [name, v] of Object.entries(state.counts[kind] ?? {})) {
        if (v !== 0) c[name] = v;
        finished += v;
      }
      const r = runningByKind[kind] ?? 0;
      if (r > 0) c.running = r;
      if (total - finished - r > 0) c.pending = total - finished - r;
      byKind[kind] = c;
      for (const [name, v] of Object.entries(c)) byStatus[name] = (byStatus[name] ?? 0) + v;
    }
    const rec = state.counts.record ?? {};
    const done = (rec.ran ?? 0) + (rec.cached ?? 0);
    const failed = (rec.failed ?? 0) + (rec.skipped ?? 0) + (rec.cancelled ?? 0);
    const elapsedSeconds = (Date.now() - state.startedAtMs) / 1000;
    // ETA: remaining stages weighted by the mean time of their kind, divided by the parallelism achieved so far.
    let spent = 0, remainingWork = 0, unknown = false;
    for (const [, [, sec]] of Object.entries(state.timing)) spent += sec;
    for (const [kind, c] of Object.entries(byKind)) {
      const left = (c.pending ?? 0) + 0.5 * (c.running ?? 0);
      if (left === 0) continue;
      const t = state.timing[kind];
      if (!t || t[0] === 0) { unknown = true; continue; }
      remainingWork += (t[1] / t[0]) * left;
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
      total: plan?.stages ?? 0,
      loadedThrough: cursor,
      byStatus,
      byKind,
      trials: { total: plan?.trials ?? 0, done, failed },
      running: runningStages().map((i) => {
        const s = loaded.get(i);
        return { key: s?.key ?? '', kind: s?.kind ?? '', label: s?.label ?? '' };
      }),
      elapsedSeconds,
      etaSeconds,
      trainingRan: state.trainingRan,
      resumed: state.resumed,
      errors: state.errors,
    };
  };
  setHandler(progressQuery, progress);

  /** Every stage inside a running activity (a chain's stages all count as running). */
  function runningStages(): number[] {
    const out: number[] = [];
    for (const chain of running.values()) out.push(...chain);
    return out;
  }

  const release = (i: number) => {
    const node = loaded.get(i);
    loaded.delete(i);
    if (!node) return;
    for (const j of node.dependents) {
      const d = loaded.get(j);
      if (!d || status[j] !== PENDING) continue;
      if (--d.remaining === 0) ready.push(j);
    }
  };
  const markDone = (i: number, outcome: StageOutcome) => {
    const node = loaded.get(i) as Node;
    setStatus(i, node.kind, outcome.status === 'cached' ? CACHED : RAN);
    if (outcome.status === 'ran') {
      const t = (state.timing[node.kind] ??= [0, 0]);
      t[0] += 1;
      t[1] += outcome.seconds;
      if (TRAINING_KINDS.includes(node.kind as StageKind)) state.trainingRan++;
    }
    if (outcome.resumedFromEpoch) state.resumed[node.key] = outcome.resumedFromEpoch;
    release(i);
  };
  const skipDependents = (i: number, why: string) => {
    const stack = [...(loaded.get(i)?.dependents ?? [])];
    loaded.delete(i);
    while (stack.length > 0) {
      const j = stack.pop() as number;
      const d = loaded.get(j);
      if (!d || status[j] !== PENDING) continue;
      setStatus(j, d.kind, SKIPPED);
      pendingMarks.push({ index: j, status: 'skipped', error: why });
      stack.push(...d.dependents);
      loaded.delete(j);
    }
  };
  const fail = (i: number, err: unknown) => {
    const node = loaded.get(i) as Node;
    setStatus(i, node.kind, FAILED);
    const message = describeError(err);
    if (Object.keys(state.errors).length < 50) state.errors[node.key] = `${node.label}: ${message}`;
    log.warn('stage failed', { key: node.key, kind: node.kind, error: message });
    pendingMarks.push({ index: i, status: 'failed', error: message });
    skipDependents(i, `input ${node.kind} ${node.key.slice(0, 12)} failed: ${message}`);
  };

  /** Adds a page of the plan: memoized stages become cached, stages with a lost input are skipped, the rest wait. */
  const integrate = (page: PlanPage) => {
    const complete = new Set(page.complete);
    for (let o = 0; o < page.kinds.length; o++) {
      const j = page.from + o;
      if (status[j] !== PENDING) continue; // finished in an earlier run
      const kind = page.kinds[o];
      const node: Node = { kind, key: page.keys[o], label: page.labels[o], remaining: 0, dependents: [] };
      if (complete.has(o)) {
        setStatus(j, kind, CACHED);
        continue;
      }
      let lost = -1;
      for (const i of page.inputs[o]) {
        if (isLost(status[i])) { lost = i; break; }
        if (!isOk(status[i])) {
          const inputNode = loaded.get(i);
          if (!inputNode) throw ApplicationFailure.nonRetryable(`plan position ${j} names input ${i}, which is neither finished nor loaded`, FailureType.InvalidConfig);
          inputNode.dependents.push(j);
          node.remaining++;
        }
      }
      if (lost >= 0) {
        setStatus(j, kind, SKIPPED);
        pendingMarks.push({ index: j, status: 'skipped', error: `input at position ${lost} failed` });
        continue;
      }
      loaded.set(j, node);
      if (node.remaining === 0) ready.push(j);
    }
  };

  /**
   * The stages one activity runs, starting at ready position i: while the last one's only pending dependent
   * waits on nothing else and fits the queue (the same queue, or io work, which any worker does), that dependent
   * follows. A stage with several pending dependents ends the chain, so they start in parallel as soon as it is
   * done.
   */
  const chainFrom = (i: number): number[] => {
    const chain = [i];
    if (!chains || solo.delete(i)) return chain;
    const queue = STAGE_QUEUES[(loaded.get(i) as Node).kind as StageKind];
    for (let cur = i; chain.length < MAX_CHAIN; ) {
      let next = -1, pending = 0;
      for (const j of (loaded.get(cur) as Node).dependents) {
        if (status[j] !== PENDING || !loaded.has(j)) continue;
        pending++;
        next = j;
      }
      if (pending !== 1) break;
      const d = loaded.get(next) as Node;
      const q = STAGE_QUEUES[d.kind as StageKind];
      if (d.remaining !== 1 || solo.has(next) || (q !== queue && q !== 'io')) break;
      chain.push(next);
      cur = next;
    }
    return chain;
  };

  const start = (i: number) => {
    const node = loaded.get(i) as Node;
    const chain = chainFrom(i);
    for (const m of chain) status[m] = RUNNING;
    running.set(i, chain);
    const acts = stageActs(STAGE_QUEUES[node.kind as StageKind], chain.length);
    const ids = { sweepId: input.sweepId, planId: (plan as PlanInfo).planId };
    const call = chain.length > 1 ? acts.runChain({ ...ids, indices: chain }) : acts.runStage({ ...ids, index: i }).then((o) => [o]);
    call.then(
      (outcomes) => {
        running.delete(i);
        changes++;
        // in order: a stage's release skips the chain's later stages (running), which finish here too
        outcomes.forEach((o, k) => markDone(chain[k], o));
      },
      (err: unknown) => {
        running.delete(i);
        changes++;
        if (isCancellation(err) || phase === 'cancelling') {
          const finished = chain.length > 1 ? chainDone(err, chain.length) ?? [] : [];
          finished.forEach((o, k) => markDone(chain[k], o));
          for (const m of chain.slice(finished.length)) setStatus(m, (loaded.get(m) as Node).kind, CANCELLED);
          return;
        }
        if (chain.length === 1) {
          fail(i, err);
          return;
        }
        const done = chainDone(err, chain.length);
        if (!done) {
          // the chain failed without saying where (a timeout): its stages run again one at a time (finished ones
          // are memoized), so the failure lands on the stage it belongs to
          for (const m of chain) {
            status[m] = PENDING;
            solo.add(m);
          }
          ready.push(i);
          return;
        }
        done.forEach((o, k) => markDone(chain[k], o));
        // the stages after the failed one wait on it: pending again, they are skipped with its dependents
        for (let k = done.length + 1; k < chain.length; k++) status[chain[k]] = PENDING;
        fail(chain[done.length], err);
      },
    );
  };
  const loadNextPage = () => {
    pageInFlight = true;
    const from = cursor;
    const count = Math.min(pageSize, n - from);
    book.planPage({ planId: (plan as PlanInfo).planId, from, count }).then(
      (page) => {
        pageInFlight = false;
        changes++;
        if (page.kinds.length !== count) {
          fatal ??= ApplicationFailure.nonRetryable(`plan page at ${from} has ${page.kinds.length} stages, expected ${count}`, FailureType.InvalidConfig);
          return;
        }
        try {
          integrate(page);
        } catch (e) {
          fatal ??= e;
          return;
        }
        cursor = from + count;
      },
      (err: unknown) => {
        // a page read fails only by cancellation (the cancel path takes over), an inconsistent plan or an outage
        // longer than its retries: those fail the sweep (starting it again resumes)
        pageInFlight = false;
        changes++;
        if (!isCancellation(err)) fatal ??= err;
      },
    );
  };
  const flushMarks = async () => {
    while (pendingMarks.length > 0) {
      const marks = pendingMarks.splice(0, 500);
      await book.markStages({ sweepId: input.sweepId, planId: (plan as PlanInfo).planId, marks });
    }
  };

  try {
    plan ??= await planner.planSweep({ sweepId: input.sweepId, config: cfg });
    n = plan.stages;
    status = new Uint8Array(n);
    if (input.state) {
      // Finished stages keep their state (their counts are carried); everything else is read again from its page.
      decodeRuns(input.state.carried, n, (from, to, c) => {
        if (c !== CARRY.todo) status.fill(c === CARRY.ok ? CACHED : FAILED, from, to);
      });
    }
    cursor = status.indexOf(PENDING);
    if (cursor < 0) cursor = n;
    phase = 'running';

    for (;;) {
      while (ready.size > 0 && running.size < ex.window && phase === 'running') {
        const i = ready.pop();
        if (status[i] === PENDING && loaded.has(i)) start(i);
      }
      // Read ahead while the window could use more ready stages, within the bound on unfinished stages held.
      while (phase === 'running' && !pageInFlight && cursor < n && ready.size < Math.max(ex.window, pageSize / 2) && loaded.size < maxLoaded) {
        // positions finished in earlier runs need no reading: the page starts at the next unfinished one
        const next = status.indexOf(PENDING, cursor);
        if (next < 0) { cursor = n; break; }
        cursor = next;
        loadNextPage();
      }
      if (fatal !== undefined) throw fatal;
      const idle = running.size === 0 && !pageInFlight;
      if (idle && (phase === 'draining' || (ready.size === 0 && cursor >= n))) break;
      const seen = changes;
      await condition(() => changes !== seen || pendingMarks.length >= 100 || (phase === 'running' && shouldContinueAsNew(ex.historyLimit)));
      if (pendingMarks.length >= 100) await flushMarks();
      if (phase === 'running' && shouldContinueAsNew(ex.historyLimit)) phase = 'draining';
    }
    await flushMarks();

    if (phase === 'draining' && (cursor < n || loaded.size > 0)) {
      log.info('continuing as new', { run: state.run, historyLength: workflowInfo().historyLength, loadedThrough: cursor });
      const carried = encodeRuns(n, (i) => (isOk(status[i]) ? CARRY.ok : isLost(status[i]) ? CARRY.lost : CARRY.todo));
      await continueAsNew<typeof SweepWorkflow>({ ...input, state: { ...state, plan, carried } });
    }
    phase = 'finished';
    const p = progress();
    const hasFailures = (p.byStatus.failed ?? 0) + (p.byStatus.skipped ?? 0) > 0;
    const result: SweepResult = { ...p, status: hasFailures ? 'completed_with_failures' : 'completed' };
    await book.finishSweep({ sweepId: input.sweepId, status: result.status, summary: summarize(result) });
    return result;
  } catch (err) {
    if (!isCancellation(err)) throw err;
    // Cancelled: wait for running stages to acknowledge, then record what did not finish.
    phase = 'cancelling';
    await CancellationScope.nonCancellable(async () => {
      await condition(() => running.size === 0 && !pageInFlight);
      if (plan) {
        // Loaded stages are counted here; the rest of the plan is counted by kind by the activity.
        for (const [i, node] of loaded) if (status[i] === PENDING || status[i] === RUNNING) setStatus(i, node.kind, CANCELLED);
        const ranges: [number, number][] = [];
        const unloaded: [number, number][] = [];
        for (let i = 0; i < n; ) {
          if (status[i] !== PENDING && status[i] !== CANCELLED) { i++; continue; }
          let j = i + 1;
          while (j < n && (status[j] === PENDING || status[j] === CANCELLED) && (j < cursor) === (i < cursor)) j++;
          (i < cursor ? ranges : unloaded).push([i, j]);
          i = j;
        }
        await flushMarks();
        await book.markStages({ sweepId: input.sweepId, planId: plan.planId, marks: [], ranges: { ranges, status: 'cancelled', error: 'sweep cancelled' } });
        const rest = await book.markStages({ sweepId: input.sweepId, planId: plan.planId, marks: [], ranges: { ranges: unloaded, status: 'cancelled', error: 'sweep cancelled' } });
        for (const [kind, c] of Object.entries(rest.rangesByKind)) bump(kind, 'cancelled', c);
      }
      await book.finishSweep({ sweepId: input.sweepId, status: 'cancelled', summary: summarize(progress()) });
    });
    throw err;
  }
}

/** The outcomes of the stages before the failed one of a chain, from the failure's details (activities/stages.ts
 *  chainFailure); undefined when the failure does not say (a timeout, a lost worker on the last attempt). */
function chainDone(err: unknown, length: number): StageOutcome[] | undefined {
  let e: any = err;
  for (let depth = 0; e && depth < 4; depth++, e = e.cause) {
    const d = (Array.isArray(e.details) ? e.details[0] : undefined) as ChainFailureDetails | undefined;
    if (d && Array.isArray(d.done) && d.done.length < length) return d.done;
  }
  return undefined;
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
  // bounded: the text goes into marks, rows and the progress query (a failure may quote a failed query)
  const text = parts.join(': ') || String(err);
  return text.length > 1000 ? `${text.slice(0, 1000)}…` : text;
}
