// linalg.h — the dense linear algebra of GPTQ / SparseGPT on row-major float32 matrices: Cholesky
// factorization, triangular inverse, and the upper Cholesky factor of H⁻¹ that the column loops
// run on. Recursive (split in halves down to 64-column leaves computed in double precision), so
// that nearly all O(n³) work runs in large calls of the fp32 GEMM.
//
// Layout: A [n × n] row-major with row stride lda; "lower" means the factor lives in A[i][j], j <= i.
//
// H⁻¹ = Uᵀ·U with U upper triangular is computed without forming H⁻¹: with P the reversal
// permutation (row-major: the n² elements in reverse order when lda = n),
//   P·H·P = L·Lᵀ  ⇒  H⁻¹ = (P·L⁻ᵀ·P)·(P·L⁻¹·P)  ⇒  U = P·L⁻¹·P,
// one Cholesky and one triangular inverse (2/3·n³ multiply-adds) instead of the reference code's
// Cholesky, inverse and second Cholesky.
#pragma once

#include <cstdint>

#include "llmc.h"

namespace llmc {
namespace linalg {

// In place: the lower triangle of A becomes L with A = L·Lᵀ (the upper triangle is left with
// unspecified values). Returns 0, or j + 1 when the pivot of column j is not positive (or not
// finite): A is not positive definite. Reads only the lower triangle.
int64_t cholesky_lower(float* a, int64_t n, int64_t lda);

// In place: lower-triangular L (lower triangle of A) becomes L⁻¹; the upper triangle is zeroed.
// Returns LLMC_OUT_OF_MEMORY when its scratch cannot be allocated.
llmc_status invert_lower(float* a, int64_t n, int64_t lda);

// In place, A = H [n × n] symmetric positive definite, lda = n: A becomes U, upper triangular with
// H⁻¹ = Uᵀ·U (zeros below the diagonal). On failure (H not positive definite) returns
// LLMC_INVALID_ARGUMENT with a message naming the pivot's column (original numbering) and
// `hint`, and leaves A unspecified.
llmc_status inverse_upper_cholesky(float* a, int64_t n, const char* hint);

}  // namespace linalg
}  // namespace llmc
