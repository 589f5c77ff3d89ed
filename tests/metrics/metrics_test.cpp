#include "metrics/metrics.h"

#include <cmath>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "../support/promtool.h"

namespace mint::metrics {
namespace {

TEST(MetricsTest, RendersFamiliesOnceInRegistrationOrder) {
  Registry r;
  r.AddCounter("mint_requests_total", "Requests", {{"endpoint", "chat"}}).Inc(3);
  r.AddGauge("mint_in_flight", "Requests now").Set(2.5);
  r.AddCounter("mint_requests_total", "Requests", {{"endpoint", "completions"}}).Inc();
  Histogram& h = r.AddHistogram("mint_ttft_seconds", "TTFT", {0.1, 1}, {{"model", "m"}});
  h.Observe(0.05);
  h.Observe(0.1);  // a value on a bound falls in that bound's bucket
  h.Observe(7);
  EXPECT_EQ(r.Prometheus(),
            "# HELP mint_requests_total Requests\n"
            "# TYPE mint_requests_total counter\n"
            "mint_requests_total{endpoint=\"chat\"} 3\n"
            "mint_requests_total{endpoint=\"completions\"} 1\n"
            "# HELP mint_in_flight Requests now\n"
            "# TYPE mint_in_flight gauge\n"
            "mint_in_flight 2.5\n"
            "# HELP mint_ttft_seconds TTFT\n"
            "# TYPE mint_ttft_seconds histogram\n"
            "mint_ttft_seconds_bucket{model=\"m\",le=\"0.1\"} 2\n"
            "mint_ttft_seconds_bucket{model=\"m\",le=\"1\"} 2\n"
            "mint_ttft_seconds_bucket{model=\"m\",le=\"+Inf\"} 3\n"
            "mint_ttft_seconds_sum{model=\"m\"} 7.15\n"
            "mint_ttft_seconds_count{model=\"m\"} 3\n");
}

TEST(MetricsTest, SameNameAndLabelsIsTheSameSeries) {
  Registry r;
  Counter& a = r.AddCounter("c", "help", {{"k", "v"}});
  Counter& b = r.AddCounter("c", "help", {{"k", "v"}});
  Counter& other = r.AddCounter("c", "help", {{"k", "w"}});
  EXPECT_EQ(&a, &b);
  EXPECT_NE(&a, &other);
  Histogram& h1 = r.AddHistogram("h", "help", {1, 2});
  Histogram& h2 = r.AddHistogram("h", "help", {1, 2});
  EXPECT_EQ(&h1, &h2);
}

TEST(MetricsTest, LabelValuesAreEscaped) {
  Registry r;
  r.AddGauge("g", "help", {{"model", "a\"b\\c\nd"}}).Set(1);
  EXPECT_NE(r.Prometheus().find("g{model=\"a\\\"b\\\\c\\nd\"} 1\n"), std::string::npos)
      << r.Prometheus();
  EXPECT_EQ(FormatValue(INFINITY), "+Inf");
  EXPECT_EQ(FormatValue(-INFINITY), "-Inf");
  EXPECT_EQ(FormatValue(NAN), "NaN");
  EXPECT_EQ(FormatValue(123456789012.0), "123456789012");
}

TEST(MetricsTest, ConstantLabelsComeFirstOnEverySeries) {
  Registry r;
  r.AddCounter("c_total", "help", {{"k", "v"}}).Inc();
  r.AddHistogram("h", "help", {1}).Observe(2);
  r.SetConstantLabels({{"model", "m1"}});
  const std::string text = r.Prometheus();
  EXPECT_NE(text.find("c_total{model=\"m1\",k=\"v\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("h_bucket{model=\"m1\",le=\"+Inf\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("h_count{model=\"m1\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(FindSample(r.Snapshot(), "c_total", {{"model", "m1"}, {"k", "v"}}), nullptr);
}

TEST(MetricsTest, CallbackSeriesAreReadWhenRendered) {
  Registry r;
  double v = 1;
  r.AddCallback("mint_queue", "Queued", Type::kGauge, {{"model", "m"}}, [&] { return v; });
  EXPECT_NE(r.Prometheus().find("mint_queue{model=\"m\"} 1\n"), std::string::npos);
  v = 4;
  EXPECT_NE(r.Prometheus().find("mint_queue{model=\"m\"} 4\n"), std::string::npos);
  r.AddCallback("mint_queue", "Queued", Type::kGauge, {{"model", "m"}}, [] { return 9.0; });
  const std::vector<Sample> s = r.Snapshot();
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].value, 9);
}

TEST(MetricsTest, SnapshotIsTyped) {
  Registry r;
  r.AddCounter("c", "help", {{"a", "1"}, {"b", "2"}}).Inc(5);
  r.AddHistogram("h", "help", {1, 10}).Observe(3);
  const std::vector<Sample> s = r.Snapshot();
  const Sample* c = FindSample(s, "c", {{"b", "2"}});
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->type, Type::kCounter);
  EXPECT_EQ(c->value, 5);
  EXPECT_EQ(FindSample(s, "c", {{"b", "3"}}), nullptr);
  EXPECT_EQ(FindSample(s, "missing"), nullptr);
  const Sample* h = FindSample(s, "h");
  ASSERT_NE(h, nullptr);
  EXPECT_EQ(h->type, Type::kHistogram);
  EXPECT_EQ(h->histogram.counts, (std::vector<uint64_t>{0, 1, 0}));
  EXPECT_EQ(h->histogram.count, 1u);
  EXPECT_EQ(h->histogram.sum, 3);
}

TEST(MetricsTest, QuantileIsTheUpperBoundOfItsBucket) {
  Histogram h({1, 2, 5});
  EXPECT_EQ(h.Snapshot().Quantile(0.5), 0);  // empty
  for (int i = 0; i < 90; ++i) h.Observe(0.5);
  for (int i = 0; i < 9; ++i) h.Observe(4);
  h.Observe(100);
  const HistogramSnapshot s = h.Snapshot();
  EXPECT_EQ(s.Quantile(0.5), 1);
  EXPECT_EQ(s.Quantile(0.9), 1);
  EXPECT_EQ(s.Quantile(0.95), 5);
  EXPECT_TRUE(std::isinf(s.Quantile(1.0)));
  EXPECT_DOUBLE_EQ(s.Mean(), (90 * 0.5 + 9 * 4 + 100) / 100.0);
}

TEST(MetricsTest, CumulativeCountsBecomeASnapshot) {
  const double bounds[] = {1, 2, 5};
  const uint64_t le[] = {3, 3, 7};
  const HistogramSnapshot s = FromCumulative(bounds, le, 10, 42);
  EXPECT_EQ(s.counts, (std::vector<uint64_t>{3, 0, 4, 3}));
  EXPECT_EQ(s.count, 10u);
  EXPECT_EQ(s.sum, 42);
  Registry r;
  r.AddHistogramCallback("h_seconds", "help", {{"tier", "host"}}, [s] { return s; });
  const std::string text = r.Prometheus();
  EXPECT_NE(text.find("h_seconds_bucket{tier=\"host\",le=\"5\"} 7\n"), std::string::npos) << text;
  EXPECT_NE(text.find("h_seconds_bucket{tier=\"host\",le=\"+Inf\"} 10\n"), std::string::npos);
}

TEST(MetricsTest, ConcurrentUpdatesAreAllCounted) {
  Registry r;
  Counter& c = r.AddCounter("c", "help");
  Histogram& h = r.AddHistogram("h", "help", {0.5});
  constexpr int kThreads = 4, kEach = 50000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kEach; ++i) {
        c.Inc();
        h.Observe(i % 2);
      }
    });
  }
  std::string rendered;
  while (rendered.empty()) rendered = r.Prometheus();  // renders while updates run
  for (auto& t : threads) t.join();
  EXPECT_EQ(c.value(), kThreads * kEach);
  const HistogramSnapshot s = h.Snapshot();
  EXPECT_EQ(s.count, static_cast<uint64_t>(kThreads * kEach));
  EXPECT_EQ(s.counts[0], static_cast<uint64_t>(kThreads * kEach / 2));
  EXPECT_EQ(s.sum, kThreads * kEach / 2);
}

// Prometheus's own linter (promtool, from Debian's prometheus package) accepts the exposition.
TEST(MetricsTest, PromtoolAcceptsTheExposition) {
  if (!test_support::HavePromtool()) {
    GTEST_SKIP() << "promtool not installed (Debian package prometheus)";
  }
  Registry r;
  r.AddCounter("mint_test_requests_total", "Requests by endpoint", {{"endpoint", "chat"}}).Inc(2);
  r.AddCounter("mint_test_requests_total", "Requests by endpoint", {{"endpoint", "a\"b"}}).Inc();
  r.AddGauge("mint_test_in_flight_requests", "Requests now").Set(-1.5);
  r.AddCallback("mint_test_queue_depth", "Queued", Type::kGauge, {}, [] { return 1e12; });
  Histogram& h =
      r.AddHistogram("mint_test_latency_seconds", "Latency", LatencyBoundsSeconds(), {{"m", "x"}});
  for (int i = 0; i < 100; ++i) h.Observe(i * 0.01);
  r.AddHistogram("mint_test_empty_seconds", "Nothing observed", {0.5, 1});
  const std::optional<std::string> problems = test_support::PromtoolProblems(r.Prometheus());
  ASSERT_TRUE(problems.has_value());
  EXPECT_EQ(*problems, "") << r.Prometheus();
}

TEST(MetricsDeathTest, ANameHasOneType) {
  Registry r;
  r.AddCounter("x", "help");
  EXPECT_DEATH(r.AddGauge("x", "help"), "MINT_CHECK");
  r.AddHistogram("h", "help", {1, 2});
  EXPECT_DEATH(r.AddHistogram("h", "help", {1, 3}), "MINT_CHECK");
}

}  // namespace
}  // namespace mint::metrics

namespace mint::metrics {
namespace {

// What Prometheus() writes, ParsePrometheus reads back as Snapshot() has it.
TEST(ParsePrometheusTest, ReadsBackWhatTheRegistryWrites) {
  Registry r;
  r.SetConstantLabels({{"model", "m \"q\"\n"}});
  r.AddCounter("c_total", "help", {{"k", "v"}}).Inc(12345678901234.0);
  r.AddGauge("g", "help").Set(-0.25);
  Histogram& h = r.AddHistogram("h_seconds", "help", {0.1, 1, 10}, {{"w", "a"}});
  for (double v : {0.05, 0.5, 0.5, 5.0, 50.0}) h.Observe(v);
  r.AddHistogram("h_seconds", "help", {0.1, 1, 10}, {{"w", "b"}});
  auto parsed = ParsePrometheus(r.Prometheus());
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  const std::vector<Sample> want = r.Snapshot();
  ASSERT_EQ(parsed->size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    const Sample& a = (*parsed)[i];
    const Sample& b = want[i];
    EXPECT_EQ(a.name, b.name);
    EXPECT_EQ(a.labels, b.labels);
    EXPECT_EQ(a.type, b.type);
    EXPECT_EQ(a.value, b.value);
    EXPECT_EQ(a.histogram.bounds, b.histogram.bounds);
    EXPECT_EQ(a.histogram.counts, b.histogram.counts);
    EXPECT_EQ(a.histogram.count, b.histogram.count);
    EXPECT_DOUBLE_EQ(a.histogram.sum, b.histogram.sum);
  }
}

TEST(ParsePrometheusTest, ReadsOtherServersText) {
  // vLLM-style names with colons, untyped lines, a summary, timestamps, CRLF, a trailing comma.
  const char* text =
      "# HELP vllm:num_requests_running Running\r\n"
      "# TYPE vllm:num_requests_running gauge\r\n"
      "vllm:num_requests_running{model_name=\"x\",} 3 1700000000000\r\n"
      "untyped_thing 1.5e3\n"
      "# TYPE rpc_seconds summary\n"
      "rpc_seconds{quantile=\"0.5\"} 0.01\n"
      "rpc_seconds_sum 4\n"
      "# TYPE lat histogram\n"
      "lat_bucket{le=\"1\"} 2\n"
      "lat_bucket{le=\"+Inf\"} 5\n"
      "lat_count 5\n"
      "lat_sum 12\n";
  auto s = ParsePrometheus(text);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  const Sample* running = FindSample(*s, "vllm:num_requests_running", {{"model_name", "x"}});
  ASSERT_NE(running, nullptr);
  EXPECT_EQ(running->value, 3);
  EXPECT_EQ(FindSample(*s, "untyped_thing")->value, 1500);
  EXPECT_EQ(FindSample(*s, "rpc_seconds", {{"quantile", "0.5"}})->value, 0.01);
  EXPECT_EQ(FindSample(*s, "rpc_seconds_sum")->value, 4);
  const Sample* lat = FindSample(*s, "lat");
  ASSERT_NE(lat, nullptr);
  EXPECT_EQ(lat->type, Type::kHistogram);
  EXPECT_EQ(lat->histogram.counts, (std::vector<uint64_t>{2, 3}));
  EXPECT_EQ(lat->histogram.count, 5u);
  EXPECT_EQ(lat->histogram.sum, 12);
}

TEST(ParsePrometheusTest, MalformedTextIsAnErrorNamingTheLine) {
  const char* bad[] = {
      "x{a=\"b} 1\n",                      // unterminated label value
      "x{a=b} 1\n",                        // unquoted
      "x{a=\"\\q\"} 1\n",                  // bad escape
      "x 1.2.3\n",                         // bad value
      "9x 1\n",                            // bad name
      "# TYPE h histogram\nh_bucket 1\n",  // bucket without le
      "# TYPE h histogram\nh_bucket{le=\"1\"} 5\nh_bucket{le=\"2\"} 3\n",  // not cumulative
      "# TYPE h histogram\nh_bucket{le=\"1\"} 5\nh_count 2\n",             // count below buckets
      "x 1 notatime\n",
      "x{a=\"1\",a=\"2\"} 1\n",                        // repeated label
      "# TYPE h histogram\nh_bucket{le=\"NaN\"} 1\n",  // NaN bound
      "# TYPE h histogram\nh_bucket{le=\"1\"} 1.5\n",  // not a count
  };
  for (const char* text : bad) {
    auto s = ParsePrometheus(text);
    EXPECT_FALSE(s.ok()) << text;
    if (!s.ok()) {
      EXPECT_NE(s.status().message().find("line "), std::string::npos);
    }
  }
}

}  // namespace
}  // namespace mint::metrics
