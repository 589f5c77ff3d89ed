// A generation backend over an engine in this process (`mint serve` with one engine, tests): the
// frontend's requests in protocol types, converted at the engine's door (engine_adapter.h).
//
// Thread-safety: every method may be called from any thread. Close() before destroying the
// engine: later calls then fail (kUnavailable) or do nothing instead of touching it.
#pragma once

#include <cstdint>
#include <mutex>
#include <shared_mutex>

#include "engine/engine.h"
#include "frontend/backend.h"
#include "worker/engine_adapter.h"

namespace mint::worker {

class LocalBackend : public frontend::GenerationBackend {
 public:
  explicit LocalBackend(engine::Engine* engine)
      : engine_(engine), max_model_len_(engine->config().scheduler.max_model_len) {}
  using GenerationBackend::Submit;
  Result<uint64_t> Submit(protocol::GenerateRequest request, protocol::OutputCallback on_output,
                          const router::RouteOverrides& /*route*/) override {
    std::shared_lock<std::shared_mutex> lk(mu_);
    if (engine_ == nullptr) return Status::Unavailable("the server is shutting down");
    return engine_->Submit(ToEngine(std::move(request)), ToEngine(std::move(on_output)));
  }
  void Abort(uint64_t id) override {
    std::shared_lock<std::shared_mutex> lk(mu_);
    if (engine_ != nullptr) engine_->Abort(id);
  }
  engine::EngineMetrics Metrics() const override {
    std::shared_lock<std::shared_mutex> lk(mu_);
    return engine_ != nullptr ? engine_->Metrics() : engine::EngineMetrics{};
  }
  int64_t max_model_len() const override { return max_model_len_; }
  void Close() {
    std::unique_lock<std::shared_mutex> lk(mu_);
    engine_ = nullptr;
  }

 private:
  mutable std::shared_mutex mu_;
  engine::Engine* engine_;  // guarded by mu_; null once closed
  int64_t max_model_len_;
};

}  // namespace mint::worker
