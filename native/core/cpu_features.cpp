// cpu_features.cpp — CPU feature detection and the ISA level kernels dispatch on.
//
// x86-64: CPUID leaves 1, 7 (sub-leaves 0 and 1) and XGETBV (the OS must save the YMM/ZMM state).
// arm64: Advanced SIMD is architectural, so NEON is always present.
// LLMC_ISA=scalar|neon|avx2|avx512 lowers the level at startup (for tests, and for users whose CPU
// misbehaves on a fast path); llmc_isa_set changes it at run time.
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "llmc.h"
#include "status.h"

#if defined(__x86_64__) || defined(_M_X64)
#define LLMC_X86 1
#if defined(_MSC_VER)
#include <intrin.h>
#else
#include <cpuid.h>
#endif
#elif defined(__aarch64__) || defined(_M_ARM64)
#define LLMC_ARM64 1
#endif

namespace {

#if LLMC_X86
void cpuid(unsigned leaf, unsigned sub, unsigned r[4]) {
#if defined(_MSC_VER)
  int out[4];
  __cpuidex(out, static_cast<int>(leaf), static_cast<int>(sub));
  for (int i = 0; i < 4; ++i) r[i] = static_cast<unsigned>(out[i]);
#else
  __cpuid_count(leaf, sub, r[0], r[1], r[2], r[3]);
#endif
}

unsigned long long xgetbv0() {
#if defined(_MSC_VER)
  return _xgetbv(0);
#else
  unsigned lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (static_cast<unsigned long long>(hi) << 32) | lo;
#endif
}

void detect_x86(llmc_cpu_info* c) {
  unsigned r[4];
  cpuid(0, 0, r);
  const unsigned max_leaf = r[0];
  std::memcpy(c->vendor + 0, &r[1], 4);
  std::memcpy(c->vendor + 4, &r[3], 4);
  std::memcpy(c->vendor + 8, &r[2], 4);
  c->vendor[12] = '\0';

  cpuid(0x80000000u, 0, r);
  if (r[0] >= 0x80000004u) {
    for (unsigned i = 0; i < 3; ++i) {
      cpuid(0x80000002u + i, 0, r);
      std::memcpy(c->brand + 16 * i, r, 16);
    }
    c->brand[48] = '\0';
    // Trim the leading and trailing blanks some vendors pad with.
    char* s = c->brand;
    while (*s == ' ') ++s;
    std::memmove(c->brand, s, std::strlen(s) + 1);
    for (size_t n = std::strlen(c->brand); n > 0 && c->brand[n - 1] == ' '; --n) c->brand[n - 1] = '\0';
  }

  cpuid(1, 0, r);
  const bool osxsave = (r[2] >> 27) & 1;
  const bool fma = (r[2] >> 12) & 1, f16c = (r[2] >> 29) & 1, avx = (r[2] >> 28) & 1;
  const unsigned long long xcr0 = osxsave ? xgetbv0() : 0;
  const bool os_ymm = (xcr0 & 0x6) == 0x6;    // SSE and AVX state
  const bool os_zmm = (xcr0 & 0xE6) == 0xE6;  // plus opmask, ZMM_Hi256, Hi16_ZMM
  if (max_leaf < 7 || !avx || !os_ymm) return;

  cpuid(7, 0, r);
  const unsigned b7 = r[1], c7 = r[2];
  c->fma = fma;
  c->f16c = f16c;
  c->avx2 = (b7 >> 5) & 1;
  if (os_zmm) {
    c->avx512f = (b7 >> 16) & 1;
    c->avx512dq = (b7 >> 17) & 1;
    c->avx512bw = (b7 >> 30) & 1;
    c->avx512vl = (b7 >> 31) & 1;
    c->avx512vnni = (c7 >> 11) & 1;
  }
  cpuid(7, 1, r);
  c->avx_vnni = (r[0] >> 4) & 1;
  if (os_zmm) c->avx512bf16 = (r[0] >> 5) & 1;
}
#endif

llmc_cpu_info detect() {
  llmc_cpu_info c;
  std::memset(&c, 0, sizeof c);
  c.arch = "unknown";
  c.best = LLMC_ISA_SCALAR;
#if LLMC_X86
  c.arch = "x86_64";
  detect_x86(&c);
  if (c.avx2 && c.fma && c.f16c) c.best = LLMC_ISA_AVX2;
  if (c.best == LLMC_ISA_AVX2 && c.avx512f && c.avx512bw && c.avx512dq && c.avx512vl && c.avx512vnni)
    c.best = LLMC_ISA_AVX512;
#elif LLMC_ARM64
  c.arch = "arm64";
  c.neon = 1;
#if defined(LLMC_HAVE_NEON_KERNELS)
  c.best = LLMC_ISA_NEON;
#endif
#endif
  return c;
}

const llmc_cpu_info& cpu() {
  static const llmc_cpu_info info = detect();
  return info;
}

bool isa_available(llmc_isa isa) {
  const llmc_cpu_info& c = cpu();
  if (isa == LLMC_ISA_SCALAR) return true;
  if (isa == LLMC_ISA_NEON) return c.best == LLMC_ISA_NEON;
  if (c.best == LLMC_ISA_NEON) return false;  // x86 levels on arm64
  return isa <= c.best;
}

llmc_isa initial_isa() {
  llmc_isa isa = cpu().best;
  const char* env = std::getenv("LLMC_ISA");
  if (env == nullptr || *env == '\0') return isa;
  llmc_isa wanted;
  if (llmc_isa_parse(env, &wanted) != 0) {
    std::fprintf(stderr, "llm-compress-native: LLMC_ISA=%s is not one of scalar, neon, avx2, avx512; using %s\n", env,
                 llmc_isa_name(isa));
  } else if (!isa_available(wanted)) {
    std::fprintf(stderr, "llm-compress-native: LLMC_ISA=%s is not supported by this CPU or build; using %s\n", env,
                 llmc_isa_name(isa));
  } else {
    isa = wanted;
  }
  return isa;
}

std::atomic<int>& active_level() {
  static std::atomic<int> level{static_cast<int>(initial_isa())};
  return level;
}

}  // namespace

extern "C" const llmc_cpu_info* llmc_cpu(void) { return &cpu(); }

extern "C" const char* llmc_isa_name(llmc_isa isa) {
  switch (isa) {
    case LLMC_ISA_SCALAR:
      return "scalar";
    case LLMC_ISA_NEON:
      return "neon";
    case LLMC_ISA_AVX2:
      return "avx2";
    case LLMC_ISA_AVX512:
      return "avx512";
  }
  return "scalar";
}

extern "C" int llmc_isa_parse(const char* name, llmc_isa* out) {
  static const llmc_isa all[] = {LLMC_ISA_SCALAR, LLMC_ISA_NEON, LLMC_ISA_AVX2, LLMC_ISA_AVX512};
  for (llmc_isa isa : all) {
    if (std::strcmp(name, llmc_isa_name(isa)) == 0) {
      *out = isa;
      return 0;
    }
  }
  return -1;
}

extern "C" llmc_isa llmc_isa_active(void) {
  return static_cast<llmc_isa>(active_level().load(std::memory_order_relaxed));
}

extern "C" llmc_status llmc_isa_set(llmc_isa isa) {
  if (static_cast<int>(isa) < 0 || static_cast<int>(isa) > LLMC_ISA_AVX512)
    return llmc::fail(LLMC_INVALID_ARGUMENT, "ISA level %d is not one of scalar, neon, avx2, avx512",
                      static_cast<int>(isa));
  if (!isa_available(isa))
    return llmc::fail(LLMC_UNSUPPORTED, "ISA level '%s' is not supported here (best available: '%s')",
                      llmc_isa_name(isa), llmc_isa_name(cpu().best));
  active_level().store(static_cast<int>(isa), std::memory_order_relaxed);
  return LLMC_OK;
}
