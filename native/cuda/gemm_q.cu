// placeholder while the kernels are being written
#include "weights.h"
namespace llmc { namespace cuda {
llmc_status upload_q4(const llmc_q4_weights*, llmc_cuda_weights**) { return llmc::fail(LLMC_UNSUPPORTED, "w4a16: not built yet"); }
llmc_status upload_q8(const llmc_q8_weights*, llmc_cuda_weights**) { return llmc::fail(LLMC_UNSUPPORTED, "w8a8: not built yet"); }
llmc_status upload_f16(int64_t, int64_t, const float*, llmc_cuda_weights**) { return llmc::fail(LLMC_UNSUPPORTED, "f16: not built yet"); }
}}
