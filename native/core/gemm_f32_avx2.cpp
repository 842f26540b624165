// gemm_f32_avx2.cpp — AVX2 + FMA kernels of the fp32 GEMM (compiled with -mavx2 -mfma -mf16c).
// Layouts: see gemm_f32.h. Micro-tile 6×16: 12 ymm accumulators, 2 ymm of B, 1-2 for broadcasts.
#include <immintrin.h>

#include "gemm_f32.h"
#include "gemm_f32_pack_x86.h"

namespace llmc {
namespace gemm {
namespace {

constexpr int MR = kAvx2MR, NR = kAvx2NR;

inline float hsum(__m256 v) {
  const __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  const __m128 t = _mm_add_ps(s, _mm_movehl_ps(s, s));
  return _mm_cvtss_f32(_mm_add_ss(t, _mm_shuffle_ps(t, t, 1)));
}

// Mask of the first n (<= 8; none when n <= 0) lanes, for maskload/maskstore.
inline __m256i lane_mask(int64_t n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

template <int NI>
void dots_4xNI(int64_t k, float alpha, const float* const* arow, const float* const* brow, float beta,
               float* const* crow, int nj) {
  __m256 acc[NI][4];
#pragma GCC unroll 2
  for (int i = 0; i < NI; ++i)
#pragma GCC unroll 4
    for (int j = 0; j < 4; ++j) acc[i][j] = _mm256_setzero_ps();
  int64_t p = 0;
  for (; p + 8 <= k; p += 8) {
    __m256 bv[4];
#pragma GCC unroll 4
    for (int j = 0; j < 4; ++j) bv[j] = _mm256_loadu_ps(brow[j] + p);
#pragma GCC unroll 2
    for (int i = 0; i < NI; ++i) {
      const __m256 av = _mm256_loadu_ps(arow[i] + p);
#pragma GCC unroll 4
      for (int j = 0; j < 4; ++j) acc[i][j] = _mm256_fmadd_ps(av, bv[j], acc[i][j]);
    }
  }
  if (p < k) {
    const __m256i mask = lane_mask(k - p);
    __m256 bv[4];
#pragma GCC unroll 4
    for (int j = 0; j < 4; ++j) bv[j] = _mm256_maskload_ps(brow[j] + p, mask);
#pragma GCC unroll 2
    for (int i = 0; i < NI; ++i) {
      const __m256 av = _mm256_maskload_ps(arow[i] + p, mask);
#pragma GCC unroll 4
      for (int j = 0; j < 4; ++j) acc[i][j] = _mm256_fmadd_ps(av, bv[j], acc[i][j]);
    }
  }
#pragma GCC unroll 2
  for (int i = 0; i < NI; ++i)
#pragma GCC unroll 4
    for (int j = 0; j < 4; ++j) {
      if (j < nj) {
        const float dot = alpha * hsum(acc[i][j]);
        crow[i][j] = beta == 0.0f ? dot : dot + beta * crow[i][j];
      }
    }
}

#include "gemm_f32_small_nt.h"

}  // namespace

void micro_avx2(int64_t kc, const float* ap, const float* bp, float* c, int64_t ldc, int mr_eff, int nr_eff,
                int accumulate) {
  __m256 acc[MR][2];
#pragma GCC unroll 6
  for (int i = 0; i < MR; ++i) acc[i][0] = acc[i][1] = _mm256_setzero_ps();
#pragma GCC unroll 2
  for (int64_t p = 0; p < kc; ++p) {
    const __m256 b0 = _mm256_load_ps(bp), b1 = _mm256_load_ps(bp + 8);
#pragma GCC unroll 6
    for (int i = 0; i < MR; ++i) {
      const __m256 a = _mm256_broadcast_ss(ap + i);
      acc[i][0] = _mm256_fmadd_ps(a, b0, acc[i][0]);
      acc[i][1] = _mm256_fmadd_ps(a, b1, acc[i][1]);
    }
    ap += MR;
    bp += NR;
  }
  if (mr_eff == MR && nr_eff == NR) {
#pragma GCC unroll 6
    for (int i = 0; i < MR; ++i) {
      float* row = c + i * ldc;
      __m256 v0 = acc[i][0], v1 = acc[i][1];
      if (accumulate) {
        v0 = _mm256_add_ps(v0, _mm256_loadu_ps(row));
        v1 = _mm256_add_ps(v1, _mm256_loadu_ps(row + 8));
      }
      _mm256_storeu_ps(row, v0);
      _mm256_storeu_ps(row + 8, v1);
    }
    return;
  }
  alignas(32) float tile[MR * NR];
#pragma GCC unroll 6
  for (int i = 0; i < MR; ++i) {
    _mm256_store_ps(tile + i * NR, acc[i][0]);
    _mm256_store_ps(tile + i * NR + 8, acc[i][1]);
  }
  for (int i = 0; i < mr_eff; ++i)
    for (int j = 0; j < nr_eff; ++j) c[i * ldc + j] = (accumulate ? c[i * ldc + j] : 0.0f) + tile[i * NR + j];
}

void small_nt_avx2(int64_t m, int64_t j0, int64_t j1, int64_t k, float alpha, const float* a, int64_t lda,
                   const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  small_nt_rows<2>(m, j0, j1, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void small_nn_avx2(int64_t m, int64_t j0, int64_t j1, int64_t k, float alpha, const float* a, int64_t lda,
                   const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  // axpy over rows of B, four rows per pass (see small_nn_avx512); the row segments of C stay in L1.
  const int64_t rem = (j1 - j0) & 7;
  const __m256i tail = lane_mask(rem);
  const int64_t jv = j1 - rem;  // end of the full vectors
  for (int64_t i = 0; i < m; ++i) {
    float* ci = c + i * ldc;
    const __m256 vb = _mm256_set1_ps(beta);
    for (int64_t j = j0; j < jv; j += 8)
      _mm256_storeu_ps(ci + j, beta == 0.0f ? _mm256_setzero_ps() : _mm256_mul_ps(vb, _mm256_loadu_ps(ci + j)));
    if (rem)
      _mm256_maskstore_ps(ci + jv, tail,
                          beta == 0.0f ? _mm256_setzero_ps() : _mm256_mul_ps(vb, _mm256_maskload_ps(ci + jv, tail)));
  }
  int64_t p = 0;
  for (; p + 4 <= k; p += 4) {
    const float* b0 = b + p * ldb;
    const float* b1 = b0 + ldb;
    const float* b2 = b1 + ldb;
    const float* b3 = b2 + ldb;
    for (int64_t i = 0; i < m; ++i) {
      const float* ai = a + i * lda + p;
      const __m256 a0 = _mm256_set1_ps(alpha * ai[0]), a1 = _mm256_set1_ps(alpha * ai[1]);
      const __m256 a2 = _mm256_set1_ps(alpha * ai[2]), a3 = _mm256_set1_ps(alpha * ai[3]);
      float* ci = c + i * ldc;
      for (int64_t j = j0; j < jv; j += 8) {
        __m256 v = _mm256_loadu_ps(ci + j);
        v = _mm256_fmadd_ps(a0, _mm256_loadu_ps(b0 + j), v);
        v = _mm256_fmadd_ps(a1, _mm256_loadu_ps(b1 + j), v);
        v = _mm256_fmadd_ps(a2, _mm256_loadu_ps(b2 + j), v);
        v = _mm256_fmadd_ps(a3, _mm256_loadu_ps(b3 + j), v);
        _mm256_storeu_ps(ci + j, v);
      }
      if (rem) {
        __m256 v = _mm256_maskload_ps(ci + jv, tail);
        v = _mm256_fmadd_ps(a0, _mm256_maskload_ps(b0 + jv, tail), v);
        v = _mm256_fmadd_ps(a1, _mm256_maskload_ps(b1 + jv, tail), v);
        v = _mm256_fmadd_ps(a2, _mm256_maskload_ps(b2 + jv, tail), v);
        v = _mm256_fmadd_ps(a3, _mm256_maskload_ps(b3 + jv, tail), v);
        _mm256_maskstore_ps(ci + jv, tail, v);
      }
    }
  }
  for (; p < k; ++p) {
    const float* b0 = b + p * ldb;
    for (int64_t i = 0; i < m; ++i) {
      const __m256 a0 = _mm256_set1_ps(alpha * a[i * lda + p]);
      float* ci = c + i * ldc;
      for (int64_t j = j0; j < jv; j += 8)
        _mm256_storeu_ps(ci + j, _mm256_fmadd_ps(a0, _mm256_loadu_ps(b0 + j), _mm256_loadu_ps(ci + j)));
      if (rem)
        _mm256_maskstore_ps(ci + jv, tail,
                            _mm256_fmadd_ps(a0, _mm256_maskload_ps(b0 + jv, tail), _mm256_maskload_ps(ci + jv, tail)));
    }
  }
}

void pack_n_avx2(const float* src, int64_t ld, int rows, int64_t kc, float scale, float* dst, int width) {
  // width <= 16: two 8-lane halves, loads masked to the valid rows, stores to the full width.
  const __m256 s = _mm256_set1_ps(scale);
  const __m256i l0 = lane_mask(rows >= 8 ? 8 : rows), l1 = lane_mask(rows - 8 >= 8 ? 8 : rows - 8);
  const __m256i s0 = lane_mask(width >= 8 ? 8 : width), s1 = lane_mask(width - 8 >= 8 ? 8 : width - 8);
  const bool second = width > 8;
  for (int64_t p = 0; p < kc; ++p) {
    const float* sp = src + p * ld;
    float* d = dst + p * width;
    _mm256_maskstore_ps(d, s0, _mm256_mul_ps(s, _mm256_maskload_ps(sp, l0)));
    if (second) _mm256_maskstore_ps(d + 8, s1, _mm256_mul_ps(s, _mm256_maskload_ps(sp + 8, l1)));
  }
}

float fma_peak_avx2(int64_t iters) {
  // 12 independent chains (of 16 ymm registers): enough to cover FMA latency × pipes.
  __m256 acc[12];
  for (int i = 0; i < 12; ++i) acc[i] = _mm256_set1_ps(1.0f + 0.001f * static_cast<float>(i));
  const __m256 x = _mm256_set1_ps(0.9999999f), y = _mm256_set1_ps(1e-7f);
  for (int64_t it = 0; it < iters; ++it) {
#pragma GCC unroll 12
    for (int i = 0; i < 12; ++i) acc[i] = _mm256_fmadd_ps(acc[i], x, y);
  }
  __m256 s = acc[0];
  for (int i = 1; i < 12; ++i) s = _mm256_add_ps(s, acc[i]);
  return hsum(s);
}

void pack_t_avx2(const float* src, int64_t ld, int rows, int64_t kc, float scale, float* dst, int width) {
  pack_transposed(src, ld, rows, kc, scale, dst, width);
}

}  // namespace gemm
}  // namespace llmc
