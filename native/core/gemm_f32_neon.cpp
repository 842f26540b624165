// gemm_f32_neon.cpp — arm64 Advanced SIMD kernels of the fp32 GEMM (NEON is baseline on arm64: no
// extra flags). Layouts: see gemm_f32.h. Micro-tile 8×12: 24 q-register accumulators, 3 for a row
// of B and 2 for the 8 values of A, whose lanes feed the FMAs (vfmaq_laneq_f32).
#include <arm_neon.h>

#include "gemm_f32.h"

namespace llmc {
namespace gemm {
namespace {

constexpr int MR = kNeonMR, NR = kNeonNR;

template <int NI>
void dots_4xNI(int64_t k, float alpha, const float* const* arow, const float* const* brow, float beta,
               float* const* crow, int nj) {
  float32x4_t acc[NI][4];
  for (int i = 0; i < NI; ++i)
    for (int j = 0; j < 4; ++j) acc[i][j] = vdupq_n_f32(0.0f);
  int64_t p = 0;
  for (; p + 4 <= k; p += 4) {
    float32x4_t bv[4];
    for (int j = 0; j < 4; ++j) bv[j] = vld1q_f32(brow[j] + p);
    for (int i = 0; i < NI; ++i) {
      const float32x4_t av = vld1q_f32(arow[i] + p);
      for (int j = 0; j < 4; ++j) acc[i][j] = vfmaq_f32(acc[i][j], av, bv[j]);
    }
  }
  for (int i = 0; i < NI; ++i)
    for (int j = 0; j < 4; ++j) {
      if (j < nj) {
        float dot = vaddvq_f32(acc[i][j]);
        for (int64_t q = p; q < k; ++q) dot += arow[i][q] * brow[j][q];
        dot *= alpha;
        crow[i][j] = beta == 0.0f ? dot : dot + beta * crow[i][j];
      }
    }
}

#include "gemm_f32_small_nt.h"

}  // namespace

void micro_neon(int64_t kc, const float* ap, const float* bp, float* c, int64_t ldc, int mr_eff, int nr_eff,
                int accumulate) {
  float32x4_t acc[MR][3];
  for (int i = 0; i < MR; ++i) acc[i][0] = acc[i][1] = acc[i][2] = vdupq_n_f32(0.0f);
  for (int64_t p = 0; p < kc; ++p) {
    const float32x4_t b0 = vld1q_f32(bp), b1 = vld1q_f32(bp + 4), b2 = vld1q_f32(bp + 8);
    const float32x4_t a0 = vld1q_f32(ap), a1 = vld1q_f32(ap + 4);
    // clang-format off
#define LLMC_ROW(i, a, lane)                           \
  acc[i][0] = vfmaq_laneq_f32(acc[i][0], b0, a, lane); \
  acc[i][1] = vfmaq_laneq_f32(acc[i][1], b1, a, lane); \
  acc[i][2] = vfmaq_laneq_f32(acc[i][2], b2, a, lane);
    LLMC_ROW(0, a0, 0)
    LLMC_ROW(1, a0, 1)
    LLMC_ROW(2, a0, 2)
    LLMC_ROW(3, a0, 3)
    LLMC_ROW(4, a1, 0)
    LLMC_ROW(5, a1, 1)
    LLMC_ROW(6, a1, 2)
    LLMC_ROW(7, a1, 3)
#undef LLMC_ROW
    // clang-format on
    ap += MR;
    bp += NR;
  }
  if (mr_eff == MR && nr_eff == NR) {
    for (int i = 0; i < MR; ++i) {
      float* row = c + i * ldc;
      for (int v = 0; v < 3; ++v) {
        float32x4_t x = acc[i][v];
        if (accumulate) x = vaddq_f32(x, vld1q_f32(row + 4 * v));
        vst1q_f32(row + 4 * v, x);
      }
    }
    return;
  }
  float tile[MR * NR];
  for (int i = 0; i < MR; ++i)
    for (int v = 0; v < 3; ++v) vst1q_f32(tile + i * NR + 4 * v, acc[i][v]);
  for (int i = 0; i < mr_eff; ++i)
    for (int j = 0; j < nr_eff; ++j) c[i * ldc + j] = (accumulate ? c[i * ldc + j] : 0.0f) + tile[i * NR + j];
}

void small_nt_neon(int64_t m, int64_t j0, int64_t j1, int64_t k, float alpha, const float* a, int64_t lda,
                   const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  small_nt_rows<4>(m, j0, j1, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void pack_t_neon(const float* src, int64_t ld, int rows, int64_t kc, float scale, float* dst, int width) {
  // 4×4 transposes: rows r0..r0+3 (contiguous along p) become four 4-wide columns of dst.
  const float32x4_t s = vdupq_n_f32(scale);
  for (int r0 = 0; r0 < width; r0 += 4) {
    const int nw = width - r0 >= 4 ? 4 : width - r0;
    const float* rowp[4];
    for (int q = 0; q < 4; ++q) rowp[q] = src + (r0 + q < rows ? r0 + q : 0) * ld;
    int64_t p = 0;
    for (; p + 4 <= kc; p += 4) {
      float32x4_t r[4];
      for (int q = 0; q < 4; ++q) r[q] = r0 + q < rows ? vmulq_f32(s, vld1q_f32(rowp[q] + p)) : vdupq_n_f32(0.0f);
      const float32x4x2_t t01 = vtrnq_f32(r[0], r[1]), t23 = vtrnq_f32(r[2], r[3]);
      const float32x4_t col[4] = {vcombine_f32(vget_low_f32(t01.val[0]), vget_low_f32(t23.val[0])),
                                  vcombine_f32(vget_low_f32(t01.val[1]), vget_low_f32(t23.val[1])),
                                  vcombine_f32(vget_high_f32(t01.val[0]), vget_high_f32(t23.val[0])),
                                  vcombine_f32(vget_high_f32(t01.val[1]), vget_high_f32(t23.val[1]))};
      for (int q = 0; q < 4; ++q) {
        float* d = dst + (p + q) * width + r0;
        if (nw == 4) {
          vst1q_f32(d, col[q]);
        } else {
          float tmp[4];
          vst1q_f32(tmp, col[q]);
          for (int x = 0; x < nw; ++x) d[x] = tmp[x];
        }
      }
    }
    for (; p < kc; ++p)
      for (int q = 0; q < nw; ++q) dst[p * width + r0 + q] = r0 + q < rows ? scale * rowp[q][p] : 0.0f;
  }
}

float fma_peak_neon(int64_t iters) {
  float32x4_t acc[16];
  for (int i = 0; i < 16; ++i) acc[i] = vdupq_n_f32(1.0f + 0.001f * static_cast<float>(i));
  const float32x4_t x = vdupq_n_f32(0.9999999f), y = vdupq_n_f32(1e-7f);
  for (int64_t it = 0; it < iters; ++it)
    for (int i = 0; i < 16; ++i) acc[i] = vfmaq_f32(y, acc[i], x);
  float32x4_t s = acc[0];
  for (int i = 1; i < 16; ++i) s = vaddq_f32(s, acc[i]);
  return vaddvq_f32(s);
}

}  // namespace gemm
}  // namespace llmc
