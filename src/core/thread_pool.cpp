#include "core/thread_pool.h"

#include <sched.h>

#include <algorithm>

#include "core/status.h"

#if defined(__x86_64__)
#include <immintrin.h>
#define MINT_CPU_RELAX() _mm_pause()
#else
#define MINT_CPU_RELAX() ((void)0)
#endif

namespace mint {
namespace {
// Spin iterations before a worker sleeps. ~50-100 us on current x86: long enough to bridge the
// gap between consecutive kernels of one forward pass, short enough not to burn an idle server.
constexpr int kSpinIterations = 1 << 15;
}  // namespace

ThreadPool::ThreadPool(int n_threads) : n_threads_(std::max(1, n_threads)) {
  workers_.reserve(n_threads_ - 1);
  for (int i = 1; i < n_threads_; ++i) workers_.emplace_back([this, i] { WorkerLoop(i); });
}

ThreadPool::~ThreadPool() {
  stop_.store(true, std::memory_order_release);
  generation_.fetch_add(1, std::memory_order_acq_rel);
  Wake();
  for (auto& t : workers_) t.join();
}

int ThreadPool::HardwareThreads() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) return std::max(1, CPU_COUNT(&set));
  return std::max(1u, std::thread::hardware_concurrency());
}

void ThreadPool::Run(const std::function<void(int, int)>& fn) {
  if (n_threads_ == 1) {
    fn(0, 1);
    return;
  }
  MINT_CHECK(!in_run_.exchange(true, std::memory_order_acquire));
  job_ = &fn;
  pending_.store(n_threads_ - 1, std::memory_order_relaxed);
  generation_.fetch_add(1, std::memory_order_acq_rel);
  Wake();
  fn(0, n_threads_);
  // Spin while the workers finish (the common case: microseconds); if one of them has been
  // descheduled (more runnable threads than cores), yield the core instead of burning it.
  for (int spin = 0; pending_.load(std::memory_order_acquire) != 0; ++spin) {
    if (spin < kSpinIterations) {
      MINT_CPU_RELAX();
    } else {
      std::this_thread::yield();
    }
  }
  job_ = nullptr;
  in_run_.store(false, std::memory_order_release);
}

void ThreadPool::ParallelFor(int64_t n, int64_t grain,
                             const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  grain = std::max<int64_t>(1, grain);
  const int64_t chunks = std::min<int64_t>(n_threads_, (n + grain - 1) / grain);
  if (chunks <= 1) {
    fn(0, n);
    return;
  }
  Run([&](int ith, int) {
    if (ith >= chunks) return;
    const int64_t begin = n * ith / chunks;
    const int64_t end = n * (ith + 1) / chunks;
    if (begin < end) fn(begin, end);
  });
}

void ThreadPool::Wake() {
  // Taking the lock orders this wake-up after any worker's check-then-wait on cv_.
  { std::lock_guard<std::mutex> lock(mu_); }
  cv_.notify_all();
}

void ThreadPool::WorkerLoop(int ith) {
  uint32_t seen = 0;  // generation_ at construction; a Run() may precede this thread's start
  for (;;) {
    uint32_t now = generation_.load(std::memory_order_acquire);
    for (int spin = 0; now == seen && spin < kSpinIterations; ++spin) {
      MINT_CPU_RELAX();
      now = generation_.load(std::memory_order_acquire);
    }
    if (now == seen) {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return generation_.load(std::memory_order_acquire) != seen; });
      continue;
    }
    seen = now;
    if (stop_.load(std::memory_order_acquire)) return;
    (*job_)(ith, n_threads_);
    pending_.fetch_sub(1, std::memory_order_acq_rel);
  }
}

}  // namespace mint
