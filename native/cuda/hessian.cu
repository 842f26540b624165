// hessian.cu — the tiled fp32 GEMM of the OBS pipeline (the Hessian's SYRK, the Cholesky
// recursion's products, the lazy-batch update of the column loop) and the Hessian update entry
// point, H = H · seen/(seen + t) + 2/(seen + t) · XᵀX, as llmc_hessian_update.
//
// GEMM tiles: one block of 256 threads computes C[128 × 128]; k advances in steps of 8 through
// double-buffered shared memory, the next step's tiles loaded into registers while the current one
// is multiplied:
//
//   as [2][8][128]  op(A) tile, k-major (A read along k when stored [m × k], along m when Aᵀ)
//   bs [2][8][128]  op(B) tile, k-major
//   thread (tx, ty) = (tid % 16, tid / 16) holds C rows {4ty..4ty+3, 64+4ty..64+4ty+3} ×
//   columns {4tx..4tx+3, 64+4tx..64+4tx+3}: 64 accumulators, read from shared memory as float4.
//
// Each output is an fma chain over k in order (obs::gemm_acc) finished by obs::gemm_out, so the
// CPU replay (test/native/cuda_gptq_test.cpp) reproduces it bit for bit. Per k step a block
// reads 2 · 128 · 8 floats for 128 · 128 · 8 multiply-adds: 32 flop per byte from L2, so the kernel
// is bound by the FFMA issue rate (about 60 % of the fp32 peak with this simple pipeline).
//
// The Hessian: H (d × d) and X (tokens × d, packed to stride d) are uploaded; only the tiles that
// touch the lower triangle are computed (C = beta·H + alpha·XᵀX), then the upper triangle is
// mirrored in 32 × 32 tiles through shared memory; H goes back to the host.
#include <cstdio>

#include "common.cuh"
#include "cuda_backend.h"
#include "obs_rows.h"

namespace llmc {
namespace cuda {

namespace {

constexpr int kTileM = 128, kTileN = 128, kTileK = 8, kGemmThreads = 256;

// Four elements of op(A) (tile rows along m) or op(B) (along n) for k step `k0`, into registers.
// Transposed storage (element (i, k) at p[k·ld + i] for A, (k, j) at p[k·ld + j] for B) reads
// four consecutive i of one k; the other reads four consecutive k of one row.
template <bool kAlongRow>
__device__ __forceinline__ void load_tile(const float* __restrict__ p, int64_t ld, int64_t extent, int64_t k,
                                          int64_t base, int64_t k0, float (&r)[4]) {
  const int tid = threadIdx.x;
  if (kAlongRow) {  // p[i·ld + k]: thread → (i = tid / 2, k = 4·(tid % 2) + q)
    const int64_t i = base + tid / 2, kk = k0 + (tid % 2) * 4;
#pragma unroll
    for (int q = 0; q < 4; ++q) r[q] = (i < extent && kk + q < k) ? p[i * ld + kk + q] : 0.0f;
  } else {  // p[k·ld + i]: thread → (k = tid / 32, i = 4·(tid % 32) + q)
    const int64_t kk = k0 + tid / 32, i = base + (tid % 32) * 4;
#pragma unroll
    for (int q = 0; q < 4; ++q) r[q] = (kk < k && i + q < extent) ? p[kk * ld + i + q] : 0.0f;
  }
}

template <bool kAlongRow>
__device__ __forceinline__ void store_tile(float (*s)[kTileM], const float (&r)[4]) {
  const int tid = threadIdx.x;
  if (kAlongRow) {
#pragma unroll
    for (int q = 0; q < 4; ++q) s[(tid % 2) * 4 + q][tid / 2] = r[q];
  } else {
#pragma unroll
    for (int q = 0; q < 4; ++q) s[tid / 32][(tid % 32) * 4 + q] = r[q];
  }
}

// A is read along k when stored [m × k] (TA false); B is read along k when stored [n × k] (TB true).
template <bool TA, bool TB>
__global__ void __launch_bounds__(kGemmThreads, 2)
    sgemm_kernel(int64_t m, int64_t n, int64_t k, float alpha, const float* __restrict__ a, int64_t lda,
                 const float* __restrict__ b, int64_t ldb, float beta, float* __restrict__ c, int64_t ldc,
                 bool lower_only) {
  const int64_t row0 = static_cast<int64_t>(blockIdx.x) * kTileM, col0 = static_cast<int64_t>(blockIdx.y) * kTileN;
  if (lower_only && row0 + kTileM <= col0) return;  // every element above the diagonal
  __shared__ __align__(16) float as[2][kTileK][kTileM];
  __shared__ __align__(16) float bs[2][kTileK][kTileN];
  const int tx = threadIdx.x % 16, ty = threadIdx.x / 16;
  float acc[8][8];
#pragma unroll
  for (int i = 0; i < 8; ++i)
#pragma unroll
    for (int j = 0; j < 8; ++j) acc[i][j] = 0.0f;
  float ra[4], rb[4];
  load_tile<!TA>(a, lda, m, k, row0, 0, ra);
  load_tile<TB>(b, ldb, n, k, col0, 0, rb);
  store_tile<!TA>(as[0], ra);
  store_tile<TB>(bs[0], rb);
  __syncthreads();
  int cur = 0;
  for (int64_t k0 = 0; k0 < k; k0 += kTileK) {
    const bool more = k0 + kTileK < k;
    if (more) {
      load_tile<!TA>(a, lda, m, k, row0, k0 + kTileK, ra);
      load_tile<TB>(b, ldb, n, k, col0, k0 + kTileK, rb);
    }
#pragma unroll
    for (int kk = 0; kk < kTileK; ++kk) {
      const float4 a0 = *reinterpret_cast<const float4*>(&as[cur][kk][ty * 4]);
      const float4 a1 = *reinterpret_cast<const float4*>(&as[cur][kk][64 + ty * 4]);
      const float4 b0 = *reinterpret_cast<const float4*>(&bs[cur][kk][tx * 4]);
      const float4 b1 = *reinterpret_cast<const float4*>(&bs[cur][kk][64 + tx * 4]);
      const float av[8] = {a0.x, a0.y, a0.z, a0.w, a1.x, a1.y, a1.z, a1.w};
      const float bv[8] = {b0.x, b0.y, b0.z, b0.w, b1.x, b1.y, b1.z, b1.w};
#pragma unroll
      for (int i = 0; i < 8; ++i)
#pragma unroll
        for (int j = 0; j < 8; ++j) acc[i][j] = obs::gemm_acc(acc[i][j], av[i], bv[j]);
    }
    if (more) {
      store_tile<!TA>(as[cur ^ 1], ra);
      store_tile<TB>(bs[cur ^ 1], rb);
    }
    __syncthreads();
    cur ^= 1;
  }
#pragma unroll
  for (int i = 0; i < 8; ++i) {
    const int64_t r = row0 + (i < 4 ? ty * 4 + i : 64 + ty * 4 + i - 4);
    if (r >= m) continue;
#pragma unroll
    for (int j = 0; j < 8; ++j) {
      const int64_t col = col0 + (j < 4 ? tx * 4 + j : 64 + tx * 4 + j - 4);
      if (col >= n) continue;
      float* dst = c + r * ldc + col;
      *dst = obs::gemm_out(acc[i][j], alpha, beta, beta == 0.0f ? 0.0f : *dst);
    }
  }
}

// h[i][j] = h[j][i] for i < j, in 32 × 32 tiles (bi <= bj) staged through shared memory.
__global__ void mirror_lower_kernel(float* h, int64_t d) {
  const int64_t bi = blockIdx.y, bj = blockIdx.x;
  if (bi > bj) return;
  __shared__ float t[32][33];
  const int tx = threadIdx.x, ty = threadIdx.y;
  for (int yy = ty; yy < 32; yy += blockDim.y) {  // source rows bj·32 + yy, columns bi·32 + tx (lower)
    const int64_t r = bj * 32 + yy, col = bi * 32 + tx;
    if (r < d && col < d) t[yy][tx] = h[r * d + col];
  }
  __syncthreads();
  for (int yy = ty; yy < 32; yy += blockDim.y) {  // destination rows bi·32 + yy, columns bj·32 + tx
    const int64_t r = bi * 32 + yy, col = bj * 32 + tx;
    if (r < d && col < d && r < col) h[r * d + col] = t[tx][yy];
  }
}

}  // namespace

void sgemm(GemmOp op, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda, const float* b,
           int64_t ldb, float beta, float* c, int64_t ldc, bool lower_only) {
  if (m <= 0 || n <= 0) return;
  const dim3 grid(static_cast<unsigned>(ceil_div(m, kTileM)), static_cast<unsigned>(ceil_div(n, kTileN)));
  const cudaStream_t s = stream();
  switch (op) {
    case GemmOp::kNN:
      sgemm_kernel<false, false>
          <<<grid, kGemmThreads, 0, s>>>(m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, lower_only);
      break;
    case GemmOp::kNT:
      sgemm_kernel<false, true><<<grid, kGemmThreads, 0, s>>>(m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, lower_only);
      break;
    case GemmOp::kTN:
      sgemm_kernel<true, false><<<grid, kGemmThreads, 0, s>>>(m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, lower_only);
      break;
  }
}

llmc_status api_hessian_update(float* h, int64_t d, int64_t seen, const float* x, int64_t tokens, int64_t ldx) {
  if (d < 1 || seen < 0 || tokens < 0)
    return llmc::fail(LLMC_INVALID_ARGUMENT,
                      "cuda hessian_update: need d >= 1, seen >= 0, tokens >= 0; got d=%lld seen=%lld tokens=%lld",
                      static_cast<long long>(d), static_cast<long long>(seen), static_cast<long long>(tokens));
  if (ldx < d)
    return llmc::fail(LLMC_INVALID_ARGUMENT, "cuda hessian_update: ldx (%lld) must be >= d (%lld)",
                      static_cast<long long>(ldx), static_cast<long long>(d));
  if (!h || (tokens > 0 && !x))
    return llmc::fail(LLMC_INVALID_ARGUMENT, "cuda hessian_update: h and x must not be NULL");
  std::lock_guard<std::mutex> lock(api_lock());
  LLMC_TRY(require_device());
  if (tokens == 0) return LLMC_OK;
  const double total = static_cast<double>(seen) + static_cast<double>(tokens);
  const float beta = static_cast<float>(static_cast<double>(seen) / total), alpha = static_cast<float>(2.0 / total);
  const cudaStream_t s = stream();
  DeviceArray<float> dh, dx;
  LLMC_TRY(dh.upload(static_cast<const float*>(h), static_cast<size_t>(d * d), "cuda hessian_update: H"));
  LLMC_TRY(dx.alloc(static_cast<size_t>(tokens * d), "cuda hessian_update: X"));
  LLMC_CUDA_TRY(cudaMemcpy2DAsync(dx.get(), d * sizeof(float), x, ldx * sizeof(float), d * sizeof(float), tokens,
                                  cudaMemcpyHostToDevice, s),
                "copying X to the device");
  sgemm(GemmOp::kTN, d, d, tokens, alpha, dx.get(), d, dx.get(), d, beta, dh.get(), d, true);
  const unsigned tiles = static_cast<unsigned>(ceil_div(d, 32));
  mirror_lower_kernel<<<dim3(tiles, tiles), dim3(32, 8), 0, s>>>(dh.get(), d);
  LLMC_CUDA_TRY(cudaGetLastError(), "hessian_update kernels");
  LLMC_CUDA_TRY(cudaMemcpyAsync(h, dh.get(), dh.bytes(), cudaMemcpyDeviceToHost, s), "copying H from the device");
  LLMC_CUDA_TRY(cudaStreamSynchronize(s), "hessian_update");
  return LLMC_OK;
}

}  // namespace cuda
}  // namespace llmc
