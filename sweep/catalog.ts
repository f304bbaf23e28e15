// What the workers can load and build, as facts a sweep file is checked against before anything starts:
// each data set's classes, split sizes per class and input shape; strict parameter schemas (bounds, no unknown
// keys) for data sets, models and forget-set kinds; and the cross-checks between them (classes in range, forget
// set possible for the (subset) split, subset sizes available, model fits the input, model size capped).
// Pure: no I/O. The class counts are those of the loaders in ml/data (checked by test/orchestration/catalog.test.ts).
import { z } from 'zod';

/** Caps that keep one trial within what a worker can hold (memory of a 2–16 GiB worker process). */
export const LIMITS = {
  /** trainable parameters of a model */
  modelParams: 50_000_000,
  /** float32 values of one split held in memory (train or test): 2 GiB */
  splitValues: 512 * 1024 * 1024,
  epochs: 1000,
  batchSize: 65_536,
  seeds: 1000,
} as const;

export interface DatasetFacts {
  numClasses: number;
  inputShape: [number, number, number];
  /** examples per class in the full train / test split */
  trainPerClass: number[];
  testPerClass: number[];
}

const even = (n: number, per: number) => Array.from({ length: n }, () => per);

/** Facts of the fixed data sets (synthetic depends on its params: see datasetFacts). */
export const DATASET_FACTS: Record<string, DatasetFacts> = {
  mnist: {
    numClasses: 10,
    inputShape: [28, 28, 1],
    trainPerClass: [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949],
    testPerClass: [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009],
  },
  // 70,000 images, 1,000 per class held out as test by a fixed seeded split
  'fashion-mnist': { numClasses: 10, inputShape: [28, 28, 1], trainPerClass: even(10, 6000), testPerClass: even(10, 1000) },
  cifar10: { numClasses: 10, inputShape: [32, 32, 3], trainPerClass: even(10, 5000), testPerClass: even(10, 1000) },
  // format 2 (.mat), label 10 mapped to 0
  svhn: {
    numClasses: 10,
    inputShape: [32, 32, 3],
    trainPerClass: [4948, 13861, 10585, 8497, 7458, 6882, 5727, 5595, 5045, 4659],
    testPerClass: [1744, 5099, 4149, 2882, 2523, 2384, 1977, 2019, 1660, 1595],
  },
};

const int = (lo: number, hi: number) => z.number().int().min(lo).max(hi);
/** Keys that name places on a worker's disk: refused with a pointer to the worker settings. */
const FS_KEYS: Record<string, string> = {
  path: 'a data directory is a worker setting (UNLEARN_SVHN_DIR), not a sweep field',
  cacheDir: 'the data cache is a worker setting (UNLEARN_DATA_DIR), not a sweep field',
  dir: 'directories are worker settings, not sweep fields',
  file: 'files are worker settings, not sweep fields',
};

export const DATASET_PARAMS: Record<string, z.ZodType> = {
  synthetic: z.strictObject({
    numClasses: int(2, 1000).optional(),
    shape: z.tuple([int(1, 256), int(1, 256), int(1, 16)]).optional(),
    noise: z.number().min(0).max(100).optional(),
    memorizedPerClass: int(0, 100_000).optional(),
  }),
  mnist: z.strictObject({}),
  'fashion-mnist': z.strictObject({}),
  cifar10: z.strictObject({}),
  svhn: z.strictObject({}),
};

export const MODEL_PARAMS: Record<string, z.ZodType> = {
  mlp: z.strictObject({ hidden: z.array(int(1, 16_384)).max(32) }),
  cnn: z.strictObject({ channels: z.array(int(1, 2048)).min(1).max(8).optional(), dense: int(1, 16_384).optional() }),
  resnet: z.strictObject({ width: int(1, 512), blocksPerStage: z.array(int(1, 16)).min(1).max(6) }),
  vit: z.strictObject({ patch: int(1, 64), dim: int(1, 4096), depth: int(1, 48), heads: int(1, 64), mlpDim: int(1, 16_384) }),
};

/** Params of each forget-set kind beyond kind, fraction/count and classes. */
export const FORGET_PARAMS: Record<string, z.ZodType> = {
  iid: z.strictObject({}),
  classes: z.strictObject({}),
  memorization: z.strictObject({
    mode: z.enum(['top', 'bottom', 'band']),
    band: z.tuple([z.number().min(0).max(1), z.number().min(0).max(1)]).optional(),
    proxy: z.enum(['learning-speed']).optional(),
  }),
};

type Problem = [string, string];

function zodProblems(schema: z.ZodType, value: unknown, prefix: string): Problem[] {
  const r = schema.safeParse(value ?? {});
  if (r.success) return [];
  return r.error.issues.flatMap((i): Problem[] => {
    const base = prefix + i.path.map((k) => (typeof k === 'number' ? `[${k}]` : `.${String(k)}`)).join('');
    if (i.code === 'unrecognized_keys') {
      return (i as { keys: string[] }).keys.map((k): Problem => [
        `${base}.${k}`,
        FS_KEYS[k] ?? `unknown key "${k}"${prefix.endsWith('params') ? ' (the id and kind are set by their own fields; params cannot override them)' : ''}`,
      ]);
    }
    return [[base, i.message.replace(/^Invalid input: /, '')]];
  });
}

export interface DatasetEntry { id: string; subset?: { perClass?: number; testPerClass?: number; seed?: number }; params?: Record<string, unknown> }
export interface ModelEntry { id: string; params?: Record<string, unknown> }
export interface ForgetEntry { kind: string; fraction?: number; count?: number; classes?: number[]; params?: Record<string, unknown> }

/** Facts of a data set entry as the worker will load it (subset applied); undefined for an unknown id. */
export function datasetFacts(d: DatasetEntry): (DatasetFacts & { train: number; test: number }) | undefined {
  let f = DATASET_FACTS[d.id];
  if (d.id === 'synthetic') {
    const p = (d.params ?? {}) as { numClasses?: number; shape?: [number, number, number] };
    const n = p.numClasses ?? 4;
    // the synthetic generator makes perClass (default 100) train and testPerClass (default 50) test examples
    f = { numClasses: n, inputShape: p.shape ?? [8, 8, 1], trainPerClass: even(n, d.subset?.perClass ?? 100), testPerClass: even(n, d.subset?.testPerClass ?? 50) };
  }
  if (!f) return undefined;
  const per = (full: number[], want: number | undefined) => (want === undefined ? full : full.map(() => want));
  const trainPerClass = per(f.trainPerClass, d.subset?.perClass);
  const testPerClass = per(f.testPerClass, d.subset?.testPerClass);
  const sum = (a: number[]) => a.reduce((x, y) => x + y, 0);
  return { ...f, trainPerClass, testPerClass, train: sum(trainPerClass), test: sum(testPerClass) };
}

/** Checks one data set entry: params schema, subset sizes available. Paths are inside the entry. */
export function checkDataset(d: DatasetEntry): Problem[] {
  const schema = DATASET_PARAMS[d.id];
  if (!schema) return [];
  const out = zodProblems(schema, d.params, 'params');
  if (out.length > 0) return out;
  const full = d.id === 'synthetic' ? undefined : DATASET_FACTS[d.id];
  if (full) {
    const minTrain = Math.min(...full.trainPerClass);
    const minTest = Math.min(...full.testPerClass);
    if (d.subset?.perClass !== undefined && d.subset.perClass > minTrain) {
      out.push(['subset.perClass', `${d.subset.perClass} per class is more than ${d.id} has (its smallest class holds ${minTrain} training examples)`]);
    }
    if (d.subset?.testPerClass !== undefined && d.subset.testPerClass > minTest) {
      out.push(['subset.testPerClass', `${d.subset.testPerClass} per class is more than ${d.id} has (its smallest class holds ${minTest} test examples)`]);
    }
  }
  const f = datasetFacts(d);
  if (f) {
    const per = f.inputShape[0] * f.inputShape[1] * f.inputShape[2];
    if (f.train * per > LIMITS.splitValues) out.push([d.subset?.perClass !== undefined ? 'subset.perClass' : 'params', `the training split would hold ${f.train} × ${per} values, more than a worker holds (${LIMITS.splitValues})`]);
    if (f.test * per > LIMITS.splitValues) out.push([d.subset?.testPerClass !== undefined ? 'subset.testPerClass' : 'params', `the test split would hold ${f.test} × ${per} values, more than a worker holds (${LIMITS.splitValues})`]);
    const mem = (d.params as { memorizedPerClass?: number } | undefined)?.memorizedPerClass;
    if (d.id === 'synthetic' && mem !== undefined && mem >= f.trainPerClass[0]) out.push(['params.memorizedPerClass', `${mem} must be below the ${f.trainPerClass[0]} training examples per class`]);
  }
  return out;
}

function convOut(size: number, stride: number): number {
  return Math.ceil(size / stride);
}

/** Trainable parameters of a model on an input shape, or a problem when it does not fit the input. */
export function modelSize(m: ModelEntry, inputShape: readonly number[], numClasses: number): { params: number } | { problem: Problem } {
  const [H, W, C] = inputShape;
  const p = (m.params ?? {}) as Record<string, any>;
  const dense = (i: number, o: number) => i * o + o;
  switch (m.id) {
    case 'mlp': {
      let d = H * W * C;
      let n = 0;
      for (const h of p.hidden as number[]) {
        n += dense(d, h);
        d = h;
      }
      return { params: n + dense(d, numClasses) };
    }
    case 'cnn': {
      const channels: number[] = p.channels ?? [16, 32];
      let h = H, w = W, c = C, n = 0;
      for (const co of channels) {
        n += 9 * c * co + co;
        c = co;
        h = Math.floor(h / 2);
        w = Math.floor(w / 2);
      }
      if (h < 1 || w < 1) return { problem: ['params.channels', `${channels.length} pooling stages shrink the ${H}×${W} input below 1×1 (at most ${Math.floor(Math.log2(Math.min(H, W)))})`] };
      const d = p.dense ?? 64;
      return { params: n + dense(h * w * c, d) + dense(d, numClasses) };
    }
    case 'resnet': {
      const width: number = p.width;
      let n = 9 * C * width + 2 * width;
      let cin = width, h = H, w = W;
      (p.blocksPerStage as number[]).forEach((blocks, s) => {
        const cout = width * 2 ** s;
        for (let b = 0; b < blocks; b++) {
          const stride = s > 0 && b === 0 ? 2 : 1;
          h = convOut(h, stride);
          w = convOut(w, stride);
          n += 9 * cin * cout + 2 * cout + 9 * cout * cout + 2 * cout;
          if (stride !== 1 || cin !== cout) n += cin * cout + 2 * cout;
          cin = cout;
        }
      });
      return { params: n + dense(cin, numClasses) };
    }
    case 'vit': {
      const { patch, dim, depth, heads, mlpDim } = p as { patch: number; dim: number; depth: number; heads: number; mlpDim: number };
      if (H % patch !== 0 || W % patch !== 0) return { problem: ['params.patch', `the ${H}×${W} input is not divisible into ${patch}×${patch} patches`] };
      if (dim % heads !== 0) return { problem: ['params.heads', `dim ${dim} is not divisible by ${heads} heads`] };
      const tokens = (H / patch) * (W / patch) + 1;
      const block = 2 * dim * 2 + dense(dim, 3 * dim) + dense(dim, dim) + dense(dim, mlpDim) + dense(mlpDim, dim);
      return { params: patch * patch * C * dim + dim + dim + tokens * dim + depth * block + 2 * dim + dense(dim, numClasses) };
    }
    default:
      return { params: 0 };
  }
}

/** Checks one model entry against the params schema and, for each data set, the input shape and size cap. */
export function checkModel(m: ModelEntry, datasets: { entry: DatasetEntry; path: string }[]): Problem[] {
  const schema = MODEL_PARAMS[m.id];
  if (!schema) return [];
  const out = zodProblems(schema, m.params, 'params');
  if (out.length > 0) return out;
  for (const d of datasets) {
    const f = datasetFacts(d.entry);
    if (!f) continue;
    const s = modelSize(m, f.inputShape, f.numClasses);
    if ('problem' in s) out.push([s.problem[0], `${s.problem[1]} (${d.path}: ${d.entry.id})`]);
    else if (s.params > LIMITS.modelParams) out.push(['params', `${s.params.toLocaleString('en-US')} parameters on ${d.entry.id} exceed the cap of ${LIMITS.modelParams.toLocaleString('en-US')} a worker can hold`]);
  }
  return out;
}

/** Checks one forget-set entry: params schema, and against every data set: classes in range, size possible. */
export function checkForgetSet(fs: ForgetEntry, datasets: { entry: DatasetEntry; path: string }[]): Problem[] {
  const schema = FORGET_PARAMS[fs.kind];
  if (!schema) return [];
  const out = zodProblems(schema, fs.params, 'params');
  if (fs.kind === 'classes' && !fs.classes) out.push(['classes', 'a classes forget set needs classes: [...]']);
  if (fs.kind !== 'classes' && fs.classes) out.push(['classes', `only a classes forget set takes classes (this one is ${fs.kind})`]);
  if (fs.classes && new Set(fs.classes).size !== fs.classes.length) out.push(['classes', `a class is listed twice in [${fs.classes.join(', ')}]`]);
  const prm = (fs.params ?? {}) as { mode?: string; band?: [number, number] };
  if (fs.kind === 'memorization' && out.length === 0) {
    if (prm.mode === 'band' && !prm.band) out.push(['params.band', 'mode band needs band: [lo, hi]']);
    if (prm.mode !== 'band' && prm.band) out.push(['params.band', `band is only for mode band (mode is ${prm.mode})`]);
    if (prm.band && !(prm.band[0] < prm.band[1])) out.push(['params.band', `expected lo < hi, got [${prm.band.join(', ')}]`]);
  }
  if (out.length > 0) return out;
  for (const d of datasets) {
    const f = datasetFacts(d.entry);
    if (!f) continue;
    const where = `${d.path}: ${d.entry.id}${d.entry.subset?.perClass !== undefined ? `, ${d.entry.subset.perClass} per class` : ''}`;
    if (fs.classes) {
      const bad = fs.classes.filter((c) => c >= f.numClasses);
      if (bad.length > 0) {
        out.push(['classes', `class${bad.length > 1 ? 'es' : ''} ${bad.join(', ')} outside 0..${f.numClasses - 1} (${where} has ${f.numClasses} classes)`]);
        continue;
      }
    }
    const n = f.train;
    const count = fs.count ?? Math.floor(Number(((fs.fraction ?? 0) * n).toPrecision(12)));
    const field = fs.count !== undefined ? 'count' : 'fraction';
    if (count < 1) out.push([field, `the forget set would be empty: ${fs.fraction} of ${n} training examples (${where})`]);
    else if (count > n) out.push([field, `${count} examples asked, the training split has ${n} (${where})`]);
    else if (fs.classes) {
      const pool = fs.classes.reduce((a, c) => a + f.trainPerClass[c], 0);
      if (count > pool) out.push([field, `${count} examples asked, classes ${fs.classes.join(', ')} hold ${pool} training examples (${where})`]);
    } else if (prm.mode === 'band' && prm.band) {
      const pool = Math.floor(prm.band[1] * n) - Math.floor(prm.band[0] * n);
      if (count > pool) out.push([field, `${count} examples asked, the band [${prm.band.join(', ')}] holds ${pool} of ${n} (${where})`]);
    }
  }
  return out;
}
