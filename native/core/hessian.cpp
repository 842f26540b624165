// hessian.cpp — the running Hessian of a linear layer's inputs, H = 2/n · Σ x·xᵀ, as GPTQ's
// add_batch keeps it: H ← H · seen/(seen + t) + 2/(seen + t) · XᵀX for each batch X [t × d].
// The symmetric rank-t update runs on the fp32 GEMM (TN layout: X is read as stored) over the
// lower triangle only, in bands of rows (half the multiply-adds of a full XᵀX), then is mirrored.
#include <algorithm>

#include "llmc.h"
#include "status.h"
#include "thread_pool.h"

extern "C" llmc_status llmc_hessian_update(float* h, int64_t d, int64_t seen, const float* x, int64_t tokens,
                                           int64_t ldx) {
  using llmc::fail;
  if (d < 1 || seen < 0 || tokens < 0)
    return fail(LLMC_INVALID_ARGUMENT,
                "hessian_update: need d >= 1, seen >= 0, tokens >= 0; got d=%lld seen=%lld tokens=%lld",
                static_cast<long long>(d), static_cast<long long>(seen), static_cast<long long>(tokens));
  if (ldx < d)
    return fail(LLMC_INVALID_ARGUMENT, "hessian_update: ldx (%lld) must be >= d (%lld)", static_cast<long long>(ldx),
                static_cast<long long>(d));
  if (!h || (tokens > 0 && !x)) return fail(LLMC_INVALID_ARGUMENT, "hessian_update: null pointer");
  if (tokens == 0) return LLMC_OK;
  const double total = static_cast<double>(seen) + static_cast<double>(tokens);
  const float beta = static_cast<float>(static_cast<double>(seen) / total), alpha = static_cast<float>(2.0 / total);
  // Bands of rows [i0, i1): H[i0:i1, 0:i1] = beta·H + alpha·X[:, i0:i1]ᵀ·X[:, 0:i1].
  constexpr int64_t kBand = 512;
  for (int64_t i0 = 0; i0 < d; i0 += kBand) {
    const int64_t i1 = std::min(d, i0 + kBand);
    if (llmc_status s = llmc_sgemm(1, 0, i1 - i0, i1, tokens, alpha, x + i0, ldx, x, ldx, beta, h + i0 * d, d))
      return s;
  }
  llmc::parallel_for((d + 63) / 64, [&](int64_t t, int) {  // upper triangle = lower
    for (int64_t i = t * 64; i < std::min(d, t * 64 + 64); ++i)
      for (int64_t j = i + 1; j < d; ++j) h[i * d + j] = h[j * d + i];
  });
  return LLMC_OK;
}
