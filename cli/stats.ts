// Timing of a finished sweep from the artifacts table: wall time, compute time per stage kind, and the
// fraction of worker time spent outside compute (orchestration overhead) — used by the demo and the bench.
import type { DbHandle } from '../db/client.js';
import type { SweepPlan } from '../sweep/plan.js';
import { TRAINING_KINDS } from '../sweep/plan.js';

export interface SweepTiming {
  wallSeconds: number;
  gpuSlots: number;
  stagesRan: number;
  /** per kind: stages that ran, seconds inside the activity, seconds inside the compute */
  byKind: Record<string, { ran: number; activitySeconds: number; computeSeconds: number }>;
  /** Σ compute seconds of gpu-queue stages */
  gpuComputeSeconds: number;
  /** Σ compute seconds of training stages (train.*, localize, unlearn) */
  trainingSeconds: number;
  /** 1 − gpu compute / (wall × gpu slots): the share of gpu worker time not spent computing */
  fractionOutsideCompute: number;
  /** 1 − training / (wall × gpu slots) */
  fractionOutsideTraining: number;
}

export async function sweepTiming(db: DbHandle, plan: SweepPlan, wallSeconds: number, gpuSlots: number, sinceMs: number): Promise<SweepTiming> {
  const r = await db.pool.query(
    `SELECT kind, metadata FROM artifacts WHERE key = ANY($1::text[]) AND created_at >= to_timestamp($2 / 1000.0)`,
    [plan.stages.map((s) => s.key), sinceMs],
  );
  const byKind: SweepTiming['byKind'] = {};
  let gpu = 0, training = 0, ran = 0;
  const gpuKinds = new Set<string>(plan.stages.filter((s) => s.queue === 'gpu').map((s) => s.kind));
  for (const row of r.rows as { kind: string; metadata: Record<string, number> }[]) {
    const k = (byKind[row.kind] ??= { ran: 0, activitySeconds: 0, computeSeconds: 0 });
    const compute = Number(row.metadata.computeSeconds ?? 0);
    k.ran++;
    k.activitySeconds += Number(row.metadata.seconds ?? 0);
    k.computeSeconds += compute;
    ran++;
    if (gpuKinds.has(row.kind)) gpu += compute;
    if ((TRAINING_KINDS as readonly string[]).includes(row.kind)) training += compute;
  }
  const capacity = wallSeconds * gpuSlots;
  return {
    wallSeconds, gpuSlots, stagesRan: ran, byKind, gpuComputeSeconds: gpu, trainingSeconds: training,
    fractionOutsideCompute: capacity > 0 ? 1 - gpu / capacity : 0,
    fractionOutsideTraining: capacity > 0 ? 1 - training / capacity : 0,
  };
}
