// Native x86-64 kernels (AVX2 + FMA, 256-bit vectors) for the GEMM-shaped work of a training step: the dense
// layers' matrix products, the implicit-GEMM convolution (forward and input gradient) and the convolution filter
// gradient. They are drop-in replacements for the AssemblyScript kernels of the same names
// (ml/kernels/assembly/kernels.ts): same arguments, same packed layouts, and they work in place on the tfjs
// WebAssembly backend's heap (its WebAssembly.Memory buffer is passed with every call; offsets are heap bytes).
// Why: WebAssembly SIMD is 128 bits wide, half of what one core's FMA units take on AVX2 machines, so the wasm
// kernels top out at half the core's peak; these reach it. Built by scripts/build-native-kernels.mjs with g++;
// ml/kernels/native.ts loads them when present and the CPU has AVX2 and FMA, otherwise the wasm kernels serve.
#include <node_api.h>
#include <immintrin.h>
#include <cstddef>
#include <cstdint>
#include <cstring>

#define AVX2 __attribute__((target("avx2,fma")))
#define UNROLL _Pragma("GCC unroll 16")

namespace {

// Lanes j < w set: the mask for a partial 8-column panel's store.
AVX2 inline __m256i laneMask(int w) {
  const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(w), idx);
}

// One output tile: MR rows of A × NP panels of 8 columns of packed B, MR·NP vector accumulators in registers,
// reduced over `runs` runs of runLen elements; run r of row i starts at a + i·rowStride + r·runStride and steps by
// kStep; B advances 8 floats per element of A (panel q at b + q·panelStride). Row i goes to out + i·outStride, its
// last panel's first wLast columns only; accumulate adds to what is there.
template <int MR, int NP>
AVX2 void tile(const float* a, ptrdiff_t rowStride, int runs, ptrdiff_t runStride, int runLen, ptrdiff_t kStep,
               const float* b, ptrdiff_t panelStride, float* out, ptrdiff_t outStride, int wLast, bool accumulate) {
  __m256 acc[MR][NP];
  UNROLL for (int i = 0; i < MR; i++) UNROLL for (int q = 0; q < NP; q++) acc[i][q] = _mm256_setzero_ps();
  const float* pb = b;
  for (int r = 0; r < runs; r++) {
    const float* pa = a + r * runStride;
    for (int k = 0; k < runLen; k++) {
      __m256 bv[NP];
      UNROLL for (int q = 0; q < NP; q++) bv[q] = _mm256_loadu_ps(pb + q * panelStride);
      UNROLL for (int i = 0; i < MR; i++) {
        const __m256 av = _mm256_broadcast_ss(pa + i * rowStride);
        UNROLL for (int q = 0; q < NP; q++) acc[i][q] = _mm256_fmadd_ps(av, bv[q], acc[i][q]);
      }
      pa += kStep;
      pb += 8;
    }
  }
  const __m256i mask = laneMask(wLast);
  UNROLL for (int i = 0; i < MR; i++) {
    float* o = out + i * outStride;
    UNROLL for (int q = 0; q < NP; q++) {
      float* oq = o + q * 8;
      if (q == NP - 1 && wLast < 8) {
        __m256 v = acc[i][q];
        if (accumulate) v = _mm256_add_ps(_mm256_maskload_ps(oq, mask), v);
        _mm256_maskstore_ps(oq, mask, v);
      } else {
        __m256 v = acc[i][q];
        if (accumulate) v = _mm256_add_ps(_mm256_loadu_ps(oq), v);
        _mm256_storeu_ps(oq, v);
      }
    }
  }
}

using TileFn = void (*)(const float*, ptrdiff_t, int, ptrdiff_t, int, ptrdiff_t, const float*, ptrdiff_t, float*, ptrdiff_t, int, bool);

// Rows per tile: 6 with two panels (12 accumulators + 2 B vectors + 1 broadcast of the 16 registers), 12 with one.
constexpr int kMaxRows2 = 6;
constexpr int kMaxRows1 = 12;

constexpr TileFn kTiles1[kMaxRows1] = {tile<1, 1>, tile<2, 1>, tile<3, 1>, tile<4, 1>, tile<5, 1>, tile<6, 1>,
                                       tile<7, 1>, tile<8, 1>, tile<9, 1>, tile<10, 1>, tile<11, 1>, tile<12, 1>};
constexpr TileFn kTiles2[kMaxRows2] = {tile<1, 2>, tile<2, 2>, tile<3, 2>, tile<4, 2>, tile<5, 2>, tile<6, 2>};

inline TileFn tileFor(int rows, int panels) { return panels == 2 ? kTiles2[rows - 1] : kTiles1[rows - 1]; }
inline int maxRows(int panels) { return panels == 2 ? kMaxRows2 : kMaxRows1; }

// Splits n rows into the fewest tiles of at most maxRows, as even as possible (32 → 6,6,5,5,5,5 rather than
// five 6s and a 2: a small tile has too few accumulators to hide the FMA latency).
struct RowSplit {
  int tiles, base, extra;
  RowSplit(int n, int maxRows) : tiles((n + maxRows - 1) / maxRows), base(tiles ? n / tiles : 0), extra(tiles ? n % tiles : 0) {}
  int size(int t) const { return base + (t < extra ? 1 : 0); }
};

// Packs B (row-major [K, N], or [N, K] when transB) into zero-padded panels of 8 columns: dst[ceil(N/8)][K][8].
AVX2 void packB(const float* b, int N, int K, bool transB, float* dst) {
  const int panels = (N + 7) >> 3;
  for (int p = 0; p < panels; p++) {
    const int n0 = p * 8;
    const int w = N - n0 < 8 ? N - n0 : 8;
    float* d = dst + static_cast<ptrdiff_t>(p) * K * 8;
    if (!transB) {
      if (w == 8) {
        for (int k = 0; k < K; k++) _mm256_storeu_ps(d + k * 8, _mm256_loadu_ps(b + static_cast<ptrdiff_t>(k) * N + n0));
      } else {
        const __m256i mask = laneMask(w);
        for (int k = 0; k < K; k++) _mm256_storeu_ps(d + k * 8, _mm256_maskload_ps(b + static_cast<ptrdiff_t>(k) * N + n0, mask));
      }
    } else {
      // B is N×K: column k of the panel is 8 rows' element k (zeros past N)
      for (int k = 0; k < K; k++) {
        float* dk = d + k * 8;
        for (int j = 0; j < 8; j++) dk[j] = j < w ? b[static_cast<ptrdiff_t>(n0 + j) * K + k] : 0.0f;
      }
    }
  }
}

constexpr int kBlockK = 256;  // K per pass: two packed panels (16 KiB) stay in L1 while every row tile uses them

// C[i] = op(A[i])·op(B[i]) for each batch entry (strides in elements, 0 broadcasts one matrix); bp: scratch for
// the packed B (ceil(N/8)·8·K floats).
AVX2 void batchMatMul(const float* a, const float* b, float* c, int batch, int M, int N, int K, ptrdiff_t strideA,
                      ptrdiff_t strideB, ptrdiff_t strideC, bool transA, bool transB, float* bp) {
  const int panels = (N + 7) >> 3;
  const ptrdiff_t panelStride = static_cast<ptrdiff_t>(K) * 8;
  // A's row m, element k at m·rowA + k·kStep: row-major [M, K], or [K, M] read transposed in place
  const ptrdiff_t rowA = transA ? 1 : K;
  const ptrdiff_t kStep = transA ? M : 1;
  const float* packedFrom = nullptr;
  for (int i = 0; i < batch; i++) {
    const float* Bi = b + i * strideB;
    if (Bi != packedFrom) {
      packB(Bi, N, K, transB, bp);
      packedFrom = Bi;
    }
    const float* Ai = a + i * strideA;
    float* Ci = c + i * strideC;
    for (int k0 = 0; k0 < K; k0 += kBlockK) {
      const int kc = K - k0 < kBlockK ? K - k0 : kBlockK;
      for (int p0 = 0; p0 < panels; p0 += 2) {
        const int np = panels - p0 >= 2 ? 2 : 1;
        const int wLast = N - (p0 + np - 1) * 8 < 8 ? N - (p0 + np - 1) * 8 : 8;
        const RowSplit split(M, maxRows(np));
        int m0 = 0;
        for (int t = 0; t < split.tiles; t++) {
          const int mr = split.size(t);
          tileFor(mr, np)(Ai + m0 * rowA + k0 * kStep, rowA, 1, 0, kc, kStep, bp + p0 * panelStride + k0 * 8, panelStride,
                          Ci + static_cast<ptrdiff_t>(m0) * N + p0 * 8, N, wLast, k0 > 0);
          m0 += mr;
        }
      }
    }
  }
}

// Implicit-GEMM 2-D convolution on a zero-padded NHWC input (see the AssemblyScript conv2d): out pixel (n, oh, ow)
// at out + n·outImg + oh·outRow + ow·outPix floats; wp: filter packed in 8-channel panels [Cout/8][KH·KW·C][8].
AVX2 void conv2d(const float* x, int N, int Hp, int Wp, int C, const float* wp, int KH, int KW, int s, float* out, int OH,
                 int OW, int Cout, ptrdiff_t outPix, ptrdiff_t outRow, ptrdiff_t outImg) {
  const int K = KH * KW * C;
  const int panels = Cout >> 3;
  const ptrdiff_t panelStride = static_cast<ptrdiff_t>(K) * 8;
  const ptrdiff_t pixStep = static_cast<ptrdiff_t>(s) * C;
  const ptrdiff_t rowStep = static_cast<ptrdiff_t>(Wp) * C;
  const int runLen = KW * C;  // a filter row's KW taps are KW·C contiguous floats of the padded input row
  for (int n = 0; n < N; n++) {
    for (int oh = 0; oh < OH; oh++) {
      float* o = out + n * outImg + oh * outRow;
      const float* rowBase = x + (static_cast<ptrdiff_t>(n) * Hp + static_cast<ptrdiff_t>(oh) * s) * rowStep;
      for (int p0 = 0; p0 < panels; p0 += 2) {
        const int np = panels - p0 >= 2 ? 2 : 1;
        const RowSplit split(OW, maxRows(np));
        int ow = 0;
        for (int t = 0; t < split.tiles; t++) {
          const int mr = split.size(t);
          tileFor(mr, np)(rowBase + ow * pixStep, pixStep, KH, rowStep, runLen, 1, wp + p0 * panelStride, panelStride,
                          o + ow * outPix + p0 * 8, outPix, 8, false);
          ow += mr;
        }
      }
    }
  }
}

// dw[tap, ci..ci+3, co panel(s)] += Σ over the given pixels of x[pixel, tap, ci..ci+3] · dy[pixel, panel(s)]: 4·NP
// accumulators. Pixels come as rows: row r has `perRow` pixels starting at xRow(r) (x step xStep) and dy row r.
template <int NP, typename XRow>
AVX2 void filterTile(XRow xRow, int rows, int perRow, ptrdiff_t xStep, const float* dy, ptrdiff_t dyStride, float* o,
                     ptrdiff_t oStride) {
  __m256 acc[4][NP];
  UNROLL for (int i = 0; i < 4; i++) UNROLL for (int q = 0; q < NP; q++) acc[i][q] = _mm256_setzero_ps();
  const float* pd = dy;
  for (int r = 0; r < rows; r++) {
    const float* pa = xRow(r);
    for (int j = 0; j < perRow; j++) {
      __m256 bv[NP];
      UNROLL for (int q = 0; q < NP; q++) bv[q] = _mm256_loadu_ps(pd + q * 8);
      UNROLL for (int i = 0; i < 4; i++) {
        const __m256 av = _mm256_broadcast_ss(pa + i);
        UNROLL for (int q = 0; q < NP; q++) acc[i][q] = _mm256_fmadd_ps(av, bv[q], acc[i][q]);
      }
      pa += xStep;
      pd += dyStride;
    }
  }
  // the block's partial sums start at zero and are added to dw: rounding grows with the block length plus the
  // number of blocks, not with every pixel of the batch
  UNROLL for (int i = 0; i < 4; i++) UNROLL for (int q = 0; q < NP; q++) {
    float* oq = o + i * oStride + q * 8;
    _mm256_storeu_ps(oq, _mm256_add_ps(_mm256_loadu_ps(oq), acc[i][q]));
  }
}

// Filter gradient as an implicit GEMM over blocks of rowsPerBlock output rows (see the AssemblyScript
// convFilterGrad). C % 4 == 0, Cout % 8 == 0. buf: when non-null, each block's input pixels are first gathered per
// tap into buf (rowsPerBlock·OW·C floats) so the reduction runs over contiguous pixels (convFilterGradGathered).
AVX2 void convFilterGrad(const float* x, int N, int Hp, int Wp, int C, const float* dy, int OH, int OW, int Cout, int KH,
                         int KW, int s, float* dw, int rowsPerBlock, float* buf) {
  std::memset(dw, 0, sizeof(float) * static_cast<size_t>(KH) * KW * C * Cout);
  const int totalRows = N * OH;
  const int panels = Cout >> 3;
  const ptrdiff_t xStep = static_cast<ptrdiff_t>(s) * C;
  const ptrdiff_t dyRow = static_cast<ptrdiff_t>(OW) * Cout;
  for (int rb = 0; rb < totalRows; rb += rowsPerBlock) {
    const int rows = totalRows - rb < rowsPerBlock ? totalRows - rb : rowsPerBlock;
    const float* dyBlock = dy + rb * dyRow;
    for (int kh = 0; kh < KH; kh++) {
      for (int kw = 0; kw < KW; kw++) {
        // padded-input address of tap (kh, kw) for output row rb + r, channel 0
        auto tapRow = [=](int r) {
          const int row = rb + r;
          const int n = row / OH;
          const int oh = row - n * OH;
          return x + ((static_cast<ptrdiff_t>(n) * Hp + static_cast<ptrdiff_t>(oh) * s + kh) * Wp + kw) * C;
        };
        if (buf) {
          float* d = buf;
          for (int r = 0; r < rows; r++) {
            const float* a = tapRow(r);
            for (int ow = 0; ow < OW; ow++, a += xStep, d += C) std::memcpy(d, a, sizeof(float) * C);
          }
        }
        for (int ci = 0; ci < C; ci += 4) {
          float* o = dw + (static_cast<ptrdiff_t>(kh * KW + kw) * C + ci) * Cout;
          for (int p0 = 0; p0 < panels; p0 += 2) {
            const int np = panels - p0 >= 2 ? 2 : 1;
            const float* dyp = dyBlock + p0 * 8;
            if (buf) {
              // the gathered block is one run of rows·OW pixels, C floats apart
              auto gathered = [=](int) { return buf + ci; };
              if (np == 2) filterTile<2>(gathered, 1, rows * OW, C, dyp, Cout, o + p0 * 8, Cout);
              else filterTile<1>(gathered, 1, rows * OW, C, dyp, Cout, o + p0 * 8, Cout);
            } else {
              auto inPlace = [=](int r) { return tapRow(r) + ci; };
              if (np == 2) filterTile<2>(inPlace, rows, OW, xStep, dyp, Cout, o + p0 * 8, Cout);
              else filterTile<1>(inPlace, rows, OW, xStep, dyp, Cout, o + p0 * 8, Cout);
            }
          }
        }
      }
    }
  }
}

// ---- Node-API glue: (memory: ArrayBuffer, ...numbers) ----

struct Args {
  napi_env env;
  napi_value argv[20];
  size_t argc = 20;
  char* heap = nullptr;
  size_t heapBytes = 0;
  bool ok = true;

  Args(napi_env e, napi_callback_info info, size_t expected) : env(e) {
    if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok || argc != expected) {
      napi_throw_type_error(env, nullptr, "unlearn native kernels: wrong number of arguments");
      ok = false;
      return;
    }
    void* data = nullptr;
    if (napi_get_arraybuffer_info(env, argv[0], &data, &heapBytes) != napi_ok || data == nullptr) {
      napi_throw_type_error(env, nullptr, "unlearn native kernels: argument 0 must be the wasm heap's ArrayBuffer");
      ok = false;
      return;
    }
    heap = static_cast<char*>(data);
  }
  int64_t i(size_t k) {
    int64_t v = 0;
    if (ok && napi_get_value_int64(env, argv[k], &v) != napi_ok) {
      napi_throw_type_error(env, nullptr, "unlearn native kernels: expected a number");
      ok = false;
    }
    return v;
  }
  // A heap byte offset as a float pointer (0 → null, for optional buffers).
  float* f(size_t k) {
    const int64_t off = i(k);
    if (!ok) return nullptr;
    if (off < 0 || static_cast<size_t>(off) > heapBytes) {
      napi_throw_range_error(env, nullptr, "unlearn native kernels: heap offset out of range");
      ok = false;
      return nullptr;
    }
    return off == 0 ? nullptr : reinterpret_cast<float*>(heap + off);
  }
};

napi_value BatchMatMul(napi_env env, napi_callback_info info) {
  Args g(env, info, 14);
  float *a = g.f(1), *b = g.f(2), *c = g.f(3);
  const int batch = g.i(4), M = g.i(5), N = g.i(6), K = g.i(7);
  const int64_t sa = g.i(8), sb = g.i(9), sc = g.i(10);
  const bool ta = g.i(11) != 0, tb = g.i(12) != 0;
  float* bp = g.f(13);
  if (g.ok) batchMatMul(a, b, c, batch, M, N, K, sa, sb, sc, ta, tb, bp);
  return nullptr;
}

napi_value Conv2D(napi_env env, napi_callback_info info) {
  Args g(env, info, 17);
  const float* x = g.f(1);
  const int N = g.i(2), Hp = g.i(3), Wp = g.i(4), C = g.i(5);
  const float* wp = g.f(6);
  const int KH = g.i(7), KW = g.i(8), s = g.i(9);
  float* out = g.f(10);
  const int OH = g.i(11), OW = g.i(12), Cout = g.i(13);
  const int64_t pix = g.i(14), row = g.i(15), img = g.i(16);
  if (g.ok) conv2d(x, N, Hp, Wp, C, wp, KH, KW, s, out, OH, OW, Cout, pix / 4, row / 4, img / 4);
  return nullptr;
}

napi_value ConvFilterGrad(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  napi_get_cb_info(env, info, &argc, nullptr, nullptr, nullptr);
  Args g(env, info, argc == 16 ? 16 : 15);
  const float* x = g.f(1);
  const int N = g.i(2), Hp = g.i(3), Wp = g.i(4), C = g.i(5);
  const float* dy = g.f(6);
  const int OH = g.i(7), OW = g.i(8), Cout = g.i(9), KH = g.i(10), KW = g.i(11), s = g.i(12);
  float* dw = g.f(13);
  const int rowsPerBlock = g.i(14);
  float* buf = argc == 16 ? g.f(15) : nullptr;
  if (g.ok) convFilterGrad(x, N, Hp, Wp, C, dy, OH, OW, Cout, KH, KW, s, dw, rowsPerBlock, buf);
  return nullptr;
}

napi_value Supported(napi_env env, napi_callback_info) {
  __builtin_cpu_init();
  napi_value v;
  napi_get_boolean(env, __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"), &v);
  return v;
}

napi_value Init(napi_env env, napi_value exports) {
  const napi_property_descriptor props[] = {
      {"batchMatMul", nullptr, BatchMatMul, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"conv2d", nullptr, Conv2D, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"convFilterGrad", nullptr, ConvFilterGrad, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"supported", nullptr, Supported, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
  return exports;
}

}  // namespace

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
