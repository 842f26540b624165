// gemm_q_layout.h — the device layouts of the dense tensor-core GEMMs (native/cuda/gemm_q.cu:
// w4a16, w8a8, f16), their host packers (gemm_q_layout.cpp, plain C++ built on every platform) and
// the per-lane index maps and math that both the kernels and test/native/cuda_gemm_q_test.cpp use
// (LLMC_HD).
//
// One warp owns a slab of 64 output columns (8 mma n8-tiles) and walks k in chunks; one chunk is
// 4 × 16 bytes per lane (2 KB per warp), the B fragments of all 8 tiles already in register order:
//
//   kind  mma             chunk k  per lane and chunk (uint4 j = 0..3, words v = 0..3)
//   w4    m16n8k16 f16       64    uint4 j = k16 step j; word v = tiles 2v, 2v+1: nibble q of the word is
//                                  pair p = q % 4, half h = q / 4, pair p → tile 2v + p/2, register p % 2
//                                  ((w >> 4p) & 0x000f000f | 0x64006400 is that register as two f16 1024 + u)
//   w8    m16n8k32 s8        32    uint4 j = tiles 2j (words x, y = registers 0, 1), 2j+1 (words z, w)
//   f16   m16n8k16 f16       16    as w8, each word two f16
//
//   weights  uint4 [slabs][chunks][j 4][lane 32]: one load instruction of a warp reads 512 contiguous bytes
//
// Lane l = 4·g + t (g = groupID, t = threadID_in_group) holds column 8·tile + g of its tiles.
// w4 group scales and zero points, f16, one uint4 (8 tiles) per lane group g:
//   scale16 [slabs][G][g 8][tile 8] = f16(scale / colscale), zero16 (asymmetric only) = f16(1024 + zero);
//   chunk c uses group min((64c + 32h) / group, G − 1) for its k16 steps 2h, 2h + 1 (group >= 32)
// colscale f32 [np]: the epilogue's per-column factor: w4 and f16 the power of two 2^e with max |scale|
//   (max |w|) of the column in [2^(e-1), 2^e) (1 when all are 0), so that f16 scales and weights are in
//   (-1, 1) and never overflow; w8 the channel scale.
// f16 weights: f16(w / colscale).
//
// Padding: n to np = 64·slabs (columns of scale 0 and codes that dequantize to 0); k to kp = a multiple of
// the chunk (w4 codes = the zero point, w8 0, f16 0), activations zero there as well.
//
// Activations (packed per call on the device), A fragments in register order, zero past m and k:
//   f16  uint4 [m_pad/16][kp/16][lane 32]: word r = a-registers (2r, 2r+1) of m16n8k16
//   s8   uint4 [m_pad/16][kp/32][lane 32]: word r = a-registers (4r .. 4r+3) of m16n8k32
// m_pad is a multiple of 16·MT (MT = m-tiles per block). act-order: packed input p is x[perm[p]].
#pragma once

#include <cstdint>
#include <vector>

#include "hd.h"
#include "llmc.h"

namespace llmc {
namespace gq {

enum Kind { kW4 = 0, kW8 = 1, kF16 = 2 };

constexpr int kSlabCols = 64;  // output columns per warp
constexpr int kTiles = 8;      // n8 tiles per slab
constexpr int kVecs = 4;       // uint4 per lane per chunk
constexpr int kLanes = 32;

LLMC_HD int chunk_k(int kind) { return kind == kW4 ? 64 : kind == kW8 ? 32 : 16; }
// k of one mma step: 32 for int8, 16 for f16.
LLMC_HD int step_k(int kind) { return kind == kW8 ? 32 : 16; }

struct RowCol {
  int row, col;
};

// ---- mma operand maps of the kernels (row, col inside one mma tile) ---------------------------
// A f16 m16n8k16: register r (0..3), half h.
LLMC_HD RowCol a16_elem(int lane, int r, int h) { return {lane / 4 + 8 * (r & 1), (lane % 4) * 2 + h + 8 * (r >> 1)}; }
// A s8 m16n8k32: register r (0..3), byte b.
LLMC_HD RowCol a8_elem(int lane, int r, int b) { return {lane / 4 + 8 * (r & 1), (lane % 4) * 4 + b + 16 * (r >> 1)}; }
// B f16 m16n8k16: register r (0..1), half h → (k, n).
LLMC_HD RowCol b16_elem(int lane, int r, int h) { return {(lane % 4) * 2 + h + 8 * r, lane / 4}; }
// B s8 m16n8k32: register r (0..1), byte b → (k, n).
LLMC_HD RowCol b8_elem(int lane, int r, int b) { return {(lane % 4) * 4 + b + 16 * r, lane / 4}; }
// C / D f32 or s32: element i (0..3).
LLMC_HD RowCol c_elem(int lane, int i) { return {lane / 4 + 8 * (i >> 1), (lane % 4) * 2 + (i & 1)}; }

// ---- weight vectors ------------------------------------------------------------------------------
// w4: the f16x2 register `pair` p (0..3) of a word: two f16 holding 1024 + nibble p and 1024 + nibble p + 4.
LLMC_HD uint32_t w4_pair_bits(uint32_t word, int p) { return ((word >> (4 * p)) & 0x000f000fu) | 0x64006400u; }
LLMC_HD int w4_pair_tile(int v, int p) { return 2 * v + p / 2; }
// w4: the f16 scale or zero point of `tile` (0..7) from the uint4 words of its lane group, in both halves.
LLMC_HD uint32_t w4_meta_pair(uint32_t word_x, uint32_t word_y, uint32_t word_z, uint32_t word_w, int tile) {
  const uint32_t word = tile < 4 ? (tile < 2 ? word_x : word_y) : (tile < 6 ? word_z : word_w);
#if defined(__CUDA_ARCH__)
  return __byte_perm(word, 0, tile % 2 ? 0x3232 : 0x1010);
#else
  return (tile % 2 ? word >> 16 : word & 0xffffu) * 0x10001u;
#endif
}
LLMC_HD int w4_pair_reg(int p) { return p % 2; }
// w8 / f16: word v of vector j.
LLMC_HD int vec_tile(int j, int v) { return 2 * j + v / 2; }
LLMC_HD int vec_reg(int v) { return v % 2; }

// uint4 index of vector j of lane `lane` in chunk c of slab s.
LLMC_HD int64_t w_vec_index(int64_t slab, int64_t c, int64_t chunks, int j, int lane) {
  return ((slab * chunks + c) * kVecs + j) * kLanes + lane;
}
// w4: uint4 index of the scales (or zero points) of slab s, group t, for lane `lane`; half `tile` of it.
LLMC_HD int64_t w4_meta_index(int64_t slab, int64_t t, int64_t G, int lane) { return (slab * G + t) * 8 + lane / 4; }
// w4: group of the k16 steps 2h, 2h + 1 of chunk c.
LLMC_HD int64_t w4_chunk_group(int64_t c, int h, int64_t group, int64_t G) {
  const int64_t t = (c * 64 + 32 * h) / group;
  return t < G - 1 ? t : G - 1;
}

// Position in the slab (k inside the chunk, column inside the slab) of what the kernel finds in
// lane `lane`, vector j, word v, element e (w4: nibble 0..7; w8: byte 0..3; f16: half 0..1).
LLMC_HD RowCol w_elem(int kind, int lane, int j, int v, int e) {
  if (kind == kW4) {
    const int p = e % 4, h = e / 4;
    const RowCol b = b16_elem(lane, w4_pair_reg(p), h);
    return {16 * j + b.row, 8 * w4_pair_tile(v, p) + b.col};
  }
  const RowCol b = kind == kW8 ? b8_elem(lane, vec_reg(v), e) : b16_elem(lane, vec_reg(v), e);
  return {b.row, 8 * vec_tile(j, v) + b.col};
}

// ---- activation vectors ----------------------------------------------------------------------------
// Source (row, input) of element e (f16: half 0..1, s8: byte 0..3) of word `idx` of the packed
// activations with `steps` mma steps per m-tile.
LLMC_HD void a_word_source(int kind, int64_t idx, int64_t steps, int e, int64_t* row, int64_t* col) {
  const int r = static_cast<int>(idx % 4), lane = static_cast<int>(idx / 4 % kLanes);
  const int64_t step = idx / (4 * kLanes) % steps, mtile = idx / (4 * kLanes * steps);
  const RowCol a = kind == kW8 ? a8_elem(lane, r, e) : a16_elem(lane, r, e);
  *row = mtile * 16 + a.row;
  *col = step * step_k(kind) + a.col;
}
LLMC_HD int64_t a_vec_index(int64_t mtile, int64_t step, int64_t steps, int lane) {
  return (mtile * steps + step) * kLanes + lane;
}

// Chunks [*c0, *c1) of split `split` when each split takes `per` chunks.
LLMC_HD void split_range(int64_t split, int64_t per, int64_t chunks, int64_t* c0, int64_t* c1) {
  *c0 = split * per;
  *c1 = *c0 + per < chunks ? *c0 + per : chunks;
}

// ---- host packers (gemm_q_layout.cpp) ----------------------------------------------------------------
struct Packed {
  int kind = kW4;
  int64_t n = 0, k = 0, np = 0, kp = 0, slabs = 0, chunks = 0;
  int64_t group = 0, G = 1;     // w4 only
  std::vector<uint32_t> w;      // slabs · chunks · 4 · 32 uint4, as 4 words each
  std::vector<uint16_t> scale;  // w4: f16 [slabs][G][8][8]
  std::vector<uint16_t> zero;   // w4 asymmetric: f16 1024 + zero, same layout; else empty
  std::vector<float> colscale;  // [np]
  std::vector<int32_t> perm;    // w4 act-order: [k]; else empty
};

// Validate (each names the bad argument) and lay out for the kernels.
llmc_status pack_w4(const llmc_q4_weights* w, Packed* out);
llmc_status pack_w8(const llmc_q8_weights* w, Packed* out);
llmc_status pack_f16(int64_t n, int64_t k, const float* w, Packed* out);

}  // namespace gq
}  // namespace llmc
