// The webgpu backend (Dawn on Vulkan; in CI Mesa's software lavapipe) against the pure-JS CPU backend: kernels our
// training uses, our hand-written gradients (batch norm, cross-entropy), training steps of a CNN and a BN ResNet,
// masks, checkpoints. Small shapes: lavapipe is a CPU rasteriser and compiles every shader on first use.
// Without an adapter this file fails (it never skips): .ci/run installs Mesa 25 from bookworm-backports.
import { test } from 'node:test';
import { spawnSync } from 'node:child_process';
import assert from 'node:assert/strict';
import { tf } from '../../ml/tf.js';
import { initBackend, describeBackend } from '../../ml/backend.js';
import { requestGpuAdapter, adapterLine } from '../../ml/webgpu.js';
import { Rng } from '../../ml/rng.js';
import { batchNormTrain, crossEntropy, relu } from '../../ml/ops.js';
import { loadDataset } from '../../ml/data/index.js';
import { buildModel, type Model, type ModelSpec } from '../../ml/models.js';
import { train, type ParamMask, type TrainConfig } from '../../ml/train.js';
import { saveCheckpoint, loadCheckpoint, modelFromCheckpoint } from '../../ml/checkpoint.js';
import { evaluate } from '../../ml/eval.js';
import { forgetRetainSplits, gradientScores, unlearn, type Mask } from '../../ml/unlearn/index.js';

function rand(rng: Rng, shape: number[]): Float32Array {
  const a = new Float32Array(shape.reduce((p, q) => p * q, 1));
  for (let i = 0; i < a.length; i++) a[i] = rng.normal();
  return a;
}

function maxRelDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]) / Math.max(1, Math.abs(b[i])));
  return m;
}

/** Reads every tensor asynchronously (the only read webgpu offers in Node), then disposes them. */
async function readAll(ts: tf.Tensor[]): Promise<Float32Array[]> {
  const out = await Promise.all(ts.map(async (t) => Float32Array.from((await t.data()) as Float32Array)));
  tf.dispose(ts);
  return out;
}

async function snapshot(model: Model): Promise<Map<string, Float32Array>> {
  const vars = [...model.params(), ...model.buffers()];
  const data = await Promise.all(vars.map(({ variable }) => variable.data()));
  return new Map(vars.map(({ name }, i) => [name, Float32Array.from(data[i] as Float32Array)]));
}

/** Builds the same tensors on the CPU backend (reference) and on webgpu, and reads both asynchronously. */
async function onCpuThenWebgpu(run: () => tf.Tensor[]): Promise<{ ref: Float32Array[]; got: Float32Array[] }> {
  await tf.setBackend('cpu');
  const ref = await readAll(run());
  await tf.setBackend('webgpu');
  const got = await readAll(run());
  return { ref, got };
}

void test('webgpu backend: a WebGPU adapter exists, initBackend selects it and tfjs really runs on it', async () => {
  const found = await requestGpuAdapter();
  assert.ok(found, 'no WebGPU adapter: install a Vulkan driver (CI: Mesa >= 25 lavapipe from bookworm-backports, as .ci/run does)');
  const info = await initBackend({ prefer: 'webgpu' });
  assert.equal(info.name, 'webgpu', `initBackend fell back to ${info.name}`);
  assert.equal(tf.getBackend(), 'webgpu');
  assert.ok(info.adapter && info.adapter.vendor.length > 0, 'the adapter is reported');
  assert.equal(info.adapter.software, found.report.software);
  console.log(`[webgpu] ${describeBackend(info)}; adapter ${adapterLine(found.report)}`);
  // dataSync needs a browser canvas on this backend: the reason every read in ml/ is asynchronous
  const t = tf.matMul(tf.ones([64, 64]), tf.ones([64, 64])); // big enough to run on the GPU (small ops run on the CPU)
  assert.throws(() => t.dataSync(), /OffscreenCanvas/);
  assert.ok((await t.data()).every((v) => v === 64));
  t.dispose();
});

void test('webgpu Conv2D, its two gradients, max-pool gradient and matmul match the CPU backend to 1e-4', async () => {
  await initBackend({ prefer: 'webgpu' });
  const rng = new Rng(7);
  const convs: Array<{ x: [number, number, number, number]; k: number; cout: number; stride: number; pad: 'same' | 'valid' }> = [
    { x: [2, 8, 8, 3], k: 3, cout: 8, stride: 1, pad: 'same' },
    { x: [2, 9, 9, 8], k: 3, cout: 16, stride: 2, pad: 'same' },
    { x: [2, 8, 8, 8], k: 1, cout: 16, stride: 2, pad: 'valid' },
  ];
  const convData = convs.map((c) => ({ x: rand(rng, c.x), w: rand(rng, [c.k, c.k, c.x[3], c.cout]) }));
  const pool = rand(rng, [2, 8, 8, 4]);
  const mm = { a: rand(rng, [9, 13]), b: rand(rng, [13, 17]) };
  const run = (): tf.Tensor[] =>
    tf.tidy(() => {
      const out: tf.Tensor[] = [];
      convs.forEach((c, i) => {
        const x = tf.tensor4d(convData[i].x, c.x);
        const w = tf.tensor4d(convData[i].w, [c.k, c.k, c.x[3], c.cout]);
        const y = tf.conv2d(x, w, c.stride, c.pad);
        const dy = tf.range(1, y.size + 1).reshape(y.shape).div(y.size);
        const f = (xx: tf.Tensor, ww: tf.Tensor): tf.Scalar => tf.sum(tf.mul(tf.conv2d(xx as tf.Tensor4D, ww as tf.Tensor4D, c.stride, c.pad), dy));
        out.push(y, ...tf.grads(f)([x, w]));
      });
      const px = tf.tensor4d(pool, [2, 8, 8, 4]);
      out.push(tf.grad((xx: tf.Tensor) => tf.sum(tf.mul(tf.maxPool(xx as tf.Tensor4D, 2, 2, 'valid'), tf.range(1, 65).reshape([2, 4, 4, 2]).tile([1, 1, 1, 2]))))(px));
      out.push(tf.matMul(tf.tensor2d(mm.a, [9, 13]), tf.tensor2d(mm.b, [13, 17])));
      return out.map((t) => tf.keep(t));
    });
  const { ref, got } = await onCpuThenWebgpu(run);
  got.forEach((g, i) => assert.ok(maxRelDiff(g, ref[i]) < 1e-4, `output ${i}: ${maxRelDiff(g, ref[i])}`));
});

void test('webgpu: our batch norm (custom gradient, running stats, folded ReLU) and cross-entropy gradient match the CPU backend', async () => {
  await initBackend({ prefer: 'webgpu' });
  const rng = new Rng(11);
  const sh: [number, number, number, number] = [4, 5, 6, 8];
  const d = { x: rand(rng, sh), g: rand(rng, [8]), b: rand(rng, [8]), dy: rand(rng, sh), z: rand(rng, [6, 5]) };
  const labels = Int32Array.from([0, 4, 2, 2, 1, 3]);
  const run = (): tf.Tensor[] =>
    tf.tidy(() => {
      const x = tf.tensor4d(d.x, sh);
      const g = tf.tensor1d(d.g);
      const b = tf.tensor1d(d.b);
      const dy = tf.tensor4d(d.dy, sh);
      const running = { mean: tf.variable(tf.zeros([8])), variance: tf.variable(tf.ones([8])), momentum: 0.1 };
      const f = (xx: tf.Tensor, gg: tf.Tensor, bb: tf.Tensor): tf.Tensor => tf.sum(tf.mul(batchNormTrain(xx, gg, bb, 1e-5, running), dy));
      const out: tf.Tensor[] = [...tf.grads(f)([x, g, b]), batchNormTrain(x, g, b, 1e-5), running.mean.clone(), running.variance.clone()];
      const fr = (xx: tf.Tensor, gg: tf.Tensor, bb: tf.Tensor): tf.Tensor => tf.sum(tf.mul(batchNormTrain(xx, gg, bb, 1e-5, undefined, { relu: true }), dy));
      out.push(...tf.grads(fr)([x, g, b]));
      out.push(tf.grad((xx: tf.Tensor) => tf.sum(tf.mul(relu(xx), dy)))(x));
      const z = tf.tensor2d(d.z, [6, 5]);
      const y = tf.tensor1d(labels, 'int32');
      out.push(crossEntropy(z, y), tf.grad((zz: tf.Tensor) => crossEntropy(zz as tf.Tensor2D, y))(z));
      running.mean.dispose();
      running.variance.dispose();
      return out.map((t) => tf.keep(t));
    });
  const { ref, got } = await onCpuThenWebgpu(run);
  got.forEach((g, i) => assert.ok(maxRelDiff(g, ref[i]) < 1e-4, `output ${i}: ${maxRelDiff(g, ref[i])}`));
});

const CONFIG: TrainConfig = { epochs: 2, batchSize: 16, lr: 0.05, momentum: 0.9, weightDecay: 5e-4, seed: 3 };

/** Trains the same model (same seed, same data order) on cpu and on webgpu; returns losses and final weights of both. */
async function trainBoth(spec: ModelSpec, opts: { mask?: (m: Model) => ParamMask } = {}) {
  const ds = await loadDataset({ name: 'synthetic', perClass: 8, testPerClass: 4 });
  const out: Record<'cpu' | 'webgpu', { losses: number[]; before: Map<string, Float32Array>; after: Map<string, Float32Array>; acc: number; ckpt: Uint8Array }> = {} as never;
  for (const backend of ['cpu', 'webgpu'] as const) {
    await tf.setBackend(backend);
    const model = buildModel(spec, ds.inputShape, ds.numClasses, 5);
    const before = await snapshot(model);
    const r = await train(model, ds.train, CONFIG, { mask: opts.mask?.(model) });
    const acc = (await evaluate(model, ds.test)).accuracy;
    out[backend] = { losses: r.history.map((h) => h.loss), before, after: await snapshot(model), acc, ckpt: await saveCheckpoint(model, { trainState: r.state }) };
    model.dispose();
  }
  return out;
}

void test('webgpu trains a CNN and a BN ResNet like the CPU backend: losses, weights, BN statistics, accuracy, checkpoint', async () => {
  await initBackend({ prefer: 'webgpu' });
  for (const spec of [
    { arch: 'cnn', channels: [4, 8], dense: 16 },
    { arch: 'resnet', width: 4, blocksPerStage: [1, 1] },
  ] as ModelSpec[]) {
    const r = await trainBoth(spec);
    assert.ok(maxRelDiff(r.webgpu.losses, r.cpu.losses) < 1e-4, `${spec.arch} losses ${r.webgpu.losses} vs ${r.cpu.losses}`);
    for (const [name, w] of r.cpu.after) {
      assert.ok(maxRelDiff(r.webgpu.after.get(name)!, w) < 1e-3, `${spec.arch} ${name}: ${maxRelDiff(r.webgpu.after.get(name)!, w)}`);
    }
    assert.equal(r.webgpu.acc, r.cpu.acc, `${spec.arch} test accuracy`);
    // the webgpu checkpoint holds the webgpu weights and momentum, and loads into a model on the CPU backend
    await tf.setBackend('cpu');
    const ck = loadCheckpoint(r.webgpu.ckpt);
    assert.ok(ck.trainState && ck.trainState.optimizer.size > 0, 'optimizer state saved');
    const m = modelFromCheckpoint(ck);
    const w = await snapshot(m);
    for (const [name, v] of r.webgpu.after) assert.deepEqual(w.get(name), v, `${spec.arch} ${name} after checkpoint round trip`);
    m.dispose();
    await tf.setBackend('webgpu');
  }
});

void test('webgpu: masked training leaves masked-out and unlisted weights bit-identical', async () => {
  await initBackend({ prefer: 'webgpu' });
  const maskOf = (model: Model): ParamMask => {
    const rng = new Rng(3); // the same mask for both backends
    const p = model.params().find((q) => q.name === 'conv2/kernel')!;
    const mask: ParamMask = new Map([['conv2/kernel', Float32Array.from({ length: p.variable.size }, () => (rng.next() < 0.3 ? 1 : 0))]]);
    for (const name of model.headParamNames) mask.set(name, new Float32Array(model.params().find((q) => q.name === name)!.variable.size).fill(1));
    return mask;
  };
  const r = await trainBoth({ arch: 'cnn', channels: [4, 8], dense: 16 }, { mask: maskOf });
  const model = buildModel({ arch: 'cnn', channels: [4, 8], dense: 16 }, [8, 8, 1], 4, 5);
  const mask = maskOf(model);
  model.dispose();
  let changedIn = 0;
  for (const [name, b] of r.webgpu.before) {
    const a = r.webgpu.after.get(name)!;
    const m = mask.get(name);
    for (let i = 0; i < b.length; i++) {
      if (!m || m[i] === 0) assert.ok(Object.is(a[i], b[i]), `${name}[${i}] changed but is masked out`);
      else if (a[i] !== b[i]) changedIn++;
    }
    assert.ok(maxRelDiff(a, r.cpu.after.get(name)!) < 1e-3, `${name} differs from the CPU run`);
  }
  assert.ok(changedIn > 50, `only ${changedIn} masked-in entries changed`);
});

void test('webgpu: localization scores and the DEL mask match the CPU backend; DEL (reset + masked fine-tune) runs end to end', async () => {
  await initBackend({ prefer: 'webgpu' });
  const ds = await loadDataset({ name: 'synthetic', perClass: 8, testPerClass: 4 });
  const spec: ModelSpec = { arch: 'cnn', channels: [4, 8], dense: 16 };
  const forgetIds = Array.from(ds.train.ids.slice(0, 6));
  const out: Record<string, { scores: Map<string, Float32Array>; mask: Mask; forgetAcc: number; changed: number }> = {};
  for (const backend of ['cpu', 'webgpu'] as const) {
    await tf.setBackend(backend);
    const model = buildModel(spec, ds.inputShape, ds.numClasses, 5);
    const { forget } = forgetRetainSplits(ds.train, forgetIds);
    const scores = new Map((await gradientScores(model, forget, true, 4)).map((p) => [p.name, p.scores]));
    const r = await unlearn({ model, data: ds, forgetIds, algorithm: 'del', hparams: { epochs: 1, lr: 0.05, batchSize: 16 }, seed: 7 });
    out[backend] = { scores, mask: r.mask!, forgetAcc: r.metrics!.forgetAcc, changed: r.cost.changed };
    r.model.dispose();
    model.dispose();
  }
  for (const [name, s] of out.cpu.scores) assert.ok(maxRelDiff(out.webgpu.scores.get(name)!, s) < 1e-4, `scores of ${name}`);
  let agree = 0, total = 0;
  for (const [name, m] of out.cpu.mask) {
    const g = out.webgpu.mask.get(name)!;
    for (let i = 0; i < m.length; i++, total++) if (m[i] === g[i]) agree++;
  }
  assert.ok(agree / total >= 0.99, `DEL masks agree on ${agree} of ${total} entries`);
  assert.ok(out.webgpu.changed > 0, 'DEL changed weights on webgpu');
  assert.equal(out.webgpu.forgetAcc, out.cpu.forgetAcc);
});

/** initBackend() in a fresh process (it is idempotent within one) with the given UNLEARN_BACKEND (unset: undefined). */
function backendInChild(forced: string | undefined): { name: string; adapter?: { software: boolean; vendor: string } } {
  const env = { ...process.env };
  delete env.UNLEARN_BACKEND;
  if (forced) env.UNLEARN_BACKEND = forced;
  // as the entry points do: UNLEARN_BACKEND read by the config module, passed to initBackend
  const code =
    "const { initBackend } = await import('./ml/backend.ts'); const { mlConfig, backendOptions } = await import('./config/index.ts');" +
    " console.log('RESULT ' + JSON.stringify(await initBackend(backendOptions(mlConfig(process.env)))));";
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { env, encoding: 'utf8' });
  const line = r.stdout.split('\n').find((l) => l.startsWith('RESULT '));
  assert.ok(line, `child failed (status ${r.status}): ${r.stderr.slice(-2000)}`);
  return JSON.parse(line.slice('RESULT '.length)) as { name: string; adapter?: { software: boolean; vendor: string } };
}

void test('selection rule: UNLEARN_BACKEND=webgpu takes the software adapter; the automatic order refuses it', async () => {
  const found = await requestGpuAdapter();
  assert.ok(found, 'no WebGPU adapter');
  const forced = backendInChild('webgpu');
  assert.equal(forced.name, 'webgpu');
  assert.equal(forced.adapter?.vendor, found.report.vendor);
  const auto = backendInChild(undefined);
  if (found.report.software) assert.notEqual(auto.name, 'webgpu', 'a software adapter must not be chosen automatically');
  else assert.ok(['node-gpu', 'webgpu'].includes(auto.name), `a hardware adapter is chosen automatically (after node-gpu), got ${auto.name}`);
});
