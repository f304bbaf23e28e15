// Reading results: leaderboard rows (from the SQL function leaderboard_for of 0002_results.sql), sweeps with
// progress, and a trial's detail for the dashboard. Formatting lives in db/leaderboard-format.ts.
import { sql } from 'drizzle-orm';
import type { ResultsDb } from './record.js';

/** Measures with a mean and a 95% t-interval half-width (`<m>_mean`, `<m>_ci`) in every leaderboard row. */
export const MEASURES = [
  'forget_acc', 'retain_acc', 'test_acc', 'mia', 'd_forget', 'd_retain', 'd_test', 'd_mia', 'tow', 'gap',
  'cost_rel', 'epochs_rel', 'wall_seconds', 'params_changed',
] as const;
export type Measure = (typeof MEASURES)[number];

export type LeaderboardRow = LeaderboardKey & { [K in `${Measure}_mean` | `${Measure}_ci`]: number | null };
export interface LeaderboardKey {
  rank: number | null; // null for the reference rows (original, oracle)
  /** comparable setting (sweep/keys.ts): rows with different setting keys are never compared or merged */
  setting_key: string;
  method_key: string;
  role: 'original' | 'oracle' | 'method';
  label: string;
  /** readable summaries of the setting and the method (null for rows whose specs were never recorded) */
  setting_summary: string | null;
  method_summary: string | null;
  dataset: string;
  model: string;
  forget_kind: string;
  forget_fraction: number;
  algorithm: string | null;
  localization: string | null;
  alpha: number | null;
  hparams: Record<string, unknown>;
  is_oracle: boolean;
  n_trials: number;
  n_seeds: number;
  n_paired: number;
}

/** Rank criteria: SQL ordering expression over leaderboard_for's columns (whitelisted, never user text). */
export const RANK_BY = {
  gap: { expr: 'gap_mean ASC', about: 'mean of (|Δforget| + |Δtest| + |ΔMIA|) / 3 over seeds, smaller first' },
  forget_gap: { expr: 'abs(d_forget_mean) ASC', about: '|mean Δforget|, smaller first' },
  test_gap: { expr: 'abs(d_test_mean) ASC', about: '|mean Δtest|, smaller first' },
  mia_gap: { expr: 'abs(d_mia_mean) ASC', about: '|mean ΔMIA|, smaller first' },
  tow: { expr: 'tow_mean DESC', about: 'tug-of-war, larger first' },
  test_acc: { expr: 'test_acc_mean DESC', about: 'test accuracy, larger first' },
  retain_acc: { expr: 'retain_acc_mean DESC', about: 'retain accuracy, larger first' },
  cost: { expr: 'cost_rel_mean ASC', about: 'wall time relative to the oracle, smaller first' },
} as const;
export type RankBy = keyof typeof RANK_BY;

export interface LeaderboardFilter {
  sweep?: string;
  dataset?: string;
  forgetKind?: string;
  rankBy?: RankBy;
}

function rowsOf<T>(r: unknown): T[] {
  return ((r as { rows?: T[] }).rows ?? (r as T[])) as T[];
}

function num(v: unknown): number | null {
  return v === null || v === undefined ? null : Number(v);
}

/**
 * Leaderboard rows, one per (setting key, method key), aggregated over seeds (and over sweeps unless a sweep
 * is given). Ranked within each comparable setting by `rankBy` (default 'gap'); the reference rows (original,
 * oracle) have rank null and come after the ranked rows of their setting.
 */
export async function leaderboard(db: ResultsDb, f: LeaderboardFilter = {}): Promise<LeaderboardRow[]> {
  const rankBy = f.rankBy ?? 'gap';
  const crit = RANK_BY[rankBy];
  if (!crit) throw new Error(`leaderboard: unknown rank criterion "${String(rankBy)}"; one of ${Object.keys(RANK_BY).join(', ')}`);
  const order = sql.raw(`${crit.expr} NULLS LAST, label, localization NULLS FIRST, alpha NULLS FIRST, hparams::text`);
  const res = await db.execute(sql`
    SELECT CASE WHEN l.role <> 'method' THEN NULL
                ELSE rank() OVER (PARTITION BY l.setting_key, l.role ORDER BY ${order})
           END AS rank, l.*
      FROM leaderboard_for(${f.sweep ?? null}::text, ${f.dataset ?? null}::text, ${f.forgetKind ?? null}::text) l
     ORDER BY l.dataset, l.model, l.forget_kind, l.forget_fraction, l.setting_summary, l.setting_key,
              l.role = 'oracle', l.role = 'original', rank NULLS LAST, l.label, l.method_key`);
  return rowsOf<Record<string, unknown>>(res).map((r) => {
    const out: Record<string, unknown> = { ...r };
    for (const k of ['rank', 'forget_fraction', 'alpha', 'n_trials', 'n_seeds', 'n_paired']) out[k] = num(r[k]);
    for (const m of MEASURES) {
      out[`${m}_mean`] = num(r[`${m}_mean`]);
      out[`${m}_ci`] = num(r[`${m}_ci`]);
    }
    return out as unknown as LeaderboardRow;
  });
}

export interface SweepProgress {
  id: string;
  name: string;
  status: string;
  created_at: string;
  updated_at: string;
  trials: number;
  completed: number;
  failed: number;
  running: number;
  pending: number;
  /** planned trial count: config.totalTrials when the sweep's config states it, else the number of 'record' stages
   *  whose params.sweepId is this sweep (the orchestration plans one per trial), else null */
  planned: number | null;
}

/** Sweeps (newest first) with trial counts by status. */
export async function sweepsWithProgress(db: ResultsDb, limit = 200): Promise<SweepProgress[]> {
  const res = await db.execute(sql`
    SELECT s.id, s.name, s.status, s.created_at, s.updated_at,
           count(t.id) AS trials,
           count(t.id) FILTER (WHERE t.status = 'completed') AS completed,
           count(t.id) FILTER (WHERE t.status = 'failed') AS failed,
           count(t.id) FILTER (WHERE t.status = 'running') AS running,
           count(t.id) FILTER (WHERE t.status = 'pending') AS pending,
           coalesce(CASE WHEN jsonb_typeof(s.config -> 'totalTrials') = 'number' THEN (s.config ->> 'totalTrials')::numeric END,
                    nullif(max(r.planned), 0)) AS planned
      FROM sweeps s
      LEFT JOIN trials t ON t.sweep_id = s.id
      LEFT JOIN LATERAL (SELECT count(*) AS planned FROM stages st
                          WHERE st.kind = 'record' AND st.params ->> 'sweepId' = s.id) r ON true
     GROUP BY s.id
     ORDER BY s.created_at DESC, s.id
     LIMIT ${limit}`);
  return rowsOf<Record<string, unknown>>(res).map((r) => ({
    id: String(r.id), name: String(r.name), status: String(r.status),
    created_at: new Date(r.created_at as string).toISOString(), updated_at: new Date(r.updated_at as string).toISOString(),
    trials: Number(r.trials), completed: Number(r.completed), failed: Number(r.failed), running: Number(r.running),
    pending: Number(r.pending), planned: num(r.planned),
  }));
}

/** Trials of a sweep (or of all sweeps), for listing. */
export async function listTrials(db: ResultsDb, f: { sweep?: string; limit?: number } = {}): Promise<Record<string, unknown>[]> {
  const res = await db.execute(sql`
    SELECT id, sweep_id, role, label, algorithm, setting_key, method_key, dataset, model, forget_kind, forget_fraction,
           localization, alpha, hparams, seed, is_oracle, status, forget_acc, retain_acc, test_acc, mia_efficacy,
           wall_seconds, code_version, backend, worker_host, updated_at
      FROM trials WHERE (${f.sweep ?? null}::text IS NULL OR sweep_id = ${f.sweep ?? null}::text)
     ORDER BY updated_at DESC, id LIMIT ${f.limit ?? 500}`);
  return rowsOf<Record<string, unknown>>(res);
}

export interface TrialDetail {
  trial: Record<string, unknown>;
  /** the trial's comparable setting and method: key, readable summary and full spec */
  setting: { key: string; summary: string; spec: Record<string, unknown> } | null;
  method: { key: string; summary: string; spec: Record<string, unknown> } | null;
  gaps: Record<string, unknown> | null;
  metrics: { split: string; name: string; value: number }[];
  curves: { stage_kind: string; stage_key: string; epoch: number; name: string; value: number }[];
  stages: Record<string, unknown>[];
  artifacts: Record<string, unknown>[];
  forgetOutputs: { n: number } | null;
}

/** Everything the dashboard shows about one trial; null when the trial does not exist. */
export async function trialDetail(db: ResultsDb, id: string): Promise<TrialDetail | null> {
  const trial = rowsOf<Record<string, unknown>>(await db.execute(sql`SELECT * FROM trials WHERE id = ${id}`))[0];
  if (!trial) return null;
  const gaps = rowsOf<Record<string, unknown>>(await db.execute(sql`
    SELECT oracle_trial_id, d_forget, d_retain, d_test, d_mia, tow, gap_score, cost_rel, epochs_rel
      FROM trial_gaps WHERE trial_id = ${id}`))[0] ?? null;
  const metricRows = rowsOf<{ split: string; name: string; value: number }>(await db.execute(sql`
    SELECT split, name, value FROM metrics WHERE trial_id = ${id} ORDER BY split, name`));
  const stageKeys = Object.entries((trial.stage_keys ?? {}) as Record<string, string>);
  const keys = stageKeys.map(([, k]) => k);
  const kindsJson = JSON.stringify(Object.fromEntries(stageKeys.map(([kind, k]) => [k, kind])));
  const keyArray = keys.length === 0 ? sql`ARRAY[]::text[]` : sql`ARRAY[${sql.join(keys.map((k) => sql`${k}`), sql`, `)}]::text[]`;
  const curveRows = keys.length === 0 ? [] : rowsOf<{ stage_kind: string; stage_key: string; epoch: number; name: string; value: number }>(
    await db.execute(sql`
      SELECT (${kindsJson}::jsonb ->> c.stage_key) AS stage_kind, c.stage_key, c.epoch, c.name, c.value
        FROM curves c WHERE c.stage_key = ANY(${keyArray})
       ORDER BY c.stage_key, c.name, c.epoch`));
  const stageRows = rowsOf<Record<string, unknown>>(await db.execute(sql`
    SELECT key, kind, status, attempts, wall_seconds, worker, backend, error, started_at, finished_at
      FROM stages WHERE key = ANY(${keyArray}) ORDER BY started_at NULLS LAST, key`));
  // Artifacts are indexed by the producing stage: key equal to the stage key, or a key under it ("<stage key>/…"),
  // or metadata.stageKey naming it.
  const artifactRows = rowsOf<Record<string, unknown>>(await db.execute(sql`
    SELECT key, kind, uri, sha256, bytes, metadata, created_at FROM artifacts a
     WHERE a.key = ANY(${keyArray})
        OR EXISTS (SELECT 1 FROM unnest(${keyArray}) k WHERE a.key LIKE k || '/%')
        OR a.metadata ->> 'stageKey' = ANY(${keyArray})
     ORDER BY a.created_at, a.key`));
  const fo = rowsOf<{ n: number }>(await db.execute(sql`SELECT n FROM forget_outputs WHERE trial_id = ${id}`))[0] ?? null;
  const setting = rowsOf<{ key: string; summary: string; spec: Record<string, unknown> }>(await db.execute(sql`
    SELECT key, summary, spec FROM settings WHERE key = ${trial.setting_key as string}`))[0] ?? null;
  const method = rowsOf<{ key: string; summary: string; spec: Record<string, unknown> }>(await db.execute(sql`
    SELECT key, summary, spec FROM methods WHERE key = ${trial.method_key as string}`))[0] ?? null;
  return {
    trial, setting, method, gaps,
    metrics: metricRows.map((m) => ({ ...m, value: Number(m.value) })),
    curves: curveRows.map((c) => ({ ...c, epoch: Number(c.epoch), value: Number(c.value) })),
    stages: stageRows, artifacts: artifactRows, forgetOutputs: fo ? { n: Number(fo.n) } : null,
  };
}

/** The full specs of setting keys (for `--setting-spec` and the dashboard). */
export async function settingSpecs(db: ResultsDb, keys: string[]): Promise<{ key: string; summary: string; spec: Record<string, unknown> }[]> {
  if (keys.length === 0) return [];
  return rowsOf<{ key: string; summary: string; spec: Record<string, unknown> }>(await db.execute(sql`
    SELECT key, summary, spec FROM settings WHERE key = ANY(${sql.param(keys)}::text[]) ORDER BY key`));
}

export interface ProtocolScoreRow {
  sweep_id: string;
  setting_key: string;
  method_key: string;
  label: string | null;
  algorithm: string | null;
  dataset: string;
  forget_kind: string;
  seed: number;
  neurips23_score: number | null;
  neurips23_forget_quality: number | null;
  lira_auc: number | null;
  lira_tpr_at_1fpr: number | null;
  lira_tpr_at_5fpr: number | null;
}

/** The evaluation protocol's scores (view protocol_scores), optionally of one sweep, best challenge score first. */
export async function protocolScores(db: ResultsDb, sweepId?: string): Promise<ProtocolScoreRow[]> {
  const rows = await db.execute(sql`
    SELECT sweep_id, setting_key, method_key, label, algorithm, dataset, forget_kind, seed,
           neurips23_score, neurips23_forget_quality, lira_auc, lira_tpr_at_1fpr, lira_tpr_at_5fpr
      FROM protocol_scores
     WHERE ${sweepId ?? null}::text IS NULL OR sweep_id = ${sweepId ?? null}
     ORDER BY sweep_id, setting_key, neurips23_score DESC NULLS LAST, label`);
  const num = (v: unknown) => (v === null || v === undefined ? null : Number(v));
  return rowsOf<Record<string, unknown>>(rows).map((r) => ({
    sweep_id: String(r.sweep_id), setting_key: String(r.setting_key), method_key: String(r.method_key),
    label: (r.label as string | null) ?? null, algorithm: (r.algorithm as string | null) ?? null,
    dataset: String(r.dataset), forget_kind: String(r.forget_kind), seed: Number(r.seed),
    neurips23_score: num(r.neurips23_score), neurips23_forget_quality: num(r.neurips23_forget_quality),
    lira_auc: num(r.lira_auc), lira_tpr_at_1fpr: num(r.lira_tpr_at_1fpr), lira_tpr_at_5fpr: num(r.lira_tpr_at_5fpr),
  }));
}
