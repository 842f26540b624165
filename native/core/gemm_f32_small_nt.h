// gemm_f32_small_nt.h — the row loop of the no-packing small-m path, shared by the ISA files.
// Each ISA file defines, in its anonymous namespace, the vector kernel
//   template <int NI> void dots_4xNI(int64_t k, float alpha, const float* const* arow,
//                                    const float* const* brow, float beta, float* const* crow, int nj);
// (4 rows of B against NI rows of A, nj of the 4 results stored) and then includes this file inside
// the same namespace, so that every copy keeps internal linkage (no symbol is shared between files
// built with different ISA flags).

// C[i, j] for i < m, j in [j0, j1): B rows in groups of 4 (a short tail group repeats row j), A rows
// in groups of at most kMaxNI.
template <int kMaxNI>
void small_nt_rows(int64_t m, int64_t j0, int64_t j1, int64_t k, float alpha, const float* a, int64_t lda,
                   const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  static_assert(kMaxNI >= 1 && kMaxNI <= 4, "1 to 4 rows of A at a time");
  for (int64_t j = j0; j < j1; j += 4) {
    const int nj = j1 - j < 4 ? static_cast<int>(j1 - j) : 4;
    const float* brow[4];
    for (int q = 0; q < 4; ++q) brow[q] = b + (j + (q < nj ? q : 0)) * ldb;
    for (int64_t i = 0; i < m; i += kMaxNI) {
      const int ni = m - i < kMaxNI ? static_cast<int>(m - i) : kMaxNI;
      const float* arow[4];
      float* crow[4];
      for (int q = 0; q < ni; ++q) {
        arow[q] = a + (i + q) * lda;
        crow[q] = c + (i + q) * ldc + j;
      }
      if (ni == 1) dots_4xNI<1>(k, alpha, arow, brow, beta, crow, nj);
      if constexpr (kMaxNI >= 2)
        if (ni == 2) dots_4xNI<2>(k, alpha, arow, brow, beta, crow, nj);
      if constexpr (kMaxNI >= 3)
        if (ni == 3) dots_4xNI<3>(k, alpha, arow, brow, beta, crow, nj);
      if constexpr (kMaxNI >= 4)
        if (ni == 4) dots_4xNI<4>(k, alpha, arow, brow, beta, crow, nj);
    }
  }
}
