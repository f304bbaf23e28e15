// `npm run bench -- ml`: training throughput (samples/s, wall and per CPU-second) and peak memory (process rss,
// tf.memory bytes) of the MLP, the small CNN and the CPU ResNet on each backend available, against PyTorch.
// Each (backend, model) runs in its own child process (clean engine, clean rss peak).
// Parts (BENCH_ML_PARTS, comma list, default all):
//   throughput  one worker per model and backend, vs PyTorch with one thread
//   workers     two wasm worker processes at once (one per core) vs PyTorch with two threads: per machine, per core
//   memory      peak rss of one worker training ResNet-18 (width 64) on CIFAR-10-shaped batches of 128
//   leak        BENCH_ML_LEAK_STEPS (1,000) steps of a small ResNet: live tensors, tf bytes and rss must not grow
// The reference is PyTorch from PyPI (BENCH_TORCH_VERSION, default 2.15.0), which the bench installs on first use
// into a cached virtual environment (~/.cache/unlearn-bench/venv-torch-<version>, or under XDG_CACHE_HOME; the
// Linux x86_64 wheel pulls its CUDA libraries too: ~5.3 GiB, minutes once). Debian's python3-torch (1.13) is a
// second column when installed. BENCH_TORCH_INSTALL=0: use the environment only if it is already there.
// Prints JSON to stdout and writes bench/results/ml-<timestamp>.json (machine, CPU model, load averages).
// Env: BENCH_ML_STEPS (timed steps per model, at least; default 100; 4 on cpu and on a software GPU adapter), BENCH_ML_WARMUP
// (untimed steps before them, default 30; 1 on cpu and a software adapter; PyTorch gets the same count: with only
// 3, our first timed steps included V8's optimizing compiles, which process CPU time counts), BENCH_ML_MODELS,
// BENCH_ML_SECONDS (timed seconds per model at least, at the warm-up's pace; default 5, 0 on cpu and a software
// adapter; PyTorch the same), BENCH_ML_BACKENDS (comma lists; default every backend: node-gpu, webgpu, node, wasm, wasm-only (wasm with the
// native kernels off: UNLEARN_NATIVE_KERNELS=0), cpu).
// webgpu rows on a software adapter (Mesa's lavapipe on a CPU-only machine) measure correctness and the backend's
// overhead, never GPU speed; the row names its adapter.
// The machine is shared with other jobs: wall-clock samples/s depends on their load; the per-CPU-second figure
// (process.cpuUsage) is the steadier one, and the ratio to PyTorch measured in the same minutes the fairest.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
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
  { id: 'mlp-784-256-10', spec: { arch: 'mlp', hidden: [256] }, inputShape: [28, 28, 1], batch: 64, backends: ['webgpu', 'wasm', 'cpu', 'node'] },
  { id: 'cnn-16-32-64', spec: { arch: 'cnn', channels: [16, 32], dense: 64 }, inputShape: [28, 28, 1], batch: 64, backends: ['webgpu', 'wasm', 'cpu', 'node'] },
  { id: 'resnet-w16-1111', spec: { arch: 'resnet', width: 16, blocksPerStage: [1, 1, 1, 1] }, inputShape: [32, 32, 3], batch: 64, backends: ['webgpu', 'wasm', 'node'] },
];

const here = path.dirname(fileURLToPath(import.meta.url));
const r1 = (x: number): number => Math.round(x * 10) / 10;

/** n random examples (normal inputs, uniform labels of 10 classes), deterministic. */
async function randomSplit(n: number, shape: number[]): Promise<{ x: Float32Array; y: Int32Array; ids: Int32Array; count: number; exampleShape: number[] }> {
  const { Rng } = await import('../ml/rng.js');
  const d = shape.reduce((a, b) => a * b, 1);
  const rng = new Rng(1);
  const x = Float32Array.from({ length: n * d }, () => rng.normal());
  const y = Int32Array.from({ length: n }, () => rng.int(10));
  return { x, y, ids: Int32Array.from({ length: n }, (_, i) => i), count: n, exampleShape: shape };
}

async function child(modelId: string): Promise<void> {
  const { initBackend } = await import('../ml/backend.js');
  const { buildModel } = await import('../ml/models.js');
  const { train, crossEntropy } = await import('../ml/train.js');
  const { tf } = await import('../ml/tf.js');
  const info = await initBackend(backendOptions(mlConfig(process.env)));
  const m = MODELS.find((x) => x.id === modelId)!;
  // pure-JS cpu and a software GPU adapter (lavapipe: correctness and overhead only) are slow: few steps
  const slow = info.name === 'cpu' || info.adapter?.software === true;
  const steps = intVar(process.env, 'BENCH_ML_STEPS', slow ? 4 : 100);
  const warm = intVar(process.env, 'BENCH_ML_WARMUP', slow ? 1 : 30);
  const model = buildModel(m.spec as never, m.inputShape, 10, 0);
  const cfg = { epochs: 1, batchSize: m.batch, lr: 0.01, momentum: 0.9, weightDecay: 5e-4, seed: 0 };
  let peakRss = process.memoryUsage().rss;
  let peakTf = tf.memory().numBytes;
  // rss read at most every 5 ms (process.memoryUsage() cost ~70 us a call here: 4% of an MLP step when read every step)
  let lastRss = 0;
  const sample = (): void => {
    const now = performance.now();
    if (now - lastRss >= 5) {
      peakRss = Math.max(peakRss, process.memoryUsage.rss());
      lastRss = now;
    }
    peakTf = Math.max(peakTf, tf.memory().numBytes);
  };
  // warm-up: at least BENCH_ML_WARMUP steps and BENCH_ML_WARMUP_SECONDS (default 2): V8 compiles the hot paths on
  // background threads during the first second or two, which process CPU time would otherwise charge to the step
  const warmSplit = await randomSplit(warm * m.batch, m.inputShape);
  const warmSeconds = Number(process.env.BENCH_ML_WARMUP_SECONDS ?? (slow ? 0 : 2));
  const wStart = performance.now();
  let w0 = wStart;
  do {
    w0 = performance.now();
    await train(model, warmSplit, cfg);
  } while (performance.now() - wStart < warmSeconds * 1000);
  // at least BENCH_ML_STEPS timed steps and about BENCH_ML_SECONDS (default 5) of them at the warm-up's pace, so a
  // fast model's figure is its steady state (300 MLP steps are 0.4 s, where V8's compiles still count); epochs of at
  // most 256 batches over one split keep the data small
  const seconds = Number(process.env.BENCH_ML_SECONDS ?? (slow ? 0 : 5));
  const target = Math.max(steps, Math.ceil((seconds * 1000) / ((performance.now() - w0) / Math.max(1, warm))));
  const perEpoch = Math.min(target, 256);
  const epochs = Math.ceil(target / perEpoch);
  const split = await randomSplit(perEpoch * m.batch, m.inputShape);
  const timer = setInterval(sample, 20);
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  // sample memory inside the loss (forward activations alive) as well as on a timer
  // the driver's default yield interval (100 ms), as a real run: yielding every step cost ~2 % of an MLP step
  await train(model, split, { ...cfg, epochs }, {
    loss: (z, y) => {
      sample();
      return crossEntropy(z, y);
    },
  });
  const wall = (performance.now() - t0) / 1000;
  const cu = process.cpuUsage(c0);
  clearInterval(timer);
  lastRss = -Infinity;
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
    // wasm: which build of our kernels ran the matmuls and convolutions (native-avx2, wasm-relaxed, wasm-simd)
    kernels: info.kernels?.name,
    // webgpu: the adapter; on a software one (lavapipe) these figures are CPU rasteriser speed, never GPU speed
    adapter: info.adapter,
    steps: perEpoch * epochs,
    warmup: warm,
    params: model.numParams(),
    samplesPerSec: r1((epochs * split.count) / wall),
    samplesPerCpuSec: r1((epochs * split.count) / cpuS),
    msPerStep: r1((wall * 1000) / (perEpoch * epochs)),
    peakRssMiB: r1(peakRss / 2 ** 20),
    peakTfMiB: r1(peakTf / 2 ** 20),
  };
  process.stdout.write(JSON.stringify(out) + '\n');
}

type Row = Record<string, unknown>;

/** Runs this file as a child (`--child <model>` and friends) and returns its last JSON line, or why it failed. */
function runChild(args: string[], env: NodeJS.ProcessEnv): Promise<{ res?: Row; err?: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.on('close', (code) => {
      const line = out.trim().split('\n').filter((l) => l.startsWith('{')).pop();
      if (code === 0 && line) resolve({ res: JSON.parse(line) as Row });
      else {
        const why = (err.match(/Error: (UNLEARN_BACKEND=\S+ could not be loaded[^\n]*)/) ?? [, err.trim().split('\n').pop()])[1];
        resolve({ err: String(why).split(path.resolve(here, '..') + path.sep).join('') }); // no machine paths in results
      }
    });
  });
}

const cacheRoot = (): string => path.join(process.env.XDG_CACHE_HOME || path.join(homedir(), '.cache'), 'unlearn-bench');

/** The torch version a python reports, or undefined when it cannot import torch. */
function torchVersion(python: string): string | undefined {
  const r = spawnSync(python, ['-c', 'import sys, torch; sys.stdout.write(torch.__version__)'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

/**
 * The python of a virtual environment holding torch==version from PyPI, installed on first use (pip, the ordinary
 * client: its index and proxy settings apply). Throws with the failing step.
 */
function torchVenv(version: string): string {
  const dir = path.join(cacheRoot(), `venv-torch-${version}`);
  const python = path.join(dir, 'bin', 'python');
  const have = existsSync(python) ? torchVersion(python) : undefined;
  if (have?.startsWith(version)) return python;
  if (process.env.BENCH_TORCH_INSTALL === '0') throw new Error(`torch ${version} is not installed in the bench cache and BENCH_TORCH_INSTALL=0`);
  rmSync(dir, { recursive: true, force: true }); // a partial install from an interrupted run
  console.error(`installing torch==${version} from PyPI into the bench cache (first run only; the wheel and its CUDA libraries are ~5 GiB)`);
  const base = process.env.BENCH_PYTHON ?? 'python3';
  const venv = spawnSync(base, ['-m', 'venv', dir], { stdio: ['ignore', 'inherit', 'inherit'] });
  if (venv.status !== 0) throw new Error(`\`${base} -m venv\` failed (exit ${venv.status})`);
  const pip = spawnSync(python, ['-m', 'pip', 'install', '--disable-pip-version-check', '--no-input', '--progress-bar', 'off', `torch==${version}`], { stdio: ['ignore', 2, 'inherit'] });
  if (pip.status !== 0) throw new Error(`pip install torch==${version} failed (exit ${pip.status})`);
  const got = torchVersion(python);
  if (!got?.startsWith(version)) throw new Error(`torch ${version} installed but \`import torch\` fails in the new environment`);
  return python;
}

function runTorch(python: string, env: NodeJS.ProcessEnv): { rows: Row[]; err?: string } {
  const r = spawnSync(python, [path.join(here, 'ml_torch.py')], { encoding: 'utf8', env: { ...process.env, ...env } });
  if (r.status !== 0) return { rows: [], err: r.stderr.trim().split('\n').pop() };
  return { rows: r.stdout.trim().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Row) };
}

const ratio = (a: unknown, b: unknown): number | null => (typeof a === 'number' && typeof b === 'number' && b > 0 ? Math.round((100 * a) / b) / 100 : null);

async function main(): Promise<void> {
  const want = process.env.BENCH_ML_MODELS ? listVar(process.env, 'BENCH_ML_MODELS', []) : undefined;
  const wantBackends = process.env.BENCH_ML_BACKENDS ? listVar(process.env, 'BENCH_ML_BACKENDS', []) : undefined;
  const parts = new Set(listVar(process.env, 'BENCH_ML_PARTS', ['throughput', 'workers', 'memory', 'leak']));
  const models = MODELS.filter((m) => !want || want.includes(m.id));
  const machine = machineInfo();
  const skipped: string[] = [];
  const modelEnv = want ? { BENCH_ML_MODELS: want.join(',') } : {};

  // references: PyPI's torch (pinned) first, Debian's if installed
  const torchWant = process.env.BENCH_TORCH_VERSION ?? '2.15.0';
  const references: Array<{ name: string; python: string; version: string }> = [];
  try {
    const python = torchVenv(torchWant);
    references.push({ name: 'pypi', python, version: torchVersion(python)! });
  } catch (e) {
    skipped.push(`pytorch ${torchWant} (PyPI): ${(e as Error).message}`);
  }
  const debian = torchVersion('/usr/bin/python3');
  if (debian) references.push({ name: 'debian', python: '/usr/bin/python3', version: debian });
  else skipped.push('pytorch (Debian): /usr/bin/python3 cannot import torch (apt-get install python3-torch)');

  const result: Row = {
    bench: 'ml',
    at: new Date().toISOString(),
    commit: spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: here, encoding: 'utf8' }).stdout?.trim() || null,
    machine,
    references: references.map((r) => ({ name: r.name, torch: r.version })),
    note: 'single-threaded backends unless stated; other jobs share this machine (see the load averages): compare samplesPerCpuSec and the ratios to PyTorch measured in the same minutes',
  };

  if (parts.has('throughput')) {
    const runs: Row[] = [];
    // 'wasm-only': the wasm backend with the native kernels turned off (UNLEARN_NATIVE_KERNELS=0): the before column
    for (const backend of ['node-gpu', 'webgpu', 'node', 'wasm', 'wasm-only', 'cpu']) {
      if (wantBackends && !wantBackends.includes(backend)) continue;
      for (const m of models) {
        const base = backend === 'wasm-only' ? 'wasm' : backend;
        if (!m.backends.includes(base) && backend !== 'node-gpu') continue;
        const { res, err } = await runChild(['--child', m.id], { UNLEARN_BACKEND: base, ...(backend === 'wasm-only' ? { UNLEARN_NATIVE_KERNELS: '0' } : {}) });
        if (!res) {
          skipped.push(`${backend}/${m.id}: ${err}`);
          if (backend === 'node-gpu' || backend === 'node' || backend === 'webgpu') break; // not installed / no adapter: skip its other models
          continue;
        }
        runs.push({ ...res, backend, loadavgBefore: loadavg().map(r1) });
        console.error(`${backend.padEnd(9)} ${m.id.padEnd(16)} ${String(res.samplesPerSec).padStart(7)} samples/s  ${String(res.samplesPerCpuSec).padStart(7)} samples/cpu-s  rss ${res.peakRssMiB} MiB`);
      }
    }
    // PyTorch, one thread, same models, right after (so the ratio is fair under shared load)
    const torch: Record<string, Row[]> = {};
    for (const ref of references) {
      const { rows, err } = runTorch(ref.python, { ...modelEnv, BENCH_TORCH_THREADS: '1' });
      if (err) skipped.push(`pytorch ${ref.version}: ${err}`);
      torch[ref.name] = rows;
      for (const t of rows) console.error(`torch ${ref.version} ${String(t.model).padEnd(16)} ${String(t.samplesPerSec).padStart(7)} samples/s  ${String(t.samplesPerCpuSec).padStart(7)} samples/cpu-s`);
    }
    // ours (the training loop) over PyTorch's training loop (like for like) and over its bare step (its floor)
    const ratios = models.map((m) => {
      const row: Row = { model: m.id };
      for (const backend of ['wasm', 'wasm-only']) {
        const ours = runs.find((r) => r.model === m.id && r.backend === backend);
        if (!ours) continue;
        const label = backend === 'wasm' ? 'wasm' : 'wasmOnly';
        for (const ref of references) {
          const t = torch[ref.name].find((r) => r.model === m.id);
          row[`${label}OverTorch${ref.version}Cpu`] = ratio(ours.samplesPerCpuSec, t?.samplesPerCpuSec);
          row[`${label}OverTorch${ref.version}Wall`] = ratio(ours.samplesPerSec, t?.samplesPerSec);
          row[`${label}OverTorch${ref.version}StepOnlyCpu`] = ratio(ours.samplesPerCpuSec, t?.stepOnlySamplesPerCpuSec);
        }
      }
      return row;
    });
    Object.assign(result, { runs, pytorch: torch, ratios });
  }

  if (parts.has('workers')) {
    // two wasm workers at once (one process per core, as a sweep runs them) vs PyTorch with two threads
    const rows: Row[] = [];
    const torch2 = references.length ? runTorch(references[0].python, { ...modelEnv, BENCH_TORCH_THREADS: '2' }) : { rows: [] as Row[] };
    if (torch2.err) skipped.push(`pytorch 2 threads: ${torch2.err}`);
    for (const m of models) {
      const pair = await Promise.all([0, 1].map(() => runChild(['--child', m.id], { UNLEARN_BACKEND: 'wasm' })));
      const ok = pair.map((p) => p.res).filter((r): r is Row => r !== undefined);
      if (ok.length !== 2) {
        skipped.push(`workers/${m.id}: ${pair.map((p) => p.err).filter(Boolean).join('; ')}`);
        continue;
      }
      const perMachine = r1((ok[0].samplesPerSec as number) + (ok[1].samplesPerSec as number));
      const t = torch2.rows.find((r) => r.model === m.id);
      const row = {
        model: m.id,
        workers: 2,
        samplesPerSecPerMachine: perMachine,
        samplesPerSecPerCore: r1(perMachine / 2),
        workerSamplesPerSec: ok.map((r) => r.samplesPerSec),
        peakRssMiBPerWorker: ok.map((r) => r.peakRssMiB),
        torch: references[0]?.version,
        torch2ThreadsSamplesPerSec: t?.samplesPerSec ?? null,
        torch2ThreadsSamplesPerCpuSec: t?.samplesPerCpuSec ?? null,
        wasmOverTorchPerMachine: ratio(perMachine, t?.samplesPerSec),
        loadavgAfter: loadavg().map(r1),
      };
      rows.push(row);
      console.error(`2 workers ${m.id.padEnd(16)} ${String(perMachine).padStart(7)} samples/s per machine (${row.samplesPerSecPerCore} per core); torch 2 threads ${row.torch2ThreadsSamplesPerSec}`);
    }
    result.workers = rows;
  }

  if (parts.has('memory')) {
    const { res, err } = await runChild(['--memory'], { UNLEARN_BACKEND: 'wasm' });
    if (!res) skipped.push(`memory: ${err}`);
    const torchMem = references.map((ref) => runTorch(ref.python, { BENCH_TORCH_MODE: 'memory' }).rows[0]).filter(Boolean);
    result.memory = { wasm: res ?? null, pytorch: torchMem };
    if (res) console.error(`memory resnet18-w64 batch 128: wasm peak rss ${res.peakRssMiB} MiB (${res.msPerStep} ms/step); torch ${torchMem.map((t) => `${t.torch}: ${t.peakRssMiB} MiB`).join(', ')}`);
  }

  if (parts.has('leak')) {
    const { res, err } = await runChild(['--leak'], { UNLEARN_BACKEND: 'wasm' });
    if (!res) skipped.push(`leak: ${err}`);
    result.leak = res ?? null;
    if (res) console.error(`leak check ${res.model} ${res.steps} steps: tensors ${res.tensorsFirst} -> ${res.tensorsLast}, rss ${res.rssMiBFirst} -> ${res.rssMiBLast} MiB: ${res.noGrowth ? 'no growth' : 'GROWS'}`);
  }

  result.loadavgAtEnd = loadavg().map(r1);
  result.skipped = skipped;
  const file = writeBenchResult('ml', result);
  process.stdout.write(JSON.stringify(result, null, 2) + '\n');
  console.error(`wrote ${path.relative(process.cwd(), file)}`);
}

/** Peak memory of one worker training ResNet-18 (width 64) on CIFAR-10-shaped batches of 128. */
async function memoryChild(): Promise<void> {
  const { initBackend } = await import('../ml/backend.js');
  const { buildModel, RESNET18 } = await import('../ml/models.js');
  const { train, crossEntropy } = await import('../ml/train.js');
  const { tf } = await import('../ml/tf.js');
  const info = await initBackend();
  const steps = Number(process.env.BENCH_ML_MEMORY_STEPS ?? 3);
  const batch = 128;
  const shape = [32, 32, 3];
  const model = buildModel(RESNET18, shape, 10, 0);
  const split = await randomSplit((1 + steps) * batch, shape);
  let peakTf = 0;
  const t0 = performance.now();
  await train(model, split, { epochs: 1, batchSize: batch, lr: 0.01, momentum: 0.9, weightDecay: 5e-4, seed: 0 }, {
    yieldEveryMs: 0,
    loss: (z, y) => {
      peakTf = Math.max(peakTf, tf.memory().numBytes);
      return crossEntropy(z, y);
    },
  });
  // the kernel's high-water mark (ru_maxrss): the peak inside the backward pass too, which no sampler between steps sees
  const peakRss = process.resourceUsage().maxRSS * 1024;
  const out = { model: 'resnet18-w64', spec: RESNET18, batch, steps: steps + 1, backend: info.name, msPerStep: r1((performance.now() - t0) / (steps + 1)), params: model.numParams(), peakRssMiB: r1(peakRss / 2 ** 20), peakTfMiB: r1(peakTf / 2 ** 20) };
  process.stdout.write(JSON.stringify(out) + '\n');
}

/** BENCH_ML_LEAK_STEPS training steps in epochs of 100: live tensors and tf bytes must stay equal, rss flat. */
async function leakChild(): Promise<void> {
  const { initBackend } = await import('../ml/backend.js');
  const { buildModel } = await import('../ml/models.js');
  const { train } = await import('../ml/train.js');
  const { tf } = await import('../ml/tf.js');
  const info = await initBackend();
  const steps = Number(process.env.BENCH_ML_LEAK_STEPS ?? 1000);
  const perEpoch = 100;
  const batch = 16;
  const shape = [32, 32, 3];
  const spec = { arch: 'resnet' as const, width: 16, blocksPerStage: [1, 1, 1, 1] };
  const model = buildModel(spec, shape, 10, 0);
  const split = await randomSplit(perEpoch * batch, shape);
  const epochs: Array<{ tensors: number; tfBytes: number; rssMiB: number }> = [];
  const t0 = performance.now();
  await train(model, split, { epochs: Math.ceil(steps / perEpoch), batchSize: batch, lr: 0.01, momentum: 0.9, weightDecay: 5e-4, seed: 0 }, {
    yieldEveryMs: 0,
    onEpoch: () => {
      epochs.push({ tensors: tf.memory().numTensors, tfBytes: tf.memory().numBytes, rssMiB: r1(process.memoryUsage().rss / 2 ** 20) });
    },
  });
  const first = epochs[1] ?? epochs[0]; // after the first epoch's warm-up (heap growth, compiled code)
  const last = epochs[epochs.length - 1];
  const rssGrowth = r1(last.rssMiB - first.rssMiB);
  const out = {
    model: 'resnet-w16-1111',
    batch,
    steps: epochs.length * perEpoch,
    backend: info.name,
    msPerStep: r1((performance.now() - t0) / (epochs.length * perEpoch)),
    perEpoch: epochs,
    tensorsFirst: first.tensors,
    tensorsLast: last.tensors,
    tfBytesFirst: first.tfBytes,
    tfBytesLast: last.tfBytes,
    rssMiBFirst: first.rssMiB,
    rssMiBLast: last.rssMiB,
    rssGrowthMiB: rssGrowth,
    // tensors and bytes exactly equal; rss within 16 MiB (allocator and JIT noise)
    noGrowth: last.tensors === first.tensors && last.tfBytes === first.tfBytes && rssGrowth < 16,
  };
  process.stdout.write(JSON.stringify(out) + '\n');
}

if (process.argv[2] === '--child') await child(process.argv[3]);
else if (process.argv[2] === '--memory') await memoryChild();
else if (process.argv[2] === '--leak') await leakChild();
else await main();
