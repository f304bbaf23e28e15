// `npm run bench -- ml-layers`: the convolution kernels alone, per ResNet-w16 layer shape (batch 64, CIFAR 32×32):
// forward (tf.conv2d), filter gradient and input gradient (the registered kernels through tf.engine().runKernel),
// best of 7 calls each (process CPU time), in ms and GFLOP/s. Compare configurations with UNLEARN_NATIVE_KERNELS=0 (the WebAssembly kernels), UNLEARN_WASM_KERNELS_OFF=asm or
// UNLEARN_WASM_FMA=0. Writes bench/results/ml-layers-<timestamp>.json.
import path from 'node:path';
import { initBackend } from '../ml/backend.js';
import { tf } from '../ml/tf.js';
import { kernelBenchHeader, writeBenchResult } from './result-file.js';
import { backendOptions, mlConfig } from '../config/index.js';

const LAYERS: Array<{ h: number; cin: number; cout: number; stride: number; k: number }> = [
  { h: 32, cin: 3, cout: 16, stride: 1, k: 3 },
  { h: 32, cin: 16, cout: 16, stride: 1, k: 3 },
  { h: 32, cin: 16, cout: 32, stride: 2, k: 3 },
  { h: 32, cin: 16, cout: 32, stride: 2, k: 1 },
  { h: 16, cin: 32, cout: 32, stride: 1, k: 3 },
  { h: 16, cin: 32, cout: 64, stride: 2, k: 3 },
  { h: 16, cin: 32, cout: 64, stride: 2, k: 1 },
  { h: 8, cin: 64, cout: 64, stride: 1, k: 3 },
  { h: 8, cin: 64, cout: 128, stride: 2, k: 3 },
  { h: 8, cin: 64, cout: 128, stride: 2, k: 1 },
  { h: 4, cin: 128, cout: 128, stride: 1, k: 3 },
];
const r1 = (x: number): number => Math.round(x * 10) / 10;

// Process CPU time in ms (BENCH_LAYERS_CLOCK=wall for wall clock): other jobs on this shared machine preempt a call
// at random and inflate its wall time, not its CPU time.
const useWall = process.env.BENCH_LAYERS_CLOCK === 'wall';
const clock = (): number => {
  if (useWall) return performance.now();
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

function best(f: () => tf.Tensor): number {
  f().dispose();
  let b = Infinity;
  for (let i = 0; i < 7; i++) {
    const t = clock();
    const r = f();
    b = Math.min(b, clock() - t);
    r.dispose();
  }
  return b;
}

async function main(): Promise<void> {
  const info = await initBackend({ prefer: 'wasm', ...backendOptions(mlConfig(process.env)) });
  const batch = 64;
  const rows = [];
  for (const l of LAYERS) {
    const x = tf.randomNormal([batch, l.h, l.h, l.cin], 0, 1, 'float32', 1) as tf.Tensor4D;
    const w = tf.randomNormal([l.k, l.k, l.cin, l.cout], 0, 1, 'float32', 2) as tf.Tensor4D;
    const oh = Math.ceil(l.h / l.stride);
    const dy = tf.randomNormal([batch, oh, oh, l.cout], 0, 1, 'float32', 3) as tf.Tensor4D;
    const gflop = (2 * batch * oh * oh * l.k * l.k * l.cin * l.cout) / 1e9;
    const conv = { strides: [l.stride, l.stride], pad: 'same', dataFormat: 'NHWC' } as const;
    const fwd = best(() => tf.conv2d(x, w, l.stride, 'same'));
    const dw = best(() => tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, { ...conv, filterShape: [l.k, l.k, l.cin, l.cout] } as never) as tf.Tensor);
    const dx = best(() => tf.engine().runKernel('Conv2DBackpropInput', { dy, filter: w }, { ...conv, inputShape: [batch, l.h, l.h, l.cin] } as never) as tf.Tensor);
    const row = {
      layer: `${l.h}x${l.h} ${l.cin}->${l.cout} k${l.k} s${l.stride}`,
      gflop: Math.round(gflop * 1000) / 1000,
      forwardMs: r1(fwd),
      filterGradMs: r1(dw),
      inputGradMs: r1(dx),
      forwardGflops: r1(gflop / (fwd / 1000)),
      filterGradGflops: r1(gflop / (dw / 1000)),
      inputGradGflops: r1(gflop / (dx / 1000)),
    };
    rows.push(row);
    console.error(`${row.layer.padEnd(22)} fwd ${String(row.forwardMs).padStart(5)} ms ${String(row.forwardGflops).padStart(5)} GF/s | dW ${String(row.filterGradMs).padStart(5)} ms ${String(row.filterGradGflops).padStart(5)} GF/s | dx ${String(row.inputGradMs).padStart(5)} ms ${String(row.inputGradGflops).padStart(5)} GF/s`);
    tf.dispose([x, w, dy]);
  }
  const result = {
    ...kernelBenchHeader('ml-layers', info),
    clock: useWall ? 'wall' : 'process cpu time',
    batch,
    layers: rows,
  };
  const file = writeBenchResult('ml-layers', result);
  process.stdout.write(JSON.stringify(result, null, 2) + '\n');
  console.error(`wrote ${path.relative(process.cwd(), file)}`);
}

await main();
