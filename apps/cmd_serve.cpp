// `mint serve`: the OpenAI-compatible server with everything in this process — the HTTP
// frontend and one engine (default), or N workers behind the frontend's request routing
// (--workers N: each its own engine and request-plane server on 127.0.0.1, found through the
// embedded discovery; the same code paths as `mint frontend` + `mint worker`, no external
// service).
#include <memory>
#include <string>
#include <vector>

#include "apps/app_util.h"
#include "apps/commands.h"
#include "apps/engine_options.h"
#include "apps/http_front.h"
#include "apps/router_options.h"
#include "core/cpu.h"
#include "core/log.h"
#include "engine/engine.h"
#include "frontend/backend.h"
#include "frontend/remote_backend.h"
#include "kernels/kernels.h"
#include "model/model.h"
#include "runtime/discovery.h"
#include "tokenizer/tokenizer.h"
#include "worker/worker.h"

namespace mint::apps {
namespace {

struct ServeArgs {
  std::string model;
  int threads = 0;
  int max_queued = 1024;
  int workers = 1;
  int migration_limit = 3;
  HttpArgs http;
  EngineArgs engine;
  RouterArgs router;
};

int Serve(const ServeArgs& a) {
  auto cfg = MakeEngineConfig(a.engine);
  if (!cfg.ok()) return Fail(cfg.status());
  const int total_threads = a.threads > 0 ? a.threads : ThreadPool::HardwareThreads();
  cfg->threads = std::max(1, total_threads / a.workers);
  cfg->max_queued = a.max_queued;

  std::unique_ptr<model::Model> model;
  std::unique_ptr<tokenizer::Tokenizer> tok;
  std::vector<std::unique_ptr<engine::Engine>> engines;
  std::unique_ptr<runtime::Discovery> discovery;
  std::vector<std::unique_ptr<worker::Worker>> workers;
  std::unique_ptr<frontend::LocalBackend> local;
  std::unique_ptr<frontend::RemoteBackend> remote;
  const std::string name = ServedModelName(a.http, a.model);

  auto load = [&]() -> Result<Serving> {
    auto loaded = LoadModelWithProgress(a.model);
    if (!loaded.ok()) return loaded.status();
    model = std::move(loaded).value();
    log::Info("model: {}", model->config().Summary());
    auto t = tokenizer::Tokenizer::FromGguf(model->file());
    if (!t.ok()) return t.status().WithContext("tokenizer");
    tok = std::move(t).value();
    log::Info("{} engine(s), {} threads each, kernels: {} (cpu: {})", a.workers, cfg->threads,
              kernels::IsaName(kernels::BestIsa()), Cpu().ToString());
    for (int i = 0; i < a.workers; ++i) {
      auto eng = engine::Engine::Create(model.get(), *cfg);
      if (!eng.ok()) return eng.status();
      engines.push_back(std::move(eng).value());
    }
    Serving s{.tokenizer = tok.get(), .backend = nullptr, .general_name = model->config().name,
              .stop = {}};
    if (a.workers == 1) {
      local = std::make_unique<frontend::LocalBackend>(engines[0].get());
      s.backend = local.get();
    } else {
      discovery = runtime::NewEmbeddedDiscovery();
      // The workers' gRPC ports are on loopback, open to every local user: with a key, they
      // take only this process's own ephemeral cluster certificate.
      runtime::PlaneTls tls;
      if (!a.http.api_key.empty() || !a.http.api_key_file.empty()) {
        auto t = runtime::GeneratePlaneTls();
        if (!t.ok()) return t.status().WithContext("request-plane TLS");
        tls = std::move(t).value();
      }
      for (int i = 0; i < a.workers; ++i) {
        auto w = worker::Worker::Create(
            engines[i].get(), discovery.get(),
            {.id = "worker-" + std::to_string(i), .model_name = name, .tls = tls});
        if (!w.ok()) return w.status();
        workers.push_back(std::move(w).value());
      }
      auto rc = MakeRouterConfig(a.router);
      if (!rc.ok()) return rc.status();
      rc->block_size = cfg->block_size;  // the engines here use this one
      frontend::RemoteBackendOptions ro;
      ro.model_name = name;
      ro.migration_limit = a.migration_limit;
      ro.max_model_len = cfg->scheduler.max_model_len;
      ro.router = *rc;
      ro.tls = tls;
      auto r = frontend::RemoteBackend::Create(discovery.get(), ro);
      if (!r.ok()) return r.status();
      remote = std::move(r).value();
      s.backend = remote.get();
    }
    s.stop = [&] {
      if (local) local->Close();
      if (remote) remote->Close();
      workers.clear();
      engines.clear();  // aborts what is left; their outputs still find live I/O threads
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
  cmd->add_option("--migration-limit", a->migration_limit,
                  "With --workers > 1: times a request is re-sent to another worker when its own\n"
                  "is lost")
      ->capture_default_str()
      ->check(CLI::Range(0, 100));
  AddEngineOptions(cmd, &a->engine);
  AddRouterOptions(cmd, &a->router);
  return [a]() { return Serve(*a); };
}

}  // namespace mint::apps
