// runtime.cpp — bindings for what the process runs on: CPU features, the ISA level in use, the
// thread pool and CUDA. Used by `llm-compress doctor` and the runtime settings of the API.
#include <string>

#include "args.h"
#include "bindings.h"
#include "job.h"

namespace llmc_addon {

Napi::Value RuntimeInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const llmc_cpu_info* c = llmc_cpu();
  Napi::Object cpu = Napi::Object::New(env);
  cpu.Set("arch", c->arch);
  cpu.Set("vendor", c->vendor);
  cpu.Set("brand", c->brand);
  Napi::Object f = Napi::Object::New(env);
  f.Set("avx2", Napi::Boolean::New(env, c->avx2));
  f.Set("fma", Napi::Boolean::New(env, c->fma));
  f.Set("f16c", Napi::Boolean::New(env, c->f16c));
  f.Set("avx512f", Napi::Boolean::New(env, c->avx512f));
  f.Set("avx512bw", Napi::Boolean::New(env, c->avx512bw));
  f.Set("avx512dq", Napi::Boolean::New(env, c->avx512dq));
  f.Set("avx512vl", Napi::Boolean::New(env, c->avx512vl));
  f.Set("avx512vnni", Napi::Boolean::New(env, c->avx512vnni));
  f.Set("avx512bf16", Napi::Boolean::New(env, c->avx512bf16));
  f.Set("avxVnni", Napi::Boolean::New(env, c->avx_vnni));
  f.Set("neon", Napi::Boolean::New(env, c->neon));
  cpu.Set("features", f);

  Napi::Object out = Napi::Object::New(env);
  out.Set("version", LLMC_VERSION);
  out.Set("cpu", cpu);
  out.Set("isa", llmc_isa_name(llmc_isa_active()));
  out.Set("bestIsa", llmc_isa_name(c->best));
  out.Set("threads", llmc_threads());
  return out;
}

Napi::Value SetIsa(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) throw_invalid(env, "isa must be a string");
  const std::string name = info[0].As<Napi::String>().Utf8Value();
  llmc_isa isa;
  if (llmc_isa_parse(name.c_str(), &isa) != 0)
    throw_invalid(env, "isa must be one of scalar, neon, avx2, avx512, got '" + name + "'");
  const llmc_status st = llmc_isa_set(isa);
  if (st != LLMC_OK) throw status_error(env, st, llmc_last_error());
  return env.Undefined();
}

Napi::Value SetThreads(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int threads = static_cast<int>(arg_int(info, 0, "threads", 1, 1024));
  const llmc_status st = llmc_set_threads(threads);
  if (st != LLMC_OK) throw status_error(env, st, llmc_last_error());
  return env.Undefined();
}

Napi::Value CudaInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  llmc_cuda_info ci;
  llmc_cuda_query(&ci);
  Napi::Object out = Napi::Object::New(env);
  out.Set("compiled", Napi::Boolean::New(env, ci.compiled));
  out.Set("runtimeVersion", ci.runtime_version);
  out.Set("driverVersion", ci.driver_version);
  out.Set("deviceCount", ci.device_count);
  if (ci.device_count > 0) {
    Napi::Object dev = Napi::Object::New(env);
    dev.Set("name", ci.device_name);
    dev.Set("computeCapability", std::to_string(ci.cc_major) + "." + std::to_string(ci.cc_minor));
    dev.Set("totalMemory", static_cast<double>(ci.total_memory));
    out.Set("device", dev);
  }
  if (ci.error[0] != '\0') out.Set("error", ci.error);
  return out;
}

Napi::Value CudaSelftest(const Napi::CallbackInfo& info) {  // Promise<number>
  return Job::Start(info.Env(), {}, [] { return llmc_cuda_selftest(); }, nullptr);
}

}  // namespace llmc_addon
