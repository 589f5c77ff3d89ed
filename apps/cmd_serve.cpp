// `mint serve`: the OpenAI-compatible server with everything in this process — the HTTP
// frontend and one engine (default), or N workers behind the frontend's request routing
// (--workers N: each its own engine and request-plane server on 127.0.0.1, found through the
// embedded discovery; the same code paths as `mint frontend` + `mint worker`, no external
// service). --prefill-workers P adds P prefill workers: the N become decode workers, and long
// prompts are prefilled on a prefill worker whose KV the decode worker copies out of shared
// memory (the same path as `mint worker --role prefill|decode --kv-transport shm`).
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "apps/app_util.h"
#include "apps/commands.h"
#include "apps/disagg_options.h"
#include "apps/engine_options.h"
#include "apps/http_front.h"
#include "apps/kv_tiers.h"
#include "apps/router_options.h"
#include "core/cpu.h"
#include "core/log.h"
#include "engine/engine.h"
#include "frontend/remote_backend.h"
#include "kernels/kernels.h"
#include "model/model.h"
#include "runtime/discovery.h"
#include "tokenizer/tokenizer.h"
#include "worker/kv_transfer.h"
#include "worker/local_backend.h"
#include "worker/worker.h"

namespace mint::apps {
namespace {

struct ServeArgs {
  std::string model;
  int threads = 0;
  int max_queued = 1024;
  int workers = 1;
  int prefill_workers = 0;
  DisaggPlanArgs disagg_plan;
  int prefill_nice = 0;
  int migration_limit = 3;
  HttpArgs http;
  EngineArgs engine;
  KvTierArgs tiers;
  RouterArgs router;
};

// The engines of a `mint serve`: --workers N of them ("agg", or "decode" when there are prefill
// workers) and --prefill-workers P ("prefill"), each disaggregated one with its KV transfer
// connector. Destroy with Stop().
struct Engines {
  std::vector<std::unique_ptr<worker::KvTransferConnector>> kv;  // parallel to engines, or null
  // Tiered KV caches (parallel to engines, or null): in front of kv, outliving the engines.
  std::vector<std::unique_ptr<kvstore::TieredKvConnector>> tiers;
  std::vector<std::unique_ptr<engine::Engine>> engines;
  std::vector<std::string> roles;
  int prefill_nice = 0;  // EngineConfig::nice of the prefill engines

  Status Start(const model::Model& model, const std::string& model_path,
               const engine::EngineConfig& base, const KvTierArgs& tier_args, int workers,
               int prefill_workers) {
    for (int i = 0; i < workers + prefill_workers; ++i) {
      const std::string role = i >= workers ? "prefill" : prefill_workers > 0 ? "decode" : "agg";
      engine::EngineConfig cfg = base;
      if (role == "prefill") cfg.nice = prefill_nice;
      std::unique_ptr<worker::KvTransferConnector> conn;
      if (role != "agg") {
        // A prefill engine's KV memory is shared memory; decode engines copy out of it (shm).
        worker::KvTransferOptions ko;
        ko.shared_memory = role == "prefill";
        ko.transport = transfer::Transport::kShm;
        auto c = worker::KvTransferConnector::Create(ko);
        if (!c.ok()) return c.status().WithContext("KV transfer");
        conn = std::move(c).value();
        cfg.kv_connector = conn.get();
      }
      const int n = workers + prefill_workers;
      auto tier = MakeKvTiers(tier_args, model, model_path, cfg, conn.get(), n > 1 ? i + 1 : 0, n);
      if (!tier.ok()) return tier.status().WithContext("KV tiers");
      if (*tier) cfg.kv_connector = tier->get();
      auto eng = engine::Engine::Create(&model, cfg);
      if (!eng.ok()) return eng.status();
      if (conn) {
        if (Status st = conn->Attach(eng->get()); !st.ok()) {
          conn->Shutdown();
          return st;
        }
      }
      kv.push_back(std::move(conn));
      tiers.push_back(std::move(tier).value());
      engines.push_back(std::move(eng).value());
      roles.push_back(role);
    }
    return Status::Ok();
  }
  // Connectors first (nothing reads or writes an engine's KV memory after), then the engines.
  void Stop() {
    for (auto& c : kv) {
      if (c) c->Shutdown();
    }
    engines.clear();
    tiers.clear();
    kv.clear();
  }
  ~Engines() { Stop(); }
};

// --workers N / --prefill-workers P in one process: a request-plane worker per engine, found by
// an embedded discovery, and the frontend's routing backend over them.
struct Cluster {
  std::unique_ptr<runtime::Discovery> discovery;
  std::vector<std::unique_ptr<worker::Worker>> workers;
  std::unique_ptr<frontend::RemoteBackend> remote;

  Status Start(const ServeArgs& a, const engine::EngineConfig& cfg, const Engines& engines,
               const std::string& name) {
    discovery = runtime::NewEmbeddedDiscovery();
    // The workers' gRPC ports are on loopback, open to every local user: with a key, they
    // take only this process's own ephemeral cluster certificate.
    runtime::PlaneTls tls;
    if (!a.http.api_key.empty() || !a.http.api_key_file.empty()) {
      auto t = runtime::GeneratePlaneTls();
      if (!t.ok()) return t.status().WithContext("request-plane TLS");
      tls = std::move(t).value();
    }
    for (size_t i = 0; i < engines.engines.size(); ++i) {
      const std::string& role = engines.roles[i];
      worker::WorkerOptions wo;
      wo.id = role == "prefill" ? "prefill-" + std::to_string(i - a.workers)
                                : "worker-" + std::to_string(i);
      wo.model_name = name;
      wo.role = role;
      wo.tls = tls;
      auto w = worker::Worker::Create(engines.engines[i].get(), discovery.get(), wo);
      if (!w.ok()) return w.status();
      workers.push_back(std::move(w).value());
    }
    auto rc = MakeRouterConfig(a.router);
    if (!rc.ok()) return rc.status();
    rc->block_size = cfg.block_size;  // the engines here use this one
    frontend::RemoteBackendOptions ro;
    ro.model_name = name;
    ro.migration_limit = a.migration_limit;
    ro.max_model_len = cfg.scheduler.max_model_len;
    ro.router = *rc;
    MINT_RETURN_IF_ERROR(ApplyDisaggPlan(a.disagg_plan, &ro));
    auto queue = RouterQueuePolicy(a.router);
    if (!queue.ok()) return queue.status();
    ro.router_queue = *queue;
    ro.router_queue_busy_s = a.router.queue_busy_s;
    ro.router_queue_max_age_s = a.router.queue_max_age_s;
    ro.tls = tls;
    auto r = frontend::RemoteBackend::Create(discovery.get(), ro);
    if (!r.ok()) return r.status();
    remote = std::move(r).value();
    return Status::Ok();
  }
};

int Serve(const ServeArgs& a) {
  auto cfg = MakeEngineConfig(a.engine);
  if (!cfg.ok()) return Fail(cfg.status());
  const int n_engines = a.workers + a.prefill_workers;
  const int total_threads = a.threads > 0 ? a.threads : ThreadPool::HardwareThreads();
  cfg->threads = std::max(1, total_threads / n_engines);
  cfg->max_queued = a.max_queued;

  std::unique_ptr<model::Model> model;
  std::unique_ptr<tokenizer::Tokenizer> tok;
  Engines engines;
  Cluster cluster;
  std::unique_ptr<worker::LocalBackend> local;
  const std::string name = ServedModelName(a.http, a.model);

  auto load = [&]() -> Result<Serving> {
    auto loaded = LoadModelWithProgress(a.model);
    if (!loaded.ok()) return loaded.status();
    model = std::move(loaded).value();
    log::Info("model: {}", model->config().Summary());
    auto t = tokenizer::Tokenizer::FromGguf(model->file());
    if (!t.ok()) return t.status().WithContext("tokenizer");
    tok = std::move(t).value();
    cfg->logits_processor_factory = GrammarFactory(*tok, model->config().n_vocab);
    log::Info("{} engine(s){}, {} threads each, kernels: {} (cpu: {})", n_engines,
              a.prefill_workers > 0
                  ? fmt::format(" ({} prefill, {} decode)", a.prefill_workers, a.workers)
                  : "",
              cfg->threads, kernels::IsaName(kernels::BestIsa()), Cpu().ToString());
    engines.prefill_nice = a.prefill_nice;
    MINT_RETURN_IF_ERROR(
        engines.Start(*model, a.model, *cfg, a.tiers, a.workers, a.prefill_workers));
    Serving s{.tokenizer = tok.get(), .backend = nullptr, .general_name = model->config().name,
              .stop = {}};
    if (n_engines == 1) {
      local =
          std::make_unique<TieredLocalBackend>(engines.engines[0].get(), engines.tiers[0].get());
      s.backend = local.get();
    } else {
      MINT_RETURN_IF_ERROR(cluster.Start(a, *cfg, engines, name));
      s.backend = cluster.remote.get();
    }
    s.stop = [&] {
      if (local) local->Close();
      if (cluster.remote) cluster.remote->Close();
      cluster.workers.clear();
      engines.Stop();  // aborts what is left; their outputs still find live I/O threads
    };
    return s;
  };
  return ServeHttp(a.http, a.model, load);
}

}  // namespace

CommandFn RegisterServe(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "serve",
      "Serve a model over an OpenAI-compatible HTTP API (/v1/chat/completions, /v1/completions,\n"
      "/v1/models, /health, /metrics, and a chat page at /), with the serving engine in this\n"
      "process. Stops cleanly on SIGINT/SIGTERM.");
  auto a = std::make_shared<ServeArgs>();
  cmd->add_option("-m,--model", a->model, "GGUF model file")->required()->check(CLI::ExistingFile);
  AddHttpOptions(cmd, &a->http);
  cmd->add_option("-t,--threads", a->threads,
                  "Engine threads in all (default: all cores; split evenly across --workers)");
  cmd->add_option("--max-queued", a->max_queued,
                  "Requests in an engine (running + waiting) beyond which new ones get 503")
      ->capture_default_str();
  cmd->add_option("--workers", a->workers,
                  "Engines in this process, each a worker behind the frontend's routing (found\n"
                  "through the embedded discovery; no external service)")
      ->capture_default_str()
      ->check(CLI::Range(1, 256));
  cmd->add_option("--prefill-workers", a->prefill_workers,
                  "Disaggregated serving: this many more engines only prefill prompts; the\n"
                  "--workers engines then decode, copying each prompt's KV from the prefill\n"
                  "engine's shared memory instead of computing it (when worth it: see\n"
                  "--remote-prefill-min-tokens)")
      ->capture_default_str()
      ->check(CLI::Range(0, 256));
  cmd->add_option("--prefill-nice", a->prefill_nice,
                  "With --prefill-workers: lower the prefill engines' thread priority by this\n"
                  "much (0-19), so on shared cores decode steps and KV pulls run first")
      ->capture_default_str()
      ->check(CLI::Range(0, 19));
  AddDisaggPlanOptions(cmd, &a->disagg_plan);
  cmd->add_option("--migration-limit", a->migration_limit,
                  "With --workers > 1: times a request is re-sent to another worker when its own\n"
                  "is lost")
      ->capture_default_str()
      ->check(CLI::Range(0, 100));
  AddEngineOptions(cmd, &a->engine);
  AddKvTierOptions(cmd, &a->tiers);
  AddRouterOptions(cmd, &a->router);
  return [a]() { return Serve(*a); };
}

}  // namespace mint::apps
