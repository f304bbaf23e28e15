import type { Model } from './models.js';
import type { TrainState } from './train.js';

export interface TensorEntry {
  shape: number[];
  dtype: 'F32' | 'I32';
  data: Float32Array | Int32Array;
}

export interface Checkpoint {
  weights: Map<string, TensorEntry>;
  trainState?: TrainState;
  meta: Record<string, unknown>;
}

export function saveCheckpoint(model: Model, extra: { trainState?: TrainState; meta?: Record<string, unknown> } = {}): Uint8Array {
  throw new Error(`saveCheckpoint(${model.spec.arch}, ${Object.keys(extra)}): not implemented yet`);
}

export function loadCheckpoint(bytes: Uint8Array): Checkpoint {
  throw new Error(`loadCheckpoint(${bytes.length} bytes): not implemented yet`);
}

export function applyCheckpoint(model: Model, ckpt: Checkpoint): void {
  throw new Error(`applyCheckpoint(${model.spec.arch}, ${ckpt.weights.size}): not implemented yet`);
}

export function modelFromCheckpoint(ckpt: Checkpoint): Model {
  throw new Error(`modelFromCheckpoint(${ckpt.weights.size}): not implemented yet`);
}
