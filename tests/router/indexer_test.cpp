// Indexer against a brute-force model: per worker the set of hashes it holds; a worker's overlap
// with a request = its leading run of held hashes.
#include "router/indexer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>

#include "blocks.h"
#include "core/hash.h"

namespace mint::router {
namespace {

using Kind = KvCacheEvent::Kind;

KvCacheEvent Stored(std::vector<BlockHash> hashes, std::optional<BlockHash> parent = std::nullopt,
                    uint64_t id = 0) {
  return KvCacheEvent{
      .id = id, .kind = Kind::kStored, .block_hashes = std::move(hashes), .parent_hash = parent};
}
KvCacheEvent Removed(std::vector<BlockHash> hashes, uint64_t id = 0) {
  return KvCacheEvent{.id = id, .kind = Kind::kRemoved, .block_hashes = std::move(hashes)};
}
KvCacheEvent Cleared(uint64_t id = 0) { return KvCacheEvent{.id = id, .kind = Kind::kCleared}; }

TEST(IndexerTest, BasicOverlap) {
  Indexer idx;
  idx.Apply(1, Stored({10, 11, 12}));
  idx.Apply(2, Stored({10, 11}));
  idx.Apply(2, Stored({20}, 11));  // a sibling branch
  const std::vector<BlockHash> req = {10, 11, 12, 13};
  const OverlapScores s = idx.FindMatches(req);
  EXPECT_EQ(s.Get(1), 3u);
  EXPECT_EQ(s.Get(2), 2u);
  EXPECT_EQ(s.Get(3), 0u);
  ASSERT_EQ(s.scores.size(), 2u);
  EXPECT_EQ(s.scores[0].worker, 1u);  // sorted by worker
  EXPECT_EQ(idx.num_blocks(), 4u);
  EXPECT_EQ(idx.num_worker_blocks(), 6u);
}

TEST(IndexerTest, RemovedInnerBlockStopsThatWorkerOnly) {
  Indexer idx;
  idx.Apply(1, Stored({1, 2, 3}));
  idx.Apply(2, Stored({1, 2, 3}));
  idx.Apply(1, Removed({2}));  // a block with a cached child
  const std::vector<BlockHash> req = {1, 2, 3};
  const OverlapScores s = idx.FindMatches(req);
  EXPECT_EQ(s.Get(1), 1u);
  EXPECT_EQ(s.Get(2), 3u);
  EXPECT_TRUE(idx.HasBlock(1, 3));
  EXPECT_EQ(idx.num_blocks(), 3u);  // node 2 stays: worker 2 holds it
  idx.Apply(2, Removed({2}));
  EXPECT_EQ(idx.num_blocks(), 2u);
}

TEST(IndexerTest, UnknownParentStillIndexed) {
  Indexer idx;
  idx.Apply(1, Stored({50, 51}, /*parent=*/999));
  const std::vector<BlockHash> req = {50, 51};
  EXPECT_EQ(idx.FindMatches(req).Get(1), 2u);
}

TEST(IndexerTest, ClearedAndRemoveWorker) {
  Indexer idx;
  idx.Apply(1, Stored({1, 2}));
  idx.Apply(2, Stored({1}));
  idx.Apply(1, Cleared());
  EXPECT_EQ(idx.WorkerBlockCount(1), 0u);
  EXPECT_EQ(idx.num_blocks(), 1u);
  EXPECT_EQ(idx.Workers(), (std::vector<WorkerId>{1, 2}));
  idx.RemoveWorker(2);
  EXPECT_EQ(idx.num_blocks(), 0u);
  EXPECT_EQ(idx.Workers(), (std::vector<WorkerId>{1}));
  const std::vector<BlockHash> req = {1};
  EXPECT_TRUE(idx.FindMatches(req).scores.empty());
}

TEST(IndexerTest, EventIdsDetectGapsAndStaleEvents) {
  Indexer idx;
  EXPECT_EQ(idx.Apply(1, Stored({1}, std::nullopt, 1)), Indexer::ApplyOutcome::kApplied);
  EXPECT_EQ(idx.Apply(1, Stored({2}, 1, 2)), Indexer::ApplyOutcome::kApplied);
  EXPECT_EQ(idx.Apply(1, Stored({2}, 1, 2)), Indexer::ApplyOutcome::kSkippedStale);
  EXPECT_EQ(idx.Apply(1, Stored({3}, 2, 5)), Indexer::ApplyOutcome::kAppliedAfterGap);
  EXPECT_EQ(idx.LastEventId(1), 5u);
  EXPECT_EQ(idx.LastEventId(9), std::nullopt);
  // A snapshot resets the sequence: events it includes are stale, the next one is in order.
  const std::vector<KvCacheEvent> snap = {Stored({7}), Stored({8}, 7)};
  idx.LoadSnapshot(1, snap, 10);
  EXPECT_FALSE(idx.HasBlock(1, 1));
  EXPECT_TRUE(idx.HasBlock(1, 8));
  EXPECT_EQ(idx.Apply(1, Removed({8}, 10)), Indexer::ApplyOutcome::kSkippedStale);
  EXPECT_TRUE(idx.HasBlock(1, 8));
  EXPECT_EQ(idx.Apply(1, Removed({8}, 11)), Indexer::ApplyOutcome::kApplied);
  EXPECT_FALSE(idx.HasBlock(1, 8));
  // Id 0 is never checked.
  EXPECT_EQ(idx.Apply(1, Stored({9})), Indexer::ApplyOutcome::kApplied);
}

TEST(IndexerTest, MoreThan256WorkersAndSlotReuse) {
  Indexer idx;
  for (WorkerId w = 0; w < 300; ++w) idx.Apply(w, Stored(Blocks(1, 1 + w % 7)));
  const std::vector<BlockHash> req = Blocks(1, 10);
  OverlapScores s = idx.FindMatches(req);
  ASSERT_EQ(s.scores.size(), 300u);
  for (WorkerId w = 0; w < 300; ++w) EXPECT_EQ(s.Get(w), 1 + w % 7) << w;
  for (WorkerId w = 0; w < 300; w += 2) idx.RemoveWorker(w);
  idx.Apply(1000, Stored(Blocks(1, 10)));  // takes a freed slot
  s = idx.FindMatches(req);
  EXPECT_EQ(s.scores.size(), 151u);
  EXPECT_EQ(s.Get(1000), 10u);
  EXPECT_EQ(s.Get(0), 0u);
  EXPECT_EQ(s.Get(299), 1 + 299 % 7);
}

TEST(IndexerTest, RealChainedHashes) {
  std::vector<uint32_t> tokens(64);
  for (size_t i = 0; i < tokens.size(); ++i) tokens[i] = static_cast<uint32_t>(i * 7);
  const std::vector<BlockHash> full = SequenceBlockHashes(tokens, 16);
  ASSERT_EQ(full.size(), 4u);
  tokens[40] = 1;  // diverges in block 2
  const std::vector<BlockHash> other = SequenceBlockHashes(tokens, 16);
  Indexer idx;
  idx.Apply(3, Stored(full));
  EXPECT_EQ(idx.FindMatches(other).Get(3), 2u);
  EXPECT_EQ(idx.FindMatches(full).Get(3), 4u);
}

// ---- property test ----

struct Tree {
  std::vector<BlockHash> hash;
  std::vector<int> parent;  // -1 = root block
  std::vector<BlockHash> PathTo(int v) const {
    std::vector<BlockHash> path;
    for (; v >= 0; v = parent[v]) path.push_back(hash[v]);
    std::reverse(path.begin(), path.end());
    return path;
  }
};

Tree RandomTree(std::mt19937_64& rng, int nodes) {
  Tree t;
  for (int i = 0; i < nodes; ++i) {
    const int parent = (i == 0 || rng() % 8 == 0) ? -1 : static_cast<int>(rng() % i);
    const BlockHash local = rng();
    t.parent.push_back(parent);
    // Real chaining; occasionally a tiny hash (and 0) to exercise those table paths.
    t.hash.push_back(rng() % 50 == 0 ? rng() % 4
                                     : SequenceBlockHash(parent < 0 ? 0 : t.hash[parent], local));
  }
  return t;
}

class Model {
 public:
  void Stored(WorkerId w, std::span<const BlockHash> h) { held_[w].insert(h.begin(), h.end()); }
  void Removed(WorkerId w, std::span<const BlockHash> h) {
    for (BlockHash x : h) held_[w].erase(x);
  }
  void Cleared(WorkerId w) { held_[w].clear(); }
  void RemoveWorker(WorkerId w) { held_.erase(w); }
  std::map<WorkerId, uint32_t> Overlaps(std::span<const BlockHash> req) const {
    std::map<WorkerId, uint32_t> out;
    for (const auto& [w, set] : held_) {
      uint32_t n = 0;
      while (n < req.size() && set.count(req[n])) ++n;
      if (n > 0) out[w] = n;
    }
    return out;
  }
  size_t DistinctBlocks() const {
    std::set<BlockHash> all;
    for (const auto& [w, set] : held_) all.insert(set.begin(), set.end());
    return all.size();
  }
  const std::set<BlockHash>& Held(WorkerId w) { return held_[w]; }

 private:
  std::map<WorkerId, std::set<BlockHash>> held_;
};

void RunProperty(uint64_t seed, int num_workers, int steps) {
  std::mt19937_64 rng(seed);
  const Tree tree = RandomTree(rng, 400);
  Indexer idx;
  Model model;
  auto worker = [&] { return static_cast<WorkerId>(1000 + rng() % num_workers); };
  size_t matched = 0, deep_matches = 0;  // the comparisons must not be trivially empty
  for (int step = 0; step < steps; ++step) {
    const WorkerId w = worker();
    const int op = static_cast<int>(rng() % 100);
    if (op < 50) {  // Stored: the last 1..6 blocks of a root path
      const std::vector<BlockHash> path = tree.PathTo(static_cast<int>(rng() % tree.hash.size()));
      const size_t len = std::min<size_t>(path.size(), 1 + rng() % 6);
      const size_t first = path.size() - len;
      std::vector<BlockHash> chain(path.begin() + first, path.end());
      std::optional<BlockHash> parent;
      if (first > 0) parent = path[first - 1];
      idx.Apply(w, Stored(chain, parent));
      model.Stored(w, chain);
    } else if (op < 70) {  // Removed of leaves (held blocks with no held child)
      std::vector<BlockHash> leaves;
      const std::set<BlockHash>& held = model.Held(w);
      for (size_t v = 0; v < tree.hash.size(); ++v) {
        if (!held.count(tree.hash[v])) continue;
        bool has_child = false;
        for (size_t c = 0; c < tree.hash.size() && !has_child; ++c) {
          has_child = tree.parent[c] == static_cast<int>(v) && held.count(tree.hash[c]);
        }
        if (!has_child && rng() % 2 == 0) leaves.push_back(tree.hash[v]);
      }
      idx.Apply(w, Removed(leaves));
      model.Removed(w, leaves);
    } else if (op < 85) {  // Removed of random blocks (held or not)
      std::vector<BlockHash> some;
      for (int i = 0; i < 3; ++i) some.push_back(tree.hash[rng() % tree.hash.size()]);
      idx.Apply(w, Removed(some));
      model.Removed(w, some);
    } else if (op < 90) {
      idx.Apply(w, Cleared());
      model.Cleared(w);
    } else if (op < 94) {
      idx.RemoveWorker(w);
      model.RemoveWorker(w);
    } else {  // snapshot: random nodes (tree order is parents first), single-block events
      std::vector<KvCacheEvent> snap;
      std::vector<BlockHash> blocks;
      for (size_t v = 0; v < tree.hash.size(); ++v) {
        if (rng() % 10 != 0) continue;
        std::optional<BlockHash> parent;
        if (tree.parent[v] >= 0) parent = tree.hash[tree.parent[v]];
        snap.push_back(Stored({tree.hash[v]}, parent));
        blocks.push_back(tree.hash[v]);
      }
      idx.LoadSnapshot(w, snap, 0);
      model.Cleared(w);
      model.Stored(w, blocks);
    }
    ASSERT_EQ(idx.num_blocks(), model.DistinctBlocks()) << "step " << step;
    for (int q = 0; q < 4; ++q) {
      std::vector<BlockHash> req = tree.PathTo(static_cast<int>(rng() % tree.hash.size()));
      const int tail = static_cast<int>(rng() % 3);
      for (int i = 0; i < tail; ++i) req.push_back(rng());
      const std::map<WorkerId, uint32_t> want = model.Overlaps(req);
      const OverlapScores got = idx.FindMatches(req);
      ASSERT_EQ(got.scores.size(), want.size()) << "step " << step;
      for (const WorkerOverlap& s : got.scores) {
        ASSERT_EQ(s.blocks, want.at(s.worker)) << "step " << step << " worker " << s.worker;
        ++matched;
        deep_matches += s.blocks >= 3;
      }
    }
  }
  EXPECT_GT(matched, static_cast<size_t>(steps));
  EXPECT_GT(deep_matches, static_cast<size_t>(steps) / 10);
}

TEST(IndexerPropertyTest, FewWorkers) { RunProperty(1, 3, 3000); }
TEST(IndexerPropertyTest, EightWorkers) { RunProperty(2, 8, 3000); }
// More than 64 workers: multi-word bitsets, slot reuse after RemoveWorker.
TEST(IndexerPropertyTest, ManyWorkers) { RunProperty(3, 150, 3000); }

}  // namespace
}  // namespace mint::router
