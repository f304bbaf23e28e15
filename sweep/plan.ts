// Expansion of a sweep into a stage graph with content keys. Pure and deterministic: the workflow, the CLI
// and the tests all compute the same graph from the same config.
//   key = sha256(canonical JSON of {kind, params, inputs (role → key), version})
// One original per (dataset, model, recipe, seed); one forget set per (dataset, kind+params, seed); one oracle
// per (forget set, model, recipe, seed); one mask per (original, forget set, strategy, alpha); then per trial
// unlearn → evaluate → record. Originals and oracles are also evaluated and recorded per forget set, as the
// reference rows of every leaderboard. Every trial carries its role (original, oracle, method), its algorithm
// name and label as separate fields, and its setting and method keys (sweep/keys.ts): nothing downstream
// derives a role or a key from a label.
import type { SweepConfig } from './schema.js';
import { expandGrid, type Scalar } from './grid.js';
import { canonicalJson, sha256Hex } from './hash.js';
import type { DatasetRef, ModelRef, Queue, StageInputs, StageKind, StageParams, StageSpec, TrialDescriptor } from './stages.js';
import { methodSummary, settingSpec, settingSummary, specKey, type MethodSpec, type SettingSpec, type TrialRole } from './keys.js';

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
  'protocol.score': 1,
  record: 2, // 2: the configured forget fraction is recorded
};

export const STAGE_QUEUES: Record<StageKind, Queue> = {
  'forgetset.select': 'io',
  'train.original': 'gpu',
  'train.oracle': 'gpu',
  localize: 'gpu',
  unlearn: 'gpu',
  evaluate: 'gpu',
  'protocol.score': 'gpu',
  record: 'io',
};

/** The stage versions a setting key covers: every stage that makes a number (recording changes none). */
const SETTING_STAGE_VERSIONS: Record<string, number> = Object.fromEntries(
  // protocol.score makes numbers only for protocol sweeps and stays out, so adding it changed no existing key
  (Object.entries(STAGE_VERSIONS) as [StageKind, number][]).filter(([kind]) => kind !== 'record' && kind !== 'protocol.score'),
);

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
  /** the settings and methods the trials refer to, by key, with a readable summary */
  settings: Record<string, { spec: SettingSpec; summary: string }>;
  methods: Record<string, { spec: MethodSpec; summary: string }>;
}

export function stageKey(kind: StageKind, params: StageParams | Record<string, unknown>, inputs: StageInputs | Record<string, string>, version = STAGE_VERSIONS[kind], sha256: (text: string) => string = sha256Hex): string {
  return sha256(canonicalJson({ kind, params, inputs, version }));
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

export interface ExpandOptions {
  /**
   * SHA-256 of a UTF-8 string as 64 hex digits. Default: the pure one (sweep/hash.ts, usable anywhere); Node
   * processes pass node:crypto's (activities/plan-id.ts nodeSha256Hex), the same digests several times faster.
   */
  sha256?: (text: string) => string;
}

export function expandSweep(cfg: SweepConfig, sweepId: string, opts: ExpandOptions = {}): SweepPlan {
  const sha256 = opts.sha256 ?? sha256Hex;
  const stages: StageSpec[] = [];
  const byKey = new Map<string, StageSpec>();
  const trials: TrialSpec[] = [];
  const trialIds = new Set<string>();
  const compute = cfg.compute;

  const add = <K extends StageKind>(kind: K, params: Omit<StageParams<K>, 'compute' | 'cacheNamespace'>, inputs: StageInputs<K>, label: string): string => {
    const full = { ...params, compute } as StageParams<K>;
    if (cfg.cacheNamespace) full.cacheNamespace = cfg.cacheNamespace;
    const key = stageKey(kind, full, inputs, STAGE_VERSIONS[kind], sha256);
    if (!byKey.has(key)) {
      const s = { key, kind, queue: STAGE_QUEUES[kind], version: STAGE_VERSIONS[kind], params: full, inputs, label } as StageSpec;
      byKey.set(key, s);
      stages.push(s);
    }
    return key;
  };

  // What an evaluate stage needs of the sweep's evaluation: the protocol only asks it to store logit
  // confidences; N stays out of its key, so protocol sweeps with different N share every evaluated model.
  const { protocol: protocolCfg, ...evaluationBase } = cfg.evaluation;
  const evaluation: StageParams<'evaluate'>['evaluation'] = protocolCfg ? { ...evaluationBase, logitConfidence: true } : evaluationBase;
  const settings: SweepPlan['settings'] = {};
  const methods: SweepPlan['methods'] = {};
  const methodOf = (spec: MethodSpec): string => {
    const key = specKey(spec, sha256);
    if (!methods[key]) methods[key] = { spec, summary: methodSummary(spec) };
    return key;
  };
  const addTrial = (t: Omit<TrialSpec, 'id' | 'stages'>, model: string, base: Record<string, string>, datasetParams: DatasetRef, modelParams: ModelRef) => {
    const descriptor = { ...t, model: t.model };
    const id = sha256(canonicalJson({ descriptor, model }));
    if (trialIds.has(id)) return;
    trialIds.add(id);
    const evaluate = add('evaluate', { dataset: datasetParams, model: modelParams, evaluation }, { model, forgetSet: base.forgetSet }, `evaluate ${t.label} ${t.forgetSet} s${t.seed}`);
    const refs: StageInputs<'record'> = { evaluate };
    if (base.oracleEvaluate && t.role !== 'oracle') refs.oracleEvaluate = base.oracleEvaluate;
    if (base.protocol) refs.protocol = base.protocol;
    const stageKeys: Record<string, string> = { 'train.original': base.original, 'forgetset.select': base.forgetSet, evaluate };
    if (base.mask) stageKeys.localize = base.mask;
    if (base.unlearn) stageKeys.unlearn = base.unlearn;
    if (base.oracle) stageKeys['train.oracle'] = base.oracle;
    if (base.protocol) stageKeys['protocol.score'] = base.protocol;
    const record = add('record', { sweepId, trial: { ...descriptor, id }, model, stageKeys }, refs, `record ${t.label} ${t.forgetSet} s${t.seed}`);
    trials.push({ ...t, id, stages: { ...base, model, evaluate, record } });
    return evaluate;
  };

  for (const seed of cfg.seeds) {
    for (const ds of cfg.grid.datasets) {
      const dataset = datasetRefOf(ds);
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
          const model = modelRefOf(m);
          for (const recipe of cfg.grid.recipes) {
            const original = add('train.original', { dataset, model, recipe, seed }, {}, `original ${ds.id} ${m.id} ${recipe.name} s${seed}`);
            const forgetSet = shared ?? selectForget(original, ` ${m.id} ${recipe.name}`);
            const recipeKey = sha256(canonicalJson({ dataset, model, recipe, compute, ns: cfg.cacheNamespace ?? null })).slice(0, 16);
            const setting = settingSpec(cfg, ds, m, recipe, fsCfg, SETTING_STAGE_VERSIONS);
            const settingKey = specKey(setting, sha256);
            if (!settings[settingKey]) settings[settingKey] = { spec: setting, summary: settingSummary(setting, recipe.name) };
            const common = { dataset: ds.id, model: m.id, recipe: recipe.name, recipeKey, settingKey, forgetSet: fsLabel, forgetKind, forgetFraction: fsCfg.fraction ?? null, seed };
            const reference = (role: TrialRole, algorithm: string | null) => ({
              ...common, role, algorithm, label: role === 'oracle' ? 'retrain' : 'original', localization: null, alpha: null, hparams: {},
              methodKey: methodOf({ role, algorithm, localization: null, hparams: {} }),
            });
            addTrial(reference('original', null), original, { original, forgetSet }, dataset, model);
            let oracleEvaluate: string | undefined;
            let oracle: string | undefined;
            if (cfg.oracle) {
              oracle = add('train.oracle', { dataset, model, recipe, seed }, { forgetSet }, `oracle ${ds.id} ${m.id} ${recipe.name} ${fsLabel} s${seed}`);
              oracleEvaluate = addTrial(reference('oracle', 'retrain'), oracle, { original, forgetSet, oracle }, dataset, model);
            }
            // Evaluation protocol (first seed only): N retrained models on the same forget set, seeds s0 … s0+N−1;
            // k = 0 is the ordinary oracle, so its stages are shared.
            const protocol = cfg.evaluation.protocol && seed === cfg.seeds[0] && oracle ? cfg.evaluation.protocol : undefined;
            const evaluateOf = (m: string, what: string) => add('evaluate', { dataset, model, evaluation }, { model: m, forgetSet }, `evaluate ${what} ${fsLabel} s${seed}`);
            const retrainEvals: string[] = [];
            if (protocol) {
              retrainEvals.push(evaluateOf(oracle!, 'retrain'));
              for (let k = 1; k < protocol.models; k++) {
                const rk = add('train.oracle', { dataset, model, recipe, seed: seed + k }, { forgetSet }, `oracle ${ds.id} ${m.id} ${recipe.name} ${fsLabel} s${seed}+${k} (protocol)`);
                retrainEvals.push(evaluateOf(rk, `retrain #${k}`));
              }
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
                  if (protocol) {
                    // N unlearned models from the same original, forget set and mask, unlearning seeds s0 … s0+N−1
                    const pinputs: Record<string, string> = {};
                    retrainEvals.forEach((e, k) => (pinputs[`retrain.${k}`] = e));
                    pinputs['unlearn.0'] = evaluateOf(unlearned, alg.label ?? alg.name);
                    for (let k = 1; k < protocol.models; k++) {
                      const uk = add('unlearn', { ...uparams, seed: seed + k }, inputs, `unlearn ${alg.label ?? alg.name} ${fsLabel} s${seed}+${k} (protocol)`);
                      pinputs[`unlearn.${k}`] = evaluateOf(uk, `${alg.label ?? alg.name} #${k}`);
                    }
                    base.protocol = add('protocol.score', { dataset, model, kind: protocol.kind, models: protocol.models }, pinputs, `${protocol.kind} ×${protocol.models} ${alg.label ?? alg.name} ${fsLabel}`);
                  }
                  if (mask) base.mask = mask;
                  if (oracle) base.oracle = oracle;
                  if (oracleEvaluate) base.oracleEvaluate = oracleEvaluate;
                  addTrial(
                    {
                      ...common, role: 'method', algorithm: alg.name, label: alg.label ?? alg.name,
                      localization: alg.localization?.strategy ?? null, alpha, hparams: hp,
                      methodKey: methodOf(methodSpecOf(alg, alpha, hp)),
                    },
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
  return { sweepId, stages, trials, settings, methods };
}

/** Counts of stages by kind, for summaries. */
export function countByKind(stages: readonly StageSpec[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of stages) out[s.kind] = (out[s.kind] ?? 0) + 1;
  return out;
}

export interface PlanCounts {
  trials: number;
  /** trials by role */
  roles: Record<TrialRole, number>;
  stages: number;
  byKind: Record<StageKind, number>;
}

/**
 * Trials and stages by kind, computed from the grid's axis lengths without expanding it (a 10^6-trial grid is
 * counted, not allocated). Exact for a validated config: validation refuses repeated seeds, entries and axis
 * values and overlapping method grids, the only ways two grid points could share a stage.
 */
/** A grid data set as the stages' params carry it (part of their keys; also how recorded timings are looked up). */
export const datasetRefOf = (ds: SweepConfig['grid']['datasets'][number]): DatasetRef => ({ id: ds.id, subset: ds.subset ?? null, params: ds.params ?? {} });
/** A grid model as the stages' params carry it. */
export const modelRefOf = (m: SweepConfig['grid']['models'][number]): ModelRef => ({ id: m.id, params: m.params ?? {} });

export function planCounts(cfg: SweepConfig): PlanCounts {
  const g = cfg.grid;
  const S = cfg.seeds.length, D = g.datasets.length, M = g.models.length, R = g.recipes.length, F = g.forgetSets.length;
  const memorization = g.forgetSets.filter((f) => f.kind === 'memorization').length;
  const originals = S * D * M * R;
  const settings = originals * F;
  const alphas = (a: SweepConfig['grid']['algorithms'][number]) =>
    a.localization ? (Array.isArray(a.localization.alpha) ? a.localization.alpha.length : 1) : 1;
  const combos = (a: SweepConfig['grid']['algorithms'][number]) =>
    Object.values(a.hparams as Record<string, unknown>).reduce<number>((n, v) => n * (Array.isArray(v) ? v.length : v === undefined ? 1 : 1), 1);
  const methodsPerSetting = g.algorithms.reduce((n, a) => n + alphas(a) * combos(a), 0);
  // masks are shared by every algorithm with the same (strategy, α)
  const masks = new Set<string>();
  for (const a of g.algorithms) {
    if (!a.localization) continue;
    for (const alpha of Array.isArray(a.localization.alpha) ? a.localization.alpha : [a.localization.alpha]) masks.add(canonicalJson([a.localization.strategy, alpha, a.localization.channelAggregate ?? null]));
  }
  const oracles = cfg.oracle ? settings : 0;
  const methods = settings * methodsPerSetting;
  // protocol: per setting of the first seed, N − 1 extra retrains and, per method, N − 1 extra unlearns (each
  // evaluated) and one protocol.score stage
  const N = cfg.evaluation.protocol && cfg.oracle ? cfg.evaluation.protocol.models : 0;
  const protocolSettings = N ? D * M * R * F : 0;
  const extraRetrains = protocolSettings * Math.max(0, N - 1);
  const extraUnlearns = protocolSettings * methodsPerSetting * Math.max(0, N - 1);
  const trials = settings + oracles + methods;
  const byKind: Record<StageKind, number> = {
    'forgetset.select': S * D * ((F - memorization) + memorization * M * R),
    'train.original': originals,
    'train.oracle': oracles + extraRetrains,
    localize: settings * masks.size,
    unlearn: methods + extraUnlearns,
    evaluate: trials + extraRetrains + extraUnlearns,
    'protocol.score': protocolSettings * methodsPerSetting,
    record: trials,
  };
  const stages = Object.values(byKind).reduce((a, b) => a + b, 0);
  return { trials, roles: { original: settings, oracle: oracles, method: methods }, stages, byKind };
}

type AlgorithmEntry = SweepConfig['grid']['algorithms'][number];

/** The method an algorithm entry runs at one α and one hyperparameter combination (sweep/keys.ts). */
function methodSpecOf(alg: AlgorithmEntry, alpha: number | null, hp: Record<string, unknown>): MethodSpec {
  // the aggregation is part of the method only when the sweep sets it (absent: by architecture, as before)
  const localization = alg.localization && alpha !== null
    ? { strategy: alg.localization.strategy, alpha, ...(alg.localization.channelAggregate ? { channelAggregate: alg.localization.channelAggregate } : {}) }
    : null;
  return { role: 'method', algorithm: alg.name, localization, hparams: hp };
}

/** The settings and methods of a sweep (the same as expandSweep's), without expanding its stages or trials. */
export function planSettings(cfg: SweepConfig): Pick<SweepPlan, 'settings' | 'methods'> {
  const settings: SweepPlan['settings'] = {};
  const methods: SweepPlan['methods'] = {};
  const method = (spec: MethodSpec) => {
    const key = specKey(spec);
    if (!methods[key]) methods[key] = { spec, summary: methodSummary(spec) };
  };
  for (const ds of cfg.grid.datasets) {
    for (const fsCfg of cfg.grid.forgetSets) {
      for (const m of cfg.grid.models) {
        for (const recipe of cfg.grid.recipes) {
          const setting = settingSpec(cfg, ds, m, recipe, fsCfg, SETTING_STAGE_VERSIONS);
          const key = specKey(setting);
          if (!settings[key]) settings[key] = { spec: setting, summary: settingSummary(setting, recipe.name) };
        }
      }
    }
  }
  method({ role: 'original', algorithm: null, localization: null, hparams: {} });
  if (cfg.oracle) method({ role: 'oracle', algorithm: 'retrain', localization: null, hparams: {} });
  for (const alg of cfg.grid.algorithms) {
    const alphas = alg.localization ? (Array.isArray(alg.localization.alpha) ? alg.localization.alpha : [alg.localization.alpha]) : [null];
    for (const alpha of alphas) for (const hp of expandGrid(alg.hparams as Record<string, Scalar | Scalar[]>)) method(methodSpecOf(alg, alpha, hp));
  }
  return { settings, methods };
}
