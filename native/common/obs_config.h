// obs_config.h — the checked parameters of the OBS column loop (GPTQ, SparseGPT) and its baselines:
// llmc_obs_params validated once (obs_config.cpp), for the CPU loop (native/core/obs.cpp), the
// baselines (native/core/baselines.cpp) and the GPU loop (native/cuda/gptq.cu).
#pragma once

#include <cstdint>

#include "llmc.h"

namespace llmc {

struct ObsConfig {
  int64_t rows, cols, block, group, groups;  // groups: G (1 when per row)
  int maxq;
  bool quantize, sym, mse, prune_nm, prune_un;
  int act_order;
  int pn, pm;
  double sparsity;
};

// LLMC_INVALID_ARGUMENT "<what>: ..." for parameters out of range; needs_h: the checks of the
// Hessian-based loop too (act_order, damp, block).
llmc_status validate_obs(const llmc_obs_params* p, const char* what, bool needs_h, ObsConfig* c);

}  // namespace llmc
