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
            for (let row = rb; row < re; row++) {
              const n = row / OH;
              const oh = row - n * OH;
              let a = x + ((<usize>(((n * Hp + oh * s + kh) * Wp + kw) * C + ci)) << 2);
              let b = dy + <usize>row * dyRow + (<usize>p << 5);
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
