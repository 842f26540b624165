// linalg.cpp — recursive Cholesky, triangular solve / inverse and the upper Cholesky factor of
// H⁻¹ (see linalg.h). The recursion halves the matrix until 64 columns; leaves run in double
// precision on one thread, everything above them is fp32 GEMM calls (multi-threaded).
#include "linalg.h"

#include <algorithm>
#include <cmath>
#include <new>
#include <vector>

#include "status.h"
#include "thread_pool.h"

namespace llmc {
namespace linalg {
namespace {

constexpr int64_t kLeaf = 64;

// Splits n into a first part that is a multiple of the leaf size (GEMM-friendly) and the rest.
int64_t split(int64_t n) { return std::max<int64_t>(kLeaf, (n / 2 + kLeaf - 1) / kLeaf * kLeaf); }

// C -= A·Bᵀ (A [m×k], B [n×k], C [m×n]), all row-major in the same matrix or others.
void gemm_nt_sub(int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* b, int64_t ldb, float* c,
                 int64_t ldc) {
  if (m > 0 && n > 0 && k > 0) llmc_sgemm(0, 1, m, n, k, -1.0f, a, lda, b, ldb, 1.0f, c, ldc);
}

int64_t cholesky_leaf(float* a, int64_t n, int64_t lda) {
  std::vector<double> l(static_cast<size_t>(n * n), 0.0);
  for (int64_t j = 0; j < n; ++j) {
    double s = a[j * lda + j];
    for (int64_t k = 0; k < j; ++k) s -= l[j * n + k] * l[j * n + k];
    if (!(s > 0.0) || !std::isfinite(s)) return j + 1;
    const double d = std::sqrt(s);
    l[j * n + j] = d;
    for (int64_t i = j + 1; i < n; ++i) {
      double t = a[i * lda + j];
      for (int64_t k = 0; k < j; ++k) t -= l[i * n + k] * l[j * n + k];
      l[i * n + j] = t / d;
    }
  }
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j <= i; ++j) a[i * lda + j] = static_cast<float>(l[i * n + j]);
  return 0;
}

// B [m × n] := B · L⁻ᵀ for lower-triangular L [n × n] (solves X·Lᵀ = B).
void trsm_right_lower_t(const float* l, int64_t n, int64_t ldl, float* b, int64_t m, int64_t ldb) {
  if (n <= kLeaf) {
    // Rows of B are independent: forward substitution per row, in double.
    parallel_for((m + 31) / 32, [&](int64_t t, int) {
      double x[kLeaf];
      for (int64_t r = t * 32; r < std::min(m, t * 32 + 32); ++r) {
        float* br = b + r * ldb;
        for (int64_t j = 0; j < n; ++j) {
          double s = br[j];
          for (int64_t k = 0; k < j; ++k) s -= x[k] * l[j * ldl + k];
          x[j] = s / l[j * ldl + j];
        }
        for (int64_t j = 0; j < n; ++j) br[j] = static_cast<float>(x[j]);
      }
    });
    return;
  }
  const int64_t n1 = split(n), n2 = n - n1;
  trsm_right_lower_t(l, n1, ldl, b, m, ldb);                       // X1 = B1·L11⁻ᵀ
  gemm_nt_sub(m, n2, n1, b, ldb, l + n1 * ldl, ldl, b + n1, ldb);  // B2 -= X1·L21ᵀ
  trsm_right_lower_t(l + n1 * ldl + n1, n2, ldl, b + n1, m, ldb);  // X2 = B2·L22⁻ᵀ
}

// Lower triangle (and, on diagonal leaves, the rest of the block) of C [n × n] -= A·Aᵀ, A [n × k].
void syrk_lower_sub(float* c, int64_t n, int64_t ldc, const float* a, int64_t k, int64_t lda) {
  if (n <= 4 * kLeaf) {
    gemm_nt_sub(n, n, k, a, lda, a, lda, c, ldc);
    return;
  }
  const int64_t n1 = split(n), n2 = n - n1;
  syrk_lower_sub(c, n1, ldc, a, k, lda);
  gemm_nt_sub(n2, n1, k, a + n1 * lda, lda, a, lda, c + n1 * ldc, ldc);  // C21 -= A2·A1ᵀ
  syrk_lower_sub(c + n1 * ldc + n1, n2, ldc, a + n1 * lda, k, lda);
}

// Zeroes the strictly upper triangle.
void zero_upper(float* a, int64_t n, int64_t lda) {
  for (int64_t i = 0; i < n; ++i) std::fill(a + i * lda + i + 1, a + i * lda + n, 0.0f);
}

void invert_leaf(float* a, int64_t n, int64_t lda) {
  // Column by column of X = L⁻¹: L·x = e_j, forward substitution in double.
  std::vector<double> x(static_cast<size_t>(n * n), 0.0);
  for (int64_t j = 0; j < n; ++j) {
    x[j * n + j] = 1.0 / a[j * lda + j];
    for (int64_t i = j + 1; i < n; ++i) {
      double s = 0;
      for (int64_t k = j; k < i; ++k) s -= static_cast<double>(a[i * lda + k]) * x[k * n + j];
      x[i * n + j] = s / a[i * lda + i];
    }
  }
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) a[i * lda + j] = j <= i ? static_cast<float>(x[i * n + j]) : 0.0f;
}

// [L11 0; L21 L22]⁻¹ = [L11⁻¹ 0; −L22⁻¹·L21·L11⁻¹  L22⁻¹]. tmp holds n·n floats.
void invert_rec(float* a, int64_t n, int64_t lda, float* tmp) {
  if (n <= kLeaf) {
    invert_leaf(a, n, lda);
    return;
  }
  const int64_t n1 = split(n), n2 = n - n1;
  float* l11 = a;
  float* l21 = a + n1 * lda;
  float* l22 = a + n1 * lda + n1;
  invert_rec(l11, n1, lda, tmp);  // upper triangles are zero from here on
  invert_rec(l22, n2, lda, tmp);
  // T = L21·L11⁻¹ [n2 × n1], then L21 = −L22⁻¹·T.
  llmc_sgemm(0, 0, n2, n1, n1, 1.0f, l21, lda, l11, lda, 0.0f, tmp, n1);
  llmc_sgemm(0, 0, n2, n1, n2, -1.0f, l22, lda, tmp, n1, 0.0f, l21, lda);
}

}  // namespace

int64_t cholesky_lower(float* a, int64_t n, int64_t lda) {
  if (n <= kLeaf) return cholesky_leaf(a, n, lda);
  const int64_t n1 = split(n), n2 = n - n1;
  if (int64_t r = cholesky_lower(a, n1, lda)) return r;
  trsm_right_lower_t(a, n1, lda, a + n1 * lda, n2, lda);              // L21 = A21·L11⁻ᵀ
  syrk_lower_sub(a + n1 * lda + n1, n2, lda, a + n1 * lda, n1, lda);  // A22 -= L21·L21ᵀ
  if (int64_t r = cholesky_lower(a + n1 * lda + n1, n2, lda)) return r + n1;
  return 0;
}

llmc_status invert_lower(float* a, int64_t n, int64_t lda) {
  zero_upper(a, n, lda);
  float* tmp = static_cast<float*>(::operator new(static_cast<size_t>(n * n) * sizeof(float), std::nothrow));
  if (!tmp)
    return fail(LLMC_OUT_OF_MEMORY, "linalg: cannot allocate %.1f MiB", static_cast<double>(n * n) * 4.0 / 1048576.0);
  invert_rec(a, n, lda, tmp);
  ::operator delete(tmp);
  return LLMC_OK;
}

llmc_status inverse_upper_cholesky(float* a, int64_t n, const char* hint) {
  std::reverse(a, a + n * n);  // P·H·P
  if (int64_t r = cholesky_lower(a, n, n))
    return fail(
        LLMC_INVALID_ARGUMENT, "the Hessian is not positive definite (Cholesky pivot %lld of %lld is not positive)%s%s",
        static_cast<long long>(n - r + 1), static_cast<long long>(n), hint && *hint ? ": " : "", hint ? hint : "");
  if (llmc_status s = invert_lower(a, n, n)) return s;
  std::reverse(a, a + n * n);  // U = P·L⁻¹·P: upper triangular
  return LLMC_OK;
}

}  // namespace linalg
}  // namespace llmc
