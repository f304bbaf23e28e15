// `npm run bench -- unlearn`: every unlearning algorithm vs the retrain oracle on an MNIST subset with the
// small CNN, for an IID and a class (non-IID) forget set; gaps to the oracle (Δ = oracle − unlearned) and wall
// time as a fraction of the oracle's retraining time; mean ± 95% Student-t CI over seeds (one original model,
// forget sets drawn once with seed 0, oracle and unlearning runs with seeds 1..S, gaps paired by seed).
// Env: UNLEARN_BENCH_PER_CLASS (train examples per class, default 200), UNLEARN_BENCH_TEST_PER_CLASS (100),
//      UNLEARN_BENCH_SEEDS (3), UNLEARN_BENCH_EPOCHS (original/oracle epochs, 6), UNLEARN_BENCH_DATASET (mnist),
//      UNLEARN_BENCH_ALGOS (comma list, default all), UNLEARN_BENCH_DOCS=1 rewrites the table in docs/unlearning.md.
// Prints JSON to stdout and writes bench/results/unlearn-<timestamp>.json (machine, backend, load average).
import { mkdirSync, writeFileSync, readFileSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { initBackend } from '../ml/backend.js';
import { loadDataset } from '../ml/data/load.js';
import type { DatasetName } from '../ml/data/types.js';
import { buildModel, type ModelSpec } from '../ml/models.js';
import { train, type TrainConfig } from '../ml/train.js';
import { evaluate } from '../ml/eval.js';
import { unlearn, evaluateUnlearning, selectForgetSet, meanCI, formatCI, ALGORITHM_NAMES, type ForgetSetSpec, type ModelMetrics } from '../ml/unlearn/index.js';
import { backendOptions, flagVar, intVar, listVar, mlConfig } from '../config/index.js';
import { BENCH_HPARAMS } from './unlearn-hparams.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const env = (k: string, d: number) => intVar(process.env, k, d);
const PER_CLASS = env('UNLEARN_BENCH_PER_CLASS', 200);
const TEST_PER_CLASS = env('UNLEARN_BENCH_TEST_PER_CLASS', 100);
const SEEDS = env('UNLEARN_BENCH_SEEDS', 3);
const EPOCHS = env('UNLEARN_BENCH_EPOCHS', 6);
const DATASET = (process.env.UNLEARN_BENCH_DATASET ?? 'mnist') as DatasetName;
const ALGOS = listVar(process.env, 'UNLEARN_BENCH_ALGOS', ALGORITHM_NAMES.filter((a) => a !== 'retrain'));

const MODEL: ModelSpec = { arch: 'cnn', channels: [16, 32], dense: 64 };
const RECIPE: Omit<TrainConfig, 'seed'> = { epochs: EPOCHS, batchSize: 64, lr: 0.05, momentum: 0.9, weightDecay: 0 };
// Hyperparameters at this scale: bench/unlearn-hparams.ts (every registered algorithm has an entry; a test checks).
const HP = BENCH_HPARAMS;

const load0 = os.loadavg();
const backend = await initBackend(backendOptions(mlConfig(process.env)));
const t00 = performance.now();
const ds = await loadDataset({ name: DATASET, perClass: PER_CLASS, testPerClass: TEST_PER_CLASS, seed: 0, cacheDir: mlConfig(process.env).dataDir });
const data = { train: ds.train, test: ds.test };
const original = buildModel(MODEL, ds.inputShape, ds.numClasses, 0);
const t = performance.now();
await train(original, ds.train, { ...RECIPE, seed: 0 });
const originalSeconds = (performance.now() - t) / 1000;
const origTest = (await evaluate(original, ds.test)).accuracy;
console.error(`original: ${originalSeconds.toFixed(1)} s, test acc ${origTest.toFixed(4)}, ${original.numParams()} params`);

const fraction = 0.1;
const kinds: { kind: string; spec: ForgetSetSpec }[] = [
  { kind: 'iid', spec: { kind: 'iid', fraction, seed: 0 } },
  { kind: 'classes', spec: { kind: 'classes', classes: [2, 5], fraction, seed: 0 } },
];

interface Row { kind: string; algorithm: string; seed: number; metrics: ModelMetrics; gaps: { forget: number; mia: number; test: number }; tugOfWar: number; seconds: number; timeFraction: number; cpuSeconds: number; cpuFraction: number; epochs: number; fractionChanged: number }
const rows: Row[] = [];
const oracles: { kind: string; seed: number; metrics: ModelMetrics; seconds: number; cpuSeconds: number }[] = [];
for (const { kind, spec } of kinds) {
  const fs = selectForgetSet(spec, { labels: ds.train.y, ids: ds.train.ids });
  for (let seed = 1; seed <= SEEDS; seed++) {
    const o = await unlearn({ model: original, data, forgetIds: fs.ids, algorithm: 'retrain', hparams: { ...RECIPE }, seed, evaluate: { seed } });
    oracles.push({ kind, seed, metrics: o.metrics!, seconds: o.cost.seconds, cpuSeconds: o.cost.cpuSeconds });
    console.error(`${kind} seed ${seed} oracle: ${o.cost.seconds.toFixed(1)} s ${JSON.stringify(o.metrics)}`);
    o.model.dispose();
    for (const algorithm of ALGOS) {
      const r = await unlearn({ model: original, data, forgetIds: fs.ids, algorithm, hparams: HP[algorithm]?.(kind) ?? {}, seed, evaluate: false });
      const ev = await evaluateUnlearning({ unlearned: r.model, oracle: o.metrics!, data, forgetIds: fs.ids, mia: { seed } });
      rows.push({ kind, algorithm, seed, metrics: ev.unlearned, gaps: ev.gaps, tugOfWar: ev.tugOfWar, seconds: r.cost.seconds, timeFraction: r.cost.seconds / o.cost.seconds, cpuSeconds: r.cost.cpuSeconds, cpuFraction: r.cost.cpuSeconds / o.cost.cpuSeconds, epochs: r.cost.epochs, fractionChanged: r.cost.fractionChanged });
      console.error(`  ${algorithm}: ${r.cost.seconds.toFixed(1)} s forget ${ev.unlearned.forgetAcc.toFixed(3)} test ${ev.unlearned.testAcc.toFixed(3)} mia ${ev.unlearned.mia.toFixed(3)} Δf ${ev.gaps.forget.toFixed(3)}`);
      r.model.dispose();
    }
  }
}

const pct = (xs: number[]) => formatCI(meanCI(xs), 2, 100);
const summary: Record<string, unknown>[] = [];
const lines: string[] = [];
for (const { kind } of kinds) {
  const os_ = oracles.filter((o) => o.kind === kind);
  lines.push(`**${kind === 'iid' ? 'IID' : 'classes 2 and 5 (non-IID)'} forget set** — oracle: forget ${pct(os_.map((o) => o.metrics.forgetAcc))}, test ${pct(os_.map((o) => o.metrics.testAcc))}, MIA ${pct(os_.map((o) => o.metrics.mia))} (%), retraining ${formatCI(meanCI(os_.map((o) => o.seconds)), 1)} s wall, ${formatCI(meanCI(os_.map((o) => o.cpuSeconds)), 1)} s CPU`, '');
  lines.push('| algorithm | Δ forget (pp) | Δ MIA (pp) | Δ test (pp) | ToW (%) | CPU time / oracle (%) | wall time / oracle (%) | epochs | params changed (%) |', '|---|---|---|---|---|---|---|---|---|');
  for (const algorithm of ALGOS) {
    const rs = rows.filter((r) => r.kind === kind && r.algorithm === algorithm);
    if (rs.length === 0) continue;
    const s = {
      kind, algorithm, n: rs.length,
      gapForget: meanCI(rs.map((r) => r.gaps.forget)), gapMia: meanCI(rs.map((r) => r.gaps.mia)), gapTest: meanCI(rs.map((r) => r.gaps.test)),
      tugOfWar: meanCI(rs.map((r) => r.tugOfWar)), timeFraction: meanCI(rs.map((r) => r.timeFraction)), cpuFraction: meanCI(rs.map((r) => r.cpuFraction)), fractionChanged: meanCI(rs.map((r) => r.fractionChanged)),
    };
    summary.push(s);
    lines.push(`| ${algorithm} | ${formatCI(s.gapForget, 2, 100)} | ${formatCI(s.gapMia, 2, 100)} | ${formatCI(s.gapTest, 2, 100)} | ${formatCI(s.tugOfWar, 2, 100)} | ${formatCI(s.cpuFraction, 1, 100)} | ${formatCI(s.timeFraction, 1, 100)} | ${rs[0].epochs} | ${formatCI(s.fractionChanged, 1, 100)} |`);
  }
  lines.push('');
}
const totalSeconds = (performance.now() - t00) / 1000;
const machine = { cpu: os.cpus()[0]?.model ?? 'unknown', cores: os.cpus().length, loadavgAtStart: load0, platform: `${os.platform()} ${os.release()}`, node: process.version };
const header = `MNIST-style run: dataset ${DATASET}, ${PER_CLASS}/class train (${ds.train.count}), ${TEST_PER_CLASS}/class test (${ds.test.count}), small CNN ${JSON.stringify(MODEL)} (${original.numParams()} params), original/oracle recipe ${JSON.stringify(RECIPE)}; original test acc ${(origTest * 100).toFixed(2)}%; forget sets 10% of D (seed 0); ${SEEDS} seeds; backend ${backend.name}; machine ${machine.cpu} × ${machine.cores}, load average at start ${load0.map((l) => l.toFixed(2)).join(' ')} (shared with other jobs); total ${totalSeconds.toFixed(0)} s.`;
const table = [header, '', 'Δ = oracle − unlearned in percentage points, mean ± half-width of the two-sided 95% Student-t interval over seeds (t with n−1 df); smaller |Δ| is better. ToW = tug-of-war. Time = unlearning time (incl. localization and reset) / the same seed\'s oracle retraining time, as process CPU time (robust to the other jobs on the shared cores) and as wall time.', '', ...lines].join('\n');
console.error('\n' + table);
const result = { bench: 'unlearn', date: new Date().toISOString(), machine, backend, config: { DATASET, PER_CLASS, TEST_PER_CLASS, SEEDS, EPOCHS, MODEL, RECIPE, HP: Object.fromEntries(ALGOS.map((a) => [a, { iid: HP[a]?.('iid'), classes: HP[a]?.('classes') }])) }, originalSeconds, originalTestAcc: origTest, oracles, rows, summary, table, totalSeconds };
console.log(JSON.stringify(result, null, 2));
mkdirSync(path.join(here, 'results'), { recursive: true });
const file = path.join(here, 'results', `unlearn-${result.date.replace(/[:.]/g, '-')}.json`);
writeFileSync(file, JSON.stringify(result, null, 2));
console.error(`wrote ${path.relative(process.cwd(), file)}`);
if (flagVar(process.env, 'UNLEARN_BENCH_DOCS', false)) {
  const doc = path.join(here, '..', 'docs', 'unlearning.md');
  const start = '<!-- bench:unlearn:start -->', end = '<!-- bench:unlearn:end -->';
  if (existsSync(doc)) {
    const s = readFileSync(doc, 'utf8');
    const a = s.indexOf(start), b = s.indexOf(end);
    if (a >= 0 && b > a) {
      writeFileSync(doc, s.slice(0, a + start.length) + '\n' + table + '\n' + s.slice(b));
      console.error('updated docs/unlearning.md');
    } else console.error(`docs/unlearning.md has no ${start} … ${end} markers; table not written`);
  }
}
