// gemm_q.cpp — the driver of the quantized GEMMs (w8a8, w8a16, w4a8, w4a16): argument checks,
// activation quantization, tiling and threading. Compiled with baseline flags; the vector code is
// in gemm_q_<isa>.cpp. Layouts: gemm_q.h.
//
// A8 (int8 activations), any m:
//   1. parallel over rows: gather the row by perm (act-order), quantize it to int8 into its
//      MR-row micro-panel, with its scale and group sums.
//   2. parallel over tasks = column blocks (a block of weights sized for L2, reused by every row
//      panel) × row ranges; each task: for each row panel, for each 32-column strip: micro-kernel
//      over all of k (int32 accumulation; w4 folds each group into float accumulators).
//   m = 1 is the same loop with one row: every weight byte is read once, streamed from DRAM.
// A16 (float activations):
//   m <= kA16Rows: rows kernel straight on the packed weights (memory-bound: read each byte once).
//   larger m: the fp32 GEMM's packed path, whose B micro-panels are dequantized from the packed
//   weights as it goes (dequantization is O(n·k), the GEMM O(m·n·k)).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <new>

#include "gemm_f32.h"
#include "gemm_q.h"
#include "llmc.h"
#include "scratch.h"
#include "status.h"
#include "thread_pool.h"

namespace llmc {
namespace q {
namespace {

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Scratch for one calling thread (reused across calls).
thread_local Scratch t_scratch;

llmc_status out_of_memory(size_t bytes) {
  return fail(LLMC_OUT_OF_MEMORY, "quantized matmul: cannot allocate %.1f MiB of scratch",
              static_cast<double>(bytes) / 1048576.0);
}

// Carves consecutive 64-byte-aligned pieces out of one scratch allocation.
struct Carver {
  size_t total = 0;
  size_t take(size_t bytes) {
    const size_t at = total;
    total += (bytes + 63) / 64 * 64;
    return at;
  }
};

// What the two weight types look like to the driver.
struct Packed {
  bool int4;
  int64_t n, k, kp, np;
  int64_t block_bytes;  // bytes of one 16-channel block over all of k
  const uint8_t* data;
  const float* scale;
  const uint8_t* zero;
  const int32_t* perm;
  int64_t groups, group_len;  // packed inputs per group (kp when one group)
};

Packed describe(const Q8Weights& w) {
  return {false, w.n, w.k, w.kp(), w.np(), w.kp() * kBlockN, w.data, w.scale, nullptr, nullptr, 1, w.kp()};
}
Packed describe(const Q4Weights& w) {
  const int64_t groups = w.groups();
  return {true,   w.n,     w.k,    w.kp(), w.np(), w.kp() * kBlockN / 2,
          w.data, w.scale, w.zero, w.perm, groups, groups == 1 ? w.kp() : w.group};
}

// Row i of x, gathered by perm and zero-padded to kp, into dst.
void gather_row(const Packed& P, const float* xi, float* dst) {
  if (P.perm)
    for (int64_t p = 0; p < P.k; ++p) dst[p] = xi[P.perm[p]];
  else
    std::memcpy(dst, xi, static_cast<size_t>(P.k) * sizeof(float));
  std::fill(dst + P.k, dst + P.kp, 0.0f);
}

llmc_status matmul_a8(const Packed& P, const Kernels& K, int64_t m, const float* x, int64_t ldx, float* y,
                      int64_t ldy) {
  // Fewer rows than a micro-panel holds (m = 1 above all): pack them densely, so that the tiles'
  // activation broadcasts stay in L1 instead of striding over a mostly empty panel.
  const int mr = static_cast<int>(std::min<int64_t>(m, P.int4 ? K.mr4 : K.mr8));
  const int64_t kq = P.kp / kQuad, panels = ceil_div(m, mr);
  const int threads = pool_threads();
  Carver cv;
  const size_t a_off = cv.take(static_cast<size_t>(panels * kq * mr * kQuad));
  const size_t sx_off = cv.take(static_cast<size_t>(m) * sizeof(float));
  const size_t xs_off = cv.take(static_cast<size_t>(m * P.groups) * sizeof(int32_t));
  const size_t row_off = cv.take(static_cast<size_t>(threads * (P.kp + 16)) * sizeof(float));
  char* base = static_cast<char*>(t_scratch.get(cv.total));
  if (!base) return out_of_memory(cv.total);
  int8_t* a = reinterpret_cast<int8_t*>(base + a_off);
  float* sx = reinterpret_cast<float*>(base + sx_off);
  int32_t* xsum = reinterpret_cast<int32_t*>(base + xs_off);
  float* rows_tmp = reinterpret_cast<float*>(base + row_off);

  // 1. Quantize the rows (padding rows of the last panel are zero).
  const int64_t pad_rows = panels * mr - m;
  if (pad_rows > 0)
    for (int64_t qd = 0; qd < kq; ++qd)
      std::memset(a + ((panels - 1) * kq + qd) * mr * kQuad + (mr - pad_rows) * kQuad, 0,
                  static_cast<size_t>(pad_rows * kQuad));
  const bool direct = P.perm == nullptr && P.k == P.kp;
  parallel_for(m, [&](int64_t i, int thread) {
    const float* xi = x + i * ldx;
    if (!direct) {
      float* tmp = rows_tmp + thread * (P.kp + 16);
      gather_row(P, xi, tmp);
      xi = tmp;
    }
    int8_t* dst = a + ((i / mr) * kq * mr + i % mr) * kQuad;
    sx[i] = K.quant_row(xi, P.kp, P.kp, dst, mr, xsum + i * P.groups, P.group_len);
  });

  // 2. Tasks: column blocks × row ranges.
  // Strips of two blocks: they share each activation load, and at m = 1 two streams per thread read
  // DRAM faster than one (measured: 55 vs 44 GB/s).
  constexpr int64_t kStrip = 2 * kBlockN;
  const int64_t strips = ceil_div(P.np, kStrip);
  // Weights per task block: about 512 KiB (stays in L2 while every row panel passes over it); at
  // m = 1, 256 KiB (streamed once: long enough for the prefetchers to run at full speed).
  const int64_t budget = (m == 1 ? int64_t{256} : int64_t{512}) << 10;
  int64_t strips_per_block = std::max<int64_t>(1, budget / (2 * P.block_bytes));
  int64_t cblocks = ceil_div(strips, strips_per_block);
  if (cblocks < 4 * threads) {
    strips_per_block = std::max<int64_t>(1, strips / (4 * threads));
    cblocks = ceil_div(strips, strips_per_block);
  }
  int64_t rblocks = 1;
  if (cblocks < 4 * threads) rblocks = std::min(panels, ceil_div(4 * threads, cblocks));
  const int64_t panels_per_r = ceil_div(panels, rblocks);
  rblocks = ceil_div(panels, panels_per_r);
  const A8Fn fn = P.int4 ? K.q4_a8 : K.q8_a8;
  parallel_for(cblocks * rblocks, [&](int64_t t, int) {
    const int64_t cb = t / rblocks, rb = t % rblocks;
    const int64_t s0 = cb * strips_per_block, s1 = std::min(strips, s0 + strips_per_block);
    const int64_t q0 = rb * panels_per_r, q1 = std::min(panels, q0 + panels_per_r);
    A8Tile tile;
    tile.kq = kq;
    tile.wstride = P.block_bytes;
    tile.mr = mr;
    tile.groups = P.groups;
    tile.group_q = P.group_len / kQuad;
    tile.ldy = ldy;
    for (int64_t qp = q0; qp < q1; ++qp) {
      const int64_t i0 = qp * mr;
      tile.a = a + qp * kq * mr * kQuad;
      tile.rows = static_cast<int>(std::min<int64_t>(mr, m - i0));
      tile.sx = sx + i0;
      tile.xsum = xsum + i0 * P.groups;
      for (int64_t s = s0; s < s1; ++s) {
        const int64_t j0 = s * kStrip;
        tile.w = P.data + (j0 / kBlockN) * P.block_bytes;
        tile.cols = static_cast<int>(std::min<int64_t>(kStrip, P.n - j0));
        if (tile.cols <= 0) continue;
        tile.scale = P.scale + j0 * P.groups;  // block j0/16, group 0 (block-major scales)
        tile.zero = P.zero ? P.zero + j0 * P.groups : nullptr;
        tile.y = y + i0 * ldy + j0;
        fn(tile);
      }
    }
  });
  return LLMC_OK;
}

llmc_status matmul_a16_rows(const Packed& P, const Kernels& K, int64_t m, const float* x, int64_t ldx, float* y,
                            int64_t ldy) {
  Carver cv;
  const size_t x_off = cv.take(static_cast<size_t>(m * P.kp) * sizeof(float));
  const size_t xs_off = cv.take(static_cast<size_t>(m * P.groups) * sizeof(float));
  char* base = static_cast<char*>(t_scratch.get(cv.total));
  if (!base) return out_of_memory(cv.total);
  float* xp = reinterpret_cast<float*>(base + x_off);
  float* xsum = reinterpret_cast<float*>(base + xs_off);
  for (int64_t i = 0; i < m; ++i) {
    gather_row(P, x + i * ldx, xp + i * P.kp);
    for (int64_t g = 0; g < P.groups; ++g) {
      double s = 0;
      for (int64_t p = g * P.group_len; p < (g + 1) * P.group_len; ++p) s += xp[i * P.kp + p];
      xsum[i * P.groups + g] = static_cast<float>(s);
    }
  }
  const int64_t blocks = P.np / kBlockN;
  const int64_t per_task = std::max<int64_t>(1, blocks / (8 * pool_threads()));
  const A16RowsFn fn = P.int4 ? K.q4_a16 : K.q8_a16;
  parallel_for(ceil_div(blocks, per_task), [&](int64_t t, int) {
    A16Rows r;
    r.kp = P.kp;
    r.data = P.data;
    r.jb0 = t * per_task;
    r.jb1 = std::min(blocks, r.jb0 + per_task);
    r.n = P.n;
    r.np = P.np;
    r.x = xp;
    r.ldx = P.kp;
    r.rows = static_cast<int>(m);
    r.scale = P.scale;
    r.zero = P.zero;
    r.groups = P.groups;
    r.group_len = P.group_len;
    r.xsum = xsum;
    r.y = y;
    r.ldy = ldy;
    fn(r);
  });
  return LLMC_OK;
}

struct PanelCtx {
  Kernels K;
  Q8Weights w8;
  Q4Weights w4;
};

llmc_status matmul_a16_gemm(const Packed& P, const PanelCtx& ctx, int64_t m, const float* x, int64_t ldx, float* y,
                            int64_t ldy) {
  if (P.perm) {  // act-order: the GEMM runs over packed positions, so x is gathered first
    const size_t bytes = static_cast<size_t>(m * P.kp) * sizeof(float);
    float* xp = static_cast<float*>(t_scratch.get(bytes));
    if (!xp) return out_of_memory(bytes);
    parallel_for(m, [&](int64_t i, int) { gather_row(P, x + i * ldx, xp + i * P.kp); });
    x = xp;
    ldx = P.kp;
  }
  gemm::BSource src;
  src.ctx = &ctx;
  src.pack = P.int4 ? +[](const void* c, int64_t j, int cols, int64_t p0, int64_t kc, float* dst, int width) {
    const PanelCtx& pc = *static_cast<const PanelCtx*>(c);
    pc.K.q4_panel(pc.w4, j, cols, p0, kc, dst, width);
  }
                    : +[](const void* c, int64_t j, int cols, int64_t p0, int64_t kc, float* dst, int width) {
                        const PanelCtx& pc = *static_cast<const PanelCtx*>(c);
                        pc.K.q8_panel(pc.w8, j, cols, p0, kc, dst, width);
                      };
  return gemm::sgemm_bsource(m, P.n, P.k, x, ldx, src, y, ldy);
}

llmc_status check_call(const char* what, const Packed& P, int64_t m, const float* x, int64_t ldx, const float* y,
                       int64_t ldy) {
  if (m < 0) return fail(LLMC_INVALID_ARGUMENT, "%s: m must be >= 0, got %lld", what, static_cast<long long>(m));
  if (ldx < P.k)
    return fail(LLMC_INVALID_ARGUMENT, "%s: ldx must be >= k=%lld, got %lld", what, static_cast<long long>(P.k),
                static_cast<long long>(ldx));
  if (ldy < P.n)
    return fail(LLMC_INVALID_ARGUMENT, "%s: ldy must be >= n=%lld, got %lld", what, static_cast<long long>(P.n),
                static_cast<long long>(ldy));
  if (m > 0 && (!x || !y)) return fail(LLMC_INVALID_ARGUMENT, "%s: x or y is null", what);
  if (!P.data || !P.scale) return fail(LLMC_INVALID_ARGUMENT, "%s: weights have null data or scale", what);
  return LLMC_OK;
}

}  // namespace
}  // namespace q
}  // namespace llmc

using namespace llmc;
using namespace llmc::q;

extern "C" llmc_status llmc_q8_matmul(const llmc_q8_weights* w, int act_int8, int64_t m, const float* x, int64_t ldx,
                                      float* y, int64_t ldy) {
  if (!w) return fail(LLMC_INVALID_ARGUMENT, "q8_matmul: null weights");
  if (w->n < 1 || w->k < 1)
    return fail(LLMC_INVALID_ARGUMENT, "q8_matmul: weights must have n, k >= 1, got n=%lld k=%lld",
                static_cast<long long>(w->n), static_cast<long long>(w->k));
  const Q8Weights qw{w->n, w->k, w->data, w->scale};
  const Packed P = describe(qw);
  if (llmc_status s = check_call("q8_matmul", P, m, x, ldx, y, ldy)) return s;
  if (m == 0) return LLMC_OK;
  const Kernels K = kernels_active();
  if (act_int8) {
    // int32 accumulators: Σ (q+128)·x_q <= 255 · 127 · kp must stay below 2^31.
    if (P.kp > 65536)
      return fail(LLMC_UNSUPPORTED, "q8_matmul: w8a8 supports k <= 65536 (int32 accumulation), got k=%lld",
                  static_cast<long long>(P.k));
    return matmul_a8(P, K, m, x, ldx, y, ldy);
  }
  if (m <= kA16Rows) return matmul_a16_rows(P, K, m, x, ldx, y, ldy);
  PanelCtx ctx{K, qw, {}};
  return matmul_a16_gemm(P, ctx, m, x, ldx, y, ldy);
}

extern "C" llmc_status llmc_q4_matmul(const llmc_q4_weights* w, int act_int8, int64_t m, const float* x, int64_t ldx,
                                      float* y, int64_t ldy) {
  if (!w) return fail(LLMC_INVALID_ARGUMENT, "q4_matmul: null weights");
  if (w->n < 1 || w->k < 1 || !valid_group(w->k, w->group))
    return fail(LLMC_INVALID_ARGUMENT, "q4_matmul: invalid weights n=%lld k=%lld group=%lld",
                static_cast<long long>(w->n), static_cast<long long>(w->k), static_cast<long long>(w->group));
  const Q4Weights qw{w->n, w->k, w->group, w->data, w->scale, w->zero, w->perm};
  const Packed P = describe(qw);
  if (llmc_status s = check_call("q4_matmul", P, m, x, ldx, y, ldy)) return s;
  if (m == 0) return LLMC_OK;
  const Kernels K = kernels_active();
  if (act_int8) {
    if (P.group_len > (int64_t{1} << 20))
      return fail(LLMC_UNSUPPORTED, "q4_matmul: w4a8 supports groups of <= 2^20 inputs, got %lld",
                  static_cast<long long>(P.group_len));
    return matmul_a8(P, K, m, x, ldx, y, ldy);
  }
  if (m <= kA16Rows) return matmul_a16_rows(P, K, m, x, ldx, y, ldy);
  PanelCtx ctx{K, {}, qw};
  return matmul_a16_gemm(P, ctx, m, x, ldx, y, ldy);
}

extern "C" llmc_status llmc_int8_peak(double* gops) {
  if (!gops) return fail(LLMC_INVALID_ARGUMENT, "int8_peak: gops is null");
#if defined(LLMC_HAVE_X86_KERNELS)
  if (llmc_isa_active() == LLMC_ISA_AVX512) {
    const double ops_per_iter = 2.0 * 24 * 64;
    const int64_t iters = static_cast<int64_t>(2e10 / ops_per_iter);  // 20 GOP per thread
    const int threads = pool_threads();
    std::atomic<int> sink{0};
    double best = 0;
    for (int run = 0; run < 3; ++run) {
      const auto t0 = std::chrono::steady_clock::now();
      parallel_for(threads, [&](int64_t, int) { sink += dot_peak_avx512(iters) != 0 ? 1 : 0; });
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      best = std::max(best, ops_per_iter * static_cast<double>(iters) * threads / s * 1e-9);
    }
    *gops = best;
    return LLMC_OK;
  }
#endif
  return fail(LLMC_UNSUPPORTED, "int8_peak: the %s level has no int8 dot-product instruction",
              llmc_isa_name(llmc_isa_active()));
}
