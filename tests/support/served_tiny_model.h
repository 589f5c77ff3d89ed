// `mint serve` in one test process: a seeded synthetic tiny model (builtin vocabulary, Q8_0), the
// real engine, the OpenAI service and the HTTP server on a free loopback port. Header-only: the
// test binaries that use it link mint_frontend and mint_model.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "engine/engine.h"
#include "frontend/http_server.h"
#include "frontend/metrics.h"
#include "frontend/service.h"
#include "model/model.h"
#include "tiny_model.h"
#include "tokenizer/tokenizer.h"
#include "worker/local_backend.h"

namespace mint::test_support {

class ServedTinyModel {
 public:
  // `ho.host` and `ho.port` are set here (127.0.0.1, any free port); the service's body limit
  // follows `ho.max_body_bytes`. Engine defaults: 1024 KV blocks, 2 threads, 2048-token context.
  explicit ServedTinyModel(frontend::HttpServerOptions ho = {}, engine::EngineConfig ec = {}) {
    model_ = LoadTinyModel(9);
    tok_ = std::move(tokenizer::Tokenizer::FromGguf(model_->file())).value();
    if (ec.kv_cache_blocks == 0) ec.kv_cache_blocks = 1024;
    ec.threads = 2;
    ec.scheduler.max_model_len = 2048;
    engine_ = std::move(engine::Engine::Create(model_.get(), ec)).value();
    backend_ = std::make_unique<worker::LocalBackend>(engine_.get());
    metrics_ = std::make_unique<frontend::FrontendMetrics>(frontend::MetricsOptions{.model = "tiny"});
    frontend::ServiceOptions so{.model_name = "tiny"};
    so.limits.max_body_bytes = ho.max_body_bytes;
    service_ = std::move(frontend::OpenAiService::Create(so, tok_.get(), backend_.get(),
                                                         metrics_.get()))
                   .value();
    ho.host = "127.0.0.1";
    ho.port = 0;
    server_ = std::move(frontend::HttpServer::Start(ho, metrics_.get())).value();
    server_->Attach(service_.get(), backend_.get());
  }
  ~ServedTinyModel() {
    server_->Shutdown();
    backend_->Close();
    engine_.reset();
    server_.reset();
  }
  ServedTinyModel(const ServedTinyModel&) = delete;
  ServedTinyModel& operator=(const ServedTinyModel&) = delete;

  uint16_t port() const { return server_->port(); }
  engine::Engine* engine() { return engine_.get(); }
  // The frontend's /metrics text with the engine's gauges.
  std::string MetricsText() { return metrics_->Render(engine_->Metrics()); }

 private:
  std::unique_ptr<model::Model> model_;
  std::unique_ptr<tokenizer::Tokenizer> tok_;
  std::unique_ptr<engine::Engine> engine_;
  std::unique_ptr<worker::LocalBackend> backend_;
  std::unique_ptr<frontend::FrontendMetrics> metrics_;
  std::unique_ptr<frontend::OpenAiService> service_;
  std::unique_ptr<frontend::HttpServer> server_;
};

}  // namespace mint::test_support
