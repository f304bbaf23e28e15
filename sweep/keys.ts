// Comparable-setting and method keys (docs/results.md, "What makes two runs comparable").
//   setting key = sha256(canonical JSON of everything that decides the numbers but the seed and the method):
//     dataset id + subset + params, model id + params, training recipe (without its name), forget-set spec
//     (kind, fraction or count, classes sorted, params), evaluation settings that change a number, the compute
//     ('ml' or 'noop') and the code versions of the stages that made the numbers.
//   method key  = sha256(canonical JSON of role, algorithm name, localization (strategy, α), hparams).
// Two trials are comparable (one leaderboard row, one oracle) exactly when their setting keys are equal.
// Labels and recipe names are for display only and never enter a key. Pure.
import type { SweepConfig } from './schema.js';
import { canonicalJson, sha256Hex } from './hash.js';

export type TrialRole = 'original' | 'oracle' | 'method';
export const TRIAL_ROLES: readonly TrialRole[] = ['original', 'oracle', 'method'];
/** Labels the reference rows use; sweep entries may not take them. */
export const RESERVED_LABELS: readonly string[] = ['original', 'oracle', 'retrain'];

type Grid = SweepConfig['grid'];
type Dataset = Grid['datasets'][number];
type Model = Grid['models'][number];
type Recipe = Grid['recipes'][number];
type ForgetSet = Grid['forgetSets'][number];

export interface SettingSpec {
  dataset: { id: string; subset: { perClass: number | null; testPerClass: number | null; seed: number } | null; params: Record<string, unknown> };
  model: { id: string; params: Record<string, unknown> };
  recipe: Omit<Recipe, 'name'>;
  forgetSet: { kind: string; fraction: number | null; count: number | null; classes: number[] | null; params: Record<string, unknown> };
  evaluation: { mia: boolean; batchSize: number };
  compute: string;
  stageVersions: Record<string, number>;
}

export interface MethodSpec {
  role: TrialRole;
  algorithm: string | null;
  /** channelAggregate only when the sweep sets it */
  localization: { strategy: string; alpha: number; channelAggregate?: 'topk' | 'mean' } | null;
  hparams: Record<string, unknown>;
}

export function settingSpec(cfg: SweepConfig, ds: Dataset, m: Model, r: Recipe, f: ForgetSet, stageVersions: Record<string, number>): SettingSpec {
  const { name: _name, ...recipe } = r;
  return {
    dataset: {
      id: ds.id,
      subset: ds.subset ? { perClass: ds.subset.perClass ?? null, testPerClass: ds.subset.testPerClass ?? null, seed: ds.subset.seed ?? 0 } : null,
      params: ds.params ?? {},
    },
    model: { id: m.id, params: m.params ?? {} },
    recipe,
    forgetSet: {
      kind: f.kind,
      fraction: f.fraction ?? null,
      count: f.count ?? null,
      classes: f.classes ? [...f.classes].sort((a, b) => a - b) : null,
      params: f.params ?? {},
    },
    // perExample only decides whether per-example outputs are stored; it changes no number
    evaluation: { mia: cfg.evaluation.mia, batchSize: cfg.evaluation.batchSize },
    compute: cfg.compute,
    stageVersions,
  };
}

/** 32 hex digits (128 bits) of the spec's SHA-256: short enough for every row, collisions out of reach. */
export const specKey = (spec: unknown, sha256: (text: string) => string = sha256Hex): string => sha256(canonicalJson(spec)).slice(0, 32);

const compact = (v: unknown): string => (typeof v === 'object' && v !== null ? canonicalJson(v).replace(/"/g, '') : String(v));
const kv = (o: Record<string, unknown>): string => Object.keys(o).sort().map((k) => `${k}=${compact(o[k])}`).join(' ');

/** One line a person can read: what data, model, recipe, forget set and evaluation a setting is. */
export function settingSummary(s: SettingSpec, recipeName?: string): string {
  const sub = s.dataset.subset;
  const data = [
    s.dataset.id,
    sub ? `${sub.perClass ?? 'all'}/class train, ${sub.testPerClass ?? 'all'}/class test${sub.seed ? `, subset seed ${sub.seed}` : ''}` : 'full',
    Object.keys(s.dataset.params).length ? kv(s.dataset.params) : '',
  ].filter(Boolean).join(' ');
  const model = `${s.model.id}${Object.keys(s.model.params).length ? ` ${kv(s.model.params)}` : ''}`;
  const r = s.recipe;
  const recipe = `${recipeName ? `${recipeName}: ` : ''}${r.epochs} ep, batch ${r.batchSize}, lr ${r.lr} ${r.schedule}, ${r.optimizer} m=${r.momentum}${r.weightDecay ? ` wd=${r.weightDecay}` : ''}`;
  const f = s.forgetSet;
  const forget = [
    f.kind,
    f.classes ? `classes ${f.classes.join(',')}` : '',
    Object.keys(f.params).length ? kv(f.params) : '',
    f.fraction !== null ? `${+(f.fraction * 100).toPrecision(6)}%` : `${f.count} examples`,
  ].filter(Boolean).join(' ');
  const extra = [s.evaluation.mia ? '' : 'no MIA', s.compute === 'ml' ? '' : `compute ${s.compute}`].filter(Boolean).join(', ');
  return `${data} | ${model} | ${recipe} | forget ${forget}${extra ? ` | ${extra}` : ''}`;
}

export function methodSummary(m: MethodSpec): string {
  if (m.role !== 'method') return m.role === 'oracle' ? 'retrain on the retain set (oracle)' : 'original model';
  return [m.algorithm, m.localization ? `${m.localization.strategy} α=${m.localization.alpha}${m.localization.channelAggregate ? ` ${m.localization.channelAggregate}` : ''}` : '', kv(m.hparams)].filter(Boolean).join(' ');
}
