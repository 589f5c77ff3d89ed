// `mint configure`: the cheapest layout that meets an SLA on a workload, found by simulating
// candidate layouts in virtual time (src/sim/configure.h: the search; configure_report.h: the
// table, deploy commands, JSON and plot).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>

#include <fmt/format.h>

#include "apps/app_util.h"
#include "apps/commands.h"
#include "apps/router_options.h"
#include "apps/sim_workload.h"
#include "core/thread_pool.h"
#include "sim/configure.h"
#include "sim/configure_report.h"

namespace mint::apps {
namespace {

struct ConfigureArgs {
  SimWorkloadArgs workload;
  std::string profile;
  std::string sla;
  int32_t max_devices = 8;
  double cost_per_hour = -1;        // < 0: the profile's, else 1
  int64_t kv_capacity_tokens = 0;   // 0: the profile's, else 16,384 x 64
  uint64_t kv_bytes_per_token = 0;  // 0: the profile's, else 131,072
  double kv_gbps = 0;               // 0: the profile's, else 25
  double kv_latency_ms = 1;
  int64_t max_model_len = 262144;
  bool no_aggregated = false, no_disaggregated = false;
  std::vector<int32_t> batch_tokens{2048, 4096, 8192, 16384};
  std::vector<int32_t> max_num_seqs{64, 256};
  std::vector<int32_t> block_sizes{16, 64};
  std::vector<double> cache_credits{1, 5, 20};
  std::vector<int64_t> remote_thresholds{0, 512, 2048};
  int threads = 0;
  size_t top = 10;
  std::string output;
  std::string plot_dir;
  std::string model = "MODEL.gguf";
  std::string etcd = "127.0.0.1:2379";
};

template <class T>
T Pick(const std::vector<T>& values, T preferred) {
  if (values.empty() || std::find(values.begin(), values.end(), preferred) != values.end()) {
    return preferred;
  }
  return values.front();
}

// The search's inputs from the flags and the profile (flags win over the profile).
Result<sim::ConfigureOptions> MakeOptions(const ConfigureArgs& a, std::string* device) {
  sim::ConfigureOptions o;
  if (!a.profile.empty()) {
    MINT_ASSIGN_OR_RETURN(o.base.timing, mocker::TimingModel::LoadProfile(a.profile));
  }
  const mocker::DeviceInfo& d = o.base.timing.device();
  *device = !d.device.empty()   ? d.device
            : a.profile.empty() ? "Dynamo's mocker polynomials (an 8B model on one GPU)"
                                : a.profile;
  o.cost_per_hour = a.cost_per_hour >= 0 ? a.cost_per_hour : d.cost_per_hour.value_or(1.0);
  o.kv_capacity_tokens = a.kv_capacity_tokens > 0
                             ? a.kv_capacity_tokens
                             : d.kv_capacity_tokens.value_or(int64_t{16384} * 64);
  o.base.kv_bytes_per_token =
      a.kv_bytes_per_token > 0 ? a.kv_bytes_per_token : d.kv_bytes_per_token.value_or(131072);
  o.base.kv_gbps = a.kv_gbps > 0 ? a.kv_gbps : d.kv_transfer_gbps.value_or(25.0);
  o.base.kv_latency_s = a.kv_latency_ms / 1e3;
  o.base.scheduler.max_model_len = a.max_model_len;
  MINT_ASSIGN_OR_RETURN(o.base.router, MakeRouterConfig(RouterArgs{}));
  MINT_ASSIGN_OR_RETURN(o.sla, sim::ParseSla(a.sla));
  o.space = {.max_devices = a.max_devices,
             .aggregated = !a.no_aggregated,
             .disaggregated = !a.no_disaggregated,
             .max_num_batched_tokens = a.batch_tokens,
             .max_num_seqs = a.max_num_seqs,
             .block_sizes = a.block_sizes,
             .cache_credits = a.cache_credits,
             .remote_prefill_min_tokens = a.remote_thresholds};
  // Stage 1 starts from the defaults (mint worker's and mint frontend's) where the lists have
  // them, else from each list's first value.
  o.start.max_num_batched_tokens = Pick(a.batch_tokens, 8192);
  o.start.max_num_seqs = Pick(a.max_num_seqs, 256);
  o.start.block_size = Pick(a.block_sizes, 64);
  o.start.cache_credit = Pick(a.cache_credits, 5.0);
  o.start.remote_prefill_min_tokens = Pick(a.remote_thresholds, int64_t{512});
  o.threads = a.threads > 0 ? a.threads : ThreadPool::HardwareThreads();
  return o;
}

int Run(const ConfigureArgs& a) {
  auto requests = LoadSimWorkload(a.workload);
  if (!requests.ok()) return Fail(requests.status());
  std::string device;
  auto opts = MakeOptions(a, &device);
  if (!opts.ok()) return Fail(opts.status());
  const auto t0 = std::chrono::steady_clock::now();
  opts->progress = [&](int64_t sims, const sim::Evaluation* best) {
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::fprintf(stderr, "[configure] %4lld layouts simulated in %6.1f s; best so far: %s\n",
                 static_cast<long long>(sims), s,
                 best ? fmt::format("{} ({}) at {:.4f}/M output tokens", best->layout.Shape(),
                                    best->layout.Knobs(), best->cost_per_million_output)
                            .c_str()
                      : "none meets the SLA yet");
  };
  std::fprintf(stderr,
               "[configure] %zu requests, device %s at %g per hour, up to %d devices, SLA p99 "
               "TTFT %.3f s and ITL %.3f s, %d threads\n",
               requests->size(), device.c_str(), opts->cost_per_hour, a.max_devices,
               opts->sla.ttft_p99_s, opts->sla.itl_p99_s, opts->threads);
  auto res = sim::Configure(*opts, *requests);
  if (!res.ok()) return Fail(res.status());
  const double wall_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("%s", sim::FormatRanking(*res, a.top).c_str());
  std::printf("%lld layouts simulated in %.1f s\n", static_cast<long long>(res->simulations),
              wall_s);
  const sim::DeployContext ctx{.model = a.model,
                               .etcd = a.etcd,
                               .kv_capacity_tokens = opts->kv_capacity_tokens,
                               .timing_profile = a.profile,
                               .kv_bytes_per_token = opts->base.kv_bytes_per_token,
                               .kv_gbps = opts->base.kv_gbps,
                               .kv_latency_ms = a.kv_latency_ms,
                               .max_model_len = a.max_model_len};
  const sim::Evaluation& best = res->ranked.front();
  std::vector<std::string> commands = sim::DeployCommands(best.layout, ctx);
  std::printf("\n%s layout %s (%s):\n", best.meets_sla ? "winning" : "closest (misses the SLA)",
              best.layout.Shape().c_str(), best.layout.Knobs().c_str());
  for (const std::string& c : commands) std::printf("  %s\n", c.c_str());
  if (!a.output.empty()) {
    nlohmann::json j = {
        {"schema", "mint-configure/1"},
        {"workload", DescribeSimWorkload(a.workload, requests->size())},
        {"device", device},
        {"timing", opts->base.timing.Describe()},
        {"cost_per_hour", opts->cost_per_hour},
        {"max_devices", a.max_devices},
        {"sla", {{"ttft_p99_s", opts->sla.ttft_p99_s}, {"itl_p99_s", opts->sla.itl_p99_s}}},
        {"simulations", res->simulations},
        {"wall_s", wall_s},
        {"deploy", commands},
        {"ranked", nlohmann::json::array()}};
    for (const sim::Evaluation& e : res->ranked) j["ranked"].push_back(sim::EvaluationToJson(e));
    if (res->baseline) j["baseline"] = sim::EvaluationToJson(*res->baseline);
    std::ofstream f(a.output);
    f << j.dump(2) << "\n";
    if (!f) return Fail(Status::IoError(a.output + ": write failed"));
  }
  if (!a.plot_dir.empty()) {
    return WriteGnuplot(a.plot_dir, sim::ParetoPlotFiles(*res, opts->sla), sim::kParetoScript,
                        "pareto.png");
  }
  return 0;
}

}  // namespace

CommandFn RegisterConfigure(CLI::App& app) {
  auto a = std::make_shared<ConfigureArgs>();
  CLI::App* cmd = app.add_subcommand(
      "configure",
      "Find the cheapest deployment that meets an SLA on a workload: aggregated or\n"
      "disaggregated, the prefill:decode split, batch and sequence limits, block size, router\n"
      "weights and the remote-prefill threshold, each candidate simulated in virtual time as\n"
      "`mint simulate` does. Prints a ranked table (predicted TTFT and ITL p50/p99,\n"
      "throughput, goodput, utilization, cost per million output tokens) and the commands that\n"
      "deploy the winner.");
  AddSimWorkloadOptions(cmd, &a->workload);
  cmd->add_option("--profile", a->profile,
                  "Timing profile (mint profile JSON; its device, cost and KV fields are used;\n"
                  "default: Dynamo's polynomials)");
  cmd->add_option("--sla", a->sla, "p99 limits, e.g. ttft_p99=2,itl_p99=50ms")->required();
  cmd->add_option("--max-devices", a->max_devices, "Device budget (one worker per device)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1024));
  cmd->add_option("--cost-per-hour", a->cost_per_hour,
                  "What a device hour costs (default: the profile's, else 1)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--kv-capacity-tokens", a->kv_capacity_tokens,
                  "Tokens of KV per worker (default: the profile's, else 1048576)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--kv-bytes-per-token", a->kv_bytes_per_token,
                  "KV bytes per token for pulls (default: the profile's, else 131072)");
  cmd->add_option("--kv-transfer-gbps", a->kv_gbps,
                  "KV link per decode worker, GB/s (default: the profile's, else 25)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--kv-transfer-latency-ms", a->kv_latency_ms, "Added to every pull")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--max-model-len", a->max_model_len, "Prompt + generated tokens per request")
      ->capture_default_str();
  cmd->add_flag("--no-aggregated", a->no_aggregated, "Search disaggregated layouts only");
  cmd->add_flag("--no-disaggregated", a->no_disaggregated, "Search aggregated layouts only");
  cmd->add_option("--batch-tokens", a->batch_tokens, "max_num_batched_tokens values to try")
      ->delimiter(',')
      ->capture_default_str();
  cmd->add_option("--max-num-seqs", a->max_num_seqs, "max_num_seqs values to try")
      ->delimiter(',')
      ->capture_default_str();
  cmd->add_option("--block-sizes", a->block_sizes, "KV block sizes to try")
      ->delimiter(',')
      ->capture_default_str();
  cmd->add_option("--cache-credits", a->cache_credits, "Router cache credits to try (kv)")
      ->delimiter(',')
      ->capture_default_str();
  cmd->add_option("--remote-prefill-thresholds", a->remote_thresholds,
                  "Remote-prefill thresholds to try (disaggregated; tokens)")
      ->delimiter(',')
      ->capture_default_str();
  cmd->add_option("-t,--threads", a->threads, "Simulations at once (default: all cores)");
  cmd->add_option("--top", a->top, "Rows of the table")->capture_default_str();
  cmd->add_option("-o,--output", a->output, "Write every layout and the winner as JSON");
  cmd->add_option("--plot", a->plot_dir, "Draw the Pareto front (gnuplot) into this folder");
  cmd->add_option("--model", a->model, "Model path in the printed deploy commands")
      ->capture_default_str();
  cmd->add_option("--etcd", a->etcd, "etcd address in the printed deploy commands")
      ->capture_default_str();
  return [a] { return Run(*a); };
}

}  // namespace mint::apps
