import { tf } from './tf.js';

export type ModelSpec =
  | { arch: 'mlp'; hidden: number[] }
  | { arch: 'cnn'; channels?: number[]; dense?: number }
  | { arch: 'resnet'; width: number; blocksPerStage: number[] }
  | { arch: 'vit'; patch: number; dim: number; depth: number; heads: number; mlpDim: number };

export const RESNET18: ModelSpec = { arch: 'resnet', width: 64, blocksPerStage: [2, 2, 2, 2] };

export interface NamedVariable {
  name: string;
  variable: tf.Variable;
}

export interface Model {
  spec: ModelSpec;
  inputShape: number[];
  numClasses: number;
  seed: number;
  params(): NamedVariable[];
  buffers(): NamedVariable[];
  headParamNames: string[];
  logits(x: tf.Tensor, training: boolean, opts?: { updateStats?: boolean }): tf.Tensor2D;
  freshInit(seed: number): Map<string, tf.Tensor>;
  getWeights(): Map<string, tf.Tensor>;
  setWeights(w: Map<string, tf.Tensor | { shape: number[]; data: Float32Array }>): void;
  numParams(): number;
  dispose(): void;
}

export function buildModel(spec: ModelSpec, inputShape: number[], numClasses: number, seed: number): Model {
  throw new Error(`buildModel(${spec.arch}, ${inputShape}, ${numClasses}, ${seed}): not implemented yet`);
}
