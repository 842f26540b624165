// addon.cpp — module registration. The exported names are the contract declared in lib/native/contract.ts.
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
  exports.Set("quantSizes", Napi::Function::New(env, QuantSizes, "quantSizes"));
  exports.Set("q8Pack", Napi::Function::New(env, Q8Pack, "q8Pack"));
  exports.Set("q8Unpack", Napi::Function::New(env, Q8Unpack, "q8Unpack"));
  exports.Set("q4Pack", Napi::Function::New(env, Q4Pack, "q4Pack"));
  exports.Set("q4Unpack", Napi::Function::New(env, Q4Unpack, "q4Unpack"));
  exports.Set("q8Matmul", Napi::Function::New(env, Q8Matmul, "q8Matmul"));
  exports.Set("q4Matmul", Napi::Function::New(env, Q4Matmul, "q4Matmul"));
  exports.Set("int8Peak", Napi::Function::New(env, Int8Peak, "int8Peak"));
  exports.Set("s24Sizes", Napi::Function::New(env, S24Sizes, "s24Sizes"));
  exports.Set("s24Pack", Napi::Function::New(env, S24Pack, "s24Pack"));
  exports.Set("s24Unpack", Napi::Function::New(env, S24Unpack, "s24Unpack"));
  exports.Set("s24ToBitmask", Napi::Function::New(env, S24ToBitmask, "s24ToBitmask"));
  exports.Set("s24NvMetadata", Napi::Function::New(env, S24NvMetadata, "s24NvMetadata"));
  exports.Set("s24Path", Napi::Function::New(env, S24Path, "s24Path"));
  exports.Set("s24Matmul", Napi::Function::New(env, S24Matmul, "s24Matmul"));
  exports.Set("hessianUpdate", Napi::Function::New(env, HessianUpdate, "hessianUpdate"));
  exports.Set("obsCompress", Napi::Function::New(env, ObsCompress, "obsCompress"));
  exports.Set("rtn", Napi::Function::New(env, Rtn, "rtn"));
  exports.Set("prune", Napi::Function::New(env, Prune, "prune"));
  exports.Set("rmsnorm", Napi::Function::New(env, RmsNorm, "rmsnorm"));
  exports.Set("rope", Napi::Function::New(env, Rope, "rope"));
  exports.Set("attention", Napi::Function::New(env, Attention, "attention"));
  exports.Set("swiglu", Napi::Function::New(env, SwiGlu, "swiglu"));
  exports.Set("nll", Napi::Function::New(env, Nll, "nll"));
  exports.Set("cudaUploadQ4", Napi::Function::New(env, CudaUploadQ4, "cudaUploadQ4"));
  exports.Set("cudaUploadQ8", Napi::Function::New(env, CudaUploadQ8, "cudaUploadQ8"));
  exports.Set("cudaUploadS24", Napi::Function::New(env, CudaUploadS24, "cudaUploadS24"));
  exports.Set("cudaUploadF16", Napi::Function::New(env, CudaUploadF16, "cudaUploadF16"));
  exports.Set("cudaWeightsInfo", Napi::Function::New(env, CudaWeightsInfo, "cudaWeightsInfo"));
  exports.Set("cudaWeightsFree", Napi::Function::New(env, CudaWeightsFree, "cudaWeightsFree"));
  exports.Set("cudaMatmul", Napi::Function::New(env, CudaMatmul, "cudaMatmul"));
  exports.Set("cudaMatmulBench", Napi::Function::New(env, CudaMatmulBench, "cudaMatmulBench"));
  return exports;
}

}  // namespace

NODE_API_MODULE(llmc, Init)
