#include "bench_lib/stats.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <numeric>

namespace mint::bench {

Status WriteRequestsCsv(const std::string& path, const std::vector<RequestRecord>& records) {
  std::ofstream f(path);
  if (!f) return Status::IoError(path + ": cannot open for writing");
  f << "index,arrival_s,ttft_s,e2e_s,input_tokens,output_tokens,itl_mean_s,error\n";
  for (const RequestRecord& r : records) {
    double itl = 0;
    for (double g : r.itl_s) itl += g;
    if (!r.itl_s.empty()) itl /= static_cast<double>(r.itl_s.size());
    std::string error = r.error;
    std::replace_if(
        error.begin(), error.end(), [](char c) { return c == ',' || c == '\n' || c == '\r'; }, ' ');
    f << fmt::format("{},{:.6f},{:.6f},{:.6f},{},{},{:.6f},{}\n", r.index, r.start_s, r.ttft_s,
                     r.e2e_s(), r.input_tokens, r.output_tokens, itl, error);
  }
  return f ? Status::Ok() : Status::IoError(path + ": write failed");
}

double RequestRecord::tpot_s() const {
  if (output_tokens <= 1) return 0;
  return (e2e_s() - ttft_s) / static_cast<double>(output_tokens - 1);
}

double PercentileSorted(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  double rank = std::clamp(p, 0.0, 100.0) / 100.0 * static_cast<double>(sorted.size() - 1);
  size_t k = static_cast<size_t>(std::floor(rank));
  double f = rank - static_cast<double>(k);
  if (k + 1 >= sorted.size()) return sorted.back();
  return sorted[k] + (sorted[k + 1] - sorted[k]) * f;
}

Summary Summarize(std::vector<double> v) {
  Summary s;
  if (v.empty()) return s;
  std::sort(v.begin(), v.end());
  s.count = static_cast<int64_t>(v.size());
  s.mean = std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
  s.p50 = PercentileSorted(v, 50);
  s.p90 = PercentileSorted(v, 90);
  s.p99 = PercentileSorted(v, 99);
  s.min = v.front();
  s.max = v.back();
  return s;
}

Status ForEachSecondsItem(std::string_view text, std::string_view what,
                          const std::function<Status(const std::string&, double)>& fn) {
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t comma = text.find(',', pos);
    if (comma == std::string_view::npos) comma = text.size();
    std::string item(text.substr(pos, comma - pos));
    pos = comma + 1;
    if (item.empty()) continue;
    size_t eq = item.find('=');
    if (eq == std::string::npos) {
      return Status::InvalidArgument(fmt::format("{}: '{}' lacks '='", what, item));
    }
    std::string key = item.substr(0, eq), val = item.substr(eq + 1);
    double scale = 1.0;
    if (val.size() > 2 && val.compare(val.size() - 2, 2, "ms") == 0) {
      scale = 1e-3;
      val.resize(val.size() - 2);
    } else if (!val.empty() && val.back() == 's') {
      val.pop_back();
    }
    double v = 0;
    try {
      size_t used = 0;
      v = std::stod(val, &used) * scale;
      if (used != val.size() || !(v > 0)) throw 0;
    } catch (...) {
      return Status::InvalidArgument(fmt::format("{}: bad value in '{}'", what, item));
    }
    MINT_RETURN_IF_ERROR(fn(key, v));
  }
  return Status::Ok();
}

Result<Slo> ParseSlo(std::string_view text) {
  Slo slo;
  MINT_RETURN_IF_ERROR(ForEachSecondsItem(text, "--slo", [&](const std::string& key, double v) {
    if (key == "ttft") {
      slo.ttft = v;
    } else if (key == "itl") {
      slo.itl = v;
    } else if (key == "tpot") {
      slo.tpot = v;
    } else if (key == "e2e") {
      slo.e2e = v;
    } else {
      return Status::InvalidArgument("--slo: unknown key '" + key + "' (ttft, itl, tpot, e2e)");
    }
    return Status::Ok();
  }));
  return slo;
}

Report BuildReport(const std::vector<RequestRecord>& records, const ReportOptions& opt) {
  Report r;
  r.bucket_s = opt.bucket_s;
  r.slo_set = opt.slo.ttft || opt.slo.itl || opt.slo.tpot || opt.slo.e2e;
  std::vector<double> ttft, itl, tpot, e2e;
  std::map<std::string, int64_t> errors;
  double first = INFINITY, last = -INFINITY;
  for (const RequestRecord& rec : records) {
    if (rec.warmup) {
      ++r.warmup_excluded;
      continue;
    }
    ++r.requests;
    first = std::min(first, rec.start_s);
    last = std::max(last, rec.end_s);
    if (!rec.error.empty()) {
      ++r.failed;
      ++errors[rec.error];
      continue;
    }
    ++r.succeeded;
    r.input_tokens += rec.input_tokens;
    r.output_tokens += rec.output_tokens;
    ttft.push_back(rec.ttft_s);
    itl.insert(itl.end(), rec.itl_s.begin(), rec.itl_s.end());
    if (rec.output_tokens > 1) tpot.push_back(rec.tpot_s());
    e2e.push_back(rec.e2e_s());
    bool good = true;
    if (opt.slo.ttft && rec.ttft_s > *opt.slo.ttft) good = false;
    if (opt.slo.tpot && rec.tpot_s() > *opt.slo.tpot) good = false;
    if (opt.slo.e2e && rec.e2e_s() > *opt.slo.e2e) good = false;
    if (opt.slo.itl) {
      for (double g : rec.itl_s) good = good && g <= *opt.slo.itl;
    }
    if (good) ++r.good;
  }
  r.duration_s = r.requests > 0 ? std::max(0.0, last - first) : 0.0;
  r.ttft = Summarize(std::move(ttft));
  r.itl = Summarize(std::move(itl));
  r.tpot = Summarize(std::move(tpot));
  r.e2e = Summarize(std::move(e2e));
  if (r.duration_s > 0) {
    r.request_throughput = static_cast<double>(r.succeeded) / r.duration_s;
    r.output_token_throughput = static_cast<double>(r.output_tokens) / r.duration_s;
    r.total_token_throughput = static_cast<double>(r.input_tokens + r.output_tokens) / r.duration_s;
    r.goodput = static_cast<double>(r.good) / r.duration_s;
  }
  if (opt.device_cost_per_hour && r.output_token_throughput > 0) {
    double cost_per_s = *opt.device_cost_per_hour / 3600.0;
    r.cost_per_million_output_tokens = cost_per_s / r.output_token_throughput * 1e6;
    r.cost_per_million_total_tokens = cost_per_s / r.total_token_throughput * 1e6;
  }
  r.errors.assign(errors.begin(), errors.end());
  std::stable_sort(r.errors.begin(), r.errors.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
  // Output tokens over time: each content chunk's tokens land in its arrival bucket. With
  // usage counts larger than the chunk count (several tokens per chunk) the extra tokens are
  // spread evenly over the request's chunks.
  if (r.requests > 0 && opt.bucket_s > 0 && std::isfinite(first)) {
    size_t n = static_cast<size_t>(std::ceil(std::max(r.duration_s, 1e-9) / opt.bucket_s));
    std::vector<double> buckets(std::max<size_t>(n, 1), 0.0);
    for (const RequestRecord& rec : records) {
      if (rec.warmup || !rec.error.empty() || rec.token_times_s.empty()) continue;
      double per = static_cast<double>(rec.output_tokens) /
                   static_cast<double>(rec.token_times_s.size());
      for (double t : rec.token_times_s) {
        size_t b = static_cast<size_t>(std::max(0.0, (t - first) / opt.bucket_s));
        buckets[std::min(b, buckets.size() - 1)] += per;
      }
    }
    for (double& b : buckets) b /= opt.bucket_s;
    r.output_tokens_per_bucket = std::move(buckets);
  }
  return r;
}

namespace {

nlohmann::json SummaryJson(const Summary& s) {
  return {{"count", s.count}, {"mean", s.mean}, {"p50", s.p50}, {"p90", s.p90},
          {"p99", s.p99},     {"min", s.min},   {"max", s.max}};
}

template <typename T>
nlohmann::json Opt(const std::optional<T>& v) {
  return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
}

}  // namespace

// {"name": value, ...} (a later pair of the same name wins).
static nlohmann::json NamedValuesJson(const std::vector<std::pair<std::string, double>>& values) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [name, value] : values) j[name] = value;
  return j;
}

nlohmann::json ReportToJson(const Report& r) {
  nlohmann::json errors = nlohmann::json::object();
  for (const auto& [why, n] : r.errors) errors[why] = n;
  return {
      {"schema", kReportSchema},
      {"config", r.config},
      {"requests",
       {{"total", r.requests},
        {"succeeded", r.succeeded},
        {"failed", r.failed},
        {"warmup_excluded", r.warmup_excluded}}},
      {"duration_s", r.duration_s},
      {"tokens", {{"input", r.input_tokens}, {"output", r.output_tokens}}},
      {"throughput",
       {{"requests_per_s", r.request_throughput},
        {"output_tokens_per_s", r.output_token_throughput},
        {"total_tokens_per_s", r.total_token_throughput}}},
      {"latency_s",
       {{"ttft", SummaryJson(r.ttft)},
        {"itl", SummaryJson(r.itl)},
        {"tpot", SummaryJson(r.tpot)},
        {"e2e", SummaryJson(r.e2e)}}},
      {"goodput", r.slo_set
                      ? nlohmann::json{{"good_requests", r.good}, {"requests_per_s", r.goodput}}
                      : nlohmann::json(nullptr)},
      {"cost",
       {{"per_million_output_tokens", Opt(r.cost_per_million_output_tokens)},
        {"per_million_total_tokens", Opt(r.cost_per_million_total_tokens)}}},
      {"prefix_cache_hit_rate", Opt(r.prefix_cache_hit_rate)},
      {"tier_hit_rates", NamedValuesJson(r.tier_hit_rates)},
      {"disaggregation", NamedValuesJson(r.disagg)},
      {"errors", errors},
      {"timeline", {{"bucket_s", r.bucket_s}, {"output_tokens_per_s", r.output_tokens_per_bucket}}},
  };
}

// "disaggregation" and "KV transfers" lines from DisaggDeltas' keys.
static std::string FormatDisagg(const std::vector<std::pair<std::string, double>>& d) {
  std::map<std::string, double> v(d.begin(), d.end());
  std::string out;
  if (v.count("remote_prefills")) {
    out += fmt::format(
        "disaggregation {:.0f} prompts prefilled remotely, {:.0f} locally (short {:.0f}, cached on "
        "the decode worker {:.0f}, prefill queue {:.0f}), {:.0f} fallbacks; {:.0f} KV pulls "
        "failed ({:.0f} recomputed, {:.0f} requests failed)\n",
        v["remote_prefills"],
        v["local_prefills_short"] + v["local_prefills_cached"] + v["local_prefills_queue"],
        v["local_prefills_short"], v["local_prefills_cached"], v["local_prefills_queue"],
        v["prefill_fallbacks"], v["import_recomputed"] + v["import_failed"], v["import_recomputed"],
        v["import_failed"]);
  }
  if (v["kv_loads"] > 0) {
    out += fmt::format(
        "KV transfers  {:.0f} pulls ({:.0f} failed): {:.0f} blocks, {:.2f} GB, {:.0f} blocks "
        "skipped (already cached); {:.1f} ms per pull\n",
        v["kv_loads"], v["kv_load_failures"], v["kv_pulled_blocks"], v["kv_pulled_bytes"] * 1e-9,
        v["kv_skipped_blocks"], v["kv_pull_seconds"] / v["kv_loads"] * 1e3);
  }
  return out;
}

std::string FormatReportTable(const Report& r) {
  std::string out;
  out += fmt::format("requests      {} ok, {} failed ({} warmup excluded) in {:.2f} s\n",
                     r.succeeded, r.failed, r.warmup_excluded, r.duration_s);
  out += fmt::format("throughput    {:.2f} req/s, {:.1f} output tok/s, {:.1f} total tok/s\n",
                     r.request_throughput, r.output_token_throughput, r.total_token_throughput);
  out += fmt::format("tokens        {} input, {} output\n", r.input_tokens, r.output_tokens);
  out += fmt::format("{:<10}{:>10}{:>10}{:>10}{:>10}{:>10}{:>10}\n", "ms", "mean", "p50", "p90",
                     "p99", "max", "count");
  auto row = [&](const char* name, const Summary& s) {
    out += fmt::format("{:<10}{:>10.2f}{:>10.2f}{:>10.2f}{:>10.2f}{:>10.2f}{:>10}\n", name,
                       s.mean * 1e3, s.p50 * 1e3, s.p90 * 1e3, s.p99 * 1e3, s.max * 1e3, s.count);
  };
  row("TTFT", r.ttft);
  row("ITL", r.itl);
  row("TPOT", r.tpot);
  row("E2E", r.e2e);
  if (r.slo_set) {
    out += fmt::format("goodput       {:.2f} req/s ({} of {} requests met the SLO)\n", r.goodput,
                       r.good, r.requests);
  }
  if (r.cost_per_million_output_tokens) {
    out += fmt::format("cost          {:.4f} per 1M output tokens, {:.4f} per 1M total tokens\n",
                       *r.cost_per_million_output_tokens, *r.cost_per_million_total_tokens);
  }
  if (r.prefix_cache_hit_rate) {
    out += fmt::format("prefix cache  {:.1f} % hit rate\n", *r.prefix_cache_hit_rate * 100);
  }
  for (const auto& [tier, rate] : r.tier_hit_rates) {
    out +=
        fmt::format("{} tier     {:.1f} % of looked-up blocks loaded from it\n", tier, rate * 100);
  }
  if (!r.disagg.empty()) out += FormatDisagg(r.disagg);
  for (const auto& [why, n] : r.errors) out += fmt::format("error x{}     {}\n", n, why);
  return out;
}

Result<std::string> CompareReports(const nlohmann::json& a, const nlohmann::json& b) {
  for (const auto* j : {&a, &b}) {
    if (!j->is_object() || j->value("schema", "") != kReportSchema) {
      return Status::InvalidArgument(std::string("not a ") + kReportSchema + " report");
    }
  }
  struct Row {
    const char* name;
    const char* pointer;
    double scale;
  };
  static const Row kRows[] = {
      {"requests/s", "/throughput/requests_per_s", 1},
      {"output tok/s", "/throughput/output_tokens_per_s", 1},
      {"total tok/s", "/throughput/total_tokens_per_s", 1},
      {"goodput req/s", "/goodput/requests_per_s", 1},
      {"TTFT mean ms", "/latency_s/ttft/mean", 1e3},
      {"TTFT p50 ms", "/latency_s/ttft/p50", 1e3},
      {"TTFT p99 ms", "/latency_s/ttft/p99", 1e3},
      {"ITL mean ms", "/latency_s/itl/mean", 1e3},
      {"ITL p50 ms", "/latency_s/itl/p50", 1e3},
      {"ITL p99 ms", "/latency_s/itl/p99", 1e3},
      {"TPOT mean ms", "/latency_s/tpot/mean", 1e3},
      {"TPOT p99 ms", "/latency_s/tpot/p99", 1e3},
      {"E2E mean ms", "/latency_s/e2e/mean", 1e3},
      {"E2E p99 ms", "/latency_s/e2e/p99", 1e3},
      {"failed", "/requests/failed", 1},
      {"prefix hit rate", "/prefix_cache_hit_rate", 1},
      {"$/1M out tok", "/cost/per_million_output_tokens", 1},
  };
  std::string out = fmt::format("{:<18}{:>14}{:>14}{:>10}\n", "metric", "a", "b", "b/a");
  for (const Row& row : kRows) {
    nlohmann::json::json_pointer p(row.pointer);
    if (!a.contains(p) || !b.contains(p)) continue;
    const auto& va = a.at(p);
    const auto& vb = b.at(p);
    if (!va.is_number() || !vb.is_number()) continue;
    double x = va.get<double>() * row.scale, y = vb.get<double>() * row.scale;
    std::string ratio = x != 0 ? fmt::format("{:.3f}", y / x) : "-";
    out += fmt::format("{:<18}{:>14.3f}{:>14.3f}{:>10}\n", row.name, x, y, ratio);
  }
  return out;
}

}  // namespace mint::bench
