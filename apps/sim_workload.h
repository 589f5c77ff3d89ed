// The workload options `mint simulate` and `mint configure` share: a Mooncake trace (prompts as
// token ids with the trace's block structure) or a synthetic workload of `mint bench` (its
// seeded prompts, each word mapped to a token id, so shared prefixes stay shared).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "core/status.h"
#include "sim/simulator.h"

namespace mint::apps {

struct SimWorkloadArgs {
  std::string trace;
  double speedup = 1.0;
  int64_t num_requests = 0;  // trace: the first N entries (0: all); synthetic: required
  int32_t vocab = 512;
  uint64_t seed = 1;
  // Synthetic (without --trace):
  double rate = 0;
  std::string arrival = "poisson";
  std::string input_len = "1024";
  std::string output_len = "128";
  int prefix_groups = 0;
  int prefix_len = 0;
};

void AddSimWorkloadOptions(CLI::App* cmd, SimWorkloadArgs* a);
// The requests, in arrival order. Errors name the option or the file.
Result<std::vector<sim::SimRequest>> LoadSimWorkload(const SimWorkloadArgs& a);
// The workload's settings for a report's "workload" object.
nlohmann::json DescribeSimWorkload(const SimWorkloadArgs& a, size_t requests);

}  // namespace mint::apps
