// gemm_q_avx512.cpp — AVX-512 (F, BW, VL, VNNI) kernels of the quantized GEMMs. Layouts: gemm_q.h.
//
// A8 micro-kernels: vpdpbusd multiplies the 64 unsigned weight bytes of a block (16 channels × 4
// inputs) by one signed activation dword broadcast from memory ({1to16}: no shuffle), adding the
// 4 products of each channel into its int32 lane.
//   w8a8: 12 rows × 2 blocks = 24 accumulators + 2 weight vectors; per quad 2 loads, 24 vpdpbusd.
//   w4a8: one 64-byte load holds two quads (and 0x0F, shift 4); 12 rows × 2 blocks = 24 int32
//         accumulators, folded at the end of every group into a float tile in L1:
//         f += scale · (float(acc) − zero · xsum). (6 rows with float accumulators in registers
//         ran 10% slower: the unpacking is amortized over half as many rows.)
//   GCC 12 compiles the tied accumulator of _mm512_dpbusd_epi32 into a copy and a spill per
//   instruction in these tiles; dpbusd_bcast is a one-instruction inline asm instead.
// A16 rows kernels (m <= 4): each 16-byte quarter of a block (4 channels × 4 inputs, or × 8 for
// int4) is widened to 16 int32 lanes (vpmovzxbd), converted, and multiplied by the row's 4 (8)
// inputs repeated 4 times; lanes are summed per channel at the end.
// Panels for the fp32 GEMM (m > 4): vpshufb + vpermd turn a block into input-major order, one
// 16-channel vector per input.
#include <immintrin.h>

#include <cmath>
#include <cstring>

#include "gemm_q.h"
#include "unroll.h"

namespace llmc {
namespace q {
namespace {

constexpr int kMR8 = 12, kMR4 = 12;
// Kernels that read each weight once (one-row tiles, the A16 rows kernels) stream from DRAM:
// prefetch this many 64-byte blocks (4 KiB) ahead in each stream. The hardware prefetchers alone
// left w4a8 at 41-45 GB/s where a plain read gets 65 (measured: 52-54 with it; 16 ahead: 46).
constexpr int kPrefetch = 64;
inline void prefetch(const uint8_t* p) { _mm_prefetch(reinterpret_cast<const char*>(p), _MM_HINT_T0); }

inline __m512i bcast32(const int8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm512_set1_epi32(v);
}

// acc += dot4(w unsigned bytes, the signed dword at p broadcast). With GCC/Clang the broadcast is
// the instruction's {1to16} memory operand: GCC 12 turns the intrinsic's tied accumulator into a
// register copy and a stack spill per instruction in these unrolled tiles (2x slower w8a8).
inline __m512i dpbusd_bcast(__m512i acc, __m512i w, const int8_t* p) {
#if defined(__GNUC__)
  __asm__("vpdpbusd %2%{1to16%}, %1, %0" : "+v"(acc) : "v"(w), "m"(*reinterpret_cast<const int32_t*>(p)));
  return acc;
#else
  return _mm512_dpbusd_epi32(acc, w, bcast32(p));
#endif
}

inline __mmask16 col_mask(int cols) { return cols >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << cols) - 1u); }

template <int R, int NV>
void q8_tile(const A8Tile& t) {
  __m512i acc[R][NV];
  LLMC_UNROLL for (int r = 0; r < R; ++r) LLMC_UNROLL for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_setzero_si512();
  const uint8_t* w0 = t.w;
  const uint8_t* w1 = t.w + t.wstride;
  const int8_t* a = t.a;
  const int64_t astep = t.mr * kQuad;
  for (int64_t qd = 0; qd < t.kq; ++qd) {
    __m512i b[NV];
    if (R == 1) {
      prefetch(w0 + (qd + kPrefetch) * 64);
      if (NV > 1) prefetch(w1 + (qd + kPrefetch) * 64);
    }
    b[0] = _mm512_loadu_si512(w0 + qd * 64);
    if (NV > 1) b[NV - 1] = _mm512_loadu_si512(w1 + qd * 64);
    const int8_t* aq = a + qd * astep;
    LLMC_UNROLL for (int r = 0; r < R; ++r) LLMC_UNROLL for (int v = 0; v < NV; ++v) acc[r][v] =
        dpbusd_bcast(acc[r][v], b[v], aq + r * kQuad);
  }
  LLMC_UNROLL for (int r = 0; r < R; ++r) {
    const __m512i corr = _mm512_set1_epi32(128 * t.xsum[r]);
    const __m512 sx = _mm512_set1_ps(t.sx[r]);
    LLMC_UNROLL for (int v = 0; v < NV; ++v) {  // NV > 1 only when cols > 16
      const int c0 = v * kBlockN;
      const __m512 f = _mm512_cvtepi32_ps(_mm512_sub_epi32(acc[r][v], corr));
      const __m512 s = _mm512_loadu_ps(t.scale + c0);
      _mm512_mask_storeu_ps(t.y + r * t.ldy + c0, col_mask(t.cols - c0), _mm512_mul_ps(sx, _mm512_mul_ps(s, f)));
    }
  }
}

template <int R, int NV>
void q4_tile(const A8Tile& t) {
  // Float accumulators live in an L1 tile: 12 rows × 2 blocks of int32 accumulators take 24 of the
  // 32 registers, and each group folds them in once (g / 8 octets of work per fold).
  alignas(64) float facc[R][NV][kBlockN];
  LLMC_UNROLL for (int r = 0; r < R; ++r) LLMC_UNROLL for (int v = 0; v < NV; ++v)
      _mm512_store_ps(facc[r][v], _mm512_setzero_ps());
  const uint8_t* wb[2] = {t.w, t.w + t.wstride};
  const int64_t astep = t.mr * kQuad;
  const __m512i low4 = _mm512_set1_epi8(0x0F);
  const int64_t group_o = t.group_q / 2;
  for (int64_t g = 0; g < t.groups; ++g) {
    // Few rows (m = 1, 2): the high nibbles get accumulators of their own, so that each octet is
    // not a chain of two dependent vpdpbusd (at m = 1 that latency, not DRAM, bounded the speed).
    constexpr int H = R <= 2 ? 2 : 1;
    __m512i acc[H][R][NV];
    LLMC_UNROLL for (int h = 0; h < H; ++h) LLMC_UNROLL for (int r = 0; r < R; ++r)
        LLMC_UNROLL for (int v = 0; v < NV; ++v) acc[h][r][v] = _mm512_setzero_si512();
    for (int64_t o = g * group_o; o < (g + 1) * group_o; ++o) {
      __m512i lo[NV], hi[NV];
      LLMC_UNROLL for (int v = 0; v < NV; ++v) {
        if (R == 1) prefetch(wb[v] + (o + kPrefetch) * 64);
        const __m512i raw = _mm512_loadu_si512(wb[v] + o * 64);
        lo[v] = _mm512_and_si512(raw, low4);
        hi[v] = _mm512_and_si512(_mm512_srli_epi16(raw, 4), low4);
      }
      const int8_t* a0 = t.a + 2 * o * astep;
      const int8_t* a1 = a0 + astep;
      LLMC_UNROLL for (int r = 0; r < R; ++r) LLMC_UNROLL for (int v = 0; v < NV; ++v) {
        acc[0][r][v] = dpbusd_bcast(acc[0][r][v], lo[v], a0 + r * kQuad);
        acc[H - 1][r][v] = dpbusd_bcast(acc[H - 1][r][v], hi[v], a1 + r * kQuad);
      }
    }
    if (H == 2)
      LLMC_UNROLL for (int r = 0; r < R; ++r) LLMC_UNROLL for (int v = 0; v < NV; ++v) acc[0][r][v] =
          _mm512_add_epi32(acc[0][r][v], acc[H - 1][r][v]);
    LLMC_UNROLL for (int v = 0; v < NV; ++v) {
      const int64_t si = (v * t.groups + g) * kBlockN;
      const __m512 s = _mm512_loadu_ps(t.scale + si);
      const __m512 z =
          t.zero
              ? _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(t.zero + si))))
              : _mm512_set1_ps(8.0f);
      LLMC_UNROLL for (int r = 0; r < R; ++r) {
        const __m512 xs = _mm512_set1_ps(static_cast<float>(t.xsum[r * t.groups + g]));
        const __m512 f = _mm512_fnmadd_ps(z, xs, _mm512_cvtepi32_ps(acc[0][r][v]));
        _mm512_store_ps(facc[r][v], _mm512_fmadd_ps(f, s, _mm512_load_ps(facc[r][v])));
      }
    }
  }
  LLMC_UNROLL for (int r = 0; r < R; ++r) {
    const __m512 sx = _mm512_set1_ps(t.sx[r]);
    LLMC_UNROLL for (int v = 0; v < NV; ++v)  // NV > 1 only when cols > 16
        _mm512_mask_storeu_ps(t.y + r * t.ldy + v * kBlockN, col_mask(t.cols - v * kBlockN),
                              _mm512_mul_ps(sx, _mm512_load_ps(facc[r][v])));
  }
}

// Dispatch on (rows, blocks) to the template instance.
template <template <int, int> class F, int R>
struct RowTable {
  static void run(const A8Tile& t) {
    if (t.rows == R) {
      if (t.cols > kBlockN)
        F<R, 2>::go(t);
      else
        F<R, 1>::go(t);
    } else {
      RowTable<F, R - 1>::run(t);
    }
  }
};
template <template <int, int> class F>
struct RowTable<F, 0> {
  static void run(const A8Tile&) {}
};
template <int R, int NV>
struct Q8Tile {
  static void go(const A8Tile& t) { q8_tile<R, NV>(t); }
};
template <int R, int NV>
struct Q4Tile {
  static void go(const A8Tile& t) { q4_tile<R, NV>(t); }
};
void q8_a8(const A8Tile& t) { RowTable<Q8Tile, kMR8>::run(t); }
void q4_a8(const A8Tile& t) { RowTable<Q4Tile, kMR4>::run(t); }

// Sums the 4 lanes of each channel of acc[cq] (lanes 4c..4c+3 of acc[cq] belong to channel 4cq+c)
// into one vector of 16 channels.
inline __m512 channel_sums(const __m512 acc[4]) {
  alignas(64) float buf[4][16];
  for (int cq = 0; cq < 4; ++cq) _mm512_store_ps(buf[cq], acc[cq]);
  alignas(64) float out[16];
  for (int c = 0; c < 16; ++c) {
    const float* b = buf[c / 4] + (c % 4) * 4;
    out[c] = (b[0] + b[1]) + (b[2] + b[3]);
  }
  return _mm512_load_ps(out);
}

inline __m512 x_quad(const float* x) { return _mm512_broadcast_f32x4(_mm_loadu_ps(x)); }

template <int R>
void q8_rows_block(const A16Rows& r, int64_t jb, int i0) {
  const int64_t kq = r.kp / kQuad;
  const uint8_t* blk = r.data + jb * kq * 64;
  __m512 acc[R][4];
  LLMC_UNROLL for (int i = 0; i < R; ++i) LLMC_UNROLL for (int c = 0; c < 4; ++c) acc[i][c] = _mm512_setzero_ps();
  const __m512i off = _mm512_set1_epi32(128);
  for (int64_t qd = 0; qd < kq; ++qd) {
    prefetch(blk + (qd + kPrefetch) * 64);
    __m512 xv[R];
    LLMC_UNROLL for (int i = 0; i < R; ++i) xv[i] = x_quad(r.x + (i0 + i) * r.ldx + qd * kQuad);
    LLMC_UNROLL for (int c = 0; c < 4; ++c) {
      const __m512i u = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + qd * 64 + c * 16)));
      const __m512 w = _mm512_cvtepi32_ps(_mm512_sub_epi32(u, off));
      LLMC_UNROLL for (int i = 0; i < R; ++i) acc[i][c] = _mm512_fmadd_ps(w, xv[i], acc[i][c]);
    }
  }
  const __m512 s = _mm512_loadu_ps(r.scale + jb * kBlockN);
  const __mmask16 mask = col_mask(static_cast<int>(r.n - jb * kBlockN));
  LLMC_UNROLL for (int i = 0; i < R; ++i)
      _mm512_mask_storeu_ps(r.y + (i0 + i) * r.ldy + jb * kBlockN, mask, _mm512_mul_ps(s, channel_sums(acc[i])));
}

template <int R>
void q4_rows_block(const A16Rows& r, int64_t jb, int i0) {
  const int64_t ko = r.kp / kOctet, group_o = r.group_len / kOctet;
  const uint8_t* blk = r.data + jb * ko * 64;
  __m512 total[R][4];
  __m512 corr[R];
  LLMC_UNROLL for (int i = 0; i < R; ++i) {
    corr[i] = _mm512_setzero_ps();
    LLMC_UNROLL for (int c = 0; c < 4; ++c) total[i][c] = _mm512_setzero_ps();
  }
  const __m512 nibble_lut = _mm512_setr_ps(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  for (int64_t g = 0; g < r.groups; ++g) {
    __m512 acc[R][4], acc_hi[R][4];  // two chains per quarter: an FMA's latency, not DRAM, bounded m = 1
    LLMC_UNROLL for (int i = 0; i < R; ++i) LLMC_UNROLL for (int c = 0; c < 4; ++c) acc[i][c] = acc_hi[i][c] =
        _mm512_setzero_ps();
    for (int64_t o = g * group_o; o < (g + 1) * group_o; ++o) {
      prefetch(blk + (o + kPrefetch) * 64);
      __m512 xl[R], xh[R];
      LLMC_UNROLL for (int i = 0; i < R; ++i) {
        xl[i] = x_quad(r.x + (i0 + i) * r.ldx + o * kOctet);
        xh[i] = x_quad(r.x + (i0 + i) * r.ldx + o * kOctet + kQuad);
      }
      LLMC_UNROLL for (int c = 0; c < 4; ++c) {
        const __m512i u =
            _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + o * 64 + c * 16)));
        // vpermps reads only the low 4 bits of each index: a table lookup converts a nibble to
        // float without masking it first (one instruction instead of and + cvt).
        const __m512 lo = _mm512_permutexvar_ps(u, nibble_lut);
        const __m512 hi = _mm512_permutexvar_ps(_mm512_srli_epi32(u, 4), nibble_lut);
        LLMC_UNROLL for (int i = 0; i < R; ++i) {
          acc[i][c] = _mm512_fmadd_ps(lo, xl[i], acc[i][c]);
          acc_hi[i][c] = _mm512_fmadd_ps(hi, xh[i], acc_hi[i][c]);
        }
      }
    }
    // Scale of channel 4c + l/4 in lane l of quarter c; the zero point is subtracted per channel.
    const int64_t si = (jb * r.groups + g) * kBlockN;
    const __m512 s = _mm512_loadu_ps(r.scale + si);
    const __m512 z =
        r.zero
            ? _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(r.zero + si))))
            : _mm512_set1_ps(8.0f);
    const __m512 sz = _mm512_mul_ps(s, z);
    LLMC_UNROLL for (int c = 0; c < 4; ++c) {
      const __m512i idx =
          _mm512_set_epi32(4 * c + 3, 4 * c + 3, 4 * c + 3, 4 * c + 3, 4 * c + 2, 4 * c + 2, 4 * c + 2, 4 * c + 2,
                           4 * c + 1, 4 * c + 1, 4 * c + 1, 4 * c + 1, 4 * c, 4 * c, 4 * c, 4 * c);
      const __m512 sc = _mm512_permutexvar_ps(idx, s);
      LLMC_UNROLL for (int i = 0; i < R; ++i) total[i][c] =
          _mm512_fmadd_ps(_mm512_add_ps(acc[i][c], acc_hi[i][c]), sc, total[i][c]);
    }
    LLMC_UNROLL for (int i = 0; i < R; ++i) corr[i] =
        _mm512_fmadd_ps(sz, _mm512_set1_ps(r.xsum[(i0 + i) * r.groups + g]), corr[i]);
  }
  const __mmask16 mask = col_mask(static_cast<int>(r.n - jb * kBlockN));
  LLMC_UNROLL for (int i = 0; i < R; ++i) _mm512_mask_storeu_ps(r.y + (i0 + i) * r.ldy + jb * kBlockN, mask,
                                                                _mm512_sub_ps(channel_sums(total[i]), corr[i]));
}

void q8_a16(const A16Rows& r) {
  for (int64_t jb = r.jb0; jb < r.jb1; ++jb) {
    int i = 0;
    for (; i + 2 <= r.rows; i += 2) q8_rows_block<2>(r, jb, i);
    if (i < r.rows) q8_rows_block<1>(r, jb, i);
  }
}

void q4_a16(const A16Rows& r) {
  for (int64_t jb = r.jb0; jb < r.jb1; ++jb) {
    int i = 0;
    for (; i + 2 <= r.rows; i += 2) q4_rows_block<2>(r, jb, i);
    if (i < r.rows) q4_rows_block<1>(r, jb, i);
  }
}

// 16 channels × 4 inputs (channel-major dwords) → 4 × 16 bytes, input-major (one 16-byte row per
// input): in-lane byte shuffle, then a dword permute across lanes.
inline __m512i block_to_input_major(__m512i v) {
  const __m512i shuf = _mm512_broadcast_i32x4(_mm_setr_epi8(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15));
  const __m512i perm = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
  return _mm512_permutexvar_epi32(perm, _mm512_shuffle_epi8(v, shuf));
}

// Writes 4 inputs (rows of dst, stride width floats) of 16 channels: dst = scale·u + bias.
inline void store_quad(__m512i im, __m512 s, __m512 bias, float* dst, int width) {
  alignas(64) uint8_t bytes[64];
  _mm512_store_si512(bytes, im);
  for (int b = 0; b < kQuad; ++b) {
    const __m512 u =
        _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_load_si128(reinterpret_cast<const __m128i*>(bytes + 16 * b))));
    _mm512_storeu_ps(dst + b * width, _mm512_fmadd_ps(u, s, bias));
  }
}

void q8_panel(const Q8Weights& w, int64_t j, int cols, int64_t p0, int64_t kc, float* dst, int width) {
  const int64_t np = w.np();
  if (width != 2 * kBlockN || j % kBlockN != 0 || p0 % kQuad != 0) {
    kernels_scalar().q8_panel(w, j, cols, p0, kc, dst, width);
    return;
  }
  const int64_t kq = w.kp() / kQuad, kmain = kc / kQuad * kQuad;
  for (int v = 0; v < 2; ++v) {
    const int64_t jj = j + v * kBlockN;
    if (v * kBlockN >= cols || jj >= np) {
      for (int64_t p = 0; p < kc; ++p) std::memset(dst + p * width + v * kBlockN, 0, kBlockN * sizeof(float));
      continue;
    }
    const uint8_t* blk = w.data + (jj / kBlockN) * kq * 64;
    const __m512 s = _mm512_loadu_ps(w.scale + jj);
    const __m512 bias = _mm512_mul_ps(s, _mm512_set1_ps(-128.0f));
    for (int64_t p = 0; p < kmain; p += kQuad)
      store_quad(block_to_input_major(_mm512_loadu_si512(blk + (p0 + p) / kQuad * 64)), s, bias,
                 dst + p * width + v * kBlockN, width);
  }
  if (kmain < kc) kernels_scalar().q8_panel(w, j, cols, p0 + kmain, kc - kmain, dst + kmain * width, width);
}

void q4_panel(const Q4Weights& w, int64_t j, int cols, int64_t p0, int64_t kc, float* dst, int width) {
  const int64_t np = w.np();
  if (width != 2 * kBlockN || j % kBlockN != 0 || p0 % kOctet != 0) {
    kernels_scalar().q4_panel(w, j, cols, p0, kc, dst, width);
    return;
  }
  const int64_t ko = w.kp() / kOctet, kmain = kc / kOctet * kOctet;
  const __m512i low4 = _mm512_set1_epi8(0x0F);
  for (int v = 0; v < 2; ++v) {
    const int64_t jj = j + v * kBlockN;
    if (v * kBlockN >= cols || jj >= np) {
      for (int64_t p = 0; p < kc; ++p) std::memset(dst + p * width + v * kBlockN, 0, kBlockN * sizeof(float));
      continue;
    }
    const uint8_t* blk = w.data + (jj / kBlockN) * ko * 64;
    int64_t t_cur = -1;
    __m512 s = _mm512_setzero_ps(), bias = s;
    for (int64_t p = 0; p < kmain; p += kOctet) {
      const int64_t t = (p0 + p) / w.group;
      if (t != t_cur) {
        t_cur = t;
        const int64_t si = scale_index(jj, t, w.groups());
        s = _mm512_loadu_ps(w.scale + si);
        const __m512 z = w.zero ? _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(
                                      _mm_loadu_si128(reinterpret_cast<const __m128i*>(w.zero + si))))
                                : _mm512_set1_ps(8.0f);
        bias = _mm512_sub_ps(_mm512_setzero_ps(), _mm512_mul_ps(s, z));
      }
      const __m512i raw = _mm512_loadu_si512(blk + (p0 + p) / kOctet * 64);
      float* d = dst + p * width + v * kBlockN;
      store_quad(block_to_input_major(_mm512_and_si512(raw, low4)), s, bias, d, width);
      store_quad(block_to_input_major(_mm512_and_si512(_mm512_srli_epi16(raw, 4), low4)), s, bias, d + kQuad * width,
                 width);
    }
  }
  if (kmain < kc) kernels_scalar().q4_panel(w, j, cols, p0 + kmain, kc - kmain, dst + kmain * width, width);
}

float quant_row(const float* x, int64_t k, int64_t kp, int8_t* dst, int mr, int32_t* xsum, int64_t group_len) {
  const __m512 absmask = _mm512_castsi512_ps(_mm512_set1_epi32(0x7FFFFFFF));
  __m512 vmax = _mm512_setzero_ps();
  __m512i vbad = _mm512_setzero_si512();  // a − a is 0 for finite a, NaN for ±Inf and NaN
  for (int64_t p = 0; p < k; p += 16) {
    const __mmask16 m = k - p >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << (k - p)) - 1u);
    const __m512 v = _mm512_maskz_loadu_ps(m, x + p);
    vbad = _mm512_or_si512(vbad, _mm512_castps_si512(_mm512_sub_ps(v, v)));
    vmax = _mm512_max_ps(vmax, _mm512_and_ps(v, absmask));
  }
  const bool bad = _mm512_test_epi32_mask(vbad, vbad) != 0;
  const float amax = _mm512_reduce_max_ps(vmax);
  const float inv = !bad && amax > 0.0f ? 127.0f / amax : 0.0f;
  const __m512 vinv = _mm512_set1_ps(inv);
  const __m512i lim = _mm512_set1_epi32(127), nlim = _mm512_set1_epi32(-127);
  const int64_t qstride = static_cast<int64_t>(mr) * kQuad;
  // Groups are 32, 64 or 128 inputs (the drivers accept no other), or one group of kp (a multiple
  // of 4): a vector never straddles two groups.
  for (int64_t g0 = 0; g0 < kp; g0 += group_len) {
    const int64_t g1 = g0 + group_len;
    __m512i vsum = _mm512_setzero_si512();
    for (int64_t p = g0; p < g1; p += 16) {
      // A non-finite row writes zero codes (inv = 0 would turn ±Inf and NaN into INT_MIN).
      const __mmask16 m = bad           ? __mmask16(0)
                          : k - p >= 16 ? __mmask16(0xFFFF)
                                        : (k > p ? __mmask16((1u << (k - p)) - 1u) : __mmask16(0));
      __m512i qv = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + p), vinv));  // round half to even
      qv = _mm512_max_epi32(_mm512_min_epi32(qv, lim), nlim);
      vsum = _mm512_add_epi32(vsum, qv);
      const __m128i b = _mm512_cvtsepi32_epi8(qv);
      int8_t* d = dst + (p / kQuad) * qstride;
      const int64_t quads = g1 - p >= 16 ? 4 : (g1 - p) / kQuad;
      _mm_storeu_si32(d, b);
      if (quads > 1) _mm_storeu_si32(d + qstride, _mm_srli_si128(b, 4));
      if (quads > 2) _mm_storeu_si32(d + 2 * qstride, _mm_srli_si128(b, 8));
      if (quads > 3) _mm_storeu_si32(d + 3 * qstride, _mm_srli_si128(b, 12));
    }
    xsum[g0 / group_len] = _mm512_reduce_add_epi32(vsum);
  }
  return !bad ? amax / 127.0f : NAN;
}

}  // namespace

int dot_peak_avx512(int64_t iters) {
  if (iters <= 0) return 0;
#if defined(__GNUC__)
  // 24 independent accumulators in fixed registers: compilers spill arrays of them (see dpbusd_bcast).
  __asm__ volatile(
      "vpternlogd $0xff, %%zmm1, %%zmm1, %%zmm1\n"
      "vpternlogd $0xff, %%zmm2, %%zmm2, %%zmm2\n"
      "1:\n"
      "vpdpbusd %%zmm1, %%zmm2, %%zmm8\n"
      "vpdpbusd %%zmm1, %%zmm2, %%zmm9\n"
      "vpdpbusd %%zmm1, %%zmm2, %%zmm10\n"
      "vpdpbusd %%zmm1, %%zmm2, %%zmm11\n"
      "vpdpbusd %%zmm1, %%zmm2, %%zmm12\n"
      "vpdpbusd %%zmm1, %%zmm2, %%zmm13\n"
      "vpdpbusd %%zmm1, %%zmm2, %%zmm14\n"
      "vpdpbusd %%zmm1, %%zmm2, %%zmm15\n"
      "vpdpbusd %%zmm1, %%zmm2, %%zmm16\n"
      "vpdpbusd %%zmm1, %%zmm2, %%zmm17\n"
      "vpdpbusd %%zmm1, %%zmm2, %%zmm18\n"
      "vpdpbusd %%zmm1, %%zmm2, %%zmm19\n"
      "vpdpbusd %%zmm1, %%zmm2, %%zmm20\n"
      "vpdpbusd %%zmm1, %%zmm2, %%zmm21\n"
      "vpdpbusd %%zmm1, %%zmm2, %%zmm22\n"
      "vpdpbusd %%zmm1, %%zmm2, %%zmm23\n"
      "vpdpbusd %%zmm1, %%zmm2, %%zmm24\n"
      "vpdpbusd %%zmm1, %%zmm2, %%zmm25\n"
      "vpdpbusd %%zmm1, %%zmm2, %%zmm26\n"
      "vpdpbusd %%zmm1, %%zmm2, %%zmm27\n"
      "vpdpbusd %%zmm1, %%zmm2, %%zmm28\n"
      "vpdpbusd %%zmm1, %%zmm2, %%zmm29\n"
      "vpdpbusd %%zmm1, %%zmm2, %%zmm30\n"
      "vpdpbusd %%zmm1, %%zmm2, %%zmm31\n"
      "dec %0\n"
      "jnz 1b\n"
      : "+r"(iters)
      :
      : "zmm1", "zmm2", "zmm8", "zmm9", "zmm10", "zmm11", "zmm12", "zmm13", "zmm14", "zmm15", "zmm16", "zmm17", "zmm18",
        "zmm19", "zmm20", "zmm21", "zmm22", "zmm23", "zmm24", "zmm25", "zmm26", "zmm27", "zmm28", "zmm29", "zmm30",
        "zmm31", "cc");
  return 1;
#else
  __m512i acc[24];
  const __m512i a = _mm512_set1_epi8(1), b = _mm512_set1_epi8(2);
  for (int c = 0; c < 24; ++c) acc[c] = _mm512_setzero_si512();
  for (int64_t it = 0; it < iters; ++it)
    for (int c = 0; c < 24; ++c) acc[c] = _mm512_dpbusd_epi32(acc[c], a, b);
  __m512i s = acc[0];
  for (int c = 1; c < 24; ++c) s = _mm512_add_epi32(s, acc[c]);
  return _mm512_reduce_add_epi32(s);
#endif
}

Kernels kernels_avx512() { return {kMR8, kMR4, q8_a8, q4_a8, q8_a16, q4_a16, q8_panel, q4_panel, quant_row}; }

}  // namespace q
}  // namespace llmc
