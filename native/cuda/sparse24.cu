// placeholder while the kernels are being written
#include "weights.h"
namespace llmc { namespace cuda {
llmc_status upload_s24(const llmc_s24_weights*, llmc_cuda_weights**) { return llmc::fail(LLMC_UNSUPPORTED, "sparse24: not built yet"); }
}}
