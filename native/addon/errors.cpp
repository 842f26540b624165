// errors.cpp — see errors.h.
#include "errors.h"

namespace llmc_addon {

Napi::Error status_error(Napi::Env env, llmc_status status, const std::string& message) {
  Napi::Error err = Napi::Error::New(env, message.empty() ? llmc_status_name(status) : message);
  err.Set("code", Napi::String::New(env, llmc_status_name(status)));
  return err;
}

void throw_invalid(Napi::Env env, const std::string& message) {
  Napi::TypeError err = Napi::TypeError::New(env, message);
  err.Set("code", Napi::String::New(env, llmc_status_name(LLMC_INVALID_ARGUMENT)));
  throw err;
}

}  // namespace llmc_addon
