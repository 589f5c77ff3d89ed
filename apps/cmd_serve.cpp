// `mint serve`: the OpenAI-compatible server — HTTP frontend plus one in-process engine.
#include <pthread.h>
#include <signal.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "apps/app_util.h"
#include "apps/commands.h"
#include "apps/engine_options.h"
#include "core/cpu.h"
#include "core/log.h"
#include "engine/engine.h"
#include "frontend/backend.h"
#include "frontend/http_server.h"
#include "frontend/metrics.h"
#include "frontend/service.h"
#include "gguf/gguf.h"
#include "kernels/kernels.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"

namespace mint::apps {
namespace {

struct ServeArgs {
  std::string model;
  std::string host = "127.0.0.1";
  int port = 8000;
  int threads = 0;
  int io_threads = 2;
  std::string api_key;
  std::string served_model_name;
  std::string chat_template_file;
  double device_cost_per_hour = 0;
  int max_queued = 1024;
  std::string max_body = "8M";
  EngineArgs engine;
};

// The name clients use: --served-model-name, else the file's stem (as vLLM names a model by the
// path it was given); the GGUF's general.name is accepted too.
std::string ModelName(const ServeArgs& a) {
  if (!a.served_model_name.empty()) return a.served_model_name;
  return std::filesystem::path(a.model).stem().string();
}

int Serve(const ServeArgs& a) {
  // SIGINT/SIGTERM are taken by sigwait below; block them before any thread starts.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  auto cfg = MakeEngineConfig(a.engine);
  if (!cfg.ok()) return Fail(cfg.status());
  cfg->threads = a.threads > 0 ? a.threads : ThreadPool::HardwareThreads();
  cfg->max_queued = a.max_queued;
  auto max_body = ParseByteSize(a.max_body);
  if (!max_body.ok()) return Fail(max_body.status());
  std::string chat_template;
  if (!a.chat_template_file.empty()) {
    auto text = ReadFile(a.chat_template_file);
    if (!text.ok()) return Fail(text.status().WithContext("--chat-template"));
    chat_template = std::move(text).value();
  }

  frontend::FrontendMetrics metrics({.model = "", .device_cost_per_hour = a.device_cost_per_hour});
  frontend::HttpServerOptions http{.host = a.host,
                                   .port = static_cast<uint16_t>(a.port),
                                   .io_threads = a.io_threads,
                                   .api_key = a.api_key,
                                   .max_body_bytes = static_cast<size_t>(*max_body)};
  auto server = frontend::HttpServer::Start(http, &metrics);
  if (!server.ok()) return Fail(server.status());
  log::Info("listening on http://{}:{} (health 503 until the model is loaded)", a.host,
            (*server)->port());

  auto loaded = LoadModelWithProgress(a.model);
  if (!loaded.ok()) return Fail(loaded.status());
  std::unique_ptr<model::Model> model = std::move(loaded).value();
  log::Info("model: {}", model->config().Summary());
  auto tok = tokenizer::Tokenizer::FromGguf(model->file());
  if (!tok.ok()) return Fail(tok.status().WithContext("tokenizer"));
  log::Info("threads: {}, kernels: {} (cpu: {})", cfg->threads,
            kernels::IsaName(kernels::BestIsa()), Cpu().ToString());
  auto eng = engine::Engine::Create(model.get(), *cfg);
  if (!eng.ok()) return Fail(eng.status());
  frontend::LocalBackend backend(eng->get());
  const std::string name = ModelName(a);
  frontend::ServiceOptions so{.model_name = name, .chat_template = chat_template};
  if (a.served_model_name.empty() && !model->config().name.empty()) {
    so.aliases.push_back(model->config().name);
  }
  so.limits.max_body_bytes = static_cast<size_t>(*max_body);
  metrics.SetModel(name);
  auto service = frontend::OpenAiService::Create(so, tok->get(), &backend, &metrics);
  if (!service.ok()) return Fail(service.status());
  (*server)->Attach(service->get(), &backend);
  log::Info("serving '{}' on http://{}:{}/v1 (chat page at /)", name, a.host, (*server)->port());

  int sig = 0;
  sigwait(&signals, &sig);
  log::Info("signal {}: shutting down", sig);
  (*server)->Shutdown();  // no new requests; open connections closed
  backend.Close();        // the service's later calls no longer reach the engine
  eng->reset();           // aborts what is left; their outputs still find live I/O threads
  server->reset();
  return 0;
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
  cmd->add_option("--host", a->host, "Address to listen on (0.0.0.0 for every interface)")
      ->capture_default_str();
  cmd->add_option("--port", a->port, "TCP port (0: any free port)")
      ->capture_default_str()
      ->check(CLI::Range(0, 65535));
  cmd->add_option("-t,--threads", a->threads, "Engine threads (default: all cores)");
  cmd->add_option("--io-threads", a->io_threads, "HTTP I/O threads")->capture_default_str();
  cmd->add_option("--api-key", a->api_key,
                  "Require 'Authorization: Bearer KEY' on /v1/* (also read from MINT_API_KEY)")
      ->envname("MINT_API_KEY");
  cmd->add_option("--served-model-name", a->served_model_name,
                  "Model name clients send (default: the file name without .gguf; the GGUF's general.name "
                  "is accepted too)");
  cmd->add_option("--chat-template", a->chat_template_file,
                  "Jinja chat template file overriding the model's (default: the model's, else "
                  "ChatML)");
  cmd->add_option("--device-cost-per-hour", a->device_cost_per_hour,
                  "Cost of this machine per hour, for the mint_cost_per_million_tokens metric")
      ->capture_default_str();
  cmd->add_option("--max-queued", a->max_queued,
                  "Requests in the engine (running + waiting) beyond which new ones get 503")
      ->capture_default_str();
  cmd->add_option("--max-body", a->max_body, "Largest request body (413 above)")
      ->capture_default_str();
  AddEngineOptions(cmd, &a->engine);
  return [a]() { return Serve(*a); };
}

}  // namespace mint::apps
