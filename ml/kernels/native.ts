// Loader of our native x86-64 kernels (ml/kernels/native/kernels.cc, built into ml/kernels/native/build by
// scripts/build-native-kernels.mjs at install). They replace the GEMM-shaped AssemblyScript kernels (batchMatMul,
// conv2d, convFilterGrad[Gathered]; batch norm at C % 8 == 0) with AVX2 + FMA code working on the same wasm heap, same arguments and layouts.
// Used only when the binary exists, was built from this very source (its stamp's sha256), and the CPU has AVX2 and
// FMA; otherwise the WebAssembly kernels serve and `nativeKernelsStatus().why` says why.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

/** The addon's exports: every kernel takes the wasm heap's ArrayBuffer first, then the AssemblyScript arguments. */
export interface NativeAddon {
  batchMatMul(heap: ArrayBuffer, a: number, b: number, c: number, batch: number, m: number, n: number, k: number, strideA: number, strideB: number, strideC: number, transA: number, transB: number, bp: number): void;
  conv2d(heap: ArrayBuffer, x: number, n: number, hp: number, wp: number, c: number, packed: number, kh: number, kw: number, s: number, out: number, oh: number, ow: number, cout: number, outPix: number, outRow: number, outImg: number): void;
  convFilterGrad(heap: ArrayBuffer, x: number, n: number, hp: number, wp: number, c: number, dy: number, oh: number, ow: number, cout: number, kh: number, kw: number, s: number, dw: number, rowsPerBlock: number, buf?: number): void;
  /** C % 8 == 0 only (the loader routes other channel counts to the wasm kernel) */
  batchNormForward(heap: ArrayBuffer, x: number, m: number, c: number, gamma: number, beta: number, eps: number, relu: number, y: number, mean: number, variance: number, scratch: number): void;
  batchNormBackward(heap: ArrayBuffer, dy: number, x: number, y: number, relu: number, m: number, c: number, gamma: number, mean: number, variance: number, eps: number, dx: number, dgamma: number, dbeta: number, scratch: number): void;
  supported(): boolean;
}

export interface NativeStatus {
  /** loaded and used */
  loaded: boolean;
  /** why not, when not */
  why?: string;
  addon?: NativeAddon;
}

/** Where the addon's source, binary and build stamp are. */
export interface NativeFiles {
  source: string;
  binary: string;
  stamp: string;
}

const FILES: NativeFiles = {
  source: fileURLToPath(new URL('./native/kernels.cc', import.meta.url)),
  binary: fileURLToPath(new URL('./native/build/unlearn_kernels.node', import.meta.url)),
  stamp: fileURLToPath(new URL('./native/build/unlearn_kernels.json', import.meta.url)),
};

let status: NativeStatus | undefined;

/** Loads the addon from `files` if it is there, was built from that source, and the CPU can run it; else says why. */
export function loadNativeKernels(files: NativeFiles = FILES): NativeStatus {
  if (process.arch !== 'x64') return { loaded: false, why: `not x86-64 (${process.arch})` };
  if (!existsSync(files.binary)) return { loaded: false, why: 'not built (npm ci builds them; or npm run build:native-kernels)' };
  let built: { sourceSha256?: string };
  try {
    built = JSON.parse(readFileSync(files.stamp, 'utf8')) as { sourceSha256?: string };
  } catch {
    return { loaded: false, why: 'build stamp missing: rebuild with npm run build:native-kernels' };
  }
  const sha = createHash('sha256').update(readFileSync(files.source)).digest('hex');
  if (built.sourceSha256 !== sha) return { loaded: false, why: 'built from another version of kernels.cc: rebuild with npm run build:native-kernels' };
  let addon: NativeAddon;
  try {
    addon = createRequire(import.meta.url)(files.binary) as NativeAddon;
  } catch (e) {
    return { loaded: false, why: `could not load ${files.binary}: ${(e as Error).message}` };
  }
  if (!addon.supported()) return { loaded: false, why: 'this CPU lacks AVX2 or FMA' };
  return { loaded: true, addon };
}

/** The native kernels' status, loaded once per process. */
export function nativeKernelsStatus(): NativeStatus {
  status ??= loadNativeKernels();
  return status;
}
