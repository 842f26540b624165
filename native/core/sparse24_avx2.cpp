// sparse24_avx2.cpp — AVX2 kernels of the 2:4 sparse matmuls (8 channels per vector: a 16-channel
// block is two halves). Layouts: sparse24.h; the scheme is that of sparse24_avx512.cpp:
//   float rows: vpmovzxbd of 8 meta bytes, index (meta >> 2r) & 3 | 4·(r >= 2), vpermps of the
//     row's 8 inputs of the octet (one ymm), one FMA per 8 multiply-adds.
//   w8a8 (signed activations, no VNNI): byte indices from the meta byte replicated per dword and
//     three constant word shifts; vpshufb gathers the row's 8 activation bytes; the products use
//     vpmaddubsw(|w|, sign(x, w)) (|w| <= 128, |x| <= 127: pair sums never saturate) and vpmaddwd.
//   Dense-path panels: the scalar ones (the GEMM's AVX2 path is compute-bound long before).
#include <immintrin.h>

#include <cstring>

#include "sparse24.h"
#include "unroll.h"

namespace llmc {
namespace s24 {
namespace {

inline __m256i meta8(const uint8_t* meta) {
  return _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(meta)));
}

template <int Q>
inline __m256i float_index(__m256i mv) {
  const __m256i sh = Q == 0 ? mv : _mm256_srli_epi32(mv, 2 * Q);
  return _mm256_or_si256(_mm256_and_si256(sh, _mm256_set1_epi32(3)), _mm256_set1_epi32(Q >= 2 ? 4 : 0));
}

inline void store_cols(float* y, const __m256 v, int64_t cols) {
  if (cols >= 8) {
    _mm256_storeu_ps(y, v);
    return;
  }
  alignas(32) float tmp[8];
  _mm256_store_ps(tmp, v);
  for (int64_t c = 0; c < cols; ++c) y[c] = tmp[c];
}

template <int R, bool Int4>
void rows_pass(const Rows& r, int64_t jb) {
  const Weights& w = *r.w;
  const int64_t octets = w.octets(), G = w.groups(), glen_o = w.group_len() / kOctet;
  const uint8_t* meta = w.meta + jb * octets * kBlockN;
  const float* vf = static_cast<const float*>(w.values) + jb * octets * 64;
  const uint8_t* v4 = static_cast<const uint8_t*>(w.values) + jb * (octets / 2) * 64;
  const __m256i low4 = _mm256_set1_epi32(15);
  const __m256 eight = _mm256_set1_ps(8.0f);
  for (int h = 0; h < 2; ++h) {
    __m256 total[R];
    LLMC_UNROLL for (int i = 0; i < R; ++i) total[i] = _mm256_setzero_ps();
    for (int64_t g = 0; g < G; ++g) {
      __m256 acc[R][2];
      LLMC_UNROLL for (int i = 0; i < R; ++i) acc[i][0] = acc[i][1] = _mm256_setzero_ps();
      for (int64_t o = g * glen_o; o < (g + 1) * glen_o; ++o) {
        const __m256i mv = meta8(meta + o * kBlockN + 8 * h);
        __m256 xo[R];
        LLMC_UNROLL for (int i = 0; i < R; ++i) xo[i] = _mm256_loadu_ps(r.x + i * r.ldx + o * kOctet);
        const __m256i idx[4] = {float_index<0>(mv), float_index<1>(mv), float_index<2>(mv), float_index<3>(mv)};
        __m256i raw = _mm256_setzero_si256();
        if (Int4)
          raw = _mm256_srli_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(v4 + (o / 2) * 64 + 32 * h)),
                                  static_cast<int>(o % 2) * 4);
        LLMC_UNROLL for (int q = 0; q < 4; ++q) {
          __m256 wv;
          if (Int4)
            wv = _mm256_sub_ps(_mm256_cvtepi32_ps(_mm256_and_si256(_mm256_srli_epi32(raw, 8 * q), low4)), eight);
          else
            wv = _mm256_loadu_ps(vf + o * 64 + q * 16 + 8 * h);
          LLMC_UNROLL for (int i = 0; i < R; ++i) acc[i][q % 2] =
              _mm256_fmadd_ps(wv, _mm256_permutevar8x32_ps(xo[i], idx[q]), acc[i][q % 2]);
        }
      }
      const __m256 sc = Int4 ? _mm256_loadu_ps(w.scale + (jb * G + g) * kBlockN + 8 * h) : _mm256_set1_ps(1.0f);
      LLMC_UNROLL for (int i = 0; i < R; ++i) {
        const __m256 s = _mm256_add_ps(acc[i][0], acc[i][1]);
        total[i] = Int4 ? _mm256_fmadd_ps(s, sc, total[i]) : _mm256_add_ps(total[i], s);
      }
    }
    const int64_t cols = w.n - jb * kBlockN - 8 * h;
    if (cols <= 0) continue;
    LLMC_UNROLL for (int i = 0; i < R; ++i) store_cols(r.y + i * r.ldy + jb * kBlockN + 8 * h, total[i], cols);
  }
}

template <bool Int4>
void rows_kernel(const Rows& r) {
  for (int64_t jb = r.jb0; jb < r.jb1; ++jb) {
    Rows s = r;
    int i = 0;
    for (; i + 4 <= r.rows; i += 4) s.x = r.x + i * r.ldx, s.y = r.y + i * r.ldy, rows_pass<4, Int4>(s, jb);
    if (r.rows - i >= 2) s.x = r.x + i * r.ldx, s.y = r.y + i * r.ldy, rows_pass<2, Int4>(s, jb), i += 2;
    if (r.rows - i == 1) s.x = r.x + i * r.ldx, s.y = r.y + i * r.ldy, rows_pass<1, Int4>(s, jb);
  }
}

// ---- w8a8 ------------------------------------------------------------------------------------

struct ByteDecode {
  __m256i rep[2], m0, m1, m2, m3, off;
  ByteDecode() {
    alignas(32) uint8_t pat[2][32];
    for (int h = 0; h < 2; ++h)
      for (int l = 0; l < 2; ++l)
        for (int c = 0; c < 4; ++c)
          for (int r = 0; r < 4; ++r) pat[h][16 * l + 4 * c + r] = static_cast<uint8_t>(8 * h + 4 * l + c);
    rep[0] = _mm256_load_si256(reinterpret_cast<const __m256i*>(pat[0]));
    rep[1] = _mm256_load_si256(reinterpret_cast<const __m256i*>(pat[1]));
    m0 = _mm256_set1_epi32(0x00000003);
    m1 = _mm256_set1_epi32(0x00000300);
    m2 = _mm256_set1_epi32(0x00030000);
    m3 = _mm256_set1_epi32(0x03000000);
    off = _mm256_set1_epi32(0x04040000);
  }
  // Byte (c, r) of half h = index of channel 8h + c's kept value r into the octet's 8 bytes.
  __m256i operator()(const uint8_t* meta, int h) const {
    const __m256i mb = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(meta)));
    const __m256i rp = _mm256_shuffle_epi8(mb, rep[h]);
    __m256i v = _mm256_and_si256(rp, m0);
    v = _mm256_or_si256(v, _mm256_and_si256(_mm256_srli_epi16(rp, 2), m1));
    v = _mm256_or_si256(v, _mm256_and_si256(_mm256_srli_epi16(rp, 4), m2));
    v = _mm256_or_si256(v, _mm256_and_si256(_mm256_srli_epi16(rp, 6), m3));
    return _mm256_or_si256(v, off);
  }
};

template <int R>
void q8_block(const A8& t, int64_t jb, int i0) {
  const Weights& w = *t.w;
  const int64_t octets = w.octets();
  const ByteDecode dec;
  const int8_t* vb = static_cast<const int8_t*>(w.values) + jb * octets * 64;
  const uint8_t* mb = w.meta + jb * octets * kBlockN;
  const __m256i ones = _mm256_set1_epi16(1);
  __m256i acc[R][2];
  LLMC_UNROLL for (int i = 0; i < R; ++i) acc[i][0] = acc[i][1] = _mm256_setzero_si256();
  for (int64_t o = 0; o < octets; ++o) {
    __m256i idx[2], wv[2], wabs[2];
    LLMC_UNROLL for (int h = 0; h < 2; ++h) {
      idx[h] = dec(mb + o * kBlockN, h);
      wv[h] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(vb + o * 64 + 32 * h));
      wabs[h] = _mm256_abs_epi8(wv[h]);
    }
    LLMC_UNROLL for (int i = 0; i < R; ++i) {
      int64_t xv;
      std::memcpy(&xv, t.xq + (i0 + i) * t.ldq + o * kOctet, 8);
      const __m256i xb = _mm256_set1_epi64x(xv);
      LLMC_UNROLL for (int h = 0; h < 2; ++h) {
        const __m256i xs = _mm256_sign_epi8(_mm256_shuffle_epi8(xb, idx[h]), wv[h]);
        acc[i][h] = _mm256_add_epi32(acc[i][h], _mm256_madd_epi16(_mm256_maddubs_epi16(wabs[h], xs), ones));
      }
    }
  }
  for (int h = 0; h < 2; ++h) {
    const int64_t j0 = jb * kBlockN + 8 * h, cols = w.n - j0;
    if (cols <= 0) continue;
    const __m256 sc = _mm256_loadu_ps(w.scale + j0);
    LLMC_UNROLL for (int i = 0; i < R; ++i)
        store_cols(t.y + (i0 + i) * t.ldy + j0,
                   _mm256_mul_ps(_mm256_set1_ps(t.sx[i0 + i]), _mm256_mul_ps(sc, _mm256_cvtepi32_ps(acc[i][h]))), cols);
  }
}

void q8_a8(const A8& t) {
  for (int64_t jb = t.jb0; jb < t.jb1; ++jb) {
    int i = 0;
    for (; i + 4 <= t.rows; i += 4) q8_block<4>(t, jb, i);
    if (t.rows - i >= 2) q8_block<2>(t, jb, i), i += 2;
    if (t.rows - i == 1) q8_block<1>(t, jb, i);
  }
}

}  // namespace

Kernels kernels_avx2() {
  const Kernels s = kernels_scalar();
  return {rows_kernel<false>, rows_kernel<true>, q8_a8, s.f32_panel, s.q4_panel, 0};
}

}  // namespace s24
}  // namespace llmc
