// status.cpp — status names and the thread-local last-error message.
#include <cstdarg>
#include <cstdio>

#include "llmc.h"
#include "status.h"

namespace {
thread_local char g_last_error[1024] = "";
}

extern "C" const char* llmc_status_name(llmc_status status) {
  switch (status) {
    case LLMC_OK:
      return "LLMC_OK";
    case LLMC_INVALID_ARGUMENT:
      return "LLMC_INVALID_ARGUMENT";
    case LLMC_OUT_OF_MEMORY:
      return "LLMC_OUT_OF_MEMORY";
    case LLMC_UNSUPPORTED:
      return "LLMC_UNSUPPORTED";
    case LLMC_INTERNAL:
      return "LLMC_INTERNAL";
    case LLMC_CUDA_ERROR:
      return "LLMC_CUDA_ERROR";
  }
  return "LLMC_INTERNAL";
}

extern "C" const char* llmc_last_error(void) { return g_last_error; }

namespace llmc {

llmc_status fail(llmc_status status, const char* fmt, ...) {
  va_list args;
  va_start(args, fmt);
  std::vsnprintf(g_last_error, sizeof g_last_error, fmt, args);
  va_end(args);
  return status;
}

void clear_error() { g_last_error[0] = '\0'; }

}  // namespace llmc
