#include "apps/disagg_options.h"

#include <chrono>

namespace mint::apps {

void AddDisaggOptions(CLI::App* cmd, DisaggArgs* a, bool simulated) {
  cmd->add_option("--role", a->role,
                  "agg (prefill + decode), prefill (prompts only: returns the first token and\n"
                  "the KV transfer handle) or decode (pulls a prompt's KV from a prefill worker\n"
                  "instead of computing it)")
      ->capture_default_str();
  if (simulated) {
    cmd->add_option("--kv-transfer-gbps", a->sim_gbps,
                    "decode: simulated KV link bandwidth, GB/s; a pull waits its blocks'\n"
                    "--kv-bytes-per-token bytes at this rate (queued behind earlier pulls),\n"
                    "plus --kv-transfer-latency-ms, divided by --speedup")
        ->capture_default_str();
    cmd->add_option("--kv-transfer-latency-ms", a->sim_latency_ms,
                    "decode: simulated per-pull latency, ms")
        ->capture_default_str();
  } else {
    cmd->add_option("--kv-transport", a->kv_transport,
                    "decode: how KV blocks are pulled: tcp (any host), shm (same host, one\n"
                    "copy) or ucx (UCX picks TCP or RDMA; trusted networks only).\n"
                    "prefill: ucx also serves UCX pulls (tcp and shm are always served)")
        ->capture_default_str();
  }
  std::string port_help =
      "prefill: port the KV transfer server listens on (on --bind); 0: any free port";
  if (simulated) port_help += "; with --count, port + i";
  cmd->add_option("--kv-port", a->kv_port, port_help)
      ->capture_default_str()
      ->check(CLI::Range(0, 65535));
  cmd->add_option("--kv-export-timeout", a->kv_export_timeout_s,
                  "prefill: seconds a finished prefill's KV blocks wait for their decode worker")
      ->capture_default_str();
  cmd->add_option("--kv-load-failure-policy", a->kv_load_failure_policy,
                  "decode: when a KV pull fails, recompute the prompt here or fail the request")
      ->capture_default_str();
}

Status ValidateDisaggArgs(const DisaggArgs& a) {
  if (a.role != "agg" && a.role != "prefill" && a.role != "decode") {
    return Status::InvalidArgument("--role " + a.role + ": agg, prefill or decode");
  }
  if (a.kv_load_failure_policy != "recompute" && a.kv_load_failure_policy != "fail") {
    return Status::InvalidArgument("--kv-load-failure-policy: recompute or fail");
  }
  if (!(a.kv_export_timeout_s > 0)) {
    return Status::InvalidArgument("--kv-export-timeout must be > 0");
  }
  if (!(a.sim_gbps > 0)) return Status::InvalidArgument("--kv-transfer-gbps must be > 0");
  if (!(a.sim_latency_ms >= 0)) {
    return Status::InvalidArgument("--kv-transfer-latency-ms must be >= 0");
  }
  return Status::Ok();
}

bool LoadFailureRecompute(const DisaggArgs& a) { return a.kv_load_failure_policy == "recompute"; }

Result<std::unique_ptr<worker::KvTransferConnector>> MakeTransferConnector(
    const DisaggArgs& a, const std::string& bind, const std::string& advertise_host, int port,
    const worker::SimulatedLink& sim) {
  if (a.role == "agg") return std::unique_ptr<worker::KvTransferConnector>();
  auto transport = transfer::ParseTransport(a.kv_transport);
  if (!transport.ok()) return transport.status().WithContext("--kv-transport");
  worker::KvTransferOptions ko;
  ko.server.bind_host = bind;
  ko.server.advertise_host = advertise_host;
  ko.server.port = static_cast<uint16_t>(port);
  ko.server.export_timeout =
      std::chrono::milliseconds(static_cast<int64_t>(a.kv_export_timeout_s * 1000));
  ko.transport = *transport;
  ko.server.ucx = *transport == transfer::Transport::kUcx;
  ko.simulated = sim;
  if (sim.block_bytes > 0) {
    ko.loader_threads = 8;  // simulated pulls mostly wait: let several overlap their latency
  } else {
    ko.shared_memory = a.role == "prefill";
  }
  return worker::KvTransferConnector::Create(ko);
}

void AddDisaggPlanOptions(CLI::App* cmd, DisaggPlanArgs* a) {
  cmd->add_option("--remote-prefill-min-tokens", a->min_tokens,
                  "With prefill workers (mint worker --role prefill, mint serve\n"
                  "--prefill-workers): a prompt is prefilled on one of them, then decoded on a\n"
                  "worker that pulls its KV, only if the decode worker the router would pick\n"
                  "lacks at least this many of its tokens (the rest are cached there) ...")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 40));
  cmd->add_option("--remote-prefill-min-fraction", a->min_fraction,
                  "... and at least this share of the prompt (a prompt mostly cached on the\n"
                  "decode worker finishes there) ...")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--remote-prefill-max-queue", a->max_queue_s,
                  "... and some prefill worker has less than this many seconds of prefill\n"
                  "queued (the router's step-time estimate; 0: no limit). Otherwise the decode\n"
                  "worker prefills it (mint_local_prefills_total{reason})")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1e6));
  cmd->add_option(
         "--disagg-first-token", a->first_token,
         "When a remotely prefilled prompt's first token reaches the client: decode (as\n"
         "Dynamo and vLLM) with the decode worker's first output, so TTFT includes the KV\n"
         "transfer and the stream has no handoff gap; prefill: as soon as the prefill\n"
         "worker returns it (earlier first token, then one gap of transfer + first step)")
      ->capture_default_str()
      ->check(CLI::IsMember({"decode", "prefill"}));
}

Status ApplyDisaggPlan(const DisaggPlanArgs& a, frontend::RemoteBackendOptions* o) {
  if (a.min_tokens < 0) return Status::InvalidArgument("--remote-prefill-min-tokens must be >= 0");
  if (!(a.min_fraction >= 0 && a.min_fraction <= 1)) {
    return Status::InvalidArgument("--remote-prefill-min-fraction must be in [0, 1]");
  }
  if (!(a.max_queue_s >= 0)) {
    return Status::InvalidArgument("--remote-prefill-max-queue must be >= 0");
  }
  if (a.first_token != "decode" && a.first_token != "prefill") {
    return Status::InvalidArgument("--disagg-first-token: decode or prefill");
  }
  o->remote_prefill_min_tokens = a.min_tokens;
  o->remote_prefill_min_fraction = a.min_fraction;
  o->remote_prefill_max_queue_s = a.max_queue_s;
  o->stream_prefill_token = a.first_token == "prefill";
  return Status::Ok();
}

}  // namespace mint::apps
