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
                    "decode: how KV blocks are pulled: tcp (any host) or shm (same host, one "
                    "copy)")
        ->capture_default_str();
  }
  cmd->add_option("--kv-port", a->kv_port,
                  simulated ? "prefill: port the KV transfer server listens on (on --bind); 0: "
                              "any free port; with --count, port + i"
                            : "prefill: port the KV transfer server listens on (on --bind); 0: "
                              "any free port")
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
  MINT_RETURN_IF_ERROR(ValidateDisaggArgs(a));
  auto transport = transfer::ParseTransport(a.kv_transport);
  if (!transport.ok()) return transport.status().WithContext("--kv-transport");
  worker::KvTransferOptions ko;
  ko.server.bind_host = bind;
  ko.server.advertise_host = advertise_host;
  ko.server.port = static_cast<uint16_t>(port);
  ko.server.export_timeout =
      std::chrono::milliseconds(static_cast<int64_t>(a.kv_export_timeout_s * 1000));
  ko.transport = *transport;
  ko.simulated = sim;
  if (sim.block_bytes > 0) {
    ko.loader_threads = 8;  // simulated pulls mostly wait: let several overlap their latency
  } else {
    ko.shared_memory = a.role == "prefill";
  }
  return worker::KvTransferConnector::Create(ko);
}

}  // namespace mint::apps
