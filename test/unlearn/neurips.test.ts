// NeurIPS 2023 forgetting score on real models (synthetic set, planted memorized forget set, N = 3):
// models trained on all of D (they memorized D_f) score far below independent oracles compared with oracles.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initBackend } from '../../ml/backend.js';
import { loadDataset } from '../../ml/data/load.js';
import { buildModel, type ModelSpec } from '../../ml/models.js';
import { train } from '../../ml/train.js';
import { evaluate, predictLogits } from '../../ml/eval.js';
import type { Split } from '../../ml/data/types.js';
import { forgetRetainSplits, logitScaledConfidence, neuripsScore } from '../../ml/unlearn/index.js';

const SPEC: ModelSpec = { arch: 'mlp', hidden: [64] };

void test('NeurIPS score: memorizing models vs oracles score low, oracles vs oracles score high', async (t) => {
  await initBackend();
  const ds = await loadDataset({ name: 'synthetic', numClasses: 4, perClass: 100, testPerClass: 50, memorizedPerClass: 5, seed: 1 });
  const forgetIds = Int32Array.from(ds.meta.memorizedIds as number[]);
  const { forget, retain } = forgetRetainSplits(ds.train, forgetIds);
  const run = async (split: Split, seed: number): Promise<{ conf: Float64Array; ra: number; ta: number }> => {
    const m = buildModel(SPEC, ds.inputShape, ds.numClasses, seed);
    await train(m, split, { epochs: 25, batchSize: 32, lr: 0.05, momentum: 0.9, weightDecay: 0, seed });
    const out = { conf: logitScaledConfidence(await predictLogits(m, forget), forget.y, ds.numClasses), ra: (await evaluate(m, retain)).accuracy, ta: (await evaluate(m, ds.test)).accuracy };
    m.dispose();
    return out;
  };
  type Run = { conf: Float64Array; ra: number; ta: number };
  const full: Run[] = [], oraA: Run[] = [], oraB: Run[] = [];
  for (let s = 1; s <= 3; s++) {
    full.push(await run(ds.train, s));
    oraA.push(await run(retain, 10 + s));
    oraB.push(await run(retain, 20 + s));
  }
  const score = (u: Run[], r: Run[]) => neuripsScore({
    unlearnedConfs: u.map((x) => x.conf), retrainedConfs: r.map((x) => x.conf),
    unlearnedRetainAcc: u.map((x) => x.ra), retrainedRetainAcc: r.map((x) => x.ra),
    unlearnedTestAcc: u.map((x) => x.ta), retrainedTestAcc: r.map((x) => x.ta),
  });
  const bad = score(full, oraA), good = score(oraB, oraA);
  t.diagnostic(`oracle vs oracle: F ${good.forgetQuality.toFixed(3)} score ${good.score.toFixed(3)}; memorizer vs oracle: F ${bad.forgetQuality.toFixed(3)} score ${bad.score.toFixed(3)}`);
  assert.ok(good.score >= 0 && good.score <= 1.05 && bad.score >= 0, `scores ${good.score}, ${bad.score}`);
  assert.ok(good.forgetQuality > bad.forgetQuality + 0.2, `oracle-vs-oracle F ${good.forgetQuality} should exceed memorizer-vs-oracle F ${bad.forgetQuality}`);
});
