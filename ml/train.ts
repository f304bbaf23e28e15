import { tf } from './tf.js';
import type { Model, NamedVariable } from './models.js';
import type { Split } from './data/types.js';

export interface TrainConfig {
  epochs: number;
  batchSize: number;
  lr: number;
  momentum: number;
  weightDecay: number;
  /** Final lr factor of the per-epoch cosine schedule (default 0.01). */
  minLrFactor?: number;
  seed: number;
}

/** 1 = may change, 0 = must stay bit-identical. With a mask, params absent from the map are frozen. */
export type ParamMask = Map<string, Float32Array>;

export interface EpochStats {
  epoch: number;
  loss: number;
  accuracy: number;
  lr: number;
  seconds: number;
  samples: number;
}

export interface TrainState {
  epochsDone: number;
  rng: number[];
  optimizer: Map<string, { shape: number[]; data: Float32Array }>;
  history: EpochStats[];
}

export type LossFn = (logits: tf.Tensor2D, labels: tf.Tensor1D, batch: { positions: Int32Array; ids: Int32Array }) => tf.Scalar;

export interface EpochInfo {
  epoch: number;
  loss: number;
  accuracy: number;
  seconds: number;
  state: TrainState;
}

export interface TrainOptions {
  mask?: ParamMask;
  loss?: LossFn;
  onEpoch?: (info: EpochInfo) => void | Promise<void>;
  resume?: TrainState;
  recordPerExampleCorrect?: boolean;
  freezeBnStats?: boolean;
}

export interface TrainResult {
  history: EpochStats[];
  perExampleCorrect?: Uint8Array[];
  state: TrainState;
}

export class DivergenceError extends Error {
  constructor(
    readonly epoch: number,
    readonly step: number,
    readonly loss: number,
  ) {
    super(`training diverged: loss ${loss} at epoch ${epoch}, step ${step}`);
    this.name = 'DivergenceError';
  }
}

export function lrAt(config: Pick<TrainConfig, 'lr' | 'epochs' | 'minLrFactor'>, epoch: number): number {
  const minLr = (config.minLrFactor ?? 0.01) * config.lr;
  return minLr + ((config.lr - minLr) * (1 + Math.cos((Math.PI * epoch) / config.epochs))) / 2;
}

export function crossEntropy(logits: tf.Tensor2D, labels: tf.Tensor1D): tf.Scalar {
  throw new Error(`crossEntropy(${logits.shape}, ${labels.shape}): not implemented yet`);
}

export class Sgd {
  constructor(readonly opts: { momentum: number; weightDecay: number; mask?: ParamMask }) {}
  trainable(model: Model): NamedVariable[] {
    throw new Error(`Sgd.trainable(${model.spec.arch}): not implemented yet`);
  }
  step(vars: NamedVariable[], grads: Record<string, tf.Tensor>, lr: number): void {
    throw new Error(`Sgd.step(${vars.length}, ${Object.keys(grads).length}, ${lr}): not implemented yet`);
  }
  getState(): Map<string, { shape: number[]; data: Float32Array }> {
    throw new Error('not implemented yet');
  }
  setState(s: Map<string, { shape: number[]; data: Float32Array }>): void {
    throw new Error(`not implemented yet ${s.size}`);
  }
  dispose(): void {}
}

export async function train(model: Model, split: Split, config: TrainConfig, opts: TrainOptions = {}): Promise<TrainResult> {
  throw new Error(`train(${model.spec.arch}, ${split.count}, ${config.epochs}, ${Object.keys(opts)}): not implemented yet`);
}
