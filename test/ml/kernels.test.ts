// The wasm conv gradient kernels (ml/kernels/) against the pure-JS CPU backend's reference kernels. By default the
// GEMM-shaped ones (matmuls, Conv2D, the filter gradient) are the native AVX2 kernels (ml/kernels/native/kernels.cc);
// test/ml/kernels-nofma.test.ts runs this file again with UNLEARN_NATIVE_KERNELS=0 so the WebAssembly builds of those
// stay tested too.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../../ml/tf.js';
import { initBackend } from '../../ml/backend.js';
import { Rng } from '../../ml/rng.js';
import { gatherBatch } from '../../ml/data/split.js';
import { convKernelStats } from '../../ml/kernels/conv.js';
import { miscKernelStats } from '../../ml/kernels/misc.js';
import { batchNormTrain, biasAct, crossEntropy, dense, relu } from '../../ml/ops.js';
import { MATMUL, SGD_STEP, denseKernelStats, sgdStepVelocityInPlace } from '../../ml/kernels/dense.js';
import { normKernelStats } from '../../ml/kernels/norm.js';
import { asmKernels } from '../../ml/kernels/asm.js';
import { nativeKernelsStatus } from '../../ml/kernels/native.js';
import { mlConfig } from '../../config/index.js';

interface Case {
  x: [number, number, number, number];
  k: [number, number];
  cout: number;
  stride: number;
  pad: 'same' | 'valid';
}
const cases: Case[] = [
  { x: [2, 8, 8, 3], k: [3, 3], cout: 4, stride: 1, pad: 'same' },
  { x: [2, 8, 8, 3], k: [3, 3], cout: 4, stride: 2, pad: 'same' },
  { x: [3, 7, 9, 2], k: [3, 3], cout: 5, stride: 2, pad: 'same' },
  { x: [3, 7, 9, 2], k: [3, 3], cout: 5, stride: 2, pad: 'valid' },
  { x: [2, 9, 9, 4], k: [3, 3], cout: 3, stride: 1, pad: 'valid' },
  { x: [2, 8, 8, 4], k: [1, 1], cout: 6, stride: 1, pad: 'same' },
  { x: [2, 8, 8, 4], k: [1, 1], cout: 6, stride: 2, pad: 'same' },
  { x: [2, 7, 7, 4], k: [1, 1], cout: 6, stride: 2, pad: 'valid' },
  { x: [3, 9, 6, 5], k: [1, 1], cout: 7, stride: 3, pad: 'valid' },
  { x: [1, 11, 10, 3], k: [5, 3], cout: 2, stride: 3, pad: 'same' },
  { x: [2, 6, 6, 2], k: [2, 2], cout: 3, stride: 2, pad: 'valid' },
  { x: [4, 16, 16, 8], k: [3, 3], cout: 16, stride: 2, pad: 'same' },
  // channel counts our implicit-GEMM filter gradient takes (inC % 4 == 0, outC % 8 == 0)
  { x: [2, 9, 7, 4], k: [3, 3], cout: 8, stride: 1, pad: 'same' },
  { x: [2, 9, 9, 8], k: [3, 3], cout: 8, stride: 2, pad: 'valid' },
  { x: [2, 7, 7, 12], k: [3, 3], cout: 16, stride: 2, pad: 'same' },
  { x: [1, 10, 11, 4], k: [5, 3], cout: 8, stride: 3, pad: 'same' },
  { x: [3, 6, 6, 4], k: [1, 1], cout: 8, stride: 2, pad: 'same' },
  { x: [4, 32, 32, 16], k: [3, 3], cout: 16, stride: 1, pad: 'same' },
  // three 8-channel panels (a two-panel tile then a one-panel one), rows of 13 and 19 pixels (uneven row tiles), the
  // filter gradient gathered (rows <= 16) and in place
  { x: [2, 13, 13, 8], k: [3, 3], cout: 24, stride: 1, pad: 'same' },
  { x: [1, 20, 19, 4], k: [3, 3], cout: 24, stride: 1, pad: 'same' },
  // channel counts our implicit-GEMM input gradient takes (inC % 8 == 0, outC % 4 == 0): one call per sub-pixel phase
  { x: [2, 7, 7, 8], k: [3, 3], cout: 4, stride: 2, pad: 'same' },
  { x: [1, 10, 11, 8], k: [5, 3], cout: 4, stride: 3, pad: 'same' },
  { x: [3, 6, 6, 8], k: [1, 1], cout: 4, stride: 2, pad: 'same' },
  { x: [2, 9, 8, 16], k: [2, 2], cout: 8, stride: 2, pad: 'valid' },
  // any input channel count on our Conv2D (1 and 3 unpadded); rows of 7 and 14 pixels (the 2- and 1-pixel tiles
  // after the 4-pixel ones); input gradients whose convolution has 3 or 5 input channels
  { x: [3, 7, 7, 1], k: [3, 3], cout: 16, stride: 1, pad: 'same' },
  { x: [2, 14, 14, 3], k: [3, 3], cout: 8, stride: 2, pad: 'same' },
  { x: [2, 7, 7, 8], k: [3, 3], cout: 3, stride: 1, pad: 'same' },
  { x: [1, 5, 6, 16], k: [3, 3], cout: 5, stride: 2, pad: 'same' },
];

function rand(rng: Rng, shape: number[]): Float32Array {
  const a = new Float32Array(shape.reduce((p, q) => p * q, 1));
  for (let i = 0; i < a.length; i++) a[i] = rng.normal();
  return a;
}

function grads(c: Case, xData: Float32Array, wData: Float32Array, dyData: Float32Array, dyShape: number[]): { y: Float32Array; dx: Float32Array; dw: Float32Array } {
  return tf.tidy(() => {
    const x = tf.tensor4d(xData, c.x);
    const w = tf.tensor4d(wData, [c.k[0], c.k[1], c.x[3], c.cout]);
    const dy = tf.tensor4d(dyData, dyShape as [number, number, number, number]);
    const gx = tf.grad((xx: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(xx as tf.Tensor4D, w, c.stride, c.pad), dy)))(x);
    const gw = tf.grad((ww: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(x, ww as tf.Tensor4D, c.stride, c.pad), dy)))(w);
    const y = tf.conv2d(x, w, c.stride, c.pad);
    return { y: y.dataSync() as Float32Array, dx: gx.dataSync() as Float32Array, dw: gw.dataSync() as Float32Array };
  });
}

/**
 * run() on the pure-JS CPU backend (the reference), then on wasm; ran(k) is how much counter k of `stats` grew
 * during the wasm run.
 */
async function onCpuThenWasm<T, S extends Record<string, number>>(run: () => T, stats: S): Promise<{ ref: T; got: T; ran: (k: keyof S) => number }> {
  await tf.setBackend('cpu');
  const ref = run();
  await initBackend({ prefer: 'wasm', wasmKernels: mlConfig(process.env).wasmKernels });
  await tf.setBackend('wasm');
  const before = { ...stats };
  const got = run();
  return { ref, got, ran: (k) => stats[k] - before[k] };
}

function maxRelDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]) / Math.max(1, Math.abs(b[i])));
  return m;
}

/** f's value at `inputs` and its gradients for the cotangent dy (the gradients of sum(f · dy)), as arrays. */
function valueAndGrads(f: (...xs: tf.Tensor[]) => tf.Tensor, inputs: tf.Tensor[], dy: tf.Tensor): Float32Array[] {
  const value = f(...inputs);
  const grads = tf.grads((...xs: tf.Tensor[]) => tf.sum(tf.mul(f(...xs), dy)))(inputs);
  return [value, ...grads].map((t) => t.dataSync() as Float32Array);
}

void test('wasm Conv2D and Conv2DBackpropInput/Filter match the CPU backend to 1e-4', async () => {
  await tf.setBackend('cpu');
  const rng = new Rng(7);
  const inputs = cases.map((c) => {
    const outShape = tf.tidy(() => tf.conv2d(tf.zeros(c.x) as tf.Tensor4D, tf.zeros([c.k[0], c.k[1], c.x[3], c.cout]) as tf.Tensor4D, c.stride, c.pad).shape);
    return { x: rand(rng, c.x), w: rand(rng, [c.k[0], c.k[1], c.x[3], c.cout]), dy: rand(rng, outShape), dyShape: outShape };
  });
  const ref = cases.map((c, i) => grads(c, inputs[i].x, inputs[i].w, inputs[i].dy, inputs[i].dyShape));
  const info = await initBackend({ prefer: 'wasm', wasmKernels: mlConfig(process.env).wasmKernels });
  assert.equal(info.name, 'wasm');
  assert.equal(tf.getBackend(), 'wasm');
  cases.forEach((c, i) => {
    const got = grads(c, inputs[i].x, inputs[i].w, inputs[i].dy, inputs[i].dyShape);
    const ex = maxRelDiff(got.dx, ref[i].dx);
    const ew = maxRelDiff(got.dw, ref[i].dw);
    const ey = maxRelDiff(got.y, ref[i].y);
    assert.ok(ey < 1e-4, `Conv2D mismatch ${ey} for ${JSON.stringify(c)}`);
    assert.ok(ex < 1e-4, `dx mismatch ${ex} for ${JSON.stringify(c)}`);
    assert.ok(ew < 1e-4, `dW mismatch ${ew} for ${JSON.stringify(c)}`);
  });
  // the build we meant to run: fused multiply-add unless UNLEARN_WASM_FMA=0 (test/ml/kernels-nofma.test.ts)
  assert.equal(asmKernels(tf.backend()).variant, mlConfig(process.env).wasmKernels.fma ? 'relaxed' : 'simd');
  // and the native GEMM kernels unless UNLEARN_NATIVE_KERNELS=0: on x86-64 they must have been built (npm ci does)
  const nativeWanted = mlConfig(process.env).wasmKernels.native && process.arch === 'x64';
  assert.equal(asmKernels(tf.backend()).native, nativeWanted, `native kernels: ${nativeKernelsStatus().why ?? 'loaded'}`);
  // our kernels ran (not the backend's naive one), once per case each
  assert.equal(convKernelStats.backpropInput, cases.length);
  assert.equal(convKernelStats.backpropFilter, cases.length);
  assert.equal(convKernelStats.backpropInputFallback, 0);
  assert.ok(convKernelStats.backpropInputPhase >= 5, `phase path ran ${convKernelStats.backpropInputPhase} times`);
  assert.equal(convKernelStats.backpropFilterAsm, 11, 'implicit-GEMM filter gradient ran for each eligible case');
  assert.equal(convKernelStats.backpropFilterGathered, 9, 'the gathered variant served the cases with output rows of at most 16 pixels');
  assert.equal(convKernelStats.backpropInputAsm, 10, 'implicit-GEMM input gradient ran for each eligible case');
  assert.ok(convKernelStats.conv2dAsm >= 10, `implicit-GEMM Conv2D ran ${convKernelStats.conv2dAsm} times`);
  assert.ok(convKernelStats.conv2dOriginal >= 1, 'the ineligible cases still reach the backend Conv2D');
  assert.ok(convKernelStats.backpropInput1x1Strided >= 1, `1x1 strided path ran ${convKernelStats.backpropInput1x1Strided} times`);
});

void test('wasm MaxPoolGrad, transposed BatchMatMul and Identity match the CPU backend', async () => {
  const rng = new Rng(9);
  const poolCases: Array<{ x: [number, number, number, number]; f: number; s: number; pad: 'valid' | 'same' }> = [
    { x: [2, 8, 8, 3], f: 2, s: 2, pad: 'valid' },
    { x: [2, 7, 9, 3], f: 2, s: 2, pad: 'valid' },
    { x: [2, 7, 7, 2], f: 3, s: 2, pad: 'same' },
    { x: [1, 6, 6, 4], f: 3, s: 1, pad: 'valid' },
    // our SIMD 2x2/2 kernel (channels % 4 == 0), odd sizes, and (last case) integer data full of ties
    { x: [2, 8, 8, 8], f: 2, s: 2, pad: 'valid' },
    { x: [2, 7, 9, 4], f: 2, s: 2, pad: 'valid' },
    { x: [2, 6, 6, 4], f: 2, s: 2, pad: 'valid' },
  ];
  const mmCases: Array<{ a: number[]; b: number[]; ta: boolean; tb: boolean }> = [
    { a: [5, 7], b: [5, 3], ta: true, tb: false },
    { a: [5, 7], b: [3, 7], ta: false, tb: true },
    { a: [7, 5], b: [3, 7], ta: true, tb: true },
    { a: [4, 6, 5], b: [4, 6, 3], ta: true, tb: false },
    { a: [4, 6, 5], b: [4, 3, 5], ta: false, tb: true },
    // our kernel's edges: rows not a multiple of 4, columns not a multiple of 8, broadcast batch, attention shapes
    { a: [3, 9, 13], b: [3, 13, 17], ta: false, tb: false },
    { a: [1, 6, 5], b: [4, 5, 9], ta: false, tb: false },
    { a: [8, 65, 16], b: [8, 65, 16], ta: false, tb: true },
    { a: [8, 65, 65], b: [8, 65, 16], ta: false, tb: false },
    { a: [33, 20], b: [20, 24], ta: false, tb: false },
    // A read transposed in place (odd and even M, K), B transposed in 4x4 register blocks (K % 4 != 0 tail, N % 8 != 0)
    { a: [9, 37], b: [9, 24], ta: true, tb: false },
    { a: [3, 30, 13], b: [3, 30, 19], ta: true, tb: false },
    { a: [13, 30], b: [19, 30], ta: false, tb: true },
    { a: [2, 12, 7], b: [2, 16, 12], ta: true, tb: true },
    // the MLP's dense layer at batch 64: forward, weight gradient (A transposed), input gradient (B transposed)
    { a: [64, 784], b: [784, 256], ta: false, tb: false },
    { a: [64, 784], b: [64, 256], ta: true, tb: false },
    { a: [64, 256], b: [784, 256], ta: false, tb: true },
    // a transposed A over 1 MiB is transposed first (a convolution filter gradient's xᵀ·dy)
    { a: [2100, 130], b: [2100, 9], ta: true, tb: false },
  ];
  const poolData = poolCases.map((c, i) => (i === poolCases.length - 1 ? rand(rng, c.x).map((v) => Math.round(v)) : rand(rng, c.x)));
  const mmData = mmCases.map((c) => ({ a: rand(rng, c.a), b: rand(rng, c.b) }));
  const run = (): Float32Array[] =>
    tf.tidy(() => {
      const out: Float32Array[] = [];
      poolCases.forEach((c, i) => {
        const x = tf.tensor4d(poolData[i], c.x);
        // weight the outputs so every window's gradient differs
        const g = tf.grad((xx: tf.Tensor) => {
          const y = tf.maxPool(xx as tf.Tensor4D, c.f, c.s, c.pad);
          return tf.sum(tf.mul(y, tf.range(1, y.size + 1).reshape(y.shape)));
        })(x);
        out.push(g.dataSync() as Float32Array);
      });
      mmCases.forEach((c, i) => {
        const a = tf.tensor(mmData[i].a, c.a);
        const b = tf.tensor(mmData[i].b, c.b);
        out.push(tf.matMul(a as tf.Tensor3D, b as tf.Tensor3D, c.ta, c.tb).dataSync() as Float32Array);
      });
      const v = tf.tensor1d([1, 2, 3]);
      out.push(tf.clone(v).dataSync() as Float32Array);
      // channel reductions over [N, H, W] (sum, mean, keepDims) and a non-leading one (backend's kernel)
      const r = tf.tensor4d(poolData[1], poolCases[1].x);
      out.push(tf.sum(r, [0, 1, 2]).dataSync() as Float32Array);
      out.push(tf.mean(r, [0, 1, 2], true).dataSync() as Float32Array);
      out.push(tf.sum(r, [1, 2]).dataSync() as Float32Array);
      return out;
    });
  const { ref, got, ran } = await onCpuThenWasm(run, miscKernelStats);
  got.forEach((g, i) => assert.ok(maxRelDiff(g, ref[i]) < 1e-4, `case ${i}: ${maxRelDiff(g, ref[i])}`));
  assert.equal(ran('maxPoolGrad'), poolCases.length);
  assert.equal(ran('maxPoolGradAsm'), 3);
  assert.equal(ran('batchMatMulAsm'), mmCases.length);
  assert.ok(ran('transpose') >= 1, 'the large transposed A was transposed first');
  assert.ok(ran('channelReduce') >= 2);
});

void test('batchNormTrain (wasm: fused kernels, or 1x1 depthwise affines for odd channels) and relu match the CPU backend: output, running stats, gradients', async () => {
  const rng = new Rng(11);
  const shapes: Array<[number, number, number, number]> = [
    [4, 5, 6, 3],
    [2, 3, 3, 16],
    [8, 16, 16, 32],
    // 12 channels: C % 4 but not % 8, the native build hands it to the wasm kernel
    [2, 4, 5, 12],
  ];
  const data = shapes.map((sh) => ({ x: rand(rng, sh), g: rand(rng, [sh[3]]), b: rand(rng, [sh[3]]), dy: rand(rng, sh) }));
  const run = (): Float32Array[] =>
    tf.tidy(() => {
      const out: Float32Array[] = [];
      shapes.forEach((sh, i) => {
        const d = data[i];
        const x = tf.tensor4d(d.x, sh);
        const g = tf.tensor1d(d.g);
        const b = tf.tensor1d(d.b);
        const dy = tf.tensor4d(d.dy, sh);
        const running = { mean: tf.variable(tf.zeros([sh[3]])), variance: tf.variable(tf.ones([sh[3]])), momentum: 0.1 };
        const f = (xx: tf.Tensor, gg: tf.Tensor, bb: tf.Tensor): tf.Tensor => tf.sum(tf.mul(batchNormTrain(xx, gg, bb, 1e-5, running), dy));
        const grads = tf.grads(f)([x, g, b]);
        out.push(batchNormTrain(x, g, b, 1e-5).dataSync() as Float32Array);
        out.push(running.mean.dataSync() as Float32Array, running.variance.dataSync() as Float32Array);
        for (const gr of grads) out.push(gr.dataSync() as Float32Array);
        // with the ReLU folded in (forward and backward), and the standalone relu's gradient
        const fr = (xx: tf.Tensor, gg: tf.Tensor, bb: tf.Tensor): tf.Tensor => tf.sum(tf.mul(batchNormTrain(xx, gg, bb, 1e-5, undefined, { relu: true }), dy));
        out.push(batchNormTrain(x, g, b, 1e-5, undefined, { relu: true }).dataSync() as Float32Array);
        for (const gr of tf.grads(fr)([x, g, b])) out.push(gr.dataSync() as Float32Array);
        out.push(tf.grad((xx: tf.Tensor) => tf.sum(tf.mul(relu(xx), dy)))(x).dataSync() as Float32Array);
        running.mean.dispose();
        running.variance.dispose();
      });
      return out;
    });
  const { ref, got, ran } = await onCpuThenWasm(run, normKernelStats);
  got.forEach((g, i) => assert.ok(maxRelDiff(g, ref[i]) < 1e-4, `case ${i}: ${maxRelDiff(g, ref[i])}`));
  // the fused kernels served the three shapes with channels % 4 == 0 (forward: 4 calls each, backward: 2); relu: all 4
  assert.equal(ran('forward'), 12);
  assert.equal(ran('backward'), 6);
  assert.equal(ran('reluBackward'), 4);
});

void test('wasm Transpose (our kernel) matches the CPU backend on ranks 1-6, float32 and int32', async () => {
  const rng = new Rng(5);
  const cases: Array<{ shape: number[]; perm: number[] }> = [
    { shape: [7], perm: [0] },
    { shape: [5, 9], perm: [1, 0] },
    { shape: [4, 6, 8], perm: [0, 2, 1] },
    { shape: [3, 5, 4, 8], perm: [0, 2, 1, 3] },
    { shape: [6, 7, 3, 4, 16], perm: [2, 0, 3, 1, 4] },
    { shape: [2, 3, 4, 5, 6, 7], perm: [5, 3, 1, 0, 2, 4] },
    { shape: [4, 1, 6], perm: [2, 1, 0] },
  ];
  const data = cases.map((c) => rand(rng, c.shape));
  const run = (): Array<Float32Array | Int32Array> =>
    tf.tidy(() =>
      cases.flatMap((c, i) => [
        tf.transpose(tf.tensor(data[i], c.shape), c.perm).dataSync() as Float32Array,
        tf.transpose(tf.tensor(Int32Array.from(data[i], (v) => Math.round(v * 1000)), c.shape, 'int32'), c.perm).dataSync() as Int32Array,
      ]),
    );
  const { ref, got, ran } = await onCpuThenWasm(run, miscKernelStats);
  got.forEach((g, i) => assert.deepEqual(Array.from(g), Array.from(ref[i]), `case ${i >> 1} (${i & 1 ? 'int32' : 'float32'})`));
  // tf.transpose of a rank-1 tensor is a clone (no kernel call)
  assert.equal(ran('transpose'), 2 * (cases.length - 1));
});

void test('dense and convolution bias+activation (matMul/conv2d + biasAct) match the CPU backend: outputs and gradients, odd and even shapes', async () => {
  const rng = new Rng(13);
  const denseCases: Array<{ m: number; k: number; n: number; act: 'relu' | 'linear' }> = [
    { m: 64, k: 784, n: 256, act: 'relu' },
    { m: 64, k: 256, n: 10, act: 'linear' },
    { m: 7, k: 13, n: 9, act: 'relu' },
    { m: 5, k: 3, n: 3, act: 'linear' },
    { m: 300, k: 8, n: 12, act: 'relu' },
  ];
  const convCases: Array<{ x: [number, number, number, number]; cout: number; act: 'relu' | 'linear' }> = [
    { x: [3, 9, 7, 1], cout: 16, act: 'relu' },
    { x: [2, 6, 6, 4], cout: 5, act: 'linear' },
  ];
  const dd = denseCases.map((c) => ({ x: rand(rng, [c.m, c.k]), w: rand(rng, [c.k, c.n]), b: rand(rng, [c.n]), dy: rand(rng, [c.m, c.n]) }));
  const cd = convCases.map((c) => ({ x: rand(rng, c.x), w: rand(rng, [3, 3, c.x[3], c.cout]), b: rand(rng, [c.cout]), dy: rand(rng, [c.x[0], c.x[1], c.x[2], c.cout]) }));
  const run = (): Float32Array[] =>
    tf.tidy(() => {
      const out: Float32Array[] = [];
      denseCases.forEach((c, i) => {
        const x = tf.tensor2d(dd[i].x, [c.m, c.k]);
        const w = tf.tensor2d(dd[i].w, [c.k, c.n]);
        const b = tf.tensor1d(dd[i].b);
        const dy = tf.tensor2d(dd[i].dy, [c.m, c.n]);
        const f = (xx: tf.Tensor, ww: tf.Tensor, bb: tf.Tensor): tf.Tensor => biasAct(tf.matMul(xx as tf.Tensor2D, ww as tf.Tensor2D), bb, c.act);
        out.push(...valueAndGrads(f, [x, w, b], dy));
      });
      convCases.forEach((c, i) => {
        const x = tf.tensor4d(cd[i].x, c.x);
        const w = tf.tensor4d(cd[i].w, [3, 3, c.x[3], c.cout]);
        const b = tf.tensor1d(cd[i].b);
        const dy = tf.tensor4d(cd[i].dy, [c.x[0], c.x[1], c.x[2], c.cout]);
        const f = (xx: tf.Tensor, ww: tf.Tensor, bb: tf.Tensor): tf.Tensor => biasAct(tf.conv2d(xx as tf.Tensor4D, ww as tf.Tensor4D, 1, 'same'), bb, c.act);
        out.push(...valueAndGrads(f, [x, w, b], dy));
      });
      return out;
    });
  const { ref, got, ran } = await onCpuThenWasm(run, denseKernelStats);
  got.forEach((g, i) => assert.ok(maxRelDiff(g, ref[i]) < 1e-4, `output ${i}: ${maxRelDiff(g, ref[i])}`));
  const n = denseCases.length + convCases.length;
  // once for the value, once inside the gradient's forward pass
  assert.equal(ran('biasAct'), 2 * n);
  assert.equal(ran('biasActBackward'), n);
});

void test('fused dense layer, 2-D matmul with transposes and softmax cross-entropy (wasm: one kernel each way) match the CPU backend: values and gradients', async () => {
  const rng = new Rng(19);
  // the MLP's layers at batch 64 (784-256 with ReLU, 256-10), the CNN's 1568-64, odd and tiny shapes
  const denseCases: Array<{ m: number; k: number; n: number; act: 'relu' | 'linear' }> = [
    { m: 64, k: 784, n: 256, act: 'relu' },
    { m: 64, k: 256, n: 10, act: 'linear' },
    { m: 64, k: 1568, n: 64, act: 'relu' },
    { m: 7, k: 13, n: 9, act: 'relu' },
    { m: 5, k: 3, n: 3, act: 'linear' },
    { m: 1, k: 1, n: 1, act: 'relu' },
    { m: 33, k: 30, n: 17, act: 'linear' },
  ];
  const mmCases: Array<{ a: [number, number]; b: [number, number]; ta: boolean; tb: boolean }> = [
    { a: [9, 13], b: [13, 17], ta: false, tb: false },
    { a: [13, 9], b: [13, 17], ta: true, tb: false },
    { a: [9, 13], b: [17, 13], ta: false, tb: true },
    { a: [13, 9], b: [16, 13], ta: true, tb: true },
  ];
  const xentCases: Array<{ n: number; k: number; labels?: number[] }> = [
    { n: 64, k: 10 },
    { n: 7, k: 3, labels: [0, 1, 2, 3, -1, 2, 1] }, // labels outside 0..k-1 count as all-zero one-hot rows
    { n: 1, k: 2 },
  ];
  const dd = denseCases.map((c) => ({ x: rand(rng, [c.m, c.k]), w: rand(rng, [c.k, c.n]), b: rand(rng, [c.n]), dy: rand(rng, [c.m, c.n]) }));
  const md = mmCases.map((c) => ({ a: rand(rng, c.a), b: rand(rng, c.b) }));
  const xd = xentCases.map((c) => ({ z: rand(rng, [c.n, c.k]).map((v) => 4 * v), y: Int32Array.from(c.labels ?? Array.from({ length: c.n }, () => rng.int(c.k))) }));
  const mm = (a: tf.Tensor, b: tf.Tensor, ta: boolean, tb: boolean): tf.Tensor =>
    tf.getBackend() === 'wasm' ? (tf.engine().runKernel(MATMUL, { a, b }, { transA: ta, transB: tb }) as tf.Tensor) : tf.matMul(a as tf.Tensor2D, b as tf.Tensor2D, ta, tb);
  const run = (): Float32Array[] =>
    tf.tidy(() => {
      const out: Float32Array[] = [];
      denseCases.forEach((c, i) => {
        const x = tf.tensor2d(dd[i].x, [c.m, c.k]);
        const w = tf.tensor2d(dd[i].w, [c.k, c.n]);
        const b = tf.tensor1d(dd[i].b);
        const dy = tf.tensor2d(dd[i].dy, [c.m, c.n]);
        const f = (xx: tf.Tensor, ww: tf.Tensor, bb: tf.Tensor): tf.Tensor => dense(xx as tf.Tensor2D, ww as tf.Tensor2D, bb as tf.Tensor1D, c.act);
        out.push(...valueAndGrads(f, [x, w, b], dy));
        // only the weight gradient asked for (the first layer of a model: its input is data)
        out.push(tf.grad((ww: tf.Tensor) => tf.sum(tf.mul(f(x, ww, b), dy)))(w).dataSync() as Float32Array);
      });
      mmCases.forEach((c, i) => {
        const a = tf.tensor2d(md[i].a, c.a);
        const b = tf.tensor2d(md[i].b, c.b);
        const y = mm(a, b, c.ta, c.tb);
        const dy = tf.tensor(rand(new Rng(i), y.shape), y.shape);
        out.push(y.dataSync() as Float32Array);
        for (const g of tf.grads((aa: tf.Tensor, bb: tf.Tensor) => tf.sum(tf.mul(mm(aa, bb, c.ta, c.tb), dy)))([a, b])) out.push(g.dataSync() as Float32Array);
      });
      xentCases.forEach((c, i) => {
        const z = tf.tensor2d(xd[i].z, [c.n, c.k]);
        const y = tf.tensor1d(xd[i].y, 'int32');
        out.push(crossEntropy(z, y).dataSync() as Float32Array);
        out.push(tf.grad((zz: tf.Tensor) => tf.mul(crossEntropy(zz as tf.Tensor2D, y), 3))(z).dataSync() as Float32Array);
        // float labels are cast
        out.push(crossEntropy(z, tf.cast(y, 'float32') as tf.Tensor1D).dataSync() as Float32Array);
      });
      return out;
    });
  const { ref, got, ran } = await onCpuThenWasm(run, denseKernelStats);
  assert.equal(got.length, ref.length);
  got.forEach((g, i) => assert.ok(maxRelDiff(g, ref[i]) < 1e-4, `output ${i}: ${maxRelDiff(g, ref[i])}`));
  // dense: the value and two gradients' forward passes; backward GEMMs: the input gradient only where asked (the
  // full grads), the weight gradient in both; matmul cases: value, forward pass, two gradients
  assert.equal(ran('dense'), 3 * denseCases.length);
  assert.equal(ran('matMul'), denseCases.length * 3 + mmCases.length * 4);
  assert.equal(ran('softmaxXent'), 3 * xentCases.length);
  assert.equal(ran('softmaxXentBackward'), xentCases.length);
});

void test('SGD step kernel (allocating and in place) equals the tfjs ops it replaces bit for bit (weight decay, momentum, mask; odd sizes); a shared buffer never written in place', async () => {
  await initBackend({ prefer: 'wasm' });
  await tf.setBackend('wasm');
  const rng = new Rng(17);
  for (const size of [1, 7, 64, 1029]) {
    const theta = tf.tensor1d(rand(rng, [size]));
    const grad = tf.tensor1d(rand(rng, [size]));
    const old = tf.tensor1d(rand(rng, [size]));
    const mask = tf.tensor1d(Float32Array.from({ length: size }, (_, i) => (i % 3 === 0 ? 0 : 1)));
    for (const cfg of [
      { momentum: 0.9, weightDecay: 5e-4, vel: true, m: true },
      { momentum: 0.9, weightDecay: 5e-4, vel: false, m: false },
      { momentum: 0.9, weightDecay: 0, vel: true, m: false },
      { momentum: 0, weightDecay: 1e-3, vel: false, m: true },
    ]) {
      const lr = 0.037;
      // the ops of Sgd.step's portable path, in its order
      const refTheta = tf.tidy(() => {
        let g: tf.Tensor = grad;
        if (cfg.weightDecay !== 0) g = tf.add(g, tf.mul(theta, cfg.weightDecay));
        if (cfg.m) g = tf.mul(g, mask);
        const v = cfg.momentum !== 0 && cfg.vel ? tf.add(tf.mul(old, cfg.momentum), g) : g;
        const upd = cfg.m ? tf.mul(v, mask) : v;
        return [tf.sub(theta, tf.mul(upd, lr)), v];
      });
      const inputs: Record<string, tf.Tensor> = { theta, grad };
      if (cfg.vel) inputs.velocity = old;
      if (cfg.m) inputs.mask = mask;
      const got = tf.engine().runKernel(SGD_STEP, inputs, { lr, momentum: cfg.momentum, weightDecay: cfg.weightDecay }) as tf.Tensor[];
      assert.deepEqual(Array.from(got[0].dataSync()), Array.from(refTheta[0].dataSync()), `theta, size ${size}, ${JSON.stringify(cfg)}`);
      if (cfg.momentum !== 0) assert.deepEqual(Array.from(got[1].dataSync()), Array.from(refTheta[1].dataSync()), `velocity, size ${size}, ${JSON.stringify(cfg)}`);
      else assert.equal(got.length, 1);
      if (cfg.m) {
        const t0 = theta.dataSync();
        const t1 = got[0].dataSync();
        for (let i = 0; i < size; i += 3) assert.equal(t1[i], t0[i], 'masked entries unchanged');
      }
      // the momentum buffer in place (what Sgd.step does from the second step on): the same bytes
      const velIn = cfg.vel ? tf.tensor1d(old.dataSync()) : undefined;
      const next = sgdStepVelocityInPlace(theta, grad, velIn, cfg.m ? mask : undefined, lr, cfg.momentum, cfg.weightDecay);
      if (cfg.momentum === 0 || !cfg.vel) {
        assert.equal(next, undefined, 'no momentum buffer: the allocating kernel must run');
      } else {
        assert.ok(next && next.dataId !== theta.dataId, 'θ gets a new data id (XNNPACK caches packed filters by it)');
        assert.deepEqual(Array.from(next.dataSync()), Array.from(got[0].dataSync()), `theta, size ${size}, ${JSON.stringify(cfg)}`);
        assert.deepEqual(Array.from(velIn!.dataSync()), Array.from(got[1].dataSync()), `in place velocity, size ${size}`);
      }
      tf.dispose([...got, ...refTheta, ...(next ? [next] : []), ...(velIn ? [velIn] : [])]);
    }
    // a momentum buffer sharing its data with another tensor (a clone on wasm shares the data id) is never written
    const shared = tf.tensor1d(old.dataSync());
    const copy = tf.clone(shared);
    const before = Array.from(copy.dataSync());
    assert.equal(sgdStepVelocityInPlace(theta, grad, shared, undefined, 0.1, 0.9, 0), undefined);
    assert.deepEqual(Array.from(copy.dataSync()), before);
    tf.dispose([theta, grad, old, mask, shared, copy]);
  }
});

void test('gatherBatch on wasm (written straight into the heap) gives the examples and labels asked for', async () => {
  await initBackend({ prefer: 'wasm' });
  await tf.setBackend('wasm');
  const rng = new Rng(23);
  const n = 50;
  const shape = [3, 4, 2];
  const d = 24;
  const x = rand(rng, [n, ...shape]);
  const y = Int32Array.from({ length: n }, (_, i) => (i * 7) % 10);
  const split = { x, y, ids: Int32Array.from({ length: n }, (_, i) => 100 + i), count: n, exampleShape: shape };
  const positions = [49, 0, 17, 17, 3];
  const before = tf.memory().numTensors;
  const b = gatherBatch(split as never, positions);
  assert.deepEqual(b.x.shape, [5, ...shape]);
  assert.equal(b.y.dtype, 'int32');
  const xs = b.x.dataSync();
  positions.forEach((p, i) => {
    assert.deepEqual(Array.from(xs.subarray(i * d, (i + 1) * d)), Array.from(x.subarray(p * d, (p + 1) * d)), `example ${i}`);
  });
  assert.deepEqual(Array.from(b.y.dataSync()), positions.map((p) => y[p]));
  tf.dispose([b.x, b.y]);
  assert.equal(tf.memory().numTensors, before, 'both tensors tracked and disposed like any other');
});
