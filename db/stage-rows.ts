// Rows of the stage graph's bookkeeping (db/migrations/0001_core.sql: stages, artifacts, sweeps), written by the
// stage activities. Every statement the activities run lives here, beside db/record.ts (the results rows), so
// the activities stay thin and the SQL sits next to the schema it writes.
import type { StageSpec } from '../sweep/plan.js';

/** A node-postgres pool or client. */
export interface Queryable {
  query(text: string, values?: unknown[]): Promise<{ rows: any[] }>;
}

export type ArtifactRow = { key: string; sha256: string; bytes: number; metadata: Record<string, unknown> };

const CHUNK = 2000;
const inputKeysOf = (s: StageSpec): string[] => Object.values(s.inputs as Record<string, string | undefined>).filter((k): k is string => typeof k === 'string');

/** Artifact rows by key (missing keys are absent from the map). */
export async function artifactRows(db: Queryable, keys: string[]): Promise<Map<string, ArtifactRow>> {
  const out = new Map<string, ArtifactRow>();
  for (let i = 0; i < keys.length; i += CHUNK) {
    const r = await db.query('SELECT key, sha256, bytes, metadata FROM artifacts WHERE key = ANY($1::text[])', [keys.slice(i, i + CHUNK)]);
    for (const row of r.rows as ArtifactRow[]) out.set(row.key, row);
  }
  return out;
}

/** The stage's artifact was already there and verified. */
export async function markStageCached(db: Queryable, key: string): Promise<void> {
  await db.query(`UPDATE stages SET status = 'cached' WHERE key = $1 AND status NOT IN ('done', 'cached')`, [key]);
}

export async function markStageRunning(db: Queryable, s: StageSpec, attempt: number, worker: string, backend: string): Promise<void> {
  await db.query(
    `INSERT INTO stages (key, kind, params, input_keys, status, attempts, worker, backend, started_at, error)
     VALUES ($1, $2, $3::jsonb, $4::text[], 'running', $5, $6, $7, now(), NULL)
     ON CONFLICT (key) DO UPDATE SET status = 'running', attempts = GREATEST(stages.attempts, $5), worker = $6, backend = $7, started_at = now(), error = NULL`,
    [s.key, s.kind, JSON.stringify(s.params), inputKeysOf(s), attempt, worker, backend],
  );
}

/** Records a stage's artifact (the object was (re)written: created_at moves, so timing reports count it as new). */
export async function upsertArtifact(db: Queryable, a: { key: string; kind: string; uri: string; sha256: string; bytes: number; metadata: Record<string, unknown> }): Promise<void> {
  await db.query(
    `INSERT INTO artifacts (key, kind, uri, sha256, bytes, metadata) VALUES ($1, $2, $3, $4, $5, $6::jsonb)
     ON CONFLICT (key) DO UPDATE SET uri = $3, sha256 = $4, bytes = $5, metadata = $6::jsonb, created_at = now()`,
    [a.key, a.kind, a.uri, a.sha256, a.bytes, JSON.stringify(a.metadata)],
  );
}

/** A planned stage (its row exists) starts an attempt: UPDATE only, no spec to write (cf. markStageRunning). */
export async function markPlannedStageRunning(db: Queryable, key: string, attempt: number, worker: string, backend: string): Promise<void> {
  await db.query(
    `UPDATE stages SET status = 'running', attempts = GREATEST(attempts, $2), worker = $3, backend = $4, started_at = now(), error = NULL WHERE key = $1`,
    [key, attempt, worker, backend],
  );
}

/** The stage ran: its artifact row upserted (as upsertArtifact) and its row `done`, in one statement (one round
 * trip, one commit: the two always agree). */
export async function finishStage(db: Queryable, a: { key: string; kind: string; uri: string; sha256: string; bytes: number; metadata: Record<string, unknown> }, seconds: number): Promise<void> {
  await db.query(
    `WITH art AS (
       INSERT INTO artifacts (key, kind, uri, sha256, bytes, metadata) VALUES ($1, $2, $3, $4, $5, $6::jsonb)
       ON CONFLICT (key) DO UPDATE SET uri = $3, sha256 = $4, bytes = $5, metadata = $6::jsonb, created_at = now()
       RETURNING key)
     UPDATE stages SET status = 'done', wall_seconds = $7, finished_at = now(), error = NULL WHERE key = (SELECT key FROM art)`,
    [a.key, a.kind, a.uri, a.sha256, a.bytes, JSON.stringify(a.metadata), seconds],
  );
}

/** A run of the stage ended without an artifact ('failed' or 'cancelled'); a stage already done stays done. */
export async function markStageEnded(db: Queryable, key: string, status: 'failed' | 'cancelled', error: string): Promise<void> {
  await db.query(`UPDATE stages SET status = $2, error = $3, finished_at = now() WHERE key = $1 AND status <> 'done'`, [key, status, error]);
}

/** The workflow's verdict on a stage it did not run to the end (skipped, failed, cancelled). */
export async function markStageStatus(db: Queryable, key: string, status: string, error: string | null): Promise<void> {
  await db.query(`UPDATE stages SET status = $2, error = $3 WHERE key = $1 AND status NOT IN ('done', 'cached')`, [key, status, error]);
}

export async function setSweepStatus(db: Queryable, sweepId: string, status: string): Promise<void> {
  await db.query(`UPDATE sweeps SET status = $2, updated_at = now() WHERE id = $1`, [sweepId, status]);
}

/** Recorded wall seconds by stage kind, data set and model (the stage params' `dataset` and `model`, null for a
 *  kind without them): the median of the last `limit` finished stages of each. A kind's time depends on what it
 *  trains: an estimate from another data set's or model's stages would be off by orders of magnitude. */
export async function stageTimingsBySetting(db: Queryable, compute: string, limit = 200): Promise<{ kind: string; dataset: unknown; model: unknown; median: number; n: number }[]> {
  const r = await db.query(
    `SELECT kind, dataset, model, percentile_cont(0.5) WITHIN GROUP (ORDER BY wall_seconds) AS median, count(*)::int AS n
       FROM (SELECT kind, dataset, model, wall_seconds,
                    row_number() OVER (PARTITION BY kind, dataset, model ORDER BY finished_at DESC NULLS LAST) AS rn
               FROM (SELECT kind, wall_seconds, finished_at,
                            -- a record stage's params name the trial (its 'model' is a stage key): one group
                            CASE WHEN kind = 'record' THEN NULL ELSE params -> 'dataset' END AS dataset,
                            CASE WHEN kind = 'record' THEN NULL ELSE params -> 'model' END AS model
                       FROM stages WHERE status = 'done' AND wall_seconds IS NOT NULL AND coalesce(params ->> 'compute', 'ml') = $2) k) s
      WHERE rn <= $1 GROUP BY kind, dataset, model`,
    [limit, compute],
  );
  return r.rows.map((x) => ({ kind: x.kind as string, dataset: x.dataset ?? null, model: x.model ?? null, median: Number(x.median), n: Number(x.n) }));
}
