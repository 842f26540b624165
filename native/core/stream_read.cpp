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
  const int64_t chunk = 1 << 16;  // 256 KiB per task
  const int64_t tasks = (n + chunk - 1) / chunk;
  std::vector<double> partial(static_cast<size_t>(llmc::pool_threads()), 0.0);
  llmc::parallel_for(tasks, [&](int64_t t, int thread) {
    const float* p = x + t * chunk;
    const int64_t len = std::min(chunk, n - t * chunk);
    float s[8] = {0, 0, 0, 0, 0, 0, 0, 0};  // 8 independent sums: the loop is load-bound, not add-bound
    int64_t i = 0;
    for (; i + 8 <= len; i += 8)
      for (int q = 0; q < 8; ++q) s[q] += p[i + q];
    for (; i < len; ++i) s[0] += p[i];
    partial[static_cast<size_t>(thread)] += ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
  });
  double total = 0;
  for (double v : partial) total += v;
  *sum = total;
  return LLMC_OK;
}
