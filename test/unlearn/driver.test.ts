// The loop driver (ml/driver.ts) through the library: every algorithm's epochs yield to the event loop and
// report progress, an aborted signal stops a run with CancelledError, and a run resumed from an epoch
// checkpoint ends bit-identical to the uninterrupted one (one-split loops, NegGrad+'s paired batches,
// SCRUB's two passes, DEL's localized reset, retrain's train()). Small MLP on the synthetic set, fixed seeds.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { initBackend } from '../../ml/backend.js';
import { loadDataset } from '../../ml/data/load.js';
import type { Dataset } from '../../ml/data/types.js';
import { buildModel, type Model } from '../../ml/models.js';
import { train } from '../../ml/train.js';
import { saveCheckpoint, loadCheckpoint } from '../../ml/checkpoint.js';
import { Driver, type LoopProgress } from '../../ml/driver.js';
import { CancelledError } from '../../ml/errors.js';
import { unlearn, snapshotParams, measureModel, forgetRetainSplits, localize } from '../../ml/unlearn/index.js';

let ds: Dataset;
let original: Model;
let forgetIds: Int32Array;
const data = () => ({ train: ds.train, test: ds.test });

before(async () => {
  await initBackend();
  ds = await loadDataset({ name: 'synthetic', numClasses: 4, perClass: 60, testPerClass: 20, memorizedPerClass: 3, seed: 0 });
  forgetIds = Int32Array.from(ds.meta.memorizedIds as number[]);
  original = buildModel({ arch: 'mlp', hidden: [32] }, ds.inputShape, ds.numClasses, 1);
  await train(original, ds.train, { epochs: 4, batchSize: 16, lr: 0.05, momentum: 0.9, weightDecay: 0, seed: 1 });
});

function bitEqual(a: Map<string, Float32Array>, b: Map<string, Float32Array>): boolean {
  for (const [name, x] of a) {
    const y = b.get(name)!;
    const ux = new Uint32Array(x.buffer, x.byteOffset, x.length), uy = new Uint32Array(y.buffer, y.byteOffset, y.length);
    for (let i = 0; i < ux.length; i++) if (ux[i] !== uy[i]) return false;
  }
  return true;
}

const RESUMABLE: [string, Record<string, unknown>][] = [
  ['finetune', { epochs: 3, lr: 0.02, batchSize: 32 }],
  ['neggrad-plus', { epochs: 3, lr: 0.02, batchSize: 5 }], // 46 retain steps, forget batches cycle by 3: the queue crosses epochs
  ['scrub', { epochs: 3, lr: 0.01, batchSize: 32, maxSteps: 2, forgetBatchSize: 8 }],
  ['l1-sparse', { epochs: 3, lr: 0.02, batchSize: 32 }],
  ['del', { epochs: 3, lr: 0.02, batchSize: 32 }],
  ['retrain', { epochs: 3, lr: 0.05, batchSize: 32 }],
];

for (const [algorithm, hparams] of RESUMABLE) {
  void test(`${algorithm}: resumed from its epoch-1 checkpoint, the run ends bit-identical to the uninterrupted one`, async () => {
    let ckpt: Uint8Array | undefined;
    const full = await unlearn({
      model: original, data: data(), forgetIds, algorithm, hparams, seed: 4, evaluate: false,
      onEpoch: async (e) => { if (e.state.epochsDone === 1) ckpt = await saveCheckpoint(e.model, { trainState: e.state }); },
    });
    assert.ok(ckpt, 'a checkpoint after epoch 1');
    if (algorithm === 'neggrad-plus') assert.ok((loadCheckpoint(ckpt).trainState?.extra?.forgetQueue as unknown[]).length > 0, 'a forget batch left over at the epoch boundary');
    const epochsSeen: number[] = [];
    const resumed = await unlearn({
      model: original, data: data(), forgetIds, algorithm, hparams, seed: 4, evaluate: false, resume: loadCheckpoint(ckpt),
      onEpoch: (e) => void epochsSeen.push(e.epoch),
    });
    assert.equal(resumed.resumedFromEpoch, 1);
    assert.deepEqual(epochsSeen, [1, 2], 'only the remaining epochs run');
    assert.ok(bitEqual(await snapshotParams(full.model), await snapshotParams(resumed.model)), 'weights differ after resume');
    full.model.dispose();
    resumed.model.dispose();
  });
}

void test('a driven run yields to the event loop and reports phase, epoch, step and ETA', async () => {
  let ticks = 0;
  const ticker = setInterval(() => void ticks++, 1);
  const reports: LoopProgress[] = [];
  const driver = new Driver({ yieldEveryMs: 0, progressEveryMs: 0, onProgress: (p) => void reports.push(p) });
  let ticksDuringEpoch0 = -1;
  try {
    await unlearn({
      model: original, data: data(), forgetIds, algorithm: 'scrub', hparams: { epochs: 2, lr: 0.01, batchSize: 16 }, seed: 1, driver,
      onEpoch: (e) => { if (e.epoch === 0) ticksDuringEpoch0 = ticks; },
    });
  } finally {
    clearInterval(ticker);
  }
  assert.ok(driver.yields > 0);
  assert.ok(ticksDuringEpoch0 > 0, 'a timer ran while the first epoch computed');
  const epochReports = reports.filter((p) => p.phase === 'unlearn');
  assert.ok(epochReports.some((p) => p.epoch === 1 && p.epochs === 2 && p.steps !== undefined && p.step > 0 && p.etaSeconds !== undefined));
  assert.ok(reports.some((p) => p.phase.startsWith('evaluate')), 'evaluation is driven too');
  assert.ok(reports.some((p) => p.phase === 'svm'), 'the MIA SVM is driven too');
});

void test('an aborted signal stops an unlearning run, localization and evaluation with CancelledError', async () => {
  const abort = new AbortController();
  let epochs = 0;
  await assert.rejects(
    unlearn({
      model: original, data: data(), forgetIds, algorithm: 'finetune', hparams: { epochs: 50, lr: 0.01, batchSize: 16 }, seed: 1,
      driver: new Driver({ signal: abort.signal, yieldEveryMs: 0 }),
      onEpoch: (e) => { epochs++; if (e.epoch === 1) setImmediate(() => abort.abort('sweep cancelled')); },
    }),
    (e: unknown) => e instanceof CancelledError && /sweep cancelled/.test(e.message),
  );
  assert.ok(epochs >= 2 && epochs < 50, `stopped after ${epochs} epochs`);
  const aborted = new Driver({ signal: AbortSignal.abort() });
  const { forget, retain } = forgetRetainSplits(ds.train, forgetIds);
  await assert.rejects(localize({ model: original, forget }, { strategy: 'wg-channel', alpha: 0.1, driver: aborted }), CancelledError);
  await assert.rejects(measureModel(original, { forget, retain, test: ds.test }, { driver: aborted }), CancelledError);
});
