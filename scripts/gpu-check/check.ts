// GPU check: trains the CIFAR ResNet and ResNet-18 on the webgpu backend, compares one training step with the
// CPU result (our wasm backend, itself tested against tfjs' pure-JS CPU backend), and prints samples/s beside
// PyTorch's on the same GPU (scripts/gpu-check/torch_gpu.py; run.sh runs it first and passes --torch).
// Runs from the source tree (`node --import tsx scripts/gpu-check/check.ts`) or bundled (build.mjs → run.sh).
// Options: --models cifar-resnet,resnet18  --batch 128  --steps 300  --compare-batch 32  --out results.json
//          --torch torch.json  --allow-software (accept a software adapter such as lavapipe: start-up checks only)
import { writeFileSync, readFileSync, existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { cpus, totalmem } from 'node:os';
import { tf } from '../../ml/tf.js';
import { initBackend } from '../../ml/backend.js';
import { adapterLine, requestGpuAdapter, setWebgpuBackend, type GpuAdapterReport } from '../../ml/webgpu.js';
import { buildModel, RESNET18, type Model, type ModelSpec } from '../../ml/models.js';
import { train, type TrainConfig } from '../../ml/train.js';
import { loadDataset } from '../../ml/data/index.js';
import type { Split } from '../../ml/data/types.js';

export const CHECK_MODELS: Record<string, ModelSpec> = {
  'cifar-resnet': { arch: 'resnet', width: 16, blocksPerStage: [1, 1, 1, 1] },
  resnet18: RESNET18,
};
const INPUT = [32, 32, 3];
const CLASSES = 10;

interface StepComparison {
  batch: number;
  cpuLoss: number;
  gpuLoss: number;
  lossRelDiff: number;
  maxWeightRelDiff: number;
  worstParam: string;
  ok: boolean;
}

interface ModelResult {
  model: string;
  spec: ModelSpec;
  params: number;
  batch: number;
  steps: number;
  compare: StepComparison;
  warmupSeconds: number;
  seconds: number;
  samplesPerSec: number;
  firstEpochLoss: number;
  lastEpochLoss: number;
  gpuBytesPeak: number;
  torch?: { samplesPerSec: number; device?: string; torch?: string };
}

const { values: opt } = parseArgs({
  options: {
    models: { type: 'string', default: 'cifar-resnet,resnet18' },
    batch: { type: 'string', default: '128' },
    steps: { type: 'string', default: '300' },
    'compare-batch': { type: 'string', default: '32' },
    out: { type: 'string' },
    torch: { type: 'string' },
    'allow-software': { type: 'boolean', default: false },
  },
});

function positiveInt(name: string, v: string | undefined): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, got ${JSON.stringify(v)}`);
  return n;
}
const batch = positiveInt('batch', opt.batch);
const steps = positiveInt('steps', opt.steps);
const compareBatch = positiveInt('compare-batch', opt['compare-batch']);
const models = (opt.models ?? '').split(',').filter(Boolean);
for (const m of models) if (!CHECK_MODELS[m]) throw new Error(`--models: unknown model ${m}; known: ${Object.keys(CHECK_MODELS).join(', ')}`);

const log = (s: string): void => console.log(`[gpu-check] ${s}`);

async function weights(model: Model): Promise<Map<string, Float32Array>> {
  const vars = [...model.params(), ...model.buffers()];
  const data = await Promise.all(vars.map(({ variable }) => variable.data()));
  return new Map(vars.map(({ name }, i) => [name, Float32Array.from(data[i] as Float32Array)]));
}

/** A learnable data set (class prototypes plus noise) with `n` examples, so the loss must fall. */
async function dataOf(n: number, seed: number): Promise<Split> {
  const ds = await loadDataset({ name: 'synthetic', numClasses: CLASSES, shape: INPUT, perClass: Math.ceil(n / CLASSES), testPerClass: 1, memorizedPerClass: 0, noise: 4, seed });
  return ds.train;
}

const CONFIG = (b: number, epochs: number): TrainConfig => ({ epochs, batchSize: b, lr: 0.05, momentum: 0.9, weightDecay: 5e-4, seed: 0 });

/** One training step of the same model (same seed, same batch) on wasm and on webgpu. */
async function compareStep(spec: ModelSpec): Promise<StepComparison> {
  const split = await dataOf(compareBatch, 1);
  const one = { ...split, count: compareBatch };
  const run = async (backend: string) => {
    await tf.setBackend(backend);
    const model = buildModel(spec, INPUT, CLASSES, 0);
    const r = await train(model, one, CONFIG(compareBatch, 1));
    const w = await weights(model);
    model.dispose();
    return { loss: r.history[0].loss, w };
  };
  const cpu = await run('wasm');
  const gpu = await run('webgpu');
  let maxWeightRelDiff = 0;
  let worstParam = '';
  for (const [name, a] of cpu.w) {
    const b = gpu.w.get(name)!;
    for (let i = 0; i < a.length; i++) {
      const d = Math.abs(a[i] - b[i]) / Math.max(1, Math.abs(a[i]));
      if (!(d <= maxWeightRelDiff)) {
        maxWeightRelDiff = Number.isNaN(d) ? Infinity : d;
        worstParam = name;
      }
    }
  }
  const lossRelDiff = Math.abs(cpu.loss - gpu.loss) / Math.max(1, Math.abs(cpu.loss));
  return { batch: compareBatch, cpuLoss: cpu.loss, gpuLoss: gpu.loss, lossRelDiff, maxWeightRelDiff, worstParam, ok: lossRelDiff < 1e-3 && maxWeightRelDiff < 1e-3 };
}

async function throughput(name: string, spec: ModelSpec, compare: StepComparison, torch?: ModelResult['torch']): Promise<ModelResult> {
  await tf.setBackend('webgpu');
  // up to 50 distinct batches, reshuffled each epoch: epochs × batches ≈ steps
  const perEpoch = Math.min(steps, 50);
  const epochs = Math.max(1, Math.round(steps / perEpoch));
  const split = await dataOf(perEpoch * batch, 2);
  const data = { ...split, count: perEpoch * batch };
  const model = buildModel(spec, INPUT, CLASSES, 0);
  let peak = 0;
  const timer = setInterval(() => (peak = Math.max(peak, tf.memory().numBytes)), 50);
  try {
    const w0 = performance.now();
    await train(model, { ...data, count: 3 * batch }, CONFIG(batch, 1)); // shader compilation, buffer pools
    const warmupSeconds = (performance.now() - w0) / 1000;
    const t0 = performance.now();
    const r = await train(model, data, CONFIG(batch, epochs));
    const seconds = (performance.now() - t0) / 1000;
    const done = epochs * perEpoch;
    const out: ModelResult = {
      model: name,
      spec,
      params: model.numParams(),
      batch,
      steps: done,
      compare,
      warmupSeconds,
      seconds,
      samplesPerSec: (done * batch) / seconds,
      firstEpochLoss: r.history[0].loss,
      lastEpochLoss: r.history[r.history.length - 1].loss,
      gpuBytesPeak: peak,
      torch,
    };
    return out;
  } finally {
    clearInterval(timer);
    model.dispose();
  }
}

function torchResults(): Map<string, NonNullable<ModelResult['torch']>> {
  const out = new Map<string, NonNullable<ModelResult['torch']>>();
  if (!opt.torch) return out;
  if (!existsSync(opt.torch)) {
    log(`no PyTorch results at ${opt.torch}`);
    return out;
  }
  for (const line of readFileSync(opt.torch, 'utf8').split('\n').filter(Boolean)) {
    const r = JSON.parse(line) as { model: string; batch: number; samples_per_sec: number; device?: string; torch?: string };
    if (r.batch === batch) out.set(r.model, { samplesPerSec: r.samples_per_sec, device: r.device, torch: r.torch });
  }
  return out;
}

async function main(): Promise<void> {
  log(`node ${process.version}, ${cpus().length} CPUs (${cpus()[0]?.model}), ${Math.round(totalmem() / 2 ** 30)} GiB`);
  log(`Vulkan driver files: ${process.env.VK_DRIVER_FILES ?? process.env.VK_ICD_FILENAMES ?? '(loader default search)'}`);
  // wasm first: it is the CPU reference of the step comparison (initBackend registers our kernels on it)
  const cpuInfo = await initBackend({ prefer: 'wasm' });
  if (cpuInfo.name !== 'wasm') throw new Error(`the CPU reference backend is ${cpuInfo.name}, expected wasm`);
  const found = await requestGpuAdapter();
  if (!found) throw new Error('no WebGPU adapter: Dawn found no Vulkan driver (see run.sh: VK_DRIVER_FILES, the NVIDIA ICD json)');
  log(`adapter: ${adapterLine(found.report)}`);
  if (found.report.software && !opt['allow-software']) {
    throw new Error(`the adapter is a software rasteriser (${adapterLine(found.report)}), not a GPU; pass --allow-software to run anyway`);
  }
  const adapter: GpuAdapterReport = await setWebgpuBackend(found.adapter);
  log(`tfjs ${tf.version_core} on ${tf.getBackend()}; batch ${batch}, ${steps} steps per model, step comparison at batch ${compareBatch}`);
  const torch = torchResults();
  const results: ModelResult[] = [];
  for (const name of models) {
    const spec = CHECK_MODELS[name];
    log(`${name}: one step on wasm and on webgpu ...`);
    const compare = await compareStep(spec);
    log(`${name}: loss cpu ${compare.cpuLoss.toFixed(6)} gpu ${compare.gpuLoss.toFixed(6)} (rel ${compare.lossRelDiff.toExponential(2)}), weights max rel diff ${compare.maxWeightRelDiff.toExponential(2)} (${compare.worstParam}) ${compare.ok ? 'OK' : 'MISMATCH'}`);
    log(`${name}: training ${steps} steps of batch ${batch} on webgpu ...`);
    const r = await throughput(name, spec, compare, torch.get(name));
    results.push(r);
    log(`${name}: ${r.samplesPerSec.toFixed(1)} samples/s (${r.steps} steps in ${r.seconds.toFixed(1)} s after ${r.warmupSeconds.toFixed(1)} s warm-up), loss ${r.firstEpochLoss.toFixed(3)} -> ${r.lastEpochLoss.toFixed(3)}, peak tensor memory ${(r.gpuBytesPeak / 2 ** 20).toFixed(0)} MiB`);
  }
  console.log('\nmodel         params      batch  ours (webgpu) samples/s  PyTorch samples/s  ours/PyTorch  one-step check');
  for (const r of results) {
    const t = r.torch ? r.torch.samplesPerSec.toFixed(1) : 'n/a';
    const ratio = r.torch ? (r.samplesPerSec / r.torch.samplesPerSec).toFixed(2) : 'n/a';
    console.log(`${r.model.padEnd(13)} ${String(r.params).padEnd(11)} ${String(r.batch).padEnd(6)} ${r.samplesPerSec.toFixed(1).padEnd(24)} ${t.padEnd(18)} ${ratio.padEnd(13)} ${r.compare.ok ? 'OK' : 'MISMATCH'} (${r.compare.maxWeightRelDiff.toExponential(1)})`);
  }
  const report = { check: 'gpu-check', when: new Date().toISOString(), node: process.version, tfjs: tf.version_core, adapter, vkDriverFiles: process.env.VK_DRIVER_FILES ?? null, results };
  if (opt.out) {
    writeFileSync(opt.out, JSON.stringify(report, null, 2) + '\n');
    log(`results: ${opt.out}`);
  }
  if (results.some((r) => !r.compare.ok)) process.exitCode = 1;
  if (results.some((r) => r.steps > 50 && !(r.lastEpochLoss < r.firstEpochLoss))) {
    log('the loss did not fall: training is broken on this adapter');
    process.exitCode = 1;
  }
}

await main();
