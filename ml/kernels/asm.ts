// Loader for our own WebAssembly SIMD kernels (ml/kernels/assembly, compiled to build/*.wasm). The module is
// instantiated on the tfjs WebAssembly backend's own memory, so kernels address tensors by heap offset.
// The relaxed-SIMD build (fused multiply-add) is used when the engine accepts it; Node 20 needs V8's
// --experimental-wasm-relaxed-simd, which we set at run time before compiling (a no-op where it is on by default).
// UNLEARN_WASM_FMA=0 forces the plain SIMD build (results then match across machines with and without FMA).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import v8 from 'node:v8';
import { nativeKernelsStatus } from './native.js';
import { tf } from '../tf.js';

export interface AsmKernels {
  /** 'relaxed' (fused multiply-add) or 'simd'. */
  variant: 'relaxed' | 'simd';
  /** the GEMM-shaped kernels (batchMatMul, conv2d, convFilterGrad[Gathered]) and batch norm run natively (AVX2 + FMA) */
  native: boolean;
  /** why the native kernels do not serve, when they do not */
  nativeWhy?: string;
  /** Filter [K, Cout] row-major -> panels [Cout/8][K][8]. */
  packFilter(w: number, k: number, cout: number, dst: number): void;
  /** Implicit-GEMM Conv2D on a padded NHWC input (offsets are heap byte offsets). */
  conv2d(x: number, n: number, hp: number, wp: number, c: number, packed: number, kh: number, kw: number, s: number, out: number, oh: number, ow: number, cout: number, outPix: number, outRow: number, outImg: number): void;
  /** Zero-pads NHWC src [n,h,w,c] by (top, bottom, left, right) pixels and cPad channels into dst. */
  padNhwc(src: number, n: number, h: number, w: number, c: number, top: number, bottom: number, left: number, right: number, cPad: number, dst: number): void;
  batchNormForward(x: number, m: number, c: number, gamma: number, beta: number, eps: number, relu: number, y: number, mean: number, variance: number, scratch: number): void;
  batchNormBackward(dy: number, x: number, y: number, relu: number, m: number, c: number, gamma: number, mean: number, variance: number, eps: number, dx: number, dgamma: number, dbeta: number, scratch: number): void;
  reluBackward(dy: number, y: number, n: number, dx: number): void;
  /** Transpose of 4-byte elements; desc: i32[12] heap offset (output dims, input strides per output axis). */
  transpose(src: number, dst: number, desc: number): void;
  /** C[i] = op(A[i])·op(B[i]) (row-major; element strides per batch entry, 0 broadcasts; bp: packing scratch). */
  batchMatMul(a: number, b: number, c: number, batch: number, m: number, n: number, k: number, strideA: number, strideB: number, strideC: number, transA: number, transB: number, bp: number): void;
  /** 2×2/2 max-pool backward (first maximum in row-major order gets dy). */
  maxPool2x2Grad(x: number, dy: number, dx: number, n: number, h: number, w: number, c: number, oh: number, ow: number): void;
  /** y = z + b per row of an [m, n] view, max(0, ·) when relu. */
  biasAct(z: number, b: number, m: number, n: number, relu: number, y: number): void;
  /** dz = dy·[y > 0] (when relu), db = column sums of dz; blk: n floats of scratch. */
  biasActBackward(dy: number, y: number, m: number, n: number, relu: number, dz: number, db: number, blk: number): void;
  /** One SGD step of one parameter (vel, mask, velOut: 0 for none). */
  sgdStep(theta: number, grad: number, vel: number, mask: number, n: number, lr: number, mu: number, wd: number, thetaOut: number, velOut: number): void;
  convFilterGrad(x: number, n: number, hp: number, wp: number, c: number, dy: number, oh: number, ow: number, cout: number, kh: number, kw: number, s: number, dw: number, rowsPerBlock: number): void;
  /** convFilterGrad with each block's input pixels gathered per tap; buf: rowsPerBlock·ow·c floats of scratch. */
  convFilterGradGathered(x: number, n: number, hp: number, wp: number, c: number, dy: number, oh: number, ow: number, cout: number, kh: number, kw: number, s: number, dw: number, rowsPerBlock: number, buf: number): void;
}

// The WebAssembly global, typed here: the project's lib (ES2022, no DOM) does not declare it.
interface WasmMemory {
  buffer: ArrayBuffer;
}
interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
  Memory: abstract new (...args: never[]) => WasmMemory;
}
const WA = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

interface WasmBackendInternals {
  wasm: { asm?: { memory?: WasmMemory } };
  dataIdMap: { get(id: object): { memoryOffset: number } | undefined };
}

let cached: { backend: unknown; kernels: AsmKernels } | undefined;
let wasmOnly: { backend: unknown; kernels: AsmKernels } | undefined;
let enabled = true;
let fma = true;
let nativeWanted = true;

/** Whether our SIMD kernels serve the wasm backend (UNLEARN_WASM_KERNELS_OFF=asm turns all of them off). */
export function asmEnabled(): boolean {
  return enabled;
}

/** Set once at registration (ml/kernels/index.ts); every kernel that has an asm path asks asmEnabled(). */
export function setAsmEnabled(on: boolean): void {
  enabled = on;
}

/** Set once at registration: false loads the plain SIMD build (no fused multiply-add). */
export function setAsmFma(on: boolean): void {
  fma = on;
}

/** Set once at registration: false keeps the GEMM-shaped kernels on WebAssembly even where the native ones load. */
export function setNativeWanted(on: boolean): void {
  nativeWanted = on;
}

function load(variant: 'relaxed' | 'simd', memory: WasmMemory): AsmKernels | undefined {
  const bytes = readFileSync(fileURLToPath(new URL(`./assembly/build/kernels-${variant}.wasm`, import.meta.url)));
  if (!WA.validate(bytes)) return undefined;
  const instance = new WA.Instance(new WA.Module(bytes), { env: { memory } });
  const ex = instance.exports as unknown as Omit<AsmKernels, 'variant' | 'native'>;
  return { ...ex, variant, native: false };
}

/**
 * Our kernels bound to this wasm backend's heap; throws if the backend does not expose its memory. The GEMM-shaped
 * ones are the native AVX2 kernels where those load (ml/kernels/native.ts) and were not turned off.
 */
export function asmKernels(backend: unknown): AsmKernels {
  if (cached && cached.backend === backend) return cached.kernels;
  const kernels = wasmKernels(backend);
  const native = nativeWanted ? nativeKernelsStatus() : undefined;
  const addon = native?.addon;
  const memory = (backend as WasmBackendInternals).wasm.asm!.memory!;
  const out: AsmKernels = addon
    ? {
        ...kernels,
        native: true,
        // the heap's buffer is read at every call: it is replaced when the wasm memory grows
        batchMatMul: (...a) => addon.batchMatMul(memory.buffer, ...a),
        conv2d: (...a) => addon.conv2d(memory.buffer, ...a),
        convFilterGrad: (...a) => addon.convFilterGrad(memory.buffer, ...a),
        convFilterGradGathered: (...a) => addon.convFilterGrad(memory.buffer, ...a),
        batchNormForward: (x, m, c, ...a) => (c % 8 === 0 ? addon.batchNormForward(memory.buffer, x, m, c, ...a) : kernels.batchNormForward(x, m, c, ...a)),
        batchNormBackward: (dy, x, y, relu, m, c, ...a) =>
          c % 8 === 0 ? addon.batchNormBackward(memory.buffer, dy, x, y, relu, m, c, ...a) : kernels.batchNormBackward(dy, x, y, relu, m, c, ...a),
      }
    : { ...kernels, nativeWhy: native ? native.why : 'turned off (wasmKernels.native: false)' };
  cached = { backend, kernels: out };
  return out;
}

/** The WebAssembly build of every kernel, native ones never substituted (comparisons and tests). */
export function wasmKernels(backend: unknown): AsmKernels {
  if (wasmOnly && wasmOnly.backend === backend) return wasmOnly.kernels;
  const memory = (backend as WasmBackendInternals).wasm?.asm?.memory;
  if (!(memory instanceof WA.Memory)) throw new Error('tfjs wasm backend does not expose its WebAssembly.Memory (wasm.asm.memory)');
  let kernels: AsmKernels | undefined;
  if (fma) {
    // Relaxed SIMD ships enabled from V8 11.4 (Node 22); older engines (Node 20) need the flag, set only then.
    kernels = load('relaxed', memory);
    if (!kernels) {
      v8.setFlagsFromString('--experimental-wasm-relaxed-simd');
      kernels = load('relaxed', memory);
    }
  }
  kernels ??= load('simd', memory);
  if (!kernels) throw new Error('this JavaScript engine does not support WebAssembly SIMD');
  wasmOnly = { backend, kernels };
  return kernels;
}

/** The wasm backend's allocation and heap view, as kernels use them. */
export interface WasmHeapBackend {
  makeOutput(shape: number[], dtype: string): { dataId: object; shape: number[]; dtype: string };
  typedArrayFromHeap(t: { dataId: object }): Float32Array | Int32Array;
}

/**
 * A new tracked tensor on the current backend when it is wasm, whose data `fill` writes straight into the heap (the
 * view is valid only during the call: the heap may move when it grows); undefined on other backends.
 */
export function wasmHeapTensor<T extends Float32Array | Int32Array>(shape: number[], dtype: 'float32' | 'int32', fill: (view: T) => void): tf.Tensor | undefined {
  if (tf.getBackend() !== 'wasm') return undefined;
  const b = tf.backend() as unknown as WasmHeapBackend;
  const info = b.makeOutput(shape, dtype);
  fill(b.typedArrayFromHeap(info) as T);
  return tf.engine().makeTensorFromTensorInfo(info as tf.TensorInfo);
}

/** Byte offset of a tensor's data in the wasm heap. */
export function heapOffset(backend: unknown, t: { dataId: object }): number {
  const d = (backend as WasmBackendInternals).dataIdMap.get(t.dataId);
  if (!d) throw new Error('tensor is not on the wasm backend');
  return d.memoryOffset;
}
