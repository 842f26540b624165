// linalg_test.cpp — the native test of the dense linear algebra behind GPTQ / SparseGPT (no Node).
//   linalg_test check   Cholesky and the upper Cholesky factor of H⁻¹ on random SPD matrices of
//                       odd sizes (leaf, one split, several levels), on every ISA level, against
//                       float64: Uᵀ·U·H = I and U upper; indefinite matrices are reported
//   linalg_test bench   timings of inverse_upper_cholesky at LLM sizes
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <vector>

#include "linalg.h"
#include "llmc.h"
#include "test_rng.h"

namespace {

int failures = 0, cases = 0;

// H = XᵀX/t + 0.05·I for random X [t × n] (well conditioned, correlated).
std::vector<float> random_spd(Rng& rng, int64_t n) {
  const int64_t t = n + 16;
  std::vector<float> x(static_cast<size_t>(t * n)), h(static_cast<size_t>(n * n));
  for (auto& v : x) v = rng.uniform();
  llmc_sgemm(1, 0, n, n, t, 1.0f / static_cast<float>(t), x.data(), n, x.data(), n, 0.0f, h.data(), n);
  for (int64_t i = 0; i < n; ++i) {
    h[i * n + i] += 0.05f;
    for (int64_t j = 0; j < i; ++j) h[j * n + i] = h[i * n + j];  // exactly symmetric
  }
  return h;
}

void check_inverse_cholesky(Rng& rng, int64_t n) {
  ++cases;
  const std::vector<float> h = random_spd(rng, n);
  std::vector<float> u = h;
  if (llmc::linalg::inverse_upper_cholesky(u.data(), n, "") != LLMC_OK) {
    std::printf("FAIL n=%lld: %s\n", static_cast<long long>(n), llmc_last_error());
    ++failures;
    return;
  }
  // U upper; M = U·H·Uᵀ must be I (equivalent to Uᵀ·U = H⁻¹).
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < i; ++j)
      if (u[i * n + j] != 0.0f) {
        std::printf("FAIL isa=%s n=%lld: U[%lld,%lld] = %g below the diagonal\n", llmc_isa_name(llmc_isa_active()),
                    static_cast<long long>(n), static_cast<long long>(i), static_cast<long long>(j),
                    static_cast<double>(u[i * n + j]));
        ++failures;
        return;
      }
  std::vector<double> uh(static_cast<size_t>(n * n), 0.0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t k = i; k < n; ++k) {
      const double a = u[i * n + k];
      for (int64_t j = 0; j < n; ++j) uh[i * n + j] += a * h[k * n + j];
    }
  double worst = 0;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double s = 0;
      for (int64_t k = j; k < n; ++k) s += uh[i * n + k] * u[j * n + k];
      worst = std::fmax(worst, std::fabs(s - (i == j ? 1.0 : 0.0)));
    }
  if (!(worst < 2e-3)) {
    std::printf("FAIL isa=%s n=%lld: max |U·H·Uᵀ − I| = %.3g\n", llmc_isa_name(llmc_isa_active()),
                static_cast<long long>(n), worst);
    ++failures;
  }
}

void check_indefinite(int64_t n) {
  ++cases;
  std::vector<float> a(static_cast<size_t>(n * n), 0.0f);
  for (int64_t i = 0; i < n; ++i) a[i * n + i] = 1.0f;
  a[(n / 3) * n + n / 3] = -1.0f;
  if (llmc::linalg::inverse_upper_cholesky(a.data(), n, "hint") != LLMC_INVALID_ARGUMENT ||
      !std::strstr(llmc_last_error(), "not positive definite")) {
    std::printf("FAIL n=%lld: an indefinite matrix was not reported (%s)\n", static_cast<long long>(n),
                llmc_last_error());
    ++failures;
  }
}

int run_check() {
  for (llmc_isa isa : {LLMC_ISA_SCALAR, LLMC_ISA_NEON, LLMC_ISA_AVX2, LLMC_ISA_AVX512}) {
    if (llmc_isa_set(isa) != LLMC_OK) continue;
    const int before = failures;
    Rng rng(99);
    for (int64_t n : {1, 2, 7, 63, 64, 65, 127, 130, 257, 600}) check_inverse_cholesky(rng, n);
    for (int64_t n : {1, 5, 64, 200}) check_indefinite(n);
    std::printf("%s: %s\n", llmc_isa_name(isa), failures == before ? "ok" : "FAILED");
  }
  std::printf("%d cases, %d failures\n", cases, failures);
  return failures == 0 ? 0 : 1;
}

int run_bench() {
  Rng rng(5);
  for (int64_t n : {1024, 4096, 11008}) {
    std::vector<float> h = random_spd(rng, n);
    const auto t0 = std::chrono::steady_clock::now();
    llmc::linalg::inverse_upper_cholesky(h.data(), n, "");
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("inverse_upper_cholesky n=%5lld: %8.3f s  %6.1f GFLOP/s (counting 2/3·n³ multiply-adds)\n",
                static_cast<long long>(n), s, 4.0 / 3.0 * static_cast<double>(n) * n * n / s * 1e-9);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 2 && std::strcmp(argv[1], "check") == 0) return run_check();
  if (argc >= 2 && std::strcmp(argv[1], "bench") == 0) return run_bench();
  std::fprintf(stderr, "usage: %s check | bench\n", argv[0]);
  return 2;
}
