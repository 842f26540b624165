// gemm_f32_pack_x86.h — the transposing packer of the fp32 GEMM, in AVX2 instructions. Included by
// gemm_f32_avx2.cpp and gemm_f32_avx512.cpp only; everything here has internal linkage so that
// each ISA file keeps its own copy (no shared inline symbol between files built with other flags).
#pragma once

#include <immintrin.h>

#include <cstdint>

namespace llmc {
namespace gemm {
namespace {

// Transposes the 8×8 block in r[0..7] in place (r[q] becomes column q).
inline void transpose8(__m256 r[8]) {
  const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
  const __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
  const __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
  const __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
  const __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
  const __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
  const __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
  const __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
  r[0] = _mm256_permute2f128_ps(u0, u4, 0x20);
  r[1] = _mm256_permute2f128_ps(u1, u5, 0x20);
  r[2] = _mm256_permute2f128_ps(u2, u6, 0x20);
  r[3] = _mm256_permute2f128_ps(u3, u7, 0x20);
  r[4] = _mm256_permute2f128_ps(u0, u4, 0x31);
  r[5] = _mm256_permute2f128_ps(u1, u5, 0x31);
  r[6] = _mm256_permute2f128_ps(u2, u6, 0x31);
  r[7] = _mm256_permute2f128_ps(u3, u7, 0x31);
}

// dst[p*width + r] = scale · src[r*ld + p] for r < rows, p < kc; rows in [rows, width) are zero.
// width is MR or NR of the micro-kernel (rows <= width).
inline void pack_transposed(const float* src, int64_t ld, int rows, int64_t kc, float scale, float* dst, int width) {
  const __m256 s = _mm256_set1_ps(scale);
  for (int r0 = 0; r0 < width; r0 += 8) {
    const int nr = rows - r0 >= 8 ? 8 : (rows - r0 > 0 ? rows - r0 : 0);  // valid rows in this block
    const int nw = width - r0 >= 8 ? 8 : width - r0;                      // rows stored in this block
    const __m256i store_mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(nw), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    const float* rowp[8];
    for (int q = 0; q < 8; ++q) rowp[q] = src + (r0 + (q < nr ? q : 0)) * ld;
    int64_t p = 0;
    for (; p + 8 <= kc; p += 8) {
      __m256 r[8];
      for (int q = 0; q < 8; ++q) r[q] = q < nr ? _mm256_mul_ps(s, _mm256_loadu_ps(rowp[q] + p)) : _mm256_setzero_ps();
      transpose8(r);
      for (int q = 0; q < 8; ++q) {
        float* d = dst + (p + q) * width + r0;
        if (nw == 8)
          _mm256_storeu_ps(d, r[q]);
        else
          _mm256_maskstore_ps(d, store_mask, r[q]);
      }
    }
    for (; p < kc; ++p) {
      float* d = dst + p * width + r0;
      for (int q = 0; q < nw; ++q) d[q] = q < nr ? scale * rowp[q][p] : 0.0f;
    }
  }
}

}  // namespace
}  // namespace gemm
}  // namespace llmc
