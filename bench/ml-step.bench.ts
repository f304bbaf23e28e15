// `npm run bench -- ml-step`: where the time of one training step goes, per kernel, on the WebAssembly backend
// (or UNLEARN_BACKEND). For each model: wall ms per step (min and median of BENCH_STEP_N steps after 3 warm-up
// steps), forward / forward+backward / optimizer split, and per-kernel self time (kernels our kernels call
// internally are charged to themselves, not to the caller) of the fastest step. Times are process CPU time
// (BENCH_STEP_CLOCK=wall: wall clock), so other jobs on the machine inflate them far less.
// Env: BENCH_STEP_MODELS (comma list of ids below; default resnet-w16-1111,vit-tiny), BENCH_STEP_N (default 10).
// Writes bench/results/ml-step-<timestamp>.json. Tool for kernel work: run it before and after a change.
import path from 'node:path';
import { initBackend } from '../ml/backend.js';
import { buildModel, type ModelSpec } from '../ml/models.js';
import { crossEntropy, Sgd } from '../ml/train.js';
import { tf } from '../ml/tf.js';
import { Rng } from '../ml/rng.js';
import { kernelBenchHeader, writeBenchResult } from './result-file.js';
import { backendOptions, intVar, listVar, mlConfig } from '../config/index.js';

const MODELS: Record<string, { spec: ModelSpec; inputShape: number[]; batch: number }> = {
  'mlp-784-256-10': { spec: { arch: 'mlp', hidden: [256] }, inputShape: [28, 28, 1], batch: 64 },
  'resnet-w16-1111': { spec: { arch: 'resnet', width: 16, blocksPerStage: [1, 1, 1, 1] }, inputShape: [32, 32, 3], batch: 64 },
  'cnn-16-32-64': { spec: { arch: 'cnn', channels: [16, 32], dense: 64 }, inputShape: [28, 28, 1], batch: 64 },
  'vit-tiny': { spec: { arch: 'vit', patch: 4, dim: 64, depth: 2, heads: 4, mlpDim: 128 }, inputShape: [32, 32, 3], batch: 64 },
};

const r1 = (x: number): number => Math.round(x * 10) / 10;

// Process CPU time in ms (all threads; in steady state the main thread's). On this shared machine a kernel is often
// preempted mid-call, so wall-clock self times are inflated at random; CPU time is not (BENCH_STEP_CLOCK=wall for wall).
const useWall = process.env.BENCH_STEP_CLOCK === 'wall';
const clock = (): number => {
  if (useWall) return performance.now();
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

/** Wraps every registered kernel of the backend with a self-time accumulator (nested calls excluded). */
function instrument(backendName: string): { self: Map<string, { ms: number; calls: number }>; reset(): void } {
  const self = new Map<string, { ms: number; calls: number }>();
  const childMs: number[] = [];
  for (const k of tf.getKernelsForBackend(backendName)) {
    const f = k.kernelFunc;
    tf.unregisterKernel(k.kernelName, backendName);
    tf.registerKernel({
      ...k,
      kernelFunc: (args) => {
        childMs.push(0);
        const t = clock();
        try {
          return f(args);
        } finally {
          const total = clock() - t;
          const children = childMs.pop() ?? 0;
          if (childMs.length) childMs[childMs.length - 1] += total;
          const e = self.get(k.kernelName) ?? { ms: 0, calls: 0 };
          e.ms += total - children;
          e.calls++;
          self.set(k.kernelName, e);
        }
      },
    });
  }
  return { self, reset: () => self.clear() };
}

async function main(): Promise<void> {
  const info = await initBackend({ prefer: 'wasm', ...backendOptions(mlConfig(process.env)) });
  const ids = listVar(process.env, 'BENCH_STEP_MODELS', ['resnet-w16-1111', 'vit-tiny']);
  const n = intVar(process.env, 'BENCH_STEP_N', 10);
  const probe = instrument(tf.getBackend());
  const results: unknown[] = [];
  for (const id of ids) {
    const m = MODELS[id];
    if (!m) throw new Error(`BENCH_STEP_MODELS: unknown model ${id}; known: ${Object.keys(MODELS).join(', ')}`);
    const model = buildModel(m.spec, m.inputShape, 10, 0);
    const rng = new Rng(1);
    const d = m.inputShape.reduce((a, b) => a * b, 1);
    const x = tf.tensor(Float32Array.from({ length: m.batch * d }, () => rng.normal()), [m.batch, ...m.inputShape]);
    const y = tf.tensor1d(Int32Array.from({ length: m.batch }, () => rng.int(10)), 'int32');
    const sgd = new Sgd({ momentum: 0.9, weightDecay: 5e-4 });
    const vars = model.params();
    const split = { forwardMs: Infinity, forwardBackwardMs: Infinity, optimizerMs: Infinity };
    const steps: number[] = [];
    let best: Array<[string, { ms: number; calls: number }]> = [];
    for (let i = 0; i < 3 + n; i++) {
      const t0 = clock();
      tf.tidy(() => crossEntropy(model.logits(x, true, { updateStats: false }), y).dataSync());
      probe.reset();
      const t1 = clock();
      const { value, grads } = tf.variableGrads(() => crossEntropy(model.logits(x, true), y), vars.map((v) => v.variable));
      value.dataSync();
      const t2 = clock();
      sgd.step(vars, new Map(vars.map((v) => [v.name, grads[v.variable.name]])), 0.01);
      const t3 = clock();
      tf.dispose(grads);
      value.dispose();
      if (i < 3) continue;
      const step = t3 - t1; // a training step: forward+backward and the update (the extra forward is not part of it)
      if (steps.length === 0 || step < Math.min(...steps)) best = [...probe.self].map(([k, v]) => [k, { ...v }]);
      steps.push(step);
      split.forwardMs = Math.min(split.forwardMs, t1 - t0);
      split.forwardBackwardMs = Math.min(split.forwardBackwardMs, t2 - t1);
      split.optimizerMs = Math.min(split.optimizerMs, t3 - t2);
    }
    steps.sort((a, b) => a - b);
    const kernels = best
      .sort((a, b) => b[1].ms - a[1].ms)
      .map(([name, v]) => ({ name, selfMs: r1(v.ms), calls: v.calls }))
      .filter((k) => k.selfMs >= 0.1);
    const out = {
      model: id,
      spec: m.spec,
      batch: m.batch,
      stepMsMin: r1(steps[0]),
      stepMsMedian: r1(steps[steps.length >> 1]),
      samplesPerSecBest: r1((m.batch * 1000) / steps[0]),
      samplesPerSecMedian: r1((m.batch * 1000) / steps[steps.length >> 1]),
      forwardMs: r1(split.forwardMs),
      forwardBackwardMs: r1(split.forwardBackwardMs),
      optimizerMs: r1(split.optimizerMs),
      kernels,
    };
    results.push(out);
    console.error(`${id}: step ${out.stepMsMin} ms min / ${out.stepMsMedian} median (${out.samplesPerSecBest} / ${out.samplesPerSecMedian} samples/s); forward ${out.forwardMs}, fwd+bwd ${out.forwardBackwardMs}, optimizer ${out.optimizerMs} ms`);
    for (const k of kernels.slice(0, 12)) console.error(`   ${k.name.padEnd(28)} ${String(k.selfMs).padStart(7)} ms  ${k.calls} calls`);
    model.dispose();
    x.dispose();
    y.dispose();
  }
  const result = {
    ...kernelBenchHeader('ml-step', info),
    clock: useWall ? 'wall' : 'process cpu time',
    results,
  };
  const file = writeBenchResult('ml-step', result);
  process.stdout.write(JSON.stringify(result, null, 2) + '\n');
  console.error(`wrote ${path.relative(process.cwd(), file)}`);
}

await main();
