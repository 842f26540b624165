// obs.cpp — the OBS column loop of GPTQ (Frantar et al. 2022, IST-DASLab/gptq) and SparseGPT
// (Frantar & Alistarh 2023, IST-DASLab/sparsegpt), which share it: one pass over the columns of W
// in the order of (optionally) descending diag(H), each column quantized and/or pruned, its error
// spread over the remaining columns through U, the upper Cholesky factor of H⁻¹ (linalg.h).
// llmc_obs_compress runs the steps below in this order:
//   copy_inputs, check_symmetric, fix_dead_inputs   working copies of W and H, checked
//   fixed_params                                     per-row or static-group quantization parameters
//   apply_act_order                                  columns by descending diag(H), in W and H
//   damp_and_factor                                  H + damp·mean(diag H)·I, then U in place
//   per block: transpose_block, sparsegpt_mask, compress_rows (threads), lazy_update
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
//
// native/cuda/gptq.cu runs the same loop on the GPU with this file as its reference.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <vector>

#include "linalg.h"
#include "llmc.h"
#include "obs_config.h"
#include "obs_shared.h"
#include "quantizer.h"
#include "status.h"
#include "thread_pool.h"

namespace llmc {
namespace {

using quant::Params;

using Config = ObsConfig;

// Working copies of W and H (H becomes U in place).
llmc_status copy_inputs(const float* w_in, const float* h_in, int64_t rows, int64_t cols, std::vector<float>& w,
                        std::vector<float>& u) {
  try {
    w.assign(w_in, w_in + rows * cols);
    u.assign(h_in, h_in + cols * cols);
  } catch (const std::bad_alloc&) {
    return fail(LLMC_OUT_OF_MEMORY, "obs_compress: cannot allocate %.1f MiB for copies of W and H",
                static_cast<double>(rows * cols + cols * cols) * 4.0 / 1048576.0);
  }
  return LLMC_OK;
}

// H must be symmetric (a transposed or corrupted Hessian would be silently wrong).
llmc_status check_symmetric(const float* h_in, int64_t cols) {
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
                static_cast<long long>(asym / cols), static_cast<long long>(asym % cols),
                static_cast<double>(h_in[asym]), static_cast<long long>(asym % cols),
                static_cast<long long>(asym / cols), static_cast<double>(h_in[(asym % cols) * cols + asym / cols]));
  return LLMC_OK;
}

// Dead inputs: H_jj = 0 -> H_jj = 1, W[:, j] = 0. A diagonal entry that is not finite fails.
llmc_status fix_dead_inputs(int64_t rows, int64_t cols, std::vector<float>& w, std::vector<float>& u) {
  for (int64_t j = 0; j < cols; ++j) {
    if (!std::isfinite(u[j * cols + j]))
      return fail(LLMC_INVALID_ARGUMENT, "obs_compress: H[%lld, %lld] is not finite", static_cast<long long>(j),
                  static_cast<long long>(j));
    if (u[j * cols + j] == 0.0f) {
      u[j * cols + j] = 1.0f;
      for (int64_t r = 0; r < rows; ++r) w[r * cols + j] = 0.0f;
    }
  }
  return LLMC_OK;
}

// Quantization parameters fixed before the loop: per row (no groups), or static groups
// (act_order 1), found on W in its original column order and written to the outputs: [rows × G].
// Empty when nothing is quantized or the groups are dynamic (their parameters come in the loop).
std::vector<Params> fixed_params(const Config& c, const std::vector<float>& w, const Outputs& o) {
  std::vector<Params> fixed;
  const int64_t rows = c.rows, cols = c.cols;
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
  return fixed;
}

// Act-order: columns by descending diag(H) (stable) into perm, then W's columns and H's rows and
// columns in that order.
llmc_status apply_act_order(const Config& c, std::vector<float>& w, std::vector<float>& u, std::vector<int32_t>& perm) {
  const int64_t rows = c.rows, cols = c.cols;
  std::vector<float> diag(static_cast<size_t>(cols));
  for (int64_t j = 0; j < cols; ++j) diag[static_cast<size_t>(j)] = u[j * cols + j];
  std::stable_sort(perm.begin(), perm.end(),
                   [&](int32_t a, int32_t b) { return diag[static_cast<size_t>(a)] > diag[static_cast<size_t>(b)]; });
  std::vector<float> tmp(static_cast<size_t>(cols));
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t i = 0; i < cols; ++i) tmp[static_cast<size_t>(i)] = w[r * cols + perm[static_cast<size_t>(i)]];
    std::copy(tmp.begin(), tmp.end(), w.begin() + r * cols);
  }
  std::vector<float> hp;
  try {
    hp.resize(static_cast<size_t>(cols * cols));
  } catch (const std::bad_alloc&) {
    return fail(LLMC_OUT_OF_MEMORY, "obs_compress: cannot allocate the permuted Hessian");
  }
  parallel_for(cols, [&](int64_t i, int) {
    const float* src = &u[static_cast<size_t>(perm[static_cast<size_t>(i)]) * cols];
    for (int64_t j = 0; j < cols; ++j) hp[i * cols + j] = src[perm[static_cast<size_t>(j)]];
  });
  u.swap(hp);
  return LLMC_OK;
}

// Damping (H += damp · mean(diag H) · I), then U = chol(H⁻¹) upper, in place.
llmc_status damp_and_factor(double damp_fraction, int64_t cols, std::vector<float>& u) {
  double mean = 0;
  for (int64_t j = 0; j < cols; ++j) mean += u[j * cols + j];
  mean /= static_cast<double>(cols);
  const float damp = static_cast<float>(damp_fraction * mean);
  for (int64_t j = 0; j < cols; ++j) u[j * cols + j] += damp;
  char hint[160];
  std::snprintf(hint, sizeof hint, "raise the damping (dampPercent, now %g) or add calibration data", damp_fraction);
  return linalg::inverse_upper_cholesky(u.data(), cols, hint);
}

// The loop's state across blocks: U, the working buffers and the quantization parameters.
struct Loop {
  const Config& c;
  const Outputs& o;
  const std::vector<float>& u;       // U [cols × cols]
  const std::vector<Params>& fixed;  // fixed_params
  std::vector<Params>& live;         // dynamic groups: the current group's parameters of each row
  std::vector<float>& wt;            // [count × rows] the block transposed
  std::vector<float>& et;            // [count × rows] the block's errors
  std::vector<uint8_t>& block_mask;  // unstructured pruning: [count × rows], 1 = pruned
};

// The block [i1, i1 + count) of W, transposed into wt.
void transpose_block(const std::vector<float>& w, int64_t rows, int64_t cols, int64_t i1, int64_t count,
                     std::vector<float>& wt) {
  parallel_for(count, [&](int64_t j, int) {
    for (int64_t r = 0; r < rows; ++r) wt[j * rows + r] = w[r * cols + i1 + j];
  });
}

// SparseGPT, unstructured: the block's mask by w² / d², exactly round(sparsity · count · rows) weights.
void sparsegpt_mask(const Loop& loop, int64_t i1, int64_t count, std::vector<float>& score, std::vector<int64_t>& idx) {
  const Config& c = loop.c;
  const int64_t rows = c.rows, cols = c.cols;
  const std::vector<float>& u = loop.u;
  const std::vector<float>& wt = loop.wt;
  score.resize(static_cast<size_t>(count * rows));
  loop.block_mask.assign(static_cast<size_t>(count * rows), 0);
  for (int64_t j = 0; j < count; ++j) {
    const float d = u[(i1 + j) * cols + i1 + j];
    for (int64_t r = 0; r < rows; ++r) score[j * rows + r] = wt[j * rows + r] * wt[j * rows + r] / (d * d);
  }
  mark_smallest(score.data(), count * rows, std::llround(c.sparsity * static_cast<double>(count * rows)),
                loop.block_mask.data(), idx);
}

// Rows [r0, r1) of the block [i1, i1 + count), column by column: the parameters of a group that
// starts (dynamic groups), the N:M mask of a group of M that starts, then each weight quantized
// and/or pruned, its error into et, and the in-block update of the later columns. Returns the
// rows' Σ e².
double compress_rows(const Loop& loop, int64_t i1, int64_t count, int64_t r0, int64_t r1) {
  const Config& c = loop.c;
  const Outputs& o = loop.o;
  const int64_t rows = c.rows, cols = c.cols, nr = r1 - r0;
  const std::vector<float>& u = loop.u;
  std::vector<float>& wt = loop.wt;
  double loss = 0;
  std::vector<uint8_t> nm_mask;  // N:M: [prune_m × nr] for the current group of M columns
  if (c.prune_nm) nm_mask.resize(static_cast<size_t>(c.pm * nr));
  std::vector<float> nm_score(static_cast<size_t>(c.pm));
  std::vector<int64_t> nm_idx;
  for (int64_t j = 0; j < count; ++j) {
    const int64_t i = i1 + j;
    float* col = &wt[j * rows];
    const float d = u[i * cols + i];
    if (c.quantize && c.group > 0 && c.act_order != 1 &&
        i % c.group == 0) {  // a group starts: its params from current values
      for (int64_t r = r0; r < r1; ++r) {
        const Params pr = quant::find_params(&wt[j * rows + r], c.group, rows, c.maxq, c.sym, c.mse);
        loop.live[static_cast<size_t>(r)] = pr;
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
    float* err = &loop.et[j * rows];
    for (int64_t r = r0; r < r1; ++r) {
      const float wv = col[r];
      const bool pruned = (c.prune_un && loop.block_mask[static_cast<size_t>(j * rows + r)]) ||
                          (c.prune_nm && nm_mask[static_cast<size_t>((j % c.pm) * nr + (r - r0))]);
      float q = pruned ? 0.0f : wv;
      int code = 0;
      if (c.quantize) {
        const Params& pr =
            c.group == 0 ? loop.fixed[static_cast<size_t>(r)]
            : c.act_order == 1
                ? loop.fixed[static_cast<size_t>(r * c.groups + o.perm[static_cast<size_t>(i)] / c.group)]
                : loop.live[static_cast<size_t>(r)];
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
  return loss;
}

// Lazy update of the columns after the block [i1, i2): W[:, i2:] -= Eᵀ·U[i1:i2, i2:].
llmc_status lazy_update(const Loop& loop, std::vector<float>& w, int64_t i1, int64_t i2) {
  const int64_t rows = loop.c.rows, cols = loop.c.cols;
  return llmc_sgemm(1, 0, rows, cols - i2, i2 - i1, -1.0f, loop.et.data(), rows, &loop.u[i1 * cols + i2], cols, 1.0f,
                    &w[i2], cols);
}

}  // namespace
}  // namespace llmc

using namespace llmc;

extern "C" llmc_status llmc_obs_compress(const llmc_obs_params* p, const float* w_in, const float* h_in,
                                         llmc_obs_result* out) {
  Config c;
  if (llmc_status s = validate_obs(p, "obs_compress", true, &c)) return s;
  if (!w_in || !h_in || !out || !out->weight) return fail(LLMC_INVALID_ARGUMENT, "obs_compress: null pointer");
  if (out->g_idx && c.act_order != 2)
    return fail(LLMC_INVALID_ARGUMENT, "obs_compress: g_idx is only produced with act_order = 2");
  const int64_t rows = c.rows, cols = c.cols;
  std::vector<float> w, u;
  if (llmc_status s = copy_inputs(w_in, h_in, rows, cols, w, u)) return s;
  if (llmc_status s = check_symmetric(h_in, cols)) return s;
  if (llmc_status s = fix_dead_inputs(rows, cols, w, u)) return s;
  Outputs o{c, out, std::vector<int32_t>(static_cast<size_t>(cols))};
  std::iota(o.perm.begin(), o.perm.end(), 0);
  const std::vector<Params> fixed = fixed_params(c, w, o);
  if (c.act_order)
    if (llmc_status s = apply_act_order(c, w, u, o.perm)) return s;
  if (out->g_idx)
    for (int64_t i = 0; i < cols; ++i)
      out->g_idx[o.perm[static_cast<size_t>(i)]] = static_cast<int32_t>(c.group > 0 ? i / c.group : 0);
  if (llmc_status s = damp_and_factor(p->damp, cols, u)) return s;

  const int threads = pool_threads();
  const int64_t bmax = std::min(c.block, cols);
  std::vector<float> wt(static_cast<size_t>(bmax * rows)), et(static_cast<size_t>(bmax * rows));
  std::vector<uint8_t> block_mask;
  std::vector<float> score;
  std::vector<int64_t> idx;
  std::vector<double> loss_parts(static_cast<size_t>(threads), 0.0);
  // Row chunks for the threads: rows are independent inside a block.
  const int64_t chunk = std::max<int64_t>(16, (rows + 4 * threads - 1) / (4 * threads) + 15) / 16 * 16;
  const int64_t chunks = (rows + chunk - 1) / chunk;
  std::vector<Params> live(static_cast<size_t>(c.quantize && c.group > 0 && c.act_order != 1 ? rows : 0));
  const Loop loop{c, o, u, fixed, live, wt, et, block_mask};

  for (int64_t i1 = 0; i1 < cols; i1 += c.block) {
    const int64_t i2 = std::min(cols, i1 + c.block), count = i2 - i1;
    transpose_block(w, rows, cols, i1, count, wt);
    if (c.prune_un) sparsegpt_mask(loop, i1, count, score, idx);
    parallel_for(chunks, [&](int64_t t, int thread) {
      const int64_t r0 = t * chunk, r1 = std::min(rows, r0 + chunk);
      loss_parts[static_cast<size_t>(thread)] += compress_rows(loop, i1, count, r0, r1);
    });
    if (i2 < cols)
      if (llmc_status st = lazy_update(loop, w, i1, i2)) return st;
  }
  double loss = 0;
  for (double v : loss_parts) loss += v;
  out->loss = 0.5 * loss;
  return LLMC_OK;
}
