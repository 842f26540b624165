// errors.h — turning core statuses and bad arguments into JS errors with a `code`.
#pragma once

#include <napi.h>

#include <string>

#include "llmc.h"

namespace llmc_addon {

// A JS Error with .code = "LLMC_…" (the status name) and the given message.
Napi::Error status_error(Napi::Env env, llmc_status status, const std::string& message);

// Throws a TypeError with code LLMC_INVALID_ARGUMENT; the TypeScript layer validates first, so
// reaching this means the binding was called directly with bad arguments.
[[noreturn]] void throw_invalid(Napi::Env env, const std::string& message);

}  // namespace llmc_addon
