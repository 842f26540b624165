// sparse24.h — 2:4 semi-structured sparse weights (f32, int8, int4 values) and the per-ISA kernels
// of their matmuls (sparse24.cpp: packing, conversions and the driver; sparse24_<isa>.cpp: kernels).
//
// A linear layer's weight W [n × k] (n outputs, k inputs) is 2:4 sparse when every group of 4
// consecutive inputs of a row (inputs 4g .. 4g+3) holds at most 2 nonzeros. Packing stores exactly
// 2 values per group ("kept" slots: the nonzeros, completed with zero-valued slots when a group
// has fewer than 2) and the position (0..3) of each inside its group. k must be a multiple of 4;
// it is padded to kp = k rounded up to 16 with groups of zeros, and n to np = n rounded up to 16.
//
// Metadata, shared by the three value types (one byte per channel and octet of 8 inputs):
//   meta u8 [np/16][kp/8][16]: byte of channel j (lane j % 16 of block j / 16), octet o =
//       bits 1:0  position of kept value 0 in group 2o   (inputs 8o .. 8o+3)     ─┐ low nibble:
//       bits 3:2  position of kept value 1 in group 2o                          ─┘ group 2o
//       bits 5:4  position of kept value 0 in group 2o+1 (inputs 8o+4 .. 8o+7)  ─┐ high nibble:
//       bits 7:6  position of kept value 1 in group 2o+1                        ─┘ group 2o+1
//     with position 0 < position 1 in every group (never equal): each nibble is exactly the 4-bit
//     metadata of NVIDIA's sparse tensor cores (mma.sp, ordered metadata: the lower index in the
//     low 2 bits; 0b0000, 0b0101, 0b1010, 0b1111 never occur). Kept value r (0..3) of an octet is
//     input 8o + 4·(r / 2) + position_r. Padding groups hold positions (0, 1): byte 0x44.
//
//       block jb, octet o:  | ch0 | ch1 | … | ch15 |   16 bytes, then octet o+1 …
//
// Values (kept value r of channel c in octet o; blocks of 16 channels, sequential along k):
//   f32  [np/16][kp/8][4][16]   value-major: one 64-byte vector holds value r of the 16 channels,
//                               so a kernel's lanes are output channels (no horizontal sums).
//   int8 [np/16][kp/8][16][4]   s8 codes q, channel-major: one dword per channel holds its 4 kept
//                               values of the octet — the signed operand of vpdpbusd. W = scale[j]·q.
//   int4 [np/16][kp/16][16][4]  two octets per 64 bytes: byte (c, r) holds u = q + 8 of kept value r
//                               of octet 2s in its low nibble and of octet 2s+1 in its high nibble
//                               (symmetric codes q in [-8, 7]; W = scale[t][j] · q, t = p / group).
//   Per 16-channel block: f32 256 bytes per octet (four 64-byte vectors), int8 64 bytes per octet,
//   int4 64 bytes per pair of octets (one vector each); the kernels address them by these offsets.
//   scale: int8 f32 [np]; int4 f32 [np/16][G][16] block-major as in gemm_q.h (G = k / group,
//          group 32, 64, 128 or k); f32 none.
//   wsum:  int8 only, i32 [np]: Σ of the channel's stored codes (see the A8 kernels below).
//
// Kernels (y [m × n] = x [m × k] · Wᵀ):
//   Float activations (f32, int4 = w4a16), "rows" kernels for m up to a measured crossover: per
//     16-channel block and octet, the 4 index vectors are decoded once (positions → 0..7 inside the
//     octet) and shared by up to kMaxRows rows; each row's 8 inputs sit in one register and are
//     gathered with one permute per value vector (vpermps), then one FMA per 16 multiply-adds.
//     Above the crossover: the fp32 GEMM's packed path with B micro-panels expanded from the 2:4
//     values (panel functions): the work of the dense GEMM, with half the weight bytes read.
//   Int8 activations (w8a8): each row is quantized as in gemm_q (s_x = max|x|/127, round half to
//     even, [-127, 127]; a row with NaN or ±Inf gives a row of NaN). AVX-512: the activations are
//     the unsigned operand of vpdpbusd (x_q + 128, gathered per channel with vpshufb from the row's
//     8 bytes of the octet), the codes the signed one, so Σ q·(x_q + 128) = Σ q·x_q + 128·wsum[j]
//     and y = s_x · scale[j] · (acc − 128·wsum[j]). Scalar and AVX2 use signed activations.
//
// The ISA files hold only intrinsics and plain loops in anonymous namespaces (see gemm_f32.h); only
// the functions declared here have external linkage.
#pragma once

#include <cstdint>

namespace llmc {
namespace s24 {

constexpr int kBlockN = 16;  // output channels per block
constexpr int kOctet = 8;    // inputs per metadata byte (two groups of 4)
constexpr int kMaxRows = 8;  // rows per pass of the rows kernels and of the A8 tiles

inline int64_t round_up(int64_t a, int64_t b) { return (a + b - 1) / b * b; }

// A view of packed 2:4 weights (pointers borrowed).
struct Weights {
  int64_t n, k;
  int bits;             // 32 (f32 values), 8 or 4
  int64_t group;        // int4: inputs per scale group (32, 64, 128 or k); else 0
  const uint8_t* meta;  // [np/16][kp/8][16]
  const void* values;   // see above
  const float* scale;   // int8 [np], int4 [np/16][G][16], f32 null
  const int32_t* wsum;  // int8 [np], else null
  int64_t kp() const { return round_up(k, 16); }
  int64_t np() const { return round_up(n, kBlockN); }
  int64_t octets() const { return kp() / kOctet; }
  int64_t groups() const { return bits == 4 ? k / group : 1; }
  // Packed inputs per scale group (kp when one group per row).
  int64_t group_len() const { return bits == 4 && k / group > 1 ? group : kp(); }
};

// Float-activation rows kernel: y[i][j] for i < rows (<= kMaxRows), j in blocks [jb0, jb1) ∩ [0, n),
// from x rows of kp floats (zero past k; row stride ldx).
struct Rows {
  const Weights* w;
  int64_t jb0, jb1;
  const float* x;
  int64_t ldx;
  int rows;
  float* y;
  int64_t ldy;
};
using RowsFn = void (*)(const Rows& r);

// Int8-activation tile: y[i][j] for i < rows (<= kMaxRows), j in blocks [jb0, jb1) ∩ [0, n), from
// quantized rows xq (kp bytes each, stride ldq; x_q + 128 when Kernels::a8_unsigned) and scales sx.
struct A8 {
  const Weights* w;
  int64_t jb0, jb1;
  const int8_t* xq;
  int64_t ldq;
  int rows;
  const float* sx;
  float* y;
  int64_t ldy;
};
using A8Fn = void (*)(const A8& t);

// Expands columns [j, j + cols) and inputs [p0, p0 + kc) into a p-major micro-panel of the fp32
// GEMM: dst[p·width + c] = W(j + c, p0 + p) (dequantized), zero for c in [cols, width).
using PanelFn = void (*)(const Weights& w, int64_t j, int cols, int64_t p0, int64_t kc, float* dst, int width);

struct Kernels {
  RowsFn f32_rows, q4_rows;
  A8Fn q8_a8;
  PanelFn f32_panel, q4_panel;
  int a8_unsigned;  // 1: q8_a8 takes x_q + 128 (u8), 0: x_q (s8)
};

Kernels kernels_scalar();
#if defined(LLMC_HAVE_X86_KERNELS)
Kernels kernels_avx2();
Kernels kernels_avx512();
#endif
Kernels kernels_active();  // the table of the active ISA level (sparse24.cpp)

}  // namespace s24
}  // namespace llmc
