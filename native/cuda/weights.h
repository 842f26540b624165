// weights.h — the device weights behind the opaque llmc_cuda_weights handle: one subclass per kernel
// (gemm_q.cu: w4a16, w8a8, f16; sparse24.cu: sparse24_f16, sparse24_w8a8), each holding its packed
// arrays in device memory (DeviceArray) and launching its kernel on device activations.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "common.cuh"

struct llmc_cuda_weights {
  int64_t n = 0, k = 0;
  virtual ~llmc_cuda_weights() = default;
  // y [m × n] (row stride n, device f32) = x [m × k] (row stride k, device f32) · Wᵀ, on stream s.
  // May use the scratch slots of common.cuh except kScratchX and kScratchY (the caller's).
  virtual llmc_status run(int64_t m, const float* x, float* y, cudaStream_t s) const = 0;
  virtual int64_t device_bytes() const = 0;
  virtual const char* kernel() const = 0;
};

namespace llmc {
namespace cuda {

// The factories of the op families (their files); each validates its input on the host.
llmc_status upload_q4(const llmc_q4_weights* w, llmc_cuda_weights** out);
llmc_status upload_q8(const llmc_q8_weights* w, llmc_cuda_weights** out);
llmc_status upload_f16(int64_t n, int64_t k, const float* w, llmc_cuda_weights** out);
llmc_status upload_s24(const llmc_s24_weights* w, llmc_cuda_weights** out);

}  // namespace cuda
}  // namespace llmc
