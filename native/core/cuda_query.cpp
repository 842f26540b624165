// cuda_query.cpp — the CUDA entry points of the C API. They forward to native/cuda/ when this
// binary was built with CUDA (LLMC_WITH_CUDA) and otherwise say that it was not.
#include <cstdio>
#include <cstring>

#include "llmc.h"
#include "status.h"

#if defined(LLMC_WITH_CUDA)
#include "../cuda/cuda_backend.h"
#endif

extern "C" void llmc_cuda_query(llmc_cuda_info* info) {
  std::memset(info, 0, sizeof *info);
#if defined(LLMC_WITH_CUDA)
  llmc::cuda::query(info);
#else
  std::snprintf(info->error, sizeof info->error, "this binary was built without CUDA");
#endif
}

extern "C" llmc_status llmc_cuda_selftest(void) {
#if defined(LLMC_WITH_CUDA)
  llmc_cuda_info info;
  llmc_cuda_query(&info);
  if (info.device_count == 0) return llmc::fail(LLMC_UNSUPPORTED, "no usable CUDA device: %s", info.error);
  return llmc::cuda::selftest();
#else
  return llmc::fail(LLMC_UNSUPPORTED, "this binary was built without CUDA");
#endif
}
