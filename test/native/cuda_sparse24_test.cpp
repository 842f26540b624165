// cuda_sparse24_test.cpp — the test and benchmark program of the 2:4 sparse tensor core kernels
// (native/cuda/sparse24.cu, layout and index maps in native/pack/sparse24_layout.h). No GPU needed
// for the first three parts:
//   cuda_sparse24_test check   1. f32 → f16 rounding of the converter against a float64 search
//                              2. the metadata words of the device image, decoded with the PTX
//                                 metadata layouts, against llmc_s24_nv_metadata
//                              3. CPU replay: every lane of every warp of the kernel's grid loads
//                                 its registers through the kernel's index maps (LLMC_HD), the mma
//                                 operands are assembled from the lanes' registers with the PTX
//                                 fragment tables below and multiplied in double, the results land
//                                 where the kernel's epilogue writes them; every output is compared
//                                 with a float64 reference of x · Wᵀ (f16 bound; the w8a8 int32 sums
//                                 exactly)
//                              4. GPU vs CPU (llmc_cuda_upload_s24 + llmc_cuda_matmul against
//                                 llmc_s24_matmul) when a device is usable, else one line
//                                 "GPU checks skipped: <reason>"
//   cuda_sparse24_test bench   kernel times of sparse24 vs the dense f16 kernel (needs a GPU)
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <vector>

#include "../../native/pack/f16_bits.h"
#include "../../native/pack/sparse24_layout.h"
#include "llmc.h"
#include "test_a8_ref.h"
#include "test_rng.h"

namespace {

namespace dv = llmc::s24dev;

int failures = 0, cases = 0;

// ---- the PTX ISA's fragment layouts (PTX ISA 9.x, "Matrix fragments for multiply-accumulate
// operation with sparse matrix A"), written here independently of sparse24_layout.h ----------------
// groupID = lane >> 2, threadID_in_group = lane % 4.
//
// Sparse mma.m16n8k32 .f16 (9.7.14.6.2.2), A: four .b32 registers a0..a7, two non-zero f16 of a
// 4-wide chunk per register: row = groupID for a0, a1, a4, a5, groupID + 8 otherwise; the chunk
// starts at column firstcol = threadID_in_group·4 (i < 4) or threadID_in_group·4 + 16 (i >= 4).
// The two values of a register are the chunk's non-zeros in increasing column order (low half first).
struct Cell {
  int row, chunk;
};
Cell ptx_a_f16(int lane, int i) {
  const int g = lane >> 2, tig = lane & 3;
  const bool low = i < 2 || (i >= 4 && i < 6);
  return {low ? g : g + 8, (tig * 4 + (i >= 4 ? 16 : 0)) / 4};
}
// Sparse mma.m16n8k64 .s8 (9.7.14.6.2.6), A: four .b32 registers a0..a15, four non-zero s8 of 8
// consecutive columns (two chunks) per register: row = groupID for a_i with 0 <= i < 4 or
// 8 <= i < 12, groupID + 8 otherwise; firstcol = threadID_in_group·8 (i < 8) or + 32 (i >= 8).
// Bytes 0, 1: the first chunk's non-zeros, bytes 2, 3: the second chunk's (increasing column).
Cell ptx_a_s8(int lane, int i) {
  const int g = lane >> 2, tig = lane & 3;
  const bool low = i < 4 || (i >= 8 && i < 12);
  return {low ? g : g + 8, (tig * 8 + (i >= 8 ? 32 : 0)) / 4 + (i % 4) / 2};
}
// B (K × 8, "col"): f16 m16n8k32: b_i (register i/2) holds row k = threadID_in_group·2 + (i & 1) +
// 8·(i >> 1), column groupID. s8 m16n8k64: b_i (register i/4, byte i%4) holds row k =
// threadID_in_group·4 + (i & 3) + 16·(i >> 2), column groupID.
int ptx_b_k_f16(int lane, int i) { return (lane & 3) * 2 + (i & 1) + 8 * (i >> 1); }
int ptx_b_k_s8(int lane, int i) { return (lane & 3) * 4 + (i & 3) + 16 * (i >> 2); }
// C / D (16 × 8, f32 or s32): c_i: row = groupID + 8·(i >> 1), column = threadID_in_group·2 + (i & 1).
Cell ptx_d(int lane, int i) { return {(lane >> 2) + 8 * (i >> 1), (lane & 3) * 2 + (i & 1)}; }

// Metadata (sparse matrix storage, 9.7.14.6.1, and the metadata figures): each nibble describes one
// chunk: bits 1:0 = index of its first non-zero, bits 3:2 = index of its second, and
// mma.sp::ordered_metadata needs the first < the second.
// m16n8k32 .f16: the thread pair selected by the sparsity selector (0: T0, T1; 1: T2, T3 of every
// quad) contributes; the pair's thread j (0, 1) holds, for columns 16j .. 16j+15, row groupID in bits
// 0..15 and row groupID + 8 in bits 16..31, nibble c of a half = chunk 4j + c.
// m16n8k64 .s8: selector 0, all four threads of a quad contribute: thread threadID_in_group holds row
// groupID + 8·(threadID_in_group & 1), columns 32·(threadID_in_group >> 1) .. +31, nibble c = chunk
// 8·(threadID_in_group >> 1) + c.
// Returns the chunk grid nib[row][chunk] assembled from the designated lanes' words (-1: none).
std::vector<int> ptx_metadata(int kind, const uint32_t meta[32], int selector) {
  const int chunks = kind == dv::kF16 ? 8 : 16;
  std::vector<int> nib(static_cast<size_t>(16 * chunks), -1);
  for (int lane = 0; lane < 32; ++lane) {
    const int g = lane >> 2, tig = lane & 3;
    for (int c = 0; c < 8; ++c) {
      int row, chunk;
      if (kind == dv::kF16) {
        if (tig >> 1 != selector) continue;
        row = g + 8 * (c >> 2), chunk = 4 * (tig & 1) + (c & 3);
      } else {
        row = g + 8 * (tig & 1), chunk = 8 * (tig >> 1) + c;
      }
      int& cell = nib[static_cast<size_t>(row * chunks + chunk)];
      if (cell >= 0) ++failures, std::printf("FAIL metadata layout: chunk (%d, %d) described twice\n", row, chunk);
      cell = static_cast<int>((meta[lane] >> (4 * c)) & 0xF);
    }
  }
  return nib;
}

double f16_to_double(uint16_t h) {
  const int e = (h >> 10) & 0x1F, m = h & 0x3FF;
  const double s = (h & 0x8000) ? -1.0 : 1.0;
  if (e == 31) return m ? NAN : s * INFINITY;
  if (e == 0) return s * std::ldexp(m, -24);
  return s * std::ldexp(1024 + m, e - 25);
}

uint32_t get_u32(const uint8_t* p) { return p[0] | p[1] << 8 | p[2] << 16 | static_cast<uint32_t>(p[3]) << 24; }

// ---- random 2:4 layers -------------------------------------------------------------------------
struct Layer {
  int bits = 32;
  int64_t n = 0, k = 0, group = 0;
  std::vector<float> w;      // bits 32: f32 [n × k]
  std::vector<int8_t> q;     // bits 8 / 4: codes [n × k]
  std::vector<float> scale;  // bits 8: [n]; bits 4: [n × k/group]
  std::vector<double> ref;   // the dense weights [n × k] in float64 (codes × scales)
  // packed (CPU format)
  std::vector<uint8_t> meta, values;
  std::vector<float> pscale;
  std::vector<int32_t> wsum;
  llmc_s24_weights view() const {
    return {n,
            k,
            bits,
            group,
            meta.data(),
            values.data(),
            bits == 32 ? nullptr : pscale.data(),
            bits == 8 ? wsum.data() : nullptr};
  }
};

// Group g of a row keeps the positions of pattern (g + offset) % 11: the 6 pairs, the 4 singles, none.
void pattern(int which, bool keep[4]) {
  static const int pairs[6][2] = {{0, 1}, {0, 2}, {0, 3}, {1, 2}, {1, 3}, {2, 3}};
  for (int i = 0; i < 4; ++i) keep[i] = false;
  if (which < 6)
    keep[pairs[which][0]] = keep[pairs[which][1]] = true;
  else if (which < 10)
    keep[which - 6] = true;
}

bool make_layer(Rng& rng, int bits, int64_t n, int64_t k, int64_t group, Layer* out) {
  Layer L;
  L.bits = bits, L.n = n, L.k = k, L.group = bits == 4 ? group : 0;
  const size_t count = static_cast<size_t>(n * k);
  const int64_t G = bits == 4 ? k / group : 1;
  if (bits == 32)
    L.w.assign(count, 0.0f);
  else
    L.q.assign(count, 0);
  if (bits == 8) L.scale.resize(static_cast<size_t>(n));
  if (bits == 4) L.scale.resize(static_cast<size_t>(n * G));
  for (float& s : L.scale) s = 0.001f + 0.05f * std::fabs(rng.uniform());
  for (int64_t j = 0; j < n; ++j) {
    const int offset = rng.range(0, 10);
    for (int64_t g = 0; g < k / 4; ++g) {
      bool keep[4];
      pattern(static_cast<int>((g + offset) % 11), keep);
      for (int i = 0; i < 4; ++i) {
        if (!keep[i]) continue;
        const size_t at = static_cast<size_t>(j * k + 4 * g + i);
        if (bits == 32) {
          float v = 0.0f;
          while (v == 0.0f) v = rng.uniform();
          L.w[at] = v;
        } else {
          int v = 0;
          while (v == 0) v = bits == 8 ? rng.range(-128, 127) : rng.range(-8, 7);
          L.q[at] = static_cast<int8_t>(v);
        }
      }
    }
  }
  L.ref.resize(count);
  for (int64_t j = 0; j < n; ++j)
    for (int64_t p = 0; p < k; ++p) {
      const size_t at = static_cast<size_t>(j * k + p);
      if (bits == 32)
        L.ref[at] = L.w[at];
      else if (bits == 8)
        L.ref[at] = static_cast<double>(L.q[at]) * L.scale[static_cast<size_t>(j)];
      else
        L.ref[at] = static_cast<double>(L.q[at]) * L.scale[static_cast<size_t>(j * G + p / group)];
    }
  L.meta.resize(static_cast<size_t>(llmc_s24_meta_bytes(n, k)));
  L.values.resize(static_cast<size_t>(llmc_s24_value_bytes(bits, n, k)));
  L.pscale.resize(static_cast<size_t>(std::max<int64_t>(1, llmc_s24_scale_count(bits, n, k, L.group))));
  L.wsum.resize(static_cast<size_t>(llmc_s24_scale_count(8, n, k, 0)));
  const llmc_status st =
      llmc_s24_pack(bits, n, k, L.group, bits == 32 ? L.w.data() : nullptr, bits == 32 ? nullptr : L.q.data(),
                    bits == 32 ? nullptr : L.scale.data(), L.meta.data(), L.values.data(), L.pscale.data(),
                    bits == 8 ? L.wsum.data() : nullptr, nullptr);
  if (st != LLMC_OK) {
    ++failures;
    std::printf("FAIL s24_pack bits=%d n=%lld k=%lld: %s\n", bits, static_cast<long long>(n), static_cast<long long>(k),
                llmc_last_error());
    return false;
  }
  *out = std::move(L);
  return true;
}

// ---- 1. f16 rounding ----------------------------------------------------------------------------
void check_f16_rounding(Rng& rng) {
  std::vector<float> vals = {0.0f,
                             -0.0f,
                             1.0f,
                             -1.0f,
                             65504.0f,
                             65519.0f,
                             65520.0f,
                             -65520.0f,
                             1e9f,
                             6.103515625e-05f,
                             std::ldexp(1.0f, -24),
                             std::ldexp(1.0f, -25),
                             std::ldexp(3.0f, -26),
                             std::ldexp(1.0f, -26),
                             std::ldexp(1025.0f, -10),
                             std::ldexp(2049.0f, -11),
                             std::ldexp(2051.0f, -11),
                             0.1f,
                             1.0f / 3.0f,
                             INFINITY,
                             -INFINITY,
                             NAN};
  for (int i = 0; i < 20000; ++i) vals.push_back(std::ldexp(rng.uniform(), rng.range(-30, 17)));
  int bad = 0;
  for (float v : vals) {
    ++cases;
    const uint16_t h = llmc::f16_bits(v);
    const double got = f16_to_double(h);
    bool ok;
    if (std::isnan(v))
      ok = std::isnan(got);
    else if (std::fabs(v) >= 65520.0)
      ok = std::isinf(got) && (got > 0) == (v > 0);
    else {
      // Nearest f16 (ties to an even mantissa): no neighbour of h is closer, and a tie keeps h even.
      const double err = std::fabs(got - v);
      ok = !std::isinf(got) && std::signbit(got) == std::signbit(v);
      for (int d : {-1, 1}) {
        const uint16_t nb = static_cast<uint16_t>((h & 0x7FFF) + d) | (h & 0x8000);
        if ((h & 0x7FFF) == 0 && d < 0) continue;
        const double e2 = std::fabs(f16_to_double(nb) - v);
        if (e2 < err || (e2 == err && (h & 1))) ok = false;
      }
    }
    if (!ok && bad++ < 5) std::printf("FAIL f32_to_f16(%.9g) = 0x%04x (%.9g)\n", v, h, got);
  }
  failures += bad;
}

// ---- 2. metadata --------------------------------------------------------------------------------
// Every (channel, group) of the image decoded with the PTX metadata layouts equals llmc_s24_nv_metadata;
// padding groups hold (0, 1).
void check_metadata(const Layer& L, const dv::Image& img) {
  ++cases;
  const llmc_s24_weights wv = L.view();
  const int64_t per_row = (L.k + 7) / 8;
  std::vector<uint8_t> nv(static_cast<size_t>(L.n * per_row));
  if (llmc_s24_nv_metadata(&wv, nv.data()) != LLMC_OK) {
    ++failures;
    std::printf("FAIL s24_nv_metadata: %s\n", llmc_last_error());
    return;
  }
  const int kind = img.kind, J = kind == dv::kF16 ? 8 : 4, chunks = kind == dv::kF16 ? 8 : 16;
  const int64_t tb = dv::tile_bytes(kind);
  int bad = 0;
  for (int64_t cb = 0; cb < img.blocks(); ++cb)
    for (int64_t kb = 0; kb < img.kblocks(); ++kb) {
      const uint8_t* tile = img.tiles.data() + (cb * img.kblocks() + kb) * tb;
      for (int s = 0; s < J; ++s) {
        // mma s of the k-block, selector 0: f16 word s of lanes t = 0, 1 (slot 2g + t, 32 bytes each),
        // s8 word s of every lane (16 bytes each)
        uint32_t words[32];
        for (int lane = 0; lane < 32; ++lane) {
          const int g = lane >> 2, t = lane & 3;
          words[lane] = kind == dv::kI8 ? get_u32(tile + J * 512 + lane * 16 + 4 * s)
                        : t < 2         ? get_u32(tile + J * 512 + (2 * g + t) * 32 + 4 * s)
                                        : 0xFFFFFFFFu;  // lanes the selector leaves out: never read
        }
        const std::vector<int> nib = ptx_metadata(kind, words, 0);
        for (int row = 0; row < 16; ++row)
          for (int c = 0; c < chunks; ++c) {
            const int64_t j = cb * 16 + row, gi = kb * 64 + s * chunks + c;
            const int want =
                j < L.n && gi < L.k / 4 ? (nv[static_cast<size_t>(j * per_row + gi / 2)] >> (4 * (gi % 2))) & 0xF : 0x4;
            const int got = nib[static_cast<size_t>(row * chunks + c)];
            if (got != want && bad++ < 5)
              std::printf("FAIL metadata bits=%d n=%lld k=%lld channel %lld group %lld: 0x%x, want 0x%x\n", L.bits,
                          static_cast<long long>(L.n), static_cast<long long>(L.k), static_cast<long long>(j),
                          static_cast<long long>(gi), got, want);
          }
      }
    }
  failures += bad;
}

// ---- 3. CPU replay of the kernel ------------------------------------------------------------------
struct Replay {
  std::vector<double> y;     // [m × n], what the kernel's atomics add up to
  std::vector<int64_t> acc;  // s8: the s32 sums [m × n]
  std::vector<int> writes;   // [m × n]: how many (split) epilogues wrote each output
};

// One mma of one warp: the lanes' registers → A (16 × K, decompressed with the metadata of the lanes
// the selector designates), B (K × 8) → D += A·B in double (s8: exactly, in int64).
void replay_mma(int kind, const uint32_t a[32][4], const uint32_t meta[32], int selector, const uint32_t b[32][4],
                double d[16][8], bool* meta_ok) {
  const int K = kind == dv::kF16 ? 32 : 64, chunks = K / 4;
  const std::vector<int> nib = ptx_metadata(kind, meta, selector);
  std::vector<double> A(static_cast<size_t>(16 * K), 0.0), B(static_cast<size_t>(K * 8), 0.0);
  std::vector<int> filled(static_cast<size_t>(16 * chunks), 0);
  for (int lane = 0; lane < 32; ++lane) {
    const int elems = kind == dv::kF16 ? 8 : 16;
    for (int i = 0; i < elems; ++i) {
      const int reg = kind == dv::kF16 ? i / 2 : i / 4;
      const Cell cell = kind == dv::kF16 ? ptx_a_f16(lane, i) : ptx_a_s8(lane, i);
      const int kept = i % 2;  // f16: half; s8: byte 0, 2 first / 1, 3 second non-zero of their chunk
      const int nb = nib[static_cast<size_t>(cell.row * chunks + cell.chunk)];
      if (nb < 0 || (nb & 3) >= (nb >> 2)) {
        *meta_ok = false;  // missing or not ordered (undefined for mma.sp::ordered_metadata)
        continue;
      }
      const int pos = kept ? nb >> 2 : nb & 3;
      double v;
      if (kind == dv::kF16)
        v = f16_to_double(static_cast<uint16_t>(a[lane][reg] >> (16 * (i % 2))));
      else
        v = static_cast<int8_t>(a[lane][reg] >> (8 * (i % 4)));
      A[static_cast<size_t>(cell.row * K + 4 * cell.chunk + pos)] = v;
      ++filled[static_cast<size_t>(cell.row * chunks + cell.chunk)];
    }
    const int belems = kind == dv::kF16 ? 8 : 16;
    for (int i = 0; i < belems; ++i) {
      const int kk = kind == dv::kF16 ? ptx_b_k_f16(lane, i) : ptx_b_k_s8(lane, i);
      double v;
      if (kind == dv::kF16)
        v = f16_to_double(static_cast<uint16_t>(b[lane][i / 2] >> (16 * (i % 2))));
      else
        v = static_cast<int8_t>(b[lane][i / 4] >> (8 * (i % 4)));
      B[static_cast<size_t>(kk * 8 + (lane >> 2))] = v;
    }
  }
  for (int f : filled)
    if (f != 2) *meta_ok = false;
  for (int r = 0; r < 16; ++r)
    for (int c = 0; c < 8; ++c) {
      double s = 0.0;
      for (int kk = 0; kk < K; ++kk) s += A[static_cast<size_t>(r * K + kk)] * B[static_cast<size_t>(kk * 8 + c)];
      d[r][c] += s;
    }
}

// Runs the kernel's grid on the CPU: x_half (f16 bits [m × k]) or x_q (s8 [m × k]) as the kernel reads
// them; sms picks the split-K plan as on a device with that many SMs.
Replay replay_kernel(const dv::Image& img, int64_t m, const std::vector<uint16_t>& xh, const std::vector<int8_t>& xq,
                     int sms, bool* meta_ok) {
  const int kind = img.kind, J = dv::mmas(kind);
  const int64_t n = img.n, k = img.k, tb = dv::tile_bytes(kind);
  Replay R;
  R.y.assign(static_cast<size_t>(m * n), 0.0);
  R.acc.assign(static_cast<size_t>(m * n), 0);
  R.writes.assign(static_cast<size_t>(m * n), 0);
  const dv::Plan p = dv::plan(m, img.blocks(), img.kblocks(), sms);
  for (int64_t bx = 0; bx < p.grid_x; ++bx)
    for (int warp = 0; warp < dv::kWarps; ++warp)
      for (int64_t ys = 0; ys < p.splits; ++ys)
        for (int64_t z = 0; z < p.passes; ++z) {
          const int64_t cb0 = dv::warp_block0(bx, warp);
          if (cb0 >= img.blocks()) continue;
          for (int c = 0; c < dv::kWarpBlocks; ++c) {
            const int64_t cb = cb0 + c;
            if (cb >= img.blocks()) continue;
            for (int tt = 0; tt < p.tiles; ++tt) {
              double d[16][8] = {};
              for (int64_t kb = dv::kb_begin(ys, p.kb_per_split); kb < dv::kb_end(ys, p.kb_per_split, img.kblocks());
                   ++kb) {
                const uint8_t* tile = img.tiles.data() + (cb * img.kblocks() + kb) * tb;
                for (int s = 0; s < J; ++s) {
                  uint32_t a[32][4], e[32], b[32][4];
                  for (int lane = 0; lane < 32; ++lane) {
                    for (int r = 0; r < 4; ++r) a[lane][r] = get_u32(tile + dv::value_offset(s, lane) + 4 * r);
                    e[lane] = s / 4 < dv::meta_vectors(kind, lane)
                                  ? get_u32(tile + dv::meta_offset(kind, lane, s / 4) + 4 * (s % 4))
                                  : 0u;
                    const int64_t tok = dv::token0(z, p.tiles, tt) + dv::b_token(lane);
                    for (int r = 0; r < 4; ++r) {
                      const int64_t pk = kb * dv::kKBlock + s * dv::mma_k(kind) + dv::b_k(kind, lane, r);
                      b[lane][r] = 0;
                      if (tok >= m || pk >= k) continue;
                      if (kind == dv::kF16)
                        b[lane][r] = xh[static_cast<size_t>(tok * k + pk)] |
                                     static_cast<uint32_t>(xh[static_cast<size_t>(tok * k + pk + 1)]) << 16;
                      else
                        for (int q = 0; q < 4; ++q)
                          b[lane][r] |=
                              static_cast<uint32_t>(static_cast<uint8_t>(xq[static_cast<size_t>(tok * k + pk + q)]))
                              << (8 * q);
                    }
                  }
                  replay_mma(kind, a, e, 0, b, d, meta_ok);  // the kernel's mma_sp: selector 0
                }
              }
              // the epilogue: lane's D element i (PTX C table) goes where the kernel writes it
              for (int lane = 0; lane < 32; ++lane)
                for (int i = 0; i < 4; ++i) {
                  const Cell cell = ptx_d(lane, i);
                  const int64_t ch = cb * 16 + dv::d_channel(lane, i),
                                tok = dv::token0(z, p.tiles, tt) + dv::d_token(lane, i);
                  if (ch >= n || tok >= m) continue;
                  const size_t at = static_cast<size_t>(tok * n + ch);
                  R.y[at] += d[cell.row][cell.chunk];
                  R.acc[at] += static_cast<int64_t>(d[cell.row][cell.chunk]);
                  ++R.writes[at];
                }
            }
          }
        }
  for (int& w : R.writes) w = w == static_cast<int>(p.splits) ? 1 : 0;
  return R;
}

void check_replay(Rng& rng, const Layer& L, const dv::Image& img, int64_t m, int sms) {
  ++cases;
  const int64_t n = L.n, k = L.k;
  std::vector<float> x(static_cast<size_t>(m * k));
  for (float& v : x) {
    v = 0.0f;
    while (v == 0.0f) v = rng.uniform();
  }
  std::vector<uint16_t> xh;
  std::vector<int8_t> xq;
  std::vector<double> xqd, sx;
  if (img.kind == dv::kF16) {
    xh.resize(x.size());
    for (size_t i = 0; i < x.size(); ++i) xh[i] = llmc::f16_bits(x[i]);
  } else {
    quantize_rows(x, m, k, k, xqd, sx);
    xq.resize(xqd.size());
    for (size_t i = 0; i < xqd.size(); ++i) xq[i] = static_cast<int8_t>(xqd[i]);
  }
  bool meta_ok = true;
  const Replay R = replay_kernel(img, m, xh, xq, sms, &meta_ok);
  int bad = 0;
  if (!meta_ok)
    ++bad, std::printf("FAIL replay bits=%d n=%lld k=%lld: metadata missing, duplicated or not ordered\n", L.bits,
                       static_cast<long long>(n), static_cast<long long>(k));
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      const size_t at = static_cast<size_t>(i * n + j);
      double want = 0.0, mag = 0.0, xabs = 0.0, wabs = 0.0;
      int64_t isum = 0;
      for (int64_t p = 0; p < k; ++p) {
        const double w = L.ref[static_cast<size_t>(j * k + p)], xv = x[static_cast<size_t>(i * k + p)];
        want += w * xv, mag += std::fabs(w * xv), xabs += std::fabs(xv), wabs += std::fabs(w);
        if (img.kind == dv::kI8)
          isum += static_cast<int64_t>(L.q[static_cast<size_t>(j * k + p)]) *
                  static_cast<int64_t>(xq[static_cast<size_t>(i * k + p)]);
      }
      double got;
      bool ok = R.writes[at] == 1;
      if (img.kind == dv::kF16) {
        // each f16 rounding is within 2^-11 relative (2^-25 absolute below the normal range)
        got = R.y[at];
        ok = ok && std::fabs(got - want) <= 1.001 * (mag * std::ldexp(1.0, -10) + (xabs + wabs) * std::ldexp(1.0, -24));
      } else {
        ok = ok && R.acc[at] == isum && std::fabs(R.acc[at]) < 2147483648.0;
        got = dv::dequant_i8(static_cast<int32_t>(R.acc[at]), static_cast<float>(sx[static_cast<size_t>(i)]),
                             img.scale[static_cast<size_t>(j)]);
        want = sx[static_cast<size_t>(i)] * L.scale[static_cast<size_t>(j)] * static_cast<double>(isum);
        ok = ok && std::fabs(got - want) <= std::ldexp(std::fabs(want), -21) + 1e-30;
      }
      if (!ok && bad++ < 5)
        std::printf("FAIL replay bits=%d n=%lld k=%lld m=%lld sms=%d: y[%lld,%lld] = %.9g, want %.9g (writes %d)\n",
                    L.bits, static_cast<long long>(n), static_cast<long long>(k), static_cast<long long>(m), sms,
                    static_cast<long long>(i), static_cast<long long>(j), got, want, R.writes[at]);
    }
  failures += bad;
}

// The host checks of the converter (no device needed).
void check_invalid() {
  Rng rng(7);
  Layer L;
  if (!make_layer(rng, 8, 16, 32, 0, &L)) return;
  dv::Image img;
  struct Bad {
    const char* what;
    llmc_s24_weights w;
  };
  llmc_s24_weights v = L.view();
  std::vector<Bad> bad;
  for (int i = 0; i < 7; ++i) bad.push_back({"", v});
  bad[0].what = "bits 16", bad[0].w.bits = 16;
  bad[1].what = "k 6", bad[1].w.k = 6;
  bad[2].what = "n 0", bad[2].w.n = 0;
  bad[3].what = "null meta", bad[3].w.meta = nullptr;
  bad[4].what = "null scale", bad[4].w.scale = nullptr;
  bad[5].what = "null wsum", bad[5].w.wsum = nullptr;
  bad[6].what = "int4 group 48", bad[6].w.bits = 4, bad[6].w.group = 48;
  for (const Bad& x : bad) {
    ++cases;
    if (dv::build_image(&x.w, &img) != LLMC_INVALID_ARGUMENT || std::strlen(llmc_last_error()) == 0)
      ++failures, std::printf("FAIL build_image accepted %s\n", x.what);
  }
  ++cases;
  if (dv::build_image(nullptr, &img) != LLMC_INVALID_ARGUMENT)
    ++failures, std::printf("FAIL build_image accepted NULL\n");
}

// ---- 4. GPU vs CPU --------------------------------------------------------------------------------
// Normalized bounds: f16 kinds |y_gpu − y_cpu| <= (2^-10 + 2k·2^-24)·Σ|w·x| (+ 2^-24·(Σ|x| + Σ|w|));
// w8a8: both compute s_x·(s_w·Σ q·x_q) from the same codes, so 2^-20·Σ|w·x|.
void check_gpu(Rng& rng, const Layer& L, int64_t m, int nan_row) {
  ++cases;
  const int64_t n = L.n, k = L.k;
  std::vector<float> x(static_cast<size_t>(m * k));
  for (float& v : x) v = rng.uniform();
  if (nan_row >= 0 && nan_row < m) x[static_cast<size_t>(nan_row * k + k / 2)] = NAN;
  const llmc_s24_weights wv = L.view();
  std::vector<float> y_cpu(static_cast<size_t>(m * n)), y_gpu(static_cast<size_t>(m * n), -7.0f);
  llmc_cuda_weights* dw = nullptr;
  llmc_status st = llmc_s24_matmul(&wv, 0, m, x.data(), k, y_cpu.data(), n);
  if (st == LLMC_OK) st = llmc_cuda_upload_s24(&wv, &dw);
  if (st == LLMC_OK) st = llmc_cuda_matmul(dw, m, x.data(), k, y_gpu.data(), n);
  llmc_cuda_weights_info info;
  llmc_cuda_weights_describe(dw, &info);
  llmc_cuda_weights_free(dw);
  if (st != LLMC_OK) {
    ++failures;
    std::printf("FAIL gpu bits=%d n=%lld k=%lld m=%lld: %s: %s\n", L.bits, static_cast<long long>(n),
                static_cast<long long>(k), static_cast<long long>(m), llmc_status_name(st), llmc_last_error());
    return;
  }
  const char* want_kernel = L.bits == 8 ? "sparse24_w8a8" : "sparse24_f16";
  if (std::strcmp(info.kernel, want_kernel) != 0 || info.n != n || info.k != k || info.device_bytes <= 0)
    ++failures,
        std::printf("FAIL describe: kernel %s n %lld k %lld bytes %lld\n", info.kernel, static_cast<long long>(info.n),
                    static_cast<long long>(info.k), static_cast<long long>(info.device_bytes));
  int bad = 0;
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      const float g = y_gpu[static_cast<size_t>(i * n + j)], c = y_cpu[static_cast<size_t>(i * n + j)];
      bool ok;
      if (i == nan_row)
        ok = std::isnan(g) && std::isnan(c);
      else {
        double mag = 0.0, xabs = 0.0, wabs = 0.0;
        for (int64_t p = 0; p < k; ++p) {
          const double w = L.ref[static_cast<size_t>(j * k + p)], xv = x[static_cast<size_t>(i * k + p)];
          mag += std::fabs(w * xv), xabs += std::fabs(xv), wabs += std::fabs(w);
        }
        const double tol = L.bits == 8 ? std::ldexp(mag, -20)
                                       : (std::ldexp(1.0, -10) + 2.0 * k * std::ldexp(1.0, -24)) * mag +
                                             (xabs + wabs) * std::ldexp(1.0, -24);
        ok = std::isfinite(g) && std::fabs(static_cast<double>(g) - c) <= tol;
      }
      if (!ok && bad++ < 5)
        std::printf("FAIL gpu bits=%d n=%lld k=%lld m=%lld: y[%lld,%lld] = %.9g, cpu %.9g\n", L.bits,
                    static_cast<long long>(n), static_cast<long long>(k), static_cast<long long>(m),
                    static_cast<long long>(i), static_cast<long long>(j), g, c);
    }
  failures += bad;
}

bool gpu_usable(char* reason, size_t size) {
  llmc_cuda_info info;
  llmc_cuda_query(&info);
  if (info.compiled && info.device_count > 0 && info.error[0] == 0) return true;
  std::snprintf(reason, size, "%s", info.error[0] ? info.error : "no CUDA device");
  return false;
}

int run_check() {
  Rng rng(2024);
  check_f16_rounding(rng);
  check_invalid();
  const int64_t ns[] = {8, 24, 40, 136};
  const int64_t ks[] = {4, 12, 36, 100, 260, 1000};
  const int64_t ms[] = {1, 3, 8, 9, 17, 40};
  const int sms_list[] = {1, 7, 132};
  int layers = 0;
  for (int bits : {32, 8, 4})
    for (int64_t n : ns)
      for (int64_t k : ks) {
        Layer L;
        if (!make_layer(rng, bits, n, k, k, &L)) continue;
        dv::Image img;
        const llmc_s24_weights wv = L.view();
        if (dv::build_image(&wv, &img) != LLMC_OK) {
          ++failures, std::printf("FAIL build_image: %s\n", llmc_last_error());
          continue;
        }
        ++layers;
        check_metadata(L, img);
        for (int64_t m : ms) check_replay(rng, L, img, m, sms_list[(layers + m) % 3]);
      }
  // int4 group scales (32, 64, 128) and a longer k with several k-blocks per split
  for (int64_t group : {32, 64, 128}) {
    Layer L;
    if (!make_layer(rng, 4, 40, 768, group, &L)) continue;
    dv::Image img;
    const llmc_s24_weights wv = L.view();
    if (dv::build_image(&wv, &img) != LLMC_OK) {
      ++failures, std::printf("FAIL build_image: %s\n", llmc_last_error());
      continue;
    }
    check_metadata(L, img);
    for (int64_t m : {1, 17}) check_replay(rng, L, img, m, 1);
  }
  // enough channel blocks that a small device takes one or two k splits: several k-blocks per split
  for (int bits : {32, 8}) {
    Layer L;
    if (!make_layer(rng, bits, 520, 1000, 1000, &L)) continue;
    dv::Image img;
    const llmc_s24_weights wv = L.view();
    if (dv::build_image(&wv, &img) != LLMC_OK) {
      ++failures, std::printf("FAIL build_image: %s\n", llmc_last_error());
      continue;
    }
    for (int sms : {1, 2}) check_replay(rng, L, img, 9, sms);
  }
  std::printf("replay: %s\n", failures == 0 ? "ok" : "FAILED");

  char reason[300];
  if (gpu_usable(reason, sizeof reason)) {
    const int before = failures;
    for (int bits : {32, 8, 4}) {
      for (int64_t n : ns)
        for (int64_t k : ks) {
          Layer L;
          if (!make_layer(rng, bits, n, k, k, &L)) continue;
          for (int64_t m : ms) check_gpu(rng, L, m, m > 2 ? 1 : -1);
        }
      Layer big;
      if (make_layer(rng, bits, 1000, 2048, bits == 4 ? 128 : 2048, &big))
        for (int64_t m : {1, 8, 32, 33, 100}) check_gpu(rng, big, m, m > 8 ? 5 : -1);
    }
    std::printf("gpu: %s\n", failures == before ? "ok" : "FAILED");
  } else {
    std::printf("GPU checks skipped: %s\n", reason);
  }
  std::printf("%d cases, %d failures\n", cases, failures);
  return failures == 0 ? 0 : 1;
}

// Kernel times (median of 20) of the 2:4 kernels against the dense f16 kernel on LLM layer shapes.
int run_bench() {
  char reason[300];
  if (!gpu_usable(reason, sizeof reason)) {
    std::printf("bench needs a GPU: %s\n", reason);
    return 1;
  }
  Rng rng(99);
  const int64_t shapes[][2] = {{4096, 4096}, {11008, 4096}, {4096, 11008}};
  for (const auto& s : shapes) {
    const int64_t n = s[0], k = s[1];
    std::vector<float> dense(static_cast<size_t>(n * k));
    Layer L;
    if (!make_layer(rng, 32, n, k, k, &L)) return 1;
    for (size_t i = 0; i < dense.size(); ++i) dense[i] = static_cast<float>(L.ref[i]);
    llmc_cuda_weights *sp = nullptr, *dn = nullptr;
    const llmc_s24_weights wv = L.view();
    if (llmc_cuda_upload_s24(&wv, &sp) != LLMC_OK) return std::printf("upload_s24: %s\n", llmc_last_error()), 1;
    const bool have_dense = llmc_cuda_upload_f16(n, k, dense.data(), &dn) == LLMC_OK;
    for (int64_t m : {1, 8, 16, 32, 128}) {
      double t_sp[20], t_dn[20];
      if (llmc_cuda_matmul_bench(sp, m, 20, t_sp) != LLMC_OK) return std::printf("bench: %s\n", llmc_last_error()), 1;
      std::sort(t_sp, t_sp + 20);
      llmc_cuda_weights_info info;
      llmc_cuda_weights_describe(sp, &info);
      std::printf("n=%5lld k=%5lld m=%4lld  sparse24_f16 %8.4f ms %7.1f GB/s", static_cast<long long>(n),
                  static_cast<long long>(k), static_cast<long long>(m), t_sp[10], info.device_bytes / t_sp[10] * 1e-6);
      if (have_dense && llmc_cuda_matmul_bench(dn, m, 20, t_dn) == LLMC_OK) {
        std::sort(t_dn, t_dn + 20);
        std::printf("   dense f16 %8.4f ms  speedup %.2fx", t_dn[10], t_dn[10] / t_sp[10]);
      }
      std::printf("\n");
    }
    llmc_cuda_weights_free(sp);
    llmc_cuda_weights_free(dn);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 2 && std::strcmp(argv[1], "check") == 0) return run_check();
  if (argc >= 2 && std::strcmp(argv[1], "bench") == 0) return run_bench();
  std::fprintf(stderr, "usage: %s check | bench\n", argv[0]);
  return 2;
}
