// The compute behind each stage kind. Activities (activities/stages.ts) fetch inputs, handle memoization,
// heartbeats, checkpoints and recording; a Compute only turns input bytes into output bytes.
// Two implementations: ml (activities/compute-ml.ts, the tfjs library) and noop (below: no math, tiny JSON
// artifacts, for orchestration benchmarks; selected by `compute: noop` in a sweep file, part of every key).
import type { StageSpec } from '../sweep/plan.js';
import type { LoopProgress } from '../ml/driver.js';

export interface ResumePoint { epoch: number; checkpointKey: string }

/** What a running stage heartbeats: where a retry may resume, and how far the compute is. */
export interface HeartbeatDetails extends Partial<ResumePoint> {
  stage: string;
  kind: string;
  progress?: LoopProgress;
}

export interface StageContext {
  stage: StageSpec;
  sweepId: string;
  attempt: number;
  /** verified bytes of the input artifact in `role` */
  input(role: string): Promise<Uint8Array>;
  /** where a retried attempt may resume (heartbeat details, else the latest saved epoch checkpoint) */
  resume(): Promise<{ point: ResumePoint; bytes: Uint8Array } | null>;
  /** writes an epoch checkpoint to S3 and heartbeats {epoch, checkpointKey} */
  saveEpoch(epoch: number, bytes: Uint8Array): Promise<void>;
  /** heartbeat with the last details (the activity also re-sends them every second) */
  heartbeat(): void;
  /** progress of the running loop (phase, epoch, step, ETA): becomes part of the heartbeat details */
  progress(p: LoopProgress): void;
  /** aborted when the activity is cancelled */
  signal: AbortSignal;
  /** per-epoch curves of the stage (written to the database by the activity) */
  curve(points: { epoch: number; name: string; value: number }[]): Promise<void>;
  log(message: string): void;
}

export interface StageOutput {
  bytes: Uint8Array;
  /** stored in artifacts.metadata: e.g. { epochs, seconds, paramsChangedFraction } */
  meta: Record<string, unknown>;
  resumedFromEpoch?: number;
}

/** The JSON an evaluate stage writes (both computes write this shape; the record stage reads it). */
export interface EvaluationOutput {
  metrics: { split: string; name: string; value: number }[];
  counts: { train: number; forget: number; retain: number; test: number };
  /** logitConf: log p − log(1 − p) of the true class from the logits, written when the sweep runs the evaluation
   *  protocol (its scores need the unsaturated values) */
  forget?: { ids: number[]; trueProb: number[]; loss: number[]; correct: boolean[]; logitConf?: number[] };
}

export interface Compute {
  name: string;
  backend(): Promise<{ name: string; device: string; version: string }>;
  run(ctx: StageContext): Promise<StageOutput>;
}

/** A stage's params the worker cannot run (the library's own InvalidInputError covers what ml/ rejects): non-retryable. */
export class InvalidConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidConfigError';
  }
}

const enc = new TextEncoder();
export const jsonBytes = (v: unknown) => enc.encode(JSON.stringify(v));
export const bytesJson = <T>(b: Uint8Array): T => JSON.parse(new TextDecoder().decode(b)) as T;

/**
 * `stageMs` (a worker's UNLEARN_NOOP_STAGE_MS, config/index.ts) makes its no-op gpu-queue stages last that long
 * (heartbeating, stopping on cancellation), so orchestration tests can cut a host while stages run. Outputs do not
 * depend on it.
 */
async function emulatedWork(ms: number, ctx: StageContext): Promise<void> {
  if (!Number.isFinite(ms) || ms <= 0) return;
  const until = Date.now() + ms;
  while (Date.now() < until && !ctx.signal.aborted) {
    await new Promise((r) => setTimeout(r, Math.min(100, until - Date.now())));
    ctx.heartbeat();
  }
}

/** The no-op compute; gpu-queue stages last `stageMs` (default 0). */
export function createNoopCompute(stageMs = 0): Compute {
  return { ...noopCompute, run: (ctx) => runNoop(ctx, stageMs) };
}

export const noopCompute: Compute = {
  name: 'noop',
  async backend() {
    return { name: 'noop', device: 'none', version: '0' };
  },
  run: (ctx) => runNoop(ctx, 0),
};

async function runNoop(ctx: StageContext, stageMs: number): Promise<StageOutput> {
  const s = ctx.stage;
  // Read every input so the orchestration cost (fetch + verify) is measured as for real stages.
  for (const role of Object.keys(s.inputs)) await ctx.input(role);
  await emulatedWork(s.queue === 'gpu' ? stageMs : 0, ctx);
  if (s.kind === 'evaluate') {
    const out: EvaluationOutput = {
      metrics: [
        { split: 'forget', name: 'accuracy', value: 0 },
        { split: 'retain', name: 'accuracy', value: 0 },
        { split: 'test', name: 'accuracy', value: 0 },
        { split: 'forget', name: 'mia_efficacy', value: 0 },
      ],
      counts: { train: 10, forget: 1, retain: 9, test: 10 },
    };
    return { bytes: jsonBytes(out), meta: { noop: true } };
  }
  return { bytes: jsonBytes({ noop: true, kind: s.kind, key: s.key }), meta: { noop: true, epochs: 0 } };
}
