// A sweep's expanded plan in PostgreSQL: written once by the planning activity, read in pages by the workflow
// (through an activity) and stage by stage by the stage activities. Positions (`idx`) are the plan's topological
// order, so the workflow can schedule from small integers instead of holding every stage's spec.
// Exports:
//   planCachedByKind(pool, planId): stages of a stored plan whose artifact row exists, by kind (null: no such plan).
//   findPlan(pool, planId): the plan's summary when it is completely written, else null.
//   savePlan(pool, planId, plan, {onChunk}): upserts `stages` rows (pending) and writes `plan_stages`; idempotent.
//       Other plans of the same sweep are removed (a sweep's rows mirror the config it was last started with).
//   pruneTrials(pool, sweepId, keepIds): deletes the sweep's trial rows not in keepIds.
//   readPlanPage(pool, planId, from, count): compact rows of positions [from, from + count), in order.
//   readPlanStages(pool, planId, idxs): full stage specs (params from `stages`) with each input's key and kind.
//   beginPlannedStages(pool, planId, idxs): positions' specs with their own and their inputs' artifact rows (one query).
//   splitRanges(ranges, maxPositions): the same positions as batches of ranges covering at most maxPositions each.
//   markPlanRanges(pool, planId, ranges, status, error): one set-based UPDATE of `stages` for the positions (a
//       stage done or cached stays so); returns the positions' counts by kind.
//   planRecordParams(pool, planId, ranges): the params of the record stages at the given positions, in order.
import type pg from 'pg';
import type { SweepPlan } from '../sweep/plan.js';
import type { ArtifactRow } from './stage-rows.js';

export interface PlanSummary {
  planId: string;
  sweepId: string;
  stages: number;
  trials: number;
  /** stage count by kind */
  kinds: Record<string, number>;
}

export interface PlanPageRow {
  idx: number;
  key: string;
  kind: string;
  label: string;
  inputIdx: number[];
}

export interface PlannedStage {
  idx: number;
  key: string;
  kind: string;
  label: string;
  params: Record<string, unknown>;
  /** role → input stage key */
  inputs: Record<string, string>;
  /** role → input stage kind */
  inputKinds: Record<string, string>;
}

type Pool = Pick<pg.Pool, 'query'>;

/** Rows a statement when a plan is written. */
const SAVE_CHUNK = 5000;

/** Stages of a completely written plan that have an artifact row, by kind; null when no such plan is stored. */
export async function planCachedByKind(pool: Pool, planId: string): Promise<Record<string, number> | null> {
  if (!(await findPlan(pool, planId))) return null;
  const r = await pool.query(
    'SELECT p.kind, count(*)::int AS n FROM plan_stages p JOIN artifacts a ON a.key = p.key WHERE p.plan_id = $1 GROUP BY p.kind',
    [planId],
  );
  return Object.fromEntries(r.rows.map((row) => [row.kind as string, Number(row.n)]));
}

export async function findPlan(pool: Pool, planId: string): Promise<PlanSummary | null> {
  const r = await pool.query('SELECT id, sweep_id, stages, trials, kinds FROM sweep_plans WHERE id = $1 AND complete', [planId]);
  const row = r.rows[0];
  return row ? { planId: row.id, sweepId: row.sweep_id, stages: row.stages, trials: row.trials, kinds: row.kinds } : null;
}

export async function savePlan(pool: Pool, planId: string, plan: SweepPlan, opts: { onChunk?: () => void } = {}): Promise<PlanSummary> {
  const kinds: Record<string, number> = {};
  for (const s of plan.stages) kinds[s.kind] = (kinds[s.kind] ?? 0) + 1;
  const summary: PlanSummary = { planId, sweepId: plan.sweepId, stages: plan.stages.length, trials: plan.trials.length, kinds };
  // A sweep keeps one plan: the one it was last started with (its rows are re-read by position).
  await pool.query('DELETE FROM sweep_plans WHERE sweep_id = $1 AND id <> $2', [plan.sweepId, planId]);
  await pool.query(
    `INSERT INTO sweep_plans (id, sweep_id, stages, trials, kinds, complete) VALUES ($1, $2, $3, $4, $5::jsonb, false)
     ON CONFLICT (id) DO NOTHING`,
    [planId, plan.sweepId, summary.stages, summary.trials, JSON.stringify(kinds)],
  );
  const index = new Map<string, number>();
  plan.stages.forEach((s, i) => index.set(s.key, i));
  // Multi-row inserts from arrays (unnest), SAVE_CHUNK rows a statement, each committed on its own: a failed
  // attempt leaves a plan that is not `complete`, which the retry completes (ON CONFLICT DO NOTHING).
  for (let i = 0; i < plan.stages.length; i += SAVE_CHUNK) {
    const chunk = plan.stages.slice(i, i + SAVE_CHUNK);
    const keys = chunk.map((s) => s.key);
    const kindsOf = chunk.map((s) => s.kind);
    const inputs = chunk.map((s) => s.inputs as Record<string, string>);
    await pool.query(
      `INSERT INTO stages (key, kind, params, input_keys, status)
       SELECT k, kd, p::jsonb, string_to_array(ik, ','), 'pending' FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS t(k, kd, p, ik)
       ON CONFLICT (key) DO NOTHING`,
      [keys, kindsOf, chunk.map((s) => JSON.stringify(s.params)), inputs.map((x) => Object.values(x).join(','))],
    );
    await pool.query(
      `INSERT INTO plan_stages (plan_id, idx, key, kind, label, input_roles, input_idx)
       SELECT $1, i, k, kd, l, string_to_array(r, ','), string_to_array(ii, ',')::int[]
         FROM unnest($2::int[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[]) AS t(i, k, kd, l, r, ii)
       ON CONFLICT (plan_id, idx) DO NOTHING`,
      [
        planId,
        chunk.map((_, j) => i + j),
        keys,
        kindsOf,
        chunk.map((s) => s.label),
        inputs.map((x) => Object.keys(x).join(',')),
        chunk.map((s, j) => Object.values(inputs[j]).map((k) => {
          const at = index.get(k);
          if (at === undefined) throw new Error(`plan ${planId}: stage ${s.key} names unknown input ${k}`);
          return at;
        }).join(',')),
      ],
    );
    opts.onChunk?.();
  }
  await pool.query('UPDATE sweep_plans SET complete = true WHERE id = $1', [planId]);
  return summary;
}

export async function pruneTrials(pool: Pool, sweepId: string, keepIds: string[]): Promise<void> {
  await pool.query('DELETE FROM trials WHERE sweep_id = $1 AND NOT (id = ANY($2::text[]))', [sweepId, keepIds]);
}

export async function readPlanPage(pool: Pool, planId: string, from: number, count: number): Promise<PlanPageRow[]> {
  const r = await pool.query(
    'SELECT idx, key, kind, label, input_idx FROM plan_stages WHERE plan_id = $1 AND idx >= $2 AND idx < $3 ORDER BY idx',
    [planId, from, from + count],
  );
  return r.rows.map((row) => ({ idx: row.idx, key: row.key, kind: row.kind, label: row.label, inputIdx: row.input_idx }));
}

/** A plan_stages row with its stage's params and its inputs' keys and kinds (aligned with input_roles). */
function plannedStageOf(row: { idx: number; key: string; kind: string; label: string; params: Record<string, unknown>; input_roles: string[]; input_keys: string[]; input_kinds: string[] }): PlannedStage {
  const inputs: Record<string, string> = {};
  const inputKinds: Record<string, string> = {};
  row.input_roles.forEach((role, j) => {
    inputs[role] = row.input_keys[j];
    inputKinds[role] = row.input_kinds[j];
  });
  return { idx: row.idx, key: row.key, kind: row.kind, label: row.label, params: row.params, inputs, inputKinds };
}

export async function readPlanStages(pool: Pool, planId: string, idxs: number[]): Promise<Map<number, PlannedStage>> {
  const r = await pool.query(
    `SELECT p.idx, p.key, p.kind, p.label, p.input_roles, s.params,
            ARRAY(SELECT q.key FROM unnest(p.input_idx) WITH ORDINALITY AS u(i, o) JOIN plan_stages q ON q.plan_id = p.plan_id AND q.idx = u.i ORDER BY u.o) AS input_keys,
            ARRAY(SELECT q.kind FROM unnest(p.input_idx) WITH ORDINALITY AS u(i, o) JOIN plan_stages q ON q.plan_id = p.plan_id AND q.idx = u.i ORDER BY u.o) AS input_kinds
       FROM plan_stages p JOIN stages s ON s.key = p.key
      WHERE p.plan_id = $1 AND p.idx = ANY($2::int[])`,
    [planId, idxs],
  );
  const out = new Map<number, PlannedStage>();
  for (const row of r.rows) out.set(row.idx, plannedStageOf(row));
  return out;
}

/** What a stage attempt needs before it runs: its spec, its own artifact row (memoization) and its inputs' rows. */
export interface StageBeginning {
  planned: PlannedStage;
  own: ArtifactRow | undefined;
  inputArtifacts: Map<string, ArtifactRow>;
}

/**
 * readPlanStages plus the artifact rows of each stage and of its inputs, in one round trip: a no-op stage's cost
 * is mostly round trips to PostgreSQL (docs/orchestration.md, Measurements). A chain begins all its stages at once.
 */
export async function beginPlannedStages(pool: Pool, planId: string, idxs: number[]): Promise<Map<number, StageBeginning>> {
  const r = await pool.query(
    `SELECT p.idx, p.key, p.kind, p.label, p.input_roles, s.params, ins.keys AS input_keys, ins.kinds AS input_kinds,
            (SELECT row_to_json(a) FROM (SELECT key, sha256, bytes, metadata FROM artifacts WHERE key = p.key) a) AS own,
            (SELECT coalesce(json_agg(a), '[]'::json) FROM (SELECT key, sha256, bytes, metadata FROM artifacts WHERE key = ANY(ins.keys)) a) AS input_artifacts
       FROM plan_stages p JOIN stages s ON s.key = p.key
      CROSS JOIN LATERAL (
        SELECT coalesce(array_agg(q.key ORDER BY u.o), '{}') AS keys, coalesce(array_agg(q.kind ORDER BY u.o), '{}') AS kinds
          FROM unnest(p.input_idx) WITH ORDINALITY AS u(i, o) JOIN plan_stages q ON q.plan_id = p.plan_id AND q.idx = u.i) ins
      WHERE p.plan_id = $1 AND p.idx = ANY($2::int[])`,
    [planId, idxs],
  );
  const out = new Map<number, StageBeginning>();
  for (const row of r.rows) {
    const inputArtifacts = new Map<string, ArtifactRow>();
    for (const a of row.input_artifacts as ArtifactRow[]) inputArtifacts.set(a.key, a);
    out.set(row.idx, { planned: plannedStageOf(row), own: (row.own as ArtifactRow | null) ?? undefined, inputArtifacts });
  }
  return out;
}

/** Positions given as half-open ranges [from, to). */
export type IdxRange = [number, number];

/** The positions of `ranges` as batches of ranges covering at most maxPositions positions each (in order). */
export function splitRanges(ranges: IdxRange[], maxPositions: number): IdxRange[][] {
  if (!(Number.isInteger(maxPositions) && maxPositions > 0)) throw new Error(`splitRanges: maxPositions must be a positive integer, got ${maxPositions}`);
  const out: IdxRange[][] = [];
  let batch: IdxRange[] = [];
  let size = 0;
  for (const [from, to] of ranges) {
    for (let lo = from; lo < to; ) {
      const hi = Math.min(to, lo + (maxPositions - size));
      batch.push([lo, hi]);
      size += hi - lo;
      lo = hi;
      if (size === maxPositions) {
        out.push(batch);
        batch = [];
        size = 0;
      }
    }
  }
  if (batch.length > 0) out.push(batch);
  return out;
}

/**
 * Sets `status` and `error` on the `stages` rows of the plan's positions in `ranges`, in one statement (callers
 * bound its size with splitRanges); stages already done or cached keep their status (another sweep may share
 * them). Returns how many positions of each kind the ranges hold.
 */
export async function markPlanRanges(pool: Pool, planId: string, ranges: IdxRange[], status: string, error: string | null): Promise<Record<string, number>> {
  if (ranges.length === 0) return {};
  const r = await pool.query(
    `WITH p AS (
       SELECT p.key, p.kind FROM plan_stages p
         JOIN unnest($2::int[], $3::int[]) AS rg(lo, hi) ON p.idx >= rg.lo AND p.idx < rg.hi
        WHERE p.plan_id = $1),
     u AS (UPDATE stages s SET status = $4, error = $5 FROM p WHERE s.key = p.key AND s.status NOT IN ('done', 'cached') RETURNING 1)
     SELECT kind, count(*)::int AS n FROM p GROUP BY kind`,
    [planId, ranges.map((x) => x[0]), ranges.map((x) => x[1]), status, error],
  );
  return Object.fromEntries(r.rows.map((row) => [row.kind as string, Number(row.n)]));
}

/** The params (from `stages`) of the record stages at the plan's positions in `ranges`, in plan order. */
export async function planRecordParams(pool: Pool, planId: string, ranges: IdxRange[]): Promise<{ idx: number; key: string; params: Record<string, unknown> }[]> {
  if (ranges.length === 0) return [];
  const r = await pool.query(
    `SELECT p.idx, p.key, s.params FROM plan_stages p
       JOIN unnest($2::int[], $3::int[]) AS rg(lo, hi) ON p.idx >= rg.lo AND p.idx < rg.hi
       JOIN stages s ON s.key = p.key
      WHERE p.plan_id = $1 AND p.kind = 'record' ORDER BY p.idx`,
    [planId, ranges.map((x) => x[0]), ranges.map((x) => x[1])],
  );
  return r.rows.map((row) => ({ idx: row.idx, key: row.key, params: row.params }));
}
