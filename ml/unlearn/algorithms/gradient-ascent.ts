// Gradient ascent: maximize cross-entropy on D_f (minimize −CE). Defaults (our choice): 3 epochs, lr 1e-3.
import { z } from 'zod';
import { tf } from '../../tf.js';
import { crossEntropy } from '../../train.js';
import { defineAlgorithm, sgdFields, trainLoop } from './common.js';

export const GradientAscentParams = z.object({ ...sgdFields, epochs: sgdFields.epochs.default(3), lr: sgdFields.lr.default(1e-3) });

export const gradientAscent = defineAlgorithm({
  name: 'gradient-ascent',
  description: 'Maximize the cross-entropy on the forget set.',
  schema: GradientAscentParams,
  async run(ctx, hp) {
    await trainLoop(ctx, ctx.forget, hp, { seed: ctx.seed, mask: ctx.gradMask, loss: (logits, labels) => tf.neg(crossEntropy(logits, labels)) });
    return { model: ctx.model, epochs: hp.epochs };
  },
});
