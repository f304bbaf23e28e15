// NegGrad+ (Kurmanji et al. 2023): per step one retain batch and one forget batch,
// loss = β·CE(retain) − (1−β)·CE(forget). An epoch is one pass over D_r; forget batches cycle (reshuffled
// each time D_f is exhausted). β = 0.95 for IID forget sets, 0.99 for non-IID (docs/method.md); default 0.95.
// Defaults otherwise (our choice): 5 epochs, lr 0.01.
import { z } from 'zod';
import { Rng } from '../../rng.js';
import { batchPositions, gatherBatch } from '../../data/split.js';
import { crossEntropy, lrAt } from '../../train.js';
import { tf } from '../../tf.js';
import { defineAlgorithm, optimizer, sgdFields, sgdStep } from './common.js';

export const NegGradPlusParams = z.object({ ...sgdFields, epochs: sgdFields.epochs.default(5), lr: sgdFields.lr.default(0.01), beta: z.number().min(0).max(1).default(0.95) });

export const negGradPlus = defineAlgorithm({
  name: 'neggrad-plus',
  description: 'Descend on retain CE while ascending on forget CE, weighted by beta.',
  schema: NegGradPlusParams,
  async run(ctx, hp) {
    const rng = new Rng(ctx.seed);
    const sgd = optimizer(hp, ctx.gradMask);
    let fBatches: Int32Array[] = [];
    let step = 0;
    try {
      for (let epoch = 0; epoch < hp.epochs; epoch++) {
        const t0 = performance.now();
        const lr = lrAt(hp, epoch);
        let sum = 0, nb = 0;
        for (const rPos of batchPositions(ctx.retain.count, hp.batchSize, rng)) {
          if (fBatches.length === 0) fBatches = batchPositions(ctx.forget.count, hp.batchSize, rng);
          const fPos = fBatches.shift()!;
          const r = gatherBatch(ctx.retain, rPos);
          const f = gatherBatch(ctx.forget, fPos);
          try {
            sum += await sgdStep(ctx.model, sgd, () => tf.sub(tf.mul(hp.beta, crossEntropy(ctx.model.logits(r.x, true), r.y)), tf.mul(1 - hp.beta, crossEntropy(ctx.model.logits(f.x, true), f.y))) as tf.Scalar, lr, { epoch, step: step++ });
          } finally {
            r.x.dispose(); r.y.dispose(); f.x.dispose(); f.y.dispose();
          }
          nb++;
        }
        await ctx.onEpoch?.({ epoch, epochs: hp.epochs, loss: sum / nb, seconds: (performance.now() - t0) / 1000 });
      }
    } finally {
      sgd.dispose();
    }
    return { model: ctx.model, epochs: hp.epochs };
  },
});
