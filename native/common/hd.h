// hd.h — LLMC_HD marks the small functions that both the CUDA kernels (nvcc) and the host code
// compile: the index maps of the packers that lay weights out for the kernels (native/pack/), and
// the per-lane index maps and math (native/pack/*_layout.h, native/cuda/obs_rows.h) that
// test/native/cuda_*_test.cpp replays on the CPU against the PTX fragment layouts.
#pragma once

#if defined(__CUDACC__)
#define LLMC_HD __host__ __device__ __forceinline__
#else
#define LLMC_HD inline
#endif
