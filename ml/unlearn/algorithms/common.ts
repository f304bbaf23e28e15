// Shared pieces of the unlearning algorithms: the context each one receives, the one epoch loop every
// training-based algorithm runs (epochLoop: one or two splits per epoch, driven, checkpointable), the SGD step
// (one optimizer: the core's Sgd), and the KL distillation loss.
import { z } from 'zod';
import { tf } from '../../tf.js';
import type { Model } from '../../models.js';
import type { Split } from '../../data/types.js';
import { Sgd, DivergenceError, crossEntropy, lrAt, type EpochStats, type ParamMask, type TrainConfig, type TrainState } from '../../train.js';
import { Rng } from '../../rng.js';
import { batchPositions, gatherBatch } from '../../data/split.js';
import { applyCheckpoint, type Checkpoint } from '../../checkpoint.js';
import type { Driver } from '../../driver.js';

export interface EpochReport {
  epoch: number;
  epochs: number;
  loss: number;
  seconds: number;
  /** Loop state after this epoch: with `model`'s weights it resumes the run (saveCheckpoint(model, { trainState: state })). */
  state: TrainState;
  /** The model being trained (the working model; retrain's fresh model). */
  model: Model;
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
  /** Yields, cancellation and progress of every loop (ml/driver.ts). */
  driver: Driver;
  /** An epoch checkpoint (weights + trainState) of an earlier, interrupted run of the same call: continue it. */
  resume?: Checkpoint & { trainState: TrainState };
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

/** One optimizer step of an epoch: the loss closure on gathered batch tensors, and their disposal. */
export interface LoopStep {
  loss: () => tf.Scalar;
  dispose: () => void;
  /** Whether the step's loss enters the epoch's reported mean (SCRUB reports only its retain pass). */
  reported: boolean;
}

/** One epoch: its step count (known when the epoch starts) and the steps, requested in order 0..steps-1. */
export interface EpochPlan {
  steps: number;
  step(i: number): LoopStep;
}

export type SgdHparams = { epochs: number; lr: number; batchSize: number; momentum: number; weightDecay: number; minLrFactor: number };

/**
 * The epoch loop of every training-based unlearning algorithm (retrain uses the core's train()). Per epoch e:
 * lr = lrAt(hp, e) (cosine to minLrFactor·lr); `plan(e, rng)` draws the epoch's batches from the run's Rng
 * (seeded with `seed`) — one split (finetune, DEL, …) or two (NegGrad+ pairs a retain and a forget batch per
 * step, SCRUB runs a forget pass then a retain pass); every step is one Sgd update on the working model
 * (training-mode forward), outside any tf.tidy so the Sgd's cached mask tensors live for the whole run, then
 * `await driver.step()` (yield, cancellation, progress). A NaN/Inf loss throws DivergenceError.
 * After each epoch onEpoch gets the loop state (epochs done, Rng, momentum buffers, the algorithm's `extra`);
 * given that state and the weights back (`ctx.resume`), the loop continues bit-identically.
 */
export async function epochLoop(
  ctx: Pick<AlgoContext, 'model' | 'driver' | 'resume' | 'onEpoch'>,
  hp: SgdHparams,
  opts: {
    seed: number;
    mask?: ParamMask;
    plan: (epoch: number, rng: Rng) => EpochPlan;
    /** Algorithm state carried from one epoch to the next (JSON), saved in every epoch checkpoint. */
    extra?: { save(): Record<string, unknown>; load(saved: Record<string, unknown>): void };
  },
): Promise<void> {
  const { model, driver } = ctx;
  const sgd = optimizer(hp, opts.mask);
  let rng = new Rng(opts.seed);
  let first = 0;
  let step = 0;
  const history: EpochStats[] = [];
  try {
    if (ctx.resume) {
      const st = ctx.resume.trainState;
      if (st.epochsDone > hp.epochs) throw new Error(`resume: the checkpoint has ${st.epochsDone} epochs done, the run has ${hp.epochs}`);
      applyCheckpoint(model, ctx.resume);
      rng = Rng.fromState(st.rng);
      sgd.setState(st.optimizer);
      history.push(...st.history);
      first = st.epochsDone;
      step = Number(st.extra?.step ?? 0);
      if (st.extra && opts.extra) opts.extra.load(st.extra);
    }
    for (let epoch = first; epoch < hp.epochs; epoch++) {
      const t0 = performance.now();
      const lr = lrAt(hp, epoch);
      const plan = opts.plan(epoch, rng);
      driver.begin('unlearn', { epoch, epochs: hp.epochs, steps: plan.steps });
      let sum = 0, reported = 0, samples = 0;
      for (let i = 0; i < plan.steps; i++) {
        const s = plan.step(i);
        try {
          const loss = await sgdStep(model, sgd, s.loss, lr, { epoch, step: step++ });
          if (s.reported) { sum += loss; reported++; }
          samples++;
        } finally {
          s.dispose();
        }
        await driver.step();
      }
      const seconds = (performance.now() - t0) / 1000;
      const loss = reported > 0 ? sum / reported : NaN;
      history.push({ epoch, loss, accuracy: NaN, lr, seconds, samples });
      if (ctx.onEpoch) {
        const state: TrainState = { epochsDone: epoch + 1, rng: rng.getState(), optimizer: await sgd.getState(), history: [...history], extra: { step, ...(opts.extra?.save() ?? {}) } };
        await ctx.onEpoch({ epoch, epochs: hp.epochs, loss, seconds, state, model });
      }
    }
  } finally {
    sgd.dispose();
  }
}

/** One split per epoch: a seeded shuffle of `split`, last partial batch kept, loss on the training-mode logits. */
export function trainLoop(
  ctx: Pick<AlgoContext, 'model' | 'driver' | 'resume' | 'onEpoch'>,
  split: Split,
  hp: SgdHparams,
  opts: {
    seed: number;
    mask?: ParamMask;
    loss?: (logits: tf.Tensor2D, labels: tf.Tensor1D) => tf.Scalar;
    beforeEpoch?: (epoch: number) => void;
  },
): Promise<void> {
  const lossOf = opts.loss ?? ((l: tf.Tensor2D, y: tf.Tensor1D) => crossEntropy(l, y));
  return epochLoop(ctx, hp, {
    seed: opts.seed,
    mask: opts.mask,
    plan(epoch, rng) {
      opts.beforeEpoch?.(epoch);
      const batches = batchPositions(split.count, hp.batchSize, rng);
      return {
        steps: batches.length,
        step(i) {
          const b = gatherBatch(split, batches[i]);
          return { loss: () => lossOf(ctx.model.logits(b.x, true) as tf.Tensor2D, b.y), dispose: () => { b.x.dispose(); b.y.dispose(); }, reported: true };
        },
      };
    },
  });
}
