// `mint worker`: one engine served over the request plane, registered in etcd, publishing its
// KV events; `mint frontend` finds it and routes to it. Stops cleanly on SIGINT/SIGTERM
// (deregisters first, then aborts what is in flight: the frontend migrates those requests).
#include <memory>
#include <string>

#include <fmt/format.h>

#include "apps/app_util.h"
#include "apps/commands.h"
#include "apps/disagg_options.h"
#include "apps/discovery_options.h"
#include "apps/engine_options.h"
#include "apps/http_front.h"
#include "apps/kv_tiers.h"
#include "apps/worker_metrics.h"
#include "core/cpu.h"
#include "core/log.h"
#include "engine/engine.h"
#include "frontend/backend.h"
#include "frontend/http_server.h"
#include "frontend/metrics.h"
#include "kernels/kernels.h"
#include "model/model.h"
#include "worker/kv_transfer.h"
#include "worker/worker.h"

namespace mint::apps {
namespace {

struct WorkerArgs {
  std::string model;
  std::string served_model_name;
  DisaggArgs disagg;
  std::string id;
  std::string bind = "127.0.0.1";
  double drain_timeout = 0.5;  // seconds calls in flight get to finish on SIGTERM
  std::string advertise_host;
  int port = 0;
  int events_port = 0;
  int metrics_port = 0;
  int threads = 0;
  int max_queued = 1024;
  DiscoveryArgs discovery;
  EngineArgs engine;
  KvTierArgs tiers;
};

// Loads the model (progress bar, log lines) and gives cfg the grammar factory over its
// vocabulary: constrained decoding's grammar arrives as text; masks need the tokenizer.
Result<std::unique_ptr<model::Model>> LoadWorkerModel(const std::string& path,
                                                      engine::EngineConfig* cfg) {
  MINT_ASSIGN_OR_RETURN(std::unique_ptr<model::Model> model, LoadModelWithProgress(path));
  log::Info("model: {}", model->config().Summary());
  log::Info("threads: {}, kernels: {} (cpu: {})", cfg->threads,
            kernels::IsaName(kernels::BestIsa()), Cpu().ToString());
  auto tok = tokenizer::Tokenizer::FromGguf(model->file());
  if (!tok.ok()) return tok.status().WithContext("tokenizer");
  cfg->logits_processor_factory = GrammarFactory(**tok, model->config().n_vocab);
  return model;
}

// /metrics and /health on the internal address (--metrics-port; none when negative).
Result<std::unique_ptr<frontend::HttpServer>> StartMetricsHttp(const WorkerArgs& a,
                                                               frontend::FrontendMetrics* metrics) {
  if (a.metrics_port < 0) return std::unique_ptr<frontend::HttpServer>();
  auto h = frontend::HttpServer::Start(
      {.host = a.bind, .port = static_cast<uint16_t>(a.metrics_port), .io_threads = 1}, metrics);
  if (!h.ok()) return h.status().WithContext("--metrics-port");
  return std::move(h).value();
}

int RunWorker(const WorkerArgs& a) {
  BlockStopSignals();
  if (Status st = ValidateDisaggArgs(a.disagg); !st.ok()) return Fail(st);
  auto cfg = MakeEngineConfig(a.engine);
  if (!cfg.ok()) return Fail(cfg.status());
  // Prefill and decode workers move KV blocks: a transfer connector on the engine.
  auto kv = MakeTransferConnector(a.disagg, a.bind, a.advertise_host, a.disagg.kv_port);
  if (!kv.ok()) return Fail(kv.status());
  cfg->kv_connector = kv->get();
  cfg->kv_load_failure_recompute = LoadFailureRecompute(a.disagg);
  cfg->threads = a.threads > 0 ? a.threads : ThreadPool::HardwareThreads();
  cfg->max_queued = a.max_queued;
  auto tls = PlaneTlsFromArgs(a.discovery, a.bind);
  if (!tls.ok()) return Fail(tls.status());
  auto discovery = MakeDiscovery(a.discovery);
  if (!discovery.ok()) return Fail(discovery.status());

  auto loaded = LoadWorkerModel(a.model, &*cfg);
  if (!loaded.ok()) return Fail(loaded.status());
  std::unique_ptr<model::Model> model = std::move(loaded).value();
  // The tiered KV cache sits in front of the transfer connector (imports and exports pass on).
  auto tiers = MakeKvTiers(a.tiers, *model, a.model, *cfg, kv->get());
  if (!tiers.ok()) return Fail(tiers.status().WithContext("KV tiers"));
  if (*tiers) cfg->kv_connector = tiers->get();
  auto eng = engine::Engine::Create(model.get(), *cfg);
  if (!eng.ok()) return Fail(eng.status());
  if (*kv) {
    if (Status st = (*kv)->Attach(eng->get()); !st.ok()) return Fail(st);
  }
  HttpArgs naming{.served_model_name = a.served_model_name};
  const std::string model_name = ServedModelName(naming, a.model);
  // /metrics and /health on the internal address (metrics-only: no API here); attached once the
  // worker exists.
  frontend::FrontendMetrics metrics({.model = model_name, .device_cost_per_hour = 0});
  WorkerMetricsSource source(eng->get());
  auto started = StartMetricsHttp(a, &metrics);
  if (!started.ok()) return Fail(started.status());
  std::unique_ptr<frontend::HttpServer> http = std::move(started).value();
  const std::string metrics_url =
      http ? fmt::format("http://{}:{}/metrics",
                         a.advertise_host.empty() ? a.bind : a.advertise_host, http->port())
           : "";
  auto w = worker::Worker::Create(eng->get(), discovery->get(),
                                  {.id = a.id,
                                   .model_name = model_name,
                                   .role = a.disagg.role,
                                   .bind_host = a.bind,
                                   .advertise_host = a.advertise_host,
                                   .port = a.port,
                                   .events_port = a.events_port,
                                   .drain_ms = static_cast<int>(a.drain_timeout * 1000),
                                   .metrics_url = metrics_url,
                                   .tls = *tls});
  if (!w.ok()) return Fail(w.status());

  source.SetWorker(w->get());
  source.SetKvTransfer(kv->get());
  source.SetKvTiers(tiers->get());
  if (http) {
    http->Attach(nullptr, &source);
    log::Info("metrics on http://{}:{}/metrics", a.bind, http->port());
  }

  const int sig = WaitStopSignal();
  log::Info("signal {}: deregistering and shutting down", sig);
  if (http) http->Shutdown();  // before the worker its /metrics reads
  w->reset();
  source.Close();
  if (*kv) (*kv)->Shutdown();  // no transfer reads or writes the engine's blocks after this
  eng->reset();
  http.reset();
  return 0;
}

}  // namespace

CommandFn RegisterWorker(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "worker",
      "Serve one engine to `mint frontend`s: a gRPC request plane and a ZeroMQ event plane on\n"
      "internal ports, registered in etcd under a lease (a worker that dies leaves discovery\n"
      "within --lease-ttl). Stops cleanly on SIGINT/SIGTERM.");
  auto a = std::make_shared<WorkerArgs>();
  cmd->add_option("-m,--model", a->model, "GGUF model file")->required()->check(CLI::ExistingFile);
  cmd->add_option("--served-model-name", a->served_model_name,
                  "Model name announced to frontends (default: the file name without .gguf)");
  AddDisaggOptions(cmd, &a->disagg, /*simulated=*/false);
  cmd->add_option("--id", a->id, "Worker id in discovery (default: <hostname>-<pid>-<random>)");
  cmd->add_option("--bind", a->bind,
                  "Address the internal ports listen on (0.0.0.0: every interface)")
      ->capture_default_str();
  cmd->add_option("--advertise-host", a->advertise_host,
                  "Host frontends dial (default: --bind, or the hostname when --bind is 0.0.0.0)");
  cmd->add_option("--port", a->port, "Request-plane (gRPC) port; 0: any free port")
      ->capture_default_str()
      ->check(CLI::Range(0, 65535));
  cmd->add_option("--drain-timeout", a->drain_timeout,
                  "On SIGINT/SIGTERM: seconds the calls in flight get to finish after the worker "
                  "leaves discovery (the frontend migrates what is cut); a planner's scale-down")
      ->capture_default_str();
  cmd->add_option("--events-port", a->events_port,
                  "Event-plane (ZeroMQ PUB) port; 0: any free port; -1: publish no events")
      ->capture_default_str()
      ->check(CLI::Range(-1, 65535));
  cmd->add_option("--metrics-port", a->metrics_port,
                  "Port of /metrics and /health (on --bind); 0: any free port; -1: none")
      ->capture_default_str()
      ->check(CLI::Range(-1, 65535));
  cmd->add_option("-t,--threads", a->threads, "Engine threads (default: all cores)");
  cmd->add_option("--max-queued", a->max_queued,
                  "Requests in the engine (running + waiting) beyond which new ones are refused")
      ->capture_default_str();
  AddDiscoveryOptions(cmd, &a->discovery);
  AddEngineOptions(cmd, &a->engine);
  AddKvTierOptions(cmd, &a->tiers);
  return [a]() { return RunWorker(*a); };
}

}  // namespace mint::apps
