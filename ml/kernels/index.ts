// Training kernels the WebAssembly backend lacks (or has slow versions of), registered for 'wasm'.
// Must run after '@tensorflow/tfjs-backend-wasm' is imported (its kernels are what these build on).
// `off: [Name, ...]` keeps the backend's own kernel for those names (for before/after benchmarks;
// Conv2DBackpropFilter cannot be turned off: the backend has none); 'asm' turns off all of our SIMD kernels,
// 'norm' the fused batch norm, 'dense' the bias/activation and SGD kernels, 'Conv2DBackpropInput.phase' the
// XNNPACK phase path. `fma: false` loads the plain SIMD build (no fused multiply-add: bit-identical across CPUs).
// Entry points map UNLEARN_WASM_KERNELS_OFF and UNLEARN_WASM_FMA to these (config/index.ts); the library reads no
// environment.
import { registerConvKernels } from './conv.js';
import { registerMiscKernels } from './misc.js';
import { registerNormKernels } from './norm.js';
import { registerDenseKernels } from './dense.js';
import { setAsmEnabled, setAsmFma, setNativeWanted } from './asm.js';

export interface WasmKernelOptions {
  /** fused multiply-add (the relaxed-SIMD build); default true */
  fma?: boolean;
  /** kernel names left to the backend; 'asm': all of our SIMD kernels */
  off?: readonly string[];
  /** the native AVX2 kernels for the GEMM-shaped work where they load (ml/kernels/native.ts); default true */
  native?: boolean;
}

let registered = false;

/** Registers once per process; the first call's options hold. */
export function registerWasmTrainingKernels(opts: WasmKernelOptions = {}): void {
  if (registered) return;
  registered = true;
  const off = new Set(opts.off ?? []);
  setAsmEnabled(!off.has('asm'));
  setAsmFma(opts.fma ?? true);
  setNativeWanted(opts.native ?? true);
  registerConvKernels(off);
  registerMiscKernels(off);
  registerNormKernels(off);
  registerDenseKernels(off);
}
