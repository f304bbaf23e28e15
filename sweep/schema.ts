// Sweep files: one zod schema validates YAML (or JSON) sweep text; errors name the file, the path and the
// problem, e.g. `sweeps/x.yaml: grid.algorithms[2].hparams.lr: expected number, received string`.
// Pure (no file or network I/O): the CLI reads files (cli/sweep-file.ts), workers re-validate workflow inputs.
import { z } from 'zod';
import { parseDocument } from 'yaml';
import { expandGrid, type Scalar } from './grid.js';
import { LIMITS } from './catalog.js';
import { RESERVED_LABELS } from './keys.js';
import { canonicalJson } from './hash.js';

const ident = z.string().min(1).regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'expected a name of letters, digits, ".", "_" or "-"');
const scalar = z.union([z.number(), z.string(), z.boolean()]);
/** A grid axis: one value, or a non-empty list of values (every value is tried). */
const gridOf = <T extends z.ZodTypeAny>(t: T) => z.union([t, z.array(t).min(1)]);
const params = z.record(z.string(), z.unknown());

export const HparamsSchema = z
  .object({
    lr: gridOf(z.number().positive()).optional(),
    epochs: gridOf(z.number().int().positive().max(LIMITS.epochs)).optional(),
    batchSize: gridOf(z.number().int().positive().max(LIMITS.batchSize)).optional(),
  })
  .catchall(gridOf(scalar));

export const DatasetSchema = z.strictObject({
  id: ident,
  /** Subsampling: a seeded class-stratified subsample of each split, perClass examples per class (train),
   *  testPerClass (test); absent = the whole split. */
  subset: z.strictObject({ perClass: z.number().int().positive().max(1_000_000).optional(), testPerClass: z.number().int().positive().max(1_000_000).optional(), seed: z.number().int().nonnegative().max(2 ** 31 - 1).default(0) }).optional(),
  params: params.optional(),
});

export const ModelSchema = z.strictObject({ id: ident, params: params.optional() });

export const RecipeSchema = z.strictObject({
  name: ident,
  epochs: z.number().int().positive().max(LIMITS.epochs),
  batchSize: z.number().int().positive().max(LIMITS.batchSize),
  lr: z.number().positive(),
  momentum: z.number().min(0).max(1).default(0.9),
  weightDecay: z.number().min(0).default(0),
  schedule: z.enum(['cosine', 'constant']).default('cosine'),
  optimizer: z.enum(['sgd', 'adam']).default('sgd'),
});

export const ForgetSetSchema = z.strictObject({
  /** Selection strategy by name (ml/unlearn registry), e.g. iid, classes, memorized. */
  kind: ident,
  fraction: z.number().gt(0).lt(1).optional(),
  count: z.number().int().positive().max(100_000_000).optional(),
  classes: z.array(z.number().int().nonnegative().max(100_000)).min(1).optional(),
  params: params.optional(),
});

export const LocalizationSchema = z.strictObject({
  strategy: ident,
  alpha: gridOf(z.number().gt(0).max(1)),
  /** Row aggregation of channel strategies: 'topk' (mean of the top 10 % of a row) or 'mean' (the whole row);
   *  absent: by architecture, as in the reference code ('mean' for ViT, 'topk' otherwise). */
  channelAggregate: z.enum(['topk', 'mean']).optional(),
});

export const AlgorithmSchema = z.strictObject({
  /** Algorithm by name (ml/unlearn registry), e.g. del, finetune, neggrad-plus, l1-sparse, random-label, salun, ssd. */
  name: ident,
  /** Label in result tables; defaults to the name. Display only: never part of a key. Unique in a sweep;
   *  `original`, `oracle` and `retrain` are reserved for the reference rows. */
  label: z.string().min(1).max(64).regex(/^[\p{L}\p{N}][\p{L}\p{N} ._+()=-]*$/u, 'expected letters, digits, spaces or ._+()=- (at most 64)').optional(),
  localization: LocalizationSchema.optional(),
  hparams: HparamsSchema.default({}),
});

export const SweepSchema = z.strictObject({
  name: ident,
  description: z.string().optional(),
  /** `ml` runs the real tfjs library; `noop` runs every stage with no compute (orchestration benchmarks). */
  compute: z.enum(['ml', 'noop']).default('ml'),
  /** Part of every stage key: a new value recomputes everything (fresh cache), equal values share stages. */
  cacheNamespace: z.string().min(1).optional(),
  seeds: z.array(z.number().int().nonnegative().max(2 ** 31 - 1)).min(1).max(LIMITS.seeds),
  grid: z.strictObject({
    datasets: z.array(DatasetSchema).min(1),
    models: z.array(ModelSchema).min(1),
    recipes: z.array(RecipeSchema).min(1),
    forgetSets: z.array(ForgetSetSchema).min(1),
    algorithms: z.array(AlgorithmSchema).min(1),
  }),
  /** Train and evaluate the oracle (retrain on D_r) for every forget set, recipe and seed. */
  oracle: z.boolean().default(true),
  evaluation: z
    .strictObject({
      mia: z.boolean().default(true),
      perExample: z.boolean().default(true),
      batchSize: z.number().int().positive().max(LIMITS.batchSize).default(256),
      /** Per-example evaluation across many models per setting (docs/reproduction.md): for the first seed, N
       *  retrained and, per method, N unlearned models (seeds s0 … s0+N−1; the s0 ones are the ordinary trials'),
       *  scored by the NeurIPS 2023 challenge's ε / forget quality and a LiRA attack against the retrained models. */
      protocol: z.strictObject({ kind: z.enum(['neurips23']), models: z.number().int().min(3).max(1024) }).optional(),
    })
    .default({ mia: true, perExample: true, batchSize: 256 }),
  execution: z
    .strictObject({
      /** Sliding window: how many stages may run at once (Temporal allows 2,000 pending activities per run). */
      window: z.number().int().positive().max(1000, 'at most 1000 stages at once (Temporal allows 2,000 pending activities per workflow run)').default(8),
      heartbeatTimeoutS: z.number().positive().max(86_400).default(120),
      stageTimeoutS: z.number().positive().max(30 * 86_400).default(6 * 3600),
      maxAttempts: z.number().int().positive().max(100).default(5),
      retryInitialS: z.number().positive().max(3600).default(1),
      /** Continue-as-new once the run's event history passes this length. */
      historyLimit: z.number().int().min(200).max(40_000, 'at most 40000 (Temporal fails a workflow run at 51,200 history events; draining the window adds more)').default(4000),
      /** Run a stage and the stages that wait on it alone (unlearn → evaluate → record) as one activity on one
       *  worker: one Temporal round trip instead of three, the model passed in memory. false: one activity a stage. */
      chainStages: z.boolean().default(true),
    })
    .default({ window: 8, heartbeatTimeoutS: 120, stageTimeoutS: 6 * 3600, maxAttempts: 5, retryInitialS: 1, historyLimit: 4000, chainStages: true }),
});

export type SweepConfig = z.output<typeof SweepSchema>;
export type SweepFileInput = z.input<typeof SweepSchema>;

export class SweepFileError extends Error {
  constructor(readonly file: string, readonly problems: string[]) {
    super(problems.map((p) => `${file}: ${p}`).join('\n'));
    this.name = 'SweepFileError';
  }
}

function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out === '' ? String(p) : `.${String(p)}`;
  return out === '' ? '(root)' : out;
}

type Issue = z.core.$ZodIssue;
/** Flattens zod issues; for a union, reports the branch that got furthest (or the first). */
function flatten(issues: readonly Issue[], prefix: PropertyKey[] = []): { path: PropertyKey[]; message: string }[] {
  const out: { path: PropertyKey[]; message: string }[] = [];
  for (const issue of issues) {
    const path = [...prefix, ...issue.path];
    if (issue.code === 'invalid_union' && issue.errors.length > 0) {
      const branches = issue.errors.map((b) => flatten(b, path));
      const depth = (b: { path: PropertyKey[] }[]) => Math.max(...b.map((i) => i.path.length));
      const best = branches.reduce((a, b) => (depth(b) > depth(a) ? b : a));
      out.push(...best);
    } else {
      out.push({ path, message: issue.message.replace(/^Invalid input: /, '') });
    }
  }
  return out;
}

export interface NameRegistries {
  datasets?: readonly string[];
  models?: readonly string[];
  forgetSets?: readonly string[];
  algorithms?: readonly string[];
  localizations?: readonly string[];
  /** validates a forget-set entry against the library's spec: [path inside the entry, message][] */
  forgetSet?: (spec: { kind: string; fraction?: number; count?: number; classes?: number[]; params?: Record<string, unknown> }) => [string, string][];
  /** validates one expanded hyperparameter combination of an algorithm: [path inside hparams, message][] */
  hparams?: (algorithm: string, combo: Record<string, unknown>) => [string, string][];
  /** the algorithm's own localization when the sweep gives none (e.g. DEL: wg-channel, α 0.3) */
  defaultLocalization?: (algorithm: string) => { strategy: string; alpha: number } | undefined;
  /** checks the grid against the data and models (sweep/catalog.ts): [path from the root, message][] */
  grid?: (grid: SweepConfig['grid']) => [string, string][];
}

/** Validates sweep text (YAML or JSON). Throws SweepFileError naming the file, the path and the problem. */
export function parseSweep(text: string, file: string, registries: NameRegistries = {}): SweepConfig {
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new SweepFileError(file, doc.errors.map((e) => `${e.linePos ? `line ${e.linePos[0].line}: ` : ''}${e.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '')}`));
  }
  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    throw new SweepFileError(file, [`(root): ${(e as Error).message}`]);
  }
  return checkSweep(raw, file, registries);
}

/** Validates a sweep already parsed from text (or built in code): the same checks as parseSweep. */
export function checkSweep(raw: unknown, file: string, registries: NameRegistries = {}): SweepConfig {
  const parsed = SweepSchema.safeParse(raw);
  if (!parsed.success) {
    throw new SweepFileError(file, flatten(parsed.error.issues).map((i) => `${formatPath(i.path)}: ${i.message}`));
  }
  const cfg = parsed.data;
  const problems: string[] = [];
  const check = (known: readonly string[] | undefined, name: string, path: string, what: string) => {
    if (known && !known.includes(name)) problems.push(`${path}: unknown ${what} "${name}" (known: ${known.join(', ')})`);
  };
  cfg.grid.datasets.forEach((d, i) => check(registries.datasets, d.id, `grid.datasets[${i}].id`, 'dataset'));
  cfg.grid.models.forEach((m, i) => check(registries.models, m.id, `grid.models[${i}].id`, 'model'));
  cfg.grid.forgetSets.forEach((f, i) => {
    check(registries.forgetSets, f.kind, `grid.forgetSets[${i}].kind`, 'forget-set kind');
    if ((f.fraction === undefined) === (f.count === undefined)) problems.push(`grid.forgetSets[${i}]: give exactly one of fraction or count`);
    else if (registries.forgetSet && (!registries.forgetSets || registries.forgetSets.includes(f.kind))) {
      for (const [path, message] of registries.forgetSet(f as Parameters<NonNullable<NameRegistries['forgetSet']>>[0])) {
        problems.push(`grid.forgetSets[${i}]${path ? `.${path}` : ''}: ${message}`);
      }
    }
  });
  cfg.grid.algorithms.forEach((a, i) => {
    const known = !registries.algorithms || registries.algorithms.includes(a.name);
    if (RESERVED_LABELS.includes(a.name)) {
      problems.push(`grid.algorithms[${i}].name: "${a.name}" is reserved: the original and the oracle (retrain) are planned for every setting (oracle: true), not listed as algorithms`);
      return;
    }
    check(registries.algorithms, a.name, `grid.algorithms[${i}].name`, 'algorithm');
    if (!known) return;
    if (!a.localization && registries.defaultLocalization) {
      const d = registries.defaultLocalization(a.name);
      if (d) a.localization = { strategy: d.strategy, alpha: d.alpha };
    }
    if (a.localization) check(registries.localizations, a.localization.strategy, `grid.algorithms[${i}].localization.strategy`, 'localization strategy');
    if (registries.hparams) {
      const seenMsg = new Set<string>();
      for (const combo of expandGrid(a.hparams as Record<string, Scalar | Scalar[]>)) {
        for (const [path, message] of registries.hparams(a.name, combo)) {
          const m = `grid.algorithms[${i}].hparams${path ? `.${path}` : ''}: ${message}`;
          if (!seenMsg.has(m)) problems.push(m);
          seenMsg.add(m);
        }
      }
    }
  });
  const seen = new Set<string>();
  cfg.grid.recipes.forEach((r, i) => {
    if (seen.has(r.name)) problems.push(`grid.recipes[${i}].name: duplicate recipe name "${r.name}"`);
    seen.add(r.name);
  });
  problems.push(...labelProblems(cfg), ...duplicateProblems(cfg));
  if (cfg.evaluation.protocol && !cfg.oracle) problems.push('evaluation.protocol: needs the oracle (oracle: true): its retrained models are the reference distribution');
  if (registries.grid) for (const [path, message] of registries.grid(cfg.grid)) problems.push(`${path}: ${message}`);
  if (problems.length > 0) throw new SweepFileError(file, problems);
  return cfg;
}

/** Labels: a reserved word, or the label of another entry (labels name result rows: they must be unique). */
function labelProblems(cfg: SweepConfig): string[] {
  const out: string[] = [];
  const byLabel = new Map<string, number>();
  cfg.grid.algorithms.forEach((a, i) => {
    const label = a.label ?? a.name;
    const path = `grid.algorithms[${i}].${a.label !== undefined ? 'label' : 'name'}`;
    if (a.label !== undefined && RESERVED_LABELS.includes(a.label.trim().toLowerCase())) {
      out.push(`${path}: label "${a.label}" is reserved for the reference rows (${RESERVED_LABELS.join(', ')}); choose another`);
      return;
    }
    const key = label.trim().toLowerCase();
    const first = byLabel.get(key);
    if (first !== undefined) out.push(`${path}: label "${label}" is already used by grid.algorithms[${first}]; give each entry its own label`);
    else byLabel.set(key, i);
  });
  return out;
}

/** Repeated seeds, grid entries or axis values would plan the same stages twice under two names. */
function duplicateProblems(cfg: SweepConfig): string[] {
  const out: string[] = [];
  const firstOf = (values: unknown[], path: (i: number) => string, what: string) => {
    const seen = new Map<string, number>();
    values.forEach((v, i) => {
      const k = canonicalJson(v);
      const j = seen.get(k);
      if (j !== undefined) out.push(`${path(i)}: repeats ${what} ${path(j)}`);
      else seen.set(k, i);
    });
  };
  firstOf(cfg.seeds, (i) => `seeds[${i}]`, 'seed');
  firstOf(cfg.grid.datasets, (i) => `grid.datasets[${i}]`, 'data set');
  firstOf(cfg.grid.models, (i) => `grid.models[${i}]`, 'model');
  firstOf(cfg.grid.recipes.map(({ name: _n, ...r }) => r), (i) => `grid.recipes[${i}]`, 'the settings of recipe');
  firstOf(cfg.grid.forgetSets.map((f) => ({ ...f, classes: f.classes ? [...f.classes].sort((a, b) => a - b) : undefined })), (i) => `grid.forgetSets[${i}]`, 'forget set');
  cfg.grid.algorithms.forEach((a, i) => {
    const axes: [string, unknown][] = Object.entries(a.hparams).map(([k, v]) => [`hparams.${k}`, v]);
    if (a.localization) axes.push(['localization.alpha', a.localization.alpha]);
    for (const [k, v] of axes) if (Array.isArray(v)) firstOf(v, (j) => `grid.algorithms[${i}].${k}[${j}]`, 'value');
  });
  // two entries of one algorithm whose grids overlap would run the same method twice
  cfg.grid.algorithms.forEach((a, i) => {
    for (let j = 0; j < i; j++) {
      const b = cfg.grid.algorithms[j];
      if (b.name !== a.name || (a.localization?.strategy ?? null) !== (b.localization?.strategy ?? null)) continue;
      const axesA: Record<string, unknown> = { ...a.hparams, '(alpha)': a.localization?.alpha };
      const axesB: Record<string, unknown> = { ...b.hparams, '(alpha)': b.localization?.alpha };
      const keys = new Set([...Object.keys(axesA), ...Object.keys(axesB)]);
      const list = (v: unknown) => (v === undefined ? ['(unset)'] : Array.isArray(v) ? v : [v]).map((x) => canonicalJson(x));
      const overlap = [...keys].every((k) => list(axesA[k]).some((x) => list(axesB[k]).includes(x)));
      if (overlap) out.push(`grid.algorithms[${i}]: runs a method grid.algorithms[${j}] already runs (same algorithm, localization and hyperparameters); remove the overlap`);
    }
  });
  return out;
}
