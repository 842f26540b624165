// gemm_f32.h — the per-ISA kernels of the fp32 GEMM (gemm_f32.cpp is the driver that calls them).
//
// Packed path (GotoBLAS/BLIS, with the roles of the two packed operands chosen for 2 cores that
// share an L3): for one kc-deep slice [p0, p0+kc) of the product,
//
//   packed A (whole chunk of rows, shared by all threads, streamed from L3):
//     one micro-panel per MR rows, kc × MR floats, p-major:
//
//       ap: | a(0,p0)   a(1,p0)   … a(MR-1,p0)   | a(0,p0+1) … a(MR-1,p0+1) | … | a(MR-1,p0+kc-1) |
//           ap[p*MR + i] = alpha · op(A)[i0+i, p0+p]          (rows past m are zero)
//
//   packed B block (private to the thread that runs the task, sized for its L2):
//     nc columns as nc/NR micro-panels, each kc × NR floats, p-major:
//
//       bp: | b(p0,0) b(p0,1) … b(p0,NR-1) | b(p0+1,0) … | … |   next panel: columns NR..2NR-1 …
//           bp[p*NR + j] = op(B)[p0+p, j0+j]                  (columns past n are zero)
//
//   micro-kernel: C[MR×NR] (= | +=) Σ_p ap[p*MR + i] · bp[p*NR + j]
//     register tile, AVX-512 (MR = 14, NR = 32): 14 rows × 2 zmm = 28 accumulators, 2 zmm of B; per
//     p: 2 vector loads of B, 14 broadcasts of A, 28 FMAs.  AVX2 (6 × 16): 12 ymm accumulators.
//     An A micro-panel (kc × MR) stays in L1 while the kernel sweeps the task's B block (in L2).
//
// Small m (linear layers at batch 1..small_m), no packing of B — every weight is read once:
//   NT (B stored [n×k]), m < 8 (or any small m without AVX-512): dot products straight over rows of
//     A and B (4 B rows × up to 4 A rows per step, vector accumulators along k, horizontal sums at
//     the end), split over the threads by rows of B.
//   NT, AVX-512, 8 <= m <= 192: A is packed transposed, at[p*m_pad + i] = alpha·op(A)[i, p]
//     (m_pad = m rounded up to 16; small), and vectors run along m:
//
//       at: | a(0,0) … a(m_pad-1,0) | a(0,1) … | …        (p-major, 64-byte aligned rows)
//       tile: acc[q][v] = C[i0+16v .. +15, j+q] += at[p][i0+16v ..] · broadcast(B[j+q, p])
//
//     2 vectors (32 rows of C) × 12 rows of B = 24 zmm accumulators; each element of B is loaded
//     once, as a broadcast, straight from memory (12 row streams: at most one L1 way
//     each when the row stride is a multiple of 4 KiB).
//   NN (B stored [k×n]): axpy over rows of B, four rows of B per pass, each read contiguously
//     once; the task's row segments of C (<= 1024 columns) stay in L1.
//   All take A as given when it is contiguous along k, else the driver copies op(A) first (m×k is
//   small next to n×k).
//
// The ISA files hold only intrinsics and plain loops in anonymous namespaces: no shared inline
// function or template may be emitted from them (the linker could pick an AVX-512 copy for the
// scalar path). Only the functions declared here have external linkage.
#pragma once

#include <cstdint>

#include "llmc.h"

namespace llmc {
namespace gemm {

// C[mr_eff×nr_eff] at c (row stride ldc) = (accumulate ? C : 0) + Ap·Bp over kc.
using MicroFn = void (*)(int64_t kc, const float* ap, const float* bp, float* c, int64_t ldc, int mr_eff, int nr_eff,
                         int accumulate);
// Small-m kernels: C[i, j] = alpha · Σ_p A[i, p]·op(B)[p, j] + beta · C[i, j] for i < m, j in
// [j0, j1); A is row-major [m×k] with stride lda; beta = 0 never reads C.
//   small_nt: B stored [n×k] (op(B)[p, j] = b[j*ldb + p]); any m.
//   small_nn: B stored [k×n] (op(B)[p, j] = b[p*ldb + j]); any m (meant for m <= 8).
using SmallFn = void (*)(int64_t m, int64_t j0, int64_t j1, int64_t k, float alpha, const float* a, int64_t lda,
                         const float* b, int64_t ldb, float beta, float* c, int64_t ldc);
// Small m, B stored [n×k], A packed: C[i, j] = Σ_p at[p*m_pad + i] · b[j*ldb + p] + beta · C[i, j] for
// i < m, j in [j0, j1), with at = alpha·op(A)ᵀ packed [k × m_pad] (m_pad = m rounded up to 16, rows
// past m zero, 64-byte aligned). Vectors run along m and each B element is broadcast once.
using SmallNtPackedFn = void (*)(int64_t m, int64_t m_pad, int64_t j0, int64_t j1, int64_t k, const float* at,
                                 const float* b, int64_t ldb, float beta, float* c, int64_t ldc);

// dst[p*width + r] = scale · src[r*ld + p] for r < rows, p < kc, zero rows up to width: packs a
// micro-panel of a k-contiguous operand (A [m×k], or B stored [n×k]).
using PackTFn = void (*)(const float* src, int64_t ld, int rows, int64_t kc, float scale, float* dst, int width);
// dst[p*width + r] = scale · src[p*ld + r] for r < rows, p < kc, zero rows up to width: packs a
// micro-panel of an operand contiguous along m or n (A stored [k×m], B stored [k×n]).
using PackNFn = void (*)(const float* src, int64_t ld, int rows, int64_t kc, float scale, float* dst, int width);

struct Kernels {
  int mr, nr;  // micro-tile
  int kc, nc;  // cache blocks: kc deep slices, B blocks of about nc columns (kc·nc·4 bytes in L2)
  MicroFn micro;
  SmallFn small_nt;
  SmallFn small_nn;  // null: the packed path serves small-m NN too
  PackTFn pack_t;
  PackNFn pack_n;
  SmallNtPackedFn small_nt_packed;  // null: small_nt serves every small m
};

void micro_scalar(int64_t, const float*, const float*, float*, int64_t, int, int, int);
void pack_t_scalar(const float*, int64_t, int, int64_t, float, float*, int);
void pack_n_scalar(const float*, int64_t, int, int64_t, float, float*, int);
void small_nt_scalar(int64_t, int64_t, int64_t, int64_t, float, const float*, int64_t, const float*, int64_t, float,
                     float*, int64_t);
void small_nn_scalar(int64_t, int64_t, int64_t, int64_t, float, const float*, int64_t, const float*, int64_t, float,
                     float*, int64_t);
#if defined(LLMC_HAVE_X86_KERNELS)
void micro_avx2(int64_t, const float*, const float*, float*, int64_t, int, int, int);
void pack_t_avx2(const float*, int64_t, int, int64_t, float, float*, int);
void pack_n_avx2(const float*, int64_t, int, int64_t, float, float*, int);
void small_nt_avx2(int64_t, int64_t, int64_t, int64_t, float, const float*, int64_t, const float*, int64_t, float,
                   float*, int64_t);
void small_nn_avx2(int64_t, int64_t, int64_t, int64_t, float, const float*, int64_t, const float*, int64_t, float,
                   float*, int64_t);
void micro_avx512(int64_t, const float*, const float*, float*, int64_t, int, int, int);
void small_nt_packed_avx512(int64_t, int64_t, int64_t, int64_t, int64_t, const float*, const float*, int64_t, float,
                            float*, int64_t);
void pack_t_avx512(const float*, int64_t, int, int64_t, float, float*, int);
void pack_n_avx512(const float*, int64_t, int, int64_t, float, float*, int);
void small_nt_avx512(int64_t, int64_t, int64_t, int64_t, float, const float*, int64_t, const float*, int64_t, float,
                     float*, int64_t);
void small_nn_avx512(int64_t, int64_t, int64_t, int64_t, float, const float*, int64_t, const float*, int64_t, float,
                     float*, int64_t);
#endif

// A producer of B micro-panels for the packed path, for B that is not stored as floats (quantized
// weights dequantized on the fly): pack(ctx, j, cols, p0, kc, dst, width) writes
// dst[p·width + c] = op(B)[p0 + p, j + c] for p < kc, c < cols, and zeros for c in [cols, width).
struct BSource {
  void (*pack)(const void* ctx, int64_t j, int cols, int64_t p0, int64_t kc, float* dst, int width);
  const void* ctx;
};
// C[m×n] = A[m×k] (row-major, row stride lda) · op(B) with op(B) [k×n] produced by `b`, on the
// packed path of the active ISA level (meant for m above the small-m range). Arguments are trusted.
llmc_status sgemm_bsource(int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const BSource& b, float* c,
                          int64_t ldc);

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
