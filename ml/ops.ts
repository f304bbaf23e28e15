// Fused-gradient building blocks. Hand-written backward passes avoid tfjs-core's generic gradients, which
// tile broadcast tensors (batch norm) and run several extra full-size passes; on the WebAssembly backend
// those dominated a ResNet step.
import { tf } from './tf.js';
import { BN_BACKWARD, BN_FORWARD, RELU_BACKWARD, fusedNormAvailable } from './kernels/norm.js';
import { BIAS_ACT, BIAS_ACT_BACKWARD, DENSE, SOFTMAX_XENT, denseKernelsAvailable } from './kernels/dense.js';

function reductionAxes(rank: number): number[] {
  return Array.from({ length: rank - 1 }, (_, i) => i);
}

/**
 * Per-channel affine x·a + b of an NHWC tensor ([C] vectors). On the wasm backend as a 1×1 depthwise
 * convolution with bias (XNNPACK, ~6× faster than its broadcasting Multiply + Add, bit-identical: the
 * same product then the same sum); elsewhere as mul/add.
 */
function channelAffine(x: tf.Tensor, a: tf.Tensor | undefined, b: tf.Tensor | undefined): tf.Tensor {
  const c = x.shape[x.rank - 1];
  if (x.rank === 4 && tf.getBackend() === 'wasm') {
    const filter = (a ? tf.reshape(a, [1, 1, c, 1]) : tf.ones([1, 1, c, 1])) as tf.Tensor4D;
    return tf.fused.depthwiseConv2d({ x: x as tf.Tensor4D, filter, strides: 1, pad: 'valid', bias: b });
  }
  const ax = a ? tf.mul(x, a) : x;
  return b ? tf.add(ax, b) : ax;
}

/**
 * Batch normalisation with batch statistics (training mode). When `running` is given its variables are
 * updated in place (PyTorch semantics: r ← (1-m)·r + m·batch, unbiased variance for the running estimate).
 */
export function batchNormTrain<T extends tf.Tensor>(
  x: T,
  gamma: tf.Tensor,
  beta: tf.Tensor,
  eps: number,
  running?: { mean: tf.Variable; variance: tf.Variable; momentum: number },
  opts: { relu?: boolean } = {},
): T {
  const axes = reductionAxes(x.rank);
  const n = x.size / x.shape[x.rank - 1];
  const updateRunning = (mean: tf.Tensor, variance: tf.Tensor): void => {
    if (!running) return;
    const m = running.momentum;
    running.mean.assign(tf.add(tf.mul(running.mean, 1 - m), tf.mul(mean, m)));
    const unbiased = n > 1 ? tf.mul(variance, n / (n - 1)) : variance;
    running.variance.assign(tf.add(tf.mul(running.variance, 1 - m), tf.mul(unbiased, m)));
  };
  const relu = opts.relu === true;
  if (x.rank === 4 && (x.shape as number[])[3] % 4 === 0 && fusedNormAvailable()) {
    // wasm: two fused passes forward, two backward (ml/kernels/norm.ts), ReLU folded in
    const fused = tf.customGrad((...args: unknown[]) => {
      const [xi, g, b] = args as tf.Tensor[];
      const save = args[3] as (ts: tf.Tensor[]) => void;
      const [y, mean, variance] = tf.engine().runKernel(BN_FORWARD, { x: xi, gamma: g, beta: b }, { eps, relu }) as tf.Tensor[];
      updateRunning(mean, variance);
      // y is read backward only for the ReLU mask: not kept alive otherwise (x stands in for the unused input)
      save(relu ? [xi, g, mean, variance, y] : [xi, g, mean, variance]);
      return {
        value: y,
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
          const [xs, gs, ms, vs, ys] = saved;
          return tf.engine().runKernel(BN_BACKWARD, { dy, x: xs, y: ys ?? xs, gamma: gs, mean: ms, variance: vs }, { eps, relu }) as tf.Tensor[];
        },
      };
    });
    return fused(x, gamma, beta) as T;
  }
  const f = tf.customGrad((...args: unknown[]) => {
    const [xi, g, b] = args as tf.Tensor[];
    const save = args[3] as (ts: tf.Tensor[]) => void;
    const mean = tf.mean(xi, axes);
    // x − mean as x·1 + (−mean): exact either way
    const xc = channelAffine(xi, undefined, tf.neg(mean));
    const variance = tf.mean(tf.square(xc), axes);
    const rstd = tf.rsqrt(tf.add(variance, eps));
    const scale = tf.mul(g, rstd);
    const y = channelAffine(xc, scale, b);
    updateRunning(mean, variance);
    save([xc, rstd, scale]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xcS, rstdS, scaleS] = saved;
        const dbeta = tf.sum(dy, axes);
        const sumDyXc = tf.sum(tf.mul(dy, xcS), axes);
        const dgamma = tf.mul(sumDyXc, rstdS);
        // dx = scale·(dy − mean(dy) − xhat·mean(dy·xhat)) = scale·dy + xc·k + c
        const k = tf.mul(tf.neg(tf.mul(scaleS, tf.square(rstdS))), tf.div(sumDyXc, n));
        const c = tf.neg(tf.mul(scaleS, tf.div(dbeta, n)));
        const dx = tf.add(channelAffine(dy, scaleS, undefined), channelAffine(xcS, k, c));
        return [dx, dgamma, dbeta];
      },
    };
  });
  const out = f(x, gamma, beta) as T;
  return relu ? (tf.relu(out) as T) : out;
}

/** ReLU; on wasm its gradient is one fused pass from the output (dy·[y > 0]) instead of Step, Cast and Multiply. */
export function relu<T extends tf.Tensor>(x: T): T {
  if (x.size % 4 !== 0 || !fusedNormAvailable()) return tf.relu(x);
  const f = tf.customGrad((...args: unknown[]) => {
    const xi = args[0] as tf.Tensor;
    const save = args[1] as (ts: tf.Tensor[]) => void;
    const y = tf.relu(xi);
    save([y]);
    return { value: y, gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.engine().runKernel(RELU_BACKWARD, { dy, y: saved[0] }) as tf.Tensor };
  });
  return f(x) as T;
}

/**
 * z + bias over the last axis, then ReLU when asked: the epilogue of a dense layer or convolution. On wasm one
 * kernel forward and one backward (dz = dy·[y > 0] and the bias gradient in the same pass); elsewhere tfjs ops.
 */
export function biasAct<T extends tf.Tensor>(z: T, bias: tf.Tensor, activation: 'relu' | 'linear'): T {
  const relu = activation === 'relu';
  if (!denseKernelsAvailable()) {
    const y = tf.add(z, bias) as T;
    return relu ? tf.relu(y) : y;
  }
  const f = tf.customGrad((...args: unknown[]) => {
    const [zi, bi] = args as tf.Tensor[];
    const save = args[2] as (ts: tf.Tensor[]) => void;
    const y = tf.engine().runKernel(BIAS_ACT, { z: zi, bias: bi }, { relu }) as tf.Tensor;
    save(relu ? [y] : []);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const out = tf.engine().runKernel(BIAS_ACT_BACKWARD, { dy, y: saved[0] ?? dy }, { relu }) as tf.Tensor[];
        return relu ? out : [dy, out[0]];
      },
    };
  });
  return f(z, bias) as T;
}

/** Batch normalisation with running statistics (inference mode); differentiable by autodiff. */
export function batchNormInfer<T extends tf.Tensor>(x: T, mean: tf.Tensor, variance: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, eps: number): T {
  return tf.tidy(() => {
    const scale = tf.mul(gamma, tf.rsqrt(tf.add(variance, eps)));
    const shift = tf.sub(beta, tf.mul(mean, scale));
    return tf.add(tf.mul(x, scale), shift) as T;
  });
}

/** Layer normalisation over the last axis. */
export function layerNorm<T extends tf.Tensor>(x: T, gamma: tf.Tensor, beta: tf.Tensor, eps: number): T {
  return tf.tidy(() => {
    const axis = x.rank - 1;
    const mean = tf.mean(x, axis, true);
    const xc = tf.sub(x, mean);
    const variance = tf.mean(tf.square(xc), axis, true);
    return tf.add(tf.mul(tf.mul(xc, tf.rsqrt(tf.add(variance, eps))), gamma), beta) as T;
  });
}

/** Exact GELU: 0.5·x·(1 + erf(x/√2)). */
export function gelu<T extends tf.Tensor>(x: T): T {
  return tf.tidy(() => tf.mul(tf.mul(x, 0.5), tf.add(tf.erf(tf.mul(x, Math.SQRT1_2)), 1)) as T);
}

/** Per-example cross-entropy (natural log) of logits [n, k] against int32 labels [n]. */
export function perExampleCrossEntropy(logits: tf.Tensor2D, labels: tf.Tensor1D): tf.Tensor1D {
  return tf.tidy(() => {
    const logp = tf.sub(logits, tf.logSumExp(logits, 1, true));
    const oh = tf.oneHot(tf.cast(labels, 'int32'), logits.shape[1]);
    return tf.neg(tf.sum(tf.mul(logp, oh), 1)) as tf.Tensor1D;
  });
}

/**
 * A dense layer x·kernel + bias (then ReLU). On wasm one kernel forward (our GEMM with the bias/activation pass)
 * and, backward, one pass for dz and the bias gradient plus one GEMM per gradient asked for; elsewhere tfjs's fused
 * matMul.
 */
export function dense(x: tf.Tensor2D, kernel: tf.Tensor2D, bias: tf.Tensor1D, activation: 'relu' | 'linear'): tf.Tensor2D {
  if (denseKernelsAvailable() && x.dtype === 'float32') {
    return tf.engine().runKernel(DENSE, { x, w: kernel, bias } as unknown as tf.NamedTensorMap, { relu: activation === 'relu' }) as tf.Tensor2D;
  }
  return tf.fused.matMul({ a: x, b: kernel, bias, activation }) as tf.Tensor2D;
}

/** Mean cross-entropy with a fused gradient (softmax − onehot)/n. */
export function crossEntropy(logits: tf.Tensor2D, labels: tf.Tensor1D): tf.Scalar {
  if (denseKernelsAvailable() && logits.dtype === 'float32' && logits.rank === 2) {
    // wasm: one kernel each way (the tfjs ops below are ~20 small kernels)
    const y = labels.dtype === 'int32' ? labels : tf.cast(labels, 'int32');
    const out = tf.engine().runKernel(SOFTMAX_XENT, { logits, labels: y } as unknown as tf.NamedTensorMap) as tf.Scalar;
    if (y !== labels) y.dispose();
    return out;
  }
  const n = logits.shape[0];
  const k = logits.shape[1];
  const oh = tf.oneHot(tf.cast(labels, 'int32'), k);
  const f = tf.customGrad((...args: unknown[]) => {
    const [z, o] = args as tf.Tensor[];
    const save = args[2] as (ts: tf.Tensor[]) => void;
    const logp = tf.sub(z, tf.logSumExp(z, 1, true));
    const loss = tf.div(tf.neg(tf.sum(tf.mul(logp, o))), n) as tf.Scalar;
    save([logp, o]);
    return {
      value: loss,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [lp, oo] = saved;
        return [tf.mul(tf.sub(tf.exp(lp), oo), tf.div(dy, n)), tf.zerosLike(oo)];
      },
    };
  });
  const out = f(logits, oh) as tf.Scalar;
  oh.dispose();
  return out;
}
