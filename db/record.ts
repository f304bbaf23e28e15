// Writing results: idempotent upserts for sweeps, trials, metrics, curves and forget-set outputs.
//
// CONTRACT (also in docs/results.md). Every function takes a drizzle Postgres database (node-postgres or
// PGlite; a transaction works too) as its first argument, validates its input (errors name the function,
// the id and the field), and may be called again with the same key any number of times: the row is
// replaced, never duplicated. Nothing is buffered: when the promise resolves, the rows are committed (or
// part of the caller's transaction).
//
//   recordSweep(db, { id, name, config, status })
//       upsert into `sweeps` (foundation's table) keyed by id.
//   recordTrial(db, { id, sweepId, role, algorithm, label, settingKey, methodKey, dataset, model, recipeKey,
//                     forgetSetKey, forgetKind, forgetFraction, localization, alpha, hparams, seed, stageKeys,
//                     status, error?, wallSeconds, epochs, paramsChangedFraction, provenance?, setting?, method? })
//       upsert into `trials` keyed by id (the whole row is replaced; pass every field each time).
//       - A trial is one evaluated model. role: 'original' (the trained model), 'oracle' (retrained without the
//         forget set) or 'method' (an unlearned model); algorithm is the registry name (null for the original,
//         'retrain' for the oracle) and label the display name: three separate fields, none derived from another.
//       - settingKey/methodKey (sweep/keys.ts) group the leaderboard: trials with equal keys share a row.
//         setting/method ({ spec, summary }) optionally record what the keys stand for (recordSettings does it
//         for a whole plan). Gaps are computed against the latest completed oracle of the SAME sweep with the
//         same settingKey and seed: record the oracle as its own trial in each sweep.
//       - provenance: { code: { package, commit }, stageVersions, backend, device, workerHost } (trialRecord
//         builds it); code_version, backend and worker_host are copied into columns for filtering.
//       - status: 'pending' | 'running' | 'completed' | 'failed'. Only 'completed' trials enter leaderboards.
//       - localization: strategy name or null (not localized); alpha: budget in [0,1] or null.
//       - hparams: plain JSON object of the algorithm's hyperparameters (grouping key of the leaderboard:
//         two trials with equal hparams JSON, key order irrelevant, fall in the same row).
//       - stageKeys: { [stageKind]: stageKey } of the stages that produced this trial (e.g. 'train.original',
//         'forgetset.select', 'localize', 'unlearn' or 'train.oracle', 'evaluate'); the dashboard reads curves
//         and artifacts through them.
//       - wallSeconds: wall time of the unlearning stage (for the oracle: its retraining); epochs likewise;
//         cost relative to the oracle = wallSeconds / oracle wallSeconds. paramsChangedFraction in [0,1].
//   recordSettings(db, settings, methods)
//       upsert the specs and summaries of setting and method keys (a plan's plan.settings / plan.methods).
//   trialRecord(sweepId, plannedTrial, stageKeys, outcome)
//       THE row builder: a planned trial (sweep/plan.ts) + what happened → the recordTrial input.
//   recordMetrics(db, trialId, [{ split, name, value }])
//       upsert into `metrics` keyed by (trialId, split, name); the trial must be recorded first.
//       The leaderboard reads: ('forget','accuracy'), ('retain','accuracy'), ('test','accuracy') as
//       fractions in [0,1], and ('forget','mia_efficacy') in [0,1]. Any other (split, name) is stored and
//       shown in metrics_wide (e.g. 'loss' per split).
//   recordTrials(db, [trial, ...], { keepCompleted? })
//       the same rows as recordTrial for many trials, in multi-row upserts of 1,000 rows; keepCompleted leaves
//       rows already 'completed' as they are. Returns the rows written.
//   recordTrialWithMetrics(db, trial, [{ split, name, value }])
//       recordTrial + recordMetrics in ONE statement (the trial row is written with the headline columns its
//       metrics set): one leaderboard refresh instead of two. The record stage writes trials this way.
//   recordCurve(db, stageKey, [{ epoch, name, value }])
//       upsert into `curves` keyed by (stageKey, epoch, name): per-epoch training curves of a stage.
//   recordForgetOutputs(db, trialId, { ids, trueProb, loss, correct })
//       upsert into `forget_outputs` keyed by trialId: per-example outputs on the forget set, stored IN THE
//       DATABASE as parallel arrays (ids = training-set indices; trueProb = softmax probability of the true
//       label; loss = per-example cross-entropy; correct = argmax == label). All four the same length.
import { getTableColumns, sql, type SQL } from 'drizzle-orm';
import type { PgDatabase } from 'drizzle-orm/pg-core';
import { z } from 'zod';
import { curves, forgetOutputs, metrics, trialRoles, trialStatuses, trials } from './schema-results.js';
import type { TrialSpec } from '../sweep/plan.js';
import { createHash } from 'node:crypto';

/** Any drizzle Postgres database or transaction (node-postgres, PGlite). */
export type ResultsDb = PgDatabase<any, any, any>;

const finite = z.number().refine(Number.isFinite, 'expected a finite number');
const fraction = finite.refine((v) => v >= 0 && v <= 1, 'expected a number in [0, 1]');
const key = z.string().min(1, 'expected a non-empty string');

export const sweepInput = z.object({
  id: key.refine((v) => v !== '*', "'*' is reserved (it names the all-sweeps leaderboard rows)"),
  name: z.string(),
  config: z.unknown(),
  status: key,
});
export type SweepRecord = z.input<typeof sweepInput>;

const described = z.object({ spec: z.record(z.string(), z.unknown()), summary: z.string().min(1) });

export const trialInput = z.object({
  id: key,
  sweepId: key.refine((v) => v !== '*', "'*' is reserved (it names the all-sweeps leaderboard rows)"),
  role: z.enum(trialRoles),
  algorithm: key.nullable(),
  label: key,
  settingKey: key,
  methodKey: key,
  dataset: key,
  model: key,
  recipeKey: key,
  forgetSetKey: key,
  forgetKind: key,
  forgetFraction: fraction,
  localization: key.nullable(),
  alpha: fraction.nullable(),
  hparams: z.record(z.string(), z.unknown()),
  seed: z.number().int(),
  stageKeys: z.record(z.string(), z.string()),
  status: z.enum(trialStatuses),
  error: z.string().nullable().optional(),
  wallSeconds: finite.nonnegative().nullable(),
  epochs: finite.nonnegative().nullable(),
  paramsChangedFraction: fraction.nullable(),
  provenance: z.record(z.string(), z.unknown()).optional(),
  setting: described.optional(),
  method: described.optional(),
}).refine((t) => t.role === 'original' || t.algorithm !== null, { path: ['algorithm'], message: 'an oracle or method trial needs its algorithm name' });
export type TrialRecord = z.input<typeof trialInput>;

export const metricInput = z.object({ split: key, name: key, value: z.number() });
export type MetricRecord = z.input<typeof metricInput>;
export const curvePointInput = z.object({ epoch: z.number().int().nonnegative(), name: key, value: z.number() });
export type CurvePoint = z.input<typeof curvePointInput>;

type NumberList = ArrayLike<number> & Iterable<number>;
export interface ForgetOutputs {
  ids: NumberList;
  trueProb: NumberList;
  loss: NumberList;
  correct: ArrayLike<boolean | number> & Iterable<boolean | number>;
}

const CHUNK = 2000;

function parse<T>(schema: z.ZodType<T>, value: unknown, where: string): T {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const issues = r.error.issues.map((i) => `${i.path.length ? i.path.join('.') : '(input)'}: ${i.message}`);
  throw new Error(`${where}: invalid input: ${issues.join('; ')}`);
}

function explain(e: unknown, where: string, hint: string): Error {
  const code = (e as { code?: string; cause?: { code?: string } })?.code ?? (e as { cause?: { code?: string } })?.cause?.code;
  const msg = e instanceof Error ? e.message : String(e);
  if (code === '23503') return new Error(`${where}: ${hint} (${msg})`, { cause: e });
  if (code === '42P01') return new Error(`${where}: results tables are missing; run the migrations (npm run db:migrate) (${msg})`, { cause: e });
  return new Error(`${where}: ${msg}`, { cause: e });
}

/** Upsert a sweep row (foundation's `sweeps` table: id, name, config, status). */
export async function recordSweep(db: ResultsDb, sweep: SweepRecord): Promise<void> {
  const s = parse(sweepInput, sweep, `recordSweep(${JSON.stringify((sweep as { id?: unknown })?.id)})`);
  try {
    await db.execute(sql`INSERT INTO sweeps (id, name, config, status)
      VALUES (${s.id}, ${s.name}, ${JSON.stringify(s.config ?? {})}::jsonb, ${s.status})
      ON CONFLICT (id) DO UPDATE SET name = excluded.name, config = excluded.config, status = excluded.status,
        updated_at = now()`);
  } catch (e) {
    throw explain(e, `recordSweep(${s.id})`, 'constraint violated');
  }
}

type Described = { spec: unknown; summary: string };

/** Upsert what setting and method keys stand for (their specs and readable summaries); keys never change meaning. */
export async function recordSettings(db: ResultsDb, settingsByKey: Record<string, Described>, methodsByKey: Record<string, Described> = {}): Promise<void> {
  for (const [table, byKey] of [['settings', settingsByKey], ['methods', methodsByKey]] as const) {
    const entries = Object.entries(byKey);
    for (let i = 0; i < entries.length; i += CHUNK) {
      const part = entries.slice(i, i + CHUNK);
      try {
        await db.execute(sql`INSERT INTO ${sql.raw(table)} (key, spec, summary)
          SELECT k, s::jsonb, m FROM unnest(${sql.param(part.map(([k]) => k))}::text[], ${sql.param(part.map(([, v]) => JSON.stringify(v.spec)))}::text[], ${sql.param(part.map(([, v]) => v.summary))}::text[]) AS u(k, s, m)
          ON CONFLICT (key) DO NOTHING`);
      } catch (e) {
        throw explain(e, `recordSettings(${table})`, 'constraint violated');
      }
    }
  }
}

/** Trial row id: one row per (sweep, planned trial). */
export const trialRowId = (sweepId: string, trialId: string): string => createHash('sha256').update(`${sweepId}\n${trialId}`, 'utf8').digest('hex').slice(0, 32);

/** A planned trial as the planner writes it into its record stage (sweep/plan.ts). */
export type PlannedTrial = Omit<TrialSpec, 'stages'>;

export interface TrialOutcome {
  status: TrialRecord['status'];
  error?: string | null;
  /** the measured forget fraction, for forget sets given by count (the configured one wins when there is one) */
  measuredForgetFraction?: number;
  wallSeconds?: number | null;
  epochs?: number | null;
  paramsChangedFraction?: number | null;
  provenance?: Record<string, unknown>;
}

/** THE trial-row builder: every trial row (completed, failed, cancelled) is made here from the planned trial. */
export function trialRecord(sweepId: string, t: PlannedTrial, stageKeys: Record<string, string>, o: TrialOutcome): TrialRecord {
  const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : null);
  return {
    id: trialRowId(sweepId, t.id), sweepId,
    role: t.role, algorithm: t.algorithm, label: t.label, settingKey: t.settingKey, methodKey: t.methodKey,
    dataset: t.dataset, model: t.model, recipeKey: t.recipeKey, forgetSetKey: stageKeys['forgetset.select'],
    forgetKind: t.forgetKind,
    // the configured fraction; a count-based forget set records the measured ratio (0 until it is measured)
    forgetFraction: t.forgetFraction ?? o.measuredForgetFraction ?? 0,
    localization: t.localization, alpha: t.alpha, hparams: t.hparams, seed: t.seed, stageKeys,
    status: o.status, error: o.error ?? null,
    wallSeconds: num(o.wallSeconds), epochs: num(o.epochs), paramsChangedFraction: num(o.paramsChangedFraction),
    provenance: o.provenance ?? {},
  };
}

type TrialInput = z.output<typeof trialInput>;

function parseTrial(trial: TrialRecord, where: string): TrialInput {
  return parse(trialInput, trial, `${where}(${JSON.stringify((trial as { id?: unknown })?.id)})`);
}

/** The trials row of a validated trial (every column but the headline metrics). */
function trialRow(t: TrialInput) {
  const p = t.provenance ?? {};
  const code = (p.code ?? {}) as { package?: unknown; commit?: unknown };
  const str = (v: unknown) => (typeof v === 'string' && v !== '' ? v : null);
  return {
    id: t.id, sweepId: t.sweepId, role: t.role, algorithm: t.algorithm, label: t.label,
    settingKey: t.settingKey, methodKey: t.methodKey, dataset: t.dataset, model: t.model, recipeKey: t.recipeKey,
    forgetSetKey: t.forgetSetKey, forgetKind: t.forgetKind, forgetFraction: t.forgetFraction,
    localization: t.localization, alpha: t.alpha, hparams: t.hparams, seed: t.seed,
    stageKeys: t.stageKeys, status: t.status, error: t.error ?? null,
    wallSeconds: t.wallSeconds, epochs: t.epochs, paramsChangedFraction: t.paramsChangedFraction,
    provenance: p,
    codeVersion: str(code.package) ? `${str(code.package)}${str(code.commit) ? `+${String(code.commit).slice(0, 12)}` : ''}` : null,
    backend: str(p.backend) ? `${str(p.backend)}${str(p.device) ? `/${str(p.device)}` : ''}` : null,
    workerHost: str(p.workerHost),
  };
}

async function recordDescriptions(db: ResultsDb, t: TrialInput): Promise<void> {
  if (t.setting || t.method) {
    await recordSettings(db, t.setting ? { [t.settingKey]: t.setting } : {}, t.method ? { [t.methodKey]: t.method } : {});
  }
}

/** Upsert a trial row keyed by id (replaces every field). */
export async function recordTrial(db: ResultsDb, trial: TrialRecord): Promise<void> {
  const t = parseTrial(trial, 'recordTrial');
  const row = trialRow(t);
  const { id: _id, ...update } = row;
  await recordDescriptions(db, t);
  try {
    await db.insert(trials).values(row).onConflictDoUpdate({
      target: trials.id,
      set: { ...update, updatedAt: sql`now()` },
    });
  } catch (e) {
    throw explain(e, `recordTrial(${t.id})`, 'constraint violated');
  }
}

/** Rows per statement of recordTrials: 27 parameters a row stays under PostgreSQL's 65,535 per statement. */
export const TRIALS_CHUNK = 1000;

/**
 * Upsert many trial rows at once (a cancelled sweep's unfinished trials): the same rows recordTrial writes, in
 * multi-row statements of TRIALS_CHUNK rows (each its own statement, so no transaction grows with the plan).
 * keepCompleted: a row whose trial is already 'completed' is left as it is (a finished result is never
 * overwritten by a later verdict on the sweep). Returns the number of rows written.
 */
export async function recordTrials(db: ResultsDb, list: TrialRecord[], opts: { keepCompleted?: boolean } = {}): Promise<number> {
  const parsed = list.map((trial, i) => parse(trialInput, trial, `recordTrials[${i}](${JSON.stringify((trial as { id?: unknown })?.id)})`));
  const seen = new Set<string>();
  for (const t of parsed) {
    if (seen.has(t.id)) throw new Error(`recordTrials: trial ${t.id} given twice in one call`);
    seen.add(t.id);
  }
  const settingsByKey: Record<string, Described> = {};
  const methodsByKey: Record<string, Described> = {};
  for (const t of parsed) {
    if (t.setting) settingsByKey[t.settingKey] = t.setting;
    if (t.method) methodsByKey[t.methodKey] = t.method;
  }
  if (Object.keys(settingsByKey).length + Object.keys(methodsByKey).length > 0) await recordSettings(db, settingsByKey, methodsByKey);
  // every written column takes the proposed row's value on conflict, as recordTrial's update does
  const cols = getTableColumns(trials);
  const { id: _id, ...sample } = trialRow(parsed[0] ?? ({ provenance: {} } as TrialInput));
  const set: Record<string, SQL> = { updatedAt: sql`now()` };
  for (const k of Object.keys(sample)) set[k] = sql.raw(`excluded.${(cols as Record<string, { name: string }>)[k].name}`);
  let written = 0;
  for (let i = 0; i < parsed.length; i += TRIALS_CHUNK) {
    const rows = parsed.slice(i, i + TRIALS_CHUNK).map(trialRow);
    try {
      const r = await db.insert(trials).values(rows).onConflictDoUpdate({
        target: trials.id,
        set,
        ...(opts.keepCompleted ? { setWhere: sql`${trials.status} <> 'completed'` } : {}),
      }).returning({ id: trials.id });
      written += r.length;
    } catch (e) {
      throw explain(e, `recordTrials(${rows.length} rows from ${rows[0].id})`, 'constraint violated');
    }
  }
  return written;
}

function parseMetrics(where: string, trialId: string, rows: MetricRecord[]): z.output<typeof metricInput>[] {
  parse(key, trialId, where);
  const list = parse(z.array(metricInput), rows, where);
  const seen = new Set<string>();
  for (const m of list) {
    const k = `${m.split}\u0000${m.name}`;
    if (seen.has(k)) throw new Error(`${where}: metric (${m.split}, ${m.name}) given twice in one call`);
    seen.add(k);
  }
  return list;
}

/** The metrics copied into trials' headline columns (by the metrics triggers; db/migrations/0002, 0007). */
const HEADLINE = [
  ['forget', 'accuracy', 'forgetAcc'], ['retain', 'accuracy', 'retainAcc'], ['test', 'accuracy', 'testAcc'], ['forget', 'mia_efficacy', 'miaEfficacy'],
] as const;

/**
 * A trial and its metrics in ONE statement: the trial row is upserted with the headline columns its metrics set,
 * then the metrics are upserted; the leaderboard is refreshed once (the metrics triggers find the headline columns
 * already equal). Same contract as recordTrial followed by recordMetrics; what the record stage uses.
 */
export async function recordTrialWithMetrics(db: ResultsDb, trial: TrialRecord, rows: MetricRecord[]): Promise<void> {
  const t = parseTrial(trial, 'recordTrialWithMetrics');
  const where = `recordTrialWithMetrics(${JSON.stringify(t.id)})`;
  const list = parseMetrics(where, t.id, rows);
  const row = trialRow(t);
  const { id: _id, ...update } = row;
  const headline: Partial<Record<(typeof HEADLINE)[number][2], number>> = {};
  const headlineSet: Partial<Record<(typeof HEADLINE)[number][2], SQL>> = {};
  for (const [split, name, col] of HEADLINE) {
    const m = list.find((r) => r.split === split && r.name === name);
    if (m) {
      headline[col] = m.value;
      headlineSet[col] = sql.raw(`excluded.${({ forgetAcc: 'forget_acc', retainAcc: 'retain_acc', testAcc: 'test_acc', miaEfficacy: 'mia_efficacy' } as const)[col]}`);
    }
  }
  await recordDescriptions(db, t);
  const upsertTrial = db.insert(trials).values({ ...row, ...headline }).onConflictDoUpdate({
    target: trials.id,
    set: { ...update, ...headlineSet, updatedAt: sql`now()` },
  }).returning({ id: trials.id });
  try {
    if (list.length === 0) {
      await upsertTrial;
      return;
    }
    await db.execute(sql`WITH t AS (${upsertTrial.getSQL()})
      INSERT INTO metrics (trial_id, split, name, value)
      SELECT t.id, u.split, u.name, u.value
        FROM t, unnest(${sql.param(list.map((m) => m.split))}::text[], ${sql.param(list.map((m) => m.name))}::text[],
                       ${sql.param(list.map((m) => m.value))}::double precision[]) AS u(split, name, value)
      ON CONFLICT (trial_id, split, name) DO UPDATE SET value = excluded.value, recorded_at = now()`);
  } catch (e) {
    throw explain(e, where, 'constraint violated');
  }
}

/** Upsert long-form metrics of a trial keyed by (trialId, split, name). */
export async function recordMetrics(db: ResultsDb, trialId: string, rows: MetricRecord[]): Promise<void> {
  const where = `recordMetrics(${JSON.stringify(trialId)})`;
  const list = parseMetrics(where, trialId, rows);
  if (list.length === 0) return;
  const write = async (d: ResultsDb) => {
    for (let i = 0; i < list.length; i += CHUNK) {
      await d.insert(metrics)
        .values(list.slice(i, i + CHUNK).map((m) => ({ trialId, split: m.split, name: m.name, value: m.value })))
        .onConflictDoUpdate({
          target: [metrics.trialId, metrics.split, metrics.name],
          set: { value: sql`excluded.value`, recordedAt: sql`now()` },
        });
    }
  };
  try {
    if (list.length > CHUNK) await db.transaction(async (tx) => write(tx as unknown as ResultsDb));
    else await write(db);
  } catch (e) {
    throw explain(e, where, `trial ${trialId} is not recorded; call recordTrial first`);
  }
}

/** Upsert per-epoch curve points of a stage keyed by (stageKey, epoch, name). */
export async function recordCurve(db: ResultsDb, stageKey: string, points: CurvePoint[]): Promise<void> {
  const where = `recordCurve(${JSON.stringify(stageKey)})`;
  parse(key, stageKey, where);
  const list = parse(z.array(curvePointInput), points, where);
  const seen = new Set<string>();
  for (const p of list) {
    const k = `${p.epoch}\u0000${p.name}`;
    if (seen.has(k)) throw new Error(`${where}: point (epoch ${p.epoch}, ${p.name}) given twice in one call`);
    seen.add(k);
  }
  if (list.length === 0) return;
  const write = async (d: ResultsDb) => {
    for (let i = 0; i < list.length; i += CHUNK) {
      await d.insert(curves)
        .values(list.slice(i, i + CHUNK).map((p) => ({ stageKey, epoch: p.epoch, name: p.name, value: p.value })))
        .onConflictDoUpdate({ target: [curves.stageKey, curves.epoch, curves.name], set: { value: sql`excluded.value` } });
    }
  };
  try {
    if (list.length > CHUNK) await db.transaction(async (tx) => write(tx as unknown as ResultsDb));
    else await write(db);
  } catch (e) {
    throw explain(e, where, 'constraint violated');
  }
}

/** Upsert the per-example forget-set outputs of a trial (one row, parallel arrays). */
export async function recordForgetOutputs(db: ResultsDb, trialId: string, out: ForgetOutputs): Promise<void> {
  const where = `recordForgetOutputs(${JSON.stringify(trialId)})`;
  parse(key, trialId, where);
  if (!out || typeof out !== 'object') throw new Error(`${where}: expected { ids, trueProb, loss, correct }`);
  const n = out.ids?.length;
  for (const f of ['ids', 'trueProb', 'loss', 'correct'] as const) {
    if (out[f] == null || typeof out[f].length !== 'number') throw new Error(`${where}: ${f}: expected an array`);
    if (out[f].length !== n) throw new Error(`${where}: ${f} has ${out[f].length} entries, ids has ${n}`);
  }
  const ids = Array.from(out.ids);
  ids.forEach((v, i) => {
    if (!Number.isInteger(v) || v < 0 || v > 2147483647) throw new Error(`${where}: ids[${i}]: expected a non-negative int32, got ${v}`);
  });
  const row = {
    trialId, n, ids,
    trueProb: Array.from(out.trueProb, Number),
    loss: Array.from(out.loss, Number),
    correct: Array.from(out.correct, (c) => Boolean(c)),
  };
  try {
    await db.insert(forgetOutputs).values(row).onConflictDoUpdate({
      target: forgetOutputs.trialId,
      set: { n: row.n, ids: row.ids, trueProb: row.trueProb, loss: row.loss, correct: row.correct, recordedAt: sql`now()` },
    });
  } catch (e) {
    throw explain(e, where, `trial ${trialId} is not recorded; call recordTrial first`);
  }
}
