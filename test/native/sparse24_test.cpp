// sparse24_test.cpp — the native test and benchmark program of the 2:4 sparse weights (no Node).
//   sparse24_test check        every ISA level the CPU runs × f32 / w8a8 / w4a16 × both paths ×
//                              odd m and n, k edge sizes, int4 groups, outliers, edge codes, NaN and
//                              Inf rows, against a float64 reference of the dense equivalent; every
//                              output element checked; pack/unpack round trips, the 2:4 check, the
//                              bitmask and NVIDIA metadata exports
//   sparse24_test bench [isa]  medians against the dense kernels of the same precision on LLM shapes
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "llmc.h"
#include "test_a8_ref.h"
#include "test_rng.h"

namespace {

int failures = 0, cases = 0;

#define CHECK(cond, ...)                 \
  do {                                   \
    ++cases;                             \
    if (!(cond)) {                       \
      std::printf("FAIL: " __VA_ARGS__); \
      std::printf("\n");                 \
      ++failures;                        \
    }                                    \
  } while (0)

// A 2:4 weight in dense form (values or codes + scales) and packed.
struct Layer {
  int bits = 32;
  int64_t n = 0, k = 0, group = 0, G = 1;
  std::vector<float> wf;     // bits 32: [n×k]
  std::vector<int8_t> q;     // bits 8/4: [n×k]
  std::vector<float> scale;  // [n] or [n×G]
  std::vector<double> w;     // dequantized [n×k]
  std::vector<uint8_t> meta, values;
  std::vector<float> pscale;
  std::vector<int32_t> wsum;
  llmc_s24_weights v() const {
    return {n,
            k,
            bits,
            group,
            meta.data(),
            values.data(),
            bits == 32 ? nullptr : pscale.data(),
            bits == 8 ? wsum.data() : nullptr};
  }
};

// Random 2:4 pattern: most groups 2 nonzeros, some 1 or 0; values never zero where kept.
Layer make_layer(Rng& rng, int bits, int64_t n, int64_t k, int64_t group, bool edges) {
  Layer L;
  L.bits = bits, L.n = n, L.k = k, L.group = bits == 4 ? group : 0, L.G = bits == 4 ? k / group : 1;
  if (bits == 32)
    L.wf.assign(static_cast<size_t>(n * k), 0.0f);
  else
    L.q.assign(static_cast<size_t>(n * k), 0);
  L.scale.resize(static_cast<size_t>(n * L.G));
  for (auto& s : L.scale) s = 0.001f + 0.05f * std::fabs(rng.uniform());
  for (int64_t j = 0; j < n; ++j)
    for (int64_t g = 0; g < k / 4; ++g) {
      const int kind = rng.range(0, 9);
      const int count = kind == 0 ? 0 : kind == 1 ? 1 : 2;
      int a = rng.range(0, 3), b = rng.range(0, 2);
      if (b >= a) ++b;
      for (int c = 0; c < count; ++c) {
        const int64_t at = j * k + 4 * g + (c == 0 ? a : b);
        if (bits == 32) {
          float v = rng.uniform();
          if (v == 0.0f) v = 0.5f;
          if (edges && rng.range(0, 15) == 0) v *= 100.0f;  // outlier weights
          L.wf[static_cast<size_t>(at)] = v;
        } else {
          const int lo = bits == 8 ? -128 : -8, hi = bits == 8 ? 127 : 7;
          int v = rng.range(lo, hi - 1);
          if (v >= 0) ++v;  // never 0
          if (edges && rng.range(0, 3) == 0) v = rng.range(0, 1) ? lo : hi;
          L.q[static_cast<size_t>(at)] = static_cast<int8_t>(v);
        }
      }
    }
  L.w.resize(static_cast<size_t>(n * k));
  for (int64_t j = 0; j < n; ++j)
    for (int64_t p = 0; p < k; ++p) {
      const size_t at = static_cast<size_t>(j * k + p);
      L.w[at] = bits == 32 ? L.wf[at]
                           : static_cast<double>(L.scale[static_cast<size_t>(j * L.G + (bits == 4 ? p / group : 0))]) *
                                 L.q[at];
    }
  L.meta.resize(static_cast<size_t>(llmc_s24_meta_bytes(n, k)));
  L.values.resize(static_cast<size_t>(llmc_s24_value_bytes(bits, n, k)));
  L.pscale.resize(static_cast<size_t>(std::max<int64_t>(1, llmc_s24_scale_count(bits, n, k, L.group))));
  L.wsum.resize(static_cast<size_t>(llmc_s24_scale_count(8, n, k, 0)));
  int64_t bad[2];
  const llmc_status st = llmc_s24_pack(bits, n, k, L.group, bits == 32 ? L.wf.data() : nullptr,
                                       bits == 32 ? nullptr : L.q.data(), bits == 32 ? nullptr : L.scale.data(),
                                       L.meta.data(), L.values.data(), L.pscale.data(), L.wsum.data(), bad);
  CHECK(st == LLMC_OK, "s24_pack bits=%d n=%lld k=%lld: %s", bits, static_cast<long long>(n), static_cast<long long>(k),
        llmc_last_error());
  return L;
}

void check_roundtrip(const Layer& L) {
  const llmc_s24_weights v = L.v();
  std::vector<float> d(static_cast<size_t>(L.n * L.k), 7.0f), s(L.scale.size(), 7.0f);
  std::vector<int8_t> q(static_cast<size_t>(L.n * L.k), 7);
  const llmc_status st = llmc_s24_unpack(&v, d.data(), q.data(), s.data());
  bool ok = st == LLMC_OK;
  if (L.bits == 32)
    ok = ok && std::memcmp(d.data(), L.wf.data(), d.size() * sizeof(float)) == 0;
  else
    ok = ok && q == L.q && std::memcmp(s.data(), L.scale.data(), s.size() * sizeof(float)) == 0;
  CHECK(ok, "round trip bits=%d n=%lld k=%lld", L.bits, static_cast<long long>(L.n), static_cast<long long>(L.k));
}

// compressed-tensors sparse-24-bitmask: decompress by its rule (values placed, in row-major order,
// at the set bits of the little-endian bit mask) and compare with the dense matrix.
void check_bitmask(const Layer& L) {
  const llmc_s24_weights v = L.v();
  const int64_t mb = (L.k + 7) / 8, half = L.k / 2;
  std::vector<float> cf(static_cast<size_t>(L.n * half));
  std::vector<int8_t> c8(static_cast<size_t>(L.n * half));
  std::vector<uint8_t> bm(static_cast<size_t>(L.n * mb), 0xEE);
  const llmc_status st =
      llmc_s24_to_bitmask(&v, L.bits == 32 ? static_cast<void*>(cf.data()) : static_cast<void*>(c8.data()), bm.data());
  bool ok = st == LLMC_OK;
  for (int64_t j = 0; ok && j < L.n; ++j) {
    int64_t col = 0;
    for (int64_t p = 0; p < L.k; ++p) {
      const bool set = (bm[static_cast<size_t>(j * mb + p / 8)] >> (p % 8)) & 1;
      const size_t at = static_cast<size_t>(j * L.k + p);
      const bool nz = L.bits == 32 ? L.wf[at] != 0.0f : L.q[at] != 0;
      if (nz && !set) ok = false;
      if (set) {
        const bool same = L.bits == 32 ? cf[static_cast<size_t>(j * half + col)] == L.wf[at]
                                       : c8[static_cast<size_t>(j * half + col)] == L.q[at];
        ok = ok && same;
        ++col;
      }
      if (p % 4 == 3) {  // exactly 2 bits per group
        int bits = 0;
        for (int64_t i = p - 3; i <= p; ++i) bits += (bm[static_cast<size_t>(j * mb + i / 8)] >> (i % 8)) & 1;
        ok = ok && bits == 2;
      }
    }
    ok = ok && col == half;
    // padding bits of the last byte are zero
    for (int64_t p = L.k; p < mb * 8; ++p) ok = ok && !((bm[static_cast<size_t>(j * mb + p / 8)] >> (p % 8)) & 1);
  }
  CHECK(ok, "bitmask bits=%d n=%lld k=%lld", L.bits, static_cast<long long>(L.n), static_cast<long long>(L.k));
}

// NVIDIA metadata: nibble g of row j (low nibble first) = idx0 | idx1 << 2, idx0 < idx1, nonzeros
// only at idx0 and idx1.
void check_nv(const Layer& L) {
  const llmc_s24_weights v = L.v();
  const int64_t mb = (L.k + 7) / 8;
  std::vector<uint8_t> out(static_cast<size_t>(L.n * mb));
  bool ok = llmc_s24_nv_metadata(&v, out.data()) == LLMC_OK;
  for (int64_t j = 0; ok && j < L.n; ++j)
    for (int64_t g = 0; g < L.k / 4; ++g) {
      const int nib = (out[static_cast<size_t>(j * mb + g / 2)] >> (4 * (g % 2))) & 0xF;
      const int i0 = nib & 3, i1 = nib >> 2;
      ok = ok && i0 < i1;
      for (int i = 0; i < 4; ++i) {
        const size_t at = static_cast<size_t>(j * L.k + 4 * g + i);
        const bool nz = L.bits == 32 ? L.wf[at] != 0.0f : L.q[at] != 0;
        if (nz && i != i0 && i != i1) ok = false;
      }
    }
  CHECK(ok, "nv metadata bits=%d n=%lld k=%lld", L.bits, static_cast<long long>(L.n), static_cast<long long>(L.k));
}

// A group with 3 nonzeros is refused, naming the first such group.
void check_violation(Rng& rng) {
  for (int bits : {32, 8, 4}) {
    const int64_t n = 5, k = 64, group = bits == 4 ? 32 : 0;
    std::vector<float> w(static_cast<size_t>(n * k), 0.0f), scale(static_cast<size_t>(n * 2), 0.1f);
    std::vector<int8_t> q(static_cast<size_t>(n * k), 0);
    for (int64_t j = 0; j < n; ++j)
      for (int64_t g = 0; g < k / 4; ++g)
        w[static_cast<size_t>(j * k + 4 * g + 1)] = 1.0f, q[static_cast<size_t>(j * k + 4 * g + 1)] = 3;
    const int64_t j0 = 2 + rng.range(0, 1), g0 = rng.range(3, 9);
    for (int i : {0, 2})
      w[static_cast<size_t>(j0 * k + 4 * g0 + i)] = -2.0f,
                                              q[static_cast<size_t>(j0 * k + 4 * g0 + i)] = -1;  // 3 nonzeros
    // a later violation too: the first one is reported
    for (int i : {0, 2}) w[static_cast<size_t>(4 * k + i)] = 5.0f, q[static_cast<size_t>(4 * k + i)] = 2;
    std::vector<uint8_t> meta(static_cast<size_t>(llmc_s24_meta_bytes(n, k))),
        values(static_cast<size_t>(llmc_s24_value_bytes(bits, n, k)));
    std::vector<float> so(static_cast<size_t>(std::max<int64_t>(1, llmc_s24_scale_count(bits, n, k, group))));
    std::vector<int32_t> ws(16);
    int64_t bad[2];
    const llmc_status st = llmc_s24_pack(bits, n, k, group, w.data(), q.data(), scale.data(), meta.data(),
                                         values.data(), so.data(), ws.data(), bad);
    char want[64];
    std::snprintf(want, sizeof want, "row %lld, columns %lld..", static_cast<long long>(j0),
                  static_cast<long long>(4 * g0));
    CHECK(st == LLMC_INVALID_ARGUMENT && bad[0] == j0 && bad[1] == 4 * g0 && std::strstr(llmc_last_error(), want),
          "violation bits=%d: status %d bad=(%lld,%lld) message '%s', want row %lld column %lld", bits, st,
          static_cast<long long>(bad[0]), static_cast<long long>(bad[1]), llmc_last_error(), static_cast<long long>(j0),
          static_cast<long long>(4 * g0));
  }
  // k not a multiple of 4
  std::vector<float> w(12, 1.0f);
  std::vector<uint8_t> buf(4096);
  CHECK(llmc_s24_pack(32, 2, 6, 0, w.data(), nullptr, nullptr, buf.data(), buf.data() + 1024, nullptr, nullptr,
                      nullptr) == LLMC_INVALID_ARGUMENT,
        "k = 6 must be refused");
}

// Hand-computed example in the compressed-tensors spec's terms (one row, k = 8):
// W = [0, 1.5, 0, -2 | 3, 0, 0, 0] keeps (1, 3) and (0, 1): bitmask 0b0011_1010 = 0x3A,
// compressed [1.5, -2, 3, 0]; NVIDIA metadata: group 0 = 1 | 3 << 2 = 0xD, group 1 = 0 | 1 << 2 = 0x4.
void check_hand_example() {
  const float w[8] = {0, 1.5f, 0, -2, 3, 0, 0, 0};
  std::vector<uint8_t> meta(static_cast<size_t>(llmc_s24_meta_bytes(1, 8))),
      values(static_cast<size_t>(llmc_s24_value_bytes(32, 1, 8)));
  llmc_s24_pack(32, 1, 8, 0, w, nullptr, nullptr, meta.data(), values.data(), nullptr, nullptr, nullptr);
  const llmc_s24_weights v{1, 8, 32, 0, meta.data(), values.data(), nullptr, nullptr};
  float c[4];
  uint8_t bm = 0, nv = 0;
  llmc_s24_to_bitmask(&v, c, &bm);
  llmc_s24_nv_metadata(&v, &nv);
  CHECK(bm == 0x3A && c[0] == 1.5f && c[1] == -2.0f && c[2] == 3.0f && c[3] == 0.0f && nv == 0x4D,
        "hand example: bitmask 0x%02X compressed [%g %g %g %g] nv 0x%02X", bm, c[0], c[1], c[2], c[3], nv);
}

void check_matmul(Rng& rng, const Layer& L, int path, int64_t m, int nan_row) {
  const int64_t k = L.k, n = L.n, ldx = k + 3, ldy = n + 2;
  const bool a8 = L.bits == 8;
  std::vector<float> x(static_cast<size_t>(std::max<int64_t>(1, m * ldx)));
  for (auto& v : x) {
    v = rng.uniform();
    if (v == 0.0f) v = 0.25f;
  }
  for (int64_t i = 0; i < m; ++i)  // outlier channels, as real activations have
    for (int64_t p = 0; p < k; p += 37) x[static_cast<size_t>(i * ldx + p)] *= 20.0f;
  if (nan_row >= 0 && nan_row < m) x[static_cast<size_t>(nan_row * ldx + k / 2)] = (nan_row % 2) ? NAN : INFINITY;
  std::vector<float> y(static_cast<size_t>(std::max<int64_t>(1, m * ldy)), 12345.0f);
  const llmc_s24_weights v = L.v();
  const llmc_status st = llmc_s24_matmul(&v, path, m, x.data(), ldx, y.data(), ldy);
  ++cases;
  if (st != LLMC_OK) {
    std::printf("FAIL s24_matmul: %s\n", llmc_last_error());
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
      for (int64_t p = 0; p < k; ++p) {
        const double xv =
            a8 ? xq[static_cast<size_t>(i * k + p)] * sx[static_cast<size_t>(i)] : x[static_cast<size_t>(i * ldx + p)];
        const double wv = L.w[static_cast<size_t>(j * k + p)];
        if (wv == 0.0 && std::isfinite(xv)) continue;
        want += wv * xv;
        mag += std::fabs(wv) * std::fabs(xv);
      }
      const double bound = 8.0 * eps * (std::sqrt(static_cast<double>(k)) + L.G + 2) * mag + 1e-30;
      bool ok;
      if (i == nan_row)
        ok = a8 ? std::isnan(got) : !std::isfinite(got);
      else
        ok = std::fabs(got - want) <= bound;
      if (!ok) {
        std::printf(
            "FAIL isa=%s bits=%d path=%d m=%lld n=%lld k=%lld group=%lld: y[%lld,%lld] = %.9g, want %.9g (bound "
            "%.3g)\n",
            llmc_isa_name(llmc_isa_active()), L.bits, path, static_cast<long long>(m), static_cast<long long>(n),
            static_cast<long long>(k), static_cast<long long>(L.group), static_cast<long long>(i),
            static_cast<long long>(j), got, want, bound);
        ++failures;
        return;
      }
    }
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = n; j < ldy; ++j)
      if (y[static_cast<size_t>(i * ldy + j)] != 12345.0f) {
        std::printf("FAIL isa=%s: y padding written at [%lld,%lld]\n", llmc_isa_name(llmc_isa_active()),
                    static_cast<long long>(i), static_cast<long long>(j));
        ++failures;
        return;
      }
}

int run_check() {
  std::vector<llmc_isa> levels;
  for (llmc_isa isa : {LLMC_ISA_SCALAR, LLMC_ISA_NEON, LLMC_ISA_AVX2, LLMC_ISA_AVX512})
    if (llmc_isa_set(isa) == LLMC_OK) levels.push_back(isa);
  const int64_t ms[] = {1, 2, 3, 4, 5, 7, 8, 9, 13, 17, 40};
  {
    Rng rng(99);
    check_violation(rng);
    check_hand_example();
  }
  for (llmc_isa isa : levels) {
    llmc_isa_set(isa);
    const int before = failures;
    Rng rng(1234);
    for (int bits : {32, 8})
      for (int64_t n : {1, 15, 16, 17, 33, 70})
        for (int64_t k : {4, 8, 12, 16, 20, 36, 100, 256}) {
          const Layer L = make_layer(rng, bits, n, k, 0, n % 2 == 1);
          if (isa == levels.front()) check_roundtrip(L), check_bitmask(L), check_nv(L);
          for (int64_t m : ms)
            for (int path : {1, 2}) {
              if (bits == 8 && path == 2) continue;
              check_matmul(rng, L, path, m, m > 2 ? 2 : -1);
            }
        }
    struct G4 {
      int64_t k, group;
    };
    for (int64_t n : {1, 16, 17, 45})
      for (G4 g : {G4{32, 32}, G4{64, 32}, G4{96, 32}, G4{128, 64}, G4{256, 128}, G4{384, 128}, G4{20, 20},
                   G4{100, 100}, G4{264, 264}}) {
        const Layer L = make_layer(rng, 4, n, g.k, g.group, n % 2 == 1);
        if (isa == levels.front()) check_roundtrip(L), check_bitmask(L), check_nv(L);
        for (int64_t m : ms)
          for (int path : {1, 2}) check_matmul(rng, L, path, m, m > 3 ? 3 : -1);
      }
    // Larger shapes: many blocks and tasks, several kc slices of the fp32 GEMM, the auto path.
    for (int bits : {32, 8, 4}) {
      const Layer A = make_layer(rng, bits, 300, 1104, bits == 4 ? 1104 : 0, false);
      for (int64_t m : {1, 6, 64})
        for (int path : {0, 1, 2}) check_matmul(rng, A, path, m, -1);
      const Layer B = make_layer(rng, bits, 40, bits == 4 ? 2560 : 2500, bits == 4 ? 128 : 0, true);
      for (int64_t m : {2, 13})
        for (int path : {0, 1, 2}) check_matmul(rng, B, path, m, 1);
    }
    std::printf("%s: %s\n", llmc_isa_name(isa), failures == before ? "ok" : "FAILED");
  }
  std::printf("%d cases, %d failures\n", cases, failures);
  return failures == 0 ? 0 : 1;
}

double median_ms(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

template <class F>
double time_ms(int reps, F&& f) {
  std::vector<double> t;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    t.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  return median_ms(t);
}

// Quick tuning numbers (warm weights): 2:4 paths beside the dense kernel of the same precision.
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
  for (Shape sh : {Shape{4096, 4096}, Shape{4096, 11008}}) {
    for (int bits : {32, 8, 4}) {
      const Layer L = make_layer(rng, bits, sh.n, sh.k, bits == 4 ? 128 : 0, false);
      // dense equivalent
      std::vector<uint8_t> dd;
      std::vector<float> ds, dw;
      int has_perm = 0;
      std::vector<int32_t> perm(static_cast<size_t>(sh.k));
      if (bits == 8) {
        dd.resize(static_cast<size_t>(llmc_q8_data_bytes(sh.n, sh.k))),
            ds.resize(static_cast<size_t>(llmc_q8_scale_count(sh.n)));
        llmc_q8_pack(sh.n, sh.k, L.q.data(), L.scale.data(), dd.data(), ds.data());
      } else if (bits == 4) {
        dd.resize(static_cast<size_t>(llmc_q4_data_bytes(sh.n, sh.k))),
            ds.resize(static_cast<size_t>(llmc_q4_scale_count(sh.n, sh.k, 128)));
        llmc_q4_pack(sh.n, sh.k, 128, L.q.data(), L.scale.data(), nullptr, nullptr, dd.data(), ds.data(), nullptr,
                     perm.data(), &has_perm);
      } else {
        dw = L.wf;
      }
      for (int64_t m : {1, 4, 8, 16, 32, 64, 128, 512}) {
        std::vector<float> x(static_cast<size_t>(m * sh.k)), y(static_cast<size_t>(m * sh.n));
        for (auto& v : x) v = rng.uniform();
        const int reps = m <= 16 ? 30 : 7;
        const double dense = time_ms(reps, [&] {
          if (bits == 32)
            llmc_sgemm(0, 1, m, sh.n, sh.k, 1.0f, x.data(), sh.k, dw.data(), sh.k, 0.0f, y.data(), sh.n);
          else if (bits == 8) {
            const llmc_q8_weights w{sh.n, sh.k, dd.data(), ds.data()};
            llmc_q8_matmul(&w, 1, m, x.data(), sh.k, y.data(), sh.n);
          } else {
            const llmc_q4_weights w{sh.n, sh.k, 128, dd.data(), ds.data(), nullptr, nullptr};
            llmc_q4_matmul(&w, 0, m, x.data(), sh.k, y.data(), sh.n);
          }
        });
        const llmc_s24_weights v = L.v();
        const double p1 = time_ms(reps, [&] { llmc_s24_matmul(&v, 1, m, x.data(), sh.k, y.data(), sh.n); });
        const double p2 =
            bits == 8 ? p1 : time_ms(reps, [&] { llmc_s24_matmul(&v, 2, m, x.data(), sh.k, y.data(), sh.n); });
        std::printf(
            "%-6s m=%4lld k=%5lld n=%5lld  dense %8.3f ms  2:4 kernels %8.3f ms (%.2fx)  dense path %8.3f ms (%.2fx)  "
            "auto=%d\n",
            bits == 32  ? "f32"
            : bits == 8 ? "w8a8"
                        : "w4a16",
            static_cast<long long>(m), static_cast<long long>(sh.k), static_cast<long long>(sh.n), dense, p1,
            dense / p1, p2, dense / p2, llmc_s24_path(bits, m, sh.n, sh.k));
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
