// Training kernels the WebAssembly backend lacks (or has slow versions of), registered for 'wasm'.
// Must run after '@tensorflow/tfjs-backend-wasm' is imported (its kernels are what these build on).
// UNLEARN_WASM_KERNELS_OFF=Name,Name keeps the backend's own kernel for those names (for before/after
// benchmarks; Conv2DBackpropFilter cannot be turned off: the backend has none); 'asm' turns off all of our SIMD
// kernels, 'norm' the fused batch norm, 'dense' the bias/activation and SGD kernels, 'Conv2DBackpropInput.phase' the XNNPACK phase path.
import { registerConvKernels } from './conv.js';
import { registerMiscKernels } from './misc.js';
import { registerNormKernels } from './norm.js';
import { registerDenseKernels } from './dense.js';
import { setAsmEnabled } from './asm.js';

let registered = false;

export function registerWasmTrainingKernels(): void {
  if (registered) return;
  registered = true;
  const off = new Set((process.env.UNLEARN_WASM_KERNELS_OFF ?? '').split(',').map((s) => s.trim()).filter(Boolean));
  setAsmEnabled(!off.has('asm'));
  registerConvKernels(off);
  registerMiscKernels(off);
  registerNormKernels(off);
  registerDenseKernels(off);
}
