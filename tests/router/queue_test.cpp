#include "router/queue.h"

#include <gtest/gtest.h>

#include <random>
#include <vector>

namespace mint::router {
namespace {

std::vector<uint64_t> Drain(RouterQueue& q, double now) {
  std::vector<uint64_t> out;
  while (auto id = q.Pop(now)) out.push_back(*id);
  return out;
}

TEST(RouterQueueTest, FcfsReleasesInArrivalOrder) {
  RouterQueue q(QueuePolicy::kFcfs);
  q.Push(1, 0.0, 5.0);
  q.Push(2, 0.1, 0.1);
  q.Push(3, 0.1, 9.0);  // same arrival as 2: push order
  EXPECT_EQ(Drain(q, 1.0), (std::vector<uint64_t>{1, 2, 3}));
  EXPECT_FALSE(q.Pop(1.0).has_value());
}

TEST(RouterQueueTest, WsptReleasesTheShortestPredictedPrefillFirst) {
  RouterQueue q(QueuePolicy::kWspt, /*max_age_s=*/10);
  q.Push(1, 0.0, 0.8);
  q.Push(2, 0.1, 0.2);
  q.Push(3, 0.2, 0.5);
  q.Push(4, 0.3, 0.2);  // ties with 2: first pushed first
  EXPECT_EQ(Drain(q, 1.0), (std::vector<uint64_t>{2, 4, 3, 1}));
}

TEST(RouterQueueTest, WsptMinimizesMeanWaitOverFcfs) {
  // Five jobs all held at 0, released one at a time, each taking its predicted time: the mean
  // completion time under WSPT is the minimum (Smith's rule), below FCFS's.
  const std::vector<double> work = {4, 1, 3, 0.5, 2};
  auto mean_completion = [&](QueuePolicy p) {
    RouterQueue q(p, 100);
    for (uint64_t i = 0; i < work.size(); ++i) q.Push(i, 0, work[i]);
    double t = 0, sum = 0;
    for (uint64_t id : Drain(q, 0)) sum += (t += work[id]);
    return sum / static_cast<double>(work.size());
  };
  EXPECT_DOUBLE_EQ(mean_completion(QueuePolicy::kWspt), (0.5 + 1.5 + 3.5 + 6.5 + 10.5) / 5);
  EXPECT_LT(mean_completion(QueuePolicy::kWspt), mean_completion(QueuePolicy::kFcfs));
}

TEST(RouterQueueTest, WsptStarvesNothingPastTheAgeBound) {
  // A long prompt arrives first; short ones keep arriving (two per release). Without the bound
  // it would wait forever; with max_age 5 it leaves by the time it is 5 s old (one release per
  // 0.5 s), before any younger request.
  RouterQueue q(QueuePolicy::kWspt, 5.0);
  q.Push(0, 0.0, 100.0);
  uint64_t next = 1;
  double released_at = -1;
  for (double t = 0.5; t < 20 && released_at < 0; t += 0.5) {
    q.Push(next++, t, 0.1);
    q.Push(next++, t, 0.1);
    if (q.Pop(t) == 0u) released_at = t;
  }
  EXPECT_GE(released_at, 5.0);
  EXPECT_LE(released_at, 5.5);
  // Random arrivals (0, 1 or 2 per release, one release per 0.1 s) and keys: a request waits at
  // most the bound plus one release per request that was ahead of it in the queue.
  std::mt19937_64 rng(5);
  std::uniform_real_distribution<double> key(0, 10);
  std::uniform_int_distribution<int> arrivals(0, 2);
  RouterQueue r(QueuePolicy::kWspt, 3.0);
  std::vector<double> arrival;
  double worst = 0;
  size_t longest = 0;
  for (int step = 0; step < 5000; ++step) {
    const double t = step * 0.1;
    for (int k = arrivals(rng); k > 0; --k) {
      arrival.push_back(t);
      r.Push(arrival.size() - 1, t, key(rng));
    }
    longest = std::max(longest, r.size());
    if (auto id = r.Pop(t)) worst = std::max(worst, t - arrival[*id]);
  }
  EXPECT_GT(worst, 1.0) << "the policy reorders (a long prompt waited)";
  EXPECT_LE(worst, 3.0 + 0.1 * static_cast<double>(longest) + 1e-9);
}

TEST(RouterQueueTest, RemoveAndParse) {
  RouterQueue q(QueuePolicy::kWspt);
  q.Push(1, 0, 1);
  q.Push(2, 0, 2);
  q.Remove(1);
  q.Remove(99);
  EXPECT_EQ(q.size(), 1u);
  EXPECT_EQ(q.Pop(0), 2u);
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(*ParseQueuePolicy("wspt"), QueuePolicy::kWspt);
  EXPECT_EQ(*ParseQueuePolicy("fcfs"), QueuePolicy::kFcfs);
  EXPECT_FALSE(ParseQueuePolicy("lifo").ok());
}

}  // namespace
}  // namespace mint::router
