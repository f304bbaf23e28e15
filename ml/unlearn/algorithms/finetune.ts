// Finetune: cross-entropy on D_r from θ_o, all parameters (or the localized mask), per-epoch cosine lr.
// Defaults (our choice at CPU scale; docs/method.md gives none): 10 epochs, lr 0.01, batch 128, momentum 0.9, wd 0.
import { z } from 'zod';
import { defineAlgorithm, sgdFields, trainLoop } from './common.js';

export const FinetuneParams = z.object({ ...sgdFields, epochs: sgdFields.epochs.default(10), lr: sgdFields.lr.default(0.01) });

export const finetune = defineAlgorithm({
  name: 'finetune',
  description: 'Cross-entropy finetuning on the retain set.',
  schema: FinetuneParams,
  async run(ctx, hp) {
    await trainLoop(ctx, ctx.retain, hp, { seed: ctx.seed, mask: ctx.gradMask });
    return { model: ctx.model, epochs: hp.epochs };
  },
});
