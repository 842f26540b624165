// common.cu — the shared pieces declared in common.cuh.
#include "common.cuh"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace llmc {
namespace cuda {

llmc_status fail_cuda(cudaError_t err, const char* what) {
  if (err == cudaErrorMemoryAllocation)
    return llmc::fail(LLMC_OUT_OF_MEMORY, "%s: out of device memory (%s)", what, cudaGetErrorString(err));
  return llmc::fail(LLMC_CUDA_ERROR, "%s failed: %s (%s)", what, cudaGetErrorName(err), cudaGetErrorString(err));
}

llmc_status require_device() {
  int driver = 0;
  cudaDriverGetVersion(&driver);
  if (driver == 0) return llmc::fail(LLMC_UNSUPPORTED, "no usable CUDA device: no NVIDIA driver found");
  int count = 0;
  const cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess) return llmc::fail(LLMC_UNSUPPORTED, "no usable CUDA device: %s", cudaGetErrorString(err));
  if (count == 0) return llmc::fail(LLMC_UNSUPPORTED, "no usable CUDA device: none found");
  LLMC_CUDA_TRY(cudaSetDevice(0), "cudaSetDevice(0)");
  return LLMC_OK;
}

std::mutex& api_lock() {
  static std::mutex m;
  return m;
}

llmc_status device_alloc(void** ptr, size_t bytes, const char* what) {
  *ptr = nullptr;
  const cudaError_t err = cudaMalloc(ptr, bytes);
  if (err == cudaSuccess) return LLMC_OK;
  cudaGetLastError();  // clear the sticky-free allocation error
  size_t free_b = 0, total_b = 0;
  cudaMemGetInfo(&free_b, &total_b);
  if (err == cudaErrorMemoryAllocation)
    return llmc::fail(LLMC_OUT_OF_MEMORY, "%s: needed %.1f MiB of device memory, %.1f MiB free of %.1f MiB", what,
                      bytes / 1048576.0, free_b / 1048576.0, total_b / 1048576.0);
  return fail_cuda(err, what);
}

llmc_status scratch(ScratchSlot slot, size_t bytes, void** ptr) {
  static void* buf[kScratchSlots] = {};
  static size_t cap[kScratchSlots] = {};
  if (bytes > cap[slot]) {
    cudaFree(buf[slot]);
    buf[slot] = nullptr;
    cap[slot] = 0;
    const size_t want = bytes + bytes / 4;  // headroom: growing by small steps would reallocate often
    LLMC_TRY(device_alloc(&buf[slot], want, "scratch buffer"));
    cap[slot] = want;
  }
  *ptr = buf[slot];
  return LLMC_OK;
}

cudaStream_t stream() {
  static cudaStream_t s = [] {
    cudaStream_t created = nullptr;
    if (cudaStreamCreateWithFlags(&created, cudaStreamNonBlocking) != cudaSuccess) created = nullptr;
    return created;
  }();
  return s;
}

namespace {

__global__ void to_f16_kernel(const float* __restrict__ x, int64_t count, __half* __restrict__ out) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < count;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)
    out[i] = __float2half_rn(x[i]);
}

// One block per row: max |x| (NaN and ±Inf poison the row), then the codes.
__global__ void quantize_rows_kernel(const float* __restrict__ x, int64_t ldx, int64_t m, int64_t k,
                                     int8_t* __restrict__ q, float* __restrict__ scale) {
  const int64_t row = blockIdx.x;
  __shared__ float red_max[32];
  __shared__ int red_bad[32];
  if (row >= m) {
    for (int64_t p = threadIdx.x; p < k; p += blockDim.x) q[row * k + p] = 0;
    if (threadIdx.x == 0) scale[row] = 0.0f;
    return;
  }
  const float* xr = x + row * ldx;
  float amax = 0.0f;
  int bad = 0;
  for (int64_t p = threadIdx.x; p < k; p += blockDim.x) {
    const float v = xr[p];
    bad |= !isfinite(v);
    amax = fmaxf(amax, fabsf(v));
  }
  for (int off = 16; off > 0; off >>= 1) {
    amax = fmaxf(amax, __shfl_xor_sync(0xffffffffu, amax, off));
    bad |= __shfl_xor_sync(0xffffffffu, bad, off);
  }
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, warps = blockDim.x / 32;
  if (lane == 0) red_max[warp] = amax, red_bad[warp] = bad;
  __syncthreads();
  if (threadIdx.x == 0) {
    for (int w = 1; w < warps; ++w) red_max[0] = fmaxf(red_max[0], red_max[w]), red_bad[0] |= red_bad[w];
  }
  __syncthreads();
  amax = red_max[0];
  bad = red_bad[0];
  const float inv = amax > 0.0f ? 127.0f / amax : 0.0f;
  for (int64_t p = threadIdx.x; p < k; p += blockDim.x) {
    const float r = rintf(__fmul_rn(xr[p], inv));  // rint: round half to even, as nearbyint on the CPU
    q[row * k + p] = bad ? 0 : static_cast<int8_t>(fmaxf(-127.0f, fminf(127.0f, r)));
  }
  if (threadIdx.x == 0) scale[row] = bad ? NAN : __fdiv_rn(amax, 127.0f);
}

}  // namespace

void to_f16(const float* x, int64_t count, __half* out, cudaStream_t s) {
  const int threads = 256;
  to_f16_kernel<<<static_cast<unsigned>(std::min<int64_t>(ceil_div(count, threads), 4096)), threads, 0, s>>>(x, count,
                                                                                                             out);
}

void quantize_rows_i8(const float* x, int64_t ldx, int64_t m, int64_t m_pad, int64_t k, int8_t* q, float* scale,
                      cudaStream_t s) {
  quantize_rows_kernel<<<static_cast<unsigned>(m_pad), 256, 0, s>>>(x, ldx, m, k, q, scale);
}

}  // namespace cuda
}  // namespace llmc
