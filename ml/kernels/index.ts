// Training kernels the WebAssembly backend lacks (or has slow versions of), registered for 'wasm'.
// Must run after '@tensorflow/tfjs-backend-wasm' is imported (its kernels are what these build on).
// UNLEARN_WASM_KERNELS_OFF=Name,Name keeps the backend's own kernel for those names (for before/after
// benchmarks; Conv2DBackpropFilter cannot be turned off: the backend has none).
import { registerConvKernels } from './conv.js';
import { registerMiscKernels } from './misc.js';
import { registerNormKernels } from './norm.js';

export const REPLACED_KERNELS = ['Conv2DBackpropFilter', 'Conv2DBackpropInput', 'Sum', 'Mean', 'BatchMatMul', 'MaxPoolGrad', 'Identity'] as const;

let registered = false;

export function registerWasmTrainingKernels(): void {
  if (registered) return;
  registered = true;
  const off = new Set((process.env.UNLEARN_WASM_KERNELS_OFF ?? '').split(',').map((s) => s.trim()).filter(Boolean));
  registerConvKernels(off);
  registerMiscKernels(off);
  registerNormKernels(off);
}
