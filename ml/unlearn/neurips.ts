// The NeurIPS 2023 Machine Unlearning challenge's forgetting score (google-deepmind/unlearning_evaluation,
// metric.py), re-derived for small N. Inputs are logit-scaled confidences of each forget example under N
// unlearned and N retrained (oracle) models. Per example: ε = the best (ε, δ = 1e-5) estimate over threshold
// attacks that tell the two confidence distributions apart; the example scores H(ε) by 0.5-wide buckets
// (1, ½, ¼, ...) up to ⌈ln(N−1)⌉; F = mean H. Final score = F · (RA_u / RA_r) · (TA_u / TA_r).
//
// Documented difference from metric.py: instead of a dense grid of thresholds (100 per unit) we enumerate
// EVERY distinct decision set of the two rule families exactly (single threshold: predict positive iff c ≥ t;
// double threshold: positive iff l ≤ c ≤ r, with t, l, r ranging over the observed values). With N ≤ ~20 that
// is cheap and is a superset of the grid's decisions (the double rule's width constraint is dropped), so
// our ε is ≥ the grid's for the same data. Degenerate handling follows metric.py: a "peaky" pair (range ratio
// < 1%) gets ε = 50 (the cap), thresholds with fpr = fnr = 0 give ε = ∞ (then capped at 50), thresholds with
// exactly one of fpr, fnr = 0 are discarded.

export const NEURIPS_DELTA = 1e-5;
export const NEURIPS_EPSILON_CAP = 50;

/** log p(true) − log(1 − p(true)) from logits [n, k] (stable, as LiRA / metric.py). */
export function logitScaledConfidence(logits: ArrayLike<number>, labels: ArrayLike<number>, numClasses: number): Float64Array {
  const n = labels.length;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let mx = -Infinity;
    for (let c = 0; c < numClasses; c++) mx = Math.max(mx, logits[i * numClasses + c]);
    let z = 0, pc = 0;
    for (let c = 0; c < numClasses; c++) {
      const e = Math.exp(logits[i * numClasses + c] - mx);
      z += e;
      if (c === labels[i]) pc = e;
    }
    const pCorrect = pc / z;
    const pWrong = (z - pc) / z;
    out[i] = Math.log(pCorrect + 1e-45) - Math.log(pWrong + 1e-45);
  }
  return out;
}

function epsFromRates(tpr: number, fnr: number, fpr: number, tnr: number, delta: number): number {
  if (fpr + fnr === 0 && tpr + tnr === 2) return Infinity;
  if (fpr * fnr === 0) return NaN; // discarded
  const a = Math.log(1 - delta - fpr) - Math.log(fnr);
  const b = Math.log(1 - delta - fnr) - Math.log(fpr);
  const m = Math.max(Number.isNaN(a) ? -Infinity : a, Number.isNaN(b) ? -Infinity : b);
  return Math.max(0, m);
}

/** ε for one example from the positive (larger median) and negative samples. */
export function exampleEpsilon(pos: ArrayLike<number>, neg: ArrayLike<number>, delta = NEURIPS_DELTA): number {
  const range = (a: ArrayLike<number>) => { let lo = Infinity, hi = -Infinity; for (let i = 0; i < a.length; i++) { lo = Math.min(lo, a[i]); hi = Math.max(hi, a[i]); } return hi - lo; };
  const pd = range(pos), nd = range(neg);
  const largest = Math.max(pd, nd), smallest = Math.min(pd, nd);
  if (largest > 0 && smallest / largest < 0.01) return NEURIPS_EPSILON_CAP;
  const vals = Array.from(new Set([...Array.from(pos), ...Array.from(neg)])).sort((a, b) => a - b);
  const np = pos.length, nn = neg.length;
  let best = NaN;
  const consider = (inPos: number, inNeg: number) => {
    const tpr = inPos / np, fnr = 1 - tpr, fpr = inNeg / nn, tnr = 1 - fpr;
    const e = epsFromRates(tpr, fnr, fpr, tnr, delta);
    if (!Number.isNaN(e) && !(e <= best)) best = e;
  };
  const countIn = (a: ArrayLike<number>, lo: number, hi: number) => { let c = 0; for (let i = 0; i < a.length; i++) if (a[i] >= lo && a[i] <= hi) c++; return c; };
  for (const t of vals) consider(countIn(pos, t, Infinity), countIn(neg, t, Infinity));
  for (let a = 0; a < vals.length; a++) for (let b = a; b < vals.length; b++) consider(countIn(pos, vals[a], vals[b]), countIn(neg, vals[a], vals[b]));
  if (Number.isNaN(best)) best = 0; // no usable threshold: no evidence the distributions differ
  return Math.min(Math.max(best, 0), NEURIPS_EPSILON_CAP);
}

function median(a: number[]): number {
  const s = [...a].sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** H(ε) bucket points for N models: [0,0.5) → 1, [0.5,1) → ½, ... while the bucket end ≤ ⌈ln(N−1)⌉; beyond → 0. */
export function bucketPoints(eps: number, numModels: number): number {
  const maxEps = Math.ceil(Math.log(numModels - 1));
  let start = 0, points = 1;
  while (start + 0.5 <= maxEps) {
    if (eps < start + 0.5) return points;
    points /= 2;
    start += 0.5;
  }
  return 0;
}

/**
 * Forget quality F from confidences [N models][m examples] of unlearned and retrained models
 * (N ≥ 3: with N = 2 every bucket is empty and F = 0, as in metric.py).
 */
export function forgetQuality(unlearned: ArrayLike<number>[], retrained: ArrayLike<number>[], delta = NEURIPS_DELTA): { score: number; epsilons: Float64Array } {
  const N = unlearned.length;
  if (N !== retrained.length || N < 2) throw new Error(`forgetQuality: need the same number (≥ 2) of unlearned and retrained models, got ${N} and ${retrained.length}`);
  const m = unlearned[0].length;
  const eps = new Float64Array(m);
  let total = 0;
  for (let i = 0; i < m; i++) {
    const u = unlearned.map((r) => r[i]);
    const r = retrained.map((q) => q[i]);
    const retrainPositive = median(r) > median(u);
    eps[i] = retrainPositive ? exampleEpsilon(r, u, delta) : exampleEpsilon(u, r, delta);
    total += bucketPoints(eps[i], N);
  }
  return { score: total / m, epsilons: eps };
}

/** Final challenge score: F · (mean RA_u / mean RA_r) · (mean TA_u / mean TA_r). */
export function neuripsScore(args: {
  unlearnedConfs: ArrayLike<number>[];
  retrainedConfs: ArrayLike<number>[];
  unlearnedRetainAcc: number[];
  retrainedRetainAcc: number[];
  unlearnedTestAcc: number[];
  retrainedTestAcc: number[];
}): { score: number; forgetQuality: number; epsilons: Float64Array } {
  const mean = (a: number[]) => a.reduce((s, v) => s + v, 0) / a.length;
  const fq = forgetQuality(args.unlearnedConfs, args.retrainedConfs);
  const score = fq.score * (mean(args.unlearnedRetainAcc) / mean(args.retrainedRetainAcc)) * (mean(args.unlearnedTestAcc) / mean(args.retrainedTestAcc));
  return { score, forgetQuality: fq.score, epsilons: fq.epsilons };
}
