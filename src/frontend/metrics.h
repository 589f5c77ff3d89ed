// Prometheus metrics of the frontend (text exposition format 0.0.4), named in the Dynamo/vLLM
// style with the `mint_` prefix.
//
// Thread-safety: all methods are thread-safe (atomics and one mutex per histogram).
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <vector>

#include "engine/engine.h"

namespace mint::frontend {

class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void Observe(double value);
  // Appends the _bucket/_sum/_count lines of `name` (with `labels`, may be empty).
  void Render(const std::string& name, std::string* out) const;

 private:
  std::vector<double> bounds_;
  mutable std::mutex mu_;
  std::vector<uint64_t> counts_;  // guarded by mu_; one per bound, plus +Inf
  double sum_ = 0;                // guarded by mu_
  uint64_t count_ = 0;            // guarded by mu_
};

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
  void ObserveTtft(double seconds) { ttft_.Observe(seconds); }
  void ObserveItl(double seconds) { itl_.Observe(seconds); }
  void ObserveDuration(double seconds) { e2e_.Observe(seconds); }
  void AddTokens(int64_t prompt, int64_t generated);

  // The whole exposition, engine gauges included.
  std::string Render(const engine::EngineMetrics& engine) const;
  // Generated tokens per second over the last ~10 s.
  double TokensPerSecond() const;

 private:
  mutable std::mutex options_mu_;
  MetricsOptions options_;  // guarded by options_mu_
  std::atomic<int64_t> in_flight_{0};
  std::array<std::array<std::atomic<uint64_t>, 8>, 4> requests_{};  // endpoint x status class
  std::atomic<uint64_t> prompt_tokens_{0}, generated_tokens_{0};
  Histogram ttft_, itl_, e2e_;
  mutable std::mutex rate_mu_;
  // (time, cumulative generated tokens) samples for the rate; guarded by rate_mu_.
  mutable std::deque<std::pair<std::chrono::steady_clock::time_point, uint64_t>> samples_;
};

}  // namespace mint::frontend
