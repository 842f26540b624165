// gemm_f32_avx512.cpp — AVX-512 kernels of the fp32 GEMM (compiled with -mavx512f … -mfma).
// Layouts: see gemm_f32.h. Micro-tile 14×32: 28 zmm accumulators, 2 zmm of B, 1-2 for broadcasts.
// Everything but the entry points declared in gemm_f32.h has internal linkage (anonymous
// namespace), and only intrinsics and plain loops are used: no shared inline function or template
// (std::min, std::vector, …) is emitted from this file.
#include <immintrin.h>

#include "gemm_f32.h"
#include "gemm_f32_pack_x86.h"

namespace llmc {
namespace gemm {
namespace {

constexpr int MR = kAvx512MR, NR = kAvx512NR;

inline __mmask16 tail_mask(int64_t n) {
  return n >= 16  ? static_cast<__mmask16>(0xFFFF)
         : n <= 0 ? static_cast<__mmask16>(0)
                  : static_cast<__mmask16>((1u << n) - 1u);
}

// Sum of the 16 lanes. 512-bit shuffles with an explicit source only: GCC 12's unmasked forms and
// the 512→256 casts read an "undefined" register that -Wall reports as uninitialized.
inline float hsum(__m512 v) {
  v = _mm512_add_ps(v, _mm512_mask_shuffle_f32x4(v, 0xFFFF, v, v, 0x4E));  // 256-bit halves
  v = _mm512_add_ps(v, _mm512_mask_shuffle_f32x4(v, 0xFFFF, v, v, 0xB1));  // 128-bit quarters
  v = _mm512_add_ps(v, _mm512_mask_permute_ps(v, 0xFFFF, v, 0x4E));        // pairs
  v = _mm512_add_ps(v, _mm512_mask_permute_ps(v, 0xFFFF, v, 0xB1));        // lanes
  return _mm512_cvtss_f32(v);
}

// ---- packed micro-kernel --------------------------------------------------------------------------
// R rows (R = MR for full tiles, fewer for the last micro-panel of A: its zero rows are skipped).
template <int R>
void micro_rows(int64_t kc, const float* ap, const float* bp, float* c, int64_t ldc, int nr_eff, int accumulate) {
  // The C tile is written at the end: start fetching its lines now so that they arrive during the
  // k loop (a row of 32 floats spans at most 3 lines).
#pragma GCC unroll 14
  for (int i = 0; i < R; ++i) {
    _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc + 16), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc + 31), _MM_HINT_T0);
  }
  __m512 acc0[R], acc1[R];
#pragma GCC unroll 14
  for (int i = 0; i < R; ++i) acc0[i] = acc1[i] = _mm512_setzero_ps();
  for (int64_t p = 0; p < kc; ++p) {
    const __m512 b0 = _mm512_load_ps(bp), b1 = _mm512_load_ps(bp + 16);
#pragma GCC unroll 14
    for (int i = 0; i < R; ++i) {
      const __m512 a = _mm512_set1_ps(ap[i]);
      acc0[i] = _mm512_fmadd_ps(a, b0, acc0[i]);
      acc1[i] = _mm512_fmadd_ps(a, b1, acc1[i]);
    }
    ap += MR;
    bp += NR;
  }
  if (nr_eff == NR) {
#pragma GCC unroll 14
    for (int i = 0; i < R; ++i) {
      float* row = c + i * ldc;
      __m512 v0 = acc0[i], v1 = acc1[i];
      if (accumulate) {
        v0 = _mm512_add_ps(v0, _mm512_loadu_ps(row));
        v1 = _mm512_add_ps(v1, _mm512_loadu_ps(row + 16));
      }
      _mm512_storeu_ps(row, v0);
      _mm512_storeu_ps(row + 16, v1);
    }
    return;
  }
  const __mmask16 m0 = tail_mask(nr_eff), m1 = tail_mask(nr_eff - 16);
#pragma GCC unroll 14
  for (int i = 0; i < R; ++i) {
    float* row = c + i * ldc;
    __m512 v0 = acc0[i], v1 = acc1[i];
    if (accumulate) {
      v0 = _mm512_add_ps(v0, _mm512_maskz_loadu_ps(m0, row));
      v1 = _mm512_add_ps(v1, _mm512_maskz_loadu_ps(m1, row + 16));
    }
    _mm512_mask_storeu_ps(row, m0, v0);
    _mm512_mask_storeu_ps(row + 16, m1, v1);
  }
}

// ---- small m, B stored [n×k]: dot products along k -----------------------------------------------
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
    for (int j = 0; j < 4; ++j) {
      // With several rows of A the B rows are consumed more slowly: fetch them 1 KiB ahead (a
      // single row streams best on the hardware prefetcher alone).
      if (NI >= 2) _mm_prefetch(reinterpret_cast<const char*>(brow[j] + p + 256), _MM_HINT_T0);
      bv[j] = _mm512_loadu_ps(brow[j] + p);
    }
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
        const float dot = alpha * hsum(acc[i][j]);
        crow[i][j] = beta == 0.0f ? dot : dot + beta * crow[i][j];
      }
    }
}

#include "gemm_f32_small_nt.h"

// ---- small m (8 .. ~64), B stored [n×k]: vectors along m, B broadcast ------------------------------
// acc[q][v] = C[i0 + 16v + lane, j + q] over NB rows of B (each element of B is loaded once, as a
// broadcast, straight from memory) and V vectors of 16 rows of the packed Aᵀ.
template <int V, int NB>
void bcast_tile(int64_t k, const float* at, int64_t m_pad, const float* const* brow, float (*tile)[32]) {
  __m512 acc[NB][V];
#pragma GCC unroll 24
  for (int q = 0; q < NB; ++q)
#pragma GCC unroll 2
    for (int v = 0; v < V; ++v) acc[q][v] = _mm512_setzero_ps();
  int64_t p = 0;
  for (; p < k; ++p) {
    if ((p & 15) == 0) {
#pragma GCC unroll 24
      for (int q = 0; q < NB; ++q) _mm_prefetch(reinterpret_cast<const char*>(brow[q] + p + 256), _MM_HINT_T0);
    }
    __m512 av[V];
#pragma GCC unroll 2
    for (int v = 0; v < V; ++v) av[v] = _mm512_load_ps(at + p * m_pad + 16 * v);
#pragma GCC unroll 24
    for (int q = 0; q < NB; ++q) {
      const __m512 bb = _mm512_set1_ps(brow[q][p]);
#pragma GCC unroll 2
      for (int v = 0; v < V; ++v) acc[q][v] = _mm512_fmadd_ps(av[v], bb, acc[q][v]);
    }
  }
#pragma GCC unroll 24
  for (int q = 0; q < NB; ++q)
#pragma GCC unroll 2
    for (int v = 0; v < V; ++v) _mm512_storeu_ps(tile[q] + 16 * v, acc[q][v]);
}

}  // namespace

void micro_avx512(int64_t kc, const float* ap, const float* bp, float* c, int64_t ldc, int mr_eff, int nr_eff,
                  int accumulate) {
  switch (mr_eff) {
    case 14:
      micro_rows<14>(kc, ap, bp, c, ldc, nr_eff, accumulate);
      break;
    case 13:
      micro_rows<13>(kc, ap, bp, c, ldc, nr_eff, accumulate);
      break;
    case 12:
      micro_rows<12>(kc, ap, bp, c, ldc, nr_eff, accumulate);
      break;
    case 11:
      micro_rows<11>(kc, ap, bp, c, ldc, nr_eff, accumulate);
      break;
    case 10:
      micro_rows<10>(kc, ap, bp, c, ldc, nr_eff, accumulate);
      break;
    case 9:
      micro_rows<9>(kc, ap, bp, c, ldc, nr_eff, accumulate);
      break;
    case 8:
      micro_rows<8>(kc, ap, bp, c, ldc, nr_eff, accumulate);
      break;
    case 7:
      micro_rows<7>(kc, ap, bp, c, ldc, nr_eff, accumulate);
      break;
    case 6:
      micro_rows<6>(kc, ap, bp, c, ldc, nr_eff, accumulate);
      break;
    case 5:
      micro_rows<5>(kc, ap, bp, c, ldc, nr_eff, accumulate);
      break;
    case 4:
      micro_rows<4>(kc, ap, bp, c, ldc, nr_eff, accumulate);
      break;
    case 3:
      micro_rows<3>(kc, ap, bp, c, ldc, nr_eff, accumulate);
      break;
    case 2:
      micro_rows<2>(kc, ap, bp, c, ldc, nr_eff, accumulate);
      break;
    default:
      micro_rows<1>(kc, ap, bp, c, ldc, nr_eff, accumulate);
      break;
  }
}

void small_nt_avx512(int64_t m, int64_t j0, int64_t j1, int64_t k, float alpha, const float* a, int64_t lda,
                     const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  small_nt_rows<4>(m, j0, j1, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void small_nt_packed_avx512(int64_t m, int64_t m_pad, int64_t j0, int64_t j1, int64_t k, const float* at,
                            const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  alignas(64) float tile[12][32];
  for (int64_t i0 = 0; i0 < m; i0 += 32) {
    const int64_t mi = m - i0 < 32 ? m - i0 : 32;
    // 12 rows of B at a time: more streams would collide in one L1 set (rows k·4 bytes apart map to
    // the same set when k is a multiple of 1024) — 2 vectors of A when more than 16 rows remain.
    const bool wide = mi > 16;
    constexpr int64_t nb = 12;
    for (int64_t j = j0; j < j1; j += nb) {
      const int64_t nj = j1 - j < nb ? j1 - j : nb;
      const float* brow[12];
      for (int64_t q = 0; q < nb; ++q)
        brow[q] = b + (j + (q < nj ? q : nj - 1)) * ldb;  // a short group repeats its last row
      if (wide)
        bcast_tile<2, 12>(k, at + i0, m_pad, brow, tile);
      else
        bcast_tile<1, 12>(k, at + i0, m_pad, brow, tile);
      for (int64_t i = 0; i < mi; ++i) {
        float* crow = c + (i0 + i) * ldc + j;
        if (beta == 0.0f) {
          for (int64_t q = 0; q < nj; ++q) crow[q] = tile[q][i];
        } else {
          for (int64_t q = 0; q < nj; ++q) crow[q] = tile[q][i] + beta * crow[q];
        }
      }
    }
  }
}

void small_nn_avx512(int64_t m, int64_t j0, int64_t j1, int64_t k, float alpha, const float* a, int64_t lda,
                     const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  // axpy over rows of B: C[i, j0:j1] += Σ_p alpha·A[i, p] · B[p, j0:j1], four rows of B per pass
  // (each read from memory once, contiguously; again from L1 for the other rows of C). The row
  // segments of C stay in L1.
  const __mmask16 tail = tail_mask((j1 - j0) & 15);
  const int64_t jv = j0 + ((j1 - j0) & ~int64_t{15});  // end of the full vectors
  for (int64_t i = 0; i < m; ++i) {
    float* ci = c + i * ldc;
    const __m512 vb = _mm512_set1_ps(beta);
    for (int64_t j = j0; j < jv; j += 16)
      _mm512_storeu_ps(ci + j, beta == 0.0f ? _mm512_setzero_ps() : _mm512_mul_ps(vb, _mm512_loadu_ps(ci + j)));
    if (tail)
      _mm512_mask_storeu_ps(
          ci + jv, tail, beta == 0.0f ? _mm512_setzero_ps() : _mm512_mul_ps(vb, _mm512_maskz_loadu_ps(tail, ci + jv)));
  }
  int64_t p = 0;
  for (; p + 4 <= k; p += 4) {
    const float* b0 = b + p * ldb;
    const float* b1 = b0 + ldb;
    const float* b2 = b1 + ldb;
    const float* b3 = b2 + ldb;
    for (int64_t i = 0; i < m; ++i) {
      const float* ai = a + i * lda + p;
      const __m512 a0 = _mm512_set1_ps(alpha * ai[0]), a1 = _mm512_set1_ps(alpha * ai[1]);
      const __m512 a2 = _mm512_set1_ps(alpha * ai[2]), a3 = _mm512_set1_ps(alpha * ai[3]);
      float* ci = c + i * ldc;
      for (int64_t j = j0; j < jv; j += 16) {
        __m512 v = _mm512_loadu_ps(ci + j);
        v = _mm512_fmadd_ps(a0, _mm512_loadu_ps(b0 + j), v);
        v = _mm512_fmadd_ps(a1, _mm512_loadu_ps(b1 + j), v);
        v = _mm512_fmadd_ps(a2, _mm512_loadu_ps(b2 + j), v);
        v = _mm512_fmadd_ps(a3, _mm512_loadu_ps(b3 + j), v);
        _mm512_storeu_ps(ci + j, v);
      }
      if (tail) {
        __m512 v = _mm512_maskz_loadu_ps(tail, ci + jv);
        v = _mm512_fmadd_ps(a0, _mm512_maskz_loadu_ps(tail, b0 + jv), v);
        v = _mm512_fmadd_ps(a1, _mm512_maskz_loadu_ps(tail, b1 + jv), v);
        v = _mm512_fmadd_ps(a2, _mm512_maskz_loadu_ps(tail, b2 + jv), v);
        v = _mm512_fmadd_ps(a3, _mm512_maskz_loadu_ps(tail, b3 + jv), v);
        _mm512_mask_storeu_ps(ci + jv, tail, v);
      }
    }
  }
  for (; p < k; ++p) {
    const float* b0 = b + p * ldb;
    for (int64_t i = 0; i < m; ++i) {
      const __m512 a0 = _mm512_set1_ps(alpha * a[i * lda + p]);
      float* ci = c + i * ldc;
      for (int64_t j = j0; j < jv; j += 16)
        _mm512_storeu_ps(ci + j, _mm512_fmadd_ps(a0, _mm512_loadu_ps(b0 + j), _mm512_loadu_ps(ci + j)));
      if (tail)
        _mm512_mask_storeu_ps(
            ci + jv, tail,
            _mm512_fmadd_ps(a0, _mm512_maskz_loadu_ps(tail, b0 + jv), _mm512_maskz_loadu_ps(tail, ci + jv)));
    }
  }
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
  return hsum(s);
}

void pack_t_avx512(const float* src, int64_t ld, int rows, int64_t kc, float scale, float* dst, int width) {
  pack_transposed(src, ld, rows, kc, scale, dst, width);
}

void pack_n_avx512(const float* src, int64_t ld, int rows, int64_t kc, float scale, float* dst, int width) {
  // width <= 32: two 16-lane halves, loads masked to the valid rows, stores to the full width.
  const __m512 s = _mm512_set1_ps(scale);
  const __mmask16 l0 = tail_mask(rows), l1 = tail_mask(rows - 16);
  const __mmask16 s0 = tail_mask(width), s1 = tail_mask(width - 16);
  for (int64_t p = 0; p < kc; ++p) {
    const float* sp = src + p * ld;
    float* d = dst + p * width;
    _mm512_mask_storeu_ps(d, s0, _mm512_mul_ps(s, _mm512_maskz_loadu_ps(l0, sp)));
    if (s1) _mm512_mask_storeu_ps(d + 16, s1, _mm512_mul_ps(s, _mm512_maskz_loadu_ps(l1, sp + 16)));
  }
}

}  // namespace gemm
}  // namespace llmc
