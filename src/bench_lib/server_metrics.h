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
  std::optional<double> host_hits = {}, disk_hits = {};
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

// Disaggregated serving, between two scrapes of a Mint frontend (or `mint serve`): how the
// frontend planned prompts (remote_prefills, local_prefills_{short,cached,queue},
// prefill_fallbacks) and, where the scraped process exports them (a process running the engines,
// or a worker's /metrics), its KV transfers (kv_loads, kv_load_failures, kv_pulled_blocks,
// kv_skipped_blocks, kv_pulled_bytes, kv_pull_seconds). Deltas of the counters `after` has, in
// that order; empty when `after` has no mint_remote_prefills_total and no transfers, or when
// nothing moved (no prefill worker).
std::vector<std::pair<std::string, double>> DisaggDeltas(std::string_view before,
                                                         std::string_view after);

}  // namespace mint::bench
