#include "core/thread_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <numeric>
#include <vector>

namespace mint {
namespace {

TEST(ThreadPoolTest, RunVisitsEveryThreadOnce) {
  for (int n : {1, 2, 3, 8}) {
    ThreadPool pool(n);
    std::vector<std::atomic<int>> hits(n);
    for (int rep = 0; rep < 200; ++rep) {
      pool.Run([&](int ith, int nth) {
        ASSERT_EQ(nth, n);
        hits[ith].fetch_add(1);
      });
    }
    for (int i = 0; i < n; ++i) EXPECT_EQ(hits[i].load(), 200) << "thread " << i;
  }
}

TEST(ThreadPoolTest, ParallelForCoversRangeExactlyOnce) {
  ThreadPool pool(4);
  for (int64_t n : {0, 1, 3, 4, 5, 1000, 1001}) {
    std::vector<std::atomic<int>> seen(n);
    pool.ParallelFor(n, 1, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) seen[i].fetch_add(1);
    });
    for (int64_t i = 0; i < n; ++i) EXPECT_EQ(seen[i].load(), 1) << "n=" << n << " i=" << i;
  }
}

TEST(ThreadPoolTest, ResultsVisibleAfterRun) {
  ThreadPool pool(3);
  std::vector<int64_t> partial(3, 0);
  const int64_t n = 100000;
  pool.Run([&](int ith, int nth) {
    int64_t s = 0;
    for (int64_t i = n * ith / nth; i < n * (ith + 1) / nth; ++i) s += i;
    partial[ith] = s;  // plain write; Run() must publish it to the caller
  });
  EXPECT_EQ(std::accumulate(partial.begin(), partial.end(), int64_t{0}), n * (n - 1) / 2);
}

}  // namespace
}  // namespace mint
