// gemm_q_layout.cpp — host packers of the dense tensor-core GEMMs (layouts drawn in gemm_q_layout.h):
// int4 and int8 codes come from the CPU packed weights (llmc_q4_unpack / llmc_q8_unpack), dense f32
// weights are rounded to f16 here; every element is placed through the kernels' own index map
// (w_elem), so the packed words are exactly what each lane's registers must hold.
#include "gemm_q_layout.h"

#include <cmath>
#include <cstring>

#include "f16_bits.h"
#include "status.h"

namespace llmc {
namespace gq {

namespace {

constexpr int64_t kMaxDim = int64_t{1} << 31;

int64_t round_up(int64_t a, int64_t b) { return (a + b - 1) / b * b; }

llmc_status check_dims(const char* what, int64_t n, int64_t k) {
  if (n < 1 || k < 1 || n > kMaxDim || k > kMaxDim)
    return fail(LLMC_INVALID_ARGUMENT, "%s: n and k must be in [1, 2^31], got n=%lld k=%lld", what,
                static_cast<long long>(n), static_cast<long long>(k));
  return LLMC_OK;
}

void init_shape(Packed* P, int kind, int64_t n, int64_t k) {
  P->kind = kind;
  P->n = n;
  P->k = k;
  P->np = round_up(n, kSlabCols);
  P->kp = round_up(k, chunk_k(kind));
  P->slabs = P->np / kSlabCols;
  P->chunks = P->kp / chunk_k(kind);
  P->w.assign(static_cast<size_t>(P->slabs * P->chunks * kVecs * kLanes * 4), 0u);
  P->colscale.assign(static_cast<size_t>(P->np), 0.0f);
}

// The smallest power of two >= max |v| (1 when all are zero): dividing by it keeps f16 values in [-1, 1].
float pow2_ceil(float max_abs) {
  if (!(max_abs > 0.0f)) return 1.0f;
  int e = 0;
  std::frexp(max_abs, &e);  // max_abs = f · 2^e, f in [0.5, 1)
  return std::ldexp(1.0f, e);
}

// Fills P->w: element e of word v, vector j, lane, chunk c, slab s holds bits(code(col, kk)) (width bits).
template <class Code>
void fill_words(Packed* P, int bits, Code code) {
  const int elems = 32 / bits;
  const int64_t ck = chunk_k(P->kind);
  for (int64_t s = 0; s < P->slabs; ++s)
    for (int64_t c = 0; c < P->chunks; ++c)
      for (int j = 0; j < kVecs; ++j)
        for (int lane = 0; lane < kLanes; ++lane)
          for (int v = 0; v < 4; ++v) {
            uint32_t word = 0;
            for (int e = 0; e < elems; ++e) {
              const RowCol rc = w_elem(P->kind, lane, j, v, e);
              word |= code(s * kSlabCols + rc.col, c * ck + rc.row) << (bits * e);
            }
            P->w[static_cast<size_t>(w_vec_index(s, c, P->chunks, j, lane) * 4 + v)] = word;
          }
}

}  // namespace

llmc_status pack_w4(const llmc_q4_weights* w, Packed* P) {
  if (w == nullptr) return fail(LLMC_INVALID_ARGUMENT, "w4a16 upload: weights must not be NULL");
  if (llmc_status st = check_dims("w4a16 upload", w->n, w->k)) return st;
  const int64_t n = w->n, k = w->k, group = w->group;
  const bool group_ok = group == k || ((group == 32 || group == 64 || group == 128) && k % group == 0);
  if (!group_ok)
    return fail(LLMC_INVALID_ARGUMENT,
                "w4a16 upload: group must be 32, 64 or 128 dividing k, or k itself; got group=%lld k=%lld",
                static_cast<long long>(group), static_cast<long long>(k));
  const int64_t G = k / group;
  std::vector<int8_t> q(static_cast<size_t>(n * k));
  std::vector<float> scale(static_cast<size_t>(n * G));
  std::vector<uint8_t> zero(w->zero ? static_cast<size_t>(n * G) : 0);
  std::vector<int32_t> g_idx(w->perm ? static_cast<size_t>(k) : 0);
  if (llmc_status st =
          llmc_q4_unpack(w, q.data(), scale.data(), w->zero ? zero.data() : nullptr, w->perm ? g_idx.data() : nullptr))
    return st;
  if (w->perm) {  // packed position p holds input perm[p]: a permutation of 0 .. k-1
    std::vector<char> seen(static_cast<size_t>(k), 0);
    for (int64_t p = 0; p < k; ++p) {
      const int32_t src = w->perm[p];
      if (src < 0 || src >= k || seen[static_cast<size_t>(src)])
        return fail(LLMC_INVALID_ARGUMENT, "w4a16 upload: perm[%lld] is %d, expected a permutation of 0..%lld",
                    static_cast<long long>(p), src, static_cast<long long>(k - 1));
      seen[static_cast<size_t>(src)] = 1;
    }
    P->perm.assign(w->perm, w->perm + k);
  }
  init_shape(P, kW4, n, k);
  P->group = group;
  P->G = G;
  for (int64_t j = 0; j < n; ++j) {
    float mx = 0.0f;
    for (int64_t t = 0; t < G; ++t) {
      const float s = scale[static_cast<size_t>(j * G + t)];
      if (!std::isfinite(s))
        return fail(LLMC_INVALID_ARGUMENT,
                    "w4a16 upload: scale of row %lld, group %lld is %g, expected a finite number",
                    static_cast<long long>(j), static_cast<long long>(t), static_cast<double>(s));
      mx = std::fmax(mx, std::fabs(s));
    }
    P->colscale[static_cast<size_t>(j)] = pow2_ceil(mx);
  }
  const bool asym = w->zero != nullptr;
  auto zero_of = [&](int64_t j, int64_t t) -> uint32_t { return asym ? zero[static_cast<size_t>(j * G + t)] : 8u; };
  fill_words(P, 4, [&](int64_t j, int64_t kk) -> uint32_t {
    if (j >= n) return 0u;                  // scale 0
    if (kk >= k) return zero_of(j, G - 1);  // dequantizes to 0
    const int64_t src = P->perm.empty() ? kk : P->perm[static_cast<size_t>(kk)];
    return static_cast<uint32_t>(q[static_cast<size_t>(j * k + src)] + (asym ? 0 : 8));
  });
  const size_t meta = static_cast<size_t>(P->slabs * G * 64);
  P->scale.assign(meta, 0);
  P->zero.assign(asym ? meta : 0, 0);
  for (int64_t s = 0; s < P->slabs; ++s)
    for (int64_t t = 0; t < G; ++t)
      for (int g = 0; g < 8; ++g)
        for (int tile = 0; tile < kTiles; ++tile) {
          const int64_t j = s * kSlabCols + tile * 8 + g;
          const size_t i = static_cast<size_t>(w4_meta_index(s, t, G, 4 * g) * 8 + tile);
          if (j < n)
            P->scale[i] = f16_bits(scale[static_cast<size_t>(j * G + t)] / P->colscale[static_cast<size_t>(j)]);
          if (asym) P->zero[i] = f16_bits(1024.0f + static_cast<float>(j < n ? zero_of(j, t) : 0u));
        }
  return LLMC_OK;
}

llmc_status pack_w8(const llmc_q8_weights* w, Packed* P) {
  if (w == nullptr) return fail(LLMC_INVALID_ARGUMENT, "w8a8 upload: weights must not be NULL");
  if (llmc_status st = check_dims("w8a8 upload", w->n, w->k)) return st;
  const int64_t n = w->n, k = w->k;
  std::vector<int8_t> q(static_cast<size_t>(n * k));
  std::vector<float> scale(static_cast<size_t>(n));
  if (llmc_status st = llmc_q8_unpack(w, q.data(), scale.data())) return st;
  init_shape(P, kW8, n, k);
  for (int64_t j = 0; j < n; ++j) {
    if (!std::isfinite(scale[static_cast<size_t>(j)]))
      return fail(LLMC_INVALID_ARGUMENT, "w8a8 upload: scale[%lld] is %g, expected a finite number",
                  static_cast<long long>(j), static_cast<double>(scale[static_cast<size_t>(j)]));
    P->colscale[static_cast<size_t>(j)] = scale[static_cast<size_t>(j)];
  }
  fill_words(P, 8, [&](int64_t j, int64_t kk) -> uint32_t {
    return j < n && kk < k ? static_cast<uint8_t>(q[static_cast<size_t>(j * k + kk)]) : 0u;
  });
  return LLMC_OK;
}

llmc_status pack_f16(int64_t n, int64_t k, const float* w, Packed* P) {
  if (llmc_status st = check_dims("f16 upload", n, k)) return st;
  if (w == nullptr) return fail(LLMC_INVALID_ARGUMENT, "f16 upload: w must not be NULL");
  init_shape(P, kF16, n, k);
  for (int64_t j = 0; j < n; ++j) {
    float mx = 0.0f;
    for (int64_t p = 0; p < k; ++p) {
      const float v = w[j * k + p];
      if (!std::isfinite(v))
        return fail(LLMC_INVALID_ARGUMENT, "f16 upload: w[%lld, %lld] is %g, expected a finite number",
                    static_cast<long long>(j), static_cast<long long>(p), static_cast<double>(v));
      mx = std::fmax(mx, std::fabs(v));
    }
    P->colscale[static_cast<size_t>(j)] = pow2_ceil(mx);
  }
  fill_words(P, 16, [&](int64_t j, int64_t kk) -> uint32_t {
    return j < n && kk < k ? f16_bits(w[j * k + kk] / P->colscale[static_cast<size_t>(j)]) : 0u;
  });
  return LLMC_OK;
}

}  // namespace gq
}  // namespace llmc
