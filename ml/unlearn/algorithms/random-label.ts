// Random-label: each forget example gets a label drawn uniformly from the classes (seeded; with
// `excludeTrue` from the other classes only), then CE training on D_f(relabelled) ∪ D_r, i.e. on the whole
// training split with the forget labels replaced. Defaults (our choice): 10 epochs, lr 0.01.
import { z } from 'zod';
import { Rng } from '../../rng.js';
import type { Split } from '../../data/types.js';
import { positionsOfIds } from '../../data/split.js';
import { defineAlgorithm, sgdFields, trainLoop, type AlgoContext } from './common.js';

export const RandomLabelParams = z.object({ ...sgdFields, epochs: sgdFields.epochs.default(10), lr: sgdFields.lr.default(0.01), excludeTrue: z.boolean().default(false) });

/** The training split with the forget examples relabelled (x shared, y copied). */
export function relabelledTrain(ctx: AlgoContext, numClasses: number, excludeTrue: boolean, seed: number): Split {
  const rng = new Rng(seed);
  const y = Int32Array.from(ctx.train.y);
  const pos = positionsOfIds(ctx.train, ctx.forget.ids);
  for (const p of pos) {
    if (excludeTrue) {
      const r = rng.int(numClasses - 1);
      y[p] = r >= y[p] ? r + 1 : r;
    } else y[p] = rng.int(numClasses);
  }
  return { ...ctx.train, y };
}

export const randomLabel = defineAlgorithm({
  name: 'random-label',
  description: 'Train on the retain set plus the forget set with random labels.',
  schema: RandomLabelParams,
  async run(ctx, hp) {
    const split = relabelledTrain(ctx, ctx.model.numClasses, hp.excludeTrue, ctx.seed ^ 0x5eed);
    await trainLoop(ctx, split, hp, { seed: ctx.seed, mask: ctx.gradMask });
    return { model: ctx.model, epochs: hp.epochs };
  },
});
