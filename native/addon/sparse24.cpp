// sparse24.cpp — bindings for 2:4 sparse weights and their matmuls (llmc_s24_*).
//
// Weights are passed as 8 arguments: bits, n, k, group, meta (Uint8Array), values (Uint8Array: the
// raw bytes, f32 values included), scale (Float32Array | null), wsum (Int32Array | null).
// s24Sizes(bits, n, k, group) -> { metaBytes, valueBytes, scaleCount }
// s24Pack(bits, n, k, group, w|null, q|null, scale|null, meta, values, scaleOut|null, wsumOut|null, bad):
// Promise<number>
//   (bad: Float64Array(2) receives the row and first column of a group with more than 2 nonzeros)
// s24Unpack(<weights>, dense|null, q|null, scaleOut|null): Promise<number>
// s24ToBitmask(<weights>, compressed (Uint8Array of the output's bytes), bitmask): Promise<number>
// s24NvMetadata(<weights>, out): Promise<number>
// s24Path(bits, m, n, k) -> 1 (2:4 kernels) | 2 (dense path)
// s24Matmul(<weights>, path, x, m, y): Promise<number> (kernel ms)
// cudaUploadS24(<weights>): Promise<External> (mma.sp on the device, see cuda.cpp)
// lib/kernels/sparse24.ts validates and documents the arguments; the checks here only guarantee that
// no call can read or write outside the arrays.
#include "bindings.h"

#include <memory>

#include "args.h"
#include "cuda_weights.h"
#include "job.h"

namespace llmc_addon {
namespace {

constexpr int64_t kMaxDim = int64_t{1} << 31;

Napi::TypedArrayOf<uint8_t> u8(const Napi::CallbackInfo& info, size_t i, const char* name, bool nullable = false) {
  return arg_typed<uint8_t>(info, i, name, napi_uint8_array, "Uint8Array", nullable);
}

int bits_arg(const Napi::CallbackInfo& info, size_t i) {
  const int64_t bits = arg_int(info, i, "bits", 4, 32);
  if (bits != 4 && bits != 8 && bits != 32) throw_invalid(info.Env(), "bits must be 4, 8 or 32");
  return static_cast<int>(bits);
}

struct Shape {
  int bits;
  int64_t n, k, group;
};

Shape read_shape(const Napi::CallbackInfo& info, size_t first) {
  Shape s;
  s.bits = bits_arg(info, first);
  s.n = arg_int(info, first + 1, "n", 1, kMaxDim);
  s.k = arg_int(info, first + 2, "k", 4, kMaxDim);
  s.group = arg_int(info, first + 3, "group", 0, kMaxDim);
  if (s.k % 4 != 0) throw_invalid(info.Env(), "k must be a multiple of 4");
  if (s.bits == 4 && (s.group < 1 || s.k % s.group != 0)) throw_invalid(info.Env(), "group must divide k");
  return s;
}

// Packed weights at arguments first .. first+7, lengths checked, arrays added to `keep`.
llmc_s24_weights read_s24(const Napi::CallbackInfo& info, size_t first, std::vector<Napi::Value>& keep) {
  Napi::Env env = info.Env();
  const Shape s = read_shape(info, first);
  auto meta = u8(info, first + 4, "meta");
  auto values = u8(info, first + 5, "values");
  auto scale = arg_typed<float>(info, first + 6, "scale", napi_float32_array, "Float32Array", true);
  auto wsum = arg_typed<int32_t>(info, first + 7, "wsum", napi_int32_array, "Int32Array", true);
  need_len(env, meta, llmc_s24_meta_bytes(s.n, s.k), "meta");
  need_len(env, values, llmc_s24_value_bytes(s.bits, s.n, s.k), "values");
  if (s.bits != 32) need_len(env, scale, llmc_s24_scale_count(s.bits, s.n, s.k, s.group), "scale");
  if (s.bits == 8) need_len(env, wsum, llmc_s24_scale_count(8, s.n, s.k, 0), "wsum");
  keep.push_back(meta), keep.push_back(values);
  if (!scale.IsEmpty()) keep.push_back(scale);
  if (!wsum.IsEmpty()) keep.push_back(wsum);
  return {s.n,
          s.k,
          s.bits,
          s.bits == 4 ? s.group : 0,
          meta.Data(),
          values.Data(),
          s.bits == 32 ? nullptr : data_or_null(scale),
          s.bits == 8 ? data_or_null(wsum) : nullptr};
}

}  // namespace

Napi::Value S24Sizes(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Shape s = read_shape(info, 0);
  Napi::Object o = Napi::Object::New(env);
  o.Set("metaBytes", Napi::Number::New(env, static_cast<double>(llmc_s24_meta_bytes(s.n, s.k))));
  o.Set("valueBytes", Napi::Number::New(env, static_cast<double>(llmc_s24_value_bytes(s.bits, s.n, s.k))));
  o.Set("scaleCount", Napi::Number::New(env, static_cast<double>(llmc_s24_scale_count(s.bits, s.n, s.k, s.group))));
  return o;
}

Napi::Value S24Pack(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Shape s = read_shape(info, 0);
  auto w = arg_typed<float>(info, 4, "w", napi_float32_array, "Float32Array", true);
  auto q = arg_typed<int8_t>(info, 5, "q", napi_int8_array, "Int8Array", true);
  auto scale = arg_typed<float>(info, 6, "scale", napi_float32_array, "Float32Array", true);
  auto meta = u8(info, 7, "meta");
  auto values = u8(info, 8, "values");
  auto scale_out = arg_typed<float>(info, 9, "scaleOut", napi_float32_array, "Float32Array", true);
  auto wsum_out = arg_typed<int32_t>(info, 10, "wsumOut", napi_int32_array, "Int32Array", true);
  auto bad = arg_typed<double>(info, 11, "bad", napi_float64_array, "Float64Array");
  need_len(env, bad, 2, "bad");
  if (s.bits == 32) {
    need_len(env, w, s.n * s.k, "w");
  } else {
    need_len(env, q, s.n * s.k, "q");
    need_len(env, scale, s.bits == 8 ? s.n : s.n * (s.k / s.group), "scale");
    need_len(env, scale_out, llmc_s24_scale_count(s.bits, s.n, s.k, s.group), "scaleOut");
  }
  if (s.bits == 8) need_len(env, wsum_out, llmc_s24_scale_count(8, s.n, s.k, 0), "wsumOut");
  need_len(env, meta, llmc_s24_meta_bytes(s.n, s.k), "meta");
  need_len(env, values, llmc_s24_value_bytes(s.bits, s.n, s.k), "values");
  const float* wp = s.bits == 32 ? w.Data() : nullptr;
  const int8_t* qp = s.bits == 32 ? nullptr : q.Data();
  const float* sp = s.bits == 32 ? nullptr : scale.Data();
  float* so = s.bits == 32 ? nullptr : scale_out.Data();
  int32_t* wo = s.bits == 8 ? wsum_out.Data() : nullptr;
  uint8_t* mp = meta.Data();
  uint8_t* vp = values.Data();
  double* bp = bad.Data();
  std::vector<Napi::Value> keep{meta, values, bad};
  for (const Napi::Value& v :
       {Napi::Value(w), Napi::Value(q), Napi::Value(scale), Napi::Value(scale_out), Napi::Value(wsum_out)})
    if (!v.IsEmpty()) keep.push_back(v);
  const int64_t group = s.bits == 4 ? s.group : 0;
  return Job::Start(
      env, keep,
      [=] {
        int64_t b[2];
        const llmc_status st = llmc_s24_pack(s.bits, s.n, s.k, group, wp, qp, sp, mp, vp, so, wo, b);
        bp[0] = static_cast<double>(b[0]), bp[1] = static_cast<double>(b[1]);
        return st;
      },
      nullptr);
}

Napi::Value S24Unpack(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::vector<Napi::Value> keep;
  const llmc_s24_weights w = read_s24(info, 0, keep);
  auto dense = arg_typed<float>(info, 8, "dense", napi_float32_array, "Float32Array", true);
  auto q = arg_typed<int8_t>(info, 9, "q", napi_int8_array, "Int8Array", true);
  auto scale = arg_typed<float>(info, 10, "scaleOut", napi_float32_array, "Float32Array", true);
  if (w.bits == 32) {
    need_len(env, dense, w.n * w.k, "dense");
    keep.push_back(dense);
  } else {
    need_len(env, q, w.n * w.k, "q");
    need_len(env, scale, w.bits == 8 ? w.n : w.n * (w.k / w.group), "scaleOut");
    keep.push_back(q), keep.push_back(scale);
  }
  float* dp = w.bits == 32 ? dense.Data() : nullptr;
  int8_t* qp = w.bits == 32 ? nullptr : q.Data();
  float* sp = w.bits == 32 ? nullptr : scale.Data();
  return Job::Start(env, keep, [=] { return llmc_s24_unpack(&w, dp, qp, sp); }, nullptr);
}

Napi::Value S24ToBitmask(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::vector<Napi::Value> keep;
  const llmc_s24_weights w = read_s24(info, 0, keep);
  auto compressed = u8(info, 8, "compressed");
  auto bitmask = u8(info, 9, "bitmask");
  need_len(env, compressed, w.n * (w.k / 2) * (w.bits == 32 ? 4 : 1), "compressed");
  need_len(env, bitmask, w.n * ((w.k + 7) / 8), "bitmask");
  uint8_t* cp = compressed.Data();
  uint8_t* bp = bitmask.Data();
  keep.push_back(compressed), keep.push_back(bitmask);
  return Job::Start(env, keep, [=] { return llmc_s24_to_bitmask(&w, cp, bp); }, nullptr);
}

Napi::Value S24NvMetadata(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::vector<Napi::Value> keep;
  const llmc_s24_weights w = read_s24(info, 0, keep);
  auto out = u8(info, 8, "out");
  need_len(env, out, w.n * ((w.k + 7) / 8), "out");
  uint8_t* op = out.Data();
  keep.push_back(out);
  return Job::Start(env, keep, [=] { return llmc_s24_nv_metadata(&w, op); }, nullptr);
}

Napi::Value S24Path(const Napi::CallbackInfo& info) {
  const int bits = bits_arg(info, 0);
  const int64_t m = arg_int(info, 1, "m", 0, kMaxDim), n = arg_int(info, 2, "n", 1, kMaxDim),
                k = arg_int(info, 3, "k", 1, kMaxDim);
  return Napi::Number::New(info.Env(), llmc_s24_path(bits, m, n, k));
}

Napi::Value S24Matmul(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::vector<Napi::Value> keep;
  const llmc_s24_weights w = read_s24(info, 0, keep);
  const int path = static_cast<int>(arg_int(info, 8, "path", 0, 2));
  auto x = arg_f32(info, 9, "x");
  const int64_t m = arg_int(info, 10, "m", 0, kMaxDim);
  auto y = arg_f32(info, 11, "y");
  need_len(env, x, m * w.k, "x");
  need_len(env, y, m * w.n, "y");
  const float* xp = x.Data();
  float* yp = y.Data();
  keep.push_back(x), keep.push_back(y);
  return Job::Start(env, keep, [=] { return llmc_s24_matmul(&w, path, m, xp, w.k, yp, w.n); }, nullptr);
}

Napi::Value CudaUploadS24(const Napi::CallbackInfo& info) {
  std::vector<Napi::Value> keep;
  const llmc_s24_weights w = read_s24(info, 0, keep);
  return start_upload(info.Env(), keep, [w](llmc_cuda_weights** out) { return llmc_cuda_upload_s24(&w, out); });
}

}  // namespace llmc_addon
