// Faster replacements for slow wasm kernels hit by training: BatchMatMul with transposed operands (the
// backend's transposed path is a naive loop, ~10x slower than XNNPACK's), MaxPoolGrad (naive, several
// times slower than the JS loop below) and Identity (the engine clones every tensor a gradient saves;
// wasm's Identity copies the data, the CPU backend's shares it, as we do now: tensors are immutable).
import { tf } from '../tf.js';
import { asmEnabled, asmKernels, heapOffset } from './asm.js';

type TensorInfo = tf.TensorInfo;
interface WasmBackend {
  disposeData(dataId: object, force?: boolean): boolean;
  makeOutput(shape: number[], dtype: string): TensorInfo;
  typedArrayFromHeap(t: TensorInfo): Float32Array;
  incRef(dataId: object): void;
}
type KernelFn = (args: { inputs: Record<string, TensorInfo>; backend: unknown; attrs?: Record<string, unknown> }) => TensorInfo;

export const miscKernelStats = { maxPoolGradAsm: 0, batchMatMulAsm: 0, transpose: 0, batchMatMulTransposed: 0, maxPoolGrad: 0, channelReduce: 0 };

const originalReduce: Record<string, KernelFn> = {};
let avgPoolKernel: KernelFn | undefined;
let reshapeKernel: KernelFn | undefined;

/**
 * Sum/Mean of an NHWC tensor over [N, H, W] (batch-norm statistics and gradients, conv bias gradients).
 * The backend transposes the reduced axes innermost first (a slow full copy); XNNPACK's global average
 * pooling reads the tensor once, leaving a small [N, C] mean. ~10x faster on [64,32,32,16].
 */
function channelReduce(kind: 'Sum' | 'Mean') {
  return (args: { inputs: Record<string, TensorInfo>; backend: unknown; attrs?: Record<string, unknown> }): TensorInfo => {
    const { x } = args.inputs;
    const { axis, keepDims } = (args.attrs ?? {}) as { axis: number | number[]; keepDims?: boolean };
    const axes = tf.util.parseAxisParam(axis, x.shape).sort((p, q) => p - q);
    const [n, h, w, c] = x.shape;
    if (x.dtype !== 'float32' || x.shape.length !== 4 || axes.join() !== '0,1,2' || h * w === 1) return originalReduce[kind](args);
    miscKernelStats.channelReduce++;
    const backend = args.backend as WasmBackend;
    const pooled = avgPoolKernel!({ inputs: { x }, backend, attrs: { filterSize: [h, w], strides: 1, pad: 'valid', dimRoundingMode: undefined } });
    const flat = reshapeKernel!({ inputs: { x: pooled }, backend, attrs: { shape: [n, c] } });
    backend.disposeData(pooled.dataId);
    const out = originalReduce[kind]({ inputs: { x: flat }, backend, attrs: { axis: 0, keepDims: false } });
    backend.disposeData(flat.dataId);
    if (kind === 'Sum') {
      // Sum = (per-image spatial mean) · H·W, summed over the batch
      const v = backend.typedArrayFromHeap(out);
      for (let i = 0; i < v.length; i++) v[i] *= h * w;
    }
    if (!keepDims) return out;
    const kept = reshapeKernel!({ inputs: { x: out }, backend, attrs: { shape: [1, 1, 1, c] } });
    backend.disposeData(out.dataId);
    return kept;
  };
}

/**
 * A transposed operand up to this size is read in place (tiles take 4 adjacent floats of a row per step: fine while
 * A stays in L2, e.g. a dense layer's activations for its weight gradient). Larger ones (the convolution filter
 * gradients' xᵀ·dy over every pixel of the batch) are transposed first: read in place, each 4-row tile pass would
 * stream all of A again with a quarter of each cache line used.
 */
const TRANS_A_IN_PLACE_MAX_BYTES = 1 << 20;

/**
 * op(a)·op(b) on our SIMD kernel into a new [...outBatch, m, n] tensor (float32; a and b batched as outBatch, or
 * broadcast when aOne / bOne: one matrix).
 */
export function asmMatMul(backend: WasmBackend, a: TensorInfo, b: TensorInfo, transA: boolean, transB: boolean, outBatch: number[], aOne = false, bOne = false): TensorInfo {
  if (transA && a.shape.reduce((p, q) => p * q, 1) * 4 > TRANS_A_IN_PLACE_MAX_BYTES) {
    const r = a.shape.length;
    const perm = Array.from({ length: r }, (_, i) => i);
    perm[r - 2] = r - 1;
    perm[r - 1] = r - 2;
    const at = transposeWasm({ inputs: { x: a }, backend, attrs: { perm } });
    const out = asmMatMul(backend, at, b, false, transB, outBatch, aOne, bOne);
    backend.disposeData(at.dataId);
    return out;
  }
  const ra = a.shape.length;
  const rb = b.shape.length;
  const m = transA ? a.shape[ra - 1] : a.shape[ra - 2];
  const k = transA ? a.shape[ra - 2] : a.shape[ra - 1];
  const n = transB ? b.shape[rb - 2] : b.shape[rb - 1];
  let batch = 1;
  for (const d of outBatch) batch *= d;
  const out = backend.makeOutput([...outBatch, m, n], 'float32');
  if (m > 0 && n > 0 && batch > 0) {
    if (k === 0) backend.typedArrayFromHeap(out).fill(0);
    else {
      const scratch = backend.makeOutput([Math.ceil(n / 8) * 8 * k + 8], 'float32');
      asmKernels(backend).batchMatMul(
        heapOffset(backend, a), heapOffset(backend, b), heapOffset(backend, out), batch, m, n, k,
        aOne && batch > 1 ? 0 : m * k, bOne && batch > 1 ? 0 : k * n, m * n, transA ? 1 : 0, transB ? 1 : 0, heapOffset(backend, scratch),
      );
      backend.disposeData(scratch.dataId);
    }
  }
  return out;
}

let originalBatchMatMul: KernelFn | undefined;
let transposeKernel: KernelFn | undefined;

function batchMatMulWasm(args: { inputs: Record<string, TensorInfo>; backend: unknown; attrs?: Record<string, unknown> }): TensorInfo {
  const { a, b } = args.inputs;
  const { transposeA, transposeB } = (args.attrs ?? {}) as { transposeA?: boolean; transposeB?: boolean };
  const backend = args.backend as WasmBackend;
  const swapLast = (t: TensorInfo): TensorInfo => {
    const r = t.shape.length;
    const perm = Array.from({ length: r }, (_, i) => i);
    perm[r - 2] = r - 1;
    perm[r - 1] = r - 2;
    return transposeWasm({ inputs: { x: t }, backend, attrs: { perm } });
  };
  const batchOf = (t: TensorInfo): number[] => t.shape.slice(0, -2);
  const prod = (d: number[]): number => d.reduce((x, y) => x * y, 1);
  const [ba, bb] = [batchOf(a), batchOf(b)];
  const sameBatch = ba.length === bb.length && ba.every((d, i) => d === bb[i]);
  const asmOk = asmEnabled() && a.dtype === 'float32' && b.dtype === 'float32' && (sameBatch || prod(ba) === 1 || prod(bb) === 1);
  if (asmOk) {
    // our kernel: B packed per batch entry (read transposed in place when transposeB), A read transposed in place
    // when small (else transposed first)
    miscKernelStats.batchMatMulAsm++;
    const outBatch = prod(ba) >= prod(bb) ? ba : bb;
    return asmMatMul(backend, a, b, !!transposeA, !!transposeB, outBatch, prod(ba) === 1, prod(bb) === 1);
  }
  if (!transposeA && !transposeB) return originalBatchMatMul!(args);
  miscKernelStats.batchMatMulTransposed++;
  const at = transposeA ? swapLast(a) : a;
  const bt = transposeB ? swapLast(b) : b;
  const out = originalBatchMatMul!({ inputs: { a: at, b: bt }, backend, attrs: { ...args.attrs, transposeA: false, transposeB: false } });
  if (at !== a) backend.disposeData(at.dataId);
  if (bt !== b) backend.disposeData(bt.dataId);
  return out;
}

/** MaxPoolGrad in JS over the wasm heap: dy routed to the first maximum of each window. */
function maxPoolGradWasm(args: { inputs: Record<string, TensorInfo>; backend: unknown; attrs?: Record<string, unknown> }): TensorInfo {
  miscKernelStats.maxPoolGrad++;
  const { dy, input } = args.inputs;
  const { filterSize, strides, pad, dimRoundingMode } = args.attrs as {
    filterSize: number | [number, number];
    strides: number | [number, number];
    pad: 'valid' | 'same' | number;
    dimRoundingMode?: 'floor' | 'round' | 'ceil';
  };
  const backend = args.backend as WasmBackend;
  const info = tf.backend_util.computePool2DInfo(input.shape as [number, number, number, number], filterSize, strides, 1, pad, dimRoundingMode);
  const out = backend.makeOutput([...input.shape], 'float32');
  const p = info.padInfo;
  if (asmEnabled() && info.inChannels % 4 === 0 && info.effectiveFilterHeight === 2 && info.effectiveFilterWidth === 2 && info.strideHeight === 2 && info.strideWidth === 2 && p.top === 0 && p.left === 0 && info.outHeight * 2 <= info.inHeight && info.outWidth * 2 <= info.inWidth) {
    // our SIMD kernel: 4 channels at a time, every window position written once (no separate zero fill)
    miscKernelStats.maxPoolGradAsm++;
    asmKernels(backend).maxPool2x2Grad(heapOffset(backend, input), heapOffset(backend, dy), heapOffset(backend, out), info.batchSize, info.inHeight, info.inWidth, info.inChannels, info.outHeight, info.outWidth);
    return out;
  }
  // views after allocation (allocation can grow and detach the heap)
  const dx = backend.typedArrayFromHeap(out);
  const xv = backend.typedArrayFromHeap(input);
  const dyv = backend.typedArrayFromHeap(dy);
  dx.fill(0);
  const { batchSize: N, inHeight: H, inWidth: W, inChannels: C, outHeight: OH, outWidth: OW, strideHeight: sh, strideWidth: sw } = info;
  const fh = info.effectiveFilterHeight;
  const fw = info.effectiveFilterWidth;
  const pt = info.padInfo.top;
  const pl = info.padInfo.left;
  if (fh === 2 && fw === 2 && sh === 2 && sw === 2 && pt === 0 && pl === 0 && OH * 2 <= H && OW * 2 <= W) {
    const rowStride = W * C;
    for (let n = 0; n < N; n++) {
      for (let oh = 0; oh < OH; oh++) {
        for (let ow = 0; ow < OW; ow++) {
          const i00 = n * H * rowStride + oh * 2 * rowStride + ow * 2 * C;
          const dyBase = ((n * OH + oh) * OW + ow) * C;
          for (let c = 0; c < C; c++) {
            const a = i00 + c;
            const b = a + C;
            const d = a + rowStride;
            const e = d + C;
            let arg = a;
            let best = xv[a];
            if (xv[b] > best) {
              best = xv[b];
              arg = b;
            }
            if (xv[d] > best) {
              best = xv[d];
              arg = d;
            }
            if (xv[e] > best) arg = e;
            dx[arg] = dyv[dyBase + c];
          }
        }
      }
    }
    return out;
  }
  for (let n = 0; n < N; n++) {
    const xBase = n * H * W * C;
    for (let oh = 0; oh < OH; oh++) {
      const h0 = oh * sh - pt;
      const hs = Math.max(0, h0);
      const he = Math.min(H, h0 + fh);
      for (let ow = 0; ow < OW; ow++) {
        const w0 = ow * sw - pl;
        const ws = Math.max(0, w0);
        const we = Math.min(W, w0 + fw);
        const dyBase = ((n * OH + oh) * OW + ow) * C;
        for (let c = 0; c < C; c++) {
          let best = -Infinity;
          let arg = -1;
          for (let h = hs; h < he; h++) {
            let idx = xBase + (h * W + ws) * C + c;
            for (let w = ws; w < we; w++, idx += C) {
              const v = xv[idx];
              if (v > best || arg < 0) {
                best = v;
                arg = idx;
              }
            }
          }
          if (arg >= 0) dx[arg] += dyv[dyBase + c];
        }
      }
    }
  }
  return out;
}

/**
 * Transpose on our kernel (ml/kernels/assembly): output written in order, the innermost axis copied as vectors
 * when it stays innermost. The backend's generic kernel took 577 ms (self time, 12 calls) of one ViT-tiny training
 * step, ours 3.9 ms (`npm run bench -- ml-step`).
 */
function transposeWasm(args: { inputs: Record<string, TensorInfo>; backend: unknown; attrs?: Record<string, unknown> }): TensorInfo {
  const { x } = args.inputs;
  const perm = (args.attrs as { perm: number[] }).perm;
  const rank = x.shape.length;
  if (rank > 6 || (x.dtype !== 'float32' && x.dtype !== 'int32') || !asmEnabled()) return transposeKernel!(args);
  miscKernelStats.transpose++;
  const backend = args.backend as WasmBackend;
  const outShape = perm.map((p) => x.shape[p]);
  const out = backend.makeOutput(outShape, x.dtype);
  if (outShape.some((d) => d === 0)) return out;
  const inStrides = new Array<number>(rank);
  for (let i = rank - 1, acc = 1; i >= 0; i--) {
    inStrides[i] = acc;
    acc *= x.shape[i];
  }
  const desc = backend.makeOutput([12], 'int32');
  const dv = backend.typedArrayFromHeap(desc) as unknown as Int32Array;
  const lead = 6 - rank;
  for (let i = 0; i < 6; i++) {
    dv[i] = i < lead ? 1 : outShape[i - lead];
    dv[6 + i] = i < lead ? 0 : inStrides[perm[i - lead]];
  }
  asmKernels(backend).transpose(heapOffset(backend, x), heapOffset(backend, out), heapOffset(backend, desc));
  backend.disposeData(desc.dataId);
  return out;
}

/** Identity without a copy: share the data and bump its reference count (as the CPU backend does). */
function identityWasm(args: { inputs: Record<string, TensorInfo>; backend: unknown }): TensorInfo {
  const { x } = args.inputs;
  (args.backend as WasmBackend).incRef(x.dataId);
  return { dataId: x.dataId, shape: [...x.shape], dtype: x.dtype };
}

export function registerMiscKernels(disabled: ReadonlySet<string> = new Set()): void {
  const bmm = tf.getKernel('BatchMatMul', 'wasm');
  const tr = tf.getKernel('Transpose', 'wasm');
  if (!bmm || !tr) throw new Error('wasm backend lacks BatchMatMul or Transpose');
  originalBatchMatMul ??= bmm.kernelFunc as unknown as KernelFn;
  transposeKernel ??= tr.kernelFunc as unknown as KernelFn;
  for (const kind of ['Sum', 'Mean'] as const) {
    const k = tf.getKernel(kind, 'wasm');
    if (!k) throw new Error(`wasm backend lacks ${kind}`);
    originalReduce[kind] ??= k.kernelFunc as unknown as KernelFn;
  }
  const ap = tf.getKernel('AvgPool', 'wasm');
  const rs = tf.getKernel('Reshape', 'wasm');
  if (!ap || !rs) throw new Error('wasm backend lacks AvgPool or Reshape');
  avgPoolKernel ??= ap.kernelFunc as unknown as KernelFn;
  reshapeKernel ??= rs.kernelFunc as unknown as KernelFn;
  for (const [name, fn] of [
    ['Sum', channelReduce('Sum')],
    ['Mean', channelReduce('Mean')],
    ['BatchMatMul', batchMatMulWasm],
    ['MaxPoolGrad', maxPoolGradWasm],
    ['Identity', identityWasm],
    ['Transpose', transposeWasm],
  ] as const) {
    if (disabled.has(name)) continue;
    const prev = tf.getKernel(name, 'wasm');
    tf.unregisterKernel(name, 'wasm');
    // keep the backend's setup (BatchMatMul's cwrap) by re-registering with its setupFunc
    tf.registerKernel({ kernelName: name, backendName: 'wasm', kernelFunc: fn as unknown as tf.KernelFunc, setupFunc: prev?.setupFunc, disposeFunc: prev?.disposeFunc });
  }
}
