// Pure logic of ml/unlearn: budget/tie semantics of mask selection, channel aggregation, the SVM against
// analytic answers and KKT conditions, the t-interval against tabulated quantiles, forget sets, NeurIPS score.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { selectTopK, channelScores, budgetCount, selectByDepth, randomChannelsLike, maskCount, topH, encodeMask, decodeMask, type ParamScores } from '../../ml/unlearn/select.js';
import { trainSvm, svmPredict, svmDecision } from '../../ml/unlearn/svm.js';
import { tQuantile, meanCI } from '../../ml/unlearn/stats.js';
import { selectForgetSet, memorizationFromLearningSpeed, randomHalves, memorizationFromHalves } from '../../ml/unlearn/forget-sets.js';
import { bucketPoints, exampleEpsilon, forgetQuality } from '../../ml/unlearn/neurips.js';
import { Rng } from '../../ml/rng.js';

function randomParams(seed: number): ParamScores[] {
  const rng = new Rng(seed);
  const shapes: [string, number[]][] = [['conv1/kernel', [3, 3, 1, 8]], ['conv1/bias', [8]], ['conv2/kernel', [3, 3, 8, 16]], ['dense1/kernel', [64, 12]], ['head/kernel', [12, 4]], ['head/bias', [4]]];
  return shapes.map(([name, shape]) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const s = new Float32Array(n);
    for (let i = 0; i < n; i++) s[i] = Math.abs(rng.normal()) * (rng.next() < 0.2 ? 0 : 1); // many exact ties at 0
    return { name, shape, scores: s };
  });
}

void test('budget is floor(alpha*P), robust to float error', () => {
  assert.equal(budgetCount(0.29, 100), 29);
  assert.equal(budgetCount(0.3, 10), 3);
  assert.equal(budgetCount(0.3, 7), 2);
  assert.equal(budgetCount(0, 7), 0);
  assert.equal(budgetCount(1, 7), 7);
});

void test('parameter-level selection picks exactly floor(alpha*P) entries, all above-threshold ones, ties in fixed order', () => {
  for (const alpha of [0.01, 0.1, 0.3, 0.5, 0.8, 0.95]) {
    const params = randomParams(1);
    const P = params.reduce((a, p) => a + p.scores.length, 0);
    const mask = selectTopK(params, alpha);
    assert.equal(maskCount(mask), Math.floor(alpha * P + 1e-9), `alpha ${alpha}`);
    // every selected score >= every unselected score
    let minSel = Infinity, maxUnsel = -Infinity;
    for (const p of params) {
      const m = mask.get(p.name)!;
      for (let i = 0; i < m.length; i++) {
        if (m[i]) minSel = Math.min(minSel, p.scores[i]); else maxUnsel = Math.max(maxUnsel, p.scores[i]);
      }
    }
    assert.ok(minSel >= maxUnsel, `alpha ${alpha}: ${minSel} < ${maxUnsel}`);
  }
});

void test('channel scores: mean of top-h of each row (h = max(1, floor(0.1 rows))), 1-D kept', () => {
  // dense [in=3, out=20]: rows = 20 -> h = 2; row r has entries at flat j*20+r
  const shape = [3, 20];
  const s = new Float32Array(60);
  for (let j = 0; j < 3; j++) for (let r = 0; r < 20; r++) s[j * 20 + r] = r + j * 100;
  assert.equal(topH(shape), 2);
  const c = channelScores(s, shape);
  for (let r = 0; r < 20; r++) {
    const expect = ((r + 100) + (r + 200)) / 2;
    for (let j = 0; j < 3; j++) assert.equal(c[j * 20 + r], expect);
  }
  const b = Float32Array.from([3, 1, 2]);
  assert.deepEqual(Array.from(channelScores(b, [3])), [3, 1, 2]);
  // h capped at row length: conv [1,1,2,40] rows 40 -> h = min(2, 4) = 2... row length 2 -> mean of both
  const c2 = channelScores(Float32Array.from({ length: 80 }, (_, i) => i), [1, 1, 2, 40], 'topk');
  assert.equal(c2[0], (0 + 40) / 2);
  assert.deepEqual(Array.from(channelScores(Float32Array.from([1, 2, 3, 4]), [2, 2], 'mean')), [2, 3, 2, 3]);
});

void test('channel-level masks select whole rows except at most one row at the cut-off', () => {
  for (const alpha of [0.05, 0.2, 0.3, 0.5, 0.77]) {
    const params = randomParams(7).map((p) => ({ ...p, scores: channelScores(p.scores, p.shape) }));
    // force ties between channels: quantize scores
    for (const p of params) for (let i = 0; i < p.scores.length; i++) p.scores[i] = Math.round(p.scores[i] * 2) / 2;
    const P = params.reduce((a, p) => a + p.scores.length, 0);
    const mask = selectTopK(params, alpha);
    assert.equal(maskCount(mask), budgetCount(alpha, P));
    let partial = 0;
    for (const p of params) {
      if (p.shape.length < 2) continue;
      const rows = p.shape[p.shape.length - 1], len = p.scores.length / rows;
      const m = mask.get(p.name)!;
      for (let r = 0; r < rows; r++) {
        let c = 0;
        for (let j = 0; j < len; j++) c += m[j * rows + r];
        if (c !== 0 && c !== len) partial++;
      }
    }
    assert.ok(partial <= 1, `alpha ${alpha}: ${partial} partial rows`);
  }
});

void test('NaN scores are rejected with the parameter name', () => {
  assert.throws(() => selectTopK([{ name: 'w', shape: [2], scores: Float32Array.from([1, NaN]) }], 0.5), /NaN score in w\[1\]/);
});

void test('depth strategies and random-channel control keep the budget', () => {
  const params = randomParams(3);
  const P = params.reduce((a, p) => a + p.scores.length, 0);
  for (const which of ['deepest', 'shallowest'] as const) {
    const m = selectByDepth(params, 0.3, which);
    assert.equal(maskCount(m), budgetCount(0.3, P));
  }
  const deep = selectByDepth(params, 0.1, 'deepest');
  assert.equal(maskCount(new Map([['head/bias', deep.get('head/bias')!]])), 4);
  assert.equal(maskCount(new Map([['conv1/kernel', deep.get('conv1/kernel')!]])), 0);
  const ref = selectTopK(params.map((p) => ({ ...p, scores: channelScores(p.scores, p.shape) })), 0.3);
  const rnd = randomChannelsLike(ref, params, new Rng(5));
  for (const [name, m] of ref) assert.equal(maskCount(new Map([[name, rnd.get(name)!]])), maskCount(new Map([[name, m]])), name);
  const rnd2 = randomChannelsLike(ref, params, new Rng(5));
  for (const [name, m] of rnd) assert.deepEqual(rnd2.get(name), m);
});

void test('SVM: two-point RBF problem matches the analytic dual solution', async () => {
  // x = 0 (−1), x = 1 (+1), γ = 1: α1 = α2 = 1 / (1 − e^{−1}), ρ = 0 (symmetric)
  const m = await trainSvm([0, 1], 1, [-1, 1], { C: 3, gamma: 1, tol: 1e-9 });
  const a = 1 / (1 - Math.exp(-1));
  assert.ok(Math.abs(m.alpha[0] - a) < 1e-6 && Math.abs(m.alpha[1] - a) < 1e-6, `alpha ${m.alpha}`);
  assert.ok(Math.abs(m.rho) < 1e-6);
  const f = svmDecision(m, [0, 1, 0.5]);
  assert.ok(Math.abs(f[0] + 1) < 1e-6 && Math.abs(f[1] - 1) < 1e-6 && Math.abs(f[2]) < 1e-6);
  // with C below the unconstrained α, both are at the bound C
  const mc = await trainSvm([0, 1], 1, [-1, 1], { C: 1, gamma: 1, tol: 1e-9 });
  assert.ok(Math.abs(mc.alpha[0] - 1) < 1e-9 && Math.abs(mc.alpha[1] - 1) < 1e-9);
});

void test('SVM: KKT conditions hold on overlapping random data and it separates shifted classes', async () => {
  const rng = new Rng(11);
  const n = 300, x: number[] = [], y: number[] = [];
  for (let i = 0; i < n; i++) { const c = i % 2 ? 1 : -1; y.push(c); x.push(c * 0.6 + rng.normal() * 0.5); }
  const m = await trainSvm(x, 1, y, { C: 3, gamma: 1, tol: 1e-4 });
  assert.ok(m.converged);
  const f = svmDecision(m, x);
  let sumAy = 0;
  for (let i = 0; i < n; i++) {
    sumAy += m.alpha[i] * y[i];
    const yf = y[i] * f[i];
    if (m.alpha[i] <= 1e-9) assert.ok(yf >= 1 - 1e-3, `KKT α=0 violated at ${i}: ${yf}`);
    else if (m.alpha[i] >= 3 - 1e-9) assert.ok(yf <= 1 + 1e-3, `KKT α=C violated at ${i}: ${yf}`);
    else assert.ok(Math.abs(yf - 1) < 1e-3, `KKT free violated at ${i}: ${yf}`);
  }
  assert.ok(Math.abs(sumAy) < 1e-9);
  const pred = svmPredict(m, x);
  let acc = 0;
  for (let i = 0; i < n; i++) acc += pred[i] === y[i] ? 1 : 0;
  assert.ok(acc / n > 0.8, `train accuracy ${acc / n}`);
});

void test('t quantiles match tables; meanCI', () => {
  assert.ok(Math.abs(tQuantile(0.975, 1) - 12.7062) < 1e-3);
  assert.ok(Math.abs(tQuantile(0.975, 2) - 4.302653) < 1e-5);
  assert.ok(Math.abs(tQuantile(0.975, 10) - 2.228139) < 1e-5);
  assert.ok(Math.abs(tQuantile(0.975, 1000) - 1.962339) < 1e-5);
  const ci = meanCI([1, 2, 3]);
  assert.equal(ci.mean, 2);
  assert.ok(Math.abs(ci.halfWidth - 4.302653 * 1 / Math.sqrt(3)) < 1e-5);
  assert.ok(Number.isNaN(meanCI([5]).halfWidth));
});

void test('forget sets: sizes, classes, memorization ranking, determinism', () => {
  const n = 1000;
  const labels = Int32Array.from({ length: n }, (_, i) => i % 10);
  const ids = Int32Array.from({ length: n }, (_, i) => 5000 + i);
  const a = selectForgetSet({ kind: 'iid', fraction: 0.1, seed: 3 }, { labels, ids });
  const b = selectForgetSet({ kind: 'iid', fraction: 0.1, seed: 3 }, { labels, ids });
  const c = selectForgetSet({ kind: 'iid', fraction: 0.1, seed: 4 }, { labels, ids });
  assert.equal(a.ids.length, 100);
  assert.deepEqual(a.ids, b.ids);
  assert.notDeepEqual(a.ids, c.ids);
  assert.equal(new Set(a.ids).size, 100);
  for (let i = 1; i < a.ids.length; i++) assert.ok(a.ids[i] > a.ids[i - 1]);
  const k = selectForgetSet({ kind: 'classes', classes: [2, 5], count: 150, seed: 1 }, { labels, ids });
  assert.equal(k.ids.length, 150);
  for (const id of k.ids) assert.ok([2, 5].includes(labels[id - 5000]));
  assert.throws(() => selectForgetSet({ kind: 'classes', classes: [2], count: 150, seed: 1 }, { labels, ids }), /those classes hold 100/);
  const hist = [Uint8Array.from({ length: n }, (_, i) => (i < 30 ? 0 : 1)), Uint8Array.from({ length: n }, (_, i) => (i < 50 ? 0 : 1))];
  const mem = memorizationFromLearningSpeed(hist);
  assert.equal(mem[0], 1); assert.equal(mem[40], 0.5); assert.equal(mem[60], 0);
  const top = selectForgetSet({ kind: 'memorization', mode: 'top', count: 30, seed: 1 }, { labels, ids, memorization: mem });
  assert.deepEqual(Array.from(top.ids), Array.from({ length: 30 }, (_, i) => 5000 + i));
  const top40 = selectForgetSet({ kind: 'memorization', mode: 'top', count: 40, seed: 1 }, { labels, ids, memorization: mem });
  assert.equal(top40.ids.filter((id) => id < 5030).length, 30);
  assert.equal(top40.ids.filter((id) => id >= 5030 && id < 5050).length, 10);
  const band = selectForgetSet({ kind: 'memorization', mode: 'band', band: [0.5, 1], count: 100, seed: 1 }, { labels, ids, memorization: mem });
  for (const id of band.ids) assert.ok(id >= 5050);
  assert.throws(() => selectForgetSet({ kind: 'iid', seed: 1 } as never, { labels }), /exactly one of fraction or count/);
});

void test('NeurIPS score: buckets, identical distributions score high, separated ones score 0', () => {
  assert.equal(bucketPoints(0.2, 10), 1);
  assert.equal(bucketPoints(0.7, 10), 0.5);
  assert.equal(bucketPoints(2.9, 10), 1 / 32);
  assert.equal(bucketPoints(3.1, 10), 0);
  assert.equal(exampleEpsilon([10, 11, 12], [0, 1, 2]), 50); // perfect separation -> inf -> cap
  const rng = new Rng(2);
  const N = 8, m = 50;
  const mk = (shift: number) => Array.from({ length: N }, () => Float64Array.from({ length: m }, () => rng.normal() + shift));
  const same = forgetQuality(mk(0), mk(0)).score;
  const apart = forgetQuality(mk(0), mk(20)).score;
  assert.ok(same > 0.15, `same ${same}`); // small N: sampling noise alone gives ε > 0
  assert.equal(apart, 0);
});

void test('held-out memorization estimate from random halves', () => {
  const n = 40, k = 6;
  const halves = randomHalves(n, k, 1);
  for (const h of halves) assert.equal(h.reduce((a, b) => a + b, 0), 20);
  // example 0..9 "memorized": correct only when trained on; others always correct
  const correct = halves.map((h) => Uint8Array.from({ length: n }, (_, i) => (i < 10 ? h[i] : 1)));
  const { scores, coverage } = memorizationFromHalves(correct, halves);
  for (let i = 0; i < n; i++) {
    const seenIn = halves.some((h) => h[i] === 1), seenOut = halves.some((h) => h[i] === 0);
    if (!(seenIn && seenOut)) continue;
    assert.equal(scores[i], i < 10 ? 1 : 0, `example ${i}`);
  }
  assert.ok(coverage >= 30);
});

void test('masks round-trip through bytes', () => {
  const params = randomParams(4);
  const mask = selectTopK(params, 0.3);
  const bytes = encodeMask(mask, { strategy: 'wg-param', alpha: 0.3 });
  const back = decodeMask(bytes);
  assert.deepEqual(back.meta, { strategy: 'wg-param', alpha: 0.3 });
  assert.deepEqual([...back.mask.keys()], [...mask.keys()]);
  for (const [n, m] of mask) assert.deepEqual(back.mask.get(n), m);
  assert.throws(() => decodeMask(bytes.subarray(0, 20)), /exceeds|past the end/);
});
