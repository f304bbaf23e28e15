// Gradient ascent: maximize cross-entropy on D_f (minimize −CE). Defaults (our choice): 3 epochs, lr 1e-3.
import { z } from 'zod';
import { tf } from '../../tf.js';
import { train, crossEntropy } from '../../train.js';
import { defineAlgorithm, sgdFields, trainConfig } from './common.js';

export const GradientAscentParams = z.object({ ...sgdFields, epochs: sgdFields.epochs.default(3), lr: sgdFields.lr.default(1e-3) });

export const gradientAscent = defineAlgorithm({
  name: 'gradient-ascent',
  description: 'Maximize the cross-entropy on the forget set.',
  schema: GradientAscentParams,
  async run(ctx, hp) {
    await train(ctx.model, ctx.forget, trainConfig(hp, ctx.seed), {
      mask: ctx.gradMask,
      loss: (logits, labels) => tf.neg(crossEntropy(logits, labels)),
      onEpoch: (i) => ctx.onEpoch?.({ epoch: i.epoch, epochs: hp.epochs, loss: i.loss, seconds: i.seconds }),
    });
    return { model: ctx.model, epochs: hp.epochs };
  },
});
