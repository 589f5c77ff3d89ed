// The tiers under the engine's pool against brute-force models: TierIndex's eviction order, the
// host tier and the disk tier over random insert / lookup / evict / restart sequences, with every
// block's bytes derived from its hash so a block served under the wrong hash shows. Disk files
// with a flipped byte, a torn tail or another model's fingerprint are dropped.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>

#include "kvstore/disk_tier.h"
#include "kvstore/host_tier.h"
#include "kvstore/tier_index.h"

namespace mint::kvstore {
namespace {

namespace fs = std::filesystem;

// A block's bytes: a pattern only its hash makes.
std::vector<uint8_t> Pattern(BlockHash h, size_t n) {
  std::vector<uint8_t> b(n);
  std::mt19937_64 rng(h);
  for (size_t i = 0; i < n; i += 8) {
    const uint64_t v = rng();
    std::memcpy(b.data() + i, &v, std::min<size_t>(8, n - i));
  }
  return b;
}

fs::path TempDir(const std::string& name) {
  fs::path d = fs::path(::testing::TempDir()) / (name + "_" + std::to_string(::getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

// Random chains: block i of chain c has hash c * 1000 + i + 1 and parent the block before.
struct Chains {
  std::mt19937 rng{7};
  BlockHash Hash(int c, int i) const { return static_cast<BlockHash>(c * 1000 + i + 1); }
  std::optional<BlockHash> Parent(int c, int i) const {
    return i == 0 ? std::nullopt : std::optional<BlockHash>(Hash(c, i - 1));
  }
};

// The brute-force TierIndex: a vector in LRU order; children counted by scanning.
struct IndexModel {
  struct E {
    BlockHash h;
    std::optional<BlockHash> parent;
    int pins = 0;
    uint64_t seq = 0;  // disk: write order
  };
  std::vector<E> lru;
  E* Find(BlockHash h) {
    for (auto& e : lru) {
      if (e.h == h) return &e;
    }
    return nullptr;
  }
  bool HasChild(BlockHash h) const {
    return std::any_of(lru.begin(), lru.end(), [&](const E& e) { return e.parent == h; });
  }
  std::optional<BlockHash> Victim() const {
    for (const auto& e : lru) {
      if (e.pins == 0 && !HasChild(e.h)) return e.h;
    }
    return std::nullopt;
  }
  void Touch(BlockHash h) {
    auto it = std::find_if(lru.begin(), lru.end(), [&](const E& e) { return e.h == h; });
    E e = *it;
    lru.erase(it);
    lru.push_back(e);
  }
};

TEST(TierIndexTest, MatchesBruteForceModel) {
  Chains ch;
  TierIndex index;
  IndexModel model;
  std::mt19937 rng(11);
  for (int step = 0; step < 20000; ++step) {
    const int c = static_cast<int>(rng() % 12), i = static_cast<int>(rng() % 6);
    const BlockHash h = ch.Hash(c, i);
    switch (rng() % 6) {
      case 0:
      case 1:
        if (!index.Contains(h)) {
          index.Insert({h, ch.Parent(c, i), 0});
          model.lru.push_back({h, ch.Parent(c, i)});
        }
        break;
      case 2:
        ASSERT_EQ(index.Touch(h), model.Find(h) != nullptr);
        if (model.Find(h)) model.Touch(h);
        break;
      case 3:
        if (model.Find(h)) {
          if (model.Find(h)->pins > 0 && rng() % 2) {
            index.Unpin(h);
            --model.Find(h)->pins;
          } else {
            index.Pin(h);
            ++model.Find(h)->pins;
          }
        }
        break;
      case 4: {
        const auto v = index.Victim();
        const auto mv = model.Victim();
        ASSERT_EQ(v.has_value(), mv.has_value()) << step;
        if (v) {
          ASSERT_EQ(v->hash, *mv) << step;
          index.Remove(v->hash);
          model.lru.erase(std::find_if(model.lru.begin(), model.lru.end(),
                                       [&](const IndexModel::E& e) { return e.h == *mv; }));
        }
        break;
      }
      case 5: {
        const std::vector<BlockHash> chain = {ch.Hash(c, 0), ch.Hash(c, 1), ch.Hash(c, 2)};
        size_t n = 0;
        while (n < chain.size() && model.Find(chain[n])) ++n;
        ASSERT_EQ(index.CountPrefix(chain), n);
        break;
      }
    }
    ASSERT_EQ(index.size(), model.lru.size());
  }
}

TEST(HostTierTest, NeverServesABlockUnderTheWrongHashAndEvictsLeavesFirst) {
  constexpr size_t kBytes = 96;
  auto tier = HostTier::Create(20, kBytes);
  ASSERT_TRUE(tier.ok());
  Chains ch;
  IndexModel model;  // what the tier must hold, in LRU order (capacity 20)
  std::mt19937 rng(3);
  for (int step = 0; step < 5000; ++step) {
    const int c = static_cast<int>(rng() % 10), i = static_cast<int>(rng() % 5);
    const BlockHash h = ch.Hash(c, i);
    if (rng() % 3 != 0) {
      const auto bytes = Pattern(h, kBytes);
      std::vector<BlockHash> evicted;
      ASSERT_TRUE((*tier)->Put(h, ch.Parent(c, i), bytes.data(), &evicted));
      if (model.Find(h)) {
        model.Touch(h);
        ASSERT_TRUE(evicted.empty());
      } else {
        if (model.lru.size() == 20) {
          const auto v = model.Victim();
          ASSERT_TRUE(v.has_value());
          ASSERT_EQ(evicted, std::vector<BlockHash>{*v}) << step;
          model.lru.erase(std::find_if(model.lru.begin(), model.lru.end(),
                                       [&](const IndexModel::E& e) { return e.h == *v; }));
        }
        model.lru.push_back({h, ch.Parent(c, i)});
      }
    } else {
      const uint8_t* p = (*tier)->Acquire(h, /*hit=*/true);
      ASSERT_EQ(p != nullptr, model.Find(h) != nullptr) << step;
      if (p != nullptr) {
        ASSERT_EQ(std::vector<uint8_t>(p, p + kBytes), Pattern(h, kBytes)) << step;
        (*tier)->Release(h);
        model.Touch(h);
      }
    }
  }
  EXPECT_EQ((*tier)->Stats().blocks, 20);
}

TEST(HostTierTest, PinnedBlocksAreNotEvicted) {
  auto tier = HostTier::Create(2, 8);
  ASSERT_TRUE(tier.ok());
  const auto a = Pattern(1, 8), b = Pattern(2, 8), c = Pattern(3, 8);
  ASSERT_TRUE((*tier)->Put(1, std::nullopt, a.data(), nullptr));
  ASSERT_TRUE((*tier)->Put(2, std::nullopt, b.data(), nullptr));
  ASSERT_NE((*tier)->Acquire(1, false), nullptr);
  ASSERT_NE((*tier)->Acquire(2, false), nullptr);
  EXPECT_FALSE((*tier)->Put(3, std::nullopt, c.data(), nullptr));  // both pinned
  (*tier)->Release(1);
  std::vector<BlockHash> evicted;
  EXPECT_TRUE((*tier)->Put(3, std::nullopt, c.data(), &evicted));
  EXPECT_EQ(evicted, std::vector<BlockHash>{1});
  (*tier)->Release(2);
}

DiskTierConfig DiskConfig(const fs::path& dir, int64_t capacity, uint64_t fp = 42) {
  return {.dir = dir.string(), .capacity_blocks = capacity, .block_bytes = 256, .fingerprint = fp};
}

TEST(DiskTierTest, RandomWritesReadsAndRestartsMatchAModel) {
  const fs::path dir = TempDir("disk_model");
  Chains ch;
  auto tier = DiskTier::Open(DiskConfig(dir, 16));
  ASSERT_TRUE(tier.ok()) << tier.status().ToString();
  IndexModel model;
  uint64_t writes = 0;
  std::mt19937 rng(5);
  std::vector<uint8_t> buf(256);
  for (int step = 0; step < 1500; ++step) {
    const int c = static_cast<int>(rng() % 8), i = static_cast<int>(rng() % 4);
    const BlockHash h = ch.Hash(c, i);
    const int op = static_cast<int>(rng() % 20);
    if (op == 0) {  // restart: the same blocks come back (LRU order by write time)
      tier->reset();
      auto again = DiskTier::Open(DiskConfig(dir, 16));
      ASSERT_TRUE(again.ok());
      tier = std::move(again);
      ASSERT_EQ((*tier)->Stats().found_at_open, static_cast<int64_t>(model.lru.size()));
      for (const auto& e : model.lru) ASSERT_TRUE((*tier)->Contains(e.h));
      // After a restart recency is the files' write order (reads do not rewrite them).
      std::stable_sort(
          model.lru.begin(), model.lru.end(),
          [](const IndexModel::E& a, const IndexModel::E& b) { return a.seq < b.seq; });
      continue;
    }
    if (op < 12) {
      const bool had = model.Find(h) != nullptr;
      ASSERT_TRUE((*tier)->Write(h, ch.Parent(c, i), Pattern(h, 256)).ok());
      if (had) {
        model.Touch(h);
      } else {
        if (model.lru.size() == 16) {
          const auto v = model.Victim();
          ASSERT_TRUE(v.has_value());
          ASSERT_FALSE((*tier)->Contains(*v));
          model.lru.erase(std::find_if(model.lru.begin(), model.lru.end(),
                                       [&](const IndexModel::E& e) { return e.h == *v; }));
        }
        model.lru.push_back({h, ch.Parent(c, i), 0, ++writes});
      }
    } else {
      Status st = (*tier)->Read(h, buf);
      ASSERT_EQ(st.ok(), model.Find(h) != nullptr) << step << " " << st.ToString();
      if (st.ok()) {
        ASSERT_EQ(buf, Pattern(h, 256));
        model.Touch(h);
      }
    }
    ASSERT_EQ((*tier)->Stats().blocks, static_cast<int64_t>(model.lru.size()));
  }
}

fs::path OnlyBlockFile(const fs::path& dir) {
  for (const auto& sub : fs::directory_iterator(dir)) {
    for (const auto& f : fs::directory_iterator(sub.path())) return f.path();
  }
  return {};
}

void FlipByte(const fs::path& file, uint64_t offset) {
  std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(static_cast<std::streamoff>(offset));
  char c;
  f.read(&c, 1);
  c ^= 0x20;
  f.seekp(static_cast<std::streamoff>(offset));
  f.write(&c, 1);
}

TEST(DiskTierTest, AFlippedPayloadByteIsDetectedAndTheFileDropped) {
  const fs::path dir = TempDir("disk_flip");
  auto tier = DiskTier::Open(DiskConfig(dir, 4));
  ASSERT_TRUE(tier.ok());
  ASSERT_TRUE((*tier)->Write(7, std::nullopt, Pattern(7, 256)).ok());
  const fs::path file = OnlyBlockFile(dir);
  ASSERT_FALSE(file.empty());
  FlipByte(file, kBlockFileHeaderBytes + 100);
  std::vector<uint8_t> buf(256);
  Status st = (*tier)->Read(7, buf);
  EXPECT_EQ(st.code(), StatusCode::kCorruption) << st.ToString();
  EXPECT_FALSE((*tier)->Contains(7));
  EXPECT_FALSE(fs::exists(file));
  EXPECT_EQ((*tier)->Stats().dropped, 1u);
}

TEST(DiskTierTest, RestartDropsTornCorruptAndForeignFiles) {
  const fs::path dir = TempDir("disk_restart");
  {
    auto tier = DiskTier::Open(DiskConfig(dir, 8));
    ASSERT_TRUE(tier.ok());
    for (BlockHash h = 1; h <= 4; ++h) {
      ASSERT_TRUE((*tier)->Write(h, std::nullopt, Pattern(h, 256)).ok());
    }
  }
  const fs::path sub = dir / "000000000000002a";
  // Block 1: torn (cut short); block 2: a flipped header byte; block 3: written for another model
  // (its header says fingerprint 43, copied into our directory); block 4 intact.
  fs::resize_file(sub / "0000000000000001.kvb", 100);
  FlipByte(sub / "0000000000000002.kvb", 20);
  {
    auto other = DiskTier::Open(DiskConfig(dir, 8, /*fp=*/43));
    ASSERT_TRUE(other.ok());
    EXPECT_EQ((*other)->Stats().found_at_open, 0);  // another model sees none of ours
    ASSERT_TRUE((*other)->Write(3, std::nullopt, Pattern(99, 256)).ok());
  }
  fs::copy_file(dir / "000000000000002b" / "0000000000000003.kvb", sub / "0000000000000003.kvb",
                fs::copy_options::overwrite_existing);
  std::ofstream(sub / "0000000000000005.kvb.tmp") << "half a write";
  auto tier = DiskTier::Open(DiskConfig(dir, 8));
  ASSERT_TRUE(tier.ok());
  const DiskTierStats s = (*tier)->Stats();
  EXPECT_EQ(s.found_at_open, 1);
  EXPECT_EQ(s.dropped, 4u);
  EXPECT_TRUE((*tier)->Contains(4));
  std::vector<uint8_t> buf(256);
  ASSERT_TRUE((*tier)->Read(4, buf).ok());
  EXPECT_EQ(buf, Pattern(4, 256));
  EXPECT_FALSE(fs::exists(sub / "0000000000000005.kvb.tmp"));
}

TEST(DiskTierTest, HeaderRoundTripsAndRejectsDamage) {
  BlockFileHeader h{.fingerprint = 9,
                    .hash = 10,
                    .parent = 11,
                    .sequence = 5,
                    .payload_bytes = 12,
                    .payload_checksum = 13};
  uint8_t raw[kBlockFileHeaderBytes];
  EncodeBlockFileHeader(h, raw);
  auto back = DecodeBlockFileHeader(raw);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->parent, std::optional<BlockHash>(11));
  EXPECT_EQ(back->payload_checksum, 13u);
  for (size_t i = 0; i < kBlockFileHeaderBytes; ++i) {
    raw[i] ^= 1;
    EXPECT_FALSE(DecodeBlockFileHeader(raw).ok()) << "byte " << i;
    raw[i] ^= 1;
  }
}

}  // namespace
}  // namespace mint::kvstore
