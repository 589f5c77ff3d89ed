#include "router/approx_indexer.h"

#include <gtest/gtest.h>

namespace mint::router {
namespace {

constexpr int64_t kSecond = 1'000'000'000;

TEST(ApproxIndexerTest, PredictsRoutedBlocksUntilTtl) {
  FakeClock clock;
  ApproxIndexer idx({.ttl_seconds = 10, .max_blocks_per_worker = 100}, &clock);
  const std::vector<BlockHash> req = {1, 2, 3};
  idx.RecordRouted(7, req);
  EXPECT_EQ(idx.FindMatches(req).Get(7), 3u);
  clock.AdvanceNanos(9 * kSecond);
  EXPECT_EQ(idx.FindMatches(req).Get(7), 3u);
  clock.AdvanceNanos(1 * kSecond);  // deadline reached
  EXPECT_EQ(idx.FindMatches(req).Get(7), 0u);
  EXPECT_EQ(idx.WorkerBlockCount(7), 0u);
  EXPECT_EQ(idx.num_blocks(), 0u);
}

TEST(ApproxIndexerTest, RerouteRefreshesDeadline) {
  FakeClock clock;
  ApproxIndexer idx({.ttl_seconds = 10, .max_blocks_per_worker = 100}, &clock);
  const std::vector<BlockHash> a = {1, 2, 3};
  const std::vector<BlockHash> b = {1, 2};
  idx.RecordRouted(7, a);
  clock.AdvanceNanos(6 * kSecond);
  idx.RecordRouted(7, b);  // refreshes 1 and 2 only
  clock.AdvanceNanos(6 * kSecond);
  EXPECT_EQ(idx.FindMatches(a).Get(7), 2u);  // 3 expired, 1 and 2 live until t = 16 s
  clock.AdvanceNanos(4 * kSecond);
  EXPECT_EQ(idx.FindMatches(a).Get(7), 0u);
}

TEST(ApproxIndexerTest, SizeBoundEvictsLeastRecentTailFirst) {
  FakeClock clock;
  ApproxIndexer idx({.ttl_seconds = 100, .max_blocks_per_worker = 4}, &clock);
  const std::vector<BlockHash> a = {1, 2, 3};
  const std::vector<BlockHash> b = {10, 11};
  idx.RecordRouted(7, a);
  idx.RecordRouted(7, b);  // 5 blocks > 4: the oldest, least recent of a goes: its tail, 3
  EXPECT_EQ(idx.WorkerBlockCount(7), 4u);
  EXPECT_EQ(idx.FindMatches(a).Get(7), 2u);
  EXPECT_EQ(idx.FindMatches(b).Get(7), 2u);
  idx.RecordRouted(7, a);  // a becomes most recent again: 3 back, b's tail (11) out
  EXPECT_EQ(idx.FindMatches(a).Get(7), 3u);
  EXPECT_EQ(idx.FindMatches(b).Get(7), 1u);
  // Other workers are bounded separately.
  idx.RecordRouted(8, b);
  EXPECT_EQ(idx.FindMatches(b).Get(8), 2u);
  EXPECT_EQ(idx.WorkerBlockCount(7), 4u);
}

TEST(ApproxIndexerTest, RemoveWorker) {
  FakeClock clock;
  ApproxIndexer idx({}, &clock);
  const std::vector<BlockHash> a = {1, 2};
  idx.RecordRouted(7, a);
  idx.RecordRouted(8, a);
  idx.RemoveWorker(7);
  const OverlapScores s = idx.FindMatches(a);
  EXPECT_EQ(s.Get(7), 0u);
  EXPECT_EQ(s.Get(8), 2u);
}

}  // namespace
}  // namespace mint::router
