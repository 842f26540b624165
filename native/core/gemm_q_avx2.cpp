// gemm_q_avx2.cpp — AVX2 (+ FMA) kernels of the quantized GEMMs, for x86-64 CPUs without AVX-512
// VNNI (Haswell and later). Compiled with -mavx2 -mfma -mf16c. Layouts: gemm_q.h.
//
// A 16-channel packed block (64 bytes per quad of int8 inputs, or per octet of int4 inputs) is two
// ymm: the low half holds channels 0..7, the high half channels 8..15, one channel per dword lane.
// The kernels work on such 8-channel *slices* (a tile of up to 32 columns is up to 4 slices), so
// every int32 / float lane is one output channel and the epilogues need no horizontal sums.
//
// A8 micro-kernels (int8 activations). There is no vpdpbusd: a dword dot product is vpmaddubsw
// (unsigned × signed bytes → pairwise int16 sums, *saturating*) then vpmaddwd with ones (→ int32).
//   w8a8: the stored byte u = w + 128 is in [0, 255] and x in [-127, 127], so maddubs(u, x) can
//     saturate (2·255·127 > 32767). Sign trick on the signed weight w = u ^ 0x80:
//       maddubs(abs(w), sign(x, w)) = Σ w·x pairwise, |abs(w)| <= 128, |x| <= 127 → |pair| <= 32512,
//     no saturation (abs(-128) is 0x80 = 128 read as unsigned; x = ±127 never overflows when
//     negated). The int32 accumulator is then Σ w·x itself, which is exactly the scalar kernel's
//     acc − 128·xsum, so the epilogue has no xsum correction.
//     Tile: R rows × V slices, acc[R][V] int32 + V (w, abs w) pairs + broadcast + ones:
//       R = 1: V = 1..4 (all of the tile's columns at once: both blocks stream together, m = 1);
//       R = 2..4 (MR8 = 4): V = 1, one slice per pass (activations re-read from L1).
//     Measured (GCC 12, this Zen 5 VM, m = 256): R = 4 × V = 1 ran 5-10% faster than R = 4 × V = 2 (GCC
//     spills two of its 8 accumulators) and than R = 6 or 8 × V = 1.
//     Per quad, row and slice: vpsignb + vpmaddubsw + vpmaddwd + vpaddd.
//   w4a8: nibbles u in [0, 15], so maddubs(u, x) cannot saturate (|pair| <= 3810): the AVX-512
//     formulation applies (acc_t = Σ u·x per group, f += scale·(acc_t − zero·xsum_t)). Even 8 quads
//     of maddubs can be summed in int16 (8·3810 < 32767): the kernels add the int16 products of up
//     to 2 octets (4 quads) before one vpmaddwd, about 1.25 multiply uops per quad instead of 2.
//     Tile: R = 1: V = 1..4 slices, 1 octet per int16 run; R = 2: V = 2, 1 octet; R = 3..6 (MR4 = 6):
//     V = 1, 2 octets (4 nibble vectors + R int32 accumulators + broadcast + int16 sum + ones).
//     (MR4 = 8 measured the same as 6, MR4 = 4 about 5% slower.)
//     The per-group float accumulators live in a small L1 tile (folded once per group).
// A16 rows kernels (m <= 4, float activations): a slice's dword lanes are one channel each;
//   vpshufb moves byte b of every dword into place (int8: to the top byte, then vpsrad 24 gives
//   the signed weight; int4: the nibble planes are split first, then byte b to the low byte),
//   vcvtdq2ps, and one FMA per row with x[p] broadcast. Several accumulators per (row, slice) hide
//   the FMA latency at small row counts. int4 uses Σ u·x per group and subtracts
//   Σ_t scale·zero·xsum_t at the end, as the AVX-512 kernel does.
// Panels for the fp32 GEMM (m > 4, NR = 16 = one block): the same byte extraction, one 8-float
//   store per input and half block; int8: scale · w, int4: scale · (u − zero), both bit-identical
//   to the scalar dequantization. Other widths / unaligned starts use the scalar panels.
// quant_row: max |x| and a finiteness test, then vcvtps2dq (round half to even, as nearbyint),
//   clamp, pack to bytes, two dword stores per 8 inputs; bit-identical to the scalar version.
#include <immintrin.h>

#include <cmath>
#include <cstring>

#include "gemm_q.h"
#include "unroll.h"

namespace llmc {
namespace q {
namespace {

constexpr int kMR8 = 4, kMR4 = 6;  // A8 micro-panel rows: w8a8, w4a8
constexpr int kSlice = 8;          // channels per slice (one ymm of int32 / float lanes)

// Mask of the first n lanes (all for n >= 8, none for n <= 0), for maskstore / and.
inline __m256i lane_mask(int n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

// Stores the first n (>= 1) lanes of v.
inline void store_cols(float* y, __m256 v, int n) {
  if (n >= kSlice)
    _mm256_storeu_ps(y, v);
  else
    _mm256_maskstore_ps(y, lane_mask(n), v);
}

// The 4 activation bytes at p broadcast to every dword (vpbroadcastd from memory).
inline __m256i bcast32(const int8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm256_set1_epi32(v);
}

// vpshufb indices: byte b of every dword to the dword's low byte, zeros above (zero extension).
inline __m256i idx_low(int b) {
  const char z = -1;
  return _mm256_setr_epi8(char(b), z, z, z, char(4 + b), z, z, z, char(8 + b), z, z, z, char(12 + b), z, z, z, char(b),
                          z, z, z, char(4 + b), z, z, z, char(8 + b), z, z, z, char(12 + b), z, z, z);
}
// byte b of every dword to the dword's top byte, zeros below (then vpsrad 24 sign-extends it).
inline __m256i idx_top(int b) {
  const char z = -1;
  return _mm256_setr_epi8(z, z, z, char(b), z, z, z, char(4 + b), z, z, z, char(8 + b), z, z, z, char(12 + b), z, z, z,
                          char(b), z, z, z, char(4 + b), z, z, z, char(8 + b), z, z, z, char(12 + b));
}

// Slice s of a tile: block s / 2, half s % 2 (32 bytes into each 64-byte block row).
inline const uint8_t* slice_ptr(const A8Tile& t, int s) { return t.w + (s >> 1) * t.wstride + (s & 1) * 32; }

// ---- w8a8 ------------------------------------------------------------------------------------
// R rows × V slices starting at slice s0; all V slices hold valid columns.
template <int R, int V>
void q8_pass(const A8Tile& t, int s0) {
  const uint8_t* wp[V];
  LLMC_UNROLL for (int v = 0; v < V; ++v) wp[v] = slice_ptr(t, s0 + v);
  __m256i acc[R][V];
  LLMC_UNROLL for (int r = 0; r < R; ++r) LLMC_UNROLL for (int v = 0; v < V; ++v) acc[r][v] = _mm256_setzero_si256();
  const __m256i flip = _mm256_set1_epi8(static_cast<char>(0x80));
  const __m256i ones = _mm256_set1_epi16(1);
  const int64_t astep = static_cast<int64_t>(t.mr) * kQuad;
  const int8_t* a = t.a;
  for (int64_t qd = 0; qd < t.kq; ++qd, a += astep) {
    __m256i w[V], aw[V];
    LLMC_UNROLL for (int v = 0; v < V; ++v) {
      w[v] = _mm256_xor_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(wp[v] + qd * 64)), flip);  // signed w
      aw[v] = _mm256_abs_epi8(w[v]);  // |w| in [0, 128] as unsigned bytes
    }
    LLMC_UNROLL for (int r = 0; r < R; ++r) {
      const __m256i xb = bcast32(a + r * kQuad);
      LLMC_UNROLL for (int v = 0; v < V; ++v) {
        const __m256i p16 = _mm256_maddubs_epi16(aw[v], _mm256_sign_epi8(xb, w[v]));  // |w|·sign(w)·x, no saturation
        acc[r][v] = _mm256_add_epi32(acc[r][v], _mm256_madd_epi16(p16, ones));
      }
    }
  }
  // acc = Σ w·x = the scalar kernel's acc − 128·xsum: same integer, same float operations.
  LLMC_UNROLL for (int r = 0; r < R; ++r) {
    const __m256 sx = _mm256_set1_ps(t.sx[r]);
    LLMC_UNROLL for (int v = 0; v < V; ++v) {
      const int c0 = (s0 + v) * kSlice;
      const __m256 s = _mm256_loadu_ps(t.scale + c0);
      const __m256 f = _mm256_cvtepi32_ps(acc[r][v]);
      store_cols(t.y + r * t.ldy + c0, _mm256_mul_ps(sx, _mm256_mul_ps(s, f)), t.cols - c0);
    }
  }
}

template <int R>
void q8_rows(const A8Tile& t) {
  const int ns = (t.cols + kSlice - 1) / kSlice;
  if (R == 1) {  // one row: every slice at once (the m = 1 stream: both blocks read together)
    switch (ns) {
      case 1:
        q8_pass<1, 1>(t, 0);
        break;
      case 2:
        q8_pass<1, 2>(t, 0);
        break;
      case 3:
        q8_pass<1, 3>(t, 0);
        break;
      default:
        q8_pass<1, 4>(t, 0);
        break;
    }
    return;
  }
  for (int s = 0; s < ns; ++s) q8_pass<R, 1>(t, s);
}

void q8_a8(const A8Tile& t) {
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
    default:
      break;
  }
}

// ---- w4a8 ------------------------------------------------------------------------------------
// R rows × V slices from slice s0; int16 runs of C octets (C · 2 quads · 3810 < 32767 for C <= 4).
template <int R, int V, int C>
inline void q4_run(const uint8_t* const* wp, const int8_t* a, int64_t astep, int64_t o, __m256i (&acc)[R][V]) {
  const __m256i low4 = _mm256_set1_epi8(0x0F);
  const __m256i ones = _mm256_set1_epi16(1);
  __m256i nib[C][2][V];  // [octet][low quad, high quad][slice]
  LLMC_UNROLL for (int c = 0; c < C; ++c) LLMC_UNROLL for (int v = 0; v < V; ++v) {
    const __m256i raw = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wp[v] + (o + c) * 64));
    nib[c][0][v] = _mm256_and_si256(raw, low4);
    nib[c][1][v] = _mm256_and_si256(_mm256_srli_epi16(raw, 4), low4);
  }
  LLMC_UNROLL for (int r = 0; r < R; ++r) {
    __m256i s16[V];
    LLMC_UNROLL for (int c = 0; c < C; ++c) LLMC_UNROLL for (int h = 0; h < 2; ++h) {
      const __m256i xb = bcast32(a + (2 * (o + c) + h) * astep + r * kQuad);  // quad 2·octet + h
      LLMC_UNROLL for (int v = 0; v < V; ++v) {
        const __m256i p = _mm256_maddubs_epi16(nib[c][h][v], xb);  // |pair| <= 2·15·127: exact
        s16[v] = (c == 0 && h == 0) ? p : _mm256_add_epi16(s16[v], p);
      }
    }
    LLMC_UNROLL for (int v = 0; v < V; ++v) acc[r][v] = _mm256_add_epi32(acc[r][v], _mm256_madd_epi16(s16[v], ones));
  }
}

template <int R, int V, int C>
void q4_pass(const A8Tile& t, int s0) {
  const uint8_t* wp[V];
  LLMC_UNROLL for (int v = 0; v < V; ++v) wp[v] = slice_ptr(t, s0 + v);
  // Float accumulators in L1: folded into once per group, registers hold the int32 ones.
  alignas(32) float facc[R][V][kSlice];
  LLMC_UNROLL for (int r = 0; r < R; ++r) LLMC_UNROLL for (int v = 0; v < V; ++v)
      _mm256_store_ps(facc[r][v], _mm256_setzero_ps());
  const int64_t astep = static_cast<int64_t>(t.mr) * kQuad;
  const int64_t group_o = t.group_q / 2;
  for (int64_t g = 0; g < t.groups; ++g) {
    __m256i acc[R][V];
    LLMC_UNROLL for (int r = 0; r < R; ++r) LLMC_UNROLL for (int v = 0; v < V; ++v) acc[r][v] = _mm256_setzero_si256();
    int64_t o = g * group_o;
    const int64_t oend = o + group_o;
    for (; o + C <= oend; o += C) q4_run<R, V, C>(wp, t.a, astep, o, acc);
    if (C > 1)
      for (; o < oend; ++o) q4_run<R, V, 1>(wp, t.a, astep, o, acc);
    LLMC_UNROLL for (int v = 0; v < V; ++v) {
      const int s = s0 + v;
      const int64_t si = ((s >> 1) * t.groups + g) * kBlockN + (s & 1) * kSlice;
      const __m256 sc = _mm256_loadu_ps(t.scale + si);
      const __m256 z =
          t.zero
              ? _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(t.zero + si))))
              : _mm256_set1_ps(8.0f);
      LLMC_UNROLL for (int r = 0; r < R; ++r) {
        const __m256 xs = _mm256_set1_ps(static_cast<float>(t.xsum[r * t.groups + g]));
        const __m256 f = _mm256_fnmadd_ps(z, xs, _mm256_cvtepi32_ps(acc[r][v]));  // acc − zero·xsum
        _mm256_store_ps(facc[r][v], _mm256_fmadd_ps(f, sc, _mm256_load_ps(facc[r][v])));
      }
    }
  }
  LLMC_UNROLL for (int r = 0; r < R; ++r) {
    const __m256 sx = _mm256_set1_ps(t.sx[r]);
    LLMC_UNROLL for (int v = 0; v < V; ++v) {
      const int c0 = (s0 + v) * kSlice;
      store_cols(t.y + r * t.ldy + c0, _mm256_mul_ps(sx, _mm256_load_ps(facc[r][v])), t.cols - c0);
    }
  }
}

template <int R>
void q4_rows(const A8Tile& t) {
  const int ns = (t.cols + kSlice - 1) / kSlice;
  if (R == 1) {
    switch (ns) {
      case 1:
        q4_pass<1, 1, 1>(t, 0);
        break;
      case 2:
        q4_pass<1, 2, 1>(t, 0);
        break;
      case 3:
        q4_pass<1, 3, 1>(t, 0);
        break;
      default:
        q4_pass<1, 4, 1>(t, 0);
        break;
    }
  } else if (R == 2) {
    int s = 0;
    for (; s + 2 <= ns; s += 2) q4_pass<R, 2, 1>(t, s);
    if (s < ns) q4_pass<R, 1, 1>(t, s);
  } else {
    for (int s = 0; s < ns; ++s) q4_pass<R, 1, 2>(t, s);
  }
}

void q4_a8(const A8Tile& t) {
  switch (t.rows) {
    case 1:
      q4_rows<1>(t);
      break;
    case 2:
      q4_rows<2>(t);
      break;
    case 3:
      q4_rows<3>(t);
      break;
    case 4:
      q4_rows<4>(t);
      break;
    case 5:
      q4_rows<5>(t);
      break;
    case 6:
      q4_rows<6>(t);
      break;
    default:
      break;
  }
}

// ---- A16 rows kernels --------------------------------------------------------------------------
// One 16-channel block (two slices) for R rows; A accumulators per (row, slice) hide the FMA latency.
template <int R, int A>
void q8_rows_block(const A16Rows& r, int64_t jb) {
  const int64_t kq = r.kp / kQuad;
  const uint8_t* blk = r.data + jb * kq * 64;
  const float* xr[R];
  LLMC_UNROLL for (int i = 0; i < R; ++i) xr[i] = r.x + i * r.ldx;
  __m256 acc[R][2][A];
  LLMC_UNROLL for (int i = 0; i < R; ++i) LLMC_UNROLL for (int v = 0; v < 2; ++v)
      LLMC_UNROLL for (int a = 0; a < A; ++a) acc[i][v][a] = _mm256_setzero_ps();
  const __m256i flip = _mm256_set1_epi8(static_cast<char>(0x80));
  for (int64_t qd = 0; qd < kq; ++qd) {
    LLMC_UNROLL for (int v = 0; v < 2; ++v) {
      const __m256i sw =
          _mm256_xor_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + qd * 64 + v * 32)), flip);
      LLMC_UNROLL for (int b = 0; b < kQuad; ++b) {
        const __m256 w = _mm256_cvtepi32_ps(_mm256_srai_epi32(_mm256_shuffle_epi8(sw, idx_top(b)), 24));  // u − 128
        LLMC_UNROLL for (int i = 0; i < R; ++i) acc[i][v][b % A] =
            _mm256_fmadd_ps(w, _mm256_broadcast_ss(xr[i] + qd * kQuad + b), acc[i][v][b % A]);
      }
    }
  }
  LLMC_UNROLL for (int v = 0; v < 2; ++v) {
    const int valid = static_cast<int>(r.n - jb * kBlockN) - v * kSlice;
    if (valid <= 0) break;
    const __m256 s = _mm256_loadu_ps(r.scale + jb * kBlockN + v * kSlice);
    LLMC_UNROLL for (int i = 0; i < R; ++i) {
      __m256 sum = acc[i][v][0];
      LLMC_UNROLL for (int a = 1; a < A; ++a) sum = _mm256_add_ps(sum, acc[i][v][a]);
      store_cols(r.y + i * r.ldy + jb * kBlockN + v * kSlice, _mm256_mul_ps(s, sum), valid);
    }
  }
}

template <int R, int A>
void q4_rows_block(const A16Rows& r, int64_t jb) {
  const int64_t ko = r.kp / kOctet, group_o = r.group_len / kOctet;
  const uint8_t* blk = r.data + jb * ko * 64;
  const float* xr[R];
  LLMC_UNROLL for (int i = 0; i < R; ++i) xr[i] = r.x + i * r.ldx;
  // Running totals Σ_t scale_t · Σ u·x − Σ_t scale_t·zero_t·xsum_t, in L1 (updated once per group).
  alignas(32) float tot[R][2][kSlice];
  LLMC_UNROLL for (int i = 0; i < R; ++i) LLMC_UNROLL for (int v = 0; v < 2; ++v)
      _mm256_store_ps(tot[i][v], _mm256_setzero_ps());
  const __m256i low4 = _mm256_set1_epi8(0x0F);
  for (int64_t g = 0; g < r.groups; ++g) {
    __m256 acc[R][2][A];
    LLMC_UNROLL for (int i = 0; i < R; ++i) LLMC_UNROLL for (int v = 0; v < 2; ++v)
        LLMC_UNROLL for (int a = 0; a < A; ++a) acc[i][v][a] = _mm256_setzero_ps();
    for (int64_t o = g * group_o; o < (g + 1) * group_o; ++o) {
      LLMC_UNROLL for (int v = 0; v < 2; ++v) {
        const __m256i raw = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + o * 64 + v * 32));
        const __m256i lo = _mm256_and_si256(raw, low4);                        // inputs 8o .. 8o+3
        const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(raw, 4), low4);  // inputs 8o+4 .. 8o+7
        LLMC_UNROLL for (int e = 0; e < kOctet; ++e) {
          const __m256 u = _mm256_cvtepi32_ps(_mm256_shuffle_epi8(e < kQuad ? lo : hi, idx_low(e % kQuad)));
          LLMC_UNROLL for (int i = 0; i < R; ++i) acc[i][v][e % A] =
              _mm256_fmadd_ps(u, _mm256_broadcast_ss(xr[i] + o * kOctet + e), acc[i][v][e % A]);
        }
      }
    }
    LLMC_UNROLL for (int v = 0; v < 2; ++v) {
      const int64_t si = (jb * r.groups + g) * kBlockN + v * kSlice;
      const __m256 s = _mm256_loadu_ps(r.scale + si);
      const __m256 z =
          r.zero
              ? _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(r.zero + si))))
              : _mm256_set1_ps(8.0f);
      const __m256 sz = _mm256_mul_ps(s, z);
      LLMC_UNROLL for (int i = 0; i < R; ++i) {
        __m256 sum = acc[i][v][0];
        LLMC_UNROLL for (int a = 1; a < A; ++a) sum = _mm256_add_ps(sum, acc[i][v][a]);
        __m256 tv = _mm256_fmadd_ps(sum, s, _mm256_load_ps(tot[i][v]));
        tv = _mm256_fnmadd_ps(sz, _mm256_set1_ps(r.xsum[i * r.groups + g]), tv);
        _mm256_store_ps(tot[i][v], tv);
      }
    }
  }
  LLMC_UNROLL for (int v = 0; v < 2; ++v) {
    const int valid = static_cast<int>(r.n - jb * kBlockN) - v * kSlice;
    if (valid <= 0) break;
    LLMC_UNROLL for (int i = 0; i < R; ++i)
        store_cols(r.y + i * r.ldy + jb * kBlockN + v * kSlice, _mm256_load_ps(tot[i][v]), valid);
  }
}

// Rows 1..4 in one pass over the weights (the kernel is meant to read each byte once).
template <template <int, int> class F>
void rows_dispatch(const A16Rows& r, int64_t jb) {
  switch (r.rows) {
    case 1:
      F<1, 4>::go(r, jb);
      break;
    case 2:
      F<2, 2>::go(r, jb);
      break;
    case 3:
      F<3, 1>::go(r, jb);
      break;
    case 4:
      F<4, 1>::go(r, jb);
      break;
    default:
      break;
  }
}
template <int R, int A>
struct Q8Rows {
  static void go(const A16Rows& r, int64_t jb) { q8_rows_block<R, A>(r, jb); }
};
template <int R, int A>
struct Q4Rows {
  static void go(const A16Rows& r, int64_t jb) { q4_rows_block<R, A>(r, jb); }
};

void q8_a16(const A16Rows& r) {
  if (r.rows > kA16Rows) {
    kernels_scalar().q8_a16(r);
    return;
  }
  for (int64_t jb = r.jb0; jb < r.jb1; ++jb) rows_dispatch<Q8Rows>(r, jb);
}

void q4_a16(const A16Rows& r) {
  if (r.rows > kA16Rows || r.group_len % kOctet != 0) {
    kernels_scalar().q4_a16(r);
    return;
  }
  for (int64_t jb = r.jb0; jb < r.jb1; ++jb) rows_dispatch<Q4Rows>(r, jb);
}

// ---- panels for the fp32 GEMM --------------------------------------------------------------------
void q8_panel(const Q8Weights& w, int64_t j, int cols, int64_t p0, int64_t kc, float* dst, int width) {
  if (width != kBlockN || j % kBlockN != 0 || p0 % kQuad != 0 || j >= w.np()) {
    kernels_scalar().q8_panel(w, j, cols, p0, kc, dst, width);
    return;
  }
  const int64_t kq = w.kp() / kQuad, kmain = kc / kQuad * kQuad;
  const uint8_t* blk = w.data + (j / kBlockN) * kq * 64;
  // Channels at or past cols are written as +0 (and-mask after the multiply).
  const __m256 m0 = _mm256_castsi256_ps(lane_mask(cols)), m1 = _mm256_castsi256_ps(lane_mask(cols - kSlice));
  const __m256 s0 = _mm256_loadu_ps(w.scale + j), s1 = _mm256_loadu_ps(w.scale + j + kSlice);
  const __m256i flip = _mm256_set1_epi8(static_cast<char>(0x80));
  for (int64_t p = 0; p < kmain; p += kQuad) {
    const uint8_t* src = blk + (p0 + p) / kQuad * 64;
    const __m256i w0 = _mm256_xor_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(src)), flip);
    const __m256i w1 = _mm256_xor_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + 32)), flip);
    float* d = dst + p * kBlockN;
    LLMC_UNROLL for (int b = 0; b < kQuad; ++b) {
      const __m256 f0 = _mm256_cvtepi32_ps(_mm256_srai_epi32(_mm256_shuffle_epi8(w0, idx_top(b)), 24));
      const __m256 f1 = _mm256_cvtepi32_ps(_mm256_srai_epi32(_mm256_shuffle_epi8(w1, idx_top(b)), 24));
      _mm256_storeu_ps(d + b * kBlockN, _mm256_and_ps(_mm256_mul_ps(s0, f0), m0));
      _mm256_storeu_ps(d + b * kBlockN + kSlice, _mm256_and_ps(_mm256_mul_ps(s1, f1), m1));
    }
  }
  if (kmain < kc) kernels_scalar().q8_panel(w, j, cols, p0 + kmain, kc - kmain, dst + kmain * width, width);
}

void q4_panel(const Q4Weights& w, int64_t j, int cols, int64_t p0, int64_t kc, float* dst, int width) {
  if (width != kBlockN || j % kBlockN != 0 || p0 % kOctet != 0 || j >= w.np() ||
      (w.group % kOctet != 0 && w.group != w.k)) {
    kernels_scalar().q4_panel(w, j, cols, p0, kc, dst, width);
    return;
  }
  const int64_t ko = w.kp() / kOctet, kmain = kc / kOctet * kOctet, G = w.groups();
  const uint8_t* blk = w.data + (j / kBlockN) * ko * 64;
  const __m256 m[2] = {_mm256_castsi256_ps(lane_mask(cols)), _mm256_castsi256_ps(lane_mask(cols - kSlice))};
  const __m256i low4 = _mm256_set1_epi8(0x0F);
  int64_t t_cur = -1;
  __m256 s[2] = {_mm256_setzero_ps(), _mm256_setzero_ps()}, z[2] = {s[0], s[1]};
  for (int64_t p = 0; p < kmain; p += kOctet) {
    // An octet lies in one group: groups are multiples of 8 inputs, or one group of k (p0 + p < k).
    const int64_t t = w.group == w.k ? 0 : (p0 + p) / w.group;
    if (t != t_cur) {
      t_cur = t;
      const int64_t si = scale_index(j, t, G);
      LLMC_UNROLL for (int v = 0; v < 2; ++v) {
        s[v] = _mm256_loadu_ps(w.scale + si + v * kSlice);
        z[v] = w.zero ? _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(
                            _mm_loadl_epi64(reinterpret_cast<const __m128i*>(w.zero + si + v * kSlice))))
                      : _mm256_set1_ps(8.0f);
      }
    }
    const uint8_t* src = blk + (p0 + p) / kOctet * 64;
    float* d = dst + p * kBlockN;
    LLMC_UNROLL for (int v = 0; v < 2; ++v) {
      const __m256i raw = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + v * 32));
      const __m256i lo = _mm256_and_si256(raw, low4);
      const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(raw, 4), low4);
      LLMC_UNROLL for (int e = 0; e < kOctet; ++e) {
        const __m256 u = _mm256_cvtepi32_ps(_mm256_shuffle_epi8(e < kQuad ? lo : hi, idx_low(e % kQuad)));
        _mm256_storeu_ps(d + e * kBlockN + v * kSlice,
                         _mm256_and_ps(_mm256_mul_ps(s[v], _mm256_sub_ps(u, z[v])), m[v]));
      }
    }
  }
  if (kmain < kc) kernels_scalar().q4_panel(w, j, cols, p0 + kmain, kc - kmain, dst + kmain * width, width);
}

// ---- activation quantization -------------------------------------------------------------------
inline int hsum_epi32(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(1, 0, 3, 2)));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(2, 3, 0, 1)));
  return _mm_cvtsi128_si32(s);
}

inline float hmax_ps(__m256 v) {
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  m = _mm_max_ss(m, _mm_shuffle_ps(m, m, 1));
  return _mm_cvtss_f32(m);
}

float quant_row(const float* x, int64_t k, int64_t kp, int8_t* dst, int mr, int32_t* xsum, int64_t group_len) {
  if (group_len <= 0 || group_len % kQuad != 0 || kp % group_len != 0 || kp % kQuad != 0 || k > kp)
    return kernels_scalar().quant_row(x, k, kp, dst, mr, xsum, group_len);
  const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFFFFFF));
  __m256 vmax = _mm256_setzero_ps();
  __m256 vbad = _mm256_setzero_ps();  // a − a is 0 for finite a, NaN for ±Inf and NaN
  int64_t p = 0;
  for (; p + kSlice <= k; p += kSlice) {
    const __m256 v = _mm256_loadu_ps(x + p);
    vbad = _mm256_or_ps(vbad, _mm256_sub_ps(v, v));
    vmax = _mm256_max_ps(vmax, _mm256_and_ps(v, absmask));
  }
  if (p < k) {
    const __m256 v = _mm256_maskload_ps(x + p, lane_mask(static_cast<int>(k - p)));
    vbad = _mm256_or_ps(vbad, _mm256_sub_ps(v, v));
    vmax = _mm256_max_ps(vmax, _mm256_and_ps(v, absmask));
  }
  const bool bad = _mm256_movemask_ps(_mm256_cmp_ps(vbad, vbad, _CMP_UNORD_Q)) != 0;
  const float amax = hmax_ps(vmax);  // max of |x| (all finite when !bad): exact, as the scalar fmax loop
  const float inv = !bad && amax > 0.0f ? 127.0f / amax : 0.0f;
  const int64_t qstride = static_cast<int64_t>(mr) * kQuad;
  if (inv == 0.0f) {  // all zero (or not finite): zero codes and sums
    for (int64_t qd = 0; qd < kp / kQuad; ++qd) std::memset(dst + qd * qstride, 0, kQuad);
    for (int64_t g = 0; g < kp / group_len; ++g) xsum[g] = 0;
    return !bad ? amax / 127.0f : NAN;
  }
  const __m256 vinv = _mm256_set1_ps(inv);
  const __m256i lim = _mm256_set1_epi32(127), nlim = _mm256_set1_epi32(-127);
  // A vector of 8 inputs never straddles two groups (groups are multiples of 4; a group's last
  // step may be one quad).
  for (int64_t g0 = 0; g0 < kp; g0 += group_len) {
    const int64_t g1 = g0 + group_len;
    __m256i vsum = _mm256_setzero_si256();
    for (int64_t q = g0; q < g1; q += kSlice) {
      const int n = static_cast<int>(g1 - q < kSlice ? g1 - q : kSlice);     // 8, or 4 at a group's end
      const int nk = static_cast<int>(k - q < n ? (k > q ? k - q : 0) : n);  // inputs before k
      const __m256 v = nk == kSlice ? _mm256_loadu_ps(x + q) : _mm256_maskload_ps(x + q, lane_mask(nk));
      __m256i qv = _mm256_cvtps_epi32(_mm256_mul_ps(v, vinv));  // round half to even (MXCSR default), as nearbyint
      qv = _mm256_max_epi32(_mm256_min_epi32(qv, lim), nlim);
      vsum = _mm256_add_epi32(vsum, qv);
      // int32 → int8: [q0..q3 q0..q3 | q4..q7 q4..q7] int16, then bytes q0..q3 (dword 0), q4..q7 (dword 2).
      const __m256i w16 = _mm256_packs_epi32(qv, qv);
      const __m128i b8 = _mm_packs_epi16(_mm256_castsi256_si128(w16), _mm256_extracti128_si256(w16, 1));
      int8_t* d = dst + (q / kQuad) * qstride;
      const int32_t d0 = _mm_cvtsi128_si32(b8);
      std::memcpy(d, &d0, 4);
      if (n > kQuad) {
        const int32_t d1 = _mm_extract_epi32(b8, 2);
        std::memcpy(d + qstride, &d1, 4);
      }
    }
    xsum[g0 / group_len] = hsum_epi32(vsum);
  }
  return amax / 127.0f;
}

}  // namespace

Kernels kernels_avx2() { return {kMR8, kMR4, q8_a8, q4_a8, q8_a16, q4_a16, q8_panel, q4_panel, quant_row}; }

}  // namespace q
}  // namespace llmc
