// stream_read.cpp — binding for the memory bandwidth baseline (llmc_stream_read).
// streamRead(x: Float32Array): Promise<number> — milliseconds of one streaming read of x.
#include <memory>

#include "args.h"
#include "bindings.h"
#include "job.h"

namespace llmc_addon {

Napi::Value StreamRead(const Napi::CallbackInfo& info) {
  Napi::TypedArrayOf<float> x = arg_f32(info, 0, "x");
  const float* data = x.Data();
  const int64_t n = static_cast<int64_t>(x.ElementLength());
  auto sum = std::make_shared<double>(0.0);
  return Job::Start(info.Env(), {x}, [=] { return llmc_stream_read(data, n, sum.get()); }, nullptr);
}

}  // namespace llmc_addon
