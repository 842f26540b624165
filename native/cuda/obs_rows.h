// obs_rows.h — the per-lane math of the GPTQ / SparseGPT pipeline on the GPU (hessian.cu,
// cholesky.cu, gptq.cu), as LLMC_HD functions that the kernels call and that
// test/native/cuda_gptq_test.cpp replays lane by lane on the CPU, plus the recursion plan of the
// Cholesky factorization and triangular inverse, shared by the device and the replay.
//
// The column loop (gptq.cu), one warp per row r of W, one lazy-batch block of `count` columns:
//
//   shared memory of the warp    sw [count] f32   the row's block of W (updated in place; after
//                                                 column j, sw[j] holds its dequantized value)
//                                se [count] f32   errors (w − q)/d (N:M scores before they are)
//                                sm [count] u8    1 = pruned;  sq [count] i8: stored codes
//   the in-block update after column j is split over the lanes: lane l takes k = j+1+l, j+33+l, …
//       for j in 0..count:   all lanes: (q, code, e) = obs_column(sw[j], sm[j], params, d = U[i][i])
//                            lane 0:    sw[j] = q, se[j] = e, sq[j] = code
//                            lane l:    sw[k] −= e · U[i][i1 + k]   for its k
//   at the end of the block the segments go to global memory (coalesced): W[r, i1:i2], E [rows ×
//   count], codes, mask; then W[:, i2:] −= E · U[i1:i2, i2:] (fp32 GEMM, hessian.cu).
//
// Group parameters (find_params of quantizer.h) by one warp over x[0 .. len): lane l reduces the
// values x[l], x[l+32], … (range) and, with the MSE search, the shrink steps l, l+32, l+64 (< 80),
// each step's error summed over all values in order; the warp merges the lanes' results (min/max,
// and the least error at the lowest step), which gives exactly the serial result of quantizer.h.
//
// Unstructured masks: the smallest round(sparsity · count · rows) of w²/d² over the block, ties to
// the lower index j·rows + r (obs.cpp), by a radix select on the key (order bits of the score:
// 32 bits, then the index: idx_bytes bytes), 8 bits per pass from the most significant.
//
// Numerics: every product that meets an addition is written mul_rn (no FMA contraction by nvcc),
// so that the kernels, the host replay and quantizer.h round alike; the fp32 GEMM accumulates each
// output as an fma chain over k in order (gemm_acc), then gemm_out applies alpha and beta.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

#include "hd.h"
#include "llmc.h"
#if defined(__CUDACC__)
#include "common.cuh"
#endif

namespace llmc {
namespace cuda {
namespace obs {

constexpr int kWarp = 32;
constexpr int kMseSteps = 80;  // shrink steps of the MSE search (quantizer.h)

// ---- exact arithmetic helpers -------------------------------------------------------------------
LLMC_HD float mul_rn(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fmul_rn(a, b);
#else
  return a * b;
#endif
}

LLMC_HD uint32_t float_bits(float v) {
  uint32_t b;
  memcpy(&b, &v, sizeof b);
  return b;
}

// ---- the quantizer (quantizer.h, IST-DASLab/gptq Quantizer) -------------------------------------
struct Params {
  float scale;
  float zero;
};

LLMC_HD int quant_code(float x, Params p, int maxq) {
  const float q = rintf(x / p.scale) + p.zero;  // rint: half to even, as torch.round
  const float fmaxq = static_cast<float>(maxq);
  return static_cast<int>(q < 0.0f ? 0.0f : (q > fmaxq ? fmaxq : q));
}

LLMC_HD float dequant(int code, Params p) { return mul_rn(p.scale, static_cast<float>(code) - p.zero); }

// The code as stored in the int8 output: symmetric codes are signed (code − 2^(bits−1)).
LLMC_HD int8_t stored_code(int code, int maxq, bool sym) {
  return static_cast<int8_t>(sym ? code - (maxq + 1) / 2 : code);
}

// [min(x, 0), max(x, 0)] of a set of values.
struct Range {
  float lo;
  float hi;
};

LLMC_HD Range range_add(Range r, float v) {
  r.lo = v < r.lo ? v : r.lo;
  r.hi = v > r.hi ? v : r.hi;
  return r;
}

LLMC_HD Range range_merge(Range a, Range b) { return range_add(range_add(a, b.lo), b.hi); }

// Lane `lane`'s share of the range of x[0 .. len).
LLMC_HD Range lane_range(const float* x, int64_t len, int lane) {
  Range r{0.0f, 0.0f};
  for (int64_t k = lane; k < len; k += kWarp) r = range_add(r, x[k]);
  return r;
}

// The range the scale is taken from: symmetric widening, and [−1, 1] for all zeros.
LLMC_HD Range adjust_range(Range r, bool sym) {
  if (sym) {
    r.hi = fabsf(r.lo) > r.hi ? fabsf(r.lo) : r.hi;
    if (r.lo < 0.0f) r.lo = -r.hi;
  }
  if (r.lo == 0.0f && r.hi == 0.0f) r.lo = -1.0f, r.hi = 1.0f;
  return r;
}

LLMC_HD Params base_params(Range adj, int maxq, bool sym) {
  Params p{(adj.hi - adj.lo) / static_cast<float>(maxq), 0.0f};
  p.zero = sym ? static_cast<float>((maxq + 1) / 2) : rintf(-adj.lo / p.scale);
  return p;
}

// Step `step` of the MSE search: the range shrunk by 1 − step/100.
LLMC_HD Params mse_candidate(Range adj, Params base, int step, int maxq, bool sym) {
  const float p = 1.0f - static_cast<float>(step) / 100.0f;
  const float lo = mul_rn(p, adj.lo), hi = mul_rn(p, adj.hi);
  Params c{(hi - lo) / static_cast<float>(maxq), 0.0f};
  c.zero = sym ? base.zero : rintf(-lo / c.scale);
  return c;
}

// Σ |q(x) − x|^2.4 over x[0 .. len), summed in order.
LLMC_HD float mse_error(const float* x, int64_t len, Params c, int maxq) {
  float err = 0.0f;
  for (int64_t k = 0; k < len; ++k) {
    const float v = x[k];
    err += powf(fabsf(dequant(quant_code(v, c, maxq), c) - v), 2.4f);
  }
  return err;
}

// The best MSE step seen so far: least error, then lowest step; step −1 when none was finite.
struct Best {
  float err;
  int step;
};

LLMC_HD Best best_merge(Best a, Best b) { return b.err < a.err || (b.err == a.err && b.step < a.step) ? b : a; }

// Lane `lane`'s steps: lane, lane + 32, lane + 64 (< 80), in increasing order.
LLMC_HD Best lane_best(const float* x, int64_t len, int lane, Range adj, Params base, int maxq, bool sym) {
  Best b{INFINITY, -1};
  for (int step = lane; step < kMseSteps; step += kWarp) {
    const float err = mse_error(x, len, mse_candidate(adj, base, step, maxq, sym), maxq);
    if (err < b.err) b = Best{err, step};
  }
  return b;
}

LLMC_HD Params mse_result(Best b, Range adj, Params base, int maxq, bool sym) {
  return b.step < 0 ? base : mse_candidate(adj, base, b.step, maxq, sym);
}

// ---- one column of one row: quantize / prune, error ---------------------------------------------
struct ColumnOut {
  float q;    // the compressed value (dequantized; 0 when pruned without quantization)
  int code;   // 0 .. maxq (0 without quantization)
  float err;  // (w − q) / d
};

LLMC_HD ColumnOut obs_column(float w, bool pruned, bool quantize, Params p, int maxq, float d) {
  ColumnOut o{pruned ? 0.0f : w, 0, 0.0f};
  if (quantize) {
    o.code = quant_code(o.q, p, maxq);
    o.q = dequant(o.code, p);
  }
  o.err = (w - o.q) / d;
  return o;
}

// Lane `lane`'s part of the in-block update after column j: seg[k] −= e · urow[k] for k > j.
LLMC_HD void lane_update(float* seg, int64_t j, int64_t count, int lane, float e, const float* urow) {
  for (int64_t k = j + 1 + lane; k < count; k += kWarp) seg[k] = seg[k] - mul_rn(e, urow[k]);
}

// ---- pruning scores and masks -------------------------------------------------------------------
LLMC_HD float prune_score(float w, float d) { return mul_rn(w, w) / mul_rn(d, d); }

// N:M, phase 1: scores[k] = w_k² / d_k² for the pm columns of the group (d_k = udiag[k · dstride]).
LLMC_HD void lane_nm_scores(const float* seg, const float* udiag, int64_t dstride, int pm, int lane, float* scores) {
  for (int k = lane; k < pm; k += kWarp) scores[k] = prune_score(seg[k], udiag[k * dstride]);
}

// Position of s[k] among s[0 .. len) ordered by value, then index.
LLMC_HD int smallest_rank(const float* s, int len, int k) {
  int rank = 0;
  for (int m = 0; m < len; ++m) rank += s[m] < s[k] || (s[m] == s[k] && m < k);
  return rank;
}

// N:M, phase 2: the pn smallest scores of the group are pruned.
LLMC_HD void lane_nm_mask(const float* scores, int pm, int pn, int lane, uint8_t* mask) {
  for (int k = lane; k < pm; k += kWarp) mask[k] = smallest_rank(scores, pm, k) < pn ? 1 : 0;
}

// Order-preserving map of a float to uint32 (negative values below positive ones).
LLMC_HD uint32_t order_bits(float v) {
  const uint32_t b = float_bits(v);
  return (b & 0x80000000u) ? ~b : (b | 0x80000000u);
}

// Bytes of the index part of the select key for `len` elements (1..8).
LLMC_HD int index_bytes(uint64_t len) {
  int bytes = 1;
  while (bytes < 8 && ((len - 1) >> (8 * bytes)) != 0) ++bytes;
  return bytes;
}

constexpr int kRadixBins = 256;

// The select so far: the key digits fixed by the passes before `pass`, and how many of the
// elements that share them are still to be taken.
struct RadixState {
  uint64_t k;
  uint64_t prefix_idx;
  uint32_t prefix_score;
  int pass;
};

LLMC_HD int radix_passes(int idx_bytes) { return 4 + idx_bytes; }

LLMC_HD bool radix_match(uint32_t sb, uint64_t idx, const RadixState& st, int idx_bytes) {
  const int p = st.pass;
  if (p == 0) return true;
  if (p <= 4) {
    const int shift = 32 - 8 * p;
    return (sb >> shift) == (st.prefix_score >> shift);
  }
  const int shift = 8 * (idx_bytes - (p - 4));
  return sb == st.prefix_score && (idx >> shift) == (st.prefix_idx >> shift);
}

LLMC_HD int radix_digit(uint32_t sb, uint64_t idx, int pass, int idx_bytes) {
  if (pass < 4) return static_cast<int>((sb >> (24 - 8 * pass)) & 255u);
  return static_cast<int>((idx >> (8 * (idx_bytes - 1 - (pass - 4)))) & 255u);
}

// After a pass's histogram of the matching elements' digits: fixes the digit that holds the k-th.
LLMC_HD void radix_pick(const unsigned long long* hist, RadixState* st, int idx_bytes) {
  uint64_t below = 0;
  int digit = 0;
  while (digit < kRadixBins - 1 && below + hist[digit] < st->k) below += hist[digit++];
  st->k -= below;
  const int p = st->pass;
  if (p < 4)
    st->prefix_score |= static_cast<uint32_t>(digit) << (24 - 8 * p);
  else
    st->prefix_idx |= static_cast<uint64_t>(digit) << (8 * (idx_bytes - 1 - (p - 4)));
  st->pass = p + 1;
}

// After every pass: the key is among the k smallest (the prefix is now the k-th key).
LLMC_HD bool radix_selected(uint32_t sb, uint64_t idx, const RadixState& st) {
  return sb < st.prefix_score || (sb == st.prefix_score && idx <= st.prefix_idx);
}

// ---- the fp32 GEMM's per-output math (hessian.cu) -----------------------------------------------
LLMC_HD float gemm_acc(float acc, float a, float b) { return fmaf(a, b, acc); }

// C = alpha · acc + beta · C (C not read when beta = 0).
LLMC_HD float gemm_out(float acc, float alpha, float beta, float c) {
  return beta == 0.0f ? mul_rn(alpha, acc) : fmaf(alpha, acc, mul_rn(beta, c));
}

// ---- Cholesky leaves (cholesky.cu), in double as linalg.cpp ------------------------------------
// a − Σ_{k<n} x[k]·y[k], in order.
LLMC_HD double dot_sub(double a, const double* x, const double* y, int n) {
  for (int k = 0; k < n; ++k) a = fma(-x[k], y[k], a);
  return a;
}

LLMC_HD bool pivot_ok(double s) { return s > 0.0 && s < INFINITY; }

// Forward substitution of one row of B against L (leaf): x_j = (b_j − Σ_{k<j} x_k·L[j][k]) / L[j][j].
LLMC_HD double trsm_entry(double b, const double* x, const float* lrow, int j) {
  for (int k = 0; k < j; ++k) b = fma(-x[k], static_cast<double>(lrow[k]), b);
  return b / static_cast<double>(lrow[j]);
}

// Diagonal entry of the inverse of a lower-triangular leaf.
LLMC_HD double inverse_diag(float l_ii) { return 1.0 / static_cast<double>(l_ii); }

// Entry (i, j), i > j, of the inverse of a lower-triangular leaf, from its column j above row i:
// X[i][j] = −Σ_{j<=k<i} L[i][k]·X[k][j] / L[i][i].
LLMC_HD double inverse_entry(const float* lrow_i, const double* xcol, int j, int i) {
  double s = 0.0;
  for (int k = j; k < i; ++k) s = fma(-static_cast<double>(lrow_i[k]), xcol[k], s);
  return s / static_cast<double>(lrow_i[i]);
}

// ---- the recursion of linalg.cpp (host code over any executor) ---------------------------------
// Ops provides, on row-major float matrices in its own memory:
//   chol_leaf(a, n, lda, col0)         lower Cholesky of a leaf (n <= kLeaf) in place; a pivot that
//                                      is not positive is recorded as col0 + j + 1 (first one wins)
//   trsm_leaf(l, n, ldl, b, m, ldb)    B [m × n] := B · L⁻ᵀ, L a leaf
//   invert_leaf(a, n, lda)             lower leaf → its inverse, upper part zeroed
//   zero_upper(a, n, lda)              strictly upper triangle := 0
//   gemm(tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)   as llmc_sgemm with trans_a = 0
constexpr int64_t kLeaf = 64;

inline int64_t leaf_split(int64_t n) {
  const int64_t half = (n / 2 + kLeaf - 1) / kLeaf * kLeaf;
  return half > kLeaf ? half : kLeaf;
}

template <class Ops>
void gemm_nt_sub(Ops& ops, int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* b, int64_t ldb,
                 float* c, int64_t ldc) {
  if (m > 0 && n > 0 && k > 0) ops.gemm(true, m, n, k, -1.0f, a, lda, b, ldb, 1.0f, c, ldc);
}

template <class Ops>
void trsm_right_lower_t(Ops& ops, const float* l, int64_t n, int64_t ldl, float* b, int64_t m, int64_t ldb) {
  if (n <= kLeaf) {
    ops.trsm_leaf(l, n, ldl, b, m, ldb);
    return;
  }
  const int64_t n1 = leaf_split(n), n2 = n - n1;
  trsm_right_lower_t(ops, l, n1, ldl, b, m, ldb);
  gemm_nt_sub(ops, m, n2, n1, b, ldb, l + n1 * ldl, ldl, b + n1, ldb);
  trsm_right_lower_t(ops, l + n1 * ldl + n1, n2, ldl, b + n1, m, ldb);
}

template <class Ops>
void syrk_lower_sub(Ops& ops, float* c, int64_t n, int64_t ldc, const float* a, int64_t k, int64_t lda) {
  if (n <= 4 * kLeaf) {
    gemm_nt_sub(ops, n, n, k, a, lda, a, lda, c, ldc);
    return;
  }
  const int64_t n1 = leaf_split(n), n2 = n - n1;
  syrk_lower_sub(ops, c, n1, ldc, a, k, lda);
  gemm_nt_sub(ops, n2, n1, k, a + n1 * lda, lda, a, lda, c + n1 * ldc, ldc);
  syrk_lower_sub(ops, c + n1 * ldc + n1, n2, ldc, a + n1 * lda, k, lda);
}

// Lower Cholesky in place (no early exit: the first failing pivot is recorded by the leaves).
template <class Ops>
void cholesky_lower(Ops& ops, float* a, int64_t n, int64_t lda, int64_t col0) {
  if (n <= kLeaf) {
    ops.chol_leaf(a, n, lda, col0);
    return;
  }
  const int64_t n1 = leaf_split(n), n2 = n - n1;
  cholesky_lower(ops, a, n1, lda, col0);
  trsm_right_lower_t(ops, a, n1, lda, a + n1 * lda, n2, lda);
  syrk_lower_sub(ops, a + n1 * lda + n1, n2, lda, a + n1 * lda, n1, lda);
  cholesky_lower(ops, a + n1 * lda + n1, n2, lda, col0 + n1);
}

// [L11 0; L21 L22]⁻¹ = [L11⁻¹ 0; −L22⁻¹·L21·L11⁻¹  L22⁻¹]; tmp holds n2 × n1 floats.
template <class Ops>
void invert_lower(Ops& ops, float* a, int64_t n, int64_t lda, float* tmp) {
  if (n <= kLeaf) {
    ops.invert_leaf(a, n, lda);
    return;
  }
  const int64_t n1 = leaf_split(n), n2 = n - n1;
  float* l21 = a + n1 * lda;
  float* l22 = a + n1 * lda + n1;
  invert_lower(ops, a, n1, lda, tmp);
  invert_lower(ops, l22, n2, lda, tmp);
  ops.gemm(false, n2, n1, n1, 1.0f, l21, lda, a, lda, 0.0f, tmp, n1);
  ops.gemm(false, n2, n1, n2, -1.0f, l22, lda, tmp, n1, 0.0f, l21, lda);
}

// A = P·H·P (H reversed, lda = n) → L⁻¹ with P·H·P = L·Lᵀ; U = P·L⁻¹·P then has Uᵀ·U = H⁻¹.
// tmp: n²/4 floats at least.
template <class Ops>
void reversed_inverse_cholesky(Ops& ops, float* a, int64_t n, float* tmp) {
  cholesky_lower(ops, a, n, n, 0);
  ops.zero_upper(a, n, n);
  invert_lower(ops, a, n, n, tmp);
}

}  // namespace obs

#if defined(__CUDACC__)
// Device entry points shared by hessian.cu, cholesky.cu and gptq.cu (device pointers, stream()).

// C [m × n] = alpha · op(A) · op(B) + beta · C, as llmc_sgemm (A·B, A·Bᵀ or Aᵀ·B: the products
// the pipeline needs); lower_only: only the tiles that hold elements on or below the diagonal are
// computed.
enum class GemmOp { kNN, kNT, kTN };
void sgemm(GemmOp op, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda, const float* b,
           int64_t ldb, float beta, float* c, int64_t ldc, bool lower_only);
// In place on h (device, n × n, symmetric positive definite): h becomes U, upper triangular with
// Uᵀ·U = H⁻¹, as linalg::inverse_upper_cholesky. work: n² floats of device memory. Fails with
// LLMC_INVALID_ARGUMENT (message of linalg.cpp, with `hint`) when H is not positive definite.
llmc_status inverse_upper_cholesky(float* h, float* work, int64_t n, const char* hint);
#endif

}  // namespace cuda
}  // namespace llmc
