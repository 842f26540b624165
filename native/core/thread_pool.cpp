// thread_pool.cpp — see thread_pool.h.
#include "thread_pool.h"

#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>

#include "llmc.h"
#include "status.h"

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#define LLMC_PAUSE() _mm_pause()
#elif defined(__aarch64__)
#define LLMC_PAUSE() __asm__ __volatile__("yield")
#else
#define LLMC_PAUSE() ((void)0)
#endif

namespace llmc {
namespace {

thread_local bool t_in_pool_task = false;

int default_threads() {
  if (const char* env = std::getenv("LLMC_THREADS")) {
    char* end = nullptr;
    const long v = std::strtol(env, &end, 10);
    if (end != env && *end == '\0' && v >= 1 && v <= 1024) return static_cast<int>(v);
  }
  const unsigned hw = std::thread::hardware_concurrency();
  return hw == 0 ? 1 : static_cast<int>(hw);
}

class Pool {
 public:
  Pool() { start(default_threads()); }
  ~Pool() { stop(); }

  // Lock-free: tasks call it (a kernel nested in a task sizes its buffers) while the job's caller
  // holds run_mutex_; resize() changes it only under run_mutex_, never during a job.
  int threads() { return threads_.load(std::memory_order_acquire); }

  void resize(int threads) {
    std::lock_guard<std::mutex> run(run_mutex_);
    if (threads == threads_) return;
    stop();
    start(threads);
  }

  void run(int64_t n_tasks, TaskFn fn, void* ctx) {
    if (n_tasks <= 0) return;
    if (t_in_pool_task) {  // nested: run inline
      for (int64_t t = 0; t < n_tasks; ++t) fn(ctx, t, 0);
      return;
    }
    std::lock_guard<std::mutex> run(run_mutex_);
    if (threads_ == 1 || n_tasks == 1) {
      t_in_pool_task = true;
      for (int64_t t = 0; t < n_tasks; ++t) fn(ctx, t, 0);
      t_in_pool_task = false;
      return;
    }
    fn_ = fn;
    ctx_ = ctx;
    n_tasks_ = n_tasks;
    next_.store(0, std::memory_order_relaxed);
    pending_.store(static_cast<int>(workers_.size()), std::memory_order_relaxed);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      generation_.fetch_add(1, std::memory_order_release);
    }
    wake_.notify_all();
    work(0);
    // Wait for the workers to leave the job: spin briefly (they finish within microseconds of us
    // on balanced work), then sleep.
    for (int spin = 0; pending_.load(std::memory_order_acquire) != 0; ++spin) {
      if (spin < 20000) {
        LLMC_PAUSE();
      } else {
        std::unique_lock<std::mutex> lock(mutex_);
        done_.wait(lock, [&] { return pending_.load(std::memory_order_acquire) == 0; });
      }
    }
  }

 private:
  void start(int threads) {
    threads_ = threads;
    quit_ = false;
    // The generation is read here, not in the new thread: a job posted before the thread first
    // runs must still count as new to it.
    const uint64_t seen = generation_.load(std::memory_order_acquire);
    for (int i = 1; i < threads; ++i) workers_.emplace_back([this, i, seen] { worker_loop(i, seen); });
  }

  void stop() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      quit_ = true;
      generation_.fetch_add(1, std::memory_order_release);
    }
    wake_.notify_all();
    for (std::thread& t : workers_) t.join();
    workers_.clear();
  }

  void work(int thread) {
    t_in_pool_task = true;
    for (;;) {
      const int64_t task = next_.fetch_add(1, std::memory_order_relaxed);
      if (task >= n_tasks_) break;
      fn_(ctx_, task, thread);
    }
    t_in_pool_task = false;
  }

  void worker_loop(int thread, uint64_t seen) {
    for (;;) {
      // Spin for a short while: back-to-back kernels (a forward pass) then start without a wake-up.
      for (int spin = 0; spin < 20000 && generation_.load(std::memory_order_acquire) == seen; ++spin) LLMC_PAUSE();
      if (generation_.load(std::memory_order_acquire) == seen) {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [&] { return generation_.load(std::memory_order_acquire) != seen; });
      }
      seen = generation_.load(std::memory_order_acquire);
      if (quit_) return;
      work(thread);
      if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
        std::lock_guard<std::mutex> lock(mutex_);
        done_.notify_one();
      }
    }
  }

  std::mutex run_mutex_;  // one job at a time
  std::mutex mutex_;      // guards sleeping and waking
  std::condition_variable wake_, done_;
  std::vector<std::thread> workers_;
  std::atomic<int> threads_{1};
  bool quit_ = false;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int64_t> next_{0};
  std::atomic<int> pending_{0};
  TaskFn fn_ = nullptr;
  void* ctx_ = nullptr;
  int64_t n_tasks_ = 0;
};

Pool& pool() {
  static Pool* p = new Pool();  // never destroyed: workers may outlive static destruction order
  return *p;
}

}  // namespace

void parallel_for(int64_t n_tasks, TaskFn fn, void* ctx) { pool().run(n_tasks, fn, ctx); }

int pool_threads() { return pool().threads(); }

}  // namespace llmc

extern "C" int llmc_threads(void) { return llmc::pool_threads(); }

extern "C" llmc_status llmc_set_threads(int threads) {
  if (threads < 1 || threads > 1024)
    return llmc::fail(LLMC_INVALID_ARGUMENT, "threads must be an integer in 1..1024, got %d", threads);
  llmc::pool().resize(threads);
  return LLMC_OK;
}
