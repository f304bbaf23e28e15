// SSD, Selective Synaptic Dampening (Foster et al. 2024): diagonal Fisher importances
//   I_X[j] = mean over batches of (∂L(batch)/∂θ_j)²   (L = batch-mean CE, eval mode; as SSD's calc_importance)
// on D_f (I_f) and on all of D (I_D). Where I_f > a·I_D: θ ← θ·min(λ·I_D/I_f, 1); elsewhere θ is untouched
// (bit-identical). Defaults: λ = 1, a = 1 (IID; use 16 for non-IID), batch 128. No training epochs.
// Localized: only entries inside the mask may be dampened (and the optional reset happens before).
import { z } from 'zod';
import { tf } from '../../tf.js';
import type { Model } from '../../models.js';
import type { Split } from '../../data/types.js';
import { batchPositions, gatherBatch } from '../../data/split.js';
import { crossEntropy } from '../../train.js';
import { Driver } from '../../driver.js';
import { defineAlgorithm } from './common.js';

export const SsdParams = z.object({
  lambda: z.number().positive().default(1),
  alpha: z.number().positive().default(1),
  batchSize: z.number().int().positive().default(128),
});

/** Diagonal Fisher importance per trainable parameter (Float64 accumulation). */
export async function fisherDiagonal(model: Model, split: Split, batchSize: number, driver = new Driver(), phase = 'fisher'): Promise<Map<string, Float64Array>> {
  const params = model.params();
  const vars = params.map((p) => p.variable);
  const acc = new Map(params.map((p) => [p.name, new Float64Array(p.variable.size)] as const));
  const batches = batchPositions(split.count, batchSize);
  driver.begin(phase, { steps: batches.length });
  for (const pos of batches) {
    const grads = tf.tidy(() => {
      const { x, y } = gatherBatch(split, pos);
      return tf.variableGrads(() => crossEntropy(model.logits(x, false), y), vars).grads;
    });
    try {
      const gs = await Promise.all(params.map((p) => grads[p.variable.name].data()));
      params.forEach((p, k) => {
        const g = gs[k];
        const a = acc.get(p.name)!;
        for (let i = 0; i < a.length; i++) a[i] += g[i] * g[i];
      });
    } finally {
      tf.dispose(grads);
    }
    await driver.step();
  }
  for (const a of acc.values()) for (let i = 0; i < a.length; i++) a[i] /= batches.length;
  return acc;
}

export const ssd = defineAlgorithm({
  name: 'ssd',
  description: 'Dampen parameters far more important to the forget set than to the whole training set.',
  schema: SsdParams,
  async run(ctx, hp) {
    const iD = await fisherDiagonal(ctx.model, ctx.train, hp.batchSize, ctx.driver, 'fisher.train');
    const iF = await fisherDiagonal(ctx.model, ctx.forget, hp.batchSize, ctx.driver, 'fisher.forget');
    let selected = 0;
    const update = new Map<string, { shape: number[]; data: Float32Array }>();
    for (const p of ctx.model.params()) {
      const w = Float32Array.from((await p.variable.data()) as Float32Array);
      const d = iD.get(p.name)!, f = iF.get(p.name)!;
      const m = ctx.gradMask ? ctx.gradMask.get(p.name) : undefined;
      if (ctx.gradMask && !m) continue;
      for (let i = 0; i < w.length; i++) {
        if (m && m[i] === 0) continue;
        if (f[i] > hp.alpha * d[i]) {
          selected++;
          const factor = Math.min((hp.lambda * d[i]) / f[i], 1);
          if (factor < 1) w[i] = w[i] * factor;
        }
      }
      update.set(p.name, { shape: p.variable.shape.slice(), data: w });
    }
    ctx.model.setWeights(update);
    return { model: ctx.model, epochs: 0, notes: { selected } };
  },
});
