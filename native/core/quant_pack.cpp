// quant_pack.cpp — packing and unpacking of int8 / int4 weights (layouts: gemm_q.h), and the
// kernel table of the active ISA level. Packing is exact both ways: unpack(pack(x)) == x.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "gemm_q.h"
#include "llmc.h"
#include "status.h"

namespace llmc {
namespace q {

Kernels kernels_active() {
#if defined(LLMC_HAVE_X86_KERNELS)
  const llmc_isa isa = llmc_isa_active();
  if (isa == LLMC_ISA_AVX512) return kernels_avx512();
  if (isa == LLMC_ISA_AVX2) return kernels_avx2();
#endif
  return kernels_scalar();
}

namespace {

// Byte offset of input p of column j in the int4 layout, and whether it is the high nibble.
inline int64_t q4_byte(int64_t j, int64_t p, int64_t ko, bool* high) {
  const int64_t o = p / kOctet, r = p % kOctet;
  *high = r >= kQuad;
  return (((j / kBlockN) * ko + o) * kBlockN + j % kBlockN) * kQuad + (r % kQuad);
}

inline int64_t q8_byte(int64_t j, int64_t p, int64_t kq) {
  return (((j / kBlockN) * kq + p / kQuad) * kBlockN + j % kBlockN) * kQuad + p % kQuad;
}

llmc_status check_sizes(const char* what, int64_t n, int64_t k) {
  const int64_t kMax = int64_t{1} << 31;
  if (n < 1 || k < 1 || n > kMax || k > kMax)
    return fail(LLMC_INVALID_ARGUMENT, "%s: n and k must be in [1, 2^31], got n=%lld k=%lld", what,
                static_cast<long long>(n), static_cast<long long>(k));
  return LLMC_OK;
}

}  // namespace
}  // namespace q
}  // namespace llmc

using namespace llmc;
using namespace llmc::q;

extern "C" int64_t llmc_q8_data_bytes(int64_t n, int64_t k) { return round_up(n, kBlockN) * round_up(k, kQuad); }
extern "C" int64_t llmc_q8_scale_count(int64_t n) { return round_up(n, kBlockN); }
extern "C" int64_t llmc_q4_data_bytes(int64_t n, int64_t k) { return round_up(n, kBlockN) * round_up(k, kOctet) / 2; }
extern "C" int64_t llmc_q4_scale_count(int64_t n, int64_t k, int64_t group) {
  return group > 0 ? round_up(n, kBlockN) * (k / group) : 0;
}

extern "C" llmc_status llmc_q8_pack(int64_t n, int64_t k, const int8_t* q, const float* scale, uint8_t* data,
                                    float* scale_out) {
  if (llmc_status s = check_sizes("q8_pack", n, k)) return s;
  if (!q || !scale || !data || !scale_out) return fail(LLMC_INVALID_ARGUMENT, "q8_pack: null pointer");
  for (int64_t j = 0; j < n; ++j)
    if (!std::isfinite(scale[j]))
      return fail(LLMC_INVALID_ARGUMENT, "q8_pack: scale[%lld] is %g, expected a finite number",
                  static_cast<long long>(j), static_cast<double>(scale[j]));
  const int64_t kp = round_up(k, kQuad), np = round_up(n, kBlockN), kq = kp / kQuad;
  std::memset(data, 128, static_cast<size_t>(np * kp));  // padding: q = 0
  for (int64_t j = 0; j < n; ++j)
    for (int64_t p = 0; p < k; ++p) data[q8_byte(j, p, kq)] = static_cast<uint8_t>(q[j * k + p] + 128);
  for (int64_t j = 0; j < np; ++j) scale_out[j] = j < n ? scale[j] : 0.0f;
  return LLMC_OK;
}

extern "C" llmc_status llmc_q8_unpack(const llmc_q8_weights* w, int8_t* q, float* scale) {
  if (!w) return fail(LLMC_INVALID_ARGUMENT, "q8_unpack: null weights");
  if (llmc_status s = check_sizes("q8_unpack", w->n, w->k)) return s;
  if (!w->data || !w->scale || !q || !scale) return fail(LLMC_INVALID_ARGUMENT, "q8_unpack: null pointer");
  const int64_t kq = round_up(w->k, kQuad) / kQuad;
  for (int64_t j = 0; j < w->n; ++j) {
    for (int64_t p = 0; p < w->k; ++p) q[j * w->k + p] = static_cast<int8_t>(w->data[q8_byte(j, p, kq)] - 128);
    scale[j] = w->scale[j];
  }
  return LLMC_OK;
}

extern "C" llmc_status llmc_q4_pack(int64_t n, int64_t k, int64_t group, const int8_t* q, const float* scale,
                                    const uint8_t* zero, const int32_t* g_idx, uint8_t* data, float* scale_out,
                                    uint8_t* zero_out, int32_t* perm_out, int* has_perm) {
  if (llmc_status s = check_sizes("q4_pack", n, k)) return s;
  if (!valid_group(k, group))
    return fail(LLMC_INVALID_ARGUMENT,
                "q4_pack: group must be 32, 64 or 128 dividing k, or k itself; got group=%lld k=%lld",
                static_cast<long long>(group), static_cast<long long>(k));
  if (!q || !scale || !data || !scale_out || (zero && !zero_out) || (g_idx && !perm_out) || !has_perm)
    return fail(LLMC_INVALID_ARGUMENT, "q4_pack: null pointer");
  const int64_t G = k / group, np = round_up(n, kBlockN), kp = round_up(k, kOctet), ko = kp / kOctet;
  const bool sym = zero == nullptr;
  const int lo = sym ? -8 : 0, hi = sym ? 7 : 15;
  for (int64_t j = 0; j < n; ++j)
    for (int64_t p = 0; p < k; ++p)
      if (q[j * k + p] < lo || q[j * k + p] > hi)
        return fail(LLMC_INVALID_ARGUMENT, "q4_pack: code [%lld, %lld] is %d, expected %d..%d (%s)",
                    static_cast<long long>(j), static_cast<long long>(p), q[j * k + p], lo, hi,
                    sym ? "symmetric" : "asymmetric");
  for (int64_t i = 0; i < n * G; ++i) {
    if (!std::isfinite(scale[i]))
      return fail(LLMC_INVALID_ARGUMENT, "q4_pack: scale[%lld] is %g, expected a finite number",
                  static_cast<long long>(i), static_cast<double>(scale[i]));
    if (zero && zero[i] > 15)
      return fail(LLMC_INVALID_ARGUMENT, "q4_pack: zero[%lld] is %d, expected 0..15", static_cast<long long>(i),
                  zero[i]);
  }
  // Inputs sorted by group (stable), when g_idx is given and not already in order.
  std::vector<int32_t> perm;
  if (g_idx) {
    std::vector<int64_t> count(static_cast<size_t>(G), 0);
    for (int64_t p = 0; p < k; ++p) {
      if (g_idx[p] < 0 || g_idx[p] >= G)
        return fail(LLMC_INVALID_ARGUMENT, "q4_pack: g_idx[%lld] is %d, expected 0..%lld", static_cast<long long>(p),
                    g_idx[p], static_cast<long long>(G - 1));
      ++count[static_cast<size_t>(g_idx[p])];
    }
    for (int64_t t = 0; t < G; ++t)
      if (count[static_cast<size_t>(t)] != group)
        return fail(LLMC_INVALID_ARGUMENT,
                    "q4_pack: g_idx puts %lld inputs in group %lld, expected %lld (the group size)",
                    static_cast<long long>(count[static_cast<size_t>(t)]), static_cast<long long>(t),
                    static_cast<long long>(group));
    bool in_order = true;
    for (int64_t p = 0; p < k && in_order; ++p) in_order = g_idx[p] == p / group;
    if (!in_order) {
      perm.resize(static_cast<size_t>(k));
      std::vector<int64_t> next(static_cast<size_t>(G));
      for (int64_t t = 0; t < G; ++t) next[static_cast<size_t>(t)] = t * group;
      for (int64_t p = 0; p < k; ++p)
        perm[static_cast<size_t>(next[static_cast<size_t>(g_idx[p])]++)] = static_cast<int32_t>(p);
    }
  }
  *has_perm = perm.empty() ? 0 : 1;
  if (!perm.empty()) std::copy(perm.begin(), perm.end(), perm_out);

  std::memset(data, 0, static_cast<size_t>(np * kp / 2));
  for (int64_t j = 0; j < np; ++j) {
    for (int64_t pp = 0; pp < kp; ++pp) {
      const int64_t t = std::min(pp, k - 1) / group;
      int u = 0;  // columns past n
      if (j < n) {
        const int z = sym ? 8 : zero[j * G + t];
        u = pp < k ? q[j * k + (perm.empty() ? pp : perm[static_cast<size_t>(pp)])] + (sym ? 8 : 0)
                   : z;  // past k: dequantizes to 0
      }
      bool high;
      uint8_t& b = data[q4_byte(j, pp, ko, &high)];
      b = static_cast<uint8_t>(high ? (b & 0x0F) | (u << 4) : (b & 0xF0) | u);
    }
  }
  for (int64_t t = 0; t < G; ++t)
    for (int64_t j = 0; j < np; ++j) {
      scale_out[scale_index(j, t, G)] = j < n ? scale[j * G + t] : 0.0f;
      if (zero_out && zero) zero_out[scale_index(j, t, G)] = j < n ? zero[j * G + t] : 0;
    }
  return LLMC_OK;
}

extern "C" llmc_status llmc_q4_unpack(const llmc_q4_weights* w, int8_t* q, float* scale, uint8_t* zero,
                                      int32_t* g_idx) {
  if (!w) return fail(LLMC_INVALID_ARGUMENT, "q4_unpack: null weights");
  if (llmc_status s = check_sizes("q4_unpack", w->n, w->k)) return s;
  if (!valid_group(w->k, w->group))
    return fail(LLMC_INVALID_ARGUMENT, "q4_unpack: invalid group %lld for k=%lld", static_cast<long long>(w->group),
                static_cast<long long>(w->k));
  if (!w->data || !w->scale || !q || !scale || (w->zero && !zero) || (w->perm && !g_idx))
    return fail(LLMC_INVALID_ARGUMENT, "q4_unpack: null pointer");
  const int64_t n = w->n, k = w->k, G = k / w->group, ko = round_up(k, kOctet) / kOctet;
  const int off = w->zero ? 0 : 8;
  for (int64_t j = 0; j < n; ++j)
    for (int64_t pp = 0; pp < k; ++pp) {
      bool high;
      const uint8_t b = w->data[q4_byte(j, pp, ko, &high)];
      const int u = high ? b >> 4 : b & 0x0F;
      q[j * k + (w->perm ? w->perm[pp] : pp)] = static_cast<int8_t>(u - off);
    }
  for (int64_t t = 0; t < G; ++t)
    for (int64_t j = 0; j < n; ++j) {
      scale[j * G + t] = w->scale[scale_index(j, t, G)];
      if (w->zero) zero[j * G + t] = w->zero[scale_index(j, t, G)];
    }
  if (w->perm)
    for (int64_t pp = 0; pp < k; ++pp) g_idx[w->perm[pp]] = static_cast<int32_t>(pp / w->group);
  return LLMC_OK;
}
