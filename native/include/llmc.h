// llmc.h — the C-style interface of the native library of llm-compress-native: the CPU kernels and
// compressors (native/core/) and the CUDA kernels (native/cuda/).
//
// The native code knows nothing about Node: every entry point takes plain pointers and sizes, returns an
// llmc_status, and on failure leaves a human-readable message in a thread-local buffer
// (llmc_last_error). The addon (native/addon/) copies JS arguments into plain structs, calls these
// functions off the main thread and turns a non-OK status into a typed JS error.
#pragma once

#include <cstddef>
#include <cstdint>

extern "C" {

// Error codes. Their names (llmc_status_name) are the `code` of the JS error, prefixed "LLMC_".
typedef enum llmc_status {
  LLMC_OK = 0,
  LLMC_INVALID_ARGUMENT = 1,  // a caller error: bad size, null pointer, unknown option
  LLMC_OUT_OF_MEMORY = 2,     // an allocation failed
  LLMC_UNSUPPORTED = 3,       // valid request this build or CPU cannot serve
  LLMC_INTERNAL = 4,          // a bug: please report
  LLMC_CUDA_ERROR = 5         // the CUDA runtime failed
} llmc_status;

const char* llmc_status_name(llmc_status status);
// Message of the last failure on this thread ("" when none).
const char* llmc_last_error(void);

// ---- CPU features and the ISA level in use --------------------------------------------------
// Levels are ordered: a level implies every lower one on its architecture.
typedef enum llmc_isa {
  LLMC_ISA_SCALAR = 0,  // portable C++, the test oracle of every fast path
  LLMC_ISA_NEON = 1,    // arm64 Advanced SIMD
  LLMC_ISA_AVX2 = 2,    // x86-64 AVX2 + FMA + F16C
  LLMC_ISA_AVX512 = 3   // x86-64 AVX-512 F, BW, DQ, VL and VNNI (Ice Lake, Zen 4 and later)
} llmc_isa;

typedef struct llmc_cpu_info {
  const char* arch;  // "x86_64", "arm64" or "unknown"
  char vendor[16];   // CPUID vendor string on x86 ("" elsewhere)
  char brand[64];    // CPUID brand string on x86 ("" elsewhere)
  int avx2, fma, f16c;
  int avx512f, avx512bw, avx512dq, avx512vl, avx512vnni, avx512bf16;
  int avx_vnni;
  int neon;
  llmc_isa best;  // the highest level this CPU and build support
} llmc_cpu_info;

const llmc_cpu_info* llmc_cpu(void);
const char* llmc_isa_name(llmc_isa isa);  // "scalar", "neon", "avx2", "avx512"
// Parses a level name; returns 0 and sets *out on success, -1 when the name is unknown.
int llmc_isa_parse(const char* name, llmc_isa* out);
// The level kernels dispatch on. Initially the best level, lowered by LLMC_ISA when set.
llmc_isa llmc_isa_active(void);
// Forces a level. Asking for one the CPU or build lacks fails with LLMC_UNSUPPORTED.
llmc_status llmc_isa_set(llmc_isa isa);

// ---- Thread pool ------------------------------------------------------------------------------
// One pool for the process, sized to the cores (or LLMC_THREADS) at first use.
int llmc_threads(void);
llmc_status llmc_set_threads(int threads);  // 1 .. 1024

// ---- Dense fp32 GEMM --------------------------------------------------------------------------
// Row-major BLAS semantics: C[m×n] = alpha · op(A) · op(B) + beta · C, with
//   op(A) = A [m×k] (trans_a = 0, row stride lda >= k)  or  Aᵀ where A is [k×m] (lda >= m);
//   op(B) = B [k×n] (trans_b = 0, ldb >= n)              or  Bᵀ where B is [n×k] (ldb >= k).
// A linear layer y = x·Wᵀ with x [tokens×in] and W [out×in] is trans_a = 0, trans_b = 1.
// beta = 0 never reads C (it may hold NaN). C must not overlap A or B.
llmc_status llmc_sgemm(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
                       int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc);

// ---- Quantized weights and GEMMs (native/core/gemm_q.h draws the packed layouts) --------------
// Weights W [n × k] (n outputs, k inputs) are packed once; activations x [m × k] (row stride ldx)
// arrive per call; y [m × n] (row stride ldy) = x · dequant(W)ᵀ.
typedef struct llmc_q8_weights {
  int64_t n, k;
  const uint8_t* data;  // llmc_q8_data_bytes(n, k) bytes
  const float* scale;   // llmc_q8_scale_count(n) floats
} llmc_q8_weights;

typedef struct llmc_q4_weights {
  int64_t n, k, group;  // group: 32, 64, 128, or k (one group per row)
  const uint8_t* data;  // llmc_q4_data_bytes(n, k) bytes
  const float* scale;   // llmc_q4_scale_count(n, k, group) floats
  const uint8_t* zero;  // as many bytes as scales, or NULL: symmetric
  const int32_t* perm;  // k entries, or NULL: inputs in order (see llmc_q4_pack)
} llmc_q4_weights;

int64_t llmc_q8_data_bytes(int64_t n, int64_t k);
int64_t llmc_q8_scale_count(int64_t n);
int64_t llmc_q4_data_bytes(int64_t n, int64_t k);
int64_t llmc_q4_scale_count(int64_t n, int64_t k, int64_t group);

// int8, symmetric, one scale per output: W[j, p] = scale[j] · q[j·k + p], q in [-128, 127].
llmc_status llmc_q8_pack(int64_t n, int64_t k, const int8_t* q, const float* scale, uint8_t* data, float* scale_out);
llmc_status llmc_q8_unpack(const llmc_q8_weights* w, int8_t* q, float* scale);

// int4 with groups of `group` inputs: W[j, p] = scale[j·G + t] · (q[j·k + p] − zero[j·G + t]) with
// t = g_idx[p] (or p / group), G = k / group. Symmetric (zero == NULL): q in [-8, 7], zero 0;
// asymmetric: q and zero in [0, 15]. g_idx (act-order models, NULL when inputs are in group order)
// must put exactly `group` inputs in each group; packing sorts the inputs by group and writes the
// order to perm_out (k entries; left untouched when g_idx is NULL or already in order, and then
// *has_perm = 0).
llmc_status llmc_q4_pack(int64_t n, int64_t k, int64_t group, const int8_t* q, const float* scale, const uint8_t* zero,
                         const int32_t* g_idx, uint8_t* data, float* scale_out, uint8_t* zero_out, int32_t* perm_out,
                         int* has_perm);
// Inverse of llmc_q4_pack: q [n·k], scale and zero (when w->zero) [n·G], g_idx [k] (when w->perm).
llmc_status llmc_q4_unpack(const llmc_q4_weights* w, int8_t* q, float* scale, uint8_t* zero, int32_t* g_idx);

// act_int8 = 0: float activations (w8a16, w4a16); 1: activations quantized per row to int8 inside
// the call (w8a8, w4a8; a row holding NaN or ±Inf gives a row of NaN). y must not overlap x.
llmc_status llmc_q8_matmul(const llmc_q8_weights* w, int act_int8, int64_t m, const float* x, int64_t ldx, float* y,
                           int64_t ldy);
llmc_status llmc_q4_matmul(const llmc_q4_weights* w, int act_int8, int64_t m, const float* x, int64_t ldx, float* y,
                           int64_t ldy);

// The int8 dot-product peak (GOP/s: 2 ops per multiply-add) of the active ISA level on all pool
// threads, measured now with a register-only loop (best of three): the baseline of the A8 kernels.
// LLMC_UNSUPPORTED when the level has no int8 dot-product instruction (VNNI: AVX-512 level only).
llmc_status llmc_int8_peak(double* gops);

// ---- 2:4 semi-structured sparse weights (native/core/sparse24.h draws the packed layout) -------
// W [n × k] with at most 2 nonzeros in every group of 4 consecutive inputs (k a multiple of 4).
// bits 32: f32 values (y = x·Wᵀ in fp32); bits 8: int8 codes, per-channel scales, int8 activations
// quantized per row inside the call (w8a8, as llmc_q8_matmul); bits 4: symmetric int4 codes with
// group-wise scales, float activations (w4a16).
typedef struct llmc_s24_weights {
  int64_t n, k;
  int bits;             // 32, 8 or 4
  int64_t group;        // bits 4: 32, 64, 128 or k (one group per row); else 0
  const uint8_t* meta;  // llmc_s24_meta_bytes(n, k) bytes
  const void* values;   // llmc_s24_value_bytes(bits, n, k) bytes
  const float* scale;   // llmc_s24_scale_count(bits, n, k, group) floats (NULL for bits 32)
  const int32_t* wsum;  // bits 8: llmc_s24_scale_count(8, n, k, 0) int32 (written by pack); else NULL
} llmc_s24_weights;

int64_t llmc_s24_meta_bytes(int64_t n, int64_t k);
int64_t llmc_s24_value_bytes(int bits, int64_t n, int64_t k);
int64_t llmc_s24_scale_count(int bits, int64_t n, int64_t k, int64_t group);

// Packs W: bits 32 from w (f32 [n × k]; a value is nonzero when it compares != 0, NaN included),
// bits 8 / 4 from codes q (i8 [n × k], 0 = pruned; int8 [-128, 127], int4 [-8, 7]) and scale ([n]
// or [n × k/group]). A group holding more than 2 nonzeros fails with LLMC_INVALID_ARGUMENT naming
// its row and first column; bad (2 entries, may be NULL) then receives them (else -1, -1).
// wsum_out: bits 8 only.
llmc_status llmc_s24_pack(int bits, int64_t n, int64_t k, int64_t group, const float* w, const int8_t* q,
                          const float* scale, uint8_t* meta, void* values, float* scale_out, int32_t* wsum_out,
                          int64_t* bad);
// Inverse: dense values (bits 32: f32 w [n × k]; else codes q [n × k] and scale [n] or [n × G]).
// Exact, except that -0.0 in a position that was not stored comes back as +0.0.
llmc_status llmc_s24_unpack(const llmc_s24_weights* w, float* dense, int8_t* q, float* scale);
// compressed-tensors sparse-24-bitmask: `compressed` [n × k/2] (f32 for bits 32, i8 codes
// otherwise), the stored values of each row in input order, and `bitmask` u8 [n × ceil(k/8)] with
// bit i (LSB first, numpy packbits bitorder="little") of byte b set when input 8b + i is stored.
// Exactly 2 bits are set in every group of 4 (a stored value may be 0, as compressed-tensors'
// top-2-by-magnitude mask also keeps zeros in groups with fewer than 2 nonzeros).
llmc_status llmc_s24_to_bitmask(const llmc_s24_weights* w, void* compressed, uint8_t* bitmask);
// NVIDIA sparse tensor core metadata (mma.sp / cuSPARSELt, before any fragment reordering):
// u8 [n × ceil(k/8)], row-major; byte b of row j holds group 2b in its low nibble and group 2b+1 in its
// high nibble, each nibble = idx0 | idx1 << 2 with idx0 < idx1 (ordered metadata). Read as
// little-endian u16 / u32 words, nibble g of a word is the g-th group of 4 inputs it covers.
llmc_status llmc_s24_nv_metadata(const llmc_s24_weights* w, uint8_t* out);

// Matmul paths: 0 = the faster one for this shape (llmc_s24_path), 1 = the 2:4 kernels,
// 2 = the dense path (f32 / int4: fp32 GEMM on panels expanded from the 2:4 values; int8: the 2:4
// tile too — see sparse24.cpp).
int llmc_s24_path(int bits, int64_t m, int64_t n, int64_t k);
llmc_status llmc_s24_matmul(const llmc_s24_weights* w, int path, int64_t m, const float* x, int64_t ldx, float* y,
                            int64_t ldy);

// ---- Hessian-based compression (GPTQ, SparseGPT) and its baselines ------------------------------
// W [rows × cols] row-major is a linear layer's weight ([out × in]); H [cols × cols] the Hessian of
// its inputs, H = 2/n · Σ x·xᵀ over n calibration tokens.

// H = H · seen/(seen + tokens) + 2/(seen + tokens) · Xᵀ·X for the next `tokens` rows of inputs
// X [tokens × d] (row stride ldx): the running Hessian of GPTQ's add_batch. H is d × d, full
// (both triangles written).
llmc_status llmc_hessian_update(float* h, int64_t d, int64_t seen, const float* x, int64_t tokens, int64_t ldx);

typedef struct llmc_obs_params {
  int64_t rows, cols;
  int bits;         // 2..8, or 0: no quantization (pruning only)
  int64_t group;    // inputs per quantization group (divides cols), or 0: one group per row
  int symmetric;    // codes q − 2^(bits−1) with zero point 2^(bits−1); else codes 0..2^bits−1 + zero points
  int act_order;    // 0: columns in order; 1: descending diag(H) with static groups; 2: with dynamic groups (g_idx)
  int mse;          // search the scale (and zero) for the least |error|^2.4, as GPTQ's --mse
  double damp;      // H += damp · mean(diag H) · I (GPTQ's percdamp)
  int64_t block;    // lazy-batch block size (columns); a multiple of group and of prune_m
  double sparsity;  // unstructured: fraction of each block's weights pruned (0: none)
  int prune_n, prune_m;  // N:M: n zeros in every m consecutive inputs of each row (0, 0: none)
} llmc_obs_params;

typedef struct llmc_obs_result {
  float* weight;   // out [rows × cols]: the compressed weight (dequantized, zeros where pruned)
  int8_t* q;       // out [rows × cols] codes (symmetric: signed), or NULL; needs bits > 0
  float* scale;    // out [rows × G] (G = cols / group, or 1), or NULL
  uint8_t* zero;   // out [rows × G] zero points (asymmetric), or NULL
  int32_t* g_idx;  // out [cols] group of each input (act_order 2), or NULL
  uint8_t* mask;   // out [rows × cols] 1 where pruned, or NULL
  double loss;     // out: ½ · Σ ((w − q) / d)², which equals ½ · tr(ΔW · H_damped · ΔWᵀ)
} llmc_obs_result;

// GPTQ (bits > 0, no pruning), SparseGPT (pruning, optionally with bits > 0 for joint
// quantization): the OBS column loop of Frantar et al. over the upper Cholesky factor of H⁻¹, in
// lazy batches. Dead inputs (H_jj = 0) get H_jj = 1 and W[:, j] = 0. H is not modified. A Hessian
// that is not positive definite after damping fails with LLMC_INVALID_ARGUMENT.
llmc_status llmc_obs_compress(const llmc_obs_params* p, const float* w, const float* h, llmc_obs_result* out);

// Round to nearest with GPTQ's quantizer (bits, group, symmetric, mse of llmc_obs_params; the
// rest ignored). Fills weight, q, scale, zero of out (those not NULL); loss is 0.
llmc_status llmc_rtn(const llmc_obs_params* p, const float* w, llmc_obs_result* out);

// Magnitude (norms = NULL: |W| over the whole matrix for unstructured) or Wanda (norms [cols]:
// |W_ij| · norms[j], compared within each row) pruning: exactly round(sparsity · count) weights
// pruned, or prune_n of every prune_m inputs in each row (sparsity, prune_n, prune_m of p).
// Ties go to the lower index. Fills weight and mask of out.
llmc_status llmc_prune(const llmc_obs_params* p, const float* w, const float* norms, llmc_obs_result* out);

// ---- The ops of a LLaMA forward pass (the linear layers are GEMMs) -----------------------------
// Activations are row-major [tokens × features]; a batch of b sequences of t tokens is b·t rows.

// out[r] = x[r] / sqrt(mean(x[r]²) + eps) · w, for rows r < rows of dim features (out may be x).
llmc_status llmc_rmsnorm(const float* x, const float* w, int64_t rows, int64_t dim, float eps, float* out);

// Rotary embedding in place on x [rows × heads·head_dim], row r at position pos[r]:
// style 0 rotates pairs (2i, 2i+1) (llama2.c, GGUF), style 1 pairs (i, i + head_dim/2) (HF);
// frequency of pair i: theta^(−2i/head_dim).
llmc_status llmc_rope(float* x, int64_t rows, int64_t heads, int64_t head_dim, const int32_t* pos, float theta,
                      int style);

// Causal grouped-query attention for `batch` sequences. q [batch × tq × heads·hd], k and v
// [batch × tk × kv_heads·hd] (tk >= tq: the last tq keys belong to the queries; query i sees keys
// j <= tk − tq + i), out [batch × tq × heads·hd]. heads must be a multiple of kv_heads.
llmc_status llmc_attention(const float* q, const float* k, const float* v, float* out, int64_t batch, int64_t tq,
                           int64_t tk, int64_t heads, int64_t kv_heads, int64_t head_dim);

// out[i] = silu(gate[i]) · up[i] (out may be gate or up).
llmc_status llmc_swiglu(const float* gate, const float* up, float* out, int64_t n);

// Negative log-likelihood of targets[r] under softmax(logits[r]) per row, in nats, into nll[r];
// rows with target < 0 get 0. Computed in double.
llmc_status llmc_nll(const float* logits, int64_t rows, int64_t vocab, const int32_t* targets, double* nll);

// ---- Memory bandwidth baseline ------------------------------------------------------------------
// Reads x[0..n) once on every thread of the pool and stores the sum (so the read cannot be elided).
llmc_status llmc_stream_read(const float* x, int64_t n, double* sum);

// The fp32 multiply-add peak of this machine on the active ISA level and all pool threads, measured
// now with a register-only loop (best of three runs of 5 GFLOP per thread): the baseline that
// compute-bound benchmarks compare with.
llmc_status llmc_sgemm_peak(double* gflops);

// ---- CUDA ---------------------------------------------------------------------------------------
typedef struct llmc_cuda_info {
  int compiled;         // 1 when this binary was built with CUDA kernels
  int runtime_version;  // CUDA runtime linked in (e.g. 13000), 0 when not compiled
  int driver_version;   // 0 when no driver is installed
  int device_count;
  char device_name[128];  // device 0
  int cc_major, cc_minor;
  uint64_t total_memory;
  char error[256];  // why no device is usable, "" when one is
} llmc_cuda_info;

// Queries the driver and device 0. Never fails: problems are reported in info->error.
void llmc_cuda_query(llmc_cuda_info* info);
// Runs a small kernel on device 0 and checks its result (proves the kernels load and run).
llmc_status llmc_cuda_selftest(void);

// ---- CUDA kernels (native/cuda/) ----------------------------------------------------------------
// Every entry point below returns LLMC_UNSUPPORTED when this binary has no CUDA kernels or no device
// is usable (the message says which), LLMC_OUT_OF_MEMORY naming the bytes it needed and the bytes
// free when device memory runs out, LLMC_CUDA_ERROR when the runtime fails. They run on device 0
// and are serialized by one lock (one stream).
//
// Weights are uploaded once into device memory, in the layout of their kernel, and stay there until
// llmc_cuda_weights_free. Activations x [m × k] (row stride ldx) and outputs y [m × n] (row stride
// ldy) are host f32 arrays copied in and out by llmc_cuda_matmul.
typedef struct llmc_cuda_weights llmc_cuda_weights;

// int4 (w4a16): codes and group scales (zero points when asymmetric; act-order `perm` applied to x on
// the device) → f16 tensor cores (mma m16n8k16), weights dequantized in registers.
llmc_status llmc_cuda_upload_q4(const llmc_q4_weights* w, llmc_cuda_weights** out);
// int8 per-channel (w8a8): activations quantized per row to int8 on the device as llmc_q8_matmul
// does → int8 tensor cores (mma m16n8k32).
llmc_status llmc_cuda_upload_q8(const llmc_q8_weights* w, llmc_cuda_weights** out);
// 2:4 sparse (mma.sp): bits 32 and 4 → f16 values (int4 codes dequantized with their scales) with
// f16 activations; bits 8 → int8 values with int8 activations, as llmc_s24_matmul.
llmc_status llmc_cuda_upload_s24(const llmc_s24_weights* w, llmc_cuda_weights** out);
// Dense f32 W [n × k] stored as f16 (the dense fp16 baseline of the benchmarks).
llmc_status llmc_cuda_upload_f16(int64_t n, int64_t k, const float* w, llmc_cuda_weights** out);
void llmc_cuda_weights_free(llmc_cuda_weights* w);

typedef struct llmc_cuda_weights_info {
  int64_t n, k;
  int64_t device_bytes;  // device memory held by the weights
  char kernel[32];       // "w4a16", "w8a8", "sparse24_f16", "sparse24_w8a8", "f16"
} llmc_cuda_weights_info;
void llmc_cuda_weights_describe(const llmc_cuda_weights* w, llmc_cuda_weights_info* info);

// y = x · Wᵀ (host arrays). y must not overlap x.
llmc_status llmc_cuda_matmul(const llmc_cuda_weights* w, int64_t m, const float* x, int64_t ldx, float* y, int64_t ldy);
// Times the kernel on device-resident activations (random, in [-1, 1)) for `iters` runs after one
// warm-up, with CUDA events; ms[i] receives run i (activation conversion included, copies not).
llmc_status llmc_cuda_matmul_bench(const llmc_cuda_weights* w, int64_t m, int iters, double* ms);

// The Hessian and the OBS column loop on the device, with the contracts of llmc_hessian_update and
// llmc_obs_compress (host arrays in and out; the work, the Cholesky factorizations included, runs on
// the GPU).
llmc_status llmc_cuda_hessian_update(float* h, int64_t d, int64_t seen, const float* x, int64_t tokens, int64_t ldx);
llmc_status llmc_cuda_obs_compress(const llmc_obs_params* p, const float* w, const float* h, llmc_obs_result* out);

}  // extern "C"
