// test_a8_ref.h — the per-row activation quantization of the A8 kernels (w8a8, w4a8,
// sparse24_w8a8), replicated in float32 arithmetic for the float64 references of the tests.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

// x [m × k] (row stride ldx) → codes xq [m × k] in [-127, 127] and one scale per row
// (max|x| / 127, round half to even); a row holding NaN or ±Inf gets a NaN scale.
inline void quantize_rows(const std::vector<float>& x, int64_t m, int64_t k, int64_t ldx, std::vector<double>& xq,
                          std::vector<double>& sx) {
  xq.assign(static_cast<size_t>(m * k), 0.0);
  sx.assign(static_cast<size_t>(m), 0.0);
  for (int64_t i = 0; i < m; ++i) {
    float amax = 0.0f;
    bool finite = true;
    for (int64_t p = 0; p < k; ++p) {
      finite = finite && std::isfinite(x[static_cast<size_t>(i * ldx + p)]);
      amax = std::max(amax, std::fabs(x[static_cast<size_t>(i * ldx + p)]));
    }
    if (!finite) {
      sx[static_cast<size_t>(i)] = NAN;
      continue;
    }
    const float inv = amax > 0.0f ? 127.0f / amax : 0.0f;
    sx[static_cast<size_t>(i)] = amax / 127.0f;
    for (int64_t p = 0; p < k; ++p)
      xq[static_cast<size_t>(i * k + p)] =
          std::max(-127.0f, std::min(127.0f, std::nearbyint(x[static_cast<size_t>(i * ldx + p)] * inv)));
  }
}
