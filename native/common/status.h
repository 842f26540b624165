// status.h — helpers for returning an llmc_status with a formatted message.
#pragma once

#include "llmc.h"

namespace llmc {

// Records a printf-style message as this thread's last error and returns `status`.
llmc_status fail(llmc_status status, const char* fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

void clear_error();

}  // namespace llmc
