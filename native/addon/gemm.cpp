// gemm.cpp — binding for the dense fp32 GEMM (llmc_sgemm).
//
// gemmF32(a, b, c, m, n, k, transA, transB, alpha, beta, lda, ldb, ldc): Promise<number>
// Writes C in place; resolves to the milliseconds the kernel ran. lib/kernels/gemm.ts validates and documents the
// arguments; the checks here only guarantee that no call can read or write outside the arrays.
#include "bindings.h"

#include <memory>

#include "args.h"
#include "job.h"

namespace llmc_addon {

Napi::Value GemmF32(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int64_t kMax = int64_t{1} << 40;
  Napi::TypedArrayOf<float> a = arg_f32(info, 0, "a"), b = arg_f32(info, 1, "b"), c = arg_f32(info, 2, "c");
  const int64_t m = arg_int(info, 3, "m", 0, kMax), n = arg_int(info, 4, "n", 0, kMax),
                k = arg_int(info, 5, "k", 0, kMax);
  const bool trans_a = arg_bool(info, 6, "transA"), trans_b = arg_bool(info, 7, "transB");
  const float alpha = static_cast<float>(arg_number(info, 8, "alpha"));
  const float beta = static_cast<float>(arg_number(info, 9, "beta"));
  const int64_t lda = arg_int(info, 10, "lda", 1, kMax), ldb = arg_int(info, 11, "ldb", 1, kMax),
                ldc = arg_int(info, 12, "ldc", 1, kMax);

  const int64_t a_need = trans_a ? span(k, m, lda) : span(m, k, lda);
  const int64_t b_need = trans_b ? span(n, k, ldb) : span(k, n, ldb);
  const int64_t c_need = span(m, n, ldc);
  if (static_cast<int64_t>(a.ElementLength()) < a_need)
    throw_invalid(env, "a has " + std::to_string(a.ElementLength()) + " elements, needs " + std::to_string(a_need));
  if (static_cast<int64_t>(b.ElementLength()) < b_need)
    throw_invalid(env, "b has " + std::to_string(b.ElementLength()) + " elements, needs " + std::to_string(b_need));
  if (static_cast<int64_t>(c.ElementLength()) < c_need)
    throw_invalid(env, "c has " + std::to_string(c.ElementLength()) + " elements, needs " + std::to_string(c_need));

  const float* ap = a.Data();
  const float* bp = b.Data();
  float* cp = c.Data();
  return Job::Start(
      env, {a, b, c}, [=] { return llmc_sgemm(trans_a, trans_b, m, n, k, alpha, ap, lda, bp, ldb, beta, cp, ldc); },
      nullptr);
}

// sgemmPeak(): Promise<number> — fp32 FMA peak GFLOP/s of this machine, measured now.
Napi::Value SgemmPeak(const Napi::CallbackInfo& info) {
  auto gflops = std::make_shared<double>(0.0);
  return Job::Start(
      info.Env(), {}, [gflops] { return llmc_sgemm_peak(gflops.get()); },
      [gflops](Napi::Env env) { return Napi::Number::New(env, *gflops); });
}

}  // namespace llmc_addon
