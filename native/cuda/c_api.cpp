// c_api.cpp — the llmc_cuda_* entry points of the C API (llmc.h) in a build with CUDA: each forwards
// to the op family that implements it (cuda_backend.h). Plain C++, compiled into llmc_cuda; a build
// without CUDA compiles no_cuda.cpp in its place.
#include <cstring>

#include "cuda_backend.h"
#include "llmc.h"
#include "status.h"

extern "C" void llmc_cuda_query(llmc_cuda_info* info) {
  std::memset(info, 0, sizeof *info);
  llmc::cuda::query(info);
}

extern "C" llmc_status llmc_cuda_selftest(void) {
  llmc_cuda_info info;
  llmc_cuda_query(&info);
  if (info.device_count == 0) return llmc::fail(LLMC_UNSUPPORTED, "no usable CUDA device: %s", info.error);
  return llmc::cuda::selftest();
}

extern "C" llmc_status llmc_cuda_upload_q4(const llmc_q4_weights* w, llmc_cuda_weights** out) {
  return llmc::cuda::api_upload_q4(w, out);
}
extern "C" llmc_status llmc_cuda_upload_q8(const llmc_q8_weights* w, llmc_cuda_weights** out) {
  return llmc::cuda::api_upload_q8(w, out);
}
extern "C" llmc_status llmc_cuda_upload_s24(const llmc_s24_weights* w, llmc_cuda_weights** out) {
  return llmc::cuda::api_upload_s24(w, out);
}
extern "C" llmc_status llmc_cuda_upload_f16(int64_t n, int64_t k, const float* w, llmc_cuda_weights** out) {
  return llmc::cuda::api_upload_f16(n, k, w, out);
}

extern "C" void llmc_cuda_weights_free(llmc_cuda_weights* w) { llmc::cuda::api_weights_free(w); }

extern "C" void llmc_cuda_weights_describe(const llmc_cuda_weights* w, llmc_cuda_weights_info* info) {
  std::memset(info, 0, sizeof *info);
  llmc::cuda::api_weights_describe(w, info);
}

extern "C" llmc_status llmc_cuda_matmul(const llmc_cuda_weights* w, int64_t m, const float* x, int64_t ldx, float* y,
                                        int64_t ldy) {
  return llmc::cuda::api_matmul(w, m, x, ldx, y, ldy);
}
extern "C" llmc_status llmc_cuda_matmul_bench(const llmc_cuda_weights* w, int64_t m, int iters, double* ms) {
  return llmc::cuda::api_matmul_bench(w, m, iters, ms);
}
extern "C" llmc_status llmc_cuda_hessian_update(float* h, int64_t d, int64_t seen, const float* x, int64_t tokens,
                                                int64_t ldx) {
  return llmc::cuda::api_hessian_update(h, d, seen, x, tokens, ldx);
}
extern "C" llmc_status llmc_cuda_obs_compress(const llmc_obs_params* p, const float* w, const float* h,
                                              llmc_obs_result* out) {
  return llmc::cuda::api_obs_compress(p, w, h, out);
}
