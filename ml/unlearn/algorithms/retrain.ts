// Retrain (the oracle): train from a fresh initialization (seeded) on D_r with the original recipe.
// Defaults = docs/method.md's CIFAR-10 original/oracle recipe: SGD 0.9, batch 128, wd 0, lr 0.1 cosine → 0.001,
// 30 epochs. Pass the recipe that trained θ_o (bench and orchestration do) for a true oracle.
import { z } from 'zod';
import { buildModel } from '../../models.js';
import { train } from '../../train.js';
import { applyCheckpoint } from '../../checkpoint.js';
import { defineAlgorithm, sgdFields, trainConfig } from './common.js';

export const RetrainParams = z.object({
  ...sgdFields,
  epochs: sgdFields.epochs.default(30),
  lr: sgdFields.lr.default(0.1),
  /** Init seed of the fresh model (default: the run's seed). */
  initSeed: z.number().int().optional(),
});

export const retrain = defineAlgorithm({
  name: 'retrain',
  description: 'Oracle: train from scratch on the retain set with the original recipe.',
  schema: RetrainParams,
  async run(ctx, hp) {
    const initSeed = hp.initSeed ?? ctx.seed;
    const fresh = buildModel(ctx.original.spec, ctx.original.inputShape, ctx.original.numClasses, initSeed);
    if (ctx.resume) applyCheckpoint(fresh, ctx.resume);
    await train(fresh, ctx.retain, trainConfig(hp, ctx.seed), {
      mask: ctx.gradMask,
      driver: ctx.driver,
      phase: 'unlearn',
      resume: ctx.resume?.trainState,
      onEpoch: (i) => ctx.onEpoch?.({ epoch: i.epoch, epochs: hp.epochs, loss: i.loss, seconds: i.seconds, state: i.state, model: fresh }),
    });
    return { model: fresh, epochs: hp.epochs, notes: { initSeed } };
  },
});
