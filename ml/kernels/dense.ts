// Bias + activation and the SGD update as single kernels on the WebAssembly backend (our SIMD kernels,
// ml/kernels/assembly/kernels.ts). A small model's step is dominated by per-kernel overhead, not arithmetic: the
// unfused dense layer ran MatMul, Add, Relu forward and Step, Cast, Multiply, Sum backward; each parameter's
// update ran six elementwise kernels. Registered under names of their own; ml/ops.ts and ml/train.ts call them.
import { tf } from '../tf.js';
import { asmEnabled, asmKernels, heapOffset } from './asm.js';

type TensorInfo = tf.TensorInfo;
interface Backend {
  makeOutput(shape: number[], dtype: string): TensorInfo;
  disposeData(dataId: object, force?: boolean): boolean;
}
type Args = { inputs: Record<string, TensorInfo>; backend: unknown; attrs?: Record<string, unknown> };

export const BIAS_ACT = 'UnlearnBiasAct';
export const BIAS_ACT_BACKWARD = 'UnlearnBiasActBackward';
export const SGD_STEP = 'UnlearnSgdStep';

export const denseKernelStats = { biasAct: 0, biasActBackward: 0, sgdStep: 0 };

function rows(x: TensorInfo): { m: number; n: number } {
  const n = x.shape[x.shape.length - 1];
  const size = x.shape.reduce((a, b) => a * b, 1);
  return { m: n === 0 ? 0 : size / n, n };
}

function checkFloat(kernel: string, ts: Record<string, TensorInfo | undefined>): void {
  for (const [name, t] of Object.entries(ts)) {
    if (t && t.dtype !== 'float32') throw new Error(`${kernel}: input ${name} is ${t.dtype}, expected float32`);
  }
}

/** inputs z [..., N], bias [N]; attrs relu → y = z + bias (then ReLU). */
function biasAct({ inputs, backend, attrs }: Args): TensorInfo {
  const b = backend as Backend;
  const { z, bias } = inputs;
  checkFloat(BIAS_ACT, { z, bias });
  const { m, n } = rows(z);
  if (bias.shape.length !== 1 || bias.shape[0] !== n) throw new Error(`${BIAS_ACT}: bias shape [${bias.shape}] does not match the last axis of [${z.shape}]`);
  denseKernelStats.biasAct++;
  const y = b.makeOutput([...z.shape], 'float32');
  asmKernels(b).biasAct(heapOffset(b, z), heapOffset(b, bias), m, n, (attrs as { relu: boolean }).relu ? 1 : 0, heapOffset(b, y));
  return y;
}

/** inputs dy, y (forward output; read only when relu); attrs relu → relu ? [dz, dbias] : [dbias] (dz is dy then). */
function biasActBackward({ inputs, backend, attrs }: Args): TensorInfo[] {
  const b = backend as Backend;
  const { dy, y } = inputs;
  checkFloat(BIAS_ACT_BACKWARD, { dy, y });
  const relu = (attrs as { relu: boolean }).relu;
  const { m, n } = rows(dy);
  denseKernelStats.biasActBackward++;
  const dz = relu ? b.makeOutput([...dy.shape], 'float32') : undefined;
  const db = b.makeOutput([n], 'float32');
  const scratch = b.makeOutput([n], 'float32');
  const o = (t: TensorInfo): number => heapOffset(b, t);
  asmKernels(b).biasActBackward(o(dy), o(y), m, n, relu ? 1 : 0, dz ? o(dz) : 0, o(db), o(scratch));
  b.disposeData(scratch.dataId);
  return dz ? [dz, db] : [db];
}

/**
 * inputs theta, grad, velocity? (previous momentum buffer), mask?; attrs lr, momentum, weightDecay →
 * momentum != 0 ? [theta', velocity'] : [theta'].
 */
function sgdStep({ inputs, backend, attrs }: Args): TensorInfo[] {
  const b = backend as Backend;
  const { theta, grad, velocity, mask } = inputs;
  checkFloat(SGD_STEP, { theta, grad, velocity, mask });
  const size = theta.shape.reduce((p, q) => p * q, 1);
  for (const [name, t] of [['grad', grad], ['velocity', velocity], ['mask', mask]] as const) {
    if (t && t.shape.reduce((p, q) => p * q, 1) !== size) throw new Error(`${SGD_STEP}: ${name} shape [${t.shape}] does not match the parameter's [${theta.shape}]`);
  }
  const { lr, momentum, weightDecay } = attrs as { lr: number; momentum: number; weightDecay: number };
  denseKernelStats.sgdStep++;
  const out = b.makeOutput([...theta.shape], 'float32');
  const vel = momentum !== 0 ? b.makeOutput([...theta.shape], 'float32') : undefined;
  const o = (t: TensorInfo | undefined): number => (t ? heapOffset(b, t) : 0);
  asmKernels(b).sgdStep(o(theta), o(grad), momentum !== 0 ? o(velocity) : 0, o(mask), size, lr, momentum, weightDecay, o(out), o(vel));
  return vel ? [out, vel] : [out];
}

export function registerDenseKernels(disabled: ReadonlySet<string>): void {
  if (!asmEnabled() || disabled.has('dense')) return;
  for (const [kernelName, fn] of [
    [BIAS_ACT, biasAct],
    [BIAS_ACT_BACKWARD, biasActBackward],
    [SGD_STEP, sgdStep],
  ] as const) {
    if (!tf.getKernel(kernelName, 'wasm')) tf.registerKernel({ kernelName, backendName: 'wasm', kernelFunc: fn as unknown as tf.KernelFunc });
  }
}

/** Whether the bias/activation and SGD kernels serve the current backend. */
export function denseKernelsAvailable(): boolean {
  return tf.getBackend() === 'wasm' && tf.getKernel(BIAS_ACT, 'wasm') !== undefined;
}
