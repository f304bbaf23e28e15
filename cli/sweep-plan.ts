// What a sweep file will do before it does it: trials by role and stages by kind (counted arithmetically, never by
// expanding a large grid), how many stages already have an artifact in the configured database, and an estimate of
// the compute from recorded stage timings. Used by `unlearn sweep plan`, `unlearn sweep start` and the demo.
// Cached counts come from the stored plan of the same config when there is one (one query, no expansion);
// otherwise `plan` expands grids up to 200,000 stages to look their keys up, and `start` never expands (the
// planning activity does that once, on a worker).
import Table from 'cli-table3';
import { SweepFileError, type SweepConfig } from '../sweep/schema.js';
import { datasetRefOf, expandSweep, modelRefOf, planCounts, type PlanCounts } from '../sweep/plan.js';
import { nodeSha256Hex, planIdOf } from '../activities/plan-id.js';
import { planCachedByKind } from '../db/plan-store.js';
import { STAGE_KINDS, type StageKind } from '../sweep/stages.js';
import { openDb } from '../db/client.js';
import { artifactRows, stageTimingsBySetting } from '../db/stage-rows.js';
import { canonicalJson } from '../sweep/hash.js';

/** Above this many trials to run, starting a sweep needs --yes. */
export const CONFIRM_TRIALS = 5000;
/** Plans up to this many stages are expanded to look up cached stages (when no stored plan answers); larger ones are counted only. */
export const CACHE_CHECK_MAX_STAGES = 200_000;

export interface PlanReport {
  counts: PlanCounts;
  settings: number;
  methods: number;
  /** stages with a recorded artifact, by kind; absent when no database is configured or the plan is too large */
  cached?: Record<string, number>;
  /** trials whose record stage already ran (their rows need no compute) */
  cachedTrials?: number;
  /** why cached counts are missing */
  cacheNote?: string;
  /** median recorded seconds per stage kind (same compute, data set and model) and the stage time of what is left to run */
  estimate?: { seconds: number; perKind: Record<string, number>; missing: string[] };
}

/** Trials that would run (not already recorded by a cached record stage). */
export const newTrials = (r: PlanReport): number => r.counts.trials - (r.cachedTrials ?? 0);

/** Counts, and when a database is configured (DATABASE_URL), cached stages and a compute estimate. */
export async function planReport(
  cfg: SweepConfig,
  sweepId: string,
  databaseUrl: string | undefined = process.env.DATABASE_URL,
  opts: { expandMaxStages?: number } = {},
): Promise<PlanReport> {
  const counts = planCounts(cfg);
  const settings = counts.roles.original / cfg.seeds.length;
  const report: PlanReport = {
    counts,
    settings,
    // the original, the oracle when planned, and every method of the grid (the same in every setting)
    methods: 1 + (cfg.oracle ? 1 : 0) + (settings > 0 ? counts.roles.method / counts.roles.original : 0),
  };
  if (!databaseUrl) {
    report.cacheNote = 'no database configured (DATABASE_URL): cached counts and the estimate need one';
    return report;
  }
  const h = openDb(databaseUrl);
  try {
    const expandMax = opts.expandMaxStages ?? CACHE_CHECK_MAX_STAGES;
    const stored = await planCachedByKind(h.pool, planIdOf(sweepId, cfg));
    if (stored) {
      report.cached = stored;
      report.cachedTrials = stored.record ?? 0;
    } else if (counts.stages <= expandMax) {
      const plan = expandSweep(cfg, sweepId, { sha256: nodeSha256Hex });
      const rows = await artifactRows(h.pool, plan.stages.map((s) => s.key));
      const cached: Record<string, number> = {};
      for (const s of plan.stages) if (rows.has(s.key)) cached[s.kind] = (cached[s.kind] ?? 0) + 1;
      report.cached = cached;
      report.cachedTrials = cached.record ?? 0;
    } else {
      report.cacheNote = expandMax === 0
        ? 'no stored plan of this config yet: counted as all new (`unlearn sweep plan` looks the stages up)'
        : `${counts.stages.toLocaleString('en-US')} stages: too many to look up one by one; counted as all new`;
    }
    report.estimate = estimateFromTimings(cfg, counts, report.cached, await stageTimingsBySetting(h.pool, cfg.compute));
  } catch (e) {
    report.cacheNote = `database not reachable (${(e as Error).message.split('\n')[0]}): cached counts and the estimate are missing`;
  } finally {
    await h.close().catch(() => undefined);
  }
  return report;
}

/**
 * Stage time of what is left to run: per (data set, model) of the grid and stage kind, the stages to run times
 * the median recorded time of that kind on that data set and model (stage params `dataset`, `model`). Cached
 * stages are known by kind only, so each (data set, model) gets its share of them. A kind with no recorded stage of
 * the same data set and model is listed as missing: another setting's time says nothing about this one (MNIST
 * stages of 1 s are not CIFAR-10 stages of 5 min). perKind: the plan-weighted median per kind, for the table.
 */
export function estimateFromTimings(
  cfg: SweepConfig,
  counts: PlanCounts,
  cached: Record<string, number> | undefined,
  timings: { kind: string; dataset: unknown; model: unknown; median: number }[],
): NonNullable<PlanReport['estimate']> {
  const medians = new Map(timings.map((t) => [`${t.kind}|${canonicalJson(t.dataset)}|${canonicalJson(t.model)}`, t.median]));
  const perKindSum: Record<string, [number, number]> = {};
  const missing = new Set<string>();
  let seconds = 0;
  for (const ds of cfg.grid.datasets) {
    const dataset = datasetRefOf(ds);
    for (const m of cfg.grid.models) {
      const model = modelRefOf(m);
      const part = planCounts({ ...cfg, grid: { ...cfg.grid, datasets: [ds], models: [m] } });
      for (const kind of STAGE_KINDS) {
        const planned = part.byKind[kind] ?? 0;
        if (planned === 0) continue;
        const toRun = planned * (1 - (cached?.[kind] ?? 0) / counts.byKind[kind]);
        if (toRun <= 0) continue;
        // the params a kind carries: record none, forgetset.select the data set only, the rest both
        const key = kind === 'record' ? `${kind}|null|null` : kind === 'forgetset.select' ? `${kind}|${canonicalJson(dataset)}|null` : `${kind}|${canonicalJson(dataset)}|${canonicalJson(model)}`;
        const median = medians.get(key);
        if (median === undefined) {
          missing.add(kind);
          continue;
        }
        seconds += toRun * median;
        const acc = (perKindSum[kind] ??= [0, 0]);
        acc[0] += toRun * median;
        acc[1] += toRun;
      }
    }
  }
  const perKind = Object.fromEntries(Object.entries(perKindSum).map(([k, [s, c]]) => [k, s / c]));
  return { seconds, perKind, missing: STAGE_KINDS.filter((k) => missing.has(k)) };
}

const n = (v: number) => v.toLocaleString('en-US');
const dur = (s: number) => (s < 90 ? `${s.toFixed(0)} s` : s < 5400 ? `${(s / 60).toFixed(1)} min` : `${(s / 3600).toFixed(1)} h`);

/** The plan as text: trials by role, stages by kind (planned, cached, to run), the estimate. */
export function formatPlan(cfg: SweepConfig, sweepId: string, r: PlanReport): string {
  const c = r.counts;
  const lines = [
    `sweep ${sweepId}: ${n(c.trials)} trials (${n(c.roles.original)} original, ${n(c.roles.oracle)} oracle, ${n(c.roles.method)} method) ` +
      `: ${n(r.settings)} comparable setting${r.settings === 1 ? '' : 's'} × ${n(r.methods)} methods (references included) × ${cfg.seeds.length} seed${cfg.seeds.length > 1 ? 's' : ''}`,
  ];
  const t = new Table({ head: ['stage kind', 'planned', 'cached', 'to run', 'median s (recorded)'], style: { head: [], border: [] } });
  for (const kind of STAGE_KINDS as readonly StageKind[]) {
    const planned = c.byKind[kind];
    if (!planned) continue;
    const cached = r.cached ? (r.cached[kind] ?? 0) : undefined;
    const med = r.estimate?.perKind[kind];
    t.push([kind, n(planned), cached === undefined ? '?' : n(cached), cached === undefined ? '?' : n(planned - cached), med === undefined ? '–' : med.toFixed(2)]);
  }
  t.push(['all', n(c.stages), r.cached ? n(Object.values(r.cached).reduce((a, b) => a + b, 0)) : '?', r.cached ? n(c.stages - Object.values(r.cached).reduce((a, b) => a + b, 0)) : '?', '']);
  lines.push(t.toString());
  if (r.cacheNote) lines.push(r.cacheNote);
  else lines.push(`new trials: ${n(newTrials(r))} (${n(r.cachedTrials ?? 0)} already recorded from cache)`);
  if (r.estimate && r.estimate.missing.length > 0 && Object.keys(r.estimate.perKind).length === 0) {
    // nothing of this compute was ever timed here: a number would be a guess
    lines.push(`estimate: unknown (no recorded timing yet on this data set and model, compute "${cfg.compute}", for ${r.estimate.missing.join(', ')})`);
  } else if (r.estimate) {
    lines.push(`estimate: ${r.estimate.missing.length ? 'at least ' : ''}${dur(r.estimate.seconds)} of stage time (what is left to run × the median recorded time of its kind on this data set and model, compute "${cfg.compute}"; divide by the workers)` +
      (r.estimate.missing.length ? `; no recorded timing yet on this data set and model for ${r.estimate.missing.join(', ')}` : ''));
  }
  return lines.join('\n');
}

/** Why a start needs --yes, or undefined. */
export function needsConfirmation(r: PlanReport, yes: boolean | undefined): string | undefined {
  const fresh = newTrials(r);
  if (yes || fresh <= CONFIRM_TRIALS) return undefined;
  return `${n(fresh)} new trials (more than ${n(CONFIRM_TRIALS)}): check the plan above and start again with --yes`;
}

/** Exit code for a sweep file that does not validate: 2, as for every usage error. */
export function exitCodeOf(e: unknown): number {
  return e instanceof SweepFileError ? 2 : 1;
}
