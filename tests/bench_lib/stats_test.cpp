#include "bench_lib/stats.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace mint::bench {
namespace {

RequestRecord Rec(double start, double ttft, std::vector<double> itl, int in, int out) {
  RequestRecord r;
  r.start_s = start;
  r.ttft_s = ttft;
  double t = start + ttft;
  r.token_times_s.push_back(t);
  for (double g : itl) {
    t += g;
    r.token_times_s.push_back(t);
  }
  r.itl_s = std::move(itl);
  r.end_s = t;
  r.input_tokens = in;
  r.output_tokens = out;
  return r;
}

TEST(StatsTest, RequestsCsvOneLinePerRequest) {
  std::vector<RequestRecord> recs = {Rec(0.5, 0.25, {0.01, 0.03}, 100, 3), Rec(1.0, 0, {}, 50, 0)};
  recs[0].index = 7;
  recs[1].index = 8;
  recs[1].error = "HTTP 503, overloaded\nretry";
  const std::string path =
      (std::filesystem::path(::testing::TempDir()) / "mint_requests.csv").string();
  ASSERT_TRUE(WriteRequestsCsv(path, recs).ok());
  std::ifstream f(path);
  std::stringstream text;
  text << f.rdbuf();
  EXPECT_EQ(text.str(),
            "index,arrival_s,ttft_s,e2e_s,input_tokens,output_tokens,itl_mean_s,error\n"
            "7,0.500000,0.250000,0.290000,100,3,0.020000,\n"
            "8,1.000000,0.000000,0.000000,50,0,0.000000,HTTP 503  overloaded retry\n");
  EXPECT_EQ(WriteRequestsCsv("/nonexistent-dir/x.csv", recs).code(), StatusCode::kIoError);
}

TEST(StatsTest, PercentilesInterpolateLinearly) {
  std::vector<double> v = {1, 2, 3, 4};
  EXPECT_DOUBLE_EQ(PercentileSorted(v, 0), 1);
  EXPECT_DOUBLE_EQ(PercentileSorted(v, 50), 2.5);
  EXPECT_DOUBLE_EQ(PercentileSorted(v, 90), 3.7);
  EXPECT_DOUBLE_EQ(PercentileSorted(v, 100), 4);
  Summary s = Summarize({5, 1, 3});
  EXPECT_EQ(s.count, 3);
  EXPECT_DOUBLE_EQ(s.mean, 3);
  EXPECT_DOUBLE_EQ(s.p50, 3);
  EXPECT_DOUBLE_EQ(s.min, 1);
  EXPECT_DOUBLE_EQ(s.max, 5);
  EXPECT_EQ(Summarize({}).count, 0);
}

TEST(StatsTest, ReportOnHandMadeRecords) {
  std::vector<RequestRecord> recs;
  recs.push_back(Rec(0.0, 0.1, {0.01, 0.01, 0.01}, 10, 4));   // e2e 0.13, tpot 0.01
  recs.push_back(Rec(0.5, 0.3, {0.02, 0.04}, 20, 3));          // e2e 0.36, tpot 0.03
  RequestRecord fail;
  fail.start_s = 0.2;
  fail.end_s = 0.4;
  fail.error = "HTTP 500";
  recs.push_back(fail);
  RequestRecord warm = Rec(-5, 1, {1}, 1, 2);
  warm.warmup = true;
  recs.push_back(warm);
  ReportOptions opt;
  opt.slo = *ParseSlo("ttft=200ms,itl=0.03");
  opt.device_cost_per_hour = 3.6;
  Report r = BuildReport(recs, opt);
  EXPECT_EQ(r.requests, 3);
  EXPECT_EQ(r.succeeded, 2);
  EXPECT_EQ(r.failed, 1);
  EXPECT_EQ(r.warmup_excluded, 1);
  EXPECT_NEAR(r.duration_s, 0.86, 1e-12);
  EXPECT_EQ(r.output_tokens, 7);
  EXPECT_EQ(r.input_tokens, 30);
  EXPECT_NEAR(r.output_token_throughput, 7 / 0.86, 1e-9);
  EXPECT_NEAR(r.request_throughput, 2 / 0.86, 1e-9);
  EXPECT_NEAR(r.ttft.mean, 0.2, 1e-12);
  EXPECT_EQ(r.itl.count, 5);
  EXPECT_NEAR(r.itl.mean, 0.018, 1e-12);
  EXPECT_NEAR(r.tpot.mean, 0.02, 1e-12);
  EXPECT_NEAR(r.e2e.max, 0.36, 1e-12);
  EXPECT_EQ(r.good, 1);  // the second misses both ttft and itl
  EXPECT_NEAR(*r.cost_per_million_output_tokens, 0.001 / (7 / 0.86) * 1e6, 1e-6);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].first, "HTTP 500");
  double sum = 0;
  for (double b : r.output_tokens_per_bucket) sum += b * r.bucket_s;
  EXPECT_NEAR(sum, 7, 1e-9);

  nlohmann::json j = ReportToJson(r);
  EXPECT_EQ(j["schema"], "mint-bench/1");
  EXPECT_EQ(j["requests"]["failed"], 1);
  EXPECT_NEAR(j["latency_s"]["ttft"]["mean"].get<double>(), 0.2, 1e-12);
  EXPECT_FALSE(FormatReportTable(r).empty());

  nlohmann::json b = j;
  b["throughput"]["output_tokens_per_s"] = j["throughput"]["output_tokens_per_s"].get<double>() * 2;
  auto cmp = CompareReports(j, b);
  ASSERT_TRUE(cmp.ok());
  EXPECT_NE(cmp->find("2.000"), std::string::npos) << *cmp;
  EXPECT_FALSE(CompareReports(j, nlohmann::json::object()).ok());
}

TEST(StatsTest, SloParsing) {
  auto s = ParseSlo("ttft=0.5,itl=50ms,tpot=0.04s,e2e=10");
  ASSERT_TRUE(s.ok());
  EXPECT_DOUBLE_EQ(*s->ttft, 0.5);
  EXPECT_DOUBLE_EQ(*s->itl, 0.05);
  EXPECT_DOUBLE_EQ(*s->tpot, 0.04);
  EXPECT_DOUBLE_EQ(*s->e2e, 10);
  EXPECT_FALSE(ParseSlo("ttft").ok());
  EXPECT_FALSE(ParseSlo("foo=1").ok());
  EXPECT_FALSE(ParseSlo("ttft=-1").ok());
}

}  // namespace
}  // namespace mint::bench
