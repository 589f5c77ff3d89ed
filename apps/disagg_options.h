// Disaggregation flags shared by `mint worker` and `mint mocker`: the worker's role and how its
// KV blocks move (a transfer connector on the engine for prefill and decode roles).
#pragma once

#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "core/status.h"
#include "frontend/remote_backend.h"
#include "worker/kv_transfer.h"

namespace mint::apps {

struct DisaggArgs {
  std::string role = "agg";  // agg | prefill | decode
  std::string kv_transport = "tcp";
  int kv_port = 0;
  double kv_export_timeout_s = 30;
  std::string kv_load_failure_policy = "recompute";
  // Mocker only: the simulated link (worker::SimulatedLink) a decode mocker's pulls wait out.
  double sim_gbps = 25;
  double sim_latency_ms = 1;
};

// `simulated`: the mocker's flags (the link's bandwidth and latency) instead of --kv-transport.
void AddDisaggOptions(CLI::App* cmd, DisaggArgs* a, bool simulated);
// Checks the role and the policy (errors name the flag).
Status ValidateDisaggArgs(const DisaggArgs& a);
bool LoadFailureRecompute(const DisaggArgs& a);

// The transfer connector of a prefill or decode worker (null for agg); `a` has passed
// ValidateDisaggArgs. A real prefill worker's KV memory is shared memory, so a decode worker on
// the same host can copy from it. `port`: the transfer server's (0: any free). `sim`: a mocker's
// link (block_bytes 0 for a real worker).
Result<std::unique_ptr<worker::KvTransferConnector>> MakeTransferConnector(
    const DisaggArgs& a, const std::string& bind, const std::string& advertise_host, int port,
    const worker::SimulatedLink& sim = {});

// The frontend's conditional-disaggregation rule (frontend::RemoteBackendOptions), shared by
// `mint frontend` and `mint serve --prefill-workers`.
struct DisaggPlanArgs {
  int64_t min_tokens = 512;
  double min_fraction = 0.5;
  double max_queue_s = 0;
  std::string first_token =
      "decode";  // decode | prefill (RemoteBackendOptions::stream_prefill_token)
};
void AddDisaggPlanOptions(CLI::App* cmd, DisaggPlanArgs* a);
// Checks the ranges and sets them on `o`.
Status ApplyDisaggPlan(const DisaggPlanArgs& a, frontend::RemoteBackendOptions* o);

}  // namespace mint::apps
