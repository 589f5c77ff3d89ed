// The frontend's view of a generation backend: the seam where a remote worker will plug in.
// Today the one implementation wraps an in-process engine (LocalBackend); the distributed runtime
// will add one that speaks to workers over the request plane, behind the same interface.
//
// Thread-safety: every method may be called from any thread; output callbacks arrive on a backend
// thread and must return quickly.
#pragma once

#include <cstdint>
#include <mutex>
#include <shared_mutex>
#include <string>

#include "core/status.h"
#include "engine/engine.h"
#include "router/router.h"

namespace mint::frontend {

class GenerationBackend {
 public:
  virtual ~GenerationBackend() = default;
  // Queues a request; outputs stream to `on_output` until one with finish != kNone. `route`:
  // this request's routing overrides (backends with one engine ignore them).
  virtual Result<uint64_t> Submit(engine::Request request, engine::OutputCallback on_output,
                                  const router::RouteOverrides& route) = 0;
  Result<uint64_t> Submit(engine::Request request, engine::OutputCallback on_output) {
    return Submit(std::move(request), std::move(on_output), router::RouteOverrides{});
  }
  // Aborts a request; its final output (kAbort) still arrives. Unknown ids are ignored.
  virtual void Abort(uint64_t id) = 0;
  virtual engine::EngineMetrics Metrics() const = 0;
  // Longest prompt + output the backend accepts.
  virtual int64_t max_model_len() const = 0;
  // Prometheus lines of the backend's own (appended to the frontend's /metrics).
  virtual std::string MetricsText() const { return {}; }
};

// An engine in this process. Close() before destroying the engine: later calls then fail
// (kUnavailable) or do nothing instead of touching it.
class LocalBackend : public GenerationBackend {
 public:
  explicit LocalBackend(engine::Engine* engine)
      : engine_(engine), max_model_len_(engine->config().scheduler.max_model_len) {}
  using GenerationBackend::Submit;
  Result<uint64_t> Submit(engine::Request request, engine::OutputCallback on_output,
                          const router::RouteOverrides& /*route*/) override {
    std::shared_lock<std::shared_mutex> lk(mu_);
    if (engine_ == nullptr) return Status::Unavailable("the server is shutting down");
    return engine_->Submit(std::move(request), std::move(on_output));
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

}  // namespace mint::frontend
