// cuda_backend.h — what the CUDA translation units export to the core (plain C++, no CUDA types).
#pragma once

#include "llmc.h"

namespace llmc {
namespace cuda {

void query(llmc_cuda_info* info);
llmc_status selftest();

}  // namespace cuda
}  // namespace llmc
