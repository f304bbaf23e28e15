// Unlearning algorithms by name (sweep files name them). Adding a method = one file in ./algorithms
// plus one line here.
import type { Algorithm } from './algorithms/common.js';
import { InvalidHparamsError, UnknownAlgorithmError } from '../errors.js';
import { del } from './algorithms/del.js';
import { retrain } from './algorithms/retrain.js';
import { finetune } from './algorithms/finetune.js';
import { gradientAscent } from './algorithms/gradient-ascent.js';
import { negGradPlus } from './algorithms/neggrad-plus.js';
import { l1Sparse } from './algorithms/l1-sparse.js';
import { randomLabel } from './algorithms/random-label.js';
import { salun } from './algorithms/salun.js';
import { ssd } from './algorithms/ssd.js';
import { scrub } from './algorithms/scrub.js';

export const ALGORITHMS = {
  del,
  retrain,
  finetune,
  'gradient-ascent': gradientAscent,
  'neggrad-plus': negGradPlus,
  'l1-sparse': l1Sparse,
  'random-label': randomLabel,
  salun,
  ssd,
  scrub,
} as const satisfies Record<string, Algorithm<any>>;

export type AlgorithmName = keyof typeof ALGORITHMS;
export const ALGORITHM_NAMES = Object.keys(ALGORITHMS) as AlgorithmName[];

export function getAlgorithm(name: string): Algorithm<any> {
  const a = (ALGORITHMS as Record<string, Algorithm<any>>)[name];
  if (!a) throw new UnknownAlgorithmError(name, ALGORITHM_NAMES);
  return a;
}

/** Validate hyperparameters for an algorithm; errors name the algorithm and the field path. */
export function parseHparams(name: string, hparams: unknown): Record<string, unknown> {
  const a = getAlgorithm(name);
  const r = a.schema.safeParse(hparams ?? {});
  if (!r.success) {
    const problems = r.error.issues.map((i: { path: PropertyKey[]; message: string }) => `${name}.${i.path.map(String).join('.') || '(root)'}: ${i.message}`);
    throw new InvalidHparamsError(name, problems);
  }
  return r.data as Record<string, unknown>;
}
