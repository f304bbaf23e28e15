// Per-example likelihood-ratio membership inference against retrained models (offline LiRA, Carlini et al. 2022,
// in the unlearning setting of U-LiRA / Hayes et al. 2024). For each forget example i, the logit-scaled
// confidences of the N retrained (oracle) models — models that never saw i — give a Gaussian N(μ_i, σ_i²). A
// model's confidence c on i is scored Λ = Φ((c − μ_i) / σ_i): high when c is unusually high for a model that never
// trained on i, i.e. evidence of membership. Unlearning worked on i when unlearned models' Λ cannot be told apart
// from held-out retrained models' Λ.
//
// attackAuc pools, over the forget examples, the scores of every unlearned model (positives) and of every
// retrained model scored leave-one-out against the others (negatives), and reports the ROC AUC (0.5: no attack
// beats chance — the goal), the TPR at 1 % and 5 % FPR, and the per-example AUC. Confidences are the same logit-
// scaled confidences as the NeurIPS 2023 score (neurips.ts, logitScaledConfidence).

/** Minimum σ so that identical confidences (e.g. a saturated example) do not divide by zero. */
const SIGMA_FLOOR = 1e-6;

/** Φ, the standard normal CDF (Abramowitz–Stegun 7.1.26 on erf; |error| < 1.5e-7). */
export function normalCdf(z: number): number {
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * x);
  const y = 1 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-x * x);
  return z >= 0 ? 0.5 * (1 + y) : 0.5 * (1 - y);
}

function meanStd(values: ArrayLike<number>, skip = -1): { mean: number; std: number } {
  let n = 0, s = 0;
  for (let i = 0; i < values.length; i++) if (i !== skip) { s += values[i]; n++; }
  const mean = s / n;
  let v = 0;
  for (let i = 0; i < values.length; i++) if (i !== skip) v += (values[i] - mean) ** 2;
  return { mean, std: Math.max(Math.sqrt(v / Math.max(1, n - 1)), SIGMA_FLOOR) };
}

/** Offline LiRA score Λ = Φ((c − μ_out) / σ_out) of one confidence against the out-distribution samples. */
export function liraScore(confidence: number, out: ArrayLike<number>): number {
  const { mean, std } = meanStd(out);
  return normalCdf((confidence - mean) / std);
}

/** ROC AUC of positives vs negatives (ties count ½), by rank sums: O((p + n) log(p + n)). */
export function rocAuc(positives: ArrayLike<number>, negatives: ArrayLike<number>): number {
  const all = [...Array.from(positives, (v) => [v, 1] as const), ...Array.from(negatives, (v) => [v, 0] as const)].sort((a, b) => a[0] - b[0]);
  let rankSumPos = 0;
  for (let i = 0; i < all.length;) {
    let j = i;
    while (j < all.length && all[j][0] === all[i][0]) j++;
    const avgRank = (i + 1 + j) / 2; // ranks i+1..j share their mean
    for (let k = i; k < j; k++) if (all[k][1] === 1) rankSumPos += avgRank;
    i = j;
  }
  const p = positives.length, n = negatives.length;
  return (rankSumPos - (p * (p + 1)) / 2) / (p * n);
}

/** Largest TPR among thresholds whose FPR ≤ maxFpr (predict member iff score ≥ threshold). */
export function tprAtFpr(positives: ArrayLike<number>, negatives: ArrayLike<number>, maxFpr: number): number {
  const neg = Float64Array.from(negatives).sort();
  const pos = Float64Array.from(positives).sort();
  // the threshold just above the ⌊maxFpr·n⌋-th largest negative
  const allowed = Math.floor(maxFpr * neg.length);
  const threshold = allowed >= neg.length ? -Infinity : neg[neg.length - 1 - allowed];
  let tp = 0;
  for (let i = 0; i < pos.length; i++) if (pos[i] > threshold) tp++;
  return tp / pos.length;
}

export interface LiraResult {
  /** Pooled ROC AUC of unlearned (positive) vs held-out retrained (negative) scores; 0.5 = indistinguishable. */
  auc: number;
  tprAt1Fpr: number;
  tprAt5Fpr: number;
  /** AUC per forget example (N unlearned vs N retrained scores of that example). */
  perExampleAuc: Float64Array;
  /** Mean Λ of the unlearned models per forget example. */
  perExampleScore: Float64Array;
}

/**
 * LiRA against retrained models. `unlearned[u][i]` and `retrained[r][i]`: confidence of model u (r) on forget
 * example i. Needs ≥ 3 retrained models (each retrained model is scored against the other N − 1).
 */
export function liraAttack(unlearned: ArrayLike<number>[], retrained: ArrayLike<number>[]): LiraResult {
  if (retrained.length < 3) throw new Error(`liraAttack: need at least 3 retrained models, got ${retrained.length}`);
  if (unlearned.length < 1) throw new Error('liraAttack: need at least 1 unlearned model');
  const m = retrained[0].length;
  for (const [what, set] of [['unlearned', unlearned], ['retrained', retrained]] as const) {
    set.forEach((c, k) => { if (c.length !== m) throw new Error(`liraAttack: ${what}[${k}] has ${c.length} confidences, expected ${m}`); });
  }
  const pos: number[] = [], neg: number[] = [];
  const perExampleAuc = new Float64Array(m), perExampleScore = new Float64Array(m);
  for (let i = 0; i < m; i++) {
    const out = Float64Array.from(retrained, (r) => r[i]);
    const { mean, std } = meanStd(out);
    const p = unlearned.map((u) => normalCdf((u[i] - mean) / std));
    const n = retrained.map((r, k) => { const loo = meanStd(out, k); return normalCdf((r[i] - loo.mean) / loo.std); });
    pos.push(...p);
    neg.push(...n);
    perExampleAuc[i] = rocAuc(p, n);
    perExampleScore[i] = p.reduce((a, b) => a + b, 0) / p.length;
  }
  return { auc: rocAuc(pos, neg), tprAt1Fpr: tprAtFpr(pos, neg, 0.01), tprAt5Fpr: tprAtFpr(pos, neg, 0.05), perExampleAuc, perExampleScore };
}
