// Reads a server's Prometheus /metrics text for the prefix-cache hit rate. Pure parsing; the
// caller fetches the text before and after a run and takes the difference.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace mint::bench {

// Sum over every label set of the samples named exactly `name`; nullopt when there are none.
std::optional<double> MetricSum(std::string_view text, std::string_view name);

struct PrefixCacheCounters {
  double hits = 0;
  double queries = 0;
};
// Mint's mint_prefix_cache_{hits,queries}_total (blocks), else vLLM's
// vllm:prefix_cache_{hits,queries}_total (tokens); nullopt when the server exports neither.
std::optional<PrefixCacheCounters> ParsePrefixCacheCounters(std::string_view text);

// Hit rate between two scrapes: delta hits / delta queries; nullopt without queries.
std::optional<double> PrefixCacheHitRate(const PrefixCacheCounters& before,
                                         const PrefixCacheCounters& after);

}  // namespace mint::bench
