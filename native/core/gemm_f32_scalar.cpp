// gemm_f32_scalar.cpp — portable kernels of the fp32 GEMM: the fallback on CPUs without a fast path
// and the oracle the fast paths are tested against. Layouts: see gemm_f32.h (micro-tile 4×8).
#include "gemm_f32.h"

namespace llmc {
namespace gemm {

void micro_scalar(int64_t kc, const float* ap, const float* bp, float* c, int64_t ldc, int mr_eff, int nr_eff,
                  int accumulate) {
  constexpr int MR = kScalarMR, NR = kScalarNR;
  float acc[MR][NR] = {};
  for (int64_t p = 0; p < kc; ++p) {
    for (int i = 0; i < MR; ++i)
      for (int j = 0; j < NR; ++j) acc[i][j] += ap[i] * bp[j];
    ap += MR;
    bp += NR;
  }
  for (int i = 0; i < mr_eff; ++i)
    for (int j = 0; j < nr_eff; ++j) c[i * ldc + j] = (accumulate ? c[i * ldc + j] : 0.0f) + acc[i][j];
}

void small_nt_scalar(int64_t m, int64_t j0, int64_t j1, int64_t k, float alpha, const float* a, int64_t lda,
                     const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = j0; j < j1; ++j) {
      const float* ar = a + i * lda;
      const float* br = b + j * ldb;
      float s[4] = {0, 0, 0, 0};  // four partial sums: shorter dependency chains, smaller rounding error
      int64_t p = 0;
      for (; p + 4 <= k; p += 4)
        for (int q = 0; q < 4; ++q) s[q] += ar[p + q] * br[p + q];
      for (; p < k; ++p) s[0] += ar[p] * br[p];
      const float dot = alpha * ((s[0] + s[1]) + (s[2] + s[3]));
      float& out = c[i * ldc + j];
      out = beta == 0.0f ? dot : dot + beta * out;
    }
  }
}

void small_nn_scalar(int64_t m, int64_t j0, int64_t j1, int64_t k, float alpha, const float* a, int64_t lda,
                     const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  for (int64_t i = 0; i < m; ++i) {
    float* out = c + i * ldc;
    for (int64_t j = j0; j < j1; ++j) out[j] = beta == 0.0f ? 0.0f : beta * out[j];
    for (int64_t p = 0; p < k; ++p) {
      const float av = alpha * a[i * lda + p];
      const float* br = b + p * ldb;
      for (int64_t j = j0; j < j1; ++j) out[j] += av * br[j];
    }
  }
}

float fma_peak_scalar(int64_t iters) {
  float acc[8];
  for (int i = 0; i < 8; ++i) acc[i] = 1.0f + 0.001f * static_cast<float>(i);
  for (int64_t it = 0; it < iters; ++it)
    for (int i = 0; i < 8; ++i) acc[i] = acc[i] * 0.9999999f + 1e-7f;
  float s = 0;
  for (float v : acc) s += v;
  return s;
}

void pack_t_scalar(const float* src, int64_t ld, int rows, int64_t kc, float scale, float* dst, int width) {
  for (int r = 0; r < width; ++r) {
    if (r < rows) {
      const float* s = src + r * ld;
      for (int64_t p = 0; p < kc; ++p) dst[p * width + r] = scale * s[p];
    } else {
      for (int64_t p = 0; p < kc; ++p) dst[p * width + r] = 0.0f;
    }
  }
}

void pack_n_scalar(const float* src, int64_t ld, int rows, int64_t kc, float scale, float* dst, int width) {
  for (int64_t p = 0; p < kc; ++p) {
    const float* s = src + p * ld;
    float* d = dst + p * width;
    for (int r = 0; r < rows; ++r) d[r] = scale * s[r];
    for (int r = rows; r < width; ++r) d[r] = 0.0f;
  }
}

}  // namespace gemm
}  // namespace llmc
