// Prometheus metrics of the frontend, named in the Dynamo/vLLM style with the `mint_` prefix, on
// a metrics::Registry (src/metrics): the frontend's own series, plus the backend's engine gauges
// read at each render.
//
// Thread-safety: all methods are thread-safe.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <utility>

#include "engine/engine.h"
#include "metrics/metrics.h"

namespace mint::frontend {

struct MetricsOptions {
  std::string model;
  double device_cost_per_hour = 0;  // 0: the cost gauge reads 0
};

class FrontendMetrics {
 public:
  explicit FrontendMetrics(MetricsOptions options);
  // The `model` label, once the model is known (the server starts before it loads).
  void SetModel(const std::string& model);

  enum class Endpoint { kChat = 0, kCompletions = 1, kOther = 2, kResponses = 3 };
  void RequestStarted();
  // status: HTTP status of the response (200 for a completed stream).
  void RequestFinished(Endpoint endpoint, int status);
  // A request answered before it started (401, 403, malformed HTTP, 503 at the door): counted,
  // never in flight.
  void RequestRefused(Endpoint endpoint, int status);
  void ObserveTtft(double seconds) { ttft_->Observe(seconds); }
  void ObserveItl(double seconds) { itl_->Observe(seconds); }
  void ObserveDuration(double seconds) { e2e_->Observe(seconds); }
  void AddTokens(int64_t prompt, int64_t generated);

  // The whole exposition, engine gauges included.
  std::string Render(const engine::EngineMetrics& engine) const;
  // Generated tokens per second over the last ~10 s.
  double TokensPerSecond() const;

 private:
  mutable std::mutex options_mu_;
  MetricsOptions options_;  // guarded by options_mu_
  metrics::Registry registry_;
  metrics::Counter* received_ = nullptr;
  metrics::Gauge* in_flight_;
  std::array<std::array<metrics::Counter*, 8>, 4> requests_{};  // endpoint x status class
  metrics::Counter* prompt_tokens_;
  metrics::Counter* generated_tokens_;
  metrics::Histogram* ttft_;
  metrics::Histogram* itl_;
  metrics::Histogram* e2e_;
  mutable std::mutex rate_mu_;
  // (time, cumulative generated tokens) samples for the rate; guarded by rate_mu_.
  mutable std::deque<std::pair<std::chrono::steady_clock::time_point, double>> samples_;
};

}  // namespace mint::frontend
