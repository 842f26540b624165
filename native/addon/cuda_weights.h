// cuda_weights.h — device weights (llmc_cuda_weights) seen from JS: an External holding a
// CudaHandle. The handle is freed by cudaWeightsFree (the JS dispose()) or, failing that, by the
// garbage collector's finalizer. quant.cpp and sparse24.cpp upload through start_upload; cuda.cpp
// holds the rest (matmul, bench, info, free, f16 upload).
#pragma once

#include <napi.h>

#include <atomic>
#include <functional>
#include <vector>

#include "llmc.h"

namespace llmc_addon {

struct CudaHandle {
  llmc_cuda_weights* w = nullptr;
  // Jobs (matmul, bench) in flight, counted down on their worker thread when the work ends: free
  // refuses while it is not 0 (lib/kernels/cuda.ts never frees while a call runs; this is a guard).
  std::atomic<int> busy{0};
  ~CudaHandle() { llmc_cuda_weights_free(w); }
};

// Runs `upload` on a job; resolves to an External<CudaHandle> owning the weights.
Napi::Promise start_upload(Napi::Env env, std::vector<Napi::Value> keep,
                           std::function<llmc_status(llmc_cuda_weights**)> upload);

}  // namespace llmc_addon
