// gemm_f32_test.cpp — the native test and benchmark program of the fp32 GEMM (no Node involved).
//   gemm_f32_test check       every ISA level the CPU runs × many shapes, layouts, alpha/beta,
//                             against a float64 reference, every output element checked
//   gemm_f32_test bench [isa]  GFLOP/s and GB/s medians on LLM layer shapes
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "llmc.h"
#include "test_rng.h"

namespace {

int failures = 0, cases = 0;

// One GEMM against the float64 reference. lda/ldb/ldc get `pad` extra columns of garbage.
void check_case(Rng& rng, int ta, int tb, int64_t m, int64_t n, int64_t k, float alpha, float beta, int64_t pad) {
  const int64_t a_rows = ta ? k : m, a_cols = ta ? m : k, b_rows = tb ? n : k, b_cols = tb ? k : n;
  const int64_t lda = std::max<int64_t>(1, a_cols) + pad, ldb = std::max<int64_t>(1, b_cols) + pad,
                ldc = std::max<int64_t>(1, n) + pad;
  std::vector<float> a(static_cast<size_t>(std::max<int64_t>(1, a_rows * lda))),
      b(static_cast<size_t>(std::max<int64_t>(1, b_rows * ldb))), c(static_cast<size_t>(std::max<int64_t>(1, m * ldc)));
  rng.fill(a);
  rng.fill(b);
  rng.fill(c);
  if (beta == 0.0f) std::fill(c.begin(), c.end(), std::nanf(""));  // beta = 0 must not read C
  const std::vector<float> c0 = c;
  ++cases;
  const llmc_status st = llmc_sgemm(ta, tb, m, n, k, alpha, a.data(), lda, b.data(), ldb, beta, c.data(), ldc);
  if (st != LLMC_OK) {
    std::printf("FAIL %s: %s\n", llmc_status_name(st), llmc_last_error());
    ++failures;
    return;
  }
  const double tol = 4.0 * std::ldexp(1.0, -23) * std::sqrt(static_cast<double>(k) + 1.0);
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      double s = 0, g = 0;
      for (int64_t p = 0; p < k; ++p) {
        const double t =
            static_cast<double>(ta ? a[p * lda + i] : a[i * lda + p]) * (tb ? b[j * ldb + p] : b[p * ldb + j]);
        s += t;
        g += std::fabs(t);
      }
      const double prev = beta != 0.0f ? c0[i * ldc + j] : 0.0;
      const double want = alpha * s + beta * prev;
      const double bound = tol * (std::fabs(alpha) * g + std::fabs(beta * prev)) + 1e-30;
      const double got = c[i * ldc + j];
      if (!(std::fabs(got - want) <= bound)) {
        std::printf(
            "FAIL isa=%s ta=%d tb=%d m=%lld n=%lld k=%lld alpha=%g beta=%g pad=%lld: C[%lld,%lld] = %.9g, want %.9g "
            "(bound %.3g)\n",
            llmc_isa_name(llmc_isa_active()), ta, tb, static_cast<long long>(m), static_cast<long long>(n),
            static_cast<long long>(k), alpha, beta, static_cast<long long>(pad), static_cast<long long>(i),
            static_cast<long long>(j), got, want, bound);
        ++failures;
        return;
      }
    }
    // Padding columns of C must be untouched.
    for (int64_t j = n; j < ldc; ++j) {
      const float before = c0[i * ldc + j], after = c[i * ldc + j];
      if (std::memcmp(&before, &after, sizeof(float)) != 0) {
        std::printf("FAIL isa=%s: C padding written at [%lld,%lld]\n", llmc_isa_name(llmc_isa_active()),
                    static_cast<long long>(i), static_cast<long long>(j));
        ++failures;
        return;
      }
    }
  }
}

int run_check() {
  Rng rng(2024);
  // Sizes around every path and tile: the no-packing small-m paths (dot products, broadcast kernel,
  // axpy), the packed path (micro-tiles 4×8, 6×16, 14×32), odd n and k that are not multiples of
  // any vector width.
  const int64_t ms[] = {1, 2, 3, 7, 13, 16, 17, 31, 33, 64, 127, 128, 129};
  const int64_t ns[] = {1, 3, 15, 17, 33, 100, 257};
  const int64_t ks[] = {1, 5, 16, 17, 100, 300};
  std::vector<llmc_isa> levels;
  for (llmc_isa isa : {LLMC_ISA_SCALAR, LLMC_ISA_NEON, LLMC_ISA_AVX2, LLMC_ISA_AVX512})
    if (llmc_isa_set(isa) == LLMC_OK) levels.push_back(isa);
  for (llmc_isa isa : levels) {
    llmc_isa_set(isa);
    const int before = failures;
    for (int ta = 0; ta < 2; ++ta)
      for (int tb = 0; tb < 2; ++tb)
        for (int64_t m : ms)
          for (int64_t n : ns)
            for (int64_t k : ks) check_case(rng, ta, tb, m, n, k, 1.0f, 0.0f, (m + n + k) % 3 == 0 ? 5 : 0);
    for (int ta = 0; ta < 2; ++ta)
      for (int tb = 0; tb < 2; ++tb) {
        // alpha / beta, padded strides, and sizes past the cache blocks (k > kc = 768, n > nc =
        // 512, several k slices, m past every small-m threshold, several row chunks).
        check_case(rng, ta, tb, 9, 70, 40, 0.75f, 0.5f, 3);
        check_case(rng, ta, tb, 2, 70, 40, -1.5f, 1.0f, 0);
        check_case(rng, ta, tb, 40, 33, 70, 2.0f, 1.0f, 1);
        check_case(rng, ta, tb, 512, 257, 1000, 1.0f, 0.0f, 0);
        check_case(rng, ta, tb, 512, 100, 1600, 0.5f, 0.5f, 7);
        check_case(rng, ta, tb, 129, 1000, 800, -0.5f, 0.5f, 1);
        check_case(rng, ta, tb, 200, 600, 520, 1.0f, 1.0f, 0);
        check_case(rng, ta, tb, 64, 1000, 257, 1.0f, 0.0f, 2);
        check_case(rng, ta, tb, 17, 1000, 1500, 1.0f, 0.0f, 0);
        check_case(rng, ta, tb, 1, 1100, 1030, 1.0f, 0.25f, 2);
        check_case(rng, ta, tb, 3, 1000, 2000, 1.0f, 0.0f, 0);
        check_case(rng, ta, tb, 7, 1000, 1500, -1.0f, 1.0f, 4);
        check_case(rng, ta, tb, 31, 1, 1000, 1.0f, 0.5f, 0);
      }
    check_case(rng, 0, 1, 9000, 5, 3, 1.0f, 0.0f, 0);
    check_case(rng, 0, 1, 3000, 5, 3000, 1.0f, 0.0f, 1);  // packed A over budget: several row chunks
    check_case(rng, 1, 0, 3000, 7, 3000, 2.0f, 0.5f, 0);
    for (int ta = 0; ta < 2; ++ta)
      for (int tb = 0; tb < 2; ++tb) {
        check_case(rng, ta, tb, 4, 0, 3, 1.0f, 0.0f, 0);     // n = 0
        check_case(rng, ta, tb, 0, 5, 3, 1.0f, 0.0f, 0);     // m = 0
        check_case(rng, ta, tb, 4, 5, 0, 1.0f, 0.5f, 0);     // k = 0: C = beta·C
        check_case(rng, ta, tb, 4, 5, 0, 1.0f, 0.0f, 2);     // k = 0, beta = 0: C = 0 (NaN not read)
        check_case(rng, ta, tb, 20, 30, 10, 0.0f, 0.5f, 0);  // alpha = 0: C = beta·C
      }
    std::printf("%s: %s\n", llmc_isa_name(isa), failures == before ? "ok" : "FAILED");
  }
  // Bad arguments are refused with a message, never a crash.
  float x[4] = {1, 2, 3, 4};
  const bool refused = llmc_sgemm(0, 1, -1, 1, 1, 1, x, 1, x, 1, 0, x, 1) == LLMC_INVALID_ARGUMENT &&
                       llmc_sgemm(0, 1, 2, 2, 2, 1, x, 1, x, 2, 0, x, 2) == LLMC_INVALID_ARGUMENT &&
                       std::strstr(llmc_last_error(), "lda") != nullptr &&
                       llmc_sgemm(0, 0, 2, 2, 2, 1, x, 2, x, 1, 0, x, 2) == LLMC_INVALID_ARGUMENT &&
                       std::strstr(llmc_last_error(), "ldb") != nullptr &&
                       llmc_sgemm(0, 1, 2, 2, 2, 1, x, 2, x, 2, 0, x, 1) == LLMC_INVALID_ARGUMENT &&
                       std::strstr(llmc_last_error(), "ldc") != nullptr &&
                       llmc_sgemm(0, 1, 1, 1, 1, 1, nullptr, 1, x, 1, 0, x, 1) == LLMC_INVALID_ARGUMENT &&
                       llmc_sgemm(0, 1, 1, 1, 1, 1, x, 1, x, 1, 0, nullptr, 1) == LLMC_INVALID_ARGUMENT;
  ++cases;
  if (!refused) {
    std::printf("FAIL: bad arguments were not refused\n");
    ++failures;
  }
  std::printf("%d passed, %d failed\n", cases - failures, failures);
  return failures == 0 ? 0 : 1;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Median seconds of `reps` runs; cold rotates over copies of B totalling >= 256 MiB (so B comes from
// DRAM, not the 32 MiB L3). With `stream`, also the median seconds of a plain streaming read of the
// same copies (llmc_stream_read), interleaved with the GEMMs: the same-run bandwidth baseline.
double time_gemm(int ta, int tb, int64_t m, int64_t n, int64_t k, bool cold, int reps, double* stream = nullptr) {
  Rng rng(7);
  std::vector<float> a(static_cast<size_t>(m * k)), c(static_cast<size_t>(m * n));
  rng.fill(a);
  const size_t b_elems = static_cast<size_t>(n * k);
  const size_t copies = cold ? std::max<size_t>(2, (256u << 20) / (b_elems * 4) + 1) : 1;
  std::vector<std::vector<float>> bs(copies, std::vector<float>(b_elems));
  for (auto& b : bs) rng.fill(b);
  std::vector<double> t, ts;
  size_t next = 0;
  for (int r = -2; r < reps; ++r) {
    const float* b = bs[next++ % copies].data();
    auto t0 = std::chrono::steady_clock::now();
    llmc_sgemm(ta, tb, m, n, k, 1.0f, a.data(), ta ? m : k, b, tb ? k : n, 0.0f, c.data(), n);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (r >= 0) t.push_back(s);
    if (stream != nullptr) {
      double sum = 0;
      const float* x = bs[next++ % copies].data();
      t0 = std::chrono::steady_clock::now();
      llmc_stream_read(x, static_cast<int64_t>(b_elems), &sum);
      const double s2 = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      if (r >= 0) ts.push_back(s2);
    }
  }
  if (stream != nullptr) *stream = median(ts);
  return median(t);
}

int run_bench(int argc, char** argv) {
  if (argc > 2) {
    llmc_isa isa;
    if (llmc_isa_parse(argv[2], &isa) != 0 || llmc_isa_set(isa) != LLMC_OK) return 2;
  }
  double peak = 0;
  llmc_sgemm_peak(&peak);
  std::printf("isa %s, threads %d, FMA peak (register-only loop) %.1f GFLOP/s\n", llmc_isa_name(llmc_isa_active()),
              llmc_threads(), peak);
  const int64_t shapes[][2] = {{4096, 4096}, {4096, 11008}, {11008, 4096}};
  for (const auto& s : shapes) {
    for (int64_t m : {1, 4, 8, 16, 64, 128, 512}) {
      const int64_t k = s[0], n = s[1];
      double ts = 0;
      const double t = time_gemm(0, 1, m, n, k, m == 1, m == 1 ? 20 : 7, m == 1 ? &ts : nullptr);
      std::printf("NT m=%-4lld k=%-6lld n=%-6lld %9.3f ms %8.1f GFLOP/s %7.1f GB/s", static_cast<long long>(m),
                  static_cast<long long>(k), static_cast<long long>(n), t * 1e3, 2.0 * m * n * k / t * 1e-9,
                  4.0 * n * k / t * 1e-9);
      if (m == 1) std::printf(" (cold; streaming read of the same copies: %.1f GB/s)", 4.0 * n * k / ts * 1e-9);
      std::printf("\n");
    }
  }
  const struct {
    int ta, tb;
    int64_t m, n, k;
    const char* what;
  } extra[] = {{1, 0, 4096, 4096, 4096, "TN (Hessian XtX)"},
               {0, 0, 4096, 4096, 128, "NN (GPTQ lazy update)"},
               {0, 0, 512, 4096, 4096, "NN"},
               {1, 1, 512, 4096, 4096, "TT"}};
  for (const auto& e : extra) {
    const double t = time_gemm(e.ta, e.tb, e.m, e.n, e.k, false, 5);
    std::printf("%-22s m=%lld n=%lld k=%lld %9.3f ms %8.1f GFLOP/s\n", e.what, static_cast<long long>(e.m),
                static_cast<long long>(e.n), static_cast<long long>(e.k), t * 1e3, 2.0 * e.m * e.n * e.k / t * 1e-9);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 2 && std::strcmp(argv[1], "check") == 0) return run_check();
  if (argc >= 2 && std::strcmp(argv[1], "bench") == 0) return run_bench(argc, argv);
  std::fprintf(stderr, "usage: %s check | bench [isa]\n", argv[0]);
  return 2;
}
