// cuda_api.cpp — the CUDA entry points of the C API. They forward to native/cuda/ when this binary
// was built with CUDA (LLMC_WITH_CUDA) and otherwise fail with LLMC_UNSUPPORTED saying so.
#include <cstdio>
#include <cstring>

#include "llmc.h"
#include "status.h"

#if defined(LLMC_WITH_CUDA)
#include "../cuda/cuda_backend.h"
#define LLMC_CUDA_CALL(call) return llmc::cuda::call
#else
// Without CUDA every entry point fails the same way and ignores its arguments.
#if defined(__GNUC__)
#pragma GCC diagnostic ignored "-Wunused-parameter"
#endif
#define LLMC_CUDA_CALL(call) return llmc::fail(LLMC_UNSUPPORTED, "this binary was built without CUDA")
#endif

extern "C" void llmc_cuda_query(llmc_cuda_info* info) {
  std::memset(info, 0, sizeof *info);
#if defined(LLMC_WITH_CUDA)
  llmc::cuda::query(info);
#else
  std::snprintf(info->error, sizeof info->error, "this binary was built without CUDA");
#endif
}

extern "C" llmc_status llmc_cuda_selftest(void) {
#if defined(LLMC_WITH_CUDA)
  llmc_cuda_info info;
  llmc_cuda_query(&info);
  if (info.device_count == 0) return llmc::fail(LLMC_UNSUPPORTED, "no usable CUDA device: %s", info.error);
  return llmc::cuda::selftest();
#else
  return llmc::fail(LLMC_UNSUPPORTED, "this binary was built without CUDA");
#endif
}

extern "C" llmc_status llmc_cuda_upload_q4(const llmc_q4_weights* w, llmc_cuda_weights** out) {
  LLMC_CUDA_CALL(api_upload_q4(w, out));
}
extern "C" llmc_status llmc_cuda_upload_q8(const llmc_q8_weights* w, llmc_cuda_weights** out) {
  LLMC_CUDA_CALL(api_upload_q8(w, out));
}
extern "C" llmc_status llmc_cuda_upload_s24(const llmc_s24_weights* w, llmc_cuda_weights** out) {
  LLMC_CUDA_CALL(api_upload_s24(w, out));
}
extern "C" llmc_status llmc_cuda_upload_f16(int64_t n, int64_t k, const float* w, llmc_cuda_weights** out) {
  LLMC_CUDA_CALL(api_upload_f16(n, k, w, out));
}

extern "C" void llmc_cuda_weights_free(llmc_cuda_weights* w) {
#if defined(LLMC_WITH_CUDA)
  llmc::cuda::api_weights_free(w);
#else
  (void)w;  // never created without CUDA
#endif
}

extern "C" void llmc_cuda_weights_describe(const llmc_cuda_weights* w, llmc_cuda_weights_info* info) {
  std::memset(info, 0, sizeof *info);
#if defined(LLMC_WITH_CUDA)
  llmc::cuda::api_weights_describe(w, info);
#else
  (void)w;
#endif
}

extern "C" llmc_status llmc_cuda_matmul(const llmc_cuda_weights* w, int64_t m, const float* x, int64_t ldx, float* y,
                                        int64_t ldy) {
  LLMC_CUDA_CALL(api_matmul(w, m, x, ldx, y, ldy));
}
extern "C" llmc_status llmc_cuda_matmul_bench(const llmc_cuda_weights* w, int64_t m, int iters, double* ms) {
  LLMC_CUDA_CALL(api_matmul_bench(w, m, iters, ms));
}
extern "C" llmc_status llmc_cuda_hessian_update(float* h, int64_t d, int64_t seen, const float* x, int64_t tokens,
                                                int64_t ldx) {
  LLMC_CUDA_CALL(api_hessian_update(h, d, seen, x, tokens, ldx));
}
extern "C" llmc_status llmc_cuda_obs_compress(const llmc_obs_params* p, const float* w, const float* h,
                                              llmc_obs_result* out) {
  LLMC_CUDA_CALL(api_obs_compress(p, w, h, out));
}
