// Forget sets: index lists (stable example ids of the training set) with the parameters that produced
// them recorded, so a forget set is a reproducible artifact shared by every algorithm (docs/method.md).
//
// Size: either `count` or `fraction` (of |D|, the WHOLE training set, for every kind — the paper's non-IID
// set has the same size as the IID one); count = ⌊fraction·|D|⌋. Seeded (ml/rng.ts, the core's sfc32 Rng).
// kinds:
//  - iid:          uniform sample without replacement from D.
//  - classes:      uniform sample from the examples whose label is in `classes` (non-IID). Asking for more
//                  than those classes hold is an error (no silent shrink).
//  - memorization: rank D by a per-example memorization proxy (HIGHER = MORE memorized; see
//                  `memorizationFromLearningSpeed`), ties broken by a seeded random order, then
//                  'top' = the `count` most memorized, 'bottom' = the least memorized,
//                  'band' = a uniform sample of `count` from the ranks between quantiles [lo, hi) of the
//                  ranking (0 = most memorized, 1 = least).
// The returned ids are sorted ascending.
import { z } from 'zod';
import { Rng } from '../rng.js';
import { InvalidInputError } from '../errors.js';

const size = { fraction: z.number().gt(0).lte(1).optional(), count: z.number().int().positive().optional(), seed: z.number().int() };

export const ForgetSetSpec = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('iid'), ...size }),
  z.object({ kind: z.literal('classes'), classes: z.array(z.number().int().nonnegative()).min(1), ...size }),
  z.object({
    kind: z.literal('memorization'),
    mode: z.enum(['top', 'bottom', 'band']),
    band: z.tuple([z.number().min(0).max(1), z.number().min(0).max(1)]).optional(),
    /** Name of the proxy the scores came from (recorded only), e.g. 'learning-speed' or 'holdout'. */
    proxy: z.string().default('learning-speed'),
    ...size,
  }),
]);
export type ForgetSetSpec = z.input<typeof ForgetSetSpec>;

export interface ForgetSet {
  ids: Int32Array;
  params: Record<string, unknown>;
}

export interface ForgetSetSource {
  /** Labels of the training set, one per example. */
  labels: ArrayLike<number>;
  /** Stable example ids (default 0..n−1). */
  ids?: ArrayLike<number>;
  /** Per-example memorization proxy, higher = more memorized (required for kind 'memorization'). */
  memorization?: ArrayLike<number>;
}

function resolveCount(spec: { fraction?: number; count?: number }, n: number, where: string): number {
  if ((spec.fraction === undefined) === (spec.count === undefined)) throw new InvalidInputError(`${where}: give exactly one of fraction or count`);
  const c = spec.count ?? Math.floor(Number((spec.fraction! * n).toPrecision(12)));
  if (c < 1) throw new InvalidInputError(`${where}: forget set would be empty (|D| = ${n})`);
  if (c > n) throw new InvalidInputError(`${where}: count ${c} exceeds |D| = ${n}`);
  return c;
}

export function selectForgetSet(specIn: ForgetSetSpec, src: ForgetSetSource): ForgetSet {
  const parsed = ForgetSetSpec.safeParse(specIn);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i: { path: PropertyKey[]; message: string }) => `${i.path.map(String).join('.') || '(root)'}: ${i.message}`);
    throw new InvalidInputError(`forget set ${JSON.stringify(specIn)}: ${problems.join('; ')}`);
  }
  const spec = parsed.data;
  const n = src.labels.length;
  const ids = src.ids ?? Int32Array.from({ length: n }, (_, i) => i);
  if (ids.length !== n) throw new Error(`selectForgetSet: ${ids.length} ids for ${n} labels`);
  const count = resolveCount(spec, n, `forget set (${spec.kind})`);
  const rng = new Rng(spec.seed);
  let chosen: number[]; // positions into the training arrays
  let extra: Record<string, unknown> = {};
  if (spec.kind === 'iid') {
    chosen = Array.from(rng.permutation(n).subarray(0, count));
  } else if (spec.kind === 'classes') {
    const cls = new Set(spec.classes);
    const pool: number[] = [];
    for (let i = 0; i < n; i++) if (cls.has(src.labels[i])) pool.push(i);
    if (count > pool.length) throw new InvalidInputError(`forget set (classes ${spec.classes.join(',')}): asked for ${count} examples, those classes hold ${pool.length}`);
    chosen = Array.from(rng.permutation(pool.length).subarray(0, count), (k) => pool[k]);
    extra = { classes: [...spec.classes].sort((a, b) => a - b), poolSize: pool.length };
  } else {
    const mem = src.memorization;
    if (!mem || mem.length !== n) throw new Error(`forget set (memorization): need one memorization score per example (${n}), got ${mem?.length ?? 'none'}`);
    // Seeded random tie-break: the learning-speed proxy takes only E+1 distinct values.
    const tie = rng.permutation(n);
    const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => (mem[b] - mem[a]) || (tie[a] - tie[b]));
    if (spec.mode === 'top') chosen = order.slice(0, count);
    else if (spec.mode === 'bottom') chosen = order.slice(n - count);
    else {
      const [lo, hi] = spec.band ?? [0, 1];
      if (!(lo < hi)) throw new InvalidInputError(`forget set (memorization band): need lo < hi, got [${lo}, ${hi}]`);
      const a = Math.floor(lo * n), b = Math.floor(hi * n);
      if (b - a < count) throw new InvalidInputError(`forget set (memorization band [${lo}, ${hi})): band holds ${b - a} examples, asked for ${count}`);
      chosen = Array.from(rng.permutation(b - a).subarray(0, count), (k) => order[a + k]);
      extra = { band: [lo, hi] };
    }
    let sum = 0;
    for (const i of chosen) sum += mem[i];
    extra = { ...extra, mode: spec.mode, proxy: spec.proxy, meanScore: sum / count };
  }
  const out = Int32Array.from(chosen, (i) => ids[i]).sort();
  return {
    ids: out,
    params: { kind: spec.kind, seed: spec.seed, count, fraction: spec.fraction ?? null, datasetSize: n, ...extra },
  };
}

/**
 * Learning-speed memorization proxy from a training history: `correct[e][i]` = 1 if example i was
 * classified correctly after epoch e. Learning speed = mean over epochs; memorization = 1 − speed
 * (higher = more memorized, learned late or never).
 */
export function memorizationFromLearningSpeed(correct: ArrayLike<number>[]): Float32Array {
  if (correct.length === 0) throw new Error('memorizationFromLearningSpeed: empty history');
  const n = correct[0].length;
  const out = new Float32Array(n);
  for (const row of correct) {
    if (row.length !== n) throw new Error('memorizationFromLearningSpeed: epochs have different example counts');
    for (let i = 0; i < n; i++) out[i] += row[i] ? 1 : 0;
  }
  for (let i = 0; i < n; i++) out[i] = 1 - out[i] / correct.length;
  return out;
}

/** Complement of a forget set within the training ids (the retain set), ascending. */
export function retainIds(allIds: ArrayLike<number>, forgetIds: ArrayLike<number>): Int32Array {
  const f = new Set<number>(Array.from(forgetIds));
  const out: number[] = [];
  for (let i = 0; i < allIds.length; i++) if (!f.has(allIds[i])) out.push(allIds[i]);
  return Int32Array.from(out).sort();
}

/**
 * k random halves of n examples for the held-out memorization estimate (Feldman & Zhang 2020): model j is
 * trained on the examples with inTrain[j][i] = 1 (exactly ⌊n/2⌋ of them), seeded.
 */
export function randomHalves(n: number, k: number, seed: number): Uint8Array[] {
  const rng = new Rng(seed);
  return Array.from({ length: k }, () => {
    const m = new Uint8Array(n);
    const p = rng.permutation(n);
    for (let i = 0; i < n >> 1; i++) m[p[i]] = 1;
    return m;
  });
}

/**
 * Held-out memorization estimate: mem(i) = P[correct on i | i in the training half] − P[correct on i | i held
 * out], averaged over the k models (`correct[j][i]` = model j classifies example i correctly). Examples never
 * (or always) in a training half get NaN → treated as 0 here, with `coverage` reporting how many had both.
 * Higher = more memorized, like memorizationFromLearningSpeed.
 */
export function memorizationFromHalves(correct: ArrayLike<number>[], inTrain: ArrayLike<number>[]): { scores: Float32Array; coverage: number } {
  if (correct.length !== inTrain.length || correct.length === 0) throw new Error(`memorizationFromHalves: ${correct.length} prediction rows for ${inTrain.length} halves`);
  const n = correct[0].length;
  const inC = new Float64Array(n), inN = new Float64Array(n), outC = new Float64Array(n), outN = new Float64Array(n);
  for (let j = 0; j < correct.length; j++) {
    if (correct[j].length !== n || inTrain[j].length !== n) throw new Error(`memorizationFromHalves: row ${j} has the wrong length`);
    for (let i = 0; i < n; i++) {
      if (inTrain[j][i]) { inN[i]++; inC[i] += correct[j][i] ? 1 : 0; } else { outN[i]++; outC[i] += correct[j][i] ? 1 : 0; }
    }
  }
  const scores = new Float32Array(n);
  let coverage = 0;
  for (let i = 0; i < n; i++) {
    if (inN[i] > 0 && outN[i] > 0) { scores[i] = inC[i] / inN[i] - outC[i] / outN[i]; coverage++; }
  }
  return { scores, coverage };
}
