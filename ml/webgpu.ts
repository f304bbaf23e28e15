// The WebGPU backend in Node: tfjs' WebGPU backend on Dawn's Node bindings (npm `webgpu`, a prebuilt dawn.node).
// Dawn drives Vulkan on Linux (NVIDIA, AMD, Intel, or Mesa's software lavapipe), Metal on macOS, D3D12 on Windows.
// We pick the adapter ourselves (tfjs' own registration needs a browser's navigator.gpu and takes whatever comes),
// so a worker can refuse a software adapter when choosing automatically and report what it runs on.
import { tf } from './tf.js';

export interface GpuAdapterReport {
  /** As the driver names it: 'nvidia', 'mesa', 'amd', 'intel', ... */
  vendor: string;
  architecture: string;
  device: string;
  /** Driver description (Dawn fills it from the Vulkan/Metal/D3D driver properties). */
  description: string;
  /** A CPU implementation (lavapipe, SwiftShader, WARP): correct but far slower than our WebAssembly kernels. */
  software: boolean;
}

interface Dawn {
  gpu: GPU;
}

let dawn: Dawn | undefined;
let registeredAdapter: GpuAdapterReport | undefined;

/** Loads dawn.node once and installs the WebGPU globals (GPUBufferUsage, ...) the tfjs backend uses. */
async function loadDawn(): Promise<Dawn> {
  if (dawn) return dawn;
  const mod = (await import('webgpu')) as { create(flags: string[]): GPU; globals: object };
  Object.assign(globalThis, mod.globals);
  dawn = { gpu: mod.create([]) };
  return dawn;
}

export function describeAdapter(adapter: GPUAdapter): GpuAdapterReport {
  const info = adapter.info as GPUAdapterInfo & { isFallbackAdapter?: boolean };
  const software =
    info.isFallbackAdapter === true ||
    (adapter as GPUAdapter & { isFallbackAdapter?: boolean }).isFallbackAdapter === true ||
    /llvmpipe|lavapipe|swiftshader|software|microsoft basic render/i.test(`${info.architecture} ${info.device} ${info.description}`);
  return { vendor: info.vendor, architecture: info.architecture, device: info.device, description: info.description, software };
}

/** One line for logs: "nvidia NVIDIA H100 (driver: NVIDIA 550.54.15)". */
export function adapterLine(a: GpuAdapterReport): string {
  const name = a.device || a.architecture || 'unknown device';
  return `${a.vendor || 'unknown vendor'} ${name}${a.description ? ` (driver: ${a.description})` : ''}${a.software ? ' [software]' : ''}`;
}

/** The high-performance adapter Dawn offers, or undefined when there is none (no driver, no Vulkan loader). */
export async function requestGpuAdapter(): Promise<{ adapter: GPUAdapter; report: GpuAdapterReport } | undefined> {
  const { gpu } = await loadDawn();
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) return undefined;
  return { adapter, report: describeAdapter(adapter) };
}

/**
 * Makes 'webgpu' the active tfjs backend on `adapter`, then checks that it is (tfjs falls back to cpu silently
 * when a backend's factory fails). Throws with the reason otherwise.
 */
export async function setWebgpuBackend(adapter: GPUAdapter): Promise<GpuAdapterReport> {
  const report = describeAdapter(adapter);
  // Importing the package registers its kernels under 'webgpu'.
  const { WebGPUBackend } = await import('@tensorflow/tfjs-backend-webgpu');
  // WebGPUBackend's constructor asserts navigator.gpu (a browser global); Node 21+ has a navigator without gpu.
  const gpu = (await loadDawn()).gpu;
  const nav = (globalThis as { navigator?: object }).navigator;
  if (nav) {
    if (!('gpu' in nav)) Object.defineProperty(nav, 'gpu', { value: gpu, configurable: true });
  } else {
    Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
  }
  if (tf.findBackendFactory('webgpu') && registeredAdapter !== report) tf.removeBackend('webgpu');
  if (!tf.findBackendFactory('webgpu')) {
    tf.registerBackend('webgpu', async () => {
      // The device descriptor tfjs' own registration uses: the adapter's limits, timestamps when offered.
      const limits = adapter.limits;
      const device = await adapter.requestDevice({
        requiredFeatures: adapter.features.has('timestamp-query') ? ['timestamp-query'] : [],
        requiredLimits: {
          maxComputeWorkgroupStorageSize: limits.maxComputeWorkgroupStorageSize,
          maxComputeWorkgroupsPerDimension: limits.maxComputeWorkgroupsPerDimension,
          maxStorageBufferBindingSize: limits.maxStorageBufferBindingSize,
          maxBufferSize: limits.maxBufferSize,
          maxComputeWorkgroupSizeX: limits.maxComputeWorkgroupSizeX,
          maxComputeInvocationsPerWorkgroup: limits.maxComputeInvocationsPerWorkgroup,
        },
      });
      return new WebGPUBackend(device, adapter.info);
    }, 3);
    registeredAdapter = report;
  }
  const ok = await tf.setBackend('webgpu');
  await tf.ready();
  if (!ok || tf.getBackend() !== 'webgpu') {
    throw new Error(`tf.setBackend('webgpu') on ${adapterLine(report)} left tfjs on '${tf.getBackend()}'`);
  }
  return report;
}

/** The adapter the active webgpu backend runs on (undefined before setWebgpuBackend). */
export function webgpuAdapter(): GpuAdapterReport | undefined {
  return tf.getBackend() === 'webgpu' ? registeredAdapter : undefined;
}
