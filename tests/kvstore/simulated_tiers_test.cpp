// The mocker's simulated tiers: the same eviction and admission as the real ones, loads that take
// block bytes / bandwidth, and a mocker engine that onboards evicted prefixes through them.
#include <gtest/gtest.h>

#include <chrono>
#include <future>

#include "engine/engine.h"
#include "kvstore/simulated_tiers.h"
#include "mocker/mocker.h"

#include "../support/tiny_model.h"

namespace mint::kvstore {
namespace {

TEST(SimulatedTiersTest, KeepsWholePrefixesAndTimesLoadsByBandwidth) {
  // 1 MB blocks at 1 GB/s: 1 ms per block (speed-up 1).
  auto t = SimulatedTiers::Create({.block_bytes = 1000000, .host_blocks = 4, .host_gbps = 1});
  ASSERT_TRUE(t.ok());
  // A chain 1..6 offered tail first, as the pool evicts: the host keeps the head 1..4.
  for (BlockHash h = 6; h >= 1; --h) {
    (*t)->Offer(h, h > 1 ? std::optional<BlockHash>(h - 1) : std::nullopt, nullptr);
  }
  const std::vector<BlockHash> chain = {1, 2, 3, 4, 5, 6};
  EXPECT_EQ((*t)->Lookup(chain, 0), 4);
  EXPECT_EQ((*t)->Lookup(std::span(chain).subspan(1), 0), 3);
  // Slower than recomputing (1 ms per block against 0.5 ms): recompute.
  EXPECT_EQ((*t)->Lookup(chain, 0.0005), 0);
  EXPECT_EQ((*t)->Stats().recompute_blocks, 1u);

  engine::KvLoad load;
  load.hashes = {1, 2, 3, 4};
  load.blocks = {0, 1, 2, 3};
  load.num_local_blocks = 1;  // three to load: 3 ms
  std::promise<Status> done;
  const auto t0 = std::chrono::steady_clock::now();
  (*t)->Load(load, [&](Status st) { done.set_value(st); });
  EXPECT_TRUE(done.get_future().get().ok());
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_GE(ms, 3.0);
  EXPECT_NEAR((*t)->Stats().load_seconds, 0.003, 1e-9);
}

TEST(SimulatedTiersTest, DiskTakesBlocksSeenTwice) {
  auto t = SimulatedTiers::Create({.block_bytes = 1000, .host_blocks = 8, .disk_blocks = 8});
  ASSERT_TRUE(t.ok());
  (*t)->Offer(1, std::nullopt, nullptr);
  (*t)->Offer(2, std::nullopt, nullptr);
  EXPECT_EQ((*t)->Stats().disk_blocks, 0);
  (*t)->Offer(1, std::nullopt, nullptr);  // seen again
  EXPECT_EQ((*t)->Stats().disk_blocks, 1);
}

TEST(SimulatedTiersTest, AMockerEngineOnboardsEvictedHistories) {
  auto tiers = SimulatedTiers::Create(
      {.block_bytes = 131072 * 16, .host_blocks = 4096, .host_gbps = 20, .speedup = 100});
  ASSERT_TRUE(tiers.ok());
  mocker::MockerOptions o;
  o.num_blocks = 48;  // 768 tokens: one history at a time
  o.max_num_seqs = 4;
  o.max_model_len = 2048;
  o.vocab = 512;
  o.speedup = 100;
  o.kv_connector = tiers->get();
  auto engine = mocker::CreateMockerEngine(o);
  ASSERT_TRUE(engine.ok()) << engine.status().ToString();
  // Four conversations of three turns, round robin: each turn's history was evicted by the others.
  std::vector<std::vector<int32_t>> history(4);
  int64_t cached_later_turns = 0;
  for (int turn = 0; turn < 3; ++turn) {
    for (int c = 0; c < 4; ++c) {
      auto msg = test_support::RandomPrompt(150, static_cast<uint32_t>(c * 10 + turn));
      history[c].insert(history[c].end(), msg.begin(), msg.end());
      auto r = engine::RunToCompletion(engine->get(), test_support::GreedyRequest(history[c], 4));
      ASSERT_TRUE(r.ok()) << r.status().ToString();
      history[c].insert(history[c].end(), r->tokens.begin(), r->tokens.end());
      if (turn > 0) cached_later_turns += r->cached_prompt_tokens;
    }
  }
  const engine::EngineMetrics m = (*engine)->Metrics();
  EXPECT_GT(m.kv_onboards, 0u);
  EXPECT_EQ(m.kv_onboard_failures, 0u);
  EXPECT_GT((*tiers)->Stats().onboard_blocks[0], 0u);
  // Later turns find most of their history (150 new tokens of 300-450).
  EXPECT_GT(cached_later_turns, 8 * 150);
}

}  // namespace
}  // namespace mint::kvstore
