// Reads a server's Prometheus /metrics text for the prefix-cache hit rate. Pure parsing; the
// caller fetches the text before and after a run and takes the difference.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mint::bench {

// Sum over every label set of the samples named exactly `name`; nullopt when there are none.
std::optional<double> MetricSum(std::string_view text, std::string_view name);
// The same over the lines whose labels contain `label` (e.g. tier="host").
std::optional<double> MetricSum(std::string_view text, std::string_view name,
                                std::string_view label);

struct PrefixCacheCounters {
  double hits = 0;
  double queries = 0;
  // Mint's tiered KV cache (mint_kv_tier_hit_blocks_total): blocks loaded from host / disk.
  std::optional<double> host_hits, disk_hits;
};
// Mint's mint_prefix_cache_{hits,queries}_total (blocks), else vLLM's
// vllm:prefix_cache_{hits,queries}_total (tokens); nullopt when the server exports neither.
std::optional<PrefixCacheCounters> ParsePrefixCacheCounters(std::string_view text);

// Hit rate between two scrapes: delta hits / delta queries; nullopt without queries.
std::optional<double> PrefixCacheHitRate(const PrefixCacheCounters& before,
                                         const PrefixCacheCounters& after);
// Per tier, over the same queries: {"host", rate}, {"disk", rate} for the tiers the server has.
std::vector<std::pair<std::string, double>> TierHitRates(const PrefixCacheCounters& before,
                                                         const PrefixCacheCounters& after);

}  // namespace mint::bench
