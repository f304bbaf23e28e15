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
            let c00 = v128.load(o), c01 = v128.load(o, 16);
            let c10 = v128.load(o + cs), c11 = v128.load(o + cs, 16);
            let c20 = v128.load(o + 2 * cs), c21 = v128.load(o + 2 * cs, 16);
            let c30 = v128.load(o + 3 * cs), c31 = v128.load(o + 3 * cs, 16);
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
            v128.store(o, c00); v128.store(o, c01, 16);
            v128.store(o + cs, c10); v128.store(o + cs, c11, 16);
            v128.store(o + 2 * cs, c20); v128.store(o + 2 * cs, c21, 16);
            v128.store(o + 3 * cs, c30); v128.store(o + 3 * cs, c31, 16);
          }
        }
      }
    }
  }
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
 * x: zero-padded NHWC input [N, Hp, Wp, C]; wp: filter packed by packFilter; out: [N, OH, OW, Cout], overwritten.
 * Requires C % 4 == 0 and Cout % 8 == 0. Tiles of 4 neighbouring output pixels × 8 output channels keep
 * 8 vector accumulators in registers; pixel addresses advance by pointer increments (no divisions).
 */
export function conv2d(
  x: usize, N: i32, Hp: i32, Wp: i32, C: i32,
  wp: usize, KH: i32, KW: i32, s: i32,
  out: usize, OH: i32, OW: i32, Cout: i32,
): void {
  const K = KH * KW * C;
  const panels = Cout >> 3;
  const pixStep = <usize>(s * C) << 2;
  const rowStep = <usize>(Wp * C) << 2;
  const cs = <usize>Cout << 2;
  const panelBytes = <usize>K << 5;
  let o = out;
  for (let n = 0; n < N; n++) {
    for (let oh = 0; oh < OH; oh++) {
      const rowBase = x + ((<usize>((n * Hp + oh * s) * Wp * C)) << 2);
      let ow = 0;
      for (; ow + 4 <= OW; ow += 4) {
        const p0 = rowBase + <usize>ow * pixStep;
        for (let p = 0; p < panels; p++) {
          let b = wp + <usize>p * panelBytes;
          let c00 = f32x4.splat(0), c01 = f32x4.splat(0), c10 = f32x4.splat(0), c11 = f32x4.splat(0);
          let c20 = f32x4.splat(0), c21 = f32x4.splat(0), c30 = f32x4.splat(0), c31 = f32x4.splat(0);
          for (let kh = 0; kh < KH; kh++) {
            // the KW taps of one filter row are KW·C contiguous floats of the padded input row
            let a = p0 + <usize>kh * rowStep;
            const end = a + (<usize>(KW * C) << 2);
            {
              while (a < end) {
                const b0 = v128.load(b), b1 = v128.load(b, 16);
                const x0 = v128.load32_splat(a);
                c00 = madd(x0, b0, c00); c01 = madd(x0, b1, c01);
                const x1 = v128.load32_splat(a + pixStep);
                c10 = madd(x1, b0, c10); c11 = madd(x1, b1, c11);
                const x2 = v128.load32_splat(a + 2 * pixStep);
                c20 = madd(x2, b0, c20); c21 = madd(x2, b1, c21);
                const x3 = v128.load32_splat(a + 3 * pixStep);
                c30 = madd(x3, b0, c30); c31 = madd(x3, b1, c31);
                a += 4;
                b += 32;
              }
            }
          }
          const d = o + (<usize>p << 5);
          v128.store(d, c00); v128.store(d, c01, 16);
          v128.store(d + cs, c10); v128.store(d + cs, c11, 16);
          v128.store(d + 2 * cs, c20); v128.store(d + 2 * cs, c21, 16);
          v128.store(d + 3 * cs, c30); v128.store(d + 3 * cs, c31, 16);
        }
        o += 4 * cs;
      }
      for (; ow < OW; ow++) {
        const p0 = rowBase + <usize>ow * pixStep;
        for (let p = 0; p < panels; p++) {
          let b = wp + <usize>p * panelBytes;
          let c00 = f32x4.splat(0), c01 = f32x4.splat(0);
          for (let kh = 0; kh < KH; kh++) {
            let a = p0 + <usize>kh * rowStep;
            const end = a + (<usize>(KW * C) << 2);
            while (a < end) {
              const x0 = v128.load32_splat(a);
              c00 = madd(x0, v128.load(b), c00); c01 = madd(x0, v128.load(b, 16), c01);
              a += 4;
              b += 32;
            }
          }
          const d = o + (<usize>p << 5);
          v128.store(d, c00); v128.store(d, c01, 16);
        }
        o += cs;
      }
    }
  }
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
