#include "bench_lib/server_metrics.h"

#include <cstdlib>
#include <string>

namespace mint::bench {

std::optional<double> MetricSum(std::string_view text, std::string_view name) {
  return MetricSum(text, name, {});
}

std::optional<double> MetricSum(std::string_view text, std::string_view name,
                                std::string_view label) {
  std::optional<double> sum;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    std::string_view line = text.substr(pos, nl - pos);
    pos = nl + 1;
    if (line.substr(0, name.size()) != name || line.size() == name.size()) continue;
    char next = line[name.size()];
    if (next != ' ' && next != '{') continue;
    // The value follows the labels (if any): the first field after the closing brace.
    size_t v = next == '{' ? line.find('}', name.size()) : name.size();
    if (v == std::string_view::npos) continue;
    if (!label.empty() && line.substr(0, v).find(label) == std::string_view::npos) continue;
    std::string rest(line.substr(v + (next == '{' ? 1 : 0)));
    char* end = nullptr;
    double value = std::strtod(rest.c_str(), &end);
    if (end == rest.c_str()) continue;
    sum = sum.value_or(0) + value;
  }
  return sum;
}

std::optional<PrefixCacheCounters> ParsePrefixCacheCounters(std::string_view text) {
  static constexpr std::string_view kNames[][2] = {
      {"mint_prefix_cache_hits_total", "mint_prefix_cache_queries_total"},
      {"vllm:prefix_cache_hits_total", "vllm:prefix_cache_queries_total"},
  };
  for (const auto& n : kNames) {
    auto h = MetricSum(text, n[0]);
    auto q = MetricSum(text, n[1]);
    if (h && q) {
      return PrefixCacheCounters{*h, *q,
                                 MetricSum(text, "mint_kv_tier_hit_blocks_total", "tier=\"host\""),
                                 MetricSum(text, "mint_kv_tier_hit_blocks_total", "tier=\"disk\"")};
    }
  }
  return std::nullopt;
}

std::optional<double> PrefixCacheHitRate(const PrefixCacheCounters& before,
                                         const PrefixCacheCounters& after) {
  double q = after.queries - before.queries;
  if (!(q > 0)) return std::nullopt;
  return (after.hits - before.hits) / q;
}

std::vector<std::pair<std::string, double>> TierHitRates(const PrefixCacheCounters& before,
                                                         const PrefixCacheCounters& after) {
  std::vector<std::pair<std::string, double>> out;
  const double q = after.queries - before.queries;
  if (!(q > 0)) return out;
  if (before.host_hits && after.host_hits) {
    out.emplace_back("host", (*after.host_hits - *before.host_hits) / q);
  }
  if (before.disk_hits && after.disk_hits) {
    out.emplace_back("disk", (*after.disk_hits - *before.disk_hits) / q);
  }
  return out;
}

std::vector<std::pair<std::string, double>> DisaggDeltas(std::string_view before,
                                                         std::string_view after) {
  struct Counter {
    const char* key;
    const char* metric;
    const char* label;
  };
  static constexpr Counter kCounters[] = {
      {"remote_prefills", "mint_remote_prefills_total", ""},
      {"local_prefills_short", "mint_local_prefills_total", "reason=\"short\""},
      {"local_prefills_cached", "mint_local_prefills_total", "reason=\"cached\""},
      {"local_prefills_queue", "mint_local_prefills_total", "reason=\"queue\""},
      {"prefill_fallbacks", "mint_prefill_fallbacks_total", ""},
      {"import_recomputed", "mint_kv_import_failures_total", "outcome=\"recomputed\""},
      {"import_failed", "mint_kv_import_failures_total", "outcome=\"failed\""},
      {"kv_loads", "mint_kv_transfer_loads_total", ""},
      {"kv_load_failures", "mint_kv_transfer_load_failures_total", ""},
      {"kv_pulled_blocks", "mint_kv_transfer_pulled_blocks_total", ""},
      {"kv_skipped_blocks", "mint_kv_transfer_skipped_blocks_total", ""},
      {"kv_pulled_bytes", "mint_kv_transfer_pulled_bytes_total", ""},
      {"kv_pull_seconds", "mint_kv_transfer_pull_seconds_sum", ""},
  };
  std::vector<std::pair<std::string, double>> out;
  bool moved = false;
  for (const Counter& c : kCounters) {
    const auto a = MetricSum(after, c.metric, c.label);
    if (!a) continue;
    const double d = *a - MetricSum(before, c.metric, c.label).value_or(0);
    moved = moved || d != 0;
    out.emplace_back(c.key, d);
  }
  if (!moved) out.clear();
  return out;
}

}  // namespace mint::bench
