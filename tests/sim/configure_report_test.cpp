// What mint configure prints from a search: the Pareto front, the table, the deploy commands
// and the JSON of a layout.
#include "sim/configure_report.h"

#include <gtest/gtest.h>

namespace mint::sim {
namespace {

Evaluation Eval(double ttft, double cost, bool meets, int32_t p, int32_t d) {
  Evaluation e;
  e.layout.prefill_workers = p;
  e.layout.decode_workers = d;
  e.ttft_p99_s = ttft;
  e.cost_per_million_output = cost;
  e.meets_sla = meets;
  return e;
}

TEST(ConfigureReportTest, TheParetoFrontKeepsTheLayoutsMeetingTheSlaThatNothingBeatsOnBoth) {
  const std::vector<Evaluation> all = {Eval(0.5, 3, true, 0, 6), Eval(0.6, 4, true, 0, 8),
                                       Eval(0.9, 2, true, 2, 2), Eval(1.5, 2.5, true, 0, 5),
                                       Eval(3.0, 1, false, 0, 2)};
  const std::vector<Evaluation> front = ParetoFront(all);
  ASSERT_EQ(front.size(), 2u);  // the cheapest one misses the SLA: not on the front
  EXPECT_EQ(front[0].ttft_p99_s, 0.5);
  EXPECT_EQ(front[1].ttft_p99_s, 0.9);
  const auto files = ParetoPlotFiles({.ranked = all}, {.ttft_p99_s = 2, .itl_p99_s = 0.05});
  ASSERT_EQ(files.size(), 3u);
  EXPECT_EQ(files[2].first, kParetoScript);
  EXPECT_NE(files[2].second.find("pareto.png"), std::string::npos);
  EXPECT_EQ(std::count(files[0].second.begin(), files[0].second.end(), '\n'), 6);  // header + 5
  EXPECT_NE(files[1].second.find("\"2P+2D kv\""), std::string::npos);
}

TEST(ConfigureReportTest, DeployCommandsCarryTheLayout) {
  Layout l;
  l.prefill_workers = 3;
  l.decode_workers = 5;
  l.block_size = 16;
  l.max_num_batched_tokens = 4096;
  l.remote_prefill_min_tokens = 2048;
  const auto lines = DeployCommands(l, {.model = "m.gguf",
                                        .kv_capacity_tokens = 65536,
                                        .timing_profile = "p.json",
                                        .kv_bytes_per_token = 1000,
                                        .kv_gbps = 50,
                                        .kv_latency_ms = 1,
                                        .max_model_len = 8192});
  std::string all;
  for (const auto& s : lines) all += s + "\n";
  EXPECT_NE(all.find("mint frontend -m m.gguf"), std::string::npos);
  EXPECT_NE(all.find("--kv-block-size 16"), std::string::npos);
  EXPECT_NE(all.find("--remote-prefill-min-tokens 2048"), std::string::npos);
  EXPECT_NE(all.find("--role prefill --block-size 16 --max-num-seqs 256 --max-num-batched-tokens "
                     "4096  # on each of 3 devices"),
            std::string::npos)
      << all;
  EXPECT_NE(all.find("on each of 5 devices"), std::string::npos);
  EXPECT_NE(all.find("mint mocker --etcd 127.0.0.1:2379 --count 5 --role decode"),
            std::string::npos);
  EXPECT_NE(all.find("--num-blocks 4096"), std::string::npos);
  EXPECT_NE(all.find("--timing-profile p.json"), std::string::npos);
  EXPECT_NE(all.find("--kv-transfer-gbps 50"), std::string::npos);
  l.prefill_workers = 0;
  l.router_mode = router::Mode::kRoundRobin;
  all.clear();
  for (const auto& s : DeployCommands(l, {})) all += s + "\n";
  EXPECT_NE(all.find("--role agg"), std::string::npos);
  EXPECT_EQ(all.find("--remote-prefill"), std::string::npos);
  EXPECT_EQ(all.find("--router-cache-credit"), std::string::npos);
  EXPECT_NE(all.find("--router-mode round-robin"), std::string::npos);
}

TEST(ConfigureReportTest, TheTableRanksAndComparesWithTheBaseline) {
  ConfigureResult r;
  r.ranked = {Eval(0.5, 2, true, 2, 2), Eval(0.4, 3, true, 0, 6)};
  r.ranked[1].layout.router_mode = router::Mode::kRoundRobin;
  r.baseline = r.ranked[1];
  const std::string t = FormatRanking(r, 10);
  EXPECT_NE(t.find("   1  2P+2D kv"), std::string::npos) << t;
  EXPECT_NE(t.find("   2  6 agg round-robin"), std::string::npos) << t;
  EXPECT_NE(t.find("base  6 agg round-robin"), std::string::npos) << t;
  EXPECT_NE(t.find("0.667x"), std::string::npos) << t;
  EXPECT_EQ(FormatRanking(r, 1).find("   2  "), std::string::npos);
  const nlohmann::json j = EvaluationToJson(r.ranked[0]);
  EXPECT_EQ(j["layout"]["devices"], 4);
  EXPECT_EQ(j["layout"]["shape"], "2P+2D kv");
  EXPECT_EQ(j["meets_sla"], true);
}

}  // namespace
}  // namespace mint::sim
