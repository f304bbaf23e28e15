// Native x86-64 kernels (AVX2 + FMA, 256-bit vectors) for the GEMM-shaped work of a training step: the dense
// layers' matrix products, the implicit-GEMM convolution (forward and input gradient), the convolution filter
// gradient, and batch norm at C % 8 == 0. They are drop-in replacements for the AssemblyScript kernels of the same names
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

// Calls f(p0, np, r0, mr) for every tile of `rows` rows × `panels` 8-column panels: panels in pairs (a lone last
// one alone), each pair's rows split evenly into tiles of at most maxRows(np). The one loop nest of every kernel here.
template <typename F>
inline void forEachTile(int rows, int panels, F f) {
  for (int p0 = 0; p0 < panels; p0 += 2) {
    const int np = panels - p0 >= 2 ? 2 : 1;
    const RowSplit split(rows, maxRows(np));
    for (int t = 0, r0 = 0; t < split.tiles; r0 += split.size(t), t++) f(p0, np, r0, split.size(t));
  }
}

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
      forEachTile(M, panels, [&](int p0, int np, int m0, int mr) {
        const int wLast = N - (p0 + np - 1) * 8 < 8 ? N - (p0 + np - 1) * 8 : 8;
        tileFor(mr, np)(Ai + m0 * rowA + k0 * kStep, rowA, 1, 0, kc, kStep, bp + p0 * panelStride + k0 * 8, panelStride,
                        Ci + static_cast<ptrdiff_t>(m0) * N + p0 * 8, N, wLast, k0 > 0);
      });
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
      forEachTile(OW, panels, [&](int p0, int np, int ow, int mr) {
        tileFor(mr, np)(rowBase + ow * pixStep, pixStep, KH, rowStep, runLen, 1, wp + p0 * panelStride, panelStride,
                        o + ow * outPix + p0 * 8, outPix, 8, false);
      });
    }
  }
}

// dw[MR consecutive K-rows, co panel(s)] += Σ over the given pixels of x[pixel, K-row] · dy[pixel, panel(s)]: MR·NP
// accumulators. A K-row is a (tap, input channel) pair whose floats sit next to each other at every pixel (the
// channels of one tap, or the KW·C floats of one filter row of the padded input). Pixels come as rows: row r has
// perRow pixels starting at rowPtr[r] + off, xStep floats apart; dy rows follow each other (dyStride per pixel).
template <int MR, int NP>
AVX2 void filterTile(const float* const* rowPtr, int rows, int perRow, ptrdiff_t xStep, ptrdiff_t off, const float* dy,
                     ptrdiff_t dyStride, float* o, ptrdiff_t oStride) {
  __m256 acc[MR][NP];
  UNROLL for (int i = 0; i < MR; i++) UNROLL for (int q = 0; q < NP; q++) acc[i][q] = _mm256_setzero_ps();
  const float* pd = dy;
  for (int r = 0; r < rows; r++) {
    const float* pa = rowPtr[r] + off;
    for (int j = 0; j < perRow; j++) {
      __m256 bv[NP];
      UNROLL for (int q = 0; q < NP; q++) bv[q] = _mm256_loadu_ps(pd + q * 8);
      UNROLL for (int i = 0; i < MR; i++) {
        const __m256 av = _mm256_broadcast_ss(pa + i);
        UNROLL for (int q = 0; q < NP; q++) acc[i][q] = _mm256_fmadd_ps(av, bv[q], acc[i][q]);
      }
      pa += xStep;
      pd += dyStride;
    }
  }
  // the block's partial sums start at zero and are added to dw: rounding grows with the block length plus the
  // number of blocks, not with every pixel of the batch
  UNROLL for (int i = 0; i < MR; i++) UNROLL for (int q = 0; q < NP; q++) {
    float* oq = o + i * oStride + q * 8;
    _mm256_storeu_ps(oq, _mm256_add_ps(_mm256_loadu_ps(oq), acc[i][q]));
  }
}

using FilterTileFn = void (*)(const float* const*, int, int, ptrdiff_t, ptrdiff_t, const float*, ptrdiff_t, float*, ptrdiff_t);
constexpr FilterTileFn kFilterTiles1[kMaxRows1] = {filterTile<1, 1>, filterTile<2, 1>, filterTile<3, 1>, filterTile<4, 1>,
                                                   filterTile<5, 1>, filterTile<6, 1>, filterTile<7, 1>, filterTile<8, 1>,
                                                   filterTile<9, 1>, filterTile<10, 1>, filterTile<11, 1>, filterTile<12, 1>};
constexpr FilterTileFn kFilterTiles2[kMaxRows2] = {filterTile<1, 2>, filterTile<2, 2>, filterTile<3, 2>,
                                                   filterTile<4, 2>, filterTile<5, 2>, filterTile<6, 2>};

// Reduces `rows` rows of pixels (see filterTile) into dw rows [k0, k0 + kRows) for every output-channel panel.
AVX2 void filterRows(const float* const* rowPtr, int rows, int perRow, ptrdiff_t xStep, int kRows, const float* dy, int Cout,
                     float* dw) {
  forEachTile(kRows, Cout >> 3, [&](int p0, int np, int k, int mr) {
    (np == 2 ? kFilterTiles2 : kFilterTiles1)[mr - 1](rowPtr, rows, perRow, xStep, k, dy + p0 * 8, Cout,
                                                    dw + static_cast<ptrdiff_t>(k) * Cout + p0 * 8, Cout);
  });
}

constexpr int kMaxBlockRows = 256;

// Filter gradient as an implicit GEMM over blocks of rowsPerBlock output rows (see the AssemblyScript
// convFilterGrad): dw[K, Cout] with K = KH·KW·C, Cout % 8 == 0. In place, each filter row's KW·C floats are K-rows
// next to each other at every pixel, so tiles of up to 6 (two panels) or 12 K-rows reduce over the block's pixels.
// buf (convFilterGradGathered): each block's input pixels are first gathered per tap into buf (rowsPerBlock·OW·C
// floats), so the reduction runs over contiguous pixels (short rows and strided layers), tiles over that tap's C.
AVX2 void convFilterGrad(const float* x, int N, int Hp, int Wp, int C, const float* dy, int OH, int OW, int Cout, int KH,
                         int KW, int s, float* dw, int rowsPerBlock, float* buf) {
  std::memset(dw, 0, sizeof(float) * static_cast<size_t>(KH) * KW * C * Cout);
  if (rowsPerBlock > kMaxBlockRows) rowsPerBlock = kMaxBlockRows;
  const int totalRows = N * OH;
  const ptrdiff_t xStep = static_cast<ptrdiff_t>(s) * C;
  const ptrdiff_t dyRow = static_cast<ptrdiff_t>(OW) * Cout;
  const float* rowPtr[kMaxBlockRows];
  for (int rb = 0; rb < totalRows; rb += rowsPerBlock) {
    const int rows = totalRows - rb < rowsPerBlock ? totalRows - rb : rowsPerBlock;
    const float* dyBlock = dy + rb * dyRow;
    for (int kh = 0; kh < KH; kh++) {
      // padded-input address of (tap row kh, kw = 0, channel 0) for each output row of the block
      for (int r = 0; r < rows; r++) {
        const int row = rb + r;
        const int n = row / OH;
        const int oh = row - n * OH;
        rowPtr[r] = x + ((static_cast<ptrdiff_t>(n) * Hp + static_cast<ptrdiff_t>(oh) * s + kh) * Wp) * C;
      }
      float* dwRow = dw + static_cast<ptrdiff_t>(kh) * KW * C * Cout;
      if (!buf) {
        filterRows(rowPtr, rows, OW, xStep, KW * C, dyBlock, Cout, dwRow);
        continue;
      }
      for (int kw = 0; kw < KW; kw++) {
        float* d = buf;
        for (int r = 0; r < rows; r++) {
          const float* a = rowPtr[r] + kw * C;
          if (C % 8 == 0) {
            for (int ow = 0; ow < OW; ow++, a += xStep, d += C)
              for (int c = 0; c < C; c += 8) _mm256_storeu_ps(d + c, _mm256_loadu_ps(a + c));
          } else if (C % 4 == 0) {
            for (int ow = 0; ow < OW; ow++, a += xStep, d += C)
              for (int c = 0; c < C; c += 4) _mm_storeu_ps(d + c, _mm_loadu_ps(a + c));
          } else {
            for (int ow = 0; ow < OW; ow++, a += xStep, d += C) std::memcpy(d, a, sizeof(float) * C);
          }
        }
        const float* gathered = buf;
        filterRows(&gathered, 1, rows * OW, C, C, dyBlock, Cout, dwRow + static_cast<ptrdiff_t>(kw) * C * Cout);
      }
    }
  }
}

// ---- batch normalisation (training mode) over the rows of an [M, C] view of an NHWC tensor, C % 8 == 0: the
// AssemblyScript kernels' passes and arithmetic order at twice the vector width. Channel sums are accumulated per
// block of 256 rows, then added to the total (error grows with 256 + M/256 instead of M).
constexpr int kBnBlockRows = 256;

// total[c] = Σ_m (x[m, c] − shift[c])^POWER (shift null: none); blk: C floats of scratch.
template <int POWER>
AVX2 void channelSums(const float* x, int M, int C, const float* shift, float* total, float* blk) {
  std::memset(total, 0, sizeof(float) * C);
  const float* p = x;
  for (int m0 = 0; m0 < M; m0 += kBnBlockRows) {
    const int m1 = M < m0 + kBnBlockRows ? M : m0 + kBnBlockRows;
    std::memset(blk, 0, sizeof(float) * C);
    for (int m = m0; m < m1; m++, p += C) {
      for (int c = 0; c < C; c += 8) {
        __m256 v = _mm256_loadu_ps(p + c);
        if (shift) v = _mm256_sub_ps(v, _mm256_loadu_ps(shift + c));
        if (POWER == 2) v = _mm256_mul_ps(v, v);
        _mm256_storeu_ps(blk + c, _mm256_add_ps(_mm256_loadu_ps(blk + c), v));
      }
    }
    for (int c = 0; c < C; c += 8) _mm256_storeu_ps(total + c, _mm256_add_ps(_mm256_loadu_ps(total + c), _mm256_loadu_ps(blk + c)));
  }
}

// y = (x − mean)·γ/√(var + ε) + β (then ReLU), batch mean and biased variance written out. Scratch: 2·C floats.
AVX2 void batchNormForward(const float* x, int M, int C, const float* gamma, const float* beta, float eps, bool relu, float* y,
                           float* mean, float* variance, float* scratch) {
  float* scale = scratch + C;
  const __m256 invM = _mm256_set1_ps(1.0f / static_cast<float>(M));
  channelSums<1>(x, M, C, nullptr, mean, scratch);
  for (int c = 0; c < C; c += 8) _mm256_storeu_ps(mean + c, _mm256_mul_ps(_mm256_loadu_ps(mean + c), invM));
  channelSums<2>(x, M, C, mean, variance, scratch);
  for (int c = 0; c < C; c += 8) _mm256_storeu_ps(variance + c, _mm256_mul_ps(_mm256_loadu_ps(variance + c), invM));
  for (int c = 0; c < C; c++) scale[c] = gamma[c] / __builtin_sqrtf(variance[c] + eps);
  const __m256 zero = _mm256_setzero_ps();
  const float* p = x;
  float* q = y;
  for (int m = 0; m < M; m++, p += C, q += C) {
    for (int c = 0; c < C; c += 8) {
      __m256 v = _mm256_add_ps(_mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(p + c), _mm256_loadu_ps(mean + c)), _mm256_loadu_ps(scale + c)),
                               _mm256_loadu_ps(beta + c));
      if (relu) v = _mm256_max_ps(v, zero);
      _mm256_storeu_ps(q + c, v);
    }
  }
}

// Batch-norm backward (batch statistics), dŷ = dy or dy·[y > 0] (relu): dβ = Σ dŷ, dγ = Σ dŷ·(x − mean)·rstd,
// dx = scale·dŷ + (x − mean)·k + c with scale = γ·rstd, k = −scale·rstd²·Σ dŷ(x − mean)/M, c = −scale·Σ dŷ/M.
// Scratch: 4·C floats.
AVX2 void batchNormBackward(const float* dy, const float* x, const float* y, bool relu, int M, int C, const float* gamma,
                            const float* mean, const float* variance, float eps, float* dx, float* dgamma, float* dbeta,
                            float* scratch) {
  float* blkDy = scratch;
  float* blkDyXc = scratch + C;
  float* kv = scratch + 2 * C;
  float* cv = scratch + 3 * C;
  const __m256 zero = _mm256_setzero_ps();
  std::memset(dbeta, 0, sizeof(float) * C);
  std::memset(dgamma, 0, sizeof(float) * C);
  const float *pd = dy, *px = x, *py = y;
  for (int m0 = 0; m0 < M; m0 += kBnBlockRows) {
    const int m1 = M < m0 + kBnBlockRows ? M : m0 + kBnBlockRows;
    std::memset(blkDy, 0, sizeof(float) * 2 * C);
    for (int m = m0; m < m1; m++, pd += C, px += C, py += C) {
      for (int c = 0; c < C; c += 8) {
        __m256 d = _mm256_loadu_ps(pd + c);
        if (relu) d = _mm256_and_ps(d, _mm256_cmp_ps(_mm256_loadu_ps(py + c), zero, _CMP_GT_OQ));
        const __m256 xc = _mm256_sub_ps(_mm256_loadu_ps(px + c), _mm256_loadu_ps(mean + c));
        _mm256_storeu_ps(blkDy + c, _mm256_add_ps(_mm256_loadu_ps(blkDy + c), d));
        _mm256_storeu_ps(blkDyXc + c, _mm256_add_ps(_mm256_loadu_ps(blkDyXc + c), _mm256_mul_ps(d, xc)));
      }
    }
    for (int c = 0; c < C; c += 8) {
      _mm256_storeu_ps(dbeta + c, _mm256_add_ps(_mm256_loadu_ps(dbeta + c), _mm256_loadu_ps(blkDy + c)));
      _mm256_storeu_ps(dgamma + c, _mm256_add_ps(_mm256_loadu_ps(dgamma + c), _mm256_loadu_ps(blkDyXc + c)));
    }
  }
  const float invM = 1.0f / static_cast<float>(M);
  for (int c = 0; c < C; c++) {
    const float rstd = 1.0f / __builtin_sqrtf(variance[c] + eps);
    const float scale = gamma[c] * rstd;
    const float sdx = dgamma[c];
    const float sd = dbeta[c];
    dgamma[c] = sdx * rstd;
    blkDy[c] = scale;
    kv[c] = -scale * rstd * rstd * sdx * invM;
    cv[c] = -scale * sd * invM;
  }
  pd = dy;
  px = x;
  py = y;
  float* q = dx;
  for (int m = 0; m < M; m++, pd += C, px += C, py += C, q += C) {
    for (int c = 0; c < C; c += 8) {
      __m256 d = _mm256_loadu_ps(pd + c);
      if (relu) d = _mm256_and_ps(d, _mm256_cmp_ps(_mm256_loadu_ps(py + c), zero, _CMP_GT_OQ));
      const __m256 xc = _mm256_sub_ps(_mm256_loadu_ps(px + c), _mm256_loadu_ps(mean + c));
      const __m256 v = _mm256_add_ps(_mm256_add_ps(_mm256_mul_ps(d, _mm256_loadu_ps(blkDy + c)), _mm256_mul_ps(xc, _mm256_loadu_ps(kv + c))),
                                     _mm256_loadu_ps(cv + c));
      _mm256_storeu_ps(q + c, v);
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

  // minArgs..maxArgs arguments (maxArgs 0: exactly minArgs); a caller with an optional trailing one reads argc
  Args(napi_env e, napi_callback_info info, size_t minArgs, size_t maxArgs = 0) : env(e) {
    if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok || argc < minArgs || argc > (maxArgs ? maxArgs : minArgs)) {
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
  template <typename T, napi_status (*Get)(napi_env, napi_value, T*)>
  T number(size_t k) {
    T v = 0;
    if (ok && Get(env, argv[k], &v) != napi_ok) {
      napi_throw_type_error(env, nullptr, "unlearn native kernels: expected a number");
      ok = false;
    }
    return v;
  }
  double d(size_t k) { return number<double, napi_get_value_double>(k); }
  int64_t i(size_t k) { return number<int64_t, napi_get_value_int64>(k); }
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
  Args g(env, info, 15, 16);  // convFilterGrad, or convFilterGradGathered with its gather buffer
  const float* x = g.f(1);
  const int N = g.i(2), Hp = g.i(3), Wp = g.i(4), C = g.i(5);
  const float* dy = g.f(6);
  const int OH = g.i(7), OW = g.i(8), Cout = g.i(9), KH = g.i(10), KW = g.i(11), s = g.i(12);
  float* dw = g.f(13);
  const int rowsPerBlock = g.i(14);
  float* buf = g.argc == 16 ? g.f(15) : nullptr;
  if (g.ok) convFilterGrad(x, N, Hp, Wp, C, dy, OH, OW, Cout, KH, KW, s, dw, rowsPerBlock, buf);
  return nullptr;
}

napi_value BatchNormForward(napi_env env, napi_callback_info info) {
  Args g(env, info, 12);
  const float *x = g.f(1);
  const int M = g.i(2), C = g.i(3);
  const float *gamma = g.f(4), *beta = g.f(5);
  const float eps = static_cast<float>(g.d(6));
  const bool relu = g.i(7) != 0;
  float *y = g.f(8), *mean = g.f(9), *variance = g.f(10), *scratch = g.f(11);
  if (g.ok) batchNormForward(x, M, C, gamma, beta, eps, relu, y, mean, variance, scratch);
  return nullptr;
}

napi_value BatchNormBackward(napi_env env, napi_callback_info info) {
  Args g(env, info, 15);
  const float *dy = g.f(1), *x = g.f(2), *y = g.f(3);
  const bool relu = g.i(4) != 0;
  const int M = g.i(5), C = g.i(6);
  const float *gamma = g.f(7), *mean = g.f(8), *variance = g.f(9);
  const float eps = static_cast<float>(g.d(10));
  float *dx = g.f(11), *dgamma = g.f(12), *dbeta = g.f(13), *scratch = g.f(14);
  if (g.ok) batchNormBackward(dy, x, y, relu, M, C, gamma, mean, variance, eps, dx, dgamma, dbeta, scratch);
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
      {"batchNormForward", nullptr, BatchNormForward, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"batchNormBackward", nullptr, BatchNormBackward, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"supported", nullptr, Supported, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
  return exports;
}

}  // namespace

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
