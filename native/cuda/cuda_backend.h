// cuda_backend.h — what the CUDA translation units export to c_api.cpp (plain C++, no CUDA types),
// which forwards the llmc_cuda_* entry points of llmc.h here; these functions check for a device
// and take the lock themselves.
#pragma once

#include "llmc.h"

namespace llmc {
namespace cuda {

void query(llmc_cuda_info* info);
llmc_status selftest();

// matmul.cu
llmc_status api_upload_q4(const llmc_q4_weights* w, llmc_cuda_weights** out);
llmc_status api_upload_q8(const llmc_q8_weights* w, llmc_cuda_weights** out);
llmc_status api_upload_s24(const llmc_s24_weights* w, llmc_cuda_weights** out);
llmc_status api_upload_f16(int64_t n, int64_t k, const float* w, llmc_cuda_weights** out);
void api_weights_free(llmc_cuda_weights* w);
void api_weights_describe(const llmc_cuda_weights* w, llmc_cuda_weights_info* info);
llmc_status api_matmul(const llmc_cuda_weights* w, int64_t m, const float* x, int64_t ldx, float* y, int64_t ldy);
llmc_status api_matmul_bench(const llmc_cuda_weights* w, int64_t m, int iters, double* ms);

// hessian.cu, gptq.cu
llmc_status api_hessian_update(float* h, int64_t d, int64_t seen, const float* x, int64_t tokens, int64_t ldx);
llmc_status api_obs_compress(const llmc_obs_params* p, const float* w, const float* h, llmc_obs_result* out);

}  // namespace cuda
}  // namespace llmc
