// gemm_f32.h — the per-ISA kernels of the fp32 GEMM (gemm_f32.cpp is the driver that calls them).
//
// Packed layouts (GotoBLAS/BLIS). For one kc-deep slice of the product:
//
//   packed A, one micro-panel per MR rows:       packed B, one micro-panel per NR columns:
//     ap[p*MR + i] = alpha · op(A)[i0+i, p0+p]     bp[p*NR + j] = op(B)[p0+p, j0+j]
//     p = 0..kc-1, i = 0..MR-1                     p = 0..kc-1, j = 0..NR-1
//     rows past m are zero                         columns past n are zero
//
//   micro-kernel: C[MR×NR] (=|+=) Σ_p ap[p*MR + i] · bp[p*NR + j]
//   register tile of the AVX-512 kernel (MR = 14, NR = 32): 14 rows × 2 zmm = 28 accumulators; per
//   p it loads 2 zmm of B, broadcasts 14 values of A and issues 28 FMAs.
//
// Small m with B = [n×k] (the linear layer at batch 1..kSmallM): no packing; dot products run
// straight over rows of A and B (4 B rows × 4 A rows per step, vector accumulators along k, one
// horizontal sum at the end). This is the memory-bound GEMV path: each weight is read once.
//
// The ISA files hold only intrinsics and plain loops in anonymous namespaces: no shared inline
// function or template may be emitted from them (the linker could pick an AVX-512 copy for the
// scalar path).
#pragma once

#include <cstdint>

namespace llmc {
namespace gemm {

// C[mr_eff×nr_eff] at c (row stride ldc) = (accumulate ? C : 0) + Ap·Bp over kc.
using MicroFn = void (*)(int64_t kc, const float* ap, const float* bp, float* c, int64_t ldc, int mr_eff,
                         int nr_eff, int accumulate);
// C[i, j] = alpha · Σ_p A[i, p]·B[j, p] + beta · C[i, j] for i < m, j in [j0, j1); beta = 0 never reads C.
using SmallNtFn = void (*)(int64_t m, int64_t j0, int64_t j1, int64_t k, float alpha, const float* a, int64_t lda,
                           const float* b, int64_t ldb, float beta, float* c, int64_t ldc);

// dst[p*width + r] = scale · src[r*ld + p] for r < rows, p < kc, zero rows up to width: packs a
// micro-panel of a k-contiguous operand (A [m×k], or B stored [n×k]).
using PackTFn = void (*)(const float* src, int64_t ld, int rows, int64_t kc, float scale, float* dst, int width);

struct Kernels {
  int mr, nr;        // micro-tile
  int kc, mc, nc;    // cache blocks: kc deep, mc rows (A block), nc columns per task
  MicroFn micro;
  SmallNtFn small_nt;
  PackTFn pack_t;
};

void micro_scalar(int64_t, const float*, const float*, float*, int64_t, int, int, int);
void pack_t_scalar(const float*, int64_t, int, int64_t, float, float*, int);
void small_nt_scalar(int64_t, int64_t, int64_t, int64_t, float, const float*, int64_t, const float*, int64_t, float,
                     float*, int64_t);
#if defined(LLMC_HAVE_X86_KERNELS)
void micro_avx2(int64_t, const float*, const float*, float*, int64_t, int, int, int);
void pack_t_avx2(const float*, int64_t, int, int64_t, float, float*, int);
void small_nt_avx2(int64_t, int64_t, int64_t, int64_t, float, const float*, int64_t, const float*, int64_t, float,
                   float*, int64_t);
void micro_avx512(int64_t, const float*, const float*, float*, int64_t, int, int, int);
void pack_t_avx512(const float*, int64_t, int, int64_t, float, float*, int);
void small_nt_avx512(int64_t, int64_t, int64_t, int64_t, float, const float*, int64_t, const float*, int64_t, float,
                     float*, int64_t);
#endif

// Register-only FMA loop (no memory traffic): iters × (chains × lanes) multiply-adds on one thread.
// Returns a value that depends on every FMA so that none can be elided; the FLOP count is
// 2 · iters · fma_peak_width(isa).
float fma_peak_scalar(int64_t iters);
#if defined(LLMC_HAVE_NEON_KERNELS)
void micro_neon(int64_t, const float*, const float*, float*, int64_t, int, int, int);
void pack_t_neon(const float*, int64_t, int, int64_t, float, float*, int);
void small_nt_neon(int64_t, int64_t, int64_t, int64_t, float, const float*, int64_t, const float*, int64_t, float,
                   float*, int64_t);
float fma_peak_neon(int64_t iters);
#endif
#if defined(LLMC_HAVE_X86_KERNELS)
float fma_peak_avx2(int64_t iters);
float fma_peak_avx512(int64_t iters);
#endif

constexpr int kScalarMR = 4, kScalarNR = 8;
constexpr int kNeonMR = 8, kNeonNR = 12;
constexpr int kAvx2MR = 6, kAvx2NR = 16;
constexpr int kAvx512MR = 14, kAvx512NR = 32;
constexpr int kMaxMR = 16, kMaxNR = 32;

}  // namespace gemm
}  // namespace llmc
