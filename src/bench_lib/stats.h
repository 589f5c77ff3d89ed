// Per-request measurements and the report of a `mint bench` run: percentiles, throughput,
// goodput under SLOs, cost per token, a versioned JSON schema ("mint-bench/1"), a terminal
// table and the ratio table of two reports. No I/O: callers write the strings.
//
// Percentiles use linear interpolation between closest ranks (numpy's default "linear"):
// for sorted x[0..n-1], p-th percentile = x[k] + (x[k+1]-x[k])*f where k+f = p/100*(n-1).
// TTFT, TPOT and E2E have one sample per successful request; ITL pools every gap of every
// successful request (as vLLM's benchmark does). Throughputs divide by the measured window:
// first measured request's start to last measured request's end.
//
// Thread-safety: free functions over value types.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace mint::bench {

inline constexpr const char* kReportSchema = "mint-bench/1";

// What the client measured for one request. Times are seconds; `start_s` and `end_s` are on
// the run's clock (seconds since the run started). A record with a non-empty `error` failed.
struct RequestRecord {
  int64_t index = 0;
  bool warmup = false;        // sent during --warmup: excluded from the report
  double start_s = 0;         // when the client began (connect + send)
  double end_s = 0;           // when the last byte of the response arrived
  double ttft_s = 0;          // first content chunk - start
  std::vector<double> itl_s;  // gaps between consecutive content chunks
  std::vector<double> token_times_s;  // arrival time of each content chunk (run clock)
  int input_tokens = 0;       // server usage.prompt_tokens, else the intended length
  int output_tokens = 0;      // server usage.completion_tokens, else content chunks counted
  bool usage_reported = false;
  std::string error;          // empty on success

  double e2e_s() const { return end_s - start_s; }
  // (e2e - ttft) / (output_tokens - 1); 0 when output_tokens <= 1.
  double tpot_s() const;
};

struct Summary {
  int64_t count = 0;
  double mean = 0, p50 = 0, p90 = 0, p99 = 0, min = 0, max = 0;
};
Summary Summarize(std::vector<double> values);
// Percentile p in [0, 100] of a sorted, non-empty vector (definition above).
double PercentileSorted(const std::vector<double>& sorted, double p);

// SLO thresholds in seconds; an unset one is not checked. A request is "good" when it
// succeeded and TTFT <= ttft, TPOT <= tpot, every ITL gap <= itl and E2E <= e2e.
struct Slo {
  std::optional<double> ttft, itl, tpot, e2e;
};
// Parses "ttft=0.5,itl=0.05,tpot=0.04,e2e=10" (seconds; a suffix "ms" means milliseconds).
Result<Slo> ParseSlo(std::string_view text);
// The list syntax under ParseSlo (and `mint configure --sla`): comma-separated key=value items,
// empty items skipped, each value a positive number of seconds ("ms" and "s" suffixes). Calls
// fn(key, seconds) per item and stops at its first error; errors start with `what`.
Status ForEachSecondsItem(std::string_view text, std::string_view what,
                          const std::function<Status(const std::string&, double)>& fn);

struct ReportOptions {
  Slo slo;
  std::optional<double> device_cost_per_hour;  // currency units per hour of the serving device
  double bucket_s = 1.0;                        // width of the throughput-over-time buckets
};

struct Report {
  nlohmann::json config;  // the run's settings, copied into the JSON as given
  int64_t requests = 0, succeeded = 0, failed = 0, warmup_excluded = 0;
  double duration_s = 0;  // first measured start .. last measured end
  int64_t input_tokens = 0, output_tokens = 0;
  double request_throughput = 0;       // succeeded / duration
  double output_token_throughput = 0;  // output tokens / duration
  double total_token_throughput = 0;   // (input + output) / duration
  Summary ttft, itl, tpot, e2e;        // seconds
  bool slo_set = false;
  int64_t good = 0;
  double goodput = 0;                  // good requests / duration
  std::optional<double> cost_per_million_output_tokens, cost_per_million_total_tokens;
  std::optional<double> prefix_cache_hit_rate;  // filled by the caller from /metrics
  // Prompt blocks loaded from each tier of a tiered KV cache over the same lookups (caller).
  std::vector<std::pair<std::string, double>> tier_hit_rates;
  // Disaggregated serving counters over the run (server_metrics.h DisaggDeltas; caller).
  std::vector<std::pair<std::string, double>> disagg;
  std::vector<std::pair<std::string, int64_t>> errors;  // reason -> count, most frequent first
  std::vector<double> output_tokens_per_bucket;         // tokens/s in each bucket_s slice
  double bucket_s = 1.0;
};

Report BuildReport(const std::vector<RequestRecord>& records, const ReportOptions& options);
// One line per request, in `records` order, under the header
// "index,arrival_s,ttft_s,e2e_s,input_tokens,output_tokens,itl_mean_s,error" (seconds; the
// error with commas and line breaks replaced by spaces): `mint bench --csv` and `mint simulate
// --csv` write the same columns, so a prediction and a measurement compare request by request.
Status WriteRequestsCsv(const std::string& path, const std::vector<RequestRecord>& records);
nlohmann::json ReportToJson(const Report& r);
// A fixed-width table for the terminal (times in milliseconds).
std::string FormatReportTable(const Report& r);
// "metric | a | b | b/a" for the numeric metrics both reports (schema mint-bench/1) carry.
Result<std::string> CompareReports(const nlohmann::json& a, const nlohmann::json& b);

}  // namespace mint::bench
