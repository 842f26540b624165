// gptq.cpp — the OBS column loop of GPTQ (Frantar et al. 2022, IST-DASLab/gptq) and SparseGPT
// (Frantar & Alistarh 2023, IST-DASLab/sparsegpt), which share it: one pass over the columns of W
// in the order of (optionally) descending diag(H), each column quantized and/or pruned, its error
// spread over the remaining columns through U, the upper Cholesky factor of H⁻¹ (linalg.h).
//
// Data (rows = outputs, cols = inputs; all row-major):
//   w  [rows × cols]  working copy, columns permuted by act-order
//   u  [cols × cols]  U (upper), same permutation
//   per lazy-batch block [i1, i2) of columns (block ≤ 128 typically):
//     wt [count × rows]  the block transposed (one column of W is one contiguous row of wt), so the
//                        in-block rank-1 updates wt[j][·] −= err[·] · U[i][j] run along rows;
//                        rows are independent inside a block, so threads take ranges of rows
//     et [count × rows]  errors (w − q) / U[i][i] of the block's columns
//   after the block: W[:, i2:] −= Eᵀ·U[i1:i2, i2:], one fp32 GEMM (m = rows, k = count).
//
// Loss: the sum of ((w − q)/d)²/2 over all weights equals ½·tr(ΔW·H·ΔWᵀ) for the damped H
// (Δ = e·U row by row, and U·H·Uᵀ = I).
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <vector>

#include "linalg.h"
#include "llmc.h"
#include "obs_config.h"
#include "quantizer.h"
#include "status.h"
#include "thread_pool.h"

namespace llmc {
namespace {

using quant::Params;

using Config = ObsConfig;

}  // namespace

llmc_status validate_obs(const llmc_obs_params* p, const char* what, bool needs_h, ObsConfig* c) {
  if (!p) return fail(LLMC_INVALID_ARGUMENT, "%s: null parameters", what);
  const int64_t kMax = int64_t{1} << 31;
  if (p->rows < 1 || p->cols < 1 || p->rows > kMax || p->cols > kMax)
    return fail(LLMC_INVALID_ARGUMENT, "%s: rows and cols must be in [1, 2^31], got %lld x %lld", what,
                static_cast<long long>(p->rows), static_cast<long long>(p->cols));
  if (p->bits != 0 && (p->bits < 2 || p->bits > 8))
    return fail(LLMC_INVALID_ARGUMENT, "%s: bits must be 2..8 (or 0: no quantization), got %d", what, p->bits);
  if (p->bits == 8 && !p->symmetric)
    return fail(LLMC_INVALID_ARGUMENT, "%s: asymmetric 8-bit codes (0..255) do not fit int8; use symmetric 8-bit", what);
  if (p->group < 0 || (p->group > 0 && p->cols % p->group != 0))
    return fail(LLMC_INVALID_ARGUMENT, "%s: group size %lld does not divide the %lld columns", what, static_cast<long long>(p->group),
                static_cast<long long>(p->cols));
  if (!(p->sparsity >= 0.0 && p->sparsity < 1.0))
    return fail(LLMC_INVALID_ARGUMENT, "%s: sparsity must be in [0, 1), got %g", what, p->sparsity);
  const bool nm = p->prune_m != 0 || p->prune_n != 0;
  if (nm && !(p->prune_n > 0 && p->prune_n < p->prune_m && p->prune_m <= 64))
    return fail(LLMC_INVALID_ARGUMENT, "%s: N:M structure needs 0 < N < M <= 64, got %d:%d", what, p->prune_n, p->prune_m);
  if (nm && p->sparsity > 0.0) return fail(LLMC_INVALID_ARGUMENT, "%s: give either a sparsity or an N:M structure, not both", what);
  if (nm && p->cols % p->prune_m != 0)
    return fail(LLMC_INVALID_ARGUMENT, "%s: N:M with M = %d needs cols (%lld) to be a multiple of M", what, p->prune_m,
                static_cast<long long>(p->cols));
  if (needs_h) {
    if (p->act_order < 0 || p->act_order > 2) return fail(LLMC_INVALID_ARGUMENT, "%s: act_order must be 0, 1 or 2, got %d", what, p->act_order);
    if (!(p->damp >= 0.0 && p->damp < 1e6)) return fail(LLMC_INVALID_ARGUMENT, "%s: damp must be >= 0, got %g", what, p->damp);
    if (p->block < 1) return fail(LLMC_INVALID_ARGUMENT, "%s: block must be >= 1, got %lld", what, static_cast<long long>(p->block));
    if (p->bits > 0 && p->group > 0 && p->block % p->group != 0)
      return fail(LLMC_INVALID_ARGUMENT, "%s: block (%lld) must be a multiple of the group size (%lld)", what,
                  static_cast<long long>(p->block), static_cast<long long>(p->group));
    if (nm && p->block % p->prune_m != 0)
      return fail(LLMC_INVALID_ARGUMENT, "%s: block (%lld) must be a multiple of M = %d", what, static_cast<long long>(p->block), p->prune_m);
    if (p->bits == 0 && !nm && p->sparsity == 0.0)
      return fail(LLMC_INVALID_ARGUMENT, "%s: nothing to do: give bits, a sparsity or an N:M structure", what);
  }
  c->rows = p->rows, c->cols = p->cols, c->block = p->block;
  c->quantize = p->bits > 0;
  c->maxq = c->quantize ? (1 << p->bits) - 1 : 0;
  c->group = c->quantize ? p->group : 0;
  c->groups = c->group > 0 ? p->cols / c->group : 1;
  c->sym = p->symmetric != 0, c->mse = p->mse != 0;
  c->act_order = needs_h ? p->act_order : 0;
  c->prune_nm = nm, c->prune_un = p->sparsity > 0.0;
  c->pn = p->prune_n, c->pm = p->prune_m, c->sparsity = p->sparsity;
  return LLMC_OK;
}

namespace {

// Index of the smallest `count` scores (ties to the lower index) set in `pruned`.
void mark_smallest(const float* score, int64_t len, int64_t count, uint8_t* pruned, std::vector<int64_t>& idx) {
  if (count <= 0) return;
  idx.resize(static_cast<size_t>(len));
  std::iota(idx.begin(), idx.end(), int64_t{0});
  auto less = [&](int64_t a, int64_t b) { return score[a] < score[b] || (score[a] == score[b] && a < b); };
  if (count < len) std::nth_element(idx.begin(), idx.begin() + count, idx.end(), less);
  for (int64_t i = 0; i < std::min(count, len); ++i) pruned[idx[static_cast<size_t>(i)]] = 1;
}

struct Outputs {
  const Config& c;
  llmc_obs_result* out;
  std::vector<int32_t> perm;  // packed position -> original column (identity without act-order)
  // Writes the result for row r, position i (original column perm[i]).
  void put(int64_t r, int64_t i, float value, int code, bool pruned) const {
    const int64_t col = perm[static_cast<size_t>(i)];
    out->weight[r * c.cols + col] = value;
    if (out->q) out->q[r * c.cols + col] = static_cast<int8_t>(c.sym ? code - (c.maxq + 1) / 2 : code);
    if (out->mask) out->mask[r * c.cols + col] = pruned ? 1 : 0;
  }
  void put_params(int64_t r, int64_t t, const Params& pr) const {
    if (out->scale) out->scale[r * c.groups + t] = pr.scale;
    if (out->zero) out->zero[r * c.groups + t] = static_cast<uint8_t>(pr.zero);
  }
};

}  // namespace
}  // namespace llmc

using namespace llmc;

extern "C" llmc_status llmc_obs_compress(const llmc_obs_params* p, const float* w_in, const float* h_in, llmc_obs_result* out) {
  Config c;
  if (llmc_status s = validate_obs(p, "obs_compress", true, &c)) return s;
  if (!w_in || !h_in || !out || !out->weight) return fail(LLMC_INVALID_ARGUMENT, "obs_compress: null pointer");
  if (out->g_idx && c.act_order != 2) return fail(LLMC_INVALID_ARGUMENT, "obs_compress: g_idx is only produced with act_order = 2");
  const int64_t rows = c.rows, cols = c.cols;
  std::vector<float> w, u;
  try {
    w.assign(w_in, w_in + rows * cols);
    u.assign(h_in, h_in + cols * cols);
  } catch (const std::bad_alloc&) {
    return fail(LLMC_OUT_OF_MEMORY, "obs_compress: cannot allocate %.1f MiB for copies of W and H",
                static_cast<double>(rows * cols + cols * cols) * 4.0 / 1048576.0);
  }
  // H must be symmetric (a transposed or corrupted Hessian would be silently wrong).
  std::atomic<int64_t> asym{-1};
  parallel_for((cols + 63) / 64, [&](int64_t t, int) {
    for (int64_t i = t * 64; i < std::min(cols, t * 64 + 64); ++i)
      for (int64_t j = 0; j < i; ++j) {
        const float a = h_in[i * cols + j], b = h_in[j * cols + i];
        if (!(std::fabs(a - b) <= 1e-5f * std::max(std::fabs(a), std::fabs(b)))) {
          asym = i * cols + j;
          return;
        }
      }
  });
  if (asym >= 0)
    return fail(LLMC_INVALID_ARGUMENT, "obs_compress: H is not symmetric: H[%lld, %lld] = %g but H[%lld, %lld] = %g",
                static_cast<long long>(asym / cols), static_cast<long long>(asym % cols), static_cast<double>(h_in[asym]),
                static_cast<long long>(asym % cols), static_cast<long long>(asym / cols),
                static_cast<double>(h_in[(asym % cols) * cols + asym / cols]));
  // Dead inputs: H_jj = 0 -> H_jj = 1, W[:, j] = 0.
  for (int64_t j = 0; j < cols; ++j) {
    if (!std::isfinite(u[j * cols + j])) return fail(LLMC_INVALID_ARGUMENT, "obs_compress: H[%lld, %lld] is not finite", static_cast<long long>(j), static_cast<long long>(j));
    if (u[j * cols + j] == 0.0f) {
      u[j * cols + j] = 1.0f;
      for (int64_t r = 0; r < rows; ++r) w[r * cols + j] = 0.0f;
    }
  }
  Outputs o{c, out, std::vector<int32_t>(static_cast<size_t>(cols))};
  std::iota(o.perm.begin(), o.perm.end(), 0);

  // Quantization parameters fixed before the loop: per row (no groups), or static groups.
  std::vector<Params> fixed;
  if (c.quantize && (c.group == 0 || c.act_order == 1)) {
    fixed.resize(static_cast<size_t>(rows * c.groups));
    const int64_t glen = c.group == 0 ? cols : c.group;
    parallel_for(rows, [&](int64_t r, int) {
      for (int64_t t = 0; t < c.groups; ++t) {
        const Params pr = quant::find_params(&w[r * cols + t * glen], glen, 1, c.maxq, c.sym, c.mse);
        fixed[static_cast<size_t>(r * c.groups + t)] = pr;
        o.put_params(r, t, pr);
      }
    });
  }

  // Act-order: columns by descending diag(H) (stable), in W and in H.
  if (c.act_order) {
    std::vector<float> diag(static_cast<size_t>(cols));
    for (int64_t j = 0; j < cols; ++j) diag[static_cast<size_t>(j)] = u[j * cols + j];
    std::stable_sort(o.perm.begin(), o.perm.end(), [&](int32_t a, int32_t b) { return diag[static_cast<size_t>(a)] > diag[static_cast<size_t>(b)]; });
    std::vector<float> tmp(static_cast<size_t>(cols));
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t i = 0; i < cols; ++i) tmp[static_cast<size_t>(i)] = w[r * cols + o.perm[static_cast<size_t>(i)]];
      std::copy(tmp.begin(), tmp.end(), w.begin() + r * cols);
    }
    std::vector<float> hp;
    try {
      hp.resize(static_cast<size_t>(cols * cols));
    } catch (const std::bad_alloc&) {
      return fail(LLMC_OUT_OF_MEMORY, "obs_compress: cannot allocate the permuted Hessian");
    }
    parallel_for(cols, [&](int64_t i, int) {
      const float* src = &u[static_cast<size_t>(o.perm[static_cast<size_t>(i)]) * cols];
      for (int64_t j = 0; j < cols; ++j) hp[i * cols + j] = src[o.perm[static_cast<size_t>(j)]];
    });
    u.swap(hp);
  }
  if (out->g_idx)
    for (int64_t i = 0; i < cols; ++i) out->g_idx[o.perm[static_cast<size_t>(i)]] = static_cast<int32_t>(c.group > 0 ? i / c.group : 0);

  // Damping, then U = chol(H⁻¹) upper.
  double mean = 0;
  for (int64_t j = 0; j < cols; ++j) mean += u[j * cols + j];
  mean /= static_cast<double>(cols);
  const float damp = static_cast<float>(p->damp * mean);
  for (int64_t j = 0; j < cols; ++j) u[j * cols + j] += damp;
  char hint[160];
  std::snprintf(hint, sizeof hint, "raise the damping (dampPercent, now %g) or add calibration data", p->damp);
  if (llmc_status s = linalg::inverse_upper_cholesky(u.data(), cols, hint)) return s;

  const int threads = pool_threads();
  const int64_t bmax = std::min(c.block, cols);
  std::vector<float> wt(static_cast<size_t>(bmax * rows)), et(static_cast<size_t>(bmax * rows));
  std::vector<uint8_t> block_mask;  // unstructured pruning: [count × rows], 1 = pruned
  std::vector<float> score;
  std::vector<int64_t> idx;
  std::vector<double> loss_parts(static_cast<size_t>(threads), 0.0);
  // Row chunks for the threads: rows are independent inside a block.
  const int64_t chunk = std::max<int64_t>(16, (rows + 4 * threads - 1) / (4 * threads) + 15) / 16 * 16;
  const int64_t chunks = (rows + chunk - 1) / chunk;
  std::vector<Params> live(static_cast<size_t>(c.quantize && c.group > 0 && c.act_order != 1 ? rows : 0));

  for (int64_t i1 = 0; i1 < cols; i1 += c.block) {
    const int64_t i2 = std::min(cols, i1 + c.block), count = i2 - i1;
    // The block, transposed.
    parallel_for(count, [&](int64_t j, int) {
      for (int64_t r = 0; r < rows; ++r) wt[j * rows + r] = w[r * cols + i1 + j];
    });
    if (c.prune_un) {  // SparseGPT: the block's mask by w² / d², exactly round(sparsity · count · rows) weights
      score.resize(static_cast<size_t>(count * rows));
      block_mask.assign(static_cast<size_t>(count * rows), 0);
      for (int64_t j = 0; j < count; ++j) {
        const float d = u[(i1 + j) * cols + i1 + j];
        for (int64_t r = 0; r < rows; ++r) score[j * rows + r] = wt[j * rows + r] * wt[j * rows + r] / (d * d);
      }
      mark_smallest(score.data(), count * rows, std::llround(c.sparsity * static_cast<double>(count * rows)), block_mask.data(), idx);
    }
    parallel_for(chunks, [&](int64_t t, int thread) {
      const int64_t r0 = t * chunk, r1 = std::min(rows, r0 + chunk), nr = r1 - r0;
      double loss = 0;
      std::vector<uint8_t> nm_mask;  // N:M: [prune_m × nr] for the current group of M columns
      if (c.prune_nm) nm_mask.resize(static_cast<size_t>(c.pm * nr));
      std::vector<float> nm_score(static_cast<size_t>(c.pm));
      std::vector<int64_t> nm_idx;
      for (int64_t j = 0; j < count; ++j) {
        const int64_t i = i1 + j;
        float* col = &wt[j * rows];
        const float d = u[i * cols + i];
        if (c.quantize && c.group > 0 && c.act_order != 1 && i % c.group == 0) {  // a group starts: its params from current values
          for (int64_t r = r0; r < r1; ++r) {
            const Params pr = quant::find_params(&wt[j * rows + r], c.group, rows, c.maxq, c.sym, c.mse);
            live[static_cast<size_t>(r)] = pr;
            o.put_params(r, i / c.group, pr);
          }
        }
        if (c.prune_nm && j % c.pm == 0) {  // a group of M starts: prune the N smallest w²/d² in each row
          std::fill(nm_mask.begin(), nm_mask.end(), 0);
          for (int64_t r = 0; r < nr; ++r) {
            uint8_t row_mask[64] = {0};
            for (int k = 0; k < c.pm; ++k) {
              const float dk = u[(i + k) * cols + i + k], v = wt[(j + k) * rows + r0 + r];
              nm_score[static_cast<size_t>(k)] = v * v / (dk * dk);
            }
            mark_smallest(nm_score.data(), c.pm, c.pn, row_mask, nm_idx);
            for (int k = 0; k < c.pm; ++k) nm_mask[static_cast<size_t>(k * nr + r)] = row_mask[k];
          }
        }
        float* err = &et[j * rows];
        for (int64_t r = r0; r < r1; ++r) {
          const float wv = col[r];
          const bool pruned = (c.prune_un && block_mask[static_cast<size_t>(j * rows + r)]) ||
                              (c.prune_nm && nm_mask[static_cast<size_t>((j % c.pm) * nr + (r - r0))]);
          float q = pruned ? 0.0f : wv;
          int code = 0;
          if (c.quantize) {
            const Params& pr = c.group == 0 ? fixed[static_cast<size_t>(r)]
                               : c.act_order == 1 ? fixed[static_cast<size_t>(r * c.groups + o.perm[static_cast<size_t>(i)] / c.group)]
                                                  : live[static_cast<size_t>(r)];
            code = quant::code(q, pr, c.maxq);
            q = quant::dequant(code, pr);
          }
          o.put(r, i, q, code, pruned);
          const float e = (wv - q) / d;
          err[r] = e;
          loss += static_cast<double>(e) * e;
        }
        // In-block update of the later columns of these rows.
        const float* urow = &u[i * cols + i1];
        for (int64_t k = j + 1; k < count; ++k) {
          const float f = urow[k];
          float* dst = &wt[k * rows];
          for (int64_t r = r0; r < r1; ++r) dst[r] -= err[r] * f;
        }
      }
      loss_parts[static_cast<size_t>(thread)] += loss;
    });
    // Lazy update of the columns after the block: W[:, i2:] -= Eᵀ·U[i1:i2, i2:].
    if (i2 < cols)
      if (llmc_status s = llmc_sgemm(1, 0, rows, cols - i2, count, -1.0f, et.data(), rows, &u[i1 * cols + i2], cols, 1.0f, &w[i2], cols))
        return s;
  }
  double loss = 0;
  for (double v : loss_parts) loss += v;
  out->loss = 0.5 * loss;
  return LLMC_OK;
}

extern "C" llmc_status llmc_rtn(const llmc_obs_params* p, const float* w, llmc_obs_result* out) {
  Config c;
  if (llmc_status s = validate_obs(p, "rtn", false, &c)) return s;
  if (!c.quantize) return fail(LLMC_INVALID_ARGUMENT, "rtn: bits must be 2..8, got %d", p->bits);
  if (!w || !out || !out->weight) return fail(LLMC_INVALID_ARGUMENT, "rtn: null pointer");
  Outputs o{c, out, std::vector<int32_t>(static_cast<size_t>(c.cols))};
  std::iota(o.perm.begin(), o.perm.end(), 0);
  const int64_t glen = c.group == 0 ? c.cols : c.group;
  parallel_for(c.rows, [&](int64_t r, int) {
    for (int64_t t = 0; t < c.groups; ++t) {
      const Params pr = quant::find_params(&w[r * c.cols + t * glen], glen, 1, c.maxq, c.sym, c.mse);
      o.put_params(r, t, pr);
      for (int64_t i = t * glen; i < (t + 1) * glen; ++i) {
        const int code = quant::code(w[r * c.cols + i], pr, c.maxq);
        o.put(r, i, quant::dequant(code, pr), code, false);
      }
    }
  });
  out->loss = 0;
  return LLMC_OK;
}

extern "C" llmc_status llmc_prune(const llmc_obs_params* p, const float* w, const float* norms, llmc_obs_result* out) {
  Config c;
  if (llmc_status s = validate_obs(p, "prune", false, &c)) return s;
  if (!c.prune_nm && !c.prune_un) return fail(LLMC_INVALID_ARGUMENT, "prune: give a sparsity or an N:M structure");
  if (!w || !out || !out->weight) return fail(LLMC_INVALID_ARGUMENT, "prune: null pointer");
  const int64_t rows = c.rows, cols = c.cols;
  std::vector<uint8_t> mask(static_cast<size_t>(rows * cols), 0);
  auto metric = [&](int64_t r, int64_t j) { return std::fabs(w[r * cols + j]) * (norms ? norms[j] : 1.0f); };
  if (c.prune_nm) {
    parallel_for(rows, [&](int64_t r, int) {
      std::vector<int64_t> idx;
      float s[64];
      for (int64_t j0 = 0; j0 < cols; j0 += c.pm) {
        for (int k = 0; k < c.pm; ++k) s[k] = metric(r, j0 + k);
        mark_smallest(s, c.pm, c.pn, &mask[static_cast<size_t>(r * cols + j0)], idx);
      }
    });
  } else if (norms) {  // Wanda: within each row
    const int64_t k = std::llround(c.sparsity * static_cast<double>(cols));
    parallel_for(rows, [&](int64_t r, int) {
      std::vector<float> s(static_cast<size_t>(cols));
      std::vector<int64_t> idx;
      for (int64_t j = 0; j < cols; ++j) s[static_cast<size_t>(j)] = metric(r, j);
      mark_smallest(s.data(), cols, k, &mask[static_cast<size_t>(r * cols)], idx);
    });
  } else {  // magnitude: over the whole matrix
    std::vector<float> s(static_cast<size_t>(rows * cols));
    std::vector<int64_t> idx;
    for (int64_t i = 0; i < rows * cols; ++i) s[static_cast<size_t>(i)] = std::fabs(w[i]);
    mark_smallest(s.data(), rows * cols, std::llround(c.sparsity * static_cast<double>(rows * cols)), mask.data(), idx);
  }
  for (int64_t i = 0; i < rows * cols; ++i) {
    out->weight[i] = mask[static_cast<size_t>(i)] ? 0.0f : w[i];
    if (out->mask) out->mask[i] = mask[static_cast<size_t>(i)];
  }
  out->loss = 0;
  return LLMC_OK;
}
