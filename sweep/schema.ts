// Sweep files: one zod schema validates YAML (or JSON) sweep text; errors name the file, the path and the
// problem, e.g. `sweeps/x.yaml: grid.algorithms[2].hparams.lr: expected number, received string`.
// Pure (no file or network I/O): the CLI reads files (cli/sweep-file.ts), workers re-validate workflow inputs.
import { z } from 'zod';
import { parseDocument } from 'yaml';
import { expandGrid, type Scalar } from './grid.js';

const ident = z.string().min(1).regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'expected a name of letters, digits, ".", "_" or "-"');
const scalar = z.union([z.number(), z.string(), z.boolean()]);
/** A grid axis: one value, or a non-empty list of values (every value is tried). */
const gridOf = <T extends z.ZodTypeAny>(t: T) => z.union([t, z.array(t).min(1)]);
const params = z.record(z.string(), z.unknown());

export const HparamsSchema = z
  .object({
    lr: gridOf(z.number().positive()).optional(),
    epochs: gridOf(z.number().int().positive()).optional(),
    batchSize: gridOf(z.number().int().positive()).optional(),
  })
  .catchall(gridOf(scalar));

export const DatasetSchema = z.strictObject({
  id: ident,
  /** Subsampling: a seeded class-stratified subsample of each split, perClass examples per class (train),
   *  testPerClass (test); absent = the whole split. */
  subset: z.strictObject({ perClass: z.number().int().positive().optional(), testPerClass: z.number().int().positive().optional(), seed: z.number().int().nonnegative().default(0) }).optional(),
  params: params.optional(),
});

export const ModelSchema = z.strictObject({ id: ident, params: params.optional() });

export const RecipeSchema = z.strictObject({
  name: ident,
  epochs: z.number().int().positive(),
  batchSize: z.number().int().positive(),
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
  count: z.number().int().positive().optional(),
  classes: z.array(z.number().int().nonnegative()).min(1).optional(),
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
  /** Label in result tables; defaults to the name. */
  label: z.string().min(1).optional(),
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
  seeds: z.array(z.number().int().nonnegative()).min(1),
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
    .strictObject({ mia: z.boolean().default(true), perExample: z.boolean().default(true), batchSize: z.number().int().positive().default(256) })
    .default({ mia: true, perExample: true, batchSize: 256 }),
  execution: z
    .strictObject({
      /** Sliding window: how many stages may run at once (Temporal allows 2,000 pending activities per run). */
      window: z.number().int().positive().max(1000, 'at most 1000 stages at once (Temporal allows 2,000 pending activities per workflow run)').default(8),
      heartbeatTimeoutS: z.number().positive().default(120),
      stageTimeoutS: z.number().positive().default(6 * 3600),
      maxAttempts: z.number().int().positive().default(5),
      retryInitialS: z.number().positive().default(1),
      /** Continue-as-new once the run's event history passes this length. */
      historyLimit: z.number().int().min(200).max(40000, 'at most 40000 (Temporal fails a workflow run at 51,200 history events; draining the window adds more)').default(4000),
    })
    .default({ window: 8, heartbeatTimeoutS: 120, stageTimeoutS: 6 * 3600, maxAttempts: 5, retryInitialS: 1, historyLimit: 4000 }),
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
    check(registries.algorithms, a.name, `grid.algorithms[${i}].name`, 'algorithm');
    if (!a.localization && registries.defaultLocalization) {
      const d = registries.defaultLocalization(a.name);
      if (d) a.localization = { strategy: d.strategy, alpha: d.alpha };
    }
    if (a.localization) check(registries.localizations, a.localization.strategy, `grid.algorithms[${i}].localization.strategy`, 'localization strategy');
    if (registries.hparams && (!registries.algorithms || registries.algorithms.includes(a.name))) {
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
  if (problems.length > 0) throw new SweepFileError(file, problems);
  return cfg;
}
