// gptq.cu — GPTQ / SparseGPT (the OBS column loop) on the device, with the contract of
// llmc_obs_compress (native/core/obs.cpp is the reference: same checks, same order of work, same
// quantizer, same masks).
//
// Device data (row-major; "packed" = columns in act-order, identity without it):
//   w   [rows × cols] f32   W as uploaded; dead columns zeroed; the static group parameters are
//                           found on it; then (act-order) the source of the packed copy wp
//   wp  [rows × cols] f32   packed W, updated in place by the loop; column i ends as its
//                           compressed value (act-order: a second buffer, unpacked into w at the end)
//   h   [cols × cols] f32   H as uploaded, then the Cholesky scratch, then nothing
//   u   [cols × cols] f32   packed, dead-fixed, damped H, then U (upper, Uᵀ·U = H⁻¹) in place
//   e   [rows × block] f32  the errors of the current block (the A of the lazy update)
//   q, mask [rows × cols]   codes and pruned flags (packed, unpacked at the end)
//   scale, zero [rows × G]  group parameters (f32; zero points become u8 on the host)
//   sb  [rows × block] u32, bm [rows × block] u8   unstructured pruning: score keys and the mask
//
// Per block [i1, i2) of columns: (unstructured) the block's mask by a radix select over the keys
// of w²/d² (obs_rows.h), block_rows_kernel (one warp per row, the block in shared memory: see
// obs_rows.h), then W[:, i2:] −= E · U[i1:i2, i2:] with the fp32 GEMM of hessian.cu. The host only
// launches; it waits once after the Hessian checks (symmetry, diagonal: needed for the act-order
// permutation and the damping, computed on the host exactly as obs.cpp does), once for the
// Cholesky status, and once for the outputs.
//
// Work: the lazy GEMM is rows · cols² multiply-adds (the roofline: fp32 FFMA rate), the in-block
// updates rows · cols · block / 2 from shared memory, the Cholesky and inverse 2/3 · cols³.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <vector>

#include "common.cuh"
#include "cuda_backend.h"
#include "obs_config.h"
#include "obs_rows.h"

namespace llmc {
namespace cuda {

namespace {

using obs::kWarp;
using obs::Params;

using Config = ObsConfig;

// ---- kernels ------------------------------------------------------------------------------------
unsigned grid_for(int64_t count, int threads) {
  return static_cast<unsigned>(std::max<int64_t>(1, std::min<int64_t>(ceil_div(count, threads), 65535)));
}

// The smallest flat index i·n + j (i > j) where |H_ij − H_ji| > 1e-5 · max(|H_ij|, |H_ji|) (or NaN),
// in 32 × 32 tiles (bi >= bj) staged through shared memory.
__global__ void symmetry_kernel(const float* __restrict__ h, int64_t n, unsigned long long* first) {
  const int64_t bi = blockIdx.y, bj = blockIdx.x;
  if (bi < bj) return;
  __shared__ float lower[32][33], upper[32][33];
  const int tx = threadIdx.x;
  for (int ty = threadIdx.y; ty < 32; ty += blockDim.y) {
    const int64_t li = bi * 32 + ty, lj = bj * 32 + tx, ui = bj * 32 + ty, uj = bi * 32 + tx;
    if (li < n && lj < n) lower[ty][tx] = h[li * n + lj];
    if (ui < n && uj < n) upper[ty][tx] = h[ui * n + uj];
  }
  __syncthreads();
  for (int ty = threadIdx.y; ty < 32; ty += blockDim.y) {
    const int64_t i = bi * 32 + ty, j = bj * 32 + tx;
    if (i >= n || j >= i) continue;
    const float a = lower[ty][tx], b = upper[tx][ty];
    if (!(fabsf(a - b) <= 1e-5f * fmaxf(fabsf(a), fabsf(b))))
      atomicMin(first, static_cast<unsigned long long>(i * n + j));
  }
}

__global__ void diagonal_kernel(const float* __restrict__ h, int64_t n, float* __restrict__ diag) {
  for (int64_t j = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; j < n;
       j += static_cast<int64_t>(gridDim.x) * blockDim.x)
    diag[j] = h[j * (n + 1)];
}

// W[:, j] = 0 for the dead inputs (dead[j] = 1).
__global__ void zero_dead_kernel(float* w, int64_t rows, int64_t cols, const uint8_t* __restrict__ dead) {
  for (int64_t t = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; t < rows * cols;
       t += static_cast<int64_t>(gridDim.x) * blockDim.x)
    if (dead[t % cols]) w[t] = 0.0f;
}

// out[i][j] = H[perm i][perm j] (perm NULL: identity), diagonal: 0 → 1 (dead input), + damp.
__global__ void pack_hessian_kernel(const float* __restrict__ h, int64_t n, const int32_t* __restrict__ perm,
                                    float damp, float* __restrict__ out) {
  for (int64_t t = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; t < n * n;
       t += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t i = t / n, j = t % n;
    const int64_t pi = perm ? perm[i] : i, pj = perm ? perm[j] : j;
    float v = h[pi * n + pj];
    if (i == j) {
      if (v == 0.0f) v = 1.0f;
      v = v + damp;
    }
    out[t] = v;
  }
}

// out[r][i] = in[r][map[i]]: packing (map = perm) and unpacking (map = its inverse).
template <class T>
__global__ void gather_columns_kernel(const T* __restrict__ in, int64_t rows, int64_t cols,
                                      const int32_t* __restrict__ map, T* __restrict__ out) {
  for (int64_t t = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; t < rows * cols;
       t += static_cast<int64_t>(gridDim.x) * blockDim.x)
    out[t] = in[t - t % cols + map[t % cols]];
}

// The quantizer parameters of x[0 .. len) by one warp (obs_rows.h: lanes, then butterfly merges).
__device__ Params warp_find_params(const float* x, int64_t len, int lane, int maxq, bool sym, bool mse) {
  obs::Range r = obs::lane_range(x, len, lane);
  for (int off = kWarp / 2; off > 0; off >>= 1)
    r = obs::range_merge(r,
                         obs::Range{__shfl_xor_sync(0xffffffffu, r.lo, off), __shfl_xor_sync(0xffffffffu, r.hi, off)});
  const obs::Range adj = obs::adjust_range(r, sym);
  const Params base = obs::base_params(adj, maxq, sym);
  if (!mse) return base;
  obs::Best b = obs::lane_best(x, len, lane, adj, base, maxq, sym);
  for (int off = kWarp / 2; off > 0; off >>= 1)
    b = obs::best_merge(b,
                        obs::Best{__shfl_xor_sync(0xffffffffu, b.err, off), __shfl_xor_sync(0xffffffffu, b.step, off)});
  return obs::mse_result(b, adj, base, maxq, sym);
}

struct QuantArgs {
  int maxq;
  bool sym, mse;
};

// Static parameters (one group per row, or act_order 1): one warp per (row, group) of the
// unpacked W, groups of glen columns.
__global__ void static_params_kernel(const float* __restrict__ w, int64_t rows, int64_t cols, int64_t glen,
                                     int64_t groups, QuantArgs qa, float* __restrict__ scale,
                                     float* __restrict__ zero) {
  const int64_t id = (static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) / kWarp;
  const int lane = threadIdx.x % kWarp;
  if (id >= rows * groups) return;
  const int64_t r = id / groups, t = id % groups;
  const Params p = warp_find_params(w + r * cols + t * glen, glen, lane, qa.maxq, qa.sym, qa.mse);
  if (lane == 0) scale[id] = p.scale, zero[id] = p.zero;
}

// ---- unstructured pruning: the block's mask ------------------------------------------------------
// sb[r·count + j] = order bits of w²/d² for column i1 + j of row r (its select index is j·rows + r).
__global__ void score_kernel(const float* __restrict__ w, int64_t rows, int64_t cols, int64_t i1, int64_t count,
                             const float* __restrict__ u, uint32_t* __restrict__ sb) {
  for (int64_t t = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; t < rows * count;
       t += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t r = t / count, j = t % count;
    sb[t] = obs::order_bits(obs::prune_score(w[r * cols + i1 + j], u[(i1 + j) * (cols + 1)]));
  }
}

__global__ void radix_init_kernel(obs::RadixState* st, unsigned long long* hist, unsigned long long k) {
  hist[threadIdx.x] = 0;
  if (threadIdx.x == 0) *st = obs::RadixState{k, 0, 0u, 0};
}

__global__ void radix_hist_kernel(const uint32_t* __restrict__ sb, int64_t rows, int64_t count,
                                  const obs::RadixState* st_in, int idx_bytes, unsigned long long* hist) {
  __shared__ unsigned int local[obs::kRadixBins];
  local[threadIdx.x] = 0;
  const obs::RadixState st = *st_in;
  __syncthreads();
  for (int64_t t = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; t < rows * count;
       t += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const uint64_t idx = static_cast<uint64_t>((t % count) * rows + t / count);
    if (obs::radix_match(sb[t], idx, st, idx_bytes))
      atomicAdd(&local[obs::radix_digit(sb[t], idx, st.pass, idx_bytes)], 1u);
  }
  __syncthreads();
  if (local[threadIdx.x]) atomicAdd(&hist[threadIdx.x], static_cast<unsigned long long>(local[threadIdx.x]));
}

// One block of 256 threads: thread 0 fixes the pass's digit, then the histogram is cleared.
__global__ void radix_pick_kernel(obs::RadixState* st, unsigned long long* hist, int idx_bytes) {
  if (threadIdx.x == 0) obs::radix_pick(hist, st, idx_bytes);
  __syncthreads();
  hist[threadIdx.x] = 0;
}

__global__ void radix_mask_kernel(const uint32_t* __restrict__ sb, int64_t rows, int64_t count,
                                  const obs::RadixState* st_in, uint8_t* __restrict__ bm) {
  const obs::RadixState st = *st_in;
  for (int64_t t = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; t < rows * count;
       t += static_cast<int64_t>(gridDim.x) * blockDim.x)
    bm[t] = obs::radix_selected(sb[t], static_cast<uint64_t>((t % count) * rows + t / count), st) ? 1 : 0;
}

// ---- the block of columns, one warp per row ----------------------------------------------------
struct BlockArgs {
  float* w;  // packed W [rows × cols]
  int64_t rows, cols, i1, count;
  const float* u;       // U [cols × cols]
  const uint8_t* bm;    // unstructured mask [rows × count], or NULL
  float* e;             // errors [rows × count]
  int8_t* q;            // codes [rows × cols] (packed), or NULL
  uint8_t* mask;        // pruned flags [rows × cols] (packed), or NULL
  float* scale;         // [rows × G]
  float* zero;          // [rows × G]
  const int32_t* perm;  // act_order 1: the static group of packed column i is perm[i] / group
  double* row_loss;     // [rows] Σ e², accumulated over the blocks
  QuantArgs qa;
  int64_t group, groups;
  bool quantize, live, static_groups, nm;
  int pn, pm;
};

__global__ void block_rows_kernel(BlockArgs a) {
  extern __shared__ float smem[];
  const int warps = blockDim.x / kWarp, wi = threadIdx.x / kWarp, lane = threadIdx.x % kWarp;
  const int64_t r = static_cast<int64_t>(blockIdx.x) * warps + wi, count = a.count, cols = a.cols;
  if (r >= a.rows) return;
  float* sw = smem + wi * count;
  float* se = smem + (warps + wi) * count;
  int8_t* sq = reinterpret_cast<int8_t*>(smem + 2 * warps * count) + wi * count;
  uint8_t* sm = reinterpret_cast<uint8_t*>(smem + 2 * warps * count) + (warps + wi) * count;
  float* wrow = a.w + r * cols + a.i1;
  for (int64_t k = lane; k < count; k += kWarp) {
    sw[k] = wrow[k];
    sm[k] = a.bm ? a.bm[r * count + k] : 0;
  }
  __syncwarp();
  Params pr{1.0f, 0.0f};
  if (a.quantize && a.group == 0) pr = Params{a.scale[r], a.zero[r]};
  double loss = 0.0;
  for (int64_t j = 0; j < count; ++j) {
    const int64_t i = a.i1 + j;
    const float* urow = a.u + i * cols + a.i1;
    if (a.live && i % a.group == 0) {  // a group starts: its parameters from the current values
      pr = warp_find_params(sw + j, a.group, lane, a.qa.maxq, a.qa.sym, a.qa.mse);
      if (lane == 0) {
        a.scale[r * a.groups + i / a.group] = pr.scale;
        a.zero[r * a.groups + i / a.group] = pr.zero;
      }
    }
    if (a.static_groups) {
      const int64_t t = r * a.groups + a.perm[i] / a.group;
      pr = Params{a.scale[t], a.zero[t]};
    }
    if (a.nm && j % a.pm == 0) {  // a group of M starts: the N smallest w²/d² are pruned
      obs::lane_nm_scores(sw + j, urow + j, cols + 1, a.pm, lane, se + j);
      __syncwarp();
      obs::lane_nm_mask(se + j, a.pm, a.pn, lane, sm + j);
      __syncwarp();
    }
    const obs::ColumnOut o = obs::obs_column(sw[j], sm[j] != 0, a.quantize, pr, a.qa.maxq, urow[j]);
    __syncwarp();
    if (lane == 0) {
      sw[j] = o.q;
      se[j] = o.err;
      sq[j] = obs::stored_code(o.code, a.qa.maxq, a.qa.sym);
      loss += static_cast<double>(o.err) * o.err;  // exact in double: contraction cannot change it
    }
    obs::lane_update(sw, j, count, lane, o.err, urow);
    __syncwarp();
  }
  for (int64_t k = lane; k < count; k += kWarp) {
    wrow[k] = sw[k];
    a.e[r * count + k] = se[k];
    if (a.q) a.q[r * cols + a.i1 + k] = sq[k];
    if (a.mask) a.mask[r * cols + a.i1 + k] = sm[k];
  }
  if (lane == 0) a.row_loss[r] += loss;
}

// ---- host side ----------------------------------------------------------------------------------
// Warps per block and dynamic shared memory of block_rows_kernel for `count` columns: 10 bytes per
// column and row (sw, se f32; sq, sm u8), up to 8 rows per block within 48 KiB; one row per block
// with the device's opt-in limit beyond.
llmc_status rows_launch_shape(int64_t count, int* warps, size_t* smem) {
  const size_t per_row = static_cast<size_t>(count) * 10;
  const size_t fits = 48 * 1024 / per_row;
  *warps = static_cast<int>(std::max<size_t>(1, std::min<size_t>(8, fits)));
  *smem = per_row * static_cast<size_t>(*warps);
  if (*smem <= 48 * 1024) return LLMC_OK;
  int device = 0, optin = 0;
  LLMC_CUDA_TRY(cudaGetDevice(&device), "cudaGetDevice");
  LLMC_CUDA_TRY(cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device),
                "cudaDeviceGetAttribute");
  if (*smem > static_cast<size_t>(optin))
    return llmc::fail(LLMC_UNSUPPORTED,
                      "cuda obs_compress: a block of %lld columns needs %zu bytes of shared memory per row; this "
                      "device has %d: use a smaller block",
                      static_cast<long long>(count), *smem, optin);
  LLMC_CUDA_TRY(
      cudaFuncSetAttribute(block_rows_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(*smem)),
      "cudaFuncSetAttribute");
  return LLMC_OK;
}

// What the host decides from diag(H) (obs.cpp): dead inputs, the act-order permutation, damping.
struct HostPlan {
  std::vector<uint8_t> dead;
  std::vector<int32_t> perm, inverse;
  bool any_dead = false;
  float damp = 0.0f;
};

llmc_status plan_from_diagonal(const Config& c, const llmc_obs_params* p, std::vector<float> diag, HostPlan* plan) {
  const int64_t cols = c.cols;
  plan->dead.assign(static_cast<size_t>(cols), 0);
  for (int64_t j = 0; j < cols; ++j) {
    float& v = diag[static_cast<size_t>(j)];
    if (!std::isfinite(v))
      return llmc::fail(LLMC_INVALID_ARGUMENT, "cuda obs_compress: H[%lld, %lld] is not finite",
                        static_cast<long long>(j), static_cast<long long>(j));
    if (v == 0.0f) {
      v = 1.0f;
      plan->dead[static_cast<size_t>(j)] = 1;
      plan->any_dead = true;
    }
  }
  plan->perm.resize(static_cast<size_t>(cols));
  std::iota(plan->perm.begin(), plan->perm.end(), 0);
  if (c.act_order)
    std::stable_sort(plan->perm.begin(), plan->perm.end(),
                     [&](int32_t a, int32_t b) { return diag[static_cast<size_t>(a)] > diag[static_cast<size_t>(b)]; });
  plan->inverse.resize(static_cast<size_t>(cols));
  double mean = 0;
  for (int64_t i = 0; i < cols; ++i) {
    plan->inverse[static_cast<size_t>(plan->perm[static_cast<size_t>(i)])] = static_cast<int32_t>(i);
    mean += diag[static_cast<size_t>(plan->perm[static_cast<size_t>(i)])];
  }
  mean /= static_cast<double>(cols);
  plan->damp = static_cast<float>(p->damp * mean);
  return LLMC_OK;
}

// Uploads H, checks its symmetry and reads its diagonal (one wait).
llmc_status check_hessian(const Config& c, const float* h_in, const float* dh, std::vector<float>* diag) {
  const int64_t n = c.cols;
  const cudaStream_t s = stream();
  DeviceArray<unsigned long long> first;
  DeviceArray<float> ddiag;
  LLMC_TRY(first.alloc(1, "cuda obs_compress: symmetry check"));
  LLMC_TRY(ddiag.alloc(static_cast<size_t>(n), "cuda obs_compress: diagonal of H"));
  LLMC_CUDA_TRY(cudaMemsetAsync(first.get(), 0xff, sizeof(unsigned long long), s), "symmetry check");
  const unsigned tiles = static_cast<unsigned>(ceil_div(n, 32));
  symmetry_kernel<<<dim3(tiles, tiles), dim3(32, 8), 0, s>>>(dh, n, first.get());
  diagonal_kernel<<<grid_for(n, 256), 256, 0, s>>>(dh, n, ddiag.get());
  LLMC_CUDA_TRY(cudaGetLastError(), "Hessian checks");
  unsigned long long asym = 0;
  diag->resize(static_cast<size_t>(n));
  LLMC_CUDA_TRY(cudaMemcpyAsync(&asym, first.get(), sizeof asym, cudaMemcpyDeviceToHost, s), "symmetry check");
  LLMC_CUDA_TRY(cudaMemcpyAsync(diag->data(), ddiag.get(), ddiag.bytes(), cudaMemcpyDeviceToHost, s), "diagonal of H");
  LLMC_CUDA_TRY(cudaStreamSynchronize(s), "Hessian checks");
  if (asym != ~0ull) {
    const int64_t at = static_cast<int64_t>(asym), i = at / n, j = at % n;
    return llmc::fail(LLMC_INVALID_ARGUMENT,
                      "cuda obs_compress: H is not symmetric: H[%lld, %lld] = %g but H[%lld, %lld] = %g",
                      static_cast<long long>(i), static_cast<long long>(j), static_cast<double>(h_in[at]),
                      static_cast<long long>(j), static_cast<long long>(i), static_cast<double>(h_in[j * n + i]));
  }
  return LLMC_OK;
}

// The device buffers of one call.
struct Buffers {
  DeviceArray<float> w, wp, h, u, e, scale, zero;
  DeviceArray<int8_t> q, q_out;
  DeviceArray<uint8_t> mask, mask_out, dead, bm;
  DeviceArray<uint32_t> sb;
  DeviceArray<int32_t> perm, inverse;
  DeviceArray<double> row_loss;
  DeviceArray<unsigned long long> hist;
  DeviceArray<obs::RadixState> radix;
};

// The unstructured mask of block [i1, i1 + count) into b.bm: the k smallest keys.
void select_block(const Config& c, Buffers& b, float* wp, int64_t i1, int64_t count, unsigned long long k) {
  const cudaStream_t s = stream();
  const int64_t len = c.rows * count;
  const int idx_bytes = obs::index_bytes(static_cast<uint64_t>(len));
  const unsigned grid = static_cast<unsigned>(std::min<int64_t>(ceil_div(len, 256), 1024));
  score_kernel<<<grid, 256, 0, s>>>(wp, c.rows, c.cols, i1, count, b.u.get(), b.sb.get());
  radix_init_kernel<<<1, obs::kRadixBins, 0, s>>>(b.radix.get(), b.hist.get(), k);
  for (int pass = 0; pass < obs::radix_passes(idx_bytes); ++pass) {
    radix_hist_kernel<<<grid, obs::kRadixBins, 0, s>>>(b.sb.get(), c.rows, count, b.radix.get(), idx_bytes,
                                                       b.hist.get());
    radix_pick_kernel<<<1, obs::kRadixBins, 0, s>>>(b.radix.get(), b.hist.get(), idx_bytes);
  }
  radix_mask_kernel<<<grid, 256, 0, s>>>(b.sb.get(), c.rows, count, b.radix.get(), b.bm.get());
}

llmc_status allocate(const Config& c, const llmc_obs_result* out, Buffers& b) {
  const size_t rc = static_cast<size_t>(c.rows * c.cols),
               bmax = static_cast<size_t>(c.rows * std::min(c.block, c.cols));
  const size_t rg = static_cast<size_t>(c.rows * c.groups);
  LLMC_TRY(b.u.alloc(static_cast<size_t>(c.cols * c.cols), "cuda obs_compress: U"));
  LLMC_TRY(b.e.alloc(bmax, "cuda obs_compress: block errors"));
  LLMC_TRY(b.scale.alloc(c.quantize ? rg : 0, "cuda obs_compress: scales"));
  LLMC_TRY(b.zero.alloc(c.quantize ? rg : 0, "cuda obs_compress: zero points"));
  LLMC_TRY(b.row_loss.alloc(static_cast<size_t>(c.rows), "cuda obs_compress: losses"));
  if (c.act_order) LLMC_TRY(b.wp.alloc(rc, "cuda obs_compress: packed W"));
  if (out->q) LLMC_TRY(b.q.alloc(rc, "cuda obs_compress: codes"));
  if (out->mask) LLMC_TRY(b.mask.alloc(rc, "cuda obs_compress: mask"));
  if (c.act_order && out->q) LLMC_TRY(b.q_out.alloc(rc, "cuda obs_compress: codes"));
  if (c.act_order && out->mask) LLMC_TRY(b.mask_out.alloc(rc, "cuda obs_compress: mask"));
  if (c.prune_un) {
    LLMC_TRY(b.sb.alloc(bmax, "cuda obs_compress: pruning scores"));
    LLMC_TRY(b.bm.alloc(bmax, "cuda obs_compress: block mask"));
    LLMC_TRY(b.hist.alloc(obs::kRadixBins, "cuda obs_compress: select histogram"));
    LLMC_TRY(b.radix.alloc(1, "cuda obs_compress: select state"));
  }
  return LLMC_OK;
}

// The column loop over the blocks (all launches, no waits).
llmc_status column_loop(const Config& c, Buffers& b, float* wp) {
  const cudaStream_t s = stream();
  BlockArgs a{};
  a.w = wp, a.rows = c.rows, a.cols = c.cols, a.u = b.u.get(), a.e = b.e.get(), a.q = b.q.get(), a.mask = b.mask.get();
  a.scale = b.scale.get(), a.zero = b.zero.get(), a.perm = b.perm.get(), a.row_loss = b.row_loss.get();
  a.qa = QuantArgs{c.maxq, c.sym, c.mse};
  a.group = c.group, a.groups = c.groups, a.quantize = c.quantize;
  a.live = c.quantize && c.group > 0 && c.act_order != 1;
  a.static_groups = c.quantize && c.group > 0 && c.act_order == 1;
  a.nm = c.prune_nm, a.pn = c.pn, a.pm = c.pm;
  for (int64_t i1 = 0; i1 < c.cols; i1 += c.block) {
    const int64_t i2 = std::min(c.cols, i1 + c.block), count = i2 - i1;
    const long long k = c.prune_un ? std::llround(c.sparsity * static_cast<double>(count * c.rows)) : 0;
    if (k > 0) select_block(c, b, wp, i1, count, static_cast<unsigned long long>(k));
    a.i1 = i1, a.count = count, a.bm = k > 0 ? b.bm.get() : nullptr;
    int warps = 0;
    size_t smem = 0;
    LLMC_TRY(rows_launch_shape(count, &warps, &smem));
    block_rows_kernel<<<static_cast<unsigned>(ceil_div(c.rows, warps)), warps * kWarp, smem, s>>>(a);
    if (i2 < c.cols)
      sgemm(GemmOp::kNN, c.rows, c.cols - i2, count, -1.0f, b.e.get(), count, b.u.get() + i1 * c.cols + i2, c.cols,
            1.0f, wp + i2, c.cols, false);
    LLMC_CUDA_TRY(cudaGetLastError(), "obs_compress block kernels");
  }
  return LLMC_OK;
}

template <class T>
void gather_columns(const T* in, int64_t rows, int64_t cols, const int32_t* map, T* out) {
  gather_columns_kernel<T><<<grid_for(rows * cols, 256), 256, 0, stream()>>>(in, rows, cols, map, out);
}

// Unpacks (act-order) and copies the outputs to the host (one wait).
llmc_status download(const Config& c, const HostPlan& plan, Buffers& b, float* wp, llmc_obs_result* out) {
  const cudaStream_t s = stream();
  const size_t rc = static_cast<size_t>(c.rows * c.cols);
  const int8_t* q = b.q.get();
  const uint8_t* mask = b.mask.get();
  if (c.act_order) {
    gather_columns(wp, c.rows, c.cols, b.inverse.get(), b.w.get());
    if (out->q) gather_columns(b.q.get(), c.rows, c.cols, b.inverse.get(), b.q_out.get()), q = b.q_out.get();
    if (out->mask)
      gather_columns(b.mask.get(), c.rows, c.cols, b.inverse.get(), b.mask_out.get()), mask = b.mask_out.get();
    LLMC_CUDA_TRY(cudaGetLastError(), "unpacking the outputs");
  }
  LLMC_CUDA_TRY(cudaMemcpyAsync(out->weight, b.w.get(), rc * sizeof(float), cudaMemcpyDeviceToHost, s),
                "copying the weight");
  if (out->q) LLMC_CUDA_TRY(cudaMemcpyAsync(out->q, q, rc, cudaMemcpyDeviceToHost, s), "copying the codes");
  if (out->mask) LLMC_CUDA_TRY(cudaMemcpyAsync(out->mask, mask, rc, cudaMemcpyDeviceToHost, s), "copying the mask");
  std::vector<float> zero;
  if (c.quantize && out->scale)
    LLMC_CUDA_TRY(cudaMemcpyAsync(out->scale, b.scale.get(), b.scale.bytes(), cudaMemcpyDeviceToHost, s),
                  "copying the scales");
  if (c.quantize && out->zero) {
    zero.resize(b.zero.count());
    LLMC_CUDA_TRY(cudaMemcpyAsync(zero.data(), b.zero.get(), b.zero.bytes(), cudaMemcpyDeviceToHost, s),
                  "copying the zero points");
  }
  std::vector<double> loss(static_cast<size_t>(c.rows));
  LLMC_CUDA_TRY(cudaMemcpyAsync(loss.data(), b.row_loss.get(), b.row_loss.bytes(), cudaMemcpyDeviceToHost, s),
                "copying the loss");
  LLMC_CUDA_TRY(cudaStreamSynchronize(s), "obs_compress");
  for (size_t t = 0; t < zero.size(); ++t) out->zero[t] = static_cast<uint8_t>(zero[t]);
  if (out->g_idx)
    for (int64_t i = 0; i < c.cols; ++i)
      out->g_idx[plan.perm[static_cast<size_t>(i)]] = static_cast<int32_t>(c.group > 0 ? i / c.group : 0);
  double total = 0;
  for (double v : loss) total += v;
  out->loss = 0.5 * total;
  return LLMC_OK;
}

}  // namespace

llmc_status api_obs_compress(const llmc_obs_params* p, const float* w_in, const float* h_in, llmc_obs_result* out) {
  Config c;
  LLMC_TRY(validate_obs(p, "cuda obs_compress", true, &c));
  if (!w_in || !h_in || !out || !out->weight)
    return llmc::fail(LLMC_INVALID_ARGUMENT, "cuda obs_compress: w, h, out and out->weight must not be NULL");
  if (out->g_idx && c.act_order != 2)
    return llmc::fail(LLMC_INVALID_ARGUMENT,
                      "cuda obs_compress: g_idx is only produced with act_order = 2, got act_order = %d", c.act_order);
  std::lock_guard<std::mutex> lock(api_lock());
  LLMC_TRY(require_device());
  const cudaStream_t s = stream();
  const int64_t rows = c.rows, cols = c.cols;
  Buffers b;
  LLMC_TRY(b.w.upload(w_in, static_cast<size_t>(rows * cols), "cuda obs_compress: W"));
  LLMC_TRY(b.h.upload(h_in, static_cast<size_t>(cols * cols), "cuda obs_compress: H"));
  std::vector<float> diag;
  LLMC_TRY(check_hessian(c, h_in, b.h.get(), &diag));
  HostPlan plan;
  LLMC_TRY(plan_from_diagonal(c, p, std::move(diag), &plan));
  LLMC_TRY(allocate(c, out, b));
  LLMC_CUDA_TRY(cudaMemsetAsync(b.row_loss.get(), 0, b.row_loss.bytes(), s), "clearing the losses");
  if (plan.any_dead) {
    LLMC_TRY(b.dead.upload(plan.dead.data(), plan.dead.size(), "cuda obs_compress: dead inputs"));
    zero_dead_kernel<<<grid_for(rows * cols, 256), 256, 0, s>>>(b.w.get(), rows, cols, b.dead.get());
  }
  if (c.quantize && (c.group == 0 || c.act_order == 1)) {  // static parameters, from the unpacked W
    const int64_t glen = c.group == 0 ? cols : c.group, warps = rows * c.groups;
    static_params_kernel<<<static_cast<unsigned>(ceil_div(warps * kWarp, 256)), 256, 0, s>>>(
        b.w.get(), rows, cols, glen, c.groups, QuantArgs{c.maxq, c.sym, c.mse}, b.scale.get(), b.zero.get());
  }
  float* wp = b.w.get();
  if (c.act_order) {
    LLMC_TRY(b.perm.upload(plan.perm.data(), plan.perm.size(), "cuda obs_compress: permutation"));
    LLMC_TRY(b.inverse.upload(plan.inverse.data(), plan.inverse.size(), "cuda obs_compress: permutation"));
    gather_columns(b.w.get(), rows, cols, b.perm.get(), b.wp.get());
    wp = b.wp.get();
  }
  pack_hessian_kernel<<<grid_for(cols * cols, 256), 256, 0, s>>>(b.h.get(), cols, b.perm.get(), plan.damp, b.u.get());
  LLMC_CUDA_TRY(cudaGetLastError(), "obs_compress preparation kernels");
  char hint[160];
  std::snprintf(hint, sizeof hint, "raise the damping (dampPercent, now %g) or add calibration data", p->damp);
  LLMC_TRY(inverse_upper_cholesky(b.u.get(), b.h.get(), cols, hint));
  LLMC_TRY(column_loop(c, b, wp));
  return download(c, plan, b, wp, out);
}

}  // namespace cuda
}  // namespace llmc
