// baselines.cpp — the compressors without a Hessian, the baselines of GPTQ and SparseGPT:
//   llmc_rtn    round to nearest with GPTQ's quantizer (quantizer.h), per row or per group of inputs
//   llmc_prune  magnitude pruning (|W|) or Wanda (|W_ij| · ‖X_j‖, Sun et al. 2023), unstructured
//               or N:M, ties to the lower index (mark_smallest of obs_shared.h)
//
// Data (rows = outputs, cols = inputs; all row-major):
//   w      [rows × cols]  the weight, read only
//   norms  [cols]         Wanda: the input norms ‖X_j‖ (NULL: magnitude)
//   mask   [rows × cols]  u8 working mask, 1 = pruned; selected per group of M inputs of a row
//                         (N:M), per row (Wanda) or over the whole matrix (magnitude)
//   results: llmc_obs_result (obs_shared.h), columns in order; loss 0.
#include <cmath>
#include <numeric>
#include <vector>

#include "llmc.h"
#include "obs_config.h"
#include "obs_shared.h"
#include "quantizer.h"
#include "status.h"
#include "thread_pool.h"

using namespace llmc;

extern "C" llmc_status llmc_rtn(const llmc_obs_params* p, const float* w, llmc_obs_result* out) {
  ObsConfig c;
  if (llmc_status s = validate_obs(p, "rtn", false, &c)) return s;
  if (!c.quantize) return fail(LLMC_INVALID_ARGUMENT, "rtn: bits must be 2..8, got %d", p->bits);
  if (!w || !out || !out->weight) return fail(LLMC_INVALID_ARGUMENT, "rtn: null pointer");
  Outputs o{c, out, std::vector<int32_t>(static_cast<size_t>(c.cols))};
  std::iota(o.perm.begin(), o.perm.end(), 0);
  const int64_t glen = c.group == 0 ? c.cols : c.group;
  parallel_for(c.rows, [&](int64_t r, int) {
    for (int64_t t = 0; t < c.groups; ++t) {
      const quant::Params pr = quant::find_params(&w[r * c.cols + t * glen], glen, 1, c.maxq, c.sym, c.mse);
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
  ObsConfig c;
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
