// Training kernels the WebAssembly backend lacks (or has slow versions of), registered for 'wasm'.
// Must run after '@tensorflow/tfjs-backend-wasm' is imported (its kernels are what these build on).
import { registerConvKernels } from './conv.js';
import { registerMiscKernels } from './misc.js';

let registered = false;

export function registerWasmTrainingKernels(): void {
  if (registered) return;
  registered = true;
  registerConvKernels();
  registerMiscKernels();
}
