// bindings.h — the functions native/addon/addon.cpp exports. lib/native/contract.ts declares the same
// contract in TypeScript; keep the two in step.
#pragma once

#include <napi.h>

namespace llmc_addon {

// runtime.cpp
Napi::Value RuntimeInfo(const Napi::CallbackInfo& info);
Napi::Value SetIsa(const Napi::CallbackInfo& info);
Napi::Value SetThreads(const Napi::CallbackInfo& info);
Napi::Value CudaInfo(const Napi::CallbackInfo& info);
Napi::Value CudaSelftest(const Napi::CallbackInfo& info);

// stream_read.cpp
Napi::Value StreamRead(const Napi::CallbackInfo& info);

// gemm.cpp
Napi::Value GemmF32(const Napi::CallbackInfo& info);
Napi::Value SgemmPeak(const Napi::CallbackInfo& info);

// quant.cpp
Napi::Value QuantSizes(const Napi::CallbackInfo& info);
Napi::Value Q8Pack(const Napi::CallbackInfo& info);
Napi::Value Q8Unpack(const Napi::CallbackInfo& info);
Napi::Value Q4Pack(const Napi::CallbackInfo& info);
Napi::Value Q4Unpack(const Napi::CallbackInfo& info);
Napi::Value Q8Matmul(const Napi::CallbackInfo& info);
Napi::Value Q4Matmul(const Napi::CallbackInfo& info);
Napi::Value Int8Peak(const Napi::CallbackInfo& info);

// sparse24.cpp
Napi::Value S24Sizes(const Napi::CallbackInfo& info);
Napi::Value S24Pack(const Napi::CallbackInfo& info);
Napi::Value S24Unpack(const Napi::CallbackInfo& info);
Napi::Value S24ToBitmask(const Napi::CallbackInfo& info);
Napi::Value S24NvMetadata(const Napi::CallbackInfo& info);
Napi::Value S24Path(const Napi::CallbackInfo& info);
Napi::Value S24Matmul(const Napi::CallbackInfo& info);

// compress.cpp
Napi::Value HessianUpdate(const Napi::CallbackInfo& info);
Napi::Value ObsCompress(const Napi::CallbackInfo& info);
Napi::Value Rtn(const Napi::CallbackInfo& info);
Napi::Value Prune(const Napi::CallbackInfo& info);

// llama_ops.cpp
Napi::Value RmsNorm(const Napi::CallbackInfo& info);
Napi::Value Rope(const Napi::CallbackInfo& info);
Napi::Value Attention(const Napi::CallbackInfo& info);
Napi::Value SwiGlu(const Napi::CallbackInfo& info);
Napi::Value Nll(const Napi::CallbackInfo& info);

// cuda.cpp (and the uploads of packed weights in quant.cpp, sparse24.cpp)
Napi::Value CudaUploadQ4(const Napi::CallbackInfo& info);
Napi::Value CudaUploadQ8(const Napi::CallbackInfo& info);
Napi::Value CudaUploadS24(const Napi::CallbackInfo& info);
Napi::Value CudaUploadF16(const Napi::CallbackInfo& info);
Napi::Value CudaWeightsInfo(const Napi::CallbackInfo& info);
Napi::Value CudaWeightsFree(const Napi::CallbackInfo& info);
Napi::Value CudaMatmul(const Napi::CallbackInfo& info);
Napi::Value CudaMatmulBench(const Napi::CallbackInfo& info);

}  // namespace llmc_addon
