// Plain API of the unlearning library (docs/unlearning.md): unlearn() and evaluateUnlearning().
// Everything is returned as data; nothing is printed. Pure tfjs: no Temporal, S3 or SQL.
import { z } from 'zod';
import { buildModel, type Model } from '../models.js';
import type { Split } from '../data/types.js';
import { subsetByIds, complementIds } from '../data/split.js';
import { evaluate, predictLogits, type EvalResult } from '../eval.js';
import { getAlgorithm, parseHparams, type AlgorithmName } from './registry.js';
import { localize, toParamMask, STRATEGIES, type Strategy, type CritMemOptions } from './localize.js';
import type { Mask } from './select.js';
import { measureModel, gapsToOracle, tugOfWar, paramsChanged, snapshotParams, type ModelMetrics, type Gaps, type MiaOptions } from './metrics.js';
import { logitScaledConfidence } from './neurips.js';
import type { EpochReport } from './algorithms/common.js';
import { Driver } from '../driver.js';
import type { Checkpoint } from '../checkpoint.js';
import type { TrainState } from '../train.js';

export * from './select.js';
export * from './forget-sets.js';
export * from './localize.js';
export * from './metrics.js';
export * from './neurips.js';
export * from './lira.js';
export * from './stats.js';
export * from './svm.js';
export * from './registry.js';
export type { EpochReport, AlgoContext, AlgoOutput, Algorithm } from './algorithms/common.js';
export { fisherDiagonal } from './algorithms/ssd.js';
export { Driver, type LoopProgress, type DriverOptions } from '../driver.js';
export { CancelledError } from '../errors.js';

export const LocalizationSpec = z.object({
  strategy: z.enum(STRATEGIES),
  alpha: z.number().min(0).max(1),
  /** Reset the masked entries to a fresh seeded init before the algorithm runs (DEL: true). */
  reset: z.boolean().default(false),
  /** Keep the whole classifier head trainable in addition to the mask (DEL: true). */
  headTrainable: z.boolean().default(true),
  /** Seed of the fresh init used by the reset (default: derived from the run seed; always recorded). */
  resetSeed: z.number().int().optional(),
  batchSize: z.number().int().positive().default(128),
  /** Row aggregation of channel strategies; absent: by architecture ('mean' for ViT, 'topk' otherwise). */
  channelAggregate: z.enum(['topk', 'mean']).optional(),
  /** Seed for 'random-channel'. */
  maskSeed: z.number().int().optional(),
  critmem: z.object({ maxExamples: z.number().int().positive().optional(), maxIterations: z.number().int().positive().optional() }).optional(),
});
export type LocalizationSpec = z.input<typeof LocalizationSpec>;

export interface UnlearnArgs {
  /** θ_o. Not modified: the algorithm works on a copy. */
  model: Model;
  /** Reference/teacher model (SCRUB); default: `model`. */
  original?: Model;
  data: { train: Split; test: Split };
  /** Stable example ids (split.ids) of D_f. */
  forgetIds: ArrayLike<number>;
  algorithm: AlgorithmName | string;
  hparams?: Record<string, unknown>;
  /** Run localized: mask by strategy (or a precomputed `mask`), optional reset, gradients masked. */
  localization?: LocalizationSpec & { mask?: Mask };
  seed: number;
  /** After every epoch: loss, time, and the state that (with e.model's weights) resumes the run. */
  onEpoch?: (e: EpochReport) => void | Promise<void>;
  /** Compute accuracies + MIA efficacy of the result (default true). */
  evaluate?: boolean | MiaOptions;
  /** Yields, cancellation (CancelledError) and progress of every loop of the call (ml/driver.ts). */
  driver?: Driver;
  /**
   * An epoch checkpoint saved from onEpoch by an earlier, interrupted call with the same arguments
   * (saveCheckpoint(e.model, { trainState: e.state }), then loadCheckpoint): the run continues from it and ends
   * bit-identical to an uninterrupted one. The mask is recomputed (deterministic) unless given; the reset is
   * overwritten by the checkpoint's weights.
   */
  resume?: Checkpoint;
}

export interface PerExampleForget {
  ids: Int32Array;
  trueProb: Float32Array;
  loss: Float32Array;
  margin: Float32Array;
  pred: Int32Array;
  /** log p_true − log(1 − p_true) (NeurIPS 2023 confidence). */
  logitConfidence: Float64Array;
}

export interface UnlearnResult {
  model: Model;
  algorithm: string;
  hparams: Record<string, unknown>;
  seed: number;
  localization?: { strategy: Strategy; alpha: number; reset: boolean; headTrainable: boolean; resetSeed?: number; selected: number; total: number; seconds: number; params: Record<string, unknown> };
  mask?: Mask;
  /** seconds = wall time; cpuSeconds = this process's user+system CPU time over the same span (robust to other
   *  jobs sharing the cores; NaN outside Node). Both include localization and reset. */
  cost: { seconds: number; cpuSeconds: number; localizeSeconds: number; epochs: number; changed: number; totalParams: number; fractionChanged: number };
  metrics?: ModelMetrics;
  perExample: { forget: PerExampleForget };
  notes?: Record<string, unknown>;
  /** Epochs completed before this call (from `resume`), 0 when it started fresh. */
  resumedFromEpoch: number;
}

/** A new model with the same spec and a copy of all weights and buffers. */
export function cloneModel(model: Model): Model {
  const m = buildModel(model.spec, model.inputShape, model.numClasses, model.seed);
  const w = model.getWeights();
  try {
    m.setWeights(w);
  } finally {
    for (const t of w.values()) t.dispose();
  }
  return m;
}

/** θ ← (1−m)·θ + m·θ_init with θ_init = model.freshInit(seed) (the layer's default initializers). */
export async function resetMasked(model: Model, mask: Mask, seed: number): Promise<void> {
  const init = model.freshInit(seed);
  try {
    const upd = new Map<string, { shape: number[]; data: Float32Array }>();
    for (const p of model.params()) {
      const m = mask.get(p.name);
      if (!m) continue;
      const t = init.get(p.name);
      if (!t) throw new Error(`resetMasked: freshInit has no tensor for ${p.name}`);
      const fresh = (await t.data()) as Float32Array;
      const w = Float32Array.from((await p.variable.data()) as Float32Array);
      let any = false;
      for (let i = 0; i < w.length; i++) if (m[i]) { w[i] = fresh[i]; any = true; }
      if (any) upd.set(p.name, { shape: p.variable.shape.slice(), data: w });
    }
    model.setWeights(upd);
  } finally {
    for (const t of init.values()) t.dispose();
  }
}

/** User + system CPU seconds of this process (NaN where `process.cpuUsage` is unavailable). */
export function cpuSeconds(): number {
  const p = (globalThis as { process?: { cpuUsage?: () => { user: number; system: number } } }).process;
  if (!p?.cpuUsage) return NaN;
  const u = p.cpuUsage();
  return (u.user + u.system) / 1e6;
}

function deriveSeed(seed: number, label: string): number {
  let h = (seed ^ 0x811c9dc5) >>> 0;
  for (let i = 0; i < label.length; i++) h = Math.imul(h ^ label.charCodeAt(i), 0x01000193) >>> 0;
  return h & 0x7fffffff;
}

async function perExampleForget(model: Model, forget: Split, r: EvalResult, driver?: Driver): Promise<PerExampleForget> {
  const logits = await predictLogits(model, forget, { driver, phase: 'evaluate.forget' });
  return { ...r.perExample, logitConfidence: logitScaledConfidence(logits, forget.y, model.numClasses) };
}

export function forgetRetainSplits(train: Split, forgetIds: ArrayLike<number>): { forget: Split; retain: Split } {
  if (forgetIds.length === 0) throw new Error('forgetIds is empty');
  const forget = subsetByIds(train, forgetIds);
  const retain = subsetByIds(train, complementIds(train, forgetIds));
  return { forget, retain };
}

/** Thrown when a localization contradicts what the algorithm is (e.g. DEL without its reset). */
export class LocalizationConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LocalizationConfigError';
  }
}

/**
 * The localization a run uses: the caller's, with the algorithm's own defaults for what the caller leaves out.
 * An algorithm whose definition includes the reset (DEL: reset the localized entries to a fresh init) always
 * resets; an explicit `reset: false` for it is refused rather than silently running a different method.
 */
export function localizationFor(
  algorithm: string,
  algoDefault: { strategy: string; alpha: number; reset?: boolean; headTrainable?: boolean } | undefined,
  given: (LocalizationSpec & { mask?: Mask }) | undefined,
): (LocalizationSpec & { mask?: Mask }) | undefined {
  if (!given) return algoDefault as LocalizationSpec | undefined;
  if (!algoDefault) return given;
  if (algoDefault.reset && given.reset === false) {
    throw new LocalizationConfigError(`${algorithm} always resets the localized parameters; reset: false would be a different method (use finetune with a localization for that)`);
  }
  return { reset: algoDefault.reset, headTrainable: algoDefault.headTrainable, ...given };
}

export async function unlearn(args: UnlearnArgs): Promise<UnlearnResult> {
  const algo = getAlgorithm(args.algorithm);
  const hparams = parseHparams(args.algorithm, args.hparams);
  const driver = args.driver ?? new Driver();
  const resume = args.resume?.trainState ? (args.resume as Checkpoint & { trainState: TrainState }) : undefined;
  if (args.resume && !resume) throw new Error('unlearn: resume checkpoint carries no trainState (save it from onEpoch with { trainState: e.state })');
  const { forget, retain } = forgetRetainSplits(args.data.train, args.forgetIds);
  const original = args.original ?? args.model;
  const t0 = performance.now();
  const cpu0 = cpuSeconds();
  const work = cloneModel(args.model);
  let mask: Mask | undefined;
  let gradMask: Map<string, Float32Array> | undefined;
  let locOut: UnlearnResult['localization'];
  const locIn = localizationFor(algo.name, algo.defaultLocalization, args.localization);
  let localizeSeconds = 0;
  if (locIn) {
    const loc = LocalizationSpec.parse(locIn);
    const given = (locIn as { mask?: Mask }).mask;
    const tl = performance.now();
    let lr: { mask: Mask; selected: number; total: number; params: Record<string, unknown> };
    if (given) {
      let selected = 0;
      for (const m of given.values()) for (let i = 0; i < m.length; i++) selected += m[i];
      lr = { mask: given, selected, total: work.numParams(), params: { given: true } };
    } else {
      lr = await localize({ model: work, forget, train: args.data.train }, {
        strategy: loc.strategy, alpha: loc.alpha, batchSize: loc.batchSize, channelAggregate: loc.channelAggregate,
        seed: loc.maskSeed ?? deriveSeed(args.seed, 'mask'), critmem: loc.critmem as CritMemOptions | undefined, driver,
      });
    }
    mask = lr.mask;
    let resetSeed: number | undefined;
    if (loc.reset) {
      resetSeed = loc.resetSeed ?? deriveSeed(args.seed, 'reset');
      if (!resume) await resetMasked(work, mask, resetSeed); // a resumed run gets the checkpoint's weights instead
    }
    gradMask = toParamMask(mask, work, loc.headTrainable ? work.headParamNames : []);
    localizeSeconds = (performance.now() - tl) / 1000;
    locOut = { strategy: loc.strategy, alpha: loc.alpha, reset: loc.reset, headTrainable: loc.headTrainable, resetSeed, selected: lr.selected, total: lr.total, seconds: localizeSeconds, params: lr.params };
  }
  const before = await snapshotParams(args.model);
  const out = await algo.run({ model: work, original, train: args.data.train, test: args.data.test, forget, retain, seed: args.seed, gradMask, onEpoch: args.onEpoch, driver, resume }, hparams);
  if (out.model !== work) work.dispose();
  const seconds = (performance.now() - t0) / 1000;
  const cpu = cpuSeconds() - cpu0;
  const ch = paramsChanged(before, await snapshotParams(out.model));
  let metrics: ModelMetrics | undefined;
  let fr: EvalResult;
  if (args.evaluate !== false) {
    const m = await measureModel(out.model, { forget, retain, test: args.data.test }, { ...(typeof args.evaluate === 'object' ? args.evaluate : { seed: args.seed }), driver });
    metrics = m.metrics;
    fr = m.forget;
  } else fr = await evaluate(out.model, forget, { driver, phase: 'evaluate.forget' });
  return {
    model: out.model,
    algorithm: algo.name,
    hparams,
    seed: args.seed,
    localization: locOut,
    mask,
    cost: { seconds, cpuSeconds: cpu, localizeSeconds, epochs: out.epochs, changed: ch.changed, totalParams: ch.total, fractionChanged: ch.fraction },
    metrics,
    perExample: { forget: await perExampleForget(out.model, forget, fr, driver) },
    notes: out.notes,
    resumedFromEpoch: resume?.trainState.epochsDone ?? 0,
  };
}

export interface EvaluateUnlearningArgs {
  unlearned: Model;
  /** The oracle model, or its already measured metrics (one oracle serves every algorithm). */
  oracle: Model | ModelMetrics;
  data: { train: Split; test: Split };
  forgetIds: ArrayLike<number>;
  mia?: MiaOptions;
}

export interface UnlearningEvaluation {
  unlearned: ModelMetrics;
  oracle: ModelMetrics;
  /** Δ = oracle − unlearned. */
  gaps: Gaps;
  tugOfWar: number;
  perExample: { forget: PerExampleForget };
}

function isModel(x: Model | ModelMetrics): x is Model {
  return typeof (x as Model).logits === 'function';
}

export async function evaluateUnlearning(args: EvaluateUnlearningArgs): Promise<UnlearningEvaluation> {
  const { forget, retain } = forgetRetainSplits(args.data.train, args.forgetIds);
  const splits = { forget, retain, test: args.data.test };
  const u = await measureModel(args.unlearned, splits, args.mia);
  const o = isModel(args.oracle) ? (await measureModel(args.oracle, splits, args.mia)).metrics : args.oracle;
  return {
    unlearned: u.metrics,
    oracle: o,
    gaps: gapsToOracle(u.metrics, o),
    tugOfWar: tugOfWar(u.metrics, o),
    perExample: { forget: await perExampleForget(args.unlearned, forget, u.forget, args.mia?.driver) },
  };
}
