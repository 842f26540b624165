// sparse24.cpp — 2:4 sparse weights: packing (with the 2:4 check), unpacking, the exports to
// compressed-tensors' sparse-24-bitmask and to NVIDIA's sparse tensor core metadata, and the driver
// of the matmuls (path choice, activation quantization, tiling, threads). Layouts: sparse24.h.
//
// Paths (llmc_s24_path picks one per shape; both are always correct, tests run both):
//   f32, int4 (float activations): the rows kernels (weights read once per kMaxRows rows, indices
//     decoded once per block and octet), or the fp32 GEMM's packed path with B panels expanded
//     from the 2:4 values — the dense GEMM's work (FMA units gain nothing from the zeros a panel
//     holds) with half the weight bytes. llmc_s24_path picks (measurements: docs/kernels.md, "2:4 sparsity").
//   int8 (w8a8): the A8 tile at every m: per row and octet, one vpshufb gathers the activations of
//     64 kept weights and one vpdpbusd multiplies them (half the dot products of the dense kernel).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <new>

#include "gemm_f32.h"
#include "gemm_q.h"
#include "llmc.h"
#include "scratch.h"
#include "sparse24.h"
#include "status.h"
#include "thread_pool.h"

namespace llmc {
namespace s24 {

Kernels kernels_active() {
#if defined(LLMC_HAVE_X86_KERNELS)
  const llmc_isa isa = llmc_isa_active();
  if (isa == LLMC_ISA_AVX512) return kernels_avx512();
  if (isa == LLMC_ISA_AVX2) return kernels_avx2();
#endif
  return kernels_scalar();
}

namespace {

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Scratch for one calling thread (reused across calls).
thread_local Scratch t_scratch;

bool valid_bits(int bits) { return bits == 32 || bits == 8 || bits == 4; }
bool valid_group(int bits, int64_t k, int64_t group) {
  if (bits != 4) return true;
  return q::valid_group(k, group);
}

// Offsets inside the packed arrays.
inline int64_t meta_index(int64_t j, int64_t o, int64_t octets) {
  return ((j / kBlockN) * octets + o) * kBlockN + j % kBlockN;
}
// f32: value r of channel j in octet o.
inline int64_t f32_index(int64_t j, int64_t o, int r, int64_t octets) {
  return (((j / kBlockN) * octets + o) * 4 + r) * kBlockN + j % kBlockN;
}
// int8: code r of channel j in octet o.
inline int64_t i8_index(int64_t j, int64_t o, int r, int64_t octets) {
  return (((j / kBlockN) * octets + o) * kBlockN + j % kBlockN) * 4 + r;
}
// int4: byte holding value r of channel j in octet o (low nibble for even o, high for odd o).
inline int64_t i4_index(int64_t j, int64_t o, int r, int64_t octets) {
  return (((j / kBlockN) * (octets / 2) + o / 2) * kBlockN + j % kBlockN) * 4 + r;
}

Weights view(const llmc_s24_weights& w) { return {w.n, w.k, w.bits, w.group, w.meta, w.values, w.scale, w.wsum}; }

llmc_status check_weights(const char* what, const llmc_s24_weights* w) {
  if (!w) return fail(LLMC_INVALID_ARGUMENT, "%s: null weights", what);
  if (!valid_bits(w->bits)) return fail(LLMC_INVALID_ARGUMENT, "%s: bits must be 32, 8 or 4, got %d", what, w->bits);
  if (w->n < 1 || w->k < 4 || w->k % 4 != 0)
    return fail(LLMC_INVALID_ARGUMENT, "%s: need n >= 1 and k a positive multiple of 4, got n=%lld k=%lld", what,
                static_cast<long long>(w->n), static_cast<long long>(w->k));
  if (!valid_group(w->bits, w->k, w->group))
    return fail(LLMC_INVALID_ARGUMENT, "%s: int4 group must be 32, 64 or 128 dividing k, or k; got %lld for k=%lld",
                what, static_cast<long long>(w->group), static_cast<long long>(w->k));
  if (!w->meta || !w->values) return fail(LLMC_INVALID_ARGUMENT, "%s: null meta or values", what);
  if (w->bits != 32 && !w->scale) return fail(LLMC_INVALID_ARGUMENT, "%s: null scale", what);
  if (w->bits == 8 && !w->wsum) return fail(LLMC_INVALID_ARGUMENT, "%s: null wsum", what);
  return LLMC_OK;
}

// Decodes the kept positions of channel j, octet o: pos[r] is input 8o + pos[r].
inline void positions(uint8_t meta, int pos[4]) {
  for (int r = 0; r < 4; ++r) pos[r] = 4 * (r / 2) + ((meta >> (2 * r)) & 3);
}

// ---- driver ------------------------------------------------------------------------------------

llmc_status out_of_memory(size_t bytes) {
  return fail(LLMC_OUT_OF_MEMORY, "sparse24 matmul: cannot allocate %.1f MiB of scratch",
              static_cast<double>(bytes) / 1048576.0);
}

// Rows are split into passes of at most kMaxRows, as even as possible (13 rows: 7 + 6).
struct RowPasses {
  int64_t passes, base, extra;
  explicit RowPasses(int64_t m) : passes(ceil_div(m, kMaxRows)), base(m / passes), extra(m % passes) {}
  int64_t start(int64_t p) const { return p * base + std::min(p, extra); }
  int rows(int64_t p) const { return static_cast<int>(base + (p < extra ? 1 : 0)); }
};

// Column blocks per task: enough tasks for the pool to balance, blocks of one task contiguous.
int64_t blocks_per_task(int64_t blocks) { return std::max<int64_t>(1, blocks / (8 * pool_threads())); }

llmc_status matmul_rows(const Weights& W, const Kernels& K, int64_t m, const float* x, int64_t ldx, float* y,
                        int64_t ldy) {
  const int64_t kp = W.kp();
  if (W.k != kp) {  // the kernels read whole octets: copy x zero-padded
    const size_t bytes = static_cast<size_t>(m * kp) * sizeof(float);
    float* xp = static_cast<float*>(t_scratch.get(bytes));
    if (!xp) return out_of_memory(bytes);
    for (int64_t i = 0; i < m; ++i) {
      std::memcpy(xp + i * kp, x + i * ldx, static_cast<size_t>(W.k) * sizeof(float));
      std::fill(xp + i * kp + W.k, xp + (i + 1) * kp, 0.0f);
    }
    x = xp;
    ldx = kp;
  }
  const RowsFn fn = W.bits == 32 ? K.f32_rows : K.q4_rows;
  const int64_t blocks = W.np() / kBlockN, per = blocks_per_task(blocks);
  const RowPasses rp(m);
  parallel_for(ceil_div(blocks, per), [&](int64_t t, int) {
    Rows r;
    r.w = &W;
    r.ldx = ldx;
    r.ldy = ldy;
    const int64_t b0 = t * per, b1 = std::min(blocks, b0 + per);
    // Block by block, every row pass: the block's weights stay in L2 while the passes reuse them.
    for (int64_t jb = b0; jb < b1; ++jb) {
      r.jb0 = jb;
      r.jb1 = jb + 1;
      for (int64_t p = 0; p < rp.passes; ++p) {
        const int64_t i0 = rp.start(p);
        r.x = x + i0 * ldx;
        r.rows = rp.rows(p);
        r.y = y + i0 * ldy;
        fn(r);
      }
    }
  });
  // A non-finite input gives a non-finite output in every column, as in the dense kernels (where a
  // pruned weight multiplies it too: 0·Inf = NaN); the kernels only multiply the stored weights.
  parallel_for(m, [&](int64_t i, int) {
    const float* xi = x + i * ldx;
    float bad = 0.0f;
    for (int64_t p = 0; p < W.k; ++p) bad += xi[p] - xi[p];  // 0 for finite inputs, NaN otherwise
    if (bad == 0.0f) return;
    for (int64_t j = 0; j < W.n; ++j)
      if (std::isfinite(y[i * ldy + j])) y[i * ldy + j] = NAN;
  });
  return LLMC_OK;
}

struct PanelCtx {
  Weights w;
  PanelFn fn;
};

llmc_status matmul_gemm(const Weights& W, const Kernels& K, int64_t m, const float* x, int64_t ldx, float* y,
                        int64_t ldy) {
  PanelCtx ctx{W, W.bits == 32 ? K.f32_panel : K.q4_panel};
  gemm::BSource src;
  src.ctx = &ctx;
  src.pack = +[](const void* c, int64_t j, int cols, int64_t p0, int64_t kc, float* dst, int width) {
    const PanelCtx& pc = *static_cast<const PanelCtx*>(c);
    pc.fn(pc.w, j, cols, p0, kc, dst, width);
  };
  return gemm::sgemm_bsource(m, W.n, W.k, x, ldx, src, y, ldy);
}

llmc_status matmul_a8(const Weights& W, const Kernels& K, int64_t m, const float* x, int64_t ldx, float* y,
                      int64_t ldy) {
  const int64_t kp = W.kp();
  const q::Kernels QK = q::kernels_active();
  const int threads = pool_threads();
  const size_t xq_bytes = static_cast<size_t>(m * kp + 64);
  const size_t sx_off = (xq_bytes + 63) / 64 * 64;
  const size_t tmp_off = sx_off + (static_cast<size_t>(m) * sizeof(float) + 63) / 64 * 64;
  const size_t total = tmp_off + static_cast<size_t>(threads) * static_cast<size_t>(kp + 16) * sizeof(float);
  char* base = static_cast<char*>(t_scratch.get(total));
  if (!base) return out_of_memory(total);
  int8_t* xq = reinterpret_cast<int8_t*>(base);
  float* sx = reinterpret_cast<float*>(base + sx_off);
  float* tmp = reinterpret_cast<float*>(base + tmp_off);
  parallel_for(m, [&](int64_t i, int thread) {
    const float* xi = x + i * ldx;
    if (W.k != kp) {
      float* t = tmp + thread * (kp + 16);
      std::memcpy(t, xi, static_cast<size_t>(W.k) * sizeof(float));
      std::fill(t + W.k, t + kp, 0.0f);
      xi = t;
    }
    int32_t xsum;
    int8_t* row = xq + i * kp;
    // mr = 1: the A8 micro-panel layout of gemm_q is then one contiguous row.
    sx[i] = QK.quant_row(xi, kp, kp, row, 1, &xsum, kp);
    if (K.a8_unsigned)
      for (int64_t p = 0; p < kp; ++p) row[p] = static_cast<int8_t>(static_cast<uint8_t>(row[p]) ^ 0x80u);
  });
  // Strips of 2 blocks per kernel call: they share each activation broadcast.
  const int64_t blocks = W.np() / kBlockN;
  const int64_t strips = ceil_div(blocks, 2), per = blocks_per_task(strips);
  const RowPasses rp(m);
  parallel_for(ceil_div(strips, per), [&](int64_t t, int) {
    A8 a;
    a.w = &W;
    a.ldq = kp;
    a.ldy = ldy;
    const int64_t s0 = t * per, s1 = std::min(strips, s0 + per);
    for (int64_t s = s0; s < s1; ++s) {
      a.jb0 = 2 * s;
      a.jb1 = std::min(blocks, 2 * s + 2);
      for (int64_t p = 0; p < rp.passes; ++p) {
        const int64_t i0 = rp.start(p);
        a.xq = xq + i0 * kp;
        a.rows = rp.rows(p);
        a.sx = sx + i0;
        a.y = y + i0 * ldy;
        K.q8_a8(a);
      }
    }
  });
  return LLMC_OK;
}

}  // namespace
}  // namespace s24
}  // namespace llmc

using namespace llmc;
using namespace llmc::s24;

extern "C" int64_t llmc_s24_meta_bytes(int64_t n, int64_t k) { return round_up(n, kBlockN) * round_up(k, 16) / kOctet; }
extern "C" int64_t llmc_s24_value_bytes(int bits, int64_t n, int64_t k) {
  const int64_t kept = round_up(n, kBlockN) * round_up(k, 16) / 2;
  return bits == 32 ? kept * 4 : bits == 8 ? kept : bits == 4 ? kept / 2 : 0;
}
extern "C" int64_t llmc_s24_scale_count(int bits, int64_t n, int64_t k, int64_t group) {
  const int64_t np = round_up(n, kBlockN);
  if (bits == 8) return np;
  if (bits == 4) return group > 0 ? np * (k / group) : 0;
  return 0;
}

extern "C" llmc_status llmc_s24_pack(int bits, int64_t n, int64_t k, int64_t group, const float* w, const int8_t* q,
                                     const float* scale, uint8_t* meta, void* values, float* scale_out,
                                     int32_t* wsum_out, int64_t* bad) {
  if (bad) bad[0] = bad[1] = -1;
  const llmc_s24_weights d{n, k, bits, group, meta, values, scale_out, wsum_out};
  if (llmc_status s = check_weights("s24_pack", &d)) return s;
  if (bits == 32 ? !w : (!q || !scale)) return fail(LLMC_INVALID_ARGUMENT, "s24_pack: null input");
  const Weights W = view(d);
  const int64_t octets = W.octets(), np = W.np(), kp = W.kp();
  // Padding: positions (0, 1), values 0.
  std::memset(meta, 0x44, static_cast<size_t>(llmc_s24_meta_bytes(n, k)));
  if (bits == 4)
    std::memset(values, 0x88, static_cast<size_t>(llmc_s24_value_bytes(bits, n, k)));
  else
    std::memset(values, 0, static_cast<size_t>(llmc_s24_value_bytes(bits, n, k)));
  float* vf = static_cast<float*>(values);
  int8_t* v8 = static_cast<int8_t*>(values);
  uint8_t* v4 = static_cast<uint8_t*>(values);
  for (int64_t j = 0; j < n; ++j) {
    int32_t sum = 0;
    for (int64_t g = 0; g < k / 4; ++g) {
      int pos[4], cnt = 0;
      for (int i = 0; i < 4; ++i) {
        const int64_t at = j * k + 4 * g + i;
        const bool nz = bits == 32 ? !(w[at] == 0.0f) : q[at] != 0;
        if (nz) {
          if (cnt == 2) {
            if (bad) bad[0] = j, bad[1] = 4 * g;
            return fail(LLMC_INVALID_ARGUMENT,
                        "the matrix is not 2:4 sparse: row %lld, columns %lld..%lld hold more than 2 nonzeros (at most "
                        "2 of every 4 "
                        "consecutive inputs may be nonzero)",
                        static_cast<long long>(j), static_cast<long long>(4 * g), static_cast<long long>(4 * g + 3));
          }
          pos[cnt++] = i;
        }
      }
      // Complete with the lowest free positions, keeping the two in increasing order.
      for (int i = 0; cnt < 2 && i < 4; ++i)
        if (cnt == 0 || pos[0] != i) pos[cnt++] = i;
      if (pos[0] > pos[1]) std::swap(pos[0], pos[1]);
      const int64_t o = g / 2, h = g % 2;
      uint8_t& mb = meta[meta_index(j, o, octets)];
      mb = static_cast<uint8_t>((mb & ~(0x0F << (4 * h))) | ((pos[0] | pos[1] << 2) << (4 * h)));
      for (int s = 0; s < 2; ++s) {
        const int r = 2 * static_cast<int>(h) + s;
        const int64_t at = j * k + 4 * g + pos[s];
        if (bits == 32) {
          vf[f32_index(j, o, r, octets)] = w[at];
        } else if (bits == 8) {
          v8[i8_index(j, o, r, octets)] = q[at];
          sum += q[at];
        } else {
          if (q[at] < -8 || q[at] > 7)
            return fail(LLMC_INVALID_ARGUMENT, "s24_pack: int4 code %d at row %lld, column %lld is outside [-8, 7]",
                        q[at], static_cast<long long>(j), static_cast<long long>(4 * g + pos[s]));
          uint8_t& b = v4[i4_index(j, o, r, octets)];
          const int shift = (o % 2) * 4;
          b = static_cast<uint8_t>((b & ~(0x0F << shift)) | ((q[at] + 8) << shift));
        }
      }
    }
    if (bits == 8) wsum_out[j] = sum;
  }
  if (bits == 8) {
    for (int64_t j = 0; j < np; ++j) scale_out[j] = j < n ? scale[j] : 0.0f;
    for (int64_t j = n; j < np; ++j) wsum_out[j] = 0;
  } else if (bits == 4) {
    const int64_t G = k / group;
    for (int64_t j = 0; j < np; ++j)
      for (int64_t t = 0; t < G; ++t) scale_out[q::scale_index(j, t, G)] = j < n ? scale[j * G + t] : 0.0f;
  }
  (void)kp;
  return LLMC_OK;
}

namespace {
// Calls f(j, p, r, o, value-as-double-free accessor) for every stored value of row j in input order.
template <class F>
void for_each_stored(const Weights& W, F&& f) {
  const int64_t octets = W.octets();
  for (int64_t j = 0; j < W.n; ++j)
    for (int64_t o = 0; o < W.k / kOctet + (W.k % kOctet ? 1 : 0); ++o) {
      int pos[4];
      positions(W.meta[meta_index(j, o, octets)], pos);
      for (int r = 0; r < 4; ++r) {
        const int64_t p = kOctet * o + pos[r];
        if (kOctet * o + 4 * (r / 2) >= W.k) continue;  // padding group past k
        f(j, p, r, o);
      }
    }
}
}  // namespace

extern "C" llmc_status llmc_s24_unpack(const llmc_s24_weights* w, float* dense, int8_t* q, float* scale) {
  if (llmc_status s = check_weights("s24_unpack", w)) return s;
  const Weights W = view(*w);
  const int64_t octets = W.octets();
  if (W.bits == 32 ? !dense : (!q || !scale)) return fail(LLMC_INVALID_ARGUMENT, "s24_unpack: null output");
  if (W.bits == 32)
    std::fill(dense, dense + W.n * W.k, 0.0f);
  else
    std::memset(q, 0, static_cast<size_t>(W.n * W.k));
  const float* vf = static_cast<const float*>(W.values);
  const int8_t* v8 = static_cast<const int8_t*>(W.values);
  const uint8_t* v4 = static_cast<const uint8_t*>(W.values);
  for_each_stored(W, [&](int64_t j, int64_t p, int r, int64_t o) {
    if (W.bits == 32)
      dense[j * W.k + p] = vf[f32_index(j, o, r, octets)];
    else if (W.bits == 8)
      q[j * W.k + p] = v8[i8_index(j, o, r, octets)];
    else
      q[j * W.k + p] = static_cast<int8_t>(((v4[i4_index(j, o, r, octets)] >> ((o % 2) * 4)) & 0x0F) - 8);
  });
  if (W.bits == 8) std::memcpy(scale, W.scale, static_cast<size_t>(W.n) * sizeof(float));
  if (W.bits == 4) {
    const int64_t G = W.groups();
    for (int64_t j = 0; j < W.n; ++j)
      for (int64_t t = 0; t < G; ++t) scale[j * G + t] = W.scale[q::scale_index(j, t, G)];
  }
  return LLMC_OK;
}

extern "C" llmc_status llmc_s24_to_bitmask(const llmc_s24_weights* w, void* compressed, uint8_t* bitmask) {
  if (llmc_status s = check_weights("s24_to_bitmask", w)) return s;
  if (!compressed || !bitmask) return fail(LLMC_INVALID_ARGUMENT, "s24_to_bitmask: null output");
  const Weights W = view(*w);
  const int64_t octets = W.octets(), mb = (W.k + 7) / 8, half = W.k / 2;
  std::memset(bitmask, 0, static_cast<size_t>(W.n * mb));
  float* cf = static_cast<float*>(compressed);
  int8_t* c8 = static_cast<int8_t*>(compressed);
  const float* vf = static_cast<const float*>(W.values);
  const int8_t* v8 = static_cast<const int8_t*>(W.values);
  const uint8_t* v4 = static_cast<const uint8_t*>(W.values);
  // Stored values come in input order within a row: group by group, position 0 < position 1.
  int64_t col = 0, row = -1;
  for_each_stored(W, [&](int64_t j, int64_t p, int r, int64_t o) {
    if (j != row) row = j, col = 0;
    bitmask[j * mb + p / 8] = static_cast<uint8_t>(bitmask[j * mb + p / 8] | (1u << (p % 8)));
    if (W.bits == 32)
      cf[j * half + col] = vf[f32_index(j, o, r, octets)];
    else if (W.bits == 8)
      c8[j * half + col] = v8[i8_index(j, o, r, octets)];
    else
      c8[j * half + col] = static_cast<int8_t>(((v4[i4_index(j, o, r, octets)] >> ((o % 2) * 4)) & 0x0F) - 8);
    ++col;
  });
  return LLMC_OK;
}

extern "C" llmc_status llmc_s24_nv_metadata(const llmc_s24_weights* w, uint8_t* out) {
  if (llmc_status s = check_weights("s24_nv_metadata", w)) return s;
  if (!out) return fail(LLMC_INVALID_ARGUMENT, "s24_nv_metadata: null output");
  const Weights W = view(*w);
  const int64_t octets = W.octets(), per_row = W.k / kOctet + (W.k % kOctet ? 1 : 0);
  for (int64_t j = 0; j < W.n; ++j)
    for (int64_t o = 0; o < per_row; ++o) {
      uint8_t b = W.meta[meta_index(j, o, octets)];
      // k = 8·o + 4: the second nibble is a padding group; keep it as (0, 1) = 0x4 like the pack.
      out[j * per_row + o] = b;
    }
  return LLMC_OK;
}

// The path choice of the float-activation kernels. AVX-512: `llm-compress bench` on the development
// machine (docs/kernels.md, "2:4 sparsity") found the 2:4 rows kernels faster than the dense-GEMM path at
// every m measured (1 to 512; 12-17% at m = 128 and 512), so there is no crossover: always 2:4.
// AVX2 and scalar: not measured; the rows kernels up to m = 16 (AVX2) / 4 (scalar), where their
// register tiles are smallest next to the GEMM's, the GEMM above.
extern "C" int llmc_s24_path(int bits, int64_t m, int64_t n, int64_t k) {
  (void)n, (void)k;
  if (bits == 8) return 1;
  const llmc_isa isa = llmc_isa_active();
  if (isa == LLMC_ISA_AVX512) return 1;
  return m <= (isa == LLMC_ISA_AVX2 ? 16 : 4) ? 1 : 2;
}

extern "C" llmc_status llmc_s24_matmul(const llmc_s24_weights* w, int path, int64_t m, const float* x, int64_t ldx,
                                       float* y, int64_t ldy) {
  if (llmc_status s = check_weights("s24_matmul", w)) return s;
  if (m < 0) return fail(LLMC_INVALID_ARGUMENT, "s24_matmul: m must be >= 0, got %lld", static_cast<long long>(m));
  if (ldx < w->k || ldy < w->n) return fail(LLMC_INVALID_ARGUMENT, "s24_matmul: need ldx >= k and ldy >= n");
  if (path < 0 || path > 2) return fail(LLMC_INVALID_ARGUMENT, "s24_matmul: path must be 0, 1 or 2, got %d", path);
  if (m > 0 && (!x || !y)) return fail(LLMC_INVALID_ARGUMENT, "s24_matmul: x or y is null");
  if (m == 0) return LLMC_OK;
  const Weights W = view(*w);
  const Kernels K = kernels_active();
  if (W.bits == 8) {
    // int32 accumulators: Σ |q|·(|x_q| + 128) <= 128 · 255 · kp/2 must stay below 2^31.
    if (W.kp() > 65536)
      return fail(LLMC_UNSUPPORTED, "s24_matmul: w8a8 supports k <= 65536 (int32 accumulation), got k=%lld",
                  static_cast<long long>(W.k));
    return matmul_a8(W, K, m, x, ldx, y, ldy);
  }
  if (path == 0) path = llmc_s24_path(W.bits, m, W.n, W.k);
  if (path == 1) return matmul_rows(W, K, m, x, ldx, y, ldy);
  return matmul_gemm(W, K, m, x, ldx, y, ldy);
}
