// obs_config.cpp — validate_obs: llmc_obs_params checked once and turned into ObsConfig, for the
// CPU compressors (native/core/obs.cpp, baselines.cpp) and the GPU loop (native/cuda/gptq.cu).
#include "obs_config.h"

#include "llmc.h"
#include "status.h"

namespace llmc {

llmc_status validate_obs(const llmc_obs_params* p, const char* what, bool needs_h, ObsConfig* c) {
  if (!p) return fail(LLMC_INVALID_ARGUMENT, "%s: null parameters", what);
  const int64_t kMax = int64_t{1} << 31;
  if (p->rows < 1 || p->cols < 1 || p->rows > kMax || p->cols > kMax)
    return fail(LLMC_INVALID_ARGUMENT, "%s: rows and cols must be in [1, 2^31], got %lld x %lld", what,
                static_cast<long long>(p->rows), static_cast<long long>(p->cols));
  if (p->bits != 0 && (p->bits < 2 || p->bits > 8))
    return fail(LLMC_INVALID_ARGUMENT, "%s: bits must be 2..8 (or 0: no quantization), got %d", what, p->bits);
  if (p->bits == 8 && !p->symmetric)
    return fail(LLMC_INVALID_ARGUMENT, "%s: asymmetric 8-bit codes (0..255) do not fit int8; use symmetric 8-bit",
                what);
  if (p->group < 0 || (p->group > 0 && p->cols % p->group != 0))
    return fail(LLMC_INVALID_ARGUMENT, "%s: group size %lld does not divide the %lld columns", what,
                static_cast<long long>(p->group), static_cast<long long>(p->cols));
  if (!(p->sparsity >= 0.0 && p->sparsity < 1.0))
    return fail(LLMC_INVALID_ARGUMENT, "%s: sparsity must be in [0, 1), got %g", what, p->sparsity);
  const bool nm = p->prune_m != 0 || p->prune_n != 0;
  if (nm && !(p->prune_n > 0 && p->prune_n < p->prune_m && p->prune_m <= 64))
    return fail(LLMC_INVALID_ARGUMENT, "%s: N:M structure needs 0 < N < M <= 64, got %d:%d", what, p->prune_n,
                p->prune_m);
  if (nm && p->sparsity > 0.0)
    return fail(LLMC_INVALID_ARGUMENT, "%s: give either a sparsity or an N:M structure, not both", what);
  if (nm && p->cols % p->prune_m != 0)
    return fail(LLMC_INVALID_ARGUMENT, "%s: N:M with M = %d needs cols (%lld) to be a multiple of M", what, p->prune_m,
                static_cast<long long>(p->cols));
  if (needs_h) {
    if (p->act_order < 0 || p->act_order > 2)
      return fail(LLMC_INVALID_ARGUMENT, "%s: act_order must be 0, 1 or 2, got %d", what, p->act_order);
    if (!(p->damp >= 0.0 && p->damp < 1e6))
      return fail(LLMC_INVALID_ARGUMENT, "%s: damp must be >= 0, got %g", what, p->damp);
    if (p->block < 1)
      return fail(LLMC_INVALID_ARGUMENT, "%s: block must be >= 1, got %lld", what, static_cast<long long>(p->block));
    if (p->bits > 0 && p->group > 0 && p->block % p->group != 0)
      return fail(LLMC_INVALID_ARGUMENT, "%s: block (%lld) must be a multiple of the group size (%lld)", what,
                  static_cast<long long>(p->block), static_cast<long long>(p->group));
    if (nm && p->block % p->prune_m != 0)
      return fail(LLMC_INVALID_ARGUMENT, "%s: block (%lld) must be a multiple of M = %d", what,
                  static_cast<long long>(p->block), p->prune_m);
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

}  // namespace llmc
