// SalUn (Fan et al. 2024): SalLoc mask (parameter level |Σ ∂L/∂θ| on D_f, α = 0.5 by default, no reset,
// head NOT forced trainable) + random-label training; only masked entries are updated. Defaults: 10 epochs,
// lr 0.01 (our choice at CPU scale).
import { z } from 'zod';
import { defineAlgorithm, sgdFields, trainLoop } from './common.js';
import { relabelledTrain } from './random-label.js';

export const SalunParams = z.object({ ...sgdFields, epochs: sgdFields.epochs.default(10), lr: sgdFields.lr.default(0.01), excludeTrue: z.boolean().default(false) });

export const salun = defineAlgorithm({
  name: 'salun',
  description: 'Saliency-masked random-label training.',
  schema: SalunParams,
  defaultLocalization: { strategy: 'salloc', alpha: 0.5, reset: false, headTrainable: false },
  async run(ctx, hp) {
    if (!ctx.gradMask) throw new Error('salun: needs a localization mask (unlearn() supplies the default salloc, α = 0.5)');
    const split = relabelledTrain(ctx, ctx.model.numClasses, hp.excludeTrue, ctx.seed ^ 0x5eed);
    await trainLoop(ctx, split, hp, { seed: ctx.seed, mask: ctx.gradMask });
    return { model: ctx.model, epochs: hp.epochs };
  },
});
