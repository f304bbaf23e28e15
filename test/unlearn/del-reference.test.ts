// DEL's localization pinned to the reference formulas: per-entry weighted-gradient scores, channel aggregation
// ('topk' for CNNs, row mean for transformers) and the global top-⌊α·P⌋ mask of our library, on fixed weights and a
// fixed 256-example forget set, against numbers computed once in float64 by scripts/reference/del_scores_reference.py
// (PyTorch layout, manual backprop; committed as test/fixtures/del-scores-reference.json). A change to the score,
// the aggregation, the batch convention or the ranking fails here.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { initBackend } from '../../ml/backend.js';
import { buildModel, type Model } from '../../ml/models.js';
import type { Split } from '../../ml/data/types.js';
import { gradientScores, localize, channelScores, unlearn, LocalizationConfigError } from '../../ml/unlearn/index.js';

interface FixtureParam {
  shape: number[];
  weight: number[];
  score: number[];
  channel_topk?: number[];
  channel_mean?: number[];
  mask_topk: number[];
  mask_mean: number[];
}
interface Fixture {
  model: { arch: 'mlp'; hidden: number[]; inputShape: number[]; numClasses: number };
  alpha: number;
  batchSize: number;
  x: number[];
  y: number[];
  params: Record<string, FixtureParam>;
}

const fx = JSON.parse(readFileSync(new URL('../fixtures/del-scores-reference.json', import.meta.url), 'utf8')) as Fixture;
let model: Model;
let forget: Split;

before(async () => {
  await initBackend();
  model = buildModel({ arch: 'mlp', hidden: fx.model.hidden }, fx.model.inputShape, fx.model.numClasses, 0);
  model.setWeights(new Map(Object.entries(fx.params).map(([name, p]) => [name, { shape: p.shape, data: Float32Array.from(p.weight) }])));
  const count = fx.y.length;
  forget = { x: Float32Array.from(fx.x), y: Int32Array.from(fx.y), ids: Int32Array.from({ length: count }, (_, i) => i), count, exampleShape: fx.model.inputShape };
});

/** Largest |a − b| relative to the largest |b| of the tensor (scores span orders of magnitude). */
function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let scale = 0, worst = 0;
  for (let i = 0; i < b.length; i++) scale = Math.max(scale, Math.abs(b[i]));
  for (let i = 0; i < b.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return scale > 0 ? worst / scale : worst;
}

void test('per-entry scores |θ · Σ_batches ∂L/∂θ| equal the reference to float32 rounding', async () => {
  const ours = await gradientScores(model, forget, true, fx.batchSize);
  assert.deepEqual(ours.map((p) => p.name).sort(), Object.keys(fx.params).sort());
  for (const p of ours) {
    const ref = fx.params[p.name];
    assert.deepEqual(p.shape, ref.shape, p.name);
    const e = relErr(p.scores, ref.score);
    assert.ok(e < 1e-4, `${p.name}: relative error ${e.toExponential(2)}`);
  }
});

void test("channel aggregation: mean of the top ⌊0.1·rows⌋ entries ('topk') and the row mean ('mean') equal the reference", () => {
  for (const [name, ref] of Object.entries(fx.params)) {
    if (ref.shape.length < 2) continue;
    for (const how of ['topk', 'mean'] as const) {
      // aggregation alone, on the reference's own per-entry scores: exact up to float32 rounding
      const agg = channelScores(Float32Array.from(ref.score), ref.shape, how);
      const e = relErr(agg, ref[`channel_${how}`]!);
      assert.ok(e < 1e-6, `${name} ${how}: relative error ${e.toExponential(2)}`);
    }
  }
});

for (const how of ['topk', 'mean'] as const) {
  void test(`the wg-channel mask (${how}) at α = 0.3 agrees with the reference on ≥ 99.8 % of entries, same budget`, async () => {
    const r = await localize({ model, forget }, { strategy: 'wg-channel', alpha: fx.alpha, batchSize: fx.batchSize, channelAggregate: how });
    let total = 0, agree = 0, selected = 0, refSelected = 0;
    for (const [name, ref] of Object.entries(fx.params)) {
      const m = r.mask.get(name)!;
      const want = ref[`mask_${how}`];
      assert.equal(m.length, want.length, name);
      for (let i = 0; i < m.length; i++) {
        total++;
        if (m[i] === want[i]) agree++;
        selected += m[i];
        refSelected += want[i];
      }
    }
    assert.equal(selected, Math.floor(fx.alpha * total));
    assert.equal(selected, refSelected);
    assert.ok(agree / total >= 0.998, `agreement ${((100 * agree) / total).toFixed(3)} %`);
  });
}

void test('the default channel aggregation follows the architecture: row mean for ViT, top-k otherwise', async () => {
  const cnnLike = await localize({ model, forget }, { strategy: 'wg-channel', alpha: fx.alpha, batchSize: fx.batchSize });
  assert.equal(cnnLike.params.channelAggregate, 'topk');
  const vit = buildModel({ arch: 'vit', patch: 2, dim: 8, depth: 1, heads: 2, mlpDim: 16 }, [4, 4, 1], 3, 0);
  try {
    const tiny: Split = { x: new Float32Array(4 * 16).map((_, i) => Math.sin(i)), y: Int32Array.from([0, 1, 2, 0]), ids: Int32Array.from([0, 1, 2, 3]), count: 4, exampleShape: [4, 4, 1] };
    const r = await localize({ model: vit, forget: tiny }, { strategy: 'wg-channel', alpha: 0.3 });
    assert.equal(r.params.channelAggregate, 'mean');
    const forced = await localize({ model: vit, forget: tiny }, { strategy: 'wg-channel', alpha: 0.3, channelAggregate: 'topk' });
    assert.equal(forced.params.channelAggregate, 'topk');
  } finally {
    vit.dispose();
  }
});

void test('DEL given an explicit localization still resets (reset recorded, seed recorded); reset: false is refused', async () => {
  // train = the 256 fixture examples; the first 32 are the forget set
  const data = { train: forget, test: forget };
  const forgetIds = Int32Array.from({ length: 32 }, (_, i) => i);
  const r = await unlearn({
    model, data, forgetIds, algorithm: 'del', hparams: { epochs: 1, lr: 0.01, batchSize: 64 }, seed: 3, evaluate: false,
    localization: { strategy: 'wg-channel', alpha: 0.3 },
  });
  try {
    assert.equal(r.localization?.reset, true);
    assert.equal(typeof r.localization?.resetSeed, 'number');
    assert.equal(r.localization?.headTrainable, true);
  } finally {
    r.model.dispose();
  }
  await assert.rejects(
    unlearn({ model, data, forgetIds, algorithm: 'del', hparams: { epochs: 1 }, seed: 3, evaluate: false, localization: { strategy: 'wg-channel', alpha: 0.3, reset: false } }),
    (e: Error) => e instanceof LocalizationConfigError && /always resets/.test(e.message),
  );
});
