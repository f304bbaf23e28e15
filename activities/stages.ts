// Stage activities (thin): memoization check, fetch inputs from S3, call the compute, write the artifact,
// heartbeat {epoch, checkpointKey}, resume from the last epoch checkpoint, record rows idempotently.
import { Context, ApplicationFailure, CancelledFailure } from '@temporalio/activity';
import { openDb, type DbHandle } from '../db/client.js';
import { recordCurve, recordForgetOutputs, recordSettings, recordSweep, recordTrials, recordTrialWithMetrics, trialRecord, trialRowId, type TrialRecord } from '../db/record.js';
import {
  artifactRows as artifactRowsOf, finishStage, markPlannedStageRunning, markStageCached, markStageEnded, markStageRunning, markStageStatus,
  setSweepStatus, type ArtifactRow,
} from '../db/stage-rows.js';
import { codeVersion } from './provenance.js';
import { beginPlannedStages, findPlan, markPlanRanges, planRecordParams, pruneTrials, readPlanPage, readPlanStages, savePlan, splitRanges, type PlannedStage, type StageBeginning } from '../db/plan-store.js';
import { expandSweep, planSettings, stageKey, STAGE_QUEUES, STAGE_VERSIONS } from '../sweep/plan.js';
import { revalidateSweepConfig } from './sweep-input.js';
import { nodeSha256Hex, planIdOf } from './plan-id.js';
import { FailureType, inputKey, inputKeys, type StageKind, type StageSpec } from '../sweep/stages.js';
import { DivergenceError, InvalidInputError } from '../ml/errors.js';
import type { ChainFailureDetails, MarkStagesInput, MarkStagesResult, PlanInfo, PlanPage, PlanPageInput, PlanSweepInput, RunChainInput, RunStageInput, StageOutcome, SweepActivities } from './types.js';
import { bytesJson, jsonBytes, InvalidConfigError, type Compute, type EvaluationOutput, type HeartbeatDetails, type ResumePoint, type StageContext } from './compute.js';
import { s3Store, type ObjectStore } from './store.js';
import type { S3Config } from '../config/index.js';

export const artifactKey = (s: { kind: string; key: string }) => `stages/${s.kind}/${s.key}`;
export const checkpointPrefix = (stageKey: string) => `checkpoints/${stageKey}/`;
const checkpointKey = (stageKey: string, epoch: number) => `${checkpointPrefix(stageKey)}epoch-${String(epoch).padStart(4, '0')}.ckpt`;

export { trialRowId, planIdOf };

/** Plan positions per set-based statement when a sweep's unfinished stages are marked (cancellation). */
const MARK_BATCH = 5000;

/** A stored stage as the spec the computes take. */
function specOf(p: PlannedStage): StageSpec {
  const kind = p.kind as StageKind;
  // The row was written from a StageSpec of this kind (savePlan); params and inputs come back as they went in.
  return { key: p.key, kind, queue: STAGE_QUEUES[kind], version: STAGE_VERSIONS[kind], params: p.params, inputs: p.inputs, label: p.label } as unknown as StageSpec;
}

/**
 * A stage's key covers its kind's code version (STAGE_VERSIONS). In a fleet of old and new workers, a worker
 * must not run a stage planned by code with another version of that kind: its output would be stored under a
 * key that promises other code. The key this worker's code gives the stage must be the planned key; otherwise
 * the attempt fails (retryable, type StageVersionMismatch) and Temporal retries it, on another worker.
 */
export function checkStageVersion(s: StageSpec, identity: string): void {
  const mine = STAGE_VERSIONS[s.kind];
  if (stageKey(s.kind, s.params, s.inputs, mine) === s.key) return;
  throw ApplicationFailure.create({
    type: 'StageVersionMismatch',
    message: `worker ${identity} runs ${s.kind} code version ${mine}, but stage ${s.key.slice(0, 12)} was planned with another version (or other parameters); ` +
      'left to a worker of the release that planned the sweep',
  });
}

export interface ActivityDeps {
  store: ObjectStore;
  db: DbHandle;
  /** compute by name: `ml` and/or `noop` (a sweep's `compute` picks one) */
  computes: Record<string, Compute>;
  identity: string;
  /** plan positions per set-based statement when unfinished stages are marked (default MARK_BATCH) */
  markBatch?: number;
}

/** Host part of a worker identity (`<host>:<pid>:<queue>`; the host is config/index.ts workerHost). */
export const hostOfWorker = (identity: string) => identity.split(':')[0];

export function defaultDeps(computes: Record<string, Compute>, queue: string, services: { s3: S3Config; databaseUrl: string; host: string }): ActivityDeps {
  return { store: s3Store(services.s3), db: openDb(services.databaseUrl), computes, identity: `${services.host}:${process.pid}:${queue}` };
}

async function mapLimit<T, R>(items: T[], limit: number, fn: (t: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i], i);
    }
  }));
  return out;
}

/**
 * The failure type of an error no retry can fix (sweep/stages.ts FailureType), by class; undefined when a
 * retry may help (I/O, a lost worker, an out-of-memory).
 */
export function nonRetryableType(e: unknown): FailureType | undefined {
  if (e instanceof InvalidConfigError || e instanceof InvalidInputError) return FailureType.InvalidConfig;
  if (e instanceof DivergenceError) return FailureType.Diverged;
  return undefined;
}

function errorText(e: unknown): string {
  return e instanceof Error ? `${e.name === 'Error' ? '' : `${e.name}: `}${e.message}` : String(e);
}

/** Error texts stored in a stage row and sent to Temporal: no NUL (PostgreSQL text refuses it), at most 4,000
 * characters. An unbounded text is lost twice: the row update fails, and Temporal replaces a failure over its
 * size limit by "Failure exceeds size limit." (the full text goes to the worker's log instead). */
export const STAGE_ERROR_CHARS = 4000;
export function boundedErrorText(text: string): string {
  const clean = text.replace(/\u0000/g, '');
  return clean.length > STAGE_ERROR_CHARS ? `${clean.slice(0, STAGE_ERROR_CHARS)}… (${clean.length.toLocaleString('en-US')} characters; the whole text is in the worker's log)` : clean;
}

/** Time of each step of storeSweepPlan, for benchmarks (bench/plan.bench.ts). */
export type PlanPhases = Partial<Record<'validate' | 'sweepRow' | 'settings' | 'find' | 'expand' | 'prune' | 'save', number>>;

/**
 * The planning activity's work (planSweep), callable without Temporal: validates the config, upserts the sweep
 * and settings rows, and returns the stored plan of this config, or expands and stores it.
 */
export async function storeSweepPlan(db: DbHandle, { sweepId, config }: PlanSweepInput, opts: { heartbeat?: () => void; phases?: PlanPhases } = {}): Promise<PlanInfo> {
  const heartbeat = opts.heartbeat ?? (() => undefined);
  let t = performance.now();
  const lap = (name: keyof PlanPhases) => {
    const now = performance.now();
    if (opts.phases) opts.phases[name] = (opts.phases[name] ?? 0) + (now - t);
    t = now;
  };
  revalidateSweepConfig(config, sweepId); // the same schema as the CLI: a workflow input is not trusted
  const planId = planIdOf(sweepId, config);
  lap('validate');
  await recordSweep(db.db, { id: sweepId, name: config.name, config, status: 'running' });
  lap('sweepRow');
  // what the plan's setting and method keys stand for (the leaderboard shows their summaries)
  const described = planSettings(config);
  await recordSettings(db.db, described.settings, described.methods);
  lap('settings');
  const stored = await findPlan(db.pool, planId);
  lap('find');
  if (stored) return { planId, stages: stored.stages, trials: stored.trials, kinds: stored.kinds };
  const plan = expandSweep(config, sweepId, { sha256: nodeSha256Hex });
  lap('expand');
  heartbeat();
  // A sweep's trial rows mirror its current config: rows of trials no longer in the plan (the file changed
  // under the same id) are removed; their artifacts stay, so putting them back re-records them from cache.
  await pruneTrials(db.pool, sweepId, plan.trials.map((tr) => trialRowId(sweepId, tr.id)));
  lap('prune');
  const saved = await savePlan(db.pool, planId, plan, { onChunk: heartbeat });
  lap('save');
  return { planId, stages: saved.stages, trials: saved.trials, kinds: saved.kinds };
}

export function createActivities(deps: ActivityDeps): SweepActivities {
  const { store, db } = deps;
  const pool = db.pool;
  const artifactRows = (keys: string[]) => artifactRowsOf(pool, keys);

  /** Complete = artifact row exists and the object's size and recorded sha256 match it. */
  async function verified(s: { kind: string; key: string }, row: ArtifactRow | undefined): Promise<boolean> {
    if (!row) return false;
    const h = await store.head(artifactKey(s));
    return h !== null && h.bytes === Number(row.bytes) && h.sha256 === row.sha256;
  }

  /** Expands the plan once per (sweep id, config) and stores it; later starts of the same config reuse it. */
  async function planSweep(input: PlanSweepInput): Promise<PlanInfo> {
    const ctx = Context.current();
    return storeSweepPlan(db, input, { heartbeat: () => ctx.heartbeat() });
  }

  /** A page of the plan for the workflow, with the stages whose output already exists and verifies. */
  async function planPage({ planId, from, count }: PlanPageInput): Promise<PlanPage> {
    const ctx = Context.current();
    const rows = await readPlanPage(db.pool, planId, from, count);
    if (rows.length === 0 && count > 0) throw ApplicationFailure.nonRetryable(`plan ${planId} has no stage at position ${from}`, FailureType.InvalidConfig);
    const arts = await artifactRows(rows.map((r) => r.key));
    let n = 0;
    const checks = await mapLimit(rows, 32, async (r, i) => {
      if (++n % 200 === 0) ctx.heartbeat();
      return (await verified(r, arts.get(r.key))) ? i : -1;
    });
    return {
      from,
      kinds: rows.map((r) => r.kind),
      keys: rows.map((r) => r.key),
      labels: rows.map((r) => r.label),
      inputs: rows.map((r) => r.inputIdx),
      complete: checks.filter((i) => i >= 0),
    };
  }

  async function recordStage(stage: StageSpec<'record'>, read: (role: string) => Promise<Uint8Array>, chain?: ChainOutputs): Promise<{ bytes: Uint8Array; meta: Record<string, unknown> }> {
    const p = stage.params;
    const t = p.trial;
    const ev = bytesJson<EvaluationOutput>(await read('evaluate'));
    // the model's and the evaluation's rows: made earlier in this chain (the usual case), else read
    const wanted = [p.model, p.stageKeys.evaluate].filter(Boolean);
    const metas = wanted.every((k) => chain?.has(k)) ? new Map(wanted.map((k) => [k, (chain as ChainOutputs).get(k)!.row])) : await artifactRows(wanted);
    const modelMeta = metas.get(p.model)?.metadata ?? {};
    const row = trialRecord(p.sweepId, t, p.stageKeys, {
      status: 'completed',
      measuredForgetFraction: ev.counts.train > 0 ? ev.counts.forget / ev.counts.train : 0,
      wallSeconds: modelMeta.seconds as number, epochs: modelMeta.epochs as number, paramsChangedFraction: modelMeta.paramsChangedFraction as number,
      provenance: provenanceOf(p.stageKeys, modelMeta, metas.get(p.stageKeys.evaluate)?.metadata ?? {}),
    });
    const id = row.id;
    // a method's first-seed trial also carries its evaluation protocol's scores (split 'protocol')
    const protocol = stage.inputs.protocol ? bytesJson<{ metrics?: EvaluationOutput['metrics'] }>(await read('protocol')) : undefined;
    // the trial row and its metrics in one statement: one leaderboard refresh (db/record.ts)
    await recordTrialWithMetrics(db.db, row, protocol?.metrics ? [...ev.metrics, ...protocol.metrics] : ev.metrics);
    if (ev.forget) await recordForgetOutputs(db.db, id, ev.forget);
    return { bytes: jsonBytes({ trialRowId: id, metrics: ev.metrics.length }), meta: { trialRowId: id } };
  }

  async function runStage(input: RunStageInput): Promise<StageOutcome> {
    return runOneStage(input);
  }

  /**
   * Stages that run one after the other on this worker as one activity (the workflow chains a stage with the one
   * stage that waits on it alone, e.g. unlearn → evaluate → record): one Temporal round trip for the chain instead
   * of one per stage, and each output stays in memory for the next (no S3 read back). Every stage is still begun,
   * memoized, heartbeated and recorded on its own, as runStage does. A failure carries the outcomes of the stages
   * before it (details[0].done), so the workflow marks those finished and the failed one failed; a retried chain
   * finds what it finished before memoized (reported `ran`: its artifact names this activity, see madeBy).
   */
  async function runChain({ sweepId, planId, indices }: RunChainInput): Promise<StageOutcome[]> {
    const outputs: ChainOutputs = new Map();
    const done: StageOutcome[] = [];
    // one query begins every stage of the chain (the inputs made inside it are added as they are made)
    const begun = await beginPlannedStages(db.pool, planId, indices);
    for (const index of indices) {
      try {
        done.push(await runOneStage({ sweepId, planId, index }, { outputs, begun: begun.get(index) }));
      } catch (e) {
        throw chainFailure(e, done);
      }
    }
    return done;
  }

  async function runOneStage(input: RunStageInput, inChain?: { outputs: ChainOutputs; begun: StageBeginning | undefined }): Promise<StageOutcome> {
    const chain = inChain?.outputs;
    const { sweepId } = input;
    let stage: StageSpec;
    let inputKinds: Record<string, string>;
    // A planned stage (the usual case) begins with one query: its spec, its own artifact row and its inputs' rows.
    let existing: ArtifactRow | undefined;
    let inputRows: Map<string, ArtifactRow> | undefined;
    if ('stage' in input) {
      ({ stage, inputKinds } = input);
    } else {
      const begun = inChain ? inChain.begun : (await beginPlannedStages(db.pool, input.planId, [input.index])).get(input.index);
      if (!begun) throw ApplicationFailure.nonRetryable(`plan ${input.planId} has no stage at position ${input.index}`, FailureType.InvalidConfig);
      stage = specOf(begun.planned);
      inputKinds = begun.planned.inputKinds;
      existing = begun.own;
      inputRows = begun.inputArtifacts;
      // inputs made earlier in this chain: their rows as written (the chain began before they existed)
      for (const key of inputKeys(stage)) {
        const made = chain?.get(key);
        if (made) inputRows.set(key, made.row);
      }
    }
    checkStageVersion(stage, deps.identity);
    if ('stage' in input) existing = (await artifactRows([stage.key])).get(stage.key);
    const ctx = Context.current();
    const attempt = ctx.info.attempt;
    const t0 = Date.now();
    const s = stage;
    const madeBy = madeByOf(ctx.info);
    // Memoization: a complete, verified artifact means the stage is not run again.
    if (await verified(s, existing)) {
      const meta = (existing as ArtifactRow).metadata;
      // made by an earlier attempt of this very activity (a chain retried after a later stage failed, or a
      // worker lost after writing the artifact): this sweep ran it
      if (attempt > 1 && meta.madeBy === madeBy) {
        return { key: s.key, status: 'ran', seconds: Number(meta.seconds) || 0, attempt, resumedFromEpoch: Number(meta.resumedFromEpoch) || 0 };
      }
      await markStageCached(pool, s.key);
      return { key: s.key, status: 'cached', seconds: 0, attempt };
    }
    const computeName = s.params.compute;
    const compute = deps.computes[computeName];
    if (!compute && s.kind !== 'record') {
      throw ApplicationFailure.nonRetryable(`worker ${deps.identity} has no compute "${computeName}" (has: ${Object.keys(deps.computes).join(', ')})`, FailureType.InvalidConfig);
    }
    const backend = compute ? await compute.backend() : { name: 'io', device: 'cpu', version: '' };
    const backendName = `${backend.name}/${backend.device}`;
    if ('stage' in input) await markStageRunning(pool, s, attempt, deps.identity, backendName);
    else await markPlannedStageRunning(pool, s.key, attempt, deps.identity, backendName);

    // The details carry the resume point and the compute's progress; the ticker sends them every second (the
    // first tick too: a stage shorter than that costs the server no heartbeat). It runs only when the event
    // loop does: the compute's loops yield to it (ml/driver.ts), so a heartbeat timeout means a hung or dead
    // worker, or a loop that does not go through the driver.
    const details: HeartbeatDetails = { stage: s.key, kind: s.kind };
    const heartbeat = () => ctx.heartbeat(details);
    // every second, or 4 times per heartbeat timeout when that is shorter
    const ticker = setInterval(heartbeat, Math.min(1000, Math.max(100, (ctx.info.heartbeatTimeoutMs ?? 4000) / 4)));
    const abort = new AbortController();
    ctx.cancelled.catch(() => abort.abort());
    const inputArtifacts = inputRows ?? (await artifactRows(inputKeys(s)));
    const read = async (role: string) => {
      const key = inputKey(s, role);
      if (!key) throw new InvalidConfigError(`stage ${s.kind} ${s.key} has no input "${role}"`);
      const row = inputArtifacts.get(key);
      const kind = inputKinds[role];
      if (!row || !kind) throw new Error(`input ${role} (${key}) of stage ${s.kind} ${s.key} has no artifact yet`);
      // made earlier in this chain (its row above is the one written with these bytes): still in memory
      const made = chain?.get(key);
      if (made) return made.bytes;
      return store.get(artifactKey({ kind, key }), row.sha256);
    };
    try {
      let out: { bytes: Uint8Array; meta: Record<string, unknown>; resumedFromEpoch?: number };
      if (s.kind === 'record') {
        out = await recordStage(s, read, chain);
      } else {
        const sctx: StageContext = {
          stage: s,
          sweepId,
          attempt,
          input: read,
          signal: abort.signal,
          heartbeat,
          progress(p) {
            details.progress = p;
          },
          log: (m) => ctx.log.info(m, { stage: s.key, kind: s.kind }),
          async resume() {
            // (the details of a chain's attempt may be another stage's: only this stage's own point counts)
            const hb = ctx.info.heartbeatDetails as HeartbeatDetails | undefined;
            let point: ResumePoint | undefined = hb && hb.stage === s.key && typeof hb.epoch === 'number' && hb.epoch > 0 && typeof hb.checkpointKey === 'string' ? { epoch: hb.epoch, checkpointKey: hb.checkpointKey } : undefined;
            if (!point) {
              const keys = (await store.list(checkpointPrefix(s.key))).sort();
              const last = keys[keys.length - 1];
              const m = last ? /epoch-(\d+)\.ckpt$/.exec(last) : null;
              if (last && m) point = { epoch: Number(m[1]), checkpointKey: last };
            }
            if (!point) return null;
            try {
              return { point, bytes: await store.get(point.checkpointKey) };
            } catch (e) {
              ctx.log.warn(`checkpoint ${point.checkpointKey} unreadable, starting fresh: ${errorText(e)}`);
              return null;
            }
          },
          async saveEpoch(epoch, bytes) {
            const key = checkpointKey(s.key, epoch);
            await store.put(key, bytes, { stage: s.key, epoch: String(epoch) });
            details.epoch = epoch;
            details.checkpointKey = key;
            heartbeat();
          },
          async curve(points) {
            if (points.length > 0) await recordCurve(db.db, s.key, points);
          },
        };
        const tc = Date.now();
        out = await compute.run(sctx);
        out.meta = { ...out.meta, computeSeconds: (Date.now() - tc) / 1000 };
      }
      if (abort.signal.aborted) throw new CancelledFailure('stage cancelled');
      const put = await store.put(artifactKey(s), out.bytes, { stage: s.key, kind: s.kind });
      const seconds = (Date.now() - t0) / 1000;
      const meta = { seconds, ...out.meta, worker: deps.identity, host: hostOfWorker(deps.identity), backend, code: codeVersion(), version: s.version, attempt, resumedFromEpoch: out.resumedFromEpoch ?? 0, madeBy };
      await finishStage(pool, { key: s.key, kind: s.kind, uri: put.uri, sha256: put.sha256, bytes: put.bytes, metadata: meta }, seconds);
      // (the metadata as the database gives it back: JSON)
      chain?.set(s.key, { bytes: out.bytes, row: { key: s.key, sha256: put.sha256, bytes: put.bytes, metadata: JSON.parse(JSON.stringify(meta)) as Record<string, unknown> } });
      return { key: s.key, status: 'ran', seconds, attempt, resumedFromEpoch: out.resumedFromEpoch ?? 0 };
    } catch (e) {
      const cancelled = abort.signal.aborted || e instanceof CancelledFailure;
      const full = errorText(e);
      const text = boundedErrorText(full);
      if (!cancelled) ctx.log.warn(`stage ${s.kind} ${s.key} failed (attempt ${attempt}): ${full.slice(0, 1_000_000)}`, { stack: e instanceof Error ? e.stack?.slice(0, 20_000) : undefined });
      await markStageEnded(pool, s.key, cancelled ? 'cancelled' : 'failed', text).catch((dbErr: unknown) =>
        ctx.log.warn(`stage ${s.key}: could not mark it ${cancelled ? 'cancelled' : 'failed'}: ${errorText(dbErr)}`),
      );
      if (cancelled) throw e instanceof CancelledFailure ? e : new CancelledFailure('stage cancelled');
      const type = nonRetryableType(e);
      if (type) throw ApplicationFailure.nonRetryable(boundedErrorText((e as Error).message), type);
      // a failure Temporal would refuse for its size is sent as its bounded text (same retry behaviour)
      if (text !== full) throw ApplicationFailure.create({ message: text, type: e instanceof Error ? e.name : 'Error', nonRetryable: false });
      throw e;
    } finally {
      clearInterval(ticker);
    }
  }

  /** The trial row of a record stage that will not run: it says why (THE builder, db/record.ts trialRecord). */
  function unfinishedTrialRow(sweepId: string, p: StageSpec<'record'>['params'], status: string, error: string | undefined): TrialRecord {
    return trialRecord(sweepId, p.trial, p.stageKeys, {
      status: 'failed', error: `${status}: ${error ?? ''}`,
      provenance: { code: codeVersion(), stageVersions: stageVersionsOf(p.stageKeys) },
    });
  }

  async function markStages({ sweepId, planId, marks, ranges }: MarkStagesInput): Promise<MarkStagesResult> {
    const ctx = Context.current();
    const specs = await readPlanStages(db.pool, planId, marks.map((m) => m.index));
    const unfinished: TrialRecord[] = [];
    for (const m of marks) {
      const planned = specs.get(m.index);
      if (!planned) throw ApplicationFailure.nonRetryable(`plan ${planId} has no stage at position ${m.index}`, FailureType.InvalidConfig);
      await markStageStatus(pool, planned.key, m.status, m.error ?? null);
      if (planned.kind === 'record') unfinished.push(unfinishedTrialRow(sweepId, specOf(planned).params as StageSpec<'record'>['params'], m.status, m.error));
    }
    // a finished trial keeps its row
    if (unfinished.length > 0) await recordTrials(db.db, unfinished, { keepCompleted: true });
    const rangesByKind: Record<string, number> = {};
    if (ranges && ranges.ranges.length > 0) {
      // Set-based: per batch of positions one UPDATE of the stages and multi-row upserts of the trial rows.
      for (const batch of splitRanges(ranges.ranges, deps.markBatch ?? MARK_BATCH)) {
        const byKind = await markPlanRanges(db.pool, planId, batch, ranges.status, ranges.error);
        for (const [kind, c] of Object.entries(byKind)) rangesByKind[kind] = (rangesByKind[kind] ?? 0) + c;
        const records = await planRecordParams(db.pool, planId, batch);
        await recordTrials(db.db, records.map((r) => unfinishedTrialRow(sweepId, r.params as unknown as StageSpec<'record'>['params'], ranges.status, ranges.error)), { keepCompleted: true });
        ctx.heartbeat();
      }
    }
    return { rangesByKind };
  }

  async function finishSweep({ sweepId, status }: { sweepId: string; status: string; summary: Record<string, unknown> }): Promise<void> {
    await setSweepStatus(pool, sweepId, status);
  }

  return { planSweep, planPage, runStage, runChain, markStages, finishSweep };
}

/** Outputs of the stages a chain ran so far, by stage key: the next stages read them from memory. */
type ChainOutputs = Map<string, { bytes: Uint8Array; row: ArtifactRow }>;

/** Which activity made an artifact: the same id across the attempts of one activity, another for any other. */
function madeByOf(info: { workflowExecution?: { runId: string }; activityId: string }): string {
  return `${info.workflowExecution?.runId ?? ''}/${info.activityId}`;
}

/**
 * A chain's failure as the failed stage's own (same message, type and retryability: the retry policy and the
 * workflow treat it as before), carrying the outcomes of the stages before it. Cancellation stays cancellation
 * (with the same details: the stages a cancelled chain finished count as finished).
 */
function chainFailure(e: unknown, done: StageOutcome[]): unknown {
  const details: ChainFailureDetails = { done };
  if (e instanceof CancelledFailure) return new CancelledFailure(e.message, [details]);
  if (e instanceof ApplicationFailure) return ApplicationFailure.create({ message: e.message, type: e.type ?? undefined, nonRetryable: e.nonRetryable ?? false, details: [details] });
  const err = e instanceof Error ? e : new Error(String(e));
  return ApplicationFailure.create({ message: boundedErrorText(err.message), type: err.name, nonRetryable: false, details: [details] });
}

/** Code versions of the stages a trial's numbers came from. */
function stageVersionsOf(stageKeys: Record<string, string>): Record<string, number> {
  return Object.fromEntries(Object.keys(stageKeys).filter((k): k is StageKind => k in STAGE_VERSIONS).map((k) => [k, STAGE_VERSIONS[k]]));
}

/** How a trial's numbers were made: the model's and the evaluation's stage artifacts say which code, backend,
 *  device and worker produced them. */
function provenanceOf(stageKeys: Record<string, string>, modelMeta: Record<string, unknown>, evalMeta: Record<string, unknown>): Record<string, unknown> {
  const backend = (modelMeta.backend ?? {}) as { name?: string; device?: string; version?: string };
  const evalBackend = (evalMeta.backend ?? {}) as { name?: string; device?: string };
  return {
    code: modelMeta.code ?? codeVersion(),
    stageVersions: stageVersionsOf(stageKeys),
    backend: backend.name ?? null,
    device: backend.device ?? null,
    backendVersion: backend.version ?? null,
    workerHost: (modelMeta.host as string | undefined) ?? null,
    worker: (modelMeta.worker as string | undefined) ?? null,
    evaluation: { backend: evalBackend.name ?? null, device: evalBackend.device ?? null, workerHost: (evalMeta.host as string | undefined) ?? null },
  };
}
