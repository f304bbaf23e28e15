// Metrics of an unlearned model (docs/method.md, "Metrics"). Accuracies evaluate EVERY example (ml/eval.ts keeps
// the last partial batch). All values are fractions in [0, 1] (multiply by 100 for percent tables).
//
// MIA efficacy (SalUn's definition): feature = softmax probability of the true label; an RBF SVM (C = 3,
// γ = 'auto' = 1 for one feature, as SalUn's sklearn SVC; ./svm.ts is the same SMO solver as libsvm) is
// trained with retain examples as members (+1; a seeded sample as many as |D_test|) and test examples as
// non-members (−1). MIA efficacy = fraction of D_f predicted non-member. Cost cap (documented choice):
// at most `maxPerClass` (default 2000) of each class are used to train the attack, seeded subsample; the two
// classes are balanced (min of |D_r|, |D_test|, maxPerClass each).
import type { Model } from '../models.js';
import type { Split } from '../data/types.js';
import { evaluate, type EvalResult } from '../eval.js';
import { Rng } from '../rng.js';
import { Driver } from '../driver.js';
import { trainSvm, svmPredict, type SvmModel } from './svm.js';

export interface MiaOptions {
  seed?: number;
  maxPerClass?: number;
  C?: number;
  gamma?: number | 'auto';
  /** Yields, cancellation and progress of the evaluation passes and the SVM (ml/driver.ts). */
  driver?: Driver;
}

export interface MiaAttack {
  svm: SvmModel;
  members: number;
  nonMembers: number;
  /** Accuracy of the attack on its own (balanced) training set. */
  trainAccuracy: number;
  /** Fraction of the given true-label probabilities predicted non-member. */
  nonMemberRate(trueProb: ArrayLike<number>): number;
}

/** Train SalUn's confidence-based membership attack. */
export async function trainMiaAttack(retainTrueProb: ArrayLike<number>, testTrueProb: ArrayLike<number>, opts: MiaOptions = {}): Promise<MiaAttack> {
  const rng = new Rng(opts.seed ?? 0);
  const cap = opts.maxPerClass ?? 2000;
  // Balanced: as many members as non-members (SalUn: |D_test| retain examples); when the retain set is
  // smaller than the test set, the non-members are subsampled instead.
  const nNon = Math.min(testTrueProb.length, retainTrueProb.length, cap);
  const nMem = nNon;
  if (nMem < 1 || nNon < 1) throw new Error(`trainMiaAttack: need retain and test examples (got ${retainTrueProb.length}, ${testTrueProb.length})`);
  const memIdx = rng.permutation(retainTrueProb.length).subarray(0, nMem);
  const nonIdx = testTrueProb.length > nNon ? rng.permutation(testTrueProb.length).subarray(0, nNon) : Int32Array.from({ length: nNon }, (_, i) => i);
  const x = new Float64Array(nMem + nNon);
  const y = new Int8Array(nMem + nNon);
  for (let i = 0; i < nMem; i++) { x[i] = retainTrueProb[memIdx[i]]; y[i] = 1; }
  for (let i = 0; i < nNon; i++) { x[nMem + i] = testTrueProb[nonIdx[i]]; y[nMem + i] = -1; }
  const svm = await trainSvm(x, 1, y, { C: opts.C ?? 3, gamma: opts.gamma ?? 'auto', driver: opts.driver });
  const pred = svmPredict(svm, x);
  let ok = 0;
  for (let i = 0; i < y.length; i++) ok += pred[i] === y[i] ? 1 : 0;
  return {
    svm,
    members: nMem,
    nonMembers: nNon,
    trainAccuracy: ok / y.length,
    nonMemberRate(trueProb) {
      if (trueProb.length === 0) return NaN;
      const p = svmPredict(svm, Float64Array.from(trueProb as ArrayLike<number>));
      let c = 0;
      for (let i = 0; i < p.length; i++) c += p[i] === -1 ? 1 : 0;
      return c / p.length;
    },
  };
}

/** MIA efficacy = fraction of the forget set predicted non-member by SalUn's attack. */
export async function miaEfficacy(args: { retainTrueProb: ArrayLike<number>; testTrueProb: ArrayLike<number>; forgetTrueProb: ArrayLike<number> } & MiaOptions): Promise<number> {
  return (await trainMiaAttack(args.retainTrueProb, args.testTrueProb, args)).nonMemberRate(args.forgetTrueProb);
}

export interface ModelMetrics {
  forgetAcc: number;
  retainAcc: number;
  testAcc: number;
  forgetLoss: number;
  testLoss: number;
  mia: number;
  /** Accuracy of the MIA attack on its own balanced training set (≈ 0.5: the attack separates nothing). */
  miaAttackTrainAcc: number;
}

export interface EvaluatedSplits {
  metrics: ModelMetrics;
  forget: EvalResult;
  retain: EvalResult;
  test: EvalResult;
}

/** Accuracy on forget, retain and test (every example), MIA efficacy, and the per-example outputs. */
export async function measureModel(model: Model, splits: { forget: Split; retain: Split; test: Split }, opts: MiaOptions & { batchSize?: number } = {}): Promise<EvaluatedSplits> {
  const driver = opts.driver ?? new Driver();
  const forget = await evaluate(model, splits.forget, { batchSize: opts.batchSize, driver, phase: 'evaluate.forget' });
  const retain = await evaluate(model, splits.retain, { batchSize: opts.batchSize, driver, phase: 'evaluate.retain' });
  const test = await evaluate(model, splits.test, { batchSize: opts.batchSize, driver, phase: 'evaluate.test' });
  const attack = await trainMiaAttack(retain.perExample.trueProb, test.perExample.trueProb, { ...opts, driver });
  const mia = attack.nonMemberRate(forget.perExample.trueProb);
  return {
    metrics: { forgetAcc: forget.accuracy, retainAcc: retain.accuracy, testAcc: test.accuracy, forgetLoss: forget.loss, testLoss: test.loss, mia, miaAttackTrainAcc: attack.trainAccuracy },
    forget,
    retain,
    test,
  };
}

export interface Gaps {
  /** Δ_X = X_oracle − X_unlearned (smaller |Δ| is better). */
  forget: number;
  mia: number;
  test: number;
  retain: number;
}

export function gapsToOracle(unlearned: ModelMetrics, oracle: ModelMetrics): Gaps {
  return {
    forget: oracle.forgetAcc - unlearned.forgetAcc,
    mia: oracle.mia - unlearned.mia,
    test: oracle.testAcc - unlearned.testAcc,
    retain: oracle.retainAcc - unlearned.retainAcc,
  };
}

/** Tug-of-war (RUM): Π over {forget, retain, test} of (1 − |acc_u − acc_o|), accuracies in [0, 1]. */
export function tugOfWar(unlearned: Pick<ModelMetrics, 'forgetAcc' | 'retainAcc' | 'testAcc'>, oracle: Pick<ModelMetrics, 'forgetAcc' | 'retainAcc' | 'testAcc'>): number {
  return (1 - Math.abs(unlearned.forgetAcc - oracle.forgetAcc)) * (1 - Math.abs(unlearned.retainAcc - oracle.retainAcc)) * (1 - Math.abs(unlearned.testAcc - oracle.testAcc));
}

/** Number and fraction of trainable entries whose value differs (bitwise, as float32) between two weight sets. */
export function paramsChanged(before: Map<string, Float32Array>, after: Map<string, Float32Array>): { changed: number; total: number; fraction: number; perParam: Record<string, number> } {
  let changed = 0, total = 0;
  const perParam: Record<string, number> = {};
  for (const [name, a] of before) {
    const b = after.get(name);
    if (!b || b.length !== a.length) throw new Error(`paramsChanged: ${name} missing or resized`);
    const ua = new Uint32Array(a.buffer, a.byteOffset, a.length), ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
    let c = 0;
    for (let i = 0; i < a.length; i++) if (ua[i] !== ub[i]) c++;
    perParam[name] = c;
    changed += c;
    total += a.length;
  }
  return { changed, total, fraction: total ? changed / total : 0, perParam };
}

/** Snapshot of the trainable parameters as Float32Arrays (copies). */
export async function snapshotParams(model: Model): Promise<Map<string, Float32Array>> {
  const out = new Map<string, Float32Array>();
  for (const p of model.params()) out.set(p.name, Float32Array.from((await p.variable.data()) as Float32Array));
  return out;
}
