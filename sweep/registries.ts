// Names and parameter schemas from the ml/ registries, so a sweep file is checked against what the workers
// can run (unknown algorithm, bad hyperparameter) before anything starts. Fills each algorithm's default
// localization (DEL: wg-channel α 0.3, SalUn: salloc α 0.5) so masks become shared stages.
import { ALGORITHM_NAMES, getAlgorithm } from '../ml/unlearn/registry.js';
import { STRATEGIES } from '../ml/unlearn/localize.js';
import { ForgetSetSpec } from '../ml/unlearn/forget-sets.js';
import { parseSweep, type NameRegistries, type SweepConfig } from './schema.js';
import { checkDataset, checkForgetSet, checkModel } from './catalog.js';

export const DATASETS = ['synthetic', 'mnist', 'fashion-mnist', 'cifar10', 'svhn'] as const;
export const MODELS = ['mlp', 'cnn', 'resnet', 'vit'] as const;
export const FORGET_KINDS = ['iid', 'classes', 'memorization'] as const;

export function mlRegistries(): NameRegistries {
  return {
    datasets: DATASETS,
    models: MODELS,
    forgetSets: FORGET_KINDS,
    // 'retrain' is the oracle stage, not an algorithm to list
    algorithms: ALGORITHM_NAMES.filter((n) => n !== 'retrain'),
    localizations: STRATEGIES,
    hparams(algorithm, combo) {
      const r = getAlgorithm(algorithm).schema.safeParse(combo);
      if (r.success) return [];
      return r.error.issues.map((i: { path: PropertyKey[]; message: string }) => [i.path.map(String).join('.'), i.message.replace(/^Invalid input: /, '')] as [string, string]);
    },
    forgetSet(spec) {
      // the library's own schema (e.g. memorization needs params.mode); seed is per sweep, any value checks the shape
      const { params, ...rest } = spec;
      const r = ForgetSetSpec.safeParse({ ...(params ?? {}), ...rest, seed: 0 });
      if (r.success) return [];
      const top = new Set(['kind', 'fraction', 'count', 'classes']);
      return r.error.issues.map((i: { path: PropertyKey[]; message: string }) => {
        const path = i.path.map(String).join('.');
        return [top.has(path) || path === '' ? path : `params.${path}`, i.message.replace(/^Invalid input: /, '')] as [string, string];
      });
    },
    grid(grid) {
      const out: [string, string][] = [];
      const at = (prefix: string, problems: [string, string][]) => {
        for (const [path, message] of problems) out.push([`${prefix}${path ? `.${path}` : ''}`, message]);
      };
      grid.datasets.forEach((d, i) => at(`grid.datasets[${i}]`, checkDataset(d)));
      // cross-checks only against data sets whose own entry is sound
      const datasets = grid.datasets.map((entry, i) => ({ entry, path: `grid.datasets[${i}]` })).filter((d) => checkDataset(d.entry).length === 0);
      grid.models.forEach((m, i) => at(`grid.models[${i}]`, checkModel(m, datasets)));
      grid.forgetSets.forEach((f, i) => at(`grid.forgetSets[${i}]`, checkForgetSet(f, datasets)));
      return out;
    },
    defaultLocalization(algorithm) {
      const d = getAlgorithm(algorithm).defaultLocalization;
      return d ? { strategy: d.strategy, alpha: d.alpha } : undefined;
    },
  };
}

/** Validates sweep text against the ml/ registries (what the workers can run). */
export function parseSweepText(text: string, file: string): SweepConfig {
  return parseSweep(text, file, mlRegistries());
}
