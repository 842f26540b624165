// common.cuh — what every CUDA op family shares: error returns, device memory with typed
// out-of-memory errors, the lock that serializes the CUDA entry points, and the activation
// conversions (f32 → f16; f32 → int8 per row as the CPU A8 kernels quantize).
#pragma once

#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>
#include <mutex>

#include "llmc.h"
#include "status.h"

namespace llmc {
namespace cuda {

// LLMC_CUDA_ERROR "<what> failed: <name> (<text>)".
llmc_status fail_cuda(cudaError_t err, const char* what);

#define LLMC_CUDA_TRY(expr, what)                                                  \
  do {                                                                             \
    const cudaError_t llmc_err_ = (expr);                                          \
    if (llmc_err_ != cudaSuccess) return ::llmc::cuda::fail_cuda(llmc_err_, what); \
  } while (0)

#define LLMC_TRY(expr)                        \
  do {                                        \
    const llmc_status llmc_st_ = (expr);      \
    if (llmc_st_ != LLMC_OK) return llmc_st_; \
  } while (0)

// LLMC_UNSUPPORTED unless a device is usable; selects device 0.
llmc_status require_device();

// One lock for every entry point: the kernels share one stream and the scratch buffers below.
std::mutex& api_lock();

// cudaMalloc that fails with LLMC_OUT_OF_MEMORY "<what>: needed N MiB of device memory, M MiB free
// of T MiB".
llmc_status device_alloc(void** ptr, size_t bytes, const char* what);

// The stream every kernel runs on.
cudaStream_t stream();

// Device memory owned by one object, freed by its destructor.
template <class T>
class DeviceArray {
 public:
  DeviceArray() = default;
  DeviceArray(const DeviceArray&) = delete;
  DeviceArray& operator=(const DeviceArray&) = delete;
  ~DeviceArray() { cudaFree(ptr_); }

  llmc_status alloc(size_t count, const char* what) {
    cudaFree(ptr_);
    ptr_ = nullptr;
    count_ = 0;
    void* p = nullptr;
    LLMC_TRY(device_alloc(&p, count * sizeof(T) + (count == 0), what));
    ptr_ = static_cast<T*>(p);
    count_ = count;
    return LLMC_OK;
  }
  // alloc + copy from host, complete when it returns. The copy goes on stream() and is waited for:
  // a plain cudaMemcpy from pageable memory may return before its DMA lands, and the kernels'
  // non-blocking stream does not wait for the legacy stream.
  llmc_status upload(const T* host, size_t count, const char* what) {
    LLMC_TRY(alloc(count, what));
    LLMC_CUDA_TRY(cudaMemcpyAsync(ptr_, host, count * sizeof(T), cudaMemcpyHostToDevice, stream()), what);
    LLMC_CUDA_TRY(cudaStreamSynchronize(stream()), what);
    return LLMC_OK;
  }
  T* get() const { return ptr_; }
  size_t count() const { return count_; }
  size_t bytes() const { return count_ * sizeof(T); }

 private:
  T* ptr_ = nullptr;
  size_t count_ = 0;
};

// Scratch memory reused across calls (grown on demand, never shrunk); slot names one use at a time.
// Callers hold api_lock().
enum ScratchSlot { kScratchX = 0, kScratchXq, kScratchXs, kScratchY, kScratchA, kScratchB, kScratchC, kScratchSlots };
llmc_status scratch(ScratchSlot slot, size_t bytes, void** ptr);

// out[i] = f16(x[i]) (round to nearest even) for i < count (device arrays).
void to_f16(const float* x, int64_t count, __half* out, cudaStream_t s);

// x f32 [m × k] (row stride ldx, device) → codes q [m_pad × k] (row stride k, rows m .. m_pad zero)
// in [-127, 127] and scale [m_pad]: scale = max|x| / 127, q = round-half-even(x · 127 / max|x|),
// computed in f32 exactly as the CPU A8 kernels do; a row holding NaN or ±Inf gets a NaN scale.
void quantize_rows_i8(const float* x, int64_t ldx, int64_t m, int64_t m_pad, int64_t k, int8_t* q, float* scale,
                      cudaStream_t s);

inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

}  // namespace cuda
}  // namespace llmc
