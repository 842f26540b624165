// addon.cpp — module registration. The exported names are the contract declared in lib/binding.ts.
#include <napi.h>

#include "bindings.h"

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  using namespace llmc_addon;
  exports.Set("version", Napi::String::New(env, LLMC_VERSION));
  exports.Set("runtimeInfo", Napi::Function::New(env, RuntimeInfo, "runtimeInfo"));
  exports.Set("setIsa", Napi::Function::New(env, SetIsa, "setIsa"));
  exports.Set("setThreads", Napi::Function::New(env, SetThreads, "setThreads"));
  exports.Set("cudaInfo", Napi::Function::New(env, CudaInfo, "cudaInfo"));
  exports.Set("cudaSelftest", Napi::Function::New(env, CudaSelftest, "cudaSelftest"));
  exports.Set("streamRead", Napi::Function::New(env, StreamRead, "streamRead"));
  exports.Set("gemmF32", Napi::Function::New(env, GemmF32, "gemmF32"));
  exports.Set("sgemmPeak", Napi::Function::New(env, SgemmPeak, "sgemmPeak"));
  return exports;
}

}  // namespace

NODE_API_MODULE(llmc, Init)
