// Training semantics: checkpoint round trip, resume == uninterrupted, masked updates, divergence, eval.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../../ml/tf.js';
import { initBackend } from '../../ml/backend.js';
import { loadDataset } from '../../ml/data/index.js';
import { buildModel, type Model, type ModelSpec } from '../../ml/models.js';
import { train, DivergenceError, lrAt, type TrainConfig, type ParamMask, type TrainState } from '../../ml/train.js';
import { saveCheckpoint, loadCheckpoint, applyCheckpoint, modelFromCheckpoint, decodeSafetensors } from '../../ml/checkpoint.js';
import { evaluate } from '../../ml/eval.js';
import { Rng } from '../../ml/rng.js';

const RESNET: ModelSpec = { arch: 'resnet', width: 4, blocksPerStage: [1, 1] };
const CONFIG: TrainConfig = { epochs: 4, batchSize: 32, lr: 0.05, momentum: 0.9, weightDecay: 5e-4, seed: 11 };

function snapshot(model: Model): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  for (const { name, variable } of [...model.params(), ...model.buffers()]) out.set(name, Float32Array.from(variable.dataSync() as Float32Array));
  return out;
}

function assertBitEqual(a: Map<string, Float32Array>, b: Map<string, Float32Array>, what: string): void {
  assert.deepEqual([...a.keys()], [...b.keys()], `${what}: names differ`);
  for (const [name, x] of a) {
    const y = b.get(name)!;
    assert.ok(Buffer.from(x.buffer, x.byteOffset, x.byteLength).equals(Buffer.from(y.buffer, y.byteOffset, y.byteLength)), `${what}: ${name} differs`);
  }
}

void test('backend, lr schedule', async () => {
  const info = await initBackend({ prefer: 'wasm' });
  assert.equal(info.name, 'wasm');
  assert.equal(lrAt({ lr: 1, epochs: 10 }, 0), 1);
  assert.ok(Math.abs(lrAt({ lr: 1, epochs: 10 }, 5) - 0.505) < 1e-12);
  assert.ok(lrAt({ lr: 1, epochs: 10 }, 9) > 0.01 && lrAt({ lr: 1, epochs: 10 }, 9) < 0.04);
});

void test('checkpoint round-trips bit-exact (weights, BN buffers, optimizer, rng, history)', async () => {
  await initBackend({ prefer: 'wasm' });
  const ds = await loadDataset({ name: 'synthetic', perClass: 40, testPerClass: 10 });
  const model = buildModel(RESNET, ds.inputShape, ds.numClasses, 3);
  let state: TrainState | undefined;
  await train(model, ds.train, { ...CONFIG, epochs: 2 }, { onEpoch: (i) => void (state = i.state), recordPerExampleCorrect: true });
  const bytes = await saveCheckpoint(model, { trainState: state, meta: { note: 'test', nested: { a: [1, 2] } } });
  // safetensors layout: u64 header length, JSON header, 8-byte aligned data
  const hlen = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + hlen)));
  assert.equal(hlen % 8, 0);
  assert.deepEqual(header['conv1/kernel'].shape, [3, 3, 1, 4]);
  assert.equal(header['conv1/kernel'].dtype, 'F32');
  assert.equal(typeof header.__metadata__.meta, 'string');
  const ck = loadCheckpoint(bytes);
  assert.deepEqual(ck.meta.note, 'test');
  assert.deepEqual(ck.meta.modelSpec, RESNET);
  const other = buildModel(RESNET, ds.inputShape, ds.numClasses, 99);
  applyCheckpoint(other, ck);
  assertBitEqual(snapshot(other), snapshot(model), 'applied checkpoint');
  const rebuilt = modelFromCheckpoint(ck);
  assertBitEqual(snapshot(rebuilt), snapshot(model), 'modelFromCheckpoint');
  assert.deepEqual(ck.trainState!.rng, state!.rng);
  assert.deepEqual(ck.trainState!.history, state!.history);
  assert.equal(ck.trainState!.epochsDone, 2);
  assert.equal(ck.trainState!.perExampleCorrect!.length, 2);
  assert.deepEqual(Array.from(ck.trainState!.perExampleCorrect![1]), Array.from(state!.perExampleCorrect![1]));
  for (const [name, t] of state!.optimizer) assert.deepEqual(Array.from(ck.trainState!.optimizer.get(name)!.data), Array.from(t.data), name);
  // saving the loaded checkpoint again gives the same bytes
  const again = await saveCheckpoint(rebuilt, { trainState: ck.trainState, meta: { note: 'test', nested: { a: [1, 2] } } });
  assert.ok(Buffer.from(again).equals(Buffer.from(bytes)), 're-saved checkpoint differs');
  // a Node Buffer (what fs and S3 clients return) decodes the same
  const fromBuffer = loadCheckpoint(Buffer.from(bytes));
  for (const [name, t] of ck.weights) assert.deepEqual(Array.from(fromBuffer.weights.get(name)!.data), Array.from(t.data), `Buffer input: ${name}`);
  assert.throws(() => loadCheckpoint(bytes.subarray(0, 20)), /header length|too short/);
  assert.equal(decodeSafetensors(bytes).tensors.size, ck.weights.size + state!.optimizer.size + 2);
  for (const m of [model, other, rebuilt]) m.dispose();
});

void test('resume from an epoch checkpoint equals the uninterrupted run, bit for bit', async () => {
  await initBackend({ prefer: 'wasm' });
  const ds = await loadDataset({ name: 'synthetic', perClass: 40, testPerClass: 10 });
  const full = buildModel(RESNET, ds.inputShape, ds.numClasses, 5);
  let saved: Uint8Array | undefined;
  const fullRun = await train(full, ds.train, CONFIG, {
    recordPerExampleCorrect: true,
    onEpoch: async (i) => {
      if (i.epoch === 1) saved = await saveCheckpoint(full, { trainState: i.state });
    },
  });
  const ck = loadCheckpoint(saved!);
  const resumed = modelFromCheckpoint(ck);
  const resumedRun = await train(resumed, ds.train, CONFIG, { resume: ck.trainState, recordPerExampleCorrect: true });
  assertBitEqual(snapshot(resumed), snapshot(full), 'resumed vs uninterrupted');
  assert.deepEqual(
    resumedRun.history.map((h) => [h.epoch, h.loss, h.accuracy, h.lr]),
    fullRun.history.map((h) => [h.epoch, h.loss, h.accuracy, h.lr]),
  );
  assert.equal(resumedRun.perExampleCorrect!.length, 4);
  assert.deepEqual(resumedRun.perExampleCorrect!.map((a) => Array.from(a)), fullRun.perExampleCorrect!.map((a) => Array.from(a)));
  // and the same seed from scratch is deterministic
  const again = buildModel(RESNET, ds.inputShape, ds.numClasses, 5);
  await train(again, ds.train, CONFIG);
  assertBitEqual(snapshot(again), snapshot(full), 'second run');
  for (const m of [full, resumed, again]) m.dispose();
});

void test('masked training leaves masked-out and unlisted weights bit-identical', async () => {
  await initBackend({ prefer: 'wasm' });
  const ds = await loadDataset({ name: 'synthetic', perClass: 30, testPerClass: 10 });
  const model = buildModel({ arch: 'cnn', channels: [4, 8], dense: 16 }, ds.inputShape, ds.numClasses, 1);
  const before = snapshot(model);
  const rng = new Rng(3);
  const mask: ParamMask = new Map();
  for (const name of ['conv1/kernel', 'conv2/kernel', 'dense1/kernel']) {
    const p = model.params().find((q) => q.name === name)!;
    mask.set(name, Float32Array.from({ length: p.variable.size }, () => (rng.next() < 0.3 ? 1 : 0)));
  }
  for (const name of model.headParamNames) mask.set(name, new Float32Array(model.params().find((q) => q.name === name)!.variable.size).fill(1));
  await train(model, ds.train, { ...CONFIG, epochs: 2, weightDecay: 1e-2 }, { mask });
  const after = snapshot(model);
  let changedIn = 0;
  for (const [name, b] of before) {
    const a = after.get(name)!;
    const m = mask.get(name);
    for (let i = 0; i < b.length; i++) {
      if (!m || m[i] === 0) assert.ok(Object.is(a[i], b[i]), `${name}[${i}] changed but is masked out`);
      else if (a[i] !== b[i]) changedIn++;
    }
  }
  assert.ok(changedIn > 100, `only ${changedIn} masked-in entries changed`);
  await assert.rejects(train(model, ds.train, CONFIG, { mask: new Map([['nope/kernel', new Float32Array(1)]]) }), /nope\/kernel/);
  model.dispose();
});

void test('NaN/Inf loss raises DivergenceError and keeps the pre-step weights', async () => {
  await initBackend({ prefer: 'wasm' });
  const ds = await loadDataset({ name: 'synthetic', perClass: 20, testPerClass: 5 });
  const model = buildModel({ arch: 'mlp', hidden: [16] }, ds.inputShape, ds.numClasses, 1);
  const before = snapshot(model);
  let calls = 0;
  const err = await train(model, ds.train, { ...CONFIG, epochs: 3 }, {
    loss: (z, y) => {
      calls++;
      const ce = tf.losses.softmaxCrossEntropy(tf.oneHot(tf.cast(y, 'int32'), z.shape[1]), z) as tf.Scalar;
      return calls === 3 ? tf.mul(ce, Infinity) : ce;
    },
  }).then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.ok(err instanceof DivergenceError, `expected DivergenceError, got ${String(err)}`);
  assert.equal(err.epoch, 0);
  assert.equal(err.step, 2);
  assert.notDeepEqual(snapshot(model).get('head/kernel'), before.get('head/kernel'));
  // a bad first step leaves the initial weights untouched
  const fresh = buildModel({ arch: 'mlp', hidden: [16] }, ds.inputShape, ds.numClasses, 1);
  await assert.rejects(
    train(fresh, ds.train, CONFIG, { loss: (z) => tf.mul(tf.sum(z), NaN) as tf.Scalar }),
    (e: unknown) => e instanceof DivergenceError && e.step === 0 && Number.isNaN(e.loss),
  );
  assertBitEqual(snapshot(fresh), before, 'weights after a diverged first step');
  model.dispose();
  fresh.dispose();
});

void test('evaluate covers every example (no dropped last batch) with consistent per-example outputs', async () => {
  await initBackend({ prefer: 'wasm' });
  const ds = await loadDataset({ name: 'synthetic', perClass: 25, testPerClass: 13, numClasses: 3 });
  const model = buildModel({ arch: 'mlp', hidden: [8] }, ds.inputShape, ds.numClasses, 2);
  await train(model, ds.train, { ...CONFIG, epochs: 2 });
  const r = await evaluate(model, ds.test, { batchSize: 16 }); // 39 examples: 16 + 16 + 7
  assert.equal(r.count, 39);
  assert.equal(r.perExample.ids.length, 39);
  let hits = 0;
  for (let i = 0; i < 39; i++) {
    assert.ok(Math.abs(r.perExample.loss[i] + Math.log(r.perExample.trueProb[i])) < 1e-4);
    assert.equal(r.perExample.margin[i] > 0, r.perExample.pred[i] === ds.test.y[i]);
    if (r.perExample.pred[i] === ds.test.y[i]) hits++;
  }
  assert.equal(r.accuracy, hits / 39);
  const big = await evaluate(model, ds.test, { batchSize: 1000 });
  assert.ok(Math.abs(big.loss - r.loss) < 1e-5);
  model.dispose();
});
