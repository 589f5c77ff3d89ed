// The simulator's invariants (no request lost, blocks conserved, the router's index equals the
// pools, the clock never goes back, determinism) and its agreement with the timing model on
// cases small enough to work out by hand.
#include "sim/simulator.h"

#include <gtest/gtest.h>

#include <random>

#include "bench_lib/workload.h"

namespace mint::sim {
namespace {

SimConfig Small(router::Mode mode = router::Mode::kKv) {
  SimConfig c;
  c.num_workers = 3;
  c.block_size = 16;
  c.num_blocks = 512;
  c.scheduler = {.max_num_seqs = 16, .max_num_batched_tokens = 512, .max_model_len = 8192};
  c.router.block_size = 16;
  c.router.mode = mode;
  return c;
}

// n requests in `groups` shared-prefix groups: prefix of `prefix` tokens, then unique tokens.
std::vector<SimRequest> Workload(int n, int groups, int prefix, int total, double rate,
                                 uint64_t seed = 1) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int32_t> tok(3, 31999);
  std::vector<std::vector<int32_t>> prefixes(static_cast<size_t>(groups));
  for (auto& p : prefixes) {
    for (int i = 0; i < prefix; ++i) p.push_back(tok(rng));
  }
  std::exponential_distribution<double> gap(rate);
  std::vector<SimRequest> out;
  double t = 0;
  for (int i = 0; i < n; ++i) {
    SimRequest r;
    r.prompt = prefixes[static_cast<size_t>(i % groups)];
    while (static_cast<int>(r.prompt.size()) < total) r.prompt.push_back(tok(rng));
    r.output_tokens = 8 + i % 24;
    t += gap(rng);
    r.arrival_s = t;
    out.push_back(std::move(r));
  }
  return out;
}

TEST(SimulatorTest, OneRequestTakesTheTimingModelsSteps) {
  SimConfig c = Small();
  c.num_workers = 1;
  // 1,000-token prompt in chunks of 512: two prefill steps (512, 488), then 3 decode steps.
  SimRequest r{.arrival_s = 2.0, .prompt = std::vector<int32_t>(1000, 7), .output_tokens = 4};
  auto res = Simulate(c, {r});
  ASSERT_TRUE(res.ok()) << res.status().ToString();
  const auto& m = c.timing;
  const int64_t cap = int64_t{c.num_blocks} * c.block_size;
  const double ttft = (m.PrefillMs(512) + m.PrefillMs(488)) / 1e3;
  const bench::RequestRecord& rec = res->records[0];
  EXPECT_NEAR(rec.ttft_s, ttft, 1e-9);
  ASSERT_EQ(rec.itl_s.size(), 3u);
  for (int k = 0; k < 3; ++k) {
    EXPECT_NEAR(rec.itl_s[k], m.DecodeMs(1, 1000 + 1 + k, cap) / 1e3, 1e-9) << k;
  }
  EXPECT_EQ(rec.output_tokens, 4);
  EXPECT_EQ(res->steps, 5);
  EXPECT_NEAR(res->end_s, 2.0 + rec.e2e_s(), 1e-9);
}

TEST(SimulatorTest, InvariantsHoldAndEveryRequestEnds) {
  for (router::Mode mode : {router::Mode::kKv, router::Mode::kRoundRobin}) {
    const auto reqs = Workload(300, 6, 256, 700, 20.0);
    auto res = Simulate(Small(mode), reqs);
    ASSERT_TRUE(res.ok());
    ASSERT_EQ(res->records.size(), reqs.size());
    double last_end = 0;
    for (size_t i = 0; i < reqs.size(); ++i) {
      const bench::RequestRecord& rec = res->records[i];
      EXPECT_TRUE(rec.error.empty()) << i << ": " << rec.error;
      EXPECT_EQ(rec.output_tokens, reqs[i].output_tokens) << i;
      EXPECT_DOUBLE_EQ(rec.start_s, reqs[i].arrival_s);
      EXPECT_GT(rec.ttft_s, 0);
      ASSERT_EQ(rec.token_times_s.size(), static_cast<size_t>(rec.output_tokens));
      for (size_t k = 1; k < rec.token_times_s.size(); ++k) {
        EXPECT_GT(rec.token_times_s[k], rec.token_times_s[k - 1]) << "the clock went back";
      }
      last_end = std::max(last_end, rec.end_s);
    }
    EXPECT_DOUBLE_EQ(res->end_s, last_end);
    EXPECT_EQ(res->router.requests, reqs.size());
    EXPECT_GT(res->hit_rate(), 0.0);
  }
}

TEST(SimulatorTest, RouterIndexEqualsThePoolsAtTheEnd) {
  auto res = Simulate(Small(), Workload(200, 4, 128, 400, 30.0));
  ASSERT_TRUE(res.ok());
  ASSERT_EQ(res->workers.size(), 3u);
  for (size_t w = 0; w < res->workers.size(); ++w) {
    const WorkerEnd& e = res->workers[w];
    EXPECT_EQ(e.used_blocks, 0) << "worker " << w << " leaked blocks";
    EXPECT_GT(e.cached_blocks, 0) << w;
    // The router's index was built from KV events alone.
    EXPECT_EQ(e.indexed_blocks, static_cast<size_t>(e.cached_blocks)) << w;
  }
}

TEST(SimulatorTest, SameInputsSameResultsByteForByte) {
  const auto reqs = Workload(150, 5, 200, 500, 40.0, 3);
  SimConfig c = Small();
  c.router.temperature = 0.5;  // random draws too
  c.router.seed = 11;
  auto a = Simulate(c, reqs), b = Simulate(c, reqs);
  ASSERT_TRUE(a.ok() && b.ok());
  const auto ja = bench::ReportToJson(bench::BuildReport(a->records, {}));
  const auto jb = bench::ReportToJson(bench::BuildReport(b->records, {}));
  EXPECT_EQ(ja.dump(), jb.dump());
  EXPECT_EQ(a->steps, b->steps);
}

TEST(SimulatorTest, KvRoutingFindsThePrefixesRoundRobinScatters) {
  // 40 prefixes of 480 tokens: 19,200 tokens, more than one worker's cache (8,192) and less than
  // the three together. Round-robin asks every worker to hold all of them.
  const auto reqs = Workload(600, 40, 480, 512, 10.0);
  auto kv = Simulate(Small(router::Mode::kKv), reqs);
  auto rr = Simulate(Small(router::Mode::kRoundRobin), reqs);
  ASSERT_TRUE(kv.ok() && rr.ok());
  EXPECT_GT(kv->hit_rate(), 0.7);
  EXPECT_GT(kv->hit_rate(), rr->hit_rate() + 0.2);
}

TEST(SimulatorTest, TheRouterQueueHoldsRequestsUnderOverloadAndLosesNone) {
  // 3x more work than the workers finish: with a queue, requests wait at the router.
  const auto reqs = Workload(300, 10, 256, 2000, 60.0);
  for (router::QueuePolicy p : {router::QueuePolicy::kFcfs, router::QueuePolicy::kWspt}) {
    SimConfig c = Small();
    c.queue = p;
    c.queue_busy_s = 0.2;
    auto res = Simulate(c, reqs);
    ASSERT_TRUE(res.ok());
    EXPECT_GT(res->queued, 0) << router::QueuePolicyName(p);
    for (const auto& rec : res->records) {
      EXPECT_TRUE(rec.error.empty());
      EXPECT_GT(rec.output_tokens, 0);
    }
    for (const WorkerEnd& e : res->workers) EXPECT_EQ(e.used_blocks, 0);
  }
}

// Disaggregated layouts: 1 prefill + 1 decode worker, a 1,000-token prompt (remote: over 512
// tokens, nothing cached on the decode worker). TTFT = the prefill worker's two chunks + the pull
// of 63 blocks over the link + the decode worker's first step; the held first token leaves with
// the second.
TEST(SimulatorTest, ARemotePrefillTakesPrefillPullAndDecodeSteps) {
  SimConfig c = Small();
  c.num_workers = 1;
  c.num_prefill_workers = 1;
  c.kv_bytes_per_token = 1 << 20;
  c.kv_gbps = 10;
  c.kv_latency_s = 0.002;
  SimRequest r{.arrival_s = 1.0, .prompt = std::vector<int32_t>(1000, 7), .output_tokens = 4};
  auto res = Simulate(c, {r});
  ASSERT_TRUE(res.ok()) << res.status().ToString();
  const auto& m = c.timing;
  const int64_t cap = int64_t{c.num_blocks} * c.block_size;
  const double pull = 63.0 * 16 * (1 << 20) / 10e9 + 0.002;
  const bench::RequestRecord& rec = res->records[0];
  EXPECT_NEAR(rec.ttft_s,
              (m.PrefillMs(512) + m.PrefillMs(488) + m.DecodeMs(1, 1001, cap)) / 1e3 + pull, 1e-9);
  ASSERT_EQ(rec.itl_s.size(), 3u);
  EXPECT_EQ(rec.itl_s[0], 0.0);
  EXPECT_NEAR(rec.itl_s[1], m.DecodeMs(1, 1002, cap) / 1e3, 1e-9);
  EXPECT_NEAR(rec.itl_s[2], m.DecodeMs(1, 1003, cap) / 1e3, 1e-9);
  EXPECT_EQ(rec.output_tokens, 4);
  EXPECT_EQ(res->remote_prefills, 1);
  EXPECT_EQ(res->kv_pulled_blocks, 63);
  EXPECT_NEAR(res->kv_pull_s, pull, 1e-9);
  EXPECT_EQ(res->steps, 5);  // 2 prefill chunks, 3 decodes
  ASSERT_EQ(res->workers.size(), 2u);
  EXPECT_FALSE(res->workers[0].prefill);
  EXPECT_TRUE(res->workers[1].prefill);
}

// The frontend's time before routing counts in TTFT (the client's clock starts at arrival); a
// remote prefill's first token passes through the frontend again before the decode worker.
TEST(SimulatorTest, TheFrontendsTimeAddsToTtft) {
  SimConfig c = Small();
  c.num_workers = 1;
  c.frontend_latency_s = 0.003;
  c.frontend_s_per_token = 1e-6;
  SimRequest r{.arrival_s = 2.0, .prompt = std::vector<int32_t>(1000, 7), .output_tokens = 4};
  auto res = Simulate(c, {r});
  ASSERT_TRUE(res.ok()) << res.status().ToString();
  const auto& m = c.timing;
  EXPECT_EQ(res->records[0].start_s, 2.0);
  EXPECT_NEAR(res->records[0].ttft_s, 0.003 + 0.001 + (m.PrefillMs(512) + m.PrefillMs(488)) / 1e3,
              1e-9);

  c.num_prefill_workers = 1;
  c.frontend_s_per_token = 0;
  c.kv_bytes_per_token = 1 << 20;
  c.kv_gbps = 10;
  c.kv_latency_s = 0.002;
  auto remote = Simulate(c, {r});
  ASSERT_TRUE(remote.ok()) << remote.status().ToString();
  ASSERT_EQ(remote->remote_prefills, 1);
  const int64_t cap = int64_t{c.num_blocks} * c.block_size;
  const double pull = 63.0 * 16 * (1 << 20) / 10e9 + 0.002;
  EXPECT_NEAR(remote->records[0].ttft_s,
              0.003 + (m.PrefillMs(512) + m.PrefillMs(488)) / 1e3 + 0.003 + pull +
                  m.DecodeMs(1, 1001, cap) / 1e3,
              1e-9);

  c.frontend_latency_s = -1;
  EXPECT_FALSE(Simulate(c, {r}).ok());
}

TEST(SimulatorTest, ShortPromptsAndSingleTokensStayOnTheDecodeWorkers) {
  SimConfig c = Small();
  c.num_workers = 1;
  c.num_prefill_workers = 1;
  auto res = Simulate(c, {SimRequest{.prompt = std::vector<int32_t>(300, 5), .output_tokens = 8},
                          SimRequest{.prompt = std::vector<int32_t>(2000, 6), .output_tokens = 1}});
  ASSERT_TRUE(res.ok());
  EXPECT_EQ(res->remote_prefills, 0);
  EXPECT_EQ(res->local_prefills_short, 1);  // 300 < 512 tokens; the 1-token request not asked
  EXPECT_EQ(res->local_prefills_cached, 0);
  EXPECT_EQ(res->kv_pulled_blocks, 0);
  c.remote_prefill_min_tokens = 100;
  res = Simulate(c, {SimRequest{.prompt = std::vector<int32_t>(300, 5), .output_tokens = 8}});
  ASSERT_TRUE(res.ok());
  EXPECT_EQ(res->remote_prefills, 1);
}

TEST(SimulatorTest, DisaggregatedInvariantsHoldAndCachedBlocksAreNotPulled) {
  SimConfig c = Small();
  c.num_workers = 2;
  c.num_prefill_workers = 2;
  c.remote_prefill_min_tokens = 100;  // every prompt has >= 444 tokens uncached: all go remote
  const auto reqs = Workload(300, 6, 256, 700, 20.0);
  auto res = Simulate(c, reqs);
  ASSERT_TRUE(res.ok());
  ASSERT_EQ(res->records.size(), reqs.size());
  for (size_t i = 0; i < reqs.size(); ++i) {
    const bench::RequestRecord& rec = res->records[i];
    EXPECT_TRUE(rec.error.empty()) << i << ": " << rec.error;
    EXPECT_EQ(rec.output_tokens, reqs[i].output_tokens) << i;
    ASSERT_EQ(rec.token_times_s.size(), static_cast<size_t>(rec.output_tokens));
    for (size_t k = 1; k < rec.token_times_s.size(); ++k) {
      EXPECT_GE(rec.token_times_s[k], rec.token_times_s[k - 1]) << "the clock went back";
    }
  }
  EXPECT_EQ(res->remote_prefills, 300);
  EXPECT_EQ(res->local_prefills_short + res->local_prefills_cached, 0);
  // Each prompt is 44 blocks; the shared 16-block prefixes are found on the decode workers.
  EXPECT_GT(res->kv_pulled_blocks, 300 * 28);
  EXPECT_LT(res->kv_pulled_blocks, 300 * 44);
  for (size_t w = 0; w < res->workers.size(); ++w) {
    const WorkerEnd& e = res->workers[w];
    EXPECT_EQ(e.used_blocks, 0) << w;
    EXPECT_GT(e.cached_blocks, 0) << w;
    EXPECT_EQ(e.indexed_blocks, static_cast<size_t>(e.cached_blocks)) << w;
  }
  auto again = Simulate(c, reqs);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(bench::ReportToJson(bench::BuildReport(res->records, {})).dump(),
            bench::ReportToJson(bench::BuildReport(again->records, {})).dump());
}

TEST(SimulatorTest, BadInputsAreRefused) {
  SimConfig c = Small();
  c.router.block_size = 32;
  EXPECT_FALSE(Simulate(c, {}).ok());
  EXPECT_FALSE(Simulate(Small(), {SimRequest{.prompt = {}}}).ok());
  EXPECT_FALSE(
      Simulate(Small(), {SimRequest{.prompt = std::vector<int32_t>(9000, 1), .output_tokens = 1}})
          .ok());
  EXPECT_TRUE(Simulate(Small(), {}).ok());
  c = Small();
  c.num_prefill_workers = 1;
  c.queue = router::QueuePolicy::kFcfs;
  EXPECT_FALSE(Simulate(c, {}).ok());
}

}  // namespace
}  // namespace mint::sim
