#include "engine/block_pool.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <vector>

#include "core/hash.h"
#include "engine/kv_events.h"

namespace mint::engine {
namespace {

constexpr int32_t kBlockSize = 4;

// Tokens of a sequence whose block b is filled with `seed * 1000 + b`: sequences with the same
// seed share every block, different seeds share none.
std::vector<int32_t> Tokens(int32_t seed, int32_t num_blocks, int32_t diverge_at = -1,
                            int32_t other_seed = 0) {
  std::vector<int32_t> tokens;
  for (int32_t b = 0; b < num_blocks; ++b) {
    int32_t s = (diverge_at >= 0 && b >= diverge_at) ? other_seed : seed;
    for (int32_t t = 0; t < kBlockSize; ++t) tokens.push_back(s * 1000 + b);
  }
  return tokens;
}

std::vector<BlockHash> Hashes(const std::vector<int32_t>& tokens, uint64_t salt = 0) {
  std::vector<uint32_t> u(tokens.begin(), tokens.end());
  return SequenceBlockHashes(u, kBlockSize, salt);
}

// Records every event it gets.
class Recorder : public KvEventSink {
 public:
  void OnKvEvent(const KvEvent& event) override { events.push_back(event); }
  std::vector<KvEvent> events;
};

// Replays events into the set of cached hashes, checking ids have no gaps and that every stored
// block's parent is known (the cache holds complete prefixes) and every removed block was stored.
class Replayer : public KvEventSink {
 public:
  void ApplySnapshot(const KvSnapshot& snap) {
    for (const KvEvent& e : snap.blocks) {
      ASSERT_EQ(e.kind, KvEvent::Kind::kStored);
      ASSERT_EQ(e.block_hashes.size(), 1u);
      Store(e);
    }
    last_id = snap.last_event_id;
  }
  void OnKvEvent(const KvEvent& event) override {
    EXPECT_EQ(event.id, last_id + 1) << "gap or reorder in event ids";
    last_id = event.id;
    switch (event.kind) {
      case KvEvent::Kind::kStored:
        Store(event);
        break;
      case KvEvent::Kind::kRemoved:
        EXPECT_FALSE(event.block_hashes.empty());
        for (BlockHash h : event.block_hashes) {
          EXPECT_EQ(cached.erase(h), 1u) << "removed a hash that was not stored";
          parent_of.erase(h);
        }
        break;
      case KvEvent::Kind::kCleared:
        cached.clear();
        parent_of.clear();
        break;
    }
  }
  // Every cached hash has its parent cached too.
  bool CompletePrefixes() const {
    for (const auto& [h, parent] : parent_of) {
      if (parent.has_value() && !cached.contains(*parent)) return false;
    }
    return true;
  }

  uint64_t last_id = 0;
  std::set<BlockHash> cached;
  std::map<BlockHash, std::optional<BlockHash>> parent_of;

 private:
  void Store(const KvEvent& e) {
    EXPECT_FALSE(e.block_hashes.empty());
    EXPECT_EQ(e.token_ids.size(), e.block_hashes.size() * kBlockSize);
    std::optional<BlockHash> parent = e.parent_hash;
    for (BlockHash h : e.block_hashes) {
      if (parent.has_value()) {
        EXPECT_TRUE(cached.contains(*parent)) << "stored a block before its parent";
      }
      EXPECT_TRUE(cached.insert(h).second) << "stored a hash twice";
      parent_of[h] = parent;
      parent = h;
    }
  }
};

std::set<BlockHash> PoolCachedSet(const BlockPool& pool) {
  std::set<BlockHash> out;
  for (BlockId b = 0; b < pool.config().num_blocks; ++b) {
    if (auto h = pool.CachedHash(b)) {
      EXPECT_TRUE(out.insert(*h).second) << "hash on two blocks";
    }
  }
  return out;
}

BlockPoolConfig Config(int32_t num_blocks) {
  return {.num_blocks = num_blocks, .block_size = kBlockSize};
}

// Allocates a sequence's blocks and commits them all; returns the block ids.
std::vector<BlockId> AllocateAndCommit(BlockPool& pool, const std::vector<int32_t>& tokens) {
  std::vector<BlockHash> hashes = Hashes(tokens, pool.config().salt);
  std::vector<BlockId> blocks;
  EXPECT_TRUE(pool.Allocate(static_cast<int32_t>(hashes.size()), &blocks));
  pool.Commit(blocks, hashes, std::nullopt, tokens);
  return blocks;
}

TEST(BlockPoolTest, KvEventKindNames) {
  EXPECT_STREQ(KvEventKindName(KvEvent::Kind::kStored), "Stored");
  EXPECT_STREQ(KvEventKindName(KvEvent::Kind::kRemoved), "Removed");
  EXPECT_STREQ(KvEventKindName(KvEvent::Kind::kCleared), "Cleared");
}

TEST(BlockPoolTest, AllocateReleaseAccounting) {
  BlockPool pool(Config(8));
  EXPECT_EQ(pool.num_free(), 8);
  std::vector<BlockId> a, b;
  ASSERT_TRUE(pool.Allocate(3, &a));
  ASSERT_TRUE(pool.Allocate(2, &b));
  EXPECT_EQ(a, (std::vector<BlockId>{0, 1, 2}));
  EXPECT_EQ(b, (std::vector<BlockId>{3, 4}));
  BlockPoolStats s = pool.Stats();
  EXPECT_EQ(s.num_blocks, 8);
  EXPECT_EQ(s.used, 5);
  EXPECT_EQ(s.free, 3);
  EXPECT_EQ(s.cached, 0);
  EXPECT_EQ(s.evictable, 0);
  EXPECT_DOUBLE_EQ(s.usage(), 5.0 / 8);
  for (BlockId id : a) EXPECT_EQ(pool.RefCount(id), 1);
  ASSERT_TRUE(pool.Allocate(0, &b));
  EXPECT_EQ(b.size(), 2u);

  pool.Release(a);
  EXPECT_EQ(pool.num_free(), 6);
  EXPECT_EQ(pool.Stats().used, 2);
  for (BlockId id : a) EXPECT_EQ(pool.RefCount(id), 0);
  // Released uncached blocks are reused.
  std::vector<BlockId> c;
  ASSERT_TRUE(pool.Allocate(6, &c));
  EXPECT_EQ(pool.num_free(), 0);
  std::sort(c.begin(), c.end());
  EXPECT_EQ(c, (std::vector<BlockId>{0, 1, 2, 5, 6, 7}));
  pool.Release(b);
  pool.Release(c);
  EXPECT_EQ(pool.num_free(), 8);
  EXPECT_EQ(pool.Stats().used, 0);
}

TEST(BlockPoolTest, AllocateFailureChangesNothing) {
  BlockPool pool(Config(6));
  Recorder rec;
  pool.AddSubscriber(&rec);
  std::vector<BlockId> seq = AllocateAndCommit(pool, Tokens(1, 3));
  pool.Release(seq);  // 3 evictable
  std::vector<BlockId> held;
  ASSERT_TRUE(pool.Allocate(2, &held));  // from the free list, no eviction
  const BlockPoolStats before = pool.Stats();
  const size_t events_before = rec.events.size();
  const std::set<BlockHash> cached_before = PoolCachedSet(pool);
  EXPECT_EQ(pool.num_free(), 4);

  std::vector<BlockId> out = {42};
  EXPECT_FALSE(pool.Allocate(5, &out));
  EXPECT_EQ(out, (std::vector<BlockId>{42}));
  const BlockPoolStats after = pool.Stats();
  EXPECT_EQ(after.used, before.used);
  EXPECT_EQ(after.cached, before.cached);
  EXPECT_EQ(after.evictable, before.evictable);
  EXPECT_EQ(after.free, before.free);
  EXPECT_EQ(after.evictions, before.evictions);
  EXPECT_EQ(rec.events.size(), events_before);
  EXPECT_EQ(PoolCachedSet(pool), cached_before);
  // Exactly the free count still succeeds (evicting all 3 cached blocks).
  EXPECT_TRUE(pool.Allocate(4, &out));
  EXPECT_EQ(pool.num_free(), 0);
  EXPECT_EQ(pool.Stats().cached, 0);
}

TEST(BlockPoolTest, AcquireCachedTakesLongestCachedPrefix) {
  BlockPool pool(Config(16));
  std::vector<int32_t> tokens = Tokens(1, 3);
  std::vector<BlockId> seq = AllocateAndCommit(pool, tokens);
  EXPECT_EQ(pool.Stats().cached, 3);

  // Shares two blocks, then diverges; the 4th hash is cached-looking only by chain.
  std::vector<BlockHash> query = Hashes(Tokens(1, 4, /*diverge_at=*/2, /*other_seed=*/2));
  EXPECT_EQ(pool.CountCached(query), 2);
  EXPECT_EQ(pool.Stats().lookup_blocks, 0u);  // CountCached counts nothing

  std::vector<BlockId> got = pool.AcquireCached(query);
  EXPECT_EQ(got, (std::vector<BlockId>{seq[0], seq[1]}));
  EXPECT_EQ(pool.RefCount(seq[0]), 2);
  EXPECT_EQ(pool.RefCount(seq[2]), 1);
  BlockPoolStats s = pool.Stats();
  EXPECT_EQ(s.lookup_blocks, 4u);
  EXPECT_EQ(s.hit_blocks, 2u);
  EXPECT_DOUBLE_EQ(s.hit_rate(), 0.5);

  // A miss in the middle stops the prefix even if later hashes are cached.
  std::vector<BlockHash> full = Hashes(tokens);
  std::vector<BlockHash> holed = {full[0], 12345, full[2]};
  EXPECT_EQ(pool.CountCached(holed), 1);
  got = pool.AcquireCached(holed);
  EXPECT_EQ(got, (std::vector<BlockId>{seq[0]}));
  s = pool.Stats();
  EXPECT_EQ(s.lookup_blocks, 7u);
  EXPECT_EQ(s.hit_blocks, 3u);
  EXPECT_EQ(pool.RefCount(seq[0]), 3);

  // A different salt names different blocks.
  EXPECT_EQ(pool.CountCached(Hashes(tokens, /*salt=*/7)), 0);
}

TEST(BlockPoolTest, EvictableBlocksAreReusedByAcquireCached) {
  BlockPool pool(Config(4));
  std::vector<int32_t> tokens = Tokens(1, 2);
  std::vector<BlockId> seq = AllocateAndCommit(pool, tokens);
  pool.Release(seq);
  EXPECT_EQ(pool.Stats().evictable, 2);
  EXPECT_EQ(pool.Stats().used, 0);
  EXPECT_EQ(pool.num_free(), 4);

  std::vector<BlockId> got = pool.AcquireCached(Hashes(tokens));
  EXPECT_EQ(got, seq);
  BlockPoolStats s = pool.Stats();
  EXPECT_EQ(s.evictable, 0);
  EXPECT_EQ(s.used, 2);
  EXPECT_EQ(s.cached, 2);
  EXPECT_EQ(pool.num_free(), 2);
  // Referenced cached blocks are not evicted: only the two uncached ones can be allocated.
  std::vector<BlockId> more;
  EXPECT_FALSE(pool.Allocate(3, &more));
  ASSERT_TRUE(pool.Allocate(2, &more));
  EXPECT_EQ(pool.Stats().cached, 2);
  EXPECT_EQ(pool.Stats().evictions, 0u);
  // Released again: evictable again and still reusable.
  pool.Release(got);
  EXPECT_EQ(pool.Stats().evictable, 2);
  EXPECT_EQ(pool.AcquireCached(Hashes(tokens)), seq);
}

TEST(BlockPoolTest, EvictionIsLeastRecentlyReleasedFirst) {
  BlockPool pool(Config(6));
  Recorder rec;
  pool.AddSubscriber(&rec);
  std::vector<int32_t> ta = Tokens(1, 2), tb = Tokens(2, 2), tc = Tokens(3, 2);
  std::vector<BlockId> a = AllocateAndCommit(pool, ta);
  std::vector<BlockId> b = AllocateAndCommit(pool, tb);
  std::vector<BlockId> c = AllocateAndCommit(pool, tc);
  pool.Release(b);
  pool.Release(a);
  pool.Release(c);
  // LRU: b (tail first), a, c. Touching b moves it behind c.
  pool.Release(pool.AcquireCached(Hashes(tb)));
  rec.events.clear();

  std::vector<BlockId> out;
  ASSERT_TRUE(pool.Allocate(1, &out));
  ASSERT_EQ(rec.events.size(), 1u);
  EXPECT_EQ(rec.events[0].kind, KvEvent::Kind::kRemoved);
  EXPECT_EQ(rec.events[0].block_hashes, (std::vector<BlockHash>{Hashes(ta)[1]}));
  EXPECT_EQ(out, (std::vector<BlockId>{a[1]}));

  // One Removed event per Allocate call, listing every eviction in order.
  rec.events.clear();
  ASSERT_TRUE(pool.Allocate(3, &out));
  ASSERT_EQ(rec.events.size(), 1u);
  EXPECT_EQ(rec.events[0].block_hashes,
            (std::vector<BlockHash>{Hashes(ta)[0], Hashes(tc)[1], Hashes(tc)[0]}));
  EXPECT_EQ(pool.Stats().evictions, 4u);
  EXPECT_EQ(pool.CountCached(Hashes(tb)), 2);
  EXPECT_EQ(pool.CountCached(Hashes(ta)), 0);
}

TEST(BlockPoolTest, EvictionIsLeafFirst) {
  BlockPool pool(Config(4));
  std::vector<int32_t> tokens = Tokens(1, 3);
  std::vector<BlockHash> h = Hashes(tokens);
  std::vector<BlockId> seq = AllocateAndCommit(pool, tokens);
  // Release head first, one block at a time: the LRU head is now the root, which has a cached
  // child, so plain LRU would evict it first and leave orphans behind.
  for (BlockId b : seq) pool.Release(std::span<const BlockId>(&b, 1));
  std::vector<BlockId> out;
  ASSERT_TRUE(pool.Allocate(1, &out));  // the never-used block
  for (int i = 2; i >= 0; --i) {
    ASSERT_TRUE(pool.Allocate(1, &out));
    EXPECT_EQ(out.back(), seq[i]);
    EXPECT_EQ(pool.CountCached(h), i) << "a parent went before its child";
  }
}

TEST(BlockPoolTest, ObserversSeeCommittedAndEvictedBlocksWhileTheyAreIntact) {
  BlockPool pool(Config(3));
  struct Seen {
    BlockId block;
    BlockHash hash;
    std::optional<BlockHash> parent;
    bool operator==(const Seen&) const = default;
  };
  std::vector<Seen> committed, evicted;
  pool.SetObservers(
      [&](BlockId b, BlockHash h, std::optional<BlockHash> p) {
        // Called before the block is handed out again: it is still cached under `h`.
        EXPECT_EQ(pool.CachedHash(b), std::optional<BlockHash>(h));
        evicted.push_back({b, h, p});
      },
      [&](BlockId b, BlockHash h, std::optional<BlockHash> p) {
        committed.push_back({b, h, p});
      });
  std::vector<int32_t> tokens = Tokens(1, 3);
  std::vector<BlockHash> h = Hashes(tokens);
  std::vector<BlockId> seq = AllocateAndCommit(pool, tokens);
  ASSERT_EQ(committed,
            (std::vector<Seen>{
                {seq[0], h[0], std::nullopt}, {seq[1], h[1], h[0]}, {seq[2], h[2], h[1]}}));
  EXPECT_TRUE(evicted.empty());
  pool.Release(seq);
  std::vector<BlockId> out;
  ASSERT_TRUE(pool.Allocate(2, &out));  // the tail two, leaf first
  EXPECT_EQ(evicted, (std::vector<Seen>{{seq[2], h[2], h[1]}, {seq[1], h[1], h[0]}}));
  pool.Reset();  // a reset drops blocks without offering them
  EXPECT_EQ(evicted.size(), 2u);
}

TEST(BlockPoolTest, SharedPrefixStaysWhileChildrenAreCached) {
  BlockPool pool(Config(5));
  // Two sequences share block 0 and branch after it.
  std::vector<int32_t> t1 = Tokens(1, 2), t2 = Tokens(1, 2, /*diverge_at=*/1, /*other=*/2);
  std::vector<BlockId> s1 = AllocateAndCommit(pool, t1);
  std::vector<BlockId> shared = pool.AcquireCached(Hashes(t2));
  ASSERT_EQ(shared.size(), 1u);
  std::vector<BlockId> s2 = shared;
  ASSERT_TRUE(pool.Allocate(1, &s2));
  const std::vector<BlockHash> h2 = Hashes(t2);
  pool.Commit(std::span(s2).subspan(1), std::span(h2).subspan(1), h2[0],
              std::span(t2).subspan(kBlockSize));
  EXPECT_EQ(pool.Stats().cached, 3);
  pool.Release(s1);
  pool.Release(s2);
  // Evicting 2 cached blocks must take both leaves, never the shared root.
  std::vector<BlockId> out;
  ASSERT_TRUE(pool.Allocate(4, &out));
  EXPECT_EQ(pool.CountCached(Hashes(t1)), 1);
  EXPECT_EQ(pool.CountCached(Hashes(t2)), 1);
  ASSERT_TRUE(pool.Allocate(1, &out));
  EXPECT_EQ(pool.Stats().cached, 0);
}

TEST(BlockPoolTest, DuplicateHashCommitKeepsOneCachedBlock) {
  BlockPool pool(Config(8));
  Recorder rec;
  pool.AddSubscriber(&rec);
  std::vector<int32_t> tokens = Tokens(1, 2);
  std::vector<BlockHash> h = Hashes(tokens);
  // Two sequences prefilled the same prompt concurrently.
  std::vector<BlockId> a, b;
  ASSERT_TRUE(pool.Allocate(2, &a));
  ASSERT_TRUE(pool.Allocate(2, &b));
  pool.Commit(a, h, std::nullopt, tokens);
  pool.Commit(b, h, std::nullopt, tokens);
  pool.Commit(a, h, std::nullopt, tokens);  // already cached: skipped
  EXPECT_EQ(pool.Stats().cached, 2);
  EXPECT_EQ(pool.CachedHash(a[0]), h[0]);
  EXPECT_EQ(pool.CachedHash(b[0]), std::nullopt);
  EXPECT_EQ(pool.CachedHash(b[1]), std::nullopt);
  ASSERT_EQ(rec.events.size(), 1u);
  EXPECT_EQ(rec.events[0].block_hashes, h);
  EXPECT_EQ(rec.events[0].parent_hash, std::nullopt);
  EXPECT_EQ(rec.events[0].token_ids, tokens);
  EXPECT_EQ(pool.AcquireCached(h), a);
  // The duplicate blocks go straight back to the free list.
  pool.Release(b);
  EXPECT_EQ(pool.Stats().evictable, 0);
  EXPECT_EQ(pool.num_free(), 6);
}

TEST(BlockPoolTest, NoEvictableLeafEvictsSubtreeAndKeepsNumFreeHonest) {
  BlockPool pool(Config(6));
  Replayer replay;
  pool.AddSubscriber(&replay);
  std::vector<int32_t> tokens = Tokens(1, 3);
  std::vector<BlockHash> h = Hashes(tokens);
  std::vector<BlockId> a, b;
  ASSERT_TRUE(pool.Allocate(2, &a));
  ASSERT_TRUE(pool.Allocate(3, &b));
  pool.Commit(a, std::span(h).first(2), std::nullopt, std::span(tokens).first(2 * kBlockSize));
  pool.Commit(b, h, std::nullopt, tokens);  // b[0], b[1] duplicates; b[2] cached under a[1]
  EXPECT_EQ(pool.CachedHash(b[2]), h[2]);
  EXPECT_EQ(pool.CachedHash(b[1]), std::nullopt);
  pool.Release(a);  // a[0], a[1] evictable, but a[1] has a referenced cached child
  EXPECT_EQ(pool.num_free(), 3);
  std::vector<BlockId> out;
  ASSERT_TRUE(pool.Allocate(3, &out));
  EXPECT_EQ(pool.Stats().cached, 0);
  EXPECT_EQ(pool.RefCount(b[2]), 1);  // still allocated, just no longer reusable
  EXPECT_EQ(pool.CachedHash(b[2]), std::nullopt);
  EXPECT_TRUE(replay.cached.empty());
  pool.Release(b);
  pool.Release(out);
  EXPECT_EQ(pool.num_free(), 6);
  EXPECT_EQ(pool.Stats().evictable, 0);
}

TEST(BlockPoolTest, ResetEmitsClearedAndFreesUnreferencedBlocks) {
  BlockPool pool(Config(8));
  Recorder rec;
  pool.AddSubscriber(&rec);
  std::vector<BlockId> held = AllocateAndCommit(pool, Tokens(1, 2));
  std::vector<BlockId> released = AllocateAndCommit(pool, Tokens(2, 3));
  pool.Release(released);
  ASSERT_EQ(pool.Stats().evictable, 3);
  pool.Reset();
  ASSERT_FALSE(rec.events.empty());
  EXPECT_EQ(rec.events.back().kind, KvEvent::Kind::kCleared);
  BlockPoolStats s = pool.Stats();
  EXPECT_EQ(s.cached, 0);
  EXPECT_EQ(s.evictable, 0);
  EXPECT_EQ(s.used, 2);
  EXPECT_EQ(s.free, 6);
  for (BlockId b : held) {
    EXPECT_EQ(pool.RefCount(b), 1);
    EXPECT_EQ(pool.CachedHash(b), std::nullopt);
  }
  EXPECT_EQ(pool.CountCached(Hashes(Tokens(2, 3))), 0);
  EXPECT_TRUE(pool.Snapshot().blocks.empty());
  // Allocating everything free evicts nothing (no Removed after Cleared).
  std::vector<BlockId> out;
  ASSERT_TRUE(pool.Allocate(6, &out));
  EXPECT_EQ(rec.events.back().kind, KvEvent::Kind::kCleared);
  pool.Release(held);
  EXPECT_EQ(pool.num_free(), 2);
}

TEST(BlockPoolTest, CommitUnderUncachedParentCachesNothing) {
  BlockPool pool(Config(8));
  Recorder rec;
  pool.AddSubscriber(&rec);
  std::vector<int32_t> tokens = Tokens(1, 3);
  std::vector<BlockHash> h = Hashes(tokens);
  std::vector<BlockId> seq;
  ASSERT_TRUE(pool.Allocate(3, &seq));
  pool.Commit(std::span(seq).first(1), std::span(h).first(1), std::nullopt,
              std::span(tokens).first(kBlockSize));
  pool.Reset();
  pool.Commit(std::span(seq).subspan(1), std::span(h).subspan(1), h[0],
              std::span(tokens).subspan(kBlockSize));
  EXPECT_EQ(pool.Stats().cached, 0);
  EXPECT_EQ(rec.events.back().kind, KvEvent::Kind::kCleared);
  // The sequence can re-commit from its head.
  pool.Commit(seq, h, std::nullopt, tokens);
  EXPECT_EQ(pool.Stats().cached, 3);
  EXPECT_EQ(rec.events.back().kind, KvEvent::Kind::kStored);
  EXPECT_EQ(rec.events.back().block_hashes, h);
}

TEST(BlockPoolTest, EventIdsAreMonotonicWithoutGaps) {
  BlockPool pool(Config(4));
  Recorder rec;
  pool.AddSubscriber(&rec);
  EXPECT_EQ(pool.last_event_id(), 0u);
  for (int round = 0; round < 5; ++round) {
    std::vector<BlockId> seq = AllocateAndCommit(pool, Tokens(round, 3));  // may evict
    pool.Release(seq);
    if (round == 2) pool.Reset();
  }
  ASSERT_GE(rec.events.size(), 9u);
  for (size_t i = 0; i < rec.events.size(); ++i) EXPECT_EQ(rec.events[i].id, i + 1);
  EXPECT_EQ(pool.last_event_id(), rec.events.size());
  // A removed subscriber hears nothing more.
  pool.RemoveSubscriber(&rec);
  const size_t n = rec.events.size();
  pool.Reset();
  EXPECT_EQ(rec.events.size(), n);
  EXPECT_EQ(pool.last_event_id(), n + 1);
}

TEST(BlockPoolTest, SnapshotListsParentsBeforeChildren) {
  BlockPool pool(Config(16));
  // A tree: root chain of 2, two branches off block 0 and one off block 1; committed in an
  // order that puts children on lower block ids than their parents.
  std::vector<int32_t> trunk = Tokens(1, 2);
  std::vector<BlockId> early;
  ASSERT_TRUE(pool.Allocate(4, &early));  // low ids, used for children later
  std::vector<BlockId> t = AllocateAndCommit(pool, trunk);
  auto branch = [&](int32_t diverge_at, int32_t other, BlockId block) {
    std::vector<int32_t> tokens = Tokens(1, diverge_at + 1, diverge_at, other);
    std::vector<BlockHash> h = Hashes(tokens);
    pool.Commit(std::span(&block, 1), std::span(h).last(1), h[diverge_at - 1],
                std::span(tokens).last(kBlockSize));
  };
  branch(1, 2, early[0]);
  branch(1, 3, early[1]);
  branch(2, 4, early[2]);
  EXPECT_EQ(pool.Stats().cached, 5);
  KvSnapshot snap = pool.Snapshot();
  EXPECT_EQ(snap.last_event_id, pool.last_event_id());
  ASSERT_EQ(snap.blocks.size(), 5u);
  std::set<BlockHash> seen;
  for (const KvEvent& e : snap.blocks) {
    EXPECT_EQ(e.kind, KvEvent::Kind::kStored);
    EXPECT_EQ(e.id, 0u);
    ASSERT_EQ(e.block_hashes.size(), 1u);
    EXPECT_EQ(e.token_ids.size(), static_cast<size_t>(kBlockSize));
    if (e.parent_hash.has_value()) {
      EXPECT_TRUE(seen.contains(*e.parent_hash));
    }
    seen.insert(e.block_hashes[0]);
  }
  EXPECT_EQ(seen, PoolCachedSet(pool));
  EXPECT_EQ(snap.blocks[0].block_hashes[0], Hashes(trunk)[0]);
  EXPECT_EQ(snap.blocks[0].token_ids, std::vector<int32_t>(trunk.begin(), trunk.begin() + 4));
}

TEST(BlockPoolTest, DisabledPrefixCacheCachesNothing) {
  BlockPoolConfig config = Config(4);
  config.enable_prefix_cache = false;
  BlockPool pool(config);
  Recorder rec;
  pool.AddSubscriber(&rec);
  std::vector<int32_t> tokens = Tokens(1, 2);
  std::vector<BlockId> seq = AllocateAndCommit(pool, tokens);
  EXPECT_EQ(pool.Stats().cached, 0);
  EXPECT_TRUE(pool.AcquireCached(Hashes(tokens)).empty());
  EXPECT_EQ(pool.Stats().lookup_blocks, 0u);
  pool.Release(seq);
  EXPECT_EQ(pool.Stats().evictable, 0);
  pool.Reset();
  EXPECT_TRUE(rec.events.empty());
}

TEST(BlockPoolDeathTest, PreconditionViolationsAbort) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  BlockPool pool(Config(4));
  std::vector<BlockId> seq;
  ASSERT_TRUE(pool.Allocate(1, &seq));
  pool.Release(seq);
  EXPECT_DEATH(pool.Release(seq), "MINT_CHECK failed");
  EXPECT_DEATH(pool.RefCount(4), "MINT_CHECK failed");
  std::vector<int32_t> tokens = Tokens(1, 1);
  EXPECT_DEATH(pool.Commit(seq, Hashes(tokens), std::nullopt, tokens), "MINT_CHECK failed");
}

// ---------------------------------------------------------------------------------------------
// Property test: random workloads; a subscriber from the start and late subscribers (snapshot,
// then events) must always agree with what the pool holds.

struct LiveSeq {
  std::vector<int32_t> tokens;  // whole blocks only
  std::vector<BlockHash> hashes;
  std::vector<BlockId> blocks;
  size_t committed = 0;  // blocks [0, committed) committed or acquired
};

class PropertyHarness {
 public:
  PropertyHarness(uint64_t seed, BlockPoolConfig config)
      : rng_(seed), config_(config), pool_(config), model_refs_(config.num_blocks, 0) {
    pool_.AddSubscriber(&replay_);
    // Prefix families: sequences start with a prefix of one of these.
    for (int f = 0; f < 4; ++f) {
      std::vector<int32_t> base;
      for (int i = 0; i < 12 * config_.block_size; ++i) base.push_back(Rand(0, 50));
      families_.push_back(base);
    }
  }
  ~PropertyHarness() {
    for (auto& late : late_) pool_.RemoveSubscriber(late.get());
  }

  void Step(int op_index) {
    int r = Rand(0, 99);
    if (r < 35 || live_.empty()) {
      Start();
    } else if (r < 65) {
      CommitSome();
    } else if (r < 92) {
      ReleaseOne();
    } else if (r < 93) {
      pool_.Reset();
    } else if (r < 95 && late_.size() < 8) {
      AddLateSubscriber();
    } else {
      CommitSome();
    }
    CheckInvariants(op_index);
  }

  void AddLateSubscriber() {
    auto late = std::make_unique<Replayer>();
    late->ApplySnapshot(pool_.Snapshot());
    pool_.AddSubscriber(late.get());
    late_.push_back(std::move(late));
  }

  const BlockPool& pool() const { return pool_; }

 private:
  int Rand(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }

  void Start() {
    LiveSeq s;
    const std::vector<int32_t>& base = families_[Rand(0, static_cast<int>(families_.size()) - 1)];
    int32_t shared_blocks = Rand(0, 10);
    int32_t total_blocks = shared_blocks + Rand(shared_blocks == 0 ? 1 : 0, 4);
    s.tokens.assign(base.begin(), base.begin() + shared_blocks * config_.block_size);
    while (s.tokens.size() < static_cast<size_t>(total_blocks * config_.block_size)) {
      s.tokens.push_back(Rand(0, 3));  // tiny vocabulary: tails collide now and then
    }
    std::vector<uint32_t> u(s.tokens.begin(), s.tokens.end());
    s.hashes = SequenceBlockHashes(u, config_.block_size, config_.salt);
    // Sometimes only the prefix is looked up (a request that extends it later).
    const int num_hashes = static_cast<int>(s.hashes.size());
    const size_t lookup = Rand(0, 3) == 0 ? Rand(0, num_hashes) : num_hashes;
    const BlockPoolStats before = pool_.Stats();
    const int32_t expect_hits = pool_.CountCached(std::span(s.hashes).first(lookup));
    s.blocks = pool_.AcquireCached(std::span(s.hashes).first(lookup));
    ASSERT_EQ(static_cast<int32_t>(s.blocks.size()), expect_hits);
    const BlockPoolStats after_lookup = pool_.Stats();
    ASSERT_EQ(after_lookup.lookup_blocks, before.lookup_blocks + lookup);
    ASSERT_EQ(after_lookup.hit_blocks, before.hit_blocks + s.blocks.size());
    for (size_t i = 0; i < s.blocks.size(); ++i) {
      ASSERT_EQ(pool_.CachedHash(s.blocks[i]), s.hashes[i]);
    }
    s.committed = s.blocks.size();
    for (BlockId b : s.blocks) ++model_refs_[b];

    const int32_t need = total_blocks - static_cast<int32_t>(s.blocks.size());
    const int32_t free_before = pool_.num_free();
    const uint64_t id_before = pool_.last_event_id();
    const std::set<BlockHash> cached_before = PoolCachedSet(pool_);
    std::vector<BlockId> fresh;
    bool ok = pool_.Allocate(need, &fresh);
    ASSERT_EQ(ok, need <= free_before) << "Allocate must succeed iff num_free() suffices";
    if (!ok) {
      ASSERT_TRUE(fresh.empty());
      ASSERT_EQ(pool_.num_free(), free_before);
      ASSERT_EQ(pool_.last_event_id(), id_before);
      ASSERT_EQ(PoolCachedSet(pool_), cached_before);
      Drop(s);
      return;
    }
    ASSERT_EQ(fresh.size(), static_cast<size_t>(need));
    ASSERT_LE(pool_.last_event_id(), id_before + 1) << "one Removed event per Allocate";
    for (BlockId b : fresh) {
      ASSERT_EQ(model_refs_[b], 0) << "allocated a referenced block";
      ASSERT_EQ(pool_.CachedHash(b), std::nullopt);
      ++model_refs_[b];
      s.blocks.push_back(b);
    }
    live_.push_back(std::move(s));
  }

  void CommitSome() {
    if (live_.empty()) return;
    LiveSeq& s = live_[Rand(0, static_cast<int>(live_.size()) - 1)];
    if (s.committed == s.hashes.size()) return;
    const size_t end = Rand(static_cast<int>(s.committed) + 1, static_cast<int>(s.hashes.size()));
    std::optional<BlockHash> parent;
    if (s.committed > 0) parent = s.hashes[s.committed - 1];
    const size_t bs = config_.block_size;
    pool_.Commit(std::span(s.blocks).subspan(s.committed, end - s.committed),
                 std::span(s.hashes).subspan(s.committed, end - s.committed), parent,
                 std::span(s.tokens).subspan(s.committed * bs, (end - s.committed) * bs));
    for (size_t i = s.committed; i < end; ++i) {
      // Committed blocks hold their own hash or none (duplicate / parent gone after a Reset).
      std::optional<BlockHash> h = pool_.CachedHash(s.blocks[i]);
      if (h.has_value()) {
        ASSERT_EQ(*h, s.hashes[i]);
      }
    }
    s.committed = end;
  }

  void ReleaseOne() {
    const size_t i = Rand(0, static_cast<int>(live_.size()) - 1);
    Drop(live_[i]);
    live_.erase(live_.begin() + i);
  }

  void Drop(const LiveSeq& s) {
    pool_.Release(s.blocks);
    for (BlockId b : s.blocks) --model_refs_[b];
  }

  void CheckInvariants(int op_index) {
    SCOPED_TRACE(::testing::Message() << "op " << op_index);
    const std::set<BlockHash> pool_set = PoolCachedSet(pool_);
    ASSERT_EQ(replay_.cached, pool_set);
    ASSERT_TRUE(replay_.CompletePrefixes());
    ASSERT_EQ(replay_.last_id, pool_.last_event_id());
    for (size_t i = 0; i < late_.size(); ++i) {
      ASSERT_EQ(late_[i]->cached, pool_set) << "late subscriber " << i;
      ASSERT_EQ(late_[i]->last_id, pool_.last_event_id());
    }
    int32_t used = 0, evictable = 0;
    for (BlockId b = 0; b < config_.num_blocks; ++b) {
      ASSERT_EQ(pool_.RefCount(b), model_refs_[b]) << "block " << b;
      if (model_refs_[b] > 0) ++used;
      if (model_refs_[b] == 0 && pool_.CachedHash(b).has_value()) ++evictable;
    }
    const BlockPoolStats s = pool_.Stats();
    ASSERT_EQ(s.used, used);
    ASSERT_EQ(s.evictable, evictable);
    ASSERT_EQ(s.cached, static_cast<int32_t>(pool_set.size()));
    ASSERT_EQ(s.free, pool_.num_free());
    ASSERT_EQ(s.free + s.used, config_.num_blocks);
    ASSERT_GE(s.free, s.evictable);
  }

  std::mt19937_64 rng_;
  BlockPoolConfig config_;
  BlockPool pool_;
  std::vector<int32_t> model_refs_;
  Replayer replay_;
  std::vector<std::unique_ptr<Replayer>> late_;
  std::vector<std::vector<int32_t>> families_;
  std::vector<LiveSeq> live_;
};

TEST(BlockPoolPropertyTest, ReplayedEventsMatchPoolUnderRandomWorkloads) {
  for (uint64_t seed : {1u, 2u, 3u, 4u, 5u, 6u}) {
    SCOPED_TRACE(::testing::Message() << "seed " << seed);
    BlockPoolConfig config{.num_blocks = 48, .block_size = kBlockSize, .salt = seed % 2};
    PropertyHarness h(seed, config);
    for (int op = 0; op < 3000; ++op) {
      h.Step(op);
      if (::testing::Test::HasFatalFailure()) return;
      if (op % 500 == 250) h.AddLateSubscriber();
    }
    const BlockPoolStats s = h.pool().Stats();
    // The workload must actually exercise the interesting paths.
    EXPECT_GT(s.evictions, 100u);
    EXPECT_GT(s.hit_blocks, 100u);
    EXPECT_LT(s.hit_blocks, s.lookup_blocks);
  }
}

}  // namespace
}  // namespace mint::engine
