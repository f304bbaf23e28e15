// L1-sparse (Jia et al. 2023): CE on D_r + γ_t·‖θ‖₁ over the trainable parameters, γ_t = γ₀(1 − t/T) with t
// the epoch (0-based) and T the number of epochs, γ₀ = 7e-5 (docs/method.md). Defaults otherwise: 10 epochs, lr 0.01.
import { z } from 'zod';
import { tf } from '../../tf.js';
import { crossEntropy } from '../../train.js';
import { defineAlgorithm, sgdFields, trainLoop } from './common.js';

export const L1SparseParams = z.object({ ...sgdFields, epochs: sgdFields.epochs.default(10), lr: sgdFields.lr.default(0.01), gamma0: z.number().min(0).default(7e-5) });

export const l1Sparse = defineAlgorithm({
  name: 'l1-sparse',
  description: 'Retain-set CE plus a linearly decaying L1 penalty on the weights.',
  schema: L1SparseParams,
  async run(ctx, hp) {
    let epoch = 0;
    const vars = ctx.model.params().map((p) => p.variable);
    await trainLoop(ctx, ctx.retain, hp, {
      seed: ctx.seed,
      mask: ctx.gradMask,
      beforeEpoch: (e) => { epoch = e; },
      loss: (logits, labels) => {
        const gamma = hp.gamma0 * (1 - epoch / hp.epochs);
        const l1 = tf.addN(vars.map((v) => tf.sum(tf.abs(v)))) as tf.Scalar;
        return tf.add(crossEntropy(logits, labels), tf.mul(gamma, l1)) as tf.Scalar;
      },
    });
    return { model: ctx.model, epochs: hp.epochs };
  },
});
