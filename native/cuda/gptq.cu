// placeholder while the kernels are being written
#include "common.cuh"
#include "cuda_backend.h"
namespace llmc { namespace cuda {
llmc_status api_obs_compress(const llmc_obs_params*, const float*, const float*, llmc_obs_result*) { return llmc::fail(LLMC_UNSUPPORTED, "obs: not built yet"); }
}}
