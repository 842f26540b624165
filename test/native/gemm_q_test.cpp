// gemm_q_test.cpp — the native test and benchmark program of the quantized GEMMs (no Node).
//   gemm_q_test check        every ISA level the CPU runs × w8a8, w8a16, w4a8, w4a16 × odd shapes,
//                            groups, zero points, act-order, outliers, saturation edges, NaN rows,
//                            against a float64 reference of the dequantized weights; every output
//                            element checked; pack/unpack round trips
//   gemm_q_test bench [isa]  medians on LLM layer shapes (quick tuning; `llm-compress bench` is the
//                            reported benchmark)
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "gemm_q.h"  // the kernel tables: quant_row is compared across ISA levels directly
#include "llmc.h"
#include "test_a8_ref.h"
#include "test_rng.h"

namespace {

int failures = 0, cases = 0;

// A packed layer and its dequantized float64 copy.
struct Layer {
  bool int4 = false, sym = true;
  int64_t n = 0, k = 0, group = 0, G = 1;
  std::vector<int8_t> q;
  std::vector<float> scale;
  std::vector<uint8_t> zero;
  std::vector<int32_t> g_idx;
  std::vector<uint8_t> data;
  std::vector<float> pscale;
  std::vector<uint8_t> pzero;
  std::vector<int32_t> perm;
  int has_perm = 0;
  std::vector<double> w;  // dequantized [n×k]
  // |terms| magnitudes for error bounds: the kernels may compute s·(Σu·x − z·Σx)
  std::vector<double> wabs;
  llmc_q8_weights v8() const { return {n, k, data.data(), pscale.data()}; }
  llmc_q4_weights v4() const {
    return {n, k, group, data.data(), pscale.data(), sym ? nullptr : pzero.data(), has_perm ? perm.data() : nullptr};
  }
};

Layer make_layer(Rng& rng, bool int4, int64_t n, int64_t k, int64_t group, bool sym, bool act_order, bool edges) {
  Layer L;
  L.int4 = int4, L.sym = sym, L.n = n, L.k = k, L.group = int4 ? group : k, L.G = int4 ? k / group : 1;
  L.q.resize(static_cast<size_t>(n * k));
  L.scale.resize(static_cast<size_t>(n * L.G));
  for (auto& s : L.scale) s = 0.001f + 0.05f * std::fabs(rng.uniform());
  if (n > 1) L.scale[1] = 0.0f;  // an all-zero channel / group
  for (int64_t i = 0; i < n * k; ++i) {
    int v = int4 ? (sym ? rng.range(-8, 7) : rng.range(0, 15)) : rng.range(-128, 127);
    if (edges && rng.range(0, 3) == 0)
      v = int4 ? (sym ? (rng.range(0, 1) ? -8 : 7) : (rng.range(0, 1) ? 0 : 15)) : (rng.range(0, 1) ? -128 : 127);
    L.q[static_cast<size_t>(i)] = static_cast<int8_t>(v);
  }
  if (int4 && !sym) {
    L.zero.resize(static_cast<size_t>(n * L.G));
    for (auto& z : L.zero) z = static_cast<uint8_t>(rng.range(0, 15));
  }
  if (int4 && act_order) {  // a random assignment with `group` inputs per group
    L.g_idx.resize(static_cast<size_t>(k));
    for (int64_t p = 0; p < k; ++p) L.g_idx[static_cast<size_t>(p)] = static_cast<int32_t>(p / group);
    for (int64_t p = k - 1; p > 0; --p)
      std::swap(L.g_idx[static_cast<size_t>(p)], L.g_idx[static_cast<size_t>(rng.u32() % (p + 1))]);
  }
  L.w.resize(static_cast<size_t>(n * k));
  L.wabs.resize(static_cast<size_t>(n * k));
  for (int64_t j = 0; j < n; ++j)
    for (int64_t p = 0; p < k; ++p) {
      const int64_t t = int4 ? (act_order ? L.g_idx[static_cast<size_t>(p)] : p / group) : 0;
      const double s = L.scale[static_cast<size_t>(j * L.G + t)];
      const double qv = L.q[static_cast<size_t>(j * k + p)];
      const double z = int4 && !sym ? L.zero[static_cast<size_t>(j * L.G + t)] : 0.0;
      L.w[static_cast<size_t>(j * k + p)] = s * (qv - z);
      // stored unsigned value and zero as the kernels see them
      const double u = int4 ? (sym ? qv + 8 : qv) : qv + 128, zz = int4 ? (sym ? 8 : z) : 128;
      L.wabs[static_cast<size_t>(j * k + p)] = s * (std::fabs(u) + zz);
    }
  if (int4) {
    L.data.resize(static_cast<size_t>(llmc_q4_data_bytes(n, k)));
    L.pscale.resize(static_cast<size_t>(llmc_q4_scale_count(n, k, group)));
    L.pzero.resize(L.pscale.size());
    L.perm.resize(static_cast<size_t>(k));
    if (llmc_q4_pack(n, k, group, L.q.data(), L.scale.data(), sym ? nullptr : L.zero.data(),
                     act_order ? L.g_idx.data() : nullptr, L.data.data(), L.pscale.data(), L.pzero.data(),
                     L.perm.data(), &L.has_perm) != LLMC_OK) {
      std::printf("FAIL q4_pack: %s\n", llmc_last_error());
      ++failures;
    }
  } else {
    L.data.resize(static_cast<size_t>(llmc_q8_data_bytes(n, k)));
    L.pscale.resize(static_cast<size_t>(llmc_q8_scale_count(n)));
    if (llmc_q8_pack(n, k, L.q.data(), L.scale.data(), L.data.data(), L.pscale.data()) != LLMC_OK) {
      std::printf("FAIL q8_pack: %s\n", llmc_last_error());
      ++failures;
    }
  }
  return L;
}

// Round trip: unpack(pack(x)) == x.
void check_roundtrip(const Layer& L) {
  ++cases;
  std::vector<int8_t> q(L.q.size());
  std::vector<float> s(L.scale.size());
  std::vector<uint8_t> z(L.scale.size());
  std::vector<int32_t> g(static_cast<size_t>(L.k), -1);
  llmc_status st;
  if (L.int4) {
    const llmc_q4_weights v = L.v4();
    st = llmc_q4_unpack(&v, q.data(), s.data(), z.data(), g.data());
  } else {
    const llmc_q8_weights v = L.v8();
    st = llmc_q8_unpack(&v, q.data(), s.data());
  }
  bool ok = st == LLMC_OK && q == L.q && std::memcmp(s.data(), L.scale.data(), s.size() * sizeof(float)) == 0;
  if (L.int4 && !L.sym) ok = ok && z == L.zero;
  if (L.int4 && L.has_perm) ok = ok && g == L.g_idx;
  if (!ok) {
    std::printf("FAIL round trip int4=%d sym=%d n=%lld k=%lld group=%lld perm=%d\n", L.int4, L.sym,
                static_cast<long long>(L.n), static_cast<long long>(L.k), static_cast<long long>(L.group), L.has_perm);
    ++failures;
  }
}

void check_matmul(Rng& rng, const Layer& L, bool a8, int64_t m, int nan_row) {
  const int64_t k = L.k, n = L.n, ldx = k + 3, ldy = n + 2;
  std::vector<float> x(static_cast<size_t>(std::max<int64_t>(1, m * ldx)));
  for (auto& v : x) v = rng.uniform();
  for (int64_t i = 0; i < m; ++i)  // outlier channels, as real activations have
    for (int64_t p = 0; p < k; p += 37) x[static_cast<size_t>(i * ldx + p)] *= 20.0f;
  if (nan_row >= 0 && nan_row < m) x[static_cast<size_t>(nan_row * ldx + k / 2)] = (nan_row % 2) ? NAN : INFINITY;
  std::vector<float> y(static_cast<size_t>(std::max<int64_t>(1, m * ldy)), 12345.0f);
  ++cases;
  llmc_status st;
  if (L.int4) {
    const llmc_q4_weights v = L.v4();
    st = llmc_q4_matmul(&v, a8, m, x.data(), ldx, y.data(), ldy);
  } else {
    const llmc_q8_weights v = L.v8();
    st = llmc_q8_matmul(&v, a8, m, x.data(), ldx, y.data(), ldy);
  }
  if (st != LLMC_OK) {
    std::printf("FAIL %s: %s\n", llmc_status_name(st), llmc_last_error());
    ++failures;
    return;
  }
  std::vector<double> xq, sx;
  if (a8) quantize_rows(x, m, k, ldx, xq, sx);
  const double eps = std::ldexp(1.0, -23);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      const float got = y[static_cast<size_t>(i * ldy + j)];
      double want = 0, mag = 0;
      bool want_nan = false;
      for (int64_t p = 0; p < k; ++p) {
        const double xv =
            a8 ? xq[static_cast<size_t>(i * k + p)] * sx[static_cast<size_t>(i)] : x[static_cast<size_t>(i * ldx + p)];
        want += L.w[static_cast<size_t>(j * k + p)] * xv;
        mag += L.wabs[static_cast<size_t>(j * k + p)] * std::fabs(xv);
      }
      if (a8 && std::isnan(sx[static_cast<size_t>(i)])) want_nan = true;
      if (!a8 && i == nan_row) want_nan = !std::isfinite(want) || std::isnan(want);
      bool ok;
      if (i == nan_row && !a8)
        ok = !std::isfinite(got) || std::isnan(got);  // IEEE propagation: ±Inf or NaN
      else if (want_nan)
        ok = std::isnan(got);
      else
        ok = std::fabs(got - want) <= 8.0 * eps * (std::sqrt(static_cast<double>(k)) + L.G + 2) * mag + 1e-30;
      if (!ok) {
        std::printf(
            "FAIL isa=%s %s int4=%d sym=%d perm=%d m=%lld n=%lld k=%lld group=%lld: y[%lld,%lld] = %.9g, want %.9g "
            "(bound %.3g)\n",
            llmc_isa_name(llmc_isa_active()), a8 ? "a8" : "a16", L.int4, L.sym, L.has_perm, static_cast<long long>(m),
            static_cast<long long>(n), static_cast<long long>(k), static_cast<long long>(L.group),
            static_cast<long long>(i), static_cast<long long>(j), got, want,
            8.0 * eps * (std::sqrt(static_cast<double>(k)) + L.G + 2) * mag);
        ++failures;
        return;
      }
    }
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = n; j < ldy; ++j)
      if (i * ldy + j < static_cast<int64_t>(y.size()) && y[static_cast<size_t>(i * ldy + j)] != 12345.0f) {
        std::printf("FAIL isa=%s: y padding written at [%lld,%lld]\n", llmc_isa_name(llmc_isa_active()),
                    static_cast<long long>(i), static_cast<long long>(j));
        ++failures;
        return;
      }
}

// The activation quantizer of the active level against the scalar one: identical codes, group
// sums and scale (including non-finite rows, which must write zero codes, and ties at .5).
void check_quant_row(Rng& rng) {
  const llmc::q::Kernels K = llmc::q::kernels_active(), S = llmc::q::kernels_scalar();
  for (int64_t k : {1, 3, 4, 5, 17, 64, 100, 256, 1000})
    for (int kind = 0; kind < 5; ++kind) {
      const int64_t kp = (k + 7) / 8 * 8;
      const int64_t group_len = kind % 2 == 0 ? kp : (kp % 32 == 0 ? 32 : kp);
      std::vector<float> x(static_cast<size_t>(kp), 0.0f);
      for (int64_t p = 0; p < k; ++p) x[static_cast<size_t>(p)] = rng.uniform() * 3.0f;
      if (kind == 1) x[static_cast<size_t>(k / 2)] = NAN;
      if (kind == 2) x[static_cast<size_t>(k - 1)] = -INFINITY;
      if (kind == 3) std::fill(x.begin(), x.begin() + k, 0.0f);
      if (kind == 4) {  // ties: amax 127 makes inv 1 and x.5 values round half to even
        x[0] = 127.0f;
        for (int64_t p = 1; p < k; ++p)
          x[static_cast<size_t>(p)] = static_cast<float>(static_cast<int>(p % 9) - 4) + 0.5f;
      }
      const int mr = 3;
      std::vector<int8_t> a(static_cast<size_t>(kp * mr), 99), b = a;
      std::vector<int32_t> sa(static_cast<size_t>(kp / group_len) + 1, 7), sb = sa;
      ++cases;
      const float fa = K.quant_row(x.data(), k, kp, a.data() + 4, mr, sa.data(), group_len);
      const float fb = S.quant_row(x.data(), k, kp, b.data() + 4, mr, sb.data(), group_len);
      const bool same_scale = (std::isnan(fa) && std::isnan(fb)) || fa == fb;
      if (!same_scale || a != b || sa != sb) {
        std::printf("FAIL isa=%s quant_row k=%lld kind=%d group=%lld: scale %g vs %g, codes %s, sums %s\n",
                    llmc_isa_name(llmc_isa_active()), static_cast<long long>(k), kind,
                    static_cast<long long>(group_len), fa, fb, a == b ? "equal" : "differ",
                    sa == sb ? "equal" : "differ");
        ++failures;
      }
    }
}

int run_check() {
  std::vector<llmc_isa> levels;
  for (llmc_isa isa : {LLMC_ISA_SCALAR, LLMC_ISA_NEON, LLMC_ISA_AVX2, LLMC_ISA_AVX512})
    if (llmc_isa_set(isa) == LLMC_OK) levels.push_back(isa);
  const int64_t ms[] = {1, 2, 3, 4, 5, 7, 12, 13, 19, 40};
  for (llmc_isa isa : levels) {
    llmc_isa_set(isa);
    const int before = failures;
    Rng rng(1234);
    check_quant_row(rng);
    // int8: k any (padded to 4), n any
    for (int64_t n : {1, 15, 16, 17, 33, 70})
      for (int64_t k : {1, 3, 4, 30, 64, 257}) {
        const Layer L = make_layer(rng, false, n, k, 0, true, false, n % 2 == 1);
        if (isa == levels.front()) check_roundtrip(L);
        for (int64_t m : ms)
          check_matmul(rng, L, true, m, m > 2 ? 2 : -1), check_matmul(rng, L, false, m, m > 3 ? 3 : -1);
      }
    // int4: groups 32/64/128 dividing k, or one group per row (k any)
    struct G4 {
      int64_t k, group;
    };
    for (int64_t n : {1, 16, 17, 45})
      for (G4 g : {G4{32, 32}, G4{64, 32}, G4{96, 32}, G4{128, 64}, G4{256, 128}, G4{384, 128}, G4{20, 20},
                   G4{100, 100}, G4{264, 264}})
        for (int sym = 0; sym < 2; ++sym)
          for (int ao = 0; ao < (g.group < g.k ? 2 : 1); ++ao) {
            const Layer L = make_layer(rng, true, n, g.k, g.group, sym == 1, ao == 1, n % 2 == 1);
            if (isa == levels.front()) check_roundtrip(L);
            for (int64_t m : ms)
              check_matmul(rng, L, true, m, m > 2 ? 2 : -1), check_matmul(rng, L, false, m, m > 3 ? 3 : -1);
          }
    // Larger shapes: several kc slices and tasks of the fp32 GEMM path, many column blocks.
    {
      const Layer L8 = make_layer(rng, false, 300, 1100, 0, true, false, false);
      for (int64_t m : {1, 5, 64}) check_matmul(rng, L8, true, m, -1), check_matmul(rng, L8, false, m, -1);
      const Layer L4 = make_layer(rng, true, 200, 1024, 128, false, true, false);
      for (int64_t m : {1, 5, 64}) check_matmul(rng, L4, true, m, -1), check_matmul(rng, L4, false, m, -1);
      // deeper k (several kc slices of the fp32 GEMM behind A16), edge codes, NaN rows
      const Layer L8b = make_layer(rng, false, 40, 2500, 0, true, false, true);
      for (int64_t m : {2, 13}) check_matmul(rng, L8b, true, m, 1), check_matmul(rng, L8b, false, m, -1);
      const Layer L4b = make_layer(rng, true, 40, 2304, 128, false, true, false);
      for (int64_t m : {2, 13}) check_matmul(rng, L4b, true, m, 1), check_matmul(rng, L4b, false, m, -1);
    }
    std::printf("%s: %s\n", llmc_isa_name(isa), failures == before ? "ok" : "FAILED");
  }
  std::printf("%d cases, %d failures\n", cases, failures);
  return failures == 0 ? 0 : 1;
}

double median_ms(const std::vector<double>& v) {
  std::vector<double> s = v;
  std::sort(s.begin(), s.end());
  return s[s.size() / 2];
}

int run_bench(int argc, char** argv) {
  if (argc >= 3) {
    llmc_isa isa;
    if (llmc_isa_parse(argv[2], &isa) != 0 || llmc_isa_set(isa) != LLMC_OK) return 2;
  }
  std::printf("isa %s, threads %d\n", llmc_isa_name(llmc_isa_active()), llmc_threads());
  Rng rng(7);
  struct Shape {
    int64_t k, n;
  };
  for (Shape sh : {Shape{4096, 4096}, Shape{4096, 11008}, Shape{11008, 4096}}) {
    const Layer L8 = make_layer(rng, false, sh.n, sh.k, 0, true, false, false);
    const Layer L4 = make_layer(rng, true, sh.n, sh.k, 128, true, false, false);
    for (int64_t m : {1, 16, 128, 512}) {
      std::vector<float> x(static_cast<size_t>(m * sh.k)), y(static_cast<size_t>(m * sh.n));
      for (auto& v : x) v = rng.uniform();
      for (int kind = 0; kind < 4; ++kind) {
        const bool int4 = kind >= 2, a8 = kind % 2 == 0;
        std::vector<double> t;
        for (int rep = 0; rep < (m == 1 ? 40 : 7); ++rep) {
          const auto t0 = std::chrono::steady_clock::now();
          if (int4) {
            const llmc_q4_weights v = L4.v4();
            llmc_q4_matmul(&v, a8, m, x.data(), sh.k, y.data(), sh.n);
          } else {
            const llmc_q8_weights v = L8.v8();
            llmc_q8_matmul(&v, a8, m, x.data(), sh.k, y.data(), sh.n);
          }
          t.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
        }
        const double ms = median_ms(t);
        const double bytes = int4 ? static_cast<double>(L4.data.size() + L4.pscale.size() * 4)
                                  : static_cast<double>(L8.data.size() + L8.pscale.size() * 4);
        std::printf("%s%s m=%4lld k=%5lld n=%5lld  %8.3f ms  %7.1f GOP/s  %6.1f GB/s (warm)\n", int4 ? "w4" : "w8",
                    a8 ? "a8 " : "a16", static_cast<long long>(m), static_cast<long long>(sh.k),
                    static_cast<long long>(sh.n), ms, 2.0 * m * sh.n * sh.k / ms * 1e-6, bytes / ms * 1e-6);
      }
    }
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
