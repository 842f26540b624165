// cuda_gemm_q_test.cpp — the test and benchmark program of the dense tensor-core GEMMs
// (native/cuda/gemm_q.cu: w4a16, w8a8, f16), runnable without a GPU.
//   cuda_gemm_q_test check   1. f16 rounding of the packer (gq::f16_bits) against an independent
//                               round-to-nearest-even;
//                            2. packer round trips: every packed word unpacked through the kernels'
//                               index map back to codes / scales / zero points / f16 values, compared
//                               exactly, each packed position covered exactly once;
//                            3. CPU replay: every lane of every warp of every block, as the kernels run
//                               it (the LLMC_HD maps and math of gemm_q_layout.h), the mma operands
//                               assembled from the 32 lanes' registers with the PTX ISA fragment tables
//                               written below, the mma in double; every output compared with a float64
//                               reference over the f16-rounded operands (exact up to summation order)
//                               and with the float64 reference of the unrounded layer (f16 bound);
//                            4. GPU vs CPU through llmc_cuda_* against llmc_q4_matmul / llmc_q8_matmul
//                               (act_int8 = 1) / llmc_sgemm, when a device is usable; otherwise one
//                               line "GPU checks skipped: <reason>".
//   cuda_gemm_q_test bench   w4a16, w8a8 and f16 kernel times on LLM layer shapes (needs a GPU).
#include <algorithm>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <vector>

#include "../../native/pack/f16_bits.h"
#include "../../native/pack/gemm_q_layout.h"
#include "llmc.h"
#include "test_a8_ref.h"
#include "test_rng.h"

namespace {

namespace gq = llmc::gq;

int failures = 0, cases = 0;

// ---- PTX ISA fragment tables ------------------------------------------------------------------------
// From the PTX ISA, "Matrix Fragments for mma.m16n8k16 with floating point type" and "Matrix Fragments
// for mma.m16n8k32" (integer types): groupID = laneid >> 2, threadID_in_group = laneid % 4. Elements
// are numbered low to high through the registers: f16 element i is half i % 2 of register i / 2, s8
// element i is byte i % 4 of register i / 4.
struct Pos {
  int row, col;
};
Pos ptx_a_f16(int lane, int i) {  // a0..a7 of the 16 × 16 A
  const int g = lane >> 2, t = lane % 4;
  return {(i < 2 || (i >= 4 && i < 6)) ? g : g + 8, t * 2 + (i & 1) + (i >= 4 ? 8 : 0)};
}
Pos ptx_b_f16(int lane, int i) {  // b0..b3 of the 16 × 8 B (row = k, col = n)
  const int g = lane >> 2, t = lane % 4;
  return {t * 2 + (i & 1) + (i >= 2 ? 8 : 0), g};
}
Pos ptx_a_s8(int lane, int i) {  // a0..a15 of the 16 × 32 A
  const int g = lane >> 2, t = lane % 4;
  return {(i < 4 || (i >= 8 && i < 12)) ? g : g + 8, t * 4 + (i & 3) + (i >= 8 ? 16 : 0)};
}
Pos ptx_b_s8(int lane, int i) {  // b0..b7 of the 32 × 8 B
  const int g = lane >> 2, t = lane % 4;
  return {t * 4 + (i & 3) + (i >= 4 ? 16 : 0), g};
}
Pos ptx_c(int lane, int i) {  // c0..c3 of the 16 × 8 C / D (f32 and s32 alike)
  const int g = lane >> 2, t = lane % 4;
  return {i < 2 ? g : g + 8, t * 2 + (i & 1)};
}

// ---- f16, independently of the packer --------------------------------------------------------------
// Nearest f16 (ties to even) as a double; ±Inf past the largest finite f16 (65504).
double f16_round(double v) {
  if (std::isnan(v) || v == 0.0) return v;
  const double a = std::fabs(v);
  int e = 0;
  std::frexp(a, &e);  // a in [2^(e-1), 2^e): 10 fraction bits below the leading one, subnormal below 2^-14
  const double quantum = std::ldexp(1.0, std::max(e - 1, -14) - 10);
  const double r = std::nearbyint(a / quantum) * quantum;  // default rounding mode: to nearest even
  return std::copysign(r > 65504.0 ? INFINITY : r, v);
}
// Bits of an f16 value (a result of f16_round).
uint16_t f16_encode(double r) {
  const uint16_t sign = std::signbit(r) ? 0x8000 : 0;
  const double a = std::fabs(r);
  if (std::isinf(a)) return sign | 0x7c00;
  if (a < std::ldexp(1.0, -14)) return static_cast<uint16_t>(sign | static_cast<uint16_t>(a / std::ldexp(1.0, -24)));
  int e = 0;
  std::frexp(a, &e);
  const int mant = static_cast<int>(a / std::ldexp(1.0, e - 11)) - 1024;
  return static_cast<uint16_t>(sign | (e - 1 + 15) << 10 | mant);
}
double f16_decode(uint16_t h) {
  const int exp = (h >> 10) & 31, mant = h & 1023;
  double v;
  if (exp == 31)
    v = mant ? NAN : INFINITY;
  else if (exp == 0)
    v = std::ldexp(static_cast<double>(mant), -24);
  else
    v = std::ldexp(static_cast<double>(1024 + mant), exp - 25);
  return (h & 0x8000) ? -v : v;
}
double half_of(uint32_t word, int h) { return f16_decode(static_cast<uint16_t>(h ? word >> 16 : word & 0xffff)); }
double byte_of(uint32_t word, int b) { return static_cast<int8_t>(static_cast<uint8_t>(word >> (8 * b))); }
// The power of two 2^e with a in [2^(e-1), 2^e); 1 for 0.
double pow2_above(double a) {
  if (a == 0.0) return 1.0;
  double c = 1.0;
  while (c <= a) c *= 2.0;
  while (c / 2.0 > a) c /= 2.0;
  return c;
}

// Prints the first 40 failures ("FAIL " + the message) and counts them all.
#if defined(__GNUC__)
__attribute__((format(printf, 1, 2)))
#endif
void fail(const char* fmt, ...) {
  if (failures++ >= 40) return;
  std::printf("FAIL ");
  va_list ap;
  va_start(ap, fmt);
  std::vprintf(fmt, ap);
  va_end(ap);
  std::printf("\n");
}

void check_f16_bits(Rng& rng) {
  std::vector<float> xs = {0.0f,
                           -0.0f,
                           1.0f,
                           -1.0f,
                           65504.0f,
                           65519.99f,
                           65520.0f,
                           1e9f,
                           -1e9f,
                           INFINITY,
                           -INFINITY,
                           6.103515625e-05f,
                           6.097555e-05f,
                           5.960464477539063e-08f,
                           2.98023223876953125e-08f,
                           2.98023259e-08f,
                           1.0e-9f,
                           1.00048828125f,
                           1.000732421875f,
                           1.001220703125f,
                           2049.0f,
                           2051.0f};
  for (int i = 0; i < 200000; ++i) xs.push_back(std::ldexp(rng.uniform(), rng.range(-30, 18)));
  int bad = 0;
  for (float x : xs) {
    const double got = f16_decode(llmc::f16_bits(x)), want = f16_round(x);
    if (!(got == want && std::signbit(got) == std::signbit(want))) ++bad;
  }
  ++cases;
  if (!std::isnan(f16_decode(llmc::f16_bits(NAN)))) ++bad;
  if (bad) fail("f16_bits: %d of %zu values rounded differently from round-to-nearest-even", bad, xs.size());
}

// ---- layers ------------------------------------------------------------------------------------------
struct Layer {
  int kind = gq::kW4;
  bool asym = false;
  int64_t n = 0, k = 0, group = 0, G = 1;
  std::vector<int8_t> q;             // codes [n × k], input order
  std::vector<float> scale;          // [n × G] (w8: [n])
  std::vector<uint8_t> zero;         // [n × G] (asymmetric w4)
  std::vector<int32_t> g_idx;        // act-order w4
  std::vector<float> wf;             // f16 kind: dense [n × k]
  std::vector<uint8_t> data, pzero;  // CPU packed (llmc_q4_pack / llmc_q8_pack)
  std::vector<float> pscale;
  std::vector<int32_t> perm;
  int has_perm = 0;
  std::vector<double> w;  // float64 W [n × k], input order
  llmc_q4_weights v4() const {
    return {n, k, group, data.data(), pscale.data(), asym ? pzero.data() : nullptr, has_perm ? perm.data() : nullptr};
  }
  llmc_q8_weights v8() const { return {n, k, data.data(), pscale.data()}; }
};

Layer make_layer(Rng& rng, int kind, int64_t n, int64_t k, int64_t group, bool asym, bool act_order) {
  Layer L;
  L.kind = kind, L.asym = asym, L.n = n, L.k = k;
  L.w.resize(static_cast<size_t>(n * k));
  if (kind == gq::kF16) {
    L.wf.resize(static_cast<size_t>(n * k));
    for (int64_t j = 0; j < n; ++j)
      for (int64_t p = 0; p < k; ++p) {  // rows of different magnitudes, a few tiny values
        float v = std::ldexp(rng.uniform(), static_cast<int>(j % 9) - 4);
        if (rng.range(0, 50) == 0) v *= 1e-6f;
        L.wf[static_cast<size_t>(j * k + p)] = v;
        L.w[static_cast<size_t>(j * k + p)] = v;
      }
    if (n > 1)
      for (int64_t p = 0; p < k; ++p) L.wf[static_cast<size_t>(k + p)] = 0.0f, L.w[static_cast<size_t>(k + p)] = 0.0;
    return L;
  }
  const bool int4 = kind == gq::kW4;
  L.group = int4 ? group : k;
  L.G = int4 ? k / group : 1;
  L.q.resize(static_cast<size_t>(n * k));
  L.scale.resize(static_cast<size_t>(n * L.G));
  for (auto& s : L.scale) s = 0.001f + 0.05f * std::fabs(rng.uniform());
  if (n > 1) L.scale[1] = 0.0f;                             // an all-zero group (w8: channel)
  if (n > 2) L.scale[static_cast<size_t>(2 * L.G)] = 0.4f;  // a larger one
  for (auto& c : L.q) {
    int v = int4 ? (asym ? rng.range(0, 15) : rng.range(-8, 7)) : rng.range(-128, 127);
    if (rng.range(0, 5) == 0)
      v = int4 ? (asym ? (rng.range(0, 1) ? 0 : 15) : (rng.range(0, 1) ? -8 : 7)) : (rng.range(0, 1) ? -128 : 127);
    c = static_cast<int8_t>(v);
  }
  if (asym) {
    L.zero.resize(L.scale.size());
    for (auto& z : L.zero) z = static_cast<uint8_t>(rng.range(0, 15));
  }
  if (act_order) {
    L.g_idx.resize(static_cast<size_t>(k));
    for (int64_t p = 0; p < k; ++p) L.g_idx[static_cast<size_t>(p)] = static_cast<int32_t>(p / group);
    for (int64_t p = k - 1; p > 0; --p)
      std::swap(L.g_idx[static_cast<size_t>(p)], L.g_idx[static_cast<size_t>(rng.u32() % (p + 1))]);
  }
  for (int64_t j = 0; j < n; ++j)
    for (int64_t p = 0; p < k; ++p) {
      const int64_t t = int4 ? (act_order ? L.g_idx[static_cast<size_t>(p)] : p / group) : 0;
      const double z = asym ? L.zero[static_cast<size_t>(j * L.G + t)] : 0.0;
      L.w[static_cast<size_t>(j * k + p)] =
          L.scale[static_cast<size_t>(j * L.G + t)] * (L.q[static_cast<size_t>(j * k + p)] - z);
    }
  llmc_status st;
  if (int4) {
    L.data.resize(static_cast<size_t>(llmc_q4_data_bytes(n, k)));
    L.pscale.resize(static_cast<size_t>(llmc_q4_scale_count(n, k, group)));
    L.pzero.resize(L.pscale.size());
    L.perm.resize(static_cast<size_t>(k));
    st = llmc_q4_pack(n, k, group, L.q.data(), L.scale.data(), asym ? L.zero.data() : nullptr,
                      act_order ? L.g_idx.data() : nullptr, L.data.data(), L.pscale.data(), L.pzero.data(),
                      L.perm.data(), &L.has_perm);
  } else {
    L.data.resize(static_cast<size_t>(llmc_q8_data_bytes(n, k)));
    L.pscale.resize(static_cast<size_t>(llmc_q8_scale_count(n)));
    st = llmc_q8_pack(n, k, L.q.data(), L.scale.data(), L.data.data(), L.pscale.data());
  }
  if (st != LLMC_OK)
    fail("CPU pack n=%lld k=%lld: %s", static_cast<long long>(n), static_cast<long long>(k), llmc_last_error());
  return L;
}

const char* kind_name(int kind) { return kind == gq::kW4 ? "w4a16" : kind == gq::kW8 ? "w8a8" : "f16"; }

bool pack(const Layer& L, gq::Packed* P) {
  llmc_status st;
  if (L.kind == gq::kW4) {
    const llmc_q4_weights v = L.v4();
    st = gq::pack_w4(&v, P);
  } else if (L.kind == gq::kW8) {
    const llmc_q8_weights v = L.v8();
    st = gq::pack_w8(&v, P);
  } else {
    st = gq::pack_f16(L.n, L.k, L.wf.data(), P);
  }
  if (st != LLMC_OK)
    fail("%s pack n=%lld k=%lld: %s", kind_name(L.kind), static_cast<long long>(L.n), static_cast<long long>(L.k),
         llmc_last_error());
  return st == LLMC_OK;
}

// Input of packed position p (act-order: perm).
int64_t source_input(const Layer& L, int64_t p) { return L.has_perm ? L.perm[static_cast<size_t>(p)] : p; }

// The column factor the layout promises (gemm_q_layout.h), from the layer itself.
double column_factor(const Layer& L, int64_t j) {
  if (L.kind == gq::kW8) return L.scale[static_cast<size_t>(j)];
  double mx = 0.0;
  if (L.kind == gq::kW4)
    for (int64_t t = 0; t < L.G; ++t)
      mx = std::max(mx, std::fabs(static_cast<double>(L.scale[static_cast<size_t>(j * L.G + t)])));
  else
    for (int64_t p = 0; p < L.k; ++p)
      mx = std::max(mx, std::fabs(static_cast<double>(L.wf[static_cast<size_t>(j * L.k + p)])));
  return pow2_above(mx);
}

// The f16 (or int8) weight the mma sees at column j, packed position p, times nothing (colscale apart).
double operand_weight(const Layer& L, int64_t j, int64_t p) {
  const int64_t src = source_input(L, p);
  if (L.kind == gq::kF16) return f16_round(L.wf[static_cast<size_t>(j * L.k + src)] / column_factor(L, j));
  if (L.kind == gq::kW8) return L.q[static_cast<size_t>(j * L.k + src)];
  const int64_t t = p / L.group;
  const double z = L.asym ? L.zero[static_cast<size_t>(j * L.G + t)] : 0.0;
  const double s16 = f16_round(L.scale[static_cast<size_t>(j * L.G + t)] / column_factor(L, j));
  return f16_round(f16_round(L.q[static_cast<size_t>(j * L.k + src)] - z) * s16);
}

// ---- 2. packer round trip --------------------------------------------------------------------------
void check_roundtrip(const Layer& L, const gq::Packed& P) {
  ++cases;
  const int bits = L.kind == gq::kW4 ? 4 : L.kind == gq::kW8 ? 8 : 16, elems = 32 / bits;
  const int64_t ck = gq::chunk_k(L.kind);
  bool ok = P.np % 64 == 0 && P.np >= L.n && P.np < L.n + 64 && P.kp % ck == 0 && P.kp >= L.k && P.kp < L.k + ck &&
            P.w.size() == static_cast<size_t>(P.np * P.kp * bits / 32);
  std::vector<char> seen(static_cast<size_t>(P.np * P.kp), 0);
  for (int64_t s = 0; ok && s < P.slabs; ++s)
    for (int64_t c = 0; ok && c < P.chunks; ++c)
      for (int j = 0; j < gq::kVecs; ++j)
        for (int lane = 0; lane < 32; ++lane)
          for (int v = 0; v < 4; ++v) {
            const uint32_t word = P.w[static_cast<size_t>(gq::w_vec_index(s, c, P.chunks, j, lane) * 4 + v)];
            for (int e = 0; e < elems; ++e) {
              const gq::RowCol rc = gq::w_elem(L.kind, lane, j, v, e);
              const int64_t col = s * 64 + rc.col, kk = c * ck + rc.row;
              if (col >= P.np || kk >= P.kp || seen[static_cast<size_t>(col * P.kp + kk)]++) {
                ok = false;
                continue;
              }
              const uint32_t got = (word >> (bits * e)) & ((1u << bits) - 1u);
              uint32_t want = 0;
              if (L.kind == gq::kW4) {
                if (col < L.n) {
                  if (kk < L.k)
                    want = static_cast<uint32_t>(L.q[static_cast<size_t>(col * L.k + source_input(L, kk))] +
                                                 (L.asym ? 0 : 8));
                  else
                    want = L.asym ? L.zero[static_cast<size_t>(col * L.G + L.G - 1)] : 8u;
                }
              } else if (col < L.n && kk < L.k) {
                want = L.kind == gq::kW8 ? static_cast<uint8_t>(L.q[static_cast<size_t>(col * L.k + kk)])
                                         : f16_encode(operand_weight(L, col, kk));
              }
              ok = ok && got == want;
            }
          }
  for (char c : seen) ok = ok && c == 1;
  for (int64_t j = 0; j < P.np; ++j)
    ok = ok && P.colscale[static_cast<size_t>(j)] == (j < L.n ? static_cast<float>(column_factor(L, j)) : 0.0f);
  if (L.kind == gq::kW4) {
    ok = ok && P.G == L.G && P.group == L.group && P.scale.size() == static_cast<size_t>(P.slabs * L.G * 64) &&
         P.zero.size() == (L.asym ? P.scale.size() : 0) && P.perm == (L.has_perm ? L.perm : std::vector<int32_t>());
    for (int64_t s = 0; ok && s < P.slabs; ++s)
      for (int64_t t = 0; t < L.G; ++t)
        for (int lane = 0; lane < 32; lane += 4)
          for (int tile = 0; tile < 8; ++tile) {
            const size_t i = static_cast<size_t>(gq::w4_meta_index(s, t, L.G, lane) * 8 + tile);
            const int64_t col = s * 64 + tile * 8 + lane / 4;
            const double want =
                col < L.n ? f16_round(L.scale[static_cast<size_t>(col * L.G + t)] / column_factor(L, col)) : 0.0;
            ok = ok && P.scale[i] == f16_encode(want);
            if (L.asym)
              ok = ok && P.zero[i] == f16_encode(1024.0 + (col < L.n ? L.zero[static_cast<size_t>(col * L.G + t)] : 0));
          }
  }
  if (!ok)
    fail("%s round trip n=%lld k=%lld group=%lld asym=%d perm=%d", kind_name(L.kind), static_cast<long long>(L.n),
         static_cast<long long>(L.k), static_cast<long long>(L.group), L.asym, L.has_perm);
}

// ---- 3. CPU replay of the kernels -------------------------------------------------------------------------
// y [m × n] as the kernels compute it (in double): the activation packing kernel word by word, then
// every lane of every warp, with splits of `per` chunks.
std::vector<double> replay(const Layer& L, const gq::Packed& P, const std::vector<float>& x, int64_t m, int64_t per) {
  const int kind = L.kind, mt_n = m > 16 ? 2 : 1;
  const int64_t k = L.k, n = L.n, m_pad = (m + 16 * mt_n - 1) / (16 * mt_n) * 16 * mt_n;
  const int64_t steps = P.kp / gq::step_k(kind), words = m_pad / 16 * steps * 128;
  // activations, as pack_a16_kernel / quantize_rows_i8 + pack_a8_kernel write them
  std::vector<double> xq, sx;
  if (kind == gq::kW8) quantize_rows(x, m, k, k, xq, sx);
  std::vector<uint32_t> A(static_cast<size_t>(words));
  for (int64_t idx = 0; idx < words; ++idx) {
    uint32_t packed = 0;
    for (int e = 0; e < (kind == gq::kW8 ? 4 : 2); ++e) {
      int64_t row, col;
      gq::a_word_source(kind, idx, steps, e, &row, &col);
      if (kind == gq::kW8) {
        const double v = row < m && col < k ? xq[static_cast<size_t>(row * k + col)] : 0.0;
        packed |= static_cast<uint32_t>(static_cast<uint8_t>(static_cast<int8_t>(v))) << (8 * e);
      } else {
        const double v = row < m && col < k ? x[static_cast<size_t>(row * k + source_input(L, col))] : 0.0;
        packed |= static_cast<uint32_t>(f16_encode(f16_round(v))) << (16 * e);
      }
    }
    A[static_cast<size_t>(idx)] = packed;
  }
  const int kS = kind == gq::kW4 ? 4 : 1, KK = gq::step_k(kind);
  const int a_elems = kind == gq::kW8 ? 16 : 8, b_elems = kind == gq::kW8 ? 8 : 4;
  std::vector<double> y(static_cast<size_t>(m * n), 0.0);
  const int64_t splits = (P.chunks + per - 1) / per, mblocks = m_pad / (16 * mt_n);
  std::vector<double> acc(static_cast<size_t>(32 * 2 * 8 * 4));
  auto ACC = [&](int lane, int mt, int t, int i) -> double& {
    return acc[static_cast<size_t>(((lane * 2 + mt) * 8 + t) * 4 + i)];
  };
  std::vector<double> frag(32 * 8 * 8);  // [lane][tile][element b0..b7]
  std::vector<double> Am(16 * 32), Bm(32 * 8);
  for (int64_t z = 0; z < mblocks; ++z)
    for (int64_t split = 0; split < splits; ++split)
      for (int64_t slab = 0; slab < P.slabs; ++slab) {
        int64_t c0, c1;
        gq::split_range(split, per, P.chunks, &c0, &c1);
        std::fill(acc.begin(), acc.end(), 0.0);
        for (int64_t c = c0; c < c1; ++c)
          for (int step = 0; step < kS; ++step) {
            // each lane's B registers (b_regs of gemm_q.cu)
            for (int lane = 0; lane < 32; ++lane) {
              auto word = [&](int j, int v) {
                return P.w[static_cast<size_t>(gq::w_vec_index(slab, c, P.chunks, j, lane) * 4 + v)];
              };
              if (kind == gq::kW4) {
                const int h = step / 2;
                const size_t mi =
                    static_cast<size_t>(gq::w4_meta_index(slab, gq::w4_chunk_group(c, h, P.group, P.G), P.G, lane) * 8);
                auto meta = [&](const std::vector<uint16_t>& arr, int tile) {
                  const uint32_t w0 = arr[mi] | static_cast<uint32_t>(arr[mi + 1]) << 16,
                                 w1 = arr[mi + 2] | static_cast<uint32_t>(arr[mi + 3]) << 16;
                  const uint32_t w2 = arr[mi + 4] | static_cast<uint32_t>(arr[mi + 5]) << 16,
                                 w3 = arr[mi + 6] | static_cast<uint32_t>(arr[mi + 7]) << 16;
                  return gq::w4_meta_pair(w0, w1, w2, w3, tile);
                };
                for (int v = 0; v < 4; ++v)
                  for (int pr = 0; pr < 4; ++pr) {
                    const int tile = gq::w4_pair_tile(v, pr), r = gq::w4_pair_reg(pr);
                    const uint32_t u = gq::w4_pair_bits(word(step, v), pr);
                    const uint32_t zp = P.zero.empty() ? 0x64086408u : meta(P.zero, tile), sp = meta(P.scale, tile);
                    for (int hh = 0; hh < 2; ++hh)  // __hsub2 then __hmul2, each rounded to f16
                      frag[static_cast<size_t>((lane * 8 + tile) * 8 + 2 * r + hh)] =
                          f16_round(f16_round(half_of(u, hh) - half_of(zp, hh)) * half_of(sp, hh));
                  }
              } else {
                for (int j = 0; j < gq::kVecs; ++j)
                  for (int v = 0; v < 4; ++v) {
                    const int tile = gq::vec_tile(j, v), r = gq::vec_reg(v);
                    for (int e = 0; e < (kind == gq::kW8 ? 4 : 2); ++e)
                      frag[static_cast<size_t>((lane * 8 + tile) * 8 + (kind == gq::kW8 ? 4 * r + e : 2 * r + e))] =
                          kind == gq::kW8 ? byte_of(word(j, v), e) : half_of(word(j, v), e);
                  }
              }
            }
            for (int mt = 0; mt < mt_n; ++mt) {
              // A from the lanes' registers, through the PTX table
              for (int lane = 0; lane < 32; ++lane) {
                const size_t ai = static_cast<size_t>(gq::a_vec_index(z * mt_n + mt, c * kS + step, steps, lane) * 4);
                for (int i = 0; i < a_elems; ++i) {
                  const Pos p = kind == gq::kW8 ? ptx_a_s8(lane, i) : ptx_a_f16(lane, i);
                  Am[static_cast<size_t>(p.row * KK + p.col)] =
                      kind == gq::kW8 ? byte_of(A[ai + i / 4], i % 4) : half_of(A[ai + i / 2], i % 2);
                }
              }
              for (int t = 0; t < 8; ++t) {
                for (int lane = 0; lane < 32; ++lane)
                  for (int i = 0; i < b_elems; ++i) {
                    const Pos p = kind == gq::kW8 ? ptx_b_s8(lane, i) : ptx_b_f16(lane, i);
                    Bm[static_cast<size_t>(p.row * 8 + p.col)] = frag[static_cast<size_t>((lane * 8 + t) * 8 + i)];
                  }
                for (int lane = 0; lane < 32; ++lane)
                  for (int i = 0; i < 4; ++i) {
                    const Pos p = ptx_c(lane, i);
                    double d = 0.0;
                    for (int q = 0; q < KK; ++q)
                      d += Am[static_cast<size_t>(p.row * KK + q)] * Bm[static_cast<size_t>(q * 8 + p.col)];
                    ACC(lane, mt, t, i) += d;
                  }
              }
            }
          }
        // epilogue (gemm_kernel): the kernel's own C map, colscale, s_x
        for (int lane = 0; lane < 32; ++lane)
          for (int mt = 0; mt < mt_n; ++mt)
            for (int t = 0; t < 8; ++t)
              for (int i = 0; i < 4; ++i) {
                const gq::RowCol rc = gq::c_elem(lane, i);
                const int64_t row = (z * mt_n + mt) * 16 + rc.row, col = slab * 64 + t * 8 + rc.col;
                if (row >= m || col >= n) continue;
                const double f = kind == gq::kW8 ? sx[static_cast<size_t>(row)] : 1.0;
                y[static_cast<size_t>(row * n + col)] +=
                    ACC(lane, mt, t, i) * (f * P.colscale[static_cast<size_t>(col)]);
              }
      }
  return y;
}

std::vector<float> make_x(Rng& rng, int64_t m, int64_t k, int64_t ld) {
  std::vector<float> x(static_cast<size_t>(std::max<int64_t>(1, m * ld)));
  for (auto& v : x) v = rng.uniform();
  for (int64_t i = 0; i < m; ++i)  // outlier channels
    for (int64_t p = 0; p < k; p += 37) x[static_cast<size_t>(i * ld + p)] *= 20.0f;
  return x;
}

void check_replay(Rng& rng, const Layer& L, const gq::Packed& P, int64_t m, int64_t per, int nan_row) {
  ++cases;
  const int64_t n = L.n, k = L.k;
  std::vector<float> x = make_x(rng, m, k, k);
  if (nan_row >= 0) x[static_cast<size_t>(nan_row * k + k / 2)] = NAN;  // w8a8 only: the row must come out NaN
  const std::vector<double> y = replay(L, P, x, m, per);
  std::vector<double> xq, sx;
  if (L.kind == gq::kW8) quantize_rows(x, m, k, k, xq, sx);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      // (a) over the operands the mma sees: exact up to the order of summation
      double want16 = 0.0, mag16 = 0.0, want = 0.0, mag = 0.0, wsum = 0.0;
      for (int64_t p = 0; p < k; ++p) {
        const double xa = L.kind == gq::kW8 ? xq[static_cast<size_t>(i * k + p)]
                                            : f16_round(x[static_cast<size_t>(i * k + source_input(L, p))]);
        const double wa = operand_weight(L, j, p);
        want16 += xa * wa, mag16 += std::fabs(xa * wa);
        const double xv = L.kind == gq::kW8 ? xq[static_cast<size_t>(i * k + p)] * sx[static_cast<size_t>(i)]
                                            : x[static_cast<size_t>(i * k + p)];
        want += L.w[static_cast<size_t>(j * k + p)] * xv, mag += std::fabs(L.w[static_cast<size_t>(j * k + p)] * xv);
        wsum += std::fabs(L.w[static_cast<size_t>(j * k + p)]);
      }
      const double f = (L.kind == gq::kW8 ? sx[static_cast<size_t>(i)] : 1.0) * P.colscale[static_cast<size_t>(j)];
      want16 *= f, mag16 *= std::fabs(f);
      const double got = y[static_cast<size_t>(i * n + j)];
      if (i == nan_row) {
        if (!std::isnan(got))
          fail("%s replay: NaN row %lld, column %lld gave %g", kind_name(L.kind), static_cast<long long>(i),
               static_cast<long long>(j), got);
        if (!std::isnan(got)) return;
        continue;
      }
      if (!(std::fabs(got - want16) <= 1e-12 * mag16 + 1e-300)) {
        fail("%s replay: y[%lld,%lld] = %.17g, operand reference %.17g", kind_name(L.kind), static_cast<long long>(i),
             static_cast<long long>(j), got, want16);
        std::printf("     n=%lld k=%lld m=%lld group=%lld asym=%d perm=%d per=%lld\n", static_cast<long long>(n),
                    static_cast<long long>(k), static_cast<long long>(m), static_cast<long long>(L.group), L.asym,
                    L.has_perm, static_cast<long long>(per));
        return;
      }
      // (b) against the unrounded layer: f16 activations and weights (w8a8: exact codes)
      const double bound = L.kind == gq::kW8 ? 1e-12 * mag : 4.0 * std::ldexp(mag, -11) + std::ldexp(wsum, -24);
      if (!(std::fabs(got - want) <= bound + 1e-300)) {
        fail("%s replay vs float64: y[%lld,%lld] = %.9g, want %.9g (bound %.3g)", kind_name(L.kind),
             static_cast<long long>(i), static_cast<long long>(j), got, want, bound);
        return;
      }
    }
}

// Invalid arguments are refused by the packers before anything reaches a device.
void check_invalid() {
  gq::Packed P;
  const std::vector<uint8_t> data(1024, 0);
  const std::vector<float> scale(64, 1.0f), w(64, NAN);
  const llmc_q4_weights bad_group{16, 96, 48, data.data(), scale.data(), nullptr, nullptr};
  const llmc_q8_weights bad_n{0, 32, data.data(), scale.data()};
  const int32_t bad_perm[32] = {0, 0};
  const llmc_q4_weights dup_perm{16, 32, 32, data.data(), scale.data(), nullptr, bad_perm};
  const llmc_status got[] = {gq::pack_w4(&bad_group, &P),      gq::pack_w4(nullptr, &P),
                             gq::pack_w8(&bad_n, &P),          gq::pack_f16(2, 32, w.data(), &P),
                             gq::pack_f16(2, 32, nullptr, &P), gq::pack_w4(&dup_perm, &P)};
  for (llmc_status st : got) {
    ++cases;
    if (st != LLMC_INVALID_ARGUMENT)
      fail("packer: invalid input gave %s, want LLMC_INVALID_ARGUMENT", llmc_status_name(st));
  }
}

void run_replay(Rng& rng) {
  const int64_t ns[] = {8, 24, 72, 136};
  const int64_t ms[] = {1, 3, 16, 17, 40};
  auto run_layer = [&](const Layer& L) {
    gq::Packed P;
    if (!pack(L, &P)) return;
    check_roundtrip(L, P);
    for (int64_t m : ms) {
      const int64_t per =
          (m == 1 || m == 17) ? std::max<int64_t>(1, P.chunks / 3) : P.chunks;  // several splits, or one
      check_replay(rng, L, P, m, per, L.kind == gq::kW8 && m >= 3 ? 2 : -1);
    }
  };
  struct G4 {
    int64_t k, group;
  };
  for (int64_t n : ns)
    for (G4 g : {G4{32, 32}, G4{64, 32}, G4{96, 32}, G4{128, 64}, G4{192, 64}, G4{256, 128}, G4{384, 128}, G4{20, 20},
                 G4{200, 200}, G4{1000, 1000}})
      for (int asym = 0; asym < 2; ++asym)
        for (int ao = 0; ao < (g.group < g.k ? 2 : 1); ++ao)
          run_layer(make_layer(rng, gq::kW4, n, g.k, g.group, asym == 1, ao == 1));
  for (int64_t n : ns)
    for (int64_t k : {1, 3, 32, 33, 100, 257, 1000}) run_layer(make_layer(rng, gq::kW8, n, k, 0, false, false));
  for (int64_t n : ns)
    for (int64_t k : {1, 5, 16, 17, 64, 250, 1000}) run_layer(make_layer(rng, gq::kF16, n, k, 0, false, false));
}

// ---- 4. GPU vs CPU -------------------------------------------------------------------------------------
bool gpu_available(const char** why) {
  static llmc_cuda_info info;
  llmc_cuda_query(&info);
  *why = info.error[0] ? info.error : "no usable CUDA device";
  return info.compiled && info.device_count > 0 && info.error[0] == 0;
}

// The CPU result and Σ|w|·|x| per output (llmc_sgemm on absolute values).
void cpu_result(const Layer& L, int64_t m, const std::vector<float>& x, int64_t ldx, std::vector<float>& y,
                std::vector<float>& mag) {
  const int64_t n = L.n, k = L.k;
  y.assign(static_cast<size_t>(m * n), 0.0f);
  mag.assign(static_cast<size_t>(m * n), 0.0f);
  llmc_status st;
  if (L.kind == gq::kW4) {
    const llmc_q4_weights v = L.v4();
    st = llmc_q4_matmul(&v, 0, m, x.data(), ldx, y.data(), n);
  } else if (L.kind == gq::kW8) {
    const llmc_q8_weights v = L.v8();
    st = llmc_q8_matmul(&v, 1, m, x.data(), ldx, y.data(), n);
  } else {
    st = llmc_sgemm(0, 1, m, n, k, 1.0f, x.data(), ldx, L.wf.data(), k, 0.0f, y.data(), n);
  }
  if (st != LLMC_OK) fail("%s CPU matmul: %s", kind_name(L.kind), llmc_last_error());
  std::vector<float> xa(x.size()), wa(static_cast<size_t>(n * k));
  for (size_t i = 0; i < x.size(); ++i) xa[i] = std::isfinite(x[i]) ? std::fabs(x[i]) : 0.0f;
  for (size_t i = 0; i < wa.size(); ++i) wa[i] = static_cast<float>(std::fabs(L.w[i]));
  llmc_sgemm(0, 1, m, n, k, 1.0f, xa.data(), ldx, wa.data(), k, 0.0f, mag.data(), n);
}

void check_gpu_case(Rng& rng, const Layer& L, int64_t m, int bad_row) {
  ++cases;
  const int64_t n = L.n, k = L.k, ldx = k + 3, ldy = n + 2;
  gq::Packed P;
  if (!pack(L, &P)) return;
  llmc_cuda_weights* dw = nullptr;
  llmc_status st;
  if (L.kind == gq::kW4) {
    const llmc_q4_weights v = L.v4();
    st = llmc_cuda_upload_q4(&v, &dw);
  } else if (L.kind == gq::kW8) {
    const llmc_q8_weights v = L.v8();
    st = llmc_cuda_upload_q8(&v, &dw);
  } else {
    st = llmc_cuda_upload_f16(n, k, L.wf.data(), &dw);
  }
  if (st != LLMC_OK) {
    fail("%s upload n=%lld k=%lld: %s", kind_name(L.kind), static_cast<long long>(n), static_cast<long long>(k),
         llmc_last_error());
    return;
  }
  llmc_cuda_weights_info info;
  llmc_cuda_weights_describe(dw, &info);
  const int64_t bytes = static_cast<int64_t>(P.w.size() * 4 + P.scale.size() * 2 + P.zero.size() * 2 +
                                             P.colscale.size() * 4 + P.perm.size() * 4);
  if (info.n != n || info.k != k || info.device_bytes != bytes || std::strcmp(info.kernel, kind_name(L.kind)) != 0)
    fail("%s describe: kernel %s, n %lld, k %lld, device bytes %lld (want %lld)", kind_name(L.kind), info.kernel,
         static_cast<long long>(info.n), static_cast<long long>(info.k), static_cast<long long>(info.device_bytes),
         static_cast<long long>(bytes));
  std::vector<float> x = make_x(rng, m, k, ldx);
  if (bad_row >= 0) x[static_cast<size_t>(bad_row * ldx + k / 3)] = L.kind == gq::kW8 ? NAN : INFINITY;
  std::vector<float> y(static_cast<size_t>(m * ldy), 12345.0f), yc, mag;
  st = llmc_cuda_matmul(dw, m, x.data(), ldx, y.data(), ldy);
  llmc_cuda_weights_free(dw);
  if (st != LLMC_OK) {
    fail("%s matmul m=%lld n=%lld k=%lld: %s", kind_name(L.kind), static_cast<long long>(m), static_cast<long long>(n),
         static_cast<long long>(k), llmc_last_error());
    return;
  }
  cpu_result(L, m, x, ldx, yc, mag);
  // w4a16, f16: f16 activations and weights (3 roundings of 2^-11) plus f32 sums on both sides;
  // w8a8: identical int8 codes and exact int32 sums, f32 scaling of at most 64 split partials.
  const double tol = L.kind == gq::kW8 ? 1e-5 : 5.0 * std::ldexp(1.0, -11);
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      const float got = y[static_cast<size_t>(i * ldy + j)], want = yc[static_cast<size_t>(i * n + j)];
      bool ok;
      if (i == bad_row)
        ok = L.kind == gq::kW8 ? std::isnan(got) : !std::isfinite(got);
      else
        ok = std::fabs(static_cast<double>(got) - want) <= tol * mag[static_cast<size_t>(i * n + j)] + 1e-30;
      if (!ok) {
        fail("%s GPU: y[%lld,%lld] = %.9g, CPU %.9g", kind_name(L.kind), static_cast<long long>(i),
             static_cast<long long>(j), got, want);
        std::printf("     n=%lld k=%lld m=%lld group=%lld asym=%d perm=%d, |w|·|x| %g\n", static_cast<long long>(n),
                    static_cast<long long>(k), static_cast<long long>(m), static_cast<long long>(L.group), L.asym,
                    L.has_perm, static_cast<double>(mag[static_cast<size_t>(i * n + j)]));
        return;
      }
    }
    for (int64_t j = n; j < ldy; ++j)
      if (y[static_cast<size_t>(i * ldy + j)] != 12345.0f) {
        fail("%s GPU: y padding written at [%lld,%lld]", kind_name(L.kind), static_cast<long long>(i),
             static_cast<long long>(j));
        return;
      }
  }
}

void run_gpu(Rng& rng) {
  const char* why = nullptr;
  if (!gpu_available(&why)) {
    ++cases;  // the entry points refuse cleanly
    const float w[4] = {1, 2, 3, 4};
    llmc_cuda_weights* dw = nullptr;
    const llmc_status st = llmc_cuda_upload_f16(2, 2, w, &dw);
    if (st != LLMC_UNSUPPORTED || dw != nullptr)
      fail("f16 upload without a device gave %s (%s), want LLMC_UNSUPPORTED", llmc_status_name(st), llmc_last_error());
    std::printf("GPU checks skipped: %s\n", why);
    return;
  }
  llmc_cuda_info info;
  llmc_cuda_query(&info);
  std::printf("GPU: %s (cc %d.%d)\n", info.device_name, info.cc_major, info.cc_minor);
  const int before = failures;
  struct G4 {
    int64_t k, group;
  };
  for (int64_t n : {8, 24, 72, 136, 200})
    for (G4 g : {G4{32, 32}, G4{96, 32}, G4{256, 64}, G4{384, 128}, G4{20, 20}, G4{1000, 1000}})
      for (int asym = 0; asym < 2; ++asym)
        for (int ao = 0; ao < (g.group < g.k ? 2 : 1); ++ao) {
          const Layer L = make_layer(rng, gq::kW4, n, g.k, g.group, asym == 1, ao == 1);
          for (int64_t m : {1, 3, 16, 17, 40}) check_gpu_case(rng, L, m, m >= 5 ? 4 : -1);
        }
  for (int64_t n : {8, 24, 72, 136, 200})
    for (int64_t k : {1, 3, 32, 33, 257, 1000}) {
      const Layer L8 = make_layer(rng, gq::kW8, n, k, 0, false, false),
                  L16 = make_layer(rng, gq::kF16, n, k, 0, false, false);
      for (int64_t m : {1, 3, 16, 17, 40})
        check_gpu_case(rng, L8, m, m >= 3 ? 2 : -1), check_gpu_case(rng, L16, m, m >= 5 ? 4 : -1);
    }
  // LLM-sized layers: many slabs, several splits (atomic accumulation), act-order over 4096 inputs.
  {
    const Layer L4 = make_layer(rng, gq::kW4, 4096, 4096, 128, true, true);
    const Layer L4s = make_layer(rng, gq::kW4, 1000, 4096, 32, false, false);
    const Layer L8 = make_layer(rng, gq::kW8, 3000, 4096, 0, false, false);
    const Layer L16 = make_layer(rng, gq::kF16, 2048, 3000, 0, false, false);
    for (int64_t m : {1, 16, 32, 77}) {
      check_gpu_case(rng, L4, m, -1), check_gpu_case(rng, L4s, m, -1);
      check_gpu_case(rng, L8, m, m > 1 ? 0 : -1), check_gpu_case(rng, L16, m, -1);
    }
  }
  std::printf("GPU: %s\n", failures == before ? "ok" : "FAILED");
}

int run_check() {
  Rng rng(2024);
  check_f16_bits(rng);
  check_invalid();
  const int before = failures;
  run_replay(rng);
  std::printf("CPU replay and packer round trips: %s\n", failures == before ? "ok" : "FAILED");
  run_gpu(rng);
  std::printf("%d passed, %d failed\n", cases - std::min(cases, failures), failures);
  return failures == 0 ? 0 : 1;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

int run_bench() {
  const char* why = nullptr;
  if (!gpu_available(&why)) {
    std::printf("GPU bench skipped: %s\n", why);
    return 0;
  }
  llmc_cuda_info info;
  llmc_cuda_query(&info);
  std::printf("GPU: %s (cc %d.%d)\n", info.device_name, info.cc_major, info.cc_minor);
  Rng rng(7);
  struct Shape {
    int64_t n, k;
  };
  for (Shape sh : {Shape{8192, 8192}, Shape{4096, 4096}, Shape{11008, 4096}, Shape{4096, 11008}}) {
    const Layer L4 = make_layer(rng, gq::kW4, sh.n, sh.k, 128, false, false);
    const Layer L8 = make_layer(rng, gq::kW8, sh.n, sh.k, 0, false, false);
    const Layer L16 = make_layer(rng, gq::kF16, sh.n, sh.k, 0, false, false);
    llmc_cuda_weights *d4 = nullptr, *d8 = nullptr, *d16 = nullptr;
    const llmc_q4_weights v4 = L4.v4();
    const llmc_q8_weights v8 = L8.v8();
    if (llmc_cuda_upload_q4(&v4, &d4) != LLMC_OK || llmc_cuda_upload_q8(&v8, &d8) != LLMC_OK ||
        llmc_cuda_upload_f16(sh.n, sh.k, L16.wf.data(), &d16) != LLMC_OK) {
      std::printf("upload failed: %s\n", llmc_last_error());
      return 1;
    }
    for (int64_t m : {1, 16, 32, 128}) {
      double t[3];
      llmc_cuda_weights* ws[3] = {d4, d8, d16};
      for (int i = 0; i < 3; ++i) {
        std::vector<double> ms(50);
        if (llmc_cuda_matmul_bench(ws[i], m, 50, ms.data()) != LLMC_OK) {
          std::printf("bench failed: %s\n", llmc_last_error());
          return 1;
        }
        t[i] = median(ms);
        llmc_cuda_weights_info wi;
        llmc_cuda_weights_describe(ws[i], &wi);
        std::printf("%-6s m=%4lld n=%5lld k=%5lld  %8.4f ms  %7.1f GB/s of weights  %7.1f TFLOP/s\n", wi.kernel,
                    static_cast<long long>(m), static_cast<long long>(sh.n), static_cast<long long>(sh.k), t[i],
                    wi.device_bytes / t[i] * 1e-6, 2.0 * m * sh.n * sh.k / t[i] * 1e-9);
      }
      std::printf("       w4a16 vs f16: %.2fx, w8a8 vs f16: %.2fx\n", t[2] / t[0], t[2] / t[1]);
    }
    llmc_cuda_weights_free(d4), llmc_cuda_weights_free(d8), llmc_cuda_weights_free(d16);
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
