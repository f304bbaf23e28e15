// Shared pieces of the unlearning algorithms: the context each one receives, the SGD step used by custom
// loops (one optimizer: the core's Sgd), and the KL distillation loss.
import { z } from 'zod';
import { tf } from '../../tf.js';
import type { Model } from '../../models.js';
import type { Split } from '../../data/types.js';
import { Sgd, DivergenceError, crossEntropy, lrAt, type ParamMask, type TrainConfig } from '../../train.js';
import { Rng } from '../../rng.js';
import { batchPositions, gatherBatch } from '../../data/split.js';

export interface EpochReport {
  epoch: number;
  epochs: number;
  loss: number;
  seconds: number;
}

export interface AlgoContext {
  /** Working model: starts as θ_o (after the optional localized reset); the algorithm updates it in place. */
  model: Model;
  /** θ_o, never modified (SCRUB's teacher). */
  original: Model;
  train: Split;
  test: Split;
  forget: Split;
  retain: Split;
  seed: number;
  /** Gradient mask when running localized (1 = may change; absent params frozen); undefined = all params. */
  gradMask?: ParamMask;
  onEpoch?: (e: EpochReport) => void | Promise<void>;
}

export interface AlgoOutput {
  /** The unlearned model (the working model, or a new one for retrain). */
  model: Model;
  epochs: number;
  notes?: Record<string, unknown>;
}

export interface Algorithm<S extends z.ZodType = z.ZodType> {
  name: string;
  description: string;
  schema: S;
  /** Localization applied when the caller gives none (DEL, SalUn). */
  defaultLocalization?: { strategy: string; alpha: number; reset: boolean; headTrainable: boolean };
  run(ctx: AlgoContext, hp: z.output<S>): Promise<AlgoOutput>;
}

export function defineAlgorithm<S extends z.ZodType>(a: Algorithm<S>): Algorithm<S> {
  return a;
}

/** SGD hyperparameters shared by the training-based algorithms. */
export const sgdFields = {
  epochs: z.number().int().positive(),
  lr: z.number().positive(),
  batchSize: z.number().int().positive().default(128),
  momentum: z.number().min(0).max(1).default(0.9),
  weightDecay: z.number().min(0).default(0),
  minLrFactor: z.number().min(0).max(1).default(0.01),
};

export function trainConfig(hp: { epochs: number; lr: number; batchSize: number; momentum: number; weightDecay: number; minLrFactor: number }, seed: number): TrainConfig {
  return { epochs: hp.epochs, lr: hp.lr, batchSize: hp.batchSize, momentum: hp.momentum, weightDecay: hp.weightDecay, minLrFactor: hp.minLrFactor, seed };
}

/** One optimizer step on `lossFn` over the optimizer's trainable variables; returns the loss. */
export async function sgdStep(model: Model, sgd: Sgd, lossFn: () => tf.Scalar, lr: number, where: { epoch: number; step: number }): Promise<number> {
  const vars = sgd.trainable(model);
  const { value, grads } = tf.variableGrads(lossFn, vars.map((v) => v.variable));
  try {
    const byName: Record<string, tf.Tensor> = {};
    for (const v of vars) byName[v.name] = grads[v.variable.name];
    const loss = (await value.data())[0]; // asynchronous: webgpu cannot read synchronously in Node
    if (!Number.isFinite(loss)) throw new DivergenceError(where.epoch, where.step, loss);
    sgd.step(vars, byName, lr);
    return loss;
  } finally {
    value.dispose();
    for (const g of Object.values(grads)) g.dispose();
  }
}

/** KL(teacher ‖ student) at temperature T, summed over classes, mean over the batch, times T² (SCRUB's DistillKL). */
export function distillKL(studentLogits: tf.Tensor2D, teacherLogits: tf.Tensor2D, T: number): tf.Scalar {
  return tf.tidy(() => {
    const logPs = tf.logSoftmax(studentLogits.div(T));
    const logPt = tf.logSoftmax(teacherLogits.div(T));
    const pt = tf.exp(logPt);
    const kl = pt.mul(logPt.sub(logPs)).sum(1).mean();
    return kl.mul(T * T) as tf.Scalar;
  });
}

export function optimizer(hp: { momentum: number; weightDecay: number }, mask?: ParamMask): Sgd {
  return new Sgd({ momentum: hp.momentum, weightDecay: hp.weightDecay, mask });
}

/**
 * The epoch loop used by the unlearning algorithms (docs/ml-api.md's "custom loops" path: the core's Sgd,
 * lrAt, batchPositions and gatherBatch). Per epoch e: lr = lrAt(hp, e) (cosine to minLrFactor·lr), a fresh
 * permutation of `split` from Rng(seed), last partial batch kept, training-mode forward (BN batch stats,
 * running stats updated). The optimizer step runs outside any tf.tidy, so the Sgd's cached mask tensors live
 * for the whole run. `loss` defaults to mean cross-entropy; `beforeEpoch(e)` lets a loss depend on the epoch.
 */
export async function trainLoop(
  model: Model,
  split: Split,
  hp: { epochs: number; lr: number; batchSize: number; momentum: number; weightDecay: number; minLrFactor: number },
  opts: {
    seed: number;
    mask?: ParamMask;
    loss?: (logits: tf.Tensor2D, labels: tf.Tensor1D) => tf.Scalar;
    beforeEpoch?: (epoch: number) => void;
    onEpoch?: (e: EpochReport) => void | Promise<void>;
  },
): Promise<void> {
  const rng = new Rng(opts.seed);
  const sgd = optimizer(hp, opts.mask);
  const lossOf = opts.loss ?? ((l: tf.Tensor2D, y: tf.Tensor1D) => crossEntropy(l, y));
  let step = 0;
  try {
    for (let epoch = 0; epoch < hp.epochs; epoch++) {
      opts.beforeEpoch?.(epoch);
      const t0 = performance.now();
      const lr = lrAt(hp, epoch);
      let sum = 0, nb = 0;
      for (const pos of batchPositions(split.count, hp.batchSize, rng)) {
        const b = gatherBatch(split, pos);
        try {
          sum += await sgdStep(model, sgd, () => lossOf(model.logits(b.x, true), b.y), lr, { epoch, step: step++ });
        } finally {
          b.x.dispose();
          b.y.dispose();
        }
        nb++;
      }
      await opts.onEpoch?.({ epoch, epochs: hp.epochs, loss: sum / nb, seconds: (performance.now() - t0) / 1000 });
    }
  } finally {
    sgd.dispose();
  }
}
