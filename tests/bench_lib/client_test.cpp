// The streaming client and runner against the in-process fake server (fake_server.h): what the
// bench measures must match what the server actually did, and the script.
#include "bench_lib/client.h"

#include <gtest/gtest.h>

#include <map>

#include <algorithm>
#include <cmath>
#include <ctime>

#include "bench_lib/runner.h"
#include "bench_lib/stats.h"
#include "fake_server.h"

namespace mint::bench {
namespace {

using testing::FakeServer;
using namespace std::chrono_literals;

double Ms(FakeServer::Clock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return PercentileSorted(v, 50);
}

RunOptions Options(const FakeServer& server, int output_tokens) {
  RunOptions o;
  o.client.target = *ParseUrl(server.url());
  o.client.model = "fake";
  o.source = [output_tokens](int64_t i) -> std::optional<BenchRequest> {
    BenchRequest r;
    r.index = i;
    r.prompt = "hello";
    r.input_tokens = 1;
    r.output_tokens = output_tokens;
    return r;
  };
  return o;
}

TEST(ClientTest, ParseUrl) {
  auto t = ParseUrl("http://localhost:8080/base/");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->host, "localhost");
  EXPECT_EQ(t->port, 8080);
  EXPECT_EQ(t->base_path, "/base");
  EXPECT_EQ(ParseUrl("http://h")->port, 80);
  EXPECT_FALSE(ParseUrl("https://h").ok());
  EXPECT_FALSE(ParseUrl("http://h:x").ok());
}

TEST(ClientTest, RequestBodyAsksForStreamUsageAndLength) {
  ClientOptions o;
  o.model = "m";
  BenchRequest r;
  r.prompt = "hi";
  r.output_tokens = 33;
  auto j = nlohmann::json::parse(BuildRequestBody(o, r));
  EXPECT_EQ(j["max_tokens"], 33);
  EXPECT_EQ(j["ignore_eos"], true);
  EXPECT_EQ(j["stream"], true);
  EXPECT_EQ(j["stream_options"]["include_usage"], true);
  EXPECT_EQ(j["prompt"], "hi");
  o.endpoint = Endpoint::kChat;
  j = nlohmann::json::parse(BuildRequestBody(o, r));
  EXPECT_EQ(j["messages"][0]["content"], "hi");
}

TEST(SseAccumulatorTest, SplitEventsChatAndFallbackCount) {
  RequestRecord rec;
  rec.start_s = 1.0;
  SseAccumulator acc(Endpoint::kChat, &rec);
  acc.Feed("data: {\"choices\":[{\"delta\":{\"role\":\"assistant\"}}]}\n\nda", 1.1);
  acc.Feed("ta: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\r\n\r\n", 1.25);
  acc.Feed("data: {\"choices\":[{\"delta\":{\"content\":\"b\"}}]}\n\n", 1.30);
  acc.Feed("data: [DONE]\n\n", 1.31);
  acc.Finish();
  EXPECT_TRUE(rec.error.empty()) << rec.error;
  EXPECT_NEAR(rec.ttft_s, 0.25, 1e-12);
  ASSERT_EQ(rec.itl_s.size(), 1u);
  EXPECT_NEAR(rec.itl_s[0], 0.05, 1e-12);
  EXPECT_EQ(rec.output_tokens, 2);  // no usage: chunks counted
  EXPECT_FALSE(rec.usage_reported);

  RequestRecord r2;
  SseAccumulator a2(Endpoint::kCompletions, &r2);
  a2.Feed("data: {\"choices\":[{\"text\":\"x\"}]}\n\n", 0.1);
  a2.Finish();
  EXPECT_EQ(r2.error, "stream ended before [DONE]");

  // One generated token that renders as no text (half a UTF-8 character): the finishing chunk
  // counts as its arrival; a stream with neither text nor a finish is still an error.
  RequestRecord r3;
  r3.start_s = 2.0;
  SseAccumulator a3(Endpoint::kCompletions, &r3);
  a3.Feed("data: {\"choices\":[{\"text\":\"\",\"finish_reason\":\"length\"}]}\n\n", 2.5);
  a3.Feed("data: {\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":1}}\n\n",
          2.5);
  a3.Feed("data: [DONE]\n\n", 2.5);
  a3.Finish();
  EXPECT_TRUE(r3.error.empty()) << r3.error;
  EXPECT_NEAR(r3.ttft_s, 0.5, 1e-12);
  EXPECT_EQ(r3.output_tokens, 1);
  RequestRecord r4;
  SseAccumulator a4(Endpoint::kCompletions, &r4);
  a4.Feed("data: {\"choices\":[{\"text\":\"\"}]}\n\ndata: [DONE]\n\n", 0.1);
  a4.Finish();
  EXPECT_EQ(r4.error, "no content in the stream");
}

// Concurrency 4, 8 requests, 20 tokens: first token 50 ms after the request, then every 10 ms.
// The server and the client share the steady clock, so each measured arrival is compared with
// the server's own write time: the bench's error is the delivery latency, which must stay
// under 1 ms (median); the scripted values hold within 1 % on means.
TEST(ClientTest, MeasuresScriptedTimingAgainstFakeServer) {
  FakeServer server({50ms, 10ms, 200});
  RunOptions o = Options(server, 20);
  o.source = [](int64_t i) -> std::optional<BenchRequest> {
    BenchRequest r;
    r.index = i;
    r.prompt = "p" + std::to_string(i);
    r.output_tokens = 20;
    return r;
  };
  o.concurrency = 4;
  o.num_requests = 8;
  auto run = RunBench(o);
  ASSERT_TRUE(run.ok()) << run.status().ToString();
  ASSERT_EQ(run->records.size(), 8u);
  auto traces = server.traces();
  ASSERT_EQ(traces.size(), 8u);
  auto at = [&](double run_s) {
    return run->origin + std::chrono::duration_cast<FakeServer::Clock::duration>(
                             std::chrono::duration<double>(run_s));
  };

  std::vector<double> delivery_ms, ttft_error_ms, itl_error_ms, ttft_ms;
  FakeServer::Clock::time_point last_write = run->origin;
  for (const auto& r : run->records) {
    ASSERT_TRUE(r.error.empty()) << r.error;
    EXPECT_TRUE(r.usage_reported);
    EXPECT_EQ(r.output_tokens, 20);
    EXPECT_EQ(r.input_tokens, 7);
    ASSERT_EQ(r.itl_s.size(), 19u);
    ASSERT_EQ(r.token_times_s.size(), 20u);
    std::string needle = "\"prompt\":\"p" + std::to_string(r.index) + "\"";
    auto t = std::find_if(traces.begin(), traces.end(),
                          [&](const auto& t) { return t.body.find(needle) != std::string::npos; });
    ASSERT_NE(t, traces.end());
    ASSERT_EQ(t->writes.size(), 20u);
    last_write = std::max(last_write, t->writes.back());
    for (size_t i = 0; i < 20; ++i) {
      delivery_ms.push_back(Ms(at(r.token_times_s[i]) - t->writes[i]));
      if (i > 0) itl_error_ms.push_back(r.itl_s[i - 1] * 1e3 - Ms(t->writes[i] - t->writes[i - 1]));
    }
    double true_ttft_ms = Ms(t->writes[0] - at(r.start_s));
    ttft_error_ms.push_back(r.ttft_s * 1e3 - true_ttft_ms);
    ttft_ms.push_back(r.ttft_s * 1e3);
  }
  for (double d : delivery_ms) EXPECT_GE(d, 0.0);
  // Against what the server did (timing: release only, run alone): TTFT and ITL within 1 ms per
  // request (median), the ITL and TPOT means within 1 %. With a busy process on one of 2 cores
  // the medians measured 0.12-0.20 ms (20 runs): 5x margin.
  EXPECT_LT(Median(delivery_ms), 1.0);
  EXPECT_LT(std::abs(Median(ttft_error_ms)), 1.0);
  EXPECT_LT(std::abs(Median(itl_error_ms)), 1.0);
  std::printf("[          ] median delivery %.3f ms, TTFT error %.3f ms, ITL error %.3f ms\n",
              Median(delivery_ms), Median(ttft_error_ms), Median(itl_error_ms));

  Report rep = BuildReport(run->records, {});
  double true_itl_sum_ms = 0, true_tpot_sum_ms = 0;
  int64_t true_gaps = 0;
  for (const auto& t : traces) {
    const double span_ms = Ms(t.writes.back() - t.writes.front());
    true_itl_sum_ms += span_ms;
    true_gaps += static_cast<int64_t>(t.writes.size()) - 1;
    true_tpot_sum_ms += span_ms / static_cast<double>(t.writes.size() - 1);
  }
  const double true_itl_ms = true_itl_sum_ms / static_cast<double>(true_gaps);
  const double true_tpot_ms = true_tpot_sum_ms / static_cast<double>(traces.size());
  EXPECT_NEAR(rep.itl.mean * 1e3, true_itl_ms, 0.01 * true_itl_ms);
  EXPECT_NEAR(rep.tpot.mean * 1e3, true_tpot_ms, 0.01 * true_tpot_ms);
  // And against the script, which checks the fake server itself: it writes on absolute times, so
  // a late first write (a busy machine) is followed by shorter gaps; within 2 % of 10 ms. TTFT
  // is at least the scripted 50 ms, which counts from the server's read of the request, so
  // connect and send come on top.
  EXPECT_NEAR(rep.itl.mean * 1e3, 10.0, 0.2);
  EXPECT_NEAR(rep.tpot.mean * 1e3, 10.0, 0.2);
  EXPECT_GE(rep.ttft.min * 1e3, 50.0);
  EXPECT_LT(Median(ttft_ms), 55.0);
  // Throughput: 160 tokens over the true window (first client start .. last server write).
  double first_start = 1e9;
  for (const auto& r : run->records) first_start = std::min(first_start, r.start_s);
  double true_window_s = Ms(last_write - at(first_start)) / 1e3;
  EXPECT_NEAR(rep.output_token_throughput, 160.0 / true_window_s, 0.01 * 160.0 / true_window_s);
}

TEST(ClientTest, ChatEndpointCountsContentDeltasOnly) {
  FakeServer server({20ms, 5ms, 200});
  RunOptions o = Options(server, 6);
  o.client.endpoint = Endpoint::kChat;
  o.num_requests = 2;
  auto run = RunBench(o);
  ASSERT_TRUE(run.ok());
  ASSERT_EQ(run->records.size(), 2u);
  for (const auto& r : run->records) {
    ASSERT_TRUE(r.error.empty()) << r.error;
    EXPECT_EQ(r.token_times_s.size(), 6u);
    EXPECT_EQ(r.output_tokens, 6);
    EXPECT_GE(r.ttft_s, 0.020);  // the role-only event at once does not count as a token
  }
}

TEST(ClientTest, RecordsHttpErrorsAndRefusedConnections) {
  {
    FakeServer server({1ms, 1ms, 503});
    RunOptions o = Options(server, 3);
    o.num_requests = 2;
    auto run = RunBench(o);
    ASSERT_TRUE(run.ok());
    ASSERT_EQ(run->records.size(), 2u);
    EXPECT_EQ(run->records[0].error, "HTTP 503: scripted failure");
  }
  uint16_t port;
  {
    FakeServer gone({1ms, 1ms, 200});
    port = gone.port();
  }
  RunOptions o;
  o.client.target = *ParseUrl("http://127.0.0.1:" + std::to_string(port));
  o.num_requests = 1;
  o.source = [](int64_t i) -> std::optional<BenchRequest> { return BenchRequest{}; };
  auto run = RunBench(o);
  ASSERT_TRUE(run.ok());
  ASSERT_EQ(run->records.size(), 1u);
  EXPECT_EQ(run->records[0].error.rfind("connect:", 0), 0u) << run->records[0].error;
}

// Trace replay at 4x: requests start at their timestamps / 4.
TEST(ClientTest, TraceReplayHonoursTimestamps) {
  FakeServer server({1ms, 1ms, 200});
  auto entries = ParseMooncakeTrace(
      "{\"timestamp\": 0, \"input_length\": 5, \"output_length\": 2, \"hash_ids\": [1]}\n"
      "{\"timestamp\": 200, \"input_length\": 5, \"output_length\": 2, \"hash_ids\": [1]}\n"
      "{\"timestamp\": 600, \"input_length\": 5, \"output_length\": 2, \"hash_ids\": [2]}\n"
      "{\"timestamp\": 1000, \"input_length\": 5, \"output_length\": 2, \"hash_ids\": [3]}\n");
  ASSERT_TRUE(entries.ok());
  auto reqs = TraceToRequests(*entries, 4.0, 0);
  RunOptions o = Options(server, 2);
  o.mode = RunOptions::Mode::kTrace;
  o.source = [&](int64_t i) -> std::optional<BenchRequest> {
    if (i >= static_cast<int64_t>(reqs.size())) return std::nullopt;
    return reqs[i];
  };
  auto run = RunBench(o);
  ASSERT_TRUE(run.ok());
  ASSERT_EQ(run->records.size(), 4u);
  std::vector<double> starts;
  for (const auto& r : run->records) {
    EXPECT_TRUE(r.error.empty()) << r.error;
    starts.push_back(r.start_s);
  }
  std::sort(starts.begin(), starts.end());
  const double want[] = {0, 0.05, 0.15, 0.25};
  // As for the constant rate below: starts follow the trace's absolute times; one late wake-up on
  // a shared machine may delay a start by a few ms without shifting the later ones. Median bound
  // 2 ms: 0.07-0.15 ms measured with a busy process on one of 2 cores (20 runs).
  std::vector<double> error_ms;
  for (int i = 1; i < 4; ++i) {
    const double err = std::abs((starts[i] - starts[0]) - want[i]) * 1e3;
    EXPECT_LT(err, 10.0) << "start " << i;
    error_ms.push_back(err);
  }
  EXPECT_LT(Median(error_ms), 2.0);
  std::printf("[          ] trace start error median %.3f ms\n", Median(error_ms));
}

TEST(ClientTest, ConstantRateSpacesStarts) {
  FakeServer server({1ms, 1ms, 200});
  RunOptions o = Options(server, 2);
  o.mode = RunOptions::Mode::kRate;
  o.arrival = Arrival::kConstant;
  o.rate = 40;
  o.num_requests = 6;
  auto run = RunBench(o);
  ASSERT_TRUE(run.ok());
  std::vector<double> starts;
  for (const auto& r : run->records) starts.push_back(r.start_s);
  std::sort(starts.begin(), starts.end());
  ASSERT_EQ(starts.size(), 6u);
  // Starts follow the absolute schedule start_0 + i / rate: a late wake-up (the machine is shared;
  // ctest runs two tests at once) delays one start but the next is on time again, so no error
  // accumulates. Median bound 1 ms: 0.07-0.14 ms measured with a busy process on one of 2 cores
  // (20 runs), 7x margin; one jittered start may be a few ms late (10 ms bound).
  std::vector<double> error_ms;
  for (size_t i = 1; i < starts.size(); ++i) {
    const double err = std::abs((starts[i] - starts[0]) - 0.025 * static_cast<double>(i)) * 1e3;
    EXPECT_LT(err, 10.0) << "start " << i;
    error_ms.push_back(err);
  }
  EXPECT_LT(Median(error_ms), 1.0);
  std::printf("[          ] constant-rate start error median %.3f ms\n", Median(error_ms));
}

TEST(ClientTest, ConversationTurnsFollowTheirAnswersAfterTheThinkTime) {
  FakeServer server({5ms, 1ms, 200});
  RunOptions o = Options(server, 4);
  o.mode = RunOptions::Mode::kConversations;
  o.rate = 100;
  o.think_s = 0.05;
  ConversationOptions conv;
  conv.turns = 3;
  conv.first = {LengthSpec::Kind::kFixed, 10, 0};
  conv.user = {LengthSpec::Kind::kFixed, 5, 0};
  conv.output = {LengthSpec::Kind::kFixed, 4, 0};
  o.source = [&](int64_t i) -> std::optional<BenchRequest> {
    if (i >= 2) return std::nullopt;
    return MakeConversationTurn(conv, i, 0);
  };
  o.next_turn = [&](const BenchRequest& done) -> std::optional<BenchRequest> {
    const int t = static_cast<int>(done.index % conv.turns);
    if (t + 1 >= conv.turns) return std::nullopt;
    return MakeConversationTurn(conv, done.index / conv.turns, t + 1);
  };
  auto run = RunBench(o);
  ASSERT_TRUE(run.ok()) << run.status().ToString();
  ASSERT_EQ(run->records.size(), 6u);  // 2 conversations x 3 turns
  std::map<int64_t, RequestRecord> by_index;
  for (const auto& r : run->records) {
    EXPECT_TRUE(r.error.empty()) << r.error;
    by_index[r.index] = r;
  }
  for (int64_t c = 0; c < 2; ++c) {
    for (int t = 1; t < 3; ++t) {
      const RequestRecord& prev = by_index.at(c * 3 + t - 1);
      const RequestRecord& next = by_index.at(c * 3 + t);
      // Sent think_s after the previous answer ended (timers fire late, never early).
      EXPECT_GE(next.start_s - prev.end_s, 0.05 - 1e-3) << c << " " << t;
      EXPECT_LT(next.start_s - prev.end_s, 0.05 + 0.1) << c << " " << t;
    }
  }
}

struct ThousandStreams {
  Report rep;
  int64_t max_open = 0, peak = 0;
  double wall_s = 0, cpu_s = 0;
};

// 1,000 concurrent streams of 20 tokens (first after 100 ms, then every 50 ms) from the one
// client thread; the fake server runs on a second thread.
ThousandStreams RunThousandStreams() {
  FakeServer server({100ms, 50ms, 200});
  RunOptions o = Options(server, 20);
  o.concurrency = 1000;
  o.num_requests = 1000;
  ThousandStreams out;
  o.progress = [&](int64_t, int64_t in_flight) { out.peak = std::max(out.peak, in_flight + 1); };
  // RunBench runs the whole client on this thread: its CPU time is the bench's cost.
  auto cpu_now = [] {
    timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
  };
  double cpu0 = cpu_now();
  auto run = RunBench(o);
  out.cpu_s = cpu_now() - cpu0;
  EXPECT_TRUE(run.ok());
  if (!run.ok()) return out;
  out.rep = BuildReport(run->records, {});
  out.max_open = server.max_open();
  out.wall_s = run->wall_s;
  return out;
}

TEST(ClientTest, DrivesThousandConcurrentStreams) {
  ThousandStreams r = RunThousandStreams();
  EXPECT_EQ(r.rep.succeeded, 1000) << (r.rep.errors.empty() ? "" : r.rep.errors[0].first);
  EXPECT_EQ(r.max_open, 1000);
  EXPECT_EQ(r.peak, 1000);
  EXPECT_EQ(r.rep.output_tokens, 20000);
}

// Timing (release only): the bench is not the bottleneck. >= 5,000 tokens/s of wall time and of
// client CPU (measured 16,100-17,300 and 42,500-64,500 with a busy process on one of 2 cores:
// 3x and 8x margins), and under that load the measured ITL still tracks the script's 50 ms
// (median within 5 ms, 10 %: measured 50.00-50.32 with one busy process, 53.6 with three: a
// compiler on both cores and a busy process).
TEST(ClientTest, ThousandStreamsKeepTheirPace) {
  ThousandStreams r = RunThousandStreams();
  EXPECT_EQ(r.rep.succeeded, 1000);
  EXPECT_GE(r.rep.output_token_throughput, 5000.0);
  // Tokens per second of client CPU: what one fully used core could drive.
  const double tokens_per_cpu_s = static_cast<double>(r.rep.output_tokens) / r.cpu_s;
  EXPECT_GE(tokens_per_cpu_s, 5000.0);
  EXPECT_NEAR(r.rep.itl.p50 * 1e3, 50.0, 5.0);
  std::printf(
      "1000 streams: %.0f tok/s, ITL p50 %.2f ms p99 %.2f ms, wall %.2f s, client CPU "
      "%.2f s (%.0f tokens per CPU-second)\n",
      r.rep.output_token_throughput, r.rep.itl.p50 * 1e3, r.rep.itl.p99 * 1e3, r.wall_s, r.cpu_s,
      tokens_per_cpu_s);
}

}  // namespace
}  // namespace mint::bench

namespace mint::bench {
namespace {

// --warmup and --duration in closed-loop mode: requests starting in the first 100 ms are
// marked warmup and excluded; none starts after warmup + duration.
TEST(ClientTest, WarmupAndDurationBoundTheMeasuredWindow) {
  testing::FakeServer server({std::chrono::milliseconds(1), std::chrono::milliseconds(5), 200});
  RunOptions o;
  o.client.target = *ParseUrl(server.url());
  o.client.model = "fake";
  o.source = [](int64_t i) -> std::optional<BenchRequest> {
    BenchRequest r;
    r.index = i;
    r.prompt = "x";
    r.output_tokens = 8;
    return r;
  };
  o.concurrency = 2;
  o.warmup_s = 0.1;
  o.duration_s = 0.2;
  auto run = RunBench(o);
  ASSERT_TRUE(run.ok());
  int warm = 0, measured = 0;
  for (const auto& r : run->records) {
    EXPECT_TRUE(r.error.empty()) << r.error;
    // The runner decides warmup a moment before the record's start is stamped.
    if (std::abs(r.start_s - 0.1) > 0.001) {
      EXPECT_EQ(r.warmup, r.start_s < 0.1) << r.start_s;
    }
    EXPECT_LT(r.start_s, 0.301);
    (r.warmup ? warm : measured)++;
  }
  EXPECT_GE(warm, 2);
  EXPECT_GE(measured, 4);
  Report rep = BuildReport(run->records, {});
  EXPECT_EQ(rep.warmup_excluded, warm);
  EXPECT_EQ(rep.requests, measured);
}

}  // namespace
}  // namespace mint::bench
