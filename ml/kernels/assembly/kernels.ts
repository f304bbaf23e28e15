// AssemblyScript source of our own WebAssembly SIMD convolution kernels (compiled by scripts/build-wasm-kernels.mjs
// into build/*.wasm, which are committed; a test checks they match this source). The module imports the tfjs
// WebAssembly backend's memory, so it reads and writes tensors in place by their heap offsets: no copies.
// Built twice: with relaxed SIMD (fused multiply-add; V8 lowers it to vfmadd on x86) and with plain SIMD128.

// a·b + c, fused where the engine supports relaxed SIMD.
// @ts-ignore: decorator
@inline function madd(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, c);
  return f32x4.add(f32x4.mul(a, b), c);
}

/**
 * Filter gradient of a 2-D convolution as an implicit GEMM (no im2col buffer, no transposes):
 *   dw[kh, kw, ci, co] = Σ over output pixels (n, oh, ow) of xpad[n, oh·s + kh, ow·s + kw, ci] · dy[n, oh, ow, co]
 * x: zero-padded NHWC input [N, Hp, Wp, C] (every tap in bounds); dy: [N, OH, OW, Cout]; dw: [KH, KW, C, Cout],
 * overwritten. Requires C % 4 == 0 and Cout % 8 == 0. Output rows are taken in blocks of rowsPerBlock so a
 * block's input and dy stay in cache while each (tap, 4 input channels, 8 output channels) tile — 8 vector
 * accumulators in registers — reduces over it.
 */
export function convFilterGrad(
  x: usize, N: i32, Hp: i32, Wp: i32, C: i32,
  dy: usize, OH: i32, OW: i32, Cout: i32,
  KH: i32, KW: i32, s: i32, dw: usize, rowsPerBlock: i32,
): void {
  memory.fill(dw, 0, <usize>(KH * KW * C * Cout) << 2);
  const totalRows = N * OH;
  const panels = Cout >> 3;
  const xStep = <usize>(s * C) << 2;
  const dyRow = <usize>(OW * Cout) << 2;
  const xRowStep = <usize>(s * Wp * C) << 2;
  const cs = <usize>Cout << 2;
  for (let rb = 0; rb < totalRows; rb += rowsPerBlock) {
    const re = min(totalRows, rb + rowsPerBlock);
    for (let kh = 0; kh < KH; kh++) {
      for (let kw = 0; kw < KW; kw++) {
        for (let ci = 0; ci < C; ci += 4) {
          for (let p = 0; p < panels; p++) {
            const o = dw + ((<usize>(((kh * KW + kw) * C + ci) * Cout + p * 8)) << 2);
            // the block's partial sums start at zero and are added to dw at the end: rounding error grows with
            // the block length plus the number of blocks, not with every pixel of the batch
            let c00 = f32x4.splat(0), c01 = f32x4.splat(0), c10 = f32x4.splat(0), c11 = f32x4.splat(0);
            let c20 = f32x4.splat(0), c21 = f32x4.splat(0), c30 = f32x4.splat(0), c31 = f32x4.splat(0);
            // (n, oh) of the block's first row; later rows by increments (no division per row)
            let n = rb / OH;
            let oh = rb - n * OH;
            let rowBase = x + ((<usize>(((n * Hp + oh * s + kh) * Wp + kw) * C + ci)) << 2);
            let b = dy + <usize>rb * dyRow + (<usize>p << 5);
            for (let row = rb; row < re; row++) {
              let a = rowBase;
              for (let ow = 0; ow < OW; ow++) {
                const b0 = v128.load(b), b1 = v128.load(b, 16);
                const x0 = v128.load32_splat(a);
                c00 = madd(x0, b0, c00); c01 = madd(x0, b1, c01);
                const x1 = v128.load32_splat(a, 4);
                c10 = madd(x1, b0, c10); c11 = madd(x1, b1, c11);
                const x2 = v128.load32_splat(a, 8);
                c20 = madd(x2, b0, c20); c21 = madd(x2, b1, c21);
                const x3 = v128.load32_splat(a, 12);
                c30 = madd(x3, b0, c30); c31 = madd(x3, b1, c31);
                a += xStep;
                b += cs;
              }
              // dy rows are contiguous (b already points at the next row); x rows step by s padded rows
              if (++oh < OH) {
                rowBase += xRowStep;
              } else {
                oh = 0;
                n++;
                rowBase = x + ((<usize>(((n * Hp + kh) * Wp + kw) * C + ci)) << 2);
              }
            }
            addRow(o, c00, c01);
            addRow(o + cs, c10, c11);
            addRow(o + 2 * cs, c20, c21);
            addRow(o + 3 * cs, c30, c31);
          }
        }
      }
    }
  }
}

/**
 * convFilterGrad with the block's input pixels gathered per filter tap (used for output rows of ≤ 16 pixels,
 * ml/kernels/conv.ts); as a blocked GEMM (no full im2col buffer, no transposes):
 *   dw[kh, kw, ci, co] = Σ over output pixels (n, oh, ow) of xpad[n, oh·s + kh, ow·s + kw, ci] · dy[n, oh, ow, co]
 * x: zero-padded NHWC input [N, Hp, Wp, C] (every tap in bounds); dy: [N, OH, OW, Cout]; dw: [KH, KW, C, Cout],
 * overwritten. Requires C % 4 == 0 and Cout % 8 == 0. Output rows are taken in blocks of rowsPerBlock; per block
 * and filter tap, the block's input pixels for that tap are gathered into buf (rowsPerBlock·OW·C floats) so every
 * (4 input channels, 8 output channels) tile — 8 vector accumulators in registers — reduces over one contiguous
 * run of pixels (rows of 4 or 8 pixels no longer pay a row change every few steps; strided layers read x once
 * per tap instead of once per tile). On rows of 32 pixels the gather costs more than it saves (ml-layers).
 */
export function convFilterGradGathered(
  x: usize, N: i32, Hp: i32, Wp: i32, C: i32,
  dy: usize, OH: i32, OW: i32, Cout: i32,
  KH: i32, KW: i32, s: i32, dw: usize, rowsPerBlock: i32, buf: usize,
): void {
  memory.fill(dw, 0, <usize>(KH * KW * C * Cout) << 2);
  const totalRows = N * OH;
  const panels = Cout >> 3;
  const cb = <usize>C << 2;
  const xStep = <usize>(s * C) << 2;
  const dyRow = <usize>(OW * Cout) << 2;
  const xRowStep = <usize>(s * Wp * C) << 2;
  const cs = <usize>Cout << 2;
  for (let rb = 0; rb < totalRows; rb += rowsPerBlock) {
    const re = min(totalRows, rb + rowsPerBlock);
    const pixels = (re - rb) * OW;
    const dyBlock = dy + <usize>rb * dyRow;
    for (let kh = 0; kh < KH; kh++) {
      for (let kw = 0; kw < KW; kw++) {
        // gather: buf[pixel] = xpad[n, oh·s + kh, ow·s + kw, 0..C) for the block's pixels in order
        let n = rb / OH;
        let oh = rb - n * OH;
        let rowBase = x + ((<usize>(((n * Hp + oh * s + kh) * Wp + kw) * C)) << 2);
        let d = buf;
        for (let row = rb; row < re; row++) {
          let a = rowBase;
          for (let ow = 0; ow < OW; ow++) {
            for (let c: usize = 0; c < cb; c += 16) v128.store(d + c, v128.load(a + c));
            a += xStep;
            d += cb;
          }
          if (++oh < OH) {
            rowBase += xRowStep;
          } else {
            oh = 0;
            n++;
            rowBase = x + ((<usize>(((n * Hp + kh) * Wp + kw) * C)) << 2);
          }
        }
        for (let ci = 0; ci < C; ci += 4) {
          for (let p = 0; p < panels; p++) {
            const o = dw + ((<usize>(((kh * KW + kw) * C + ci) * Cout + p * 8)) << 2);
            // the block's partial sums start at zero and are added to dw at the end: rounding error grows with
            // the block length plus the number of blocks, not with every pixel of the batch
            let c00 = f32x4.splat(0), c01 = f32x4.splat(0), c10 = f32x4.splat(0), c11 = f32x4.splat(0);
            let c20 = f32x4.splat(0), c21 = f32x4.splat(0), c30 = f32x4.splat(0), c31 = f32x4.splat(0);
            let a = buf + (<usize>ci << 2);
            let b = dyBlock + (<usize>p << 5);
            for (let q = 0; q < pixels; q++) {
              const b0 = v128.load(b), b1 = v128.load(b, 16);
              const x0 = v128.load32_splat(a);
              c00 = madd(x0, b0, c00); c01 = madd(x0, b1, c01);
              const x1 = v128.load32_splat(a, 4);
              c10 = madd(x1, b0, c10); c11 = madd(x1, b1, c11);
              const x2 = v128.load32_splat(a, 8);
              c20 = madd(x2, b0, c20); c21 = madd(x2, b1, c21);
              const x3 = v128.load32_splat(a, 12);
              c30 = madd(x3, b0, c30); c31 = madd(x3, b1, c31);
              a += cb;
              b += cs;
            }
            addRow(o, c00, c01);
            addRow(o + cs, c10, c11);
            addRow(o + 2 * cs, c20, c21);
            addRow(o + 3 * cs, c30, c31);
          }
        }
      }
    }
  }
}

// o[0..8) += [lo, hi]
// @ts-ignore: decorator
@inline function addRow(o: usize, lo: v128, hi: v128): void {
  v128.store(o, f32x4.add(v128.load(o), lo));
  v128.store(o, f32x4.add(v128.load(o, 16), hi), 16);
}

/** Packs a filter [K, Cout] (K = KH·KW·C, row-major) into panels of 8 output channels: dst[Cout/8][K][8]. */
export function packFilter(w: usize, K: i32, Cout: i32, dst: usize): void {
  const panels = Cout >> 3;
  const rowBytes = <usize>Cout << 2;
  for (let p = 0; p < panels; p++) {
    let src = w + (<usize>p << 5);
    let d = dst + <usize>(p * K) * 32;
    for (let k = 0; k < K; k++) {
      v128.store(d, v128.load(src));
      v128.store(d, v128.load(src, 16), 16);
      src += rowBytes;
      d += 32;
    }
  }
}

/**
 * 2-D convolution (cross-correlation, as tf.conv2d) as an implicit GEMM:
 *   out[n, oh, ow, co] = Σ over (kh, kw, ci) of xpad[n, oh·s + kh, ow·s + kw, ci] · w[kh, kw, ci, co]
 * x: zero-padded NHWC input [N, Hp, Wp, C] (any C); wp: filter packed by packFilter; out: output pixels of Cout
 * floats, pixel (n, oh, ow) at out + n·outImg + oh·outRow + ow·outPix bytes (dense NHWC: Cout·4, OW·Cout·4,
 * OH·OW·Cout·4; the strided input gradient writes one sub-pixel phase of dx with pixel and row strides s·… ).
 * Requires Cout % 8 == 0. Tiles of 4 neighbouring output pixels × 8 output channels keep 8 vector accumulators in
 * registers; a row's last OW mod 4 pixels take a 2-pixel tile, then a 1-pixel one (each costs about a 4-pixel
 * tile's time: too few independent accumulators to hide the FMA latency, so two at once halve the loss on rows of
 * 14). Pixel addresses advance by pointer increments (no divisions).
 */
export function conv2d(
  x: usize, N: i32, Hp: i32, Wp: i32, C: i32,
  wp: usize, KH: i32, KW: i32, s: i32,
  out: usize, OH: i32, OW: i32, Cout: i32,
  outPix: i32, outRow: i32, outImg: i32,
): void {
  const K = KH * KW * C;
  const panels = Cout >> 3;
  const pixStep = <usize>(s * C) << 2;
  const rowStep = <usize>(Wp * C) << 2;
  const cs = <usize>outPix;
  const panelBytes = <usize>K << 5;
  // the KW taps of one filter row are KW·C contiguous floats of the padded input row: KH runs per tile
  const runBytes = <usize>(KW * C) << 2;
  for (let n = 0; n < N; n++) {
    for (let oh = 0; oh < OH; oh++) {
      let o = out + <usize>n * <usize>outImg + <usize>oh * <usize>outRow;
      const rowBase = x + ((<usize>((n * Hp + oh * s) * Wp * C)) << 2);
      let ow = 0;
      for (; ow + 4 <= OW; ow += 4) {
        const p0 = rowBase + <usize>ow * pixStep;
        for (let p = 0; p < panels; p++) tile4x8(p0, pixStep, KH, rowStep, runBytes, wp + <usize>p * panelBytes, o + (<usize>p << 5), cs, 8, 0);
        o += 4 * cs;
      }
      if (ow + 2 <= OW) {
        const p0 = rowBase + <usize>ow * pixStep;
        for (let p = 0; p < panels; p++) tile2x8(p0, pixStep, KH, rowStep, runBytes, wp + <usize>p * panelBytes, o + (<usize>p << 5), cs);
        o += 2 * cs;
        ow += 2;
      }
      if (ow < OW) {
        const p0 = rowBase + <usize>ow * pixStep;
        for (let p = 0; p < panels; p++) tile1x8(p0, KH, rowStep, runBytes, wp + <usize>p * panelBytes, o + (<usize>p << 5), 8, 0);
      }
    }
  }
}

/** tile4x8 for two rows of A (full 8-column panels). */
// @ts-ignore: decorator
@inline function tile2x8(a: usize, rowStride: usize, runs: i32, runStride: usize, runBytes: usize, b: usize, out: usize, outStride: usize): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0), c10 = f32x4.splat(0), c11 = f32x4.splat(0);
  for (let r = 0; r < runs; r++) {
    let pa = a + <usize>r * runStride;
    const end = pa + runBytes;
    while (pa < end) {
      const b0 = v128.load(b), b1 = v128.load(b, 16);
      const x0 = v128.load32_splat(pa);
      c00 = madd(x0, b0, c00); c01 = madd(x0, b1, c01);
      const x1 = v128.load32_splat(pa + rowStride);
      c10 = madd(x1, b0, c10); c11 = madd(x1, b1, c11);
      pa += 4;
      b += 32;
    }
  }
  v128.store(out, c00); v128.store(out, c01, 16);
  v128.store(out + outStride, c10); v128.store(out + outStride, c11, 16);
}

/**
 * One output tile of the GEMM kernels: 4 rows of A × one 8-column panel of packed B (8 vector accumulators),
 * reduced over `runs` runs of runBytes contiguous floats; run r of row i starts at a + i·rowStride + r·runStride,
 * and B advances 32 bytes per float of A. Row i is stored at out + i·outStride (its first w ≤ 8 columns).
 */
// @ts-ignore: decorator
@inline function tile4x8(a: usize, rowStride: usize, runs: i32, runStride: usize, runBytes: usize, b: usize, out: usize, outStride: usize, w: i32, tmp: usize, kStep: usize = 4): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0), c10 = f32x4.splat(0), c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0), c30 = f32x4.splat(0), c31 = f32x4.splat(0);
  for (let r = 0; r < runs; r++) {
    let pa = a + <usize>r * runStride;
    const end = pa + runBytes;
    while (pa < end) {
      const b0 = v128.load(b), b1 = v128.load(b, 16);
      const x0 = v128.load32_splat(pa);
      c00 = madd(x0, b0, c00); c01 = madd(x0, b1, c01);
      const x1 = v128.load32_splat(pa + rowStride);
      c10 = madd(x1, b0, c10); c11 = madd(x1, b1, c11);
      const x2 = v128.load32_splat(pa + 2 * rowStride);
      c20 = madd(x2, b0, c20); c21 = madd(x2, b1, c21);
      const x3 = v128.load32_splat(pa + 3 * rowStride);
      c30 = madd(x3, b0, c30); c31 = madd(x3, b1, c31);
      pa += kStep;
      b += 32;
    }
  }
  storeRow(out, c00, c01, w, tmp);
  storeRow(out + outStride, c10, c11, w, tmp);
  storeRow(out + 2 * outStride, c20, c21, w, tmp);
  storeRow(out + 3 * outStride, c30, c31, w, tmp);
}

/** tile4x8 for a single row (the remainder rows). */
// @ts-ignore: decorator
@inline function tile1x8(a: usize, runs: i32, runStride: usize, runBytes: usize, b: usize, out: usize, w: i32, tmp: usize, kStep: usize = 4): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0);
  for (let r = 0; r < runs; r++) {
    let pa = a + <usize>r * runStride;
    const end = pa + runBytes;
    while (pa < end) {
      const x0 = v128.load32_splat(pa);
      c00 = madd(x0, v128.load(b), c00); c01 = madd(x0, v128.load(b, 16), c01);
      pa += kStep;
      b += 32;
    }
  }
  storeRow(out, c00, c01, w, tmp);
}

/**
 * Zero-pads an NHWC tensor: src [N, H, W, C] -> dst [N, top + H + bottom, left + W + right, C + cPad].
 * Rows are copied with memory.copy when no channel padding is asked.
 */
export function padNhwc(src: usize, N: i32, H: i32, W: i32, C: i32, top: i32, bottom: i32, left: i32, right: i32, cPad: i32, dst: usize): void {
  const Cd = C + cPad;
  const Wd = left + W + right;
  const Hd = top + H + bottom;
  const dstRow = <usize>(Wd * Cd) << 2;
  const srcRow = <usize>(W * C) << 2;
  let d = dst;
  let sp = src;
  for (let n = 0; n < N; n++) {
    memory.fill(d, 0, <usize>top * dstRow);
    d += <usize>top * dstRow;
    for (let h = 0; h < H; h++) {
      memory.fill(d, 0, <usize>(left * Cd) << 2);
      const rowStart = d + ((<usize>(left * Cd)) << 2);
      if (cPad == 0) {
        memory.copy(rowStart, sp, srcRow);
      } else {
        let q = rowStart;
        let r = sp;
        for (let w = 0; w < W; w++) {
          memory.copy(q, r, <usize>C << 2);
          memory.fill(q + (<usize>C << 2), 0, <usize>cPad << 2);
          q += <usize>Cd << 2;
          r += <usize>C << 2;
        }
      }
      memory.fill(rowStart + srcRow + ((<usize>(W * cPad)) << 2), 0, <usize>(right * Cd) << 2);
      d += dstRow;
      sp += srcRow;
    }
    memory.fill(d, 0, <usize>bottom * dstRow);
    d += <usize>bottom * dstRow;
  }
}

// ---- batch normalisation (training mode) over the rows of an [M, C] view of an NHWC tensor, C % 4 == 0.
// Channel sums are accumulated per block of 256 rows, then added to the total (error grows with 256 + M/256
// instead of M). Scratch: C floats.

const BLOCK_ROWS = 256;

/**
 * total[c] = Σ_m (x[m, c] − shift[c])^power (power 1 or 2; shift may be 0 for none). Inlined: its two call sites
 * pass constants, so the branches in the inner loop fold away.
 */
// @ts-ignore: decorator
@inline function channelSums(x: usize, M: i32, C: i32, shift: usize, power: i32, total: usize, blk: usize): void {
  const cb = <usize>C << 2;
  memory.fill(total, 0, cb);
  let p = x;
  for (let m0 = 0; m0 < M; m0 += BLOCK_ROWS) {
    const m1 = min(M, m0 + BLOCK_ROWS);
    memory.fill(blk, 0, cb);
    for (let m = m0; m < m1; m++) {
      for (let c: usize = 0; c < cb; c += 16) {
        let v = v128.load(p + c);
        if (shift) v = f32x4.sub(v, v128.load(shift + c));
        if (power == 2) v = f32x4.mul(v, v);
        v128.store(blk + c, f32x4.add(v128.load(blk + c), v));
      }
      p += cb;
    }
    for (let c: usize = 0; c < cb; c += 16) v128.store(total + c, f32x4.add(v128.load(total + c), v128.load(blk + c)));
  }
}

/**
 * y = (x − mean)·γ/√(var + ε) + β over channels, with batch mean and (biased) variance written to mean/variance;
 * relu != 0 applies max(0, ·) in the same pass. Scratch: 2·C floats.
 */
export function batchNormForward(x: usize, M: i32, C: i32, gamma: usize, beta: usize, eps: f32, relu: i32, y: usize, mean: usize, variance: usize, scratch: usize): void {
  const cb = <usize>C << 2;
  const scale = scratch + cb;
  const invM = f32x4.splat(<f32>1 / <f32>M);
  channelSums(x, M, C, 0, 1, mean, scratch);
  for (let c: usize = 0; c < cb; c += 16) v128.store(mean + c, f32x4.mul(v128.load(mean + c), invM));
  channelSums(x, M, C, mean, 2, variance, scratch);
  for (let c: usize = 0; c < cb; c += 16) v128.store(variance + c, f32x4.mul(v128.load(variance + c), invM));
  for (let c: usize = 0; c < cb; c += 4) store<f32>(scale + c, load<f32>(gamma + c) / Mathf.sqrt(load<f32>(variance + c) + eps));
  const zero = f32x4.splat(0);
  let p = x;
  let q = y;
  for (let m = 0; m < M; m++) {
    for (let c: usize = 0; c < cb; c += 16) {
      let v = f32x4.add(f32x4.mul(f32x4.sub(v128.load(p + c), v128.load(mean + c)), v128.load(scale + c)), v128.load(beta + c));
      if (relu) v = f32x4.max(v, zero);
      v128.store(q + c, v);
    }
    p += cb;
    q += cb;
  }
}

/**
 * Batch-norm backward (batch statistics): with dŷ = dy, or dy·[y > 0] when relu != 0 (y: the forward output),
 *   dβ = Σ dŷ,  dγ = Σ dŷ·(x − mean)·rstd,
 *   dx = scale·dŷ + (x − mean)·k + c,  scale = γ·rstd, k = −scale·rstd²·Σ dŷ(x − mean)/M, c = −scale·Σ dŷ/M.
 * Scratch: 4·C floats.
 */
export function batchNormBackward(dy: usize, x: usize, y: usize, relu: i32, M: i32, C: i32, gamma: usize, mean: usize, variance: usize, eps: f32, dx: usize, dgamma: usize, dbeta: usize, scratch: usize): void {
  const cb = <usize>C << 2;
  const blkDy = scratch;
  const blkDyXc = scratch + cb;
  const kv = scratch + 2 * cb;
  const cv = scratch + 3 * cb;
  const zero = f32x4.splat(0);
  memory.fill(dbeta, 0, cb);
  memory.fill(dgamma, 0, cb);
  let pd = dy;
  let px = x;
  let py = y;
  for (let m0 = 0; m0 < M; m0 += BLOCK_ROWS) {
    const m1 = min(M, m0 + BLOCK_ROWS);
    memory.fill(blkDy, 0, 2 * cb);
    for (let m = m0; m < m1; m++) {
      for (let c: usize = 0; c < cb; c += 16) {
        let d = v128.load(pd + c);
        if (relu) d = v128.bitselect(d, zero, f32x4.gt(v128.load(py + c), zero));
        const xc = f32x4.sub(v128.load(px + c), v128.load(mean + c));
        v128.store(blkDy + c, f32x4.add(v128.load(blkDy + c), d));
        v128.store(blkDyXc + c, f32x4.add(v128.load(blkDyXc + c), f32x4.mul(d, xc)));
      }
      pd += cb;
      px += cb;
      py += cb;
    }
    for (let c: usize = 0; c < cb; c += 16) {
      v128.store(dbeta + c, f32x4.add(v128.load(dbeta + c), v128.load(blkDy + c)));
      v128.store(dgamma + c, f32x4.add(v128.load(dgamma + c), v128.load(blkDyXc + c)));
    }
  }
  // per channel: dγ = Σdŷ·xc·rstd; scale, k, c as above (blkDy now holds scale)
  const invM = <f32>1 / <f32>M;
  for (let c: usize = 0; c < cb; c += 4) {
    const rstd = <f32>1 / Mathf.sqrt(load<f32>(variance + c) + eps);
    const scale = load<f32>(gamma + c) * rstd;
    const sdx = load<f32>(dgamma + c);
    const sd = load<f32>(dbeta + c);
    store<f32>(dgamma + c, sdx * rstd);
    store<f32>(blkDy + c, scale);
    store<f32>(kv + c, -scale * rstd * rstd * sdx * invM);
    store<f32>(cv + c, -scale * sd * invM);
  }
  pd = dy;
  px = x;
  py = y;
  let q = dx;
  for (let m = 0; m < M; m++) {
    for (let c: usize = 0; c < cb; c += 16) {
      let d = v128.load(pd + c);
      if (relu) d = v128.bitselect(d, zero, f32x4.gt(v128.load(py + c), zero));
      const xc = f32x4.sub(v128.load(px + c), v128.load(mean + c));
      const v = f32x4.add(f32x4.add(f32x4.mul(d, v128.load(blkDy + c)), f32x4.mul(xc, v128.load(kv + c))), v128.load(cv + c));
      v128.store(q + c, v);
    }
    pd += cb;
    px += cb;
    py += cb;
    q += cb;
  }
}

/** dx = dy where y > 0, else 0 (ReLU backward from its output), n % 4 == 0. */
export function reluBackward(dy: usize, y: usize, n: i32, dx: usize): void {
  const zero = f32x4.splat(0);
  const end = <usize>n << 2;
  for (let i: usize = 0; i < end; i += 16) {
    v128.store(dx + i, v128.bitselect(v128.load(dy + i), zero, f32x4.gt(v128.load(y + i), zero)));
  }
}

/**
 * Transpose of a tensor of 4-byte elements, rank ≤ 6. desc (i32[12]): the output's dims d0..d5 (outermost
 * first, leading 1s for lower ranks) and, per output axis, the input stride in elements s0..s5. The output is
 * written in order; the innermost axis is a vector copy when it is contiguous in the input, else a gather.
 */
export function transpose(src: usize, dst: usize, desc: usize): void {
  const d0 = load<i32>(desc), d1 = load<i32>(desc, 4), d2 = load<i32>(desc, 8);
  const d3 = load<i32>(desc, 12), d4 = load<i32>(desc, 16), d5 = load<i32>(desc, 20);
  const s0 = <usize>load<i32>(desc, 24) << 2, s1 = <usize>load<i32>(desc, 28) << 2, s2 = <usize>load<i32>(desc, 32) << 2;
  const s3 = <usize>load<i32>(desc, 36) << 2, s4 = <usize>load<i32>(desc, 40) << 2, s5 = <usize>load<i32>(desc, 44) << 2;
  const runBytes = <usize>d5 << 2;
  const vectorRun = s5 == 4 && (d5 & 3) == 0;
  let o = dst;
  for (let i0 = 0; i0 < d0; i0++) {
    const p0 = src + <usize>i0 * s0;
    for (let i1 = 0; i1 < d1; i1++) {
      const p1 = p0 + <usize>i1 * s1;
      for (let i2 = 0; i2 < d2; i2++) {
        const p2 = p1 + <usize>i2 * s2;
        for (let i3 = 0; i3 < d3; i3++) {
          const p3 = p2 + <usize>i3 * s3;
          for (let i4 = 0; i4 < d4; i4++) {
            const p4 = p3 + <usize>i4 * s4;
            if (vectorRun) {
              for (let b: usize = 0; b < runBytes; b += 16) v128.store(o + b, v128.load(p4 + b));
            } else if (s5 == 4) {
              memory.copy(o, p4, runBytes);
            } else {
              let p = p4;
              for (let i5 = 0; i5 < d5; i5++) {
                store<u32>(o + (<usize>i5 << 2), load<u32>(p));
                p += s5;
              }
            }
            o += runBytes;
          }
        }
      }
    }
  }
}

/** Rows src, src + stride, +2·stride, +3·stride (4 floats each) stored as 4 columns: dst + 32·j gets column j. */
// @ts-ignore: decorator
@inline function transpose4x4Store(src: usize, stride: usize, dst: usize): void {
  const r0 = v128.load(src), r1 = v128.load(src + stride), r2 = v128.load(src + 2 * stride), r3 = v128.load(src + 3 * stride);
  const t0 = v128.shuffle<f32>(r0, r1, 0, 4, 1, 5), t1 = v128.shuffle<f32>(r0, r1, 2, 6, 3, 7);
  const t2 = v128.shuffle<f32>(r2, r3, 0, 4, 1, 5), t3 = v128.shuffle<f32>(r2, r3, 2, 6, 3, 7);
  v128.store(dst, v128.shuffle<f32>(t0, t2, 0, 1, 4, 5));
  v128.store(dst, v128.shuffle<f32>(t0, t2, 2, 3, 6, 7), 32);
  v128.store(dst, v128.shuffle<f32>(t1, t3, 0, 1, 4, 5), 64);
  v128.store(dst, v128.shuffle<f32>(t1, t3, 2, 3, 6, 7), 96);
}

/**
 * Batched matrix product C[i] = op(A[i]) · op(B[i]) for i < batch, float32, row-major:
 * A[i]: M×K, or K×M when transA != 0 (read transposed in place: no copy), at a + i·strideA (elements);
 * B[i]: K×N, or N×K when transB != 0, at b + i·strideB; C[i]: M×N at c + i·strideC. A stride of 0 broadcasts that operand. bp: scratch of ⌈N/8⌉·8·K + 8 floats, where each B[i] is
 * packed into zero-padded panels of 8 columns; tiles of 4 rows × 8 columns keep 8 vector accumulators.
 */
export function batchMatMul(a: usize, b: usize, c: usize, batch: i32, M: i32, N: i32, K: i32, strideA: i32, strideB: i32, strideC: i32, transA: i32, transB: i32, bp: usize): void {
  const panels = (N + 7) >> 3;
  const panelBytes = <usize>K << 5;
  const tail = bp + <usize>panels * panelBytes; // 8 floats for partial-panel stores
  // A's row m, element k at Ai + m·rowA + k·kStep: row-major [M, K], or [K, M] read transposed
  const rowA: usize = transA ? 4 : <usize>K << 2;
  const kStep: usize = transA ? <usize>M << 2 : 4;
  const runA = <usize>K * kStep;
  const rowC = <usize>N << 2;
  let packedFrom: usize = <usize>-1;
  for (let i = 0; i < batch; i++) {
    const Bi = b + ((<usize>i * <usize>strideB) << 2);
    if (Bi != packedFrom) {
      // pack B[i]: panel p, row k: B[k, 8p .. 8p+7] (zeros past N)
      for (let p = 0; p < panels; p++) {
        const n0 = p << 3;
        const w = min(8, N - n0);
        let d = bp + <usize>p * panelBytes;
        let k = 0;
        if (transB && w == 8) {
          // B[i] is N×K: 4×4 blocks of rows n0..n0+7, columns k..k+3 transposed in registers
          const rowB = <usize>K << 2;
          const r = Bi + (<usize>n0 * rowB);
          for (; k + 4 <= K; k += 4) {
            const src = r + (<usize>k << 2);
            transpose4x4Store(src, rowB, d);
            transpose4x4Store(src + 4 * rowB, rowB, d + 16);
            d += 128;
          }
        }
        for (; k < K; k++) {
          if (transB) {
            for (let j = 0; j < 8; j++) store<f32>(d + (<usize>j << 2), j < w ? load<f32>(Bi + ((<usize>((n0 + j) * K + k)) << 2)) : 0);
          } else if (w == 8) {
            const src = Bi + ((<usize>(k * N + n0)) << 2);
            v128.store(d, v128.load(src));
            v128.store(d, v128.load(src, 16), 16);
          } else {
            for (let j = 0; j < 8; j++) store<f32>(d + (<usize>j << 2), j < w ? load<f32>(Bi + ((<usize>(k * N + n0 + j)) << 2)) : 0);
          }
          d += 32;
        }
      }
      packedFrom = Bi;
    }
    const Ai = a + ((<usize>i * <usize>strideA) << 2);
    const Ci = c + ((<usize>i * <usize>strideC) << 2);
    let m = 0;
    if (transA) {
      for (; m + 4 <= M; m += 4) {
        const a0 = Ai + <usize>m * rowA;
        for (let p = 0; p < panels; p++) tile4x8(a0, rowA, 1, 0, runA, bp + <usize>p * panelBytes, Ci + <usize>m * rowC + (<usize>p << 5), rowC, min(8, N - (p << 3)), tail, kStep);
      }
      for (; m < M; m++) {
        const a0 = Ai + <usize>m * rowA;
        for (let p = 0; p < panels; p++) tile1x8(a0, 1, 0, runA, bp + <usize>p * panelBytes, Ci + <usize>m * rowC + (<usize>p << 5), min(8, N - (p << 3)), tail, kStep);
      }
    } else {
      for (; m + 4 <= M; m += 4) {
        const a0 = Ai + <usize>m * rowA;
        for (let p = 0; p < panels; p++) tile4x8(a0, rowA, 1, 0, runA, bp + <usize>p * panelBytes, Ci + <usize>m * rowC + (<usize>p << 5), rowC, min(8, N - (p << 3)), tail);
      }
      for (; m < M; m++) {
        const a0 = Ai + <usize>m * rowA;
        for (let p = 0; p < panels; p++) tile1x8(a0, 1, 0, runA, bp + <usize>p * panelBytes, Ci + <usize>m * rowC + (<usize>p << 5), min(8, N - (p << 3)), tail);
      }
    }
  }
}

// Stores the first w (≤ 8) floats of [lo, hi] at o (through tmp when w < 8).
// @ts-ignore: decorator
@inline function storeRow(o: usize, lo: v128, hi: v128, w: i32, tmp: usize): void {
  if (w == 8) {
    v128.store(o, lo);
    v128.store(o, hi, 16);
  } else {
    v128.store(tmp, lo);
    v128.store(tmp, hi, 16);
    memory.copy(o, tmp, <usize>w << 2);
  }
}

/**
 * Max-pool 2×2 / stride 2 (no padding) backward: each window's dy goes to its first maximum in row-major order
 * (strictly greater replaces, as the CPU backend), zeros elsewhere. x, dx: [N, H, W, C]; dy: [N, OH, OW, C],
 * OH·2 ≤ H, OW·2 ≤ W, C % 4 == 0. Rows and columns outside every window (odd H or W) are zeroed.
 */
export function maxPool2x2Grad(x: usize, dy: usize, dx: usize, N: i32, H: i32, W: i32, C: i32, OH: i32, OW: i32): void {
  if (OH * 2 < H || OW * 2 < W) memory.fill(dx, 0, <usize>(N * H * W * C) << 2);
  const cb = <usize>C << 2;
  const rowBytes = <usize>(W * C) << 2;
  let g = dy;
  for (let n = 0; n < N; n++) {
    for (let oh = 0; oh < OH; oh++) {
      const rowOff = ((<usize>(n * H + oh * 2)) * rowBytes);
      for (let ow = 0; ow < OW; ow++) {
        const off = rowOff + <usize>(ow * 2) * cb;
        const pa = x + off;
        const qa = dx + off;
        for (let c: usize = 0; c < cb; c += 16) {
          const a = v128.load(pa + c), b = v128.load(pa + c + cb);
          const d = v128.load(pa + c + rowBytes), e = v128.load(pa + c + rowBytes + cb);
          const gv = v128.load(g + c);
          const selB = f32x4.gt(b, a);
          let best = v128.bitselect(b, a, selB);
          const selD = f32x4.gt(d, best);
          best = v128.bitselect(d, best, selD);
          const selE = f32x4.gt(e, best);
          const mE = selE;
          const mD = v128.andnot(selD, selE);
          const mB = v128.andnot(v128.andnot(selB, selD), selE);
          const mA = v128.not(v128.or(v128.or(selB, selD), selE));
          v128.store(qa + c, v128.and(gv, mA));
          v128.store(qa + c + cb, v128.and(gv, mB));
          v128.store(qa + c + rowBytes, v128.and(gv, mD));
          v128.store(qa + c + rowBytes + cb, v128.and(gv, mE));
        }
        g += cb;
      }
    }
  }
}

// ---- bias + activation of dense and convolution outputs ([M, N] view, N any), and their backward pass.

/** y[m, n] = z[m, n] + b[n], then max(0, ·) when relu != 0 (the same two roundings as Add then Relu). */
export function biasAct(z: usize, b: usize, M: i32, N: i32, relu: i32, y: usize): void {
  const zero = f32x4.splat(0);
  const nb = <usize>N << 2;
  const vb = <usize>(N & ~3) << 2;
  let p = z;
  let q = y;
  for (let m = 0; m < M; m++) {
    let c: usize = 0;
    for (; c < vb; c += 16) {
      let v = f32x4.add(v128.load(p + c), v128.load(b + c));
      if (relu) v = f32x4.max(v, zero);
      v128.store(q + c, v);
    }
    for (; c < nb; c += 4) {
      let v = load<f32>(p + c) + load<f32>(b + c);
      if (relu) v = max<f32>(v, 0);
      store<f32>(q + c, v);
    }
    p += nb;
    q += nb;
  }
}

/**
 * Backward of biasAct: dz = dy·[y > 0] (written only when relu != 0; otherwise dz is dy) and db[n] = Σ_m dz[m, n],
 * summed per block of BLOCK_ROWS rows, then added to the total (as the batch-norm sums). Scratch: N floats.
 */
export function biasActBackward(dy: usize, y: usize, M: i32, N: i32, relu: i32, dz: usize, db: usize, blk: usize): void {
  const zero = f32x4.splat(0);
  const nb = <usize>N << 2;
  const vb = <usize>(N & ~3) << 2;
  memory.fill(db, 0, nb);
  let pd = dy;
  let py = y;
  let q = dz;
  for (let m0 = 0; m0 < M; m0 += BLOCK_ROWS) {
    const m1 = min(M, m0 + BLOCK_ROWS);
    memory.fill(blk, 0, nb);
    for (let m = m0; m < m1; m++) {
      let c: usize = 0;
      for (; c < vb; c += 16) {
        let d = v128.load(pd + c);
        if (relu) {
          d = v128.bitselect(d, zero, f32x4.gt(v128.load(py + c), zero));
          v128.store(q + c, d);
        }
        v128.store(blk + c, f32x4.add(v128.load(blk + c), d));
      }
      for (; c < nb; c += 4) {
        let d = load<f32>(pd + c);
        if (relu) {
          if (!(load<f32>(py + c) > 0)) d = 0;
          store<f32>(q + c, d);
        }
        store<f32>(blk + c, load<f32>(blk + c) + d);
      }
      pd += nb;
      py += nb;
      q += nb;
    }
    let c: usize = 0;
    for (; c < vb; c += 16) v128.store(db + c, f32x4.add(v128.load(db + c), v128.load(blk + c)));
    for (; c < nb; c += 4) store<f32>(db + c, load<f32>(db + c) + load<f32>(blk + c));
  }
}

/**
 * One SGD step of one parameter, PyTorch semantics, in the arithmetic order of the tfjs ops it replaces (each
 * product and sum rounded separately, no fused multiply-add, so results equal theirs bit for bit):
 *   g = grad + θ·wd (wd != 0);  g = g·mask (mask != 0);  v = vel·μ + g (vel != 0), else g;
 *   θ' = θ − (mask ? v·mask : v)·lr.  Writes θ' to thetaOut and v to velOut (velOut != 0).
 */
export function sgdStep(theta: usize, grad: usize, vel: usize, mask: usize, n: i32, lr: f32, mu: f32, wd: f32, thetaOut: usize, velOut: usize): void {
  const end = <usize>n << 2;
  const vend = <usize>(n & ~3) << 2;
  const lrv = f32x4.splat(lr), muv = f32x4.splat(mu), wdv = f32x4.splat(wd);
  let i: usize = 0;
  for (; i < vend; i += 16) {
    const t = v128.load(theta + i);
    let g = v128.load(grad + i);
    if (wd != 0) g = f32x4.add(g, f32x4.mul(t, wdv));
    if (mask) g = f32x4.mul(g, v128.load(mask + i));
    const v = vel ? f32x4.add(f32x4.mul(v128.load(vel + i), muv), g) : g;
    const u = mask ? f32x4.mul(v, v128.load(mask + i)) : v;
    v128.store(thetaOut + i, f32x4.sub(t, f32x4.mul(u, lrv)));
    if (velOut) v128.store(velOut + i, v);
  }
  for (; i < end; i += 4) {
    const t = load<f32>(theta + i);
    let g = load<f32>(grad + i);
    if (wd != 0) g = g + t * wd;
    if (mask) g = g * load<f32>(mask + i);
    const v = vel ? load<f32>(vel + i) * mu + g : g;
    const u = mask ? v * load<f32>(mask + i) : v;
    store<f32>(thetaOut + i, t - u * lr);
    if (velOut) store<f32>(velOut + i, v);
  }
}
