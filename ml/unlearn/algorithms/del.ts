// DEL (Deletion by Example Localization), docs/method.md: m = localize(θ_o, D_f, α) with the weighted-gradient
// channel strategy (α = 0.3); reset θ = (1−m)·θ_o + m·θ_init with θ_init a FRESH seeded initialization
// (the reset seed is recorded by unlearn()); finetune on D_r with CE, gradient mask = m plus the whole
// classifier head, weight decay 0 (enforced) so unmasked non-head entries stay bit-identical.
// Defaults from the released CIFAR-10 settings: lr 0.015, 30 epochs, batch 128, momentum 0.9, cosine to 0.01·lr.
import { z } from 'zod';
import { defineAlgorithm, sgdFields, trainLoop } from './common.js';

export const DelParams = z.object({
  ...sgdFields,
  epochs: sgdFields.epochs.default(30),
  lr: sgdFields.lr.default(0.015),
  weightDecay: z.literal(0).default(0),
});

export const del = defineAlgorithm({
  name: 'del',
  description: 'Reset the localized entries to a fresh init, then masked finetuning on the retain set (head trainable).',
  schema: DelParams,
  defaultLocalization: { strategy: 'wg-channel', alpha: 0.3, reset: true, headTrainable: true },
  async run(ctx, hp) {
    if (!ctx.gradMask) throw new Error('del: needs a localization mask (unlearn() supplies the default wg-channel, α = 0.3)');
    await trainLoop(ctx, ctx.retain, hp, { seed: ctx.seed, mask: ctx.gradMask });
    return { model: ctx.model, epochs: hp.epochs };
  },
});
