// Localization strategies: which parameters matter for the forget set. Every strategy returns a Mask
// (Map<paramName, Uint8Array>, 1 = selected) over the model's trainable parameters with the SAME budget:
// exactly ⌊α·P⌋ entries, P = model.numParams() (see ./select.ts for the ranking, row and tie conventions).
//
// Gradient scores (docs/method.md): one pass over the data with the model in inference mode (BN running stats),
// batches of `batchSize` (default 128, last partial batch kept), L = mean cross-entropy of the batch;
//   weighted gradient  s_j = | Σ_batches θ_j · ∂L/∂θ_j |   (sum over batches, then abs)
//   SalLoc (SalUn)     s_j = | Σ_batches ∂L/∂θ_j |
// Strategies (names used by sweeps and the registry):
//   'wg-channel'     weighted gradient on D_f, channel level (DEL's choice; rows = last axis, row score =
//                    mean of the top-h entries, h = max(1, ⌊0.1·rows⌋), or the whole-row mean ('mean'); the
//                    default follows the architecture as in the reference code: 'mean' for ViT, 'topk' otherwise;
//                    1-D tensors per entry)
//   'wg-param'       weighted gradient on D_f, parameter level (granularity ablation)
//   'grad-channel'   plain gradient |Σ ∂L/∂θ| on D_f, channel level (criterion ablation: DEL without the θ factor)
//   'salloc'         SalUn's mask: |Σ ∂L/∂θ| on D_f, parameter level (also the parameter × gradient ablation cell)
//   'magnitude'      |θ_j| (data-agnostic), parameter level
//   'wg-all-channel' weighted gradient on ALL of D (data-agnostic), channel level
//   'random-channel' random rows with the same per-parameter counts as a reference mask (the 'wg-channel'
//                    mask unless `reference` is given), seeded
//   'deepest' / 'shallowest'  whole parameters from the output (input) end up to the budget
//   'critmem'        CritMem (Maini et al. 2023), iterative per example, see critMemScores
import { tf } from '../tf.js';
import type { Model } from '../models.js';
import type { Split } from '../data/types.js';
import { batchPositions, gatherBatch } from '../data/split.js';
import { crossEntropy } from '../train.js';
import { Rng } from '../rng.js';
import { Driver } from '../driver.js';
import { channelScores, randomChannelsLike, selectByDepth, selectTopK, rowCount, type Mask, type ParamScores } from './select.js';
import { InvalidInputError } from '../errors.js';

export const STRATEGIES = ['wg-channel', 'wg-param', 'grad-channel', 'salloc', 'magnitude', 'wg-all-channel', 'random-channel', 'deepest', 'shallowest', 'critmem'] as const;
export type Strategy = (typeof STRATEGIES)[number];

export type ChannelAggregate = 'topk' | 'mean';

/** The reference code's channel score by architecture: the row mean for transformers, the mean of the top-h
 *  entries of the row for everything else (CNNs, ResNets, MLPs). */
export function defaultChannelAggregate(model: Pick<Model, 'spec'>): ChannelAggregate {
  return model.spec.arch === 'vit' ? 'mean' : 'topk';
}

export interface LocalizeOptions {
  strategy: Strategy;
  alpha: number;
  batchSize?: number;
  /** Row aggregation for channel strategies: 'topk' or 'mean'; default by architecture (defaultChannelAggregate). */
  channelAggregate?: ChannelAggregate;
  /** Seed for 'random-channel'. */
  seed?: number;
  /** Reference mask for 'random-channel' (default: the 'wg-channel' mask at the same α). */
  reference?: Mask;
  critmem?: CritMemOptions;
  /** Yields, cancellation and progress of the scoring passes (ml/driver.ts). */
  driver?: Driver;
}

export interface LocalizeInput {
  model: Model;
  /** D_f as a split. */
  forget: Split;
  /** All of D (needed by 'wg-all-channel' only). */
  train?: Split;
}

export interface LocalizeResult {
  mask: Mask;
  strategy: Strategy;
  alpha: number;
  selected: number;
  total: number;
  seconds: number;
  params: Record<string, unknown>;
}

/**
 * Σ over batches of ∂L/∂θ (L = batch-mean CE, eval mode), per trainable parameter, as Float32Arrays. The sums
 * stay on the backend; one asynchronous read at the end (webgpu has no synchronous read in Node).
 */
export async function summedGradients(model: Model, split: Split, batchSize = 128, driver = new Driver()): Promise<Map<string, Float32Array>> {
  const params = model.params();
  const vars = params.map((p) => p.variable);
  const acc: tf.Tensor[] = params.map((p) => tf.keep(tf.zerosLike(p.variable as tf.Tensor)));
  try {
    const batches = batchPositions(split.count, batchSize);
    driver.begin('localize', { steps: batches.length });
    for (const pos of batches) {
      tf.tidy(() => {
        const { x, y } = gatherBatch(split, pos);
        const { grads } = tf.variableGrads(() => crossEntropy(model.logits(x, false), y), vars);
        params.forEach((p, i) => {
          const g = grads[p.variable.name];
          if (!g) throw new Error(`summedGradients: no gradient for ${p.name}`);
          const next = tf.keep(acc[i].add(g));
          acc[i].dispose();
          acc[i] = next;
        });
      });
      await driver.step();
    }
    const data = await Promise.all(acc.map((t) => t.data()));
    const out = new Map<string, Float32Array>();
    params.forEach((p, i) => out.set(p.name, data[i] as Float32Array));
    return out;
  } finally {
    acc.forEach((t) => t.dispose());
  }
}

async function paramValues(model: Model): Promise<Map<string, Float32Array>> {
  const params = model.params();
  const data = await Promise.all(params.map((p) => p.variable.data()));
  return new Map(params.map((p, i) => [p.name, data[i] as Float32Array]));
}

/** Per-entry scores of a gradient strategy (before channel aggregation). */
export async function gradientScores(model: Model, split: Split, weighted: boolean, batchSize = 128, driver?: Driver): Promise<ParamScores[]> {
  const g = await summedGradients(model, split, batchSize, driver);
  const w = weighted ? await paramValues(model) : undefined;
  return model.params().map((p) => {
    const gs = g.get(p.name)!;
    const s = new Float32Array(gs.length);
    if (w) { const ws = w.get(p.name)!; for (let i = 0; i < s.length; i++) s[i] = Math.abs(ws[i] * gs[i]); }
    else for (let i = 0; i < s.length; i++) s[i] = Math.abs(gs[i]);
    return { name: p.name, shape: p.variable.shape.slice(), scores: s };
  });
}

export interface CritMemOptions {
  /** At most this many forget examples are processed (the first ones in split order). Default 32. */
  maxExamples?: number;
  /** At most this many channels are zeroed per example before giving up on it. Default 10. */
  maxIterations?: number;
}

/**
 * CritMem scores (Maini et al. 2023, "Can neural network memorization be localized?"), capped in cost.
 * For each of the first `maxExamples` forget examples: repeatedly compute, for every channel (row) of every
 * ≥ 2-D non-head parameter, c = −Σ_row θ·∂CE/∂θ on that single example (first-order estimate of the loss
 * increase when the row is zeroed; equivalently the largest Σ θ·∂log p/∂θ), zero the row with the largest c,
 * and stop when the prediction no longer equals the label or after `maxIterations` rows. Cost: at most
 * maxExamples × maxIterations single-example gradient passes. The model is restored afterwards.
 * Score of an entry = (number of examples whose search zeroed its row) + 0.5 · (its wg-channel score scaled
 * to [0, 1)), so rows chosen by CritMem rank first and the remaining budget ⌊α·P⌋ is filled by DEL's score.
 */
export async function critMemScores(model: Model, forget: Split, opts: CritMemOptions = {}, batchSize = 128, driver = new Driver()): Promise<{ scores: ParamScores[]; flipped: number; processed: number; passes: number }> {
  const maxExamples = opts.maxExamples ?? 32;
  const maxIterations = opts.maxIterations ?? 10;
  const head = new Set(model.headParamNames);
  const params = model.params();
  const vars = params.map((p) => p.variable);
  const original = model.getWeights();
  const counts = new Map<string, Float32Array>(); // per-row counts
  for (const p of params) if (!head.has(p.name) && p.variable.shape.length >= 2) counts.set(p.name, new Float32Array(rowCount(p.variable.shape)));
  let flipped = 0, passes = 0;
  const n = Math.min(maxExamples, forget.count);
  driver.begin('critmem', { steps: n * maxIterations });
  try {
    for (let e = 0; e < n; e++) {
      model.setWeights(original);
      const { x, y } = gatherBatch(forget, [e]);
      const label = forget.y[e];
      const zeroed = new Set<string>();
      for (let it = 0; it < maxIterations; it++) {
        const predT = tf.tidy(() => model.logits(x, false).argMax(1));
        const pred = (await predT.data())[0];
        predT.dispose();
        if (pred !== label) { flipped++; break; }
        passes++;
        let best = -Infinity, bestName = '', bestRow = -1;
        const { value, grads } = tf.variableGrads(() => crossEntropy(model.logits(x, false), y), vars);
        try {
          const scored = params.filter((p) => counts.has(p.name));
          const [gs, ws] = await Promise.all([
            Promise.all(scored.map((p) => grads[p.variable.name].data())),
            Promise.all(scored.map((p) => p.variable.data())),
          ]);
          scored.forEach((p, k) => {
            const g = gs[k], w = ws[k];
            const rows = rowCount(p.variable.shape), len = w.length / rows;
            for (let r = 0; r < rows; r++) {
              if (zeroed.has(`${p.name}#${r}`)) continue;
              let c = 0;
              for (let j = 0; j < len; j++) c -= w[j * rows + r] * g[j * rows + r];
              if (c > best) { best = c; bestName = p.name; bestRow = r; }
            }
          });
        } finally {
          tf.dispose([value, grads]);
        }
        if (bestRow < 0) break;
        zeroed.add(`${bestName}#${bestRow}`);
        counts.get(bestName)![bestRow] += 1;
        const v = params.find((p) => p.name === bestName)!.variable;
        const data = Float32Array.from((await v.data()) as Float32Array);
        const rows = rowCount(v.shape);
        for (let j = 0; j < data.length / rows; j++) data[j * rows + bestRow] = 0;
        model.setWeights(new Map([[bestName, { shape: v.shape.slice(), data }]]));
        await driver.step();
      }
      x.dispose();
      y.dispose();
    }
  } finally {
    model.setWeights(original);
    for (const t of original.values()) t.dispose();
  }
  const wg = (await gradientScores(model, forget, true, batchSize, driver)).map((p) => ({ ...p, scores: channelScores(p.scores, p.shape) }));
  let mx = 0;
  for (const p of wg) for (const v of p.scores) mx = Math.max(mx, v);
  const scores = wg.map((p) => {
    const s = new Float32Array(p.scores.length);
    const c = counts.get(p.name);
    const rows = rowCount(p.shape);
    for (let i = 0; i < s.length; i++) s[i] = (c ? c[i % rows] : 0) + (mx > 0 ? (0.5 * p.scores[i]) / mx : 0);
    return { ...p, scores: s };
  });
  return { scores, flipped, processed: n, passes };
}

/** Compute a mask by strategy name. */
export async function localize(input: LocalizeInput, opts: LocalizeOptions): Promise<LocalizeResult> {
  const t0 = performance.now();
  const { model } = input;
  const driver = opts.driver ?? new Driver();
  const bs = opts.batchSize ?? 128;
  const agg = opts.channelAggregate ?? defaultChannelAggregate(model);
  const infos = model.params().map((p) => ({ name: p.name, shape: p.variable.shape.slice() }));
  const channel = (ps: ParamScores[]) => ps.map((p) => ({ ...p, scores: channelScores(p.scores, p.shape, agg) }));
  let mask: Mask;
  const params: Record<string, unknown> = { strategy: opts.strategy, alpha: opts.alpha, batchSize: bs };
  switch (opts.strategy) {
    case 'wg-channel':
      mask = selectTopK(channel(await gradientScores(model, input.forget, true, bs, driver)), opts.alpha);
      params.channelAggregate = agg;
      break;
    case 'wg-param':
      mask = selectTopK(await gradientScores(model, input.forget, true, bs, driver), opts.alpha);
      break;
    case 'salloc':
      mask = selectTopK(await gradientScores(model, input.forget, false, bs, driver), opts.alpha);
      break;
    case 'grad-channel':
      mask = selectTopK(channel(await gradientScores(model, input.forget, false, bs, driver)), opts.alpha);
      params.channelAggregate = agg;
      break;
    case 'magnitude': {
      const w = await paramValues(model);
      mask = selectTopK(infos.map((p) => ({ ...p, scores: w.get(p.name)!.map(Math.abs) })), opts.alpha);
      break;
    }
    case 'wg-all-channel':
      if (!input.train) throw new Error("localize('wg-all-channel'): needs input.train (all of D)");
      mask = selectTopK(channel(await gradientScores(model, input.train, true, bs, driver)), opts.alpha);
      params.channelAggregate = agg;
      break;
    case 'random-channel': {
      const seed = opts.seed ?? 0;
      const ref = opts.reference ?? selectTopK(channel(await gradientScores(model, input.forget, true, bs, driver)), opts.alpha);
      mask = randomChannelsLike(ref, infos, new Rng(seed));
      params.seed = seed;
      if (!opts.reference) params.channelAggregate = agg;
      params.reference = opts.reference ? 'given' : 'wg-channel';
      break;
    }
    case 'deepest':
    case 'shallowest':
      mask = selectByDepth(infos, opts.alpha, opts.strategy);
      break;
    case 'critmem': {
      const r = await critMemScores(model, input.forget, opts.critmem, bs, driver);
      mask = selectTopK(r.scores, opts.alpha);
      Object.assign(params, { maxExamples: opts.critmem?.maxExamples ?? 32, maxIterations: opts.critmem?.maxIterations ?? 10, flipped: r.flipped, processed: r.processed, gradientPasses: r.passes });
      break;
    }
    default:
      throw new InvalidInputError(`localize: unknown strategy '${String(opts.strategy)}'; known: ${STRATEGIES.join(', ')}`);
  }
  let selected = 0;
  for (const m of mask.values()) for (let i = 0; i < m.length; i++) selected += m[i];
  return { mask, strategy: opts.strategy, alpha: opts.alpha, selected, total: model.numParams(), seconds: (performance.now() - t0) / 1000, params };
}

/** Convert a Mask to the core's ParamMask (Float32Array per param); `alsoTrainable` names get all-ones. */
export function toParamMask(mask: Mask, model: Model, alsoTrainable: string[] = []): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  for (const p of model.params()) {
    const m = mask.get(p.name);
    const n = p.variable.size;
    if (alsoTrainable.includes(p.name)) out.set(p.name, new Float32Array(n).fill(1));
    else if (m) {
      if (m.length !== n) throw new Error(`toParamMask: mask for ${p.name} has ${m.length} entries, parameter has ${n}`);
      out.set(p.name, Float32Array.from(m));
    }
  }
  return out;
}
