// SCRUB (Kurmanji et al. 2023): teacher θ_o, student from θ_o. Each epoch: while epoch < maxSteps, one
// max-pass over D_f maximizing KL(teacher ‖ student) (loss = −KL); then one min-pass over D_r minimizing
// ceWeight·CE + klWeight·KL. KL at temperature T, times T² (SCRUB's DistillKL). Defaults follow SCRUB's
// CIFAR settings where they exist (T = 4, γ = 0.99 on CE, α = 0.001 on KL, max-steps 2, forget batch 64),
// epochs 5 and lr 0.005 are our CPU-scale choice. Both passes are one epoch of the shared epochLoop; the
// reported epoch loss is the min-pass's.
import { z } from 'zod';
import { batchPositions, gatherBatch } from '../../data/split.js';
import { crossEntropy } from '../../train.js';
import { tf } from '../../tf.js';
import { defineAlgorithm, distillKL, epochLoop, sgdFields } from './common.js';

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
    const { model, forget, retain } = ctx;
    const teacher = ctx.original;
    await epochLoop(ctx, hp, {
      seed: ctx.seed,
      mask: ctx.gradMask,
      plan(epoch, rng) {
        // forget permutation first, then retain: the order in which one pass after the other draws them
        const forgetBatches = epoch < hp.maxSteps ? batchPositions(forget.count, hp.forgetBatchSize, rng) : [];
        const retainBatches = batchPositions(retain.count, hp.batchSize, rng);
        return {
          steps: forgetBatches.length + retainBatches.length,
          step(i) {
            const maxPass = i < forgetBatches.length;
            const b = maxPass ? gatherBatch(forget, forgetBatches[i]) : gatherBatch(retain, retainBatches[i - forgetBatches.length]);
            const t = tf.tidy(() => teacher.logits(b.x, false));
            const dispose = () => { b.x.dispose(); b.y.dispose(); t.dispose(); };
            if (maxPass) return { loss: () => tf.neg(distillKL(model.logits(b.x, true), t, hp.temperature)), dispose, reported: false };
            return {
              loss: () => {
                const s = model.logits(b.x, true);
                return tf.add(tf.mul(hp.ceWeight, crossEntropy(s, b.y)), tf.mul(hp.klWeight, distillKL(s, t, hp.temperature))) as tf.Scalar;
              },
              dispose,
              reported: true,
            };
          },
        };
      },
    });
    return { model, epochs: hp.epochs };
  },
});
