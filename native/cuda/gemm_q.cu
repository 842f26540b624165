// gemm_q.cu — the dense GEMMs on tensor cores: w4a16 (int4 codes dequantized in registers to f16,
// mma m16n8k16), w8a8 (int8 × int8, mma m16n8k32) and f16 (dense f16 weights, the baseline).
//
// Layouts: gemm_q_layout.h. Per call:
//   1. activations → A fragments in register order (f16: rounded and gathered by perm here; s8:
//      quantize_rows_i8 of common.cuh, then reordered), m padded to 16·MT rows, k to the chunk;
//   2. the GEMM: a block of 4 warps, each warp one slab of 64 columns (8 n8 tiles) × MT m-tiles ×
//      one split of k; per chunk a lane issues 4 independent 16-byte weight loads (the next chunk's
//      loads are in flight while this one is multiplied), dequantizes (w4) and runs 8·MT mma per k step;
//      the warps of a block share the k range, so their A fragment loads hit L1;
//   3. split-K: when k is split, y is zeroed (by the kernel of step 1) and every split adds its partial sums with
//   atomicAdd
//      (float2 atomics on sm_90), so the summation order over splits is not deterministic; with one
//      split, y is stored directly.
//            grid (slabs / 4 warps, splits, m_pad / (16·MT)), epilogue y = acc · colscale[j] (· s_x[i] for w8a8)
#include <algorithm>
#include <memory>
#include <type_traits>

#include "gemm_q_layout.h"
#include "weights.h"

namespace llmc {
namespace cuda {

namespace {

using gq::kF16;
using gq::kW4;
using gq::kW8;

constexpr int kWarps = 4;
constexpr int kThreads = 32 * kWarps;

struct GemmArgs {
  const uint4* w;         // packed weights
  const uint4* scale;     // w4: f16 group scales; else null
  const uint4* zero;      // w4 asymmetric: f16 1024 + zero; else null (1024 + 8)
  const float* colscale;  // [np]
  const float* rowscale;  // w8a8: activation scales [m_pad]; else null
  const uint4* a;         // A fragments [m_pad/16][steps][32]
  float* y;               // [m × n], row stride n
  int64_t m, n, slabs, chunks, per, steps, group, G;
  bool atomic;  // y += partial (split k) instead of y = result
};

// One chunk of one lane: 4 weight vectors, and for w4 the scales / zero points of its two halves.
struct Chunk {
  uint4 w[gq::kVecs];
  uint4 s[2], z[2];
};

__device__ __forceinline__ uint4 ld_stream(const uint4* p) {  // read once: keep L1 for the activations
  uint4 v;
  asm("ld.global.nc.L1::no_allocate.v4.u32 {%0, %1, %2, %3}, [%4];"
      : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w)
      : "l"(p));
  return v;
}

__device__ __forceinline__ uint32_t word_of(const uint4& u, int i) {
  return i == 0 ? u.x : i == 1 ? u.y : i == 2 ? u.z : u.w;
}

__device__ __forceinline__ __half2 as_h2(uint32_t u) {
  union {
    uint32_t u;
    __half2 h;
  } c;
  c.u = u;
  return c.h;
}
__device__ __forceinline__ uint32_t as_u32(__half2 h) {
  union {
    __half2 h;
    uint32_t u;
  } c;
  c.h = h;
  return c.u;
}
// f16 number `tile` (0..7) of a uint4, in both halves.
__device__ __forceinline__ __half2 half_pair(const uint4& u, int tile) {
  return as_h2(gq::w4_meta_pair(u.x, u.y, u.z, u.w, tile));
}

__device__ __forceinline__ void mma_f16(float (&d)[4], const uint4& a, uint32_t b0, uint32_t b1) {
  asm("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, "
      "%3};"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a.x), "r"(a.y), "r"(a.z), "r"(a.w), "r"(b0), "r"(b1));
}
__device__ __forceinline__ void mma_s8(int (&d)[4], const uint4& a, uint32_t b0, uint32_t b1) {
  asm("mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};"
      : "+r"(d[0]), "+r"(d[1]), "+r"(d[2]), "+r"(d[3])
      : "r"(a.x), "r"(a.y), "r"(a.z), "r"(a.w), "r"(b0), "r"(b1));
}

template <int K>
__device__ __forceinline__ Chunk load_chunk(const GemmArgs& p, int64_t slab, int64_t c, int lane) {
  Chunk b;
#pragma unroll
  for (int j = 0; j < gq::kVecs; ++j) b.w[j] = ld_stream(p.w + gq::w_vec_index(slab, c, p.chunks, j, lane));
  if (K == kW4) {
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      const int64_t i = gq::w4_meta_index(slab, gq::w4_chunk_group(c, h, p.group, p.G), p.G, lane);
      b.s[h] = __ldg(p.scale + i);
      b.z[h] = p.zero ? __ldg(p.zero + i) : make_uint4(0x64086408u, 0x64086408u, 0x64086408u, 0x64086408u);
    }
  }
  return b;
}

// The B registers of the 8 tiles for mma step `step` of a chunk.
template <int K>
__device__ __forceinline__ void b_regs(const Chunk& b, int step, uint32_t (&frag)[gq::kTiles][2]) {
  if (K == kW4) {
    const uint4 wv = b.w[step];
#pragma unroll
    for (int v = 0; v < 4; ++v)
#pragma unroll
      for (int pr = 0; pr < 4; ++pr) {
        const int tile = gq::w4_pair_tile(v, pr);
        const __half2 u = as_h2(gq::w4_pair_bits(word_of(wv, v), pr));  // 1024 + code
        const __half2 d = __hmul2(__hsub2(u, half_pair(b.z[step / 2], tile)), half_pair(b.s[step / 2], tile));
        frag[tile][gq::w4_pair_reg(pr)] = as_u32(d);
      }
  } else {
#pragma unroll
    for (int j = 0; j < gq::kVecs; ++j)
#pragma unroll
      for (int v = 0; v < 4; ++v) frag[gq::vec_tile(j, v)][gq::vec_reg(v)] = word_of(b.w[j], v);
  }
}

__device__ __forceinline__ void put_pair(const GemmArgs& p, int64_t row, int64_t col, float v0, float v1) {
  if (row >= p.m || col >= p.n) return;
  float* y = p.y + row * p.n + col;
  const bool both = col + 1 < p.n;
  if (!p.atomic) {
    y[0] = v0;
    if (both) y[1] = v1;
    return;
  }
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  if (both && (p.n % 2) == 0) {  // col is even: 8-byte aligned
    atomicAdd(reinterpret_cast<float2*>(y), make_float2(v0, v1));
    return;
  }
#endif
  atomicAdd(y, v0);
  if (both) atomicAdd(y + 1, v1);
}

template <int K, int MT>
__global__ void __launch_bounds__(kThreads) gemm_kernel(const GemmArgs p) {
  using Acc = typename std::conditional<K == kW8, int, float>::type;
  constexpr int kSteps = K == kW4 ? 4 : 1;  // mma k steps per chunk
  const int lane = threadIdx.x % 32;
  const int64_t slab = static_cast<int64_t>(blockIdx.x) * kWarps + threadIdx.x / 32;
  if (slab >= p.slabs) return;  // no block-wide synchronization below
  int64_t c0, c1;
  gq::split_range(blockIdx.y, p.per, p.chunks, &c0, &c1);
  const int64_t mt0 = static_cast<int64_t>(blockIdx.z) * MT;

  Acc acc[MT][gq::kTiles][4];
#pragma unroll
  for (int mt = 0; mt < MT; ++mt)
#pragma unroll
    for (int t = 0; t < gq::kTiles; ++t)
#pragma unroll
      for (int i = 0; i < 4; ++i) acc[mt][t][i] = 0;

  Chunk cur = load_chunk<K>(p, slab, c0, lane);
  for (int64_t c = c0; c < c1; ++c) {
    const Chunk next = load_chunk<K>(p, slab, c + 1 < c1 ? c + 1 : c, lane);  // in flight during the mma below
#pragma unroll
    for (int step = 0; step < kSteps; ++step) {
      uint4 a[MT];
#pragma unroll
      for (int mt = 0; mt < MT; ++mt) a[mt] = __ldg(p.a + gq::a_vec_index(mt0 + mt, c * kSteps + step, p.steps, lane));
      uint32_t frag[gq::kTiles][2];
      b_regs<K>(cur, step, frag);
#pragma unroll
      for (int t = 0; t < gq::kTiles; ++t)
#pragma unroll
        for (int mt = 0; mt < MT; ++mt) {
          if constexpr (K == kW8)
            mma_s8(acc[mt][t], a[mt], frag[t][0], frag[t][1]);
          else
            mma_f16(acc[mt][t], a[mt], frag[t][0], frag[t][1]);
        }
    }
    cur = next;
  }

#pragma unroll
  for (int mt = 0; mt < MT; ++mt)
#pragma unroll
    for (int t = 0; t < gq::kTiles; ++t)
#pragma unroll
      for (int i = 0; i < 4; i += 2) {
        const gq::RowCol rc = gq::c_elem(lane, i);
        const int64_t row = (mt0 + mt) * 16 + rc.row, col = slab * gq::kSlabCols + t * 8 + rc.col;
        if (row >= p.m || col >= p.n) continue;
        const float f = p.rowscale ? p.rowscale[row] : 1.0f;
        const float s0 = f * p.colscale[col], s1 = f * p.colscale[col + 1];  // col + 1 < np: padding scale 0
        put_pair(p, row, col, static_cast<float>(acc[mt][t][i]) * s0, static_cast<float>(acc[mt][t][i + 1]) * s1);
      }
}

// Zeroes y[0 .. count) for the atomic accumulation of split k (count 0: nothing), saving a memset launch.
__device__ __forceinline__ void zero_y(float* y, int64_t count) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < count;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)
    y[i] = 0.0f;
}

// x f32 [m × k] → f16 A fragments (input p of a row is x[perm[p]] when perm is set); zeroes y[0 .. y_count).
__global__ void pack_a16_kernel(const float* __restrict__ x, int64_t m, int64_t k, const int32_t* __restrict__ perm,
                                int64_t steps, int64_t words, uint32_t* __restrict__ out, float* __restrict__ y,
                                int64_t y_count) {
  zero_y(y, y_count);
  for (int64_t idx = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; idx < words;
       idx += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    uint32_t packed = 0;
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      int64_t row, col;
      gq::a_word_source(kF16, idx, steps, h, &row, &col);
      const float v = row < m && col < k ? x[row * k + (perm ? perm[col] : col)] : 0.0f;
      packed |= static_cast<uint32_t>(__half_as_ushort(__float2half_rn(v))) << (16 * h);
    }
    out[idx] = packed;
  }
}

// int8 codes q [m_pad × k] (quantize_rows_i8) → s8 A fragments; zeroes y[0 .. y_count).
__global__ void pack_a8_kernel(const int8_t* __restrict__ q, int64_t m_pad, int64_t k, int64_t steps, int64_t words,
                               uint32_t* __restrict__ out, float* __restrict__ y, int64_t y_count) {
  zero_y(y, y_count);
  for (int64_t idx = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; idx < words;
       idx += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    uint32_t packed = 0;
#pragma unroll
    for (int b = 0; b < 4; ++b) {
      int64_t row, col;
      gq::a_word_source(kW8, idx, steps, b, &row, &col);
      const int8_t v = row < m_pad && col < k ? q[row * k + col] : int8_t{0};
      packed |= static_cast<uint32_t>(static_cast<uint8_t>(v)) << (8 * b);
    }
    out[idx] = packed;
  }
}

int sm_count() {
  static const int count = [] {
    int c = 0;
    if (cudaDeviceGetAttribute(&c, cudaDevAttrMultiProcessorCount, 0) != cudaSuccess || c < 1) c = 1;
    return c;
  }();
  return count;
}

// Chunks per split: enough warps in flight to cover the DRAM latency (about 8 per SM), at least 256
// inputs per split, and for int8 at most 2^31 / (127 · 128) products per int32 sum.
int64_t chunks_per_split(int kind, int64_t chunks, int64_t warps) {
  const int64_t target = 8 * static_cast<int64_t>(sm_count());
  const int64_t splits = std::max<int64_t>(1, ceil_div(target, warps));
  int64_t per = std::max<int64_t>(ceil_div(chunks, splits), 256 / gq::chunk_k(kind));
  if (kind == kW8) per = std::min<int64_t>(per, 4096);
  return std::min(per, chunks);
}

template <int K, int MT>
void launch(const GemmArgs& p, int64_t splits, int64_t mblocks, cudaStream_t s) {
  const dim3 grid(static_cast<unsigned>(ceil_div(p.slabs, kWarps)), static_cast<unsigned>(splits),
                  static_cast<unsigned>(mblocks));
  gemm_kernel<K, MT><<<grid, kThreads, 0, s>>>(p);
}

class GemmWeights final : public llmc_cuda_weights {
 public:
  explicit GemmWeights(const gq::Packed& P)
      : kind_(P.kind), kp_(P.kp), slabs_(P.slabs), chunks_(P.chunks), group_(P.group), G_(P.G) {
    n = P.n;
    k = P.k;
  }

  llmc_status upload(const gq::Packed& P) {
    LLMC_TRY(w_.upload(reinterpret_cast<const uint4*>(P.w.data()), P.w.size() / 4, "uploading the packed weights"));
    LLMC_TRY(colscale_.upload(P.colscale.data(), P.colscale.size(), "uploading the column scales"));
    if (!P.scale.empty())
      LLMC_TRY(scale_.upload(reinterpret_cast<const uint4*>(P.scale.data()), P.scale.size() / 8,
                             "uploading the group scales"));
    if (!P.zero.empty())
      LLMC_TRY(
          zero_.upload(reinterpret_cast<const uint4*>(P.zero.data()), P.zero.size() / 8, "uploading the zero points"));
    if (!P.perm.empty()) LLMC_TRY(perm_.upload(P.perm.data(), P.perm.size(), "uploading the input permutation"));
    return LLMC_OK;
  }

  llmc_status run(int64_t m, const float* x, float* y, cudaStream_t s) const override {
    const int mt = m > 16 ? 2 : 1;
    const int64_t m_pad = ceil_div(m, 16 * mt) * 16 * mt, mblocks = m_pad / (16 * mt);
    if (mblocks > 65535)
      return llmc::fail(LLMC_INVALID_ARGUMENT, "%s: m must be at most %lld, got %lld", kernel(),
                        static_cast<long long>(65535 * 16 * mt), static_cast<long long>(m));
    const int64_t steps = kp_ / gq::step_k(kind_), words = m_pad / 16 * steps * gq::kLanes * 4;
    void* a = nullptr;
    LLMC_TRY(scratch(kScratchC, static_cast<size_t>(words) * 4, &a));
    GemmArgs p{w_.get(),    scale_.get(),
               zero_.get(), colscale_.get(),
               nullptr,     static_cast<const uint4*>(a),
               y,           m,
               n,           slabs_,
               chunks_,     0,
               steps,       group_,
               G_,          false};
    p.per = chunks_per_split(kind_, chunks_, slabs_ * mblocks);
    const int64_t splits = ceil_div(chunks_, p.per);
    p.atomic = splits > 1;
    const int64_t y_zero = p.atomic ? m * n : 0;  // the packing kernel zeroes y for the atomic sums
    const unsigned pack_blocks = static_cast<unsigned>(std::min<int64_t>(ceil_div(std::max(words, y_zero), 256), 4096));
    if (kind_ == kW8) {
      void *q = nullptr, *sx = nullptr;
      LLMC_TRY(scratch(kScratchA, static_cast<size_t>(m_pad * k), &q));
      LLMC_TRY(scratch(kScratchB, static_cast<size_t>(m_pad) * sizeof(float), &sx));
      quantize_rows_i8(x, k, m, m_pad, k, static_cast<int8_t*>(q), static_cast<float*>(sx), s);
      pack_a8_kernel<<<pack_blocks, 256, 0, s>>>(static_cast<const int8_t*>(q), m_pad, k, steps, words,
                                                 static_cast<uint32_t*>(a), y, y_zero);
      p.rowscale = static_cast<const float*>(sx);
    } else {
      pack_a16_kernel<<<pack_blocks, 256, 0, s>>>(x, m, k, perm_.get(), steps, words, static_cast<uint32_t*>(a), y,
                                                  y_zero);
    }
    LLMC_CUDA_TRY(cudaGetLastError(), "packing the activations");
    if (kind_ == kW4)
      mt == 1 ? launch<kW4, 1>(p, splits, mblocks, s) : launch<kW4, 2>(p, splits, mblocks, s);
    else if (kind_ == kW8)
      mt == 1 ? launch<kW8, 1>(p, splits, mblocks, s) : launch<kW8, 2>(p, splits, mblocks, s);
    else
      mt == 1 ? launch<kF16, 1>(p, splits, mblocks, s) : launch<kF16, 2>(p, splits, mblocks, s);
    LLMC_CUDA_TRY(cudaGetLastError(), kernel());
    return LLMC_OK;
  }

  int64_t device_bytes() const override {
    return static_cast<int64_t>(w_.bytes() + scale_.bytes() + zero_.bytes() + colscale_.bytes() + perm_.bytes());
  }
  const char* kernel() const override { return kind_ == kW4 ? "w4a16" : kind_ == kW8 ? "w8a8" : "f16"; }

 private:
  int kind_;
  int64_t kp_, slabs_, chunks_, group_, G_;
  DeviceArray<uint4> w_, scale_, zero_;
  DeviceArray<float> colscale_;
  DeviceArray<int32_t> perm_;
};

llmc_status finish_upload(const gq::Packed& P, llmc_cuda_weights** out) {
  if (out == nullptr) return llmc::fail(LLMC_INVALID_ARGUMENT, "out must not be NULL");
  std::unique_ptr<GemmWeights> g(new GemmWeights(P));
  LLMC_TRY(g->upload(P));
  *out = g.release();
  return LLMC_OK;
}

}  // namespace

llmc_status upload_q4(const llmc_q4_weights* w, llmc_cuda_weights** out) {
  gq::Packed P;
  LLMC_TRY(gq::pack_w4(w, &P));
  return finish_upload(P, out);
}

llmc_status upload_q8(const llmc_q8_weights* w, llmc_cuda_weights** out) {
  gq::Packed P;
  LLMC_TRY(gq::pack_w8(w, &P));
  return finish_upload(P, out);
}

llmc_status upload_f16(int64_t n, int64_t k, const float* w, llmc_cuda_weights** out) {
  gq::Packed P;
  LLMC_TRY(gq::pack_f16(n, k, w, &P));
  return finish_upload(P, out);
}

}  // namespace cuda
}  // namespace llmc
