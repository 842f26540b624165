// gemm_f32.cpp — the fp32 GEMM driver: argument checks, dispatch on the ISA level, cache blocking,
// packing (all four transpose combinations are absorbed here), threading on the pool.
// Compiled with baseline flags: every vector instruction lives in the per-ISA files.
//
// Loop nest of the packed path (GotoBLAS), for each chunk of at most kMChunk rows × kNChunk columns:
//   for pc in k, step kc:                       (one kc-deep slice)
//     parallel: pack the chunk's rows of alpha·op(A) and columns of op(B) for the slice
//     parallel over tasks (mc rows × nc columns):
//       for jr in task columns, step NR:        (B micro-panel kc×NR: reused by every ir)
//         for ir in task rows, step MR:         (A block mc×kc: reused by every jr)
//           micro-kernel → C tile (= on the first slice when beta = 0, += otherwise)
// kc is large (1024): each slice reads and writes all of C once, and on a machine whose L3 is
// shared with neighbours that traffic, not the packed panels (which stream well from L2), was
// measured to be the bottleneck (kc 256 → 1024: +20% at m = 512, k = n = 4096).
// Small m with B stored [n×k] (linear layers at small batch) skip packing: see gemm_f32.h.
#include "gemm_f32.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <new>

#include "llmc.h"
#include "status.h"
#include "thread_pool.h"

namespace llmc {
namespace gemm {
namespace {

// Rows of A and columns of B packed at once: bound the packing buffers to (kMChunk + kNChunk)·kc
// floats (32 MiB at kc = 1024).
constexpr int64_t kMChunk = 4096;
constexpr int64_t kNChunk = 4096;

struct Plan {
  Kernels k;
  int64_t small_m;  // largest m that takes the no-packing path (B stored [n×k] only); the
                    // crossovers were measured on Zen 5 at k = n = 4096 (about 64 with AVX-512,
                    // 32 with AVX2): below them packing B costs more than it saves
};

Plan plan_for(llmc_isa isa) {
#if defined(LLMC_HAVE_X86_KERNELS)
  if (isa == LLMC_ISA_AVX512) return {{kAvx512MR, kAvx512NR, 1024, 14 * 24, 256, micro_avx512, small_nt_avx512, pack_t_avx512}, 64};
  if (isa == LLMC_ISA_AVX2) return {{kAvx2MR, kAvx2NR, 1024, 6 * 48, 256, micro_avx2, small_nt_avx2, pack_t_avx2}, 32};
#elif defined(LLMC_HAVE_NEON_KERNELS)
  if (isa == LLMC_ISA_NEON) return {{kNeonMR, kNeonNR, 512, 8 * 32, 192, micro_neon, small_nt_neon, pack_t_neon}, 16};
#else
  (void)isa;
#endif
  return {{kScalarMR, kScalarNR, 256, 128, 256, micro_scalar, small_nt_scalar, pack_t_scalar}, 16};
}

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
int64_t round_up(int64_t a, int64_t b) { return ceil_div(a, b) * b; }

// A growable 64-byte-aligned scratch buffer per calling thread (packing buffers are reused across
// calls: allocating megabytes per call would cost a page fault per 4 KiB every time). It holds at
// most (kMChunk + kNChunk)·kc floats, 32 MiB, per thread that has called a large GEMM.
struct Scratch {
  float* data = nullptr;
  size_t size = 0;
  ~Scratch() { ::operator delete(data, std::align_val_t(64)); }
  float* get(size_t n) {
    if (n > size) {
      ::operator delete(data, std::align_val_t(64));
      data = static_cast<float*>(::operator new(n * sizeof(float), std::align_val_t(64), std::nothrow));
      size = data ? n : 0;
    }
    return data;
  }
};
thread_local Scratch t_scratch;

struct Problem {
  int trans_a, trans_b;
  int64_t m, n, k;
  float alpha;
  const float* a;
  int64_t lda;
  const float* b;
  int64_t ldb;
  float* c;
  int64_t ldc;
};

// Packs rows [i0, i0+rows) × columns [p0, p0+kc) of alpha·op(A) into MR-row micro-panels (zero rows
// past `rows`). `panel` selects one micro-panel.
void pack_a_panel(const Problem& pr, const Kernels& K, int64_t i0, int64_t rows, int64_t p0, int64_t kc, int64_t panel, float* ap) {
  const int mr = K.mr;
  const int64_t r0 = panel * mr;
  const int64_t nr = std::min<int64_t>(mr, rows - r0);
  float* dst = ap + panel * mr * kc;
  const float alpha = pr.alpha;
  if (!pr.trans_a) {  // A [m×k]: row i is contiguous along p
    K.pack_t(pr.a + (i0 + r0) * pr.lda + p0, pr.lda, static_cast<int>(nr), kc, alpha, dst, mr);
  } else {  // A stored [k×m]: row p of the storage holds column p of op(A), contiguous along i
    if (nr < mr) std::memset(dst, 0, sizeof(float) * mr * kc);
    for (int64_t p = 0; p < kc; ++p) {
      const float* src = pr.a + (p0 + p) * pr.lda + i0 + r0;
      for (int64_t i = 0; i < nr; ++i) dst[p * mr + i] = alpha * src[i];
    }
  }
}

// Packs rows [p0, p0+kc) × columns [NR·panel, …) of op(B) into an NR-column micro-panel.
void pack_b_panel(const Problem& pr, const Kernels& K, int64_t col0, int64_t cols, int64_t p0, int64_t kc, int64_t panel, float* bp) {
  const int nr_tile = K.nr;
  const int64_t j0 = col0 + panel * nr_tile;
  const int64_t nc = std::min<int64_t>(nr_tile, col0 + cols - j0);
  float* dst = bp + panel * nr_tile * kc;
  if (pr.trans_b) {  // B stored [n×k]: column j of op(B) is a contiguous row
    K.pack_t(pr.b + j0 * pr.ldb + p0, pr.ldb, static_cast<int>(nc), kc, 1.0f, dst, nr_tile);
  } else {  // B [k×n]: row p is contiguous along j
    if (nc < nr_tile) std::memset(dst, 0, sizeof(float) * nr_tile * kc);
    for (int64_t p = 0; p < kc; ++p) std::memcpy(dst + p * nr_tile, pr.b + (p0 + p) * pr.ldb + j0, sizeof(float) * nc);
  }
}

llmc_status packed_gemm(const Problem& pr, const Kernels& K, float beta) {
  const int threads = pool_threads();
  const int64_t mr = K.mr, nr = K.nr;
  const int64_t kc_max = std::min<int64_t>(K.kc, pr.k);
  const int64_t chunk_rows = std::min(pr.m, kMChunk);
  const int64_t chunk_cols = std::min(pr.n, kNChunk);
  const size_t a_size = static_cast<size_t>(round_up(round_up(chunk_rows, mr) * kc_max, 16));  // keeps B 64-byte aligned
  const size_t b_size = static_cast<size_t>(round_up(chunk_cols, nr) * kc_max);
  float* ap = t_scratch.get(a_size + b_size);
  if (ap == nullptr)
    return fail(LLMC_OUT_OF_MEMORY, "gemm: cannot allocate %.1f MiB of packing buffers",
                static_cast<double>((a_size + b_size) * sizeof(float)) / 1048576.0);
  float* bp = ap + a_size;

  for (int64_t i0 = 0; i0 < pr.m; i0 += kMChunk) {
    const int64_t rows = std::min(kMChunk, pr.m - i0);
    const int64_t a_panels = ceil_div(rows, mr);
    for (int64_t j0 = 0; j0 < pr.n; j0 += kNChunk) {
      const int64_t cols = std::min(kNChunk, pr.n - j0);
      const int64_t b_panels = ceil_div(cols, nr);
      // Task grid: rows split evenly into blocks of at most mc, columns into blocks of about nc,
      // with enough tasks (>= 4 per thread) to balance the cores.
      const int64_t mblocks = ceil_div(rows, K.mc);
      const int64_t mb = round_up(ceil_div(rows, mblocks), mr);
      const int64_t m_tasks = ceil_div(rows, mb);
      int64_t nblocks = std::max(ceil_div(cols, K.nc), ceil_div(4 * threads, m_tasks));
      const int64_t nb = round_up(ceil_div(cols, nblocks), nr);
      nblocks = ceil_div(cols, nb);

      for (int64_t p0 = 0; p0 < pr.k; p0 += kc_max) {
        const int64_t kc = std::min(kc_max, pr.k - p0);
        const bool accumulate = p0 > 0 || beta != 0.0f;
        // Pack: one task per group of micro-panels (A panels first, then B panels).
        constexpr int64_t kGroup = 4;
        const int64_t a_groups = ceil_div(a_panels, kGroup), b_groups = ceil_div(b_panels, kGroup);
        parallel_for(a_groups + b_groups, [&](int64_t t, int) {
          if (t < a_groups) {
            for (int64_t q = t * kGroup; q < std::min(a_panels, (t + 1) * kGroup); ++q) pack_a_panel(pr, K, i0, rows, p0, kc, q, ap);
          } else {
            t -= a_groups;
            for (int64_t q = t * kGroup; q < std::min(b_panels, (t + 1) * kGroup); ++q) pack_b_panel(pr, K, j0, cols, p0, kc, q, bp);
          }
        });
        parallel_for(m_tasks * nblocks, [&](int64_t t, int) {
          const int64_t ib = t % m_tasks, jb = t / m_tasks;
          const int64_t r_begin = ib * mb, r_end = std::min(rows, r_begin + mb);
          const int64_t c_begin = jb * nb, c_end = std::min(cols, c_begin + nb);
          for (int64_t j = c_begin; j < c_end; j += nr) {
            const float* bpanel = bp + (j / nr) * nr * kc;
            const int nr_eff = static_cast<int>(std::min(nr, c_end - j));
            for (int64_t i = r_begin; i < r_end; i += mr) {
              const float* apanel = ap + (i / mr) * mr * kc;
              const int mr_eff = static_cast<int>(std::min(mr, r_end - i));
              K.micro(kc, apanel, bpanel, pr.c + (i0 + i) * pr.ldc + j0 + j, pr.ldc, mr_eff, nr_eff, accumulate);
            }
          }
        });
      }
    }
  }
  return LLMC_OK;
}

// C = beta·C (beta = 0 writes zeros without reading C).
void scale_c(const Problem& pr, float beta) {
  parallel_for(pr.m, [&](int64_t i, int) {
    float* row = pr.c + i * pr.ldc;
    if (beta == 0.0f) std::fill(row, row + pr.n, 0.0f);
    else for (int64_t j = 0; j < pr.n; ++j) row[j] *= beta;
  });
}

}  // namespace
}  // namespace gemm
}  // namespace llmc

extern "C" llmc_status llmc_sgemm(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                                  const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c,
                                  int64_t ldc) {
  using namespace llmc::gemm;
  using llmc::fail;
  if (m < 0 || n < 0 || k < 0)
    return fail(LLMC_INVALID_ARGUMENT, "gemm: m, n and k must be >= 0, got m=%lld n=%lld k=%lld",
                static_cast<long long>(m), static_cast<long long>(n), static_cast<long long>(k));
  const int64_t a_cols = trans_a ? m : k, b_cols = trans_b ? k : n;
  if (lda < std::max<int64_t>(1, a_cols))
    return fail(LLMC_INVALID_ARGUMENT, "gemm: lda must be >= %lld (%s), got %lld", static_cast<long long>(std::max<int64_t>(1, a_cols)),
                trans_a ? "m, A stored [k x m]" : "k, A stored [m x k]", static_cast<long long>(lda));
  if (ldb < std::max<int64_t>(1, b_cols))
    return fail(LLMC_INVALID_ARGUMENT, "gemm: ldb must be >= %lld (%s), got %lld", static_cast<long long>(std::max<int64_t>(1, b_cols)),
                trans_b ? "k, B stored [n x k]" : "n, B stored [k x n]", static_cast<long long>(ldb));
  if (ldc < std::max<int64_t>(1, n))
    return fail(LLMC_INVALID_ARGUMENT, "gemm: ldc must be >= %lld (n), got %lld", static_cast<long long>(std::max<int64_t>(1, n)),
                static_cast<long long>(ldc));
  if (m == 0 || n == 0) return LLMC_OK;
  if (c == nullptr) return fail(LLMC_INVALID_ARGUMENT, "gemm: c is null");
  const Problem pr{trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, c, ldc};
  if (k == 0 || alpha == 0.0f) {
    if (beta != 1.0f) scale_c(pr, beta);
    return LLMC_OK;
  }
  if (a == nullptr || b == nullptr) return fail(LLMC_INVALID_ARGUMENT, "gemm: a or b is null");

  const Plan plan = plan_for(llmc_isa_active());
  if (!trans_a && trans_b && m <= plan.small_m) {
    const int threads = llmc::pool_threads();
    const int64_t rows_per_task = std::max<int64_t>(4, round_up(ceil_div(n, 8 * threads), 4));
    llmc::parallel_for(ceil_div(n, rows_per_task), [&](int64_t t, int) {
      const int64_t j0 = t * rows_per_task, j1 = std::min(n, j0 + rows_per_task);
      plan.k.small_nt(m, j0, j1, k, alpha, a, lda, b, ldb, beta, c, ldc);
    });
    return LLMC_OK;
  }
  if (beta != 0.0f && beta != 1.0f) scale_c(pr, beta);
  return packed_gemm(pr, plan.k, beta);
}

extern "C" llmc_status llmc_sgemm_peak(double* gflops) {
  using namespace llmc::gemm;
  if (gflops == nullptr) return llmc::fail(LLMC_INVALID_ARGUMENT, "sgemm_peak: gflops is null");
  float (*loop)(int64_t) = fma_peak_scalar;
  double flops_per_iter = 2.0 * 8;
#if defined(LLMC_HAVE_X86_KERNELS)
  const llmc_isa isa = llmc_isa_active();
  if (isa == LLMC_ISA_AVX512) loop = fma_peak_avx512, flops_per_iter = 2.0 * 24 * 16;
  if (isa == LLMC_ISA_AVX2) loop = fma_peak_avx2, flops_per_iter = 2.0 * 12 * 8;
#elif defined(LLMC_HAVE_NEON_KERNELS)
  if (llmc_isa_active() == LLMC_ISA_NEON) loop = fma_peak_neon, flops_per_iter = 2.0 * 16 * 4;
#endif
  const int threads = llmc::pool_threads();
  const int64_t iters = static_cast<int64_t>(5e9 / flops_per_iter);  // 5 GFLOP per thread
  std::atomic<int> sink{0};  // consumes each loop's result so that none is optimized away
  double best = 0;
  for (int run = 0; run < 3; ++run) {  // best of three: neighbours on a shared host only slow it down
    const auto t0 = std::chrono::steady_clock::now();
    llmc::parallel_for(threads, [&](int64_t, int) { sink += loop(iters) > 0.0f ? 1 : 0; });
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    best = std::max(best, flops_per_iter * static_cast<double>(iters) * threads / s * 1e-9);
  }
  *gflops = best;
  return LLMC_OK;
}
