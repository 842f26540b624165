// gemm_q.h — packed int8 / int4 weights and the per-ISA kernels of the quantized GEMMs
// (gemm_q.cpp is the driver of both; quant_pack.cpp packs and unpacks; gemm_q_<isa>.cpp: kernels).
//
// Both packed types hold a linear layer's weight W [n × k] (n outputs, k inputs) in blocks of 16
// output channels, so that one 64-byte vector holds the same few inputs for 16 outputs. Every
// stored weight byte is *unsigned* (u8): VNNI's vpdpbusd multiplies unsigned × signed bytes, and
// activations, quantized per token inside the call, are the signed operand. Rows past n and inputs
// past k are padding that dequantizes to 0.
//
// int8 (W8, per-output-channel scale, symmetric): w = scale[j] · q, q in [-128, 127]
//   kp = k rounded up to 4, np = n rounded up to 16
//   data  u8 [np/16][kp/4][16][4]: data[((jb·kp/4 + p/4)·16 + j%16)·4 + p%4] = q(j, p) + 128
//
//       16-column block jb:  | q+128 of (j0,p0..p0+3) (j0+1,p0..p0+3) … (j0+15,…) | next 4 inputs … |
//                                     \_______________ 64 bytes: one zmm ______________/
//
//   scale f32 [np] (zero past n)
//   A8:  Σ_p (q+128)·x = Σ_p q·x + 128·Σ_p x, so y = s_x · scale[j] · (acc − 128·Σ_p x_q).
//
// int4 (W4, groups of g inputs along k, g in {32, 64, 128} or g = k (one group per row)):
//   w = scale[t][j] · (u − zero[t][j]) for input p in group t = p / g, u in [0, 15]
//   symmetric: u = q + 8 with q in [-8, 7] and zero 8 (no zero array); asymmetric: u = q, zero in [0, 15]
//   kp = k rounded up to 8 (k itself is a multiple of g unless g = k), np = n rounded up to 16
//   data  u8 [np/16][kp/8][16][4]: byte b of column j in octet o holds two inputs:
//       low nibble  = u(j, 8·o + b)       (inputs 8o .. 8o+3 : the first 4-input quad)
//       high nibble = u(j, 8·o + 4 + b)   (inputs 8o+4 .. 8o+7: the second quad)
//     so `and 0x0F` and `shift right 4` of one 64-byte vector give two int8 vectors in the int8
//     layout above, one instruction each.
//   scale f32 [np/16][G][16] and zero u8 [np/16][G][16] (G = k / g groups), block-major: the
//     scales a 16-channel block needs are one sequential stream beside its codes (group-major
//     scales would cost a DRAM access per group at m = 1), one group's 16 scales one vector.
//     int8 scales [np] are the same layout with G = 1.
//   perm  i32 [k] or none: act-order (g_idx) models. Inputs are stored sorted by group,
//     packed position p holds input perm[p]; the kernels gather x by perm before multiplying.
//   A8:  Σ_{p in t} (u − z)·x = Σ u·x − z·Σ_{p in t} x, per group t, in float:
//        y = s_x · Σ_t scale[t][j] · (acc_t − zero[t][j] · xsum_t).
//
// Activations for the A8 kernels (w8a8, w4a8): per token (row) i, s_x = max|x_i| / 127 and
// x_q = round_half_even(x / s_x) in [-127, 127], packed in micro-panels of MR rows:
//   a u8/s8 [m_pad/MR][kp/4][MR][4]: the 4 bytes of one row at one quad are one broadcast dword.
//   xsum i32 [m][groups]: Σ x_q over each group (w4) or over all of k (w8: groups = 1).
// A row with a NaN or ±Inf gives NaN in every output of that row (s_x is not finite).
//
// The ISA files hold only intrinsics and plain loops in anonymous namespaces (see gemm_f32.h); only
// the functions declared here have external linkage.
#pragma once

#include <cstdint>

namespace llmc {
namespace q {

// ---- packed blocks ---------------------------------------------------------------------------
// One block [16][4] u8 is 64 bytes, one vector: 16 channels × 4 inputs (int8, q + 128) or 16
// channels × 8 inputs (int4, two nibbles per byte). The kernels address blocks by byte offset
// (block b of a 16-channel row at data + b·64), the form their vector loads take.
constexpr int kBlockN = 16;  // output channels per block
constexpr int kQuad = 4;     // inputs per dword (int8 vpdpbusd unit)
constexpr int kOctet = 8;    // inputs per byte pair of nibbles (int4)

inline int64_t round_up(int64_t a, int64_t b) { return (a + b - 1) / b * b; }
// Group sizes the int4 type takes: 32, 64 or 128 inputs dividing k, or k itself (one group per row).
inline bool valid_group(int64_t k, int64_t group) {
  return group == k ? k > 0 : (group == 32 || group == 64 || group == 128) && k % group == 0;
}
// Index of channel j, group t in the block-major scale (and zero) arrays of G groups.
inline int64_t scale_index(int64_t j, int64_t t, int64_t G) { return ((j / kBlockN) * G + t) * kBlockN + j % kBlockN; }

// A view of packed weights (all pointers borrowed).
struct Q8Weights {
  int64_t n, k;
  const uint8_t* data;  // [np/16][kp/4][16][4]: 64-byte blocks
  const float* scale;   // [np]
  int64_t kp() const { return round_up(k, kQuad); }
  int64_t np() const { return round_up(n, kBlockN); }
};

struct Q4Weights {
  int64_t n, k, group;
  const uint8_t* data;  // [np/16][kp/8][16][4]: 64-byte blocks
  const float* scale;   // [np/16][G][16]
  const uint8_t* zero;  // [np/16][G][16], or null: symmetric (zero 8)
  const int32_t* perm;  // [k], or null: inputs in order
  int64_t kp() const { return round_up(k, kOctet); }
  int64_t np() const { return round_up(n, kBlockN); }
  int64_t groups() const { return k / group; }
};

// ---- kernels -----------------------------------------------------------------------------------
// A8 micro-kernel: y[i][j0 + c] for i < rows (<= MR of the ISA), c < cols (<= 32: one or two
// 16-channel blocks) over all of k, from packed activations a ([kq][MR][4], kq = kp/4) and the
// weights of the tile's first block (`w`; the second block is `w + wstride` bytes).
struct A8Tile {
  int64_t kq;               // quads of k (kp / 4)
  const uint8_t* w;         // first weight block of the tile, at input 0
  int64_t wstride;          // bytes from one 16-channel block to the next
  const int8_t* a;          // activation micro-panel [kq][mr][4]
  int mr;                   // rows per micro-panel: the ISA's MR, or m when m is smaller
  int rows, cols;           // valid rows (<= mr) and columns (<= 32)
  const float* sx;          // [rows] activation scales
  const int32_t* xsum;      // [rows][groups]
  int64_t groups, group_q;  // w4: groups and quads per group (group / 4); w8: 1 and kq
  const float* scale;       // scales of the tile's first block: group t of block v at scale[(v·groups + t)·16]
  const uint8_t* zero;      // w4: zero points, same layout, or null (8)
  float* y;                 // output row 0, column j0
  int64_t ldy;
};
using A8Fn = void (*)(const A8Tile& t);

// A16 rows kernel (m <= kA16Rows): y[i][j] for i < rows, j in [jb0·16, jb1·16) ∩ [0, n) straight
// from packed weights, x rows in float padded with zeros to kp (stride ldx).
struct A16Rows {
  int64_t kp;
  const uint8_t* data;  // packed weights, block 0
  int64_t jb0, jb1;     // 16-channel blocks to compute
  int64_t n, np;
  const float* x;  // [rows][ldx], zero past k
  int64_t ldx;
  int rows;
  const float* scale;         // all scales (block-major, see above; w8: G = 1)
  const uint8_t* zero;        // w4 only: all zero points or null
  int64_t groups, group_len;  // w4 only: groups, and packed inputs per group (kp when one group)
  const float* xsum;          // w4 only: [rows][groups] Σ x over each group
  float* y;
  int64_t ldy;
};
using A16RowsFn = void (*)(const A16Rows& r);
constexpr int kA16Rows = 4;

// Dequantizes columns [j, j + cols) and inputs [p0, p0 + kc) of packed weights into a p-major
// micro-panel of the fp32 GEMM: dst[p·width + c] = W(j + c, p0 + p), zero for c in [cols, width).
using Q8PanelFn = void (*)(const Q8Weights& w, int64_t j, int cols, int64_t p0, int64_t kc, float* dst, int width);
using Q4PanelFn = void (*)(const Q4Weights& w, int64_t j, int cols, int64_t p0, int64_t kc, float* dst, int width);

// x_q = round(x / s) per row (see above), written as row r of an A8 micro-panel (dst points at the
// panel, row r; stride between quads is mr·4 bytes); returns s (NaN when a value is not finite).
// Inputs past k up to kp are zero. Also fills xsum[groups] (group_len inputs each; w8: one group).
using QuantRowFn = float (*)(const float* x, int64_t k, int64_t kp, int8_t* dst, int mr, int32_t* xsum,
                             int64_t group_len);

struct Kernels {
  int mr8, mr4;  // A8 micro-panel rows: w8a8, w4a8
  A8Fn q8_a8, q4_a8;
  A16RowsFn q8_a16, q4_a16;
  Q8PanelFn q8_panel;
  Q4PanelFn q4_panel;
  QuantRowFn quant_row;
};

// Tables per ISA level (defined in gemm_q_<isa>.cpp).
Kernels kernels_scalar();
#if defined(LLMC_HAVE_X86_KERNELS)
Kernels kernels_avx2();
Kernels kernels_avx512();
#endif
#if defined(LLMC_HAVE_X86_KERNELS)
// Register-only vpdpbusd loop (24 chains, no memory traffic): iters × 24 × 64 multiply-adds on one
// thread; returns a value that depends on every instruction.
int dot_peak_avx512(int64_t iters);
#endif
// The table of the active ISA level (gemm_q_dispatch in quant_pack.cpp).
Kernels kernels_active();

}  // namespace q
}  // namespace llmc
