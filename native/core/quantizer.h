// quantizer.h — the weight quantizer of GPTQ (IST-DASLab/gptq quant.py, Quantizer with
// weight=True), shared by GPTQ, SparseGPT's joint quantization and RTN, in float32 as the
// reference computes it:
//   xmin = min(min x, 0), xmax = max(max x, 0); symmetric: xmax = max(|xmin|, xmax) and, when
//   xmin < 0, xmin = −xmax; both 0 → [−1, 1]; scale = (xmax − xmin) / maxq;
//   zero = (maxq + 1) / 2 (symmetric) or round(−xmin / scale);
//   q(x) = clamp(round(x / scale) + zero, 0, maxq), dequantized scale · (q − zero).
//   MSE search (optional): shrink [xmin, xmax] by p = 1 − i/100 for i < 80 and keep the scale
//   (and, asymmetric, zero) with the least Σ |q(x) − x|^2.4.
// Rounding is half to even (torch.round).
#pragma once

#include <cmath>
#include <cstdint>

namespace llmc {
namespace quant {

struct Params {
  float scale;
  float zero;
};

inline float round_even(float v) { return std::nearbyint(v); }

inline int code(float x, const Params& p, int maxq) {
  const float q = round_even(x / p.scale) + p.zero;
  return static_cast<int>(q < 0.0f ? 0.0f : (q > static_cast<float>(maxq) ? static_cast<float>(maxq) : q));
}

inline float dequant(int q, const Params& p) { return p.scale * (static_cast<float>(q) - p.zero); }

// Parameters for the values x[0], x[stride], …, x[(len − 1)·stride].
inline Params find_params(const float* x, int64_t len, int64_t stride, int maxq, bool sym, bool mse) {
  float xmin = 0.0f, xmax = 0.0f;
  for (int64_t i = 0; i < len; ++i) {
    const float v = x[i * stride];
    xmin = v < xmin ? v : xmin;
    xmax = v > xmax ? v : xmax;
  }
  if (sym) {
    xmax = std::fabs(xmin) > xmax ? std::fabs(xmin) : xmax;
    if (xmin < 0.0f) xmin = -xmax;
  }
  if (xmin == 0.0f && xmax == 0.0f) xmin = -1.0f, xmax = 1.0f;
  const float fmaxq = static_cast<float>(maxq);
  Params best{(xmax - xmin) / fmaxq, 0.0f};
  best.zero = sym ? static_cast<float>((maxq + 1) / 2) : round_even(-xmin / best.scale);
  if (!mse) return best;
  float best_err = INFINITY;
  for (int i = 0; i < 80; ++i) {
    const float p = 1.0f - static_cast<float>(i) / 100.0f;
    const float lo = p * xmin, hi = p * xmax;
    Params c{(hi - lo) / fmaxq, 0.0f};
    c.zero = sym ? best.zero : round_even(-lo / c.scale);
    float err = 0.0f;
    for (int64_t k = 0; k < len; ++k) {
      const float v = x[k * stride];
      err += std::pow(std::fabs(dequant(code(v, c, maxq), c) - v), 2.4f);
    }
    if (err < best_err) best_err = err, best = c;
  }
  return best;
}

}  // namespace quant
}  // namespace llmc
