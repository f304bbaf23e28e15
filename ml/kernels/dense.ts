// Bias + activation and the SGD update as single kernels on the WebAssembly backend (our SIMD kernels,
// ml/kernels/assembly/kernels.ts). A small model's step is dominated by per-kernel overhead, not arithmetic: the
// unfused dense layer ran MatMul, Add, Relu forward and Step, Cast, Multiply, Sum backward; each parameter's
// update ran six elementwise kernels. Registered under names of their own; ml/ops.ts and ml/train.ts call them.
import { tf } from '../tf.js';
import { asmEnabled, asmKernels, heapOffset } from './asm.js';
import { asmMatMul } from './misc.js';

type TensorInfo = tf.TensorInfo;
interface Backend {
  makeOutput(shape: number[], dtype: string): TensorInfo;
  disposeData(dataId: object, force?: boolean): boolean;
  typedArrayFromHeap(t: TensorInfo): Float32Array | Int32Array;
  incRef(dataId: object): void;
}
type Args = { inputs: Record<string, TensorInfo>; backend: unknown; attrs?: Record<string, unknown> };

export const BIAS_ACT = 'UnlearnBiasAct';
export const BIAS_ACT_BACKWARD = 'UnlearnBiasActBackward';
export const SGD_STEP = 'UnlearnSgdStep';
export const DENSE = 'UnlearnDense';
export const MATMUL = 'UnlearnMatMul';
export const SOFTMAX_XENT = 'UnlearnSoftmaxCrossEntropy';
export const SOFTMAX_XENT_BACKWARD = 'UnlearnSoftmaxCrossEntropyBackward';

export const denseKernelStats = { biasAct: 0, biasActBackward: 0, sgdStep: 0, dense: 0, matMul: 0, softmaxXent: 0, softmaxXentBackward: 0 };

function rows(x: TensorInfo): { m: number; n: number } {
  const n = x.shape[x.shape.length - 1];
  const size = x.shape.reduce((a, b) => a * b, 1);
  return { m: n === 0 ? 0 : size / n, n };
}

function checkFloat(kernel: string, ts: Record<string, TensorInfo | undefined>): void {
  for (const name in ts) {
    const t = ts[name];
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
  const { lr, momentum, weightDecay } = attrs as { lr: number; momentum: number; weightDecay: number };
  const { out, vel } = runSgd(backend as Backend, inputs, lr, momentum, weightDecay, false);
  return vel ? [out, vel] : [out];
}

/**
 * One parameter's update on our kernel into a new θ; the momentum buffer (when momentum != 0) into a new tensor, or,
 * with velocityInPlace, over the given one (the kernel reads each element before writing it).
 */
function runSgd(b: Backend, inputs: Record<string, TensorInfo | undefined>, lr: number, momentum: number, weightDecay: number, velocityInPlace: boolean): { out: TensorInfo; vel?: TensorInfo } {
  const { theta, grad, velocity, mask } = inputs as { theta: TensorInfo; grad: TensorInfo; velocity?: TensorInfo; mask?: TensorInfo };
  checkFloat(SGD_STEP, { theta, grad, velocity, mask });
  const size = theta.shape.reduce((p, q) => p * q, 1);
  for (const [name, t] of [['grad', grad], ['velocity', velocity], ['mask', mask]] as const) {
    if (t && t.shape.reduce((p, q) => p * q, 1) !== size) throw new Error(`${SGD_STEP}: ${name} shape [${t.shape}] does not match the parameter's [${theta.shape}]`);
  }
  denseKernelStats.sgdStep++;
  const out = b.makeOutput([...theta.shape], 'float32');
  const vel = momentum === 0 ? undefined : velocityInPlace ? velocity : b.makeOutput([...theta.shape], 'float32');
  const o = (t: TensorInfo | undefined): number => (t ? heapOffset(b, t) : 0);
  asmKernels(b).sgdStep(o(theta), o(grad), momentum !== 0 ? o(velocity) : 0, o(mask), size, lr, momentum, weightDecay, o(out), o(vel));
  return { out, vel };
}

/**
 * The SGD update of one parameter with its momentum buffer updated in place: a new θ tensor, no new velocity tensor
 * a step. θ itself must get a new data id whenever it changes: the wasm backend's XNNPACK operators (convolutions
 * and matmuls it runs) cache their packed weights by the filter's data id, so a filter changed in place would be
 * read stale (a resume test caught exactly that). Returns the new θ, or undefined, doing nothing, when it cannot:
 * not on wasm with our kernels, no momentum or no buffer yet (the first step), or the buffer shares its data with
 * another tensor (a clone on wasm shares the data id).
 */
export function sgdStepVelocityInPlace(theta: tf.Tensor, grad: tf.Tensor, velocity: tf.Tensor | undefined, mask: tf.Tensor | undefined, lr: number, momentum: number, weightDecay: number): tf.Tensor | undefined {
  if (!denseKernelsAvailable() || momentum === 0 || !velocity) return undefined;
  const b = tf.backend() as unknown as Backend & { refCount(dataId: object): number };
  if (b.refCount(velocity.dataId) !== 1) return undefined;
  const { out } = runSgd(b, { theta, grad, velocity, mask }, lr, momentum, weightDecay, true);
  return tf.engine().makeTensorFromTensorInfo(out);
}

/**
 * inputs x [M, K], w [K, N], bias [N]; attrs relu → y = x·w + bias (then ReLU): our GEMM and the bias/activation
 * pass in one kernel, one tape node (its gradient is registered below: no customGrad scope, no saved clones).
 */
function dense({ inputs, backend, attrs }: Args): TensorInfo {
  const b = backend as Backend;
  const { x, w, bias } = inputs;
  checkFloat(DENSE, { x, w, bias });
  if (x.shape.length !== 2 || w.shape.length !== 2 || x.shape[1] !== w.shape[0]) throw new Error(`${DENSE}: x [${x.shape}] and w [${w.shape}] are not [M, K] and [K, N]`);
  const n = w.shape[1];
  if (bias.shape.length !== 1 || bias.shape[0] !== n) throw new Error(`${DENSE}: bias shape [${bias.shape}] is not [${n}]`);
  denseKernelStats.dense++;
  const y = asmMatMul(b as never, x, w, false, false, []);
  asmKernels(b).biasAct(heapOffset(b, y), heapOffset(b, bias), x.shape[0], n, (attrs as { relu: boolean }).relu ? 1 : 0, heapOffset(b, y));
  return y;
}

/** inputs a, b (2-D); attrs transA, transB → op(a)·op(b) on our GEMM (transposed operands read in place). */
function matMul({ inputs, backend, attrs }: Args): TensorInfo {
  const { a, b } = inputs;
  checkFloat(MATMUL, { a, b });
  const { transA, transB } = attrs as { transA: boolean; transB: boolean };
  const k1 = transA ? a.shape[0] : a.shape[1];
  const k2 = transB ? b.shape[1] : b.shape[0];
  if (a.shape.length !== 2 || b.shape.length !== 2 || k1 !== k2) throw new Error(`${MATMUL}: inner dimensions of a [${a.shape}] (transA ${transA}) and b [${b.shape}] (transB ${transB}) differ`);
  denseKernelStats.matMul++;
  return asmMatMul(backend as never, a, b, transA, transB, []);
}

/**
 * Rows of logits z [n, k] (float32) against int32 labels [n]: mean over rows of −log softmax(z)[label], as
 * z − logSumExp(z) then the one-hot sum (a label outside 0..k−1 contributes 0, as a one-hot row of zeros).
 * Scalar output. Arithmetic in float64, rounded to float32 once per stored value.
 */
function softmaxXent({ inputs, backend }: Args): TensorInfo {
  const b = backend as Backend;
  const { logits, labels } = inputs;
  checkFloat(SOFTMAX_XENT, { logits });
  const [n, k] = logits.shape;
  if (logits.shape.length !== 2 || labels.dtype !== 'int32' || labels.shape.length !== 1 || labels.shape[0] !== n) {
    throw new Error(`${SOFTMAX_XENT}: logits [${logits.shape}] ${logits.dtype} and labels [${labels.shape}] ${labels.dtype} are not [n, k] float32 and [n] int32`);
  }
  denseKernelStats.softmaxXent++;
  const z = b.typedArrayFromHeap(logits);
  const y = b.typedArrayFromHeap(labels);
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const c = y[i];
    if (c < 0 || c >= k || !Number.isInteger(c)) continue;
    const row = i * k;
    let max = -Infinity;
    for (let j = 0; j < k; j++) max = Math.max(max, z[row + j]);
    let s = 0;
    for (let j = 0; j < k; j++) s += Math.exp(z[row + j] - max);
    sum += z[row + c] - max - Math.log(s);
  }
  const out = b.makeOutput([], 'float32');
  b.typedArrayFromHeap(out)[0] = n === 0 ? NaN : -sum / n;
  return out;
}

/** inputs dy (scalar), logits, labels → dz = (softmax(z) − onehot(labels))·dy/n. */
function softmaxXentBackward({ inputs, backend }: Args): TensorInfo {
  const b = backend as Backend;
  const { dy, logits, labels } = inputs;
  checkFloat(SOFTMAX_XENT_BACKWARD, { dy, logits });
  const [n, k] = logits.shape;
  denseKernelStats.softmaxXentBackward++;
  const z = b.typedArrayFromHeap(logits);
  const y = b.typedArrayFromHeap(labels);
  const scale = b.typedArrayFromHeap(dy)[0] / n;
  const out = b.makeOutput([n, k], 'float32');
  const dz = b.typedArrayFromHeap(out);
  for (let i = 0; i < n; i++) {
    const row = i * k;
    let max = -Infinity;
    for (let j = 0; j < k; j++) max = Math.max(max, z[row + j]);
    let s = 0;
    for (let j = 0; j < k; j++) s += Math.exp(z[row + j] - max);
    const c = y[i];
    for (let j = 0; j < k; j++) dz[row + j] = (Math.exp(z[row + j] - max) / s - (j === c ? 1 : 0)) * scale;
  }
  return out;
}

const run = (name: string, inputs: Record<string, tf.Tensor>, attrs?: Record<string, unknown>): tf.Tensor | tf.Tensor[] =>
  tf.engine().runKernel(name, inputs as unknown as tf.NamedTensorMap, attrs as tf.NamedAttrMap) as tf.Tensor | tf.Tensor[];

/**
 * Gradients of the fused kernels, called by the engine's backprop inside its tidy: the shared part (dz and the bias
 * gradient, one pass) is computed once, eagerly; each weight or input gradient only when the tape asks for it (the
 * first layer's input gradient never runs).
 */
function registerGradients(): void {
  if (!tf.getGradient(DENSE)) {
    tf.registerGradient({
      kernelName: DENSE,
      inputsToSave: ['x', 'w'],
      outputsToSave: [true],
      gradFunc: (dy, saved, attrs) => {
        const [x, w, y] = saved;
        const relu = (attrs as unknown as { relu: boolean }).relu;
        const g = dy as tf.Tensor;
        const out = run(BIAS_ACT_BACKWARD, { dy: g, y: relu ? y : g }, { relu }) as tf.Tensor[];
        const dz = relu ? out[0] : g;
        const db = relu ? out[1] : out[0];
        return {
          x: () => run(MATMUL, { a: dz, b: w }, { transA: false, transB: true }) as tf.Tensor,
          w: () => run(MATMUL, { a: x, b: dz }, { transA: true, transB: false }) as tf.Tensor,
          bias: () => db,
        };
      },
    });
  }
  if (!tf.getGradient(SOFTMAX_XENT)) {
    tf.registerGradient({
      kernelName: SOFTMAX_XENT,
      inputsToSave: ['logits', 'labels'],
      gradFunc: (dy, saved) => {
        const [logits, labels] = saved;
        return {
          logits: () => run(SOFTMAX_XENT_BACKWARD, { dy: dy as tf.Tensor, logits, labels }) as tf.Tensor,
          labels: () => tf.zerosLike(labels).toFloat(),
        };
      },
    });
  }
  if (!tf.getGradient(MATMUL)) {
    tf.registerGradient({
      kernelName: MATMUL,
      inputsToSave: ['a', 'b'],
      gradFunc: (dy, saved, attrs) => {
        const [a, b] = saved;
        const { transA, transB } = attrs as unknown as { transA: boolean; transB: boolean };
        const g = dy as tf.Tensor;
        // C = op(A)·op(B): dA = dC·op(B)ᵀ (transposed back when transA), dB likewise
        return {
          a: () => (transA ? run(MATMUL, { a: b, b: g }, { transA: transB, transB: true }) : run(MATMUL, { a: g, b }, { transA: false, transB: !transB })) as tf.Tensor,
          b: () => (transB ? run(MATMUL, { a: g, b: a }, { transA: true, transB: transA }) : run(MATMUL, { a, b: g }, { transA: !transA, transB: false })) as tf.Tensor,
        };
      },
    });
  }
}

export function registerDenseKernels(disabled: ReadonlySet<string>): void {
  if (!asmEnabled() || disabled.has('dense')) return;
  for (const [kernelName, fn] of [
    [BIAS_ACT, biasAct],
    [BIAS_ACT_BACKWARD, biasActBackward],
    [SGD_STEP, sgdStep],
    [DENSE, dense],
    [MATMUL, matMul],
    [SOFTMAX_XENT, softmaxXent],
    [SOFTMAX_XENT_BACKWARD, softmaxXentBackward],
  ] as const) {
    if (!tf.getKernel(kernelName, 'wasm')) tf.registerKernel({ kernelName, backendName: 'wasm', kernelFunc: fn as unknown as tf.KernelFunc });
  }
  registerGradients();
}

/** Whether the bias/activation and SGD kernels serve the current backend. */
export function denseKernelsAvailable(): boolean {
  return tf.getBackend() === 'wasm' && tf.getKernel(BIAS_ACT, 'wasm') !== undefined;
}
