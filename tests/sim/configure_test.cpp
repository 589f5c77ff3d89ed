// The layout search of `mint configure`: its SLA syntax, its ranking order, that what it returns
// is what a direct simulation of the same layout says, that its winner is minimal (one device
// fewer misses the SLA), that it simulates far fewer layouts than the product of its knobs, and
// that its result does not depend on the thread count.
#include "sim/configure.h"

#include <gtest/gtest.h>

#include <random>

namespace mint::sim {
namespace {

// Prefill-heavy Poisson load: `n` prompts of 1,500-2,500 tokens (a fifth share a 1,024-token
// prefix), 10-40 output tokens, at `rate` per second.
std::vector<SimRequest> PromptHeavy(int n, double rate) {
  std::mt19937_64 rng(7);
  std::uniform_int_distribution<int32_t> tok(3, 31999), len(1500, 2500), out(10, 40);
  std::exponential_distribution<double> gap(rate);
  std::vector<int32_t> shared(1024);
  for (int32_t& t : shared) t = tok(rng);
  std::vector<SimRequest> reqs;
  double t = 0;
  for (int i = 0; i < n; ++i) {
    SimRequest r;
    if (i % 5 == 0) r.prompt = shared;
    const int total = len(rng);
    while (static_cast<int>(r.prompt.size()) < total) r.prompt.push_back(tok(rng));
    r.output_tokens = out(rng);
    t += gap(rng);
    r.arrival_s = t;
    reqs.push_back(std::move(r));
  }
  return reqs;
}

ConfigureOptions Options(int threads = 1) {
  ConfigureOptions o;
  o.base.scheduler.max_model_len = 8192;
  o.kv_capacity_tokens = 65536;
  o.sla = {.ttft_p99_s = 0.6, .itl_p99_s = 0.12};
  o.cost_per_hour = 2.0;
  o.space.max_devices = 5;
  o.space.max_num_batched_tokens = {1024, 4096};
  o.space.block_sizes = {16, 64};
  o.space.cache_credits = {1, 5};
  o.space.remote_prefill_min_tokens = {0, 1024};
  o.threads = threads;
  return o;
}

TEST(ConfigureTest, ParsesTheSla) {
  auto sla = ParseSla("ttft_p99=2,itl_p99=50ms");
  ASSERT_TRUE(sla.ok()) << sla.status().ToString();
  EXPECT_DOUBLE_EQ(sla->ttft_p99_s, 2.0);
  EXPECT_DOUBLE_EQ(sla->itl_p99_s, 0.05);
  sla = ParseSla("itl_p99=0.04s,ttft_p99=500ms");
  ASSERT_TRUE(sla.ok());
  EXPECT_DOUBLE_EQ(sla->ttft_p99_s, 0.5);
  for (const char* bad : {"", "ttft_p99=2", "ttft_p99=2,itl_p99=0", "ttft_p99=x,itl_p99=1",
                          "ttft_p50=1,itl_p99=1", "ttft_p99,itl_p99=1", "ttft_p99=-1,itl_p99=1"}) {
    EXPECT_FALSE(ParseSla(bad).ok()) << bad;
  }
}

TEST(ConfigureTest, RanksMeetingFirstThenCheaperThenHeadroom) {
  Evaluation cheap_miss{.attainment = 0.9, .cost_per_million_output = 1, .meets_sla = false};
  Evaluation dear_meet{.cost_per_million_output = 5, .meets_sla = true, .sla_ratio = 0.5};
  Evaluation cheap_meet{.cost_per_million_output = 3, .meets_sla = true, .sla_ratio = 0.9};
  Evaluation cheap_meet_headroom = cheap_meet;
  cheap_meet_headroom.sla_ratio = 0.4;
  EXPECT_TRUE(RanksBefore(dear_meet, cheap_miss));
  EXPECT_TRUE(RanksBefore(cheap_meet, dear_meet));
  EXPECT_TRUE(RanksBefore(cheap_meet_headroom, cheap_meet));
  Evaluation worse_miss = cheap_miss;
  worse_miss.attainment = 0.5;
  EXPECT_TRUE(RanksBefore(cheap_miss, worse_miss));
  EXPECT_FALSE(RanksBefore(cheap_meet, cheap_meet));
}

TEST(ConfigureTest, FindsAMinimalLayoutThatMeetsTheSlaAndSaysWhatASimulationSays) {
  const auto reqs = PromptHeavy(240, 30.0);
  const ConfigureOptions o = Options();
  auto res = Configure(o, reqs);
  ASSERT_TRUE(res.ok()) << res.status().ToString();
  ASSERT_FALSE(res->ranked.empty());
  for (size_t i = 1; i < res->ranked.size(); ++i) {
    EXPECT_FALSE(RanksBefore(res->ranked[i], res->ranked[i - 1])) << i;
  }
  const Evaluation& best = res->ranked[0];
  ASSERT_TRUE(best.meets_sla) << best.layout.Key();
  EXPECT_LE(best.ttft_p99_s, o.sla.ttft_p99_s);
  EXPECT_LE(best.itl_p99_s, o.sla.itl_p99_s);
  EXPECT_EQ(best.failed, 0);
  EXPECT_GT(best.cost_per_million_output, 0);
  // What the search reports is what a simulation of that layout says.
  auto again = EvaluateLayout(o, best.layout, reqs);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->ttft_p99_s, best.ttft_p99_s);
  EXPECT_EQ(again->cost_per_million_output, best.cost_per_million_output);
  // Minimal: the same knobs on one device fewer miss the SLA (every split, disaggregated).
  Layout fewer = best.layout;
  for (int32_t p = 0; p < best.layout.devices() - 1; ++p) {
    if (best.layout.disaggregated() != (p > 0)) continue;
    fewer.prefill_workers = p;
    fewer.decode_workers = best.layout.devices() - 1 - p;
    auto e = EvaluateLayout(o, fewer, reqs);
    ASSERT_TRUE(e.ok());
    EXPECT_FALSE(e->meets_sla) << fewer.Key();
  }
  // The baseline: aggregated round-robin, no cheaper than the winner.
  ASSERT_TRUE(res->baseline.has_value());
  EXPECT_FALSE(res->baseline->layout.disaggregated());
  EXPECT_EQ(res->baseline->layout.router_mode, router::Mode::kRoundRobin);
  EXPECT_FALSE(RanksBefore(*res->baseline, best));
  // Pruned: the product of the space is 5 agg x 2 modes x 16 knob settings + 10 splits x 64.
  EXPECT_LT(res->simulations, 160);
  EXPECT_EQ(res->simulations, static_cast<int64_t>(res->ranked.size()));
}

TEST(ConfigureTest, TheResultDoesNotDependOnTheThreadCount) {
  const auto reqs = PromptHeavy(120, 25.0);
  int64_t progress_calls = 0;
  ConfigureOptions two = Options(2);
  two.progress = [&](int64_t sims, const Evaluation*) {
    EXPECT_GT(sims, 0);
    ++progress_calls;
  };
  auto a = Configure(Options(1), reqs), b = Configure(two, reqs);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_GT(progress_calls, 0);
  ASSERT_EQ(a->ranked.size(), b->ranked.size());
  for (size_t i = 0; i < a->ranked.size(); ++i) {
    EXPECT_EQ(a->ranked[i].layout.Key(), b->ranked[i].layout.Key()) << i;
    EXPECT_EQ(a->ranked[i].cost_per_million_output, b->ranked[i].cost_per_million_output) << i;
    EXPECT_EQ(a->ranked[i].ttft_p99_s, b->ranked[i].ttft_p99_s) << i;
  }
}

TEST(ConfigureTest, BadSearchesAreRefused) {
  const auto reqs = PromptHeavy(10, 5.0);
  EXPECT_FALSE(Configure(Options(), {}).ok());
  ConfigureOptions o = Options();
  o.sla.itl_p99_s = 0;
  EXPECT_FALSE(Configure(o, reqs).ok());
  o = Options();
  o.space.max_devices = 0;
  EXPECT_FALSE(Configure(o, reqs).ok());
  o = Options();
  o.space.block_sizes = {};
  EXPECT_FALSE(Configure(o, reqs).ok());
  o = Options();
  o.space.aggregated = false;
  o.space.max_devices = 1;
  EXPECT_FALSE(Configure(o, reqs).ok());
  o = Options();
  o.kv_capacity_tokens = 8;
  EXPECT_FALSE(Configure(o, reqs).ok());
}

}  // namespace
}  // namespace mint::sim
