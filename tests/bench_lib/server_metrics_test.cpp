#include "bench_lib/server_metrics.h"

#include <gtest/gtest.h>

#include "bench_lib/plot.h"

namespace mint::bench {
namespace {

TEST(ServerMetricsTest, SumsLabelSetsAndMatchesExactNames) {
  const char* text =
      "# HELP mint_prefix_cache_hits_total Blocks found\n"
      "# TYPE mint_prefix_cache_hits_total counter\n"
      "mint_prefix_cache_hits_total{model=\"a\"} 30\n"
      "mint_prefix_cache_hits_total{model=\"b\",x=\"}\"} 10\n"
      "mint_prefix_cache_hits_total_extra 999\n"
      "mint_prefix_cache_queries_total{model=\"a\"} 100\n";
  EXPECT_DOUBLE_EQ(*MetricSum(text, "mint_prefix_cache_queries_total"), 100);
  auto c = ParsePrefixCacheCounters(text);
  ASSERT_TRUE(c.has_value());
  EXPECT_DOUBLE_EQ(c->queries, 100);
  EXPECT_FALSE(MetricSum(text, "nope").has_value());
  auto rate = PrefixCacheHitRate({10, 50}, {40, 110});
  ASSERT_TRUE(rate.has_value());
  EXPECT_DOUBLE_EQ(*rate, 0.5);
  EXPECT_FALSE(PrefixCacheHitRate({1, 5}, {1, 5}).has_value());
}

TEST(ServerMetricsTest, TierHitsPerTier) {
  auto text = [](int q, int host, int disk) {
    return "mint_prefix_cache_hits_total 0\nmint_prefix_cache_queries_total " + std::to_string(q) +
           "\nmint_kv_tier_hit_blocks_total{tier=\"host\"} " + std::to_string(host) +
           "\nmint_kv_tier_hit_blocks_total{tier=\"disk\"} " + std::to_string(disk) + "\n";
  };
  auto before = ParsePrefixCacheCounters(text(100, 5, 1));
  auto after = ParsePrefixCacheCounters(text(300, 105, 51));
  ASSERT_TRUE(before && after);
  const auto rates = TierHitRates(*before, *after);
  ASSERT_EQ(rates.size(), 2u);
  EXPECT_EQ(rates[0].first, "host");
  EXPECT_DOUBLE_EQ(rates[0].second, 0.5);
  EXPECT_EQ(rates[1].first, "disk");
  EXPECT_DOUBLE_EQ(rates[1].second, 0.25);
  // A server without tiers: none.
  auto plain = ParsePrefixCacheCounters(
      "mint_prefix_cache_hits_total 1\nmint_prefix_cache_queries_total 2\n");
  ASSERT_TRUE(plain.has_value());
  EXPECT_TRUE(TierHitRates(*plain, *plain).empty());
}

TEST(ServerMetricsTest, FallsBackToVllmNames) {
  auto c = ParsePrefixCacheCounters(
      "vllm:prefix_cache_queries_total{engine=\"0\",model_name=\"m\"} 2048.0\n"
      "vllm:prefix_cache_hits_total{engine=\"0\",model_name=\"m\"} 512.0\n");
  ASSERT_TRUE(c.has_value());
  EXPECT_DOUBLE_EQ(c->hits, 512);
  EXPECT_FALSE(ParsePrefixCacheCounters("llamacpp:prompt_tokens_total 5\n").has_value());
}

TEST(ServerMetricsTest, DisaggregationDeltas) {
  auto text = [](int remote, int cached, int loads, int bytes) {
    return "mint_remote_prefills_total " + std::to_string(remote) +
           "\nmint_local_prefills_total{reason=\"short\"} 3\n"
           "mint_local_prefills_total{reason=\"cached\"} " +
           std::to_string(cached) +
           "\nmint_local_prefills_total{reason=\"queue\"} 0\nmint_prefill_fallbacks_total 1\n"
           "mint_kv_import_failures_total{outcome=\"recomputed\"} " +
           std::to_string(remote / 4) +
           "\nmint_kv_import_failures_total{outcome=\"failed\"} 1\n"
           "mint_kv_transfer_loads_total " +
           std::to_string(loads) + "\nmint_kv_transfer_pulled_bytes_total " +
           std::to_string(bytes) + "\n";
  };
  const auto d = DisaggDeltas(text(2, 1, 2, 100), text(10, 4, 10, 900));
  const std::vector<std::pair<std::string, double>> want = {
      {"remote_prefills", 8},       {"local_prefills_short", 0},
      {"local_prefills_cached", 3}, {"local_prefills_queue", 0},
      {"prefill_fallbacks", 0},     {"import_recomputed", 2},
      {"import_failed", 0},         {"kv_loads", 8},
      {"kv_pulled_bytes", 800}};
  EXPECT_EQ(d, want);
  // A counter that first appears after the run counts from 0; nothing moved: nothing to report.
  EXPECT_EQ(DisaggDeltas("", "mint_remote_prefills_total 2\n").at(0).second, 2);
  EXPECT_TRUE(DisaggDeltas(text(2, 1, 2, 100), text(2, 1, 2, 100)).empty());
  EXPECT_TRUE(DisaggDeltas("", "mint_prefix_cache_hits_total 5\n").empty());
}

TEST(PlotTest, WritesCdfDataAndScript) {
  RequestRecord r;
  r.start_s = 0;
  r.ttft_s = 0.1;
  r.itl_s = {0.01, 0.02};
  r.token_times_s = {0.1, 0.11, 0.13};
  r.end_s = 0.13;
  r.output_tokens = 3;
  Report rep = BuildReport({r}, {});
  auto files = MakePlotFiles({r}, rep);
  ASSERT_EQ(files.size(), 5u);
  EXPECT_EQ(files[0].first, "ttft.dat");
  EXPECT_NE(files[0].second.find("100.0000 1"), std::string::npos) << files[0].second;
  EXPECT_NE(files[1].second.find("20.0000 1"), std::string::npos) << files[1].second;
  EXPECT_EQ(files[4].first, kPlotScript);
  EXPECT_NE(files[4].second.find("throughput.png"), std::string::npos);
}

}  // namespace
}  // namespace mint::bench
