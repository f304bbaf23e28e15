// NegGrad+ (Kurmanji et al. 2023): per step one retain batch and one forget batch,
// loss = β·CE(retain) − (1−β)·CE(forget). An epoch is one pass over D_r; forget batches cycle (reshuffled
// each time D_f is exhausted; the queue is part of the epoch checkpoint). β = 0.95 for IID forget sets,
// 0.99 for non-IID (docs/method.md); default 0.95. Defaults otherwise (our choice): 5 epochs, lr 0.01.
import { z } from 'zod';
import { batchPositions, gatherBatch } from '../../data/split.js';
import { crossEntropy } from '../../train.js';
import { tf } from '../../tf.js';
import { defineAlgorithm, epochLoop, sgdFields } from './common.js';

export const NegGradPlusParams = z.object({ ...sgdFields, epochs: sgdFields.epochs.default(5), lr: sgdFields.lr.default(0.01), beta: z.number().min(0).max(1).default(0.95) });

export const negGradPlus = defineAlgorithm({
  name: 'neggrad-plus',
  description: 'Descend on retain CE while ascending on forget CE, weighted by beta.',
  schema: NegGradPlusParams,
  async run(ctx, hp) {
    const { model, retain, forget } = ctx;
    let forgetQueue: Int32Array[] = [];
    await epochLoop(ctx, hp, {
      seed: ctx.seed,
      mask: ctx.gradMask,
      plan(_epoch, rng) {
        const retainBatches = batchPositions(retain.count, hp.batchSize, rng);
        return {
          steps: retainBatches.length,
          step(i) {
            // drawn lazily, in step order: the same Rng sequence as one loop over both splits
            if (forgetQueue.length === 0) forgetQueue = batchPositions(forget.count, hp.batchSize, rng);
            const r = gatherBatch(retain, retainBatches[i]);
            const f = gatherBatch(forget, forgetQueue.shift()!);
            return {
              loss: () => tf.sub(tf.mul(hp.beta, crossEntropy(model.logits(r.x, true), r.y)), tf.mul(1 - hp.beta, crossEntropy(model.logits(f.x, true), f.y))) as tf.Scalar,
              dispose: () => { r.x.dispose(); r.y.dispose(); f.x.dispose(); f.y.dispose(); },
              reported: true,
            };
          },
        };
      },
      extra: {
        save: () => ({ forgetQueue: forgetQueue.map((b) => Array.from(b)) }),
        load: (saved) => { forgetQueue = ((saved.forgetQueue as number[][] | undefined) ?? []).map((b) => Int32Array.from(b)); },
      },
    });
    return { model, epochs: hp.epochs };
  },
});
