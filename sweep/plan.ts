// Expansion of a sweep into a stage graph with content keys. Pure and deterministic: the workflow, the CLI
// and the tests all compute the same graph from the same config.
//   key = sha256(canonical JSON of {kind, params, inputs (role → key), version})
// One original per (dataset, model, recipe, seed); one forget set per (dataset, kind+params, seed); one oracle
// per (forget set, model, recipe, seed); one mask per (original, forget set, strategy, alpha); then per trial
// unlearn → evaluate → record. Originals and oracles are also evaluated and recorded per forget set, as the
// reference rows `original` and `retrain` of every leaderboard.
import type { SweepConfig } from './schema.js';
import { expandGrid, type Scalar } from './grid.js';
import { canonicalJson, sha256Hex } from './hash.js';
import type { DatasetRef, ModelRef, Queue, StageInputs, StageKind, StageParams, StageSpec, TrialDescriptor } from './stages.js';

export { expandGrid } from './grid.js';
export type { Queue, StageKind, StageSpec } from './stages.js';

/** Code version of each stage kind: bump it when a stage's output would change, and its keys change. */
export const STAGE_VERSIONS: Record<StageKind, number> = {
  'forgetset.select': 1,
  'train.original': 2, // 2: the checkpoint carries the per-example training history (memorization forget sets)
  'train.oracle': 1,
  localize: 2, // 2: channel aggregation follows the architecture by default (row mean for ViT) and is settable
  unlearn: 1,
  evaluate: 1,
  record: 2, // 2: the configured forget fraction is recorded
};

export const STAGE_QUEUES: Record<StageKind, Queue> = {
  'forgetset.select': 'io',
  'train.original': 'gpu',
  'train.oracle': 'gpu',
  localize: 'gpu',
  unlearn: 'gpu',
  evaluate: 'gpu',
  record: 'io',
};

/** Stages that train (for "a rerun starts no training stage"). */
export const TRAINING_KINDS: readonly StageKind[] = ['train.original', 'train.oracle', 'localize', 'unlearn'];

export interface TrialSpec extends TrialDescriptor {
  /** stage keys by role: original, forgetSet, oracle, mask, model (the evaluated checkpoint), evaluate, record */
  stages: Record<string, string>;
}

export interface SweepPlan {
  sweepId: string;
  /** topologically ordered: every stage comes after its inputs */
  stages: StageSpec[];
  trials: TrialSpec[];
}

export function stageKey(kind: StageKind, params: StageParams | Record<string, unknown>, inputs: StageInputs | Record<string, string>, version = STAGE_VERSIONS[kind]): string {
  return sha256Hex(canonicalJson({ kind, params, inputs, version }));
}

/** 'top', 'bottom' or 'band<lo>-<hi>' for a memorization forget set, else undefined. */
function memorizationMode(f: SweepConfig['grid']['forgetSets'][number]): string | undefined {
  const prm = (f.params ?? {}) as Record<string, unknown>;
  if (typeof prm.mode !== 'string') return undefined;
  return Array.isArray(prm.band) ? `${prm.mode}${prm.band.join('-')}` : prm.mode;
}

function forgetLabel(f: SweepConfig['grid']['forgetSets'][number]): string {
  const parts: string[] = [f.kind];
  if (f.classes) parts.push(`c${f.classes.join('-')}`);
  // memorization: which end of the ranking (the label names the forget set in trials and result tables)
  const mode = memorizationMode(f);
  if (mode) parts.push(mode);
  if (f.fraction !== undefined) parts.push(`${f.fraction}`);
  if (f.count !== undefined) parts.push(`n${f.count}`);
  return parts.join(':');
}

export function expandSweep(cfg: SweepConfig, sweepId: string): SweepPlan {
  const stages: StageSpec[] = [];
  const byKey = new Map<string, StageSpec>();
  const trials: TrialSpec[] = [];
  const trialIds = new Set<string>();
  const compute = cfg.compute;

  const add = <K extends StageKind>(kind: K, params: Omit<StageParams<K>, 'compute' | 'cacheNamespace'>, inputs: StageInputs<K>, label: string): string => {
    const full = { ...params, compute } as StageParams<K>;
    if (cfg.cacheNamespace) full.cacheNamespace = cfg.cacheNamespace;
    const key = stageKey(kind, full, inputs);
    if (!byKey.has(key)) {
      const s = { key, kind, queue: STAGE_QUEUES[kind], version: STAGE_VERSIONS[kind], params: full, inputs, label } as StageSpec;
      byKey.set(key, s);
      stages.push(s);
    }
    return key;
  };

  const evaluation = cfg.evaluation;
  const addTrial = (t: Omit<TrialSpec, 'id' | 'stages'>, model: string, base: Record<string, string>, datasetParams: DatasetRef, modelParams: ModelRef) => {
    const descriptor = { ...t, model: t.model };
    const id = sha256Hex(canonicalJson({ descriptor, model }));
    if (trialIds.has(id)) return;
    trialIds.add(id);
    const evaluate = add('evaluate', { dataset: datasetParams, model: modelParams, evaluation }, { model, forgetSet: base.forgetSet }, `evaluate ${t.algorithm} ${t.forgetSet} s${t.seed}`);
    const refs: StageInputs<'record'> = { evaluate };
    if (base.oracleEvaluate && t.algorithm !== 'retrain') refs.oracleEvaluate = base.oracleEvaluate;
    const stageKeys: Record<string, string> = { 'train.original': base.original, 'forgetset.select': base.forgetSet, evaluate };
    if (base.mask) stageKeys.localize = base.mask;
    if (base.unlearn) stageKeys.unlearn = base.unlearn;
    if (base.oracle) stageKeys['train.oracle'] = base.oracle;
    const record = add('record', { sweepId, trial: { ...descriptor, id }, model, stageKeys }, refs, `record ${t.algorithm} ${t.forgetSet} s${t.seed}`);
    trials.push({ ...t, id, stages: { ...base, model, evaluate, record } });
    return evaluate;
  };

  for (const seed of cfg.seeds) {
    for (const ds of cfg.grid.datasets) {
      const dataset: DatasetRef = { id: ds.id, subset: ds.subset ?? null, params: ds.params ?? {} };
      for (const fsCfg of cfg.grid.forgetSets) {
        const fsLabel = forgetLabel(fsCfg);
        // a memorization forget set ranks examples by the original model's training history, so it is selected
        // once per original (model, recipe, seed); the others depend on the data only and are shared
        const byModel = fsCfg.kind === 'memorization';
        // results group by forget kind: the two ends (or bands) of the memorization ranking are different settings
        const mode = memorizationMode(fsCfg);
        const forgetKind = byModel && mode ? `memorization-${mode}` : fsCfg.kind;
        const selectForget = (original?: string, what = ''): string =>
          add(
            'forgetset.select',
            { dataset, kind: fsCfg.kind, fraction: fsCfg.fraction ?? null, count: fsCfg.count ?? null, classes: fsCfg.classes ?? null, params: fsCfg.params ?? {}, seed },
            original ? { original } : {},
            `forget ${ds.id} ${fsLabel}${what} s${seed}`,
          );
        const shared = byModel ? undefined : selectForget();
        for (const m of cfg.grid.models) {
          const model: ModelRef = { id: m.id, params: m.params ?? {} };
          for (const recipe of cfg.grid.recipes) {
            const original = add('train.original', { dataset, model, recipe, seed }, {}, `original ${ds.id} ${m.id} ${recipe.name} s${seed}`);
            const forgetSet = shared ?? selectForget(original, ` ${m.id} ${recipe.name}`);
            const recipeKey = sha256Hex(canonicalJson({ dataset, model, recipe, compute, ns: cfg.cacheNamespace ?? null })).slice(0, 16);
            const common = { dataset: ds.id, model: m.id, recipe: recipe.name, recipeKey, forgetSet: fsLabel, forgetKind, forgetFraction: fsCfg.fraction ?? null, seed };
            addTrial({ ...common, algorithm: 'original', localization: null, alpha: null, hparams: {} }, original, { original, forgetSet }, dataset, model);
            let oracleEvaluate: string | undefined;
            let oracle: string | undefined;
            if (cfg.oracle) {
              oracle = add('train.oracle', { dataset, model, recipe, seed }, { forgetSet }, `oracle ${ds.id} ${m.id} ${recipe.name} ${fsLabel} s${seed}`);
              oracleEvaluate = addTrial({ ...common, algorithm: 'retrain', localization: null, alpha: null, hparams: {} }, oracle, { original, forgetSet, oracle }, dataset, model);
            }
            for (const alg of cfg.grid.algorithms) {
              const alphas = alg.localization ? (Array.isArray(alg.localization.alpha) ? alg.localization.alpha : [alg.localization.alpha]) : [null];
              for (const alpha of alphas) {
                let mask: string | undefined;
                if (alg.localization && alpha !== null) {
                  const lparams: Omit<StageParams<'localize'>, 'compute'> = { dataset, model, strategy: alg.localization.strategy, alpha, seed };
                  if (alg.localization.channelAggregate) lparams.channelAggregate = alg.localization.channelAggregate;
                  mask = add('localize', lparams, { original, forgetSet }, `mask ${alg.localization.strategy} α=${alpha} ${fsLabel} s${seed}`);
                }
                for (const hp of expandGrid(alg.hparams as Record<string, Scalar | Scalar[]>)) {
                  const inputs: StageInputs<'unlearn'> = { original, forgetSet };
                  if (mask) inputs.mask = mask;
                  const uparams: Omit<StageParams<'unlearn'>, 'compute'> = { dataset, model, recipe, algorithm: alg.name, hparams: hp, seed };
                  if (mask && alg.localization) Object.assign(uparams, { maskStrategy: alg.localization.strategy, maskAlpha: alpha });
                  const unlearned = add('unlearn', uparams, inputs, `unlearn ${alg.label ?? alg.name} ${fsLabel} s${seed}`);
                  const base: Record<string, string> = { original, forgetSet, unlearn: unlearned };
                  if (mask) base.mask = mask;
                  if (oracle) base.oracle = oracle;
                  if (oracleEvaluate) base.oracleEvaluate = oracleEvaluate;
                  addTrial(
                    { ...common, algorithm: alg.label ?? alg.name, localization: alg.localization?.strategy ?? null, alpha, hparams: hp },
                    unlearned,
                    base,
                    dataset,
                    model,
                  );
                }
              }
            }
          }
        }
      }
    }
  }
  return { sweepId, stages, trials };
}

/** Counts of stages by kind, for summaries. */
export function countByKind(stages: readonly StageSpec[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of stages) out[s.kind] = (out[s.kind] ?? 0) + 1;
  return out;
}
