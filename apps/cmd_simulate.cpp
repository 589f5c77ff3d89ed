// `mint simulate`: one layout (N aggregated workers, or P prefill + D decode workers, behind the
// router) and one workload (a Mooncake trace or a synthetic one), run in virtual time by src/sim:
// the real scheduler, block pool and router, steps timed by the mocker's timing model. Prints the
// `mint bench` report (same JSON schema, so `mint bench --compare` puts a prediction beside a
// measurement) in the simulated hardware's time.
#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <string>

#include <fmt/format.h>

#include "apps/app_util.h"
#include "apps/commands.h"
#include "apps/router_options.h"
#include "apps/sim_workload.h"
#include "bench_lib/stats.h"
#include "core/log.h"
#include "sim/simulator.h"

namespace mint::apps {
namespace {

struct SimulateArgs {
  SimWorkloadArgs workload;
  int32_t workers = 8;
  int32_t prefill_workers = 0;
  int64_t remote_prefill_min_tokens = 512;
  double remote_prefill_min_fraction = 0.5;
  double kv_gbps = 25;
  double kv_latency_ms = 1;
  double frontend_latency_ms = 0;
  double frontend_us_per_token = 0;
  uint64_t kv_bytes_per_token = 131072;
  int32_t block_size = 64;
  int32_t num_blocks = 16384;
  int32_t max_num_seqs = 256;
  int32_t max_num_batched_tokens = 8192;
  int64_t max_model_len = 262144;
  std::string timing_profile;
  std::string output;
  std::string csv;
  RouterArgs router;
};

// The simulated deployment from the flags (the router's block size is the workers').
Result<sim::SimConfig> MakeSimConfig(const SimulateArgs& a) {
  sim::SimConfig c;
  c.num_workers = a.workers;
  c.num_prefill_workers = a.prefill_workers;
  c.remote_prefill_min_tokens = a.remote_prefill_min_tokens;
  c.remote_prefill_min_fraction = a.remote_prefill_min_fraction;
  c.kv_gbps = a.kv_gbps;
  c.kv_latency_s = a.kv_latency_ms / 1e3;
  c.frontend_latency_s = a.frontend_latency_ms / 1e3;
  c.frontend_s_per_token = a.frontend_us_per_token / 1e6;
  c.kv_bytes_per_token = a.kv_bytes_per_token;
  c.block_size = a.block_size;
  c.num_blocks = a.num_blocks;
  c.scheduler = {.max_num_seqs = a.max_num_seqs,
                 .max_num_batched_tokens = a.max_num_batched_tokens,
                 .max_model_len = a.max_model_len};
  if (!a.timing_profile.empty()) {
    auto t = mocker::TimingModel::LoadProfile(a.timing_profile);
    if (!t.ok()) return t.status().WithContext("--timing-profile");
    c.timing = std::move(t).value();
  }
  RouterArgs ra = a.router;
  ra.block_size = a.block_size;  // the simulated workers' blocks
  MINT_ASSIGN_OR_RETURN(c.router, MakeRouterConfig(ra));
  MINT_ASSIGN_OR_RETURN(c.queue, RouterQueuePolicy(ra));
  c.queue_busy_s = ra.queue_busy_s;
  c.queue_max_age_s = ra.queue_max_age_s;
  return c;
}

// The `mint bench` report of a simulated run, with the settings in its config.
bench::Report MakeReport(const SimulateArgs& a, const sim::SimConfig& c, const sim::SimResult& res,
                         size_t requests) {
  bench::Report report = bench::BuildReport(res.records, {});
  report.prefix_cache_hit_rate = res.hit_rate();
  if (a.prefill_workers > 0) {  // named as mint bench names the scraped counters
    report.disagg = {{"remote_prefills", static_cast<double>(res.remote_prefills)},
                     {"local_prefills_short", static_cast<double>(res.local_prefills_short)},
                     {"local_prefills_cached", static_cast<double>(res.local_prefills_cached)},
                     {"kv_loads", static_cast<double>(res.remote_prefills)},
                     {"kv_pulled_blocks", static_cast<double>(res.kv_pulled_blocks)},
                     {"kv_pulled_bytes", static_cast<double>(res.kv_pulled_blocks) * a.block_size *
                                             static_cast<double>(a.kv_bytes_per_token)},
                     {"kv_pull_seconds", res.kv_pull_s}};
  }
  const RouterArgs& ra = a.router;
  report.config = {{"simulated", true},
                   {"workload", DescribeSimWorkload(a.workload, requests)},
                   {"workers", a.workers},
                   {"prefill_workers", a.prefill_workers},
                   {"block_size", a.block_size},
                   {"num_blocks", a.num_blocks},
                   {"max_num_seqs", a.max_num_seqs},
                   {"max_num_batched_tokens", a.max_num_batched_tokens},
                   {"timing", c.timing.Describe()},
                   {"utilization", res.utilization},
                   {"prefix_hit_rate", res.hit_rate()},
                   {"router",
                    {{"mode", ra.mode},
                     {"cost", ra.cost},
                     {"itl_weight", ra.itl_weight},
                     {"overlap_credit", ra.overlap_credit},
                     {"prefill_load_scale", ra.prefill_load_scale},
                     {"temperature", ra.temperature},
                     {"cache_credit", ra.cache_credit},
                     {"queue", ra.queue_policy},
                     {"queue_busy_s", ra.queue_busy_s},
                     {"queue_max_age_s", ra.queue_max_age_s}}}};
  return report;
}

// What the simulation itself did, after the report's table.
void PrintRunSummary(const SimulateArgs& a, const sim::SimResult& res, size_t requests,
                     double cpu_s) {
  std::printf(
      "simulated: %zu requests (%lld held by the router queue), %d workers, %lld steps, %lld "
      "preemptions, %.1f s of virtual "
      "time in %.2f s of CPU (%.0fx), workers busy %.1f %%\n"
      "prefix hit rate %.1f %% (router predicted %.1f %%)\n",
      requests, static_cast<long long>(res.queued), a.workers, static_cast<long long>(res.steps),
      static_cast<long long>(res.preemptions), res.end_s, cpu_s,
      cpu_s > 0 ? res.end_s / cpu_s : 0.0, 100 * res.utilization, 100 * res.hit_rate(),
      100 * res.router.predicted_hit_rate);
  if (a.prefill_workers > 0) {
    std::printf(
        "disaggregated: %lld of %zu prompts prefilled on the %d prefill workers; %lld KV blocks "
        "pulled, mean pull %.1f ms\n",
        static_cast<long long>(res.remote_prefills), requests, a.prefill_workers,
        static_cast<long long>(res.kv_pulled_blocks),
        res.remote_prefills ? 1e3 * res.kv_pull_s / static_cast<double>(res.remote_prefills) : 0.0);
  }
}

int Run(const SimulateArgs& a) {
  auto loaded = LoadSimWorkload(a.workload);
  if (!loaded.ok()) return Fail(loaded.status());
  const std::vector<sim::SimRequest>& requests = *loaded;
  auto c = MakeSimConfig(a);
  if (!c.ok()) return Fail(c.status());

  const std::clock_t cpu0 = std::clock();
  auto res = sim::Simulate(*c, requests);
  if (!res.ok()) return Fail(res.status());
  const double cpu_s = static_cast<double>(std::clock() - cpu0) / CLOCKS_PER_SEC;

  const bench::Report report = MakeReport(a, *c, *res, requests.size());
  std::printf("%s", bench::FormatReportTable(report).c_str());
  PrintRunSummary(a, *res, requests.size(), cpu_s);
  if (!a.output.empty()) {
    std::ofstream f(a.output);
    f << bench::ReportToJson(report).dump(2) << "\n";
    if (!f) return Fail(Status::IoError(a.output + ": write failed"));
  }
  if (!a.csv.empty()) {
    if (Status s = bench::WriteRequestsCsv(a.csv, res->records); !s.ok()) return Fail(s);
  }
  return 0;
}

}  // namespace

CommandFn RegisterSimulate(CLI::App& app) {
  auto a = std::make_shared<SimulateArgs>();
  CLI::App* cmd = app.add_subcommand(
      "simulate",
      "Predict a deployment's latency on a workload in virtual time: N aggregated workers, or\n"
      "P prefill + D decode workers (the real scheduler and block pool, steps timed as `mint\n"
      "mocker` times them, KV pulls over a simulated link) behind the real router.\n"
      "Deterministic; an hour of trace runs in seconds. Same report as `mint bench`.");
  AddSimWorkloadOptions(cmd, &a->workload);
  cmd->add_option("--workers", a->workers,
                  "Aggregated workers (decode workers with --prefill-workers)")
      ->capture_default_str()
      ->check(CLI::Range(1, 4096));
  cmd->add_option("--prefill-workers", a->prefill_workers,
                  "Prefill workers beside the --workers decode workers (0: aggregated)")
      ->capture_default_str()
      ->check(CLI::Range(0, 4096));
  cmd->add_option("--remote-prefill-min-tokens", a->remote_prefill_min_tokens,
                  "As mint frontend: a prompt goes to a prefill worker when at least this many of\n"
                  "its tokens are uncached on the decode worker the router would pick")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--remote-prefill-min-fraction", a->remote_prefill_min_fraction,
                  "... and at least this fraction of the prompt")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--kv-transfer-gbps", a->kv_gbps,
                  "Each decode worker's link: KV pulls move --kv-bytes-per-token per token at\n"
                  "this rate, queued behind earlier pulls (as mint mocker's simulated link)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--kv-transfer-latency-ms", a->kv_latency_ms, "Added to every pull")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--frontend-latency-ms", a->frontend_latency_ms,
                  "The frontend's time from a request's arrival to its routing (HTTP, JSON, the\n"
                  "hop), counted in TTFT; plus --frontend-us-per-token x prompt tokens")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--frontend-us-per-token", a->frontend_us_per_token,
                  "The frontend's time per prompt token before routing (see --frontend-latency-ms)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--kv-bytes-per-token", a->kv_bytes_per_token,
                  "KV bytes of one token (131072: Llama-3-8B in F16)")
      ->capture_default_str();
  cmd->add_option("--block-size", a->block_size, "Tokens per KV block (workers and router)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1 << 16));
  cmd->add_option("--num-blocks", a->num_blocks, "KV blocks per worker")
      ->capture_default_str()
      ->check(CLI::Range(1, 1 << 30));
  cmd->add_option("--max-num-seqs", a->max_num_seqs, "Running sequences per worker")
      ->capture_default_str();
  cmd->add_option("--max-num-batched-tokens", a->max_num_batched_tokens, "Tokens per step")
      ->capture_default_str();
  cmd->add_option("--max-model-len", a->max_model_len, "Prompt + generated tokens per request")
      ->capture_default_str();
  cmd->add_option("--timing-profile", a->timing_profile,
                  "Step times from this profile (mint profile JSON; default: Dynamo's polynomial)");
  cmd->add_option("-o,--output", a->output, "Write the report as JSON (mint-bench/1)");
  cmd->add_option("--csv", a->csv, "Write one line per request");
  AddRouterOptions(cmd, &a->router);
  return [a] { return Run(*a); };
}

}  // namespace mint::apps
