// sparse24_layout.h — the device layout of 2:4 sparse weights for the sparse tensor cores (mma.sp),
// the per-lane index maps the kernel (native/cuda/sparse24.cu) uses, and the host converter from the CPU packed
// format (native/core/sparse24.h). The LLMC_HD functions are shared by nvcc and plain C++, so that
// test/native/cuda_sparse24_test.cpp replays every lane of the kernel on the CPU.
//
// The weights W [n × k] are the sparse operand A of mma.sp (16 output channels × k, 2:4 along k);
// activations x [m × k] are B (k × 8 tokens, "col" = x row-major), so D = W·xᵀ (16 channels × 8
// tokens) and y = Dᵀ is written back in the epilogue. Two kinds:
//   f16  mma.sp::ordered_metadata m16n8k32 .f32.f16.f16.f32: 8 mmas per k-block of 256 inputs
//   i8   mma.sp::ordered_metadata m16n8k64 .s32.s8.s8.s32:   4 mmas per k-block of 256 inputs
//
// Padding: n → np (multiple of 16 channels), k → kp (multiple of 256 inputs); padding groups store
// the values 0, 0 at positions (0, 1) (nibble 0x4, valid ordered metadata).
//
// Tiles, one per (16-channel block cb, k-block kb), stored [cb][kb] (a warp streams along k):
//
//   tile = | values: J × 512 bytes                       | metadata: 512 bytes   |
//          | j = 0: lane 0 (16 B) | lane 1 | … | lane 31 | j = 1 … | f16: 16 × 32 B, i8: 32 × 16 B |
//
//   J = 8 (f16) or 4 (i8): vector j of a lane is its four A registers of mma j of the k-block, so
//   every load is one coalesced 512-byte warp access of 16-byte vectors. Every mma uses sparsity
//   selector 0, the one whose thread layout the PTX ISA spells out and GPU-run tests confirm:
//   f16: lanes t = 0, 1 of each quad contribute; lane 4g + t (t < 2) holds 8 words, word s for
//   mma s, as two vectors at slot 2g + t of the metadata (32 bytes each; lanes t = 2, 3 load none);
//   i8: all lanes contribute; the metadata vector of a lane holds 4 words, word s for mma s.
//
// Register contents (lane = 4·g + t; "group" = 4 consecutive inputs, the 2:4 chunk; kept values in
// increasing position, the lower one in the low half / low byte):
//   f16 A reg r of mma s: channel g + 8·(r & 1), group 8s + t + 4·(r >> 1) of the k-block; two f16.
//   i8  A reg r of mma s: channel g + 8·(r & 1), groups 16s + 2t + 8·(r >> 1) + {0, 1}; four s8.
//   f16 metadata word s (lanes t < 2): bits 16h + 4c .. +3 = group 8s + 4t + c of channel g + 8h.
//   i8  metadata word: bits 4c .. 4c+3 = group 16s + 8·(t >> 1) + c of channel g + 8·(t & 1).
//   B reg r: token g of the tile, inputs b_k(r, t) + {0, 1} (f16) or + {0 .. 3} (i8).
//   D element i: channel g + 8·(i >> 1), token 2t + (i & 1).
// Bytes: f16 4608 per 16 × 256 tile (dense f16: 8192, so 9/16); i8 2560 (dense i8: 4096).
#pragma once

#include <cstdint>
#include <vector>

#include "hd.h"
#include "llmc.h"

namespace llmc {
namespace s24dev {

enum Kind { kF16 = 0, kI8 = 1 };

constexpr int kChannels = 16;  // output channels per tile (mma M)
constexpr int kTokens = 8;     // tokens per mma (mma N)
constexpr int kKBlock = 256;   // inputs per tile
constexpr int kLanes = 32;
constexpr int kVectorBytes = 16;
constexpr int kMetaNibble = 0x4;  // positions (0, 1): the metadata of a padding group

LLMC_HD constexpr int mmas(int kind) { return kind == kF16 ? 8 : 4; }     // per k-block
LLMC_HD constexpr int mma_k(int kind) { return kind == kF16 ? 32 : 64; }  // inputs per mma
LLMC_HD constexpr int64_t tile_bytes(int kind) { return (mmas(kind) + 1) * kLanes * kVectorBytes; }

// Byte offsets inside a tile of the vector a lane loads.
LLMC_HD int value_offset(int j, int lane) { return (j * kLanes + lane) * kVectorBytes; }

// Metadata vectors a lane loads (f16: 2 for lanes t < 2, none for t >= 2; i8: 1), the byte offset of
// its vector v, and where the word of mma s is: vector s / 4, word s % 4.
LLMC_HD int meta_vectors(int kind, int lane) { return kind == kI8 ? 1 : (lane & 3) < 2 ? 2 : 0; }
LLMC_HD int meta_offset(int kind, int lane, int v) {
  const int slot = kind == kI8 ? lane : 2 * (lane >> 2) + (lane & 1);
  return mmas(kind) * kLanes * kVectorBytes + (slot * meta_vectors(kind, lane) + v) * kVectorBytes;
}

// B register r of a lane: the first of its consecutive inputs inside the mma's k range; the token is
// lane / 4 of the tile.
LLMC_HD int b_k(int kind, int lane, int r) { return kind == kF16 ? 8 * r + 2 * (lane & 3) : 16 * r + 4 * (lane & 3); }
LLMC_HD int b_token(int lane) { return lane >> 2; }

// D element i of a lane: channel (0..15) of the tile and token (0..7) of the token tile.
LLMC_HD int d_channel(int lane, int i) { return (lane >> 2) + 8 * (i >> 1); }
LLMC_HD int d_token(int lane, int i) { return 2 * (lane & 3) + (i & 1); }

// The launch: thread blocks of kWarps warps, each warp taking kWarpBlocks channel blocks (grid x),
// the k-blocks split into `splits` ranges (grid y) and the tokens into passes of `tiles` token tiles
// (grid z). Splits give every SM about kWarpsPerSm warps when m is small, none of them empty.
constexpr int kWarps = 4;
constexpr int kWarpBlocks = 2;
constexpr int kMaxTokenTiles = 4;
constexpr int kWarpsPerSm = 16;

struct Plan {
  int tiles;  // token tiles of 8 per pass (the kernel's template argument)
  int64_t passes, splits, kb_per_split, grid_x;
};
inline int64_t div_up(int64_t a, int64_t b) { return (a + b - 1) / b; }
inline Plan plan(int64_t m, int64_t blocks, int64_t kblocks, int sms) {
  Plan p;
  p.tiles = static_cast<int>(div_up(m, kTokens) < kMaxTokenTiles ? div_up(m, kTokens) : kMaxTokenTiles);
  p.passes = div_up(m, p.tiles * kTokens);
  const int64_t rows = div_up(blocks, kWarpBlocks);
  int64_t want = div_up(static_cast<int64_t>(sms) * kWarpsPerSm, rows * p.passes);
  want = want < 1 ? 1 : want > kblocks ? kblocks : want;
  p.kb_per_split = div_up(kblocks, want);
  p.splits = div_up(kblocks, p.kb_per_split);
  p.grid_x = div_up(rows, kWarps);
  return p;
}
// First channel block of warp `warp` of thread block bx; k-blocks [kb_begin, kb_end) of split y;
// first token of token tile tt of pass z.
LLMC_HD int64_t warp_block0(int64_t bx, int warp) { return (bx * kWarps + warp) * kWarpBlocks; }
LLMC_HD int64_t kb_begin(int64_t y, int64_t per) { return y * per; }
LLMC_HD int64_t kb_end(int64_t y, int64_t per, int64_t kblocks) {
  return (y + 1) * per < kblocks ? (y + 1) * per : kblocks;
}
LLMC_HD int64_t token0(int64_t z, int tiles, int tt) { return (z * tiles + tt) * kTokens; }

// int8 epilogue, in the order of the CPU A8 kernels: s_x · (s_w · acc).
LLMC_HD float dequant_i8(int32_t acc, float sx, float sw) { return sx * (sw * static_cast<float>(acc)); }

// Where the host packer takes element e (f16: half 0..1, i8: byte 0..3) of A register r of mma s of
// a lane: the channel (0..15) of the tile, the group (0..63) of the k-block and the kept value (0, 1).
struct Slot {
  int channel, group, kept;
};
LLMC_HD Slot a_slot(int kind, int lane, int s, int r, int e) {
  const int g = lane >> 2, t = lane & 3;
  if (kind == kF16) return {g + 8 * (r & 1), 8 * s + t + 4 * (r >> 1), e};
  return {g + 8 * (r & 1), 16 * s + 2 * t + 8 * (r >> 1) + (e >> 1), e & 1};
}
// Nibble c (0..7) of the metadata word of mma s of a lane: the channel and group it describes (kept
// unused). f16: lanes t < 2 only.
LLMC_HD Slot meta_slot(int kind, int lane, int s, int c) {
  const int g = lane >> 2, t = lane & 3;
  if (kind == kF16) return {g + 8 * (c >> 2), 8 * s + 4 * t + (c & 3), 0};
  return {g + 8 * (t & 1), 16 * s + 8 * (t >> 1) + c, 0};
}

// The device image of packed weights, built on the host.
struct Image {
  int kind = kF16;
  int64_t n = 0, k = 0, np = 0, kp = 0;
  std::vector<uint8_t> tiles;  // (np/16) × (kp/256) tiles of tile_bytes(kind)
  std::vector<float> scale;    // i8: np per-channel scales (0 past n); f16: empty
  int64_t blocks() const { return np / kChannels; }
  int64_t kblocks() const { return kp / kKBlock; }
};

// Checks w (LLMC_INVALID_ARGUMENT naming the field) and converts the CPU packed format into the
// device image: bits 32 → f16 values (round to nearest), bits 4 → f16 of code × group scale
// computed in f32, bits 8 → s8 codes with per-channel scales.
llmc_status build_image(const llmc_s24_weights* w, Image* out);

}  // namespace s24dev
}  // namespace llmc
