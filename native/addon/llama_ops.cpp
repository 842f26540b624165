// llama_ops.cpp — bindings for the ops of a LLaMA forward pass (llmc_rmsnorm, llmc_rope,
// llmc_attention, llmc_swiglu, llmc_nll). Each returns a Promise of the kernel's milliseconds.
// lib/native/contract.ts types them and lib/model/llama.ts calls them; the checks here guarantee no
// out-of-bounds access.
#include "bindings.h"

#include "args.h"
#include "job.h"

namespace llmc_addon {
namespace {
constexpr int64_t kMax = int64_t{1} << 40;
}

Napi::Value RmsNorm(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto x = arg_f32(info, 0, "x"), w = arg_f32(info, 1, "w");
  const int64_t rows = arg_int(info, 2, "rows", 0, kMax), dim = arg_int(info, 3, "dim", 1, kMax);
  const float eps = static_cast<float>(arg_number(info, 4, "eps"));
  auto out = arg_f32(info, 5, "out");
  need_len(env, x, rows * dim, "x");
  need_len(env, w, dim, "w");
  need_len(env, out, rows * dim, "out");
  const float *xp = x.Data(), *wp = w.Data();
  float* op = out.Data();
  return Job::Start(env, {x, w, out}, [=] { return llmc_rmsnorm(xp, wp, rows, dim, eps, op); }, nullptr);
}

Napi::Value Rope(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto x = arg_f32(info, 0, "x");
  const int64_t rows = arg_int(info, 1, "rows", 0, kMax), heads = arg_int(info, 2, "heads", 1, kMax),
                head_dim = arg_int(info, 3, "headDim", 2, kMax);
  auto pos = arg_typed<int32_t>(info, 4, "pos", napi_int32_array, "Int32Array");
  const float theta = static_cast<float>(arg_number(info, 5, "theta"));
  const int style = static_cast<int>(arg_int(info, 6, "style", 0, 1));
  need_len(env, x, rows * heads * head_dim, "x");
  need_len(env, pos, rows, "pos");
  float* xp = x.Data();
  const int32_t* pp = pos.Data();
  return Job::Start(env, {x, pos}, [=] { return llmc_rope(xp, rows, heads, head_dim, pp, theta, style); }, nullptr);
}

Napi::Value Attention(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto q = arg_f32(info, 0, "q"), k = arg_f32(info, 1, "k"), v = arg_f32(info, 2, "v"), out = arg_f32(info, 3, "out");
  const int64_t batch = arg_int(info, 4, "batch", 0, kMax), tq = arg_int(info, 5, "tq", 0, kMax),
                tk = arg_int(info, 6, "tk", 0, kMax);
  const int64_t heads = arg_int(info, 7, "heads", 1, kMax), kv_heads = arg_int(info, 8, "kvHeads", 1, kMax),
                head_dim = arg_int(info, 9, "headDim", 1, kMax);
  need_len(env, q, batch * tq * heads * head_dim, "q");
  need_len(env, out, batch * tq * heads * head_dim, "out");
  need_len(env, k, batch * tk * kv_heads * head_dim, "k");
  need_len(env, v, batch * tk * kv_heads * head_dim, "v");
  const float *qp = q.Data(), *kp = k.Data(), *vp = v.Data();
  float* op = out.Data();
  return Job::Start(
      env, {q, k, v, out}, [=] { return llmc_attention(qp, kp, vp, op, batch, tq, tk, heads, kv_heads, head_dim); },
      nullptr);
}

Napi::Value SwiGlu(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto gate = arg_f32(info, 0, "gate"), up = arg_f32(info, 1, "up"), out = arg_f32(info, 2, "out");
  const int64_t n = arg_int(info, 3, "n", 0, kMax);
  need_len(env, gate, n, "gate");
  need_len(env, up, n, "up");
  need_len(env, out, n, "out");
  const float *gp = gate.Data(), *upp = up.Data();
  float* op = out.Data();
  return Job::Start(env, {gate, up, out}, [=] { return llmc_swiglu(gp, upp, op, n); }, nullptr);
}

Napi::Value Nll(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto logits = arg_f32(info, 0, "logits");
  const int64_t rows = arg_int(info, 1, "rows", 0, kMax), vocab = arg_int(info, 2, "vocab", 1, kMax);
  auto targets = arg_typed<int32_t>(info, 3, "targets", napi_int32_array, "Int32Array");
  auto out = arg_typed<double>(info, 4, "out", napi_float64_array, "Float64Array");
  need_len(env, logits, rows * vocab, "logits");
  need_len(env, targets, rows, "targets");
  need_len(env, out, rows, "out");
  const float* lp = logits.Data();
  const int32_t* tp = targets.Data();
  double* op = out.Data();
  return Job::Start(env, {logits, targets, out}, [=] { return llmc_nll(lp, rows, vocab, tp, op); }, nullptr);
}

}  // namespace llmc_addon
