// test_rng.h — the seeded random numbers of the native test programs (xorshift32: reproducible,
// never all zeros).
#pragma once

#include <cstdint>
#include <vector>

struct Rng {
  uint32_t s;
  explicit Rng(uint32_t seed) : s(seed ? seed : 1) {}
  uint32_t u32() {
    s ^= s << 13;
    s ^= s >> 17;
    s ^= s << 5;
    return s;
  }
  float uniform() { return static_cast<float>(u32()) / 2147483648.0f - 1.0f; }  // [-1, 1)
  int range(int lo, int hi) { return lo + static_cast<int>(u32() % static_cast<uint32_t>(hi - lo + 1)); }
  void fill(std::vector<float>& v) {
    for (float& x : v) x = uniform();
  }
};
