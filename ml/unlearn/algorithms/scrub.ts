// SCRUB (Kurmanji et al. 2023): teacher θ_o, student from θ_o. Each epoch: while epoch < maxSteps, one
// max-pass over D_f maximizing KL(teacher ‖ student) (loss = −KL); then one min-pass over D_r minimizing
// ceWeight·CE + klWeight·KL. KL at temperature T, times T² (SCRUB's DistillKL). Defaults follow SCRUB's
// CIFAR settings where they exist (T = 4, γ = 0.99 on CE, α = 0.001 on KL, max-steps 2, forget batch 64),
// epochs 5 and lr 0.005 are our CPU-scale choice.
import { z } from 'zod';
import { Rng } from '../../rng.js';
import { batchPositions, gatherBatch } from '../../data/split.js';
import { crossEntropy, lrAt } from '../../train.js';
import { tf } from '../../tf.js';
import { defineAlgorithm, distillKL, optimizer, sgdFields, sgdStep } from './common.js';

export const ScrubParams = z.object({
  ...sgdFields,
  epochs: sgdFields.epochs.default(5),
  lr: sgdFields.lr.default(0.005),
  maxSteps: z.number().int().min(0).default(2),
  forgetBatchSize: z.number().int().positive().default(64),
  temperature: z.number().positive().default(4),
  ceWeight: z.number().min(0).default(0.99),
  klWeight: z.number().min(0).default(0.001),
});

export const scrub = defineAlgorithm({
  name: 'scrub',
  description: 'Teacher-student: move away from the teacher on the forget set, stay close on the retain set.',
  schema: ScrubParams,
  async run(ctx, hp) {
    const rng = new Rng(ctx.seed);
    const sgd = optimizer(hp, ctx.gradMask);
    const teacher = ctx.original;
    let step = 0;
    try {
      for (let epoch = 0; epoch < hp.epochs; epoch++) {
        const t0 = performance.now();
        const lr = lrAt(hp, epoch);
        let sum = 0, nb = 0;
        if (epoch < hp.maxSteps) {
          for (const pos of batchPositions(ctx.forget.count, hp.forgetBatchSize, rng)) {
            const b = gatherBatch(ctx.forget, pos);
            const t = tf.tidy(() => teacher.logits(b.x, false));
            try {
              await sgdStep(ctx.model, sgd, () => tf.neg(distillKL(ctx.model.logits(b.x, true), t, hp.temperature)), lr, { epoch, step: step++ });
            } finally {
              b.x.dispose(); b.y.dispose(); t.dispose();
            }
          }
        }
        for (const pos of batchPositions(ctx.retain.count, hp.batchSize, rng)) {
          const b = gatherBatch(ctx.retain, pos);
          const t = tf.tidy(() => teacher.logits(b.x, false));
          try {
            sum += await sgdStep(ctx.model, sgd, () => {
              const s = ctx.model.logits(b.x, true);
              return tf.add(tf.mul(hp.ceWeight, crossEntropy(s, b.y)), tf.mul(hp.klWeight, distillKL(s, t, hp.temperature))) as tf.Scalar;
            }, lr, { epoch, step: step++ });
          } finally {
            b.x.dispose(); b.y.dispose(); t.dispose();
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
