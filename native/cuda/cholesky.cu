// cholesky.cu — the upper Cholesky factor of H⁻¹ on the device, as linalg::inverse_upper_cholesky
// (native/core/linalg.cpp) computes it on the CPU: with P the reversal permutation,
//   P·H·P = L·Lᵀ  ⇒  U = P·L⁻¹·P is upper triangular and Uᵀ·U = H⁻¹.
//
// Layout: H [n × n] row-major (device). work [n × n] receives P·H·P (the n² elements in reverse
// order), is factored and inverted in place, and goes back reversed into H as U; H's buffer is the
// scratch of the inversion meanwhile.
//
// The recursion (obs_rows.h: cholesky_lower, trsm_right_lower_t, syrk_lower_sub, invert_lower)
// halves the matrix down to leaves of at most 64 columns; everything above the leaves is the tiled
// fp32 GEMM of hessian.cu, the leaves run in double precision:
//   chol_leaf    one block of 64 threads: column j's pivot by thread 0, then rows i > j in parallel,
//                the leaf in shared memory (double [64][65])
//   trsm_leaf    one thread per row of B, forward substitution in double, L's leaf in shared memory
//   invert_leaf  one thread per column of L⁻¹, substitution in double, L's leaf in shared memory
// A pivot that is not positive is recorded (atomicMin of its column + 1, in reversed numbering);
// the recursion runs on without a host round trip and the flag is read once at the end.
#include <algorithm>
#include <cstdio>

#include "common.cuh"
#include "cuda_backend.h"
#include "obs_rows.h"

namespace llmc {
namespace cuda {

namespace {

using obs::kLeaf;

constexpr unsigned long long kNoFailure = ~0ull;

__global__ void chol_leaf_kernel(float* a, int n, int64_t lda, int64_t col0, unsigned long long* failed) {
  __shared__ double l[kLeaf][kLeaf + 1];
  __shared__ double pivot;
  __shared__ int bad;
  const int t = threadIdx.x;
  for (int j = 0; j < n; ++j) {
    if (t == 0) {
      const double s = obs::dot_sub(a[j * lda + j], l[j], l[j], j);
      bad = !obs::pivot_ok(s);
      if (bad) {
        atomicMin(failed, static_cast<unsigned long long>(col0 + j + 1));
      } else {
        pivot = sqrt(s);
        l[j][j] = pivot;
      }
    }
    __syncthreads();
    if (bad) return;
    if (t > j && t < n) l[t][j] = obs::dot_sub(a[t * lda + j], l[t], l[j], j) / pivot;
    __syncthreads();
  }
  if (t < n)
    for (int jj = 0; jj <= t; ++jj) a[t * lda + jj] = static_cast<float>(l[t][jj]);
}

// Loads the n × n leaf at l (row stride ldl) into s.
__device__ void load_leaf(const float* l, int n, int64_t ldl, float (*s)[kLeaf]) {
  for (int e = threadIdx.x; e < n * n; e += blockDim.x) s[e / n][e % n] = l[(e / n) * ldl + e % n];
  __syncthreads();
}

__global__ void trsm_leaf_kernel(const float* l, int n, int64_t ldl, float* b, int64_t m, int64_t ldb) {
  __shared__ float ls[kLeaf][kLeaf];
  load_leaf(l, n, ldl, ls);
  const int64_t r = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (r >= m) return;
  float* br = b + r * ldb;
  double x[kLeaf];
  for (int j = 0; j < n; ++j) x[j] = obs::trsm_entry(br[j], x, ls[j], j);
  for (int j = 0; j < n; ++j) br[j] = static_cast<float>(x[j]);
}

__global__ void invert_leaf_kernel(float* a, int n, int64_t lda) {
  __shared__ float ls[kLeaf][kLeaf];
  load_leaf(a, n, lda, ls);
  const int j = threadIdx.x;
  if (j >= n) return;
  double x[kLeaf];
  x[j] = obs::inverse_diag(ls[j][j]);
  for (int i = j + 1; i < n; ++i) x[i] = obs::inverse_entry(ls[i], x, j, i);
  for (int i = 0; i < n; ++i) a[i * lda + j] = i >= j ? static_cast<float>(x[i]) : 0.0f;
}

__global__ void zero_upper_kernel(float* a, int64_t n, int64_t lda) {
  for (int64_t t = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; t < n * n;
       t += static_cast<int64_t>(gridDim.x) * blockDim.x)
    if (t % n > t / n) a[(t / n) * lda + t % n] = 0.0f;
}

// out[t] = in[count − 1 − t].
__global__ void reverse_kernel(const float* __restrict__ in, float* __restrict__ out, int64_t count) {
  for (int64_t t = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; t < count;
       t += static_cast<int64_t>(gridDim.x) * blockDim.x)
    out[t] = in[count - 1 - t];
}

// The executor of the recursion in obs_rows.h: kernel launches on stream().
struct DeviceOps {
  unsigned long long* failed;
  cudaStream_t s;

  void chol_leaf(float* a, int64_t n, int64_t lda, int64_t col0) {
    chol_leaf_kernel<<<1, kLeaf, 0, s>>>(a, static_cast<int>(n), lda, col0, failed);
  }
  void trsm_leaf(const float* l, int64_t n, int64_t ldl, float* b, int64_t m, int64_t ldb) {
    if (m > 0)
      trsm_leaf_kernel<<<static_cast<unsigned>(ceil_div(m, 128)), 128, 0, s>>>(l, static_cast<int>(n), ldl, b, m, ldb);
  }
  void invert_leaf(float* a, int64_t n, int64_t lda) {
    invert_leaf_kernel<<<1, kLeaf, 0, s>>>(a, static_cast<int>(n), lda);
  }
  void zero_upper(float* a, int64_t n, int64_t lda) {
    zero_upper_kernel<<<static_cast<unsigned>(std::min<int64_t>(ceil_div(n * n, 256), 4096)), 256, 0, s>>>(a, n, lda);
  }
  void gemm(bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda, const float* b,
            int64_t ldb, float beta, float* c, int64_t ldc) {
    sgemm(tb ? GemmOp::kNT : GemmOp::kNN, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, false);
  }
};

void reverse(const float* in, float* out, int64_t count, cudaStream_t s) {
  reverse_kernel<<<static_cast<unsigned>(std::min<int64_t>(ceil_div(count, 256), 4096)), 256, 0, s>>>(in, out, count);
}

}  // namespace

llmc_status inverse_upper_cholesky(float* h, float* work, int64_t n, const char* hint) {
  const cudaStream_t s = stream();
  DeviceArray<unsigned long long> failed;
  LLMC_TRY(failed.alloc(1, "Cholesky status"));
  LLMC_CUDA_TRY(cudaMemsetAsync(failed.get(), 0xff, sizeof(unsigned long long), s), "Cholesky status");
  reverse(h, work, n * n, s);
  DeviceOps ops{failed.get(), s};
  obs::reversed_inverse_cholesky(ops, work, n, h);
  reverse(work, h, n * n, s);
  LLMC_CUDA_TRY(cudaGetLastError(), "Cholesky kernels");
  unsigned long long first = kNoFailure;
  LLMC_CUDA_TRY(cudaMemcpyAsync(&first, failed.get(), sizeof first, cudaMemcpyDeviceToHost, s), "Cholesky status");
  LLMC_CUDA_TRY(cudaStreamSynchronize(s), "Cholesky kernels");
  if (first != kNoFailure)
    return llmc::fail(LLMC_INVALID_ARGUMENT,
                      "the Hessian is not positive definite (Cholesky pivot %lld of %lld is not positive)%s%s",
                      static_cast<long long>(n - static_cast<int64_t>(first) + 1), static_cast<long long>(n),
                      hint && *hint ? ": " : "", hint ? hint : "");
  return LLMC_OK;
}

}  // namespace cuda
}  // namespace llmc
