#include "planner/observe.h"

#include <gtest/gtest.h>

namespace mint::planner {
namespace {

// A frontend's exposition as FrontendMetrics writes it (names, a model label, status classes).
std::vector<metrics::Sample> FrontendScrape(double requests, double in, double out, double ttft,
                                            double itl_sum, double itl_n, double failed) {
  metrics::Registry r;
  r.SetConstantLabels({{"model", "m"}});
  r.AddCounter("mint_frontend_requests_total", "h", {{"endpoint", "chat"}, {"status", "2xx"}})
      .Inc(requests - failed);
  r.AddCounter("mint_frontend_requests_total", "h", {{"endpoint", "chat"}, {"status", "5xx"}})
      .Inc(failed);
  r.AddCounter("mint_frontend_input_tokens_total", "h").Inc(in);
  r.AddCounter("mint_frontend_output_tokens_total", "h").Inc(out);
  auto& d = r.AddHistogram("mint_frontend_request_duration_seconds", "h", {1, 10});
  for (int i = 0; i < requests; ++i) d.Observe(2);
  auto& t = r.AddHistogram("mint_frontend_time_to_first_token_seconds", "h", {1, 10});
  for (int i = 0; i < requests; ++i) t.Observe(ttft);
  auto& l = r.AddHistogram("mint_frontend_inter_token_latency_seconds", "h", {1, 10});
  for (int i = 0; i < itl_n; ++i) l.Observe(itl_sum / itl_n);
  auto parsed = metrics::ParsePrometheus(r.Prometheus());
  EXPECT_TRUE(parsed.ok());
  return parsed.ok() ? *parsed : std::vector<metrics::Sample>{};
}

TEST(ObserveTest, IntervalIsTheDifferenceOfTwoScrapes) {
  const FrontendTotals a = ReadFrontendTotals(FrontendScrape(10, 10000, 1000, 0.5, 1.0, 100, 1));
  const FrontendTotals b = ReadFrontendTotals(FrontendScrape(40, 70000, 4000, 0.5, 7.0, 400, 2));
  EXPECT_EQ(a.requests, 10);
  EXPECT_EQ(a.failed, 1);
  const Observation o = Diff(a, b, 10);
  EXPECT_EQ(o.requests, 30);
  EXPECT_EQ(o.failed, 1);
  EXPECT_DOUBLE_EQ(o.isl, 2000);
  EXPECT_DOUBLE_EQ(o.osl, 100);
  EXPECT_TRUE(o.has_ttft);
  EXPECT_DOUBLE_EQ(o.ttft_s, 0.5);
  EXPECT_TRUE(o.has_itl);
  EXPECT_NEAR(o.itl_s, 0.02, 1e-12);
  // A restarted frontend (counters back near 0) counts from 0.
  const FrontendTotals c = ReadFrontendTotals(FrontendScrape(5, 5000, 500, 0.5, 0.5, 50, 0));
  EXPECT_EQ(Diff(b, c, 10).requests, 5);
  // Nothing finished: no means.
  const Observation idle = Diff(b, b, 10);
  EXPECT_EQ(idle.requests, 0);
  EXPECT_FALSE(idle.has_ttft);
  EXPECT_FALSE(idle.has_itl);
}

TEST(ObserveTest, TheRateIsWhatArrivedNotWhatFinished) {
  // 30 finished in the interval, but 50 arrived (an overloaded fleet finishes at its capacity).
  auto scrape = [](double finished, double received) {
    std::vector<metrics::Sample> s = FrontendScrape(finished, finished * 1000, finished * 100,
                                                    0.5, 1.0, 100, 0);
    metrics::Registry r;
    r.AddCounter("mint_frontend_requests_received_total", "h").Inc(received);
    auto extra = metrics::ParsePrometheus(r.Prometheus());
    EXPECT_TRUE(extra.ok());
    s.insert(s.end(), extra->begin(), extra->end());
    return ReadFrontendTotals(s);
  };
  const Observation o = Diff(scrape(10, 12), scrape(40, 62), 10);
  EXPECT_TRUE(o.has_arrivals);
  EXPECT_EQ(o.arrived, 50);
  EXPECT_EQ(o.requests, 30);
  EXPECT_EQ(o.Offered(), 50);
  EXPECT_DOUBLE_EQ(o.isl, 1000);  // lengths still per finished request
  // A frontend without the counter: the finished count stands in.
  const Observation old = Diff(ReadFrontendTotals(FrontendScrape(10, 1, 1, 0.5, 1, 1, 0)),
                               ReadFrontendTotals(FrontendScrape(40, 1, 1, 0.5, 1, 1, 0)), 10);
  EXPECT_FALSE(old.has_arrivals);
  EXPECT_EQ(old.Offered(), 30);
}

TEST(ObserveTest, WorkerTotals) {
  metrics::Registry r;
  r.AddCounter("mint_engine_busy_seconds_total", "h").Inc(12.5);
  r.AddGauge("mint_engine_running_requests", "h").Set(7);
  r.AddGauge("mint_kv_blocks", "h", {{"state", "total"}}).Set(1024);
  r.AddGauge("mint_kv_blocks", "h", {{"state", "free"}}).Set(24);
  const WorkerTotals w = ReadWorkerTotals(r.Snapshot());
  EXPECT_EQ(w.busy_seconds, 12.5);
  EXPECT_EQ(w.running, 7);
  EXPECT_EQ(w.kv_blocks, 1024);
}

TEST(ObserveTest, BusyTimeIsCountedPerWorkerSoAScaleDownLosesNothing) {
  BusyTracker t;
  using R = BusyTracker::Reading;
  // The start: three workers with their histories (the baseline, not this interval's time).
  t.Advance({{"p0", R{"prefill", 100}}, {"d0", R{"decode", 300}}, {"d1", R{"decode", 200}}});
  // d1 stopped; p0 and d0 worked 4 s each; p1 started and worked 1 s.
  BusyByRole b = t.Advance({{"p0", R{"prefill", 104}}, {"p1", R{"prefill", 1}},
                            {"d0", R{"decode", 304}}});
  EXPECT_DOUBLE_EQ(b.prefill, 5);
  EXPECT_DOUBLE_EQ(b.decode, 4);  // a fleet-wide sum would say 409 - 600 < 0 here
  EXPECT_DOUBLE_EQ(b.total(), 9);
  // An aggregated worker counts as decode; a counter that went down restarted from 0.
  b = t.Advance({{"p0", R{"prefill", 2}}, {"a0", R{"agg", 3}}, {"d0", R{"decode", 304}}});
  EXPECT_DOUBLE_EQ(b.prefill, 2);
  EXPECT_DOUBLE_EQ(b.decode, 3);
  // d0's scrape failed once: back with 4 s more, it counts 4, not its 308 s of history.
  b = t.Advance({{"p0", R{"prefill", 3}}, {"a0", R{"agg", 4}}});
  EXPECT_DOUBLE_EQ(b.decode, 1);
  b = t.Advance({{"p0", R{"prefill", 3}}, {"a0", R{"agg", 4}}, {"d0", R{"decode", 308}}});
  EXPECT_DOUBLE_EQ(b.decode, 4);
  // Gone for kForgetAfter reads: forgotten, so a worker reusing the id counts from 0.
  for (int i = 0; i < BusyTracker::kForgetAfter; ++i) t.Advance({{"p0", R{"prefill", 3}}});
  b = t.Advance({{"d0", R{"decode", 5}}});
  EXPECT_DOUBLE_EQ(b.decode, 5);
}

}  // namespace
}  // namespace mint::planner
