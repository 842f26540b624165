// sparse24_scalar.cpp — portable kernels of the 2:4 sparse matmuls: the fallback on CPUs without a
// fast path and the oracle the fast paths are tested against. Layouts: sparse24.h.
#include <cstring>

#include "gemm_q.h"
#include "sparse24.h"

namespace llmc {
namespace s24 {
namespace {

inline int pos_of(uint8_t meta, int r) { return 4 * (r / 2) + ((meta >> (2 * r)) & 3); }

// Dequantized kept value r of channel c (lane of block jb) in octet o, and its input offset.
inline float value_at(const Weights& w, int64_t jb, int c, int64_t o, int r) {
  const int64_t octets = w.octets();
  if (w.bits == 32) return static_cast<const float*>(w.values)[((jb * octets + o) * 4 + r) * kBlockN + c];
  if (w.bits == 8)
    return static_cast<float>(static_cast<const int8_t*>(w.values)[((jb * octets + o) * kBlockN + c) * 4 + r]);
  const uint8_t b = static_cast<const uint8_t*>(w.values)[((jb * (octets / 2) + o / 2) * kBlockN + c) * 4 + r];
  return static_cast<float>(((b >> ((o % 2) * 4)) & 0x0F) - 8);
}

void rows_kernel(const Rows& r) {
  const Weights& w = *r.w;
  const int64_t octets = w.octets(), G = w.groups(), glen_o = w.group_len() / kOctet;
  for (int64_t jb = r.jb0; jb < r.jb1; ++jb)
    for (int c = 0; c < kBlockN && jb * kBlockN + c < w.n; ++c) {
      const int64_t j = jb * kBlockN + c;
      const uint8_t* meta = w.meta + jb * octets * kBlockN + c;
      for (int i = 0; i < r.rows; ++i) {
        const float* x = r.x + i * r.ldx;
        float total = 0.0f;
        for (int64_t t = 0; t < G; ++t) {
          float acc = 0.0f;
          for (int64_t o = t * glen_o; o < (t + 1) * glen_o; ++o)
            for (int q = 0; q < 4; ++q) acc += value_at(w, jb, c, o, q) * x[o * kOctet + pos_of(meta[o * kBlockN], q)];
          total += w.bits == 4 ? acc * w.scale[q::scale_index(j, t, G)] : acc;
        }
        r.y[i * r.ldy + j] = total;
      }
    }
}

void q8_a8(const A8& t) {
  const Weights& w = *t.w;
  const int64_t octets = w.octets();
  for (int64_t jb = t.jb0; jb < t.jb1; ++jb)
    for (int c = 0; c < kBlockN && jb * kBlockN + c < w.n; ++c) {
      const int64_t j = jb * kBlockN + c;
      const uint8_t* meta = w.meta + jb * octets * kBlockN + c;
      const int8_t* v = static_cast<const int8_t*>(w.values) + jb * octets * 64 + c * 4;
      for (int i = 0; i < t.rows; ++i) {
        const int8_t* x = t.xq + i * t.ldq;
        int32_t acc = 0;
        for (int64_t o = 0; o < octets; ++o)
          for (int q = 0; q < 4; ++q) acc += v[o * 64 + q] * x[o * kOctet + pos_of(meta[o * kBlockN], q)];
        t.y[i * t.ldy + j] = t.sx[i] * (w.scale[j] * static_cast<float>(acc));
      }
    }
}

void panel(const Weights& w, int64_t j, int cols, int64_t p0, int64_t kc, float* dst, int width) {
  for (int64_t p = 0; p < kc; ++p) std::memset(dst + p * width, 0, static_cast<size_t>(width) * sizeof(float));
  const int64_t octets = w.octets(), G = w.groups(), glen = w.group_len();
  for (int c = 0; c < cols; ++c) {
    const int64_t jj = j + c, jb = jj / kBlockN;
    const int lane = static_cast<int>(jj % kBlockN);
    for (int64_t o = p0 / kOctet; o * kOctet < p0 + kc; ++o) {
      const uint8_t meta = w.meta[(jb * octets + o) * kBlockN + lane];
      for (int q = 0; q < 4; ++q) {
        const int64_t p = o * kOctet + pos_of(meta, q);
        if (p < p0 || p >= p0 + kc) continue;
        float v = value_at(w, jb, lane, o, q);
        if (w.bits == 4) v *= w.scale[q::scale_index(jj, p / glen, G)];
        dst[(p - p0) * width + c] = v;
      }
    }
  }
}

}  // namespace

Kernels kernels_scalar() { return {rows_kernel, rows_kernel, q8_a8, panel, panel, 0}; }

}  // namespace s24
}  // namespace llmc
