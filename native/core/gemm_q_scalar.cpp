// gemm_q_scalar.cpp — portable kernels of the quantized GEMMs: the fallback on CPUs without a fast
// path and the oracle the fast paths are tested against. Layouts: gemm_q.h.
#include <cmath>

#include "gemm_q.h"

namespace llmc {
namespace q {
namespace {

constexpr int kMR = 4;  // A8 micro-panel rows

inline const uint8_t* block_at(const uint8_t* w, int64_t wstride, int c) { return w + (c / kBlockN) * wstride; }

void q8_a8(const A8Tile& t) {
  for (int i = 0; i < t.rows; ++i)
    for (int c = 0; c < t.cols; ++c) {
      const uint8_t* w = block_at(t.w, t.wstride, c) + (c % kBlockN) * kQuad;
      const int8_t* a = t.a + i * kQuad;
      int32_t acc = 0;
      for (int64_t qd = 0; qd < t.kq; ++qd)
        for (int b = 0; b < kQuad; ++b) acc += w[qd * 64 + b] * a[qd * t.mr * kQuad + b];
      t.y[i * t.ldy + c] = t.sx[i] * (t.scale[c] * static_cast<float>(acc - 128 * t.xsum[i]));
    }
}

void q4_a8(const A8Tile& t) {
  for (int i = 0; i < t.rows; ++i)
    for (int c = 0; c < t.cols; ++c) {
      const uint8_t* w = block_at(t.w, t.wstride, c) + (c % kBlockN) * kQuad;
      const int8_t* a = t.a + i * kQuad;
      float facc = 0.0f;
      for (int64_t g = 0; g < t.groups; ++g) {
        int32_t acc = 0;
        for (int64_t qd = g * t.group_q; qd < (g + 1) * t.group_q; qd += 2) {  // one octet: two quads
          const uint8_t* wb = w + (qd / 2) * 64;
          for (int b = 0; b < kQuad; ++b)
            acc += (wb[b] & 0x0F) * a[qd * t.mr * kQuad + b] + (wb[b] >> 4) * a[(qd + 1) * t.mr * kQuad + b];
        }
        const int64_t si = ((c / kBlockN) * t.groups + g) * kBlockN + c % kBlockN;
        const float z = t.zero ? static_cast<float>(t.zero[si]) : 8.0f;
        facc += t.scale[si] * (static_cast<float>(acc) - z * static_cast<float>(t.xsum[i * t.groups + g]));
      }
      t.y[i * t.ldy + c] = t.sx[i] * facc;
    }
}

void q8_a16(const A16Rows& r) {
  const int64_t kq = r.kp / kQuad;
  for (int64_t jb = r.jb0; jb < r.jb1; ++jb) {
    const uint8_t* blk = r.data + jb * kq * 64;
    for (int c = 0; c < kBlockN && jb * kBlockN + c < r.n; ++c) {
      const int64_t j = jb * kBlockN + c;
      for (int i = 0; i < r.rows; ++i) {
        const float* x = r.x + i * r.ldx;
        float s[kQuad] = {0, 0, 0, 0};
        for (int64_t qd = 0; qd < kq; ++qd)
          for (int b = 0; b < kQuad; ++b)
            s[b] += static_cast<float>(blk[qd * 64 + c * kQuad + b] - 128) * x[qd * kQuad + b];
        r.y[i * r.ldy + j] = r.scale[j] * ((s[0] + s[1]) + (s[2] + s[3]));
      }
    }
  }
}

void q4_a16(const A16Rows& r) {
  const int64_t ko = r.kp / kOctet, groups = r.groups, group_o = r.group_len / kOctet;
  for (int64_t jb = r.jb0; jb < r.jb1; ++jb) {
    const uint8_t* blk = r.data + jb * ko * 64;
    for (int c = 0; c < kBlockN && jb * kBlockN + c < r.n; ++c) {
      const int64_t j = jb * kBlockN + c;
      for (int i = 0; i < r.rows; ++i) {
        const float* x = r.x + i * r.ldx;
        float total = 0.0f;
        for (int64_t g = 0; g < groups; ++g) {
          const int64_t si = scale_index(j, g, groups);
          const float z = r.zero ? static_cast<float>(r.zero[si]) : 8.0f;
          float s[kQuad] = {0, 0, 0, 0};
          for (int64_t o = g * group_o; o < (g + 1) * group_o; ++o)
            for (int b = 0; b < kQuad; ++b) {
              const uint8_t v = blk[o * 64 + c * kQuad + b];
              s[b] += (static_cast<float>(v & 0x0F) - z) * x[o * kOctet + b] +
                      (static_cast<float>(v >> 4) - z) * x[o * kOctet + kQuad + b];
            }
          total += r.scale[si] * ((s[0] + s[1]) + (s[2] + s[3]));
        }
        r.y[i * r.ldy + j] = total;
      }
    }
  }
}

void q8_panel(const Q8Weights& w, int64_t j, int cols, int64_t p0, int64_t kc, float* dst, int width) {
  const int64_t kq = w.kp() / kQuad;
  for (int64_t p = 0; p < kc; ++p)
    for (int c = 0; c < width; ++c) {
      float v = 0.0f;
      if (c < cols) {
        const int64_t jj = j + c, pp = p0 + p;
        const uint8_t u = w.data[((jj / kBlockN * kq + pp / kQuad) * kBlockN + jj % kBlockN) * kQuad + pp % kQuad];
        v = w.scale[jj] * static_cast<float>(u - 128);
      }
      dst[p * width + c] = v;
    }
}

void q4_panel(const Q4Weights& w, int64_t j, int cols, int64_t p0, int64_t kc, float* dst, int width) {
  const int64_t ko = w.kp() / kOctet, G = w.groups();
  for (int64_t p = 0; p < kc; ++p)
    for (int c = 0; c < width; ++c) {
      float v = 0.0f;
      if (c < cols) {
        const int64_t jj = j + c, pp = p0 + p, t = pp / w.group;
        const uint8_t b = w.data[((jj / kBlockN * ko + pp / kOctet) * kBlockN + jj % kBlockN) * kQuad + pp % kQuad];
        const int u = pp % kOctet < kQuad ? b & 0x0F : b >> 4;
        const int64_t si = scale_index(jj, t, G);
        const float z = w.zero ? static_cast<float>(w.zero[si]) : 8.0f;
        v = w.scale[si] * (static_cast<float>(u) - z);
      }
      dst[p * width + c] = v;
    }
}

float quant_row(const float* x, int64_t k, int64_t kp, int8_t* dst, int mr, int32_t* xsum, int64_t group_len) {
  float amax = 0.0f;
  bool finite = true;
  for (int64_t p = 0; p < k; ++p) {
    finite = finite && std::isfinite(x[p]);
    amax = std::fmax(amax, std::fabs(x[p]));
  }
  const int64_t groups = kp / group_len;
  for (int64_t g = 0; g < groups; ++g) xsum[g] = 0;
  const float inv = finite && amax > 0.0f ? 127.0f / amax : 0.0f;
  for (int64_t p = 0; p < kp; ++p) {
    int v = 0;
    if (p < k && inv != 0.0f) {
      v = static_cast<int>(std::nearbyint(x[p] * inv));
      v = v > 127 ? 127 : (v < -127 ? -127 : v);
    }
    dst[(p / kQuad) * mr * kQuad + p % kQuad] = static_cast<int8_t>(v);
    xsum[p / group_len] += v;
  }
  return finite ? amax / 127.0f : NAN;
}

}  // namespace

Kernels kernels_scalar() { return {kMR, kMR, q8_a8, q4_a8, q8_a16, q4_a16, q8_panel, q4_panel, quant_row}; }

}  // namespace q
}  // namespace llmc
