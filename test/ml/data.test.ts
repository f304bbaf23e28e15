// Data sets load with the right counts, shapes, label ranges and stable ids (synthetic and MNIST).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadDataset, subsetByIds, complementIds, batchPositions, positionsOfIds } from '../../ml/data/index.js';
import { Rng } from '../../ml/rng.js';
import { mlConfig } from '../../config/index.js';

const cacheDir = mlConfig(process.env).dataDir;

function labelHistogram(y: Int32Array, k: number): number[] {
  const h = new Array<number>(k).fill(0);
  for (const v of y) {
    assert.ok(v >= 0 && v < k, `label ${v} outside 0..${k - 1}`);
    h[v]++;
  }
  return h;
}

void test('synthetic: counts, planted memorized examples, determinism', async () => {
  const a = await loadDataset({ name: 'synthetic', perClass: 50, testPerClass: 20, numClasses: 3, memorizedPerClass: 2, seed: 5 });
  const b = await loadDataset({ name: 'synthetic', perClass: 50, testPerClass: 20, numClasses: 3, memorizedPerClass: 2, seed: 5 });
  const c = await loadDataset({ name: 'synthetic', perClass: 50, testPerClass: 20, numClasses: 3, memorizedPerClass: 2, seed: 6 });
  assert.equal(a.train.count, 150);
  assert.equal(a.test.count, 60);
  assert.deepEqual(a.inputShape, [8, 8, 1]);
  assert.equal(a.train.x.length, 150 * 64);
  const mem = a.meta.memorizedIds as number[];
  const orig = a.meta.originalLabels as Record<string, number>;
  assert.equal(mem.length, 6);
  for (const id of mem) assert.notEqual(a.train.y[positionsOfIds(a.train, [id])[0]], orig[String(id)], `memorized id ${id} kept its label`);
  // labels of the test split are balanced and untouched
  assert.deepEqual(labelHistogram(a.test.y, 3), [20, 20, 20]);
  assert.deepEqual(Array.from(a.train.x.subarray(0, 64)), Array.from(b.train.x.subarray(0, 64)));
  assert.notDeepEqual(Array.from(a.train.x.subarray(0, 64)), Array.from(c.train.x.subarray(0, 64)));
});

void test('split helpers keep ids and never drop the last batch', async () => {
  const d = await loadDataset({ name: 'synthetic', perClass: 10, testPerClass: 2 });
  const forget = [3, 17, 22];
  const f = subsetByIds(d.train, forget);
  assert.deepEqual(Array.from(f.ids), forget);
  assert.deepEqual(Array.from(f.x.subarray(64, 128)), Array.from(d.train.x.subarray(17 * 64, 18 * 64)));
  const retain = complementIds(d.train, forget);
  assert.equal(retain.length, d.train.count - 3);
  assert.ok(!retain.includes(17));
  assert.throws(() => subsetByIds(d.train, [99999]), /99999/);
  const batches = batchPositions(41, 8, new Rng(1));
  assert.equal(batches.length, 6);
  assert.equal(batches[5].length, 1);
  const seen = new Set<number>();
  for (const b of batches) for (const p of b) seen.add(p);
  assert.equal(seen.size, 41);
});

void test('MNIST: 60k/10k, 28x28x1 in [0,1], labels 0..9, stratified subsample keeps ids', async () => {
  const full = await loadDataset({ name: 'mnist', cacheDir });
  assert.equal(full.train.count, 60000);
  assert.equal(full.test.count, 10000);
  assert.deepEqual(full.inputShape, [28, 28, 1]);
  const h = labelHistogram(full.train.y, 10);
  assert.equal(h.reduce((p, q) => p + q, 0), 60000);
  assert.equal(h[1], 6742); // the known MNIST train count of digit 1
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < 784 * 100; i++) {
    min = Math.min(min, full.train.x[i]);
    max = Math.max(max, full.train.x[i]);
  }
  assert.equal(min, 0);
  assert.equal(max, 1);
  assert.deepEqual([full.train.y[0], full.train.y[1], full.test.y[0]], [5, 0, 7]); // first labels of the IDX files
  const sub = await loadDataset({ name: 'mnist', perClass: 100, testPerClass: 20, seed: 3, cacheDir });
  assert.equal(sub.train.count, 1000);
  assert.equal(sub.test.count, 200);
  assert.deepEqual(labelHistogram(sub.train.y, 10), new Array(10).fill(100));
  // ids point back into the full set
  for (const p of [0, 500, 999]) {
    const id = sub.train.ids[p];
    assert.equal(sub.train.y[p], full.train.y[id]);
    assert.deepEqual(Array.from(sub.train.x.subarray(p * 784, p * 784 + 784)), Array.from(full.train.x.subarray(id * 784, id * 784 + 784)));
  }
  const again = await loadDataset({ name: 'mnist', perClass: 100, testPerClass: 20, seed: 3, cacheDir });
  assert.deepEqual(Array.from(again.train.ids), Array.from(sub.train.ids));
});
