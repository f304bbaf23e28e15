// Fused batch-norm and ReLU-backward kernels for the WebAssembly backend, on our SIMD kernels
// (ml/kernels/assembly/kernels.ts): one statistics pass and one output pass instead of the five to seven
// separate elementwise/reduction kernels a composed batch norm runs (each a full pass over the activation).
// Registered as kernels of their own names; ml/ops.ts calls them through tf.engine().runKernel on wasm.
import { tf } from '../tf.js';
import { asmEnabled, asmKernels, heapOffset } from './asm.js';

type TensorInfo = tf.TensorInfo;
interface Backend {
  makeOutput(shape: number[], dtype: string): TensorInfo;
  disposeData(dataId: object, force?: boolean): boolean;
}
type Args = { inputs: Record<string, TensorInfo>; backend: unknown; attrs?: Record<string, unknown> };

export const BN_FORWARD = 'UnlearnBatchNormForward';
export const BN_BACKWARD = 'UnlearnBatchNormBackward';
export const RELU_BACKWARD = 'UnlearnReluBackward';

export const normKernelStats = { forward: 0, backward: 0, reluBackward: 0 };

function channels(x: TensorInfo): { m: number; c: number } {
  const c = x.shape[x.shape.length - 1];
  const size = x.shape.reduce((a, b) => a * b, 1);
  if (c % 4 !== 0) throw new Error(`${BN_FORWARD}: channel count ${c} is not a multiple of 4`);
  return { m: size / c, c };
}

/** inputs x, gamma, beta; attrs eps, relu → [y, mean, variance (biased)]. */
function batchNormForward({ inputs, backend, attrs }: Args): TensorInfo[] {
  const b = backend as Backend;
  const { x, gamma, beta } = inputs;
  const { eps, relu } = attrs as { eps: number; relu: boolean };
  const { m, c } = channels(x);
  normKernelStats.forward++;
  const y = b.makeOutput(x.shape, 'float32');
  const mean = b.makeOutput([c], 'float32');
  const variance = b.makeOutput([c], 'float32');
  const scratch = b.makeOutput([2 * c], 'float32');
  const o = (t: TensorInfo): number => heapOffset(b, t);
  asmKernels(b).batchNormForward(o(x), m, c, o(gamma), o(beta), eps, relu ? 1 : 0, o(y), o(mean), o(variance), o(scratch));
  b.disposeData(scratch.dataId);
  return [y, mean, variance];
}

/** inputs dy, x, y (forward output; read only when relu), gamma, mean, variance; attrs eps, relu → [dx, dgamma, dbeta]. */
function batchNormBackward({ inputs, backend, attrs }: Args): TensorInfo[] {
  const b = backend as Backend;
  const { dy, x, y, gamma, mean, variance } = inputs;
  const { eps, relu } = attrs as { eps: number; relu: boolean };
  const { m, c } = channels(x);
  normKernelStats.backward++;
  const dx = b.makeOutput(x.shape, 'float32');
  const dgamma = b.makeOutput([c], 'float32');
  const dbeta = b.makeOutput([c], 'float32');
  const scratch = b.makeOutput([4 * c], 'float32');
  const o = (t: TensorInfo): number => heapOffset(b, t);
  asmKernels(b).batchNormBackward(o(dy), o(x), o(y), relu ? 1 : 0, m, c, o(gamma), o(mean), o(variance), eps, o(dx), o(dgamma), o(dbeta), o(scratch));
  b.disposeData(scratch.dataId);
  return [dx, dgamma, dbeta];
}

/** inputs dy, y (ReLU output) → dx = dy·[y > 0]. */
function reluBackward({ inputs, backend }: Args): TensorInfo {
  const b = backend as Backend;
  const { dy, y } = inputs;
  const n = y.shape.reduce((p, q) => p * q, 1);
  if (n % 4 !== 0) throw new Error(`${RELU_BACKWARD}: size ${n} is not a multiple of 4`);
  normKernelStats.reluBackward++;
  const dx = b.makeOutput(y.shape, 'float32');
  asmKernels(b).reluBackward(heapOffset(b, dy), heapOffset(b, y), n, heapOffset(b, dx));
  return dx;
}

export function registerNormKernels(disabled: ReadonlySet<string>): void {
  if (!asmEnabled() || disabled.has('norm')) return;
  for (const [kernelName, fn] of [
    [BN_FORWARD, batchNormForward],
    [BN_BACKWARD, batchNormBackward],
    [RELU_BACKWARD, reluBackward],
  ] as const) {
    if (!tf.getKernel(kernelName, 'wasm')) tf.registerKernel({ kernelName, backendName: 'wasm', kernelFunc: fn as unknown as tf.KernelFunc });
  }
}

/** Whether the fused kernels serve the current backend. */
export function fusedNormAvailable(): boolean {
  return tf.getBackend() === 'wasm' && tf.getKernel(BN_FORWARD, 'wasm') !== undefined;
}
