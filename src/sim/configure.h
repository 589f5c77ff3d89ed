// Configure: the search behind `mint configure`. Given a workload, a timing profile and an SLA,
// it simulates candidate deployments (simulator.h) and ranks them by cost per million output
// tokens among those that meet the SLA.
//
// What is searched: aggregated (round-robin or kv routing) or disaggregated (kv routing) layouts
// of up to max_devices workers (one worker per device), the prefill:decode split, and per layout
// the engine and router knobs: max_num_batched_tokens, max_num_seqs, block size, the router's
// cache credit (kv) and the conditional-disaggregation threshold (remote_prefill_min_tokens).
//
// How (no brute force over the product):
//  1. Fewest devices per family, default knobs. Aggregated: a binary search on the worker count
//     (more workers never hurt the SLA). Disaggregated: device totals in increasing order, each
//     total's prefill:decode splits, skipping every split dominated by one that failed (a split
//     with no more prefill and no more decode workers than a failed one fails too); the first
//     total with a split that meets the SLA ends the stage.
//  2. Knobs, by coordinate descent from each family's cheapest layout: one knob at a time, every
//     value of it with the others fixed, keep the best; then one device fewer with the tuned
//     knobs (and its splits), kept while the SLA still holds.
// Every simulation is deterministic and memoized by layout, and batches run on `threads`
// threads, so the result does not depend on the thread count.
//
// Cost: devices x cost_per_hour x the simulated run's span (first arrival to last token) per
// million output tokens. An SLA is met when no request failed and the p99 TTFT and p99 ITL are
// within their limits; goodput counts the requests with TTFT and TPOT within those limits.
//
// Thread-safety: Configure is a pure function of its arguments (the progress callback runs on
// the calling thread).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "router/router.h"
#include "sim/simulator.h"

namespace mint::sim {

struct Layout {
  int32_t prefill_workers = 0;  // 0: aggregated
  int32_t decode_workers = 1;   // the aggregated workers when prefill_workers is 0
  router::Mode router_mode = router::Mode::kKv;
  double cache_credit = 5.0;  // the router's --router-cache-credit (kv, seconds cost)
  int32_t max_num_seqs = 256;
  int32_t max_num_batched_tokens = 8192;
  int32_t block_size = 64;
  int64_t remote_prefill_min_tokens = 512;  // disaggregated only

  int32_t devices() const { return prefill_workers + decode_workers; }
  bool disaggregated() const { return prefill_workers > 0; }
  // "3P+5D kv" / "8 agg round-robin", then the knobs: "batch 8192, seqs 256, block 64, ...".
  std::string Shape() const;
  std::string Knobs() const;
  std::string Key() const;  // Shape() + Knobs(): the memo key
};

// The SLA: p99 limits in seconds. Parsed from "ttft_p99=2,itl_p99=50ms" (the syntax of
// `mint bench --slo`: bench::ForEachSecondsItem).
struct Sla {
  double ttft_p99_s = 0;
  double itl_p99_s = 0;
};
Result<Sla> ParseSla(std::string_view text);

struct Evaluation {
  Layout layout = {};
  double ttft_p50_s = 0, ttft_p99_s = 0, itl_p50_s = 0, itl_p99_s = 0;
  double output_tokens_per_s = 0;
  double goodput = 0;     // requests per second within the SLA (TTFT and TPOT)
  double attainment = 0;  // share of requests within the SLA
  double utilization = 0;
  double cost_per_million_output = 0;
  int64_t failed = 0;
  bool meets_sla = false;
  // max(ttft_p99 / limit, itl_p99 / limit): < 1 leaves headroom. Ties between equal costs.
  double sla_ratio = 0;
};

// Knob values the search tries (each list non-empty).
struct SearchSpace {
  int32_t max_devices = 8;
  bool aggregated = true;
  bool disaggregated = true;
  std::vector<int32_t> max_num_batched_tokens = {2048, 4096, 8192, 16384};
  std::vector<int32_t> max_num_seqs = {64, 256};
  std::vector<int32_t> block_sizes = {16, 64};
  std::vector<double> cache_credits = {1, 5, 20};
  std::vector<int64_t> remote_prefill_min_tokens = {0, 512, 2048};
};

struct ConfigureOptions {
  // Timing, link, router and scheduler settings every layout starts from; the layout's fields
  // replace the workers, block size and knobs. num_blocks is recomputed per block size from
  // kv_capacity_tokens.
  SimConfig base;
  int64_t kv_capacity_tokens = int64_t{16384} * 64;  // per worker
  Layout start;                                      // the default knobs of stage 1
  SearchSpace space;
  Sla sla;
  double cost_per_hour = 1.0;
  int threads = 1;
  // Called on the calling thread after each batch of simulations: (simulations so far, the best
  // layout meeting the SLA so far, if any).
  std::function<void(int64_t, const Evaluation*)> progress;
};

struct ConfigureResult {
  std::vector<Evaluation> ranked;  // every layout simulated: meeting the SLA first, cheapest first
  // The cheapest aggregated round-robin layout that meets the SLA within the budget (or the
  // budget's largest one when none does): the baseline the winner is compared with.
  std::optional<Evaluation> baseline = {};
  int64_t simulations = 0;
};

// Simulates one layout.
Result<Evaluation> EvaluateLayout(const ConfigureOptions& options, const Layout& layout,
                                  const std::vector<SimRequest>& requests);

// Errors: kInvalidArgument for an empty workload, a bad SLA or search space, or a base config
// the simulator refuses.
Result<ConfigureResult> Configure(const ConfigureOptions& options,
                                  const std::vector<SimRequest>& requests);

// Orders evaluations: meeting the SLA first; then lower cost (to three significant digits);
// then lower sla_ratio; then
// higher attainment; then the layout key (a total order, so rankings are reproducible).
bool RanksBefore(const Evaluation& a, const Evaluation& b);

}  // namespace mint::sim
