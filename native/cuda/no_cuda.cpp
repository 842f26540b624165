// no_cuda.cpp — the llmc_cuda_* entry points of the C API (llmc.h) in a build without CUDA
// (CMake's LLMC_CUDA=OFF, node-gyp): llmc_cuda_query reports that this binary was built without
// CUDA and every other entry point fails with LLMC_UNSUPPORTED saying so. Plain C++; a build with
// CUDA compiles c_api.cpp in its place.
#include <cstdio>
#include <cstring>

#include "llmc.h"
#include "status.h"

// Every entry point fails the same way and ignores its arguments.
#if defined(__GNUC__)
#pragma GCC diagnostic ignored "-Wunused-parameter"
#endif

namespace {
llmc_status no_cuda() { return llmc::fail(LLMC_UNSUPPORTED, "this binary was built without CUDA"); }
}  // namespace

extern "C" void llmc_cuda_query(llmc_cuda_info* info) {
  std::memset(info, 0, sizeof *info);
  std::snprintf(info->error, sizeof info->error, "this binary was built without CUDA");
}

extern "C" llmc_status llmc_cuda_selftest(void) { return no_cuda(); }

extern "C" llmc_status llmc_cuda_upload_q4(const llmc_q4_weights* w, llmc_cuda_weights** out) { return no_cuda(); }
extern "C" llmc_status llmc_cuda_upload_q8(const llmc_q8_weights* w, llmc_cuda_weights** out) { return no_cuda(); }
extern "C" llmc_status llmc_cuda_upload_s24(const llmc_s24_weights* w, llmc_cuda_weights** out) { return no_cuda(); }
extern "C" llmc_status llmc_cuda_upload_f16(int64_t n, int64_t k, const float* w, llmc_cuda_weights** out) {
  return no_cuda();
}

extern "C" void llmc_cuda_weights_free(llmc_cuda_weights* w) {}  // never created without CUDA

extern "C" void llmc_cuda_weights_describe(const llmc_cuda_weights* w, llmc_cuda_weights_info* info) {
  std::memset(info, 0, sizeof *info);
}

extern "C" llmc_status llmc_cuda_matmul(const llmc_cuda_weights* w, int64_t m, const float* x, int64_t ldx, float* y,
                                        int64_t ldy) {
  return no_cuda();
}
extern "C" llmc_status llmc_cuda_matmul_bench(const llmc_cuda_weights* w, int64_t m, int iters, double* ms) {
  return no_cuda();
}
extern "C" llmc_status llmc_cuda_hessian_update(float* h, int64_t d, int64_t seen, const float* x, int64_t tokens,
                                                int64_t ldx) {
  return no_cuda();
}
extern "C" llmc_status llmc_cuda_obs_compress(const llmc_obs_params* p, const float* w, const float* h,
                                              llmc_obs_result* out) {
  return no_cuda();
}
