// sparse24.cu — 2:4 sparse matmuls on the sparse tensor cores: y [m × n] = x [m × k] · Wᵀ with W in
// the tiles of sparse24_layout.h (uploaded once), as the sparse operand A of mma.sp and the
// activations as B.
//
//   grid (x: warp rows of 4 warps, y: k splits, z: passes of 32 tokens); one warp =
//
//        W tiles of 2 channel blocks         x (f16 or s8, row-major [m × k], read through L1)
//      cb0 | t(cb0,kb0) t(cb0,kb0+1) …        tokens 8·tt .. 8·tt+7, inputs of the k-block
//      cb1 | t(cb1,kb0) …                     (B registers: 32-bit loads, zero past m and k)
//            └─ k-blocks [kb0, kb1) of its split
//      → acc[2 channel blocks][≤ 4 token tiles][4] (f32 or s32), added atomically into y (f16) or
//        into an s32 buffer that the epilogue scales by s_x[token] · s_w[channel] (w8a8).
//
// Per k-block (256 inputs) and channel block a lane loads 8 (f16) or 4 (s8) value vectors of 16
// bytes, each a coalesced 512-byte warp access, and its metadata (s8: one vector; f16: two for the
// lanes t = 0, 1 of each quad, which hold it): the f16 tiles move 9/16 of the bytes of dense f16
// weights. Split-K over the k-blocks gives every SM warps when m is small.
#include <algorithm>
#include <memory>
#include <type_traits>

#include "sparse24_layout.h"
#include "weights.h"

namespace llmc {
namespace cuda {

namespace {

using s24dev::kF16;
using s24dev::kI8;

using s24dev::kWarpBlocks;
using s24dev::kWarps;

struct Args {
  const uint8_t* tiles;
  int64_t blocks, kblocks, kb_per_split;
  int64_t n, k, m;
  const void* x;  // f16 [m × k] or s8 [m × k]
  float* y;       // f16 kind: y [m × n] += partial sums
  int32_t* acc;   // i8 kind: acc [m × n] += partial sums
};

// Both with sparsity selector 0 (sparse24_layout.h: f16 lanes t = 0, 1 of each quad hold the
// metadata; s8 every lane).
__device__ __forceinline__ void mma_sp(float (&d)[4], const uint4& a, const uint32_t (&b)[4], uint32_t e) {
  asm("mma.sp::ordered_metadata.sync.aligned.m16n8k32.row.col.f32.f16.f16.f32 "
      "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9, %10, %11}, {%0, %1, %2, %3}, %12, 0x0;"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a.x), "r"(a.y), "r"(a.z), "r"(a.w), "r"(b[0]), "r"(b[1]), "r"(b[2]), "r"(b[3]), "r"(e));
}

__device__ __forceinline__ void mma_sp(int32_t (&d)[4], const uint4& a, const uint32_t (&b)[4], uint32_t e) {
  asm("mma.sp::ordered_metadata.sync.aligned.m16n8k64.row.col.s32.s8.s8.s32 "
      "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9, %10, %11}, {%0, %1, %2, %3}, %12, 0x0;"
      : "+r"(d[0]), "+r"(d[1]), "+r"(d[2]), "+r"(d[3])
      : "r"(a.x), "r"(a.y), "r"(a.z), "r"(a.w), "r"(b[0]), "r"(b[1]), "r"(b[2]), "r"(b[3]), "r"(e));
}

__device__ __forceinline__ uint32_t word(const uint4& v, int w) {
  return w == 0 ? v.x : w == 1 ? v.y : w == 2 ? v.z : v.w;
}

// B registers of a lane for mma s of k-block kb and the token tile starting at tok0: 2 halves or 4
// bytes per register (32-bit aligned: k is a multiple of 4), zero past m and k.
template <int Kind>
__device__ __forceinline__ void load_b(const Args& a, int lane, int64_t tok0, int64_t kb, int s, uint32_t (&b)[4]) {
  const int64_t tok = tok0 + s24dev::b_token(lane);
  const int esize = Kind == kF16 ? 2 : 1;
  const uint8_t* row = static_cast<const uint8_t*>(a.x) + tok * a.k * esize;
#pragma unroll
  for (int r = 0; r < 4; ++r) {
    const int64_t p = kb * s24dev::kKBlock + s * s24dev::mma_k(Kind) + s24dev::b_k(Kind, lane, r);
    b[r] = tok < a.m && p < a.k ? __ldg(reinterpret_cast<const uint32_t*>(row + p * esize)) : 0u;
  }
}

template <int Kind, int Tiles>
__global__ void __launch_bounds__(kWarps * 32) sparse24_kernel(Args a) {
  using Acc = typename std::conditional<Kind == kF16, float, int32_t>::type;
  constexpr int J = s24dev::mmas(Kind);
  constexpr int64_t kTileBytes = s24dev::tile_bytes(Kind);
  const int lane = threadIdx.x % 32;
  const int64_t cb0 = s24dev::warp_block0(blockIdx.x, threadIdx.x / 32);
  if (cb0 >= a.blocks) return;  // whole warps leave together
  const int64_t kb0 = s24dev::kb_begin(blockIdx.y, a.kb_per_split),
                kb1 = s24dev::kb_end(blockIdx.y, a.kb_per_split, a.kblocks);

  Acc acc[kWarpBlocks][Tiles][4] = {};
  for (int64_t kb = kb0; kb < kb1; ++kb) {
    constexpr int V = Kind == kF16 ? 2 : 1;  // metadata vectors per lane (f16: lanes t >= 2 load none)
    uint4 av[kWarpBlocks][J], mv[kWarpBlocks][V];
    const int vectors = s24dev::meta_vectors(Kind, lane);
#pragma unroll
    for (int c = 0; c < kWarpBlocks; ++c) {
      const uint8_t* tile = a.tiles + ((cb0 + c) * a.kblocks + kb) * kTileBytes;
      const bool live = cb0 + c < a.blocks;
#pragma unroll
      for (int j = 0; j < J; ++j)
        av[c][j] = live ? __ldcs(reinterpret_cast<const uint4*>(tile + s24dev::value_offset(j, lane)))
                        : make_uint4(0, 0, 0, 0);
#pragma unroll
      for (int v = 0; v < V; ++v)
        mv[c][v] = live && v < vectors
                       ? __ldcs(reinterpret_cast<const uint4*>(tile + s24dev::meta_offset(Kind, lane, v)))
                       : make_uint4(0, 0, 0, 0);
    }
#pragma unroll
    for (int s = 0; s < J; ++s) {
#pragma unroll
      for (int tt = 0; tt < Tiles; ++tt) {
        uint32_t b[4];
        load_b<Kind>(a, lane, s24dev::token0(blockIdx.z, Tiles, tt), kb, s, b);
#pragma unroll
        for (int c = 0; c < kWarpBlocks; ++c) {
          if (cb0 + c >= a.blocks) continue;
          mma_sp(acc[c][tt], av[c][s], b, word(mv[c][s / 4], s % 4));
        }
      }
    }
  }
#pragma unroll
  for (int c = 0; c < kWarpBlocks; ++c)
#pragma unroll
    for (int tt = 0; tt < Tiles; ++tt)
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        const int64_t ch = (cb0 + c) * s24dev::kChannels + s24dev::d_channel(lane, i);
        const int64_t tok = s24dev::token0(blockIdx.z, Tiles, tt) + s24dev::d_token(lane, i);
        if (ch >= a.n || tok >= a.m) continue;
        if constexpr (Kind == kF16)
          atomicAdd(a.y + tok * a.n + ch, acc[c][tt][i]);
        else
          atomicAdd(a.acc + tok * a.n + ch, acc[c][tt][i]);
      }
}

// A row of x holding NaN or ±Inf gives NaN in every column of y, as the CPU kernels do (a pruned
// weight multiplies it too): the tensor cores only see the stored weights.
__global__ void nonfinite_rows_kernel(const float* __restrict__ x, int64_t k, float* __restrict__ y, int64_t n) {
  const int64_t row = blockIdx.x;
  int bad = 0;
  for (int64_t p = threadIdx.x; p < k; p += blockDim.x) bad |= !isfinite(x[row * k + p]);
  if (!__syncthreads_or(bad)) return;
  for (int64_t j = threadIdx.x; j < n; j += blockDim.x)
    if (isfinite(y[row * n + j])) y[row * n + j] = NAN;
}

__global__ void dequant_kernel(const int32_t* __restrict__ acc, const float* __restrict__ sx,
                               const float* __restrict__ sw, int64_t m, int64_t n, float* __restrict__ y) {
  for (int64_t at = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; at < m * n;
       at += static_cast<int64_t>(gridDim.x) * blockDim.x)
    y[at] = s24dev::dequant_i8(acc[at], sx[at / n], sw[at % n]);
}

class Sparse24Weights final : public llmc_cuda_weights {
 public:
  int kind = kF16;
  int64_t blocks = 0, kblocks = 0;
  int sms = 1;
  DeviceArray<uint8_t> tiles;
  DeviceArray<float> scale;

  llmc_status run(int64_t m, const float* x, float* y, cudaStream_t s) const override {
    return kind == kF16 ? run_f16(m, x, y, s) : run_i8(m, x, y, s);
  }
  int64_t device_bytes() const override { return static_cast<int64_t>(tiles.bytes() + scale.bytes()); }
  const char* kernel() const override { return kind == kF16 ? "sparse24_f16" : "sparse24_w8a8"; }

 private:
  llmc_status run_f16(int64_t m, const float* x, float* y, cudaStream_t s) const {
    void* xh = nullptr;
    LLMC_TRY(scratch(kScratchB, static_cast<size_t>(m * k) * sizeof(__half), &xh));
    to_f16(x, m * k, static_cast<__half*>(xh), s);
    LLMC_CUDA_TRY(cudaMemsetAsync(y, 0, static_cast<size_t>(m * n) * sizeof(float), s), "sparse24_f16: clearing y");
    Args a = args(m, xh);
    a.y = y;
    LLMC_TRY(launch(a, s));
    nonfinite_rows_kernel<<<static_cast<unsigned>(m), 256, 0, s>>>(x, k, y, n);
    LLMC_CUDA_TRY(cudaGetLastError(), "sparse24_f16: non-finite rows");
    return LLMC_OK;
  }

  llmc_status run_i8(int64_t m, const float* x, float* y, cudaStream_t s) const {
    void *xq = nullptr, *sx = nullptr, *acc = nullptr;
    LLMC_TRY(scratch(kScratchXq, static_cast<size_t>(m * k), &xq));
    LLMC_TRY(scratch(kScratchXs, static_cast<size_t>(m) * sizeof(float), &sx));
    LLMC_TRY(scratch(kScratchA, static_cast<size_t>(m * n) * sizeof(int32_t), &acc));
    quantize_rows_i8(x, k, m, m, k, static_cast<int8_t*>(xq), static_cast<float*>(sx), s);
    LLMC_CUDA_TRY(cudaMemsetAsync(acc, 0, static_cast<size_t>(m * n) * sizeof(int32_t), s),
                  "sparse24_w8a8: clearing sums");
    Args a = args(m, xq);
    a.acc = static_cast<int32_t*>(acc);
    LLMC_TRY(launch(a, s));
    const unsigned grid = static_cast<unsigned>(std::min<int64_t>(ceil_div(m * n, 256), 4096));
    dequant_kernel<<<grid, 256, 0, s>>>(a.acc, static_cast<const float*>(sx), scale.get(), m, n, y);
    LLMC_CUDA_TRY(cudaGetLastError(), "sparse24_w8a8: scaling");
    return LLMC_OK;
  }

  Args args(int64_t m, const void* xdev) const {
    Args a{};
    a.tiles = tiles.get();
    a.blocks = blocks, a.kblocks = kblocks;
    a.n = n, a.k = k, a.m = m;
    a.x = xdev;
    return a;
  }

  llmc_status launch(Args& a, cudaStream_t s) const {
    const s24dev::Plan p = s24dev::plan(a.m, blocks, kblocks, sms);
    if (p.passes > 65535 || p.splits > 65535 || p.grid_x > 0x7FFFFFFF)
      return llmc::fail(LLMC_INVALID_ARGUMENT, "%s: the grid for m=%lld, n=%lld, k=%lld exceeds the CUDA grid limits",
                        kernel(), static_cast<long long>(a.m), static_cast<long long>(n), static_cast<long long>(k));
    a.kb_per_split = p.kb_per_split;
    const dim3 grid(static_cast<unsigned>(p.grid_x), static_cast<unsigned>(p.splits), static_cast<unsigned>(p.passes));
    if (kind == kF16)
      launch_tiles<kF16>(p.tiles, grid, a, s);
    else
      launch_tiles<kI8>(p.tiles, grid, a, s);
    LLMC_CUDA_TRY(cudaGetLastError(), kernel());
    return LLMC_OK;
  }

  template <int Kind>
  static void launch_tiles(int tiles_per_pass, dim3 grid, const Args& a, cudaStream_t s) {
    const unsigned threads = kWarps * 32;
    switch (tiles_per_pass) {
      case 1:
        sparse24_kernel<Kind, 1><<<grid, threads, 0, s>>>(a);
        break;
      case 2:
        sparse24_kernel<Kind, 2><<<grid, threads, 0, s>>>(a);
        break;
      case 3:
        sparse24_kernel<Kind, 3><<<grid, threads, 0, s>>>(a);
        break;
      default:
        sparse24_kernel<Kind, 4><<<grid, threads, 0, s>>>(a);
        break;
    }
  }
};

}  // namespace

llmc_status upload_s24(const llmc_s24_weights* w, llmc_cuda_weights** out) {
  s24dev::Image img;
  LLMC_TRY(s24dev::build_image(w, &img));
  std::unique_ptr<Sparse24Weights> dev(new (std::nothrow) Sparse24Weights);
  if (!dev) return llmc::fail(LLMC_OUT_OF_MEMORY, "upload_s24: out of host memory");
  dev->n = img.n, dev->k = img.k;
  dev->kind = img.kind;
  dev->blocks = img.blocks(), dev->kblocks = img.kblocks();
  LLMC_CUDA_TRY(cudaDeviceGetAttribute(&dev->sms, cudaDevAttrMultiProcessorCount, 0),
                "upload_s24: querying the SM count");
  LLMC_TRY(dev->tiles.upload(img.tiles.data(), img.tiles.size(), "upload_s24: 2:4 weight tiles"));
  if (img.kind == kI8) LLMC_TRY(dev->scale.upload(img.scale.data(), img.scale.size(), "upload_s24: channel scales"));
  *out = dev.release();
  return LLMC_OK;
}

}  // namespace cuda
}  // namespace llmc
