// gemm_f32.cpp — the fp32 GEMM driver: argument checks, dispatch on the ISA level, cache blocking,
// packing (all four transpose combinations are absorbed by the packers), threading on the pool.
// Compiled with baseline flags: every vector instruction lives in the per-ISA files.
//
// Packed path, for each chunk of rows whose packed A fits kAPackBudget:
//   1. parallel: pack alpha·op(A) for the whole chunk and all of k, in kc-deep slices of MR-row
//      micro-panels (shared by the threads; it is read from L3).
//   2. parallel over tasks = column blocks of about nc columns (× row blocks when n is too narrow
//      to keep every thread busy); each task, for each kc slice:
//        pack its kc × nc block of op(B) into the thread's own buffer (sized for L2)
//        for ir over the task's rows, step MR:       (A micro-panel kc × MR: in L1 across the jr loop)
//          for jr over the block's columns, step NR: (B micro-panel kc × NR: from L2)
//            micro-kernel → C tile (= on the first slice when beta = 0, += after)
//   The threads never wait on each other inside a chunk: each packs and consumes its own B block
//   (so the packing of one overlaps the other's compute), and they share the packed A in L3.
// Small m skips packing of B entirely (see gemm_f32.h).
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

// Packed A of one chunk of rows, in floats (32 MiB): bigger m is processed in chunks of rows (each
// chunk packs B again, which costs little next to the chunk's compute).
constexpr int64_t kAPackBudget = int64_t{8} << 20;

struct Plan {
  Kernels k;
  // Largest m served without packing B (crossovers measured on Zen 5 at k = n = 4096): NT for
  // trans_b = 1, NN for trans_b = 0 (axpy over rows of B). NT uses dot products below
  // packed_nt_from and, from there when the ISA has it, the packed-Aᵀ broadcast kernel (AVX-512:
  // 8..192; it beats the packed path up to about m = 256 because B is read once, unpacked).
  int64_t small_m_nt, small_m_nn;
  int64_t packed_nt_from;
};

Plan plan_for(llmc_isa isa) {
#if defined(LLMC_HAVE_X86_KERNELS)
  if (isa == LLMC_ISA_AVX512)
    return {{kAvx512MR, kAvx512NR, 768, 512, micro_avx512, small_nt_avx512, small_nn_avx512, pack_t_avx512,
             pack_n_avx512, small_nt_packed_avx512},
            192,
            6,
            8};
  if (isa == LLMC_ISA_AVX2)
    return {{kAvx2MR, kAvx2NR, 256, 512, micro_avx2, small_nt_avx2, small_nn_avx2, pack_t_avx2, pack_n_avx2, nullptr},
            12,
            8,
            0};
#elif defined(LLMC_HAVE_NEON_KERNELS)
  if (isa == LLMC_ISA_NEON)
    return {{kNeonMR, kNeonNR, 512, 240, micro_neon, small_nt_neon, nullptr, pack_t_neon, pack_n_scalar, nullptr},
            16,
            0,
            0};
#else
  (void)isa;
#endif
  return {{kScalarMR, kScalarNR, 256, 256, micro_scalar, small_nt_scalar, small_nn_scalar, pack_t_scalar, pack_n_scalar,
           nullptr},
          16,
          4,
          0};
}

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
int64_t round_up(int64_t a, int64_t b) { return ceil_div(a, b) * b; }

// A growable 64-byte-aligned scratch buffer per calling thread (packing buffers are reused across
// calls: allocating megabytes per call would cost a page fault per 4 KiB every time).
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
thread_local Scratch t_pack;   // packed A + one B block per pool thread (packed path)
thread_local Scratch t_small;  // contiguous copy of op(A) (small-m path with trans_a)

llmc_status out_of_memory(size_t floats) {
  return fail(LLMC_OUT_OF_MEMORY, "gemm: cannot allocate %.1f MiB of packing buffers",
              static_cast<double>(floats * sizeof(float)) / 1048576.0);
}

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
  const BSource* bsrc;  // non-null: B comes from this producer (packed path only)
};

// Walks the cache lines of a block of `rows` rows × `len` floats (row stride ld), `per_call` lines
// per step, issuing prefetches.
struct Prefetcher {
  const char* base = nullptr;
  int64_t stride = 0, rows = 0, lines_per_row = 0, per_call = 0;
  int64_t row = 0, line = 0;
  void init(const float* p, int64_t ld, int64_t r, int64_t len) {
    base = reinterpret_cast<const char*>(p);
    stride = ld * static_cast<int64_t>(sizeof(float));
    rows = r;
    lines_per_row = (len * static_cast<int64_t>(sizeof(float)) + 63) / 64 + 1;  // +1: rows need not start on a line
  }
  int64_t total_lines() const { return rows * lines_per_row; }
  void step() {
    for (int64_t n = 0; n < per_call && row < rows; ++n) {
      __builtin_prefetch(base + row * stride + line * 64, 0, 3);
      if (++line == lines_per_row) line = 0, ++row;
    }
  }
};

llmc_status packed_gemm(const Problem& pr, const Kernels& K, bool beta_zero) {
  const int threads = pool_threads();
  const int64_t mr = K.mr, nr = K.nr;
  // Slices of equal depth (a multiple of 8) of at most K.kc.
  const int64_t slices = ceil_div(pr.k, K.kc);
  const int64_t kc = std::min(pr.k, round_up(ceil_div(pr.k, slices), 8));
  const int64_t k_pad = slices * kc;
  // Rows per chunk: as many as the A budget allows.
  const int64_t chunk_rows = std::min(round_up(pr.m, mr), std::max(mr, kAPackBudget / k_pad / mr * mr));
  const int64_t slice_stride = chunk_rows * kc;  // floats per slice of packed A

  // Column blocks: about nc wide, a whole number of rounds for the threads when there are few.
  int64_t nblocks = ceil_div(pr.n, K.nc);
  if (nblocks < 8 * threads) nblocks = round_up(nblocks, threads);
  const int64_t nb = round_up(ceil_div(pr.n, nblocks), nr);
  nblocks = ceil_div(pr.n, nb);

  const size_t a_size = static_cast<size_t>(round_up(chunk_rows * k_pad, 16));
  const size_t b_size = static_cast<size_t>(round_up(kc * nb, 16));
  float* buf = t_pack.get(a_size + b_size * static_cast<size_t>(threads));
  if (buf == nullptr) return out_of_memory(a_size + b_size * static_cast<size_t>(threads));
  float* const ap = buf;
  float* const bp_all = buf + a_size;

  for (int64_t i0 = 0; i0 < pr.m; i0 += chunk_rows) {
    const int64_t rows = std::min(chunk_rows, pr.m - i0);
    const int64_t a_panels = ceil_div(rows, mr);

    // 1. Pack A: tasks of up to 4 micro-panels of one slice.
    constexpr int64_t kGroup = 4;
    const int64_t groups = ceil_div(a_panels, kGroup);
    parallel_for(slices * groups, [&](int64_t t, int) {
      const int64_t s = t / groups, g = t % groups;
      const int64_t p0 = s * kc, kcs = std::min(kc, pr.k - p0);
      for (int64_t q = g * kGroup; q < std::min(a_panels, (g + 1) * kGroup); ++q) {
        const int64_t r0 = i0 + q * mr;
        const int valid = static_cast<int>(std::min(mr, i0 + rows - r0));
        float* dst = ap + s * slice_stride + q * mr * kc;
        if (!pr.trans_a)
          K.pack_t(pr.a + r0 * pr.lda + p0, pr.lda, valid, kcs, pr.alpha, dst, K.mr);
        else
          K.pack_n(pr.a + p0 * pr.lda + r0, pr.lda, valid, kcs, pr.alpha, dst, K.mr);
      }
    });

    // 2. Compute: row blocks only when the column blocks alone cannot feed every thread.
    int64_t rblocks = 1;
    if (nblocks < 4 * threads) rblocks = std::min(a_panels, ceil_div(4 * threads, nblocks));
    const int64_t panels_per_rblock = ceil_div(a_panels, rblocks);
    rblocks = ceil_div(a_panels, panels_per_rblock);
    parallel_for(nblocks * rblocks, [&](int64_t t, int thread) {
      const int64_t jb = t / rblocks, ib = t % rblocks;
      const int64_t j_begin = jb * nb, j_end = std::min(pr.n, j_begin + nb);
      const int64_t q_begin = ib * panels_per_rblock, q_end = std::min(a_panels, q_begin + panels_per_rblock);
      float* const bp = bp_all + static_cast<size_t>(thread) * b_size;
      for (int64_t s = 0; s < slices; ++s) {
        const int64_t p0 = s * kc, kcs = std::min(kc, pr.k - p0);
        for (int64_t j = j_begin; j < j_end; j += nr) {
          const int valid = static_cast<int>(std::min(nr, j_end - j));
          float* dst = bp + (j - j_begin) * kcs;
          if (pr.bsrc != nullptr)
            pr.bsrc->pack(pr.bsrc->ctx, j, valid, p0, kcs, dst, K.nr);
          else if (pr.trans_b)
            K.pack_t(pr.b + j * pr.ldb + p0, pr.ldb, valid, kcs, 1.0f, dst, K.nr);
          else
            K.pack_n(pr.b + p0 * pr.ldb + j, pr.ldb, valid, kcs, 1.0f, dst, K.nr);
        }
        const int accumulate = (s > 0 || !beta_zero) ? 1 : 0;
        const float* as = ap + s * slice_stride;
        // While this slice computes, fetch the next slice's part of B (the block the next pack
        // reads) a few lines per micro-kernel call, so that the pack reads it from cache.
        Prefetcher pf;
        if (s + 1 < slices && pr.bsrc == nullptr) {
          const int64_t p1 = p0 + kc, kn = std::min(kc, pr.k - p1);
          if (pr.trans_b)
            pf.init(pr.b + j_begin * pr.ldb + p1, pr.ldb, j_end - j_begin, kn);
          else
            pf.init(pr.b + p1 * pr.ldb + j_begin, pr.ldb, kn, j_end - j_begin);
          pf.per_call = ceil_div(pf.total_lines(), (q_end - q_begin) * ceil_div(j_end - j_begin, nr));
        }
        for (int64_t q = q_begin; q < q_end; ++q) {
          const int64_t r0 = q * mr;
          const int mr_eff = static_cast<int>(std::min(mr, rows - r0));
          const float* apanel = as + q * mr * kc;
          float* crow = pr.c + (i0 + r0) * pr.ldc;
          for (int64_t j = j_begin; j < j_end; j += nr) {
            const int nr_eff = static_cast<int>(std::min(nr, j_end - j));
            pf.step();
            K.micro(kcs, apanel, bp + (j - j_begin) * kcs, crow + j, pr.ldc, mr_eff, nr_eff, accumulate);
          }
        }
      }
    });
  }
  return LLMC_OK;
}

// C = beta·C (beta = 0 writes zeros without reading C).
void scale_c(const Problem& pr, float beta) {
  parallel_for(pr.m, [&](int64_t i, int) {
    float* row = pr.c + i * pr.ldc;
    if (beta == 0.0f)
      std::fill(row, row + pr.n, 0.0f);
    else
      for (int64_t j = 0; j < pr.n; ++j) row[j] *= beta;
  });
}

// Small m without packing B. A is made contiguous row-major first when it is stored transposed.
llmc_status small_gemm(const Problem& pr, SmallFn fn, float beta) {
  const float* a = pr.a;
  int64_t lda = pr.lda;
  if (pr.trans_a) {
    float* copy = t_small.get(static_cast<size_t>(pr.m * pr.k));
    if (copy == nullptr) return out_of_memory(static_cast<size_t>(pr.m * pr.k));
    for (int64_t p = 0; p < pr.k; ++p) {
      const float* src = pr.a + p * pr.lda;
      for (int64_t i = 0; i < pr.m; ++i) copy[i * pr.k + p] = src[i];
    }
    a = copy;
    lda = pr.k;
  }
  const int threads = pool_threads();
  // NT: tasks of rows of B (4 at a time in the kernel); NN: tasks of column ranges (the kernel
  // keeps them in L1 for each row of C: at most 1024 columns).
  const int64_t per_task =
      pr.trans_b ? std::max<int64_t>(4, round_up(ceil_div(pr.n, 8 * threads), 4))
                 : std::min<int64_t>(1024, std::max<int64_t>(64, round_up(ceil_div(pr.n, 4 * threads), 64)));
  parallel_for(ceil_div(pr.n, per_task), [&](int64_t t, int) {
    const int64_t j0 = t * per_task, j1 = std::min(pr.n, j0 + per_task);
    fn(pr.m, j0, j1, pr.k, pr.alpha, a, lda, pr.b, pr.ldb, beta, pr.c, pr.ldc);
  });
  return LLMC_OK;
}

// Small m, B stored [n×k], vectors along m: packs alpha·op(A)ᵀ (small) and streams B once.
llmc_status small_nt_packed_gemm(const Problem& pr, SmallNtPackedFn fn, float beta) {
  const int64_t m_pad = round_up(pr.m, 16);
  float* at = t_small.get(static_cast<size_t>(m_pad * pr.k));
  if (at == nullptr) return out_of_memory(static_cast<size_t>(m_pad * pr.k));
  const int64_t pchunk = 256;
  parallel_for(ceil_div(pr.k, pchunk), [&](int64_t t, int) {
    const int64_t p0 = t * pchunk, p1 = std::min(pr.k, p0 + pchunk);
    for (int64_t p = p0; p < p1; ++p) {
      float* d = at + p * m_pad;
      if (pr.trans_a) {
        const float* src = pr.a + p * pr.lda;
        for (int64_t i = 0; i < pr.m; ++i) d[i] = pr.alpha * src[i];
      } else {
        for (int64_t i = 0; i < pr.m; ++i) d[i] = pr.alpha * pr.a[i * pr.lda + p];
      }
      for (int64_t i = pr.m; i < m_pad; ++i) d[i] = 0.0f;
    }
  });
  const int threads = pool_threads();
  const int64_t per_task = std::max<int64_t>(12, round_up(ceil_div(pr.n, 8 * threads), 12));
  parallel_for(ceil_div(pr.n, per_task), [&](int64_t t, int) {
    const int64_t j0 = t * per_task, j1 = std::min(pr.n, j0 + per_task);
    fn(pr.m, m_pad, j0, j1, pr.k, at, pr.b, pr.ldb, beta, pr.c, pr.ldc);
  });
  return LLMC_OK;
}

}  // namespace

llmc_status sgemm_bsource(int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const BSource& b, float* c,
                          int64_t ldc) {
  if (m == 0 || n == 0) return LLMC_OK;
  const Problem pr{0, 1, m, n, k, 1.0f, a, lda, nullptr, 0, c, ldc, &b};
  if (k == 0) {
    scale_c(pr, 0.0f);
    return LLMC_OK;
  }
  return packed_gemm(pr, plan_for(llmc_isa_active()).k, true);
}

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
    return fail(LLMC_INVALID_ARGUMENT, "gemm: lda must be >= %lld (%s), got %lld",
                static_cast<long long>(std::max<int64_t>(1, a_cols)),
                trans_a ? "m, A stored [k x m]" : "k, A stored [m x k]", static_cast<long long>(lda));
  if (ldb < std::max<int64_t>(1, b_cols))
    return fail(LLMC_INVALID_ARGUMENT, "gemm: ldb must be >= %lld (%s), got %lld",
                static_cast<long long>(std::max<int64_t>(1, b_cols)),
                trans_b ? "k, B stored [n x k]" : "n, B stored [k x n]", static_cast<long long>(ldb));
  if (ldc < std::max<int64_t>(1, n))
    return fail(LLMC_INVALID_ARGUMENT, "gemm: ldc must be >= %lld (n), got %lld",
                static_cast<long long>(std::max<int64_t>(1, n)), static_cast<long long>(ldc));
  if (m == 0 || n == 0) return LLMC_OK;
  if (c == nullptr)
    return fail(LLMC_INVALID_ARGUMENT, "gemm: c is null (m=%lld, n=%lld)", static_cast<long long>(m),
                static_cast<long long>(n));
  const Problem pr{trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, c, ldc, nullptr};
  if (k == 0 || alpha == 0.0f) {
    if (beta != 1.0f) scale_c(pr, beta);
    return LLMC_OK;
  }
  if (a == nullptr)
    return fail(LLMC_INVALID_ARGUMENT, "gemm: a is null (m=%lld, k=%lld)", static_cast<long long>(m),
                static_cast<long long>(k));
  if (b == nullptr)
    return fail(LLMC_INVALID_ARGUMENT, "gemm: b is null (k=%lld, n=%lld)", static_cast<long long>(k),
                static_cast<long long>(n));

  const Plan plan = plan_for(llmc_isa_active());
  if (trans_b && m <= plan.small_m_nt) {
    if (plan.k.small_nt_packed != nullptr && m >= plan.packed_nt_from)
      return small_nt_packed_gemm(pr, plan.k.small_nt_packed, beta);
    return small_gemm(pr, plan.k.small_nt, beta);
  }
  if (!trans_b && m <= plan.small_m_nn && plan.k.small_nn != nullptr) return small_gemm(pr, plan.k.small_nn, beta);
  if (beta != 0.0f && beta != 1.0f) scale_c(pr, beta);
  return packed_gemm(pr, plan.k, beta == 0.0f);
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
