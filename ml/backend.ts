// Backend selection: node-gpu, webgpu (Dawn: Vulkan/Metal/D3D12), node (native libtensorflow), wasm (XNNPACK plus
// our kernels, ships in the package), cpu (pure JS). `force` picks one (entry points map UNLEARN_BACKEND to it; the
// library reads no environment). Native packages are optional: loaded by dynamic import inside try/catch.
// webgpu is chosen automatically only on a hardware adapter: a software one (Mesa's lavapipe on a CPU-only
// machine) is correct but much slower than wasm, so it runs only when forced (or preferred).
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { tf } from './tf.js';
import { registerWasmTrainingKernels, type WasmKernelOptions } from './kernels/index.js';
import { asmEnabled, asmKernels } from './kernels/asm.js';
import { adapterLine, requestGpuAdapter, setWebgpuBackend, type GpuAdapterReport } from './webgpu.js';

export type BackendName = 'node-gpu' | 'webgpu' | 'node' | 'wasm' | 'cpu';
export const BACKEND_ORDER: readonly BackendName[] = ['node-gpu', 'webgpu', 'node', 'wasm', 'cpu'];

export interface BackendInfo {
  name: BackendName;
  /** tf.getBackend() after selection ('tensorflow', 'wasm', 'cpu'). */
  tfBackend: string;
  /** tfjs version (core). */
  version: string;
  threads?: number;
  /** webgpu: the adapter and driver this process trains on. */
  adapter?: GpuAdapterReport;
  /** wasm: which build of our kernels runs the GEMM-shaped work, and why not the native one when it does not */
  kernels?: { name: 'native-avx2' | 'wasm-relaxed' | 'wasm-simd' | 'backend'; why?: string };
}

/** One line naming the backend (and GPU adapter) for worker start-up logs. */
export function describeBackend(info: BackendInfo): string {
  const base = `tfjs ${info.version} on ${info.name}${info.tfBackend !== info.name ? ` (${info.tfBackend})` : ''}`;
  if (info.adapter) return `${base}, adapter ${adapterLine(info.adapter)}`;
  const kernels = info.kernels ? `, kernels ${info.kernels.name}${info.kernels.why ? ` (native not used: ${info.kernels.why})` : ''}` : '';
  return info.threads ? `${base}, ${info.threads} thread(s)${kernels}` : `${base}${kernels}`;
}

let active: BackendInfo | undefined;
let initializing: Promise<BackendInfo> | undefined;

export function currentBackend(): BackendInfo | undefined {
  return active;
}

/** Which of our kernel builds serves the wasm backend (loads them now, so a worker's first line says). */
function wasmKernelsInfo(backend: unknown): BackendInfo['kernels'] {
  if (!asmEnabled()) return { name: 'backend' };
  const k = asmKernels(backend);
  if (k.native) return { name: 'native-avx2' };
  return { name: k.variant === 'relaxed' ? 'wasm-relaxed' : 'wasm-simd', why: k.nativeWhy };
}

function isBackendName(s: string): s is BackendName {
  return (BACKEND_ORDER as readonly string[]).includes(s);
}

export interface BackendOptions {
  /** tried first (webgpu then takes a software adapter too); then node-gpu, webgpu, node, wasm, cpu */
  prefer?: BackendName;
  /** use exactly this backend, or fail */
  force?: BackendName;
  /** threads of libtensorflow's intra-op pool, as set for it (TF_NUM_INTRAOP_THREADS); reported only */
  intraopThreads?: number;
  /** our wasm training kernels: fused multiply-add, kernels left to the backend */
  wasmKernels?: WasmKernelOptions;
}

/** `forced`: the caller named this backend (force or prefer), so a software WebGPU adapter is acceptable. */
async function tryLoad(name: BackendName, opts: BackendOptions, forced: boolean): Promise<BackendInfo> {
  const version = tf.version_core;
  switch (name) {
    case 'webgpu': {
      const found = await requestGpuAdapter();
      if (!found) {
        throw new Error('no WebGPU adapter: Dawn found no Vulkan driver (install one, or point VK_DRIVER_FILES at its ICD json)');
      }
      if (found.report.software && !forced) {
        throw new Error(`only a software adapter (${adapterLine(found.report)}): slower than wasm, used only when forced`);
      }
      const adapter = await setWebgpuBackend(found.adapter);
      return { name, tfBackend: tf.getBackend(), version, adapter };
    }
    case 'node-gpu':
    case 'node': {
      const pkg = name === 'node-gpu' ? '@tensorflow/tfjs-node-gpu' : '@tensorflow/tfjs-node';
      // A variable specifier keeps TypeScript from requiring the (optional, usually absent) package's types.
      const spec: string = pkg;
      await import(spec);
      const ok = await tf.setBackend('tensorflow');
      if (!ok) throw new Error(`${pkg} loaded but tf.setBackend('tensorflow') failed`);
      await tf.ready();
      // libtensorflow's intra-op pool: TF_NUM_INTRAOP_THREADS, else one thread per CPU the process may use.
      const threads = opts.intraopThreads ?? availableParallelism();
      return { name, tfBackend: tf.getBackend(), version, threads };
    }
    case 'wasm': {
      const wasm = await import('@tensorflow/tfjs-backend-wasm');
      const require = createRequire(import.meta.url);
      // The package's main entry lives in dist/, next to the .wasm binaries.
      const distDir = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm'));
      wasm.setWasmPaths(distDir + path.sep);
      registerWasmTrainingKernels(opts.wasmKernels);
      const ok = await tf.setBackend('wasm');
      if (!ok) throw new Error(`tf.setBackend('wasm') failed (wasm binaries expected in ${distDir})`);
      await tf.ready();
      return { name, tfBackend: tf.getBackend(), version, threads: 1, kernels: wasmKernelsInfo(tf.backend()) };
    }
    case 'cpu': {
      const ok = await tf.setBackend('cpu');
      if (!ok) throw new Error(`tf.setBackend('cpu') failed`);
      await tf.ready();
      return { name, tfBackend: tf.getBackend(), version, threads: 1 };
    }
  }
}

/**
 * Select and initialise the tensor backend. `force` names one (throws if it cannot load); otherwise `prefer` is
 * tried first (webgpu then takes a software adapter too), then node-gpu, webgpu (hardware adapters only), node,
 * wasm, cpu. Idempotent: the first call's choice holds for the process.
 */
export async function initBackend(opts: BackendOptions = {}): Promise<BackendInfo> {
  if (active) return active;
  if (initializing) return initializing;
  initializing = (async () => {
    const forced = opts.force;
    if (forced) {
      if (!isBackendName(forced)) {
        throw new Error(`backend "${String(forced)}" is not one of ${BACKEND_ORDER.join(', ')}`);
      }
      try {
        active = await tryLoad(forced, opts, true);
      } catch (e) {
        throw new Error(`backend ${forced} (forced) could not be loaded: ${(e as Error).message}`);
      }
      return active;
    }
    const order = opts.prefer ? [opts.prefer, ...BACKEND_ORDER.filter((b) => b !== opts.prefer)] : [...BACKEND_ORDER];
    const errors: string[] = [];
    for (const name of order) {
      try {
        // a backend the caller names (prefer) may use a software adapter; the automatic order may not
        active = await tryLoad(name, opts, name === opts.prefer);
        return active;
      } catch (e) {
        errors.push(`${name}: ${(e as Error).message.split('\n')[0]}`);
      }
    }
    throw new Error(`no tfjs backend could be initialised:\n  ${errors.join('\n  ')}`);
  })();
  try {
    return await initializing;
  } finally {
    initializing = undefined;
  }
}
