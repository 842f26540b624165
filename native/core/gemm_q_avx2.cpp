// PLACEHOLDER (being replaced by the AVX2 implementation): forwards to the scalar kernels.
#include "gemm_q.h"
namespace llmc { namespace q { Kernels kernels_avx2() { return kernels_scalar(); } } }
