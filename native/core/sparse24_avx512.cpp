// sparse24_avx512.cpp — AVX-512 (F, BW, VL, VNNI) kernels of the 2:4 sparse matmuls. Layouts:
// sparse24.h.
//
// Index decode. A 16-channel block's metadata for one octet is 16 bytes (one per channel):
//   float kernels: vpmovzxbd puts channel c's byte in dword lane c; kept value r's index into the
//     octet's 8 inputs is ((meta >> 2r) & 3) | 4·(r >= 2): one shift and one vpternlogd per vector
//     of 16 values (the index vectors are shared by every row of the pass).
//   w8a8: the byte of channel c is replicated into the 4 bytes of dword c (vbroadcasti32x4 +
//     vpshufb); two vpsrlvw shift words by (0, 4) and (2, 6) bits, a byte blend takes the odd bytes
//     from the second, and vpternlogd keeps 2 bits and adds 4 for the second group: 64 byte
//     indices in 6 instructions, shared by every row of the tile.
// Gather. Float rows: the row's 8 inputs of the octet in both halves of a zmm, vpermps by the
//   index vector. w8a8: the row's 8 activation bytes broadcast to every qword, vpshufb by the byte
//   indices: 64 activations for 16 channels × 4 kept codes in one instruction, then one vpdpbusd.
// Dense-path panels (m above the crossover): compare-and-blend of the 4 value vectors per group
//   position, one 16-channel vector store per input.
#include <immintrin.h>

#include <cstring>

#include "gemm_q.h"
#include "sparse24.h"
#include "unroll.h"

namespace llmc {
namespace s24 {
namespace {

// Kernels that read each weight once (1-2 rows) stream from DRAM: prefetch 4 KiB ahead.
constexpr int64_t kPrefetchBytes = 4096;
inline void prefetch(const void* p) { _mm_prefetch(static_cast<const char*>(p), _MM_HINT_T0); }

inline __mmask16 col_mask(int64_t cols) {
  return cols >= 16 ? __mmask16(0xFFFF) : cols <= 0 ? __mmask16(0) : __mmask16((1u << cols) - 1u);
}

// Index of kept value r (0..3) into the octet's 8 inputs, per channel lane, from mv (meta bytes
// zero-extended to dwords).
template <int R>
inline __m512i float_index(__m512i mv) {
  const __m512i sh = R == 0 ? mv : _mm512_srli_epi32(mv, 2 * R);
  return _mm512_ternarylogic_epi32(sh, _mm512_set1_epi32(3), _mm512_set1_epi32(R >= 2 ? 4 : 0), 0xEA);  // (a & b) | c
}

inline __m512i meta_dwords(const uint8_t* meta) {
  return _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(meta)));
}

inline __m512 x_octet(const float* x) {
  return _mm512_castpd_ps(_mm512_broadcast_f64x4(_mm256_castps_pd(_mm256_loadu_ps(x))));
}

// ---- f32 values, float activations ---------------------------------------------------------------

template <int R>
void f32_pass(const Rows& r, int64_t jb) {
  const Weights& w = *r.w;
  const int64_t octets = w.octets();
  const uint8_t* meta = w.meta + jb * octets * kBlockN;
  const float* v = static_cast<const float*>(w.values) + jb * octets * 64;
  constexpr int C = R == 1 ? 4 : R == 2 ? 2 : 1;  // independent FMA chains per row
  __m512 acc[R][C];
  LLMC_UNROLL for (int i = 0; i < R; ++i) LLMC_UNROLL for (int c = 0; c < C; ++c) acc[i][c] = _mm512_setzero_ps();
  for (int64_t o = 0; o < octets; ++o) {
    if (R <= 2) {
      const char* pv = reinterpret_cast<const char*>(v + o * 64) + kPrefetchBytes;
      prefetch(pv), prefetch(pv + 64), prefetch(pv + 128), prefetch(pv + 192);
      if (o % 4 == 0) prefetch(meta + o * kBlockN + kPrefetchBytes / 16);
    }
    const __m512i mv = meta_dwords(meta + o * kBlockN);
    __m512 xo[R];
    LLMC_UNROLL for (int i = 0; i < R; ++i) xo[i] = x_octet(r.x + i * r.ldx + o * kOctet);
    const __m512i idx[4] = {float_index<0>(mv), float_index<1>(mv), float_index<2>(mv), float_index<3>(mv)};
    LLMC_UNROLL for (int q = 0; q < 4; ++q) {
      const __m512 wv = _mm512_loadu_ps(v + o * 64 + q * 16);
      LLMC_UNROLL for (int i = 0; i < R; ++i) acc[i][q % C] =
          _mm512_fmadd_ps(wv, _mm512_permutexvar_ps(idx[q], xo[i]), acc[i][q % C]);
    }
  }
  const __mmask16 mask = col_mask(w.n - jb * kBlockN);
  LLMC_UNROLL for (int i = 0; i < R; ++i) {
    __m512 s = acc[i][0];
    LLMC_UNROLL for (int c = 1; c < C; ++c) s = _mm512_add_ps(s, acc[i][c]);
    _mm512_mask_storeu_ps(r.y + i * r.ldy + jb * kBlockN, mask, s);
  }
}

// ---- int4 values (symmetric, group scales), float activations ----------------------------------

template <int R>
void q4_pass(const Rows& r, int64_t jb) {
  const Weights& w = *r.w;
  const int64_t octets = w.octets(), G = w.groups(), pairs_per_group = w.group_len() / 16;
  const uint8_t* meta = w.meta + jb * octets * kBlockN;
  const uint8_t* v = static_cast<const uint8_t*>(w.values) + jb * (octets / 2) * 64;
  const float* scale = w.scale + jb * G * kBlockN;
  // vpermps reads the low 4 bits of each index: the table turns a nibble u into float(u − 8).
  const __m512 lut = _mm512_setr_ps(-8, -7, -6, -5, -4, -3, -2, -1, 0, 1, 2, 3, 4, 5, 6, 7);
  constexpr int C = R == 1 ? 4 : R == 2 ? 2 : 1;
  __m512 total[R];
  LLMC_UNROLL for (int i = 0; i < R; ++i) total[i] = _mm512_setzero_ps();
  for (int64_t g = 0; g < G; ++g) {
    __m512 acc[R][C];
    LLMC_UNROLL for (int i = 0; i < R; ++i) LLMC_UNROLL for (int c = 0; c < C; ++c) acc[i][c] = _mm512_setzero_ps();
    for (int64_t s = g * pairs_per_group; s < (g + 1) * pairs_per_group; ++s) {
      if (R <= 2) {
        prefetch(v + s * 64 + kPrefetchBytes);
        if (s % 2 == 0) prefetch(meta + s * 32 + kPrefetchBytes / 2);
      }
      const __m512i raw = _mm512_loadu_si512(v + s * 64);
      LLMC_UNROLL for (int h = 0; h < 2; ++h) {
        const int64_t o = 2 * s + h;
        const __m512i mv = meta_dwords(meta + o * kBlockN);
        __m512 xo[R];
        LLMC_UNROLL for (int i = 0; i < R; ++i) xo[i] = x_octet(r.x + i * r.ldx + o * kOctet);
        const __m512i idx[4] = {float_index<0>(mv), float_index<1>(mv), float_index<2>(mv), float_index<3>(mv)};
        LLMC_UNROLL for (int q = 0; q < 4; ++q) {
          const __m512i u = (q == 0 && h == 0) ? raw : _mm512_srli_epi32(raw, 8 * q + 4 * h);
          const __m512 wv = _mm512_permutexvar_ps(u, lut);
          LLMC_UNROLL for (int i = 0; i < R; ++i) {
            __m512& a = acc[i][(2 * h + q) % C];
            a = _mm512_fmadd_ps(wv, _mm512_permutexvar_ps(idx[q], xo[i]), a);
          }
        }
      }
    }
    const __m512 sc = _mm512_loadu_ps(scale + g * kBlockN);
    LLMC_UNROLL for (int i = 0; i < R; ++i) {
      __m512 s = acc[i][0];
      LLMC_UNROLL for (int c = 1; c < C; ++c) s = _mm512_add_ps(s, acc[i][c]);
      total[i] = _mm512_fmadd_ps(s, sc, total[i]);
    }
  }
  const __mmask16 mask = col_mask(w.n - jb * kBlockN);
  LLMC_UNROLL for (int i = 0; i < R; ++i) _mm512_mask_storeu_ps(r.y + i * r.ldy + jb * kBlockN, mask, total[i]);
}

template <void (*F1)(const Rows&, int64_t), void (*F2)(const Rows&, int64_t), void (*F3)(const Rows&, int64_t),
          void (*F4)(const Rows&, int64_t), void (*F5)(const Rows&, int64_t), void (*F6)(const Rows&, int64_t),
          void (*F7)(const Rows&, int64_t), void (*F8)(const Rows&, int64_t)>
void rows_dispatch(const Rows& r) {
  for (int64_t jb = r.jb0; jb < r.jb1; ++jb) switch (r.rows) {
      case 1:
        F1(r, jb);
        break;
      case 2:
        F2(r, jb);
        break;
      case 3:
        F3(r, jb);
        break;
      case 4:
        F4(r, jb);
        break;
      case 5:
        F5(r, jb);
        break;
      case 6:
        F6(r, jb);
        break;
      case 7:
        F7(r, jb);
        break;
      default:
        F8(r, jb);
        break;
    }
}

void f32_rows(const Rows& r) {
  rows_dispatch<f32_pass<1>, f32_pass<2>, f32_pass<3>, f32_pass<4>, f32_pass<5>, f32_pass<6>, f32_pass<7>, f32_pass<8>>(
      r);
}
void q4_rows(const Rows& r) {
  rows_dispatch<q4_pass<1>, q4_pass<2>, q4_pass<3>, q4_pass<4>, q4_pass<5>, q4_pass<6>, q4_pass<7>, q4_pass<8>>(r);
}

// ---- int8 values, int8 activations (w8a8) --------------------------------------------------------

// acc += Σ4 (unsigned bytes of a) · (signed bytes of b) per dword. GCC 12 turns the intrinsic's tied
// accumulator into a copy and a spill in unrolled tiles (see gemm_q_avx512.cpp): one-instruction asm.
inline __m512i dpbusd(__m512i acc, __m512i a, __m512i b) {
#if defined(__GNUC__)
  __asm__("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(a), "v"(b));
  return acc;
#else
  return _mm512_dpbusd_epi32(acc, a, b);
#endif
}

struct ByteDecode {
  __m512i rep, sh0, sh1, three, off;
  ByteDecode() {
    alignas(64) uint8_t pat[64];
    for (int l = 0; l < 4; ++l)
      for (int c = 0; c < 4; ++c)
        for (int r = 0; r < 4; ++r) pat[16 * l + 4 * c + r] = static_cast<uint8_t>(4 * l + c);
    rep = _mm512_load_si512(pat);
    sh0 = _mm512_set1_epi32(4 << 16);        // word 0 of a dword: >> 0, word 1: >> 4
    sh1 = _mm512_set1_epi32((6 << 16) | 2);  // word 0: >> 2, word 1: >> 6
    three = _mm512_set1_epi8(3);
    off = _mm512_set1_epi32(0x04040000);  // bytes 2, 3 (second group): + 4
  }
  // Byte (c, r) = index of channel c's kept value r into the octet's 8 activation bytes.
  __m512i operator()(const uint8_t* meta) const {
    const __m512i mb = _mm512_broadcast_i32x4(_mm_loadu_si128(reinterpret_cast<const __m128i*>(meta)));
    const __m512i rp = _mm512_shuffle_epi8(mb, rep);
    const __m512i t0 = _mm512_srlv_epi16(rp, sh0), t1 = _mm512_srlv_epi16(rp, sh1);
    const __m512i sel = _mm512_mask_blend_epi8(__mmask64(0xAAAAAAAAAAAAAAAAull), t0, t1);
    return _mm512_ternarylogic_epi32(sel, three, off, 0xEA);
  }
};

inline __m512i bcast64(const int8_t* p) {
  int64_t v;
  std::memcpy(&v, p, 8);
  return _mm512_set1_epi64(v);
}

template <int R, int NV>
void q8_tile(const A8& t) {
  const Weights& w = *t.w;
  const int64_t octets = w.octets();
  const ByteDecode dec;
  const int8_t* vb[2];
  const uint8_t* mb[2];
  LLMC_UNROLL for (int v = 0; v < NV; ++v) {
    vb[v] = static_cast<const int8_t*>(w.values) + (t.jb0 + v) * octets * 64;
    mb[v] = w.meta + (t.jb0 + v) * octets * kBlockN;
  }
  __m512i acc[R][NV];
  LLMC_UNROLL for (int i = 0; i < R; ++i) LLMC_UNROLL for (int v = 0; v < NV; ++v) acc[i][v] = _mm512_setzero_si512();
  for (int64_t o = 0; o < octets; ++o) {
    __m512i idx[NV], wv[NV];
    LLMC_UNROLL for (int v = 0; v < NV; ++v) {
      if (R <= 2) {
        prefetch(vb[v] + o * 64 + kPrefetchBytes);
        if (o % 4 == 0) prefetch(mb[v] + o * kBlockN + kPrefetchBytes / 4);
      }
      idx[v] = dec(mb[v] + o * kBlockN);
      wv[v] = _mm512_loadu_si512(vb[v] + o * 64);
    }
    LLMC_UNROLL for (int i = 0; i < R; ++i) {
      const __m512i xb = bcast64(t.xq + i * t.ldq + o * kOctet);
      LLMC_UNROLL for (int v = 0; v < NV; ++v) acc[i][v] = dpbusd(acc[i][v], _mm512_shuffle_epi8(xb, idx[v]), wv[v]);
    }
  }
  LLMC_UNROLL for (int v = 0; v < NV; ++v) {
    const int64_t j0 = (t.jb0 + v) * kBlockN;
    const __m512i corr = _mm512_slli_epi32(_mm512_loadu_si512(w.wsum + j0), 7);  // 128 · wsum
    const __m512 sc = _mm512_loadu_ps(w.scale + j0);
    const __mmask16 mask = col_mask(w.n - j0);
    LLMC_UNROLL for (int i = 0; i < R; ++i) {
      const __m512 f = _mm512_cvtepi32_ps(_mm512_sub_epi32(acc[i][v], corr));
      _mm512_mask_storeu_ps(t.y + i * t.ldy + j0, mask, _mm512_mul_ps(_mm512_set1_ps(t.sx[i]), _mm512_mul_ps(sc, f)));
    }
  }
}

template <int R>
void q8_rows(const A8& t) {
  if (t.jb1 - t.jb0 >= 2)
    q8_tile<R, 2>(t);
  else
    q8_tile<R, 1>(t);
}

void q8_a8(const A8& t) {
  switch (t.rows) {
    case 1:
      q8_rows<1>(t);
      break;
    case 2:
      q8_rows<2>(t);
      break;
    case 3:
      q8_rows<3>(t);
      break;
    case 4:
      q8_rows<4>(t);
      break;
    case 5:
      q8_rows<5>(t);
      break;
    case 6:
      q8_rows<6>(t);
      break;
    case 7:
      q8_rows<7>(t);
      break;
    default:
      q8_rows<8>(t);
      break;
  }
}

// ---- panels for the fp32 GEMM (dense path) -------------------------------------------------------

template <bool Int4>
void panel(const Weights& w, int64_t j, int cols, int64_t p0, int64_t kc, float* dst, int width) {
  if (width != 2 * kBlockN || j % kBlockN != 0 || p0 % kOctet != 0) {
    kernels_scalar().f32_panel(w, j, cols, p0, kc, dst, width);
    return;
  }
  const int64_t octets = w.octets(), np = w.np(), G = w.groups(), glen = w.group_len();
  const int64_t kmain = kc / kOctet * kOctet;
  const __m512 lut = _mm512_setr_ps(-8, -7, -6, -5, -4, -3, -2, -1, 0, 1, 2, 3, 4, 5, 6, 7);
  const __m512i three = _mm512_set1_epi32(3);
  for (int v = 0; v < 2; ++v) {
    const int64_t jj = j + v * kBlockN;
    float* d0 = dst + v * kBlockN;
    if (v * kBlockN >= cols || jj >= np) {
      for (int64_t p = 0; p < kc; ++p) std::memset(d0 + p * width, 0, kBlockN * sizeof(float));
      continue;
    }
    const int64_t jb = jj / kBlockN;
    const uint8_t* meta = w.meta + jb * octets * kBlockN;
    for (int64_t p = 0; p < kmain; p += kOctet) {
      const int64_t o = (p0 + p) / kOctet;
      const __m512i mv = meta_dwords(meta + o * kBlockN);
      __m512 val[4];
      if (Int4) {
        const __m512i raw =
            _mm512_loadu_si512(static_cast<const uint8_t*>(w.values) + (jb * (octets / 2) + o / 2) * 64);
        const __m512 sc = _mm512_loadu_ps(w.scale + (jb * G + (p0 + p) / glen) * kBlockN);
        const int h = static_cast<int>(o % 2) * 4;
        val[0] = _mm512_mul_ps(sc, _mm512_permutexvar_ps(_mm512_srli_epi32(raw, h), lut));
        val[1] = _mm512_mul_ps(sc, _mm512_permutexvar_ps(_mm512_srli_epi32(raw, 8 + h), lut));
        val[2] = _mm512_mul_ps(sc, _mm512_permutexvar_ps(_mm512_srli_epi32(raw, 16 + h), lut));
        val[3] = _mm512_mul_ps(sc, _mm512_permutexvar_ps(_mm512_srli_epi32(raw, 24 + h), lut));
      } else {
        const float* vf = static_cast<const float*>(w.values) + (jb * octets + o) * 64;
        LLMC_UNROLL for (int q = 0; q < 4; ++q) val[q] = _mm512_loadu_ps(vf + q * 16);
      }
      const __m512i i0 = _mm512_and_si512(mv, three), i1 = _mm512_and_si512(_mm512_srli_epi32(mv, 2), three);
      const __m512i i2 = _mm512_and_si512(_mm512_srli_epi32(mv, 4), three),
                    i3 = _mm512_and_si512(_mm512_srli_epi32(mv, 6), three);
      LLMC_UNROLL for (int pos = 0; pos < 4; ++pos) {
        const __m512i pv = _mm512_set1_epi32(pos);
        const __m512 a = _mm512_mask_mov_ps(_mm512_maskz_mov_ps(_mm512_cmpeq_epi32_mask(i0, pv), val[0]),
                                            _mm512_cmpeq_epi32_mask(i1, pv), val[1]);
        const __m512 b = _mm512_mask_mov_ps(_mm512_maskz_mov_ps(_mm512_cmpeq_epi32_mask(i2, pv), val[2]),
                                            _mm512_cmpeq_epi32_mask(i3, pv), val[3]);
        _mm512_storeu_ps(d0 + (p + pos) * width, a);
        _mm512_storeu_ps(d0 + (p + 4 + pos) * width, b);
      }
    }
  }
  if (kmain < kc) kernels_scalar().f32_panel(w, j, cols, p0 + kmain, kc - kmain, dst + kmain * width, width);
}

}  // namespace

Kernels kernels_avx512() { return {f32_rows, q4_rows, q8_a8, panel<false>, panel<true>, 1}; }

}  // namespace s24
}  // namespace llmc
