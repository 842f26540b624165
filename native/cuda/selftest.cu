// selftest.cu — device query and a self-test kernel: proves that the CUDA build is compiled,
// linked (runtime linked statically) and, on a machine with a GPU, that kernels load and run.
// The real kernels (W4A16, W8A8, 2:4 mma.sp, GPTQ loop) live in files of their own beside this one.
#include <cuda_runtime.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <vector>

#include "cuda_backend.h"
#include "status.h"

namespace {

// y[i] = a * x[i] + y[i]: one thread per element.
__global__ void saxpy_kernel(int n, float a, const float* __restrict__ x, float* __restrict__ y) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) y[i] = a * x[i] + y[i];
}

llmc_status cuda_fail(cudaError_t err, const char* what) {
  return llmc::fail(LLMC_CUDA_ERROR, "%s failed: %s (%s)", what, cudaGetErrorName(err), cudaGetErrorString(err));
}

}  // namespace

namespace llmc {
namespace cuda {

void query(llmc_cuda_info* info) {
  info->compiled = 1;
  cudaRuntimeGetVersion(&info->runtime_version);
  cudaDriverGetVersion(&info->driver_version);
  if (info->driver_version == 0) {
    std::snprintf(info->error, sizeof info->error, "no NVIDIA driver found");
    return;
  }
  int count = 0;
  const cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess) {
    std::snprintf(info->error, sizeof info->error, "cudaGetDeviceCount: %s", cudaGetErrorString(err));
    return;
  }
  info->device_count = count;
  if (count == 0) {
    std::snprintf(info->error, sizeof info->error, "no CUDA device");
    return;
  }
  cudaDeviceProp prop;
  if (cudaGetDeviceProperties(&prop, 0) == cudaSuccess) {
    std::snprintf(info->device_name, sizeof info->device_name, "%s", prop.name);
    info->cc_major = prop.major;
    info->cc_minor = prop.minor;
    info->total_memory = prop.totalGlobalMem;
  }
}

llmc_status selftest() {
  const int n = 1000;
  std::vector<float> x(n), y(n);
  for (int i = 0; i < n; ++i) {
    x[i] = 0.5f * static_cast<float>(i);
    y[i] = 1.0f - static_cast<float>(i);
  }
  float *dx = nullptr, *dy = nullptr;
  cudaError_t err = cudaMalloc(&dx, n * sizeof(float));
  if (err != cudaSuccess) return cuda_fail(err, "cudaMalloc");
  err = cudaMalloc(&dy, n * sizeof(float));
  if (err == cudaSuccess) err = cudaMemcpy(dx, x.data(), n * sizeof(float), cudaMemcpyHostToDevice);
  if (err == cudaSuccess) err = cudaMemcpy(dy, y.data(), n * sizeof(float), cudaMemcpyHostToDevice);
  if (err == cudaSuccess) {
    saxpy_kernel<<<(n + 255) / 256, 256>>>(n, 2.0f, dx, dy);
    err = cudaGetLastError();
  }
  if (err == cudaSuccess) err = cudaMemcpy(y.data(), dy, n * sizeof(float), cudaMemcpyDeviceToHost);
  cudaFree(dx);
  cudaFree(dy);
  if (err != cudaSuccess) return cuda_fail(err, "self-test kernel");
  for (int i = 0; i < n; ++i) {
    const float want = 2.0f * (0.5f * static_cast<float>(i)) + (1.0f - static_cast<float>(i));
    if (std::fabs(y[i] - want) > 1e-5f)
      return llmc::fail(LLMC_CUDA_ERROR, "self-test kernel gave y[%d] = %g, expected %g", i, y[i], want);
  }
  return LLMC_OK;
}

}  // namespace cuda
}  // namespace llmc
