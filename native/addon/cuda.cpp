// cuda.cpp — bindings for weights in device memory and their matmuls (llmc_cuda_*).
//
// cudaUploadF16(w, n, k): Promise<External>                  (dense f32 W [n × k] → f16 on the device)
// cudaWeightsInfo(handle) -> { n, k, deviceBytes, kernel }
// cudaWeightsFree(handle)                                     (idempotent)
// cudaMatmul(handle, x, m, y): Promise<number> (ms, copies included)
// cudaMatmulBench(handle, m, iters): Promise<Float64Array> (ms of each run, kernel only)
// The uploads of packed int4 / int8 / 2:4 weights are in quant.cpp and sparse24.cpp. lib/kernels/cuda.ts
// validates and documents the arguments; the checks here only guarantee that no call reads or writes
// outside the arrays or uses freed weights.
#include "bindings.h"

#include <memory>

#include "args.h"
#include "cuda_weights.h"
#include "job.h"

namespace llmc_addon {

namespace {

constexpr int64_t kMaxDim = int64_t{1} << 31;

CudaHandle* handle_arg(const Napi::CallbackInfo& info, size_t i) {
  Napi::Env env = info.Env();
  if (i >= info.Length() || !info[i].IsExternal()) throw_invalid(env, "handle must be device weights (an External)");
  CudaHandle* h = info[i].As<Napi::External<CudaHandle>>().Data();
  if (h == nullptr || h->w == nullptr) throw_invalid(env, "the device weights were disposed");
  return h;
}

// A job on live weights: counts them busy while the work runs.
Napi::Promise start_on(Napi::Env env, const Napi::Value& handle_value, CudaHandle* h, std::vector<Napi::Value> keep,
                       Job::Work work, Job::Result result) {
  keep.push_back(handle_value);
  ++h->busy;
  return Job::Start(
      env, std::move(keep),
      [h, work] {
        const llmc_status st = work();
        --h->busy;
        return st;
      },
      std::move(result));
}

}  // namespace

Napi::Promise start_upload(Napi::Env env, std::vector<Napi::Value> keep,
                           std::function<llmc_status(llmc_cuda_weights**)> upload) {
  auto slot = std::make_shared<llmc_cuda_weights*>(nullptr);
  return Job::Start(
      env, std::move(keep), [slot, upload] { return upload(slot.get()); },
      [slot](Napi::Env e) -> Napi::Value {
        auto* h = new CudaHandle;
        h->w = *slot;
        *slot = nullptr;
        return Napi::External<CudaHandle>::New(e, h, [](Napi::Env, CudaHandle* p) { delete p; });
      });
}

Napi::Value CudaUploadF16(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto w = arg_f32(info, 0, "w");
  const int64_t n = arg_int(info, 1, "n", 1, kMaxDim), k = arg_int(info, 2, "k", 1, kMaxDim);
  need_len(env, w, n * k, "w");
  const float* wp = w.Data();
  return start_upload(env, {w}, [=](llmc_cuda_weights** out) { return llmc_cuda_upload_f16(n, k, wp, out); });
}

Napi::Value CudaWeightsInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const CudaHandle* h = handle_arg(info, 0);
  llmc_cuda_weights_info wi;
  llmc_cuda_weights_describe(h->w, &wi);
  Napi::Object o = Napi::Object::New(env);
  o.Set("n", Napi::Number::New(env, static_cast<double>(wi.n)));
  o.Set("k", Napi::Number::New(env, static_cast<double>(wi.k)));
  o.Set("deviceBytes", Napi::Number::New(env, static_cast<double>(wi.device_bytes)));
  o.Set("kernel", Napi::String::New(env, wi.kernel));
  return o;
}

Napi::Value CudaWeightsFree(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsExternal()) throw_invalid(env, "handle must be device weights (an External)");
  CudaHandle* h = info[0].As<Napi::External<CudaHandle>>().Data();
  if (h->busy > 0) throw_invalid(env, "the device weights are in use by a running matmul (await it before dispose())");
  llmc_cuda_weights_free(h->w);
  h->w = nullptr;
  return env.Undefined();
}

Napi::Value CudaMatmul(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CudaHandle* h = handle_arg(info, 0);
  llmc_cuda_weights_info wi;
  llmc_cuda_weights_describe(h->w, &wi);
  auto x = arg_f32(info, 1, "x");
  const int64_t m = arg_int(info, 2, "m", 1, kMaxDim);
  auto y = arg_f32(info, 3, "y");
  need_len(env, x, m * wi.k, "x");
  need_len(env, y, m * wi.n, "y");
  const llmc_cuda_weights* w = h->w;
  const float* xp = x.Data();
  float* yp = y.Data();
  const int64_t k = wi.k, n = wi.n;
  return start_on(env, info[0], h, {x, y}, [=] { return llmc_cuda_matmul(w, m, xp, k, yp, n); }, nullptr);
}

Napi::Value CudaMatmulBench(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CudaHandle* h = handle_arg(info, 0);
  const int64_t m = arg_int(info, 1, "m", 1, kMaxDim);
  const int iters = static_cast<int>(arg_int(info, 2, "iters", 1, 100000));
  auto ms = std::make_shared<std::vector<double>>(static_cast<size_t>(iters));
  const llmc_cuda_weights* w = h->w;
  return start_on(
      env, info[0], h, {}, [=] { return llmc_cuda_matmul_bench(w, m, iters, ms->data()); },
      [ms](Napi::Env e) -> Napi::Value {
        auto out = Napi::Float64Array::New(e, ms->size());
        for (size_t i = 0; i < ms->size(); ++i) out[i] = (*ms)[i];
        return out;
      });
}

}  // namespace llmc_addon
