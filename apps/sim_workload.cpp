#include "apps/sim_workload.h"

#include <algorithm>

#include <fmt/format.h>

#include "apps/app_util.h"
#include "bench_lib/workload.h"
#include "core/hash.h"

namespace mint::apps {
namespace {

std::vector<sim::SimRequest> ToSimRequests(const std::vector<bench::BenchRequest>& in) {
  std::vector<sim::SimRequest> out;
  out.reserve(in.size());
  for (const bench::BenchRequest& r : in) {
    out.push_back({.arrival_s = r.arrival_s,
                   .prompt = r.prompt_ids,
                   .output_tokens = std::max(r.output_tokens, 1)});
  }
  return out;
}

// A synthetic prompt's words as token ids in [3, vocab): equal words, equal ids.
std::vector<int32_t> WordIds(const std::string& text, int32_t vocab) {
  std::vector<int32_t> ids;
  size_t i = 0;
  while (i < text.size()) {
    const size_t start = text.find_first_not_of(' ', i);
    if (start == std::string::npos) break;
    const size_t end = std::min(text.find(' ', start), text.size());
    std::vector<uint32_t> bytes(text.begin() + static_cast<std::ptrdiff_t>(start),
                                text.begin() + static_cast<std::ptrdiff_t>(end));
    ids.push_back(
        static_cast<int32_t>(3 + LocalBlockHash(bytes) % static_cast<uint64_t>(vocab - 3)));
    i = end;
  }
  return ids;
}

Result<std::vector<sim::SimRequest>> Synthetic(const SimWorkloadArgs& a) {
  if (!(a.rate > 0) || a.num_requests <= 0) {
    return Status::InvalidArgument(
        "a synthetic workload needs --rate and --num-requests (or give --trace)");
  }
  bench::SyntheticOptions opt;
  MINT_ASSIGN_OR_RETURN(opt.input, bench::ParseLengthSpec(a.input_len));
  MINT_ASSIGN_OR_RETURN(opt.output, bench::ParseLengthSpec(a.output_len));
  opt.prefix_groups = a.prefix_groups;
  opt.prefix_len = a.prefix_len;
  opt.seed = a.seed;
  if (a.arrival != "poisson" && a.arrival != "constant") {
    return Status::InvalidArgument("--arrival: poisson or constant");
  }
  const std::vector<double> arrivals = bench::ArrivalTimes(
      a.arrival == "poisson" ? bench::Arrival::kPoisson : bench::Arrival::kConstant, a.rate,
      a.num_requests, a.seed);
  std::vector<sim::SimRequest> out;
  for (int64_t i = 0; i < a.num_requests; ++i) {
    const bench::BenchRequest r = bench::MakeSyntheticRequest(opt, i);
    out.push_back({.arrival_s = arrivals[static_cast<size_t>(i)],
                   .prompt = WordIds(r.prompt, a.vocab),
                   .output_tokens = std::max(r.output_tokens, 1)});
  }
  return out;
}

}  // namespace

void AddSimWorkloadOptions(CLI::App* cmd, SimWorkloadArgs* a) {
  cmd->add_option("--trace", a->trace, "Mooncake JSONL trace (prompts become token ids)");
  cmd->add_option("--speedup", a->speedup, "Trace time divided by this (load multiplier)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("-n,--num-requests", a->num_requests,
                  "Trace: only the first N entries (0: all). Synthetic: requests")
      ->capture_default_str();
  cmd->add_option("--vocab", a->vocab, "Token ids of the prompts are drawn below this")
      ->capture_default_str()
      ->check(CLI::Range(4, 1 << 24));
  cmd->add_option("--seed", a->seed, "Seed of the prompts (and synthetic lengths, arrivals)")
      ->capture_default_str();
  cmd->add_option("--rate", a->rate, "Synthetic (no --trace): requests per second")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--arrival", a->arrival, "Synthetic: poisson | constant")->capture_default_str();
  cmd->add_option("--input-len", a->input_len,
                  "Synthetic: prompt tokens (N, uniform:LO:HI, normal:MEAN:SD)")
      ->capture_default_str();
  cmd->add_option("--output-len", a->output_len, "Synthetic: output tokens")->capture_default_str();
  cmd->add_option("--prefix-groups", a->prefix_groups, "Synthetic: groups sharing a prompt prefix")
      ->capture_default_str();
  cmd->add_option("--prefix-len", a->prefix_len, "Synthetic: tokens of the shared prefix")
      ->capture_default_str();
}

Result<std::vector<sim::SimRequest>> LoadSimWorkload(const SimWorkloadArgs& a) {
  if (a.trace.empty()) return Synthetic(a);
  MINT_ASSIGN_OR_RETURN(std::string text, ReadFile(a.trace));
  auto entries = bench::ParseMooncakeTrace(text);
  if (!entries.ok()) return entries.status().WithContext(a.trace);
  if (a.num_requests > 0 && static_cast<int64_t>(entries->size()) > a.num_requests) {
    entries->resize(static_cast<size_t>(a.num_requests));
  }
  return ToSimRequests(bench::TraceToTokenRequests(*entries, a.speedup, a.seed, a.vocab));
}

nlohmann::json DescribeSimWorkload(const SimWorkloadArgs& a, size_t requests) {
  if (!a.trace.empty()) {
    return {{"kind", "mooncake_trace"},   {"file", a.trace},
            {"speedup", a.speedup},       {"entries", requests},
            {"token_ids_vocab", a.vocab}, {"seed", a.seed}};
  }
  return {{"kind", "synthetic"},
          {"rate", a.rate},
          {"arrival", a.arrival},
          {"requests", requests},
          {"input_len", a.input_len},
          {"output_len", a.output_len},
          {"prefix_groups", a.prefix_groups},
          {"prefix_len", a.prefix_len},
          {"token_ids_vocab", a.vocab},
          {"seed", a.seed}};
}

}  // namespace mint::apps
