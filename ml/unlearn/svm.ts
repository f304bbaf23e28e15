// C-support-vector classifier with an RBF kernel, trained by SMO with libsvm's second-order working-set
// selection (Fan, Chen & Lin, JMLR 2005) — the solver behind scikit-learn's SVC, which SalUn's MIA uses
// (SVC(C=3, gamma='auto', kernel='rbf')). Dual: min ½ αᵀQα − eᵀα, 0 ≤ α ≤ C, yᵀα = 0, Q_ij = y_i y_j K(x_i,x_j),
// K(a,b) = exp(−γ‖a−b‖²). Decision f(x) = Σ α_i y_i K(x_i, x) − ρ; predicted class +1 iff f(x) > 0.
// Kernel rows are computed on demand (no cache), so memory is O(n); time O(iterations · n · d). Training
// reports every block of iterations to the loop driver (ml/driver.ts): yields, cancellation, progress.
import { Driver } from '../driver.js';

export interface SvmOptions {
  C?: number;
  /** RBF width. Default 'auto' = 1 / n_features, as SalUn's SVC(gamma='auto'). */
  gamma?: number | 'auto';
  /** Stopping tolerance on the maximal KKT violation (libsvm's eps, default 1e-3). */
  tol?: number;
  /** Iteration cap (default max(1e6, 100·n)); reaching it is reported in `converged`. */
  maxIter?: number;
  driver?: Driver;
}

/** SMO iterations between two driver steps (each iteration is O(n): ~10 ms a block at n = 4,000). */
const ITERATIONS_PER_STEP = 256;

export interface SvmModel {
  d: number;
  gamma: number;
  C: number;
  /** Support vectors, row-major [nSV, d]. */
  sv: Float64Array;
  /** α_i·y_i of each support vector. */
  coef: Float64Array;
  rho: number;
  iterations: number;
  converged: boolean;
}

const TAU = 1e-12;

/**
 * Train on x (row-major [n, d]) with labels y ∈ {+1, −1}. Returns the model and the full dual α (for tests).
 */
export async function trainSvm(x: ArrayLike<number>, d: number, y: ArrayLike<number>, opts: SvmOptions = {}): Promise<SvmModel & { alpha: Float64Array }> {
  const n = y.length;
  if (x.length !== n * d) throw new Error(`trainSvm: x has ${x.length} values, expected n·d = ${n}·${d}`);
  let pos = 0;
  for (let i = 0; i < n; i++) {
    if (y[i] !== 1 && y[i] !== -1) throw new Error(`trainSvm: label y[${i}] = ${y[i]} is not ±1`);
    if (y[i] === 1) pos++;
  }
  if (pos === 0 || pos === n) throw new Error('trainSvm: both classes must be present');
  const C = opts.C ?? 3;
  const gamma = opts.gamma === undefined || opts.gamma === 'auto' ? 1 / d : opts.gamma;
  const tol = opts.tol ?? 1e-3;
  const maxIter = opts.maxIter ?? Math.max(1_000_000, 100 * n);
  const X = Float64Array.from(x as ArrayLike<number>);
  const Y = Float64Array.from(y as ArrayLike<number>);

  const kernelRow = (i: number, out: Float64Array): void => {
    const oi = i * d;
    for (let j = 0; j < n; j++) {
      const oj = j * d;
      let s = 0;
      for (let t = 0; t < d; t++) { const df = X[oi + t] - X[oj + t]; s += df * df; }
      out[j] = Math.exp(-gamma * s);
    }
  };
  // QD_i = K(x_i, x_i) = 1 for the RBF kernel.
  const alpha = new Float64Array(n);
  const G = new Float64Array(n).fill(-1);
  const Ki = new Float64Array(n);
  const Kj = new Float64Array(n);
  const isUpper = (t: number) => alpha[t] >= C;
  const isLower = (t: number) => alpha[t] <= 0;
  let iter = 0;
  let converged = false;
  const driver = opts.driver ?? new Driver();
  driver.begin('svm');
  for (; iter < maxIter; iter++) {
    if (iter > 0 && iter % ITERATIONS_PER_STEP === 0) await driver.step(ITERATIONS_PER_STEP);
    // Select i: maximal violating index in I_up.
    let Gmax = -Infinity, gi = -1;
    for (let t = 0; t < n; t++) {
      if (Y[t] === 1) { if (!isUpper(t) && -G[t] >= Gmax) { Gmax = -G[t]; gi = t; } }
      else if (!isLower(t) && G[t] >= Gmax) { Gmax = G[t]; gi = t; }
    }
    if (gi < 0) { converged = true; break; }
    kernelRow(gi, Ki);
    // Select j by second-order information.
    let Gmax2 = -Infinity, gj = -1, objMin = Infinity;
    for (let t = 0; t < n; t++) {
      if (Y[t] === 1) {
        if (!isLower(t)) {
          const gd = Gmax + G[t];
          if (G[t] >= Gmax2) Gmax2 = G[t];
          if (gd > 0) {
            const q = 2 - 2 * Ki[t]; // K_ii + K_tt − 2K_it
            const quad = q > 0 ? q : TAU;
            const obj = -(gd * gd) / quad;
            if (obj <= objMin) { gj = t; objMin = obj; }
          }
        }
      } else if (!isUpper(t)) {
        const gd = Gmax - G[t];
        if (-G[t] >= Gmax2) Gmax2 = -G[t];
        if (gd > 0) {
          const q = 2 - 2 * Ki[t];
          const quad = q > 0 ? q : TAU;
          const obj = -(gd * gd) / quad;
          if (obj <= objMin) { gj = t; objMin = obj; }
        }
      }
    }
    if (Gmax + Gmax2 < tol || gj < 0) { converged = true; break; }
    const i = gi, j = gj;
    kernelRow(j, Kj);
    const Qij = Y[i] * Y[j] * Ki[j];
    const oldAi = alpha[i], oldAj = alpha[j];
    if (Y[i] !== Y[j]) {
      let quad = 2 + 2 * Qij; if (quad <= 0) quad = TAU;
      const delta = (-G[i] - G[j]) / quad;
      const diff = alpha[i] - alpha[j];
      alpha[i] += delta; alpha[j] += delta;
      if (diff > 0) { if (alpha[j] < 0) { alpha[j] = 0; alpha[i] = diff; } }
      else if (alpha[i] < 0) { alpha[i] = 0; alpha[j] = -diff; }
      if (diff > 0) { if (alpha[i] > C) { alpha[i] = C; alpha[j] = C - diff; } }
      else if (alpha[j] > C) { alpha[j] = C; alpha[i] = C + diff; }
    } else {
      let quad = 2 - 2 * Qij; if (quad <= 0) quad = TAU;
      const delta = (G[i] - G[j]) / quad;
      const sum = alpha[i] + alpha[j];
      alpha[i] -= delta; alpha[j] += delta;
      if (sum > C) { if (alpha[i] > C) { alpha[i] = C; alpha[j] = sum - C; } }
      else if (alpha[j] < 0) { alpha[j] = 0; alpha[i] = sum; }
      if (sum > C) { if (alpha[j] > C) { alpha[j] = C; alpha[i] = sum - C; } }
      else if (alpha[i] < 0) { alpha[i] = 0; alpha[j] = sum; }
    }
    const dAi = alpha[i] - oldAi, dAj = alpha[j] - oldAj;
    for (let t = 0; t < n; t++) G[t] += Y[t] * (Y[i] * Ki[t] * dAi + Y[j] * Kj[t] * dAj);
  }
  // ρ as libsvm's calculate_rho.
  let ub = Infinity, lb = -Infinity, sumFree = 0, nFree = 0;
  for (let t = 0; t < n; t++) {
    const yG = Y[t] * G[t];
    if (isUpper(t)) { if (Y[t] === -1) ub = Math.min(ub, yG); else lb = Math.max(lb, yG); }
    else if (isLower(t)) { if (Y[t] === 1) ub = Math.min(ub, yG); else lb = Math.max(lb, yG); }
    else { sumFree += yG; nFree++; }
  }
  const rho = nFree > 0 ? sumFree / nFree : (ub + lb) / 2;
  const svIdx: number[] = [];
  for (let t = 0; t < n; t++) if (alpha[t] > 0) svIdx.push(t);
  const sv = new Float64Array(svIdx.length * d);
  const coef = new Float64Array(svIdx.length);
  svIdx.forEach((t, k) => {
    for (let q = 0; q < d; q++) sv[k * d + q] = X[t * d + q];
    coef[k] = alpha[t] * Y[t];
  });
  return { d, gamma, C, sv, coef, rho, iterations: iter, converged, alpha };
}

/** Decision values f(x) for rows of x ([m, d]). */
export function svmDecision(model: SvmModel, x: ArrayLike<number>): Float64Array {
  const { d, gamma, sv, coef, rho } = model;
  const m = x.length / d;
  const out = new Float64Array(m);
  const nSv = coef.length;
  for (let a = 0; a < m; a++) {
    let f = 0;
    for (let k = 0; k < nSv; k++) {
      let s = 0;
      for (let t = 0; t < d; t++) { const df = x[a * d + t] - sv[k * d + t]; s += df * df; }
      f += coef[k] * Math.exp(-gamma * s);
    }
    out[a] = f - rho;
  }
  return out;
}

/** Predicted labels (+1 / −1); ties (f = 0) go to −1 as in libsvm. */
export function svmPredict(model: SvmModel, x: ArrayLike<number>): Int8Array {
  const f = svmDecision(model, x);
  const out = new Int8Array(f.length);
  for (let i = 0; i < f.length; i++) out[i] = f[i] > 0 ? 1 : -1;
  return out;
}
