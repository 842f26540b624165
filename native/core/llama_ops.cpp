// llama_ops.cpp — the elementwise and attention ops of a LLaMA forward pass (llmc.h). The linear
// layers are GEMM calls made by the caller. Threads split rows (or sequence × head pairs).
//
// Layouts: activations [rows × features] row-major; a head h of a row is features
// [h·head_dim, (h+1)·head_dim). Keys and values of kv head g serve query heads
// [g·heads/kv_heads, (g+1)·heads/kv_heads).
#include <algorithm>
#include <cmath>
#include <vector>

#include "llmc.h"
#include "status.h"
#include "thread_pool.h"

using llmc::fail;
using llmc::parallel_for;

extern "C" llmc_status llmc_rmsnorm(const float* x, const float* w, int64_t rows, int64_t dim, float eps, float* out) {
  if (rows < 0 || dim < 1 || !(eps >= 0.0f))
    return fail(LLMC_INVALID_ARGUMENT, "rmsnorm: rows >= 0, dim >= 1, eps >= 0 needed");
  if (rows > 0 && (!x || !w || !out)) return fail(LLMC_INVALID_ARGUMENT, "rmsnorm: null pointer");
  parallel_for(rows, [&](int64_t r, int) {
    const float* xr = x + r * dim;
    double ss = 0;
    for (int64_t i = 0; i < dim; ++i) ss += static_cast<double>(xr[i]) * xr[i];
    const float s = static_cast<float>(1.0 / std::sqrt(ss / static_cast<double>(dim) + eps));
    float* o = out + r * dim;
    for (int64_t i = 0; i < dim; ++i) o[i] = xr[i] * s * w[i];
  });
  return LLMC_OK;
}

extern "C" llmc_status llmc_rope(float* x, int64_t rows, int64_t heads, int64_t head_dim, const int32_t* pos,
                                 float theta, int style) {
  if (rows < 0 || heads < 1 || head_dim < 2 || head_dim % 2 != 0 || !(theta > 0.0f) || (style != 0 && style != 1))
    return fail(LLMC_INVALID_ARGUMENT,
                "rope: rows >= 0, heads >= 1, an even head_dim, theta > 0 and style 0 or 1 needed");
  if (rows > 0 && (!x || !pos)) return fail(LLMC_INVALID_ARGUMENT, "rope: null pointer");
  const int64_t half = head_dim / 2;
  std::vector<double> inv(static_cast<size_t>(half));
  for (int64_t i = 0; i < half; ++i)
    inv[static_cast<size_t>(i)] =
        std::pow(static_cast<double>(theta), -2.0 * static_cast<double>(i) / static_cast<double>(head_dim));
  parallel_for(rows, [&](int64_t r, int) {
    float* xr = x + r * heads * head_dim;
    for (int64_t i = 0; i < half; ++i) {
      const double a = static_cast<double>(pos[r]) * inv[static_cast<size_t>(i)];
      const float c = static_cast<float>(std::cos(a)), s = static_cast<float>(std::sin(a));
      for (int64_t h = 0; h < heads; ++h) {
        float* v = xr + h * head_dim;
        const int64_t i0 = style == 0 ? 2 * i : i, i1 = style == 0 ? 2 * i + 1 : i + half;
        const float a0 = v[i0], a1 = v[i1];
        v[i0] = a0 * c - a1 * s;
        v[i1] = a0 * s + a1 * c;
      }
    }
  });
  return LLMC_OK;
}

extern "C" llmc_status llmc_attention(const float* q, const float* k, const float* v, float* out, int64_t batch,
                                      int64_t tq, int64_t tk, int64_t heads, int64_t kv_heads, int64_t head_dim) {
  if (batch < 0 || tq < 0 || tk < tq || heads < 1 || kv_heads < 1 || heads % kv_heads != 0 || head_dim < 1)
    return fail(LLMC_INVALID_ARGUMENT,
                "attention: need tk >= tq >= 0 and heads a multiple of kv_heads (batch=%lld tq=%lld tk=%lld heads=%lld "
                "kv_heads=%lld)",
                static_cast<long long>(batch), static_cast<long long>(tq), static_cast<long long>(tk),
                static_cast<long long>(heads), static_cast<long long>(kv_heads));
  if (batch * tq > 0 && (!q || !k || !v || !out)) return fail(LLMC_INVALID_ARGUMENT, "attention: null pointer");
  if (batch * tq == 0) return LLMC_OK;
  const int64_t qdim = heads * head_dim, kvdim = kv_heads * head_dim, group = heads / kv_heads;
  const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(head_dim)));
  std::vector<llmc_status> status(static_cast<size_t>(batch * heads), LLMC_OK);
  // One task per (sequence, head): S = scale·Q·Kᵀ [tq × tk] and O = softmax(S)·V on the GEMM
  // (called from inside a task it runs on this thread); the masked upper part of S is computed
  // and zeroed, which costs less than scalar dot products of head_dim elements.
  parallel_for(batch * heads, [&](int64_t t, int) {
    const int64_t b = t / heads, h = t % heads, g = h / group;
    std::vector<float> s(static_cast<size_t>(tq * tk));
    const float* qb = q + b * tq * qdim + h * head_dim;
    const float* kb = k + b * tk * kvdim + g * head_dim;
    const float* vb = v + b * tk * kvdim + g * head_dim;
    float* ob = out + b * tq * qdim + h * head_dim;
    llmc_status st = llmc_sgemm(0, 1, tq, tk, head_dim, scale, qb, qdim, kb, kvdim, 0.0f, s.data(), tk);
    if (st == LLMC_OK) {
      for (int64_t i = 0; i < tq; ++i) {
        float* row = s.data() + i * tk;
        const int64_t visible = tk - tq + i + 1;
        float mx = -INFINITY;
        for (int64_t j = 0; j < visible; ++j) mx = std::max(mx, row[j]);
        double sum = 0;
        for (int64_t j = 0; j < visible; ++j) {
          row[j] = std::exp(row[j] - mx);
          sum += row[j];
        }
        const float inv = static_cast<float>(1.0 / sum);
        for (int64_t j = 0; j < visible; ++j) row[j] *= inv;
        std::fill(row + visible, row + tk, 0.0f);
      }
      st = llmc_sgemm(0, 0, tq, head_dim, tk, 1.0f, s.data(), tk, vb, kvdim, 0.0f, ob, qdim);
    }
    status[static_cast<size_t>(t)] = st;
  });
  for (llmc_status st : status)
    if (st != LLMC_OK) return st;
  return LLMC_OK;
}

extern "C" llmc_status llmc_swiglu(const float* gate, const float* up, float* out, int64_t n) {
  if (n < 0) return fail(LLMC_INVALID_ARGUMENT, "swiglu: n must be >= 0");
  if (n > 0 && (!gate || !up || !out)) return fail(LLMC_INVALID_ARGUMENT, "swiglu: null pointer");
  parallel_for((n + 4095) / 4096, [&](int64_t t, int) {
    for (int64_t i = t * 4096; i < std::min(n, t * 4096 + 4096); ++i) {
      const float g = gate[i];
      out[i] = g / (1.0f + std::exp(-g)) * up[i];
    }
  });
  return LLMC_OK;
}

extern "C" llmc_status llmc_nll(const float* logits, int64_t rows, int64_t vocab, const int32_t* targets, double* nll) {
  if (rows < 0 || vocab < 1) return fail(LLMC_INVALID_ARGUMENT, "nll: rows >= 0 and vocab >= 1 needed");
  if (rows > 0 && (!logits || !targets || !nll)) return fail(LLMC_INVALID_ARGUMENT, "nll: null pointer");
  for (int64_t r = 0; r < rows; ++r)
    if (targets[r] >= vocab)
      return fail(LLMC_INVALID_ARGUMENT, "nll: target %d of row %lld is not below vocab %lld", targets[r],
                  static_cast<long long>(r), static_cast<long long>(vocab));
  parallel_for(rows, [&](int64_t r, int) {
    if (targets[r] < 0) {
      nll[r] = 0;
      return;
    }
    const float* l = logits + r * vocab;
    double mx = -INFINITY;
    for (int64_t i = 0; i < vocab; ++i) mx = std::max(mx, static_cast<double>(l[i]));
    double sum = 0;
    for (int64_t i = 0; i < vocab; ++i) sum += std::exp(static_cast<double>(l[i]) - mx);
    nll[r] = mx + std::log(sum) - static_cast<double>(l[targets[r]]);
  });
  return LLMC_OK;
}
