// stream_read.cpp — a plain streaming read of an array on every thread of the pool: the memory
// bandwidth baseline that benchmarks of memory-bound kernels (GEMV) report beside their own speed.
// Baseline flags are enough: 16-byte loads on two cores outrun DRAM.
#include <algorithm>
#include <vector>

#include "llmc.h"
#include "status.h"
#include "thread_pool.h"

extern "C" llmc_status llmc_stream_read(const float* x, int64_t n, double* sum) {
  if (n < 0 || (n > 0 && x == nullptr) || sum == nullptr)
    return llmc::fail(LLMC_INVALID_ARGUMENT, "stream_read: n must be >= 0 with x and sum not null");
  const int64_t chunk = 1 << 20;  // 4 MiB per task
  const int64_t tasks = (n + chunk - 1) / chunk;
  std::vector<double> partial(static_cast<size_t>(llmc::pool_threads()), 0.0);
  llmc::parallel_for(tasks, [&](int64_t t, int thread) {
    const float* p = x + t * chunk;
    const int64_t len = std::min(chunk, n - t * chunk);
    // Four interleaved streams of 8 sums each (the GEMV reads four weight rows at once too).
    const int64_t quarter = len / 4;
    float s[4][8] = {};
    for (int64_t i = 0; i + 8 <= quarter; i += 8)
      for (int r = 0; r < 4; ++r)
        for (int q = 0; q < 8; ++q) s[r][q] += p[r * quarter + i + q];
    for (int64_t i = quarter / 8 * 8; i < quarter; ++i)
      for (int r = 0; r < 4; ++r) s[r][0] += p[r * quarter + i];
    for (int64_t i = 4 * quarter; i < len; ++i) s[0][0] += p[i];
    for (int r = 1; r < 4; ++r)
      for (int q = 0; q < 8; ++q) s[0][q] += s[r][q];
    partial[static_cast<size_t>(thread)] +=
        ((s[0][0] + s[0][1]) + (s[0][2] + s[0][3])) + ((s[0][4] + s[0][5]) + (s[0][6] + s[0][7]));
  });
  double total = 0;
  for (double v : partial) total += v;
  *sum = total;
  return LLMC_OK;
}
