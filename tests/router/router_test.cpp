#include "router/router.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "blocks.h"

namespace mint::router {
namespace {

using Kind = KvCacheEvent::Kind;

KvCacheEvent StoredEvent(std::vector<BlockHash> hashes) {
  return KvCacheEvent{.kind = Kind::kStored, .block_hashes = std::move(hashes)};
}

TEST(RouterModeTest, ParseMode) {
  EXPECT_EQ(*ParseMode("round-robin"), Mode::kRoundRobin);
  EXPECT_EQ(*ParseMode("random"), Mode::kRandom);
  EXPECT_EQ(*ParseMode("least-loaded"), Mode::kLeastLoaded);
  EXPECT_EQ(*ParseMode("kv"), Mode::kKv);
  EXPECT_FALSE(ParseMode("KV").ok());
  EXPECT_STREQ(ModeName(Mode::kLeastLoaded), "least-loaded");
}

TEST(KvCostTest, HandComputed) {
  const CostInputs in{
      .request_blocks = 10, .overlap_blocks = 4, .queued_prefill_blocks = 2, .active_blocks = 5};
  EXPECT_DOUBLE_EQ(KvCost(in, 1.0, 1.0), 1.0 * (12 - 4) + 5);
  EXPECT_DOUBLE_EQ(KvCost(in, 2.0, 1.0), 1.0 * (12 - 8) + 5);  // overlap credit
  EXPECT_DOUBLE_EQ(KvCost(in, 1.0, 0.5), 0.5 * (12 - 4) + 5);  // prefill scale
  EXPECT_DOUBLE_EQ(KvCost(in, 5.0, 1.0), 0.0 + 5);             // clamped at 0
  EXPECT_DOUBLE_EQ(KvCost(in, 0.0, 2.0), 2.0 * 12 + 5);        // cache ignored
}

TEST(SelectByCostTest, ArgminThenLoadThenRotation) {
  const std::vector<double> costs = {5, 3, 3, 3, 9};
  const std::vector<uint64_t> loads = {0, 7, 2, 2, 0};
  // Lowest cost 3 at 1,2,3; lowest load among them 2 at 2,3; the draw rotates between them.
  EXPECT_EQ(SelectByCost(costs, loads, 0, 0, 0), 2u);
  EXPECT_EQ(SelectByCost(costs, loads, 0, 1, 0), 3u);
  EXPECT_EQ(SelectByCost(costs, loads, 0, 2, 0), 2u);
}

TEST(SelectByCostTest, TemperatureFollowsSoftmaxOfNormalizedCost) {
  const std::vector<double> costs = {10, 15, 20};  // normalized 0, 0.5, 1
  const std::vector<uint64_t> loads = {0, 0, 0};
  const double t = 0.5;
  std::vector<double> p = {1, std::exp(-0.5 / t), std::exp(-1.0 / t)};
  const double z = p[0] + p[1] + p[2];
  std::mt19937_64 rng(42);
  std::uniform_real_distribution<double> u(0, 1);
  std::vector<int> hits(3);
  const int n = 100000;
  for (int i = 0; i < n; ++i) ++hits[SelectByCost(costs, loads, t, 0, u(rng))];
  for (int i = 0; i < 3; ++i) EXPECT_NEAR(hits[i] / double(n), p[i] / z, 0.01) << i;
  // All equal: uniform.
  const std::vector<double> flat = {4, 4};
  std::vector<int> flat_hits(2);
  for (int i = 0; i < 10000; ++i) ++flat_hits[SelectByCost(flat, {loads.data(), 2}, 1, 0, u(rng))];
  EXPECT_NEAR(flat_hits[0] / 10000.0, 0.5, 0.03);
}

class RouterTest : public ::testing::Test {
 protected:
  // The block-count cost: its arithmetic is what these tests check by hand (the seconds cost:
  // step_model_test.cpp).
  RouterConfig Config() { return RouterConfig{.block_size = 4, .cost = CostUnit::kBlocks}; }
};

TEST_F(RouterTest, KvPrefersOverlap) {
  Router r(Config());
  for (WorkerId w : {1, 2, 3}) r.AddWorker(w);
  const std::vector<BlockHash> req = Blocks(100, 10);
  r.ApplyEvent(2, StoredEvent(Blocks(100, 8)));
  r.ApplyEvent(3, StoredEvent(Blocks(100, 3)));
  auto d = r.Route({.block_hashes = req, .num_tokens = 40});
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->worker, 2u);
  EXPECT_EQ(d->overlap_blocks, 8u);
  EXPECT_EQ(d->request_blocks, 10u);
  EXPECT_DOUBLE_EQ(d->cost, 10 - 8);
  ASSERT_EQ(d->overlaps.size(), 2u);
  EXPECT_EQ(d->overlaps[1].worker, 3u);
  EXPECT_EQ(d->overlaps[1].blocks, 3u);
  // The routed request now loads worker 2: 10 active blocks, (40 - 32) tokens = 2 queued blocks.
  EXPECT_EQ(r.Load(2).active_blocks, 10u);
  EXPECT_EQ(r.Load(2).prefill_tokens, 8u);
}

TEST_F(RouterTest, PeekDecidesAsRouteWouldAndRecordsNothing) {
  Router r(Config());
  for (WorkerId w : {1, 2, 3}) r.AddWorker(w);
  const std::vector<BlockHash> req = Blocks(100, 10);
  r.ApplyEvent(3, StoredEvent(Blocks(100, 6)));
  auto p = r.Peek({.block_hashes = req, .num_tokens = 40});
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->worker, 3u);
  EXPECT_EQ(p->overlap_blocks, 6u);
  EXPECT_EQ(p->request_id, 0u);
  EXPECT_EQ(r.Load(3).active_blocks, 0u);  // nothing recorded
  EXPECT_EQ(r.Stats().requests, 0u);
  auto d = r.Route({.block_hashes = req, .num_tokens = 40});
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->worker, p->worker);
  EXPECT_GT(d->request_id, 0u);
  EXPECT_EQ(r.Load(3).active_blocks, 10u);
  // Round-robin: peeks leave the rotation where it was.
  RouterConfig c = Config();
  c.mode = Mode::kRoundRobin;
  Router rr(c);
  for (WorkerId w : {1, 2, 3}) rr.AddWorker(w);
  std::vector<WorkerId> picks;
  for (int i = 0; i < 4; ++i) {
    const WorkerId peeked = rr.Peek({.num_tokens = 8})->worker;
    picks.push_back(rr.Route({.num_tokens = 8})->worker);
    EXPECT_EQ(peeked, picks.back());
  }
  EXPECT_EQ(picks, (std::vector<WorkerId>{1, 2, 3, 1}));
}

TEST_F(RouterTest, LoadOutweighsOverlap) {
  Router r(Config());
  for (WorkerId w : {1, 2}) r.AddWorker(w);
  const std::vector<BlockHash> req = Blocks(100, 10);
  r.ApplyEvent(2, StoredEvent(Blocks(100, 8)));
  // Worker 2: 1 * (10 + 5 - 8) + 20 = 27. Worker 1: 1 * 10 + 0 = 10.
  r.UpdateLoad(2, {.active_blocks = 20, .waiting_prefill_tokens = 20});
  auto d = r.Route({.block_hashes = req, .num_tokens = 40});
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->worker, 1u);
  EXPECT_DOUBLE_EQ(d->cost, 10);
  // Per-request override: with prefill scale 10, worker 1 costs 10 * 10 = 100 (its request
  // finished) and worker 2 10 * (10 + 5 - 8) + 20 = 90.
  r.OnFinished(d->request_id);
  auto d2 =
      r.Route({.block_hashes = req, .num_tokens = 40, .overrides = {.prefill_load_scale = 10.0}});
  ASSERT_TRUE(d2.ok());
  EXPECT_EQ(d2->worker, 2u);
  EXPECT_DOUBLE_EQ(d2->cost, 90);
}

TEST_F(RouterTest, OverlapCreditOverride) {
  Router r(Config());
  for (WorkerId w : {1, 2}) r.AddWorker(w);
  const std::vector<BlockHash> req = Blocks(100, 10);
  r.ApplyEvent(2, StoredEvent(Blocks(100, 4)));
  r.UpdateLoad(2, {.active_blocks = 5});
  // Credit 1: w1 = 10, w2 = 6 + 5 = 11 -> w1. Credit 2: w2 = 2 + 5 = 7 -> w2.
  auto d1 = r.Route({.block_hashes = req, .num_tokens = 40});
  EXPECT_EQ(d1->worker, 1u);
  r.OnFinished(d1->request_id);
  auto d2 = r.Route({.block_hashes = req, .num_tokens = 40, .overrides = {.overlap_credit = 2.0}});
  EXPECT_EQ(d2->worker, 2u);
  EXPECT_DOUBLE_EQ(d2->cost, 7);
}

TEST_F(RouterTest, TieredBlocksCountByTheirTierCredit) {
  Router r(Config());
  for (WorkerId w : {1, 2, 3}) r.AddWorker(w);
  const std::vector<BlockHash> req = Blocks(100, 10);
  // Worker 2: blocks 0-1 in its pool, 2-5 in its host tier, 6-7 on disk (a history its pool
  // evicted tail first). Worker 3: blocks 0-7 on disk only.
  r.ApplyEvent(2, StoredEvent(Blocks(100, 2)));
  KvCacheEvent host = StoredEvent({req[2], req[3], req[4], req[5]});
  host.tier = 1;
  KvCacheEvent disk = StoredEvent({req[6], req[7]});
  disk.tier = 2;
  r.ApplyEvent(2, host);
  r.ApplyEvent(2, disk);
  KvCacheEvent disk3 = StoredEvent(Blocks(100, 8));
  disk3.tier = 2;
  r.ApplyEvent(3, disk3);
  // Tier events stay out of the pool's index (and its event ids).
  EXPECT_EQ(r.WorkerBlockCount(2), 2u);
  EXPECT_FALSE(r.LastEventId(3).has_value());
  r.UpdateLoad(2, {.active_blocks = 3});
  r.UpdateLoad(3, {.active_blocks = 3});
  // Blocks cost: w1 = 10; w2 = 10 - round(2 + 4 x 0.75 + 2 x 0.25 = 5.5 -> 6) + 3 = 7;
  // w3 = 10 - round(8 x 0.25 = 2) + 3 = 11.
  auto d = r.Route({.block_hashes = req, .num_tokens = 40});
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->worker, 2u);
  EXPECT_DOUBLE_EQ(d->cost, 10 - 6 + 3);
  EXPECT_EQ(d->overlap_blocks, 2u);  // the decision reports the pool's own overlap
  r.OnFinished(d->request_id);
  // No credit for tiers (a per-request override): w2 = 10 - 2 + 3 = 11 > w1 = 10.
  auto d2 = r.Route({.block_hashes = req,
                     .num_tokens = 40,
                     .overrides = {.host_tier_credit = 0.0, .disk_tier_credit = 0.0}});
  ASSERT_TRUE(d2.ok());
  EXPECT_EQ(d2->worker, 1u);
  r.OnFinished(d2->request_id);
  // Full credit: w3 = 10 - 8 + 3 = 5 against w2 = 10 - 8 + 4 = 6 (one more active block).
  r.UpdateLoad(2, {.active_blocks = 4});
  auto d3 = r.Route({.block_hashes = req,
                     .num_tokens = 40,
                     .overrides = {.host_tier_credit = 1.0, .disk_tier_credit = 1.0}});
  ASSERT_TRUE(d3.ok());
  EXPECT_EQ(d3->worker, 3u);
  EXPECT_DOUBLE_EQ(d3->cost, 10 - 8 + 3);
  // A tier's Removed takes the blocks back; out-of-range credits are refused.
  KvCacheEvent gone{.kind = Kind::kRemoved, .block_hashes = Blocks(100, 8)};
  gone.tier = 2;
  r.ApplyEvent(3, gone);
  r.OnFinished(d3->request_id);
  auto d4 = r.Route({.block_hashes = req,
                     .num_tokens = 40,
                     .overrides = {.host_tier_credit = 1.0, .disk_tier_credit = 1.0}});
  ASSERT_TRUE(d4.ok());
  EXPECT_NE(d4->worker, 3u);
  EXPECT_FALSE(r.Route({.block_hashes = req, .overrides = {.host_tier_credit = 1.5}}).ok());
}

TEST_F(RouterTest, TiesRotateAndTemperatureZeroIsDeterministic) {
  auto run = [&] {
    Router r(Config());
    for (WorkerId w : {1, 2, 3}) r.AddWorker(w);
    std::vector<WorkerId> picks;
    for (int i = 0; i < 6; ++i) {
      auto d = r.Route({.num_tokens = 8});
      picks.push_back(d->worker);
      r.OnFinished(d->request_id);  // keep loads equal so every decision is a tie
    }
    return picks;
  };
  const std::vector<WorkerId> a = run();
  EXPECT_EQ(a, (std::vector<WorkerId>{1, 2, 3, 1, 2, 3}));
  EXPECT_EQ(run(), a);
}

TEST_F(RouterTest, TemperatureSamplingIsSeededAndSpreads) {
  auto run = [&](uint64_t seed) {
    RouterConfig c = Config();
    c.temperature = 1.0;
    c.seed = seed;
    Router r(c);
    for (WorkerId w : {1, 2}) r.AddWorker(w);
    r.ApplyEvent(1, StoredEvent(Blocks(100, 10)));
    const std::vector<BlockHash> req = Blocks(100, 10);
    std::map<WorkerId, int> hits;
    for (int i = 0; i < 4000; ++i) {
      auto d = r.Route({.block_hashes = req, .num_tokens = 40});
      ++hits[d->worker];
      r.OnFinished(d->request_id);
    }
    return hits;
  };
  const auto hits = run(5);
  EXPECT_EQ(hits, run(5));
  // Costs 0 and 10 normalize to 0 and 1: p(worker 1) = 1 / (1 + e^-1) = 0.731.
  EXPECT_NEAR(hits.at(1) / 4000.0, 1 / (1 + std::exp(-1.0)), 0.03);
}

TEST_F(RouterTest, CandidatesRestrictTheChoice) {
  Router r(Config());
  for (WorkerId w : {1, 2, 3}) r.AddWorker(w);
  r.ApplyEvent(2, StoredEvent(Blocks(100, 10)));
  const std::vector<BlockHash> req = Blocks(100, 10);
  const std::vector<WorkerId> live = {1, 3};
  auto d = r.Route({.block_hashes = req, .num_tokens = 40, .candidates = live});
  ASSERT_TRUE(d.ok());
  EXPECT_NE(d->worker, 2u);
  EXPECT_TRUE(d->overlaps.empty());
}

TEST_F(RouterTest, Errors) {
  Router r(Config());
  EXPECT_EQ(r.Route({.num_tokens = 8}).status().code(), StatusCode::kUnavailable);
  r.AddWorker(1);
  EXPECT_EQ(r.Route({.num_tokens = 8, .overrides = {.temperature = -1.0}}).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_FALSE((RouterConfig{.block_size = 0}).Validate().ok());
  EXPECT_TRUE(RouterConfig{}.Validate().ok());
}

TEST_F(RouterTest, RoundRobinRandomLeastLoaded) {
  {
    RouterConfig c = Config();
    c.mode = Mode::kRoundRobin;
    Router r(c);
    for (WorkerId w : {1, 2, 3}) r.AddWorker(w);
    std::vector<WorkerId> picks;
    for (int i = 0; i < 4; ++i) picks.push_back(r.Route({.num_tokens = 8})->worker);
    EXPECT_EQ(picks, (std::vector<WorkerId>{1, 2, 3, 1}));
  }
  {
    RouterConfig c = Config();
    c.mode = Mode::kRandom;
    c.seed = 3;
    Router r(c);
    for (WorkerId w : {1, 2, 3, 4}) r.AddWorker(w);
    std::map<WorkerId, int> hits;
    for (int i = 0; i < 4000; ++i) ++hits[r.Route({.num_tokens = 8})->worker];
    ASSERT_EQ(hits.size(), 4u);
    for (const auto& [w, n] : hits) EXPECT_NEAR(n / 4000.0, 0.25, 0.04) << w;
  }
  {
    RouterConfig c = Config();
    c.mode = Mode::kLeastLoaded;
    Router r(c);
    for (WorkerId w : {1, 2, 3}) r.AddWorker(w);
    r.UpdateLoad(1, {.active_blocks = 5});
    r.UpdateLoad(3, {.active_blocks = 1});
    EXPECT_EQ(r.Route({.num_tokens = 8})->worker, 2u);  // 0; now 2 blocks
    EXPECT_EQ(r.Route({.num_tokens = 8})->worker, 3u);  // 1 < 2
    // A per-request mode override: round-robin ignores load (the rotation counter is shared with
    // tie breaks, so only the cycle is checked).
    std::set<WorkerId> seen;
    for (int i = 0; i < 3; ++i) {
      seen.insert(r.Route({.num_tokens = 8, .overrides = {.mode = Mode::kRoundRobin}})->worker);
    }
    EXPECT_EQ(seen.size(), 3u);
  }
}

TEST_F(RouterTest, ApproximateModePredictsFromDecisions) {
  FakeClock clock;
  RouterConfig c = Config();
  c.use_kv_events = false;
  c.approx = {.ttl_seconds = 30, .max_blocks_per_worker = 1000};
  c.clock = &clock;
  Router r(c);
  for (WorkerId w : {1, 2, 3}) r.AddWorker(w);
  const std::vector<BlockHash> req = Blocks(100, 10);
  auto first = r.Route({.block_hashes = req, .num_tokens = 40});
  r.OnFinished(first->request_id);
  EXPECT_EQ(first->overlap_blocks, 0u);
  auto second = r.Route({.block_hashes = req, .num_tokens = 40});
  EXPECT_EQ(second->worker, first->worker);
  EXPECT_EQ(second->overlap_blocks, 10u);
  r.OnFinished(second->request_id);
  clock.AdvanceNanos(31'000'000'000);
  auto third = r.Route({.block_hashes = req, .num_tokens = 40});
  EXPECT_EQ(third->overlap_blocks, 0u);
}

TEST_F(RouterTest, RequestsFollowAPrefixStillInPrefill) {
  for (bool track : {true, false}) {
    RouterConfig c = Config();
    c.track_in_flight = track;
    c.overlap_credit = 2;
    Router r(c);
    for (WorkerId w : {1, 2, 3}) r.AddWorker(w);
    const std::vector<BlockHash> req = Blocks(100, 10);
    auto first = r.Route({.block_hashes = req, .num_tokens = 40});
    ASSERT_TRUE(first.ok());
    ASSERT_EQ(first->worker, 1u);
    // No event yet: worker 1 is computing the prefix (10 blocks queued, 10 active). Tracked, the
    // second request follows it: max(10 + 10 - 2 * 10, 0) + 10 = 10 against 10 + 3 on the
    // others; untracked, worker 1 costs 10 + 10 + 10 = 30.
    r.UpdateLoad(2, {.active_blocks = 3});
    r.UpdateLoad(3, {.active_blocks = 3});
    auto second = r.Route({.block_hashes = req, .num_tokens = 40});
    ASSERT_TRUE(second.ok());
    if (track) {
      EXPECT_EQ(second->worker, first->worker);
      EXPECT_EQ(second->overlap_blocks, 10u);
    } else {
      EXPECT_NE(second->worker, first->worker);
      EXPECT_EQ(second->overlap_blocks, 0u);
    }
    // Once both have their first token the prediction is gone; the events now speak.
    r.OnPrefillDone(first->request_id);
    r.OnPrefillDone(second->request_id);
    auto third = r.Route({.block_hashes = req, .num_tokens = 40});
    EXPECT_EQ(third->overlap_blocks, 0u);
    for (const auto& d : {first, second, third}) r.OnFinished(d->request_id);
    r.ApplyEvent(first->worker, StoredEvent(req));
    auto fourth = r.Route({.block_hashes = req, .num_tokens = 40});
    EXPECT_EQ(fourth->overlap_blocks, 10u);
    EXPECT_EQ(fourth->worker, first->worker);
  }
}

TEST_F(RouterTest, StatsAndPredictedHitRate) {
  Router r(Config());
  for (WorkerId w : {1, 2}) r.AddWorker(w);
  r.ApplyEvent(1, StoredEvent(Blocks(100, 3)));
  const std::vector<BlockHash> req = Blocks(100, 4);
  ASSERT_TRUE(r.Route({.block_hashes = req, .num_tokens = 16}).ok());  // worker 1, 3 of 4
  const std::vector<BlockHash> other = Blocks(500, 4);
  ASSERT_TRUE(r.Route({.block_hashes = other, .num_tokens = 16}).ok());  // 0 of 4
  r.RecordHashingNanos(1500);
  const RouterStats s = r.Stats();
  EXPECT_EQ(s.requests, 2u);
  EXPECT_EQ(s.request_blocks, 8u);
  EXPECT_EQ(s.overlap_blocks, 3u);
  EXPECT_DOUBLE_EQ(s.predicted_hit_rate, 3.0 / 8);
  EXPECT_EQ(s.decision.count, 2u);
  EXPECT_EQ(s.find_matches.count, 2u);
  EXPECT_EQ(s.hashing.count, 1u);
  EXPECT_DOUBLE_EQ(s.hashing.Quantile(0.5), 2e-6);  // the 2 µs bucket
  EXPECT_EQ(s.events_applied, 1u);
  EXPECT_EQ(s.indexed_blocks, 3u);
  ASSERT_EQ(s.workers.size(), 2u);
  EXPECT_EQ(s.workers[0].chosen + s.workers[1].chosen, 2u);
  EXPECT_EQ(s.workers[0].overlap_blocks, 3u);
}

TEST_F(RouterTest, ConcurrentRoutesAndEvents) {
  Router r(Config());
  for (WorkerId w = 0; w < 8; ++w) r.AddWorker(w);
  std::thread events([&] {
    for (int i = 0; i < 2000; ++i) {
      r.ApplyEvent(i % 8, StoredEvent(Blocks(1000 * (i % 50), 1 + i % 20)));
      r.UpdateLoad(i % 8, {.active_blocks = static_cast<uint64_t>(i % 13)});
    }
  });
  std::vector<std::thread> routers;
  for (int t = 0; t < 4; ++t) {
    routers.emplace_back([&, t] {
      for (int i = 0; i < 1000; ++i) {
        const std::vector<BlockHash> req = Blocks(1000 * ((i + t) % 50), 20);
        auto d = r.Route({.block_hashes = req, .num_tokens = 80});
        ASSERT_TRUE(d.ok());
        r.OnPrefillDone(d->request_id);
        r.OnFinished(d->request_id);
      }
    });
  }
  for (auto& th : routers) th.join();
  events.join();
  EXPECT_EQ(r.Stats().requests, 4000u);
}

}  // namespace
}  // namespace mint::router
