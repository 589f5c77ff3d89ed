// ThreadPool: a fixed set of threads that run data-parallel loops with low wake-up latency.
//
// Threading model: one caller at a time submits work with Run(); the calling thread takes part as
// thread 0, so a pool of size N owns N-1 worker threads. Workers spin briefly after each job
// (decode issues hundreds of small jobs per token), then sleep on a condition variable. Run() returns
// only after every thread has finished the job, so the job may reference the caller's stack.
// Run() is not reentrant and must not be called concurrently from two threads (checked).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace mint {

class ThreadPool {
 public:
  // n_threads >= 1 is the total parallelism including the caller.
  explicit ThreadPool(int n_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return n_threads_; }

  // Runs fn(ith, nth) once on each of the nth = size() threads, ith in [0, nth). Blocks until all
  // are done.
  void Run(const std::function<void(int ith, int nth)>& fn);

  // Splits [0, n) into contiguous chunks, at most one per thread, and calls fn(begin, end) on each
  // non-empty chunk. `grain` is the smallest chunk worth a thread.
  void ParallelFor(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

  // The number of hardware threads available to this process (at least 1).
  static int HardwareThreads();

 private:
  void WorkerLoop(int ith);
  void Wake();

  const int n_threads_;
  std::vector<std::thread> workers_;
  const std::function<void(int, int)>* job_ = nullptr;  // valid while a Run() is in flight
  std::atomic<uint32_t> generation_{0};  // bumped once per Run(); workers wait on it
  std::atomic<int> pending_{0};          // workers yet to finish the current job
  std::atomic<bool> stop_{false};
  std::atomic<bool> in_run_{false};
  // Sleeping workers wait on cv_; Wake() takes mu_ so a bump of generation_ is never missed.
  std::mutex mu_;
  std::condition_variable cv_;
};

}  // namespace mint
