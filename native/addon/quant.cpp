// quant.cpp — bindings for packed int8 / int4 weights and the quantized GEMMs (llmc_q8_* / llmc_q4_*).
//
// quantSizes(bits, n, k, group) -> { dataBytes, scaleCount }
// q8Pack(q, scale, n, k, data, scaleOut): Promise<number>
// q8Unpack(data, scale, n, k, qOut, scaleOut): Promise<number>
// q4Pack(q, scale, zero|null, gIdx|null, n, k, group, data, scaleOut, zeroOut|null, permOut): Promise<boolean> (has
// perm) q4Unpack(data, scale, zero|null, perm|null, n, k, group, qOut, scaleOut, zeroOut|null, gIdxOut|null):
// Promise<number> q8Matmul(data, scale, n, k, actInt8, x, m, y): Promise<number> (kernel ms) q4Matmul(data, scale,
// zero|null, perm|null, n, k, group, actInt8, x, m, y): Promise<number> cudaUploadQ8(data, scale, n, k):
// Promise<External> (w8a8 on the device, see cuda.cpp) cudaUploadQ4(data, scale, zero|null, perm|null, n, k, group):
// Promise<External> (w4a16 on the device) lib/kernels/quant.ts validates and documents the arguments; the checks here
// only guarantee that no call can read or write outside the arrays.
#include "bindings.h"

#include <memory>

#include "args.h"
#include "cuda_weights.h"
#include "job.h"

namespace llmc_addon {
namespace {

constexpr int64_t kMaxDim = int64_t{1} << 31;

Napi::TypedArrayOf<int8_t> arg_i8(const Napi::CallbackInfo& info, size_t i, const char* name) {
  return arg_typed<int8_t>(info, i, name, napi_int8_array, "Int8Array");
}
Napi::TypedArrayOf<uint8_t> arg_u8(const Napi::CallbackInfo& info, size_t i, const char* name, bool nullable = false) {
  return arg_typed<uint8_t>(info, i, name, napi_uint8_array, "Uint8Array", nullable);
}
Napi::TypedArrayOf<int32_t> arg_i32(const Napi::CallbackInfo& info, size_t i, const char* name, bool nullable = false) {
  return arg_typed<int32_t>(info, i, name, napi_int32_array, "Int32Array", nullable);
}

int64_t groups_of(int64_t k, int64_t group) { return group > 0 ? k / group : 0; }

// Adds `v` (if not empty) to the list of values kept alive during a job.
template <class T>
void keep_if(std::vector<Napi::Value>& keep, const Napi::TypedArrayOf<T>& v) {
  if (!v.IsEmpty()) keep.push_back(v);
}

// Packed int8 weights at arguments first .. first+3 (data, scale, n, k), lengths checked; their
// arrays are added to `keep`.
llmc_q8_weights read_q8(const Napi::CallbackInfo& info, size_t first, std::vector<Napi::Value>& keep) {
  Napi::Env env = info.Env();
  auto data = arg_u8(info, first, "data");
  auto scale = arg_f32(info, first + 1, "scale");
  const int64_t n = arg_int(info, first + 2, "n", 1, kMaxDim), k = arg_int(info, first + 3, "k", 1, kMaxDim);
  need_len(env, data, llmc_q8_data_bytes(n, k), "data");
  need_len(env, scale, llmc_q8_scale_count(n), "scale");
  keep.push_back(data), keep.push_back(scale);
  return {n, k, data.Data(), scale.Data()};
}

// Packed int4 weights at arguments first .. first+6 (data, scale, zero|null, perm|null, n, k, group),
// lengths checked and perm inside [0, k) (the core indexes with it); arrays added to `keep`.
llmc_q4_weights read_q4(const Napi::CallbackInfo& info, size_t first, std::vector<Napi::Value>& keep) {
  Napi::Env env = info.Env();
  auto data = arg_u8(info, first, "data");
  auto scale = arg_f32(info, first + 1, "scale");
  auto zero = arg_u8(info, first + 2, "zero", true);
  auto perm = arg_i32(info, first + 3, "perm", true);
  const int64_t n = arg_int(info, first + 4, "n", 1, kMaxDim), k = arg_int(info, first + 5, "k", 1, kMaxDim);
  const int64_t group = arg_int(info, first + 6, "group", 1, kMaxDim);
  need_len(env, data, llmc_q4_data_bytes(n, k), "data");
  need_len(env, scale, llmc_q4_scale_count(n, k, group), "scale");
  if (!zero.IsEmpty()) need_len(env, zero, llmc_q4_scale_count(n, k, group), "zero");
  if (!perm.IsEmpty()) {
    need_len(env, perm, k, "perm");
    const int32_t* pp = perm.Data();
    for (int64_t p = 0; p < k; ++p)
      if (pp[p] < 0 || pp[p] >= k) throw_invalid(env, "perm[" + std::to_string(p) + "] is out of range");
  }
  keep.push_back(data), keep.push_back(scale);
  keep_if(keep, zero), keep_if(keep, perm);
  return {n, k, group, data.Data(), scale.Data(), data_or_null(zero), data_or_null(perm)};
}

}  // namespace

Napi::Value QuantSizes(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int64_t bits = arg_int(info, 0, "bits", 4, 8);
  const int64_t n = arg_int(info, 1, "n", 1, kMaxDim), k = arg_int(info, 2, "k", 1, kMaxDim);
  const int64_t group = arg_int(info, 3, "group", 0, kMaxDim);
  Napi::Object o = Napi::Object::New(env);
  if (bits == 8) {
    o.Set("dataBytes", Napi::Number::New(env, static_cast<double>(llmc_q8_data_bytes(n, k))));
    o.Set("scaleCount", Napi::Number::New(env, static_cast<double>(llmc_q8_scale_count(n))));
  } else if (bits == 4) {
    o.Set("dataBytes", Napi::Number::New(env, static_cast<double>(llmc_q4_data_bytes(n, k))));
    o.Set("scaleCount", Napi::Number::New(env, static_cast<double>(llmc_q4_scale_count(n, k, group))));
  } else {
    throw_invalid(env, "bits must be 4 or 8");
  }
  return o;
}

Napi::Value Q8Pack(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto q = arg_i8(info, 0, "q");
  auto scale = arg_f32(info, 1, "scale");
  const int64_t n = arg_int(info, 2, "n", 1, kMaxDim), k = arg_int(info, 3, "k", 1, kMaxDim);
  auto data = arg_u8(info, 4, "data");
  auto scale_out = arg_f32(info, 5, "scaleOut");
  need_len(env, q, n * k, "q");
  need_len(env, scale, n, "scale");
  need_len(env, data, llmc_q8_data_bytes(n, k), "data");
  need_len(env, scale_out, llmc_q8_scale_count(n), "scaleOut");
  const int8_t* qp = q.Data();
  const float* sp = scale.Data();
  uint8_t* dp = data.Data();
  float* so = scale_out.Data();
  return Job::Start(env, {q, scale, data, scale_out}, [=] { return llmc_q8_pack(n, k, qp, sp, dp, so); }, nullptr);
}

Napi::Value Q8Unpack(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::vector<Napi::Value> keep;
  const llmc_q8_weights w = read_q8(info, 0, keep);
  auto q_out = arg_i8(info, 4, "qOut");
  auto scale_out = arg_f32(info, 5, "scaleOut");
  need_len(env, q_out, w.n * w.k, "qOut");
  need_len(env, scale_out, w.n, "scaleOut");
  int8_t* qo = q_out.Data();
  float* so = scale_out.Data();
  keep.push_back(q_out), keep.push_back(scale_out);
  return Job::Start(env, keep, [=] { return llmc_q8_unpack(&w, qo, so); }, nullptr);
}

Napi::Value Q4Pack(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto q = arg_i8(info, 0, "q");
  auto scale = arg_f32(info, 1, "scale");
  auto zero = arg_u8(info, 2, "zero", true);
  auto g_idx = arg_i32(info, 3, "gIdx", true);
  const int64_t n = arg_int(info, 4, "n", 1, kMaxDim), k = arg_int(info, 5, "k", 1, kMaxDim);
  const int64_t group = arg_int(info, 6, "group", 1, kMaxDim);
  auto data = arg_u8(info, 7, "data");
  auto scale_out = arg_f32(info, 8, "scaleOut");
  auto zero_out = arg_u8(info, 9, "zeroOut", true);
  auto perm_out = arg_i32(info, 10, "permOut");
  const int64_t G = groups_of(k, group);
  need_len(env, q, n * k, "q");
  need_len(env, scale, n * G, "scale");
  if (!zero.IsEmpty())
    need_len(env, zero, n * G, "zero"), need_len(env, zero_out, llmc_q4_scale_count(n, k, group), "zeroOut");
  if (!g_idx.IsEmpty()) need_len(env, g_idx, k, "gIdx");
  need_len(env, data, llmc_q4_data_bytes(n, k), "data");
  need_len(env, scale_out, llmc_q4_scale_count(n, k, group), "scaleOut");
  need_len(env, perm_out, k, "permOut");
  const int8_t* qp = q.Data();
  const float* sp = scale.Data();
  const uint8_t* zp = data_or_null(zero);
  const int32_t* gp = data_or_null(g_idx);
  uint8_t* dp = data.Data();
  float* so = scale_out.Data();
  uint8_t* zo = data_or_null(zero_out);
  int32_t* po = perm_out.Data();
  auto has_perm = std::make_shared<int>(0);
  std::vector<Napi::Value> keep{q, scale, data, scale_out, perm_out};
  keep_if(keep, zero), keep_if(keep, g_idx), keep_if(keep, zero_out);
  return Job::Start(
      env, keep, [=] { return llmc_q4_pack(n, k, group, qp, sp, zp, gp, dp, so, zo, po, has_perm.get()); },
      [has_perm](Napi::Env e) { return Napi::Boolean::New(e, *has_perm != 0); });
}

Napi::Value Q4Unpack(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::vector<Napi::Value> keep;
  const llmc_q4_weights w = read_q4(info, 0, keep);
  auto q_out = arg_i8(info, 7, "qOut");
  auto scale_out = arg_f32(info, 8, "scaleOut");
  auto zero_out = arg_u8(info, 9, "zeroOut", true);
  auto g_idx_out = arg_i32(info, 10, "gIdxOut", true);
  const int64_t G = groups_of(w.k, w.group);
  if (w.zero) need_len(env, zero_out, w.n * G, "zeroOut");
  if (w.perm) need_len(env, g_idx_out, w.k, "gIdxOut");
  need_len(env, q_out, w.n * w.k, "qOut");
  need_len(env, scale_out, w.n * G, "scaleOut");
  int8_t* qo = q_out.Data();
  float* so = scale_out.Data();
  uint8_t* zo = data_or_null(zero_out);
  int32_t* go = data_or_null(g_idx_out);
  keep.push_back(q_out), keep.push_back(scale_out);
  keep_if(keep, zero_out), keep_if(keep, g_idx_out);
  return Job::Start(env, keep, [=] { return llmc_q4_unpack(&w, qo, so, zo, go); }, nullptr);
}

Napi::Value Q8Matmul(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::vector<Napi::Value> keep;
  const llmc_q8_weights w = read_q8(info, 0, keep);
  const bool act_int8 = arg_bool(info, 4, "actInt8");
  auto x = arg_f32(info, 5, "x");
  const int64_t m = arg_int(info, 6, "m", 0, kMaxDim);
  auto y = arg_f32(info, 7, "y");
  need_len(env, x, m * w.k, "x");
  need_len(env, y, m * w.n, "y");
  const float* xp = x.Data();
  float* yp = y.Data();
  keep.push_back(x), keep.push_back(y);
  return Job::Start(env, keep, [=] { return llmc_q8_matmul(&w, act_int8 ? 1 : 0, m, xp, w.k, yp, w.n); }, nullptr);
}

Napi::Value Q4Matmul(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::vector<Napi::Value> keep;
  const llmc_q4_weights w = read_q4(info, 0, keep);
  const bool act_int8 = arg_bool(info, 7, "actInt8");
  auto x = arg_f32(info, 8, "x");
  const int64_t m = arg_int(info, 9, "m", 0, kMaxDim);
  auto y = arg_f32(info, 10, "y");
  need_len(env, x, m * w.k, "x");
  need_len(env, y, m * w.n, "y");
  const float* xp = x.Data();
  float* yp = y.Data();
  keep.push_back(x), keep.push_back(y);
  return Job::Start(env, keep, [=] { return llmc_q4_matmul(&w, act_int8 ? 1 : 0, m, xp, w.k, yp, w.n); }, nullptr);
}

// int8Peak(): Promise<number | null> — int8 dot-product GOP/s measured now; null without VNNI.
Napi::Value Int8Peak(const Napi::CallbackInfo& info) {
  auto gops = std::make_shared<double>(-1.0);
  return Job::Start(
      info.Env(), {},
      [gops] {
        if (llmc_int8_peak(gops.get()) != LLMC_OK) *gops = -1.0;
        return LLMC_OK;
      },
      [gops](Napi::Env env) { return *gops < 0 ? env.Null() : Napi::Number::New(env, *gops); });
}

Napi::Value CudaUploadQ8(const Napi::CallbackInfo& info) {
  std::vector<Napi::Value> keep;
  const llmc_q8_weights w = read_q8(info, 0, keep);
  return start_upload(info.Env(), keep, [w](llmc_cuda_weights** out) { return llmc_cuda_upload_q8(&w, out); });
}

Napi::Value CudaUploadQ4(const Napi::CallbackInfo& info) {
  std::vector<Napi::Value> keep;
  const llmc_q4_weights w = read_q4(info, 0, keep);
  return start_upload(info.Env(), keep, [w](llmc_cuda_weights** out) { return llmc_cuda_upload_q4(&w, out); });
}

}  // namespace llmc_addon
