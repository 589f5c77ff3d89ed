// `mint bench`: measures any OpenAI-compatible server (Mint, llama.cpp's server, vLLM, Dynamo)
// under seeded synthetic, shared-prefix, Mooncake-trace or ShareGPT workloads; prints a table,
// writes a JSON report (schema mint-bench/1) and optional gnuplot PNGs; compares two reports.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "apps/app_util.h"
#include "apps/commands.h"
#include "bench_lib/client.h"
#include "bench_lib/plot.h"
#include "bench_lib/runner.h"
#include "bench_lib/server_metrics.h"
#include "bench_lib/stats.h"
#include "bench_lib/workload.h"
#include "core/progress.h"

namespace mint::apps {
namespace {

struct BenchArgs {
  std::string url = "http://127.0.0.1:8080";
  std::string model;
  std::string endpoint = "completions";
  std::string api_key;
  std::string extra_body;
  int concurrency = 0;
  double rate = 0;
  std::string rate_schedule;
  std::string arrival = "poisson";
  int64_t num_requests = 0;
  double duration = 0;
  double warmup = 0;
  std::string input_len = "128";
  std::string output_len = "128";
  int prefix_groups = 0;
  int prefix_len = 0;
  std::string trace;
  double speedup = 1.0;
  int32_t trace_token_ids = 0;
  std::string sharegpt;
  int64_t conversations = 0;
  int turns = 4;
  double think_time = 5;
  std::string first_len = "1024";
  uint64_t seed = 0;
  std::string slo;
  double device_cost_per_hour = 0;
  double timeout = 600;
  std::string output;
  std::string plot_dir;
  std::string csv;  // one line per request
  std::vector<std::string> compare;
  bool no_metrics = false;
};

// The server's /metrics text; nullopt if it has none.
std::optional<std::string> ScrapeMetrics(const bench::Target& t) {
  auto text = bench::HttpGet(t, "/metrics", 10);
  if (!text.ok()) return std::nullopt;
  return std::move(text).value();
}

int RunCompare(const std::vector<std::string>& files) {
  nlohmann::json j[2];
  for (int i = 0; i < 2; ++i) {
    auto text = ReadFile(files[i]);
    if (!text.ok()) return Fail(text.status());
    j[i] = nlohmann::json::parse(*text, nullptr, false);
  }
  auto table = bench::CompareReports(j[0], j[1]);
  if (!table.ok()) return Fail(table.status());
  std::printf("a = %s\nb = %s\n%s", files[0].c_str(), files[1].c_str(), table->c_str());
  return 0;
}

// The client half of the options: where, what model, which endpoint, extra request fields.
Status ClientFromArgs(const BenchArgs& a, const bench::Target& target, bench::ClientOptions* c) {
  c->target = target;
  c->model = a.model;
  c->api_key = a.api_key;
  c->timeout_s = a.timeout;
  if (!a.extra_body.empty()) {
    const auto body = nlohmann::json::parse(a.extra_body, nullptr, /*allow_exceptions=*/false);
    if (!body.is_object()) return Status::InvalidArgument("--extra-body must be a JSON object");
    c->extra_body = a.extra_body;
  }
  if (a.endpoint == "chat") {
    c->endpoint = bench::Endpoint::kChat;
  } else if (a.endpoint != "completions") {
    return Status::InvalidArgument("--endpoint must be completions or chat");
  }
  return Status::Ok();
}

// Multi-turn conversations: opt->source gives each conversation's first turn, next_turn the rest.
Status ConversationsFromArgs(const BenchArgs& a, bench::RunOptions* opt, nlohmann::json* config) {
  bench::ConversationOptions conv;
  MINT_ASSIGN_OR_RETURN(conv.first, bench::ParseLengthSpec(a.first_len));
  MINT_ASSIGN_OR_RETURN(conv.user, bench::ParseLengthSpec(a.input_len));
  MINT_ASSIGN_OR_RETURN(conv.output, bench::ParseLengthSpec(a.output_len));
  if (a.turns < 1) return Status::InvalidArgument("--turns must be >= 1");
  if (a.think_time < 0) return Status::InvalidArgument("--think-time must be >= 0");
  conv.turns = a.turns;
  conv.seed = a.seed;
  const int64_t n = a.conversations;
  opt->source = [conv, n](int64_t i) -> std::optional<bench::BenchRequest> {
    if (i >= n) return std::nullopt;
    return bench::MakeConversationTurn(conv, i, 0);
  };
  opt->next_turn = [conv](const bench::BenchRequest& done) -> std::optional<bench::BenchRequest> {
    const int64_t c = done.index / conv.turns;
    const int t = static_cast<int>(done.index % conv.turns);
    if (t + 1 >= conv.turns) return std::nullopt;
    return bench::MakeConversationTurn(conv, c, t + 1);
  };
  opt->think_s = a.think_time;
  (*config)["workload"] = {{"kind", "conversations"},
                           {"conversations", n},
                           {"turns", a.turns},
                           {"think_time_s", a.think_time},
                           {"first_len", bench::ToString(conv.first)},
                           {"user_len", bench::ToString(conv.user)},
                           {"output_len", bench::ToString(conv.output)}};
  return Status::Ok();
}

// The workload: a Mooncake trace, ShareGPT conversations or synthetic lengths, as opt->source;
// `fixed` holds the requests of the first two (empty for synthetic).
Status WorkloadFromArgs(const BenchArgs& a, bench::RunOptions* opt, nlohmann::json* config,
                        std::shared_ptr<std::vector<bench::BenchRequest>> fixed) {
  bench::SyntheticOptions syn;
  if (!a.trace.empty()) {
    MINT_ASSIGN_OR_RETURN(std::string text, ReadFile(a.trace));
    auto entries = bench::ParseMooncakeTrace(text);
    if (!entries.ok()) return entries.status().WithContext(a.trace);
    if (!(a.speedup > 0)) return Status::InvalidArgument("--speedup must be > 0");
    if (a.trace_token_ids > 0) {
      if (a.endpoint != "completions") {
        return Status::InvalidArgument("--trace-token-ids needs --endpoint completions");
      }
      *fixed = bench::TraceToTokenRequests(*entries, a.speedup, a.seed, a.trace_token_ids);
    } else {
      *fixed = bench::TraceToRequests(*entries, a.speedup, a.seed);
    }
    (*config)["workload"] = {{"kind", "mooncake_trace"}, {"file", a.trace}, {"speedup", a.speedup},
                             {"entries", fixed->size()}, {"token_ids_vocab", a.trace_token_ids}};
  } else if (!a.sharegpt.empty()) {
    MINT_ASSIGN_OR_RETURN(std::string text, ReadFile(a.sharegpt));
    auto reqs = bench::ParseShareGpt(text, 0);
    if (!reqs.ok()) return reqs.status().WithContext(a.sharegpt);
    *fixed = std::move(*reqs);
    (*config)["workload"] = {{"kind", "sharegpt"}, {"file", a.sharegpt},
                             {"conversations", fixed->size()}};
  } else if (a.conversations > 0) {
    return ConversationsFromArgs(a, opt, config);
  } else {
    auto in = bench::ParseLengthSpec(a.input_len);
    if (!in.ok()) return in.status().WithContext("--input-len");
    auto out = bench::ParseLengthSpec(a.output_len);
    if (!out.ok()) return out.status().WithContext("--output-len");
    syn.input = *in;
    syn.output = *out;
    syn.prefix_groups = a.prefix_groups;
    syn.prefix_len = a.prefix_len;
    syn.seed = a.seed;
    (*config)["workload"] = {{"kind", "synthetic"}, {"input_len", bench::ToString(*in)},
                             {"output_len", bench::ToString(*out)},
                             {"prefix_groups", a.prefix_groups}, {"prefix_len", a.prefix_len}};
  }
  if (!fixed->empty() || !a.trace.empty() || !a.sharegpt.empty()) {
    // ShareGPT: conversations cycle when more requests are asked for than the file holds.
    bool cycle = a.trace.empty();
    opt->source = [fixed, cycle](int64_t i) -> std::optional<bench::BenchRequest> {
      if (fixed->empty()) return std::nullopt;
      if (i >= static_cast<int64_t>(fixed->size()) && !cycle) return std::nullopt;
      bench::BenchRequest r = (*fixed)[static_cast<size_t>(i) % fixed->size()];
      r.index = i;
      return r;
    };
  } else {
    opt->source = [syn](int64_t i) { return std::optional(bench::MakeSyntheticRequest(syn, i)); };
  }
  return Status::Ok();
}

// The arrival process: the trace's timestamps, a rate, or a closed loop of `concurrency`.
Status ArrivalFromArgs(const BenchArgs& a, bench::RunOptions* opt, nlohmann::json* config) {
  if (!a.trace.empty()) {
    opt->mode = bench::RunOptions::Mode::kTrace;
    (*config)["mode"] = "trace";
  } else if (a.conversations > 0) {
    opt->mode = bench::RunOptions::Mode::kConversations;
    opt->rate = a.rate > 0 ? a.rate : 1.0;
    (*config)["mode"] = "conversations";
    (*config)["conversation_rate"] = opt->rate;
  } else if (a.rate > 0 || !a.rate_schedule.empty()) {
    opt->mode = bench::RunOptions::Mode::kRate;
    opt->rate = a.rate;
    if (!a.rate_schedule.empty()) {
      if (a.rate > 0)
        return Status::InvalidArgument("--rate and --rate-schedule exclude each other");
      MINT_ASSIGN_OR_RETURN(bench::RateSchedule schedule,
                            bench::RateSchedule::Parse(a.rate_schedule));
      std::fprintf(stderr, "rate schedule: %s\n", schedule.Describe().c_str());
      opt->schedule = std::make_shared<const bench::RateSchedule>(std::move(schedule));
      (*config)["rate_schedule"] = a.rate_schedule;
    }
    if (a.arrival == "constant") {
      opt->arrival = bench::Arrival::kConstant;
    } else if (a.arrival != "poisson") {
      return Status::InvalidArgument("--arrival must be poisson or constant");
    }
    (*config)["mode"] = "rate";
    if (a.rate > 0) (*config)["rate"] = a.rate;
    (*config)["arrival"] = a.arrival;
  } else {
    opt->mode = bench::RunOptions::Mode::kConcurrency;
    opt->concurrency = a.concurrency > 0 ? a.concurrency : 1;
    (*config)["mode"] = "concurrency";
    (*config)["concurrency"] = opt->concurrency;
  }
  return Status::Ok();
}

Status ReportOptionsFromArgs(const BenchArgs& a, bench::ReportOptions* ropt,
                             nlohmann::json* config) {
  if (!a.slo.empty()) {
    MINT_ASSIGN_OR_RETURN(ropt->slo, bench::ParseSlo(a.slo));
    (*config)["slo"] = a.slo;
  }
  if (a.device_cost_per_hour > 0) {
    ropt->device_cost_per_hour = a.device_cost_per_hour;
    (*config)["device_cost_per_hour"] = a.device_cost_per_hour;
  }
  return Status::Ok();
}

// Prints the table, writes the JSON report and plots; the exit code.
int Publish(const BenchArgs& a, const bench::Report& report,
            const std::vector<bench::RequestRecord>& records) {
  std::printf("%s", bench::FormatReportTable(report).c_str());
  if (!a.output.empty()) {
    std::ofstream f(a.output, std::ios::binary);
    f << bench::ReportToJson(report).dump(2) << "\n";
    if (!f) return Fail(Status::IoError("cannot write " + a.output));
    std::fprintf(stderr, "report: %s\n", a.output.c_str());
  }
  if (!a.csv.empty()) {
    if (Status s = bench::WriteRequestsCsv(a.csv, records); !s.ok()) return Fail(s);
  }
  if (!a.plot_dir.empty()) {
    if (int rc = WriteGnuplot(a.plot_dir, bench::MakePlotFiles(records, report), bench::kPlotScript,
                              "{ttft_cdf,itl_cdf,e2e_cdf,throughput}.png");
        rc != 0) {
      return rc;
    }
  }
  return report.succeeded > 0 ? 0 : 1;
}

int Run(const BenchArgs& a) {
  if (!a.compare.empty()) return RunCompare(a.compare);
  if (a.model.empty()) return Fail(Status::InvalidArgument("--model is required"));
  auto target = bench::ParseUrl(a.url);
  if (!target.ok()) return Fail(target.status());

  bench::RunOptions opt;
  if (Status st = ClientFromArgs(a, *target, &opt.client); !st.ok()) return Fail(st);
  opt.seed = a.seed;
  opt.warmup_s = a.warmup;
  opt.duration_s = a.duration;
  opt.num_requests = a.num_requests;
  nlohmann::json config = {{"url", a.url},       {"model", a.model},     {"endpoint", a.endpoint},
                           {"seed", a.seed},     {"warmup_s", a.warmup}, {"duration_s", a.duration},
                           {"num_requests", a.num_requests}};
  auto fixed = std::make_shared<std::vector<bench::BenchRequest>>();
  if (Status st = WorkloadFromArgs(a, &opt, &config, fixed); !st.ok()) return Fail(st);
  if (Status st = ArrivalFromArgs(a, &opt, &config); !st.ok()) return Fail(st);
  if (opt.num_requests <= 0 && opt.duration_s <= 0 && a.trace.empty() && a.conversations == 0 &&
      !opt.schedule) {
    opt.num_requests = a.sharegpt.empty() ? 100 : static_cast<int64_t>(fixed->size());
    config["num_requests"] = opt.num_requests;
  }
  bench::ReportOptions ropt;
  if (Status st = ReportOptionsFromArgs(a, &ropt, &config); !st.ok()) return Fail(st);

  std::optional<std::string> before;
  if (!a.no_metrics) before = ScrapeMetrics(*target);
  ProgressBar bar("bench", /*unit_bytes=*/false);
  int64_t total = opt.num_requests > 0  ? opt.num_requests
                  : !a.trace.empty()    ? static_cast<int64_t>(fixed->size())
                  : a.conversations > 0 ? a.conversations * a.turns
                                        : 0;
  auto started = std::chrono::steady_clock::now();
  double span_s = opt.schedule ? opt.schedule->duration_s() : a.warmup + a.duration;
  opt.progress = [&](int64_t done, int64_t) {
    if (total > 0) {
      bar.Update(static_cast<uint64_t>(std::min(done, total)), static_cast<uint64_t>(total));
    } else {
      double t = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      bar.Update(static_cast<uint64_t>(std::min(t, span_s) * 1000),
                 static_cast<uint64_t>(span_s * 1000));
    }
  };
  std::fprintf(stderr, "bench: %s model %s, %s\n", a.url.c_str(), a.model.c_str(),
               config["mode"].get<std::string>().c_str());
  auto run = bench::RunBench(opt);
  bar.Finish();
  if (!run.ok()) return Fail(run.status());

  // Throughput-over-time buckets: 1 s, finer for short runs so the plot has ~20 points.
  ropt.bucket_s = run->wall_s < 20 ? std::max(run->wall_s / 20, 0.01) : 1.0;
  bench::Report report = bench::BuildReport(run->records, ropt);
  report.config = config;
  if (before) {
    if (auto after = ScrapeMetrics(*target)) {
      const auto b = bench::ParsePrefixCacheCounters(*before);
      const auto c = bench::ParsePrefixCacheCounters(*after);
      if (b && c) {
        report.prefix_cache_hit_rate = bench::PrefixCacheHitRate(*b, *c);
        report.tier_hit_rates = bench::TierHitRates(*b, *c);
      }
      report.disagg = bench::DisaggDeltas(*before, *after);
    }
  }
  return Publish(a, report, run->records);
}

}  // namespace

CommandFn RegisterBench(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "bench",
      "Benchmark an OpenAI-compatible server (Mint, llama-server, vLLM, Dynamo) with streaming "
      "requests: TTFT, ITL, TPOT, E2E percentiles, throughput, goodput, cost; JSON report, "
      "table, plots. Prompts are seeded, so two servers get identical work.");
  auto a = std::make_shared<BenchArgs>();
  cmd->add_option("--url", a->url, "Server base URL (http://HOST:PORT)")->capture_default_str();
  cmd->add_option("--model", a->model, "Model name sent in each request");
  cmd->add_option("--endpoint", a->endpoint, "completions | chat")->capture_default_str();
  cmd->add_option("--api-key", a->api_key, "Bearer token, if the server wants one");
  cmd->add_option("--extra-body", a->extra_body,
                  "JSON object merged into every request, e.g. "
                  "'{\"response_format\":{\"type\":\"json_object\"}}'");
  cmd->add_option("--concurrency", a->concurrency, "Requests in flight (closed loop; default 1)");
  cmd->add_option("--rate", a->rate, "Requests per second (open loop)");
  cmd->add_option("--rate-schedule", a->rate_schedule,
                  "Requests per second over time, piecewise linear: DURATION:RATE or "
                  "DURATION:FROM-TO segments, e.g. 60:1,120:1-6,300:6,120:6-1,60:1 (quiet, ramp, "
                  "peak, fall, quiet); the run ends with the schedule");
  cmd->add_option("--arrival", a->arrival, "poisson | constant (with --rate or --rate-schedule)")
      ->capture_default_str();
  cmd->add_option("--num-requests", a->num_requests,
                  "Measured requests (after warmup; default 100 unless --duration)");
  cmd->add_option("--duration", a->duration, "Seconds during which requests start (after warmup)");
  cmd->add_option("--warmup", a->warmup, "Seconds of requests excluded from the report");
  cmd->add_option("--input-len", a->input_len, "Prompt tokens: N, uniform:LO:HI, normal:MEAN:SD")
      ->capture_default_str();
  cmd->add_option("--output-len", a->output_len, "Output tokens (max_tokens with ignore_eos)")
      ->capture_default_str();
  cmd->add_option("--prefix-groups", a->prefix_groups, "Groups sharing a prompt prefix");
  cmd->add_option("--prefix-len", a->prefix_len, "Tokens of the shared prefix");
  cmd->add_option(
      "--conversations", a->conversations,
      "Multi-turn chat: this many conversations of --turns turns, started at --rate\n"
      "per second (default 1); each turn resends the whole history (first message of\n"
      "--first-len, then each answer of --output-len and user message of --input-len),\n"
      "--think-time seconds after the previous answer");
  cmd->add_option("--turns", a->turns, "Turns per conversation (with --conversations)")
      ->capture_default_str();
  cmd->add_option("--think-time", a->think_time,
                  "Seconds between an answer and the next turn (with --conversations)")
      ->capture_default_str();
  cmd->add_option(
         "--first-len", a->first_len,
         "First message length in tokens (with --conversations; same forms as --input-len)")
      ->capture_default_str();
  cmd->add_option("--trace", a->trace, "Mooncake JSONL trace to replay")
      ->check(CLI::ExistingFile);
  cmd->add_option("--speedup", a->speedup, "Trace time divided by this")->capture_default_str();
  cmd->add_option("--trace-token-ids", a->trace_token_ids,
                  "Replay the trace as token-id prompts over a vocabulary of this size (each\n"
                  "512-token hash id -> 512 seeded ids), so the server sees its block structure\n"
                  "exactly; 0: text prompts")
      ->capture_default_str();
  cmd->add_option("--sharegpt", a->sharegpt, "ShareGPT JSON conversations as prompts")
      ->check(CLI::ExistingFile);
  cmd->add_option("--seed", a->seed, "Seed of prompts, lengths and arrivals")->capture_default_str();
  cmd->add_option("--slo", a->slo, "Goodput SLO, e.g. ttft=0.5,itl=0.05 (seconds; 'ms' suffix ok)");
  cmd->add_option("--device-cost-per-hour", a->device_cost_per_hour,
                  "Cost of the serving device per hour, for cost per million tokens");
  cmd->add_option("--timeout", a->timeout, "Per-request timeout, seconds")->capture_default_str();
  cmd->add_option("--output", a->output, "Write the JSON report here");
  cmd->add_option("--csv", a->csv,
                  "Write one line per request (the columns of `mint simulate --csv`)");
  cmd->add_option("--plot", a->plot_dir, "Write gnuplot data, script and PNGs into this folder");
  cmd->add_option("--compare", a->compare, "Print the ratio table of two JSON reports (a b)")
      ->expected(2);
  cmd->add_flag("--no-metrics", a->no_metrics,
                "Do not scrape /metrics (before and after the run) for the prefix-cache hit rate\n"
                "and the disaggregation and KV transfer counters");
  return [a]() { return Run(*a); };
}

}  // namespace mint::apps
