// scratch.h — a growable 64-byte-aligned buffer, for per-thread scratch that kernels reuse across
// calls (each op family keeps its own thread_local instance, so they never share one).
#pragma once

#include <cstddef>
#include <new>

namespace llmc {

struct Scratch {
  void* data = nullptr;
  size_t size = 0;
  Scratch() = default;
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  ~Scratch() { ::operator delete(data, std::align_val_t(64)); }
  // At least `bytes` bytes (null when the allocation fails); the contents are not kept on growth.
  void* get(size_t bytes) {
    if (bytes > size) {
      ::operator delete(data, std::align_val_t(64));
      data = ::operator new(bytes, std::align_val_t(64), std::nothrow);
      size = data ? bytes : 0;
    }
    return data;
  }
};

}  // namespace llmc
