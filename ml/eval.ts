import type { Model } from './models.js';
import type { Split } from './data/types.js';

export interface EvalResult {
  accuracy: number;
  loss: number;
  count: number;
  perExample: { ids: Int32Array; loss: Float32Array; trueProb: Float32Array; margin: Float32Array; pred: Int32Array };
}

export function evaluate(model: Model, split: Split, opts: { batchSize?: number } = {}): EvalResult {
  throw new Error(`evaluate(${model.spec.arch}, ${split.count}, ${opts.batchSize}): not implemented yet`);
}

export function predictLogits(model: Model, split: Split, opts: { batchSize?: number } = {}): Float32Array {
  throw new Error(`predictLogits(${model.spec.arch}, ${split.count}, ${opts.batchSize}): not implemented yet`);
}
