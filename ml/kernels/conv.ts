// Convolution kernels for the WebAssembly backend. Conv2D and the filter gradient run on our own implicit-GEMM
// SIMD kernels (ml/kernels/assembly) where the channel counts allow; the input gradient and the other cases are
// composed from kernels the backend has (XNNPACK's Conv2D), replacing a missing (Conv2DBackpropFilter) or slow
// naive (Conv2DBackpropInput) implementation.
import { tf } from '../tf.js';
import { asmEnabled, asmKernels, heapOffset } from './asm.js';

type TensorInfo = tf.TensorInfo;
type Backend = { disposeData(dataId: object, force?: boolean): boolean };
type KernelFn = (args: { inputs: Record<string, TensorInfo>; backend: unknown; attrs?: Record<string, unknown> }) => TensorInfo | TensorInfo[];

function kernel(name: string): KernelFn {
  const k = tf.getKernel(name, 'wasm');
  if (!k) throw new Error(`wasm backend has no ${name} kernel to build on`);
  return k.kernelFunc as unknown as KernelFn;
}

/** Runs backend kernels directly, disposing every intermediate on exit except the returned one. */
class Ops {
  private readonly temps: TensorInfo[] = [];
  constructor(private readonly backend: Backend) {}
  private run(name: string, inputs: Record<string, TensorInfo>, attrs: Record<string, unknown>): TensorInfo {
    const out = kernel(name)({ inputs, backend: this.backend, attrs }) as TensorInfo;
    this.temps.push(out);
    return out;
  }
  transpose(x: TensorInfo, perm: number[]): TensorInfo {
    return this.run('Transpose', { x }, { perm });
  }
  reshape(x: TensorInfo, shape: number[]): TensorInfo {
    return this.run('Reshape', { x }, { shape });
  }
  pad(x: TensorInfo, paddings: Array<[number, number]>): TensorInfo {
    return this.run('PadV2', { x }, { paddings, constantValue: 0 });
  }
  slice(x: TensorInfo, begin: number[], size: number[]): TensorInfo {
    return this.run('Slice', { x }, { begin, size });
  }
  conv2d(x: TensorInfo, filter: TensorInfo, strides: [number, number], pad: unknown, dilations: [number, number]): TensorInfo {
    return this.run('Conv2D', { x, filter }, { strides, pad, dilations, dataFormat: 'NHWC', dimRoundingMode: undefined });
  }
  /** (s−1) zeros after every row and column of an NHWC tensor: [N, H·sh, W·sw, C] (a 6-D pad). */
  dilate(x: TensorInfo, sh: number, sw: number): TensorInfo {
    const [n, h, w, c] = x.shape;
    const p6 = this.pad(this.reshape(x, [n, h, 1, w, 1, c]), [
      [0, 0],
      [0, 0],
      [0, sh - 1],
      [0, 0],
      [0, sw - 1],
      [0, 0],
    ]);
    return this.reshape(p6, [n, h * sh, w * sw, c]);
  }
  concat(xs: TensorInfo[], axis: number): TensorInfo {
    // the engine passes Concat its inputs as an array
    return this.run('Concat', xs as unknown as Record<string, TensorInfo>, { axis });
  }
  /** Keep a tensor made outside `run` (e.g. with makeOutput) on the disposal list. */
  own(t: TensorInfo): TensorInfo {
    this.temps.push(t);
    return t;
  }
  batchMatMul(a: TensorInfo, b: TensorInfo, transposeA: boolean, transposeB: boolean): TensorInfo {
    return this.run('BatchMatMul', { a, b }, { transposeA, transposeB });
  }
  /** Dispose all intermediates except `keep`. */
  finish(keep: TensorInfo): TensorInfo {
    for (const t of this.temps) if (t !== keep) this.backend.disposeData(t.dataId);
    return keep;
  }
}

interface ConvGeom {
  batch: number;
  inH: number;
  inW: number;
  inC: number;
  outH: number;
  outW: number;
  outC: number;
  kh: number;
  kw: number;
  sh: number;
  sw: number;
  top: number;
  left: number;
  bottom: number;
  right: number;
}

function geometry(
  xShape: [number, number, number, number],
  filterShape: [number, number, number, number],
  attrs: { strides: number | [number, number]; pad: unknown; dimRoundingMode?: unknown; dataFormat?: string },
): ConvGeom {
  if (attrs.dataFormat && attrs.dataFormat !== 'NHWC') throw new Error(`wasm conv gradient: only NHWC is supported, got ${attrs.dataFormat}`);
  const info = tf.backend_util.computeConv2DInfo(
    xShape,
    filterShape,
    attrs.strides,
    1,
    attrs.pad as 'same',
    attrs.dimRoundingMode as 'floor' | undefined,
  );
  return {
    batch: info.batchSize,
    inH: info.inHeight,
    inW: info.inWidth,
    inC: info.inChannels,
    outH: info.outHeight,
    outW: info.outWidth,
    outC: info.outChannels,
    kh: info.filterHeight,
    kw: info.filterWidth,
    sh: info.strideHeight,
    sw: info.strideWidth,
    top: info.padInfo.top,
    left: info.padInfo.left,
    bottom: info.padInfo.bottom,
    right: info.padInfo.right,
  };
}

/**
 * dW[a,b,ci,co] = Σ_{n,i,j} xpad[n, i·s+a, j·s+b, ci] · dy[n,i,j,co].
 * 1×1 stride-1 unpadded: one matmul xᵀ·dy. Otherwise a Conv2D with input channels in the batch's place,
 * the batch as the contraction axis and dy as a dilated filter (dilation = stride).
 */
export function conv2dBackpropFilterWasm(args: { inputs: Record<string, TensorInfo>; backend: unknown; attrs?: Record<string, unknown> }): TensorInfo {
  const { x, dy } = args.inputs;
  const attrs = args.attrs as { strides: number | [number, number]; pad: unknown; dimRoundingMode?: unknown; dataFormat?: string; filterShape: [number, number, number, number] };
  const g = geometry(x.shape as [number, number, number, number], attrs.filterShape, attrs);
  const ops = new Ops(args.backend as Backend);
  convKernelStats.backpropFilter++;
  if (g.kh === 1 && g.kw === 1 && g.sh === 1 && g.sw === 1 && g.top === 0 && g.left === 0) {
    const m = g.batch * g.inH * g.inW;
    const xs = ops.reshape(x, [1, m, g.inC]);
    const ds = ops.reshape(dy, [1, m, g.outC]);
    const w = ops.batchMatMul(xs, ds, true, false);
    return ops.finish(ops.reshape(w, [1, 1, g.inC, g.outC]));
  }
  if (asmTakes(paddedChannels(g.inC), g.outC, g, x.dtype, true)) {
    // Our implicit-GEMM kernel (ml/kernels/assembly/kernels.ts) on a zero-padded copy of x: no im2col buffer,
    // no transposes, fused multiply-add where available (3.2-3.4x the path below on ResNet's first stages, ml-layers).
    convKernelStats.backpropFilterAsm++;
    const asm = asmKernels(args.backend);
    const backend = args.backend as WasmHeapBackend;
    const { padded, hp, wp, cp } = padForTaps(ops, backend, x, g, paddedChannels(g.inC));
    const dw = backend.makeOutput([g.kh, g.kw, cp, g.outC], 'float32');
    // ~64 output pixels per block (measured best of 16..2048 on every ResNet layer): the block's input and dy
    // rows stay in L1 while every tile reduces over it
    const rowsPerBlock = Math.max(1, Math.floor(64 / g.outW));
    if (g.outW <= 16) {
      // rows of ≤ 16 pixels (and the strided layers): gather the block's pixels per tap first, so tiles reduce over
      // contiguous runs (4×4 layer 9.5 -> 7.6 ms, 8×8 stride 2 4.6 -> 3.7; rows of 32 pixels lose: 7.2 -> 8.1, ml-layers)
      convKernelStats.backpropFilterGathered++;
      const buf = ops.own(backend.makeOutput([rowsPerBlock * g.outW * cp], 'float32'));
      asm.convFilterGradGathered(heapOffset(backend, padded), g.batch, hp, wp, cp, heapOffset(backend, dy), g.outH, g.outW, g.outC, g.kh, g.kw, g.sh, heapOffset(backend, dw), rowsPerBlock, heapOffset(backend, buf));
    } else {
      asm.convFilterGrad(heapOffset(backend, padded), g.batch, hp, wp, cp, heapOffset(backend, dy), g.outH, g.outW, g.outC, g.kh, g.kw, g.sh, heapOffset(backend, dw), rowsPerBlock);
    }
    if (cp === g.inC) return ops.finish(dw);
    ops.own(dw);
    return ops.finish(ops.slice(dw, [0, 0, 0, 0], attrs.filterShape));
  }
  if (g.kh * g.kw * g.inC <= IM2COL_MAX_K) {
    // Few input channels (stems, RGB/grey inputs): im2col as a Conv2D with a one-hot filter (same stride
    // and padding as the forward pass), then one matmul patchesᵀ·dy. The dilated-dy convolution below has
    // only kh·kw·inC output pixels there, too few for XNNPACK's tiles.
    const k = g.kh * g.kw * g.inC;
    const patches = ops.conv2d(x, oneHotFilter(args.backend as WasmHeapBackend, g.kh, g.kw, g.inC), [g.sh, g.sw], attrs.pad, [1, 1]);
    const m = g.batch * g.outH * g.outW;
    const p2 = ops.reshape(patches, [1, m, k]);
    const d2 = ops.reshape(dy, [1, m, g.outC]);
    const w = ops.batchMatMul(p2, d2, true, false);
    return ops.finish(ops.reshape(w, [g.kh, g.kw, g.inC, g.outC]));
  }
  // Pad x so that the dilated dy "filter" sweeps exactly kh × kw positions. The padding is given to the
  // Conv2D itself (explicit padding of the transposed input's spatial axes), saving a PadV2 copy; rows
  // the forward pass never read (negative bottom/right) are cropped first.
  const needH = (g.outH - 1) * g.sh + g.kh;
  const needW = (g.outW - 1) * g.sw + g.kw;
  let xc = x;
  const padBottom = needH - g.inH - g.top;
  const padRight = needW - g.inW - g.left;
  const cropH = Math.min(g.inH, needH - g.top);
  const cropW = Math.min(g.inW, needW - g.left);
  if (cropH !== g.inH || cropW !== g.inW) xc = ops.slice(xc, [0, 0, 0, 0], [g.batch, cropH, cropW, g.inC]);
  const xt = ops.transpose(xc, [3, 1, 2, 0]); // [inC, H', W', N]
  const dyt = ops.transpose(dy, [1, 2, 0, 3]); // [outH, outW, N, outC]
  const pad = [
    [0, 0],
    [g.top, Math.max(0, padBottom)],
    [g.left, Math.max(0, padRight)],
    [0, 0],
  ];
  const out = ops.conv2d(xt, dyt, [1, 1], pad, [g.sh, g.sw]); // [inC, kh, kw, outC]
  return ops.finish(ops.transpose(out, [1, 2, 0, 3]));
}

/**
 * x zero-padded so that every filter tap of every output pixel is in bounds (rows and columns past what the
 * convolution reads are left in place, not cropped: the kernels take the padded extent as the row stride),
 * and its channels padded to a multiple of 4 (RGB stems: 3 -> 4). No copy when nothing needs padding.
 */
function padForTaps(ops: Ops, backend: WasmHeapBackend, x: TensorInfo, g: ConvGeom, cp: number): { padded: TensorInfo; hp: number; wp: number; cp: number } {
  const needH = (g.outH - 1) * g.sh + g.kh;
  const needW = (g.outW - 1) * g.sw + g.kw;
  const bottom = Math.max(0, needH - g.inH - g.top);
  const right = Math.max(0, needW - g.inW - g.left);
  const hp = g.top + g.inH + bottom;
  const wp = g.left + g.inW + right;
  if (g.top === 0 && g.left === 0 && bottom === 0 && right === 0 && cp === g.inC) return { padded: x, hp, wp, cp };
  // our pad (row copies + fills): 0.41 vs 2.26 ms for the backend's PadV2 on [64,32,32,16] -> [64,34,34,16]
  const padded = ops.own(backend.makeOutput([g.batch, hp, wp, cp], 'float32'));
  asmKernels(backend).padNhwc(heapOffset(backend, x), g.batch, g.inH, g.inW, g.inC, g.top, bottom, g.left, right, cp - g.inC, heapOffset(backend, padded));
  return { padded, hp, wp, cp };
}

/** Input channels as our kernels see them: a multiple of 4 (2 and 3 are padded to 4 with zeros). */
function paddedChannels(c: number): number {
  return c % 4 === 0 ? c : c < 4 && c > 1 ? 4 : c;
}

/**
 * Whether our implicit-GEMM kernels take a convolution with inCh input and outCh output channels: outCh % 8 (the
 * 8-channel panels), one stride for both axes, float32; the filter gradient also needs inCh % 4 (its tiles take 4
 * input channels), the forward kernel and the input gradient's take any inCh (they read input values one by one).
 */
function asmTakes(inCh: number, outCh: number, g: ConvGeom, dtype: string, inCh4: boolean): boolean {
  return asmEnabled() && dtype === 'float32' && (!inCh4 || inCh % 4 === 0) && outCh % 8 === 0 && g.sh === g.sw;
}

let originalConv2D: KernelFn | undefined;

/**
 * Conv2D (NHWC, no dilation) by our implicit-GEMM kernel: the filter packed into 8-channel panels, the
 * input zero-padded once; 1.6-1.8x XNNPACK's Conv2D on ResNet's 3x3 layers here (ml-layers). Other cases go to the
 * backend's own kernel. Also serves the stride-1 input gradient, which is a Conv2D of padded dy.
 */
export function conv2dWasm(args: { inputs: Record<string, TensorInfo>; backend: unknown; attrs?: Record<string, unknown> }): TensorInfo {
  const { x, filter } = args.inputs;
  const attrs = args.attrs as { strides: number | [number, number]; pad: unknown; dimRoundingMode?: unknown; dataFormat?: string; dilations?: number | [number, number] };
  const dil = attrs.dilations ?? 1;
  const dilated = Array.isArray(dil) ? dil[0] !== 1 || dil[1] !== 1 : dil !== 1;
  const nhwc = !attrs.dataFormat || attrs.dataFormat === 'NHWC';
  const g = nhwc && !dilated ? geometry(x.shape as [number, number, number, number], filter.shape as [number, number, number, number], attrs) : undefined;
  if (!g || !asmTakes(g.inC, g.outC, g, x.dtype, false)) {
    if (!originalConv2D) throw new Error('conv2dWasm: no original Conv2D kernel');
    convKernelStats.conv2dOriginal++;
    return originalConv2D(args) as TensorInfo;
  }
  convKernelStats.conv2dAsm++;
  const backend = args.backend as WasmHeapBackend & Backend;
  const ops = new Ops(backend);
  const asm = asmKernels(backend);
  // any channel count: the kernel reads input values one at a time (RGB stems are no longer padded to 4 channels)
  const { padded, hp, wp } = padForTaps(ops, backend, x, g, g.inC);
  const k = g.kh * g.kw * g.inC;
  const packed = ops.own(backend.makeOutput([k * g.outC], 'float32'));
  asm.packFilter(heapOffset(backend, filter), k, g.outC, heapOffset(backend, packed));
  const out = backend.makeOutput([g.batch, g.outH, g.outW, g.outC], 'float32');
  asm.conv2d(heapOffset(backend, padded), g.batch, hp, wp, g.inC, heapOffset(backend, packed), g.kh, g.kw, g.sh, heapOffset(backend, out), g.outH, g.outW, g.outC, 4 * g.outC, 4 * g.outW * g.outC, 4 * g.outH * g.outW * g.outC);
  return ops.finish(out);
}

/** Taps of one sub-pixel phase along one axis of a stride-s convolution's input gradient. */
interface AxisPhase {
  /** input coordinate of the phase's first pixel (0..s−1) */
  p: number;
  /** filter taps k with (p + pad − k) ≡ 0 (mod s), in order of ascending dy offset d = (p + pad − k)/s */
  taps: number[];
  dMin: number;
  /** input pixels of this phase: ⌈(len − p)/s⌉ */
  count: number;
}

function axisPhases(k: number, pad: number, len: number, s: number): AxisPhase[] {
  const out: AxisPhase[] = [];
  for (let p = 0; p < s; p++) {
    const taps: number[] = [];
    for (let kk = k - 1; kk >= 0; kk--) if ((((p + pad - kk) % s) + s) % s === 0) taps.push(kk);
    out.push({ p, taps, dMin: taps.length ? (p + pad - taps[0]) / s : 0, count: p < len ? Math.ceil((len - p) / s) : 0 });
  }
  return out;
}

/**
 * Input gradient of a stride-s convolution on our implicit-GEMM kernel, one call per sub-pixel phase (ph, pw):
 *   dx[n, ph + s·i, pw + s·j, ci] = Σ over the phase's taps (t, u) of dyPad[n, i + dMin_h + t, j + dMin_w + u, :] · W[kh_t, kw_u, ci, :]
 * i.e. a stride-1 convolution of dy with the phase's sub-filter (channels swapped), written straight into dx
 * with pixel stride s: no dilated dy, no multiplications by zero taps, no interleaving copies.
 * Stride 1 is the one-phase case (the 180°-rotated filter).
 */
function asmBackpropInput(ops: Ops, backend: WasmHeapBackend, dy: TensorInfo, filter: TensorInfo, g: ConvGeom): TensorInfo {
  const s = g.sh;
  const rows = axisPhases(g.kh, g.top, g.inH, s).filter((r) => r.count > 0);
  const cols = axisPhases(g.kw, g.left, g.inW, s).filter((c) => c.count > 0);
  const withTaps = (a: AxisPhase[]): AxisPhase[] => a.filter((x) => x.taps.length > 0);
  const padOf = (a: AxisPhase[], outLen: number): [number, number] => {
    let before = 0;
    let after = 0;
    for (const x of withTaps(a)) {
      before = Math.max(before, -x.dMin);
      after = Math.max(after, x.count - 1 + x.dMin + x.taps.length - 1 - (outLen - 1));
    }
    return [before, after];
  };
  const [padT, padB] = padOf(rows, g.outH);
  const [padL, padR] = padOf(cols, g.outW);
  const hp = padT + g.outH + padB;
  const wp = padL + g.outW + padR;
  const asm = asmKernels(backend);
  let dyPad = dy;
  if (padT || padB || padL || padR) {
    dyPad = ops.own(backend.makeOutput([g.batch, hp, wp, g.outC], 'float32'));
    asm.padNhwc(heapOffset(backend, dy), g.batch, g.outH, g.outW, g.outC, padT, padB, padL, padR, 0, heapOffset(backend, dyPad));
  }
  const dx = backend.makeOutput([g.batch, g.inH, g.inW, g.inC], 'float32');
  const phases: Array<{ r: AxisPhase; c: AxisPhase; packed: TensorInfo }> = [];
  for (const r of withTaps(rows)) {
    for (const c of withTaps(cols)) {
      phases.push({ r, c, packed: ops.own(backend.makeOutput([r.taps.length * c.taps.length * g.outC * g.inC], 'float32')) });
    }
  }
  // heap views only after every allocation (an allocation may grow and move the heap)
  if (withTaps(rows).length < rows.length || withTaps(cols).length < cols.length) backend.typedArrayFromHeap(dx).fill(0);
  const w = backend.typedArrayFromHeap(filter); // [kh, kw, inC, outC]
  for (const { r, c, packed } of phases) {
    // sub-filter [t, u, co, ci] = W[kh_t, kw_u, ci, co], written directly in packFilter's layout [ci/8][k][8]
    const tw = c.taps.length;
    const k = r.taps.length * tw * g.outC;
    const pk = backend.typedArrayFromHeap(packed);
    for (let t = 0; t < r.taps.length; t++) {
      for (let u = 0; u < tw; u++) {
        const src = (r.taps[t] * g.kw + c.taps[u]) * g.inC * g.outC;
        const row0 = (t * tw + u) * g.outC;
        for (let ci = 0; ci < g.inC; ci++) {
          const dst = (ci >> 3) * k * 8 + (ci & 7);
          const sci = src + ci * g.outC;
          for (let co = 0; co < g.outC; co++) pk[dst + (row0 + co) * 8] = w[sci + co];
        }
      }
    }
  }
  const pixBytes = 4 * g.inC;
  for (const { r, c, packed } of phases) {
    const xBase = heapOffset(backend, dyPad) + ((r.dMin + padT) * wp + (c.dMin + padL)) * g.outC * 4;
    const outBase = heapOffset(backend, dx) + (r.p * g.inW + c.p) * pixBytes;
    asm.conv2d(xBase, g.batch, hp, wp, g.outC, heapOffset(backend, packed), r.taps.length, c.taps.length, 1, outBase, r.count, c.count, g.inC, s * pixBytes, s * g.inW * pixBytes, g.inH * g.inW * pixBytes);
  }
  return dx;
}

let originalBackpropInput: KernelFn | undefined;

/** Largest kh·kw·inC for which the filter gradient goes through im2col + matmul. */
const IM2COL_MAX_K = 32;

interface WasmHeapBackend {
  makeOutput(shape: number[], dtype: string): TensorInfo;
  typedArrayFromHeap(t: TensorInfo): Float32Array;
}

/** One-hot im2col filters, cached per shape (a stable tensor lets XNNPACK keep its packed operator). */
const oneHotFilters = new Map<string, TensorInfo>();
function oneHotFilter(backend: WasmHeapBackend, kh: number, kw: number, c: number): TensorInfo {
  const key = `${kh}x${kw}x${c}`;
  let f = oneHotFilters.get(key);
  if (!f) {
    const k = kh * kw * c;
    f = backend.makeOutput([kh, kw, c, k], 'float32');
    const v = backend.typedArrayFromHeap(f);
    v.fill(0);
    // filter[a, b, ci, (a·kw + b)·c + ci] = 1: flat index (row r = (a·kw+b)·c+ci) · k + r
    for (let r = 0; r < k; r++) v[r * k + r] = 1;
    oneHotFilters.set(key, f);
  }
  return f;
}

/** Call counters (tests assert the fast paths run). */
export const convKernelStats = { backpropFilterGathered: 0, backpropInputAsm: 0, conv2dAsm: 0, conv2dOriginal: 0, backpropFilterAsm: 0, backpropInput: 0, backpropInputFallback: 0, backpropInputPhase: 0, backpropFilter: 0, backpropInput1x1Strided: 0 };

/**
 * dx = Conv2D(dilate(dy, stride), rot180(W) with in/out swapped), with explicit padding
 * (kh−1−top above, inH+top−((outH−1)·s+1) below). Dilation by the stride is a 6-D pad.
 */
export function conv2dBackpropInputWasm(args: { inputs: Record<string, TensorInfo>; backend: unknown; attrs?: Record<string, unknown> }): TensorInfo {
  const { dy, filter } = args.inputs;
  const attrs = args.attrs as { strides: number | [number, number]; pad: unknown; dimRoundingMode?: unknown; dataFormat?: string; inputShape: [number, number, number, number] };
  const g = geometry(attrs.inputShape, filter.shape as [number, number, number, number], attrs);
  const padTop = g.kh - 1 - g.top;
  const padLeft = g.kw - 1 - g.left;
  const padBottom = g.inH + g.top - ((g.outH - 1) * g.sh + 1);
  const padRight = g.inW + g.left - ((g.outW - 1) * g.sw + 1);
  if (padTop < 0 || padLeft < 0 || padBottom < 0 || padRight < 0) {
    if (!originalBackpropInput) throw new Error('conv2dBackpropInputWasm: unsupported padding and no original kernel');
    convKernelStats.backpropInputFallback++;
    return originalBackpropInput(args) as TensorInfo;
  }
  const ops = new Ops(args.backend as Backend);
  convKernelStats.backpropInput++;
  if (g.kh === 1 && g.kw === 1 && g.sh === 1 && g.sw === 1) {
    const m = g.batch * g.outH * g.outW;
    const ds = ops.reshape(dy, [1, m, g.outC]);
    const w = ops.reshape(filter, [1, g.inC, g.outC]);
    const dx = ops.batchMatMul(ds, w, false, true);
    return ops.finish(ops.reshape(dx, attrs.inputShape));
  }
  // dy is the input of this convolution (outC channels), dx its output (inC channels)
  if (asmTakes(g.outC, g.inC, g, dy.dtype, false)) {
    convKernelStats.backpropInputAsm++;
    return ops.finish(asmBackpropInput(ops, args.backend as WasmHeapBackend, dy, filter, g));
  }
  if (g.kh === 1 && g.kw === 1 && g.top === 0 && g.left === 0 && g.inH === g.outH * g.sh && g.inW === g.outW * g.sw) {
    // 1×1 strided (ResNet shortcuts): dy·Wᵀ at the pixels the forward pass read, zeros elsewhere (a 6-D
    // pad), instead of a phase convolution that multiplies (s²−1)/s² zero filter taps
    convKernelStats.backpropInput1x1Strided++;
    const m = g.batch * g.outH * g.outW;
    const small = ops.batchMatMul(ops.reshape(dy, [1, m, g.outC]), ops.reshape(filter, [1, g.inC, g.outC]), false, true);
    return ops.finish(ops.dilate(ops.reshape(small, [g.batch, g.outH, g.outW, g.inC]), g.sh, g.sw));
  }
  if (g.sh === g.sw && g.sh > 1 && !phaseOff) {
    const out = phaseBackpropInput(ops, args.backend as WasmHeapBackend, dy, filter, g);
    if (out) return out;
  }
  let d = dy;
  let bottom = padBottom;
  let right = padRight;
  if (g.sh > 1 || g.sw > 1) {
    d = ops.dilate(dy, g.sh, g.sw);
    // the 6-D pad added (s−1) trailing zeros: take them off the explicit padding, crop if it goes negative
    bottom -= g.sh - 1;
    right -= g.sw - 1;
    if (bottom < 0 || right < 0) {
      d = ops.slice(d, [0, 0, 0, 0], [g.batch, g.outH * g.sh + Math.min(0, bottom), g.outW * g.sw + Math.min(0, right), g.outC]);
      bottom = Math.max(0, bottom);
      right = Math.max(0, right);
    }
  }
  // rot180(W) with in/out swapped, [kh, kw, outC, inC], built in one JS pass (the backend's Reverse plus
  // Transpose took several ms on a [3,3,128,128] filter)
  const wt = ops.own((args.backend as WasmHeapBackend).makeOutput([g.kh, g.kw, g.outC, g.inC], 'float32'));
  {
    const dst = (args.backend as WasmHeapBackend).typedArrayFromHeap(wt);
    const src = (args.backend as WasmHeapBackend).typedArrayFromHeap(filter); // [kh, kw, inC, outC]
    const ci = g.inC;
    const co = g.outC;
    for (let a = 0; a < g.kh; a++)
      for (let b = 0; b < g.kw; b++) {
        const srcTap = ((g.kh - 1 - a) * g.kw + (g.kw - 1 - b)) * ci * co;
        const dstTap = (a * g.kw + b) * co * ci;
        for (let c = 0; c < ci; c++) for (let o = 0; o < co; o++) dst[dstTap + o * ci + c] = src[srcTap + c * co + o];
      }
  }
  const pad = [
    [0, 0],
    [padTop, bottom],
    [padLeft, right],
    [0, 0],
  ];
  return ops.finish(ops.conv2d(d, wt, [1, 1], pad, [1, 1]));
}

/**
 * Strided input gradient by sub-pixel (phase) decomposition: output rows p = q·s + r (padded coordinates)
 * only see filter taps a ≡ r (mod s), so s stride-1 Conv2Ds of dy (one per row phase rh, the s column
 * phases stacked on the output channels) and a row interleave compute dx without the (s²−1)/s² zeros of a
 * dilated dy. Filter of row phase rh: Wc[u, v, co, rw·Ci + ci] = W[(T−1−u)·s + rh, (T−1−v)·s + rw, ci, co] (0 past the
 * filter), T = ceil(k/s); dy padded by T−1 above/left and Q − outH below (Q = ceil((inH + top)/s)).
 * Returns undefined when the geometry does not fit (caller falls back to the dilated form).
 */
function phaseBackpropInput(ops: Ops, backend: WasmHeapBackend, dy: TensorInfo, filter: TensorInfo, g: ConvGeom): TensorInfo | undefined {
  const s = g.sh;
  const th = Math.ceil(g.kh / s);
  const tw = Math.ceil(g.kw / s);
  const qh = Math.ceil((g.inH + g.top) / s);
  const qw = Math.ceil((g.inW + g.left) / s);
  if (qh < g.outH || qw < g.outW) return undefined;
  convKernelStats.backpropInputPhase++;
  const ci = g.inC;
  const co = g.outC;
  // One Conv2D per row phase rh, its s column phases stacked on the output channels ([N, qh, qw, s·ci] is
  // already the column interleave), then the rows interleaved by a concat of whole rows (large
  // contiguous blocks) instead of a 6-D transpose of the full result.
  const oc = s * ci;
  const rows: TensorInfo[] = [];
  for (let rh = 0; rh < s; rh++) {
    const wc = ops.own(backend.makeOutput([th, tw, co, oc], 'float32'));
    const dst = backend.typedArrayFromHeap(wc);
    const src = backend.typedArrayFromHeap(filter); // [kh, kw, ci, co]
    dst.fill(0);
    for (let u = 0; u < th; u++) {
      const a = (th - 1 - u) * s + rh;
      if (a >= g.kh) continue;
      for (let v = 0; v < tw; v++)
        for (let rw = 0; rw < s; rw++) {
          const b = (tw - 1 - v) * s + rw;
          if (b >= g.kw) continue;
          const phase = rw * ci;
          for (let c = 0; c < ci; c++) {
            const srcBase = ((a * g.kw + b) * ci + c) * co;
            const dstBase = (u * tw + v) * co * oc + phase + c;
            for (let o = 0; o < co; o++) dst[dstBase + o * oc] = src[srcBase + o];
          }
        }
    }
    const conv = ops.conv2d(
      dy,
      wc,
      [1, 1],
      [
        [0, 0],
        [th - 1, qh - g.outH],
        [tw - 1, qw - g.outW],
        [0, 0],
      ],
      [1, 1],
    ); // [N, qh, qw, s·ci]
    rows.push(ops.reshape(conv, [g.batch, qh, 1, qw * oc]));
  }
  const full = ops.reshape(ops.concat(rows, 2), [g.batch, qh * s, qw * s, ci]);
  if (g.top === 0 && g.left === 0 && qh * s === g.inH && qw * s === g.inW) return ops.finish(full);
  return ops.finish(ops.slice(full, [0, g.top, g.left, 0], [g.batch, g.inH, g.inW, ci]));
}

let phaseOff = false;

export function registerConvKernels(disabled: ReadonlySet<string> = new Set()): void {
  // 'Conv2DBackpropInput.phase' turns off only the sub-pixel path for strided layers
  phaseOff = disabled.has('Conv2DBackpropInput.phase');
  const orig = tf.getKernel('Conv2DBackpropInput', 'wasm');
  if (orig && !originalBackpropInput) originalBackpropInput = orig.kernelFunc as unknown as KernelFn;
  const origConv = tf.getKernel('Conv2D', 'wasm');
  if (origConv && !originalConv2D) originalConv2D = origConv.kernelFunc as unknown as KernelFn;
  for (const [name, fn] of [
    ['Conv2DBackpropFilter', conv2dBackpropFilterWasm],
    ['Conv2DBackpropInput', conv2dBackpropInputWasm],
    ['Conv2D', conv2dWasm],
  ] as const) {
    // Conv2DBackpropFilter is missing from the backend: it cannot be disabled
    if (disabled.has(name) && name !== 'Conv2DBackpropFilter') continue;
    const prev = tf.getKernel(name, 'wasm');
    if (prev) tf.unregisterKernel(name, 'wasm');
    // keep the backend's setup (its cwrap), which the fallback to the original kernel needs
    tf.registerKernel({ kernelName: name, backendName: 'wasm', kernelFunc: fn as unknown as tf.KernelFunc, setupFunc: prev?.setupFunc, disposeFunc: prev?.disposeFunc });
  }
}
