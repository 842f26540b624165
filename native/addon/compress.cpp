// compress.cpp — bindings for the Hessian and the compression algorithms (llmc_hessian_update,
// llmc_obs_compress, llmc_rtn, llmc_prune).
//
// hessianUpdate(h, d, seen, x, tokens, device): Promise<number>
// obsCompress(w, h, params, outputs, device): Promise<number> (the loss)
//   device: 0 = CPU, 1 = CUDA (llmc_cuda_hessian_update / llmc_cuda_obs_compress)
// rtn(w, params, outputs): Promise<number>
// prune(w, norms|null, params, outputs): Promise<number>
//   params:  { rows, cols, bits, group, symmetric, actOrder, mse, damp, block, sparsity, pruneN, pruneM }
//   outputs: { weight: Float32Array, q?: Int8Array, scale?: Float32Array, zero?: Uint8Array,
//              gIdx?: Int32Array, mask?: Uint8Array } (absent or null: not produced)
// lib/kernels/compress.ts validates and documents the arguments; the checks here only guarantee
// that no call reads or writes outside the arrays.
#include "bindings.h"

#include <memory>

#include "args.h"
#include "job.h"

namespace llmc_addon {
namespace {

constexpr int64_t kMaxDim = int64_t{1} << 31;

double prop_number(Napi::Env env, const Napi::Object& o, const char* key) {
  Napi::Value v = o.Get(key);
  if (!v.IsNumber()) throw_invalid(env, std::string("params.") + key + " must be a number");
  return v.As<Napi::Number>().DoubleValue();
}

int64_t prop_int(Napi::Env env, const Napi::Object& o, const char* key, int64_t lo, int64_t hi) {
  const double v = prop_number(env, o, key);
  if (!(v >= static_cast<double>(lo) && v <= static_cast<double>(hi)) ||
      v != static_cast<double>(static_cast<int64_t>(v)))
    throw_invalid(env, std::string("params.") + key + " must be an integer in [" + std::to_string(lo) + ", " +
                           std::to_string(hi) + "]");
  return static_cast<int64_t>(v);
}

llmc_obs_params read_params(Napi::Env env, const Napi::Value& value) {
  if (!value.IsObject()) throw_invalid(env, "params must be an object");
  const Napi::Object o = value.As<Napi::Object>();
  llmc_obs_params p{};
  p.rows = prop_int(env, o, "rows", 1, kMaxDim);
  p.cols = prop_int(env, o, "cols", 1, kMaxDim);
  p.bits = static_cast<int>(prop_int(env, o, "bits", 0, 8));
  p.group = prop_int(env, o, "group", 0, kMaxDim);
  p.symmetric = static_cast<int>(prop_int(env, o, "symmetric", 0, 1));
  p.act_order = static_cast<int>(prop_int(env, o, "actOrder", 0, 2));
  p.mse = static_cast<int>(prop_int(env, o, "mse", 0, 1));
  p.damp = prop_number(env, o, "damp");
  p.block = prop_int(env, o, "block", 1, kMaxDim);
  p.sparsity = prop_number(env, o, "sparsity");
  p.prune_n = static_cast<int>(prop_int(env, o, "pruneN", 0, 64));
  p.prune_m = static_cast<int>(prop_int(env, o, "pruneM", 0, 64));
  return p;
}

// The output arrays, checked against the sizes they must have, kept alive with the job.
struct Outs {
  llmc_obs_result r{};
  std::vector<Napi::Value> keep;
};

template <class T>
T* out_array(Napi::Env env, const Napi::Object& o, const char* key, napi_typedarray_type type, const char* tname,
             int64_t need, std::vector<Napi::Value>& keep, bool required = false) {
  Napi::Value v = o.Get(key);
  if (!required && (v.IsUndefined() || v.IsNull())) return nullptr;
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != type)
    throw_invalid(env, std::string("outputs.") + key + " must be a " + tname);
  auto arr = v.As<Napi::TypedArrayOf<T>>();
  need_len(env, arr, need, key);
  keep.push_back(v);
  return arr.Data();
}

Outs read_outputs(Napi::Env env, const Napi::Value& value, const llmc_obs_params& p) {
  if (!value.IsObject()) throw_invalid(env, "outputs must be an object");
  const Napi::Object o = value.As<Napi::Object>();
  Outs out;
  const int64_t n = p.rows * p.cols, g = p.rows * (p.group > 0 ? p.cols / p.group : 1);
  out.r.weight = out_array<float>(env, o, "weight", napi_float32_array, "Float32Array", n, out.keep, true);
  out.r.q = out_array<int8_t>(env, o, "q", napi_int8_array, "Int8Array", n, out.keep);
  out.r.scale = out_array<float>(env, o, "scale", napi_float32_array, "Float32Array", g, out.keep);
  out.r.zero = out_array<uint8_t>(env, o, "zero", napi_uint8_array, "Uint8Array", g, out.keep);
  out.r.g_idx = out_array<int32_t>(env, o, "gIdx", napi_int32_array, "Int32Array", p.cols, out.keep);
  out.r.mask = out_array<uint8_t>(env, o, "mask", napi_uint8_array, "Uint8Array", n, out.keep);
  return out;
}

// Runs `fn` on a job; resolves to the loss it reports.
template <class F>
Napi::Value run(Napi::Env env, std::vector<Napi::Value> keep, Outs&& outs, F fn) {
  auto result = std::make_shared<llmc_obs_result>(outs.r);
  keep.insert(keep.end(), outs.keep.begin(), outs.keep.end());
  return Job::Start(
      env, keep, [result, fn] { return fn(result.get()); },
      [result](Napi::Env e) { return Napi::Number::New(e, result->loss); });
}

}  // namespace

Napi::Value HessianUpdate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto h = arg_f32(info, 0, "h");
  const int64_t d = arg_int(info, 1, "d", 1, kMaxDim), seen = arg_int(info, 2, "seen", 0, int64_t{1} << 52);
  auto x = arg_f32(info, 3, "x");
  const int64_t tokens = arg_int(info, 4, "tokens", 0, kMaxDim);
  const bool cuda = arg_int(info, 5, "device", 0, 1) == 1;
  need_len(env, h, d * d, "h");
  need_len(env, x, tokens * d, "x");
  float* hp = h.Data();
  const float* xp = x.Data();
  return Job::Start(
      env, {h, x},
      [=] {
        return cuda ? llmc_cuda_hessian_update(hp, d, seen, xp, tokens, d)
                    : llmc_hessian_update(hp, d, seen, xp, tokens, d);
      },
      nullptr);
}

Napi::Value ObsCompress(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto w = arg_f32(info, 0, "w");
  auto h = arg_f32(info, 1, "h");
  const llmc_obs_params p = read_params(env, info[2]);
  need_len(env, w, p.rows * p.cols, "w");
  need_len(env, h, p.cols * p.cols, "h");
  const bool cuda = arg_int(info, 4, "device", 0, 1) == 1;
  const float* wp = w.Data();
  const float* hp = h.Data();
  return run(env, {w, h}, read_outputs(env, info[3], p), [p, wp, hp, cuda](llmc_obs_result* r) {
    return cuda ? llmc_cuda_obs_compress(&p, wp, hp, r) : llmc_obs_compress(&p, wp, hp, r);
  });
}

Napi::Value Rtn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto w = arg_f32(info, 0, "w");
  const llmc_obs_params p = read_params(env, info[1]);
  need_len(env, w, p.rows * p.cols, "w");
  const float* wp = w.Data();
  return run(env, {w}, read_outputs(env, info[2], p), [p, wp](llmc_obs_result* r) { return llmc_rtn(&p, wp, r); });
}

Napi::Value Prune(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto w = arg_f32(info, 0, "w");
  auto norms = arg_typed<float>(info, 1, "norms", napi_float32_array, "Float32Array", true);
  const llmc_obs_params p = read_params(env, info[2]);
  need_len(env, w, p.rows * p.cols, "w");
  if (!norms.IsEmpty()) need_len(env, norms, p.cols, "norms");
  const float* wp = w.Data();
  const float* np = data_or_null(norms);
  std::vector<Napi::Value> keep{w};
  if (!norms.IsEmpty()) keep.push_back(norms);
  return run(env, keep, read_outputs(env, info[3], p),
             [p, wp, np](llmc_obs_result* r) { return llmc_prune(&p, wp, np, r); });
}

}  // namespace llmc_addon
