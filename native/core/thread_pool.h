// thread_pool.h — the process-wide pool that every multi-threaded kernel runs on.
//
// One pool for the process, sized to the hardware threads or LLMC_THREADS at first use, resizable
// with llmc_set_threads. The caller of parallel_for works too, so a pool of T threads has T - 1
// workers. Concurrent callers (several AsyncWorkers) are serialized: each kernel already uses every
// core. A parallel_for inside a task runs inline on the calling thread.
#pragma once

#include <cstdint>

namespace llmc {

using TaskFn = void (*)(void* ctx, int64_t task, int thread);

// Runs fn(ctx, task, thread) for each task in [0, n_tasks); `thread` is in [0, pool_threads()).
// Tasks are handed out dynamically in index order. fn must not throw.
void parallel_for(int64_t n_tasks, TaskFn fn, void* ctx);

template <class F>
void parallel_for(int64_t n_tasks, F&& f) {
  parallel_for(
      n_tasks, [](void* ctx, int64_t task, int thread) { (*static_cast<F*>(ctx))(task, thread); },
      static_cast<void*>(&f));
}

int pool_threads();

}  // namespace llmc
