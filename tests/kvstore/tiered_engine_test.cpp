// The engine with host and disk tiers under a deliberately tiny pool: multi-turn conversations
// whose histories cannot stay in the pool are onboarded from the tiers, and the greedy outputs
// equal an engine without tiers token for token (the ctest `kvstore_tiers_equal_scalar` runs this
// under MINT_CPU=scalar, where kernels are batch-invariant). Disk faults injected through the I/O
// seam (a full disk, a read-only directory, read errors) cost recomputation, never a request.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <mutex>

#include "engine/engine.h"
#include "kvstore/tiered_connector.h"
#include "model/kv_arena.h"

#include "../support/tiny_model.h"

namespace mint::kvstore {
namespace {

namespace fs = std::filesystem;
using engine::Engine;
using engine::EngineConfig;

// POSIX I/O with faults switched on by the test.
class FaultyIo final : public BlockFileIo {
 public:
  enum class Fault { kNone, kDiskFull, kReadOnly, kReadError };
  std::atomic<Fault> fault{Fault::kNone};

  Status MakeDirs(const std::string& d) override { return real_->MakeDirs(d); }
  Result<std::vector<FileInfo>> List(const std::string& d) override { return real_->List(d); }
  Status WriteFile(const std::string& p, std::span<const std::span<const uint8_t>> parts) override {
    if (fault == Fault::kDiskFull) {
      return Status::ResourceExhausted("write " + p + ": No space left on device");
    }
    if (fault == Fault::kReadOnly) {
      return Status::IoError("create " + p + ": Read-only file system");
    }
    return real_->WriteFile(p, parts);
  }
  Status ReadFile(const std::string& p, uint64_t off, std::span<uint8_t> out) override {
    if (fault == Fault::kReadError && off > 0) {
      return Status::IoError("read " + p + ": Input/output error");
    }
    return real_->ReadFile(p, off, out);
  }
  Status Remove(const std::string& p) override { return real_->Remove(p); }

 private:
  std::unique_ptr<BlockFileIo> real_ = MakePosixBlockFileIo();
};

// Counts the KV events an engine publishes, by tier and kind.
class TierEventCounter final : public engine::KvEventSink {
 public:
  void OnKvEvent(const engine::KvEvent& e) override {
    std::lock_guard lk(mu_);
    const int t = static_cast<int>(e.tier);
    (e.kind == engine::KvEvent::Kind::kStored ? stored_ : removed_)[t] += e.block_hashes.size();
    if (e.tier != engine::StorageTier::kDevice && e.id != 0) ++numbered_tier_events_;
  }
  uint64_t stored(engine::StorageTier t) {
    std::lock_guard lk(mu_);
    return stored_[static_cast<int>(t)];
  }
  uint64_t numbered_tier_events() {
    std::lock_guard lk(mu_);
    return numbered_tier_events_;
  }

 private:
  std::mutex mu_;
  uint64_t stored_[3] = {}, removed_[3] = {};
  uint64_t numbered_tier_events_ = 0;
};

EngineConfig Config(int64_t blocks, engine::KvConnector* c) {
  EngineConfig e;
  e.kv_cache_blocks = blocks;
  e.threads = 1;
  e.scheduler.max_model_len = 1024;
  e.scheduler.max_num_batched_tokens = 128;
  e.scheduler.max_num_seqs = 4;
  e.kv_connector = c;
  return e;
}

struct Conversations {
  // Conversation c's turn prompts: the history so far plus a new user message of 20-60 tokens.
  std::vector<std::vector<int32_t>> history;
  explicit Conversations(int n) : history(static_cast<size_t>(n)) {}
  std::vector<int32_t> NextPrompt(int c, int turn) {
    auto& h = history[static_cast<size_t>(c)];
    const auto msg = test_support::RandomPrompt(20 + (c * 7 + turn * 13) % 40,
                                                static_cast<uint32_t>(c * 100 + turn));
    h.insert(h.end(), msg.begin(), msg.end());
    return h;
  }
  void Answered(int c, const std::vector<int32_t>& tokens) {
    auto& h = history[static_cast<size_t>(c)];
    h.insert(h.end(), tokens.begin(), tokens.end());
  }
};

class TieredEngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    model_ = test_support::LoadTinyModel(5);
    ASSERT_NE(model_, nullptr);
    auto bb = model::KvArena::BytesPerBlock(model_->config(), DType::kF16, 16);
    ASSERT_TRUE(bb.ok());
    block_bytes_ = static_cast<uint64_t>(*bb);
    dir_ = fs::path(::testing::TempDir()) / ("tiers_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  TieredKvConfig Tiers(int64_t host_blocks, int64_t disk_blocks, BlockFileIo* io = nullptr) {
    return {.block_bytes = block_bytes_,
            .host_blocks = host_blocks,
            .disk_dir = disk_blocks > 0 ? dir_.string() : "",
            .disk_blocks = disk_blocks,
            .fingerprint = 77,
            .io_threads = 2,
            .io = io};
  }

  // Runs `turns` turns of `convs` conversations, round robin, on `engine`; returns every answer.
  static std::vector<std::vector<int32_t>> Chat(Engine* engine, int convs, int turns,
                                                TieredKvConnector* tiers = nullptr) {
    Conversations c(convs);
    std::vector<std::vector<int32_t>> answers;
    for (int t = 0; t < turns; ++t) {
      for (int i = 0; i < convs; ++i) {
        auto r =
            engine::RunToCompletion(engine, test_support::GreedyRequest(c.NextPrompt(i, t), 8));
        EXPECT_TRUE(r.ok()) << r.status().ToString();
        if (!r.ok()) return answers;
        EXPECT_EQ(r->finish, engine::FinishReason::kLength);
        c.Answered(i, r->tokens);
        answers.push_back(r->tokens);
        if (tiers != nullptr) tiers->Flush();  // disk writes land before the next turn looks
      }
    }
    return answers;
  }

  std::unique_ptr<model::Model> model_;
  uint64_t block_bytes_ = 0;
  fs::path dir_;
};

TEST_F(TieredEngineTest, OnboardedPrefixesGiveTheSameTokens) {
  auto plain = Engine::Create(model_.get(), Config(512, nullptr));
  ASSERT_TRUE(plain.ok());
  const auto want = Chat(plain->get(), 6, 4);

  // 24 blocks of 16 tokens: one conversation's history at a time. Host: 48 blocks, less than the
  // histories (so some come back from disk); disk: plenty.
  auto tiers = TieredKvConnector::Create(Tiers(48, 4096));
  ASSERT_TRUE(tiers.ok()) << tiers.status().ToString();
  auto engine = Engine::Create(model_.get(), Config(24, tiers->get()));
  ASSERT_TRUE(engine.ok());
  TierEventCounter events;
  (*engine)->SubscribeKvEvents(&events);
  const auto got = Chat(engine->get(), 6, 4, tiers->get());
  EXPECT_EQ(got, want);
  (*engine)->WaitIdle();
  (*engine)->UnsubscribeKvEvents(&events);

  const engine::EngineMetrics m = (*engine)->Metrics();
  const TieredKvStats s = (*tiers)->Stats();
  EXPECT_GT(m.kv_onboards, 0u);
  EXPECT_EQ(m.kv_onboard_failures, 0u);
  EXPECT_GT(s.onboard_blocks[static_cast<int>(Tier::kHost)], 0u);
  EXPECT_GT(s.onboard_blocks[static_cast<int>(Tier::kDisk)], 0u) << "no block came back from disk";
  EXPECT_GT(s.disk.writes, 0u);
  EXPECT_EQ(m.kv_blocks_onboarded, s.onboard_blocks[0] + s.onboard_blocks[1]);
  EXPECT_EQ(s.disk.read_errors, 0u);
  // The tiers' blocks reach the engine's event subscribers (tier host / disk, outside the ids).
  EXPECT_EQ(events.stored(engine::StorageTier::kHost), s.host.stored);
  EXPECT_EQ(events.stored(engine::StorageTier::kDisk), s.disk.writes);
  EXPECT_GT(events.stored(engine::StorageTier::kDevice), 0u);
  EXPECT_EQ(events.numbered_tier_events(), 0u);
  // Turns after the first reuse most of their prompt: cached tokens come from the tiers.
  EXPECT_LT(m.prompt_tokens, 0.6 * (m.prompt_tokens + 16 * m.kv_blocks_onboarded));
}

TEST_F(TieredEngineTest, LookupLoadsOnlyWhatIsFasterThanRecomputing) {
  auto tiers = TieredKvConnector::Create(Tiers(8, 0));
  ASSERT_TRUE(tiers.ok());
  std::vector<uint8_t> bytes(block_bytes_, 7);
  for (BlockHash h = 1; h <= 3; ++h) {
    (*tiers)->Offer(h, h > 1 ? std::optional<BlockHash>(h - 1) : std::nullopt, bytes.data());
  }
  const std::vector<BlockHash> chain = {1, 2, 3, 4};
  const double host_s = (*tiers)->Stats().seconds_per_block[static_cast<int>(Tier::kHost)];
  ASSERT_GT(host_s, 0);
  EXPECT_EQ((*tiers)->Lookup(chain, 0), 3);             // no estimate yet: load
  EXPECT_EQ((*tiers)->Lookup(chain, 100 * host_s), 3);  // computing is slower: load
  EXPECT_EQ((*tiers)->Lookup(chain, host_s / 2), 0);    // computing is faster: recompute
  EXPECT_EQ((*tiers)->Stats().recompute_blocks, 1u);
}

TEST_F(TieredEngineTest, ARestartedWorkerFindsItsDiskTier) {
  std::vector<std::vector<int32_t>> first;
  {
    auto tiers = TieredKvConnector::Create(Tiers(48, 4096));
    ASSERT_TRUE(tiers.ok());
    auto engine = Engine::Create(model_.get(), Config(24, tiers->get()));
    ASSERT_TRUE(engine.ok());
    first = Chat(engine->get(), 4, 3, tiers->get());
  }
  auto tiers = TieredKvConnector::Create(Tiers(48, 4096));
  ASSERT_TRUE(tiers.ok());
  EXPECT_GT((*tiers)->Stats().disk.found_at_open, 0);
  auto engine = Engine::Create(model_.get(), Config(24, tiers->get()));
  ASSERT_TRUE(engine.ok());
  // The same conversations again: their early turns are on disk from the last run.
  const auto again = Chat(engine->get(), 4, 3, tiers->get());
  EXPECT_EQ(again, first);
  EXPECT_GT((*tiers)->Stats().onboard_blocks[static_cast<int>(Tier::kDisk)], 0u);
}

TEST_F(TieredEngineTest, DiskFaultsCostRecomputationNotRequests) {
  auto plain = Engine::Create(model_.get(), Config(512, nullptr));
  ASSERT_TRUE(plain.ok());
  const auto want = Chat(plain->get(), 6, 4);
  for (auto fault :
       {FaultyIo::Fault::kDiskFull, FaultyIo::Fault::kReadOnly, FaultyIo::Fault::kReadError}) {
    fs::remove_all(dir_);
    FaultyIo io;
    if (fault != FaultyIo::Fault::kReadError) io.fault = fault;
    auto tiers = TieredKvConnector::Create(Tiers(24, 4096, &io));
    ASSERT_TRUE(tiers.ok());
    auto engine = Engine::Create(model_.get(), Config(24, tiers->get()));
    ASSERT_TRUE(engine.ok());
    if (fault == FaultyIo::Fault::kReadError) {
      // Fill the disk first, then fail every read of it.
      Chat(engine->get(), 6, 2, tiers->get());
      ASSERT_GT((*tiers)->Stats().disk.blocks, 0);
      (*engine)->ResetPrefixCache();
      io.fault = fault;
    }
    const auto got = Chat(engine->get(), 6, 4, tiers->get());
    EXPECT_EQ(got, want) << static_cast<int>(fault);
    const TieredKvStats s = (*tiers)->Stats();
    if (fault == FaultyIo::Fault::kReadError) {
      EXPECT_GT(s.disk.read_errors, 0u);
      EXPECT_GT((*engine)->Metrics().kv_onboard_failures, 0u);
    } else {
      EXPECT_GT(s.disk.write_errors, 0u);
      EXPECT_EQ(s.disk.blocks, 0);
    }
  }
}

}  // namespace
}  // namespace mint::kvstore
