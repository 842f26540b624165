// unroll.h — LLMC_UNROLL before a loop with a small constant trip count asks the compiler to unroll
// it fully. Register tiles need it: an accumulator array indexed in a loop the compiler keeps
// rolled lives in memory (GCC 12 then stores every accumulator on each iteration).
#pragma once

#if defined(__clang__)
#define LLMC_UNROLL _Pragma("unroll")
#elif defined(__GNUC__)
#define LLMC_UNROLL _Pragma("GCC unroll 16")
#else
#define LLMC_UNROLL
#endif
