// The NeurIPS 2023 Machine Unlearning challenge's forgetting score (google-deepmind/unlearning_evaluation,
// metric.py), re-derived for small N. Inputs are logit-scaled confidences of each forget example under N
// unlearned and N retrained (oracle) models. Per example: ε = the best (ε, δ = 1e-5) estimate over threshold
// attacks that tell the two confidence distributions apart; the example scores H(ε) by 0.5-wide buckets
// (1, ½, ¼, ...) up to ⌈ln(N−1)⌉; F = mean H. Final score = F · (RA_u / RA_r) · (TA_u / TA_r).
//
// The two attack families, their threshold grids (100 per unit) and the double rule's width constraint follow
// metric.py (see exampleEpsilon). An earlier version enumerated every decision set over the observed values
// without the width constraint: at N = 512 that attack overfits narrow gaps between samples and gave two
// identical distributions F ≈ 0.04 instead of ≈ 1 (test/unlearn/protocol-metrics.test.ts pins both cases).
// Degenerate handling follows metric.py: a "peaky" pair (range ratio < 1%) gets ε = 50 (the cap), thresholds with
// fpr = fnr = 0 give ε = ∞ (then capped at 50), thresholds with exactly one of fpr, fnr = 0 are discarded.

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

/** Thresholds per unit of logit-scaled confidence, and the slack of the double rule's width (metric.py's values). */
export const NEURIPS_THRESHOLDS_PER_UNIT = 100;
const DOUBLE_RULE_BUFFER = 2.0;

/** ε of one decision rule from its rates; NaN when the rule is discarded (exactly one of fpr, fnr is 0, or no
 *  finite estimate). fpr = fnr = 0 (perfect separation) gives ∞. */
function epsFromRates(tpr: number, fnr: number, fpr: number, tnr: number, delta: number): number {
  if (fpr + fnr === 0 && tpr + tnr === 2) return Infinity;
  if (fpr * fnr === 0) return NaN;
  const a = Math.log(1 - delta - fpr) - Math.log(fnr);
  const b = Math.log(1 - delta - fnr) - Math.log(fpr);
  if (Number.isNaN(a) && Number.isNaN(b)) return NaN;
  return Math.max(0, Number.isNaN(a) ? -Infinity : a, Number.isNaN(b) ? -Infinity : b);
}

/** numpy.linspace(start, stop, num) with the endpoint. */
function linspace(start: number, stop: number, num: number): Float64Array {
  const out = new Float64Array(Math.max(0, num));
  if (num === 1) out[0] = start;
  else if (num > 1) {
    const step = (stop - start) / (num - 1);
    for (let i = 0; i < num; i++) out[i] = start + i * step;
    out[num - 1] = stop;
  }
  return out;
}

/** Index of the first value ≥ t (lower bound) in an ascending array. */
function lowerBound(a: Float64Array, t: number): number {
  let lo = 0, hi = a.length;
  while (lo < hi) { const mid = (lo + hi) >> 1; if (a[mid] < t) lo = mid + 1; else hi = mid; }
  return lo;
}

/** Index of the first value > t (upper bound) in an ascending array. */
function upperBound(a: Float64Array, t: number): number {
  let lo = 0, hi = a.length;
  while (lo < hi) { const mid = (lo + hi) >> 1; if (a[mid] <= t) lo = mid + 1; else hi = mid; }
  return lo;
}

function range(a: Float64Array): number {
  return a.length ? a[a.length - 1] - a[0] : 0;
}

/**
 * ε for one forget example from the confidences of the positive class (the one with the larger median) and the
 * negative class, as the challenge's metric.py computes it: the best (ε, δ) estimate over two families of
 * threshold attacks on a grid of 100 thresholds per unit.
 *  - single threshold t ∈ linspace(min, max): predict positive iff c ≥ t;
 *  - double threshold [l, r]: predict the PEAKIER distribution (smaller range w) iff l ≤ c ≤ r, with
 *    r ∈ linspace(min_peaky + w − 2, max_peaky + 2) and l ∈ linspace(r − w − 2, r − w + 2, 400), so an interval is
 *    about as wide as the peakier sample (this width constraint keeps the attack from overfitting narrow gaps
 *    when N is large).
 * A "peaky" pair (range ratio < 1 %) gets the cap; perfect separation gives ∞, then the cap. Counting uses sorted
 * samples and binary search, O(#thresholds · log N), so N = 512 is cheap.
 */
export function exampleEpsilon(pos: ArrayLike<number>, neg: ArrayLike<number>, delta = NEURIPS_DELTA): number {
  const P = Float64Array.from(pos).sort(), Q = Float64Array.from(neg).sort();
  const pd = range(P), nd = range(Q);
  const largest = Math.max(pd, nd), smallest = Math.min(pd, nd);
  if (largest > 0 && smallest / largest < 0.01) return NEURIPS_EPSILON_CAP;
  let best = NaN;
  const consider = (tpr: number, fnr: number, fpr: number, tnr: number) => {
    const e = epsFromRates(tpr, fnr, fpr, tnr, delta);
    if (!Number.isNaN(e) && !(e <= best)) best = e;
  };
  // single threshold over all confidences
  const lo = Math.min(P[0], Q[0]), hi = Math.max(P[P.length - 1], Q[Q.length - 1]);
  for (const t of linspace(lo, hi, Math.ceil((hi - lo) * NEURIPS_THRESHOLDS_PER_UNIT))) {
    const tpr = (P.length - lowerBound(P, t)) / P.length, fpr = (Q.length - lowerBound(Q, t)) / Q.length;
    consider(tpr, 1 - tpr, fpr, 1 - fpr);
  }
  // double threshold around the peakier sample (ties: the negative class counts as the peakier one, as in metric.py)
  const [peaky, other] = pd >= nd ? [Q, P] : [P, Q];
  const width = smallest;
  const rights = linspace(peaky[0] + width - DOUBLE_RULE_BUFFER, peaky[peaky.length - 1] + DOUBLE_RULE_BUFFER, Math.ceil((peaky[peaky.length - 1] - peaky[0] - width + 2 * DOUBLE_RULE_BUFFER) * NEURIPS_THRESHOLDS_PER_UNIT));
  const numLeft = Math.ceil(2 * DOUBLE_RULE_BUFFER * NEURIPS_THRESHOLDS_PER_UNIT);
  for (const r of rights) {
    const upPeaky = upperBound(peaky, r), upOther = upperBound(other, r);
    for (const l of linspace(r - width - DOUBLE_RULE_BUFFER, r - width + DOUBLE_RULE_BUFFER, numLeft)) {
      const inPeaky = Math.max(0, upPeaky - lowerBound(peaky, l)), inOther = Math.max(0, upOther - lowerBound(other, l));
      const tpr = inPeaky / peaky.length, fpr = inOther / other.length;
      consider(tpr, 1 - tpr, fpr, 1 - fpr);
    }
  }
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
