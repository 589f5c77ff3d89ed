#include "router/in_flight.h"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <vector>

#include "blocks.h"

namespace mint::router {
namespace {

TEST(InFlightPrefixesTest, SharedPrefixesAreCountedUntilTheLastRequestLeaves) {
  InFlightPrefixes f;
  f.Add(1, 7, Blocks(100, 6));
  f.Add(2, 7, Blocks(100, 4));  // the same prefix on the same worker
  f.Add(3, 8, Blocks(100, 2));
  OverlapScores o;
  f.FindMatches(Blocks(100, 10), &o);
  EXPECT_EQ(o.Get(7), 6u);
  EXPECT_EQ(o.Get(8), 2u);
  f.Remove(1);
  f.FindMatches(Blocks(100, 10), &o);
  EXPECT_EQ(o.Get(7), 4u);  // request 2 still holds its four
  f.Remove(2);
  f.Remove(2);   // idempotent
  f.Remove(99);  // unknown
  f.FindMatches(Blocks(100, 10), &o);
  EXPECT_EQ(o.Get(7), 0u);
  EXPECT_EQ(o.Get(8), 2u);
  f.RemoveWorker(8);
  EXPECT_EQ(f.num_requests(), 0u);
  f.FindMatches(Blocks(100, 10), &o);
  EXPECT_TRUE(o.scores.empty());
}

TEST(InFlightPrefixesTest, AReusedIdReplacesItsRecord) {
  InFlightPrefixes f;
  f.Add(1, 7, Blocks(100, 6));
  f.Add(1, 8, Blocks(200, 3));
  OverlapScores o;
  f.FindMatches(Blocks(100, 6), &o);
  EXPECT_TRUE(o.scores.empty());
  f.FindMatches(Blocks(200, 3), &o);
  EXPECT_EQ(o.Get(8), 3u);
  EXPECT_EQ(f.num_requests(), 1u);
}

// Property: after any sequence of adds and removes, each worker's overlap equals a brute force
// over the live requests (the longest prefix of the query that one live request on that worker
// has, or several together: blocks are chained, so a block present means its prefix is too).
TEST(InFlightPrefixesTest, MatchesBruteForceOverRandomOperations) {
  std::mt19937_64 rng(3);
  InFlightPrefixes f;
  std::map<uint64_t, std::pair<WorkerId, std::vector<BlockHash>>> live;
  for (int step = 0; step < 3000; ++step) {
    const uint64_t id = rng() % 40;
    if (rng() % 3 == 0) {
      f.Remove(id);
      live.erase(id);
    } else {
      const WorkerId w = rng() % 4;
      // Chains share roots: prefix families 0..2, lengths 1..12.
      const std::vector<BlockHash> h = Blocks(1000 * (rng() % 3), 1 + rng() % 12);
      f.Add(id, w, h);
      live[id] = {w, h};
    }
    const std::vector<BlockHash> q = Blocks(1000 * (rng() % 3), 12);
    OverlapScores o;
    f.FindMatches(q, &o);
    for (WorkerId w = 0; w < 4; ++w) {
      uint32_t want = 0;
      for (const auto& [rid, rec] : live) {
        if (rec.first != w) continue;
        uint32_t n = 0;
        while (n < rec.second.size() && rec.second[n] == q[n]) ++n;
        want = std::max(want, n);
      }
      ASSERT_EQ(o.Get(w), want) << "step " << step << " worker " << w;
    }
  }
}

TEST(MaxOverlapsTest, MergesByWorker) {
  const OverlapScores a{{{1, 5}, {3, 2}, {4, 9}}};
  const OverlapScores b{{{2, 1}, {3, 7}, {4, 4}, {6, 3}}};
  OverlapScores out;
  MaxOverlaps(a, b, &out);
  ASSERT_EQ(out.scores.size(), 5u);
  const std::vector<std::pair<WorkerId, uint32_t>> want = {{1, 5}, {2, 1}, {3, 7}, {4, 9}, {6, 3}};
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(out.scores[i].worker, want[i].first);
    EXPECT_EQ(out.scores[i].blocks, want[i].second);
  }
  MaxOverlaps(OverlapScores{}, b, &out);
  EXPECT_EQ(out.scores.size(), b.scores.size());
}

}  // namespace
}  // namespace mint::router
