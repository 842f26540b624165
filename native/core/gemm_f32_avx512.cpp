// gemm_f32_avx512.cpp — AVX-512 kernels of the fp32 GEMM (compiled with -mavx512f … -mfma).
// Layouts: see gemm_f32.h. Micro-tile 14×32: 28 zmm accumulators, 2 zmm of B, 2 for broadcasts.
#include <immintrin.h>

#include "gemm_f32.h"
#include "gemm_f32_pack_x86.h"

namespace llmc {
namespace gemm {
namespace {

constexpr int MR = kAvx512MR, NR = kAvx512NR;

inline __mmask16 tail_mask(int64_t n) { return n >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << n) - 1u); }

// Σ over the 4 B rows × NI A rows of dot products along k, written with alpha/beta.
template <int NI>
void dots_4xNI(int64_t k, float alpha, const float* const* arow, const float* const* brow, float beta,
               float* const* crow, int nj) {
  __m512 acc[NI][4];
#pragma GCC unroll 4
  for (int i = 0; i < NI; ++i)
#pragma GCC unroll 4
    for (int j = 0; j < 4; ++j) acc[i][j] = _mm512_setzero_ps();
  int64_t p = 0;
  for (; p + 16 <= k; p += 16) {
    __m512 bv[4];
#pragma GCC unroll 4
    for (int j = 0; j < 4; ++j) bv[j] = _mm512_loadu_ps(brow[j] + p);
#pragma GCC unroll 4
    for (int i = 0; i < NI; ++i) {
      const __m512 av = _mm512_loadu_ps(arow[i] + p);
#pragma GCC unroll 4
      for (int j = 0; j < 4; ++j) acc[i][j] = _mm512_fmadd_ps(av, bv[j], acc[i][j]);
    }
  }
  if (p < k) {
    const __mmask16 mask = tail_mask(k - p);
    __m512 bv[4];
#pragma GCC unroll 4
    for (int j = 0; j < 4; ++j) bv[j] = _mm512_maskz_loadu_ps(mask, brow[j] + p);
#pragma GCC unroll 4
    for (int i = 0; i < NI; ++i) {
      const __m512 av = _mm512_maskz_loadu_ps(mask, arow[i] + p);
#pragma GCC unroll 4
      for (int j = 0; j < 4; ++j) acc[i][j] = _mm512_fmadd_ps(av, bv[j], acc[i][j]);
    }
  }
#pragma GCC unroll 4
  for (int i = 0; i < NI; ++i)
#pragma GCC unroll 4
    for (int j = 0; j < 4; ++j) {
      if (j < nj) {
        const float dot = alpha * _mm512_reduce_add_ps(acc[i][j]);
        crow[i][j] = beta == 0.0f ? dot : dot + beta * crow[i][j];
      }
    }
}

#include "gemm_f32_small_nt.h"

}  // namespace

void micro_avx512(int64_t kc, const float* ap, const float* bp, float* c, int64_t ldc, int mr_eff, int nr_eff,
                  int accumulate) {
  // The C tile is read at the end: start fetching it now so that it arrives during the k loop.
  if (accumulate) {
    for (int i = 0; i < mr_eff; ++i) {
      _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc), _MM_HINT_T0);
      _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc + 16), _MM_HINT_T0);
    }
  }
  __m512 acc[MR][2];
#pragma GCC unroll 14
  for (int i = 0; i < MR; ++i) acc[i][0] = acc[i][1] = _mm512_setzero_ps();
#pragma GCC unroll 2
  for (int64_t p = 0; p < kc; ++p) {
    const __m512 b0 = _mm512_load_ps(bp), b1 = _mm512_load_ps(bp + 16);
    _mm_prefetch(reinterpret_cast<const char*>(ap + 8 * MR), _MM_HINT_T0);
#pragma GCC unroll 14
    for (int i = 0; i < MR; ++i) {
      const __m512 a = _mm512_set1_ps(ap[i]);
      acc[i][0] = _mm512_fmadd_ps(a, b0, acc[i][0]);
      acc[i][1] = _mm512_fmadd_ps(a, b1, acc[i][1]);
    }
    ap += MR;
    bp += NR;
  }
  const __mmask16 m0 = tail_mask(nr_eff), m1 = tail_mask(nr_eff - 16 > 0 ? nr_eff - 16 : 0);
#pragma GCC unroll 14
  for (int i = 0; i < MR; ++i) {
    if (i < mr_eff) {
      float* row = c + i * ldc;
      __m512 v0 = acc[i][0], v1 = acc[i][1];
      if (accumulate) {
        v0 = _mm512_add_ps(v0, _mm512_maskz_loadu_ps(m0, row));
        v1 = _mm512_add_ps(v1, _mm512_maskz_loadu_ps(m1, row + 16));
      }
      _mm512_mask_storeu_ps(row, m0, v0);
      _mm512_mask_storeu_ps(row + 16, m1, v1);
    }
  }
}

void small_nt_avx512(int64_t m, int64_t j0, int64_t j1, int64_t k, float alpha, const float* a, int64_t lda,
                     const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  small_nt_rows<4>(m, j0, j1, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

float fma_peak_avx512(int64_t iters) {
  // 24 independent chains: FMA latency (4 cycles) × 2 pipes needs at least 8 in flight.
  __m512 acc[24];
  for (int i = 0; i < 24; ++i) acc[i] = _mm512_set1_ps(1.0f + 0.001f * static_cast<float>(i));
  const __m512 x = _mm512_set1_ps(0.9999999f), y = _mm512_set1_ps(1e-7f);
  for (int64_t it = 0; it < iters; ++it) {
#pragma GCC unroll 24
    for (int i = 0; i < 24; ++i) acc[i] = _mm512_fmadd_ps(acc[i], x, y);
  }
  __m512 s = acc[0];
  for (int i = 1; i < 24; ++i) s = _mm512_add_ps(s, acc[i]);
  return _mm512_reduce_add_ps(s);
}

void pack_t_avx512(const float* src, int64_t ld, int rows, int64_t kc, float scale, float* dst, int width) {
  pack_transposed(src, ld, rows, kc, scale, dst, width);
}

}  // namespace gemm
}  // namespace llmc
