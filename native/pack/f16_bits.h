// f16_bits.h — f32 → IEEE half bits on the host, rounded to nearest even as __float2half_rn does
// (overflow → ±Inf, NaN stays NaN): the packers of native/pack/*_layout.cpp store f16 weights and
// scales with it.
#pragma once

#include <cstdint>
#include <cstring>

namespace llmc {

inline uint16_t f16_bits(float x) {
  uint32_t b;
  std::memcpy(&b, &x, sizeof b);
  const uint16_t sign = static_cast<uint16_t>((b >> 16) & 0x8000u);
  const uint32_t a = b & 0x7fffffffu;
  if (a > 0x7f800000u) return static_cast<uint16_t>(sign | 0x7e00u | ((a >> 13) & 0x3ffu));  // NaN stays NaN
  if (a >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);                        // >= 65520 rounds to Inf
  uint32_t h, rem, half;
  if (a >= 0x38800000u) {  // normal f16: rebias the exponent (127 − 15) and drop 13 mantissa bits
    const uint32_t r = a - 0x38000000u;
    h = r >> 13, rem = r & 0x1fffu, half = 0x1000u;
  } else {                              // subnormal f16 (units of 2^-24), or zero
    if (a <= 0x33000000u) return sign;  // <= 2^-25: rounds to 0 (2^-25 is a tie, to even)
    const int shift = 126 - static_cast<int>(a >> 23);
    const uint32_t mant = (a & 0x7fffffu) | 0x800000u;
    h = mant >> shift, rem = mant & ((1u << shift) - 1), half = 1u << (shift - 1);
  }
  if (rem > half || (rem == half && (h & 1u))) ++h;  // a carry into the exponent is the right encoding
  return static_cast<uint16_t>(sign | h);
}

}  // namespace llmc
