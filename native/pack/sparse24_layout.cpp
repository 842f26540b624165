// sparse24_layout.cpp — the host side of the 2:4 sparse tensor core kernels: the checks of
// llmc_s24_weights and the conversion of the CPU packed format (native/core/sparse24.h) into the
// lane-ordered tiles drawn in sparse24_layout.h. Plain C++, built on every platform (the CUDA
// kernels in native/cuda/sparse24.cu upload what it builds; the tests replay it without a GPU).
//
//   CPU packed                      device image (per 16-channel block cb, 256-input k-block kb)
//   meta u8 [np/16][kp/8][16]   ─┐   | values: J vectors × 32 lanes × 16 B | metadata: 512 B (f16: 16 lanes × 32 B; i8:
//   32 × 16 B) | values (f32 / s8 / int4)    ─┴─▶  (positions from the CPU metadata, values from llmc_s24_unpack)
#include "sparse24_layout.h"

#include <climits>
#include <cstring>
#include <new>
#include <utility>
#include <vector>

#include "f16_bits.h"
#include "status.h"

namespace llmc {
namespace s24dev {

namespace {

int64_t round_up(int64_t a, int64_t b) { return (a + b - 1) / b * b; }

// The 4-bit ordered metadata of group gi (inputs 4gi .. 4gi+3) of channel j in the CPU layout:
// byte ((j/16)·octets + o)·16 + j%16 holds group 2o in its low nibble and 2o+1 in its high nibble.
int cpu_nibble(const uint8_t* meta, int64_t k, int64_t j, int64_t gi) {
  const int64_t octets = round_up(k, 16) / 8, o = gi / 2;
  const uint8_t b = meta[((j / kChannels) * octets + o) * kChannels + j % kChannels];
  return (b >> (4 * (gi % 2))) & 0xF;
}

bool valid_group(int64_t k, int64_t group) {
  if (group == k) return true;
  return (group == 32 || group == 64 || group == 128) && k % group == 0;
}

llmc_status check(const llmc_s24_weights* w) {
  if (w == nullptr) return fail(LLMC_INVALID_ARGUMENT, "upload_s24: w must not be NULL");
  if (w->bits != 32 && w->bits != 8 && w->bits != 4)
    return fail(LLMC_INVALID_ARGUMENT, "upload_s24: w->bits must be 32, 8 or 4, got %d", w->bits);
  if (w->n < 1)
    return fail(LLMC_INVALID_ARGUMENT, "upload_s24: w->n must be >= 1, got %lld", static_cast<long long>(w->n));
  if (w->k < 4 || w->k % 4 != 0)
    return fail(LLMC_INVALID_ARGUMENT, "upload_s24: w->k must be a positive multiple of 4, got %lld",
                static_cast<long long>(w->k));
  if (w->bits == 4 && !valid_group(w->k, w->group))
    return fail(LLMC_INVALID_ARGUMENT, "upload_s24: w->group must be 32, 64 or 128 dividing k, or k (%lld); got %lld",
                static_cast<long long>(w->k), static_cast<long long>(w->group));
  if (w->meta == nullptr || w->values == nullptr)
    return fail(LLMC_INVALID_ARGUMENT, "upload_s24: w->meta and w->values must not be NULL (llmc_s24_pack fills them)");
  if (w->bits != 32 && w->scale == nullptr)
    return fail(LLMC_INVALID_ARGUMENT, "upload_s24: w->scale must not be NULL for bits %d", w->bits);
  if (w->bits == 8 && w->wsum == nullptr)
    return fail(LLMC_INVALID_ARGUMENT, "upload_s24: w->wsum must not be NULL for bits 8 (llmc_s24_pack writes it)");
  // int8: |Σ q·x_q| <= 128 · 127 · kp/2 must stay below 2^31 (the s32 accumulators wrap).
  if (w->bits == 8 && round_up(w->k, kKBlock) / 2 > INT32_MAX / (128 * 127))
    return fail(LLMC_UNSUPPORTED, "upload_s24: w8a8 supports k up to %lld (int32 accumulation), got k=%lld",
                static_cast<long long>(INT32_MAX / (128 * 127) * 2 / kKBlock * kKBlock), static_cast<long long>(w->k));
  return LLMC_OK;
}

// The dense values of w: f32 weights (bits 32, 4: code × group scale in f32) or s8 codes (bits 8).
struct Dense {
  std::vector<float> f;
  std::vector<int8_t> q;
  std::vector<float> scale;
};

llmc_status unpack(const llmc_s24_weights& w, Dense* d) {
  const size_t count = static_cast<size_t>(w.n * w.k);
  if (w.bits == 32) {
    d->f.resize(count);
    return llmc_s24_unpack(&w, d->f.data(), nullptr, nullptr);
  }
  const int64_t G = w.bits == 4 ? w.k / w.group : 1;
  d->q.resize(count);
  d->scale.resize(static_cast<size_t>(w.n * G));
  if (llmc_status st = llmc_s24_unpack(&w, nullptr, d->q.data(), d->scale.data())) return st;
  if (w.bits == 8) return LLMC_OK;
  d->f.resize(count);
  for (int64_t j = 0; j < w.n; ++j)
    for (int64_t p = 0; p < w.k; ++p) {
      const size_t at = static_cast<size_t>(j * w.k + p);
      d->f[at] = static_cast<float>(d->q[at]) * d->scale[static_cast<size_t>(j * G + p / w.group)];
    }
  d->q.clear();
  return LLMC_OK;
}

void put_u32(uint8_t* dst, uint32_t v) {
  for (int b = 0; b < 4; ++b) dst[b] = static_cast<uint8_t>(v >> (8 * b));
}

// One A register of a lane: its 2 (f16) or 4 (s8) kept values, the lower element in the low bits.
uint32_t a_register(const llmc_s24_weights& w, const Dense& d, int kind, int64_t cb, int64_t kb, int lane, int s,
                    int r) {
  uint32_t reg = 0;
  const int elems = kind == kF16 ? 2 : 4, bits = 32 / elems;
  for (int e = 0; e < elems; ++e) {
    const Slot sl = a_slot(kind, lane, s, r, e);
    const int64_t j = cb * kChannels + sl.channel, gi = kb * (kKBlock / 4) + sl.group;
    uint32_t v = 0;
    if (j < w.n && gi < w.k / 4) {
      const int nib = cpu_nibble(w.meta, w.k, j, gi);
      const int64_t at = j * w.k + 4 * gi + (sl.kept ? nib >> 2 : nib & 3);
      v = kind == kF16 ? f16_bits(d.f[static_cast<size_t>(at)]) : static_cast<uint8_t>(d.q[static_cast<size_t>(at)]);
    }
    reg |= v << (bits * e);
  }
  return reg;
}

uint32_t meta_register(const llmc_s24_weights& w, int kind, int64_t cb, int64_t kb, int lane, int s) {
  uint32_t reg = 0;
  for (int c = 0; c < 8; ++c) {
    const Slot sl = meta_slot(kind, lane, s, c);
    const int64_t j = cb * kChannels + sl.channel, gi = kb * (kKBlock / 4) + sl.group;
    const int nib = j < w.n && gi < w.k / 4 ? cpu_nibble(w.meta, w.k, j, gi) : kMetaNibble;
    reg |= static_cast<uint32_t>(nib) << (4 * c);
  }
  return reg;
}

void fill_tile(const llmc_s24_weights& w, const Dense& d, int kind, int64_t cb, int64_t kb, uint8_t* tile) {
  for (int lane = 0; lane < kLanes; ++lane) {
    for (int s = 0; s < mmas(kind); ++s)
      for (int r = 0; r < 4; ++r)
        put_u32(tile + value_offset(s, lane) + 4 * r, a_register(w, d, kind, cb, kb, lane, s, r));
    for (int s = 0; s < 4 * meta_vectors(kind, lane); ++s)
      put_u32(tile + meta_offset(kind, lane, s / 4) + 4 * (s % 4), meta_register(w, kind, cb, kb, lane, s));
  }
}

}  // namespace

llmc_status build_image(const llmc_s24_weights* w, Image* out) {
  if (llmc_status st = check(w)) return st;
  try {
    Image img;
    img.kind = w->bits == 8 ? kI8 : kF16;
    img.n = w->n, img.k = w->k;
    img.np = round_up(w->n, kChannels), img.kp = round_up(w->k, kKBlock);
    Dense d;
    if (llmc_status st = unpack(*w, &d)) return st;
    const int64_t tb = tile_bytes(img.kind);
    img.tiles.assign(static_cast<size_t>(img.blocks() * img.kblocks() * tb), 0);
    for (int64_t cb = 0; cb < img.blocks(); ++cb)
      for (int64_t kb = 0; kb < img.kblocks(); ++kb)
        fill_tile(*w, d, img.kind, cb, kb, img.tiles.data() + (cb * img.kblocks() + kb) * tb);
    if (img.kind == kI8) {
      img.scale.assign(static_cast<size_t>(img.np), 0.0f);
      std::memcpy(img.scale.data(), d.scale.data(), static_cast<size_t>(w->n) * sizeof(float));
    }
    *out = std::move(img);
    return LLMC_OK;
  } catch (const std::bad_alloc&) {
    return fail(LLMC_OUT_OF_MEMORY, "upload_s24: out of host memory converting a %lld x %lld layer",
                static_cast<long long>(w->n), static_cast<long long>(w->k));
  }
}

}  // namespace s24dev
}  // namespace llmc
