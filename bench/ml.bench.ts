// `npm run bench -- ml`: training throughput (samples/s, wall and per CPU-second) and peak memory
// (process rss, tf.memory bytes) of the MLP, the small CNN and the CPU ResNet on each backend available.
// Each (backend, model) runs in its own child process (clean engine, clean rss peak).
// Prints JSON to stdout and writes bench/results/ml-<timestamp>.json (machine, load average at start).
// Env: BENCH_ML_STEPS (timed steps per model, default 30 wasm / 4 cpu), BENCH_ML_MODELS (comma list).
// The machine is shared with other engineers' jobs: wall-clock samples/s depends on their load; the
// per-CPU-second figure (process.cpuUsage) is the steadier one. Both are reported.
import { spawnSync } from 'node:child_process';
import { machineInfo, writeBenchResult } from './result-file.js';
import { loadavg } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { backendOptions, intVar, listVar, mlConfig } from '../config/index.js';

interface BenchModel {
  id: string;
  spec: unknown;
  inputShape: number[];
  batch: number;
  /** backends this model runs on (pure-JS cpu is ~100x slower for convolutions: MLP/CNN only). */
  backends: string[];
}

const MODELS: BenchModel[] = [
  { id: 'mlp-784-256-10', spec: { arch: 'mlp', hidden: [256] }, inputShape: [28, 28, 1], batch: 64, backends: ['wasm', 'cpu', 'node'] },
  { id: 'cnn-16-32-64', spec: { arch: 'cnn', channels: [16, 32], dense: 64 }, inputShape: [28, 28, 1], batch: 64, backends: ['wasm', 'cpu', 'node'] },
  { id: 'resnet-w16-1111', spec: { arch: 'resnet', width: 16, blocksPerStage: [1, 1, 1, 1] }, inputShape: [32, 32, 3], batch: 64, backends: ['wasm', 'node'] },
];

const here = path.dirname(fileURLToPath(import.meta.url));
const r1 = (x: number): number => Math.round(x * 10) / 10;

async function child(modelId: string): Promise<void> {
  const { initBackend } = await import('../ml/backend.js');
  const { buildModel } = await import('../ml/models.js');
  const { train, crossEntropy } = await import('../ml/train.js');
  const { tf } = await import('../ml/tf.js');
  const { Rng } = await import('../ml/rng.js');
  const info = await initBackend(backendOptions(mlConfig(process.env)));
  const m = MODELS.find((x) => x.id === modelId)!;
  const steps = intVar(process.env, 'BENCH_ML_STEPS', info.name === 'cpu' ? 4 : 30);
  const warm = info.name === 'cpu' ? 1 : 3;
  const d = m.inputShape.reduce((a, b) => a * b, 1);
  const mkSplit = (n: number) => {
    const rng = new Rng(1);
    const x = Float32Array.from({ length: n * d }, () => rng.normal());
    const y = Int32Array.from({ length: n }, () => rng.int(10));
    return { x, y, ids: Int32Array.from({ length: n }, (_, i) => i), count: n, exampleShape: m.inputShape };
  };
  const model = buildModel(m.spec as never, m.inputShape, 10, 0);
  const cfg = { epochs: 1, batchSize: m.batch, lr: 0.01, momentum: 0.9, weightDecay: 5e-4, seed: 0 };
  let peakRss = process.memoryUsage().rss;
  let peakTf = tf.memory().numBytes;
  const sample = (): void => {
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
    peakTf = Math.max(peakTf, tf.memory().numBytes);
  };
  await train(model, mkSplit(warm * m.batch), cfg);
  const split = mkSplit(steps * m.batch);
  const timer = setInterval(sample, 20);
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  // sample memory inside the loss (forward activations alive) as well as on a timer
  await train(model, split, cfg, {
    yieldEveryMs: 0,
    loss: (z, y) => {
      sample();
      return crossEntropy(z, y);
    },
  });
  const wall = (performance.now() - t0) / 1000;
  const cu = process.cpuUsage(c0);
  clearInterval(timer);
  sample();
  const cpuS = (cu.user + cu.system) / 1e6;
  const out = {
    model: m.id,
    spec: m.spec,
    inputShape: m.inputShape,
    batch: m.batch,
    backend: info.name,
    tfBackend: info.tfBackend,
    threads: info.threads,
    steps,
    params: model.numParams(),
    samplesPerSec: r1(split.count / wall),
    samplesPerCpuSec: r1(split.count / cpuS),
    msPerStep: r1((wall * 1000) / steps),
    peakRssMiB: r1(peakRss / 2 ** 20),
    peakTfMiB: r1(peakTf / 2 ** 20),
  };
  process.stdout.write(JSON.stringify(out) + '\n');
}

async function main(): Promise<void> {
  const want = process.env.BENCH_ML_MODELS ? listVar(process.env, 'BENCH_ML_MODELS', []) : undefined;
  const machine = machineInfo();
  const runs: unknown[] = [];
  const skipped: string[] = [];
  for (const backend of ['node-gpu', 'node', 'wasm', 'cpu']) {
    for (const m of MODELS) {
      if (want && !want.includes(m.id)) continue;
      if (!m.backends.includes(backend) && backend !== 'node-gpu') continue;
      const r = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--child', m.id], {
        env: { ...process.env, UNLEARN_BACKEND: backend },
        encoding: 'utf8',
        maxBuffer: 1 << 24,
      });
      const line = r.stdout.trim().split('\n').filter((l) => l.startsWith('{')).pop();
      if (r.status !== 0 || !line) {
        const why = (r.stderr.match(/Error: (UNLEARN_BACKEND=\S+ could not be loaded[^\n]*)/) ?? [, r.stderr.trim().split('\n').pop()])[1];
        skipped.push(`${backend}/${m.id}: ${String(why).split(path.resolve(here, '..') + path.sep).join('')}`); // no machine paths in results
        if (backend === 'node-gpu' || backend === 'node') break; // not installed: skip its other models
        continue;
      }
      const res = JSON.parse(line) as Record<string, unknown>;
      runs.push({ ...res, loadavgBefore: loadavg().map(r1) });
      console.error(`${backend.padEnd(5)} ${m.id.padEnd(16)} ${String(res.samplesPerSec).padStart(7)} samples/s  ${String(res.samplesPerCpuSec).padStart(7)} samples/cpu-s  rss ${res.peakRssMiB} MiB`);
    }
  }
  // PyTorch-CPU, one thread, same models, same time window (so the ratio is fair under shared load)
  let pytorch: Array<Record<string, unknown>> = [];
  for (const py of ['/usr/bin/python3', 'python3']) {
    const r = spawnSync(py, [path.join(here, 'ml_torch.py')], { encoding: 'utf8', env: { ...process.env } });
    if (r.status === 0) {
      pytorch = r.stdout.trim().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
      break;
    }
  }
  if (pytorch.length === 0) skipped.push('pytorch: python3 with torch not found (Debian: apt-get install python3-torch)');
  const ratios = pytorch.map((t) => {
    const ours = (runs as Array<Record<string, unknown>>).find((r) => r.model === t.model && r.backend === 'wasm');
    return {
      model: t.model,
      wasmOverTorchWall: ours ? Math.round((100 * (ours.samplesPerSec as number)) / (t.samplesPerSec as number)) / 100 : null,
      wasmOverTorchCpu: ours ? Math.round((100 * (ours.samplesPerCpuSec as number)) / (t.samplesPerCpuSec as number)) / 100 : null,
    };
  });
  for (const t of pytorch) console.error(`torch ${String(t.model).padEnd(16)} ${String(t.samplesPerSec).padStart(7)} samples/s  ${String(t.samplesPerCpuSec).padStart(7)} samples/cpu-s`);
  const result = {
    bench: 'ml',
    at: new Date().toISOString(),
    machine,
    loadavgAtEnd: loadavg().map(r1),
    note: 'single-threaded backends; other jobs share this machine (see loadavg): compare samplesPerCpuSec and the wasm/torch ratios measured in the same window',
    runs,
    pytorch,
    ratios,
    skipped,
  };
  const file = writeBenchResult('ml', result);
  process.stdout.write(JSON.stringify(result, null, 2) + '\n');
  console.error(`wrote ${path.relative(process.cwd(), file)}`);
}

if (process.argv[2] === '--child') await child(process.argv[3]);
else await main();
