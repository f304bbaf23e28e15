// The small CNN reaches >= 97% test accuracy on a 10k MNIST subset on the WebAssembly backend.
// The longest ML test (about a minute on an idle core; 3 epochs).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initBackend } from '../../ml/backend.js';
import { loadDataset } from '../../ml/data/index.js';
import { buildModel } from '../../ml/models.js';
import { train } from '../../ml/train.js';
import { evaluate } from '../../ml/eval.js';
import { mlConfig } from '../../config/index.js';

void test('small CNN on 10k MNIST reaches >= 97% test accuracy (wasm)', async () => {
  const info = await initBackend({ prefer: 'wasm' });
  assert.equal(info.name, 'wasm');
  const ds = await loadDataset({ name: 'mnist', perClass: 1000, seed: 0, cacheDir: mlConfig(process.env).dataDir });
  assert.equal(ds.train.count, 10000);
  const model = buildModel({ arch: 'cnn', channels: [16, 32], dense: 64 }, ds.inputShape, ds.numClasses, 0);
  const t0 = performance.now();
  const { history } = await train(model, ds.train, { epochs: 3, batchSize: 64, lr: 0.05, momentum: 0.9, weightDecay: 5e-4, seed: 0 });
  const seconds = (performance.now() - t0) / 1000;
  const r = await evaluate(model, ds.test);
  console.log(`mnist cnn: train ${seconds.toFixed(1)} s (${((3 * 10000) / seconds).toFixed(0)} samples/s), losses ${history.map((h) => h.loss.toFixed(3)).join(' ')}, test accuracy ${r.accuracy}`);
  assert.equal(r.count, 10000);
  assert.ok(r.accuracy >= 0.97, `test accuracy ${r.accuracy} < 0.97`);
  model.dispose();
});
