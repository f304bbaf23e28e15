// Training kernels the WebAssembly backend lacks (or has slow versions of), registered for 'wasm'.
let registered = false;

export function registerWasmTrainingKernels(): void {
  if (registered) return;
  registered = true;
  // filled in by ml/kernels/*.ts
}
