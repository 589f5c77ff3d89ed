// What `mint configure` prints and writes from a search (configure.h): the ranked table, the
// command lines that deploy a layout, the JSON document (schema "mint-configure/1") and the
// Pareto-front plot (gnuplot data and script). Pure: strings in, strings out.
//
// Thread-safety: free functions; safe from any thread.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "sim/configure.h"

namespace mint::sim {

// A fixed-width table of the first `top` layouts (times in ms, cost per million output tokens),
// then the baseline's line and the winner's cost against it.
std::string FormatRanking(const ConfigureResult& result, size_t top);

// What the deploy commands need beyond the layout.
struct DeployContext {
  std::string model = "MODEL.gguf";  // for `mint worker` / `mint frontend`
  std::string etcd = "127.0.0.1:2379";
  int64_t kv_capacity_tokens = 0;   // mockers' --num-blocks = this / block size
  std::string timing_profile;       // mockers' --timing-profile (empty: Dynamo's polynomial)
  uint64_t kv_bytes_per_token = 0;  // mockers' simulated link
  double kv_gbps = 0;
  double kv_latency_ms = 0;
  int64_t max_model_len = 0;
};

// Shell lines that deploy `layout`: one `mint frontend`, then `mint worker` per role (one per
// device), then the same layout as `mint mocker` processes (to check the prediction against the
// wall clock). Comments start with '#'.
std::vector<std::string> DeployCommands(const Layout& layout, const DeployContext& context);

nlohmann::json EvaluationToJson(const Evaluation& e);

// The layouts meeting the SLA on the Pareto front of (p99 TTFT, cost): no other layout meeting
// the SLA is both faster and cheaper. Sorted by p99 TTFT.
std::vector<Evaluation> ParetoFront(const std::vector<Evaluation>& evaluated);

inline constexpr const char* kParetoScript = "pareto.gp";
// (file name, contents): pareto.dat (every layout), front.dat (the front) and pareto.gp, which
// draws pareto.png: cost per million output tokens against p99 TTFT, the SLA's TTFT limit.
std::vector<std::pair<std::string, std::string>> ParetoPlotFiles(const ConfigureResult& result,
                                                                 const Sla& sla);

}  // namespace mint::sim
