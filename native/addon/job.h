// job.h — runs one core call off the main thread and settles a Promise with its outcome.
//
// The constructor receives everything the work needs as plain values (the "baton"); JS objects
// whose memory the work reads or writes are kept alive by references until the Promise settles.
// Execute() runs on a libuv worker thread and never touches JS values.
#pragma once

#include <napi.h>

#include <chrono>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "errors.h"
#include "llmc.h"

namespace llmc_addon {

class Job : public Napi::AsyncWorker {
 public:
  using Work = std::function<llmc_status()>;
  using Result = std::function<Napi::Value(Napi::Env)>;

  // Queues the work and returns its Promise. `keep` are the JS values whose memory `work` uses.
  // Without a `result`, the Promise resolves to the milliseconds the work took on its thread
  // (what benchmarks report: the kernel, not the hop to the worker thread and back).
  static Napi::Promise Start(Napi::Env env, std::vector<Napi::Value> keep, Work work, Result result) {
    Job* job = new Job(env, std::move(keep), std::move(work), std::move(result));
    Napi::Promise promise = job->deferred_.Promise();
    job->Queue();
    return promise;
  }

 protected:
  void Execute() override {
    const auto start = std::chrono::steady_clock::now();
    status_ = work_();
    elapsed_ms_ = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    if (status_ != LLMC_OK) message_ = llmc_last_error();
  }

  void OnOK() override {
    Napi::Env env = Env();
    if (status_ != LLMC_OK) {
      deferred_.Reject(status_error(env, status_, message_).Value());
      return;
    }
    deferred_.Resolve(result_ ? result_(env) : Napi::Number::New(env, elapsed_ms_));
  }

  void OnError(const Napi::Error& error) override { deferred_.Reject(error.Value()); }

 private:
  Job(Napi::Env env, std::vector<Napi::Value> keep, Work work, Result result)
      : Napi::AsyncWorker(env, "llmc"),
        deferred_(Napi::Promise::Deferred::New(env)),
        work_(std::move(work)),
        result_(std::move(result)) {
    for (const Napi::Value& v : keep) refs_.push_back(Napi::Persistent(v));
  }

  Napi::Promise::Deferred deferred_;
  std::vector<Napi::Reference<Napi::Value>> refs_;
  Work work_;
  Result result_;
  llmc_status status_ = LLMC_OK;
  double elapsed_ms_ = 0;
  std::string message_;
};

}  // namespace llmc_addon
