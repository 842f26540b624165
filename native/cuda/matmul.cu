// matmul.cu — the matmul entry points over every kind of device weights (weights.h): upload, free,
// describe, y = x · Wᵀ with host arrays, and the kernel timing of the benchmarks.
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <vector>

#include "cuda_backend.h"
#include "weights.h"

namespace llmc {
namespace cuda {

namespace {

template <class Upload>
llmc_status locked_upload(llmc_cuda_weights** out, Upload upload) {
  if (out == nullptr) return llmc::fail(LLMC_INVALID_ARGUMENT, "out must not be NULL");
  *out = nullptr;
  std::lock_guard<std::mutex> lock(api_lock());
  LLMC_TRY(require_device());
  return upload(out);
}

__global__ void uniform_kernel(float* x, int64_t count, uint32_t seed) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < count;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    uint32_t h = static_cast<uint32_t>(i) * 2654435761u ^ seed;  // a hash is random enough for a benchmark
    h ^= h >> 16, h *= 0x85ebca6bu, h ^= h >> 13, h *= 0xc2b2ae35u, h ^= h >> 16;
    x[i] = static_cast<float>(h >> 8) * (2.0f / 16777216.0f) - 1.0f;
  }
}

}  // namespace

llmc_status api_upload_q4(const llmc_q4_weights* w, llmc_cuda_weights** out) {
  return locked_upload(out, [&](llmc_cuda_weights** o) { return upload_q4(w, o); });
}
llmc_status api_upload_q8(const llmc_q8_weights* w, llmc_cuda_weights** out) {
  return locked_upload(out, [&](llmc_cuda_weights** o) { return upload_q8(w, o); });
}
llmc_status api_upload_s24(const llmc_s24_weights* w, llmc_cuda_weights** out) {
  return locked_upload(out, [&](llmc_cuda_weights** o) { return upload_s24(w, o); });
}
llmc_status api_upload_f16(int64_t n, int64_t k, const float* w, llmc_cuda_weights** out) {
  return locked_upload(out, [&](llmc_cuda_weights** o) { return upload_f16(n, k, w, o); });
}

void api_weights_free(llmc_cuda_weights* w) {
  std::lock_guard<std::mutex> lock(api_lock());
  delete w;
}

void api_weights_describe(const llmc_cuda_weights* w, llmc_cuda_weights_info* info) {
  std::memset(info, 0, sizeof *info);
  if (w == nullptr) return;
  info->n = w->n;
  info->k = w->k;
  info->device_bytes = w->device_bytes();
  std::snprintf(info->kernel, sizeof info->kernel, "%s", w->kernel());
}

llmc_status api_matmul(const llmc_cuda_weights* w, int64_t m, const float* x, int64_t ldx, float* y, int64_t ldy) {
  if (w == nullptr || x == nullptr || y == nullptr)
    return llmc::fail(LLMC_INVALID_ARGUMENT, "w, x and y must not be NULL");
  if (m < 1 || ldx < w->k || ldy < w->n)
    return llmc::fail(LLMC_INVALID_ARGUMENT,
                      "need m >= 1, ldx >= k (%lld), ldy >= n (%lld); got m %lld, ldx %lld, ldy %lld",
                      static_cast<long long>(w->k), static_cast<long long>(w->n), static_cast<long long>(m),
                      static_cast<long long>(ldx), static_cast<long long>(ldy));
  std::lock_guard<std::mutex> lock(api_lock());
  LLMC_TRY(require_device());
  const cudaStream_t s = stream();
  void *dx = nullptr, *dy = nullptr;
  LLMC_TRY(scratch(kScratchX, static_cast<size_t>(m * w->k) * sizeof(float), &dx));
  LLMC_TRY(scratch(kScratchY, static_cast<size_t>(m * w->n) * sizeof(float), &dy));
  LLMC_CUDA_TRY(cudaMemcpy2DAsync(dx, w->k * sizeof(float), x, ldx * sizeof(float), w->k * sizeof(float), m,
                                  cudaMemcpyHostToDevice, s),
                "copying x to the device");
  LLMC_TRY(w->run(m, static_cast<const float*>(dx), static_cast<float*>(dy), s));
  LLMC_CUDA_TRY(cudaGetLastError(), w->kernel());
  LLMC_CUDA_TRY(cudaMemcpy2DAsync(y, ldy * sizeof(float), dy, w->n * sizeof(float), w->n * sizeof(float), m,
                                  cudaMemcpyDeviceToHost, s),
                "copying y from the device");
  LLMC_CUDA_TRY(cudaStreamSynchronize(s), w->kernel());
  return LLMC_OK;
}

llmc_status api_matmul_bench(const llmc_cuda_weights* w, int64_t m, int iters, double* ms) {
  if (w == nullptr || ms == nullptr) return llmc::fail(LLMC_INVALID_ARGUMENT, "w and ms must not be NULL");
  if (m < 1 || iters < 1) return llmc::fail(LLMC_INVALID_ARGUMENT, "need m >= 1 and iters >= 1");
  std::lock_guard<std::mutex> lock(api_lock());
  LLMC_TRY(require_device());
  const cudaStream_t s = stream();
  void *dx = nullptr, *dy = nullptr;
  LLMC_TRY(scratch(kScratchX, static_cast<size_t>(m * w->k) * sizeof(float), &dx));
  LLMC_TRY(scratch(kScratchY, static_cast<size_t>(m * w->n) * sizeof(float), &dy));
  uniform_kernel<<<1024, 256, 0, s>>>(static_cast<float*>(dx), m * w->k, 12345u);
  LLMC_CUDA_TRY(cudaGetLastError(), "filling the benchmark activations");
  cudaEvent_t start = nullptr, stop = nullptr;
  LLMC_CUDA_TRY(cudaEventCreate(&start), "cudaEventCreate");
  cudaError_t err = cudaEventCreate(&stop);
  llmc_status st = LLMC_OK;
  for (int i = -1; err == cudaSuccess && st == LLMC_OK && i < iters; ++i) {  // i = -1: warm-up
    err = cudaEventRecord(start, s);
    if (err != cudaSuccess) break;
    st = w->run(m, static_cast<const float*>(dx), static_cast<float*>(dy), s);
    if (st != LLMC_OK) break;
    err = cudaGetLastError();
    if (err == cudaSuccess) err = cudaEventRecord(stop, s);
    if (err == cudaSuccess) err = cudaEventSynchronize(stop);
    float t = 0.0f;
    if (err == cudaSuccess) err = cudaEventElapsedTime(&t, start, stop);
    if (i >= 0) ms[i] = t;
  }
  cudaEventDestroy(start);
  if (stop) cudaEventDestroy(stop);
  if (st != LLMC_OK) return st;
  if (err != cudaSuccess) return fail_cuda(err, w->kernel());
  return LLMC_OK;
}

}  // namespace cuda
}  // namespace llmc
