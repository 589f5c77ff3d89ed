#include "frontend/metrics.h"

namespace mint::frontend {
namespace {

const char* kEndpointNames[] = {"chat_completions", "completions", "other", "responses"};
// "4xx": 4xx other than those named; "499": the client went away before its response was done.
const char* kStatusClasses[] = {"2xx", "400", "401", "404", "429_503", "5xx", "4xx", "499"};

int StatusClass(int status) {
  if (status < 300) return 0;
  if (status == 401) return 2;
  if (status == 404) return 3;
  if (status == 429 || status == 503) return 4;
  if (status >= 500) return 5;
  if (status == 400) return 1;
  if (status == 499) return 7;
  return 6;
}

}  // namespace

FrontendMetrics::FrontendMetrics(MetricsOptions options) : options_(std::move(options)) {
  registry_.SetConstantLabels({{"model", options_.model}});
  for (int ep = 0; ep < 4; ++ep) {
    for (int sc = 0; sc < 8; ++sc) {
      requests_[ep][sc] = &registry_.AddCounter(
          "mint_frontend_requests_total", "HTTP requests by endpoint and status class",
          {{"endpoint", kEndpointNames[ep]}, {"status", kStatusClasses[sc]}});
    }
  }
  received_ = &registry_.AddCounter(
      "mint_frontend_requests_received_total",
      "Requests received, counted on arrival (the offered load; requests_total counts them as "
      "they end)");
  in_flight_ = &registry_.AddGauge("mint_frontend_inflight_requests", "Requests being served now");
  prompt_tokens_ =
      &registry_.AddCounter("mint_frontend_input_tokens_total", "Prompt tokens received");
  generated_tokens_ =
      &registry_.AddCounter("mint_frontend_output_tokens_total", "Tokens generated");
  ttft_ = &registry_.AddHistogram("mint_frontend_time_to_first_token_seconds",
                                  "Time to first token", metrics::LatencyBoundsSeconds());
  itl_ = &registry_.AddHistogram("mint_frontend_inter_token_latency_seconds",
                                 "Gap between consecutive tokens of a stream",
                                 metrics::LatencyBoundsSeconds());
  e2e_ = &registry_.AddHistogram("mint_frontend_request_duration_seconds",
                                 "End-to-end request time", metrics::LatencyBoundsSeconds());
}

void FrontendMetrics::SetModel(const std::string& model) {
  std::lock_guard<std::mutex> lk(options_mu_);
  options_.model = model;
  registry_.SetConstantLabels({{"model", model}});
}

void FrontendMetrics::RequestStarted() {
  received_->Inc();
  in_flight_->Add(1);
}

void FrontendMetrics::RequestFinished(Endpoint endpoint, int status) {
  in_flight_->Add(-1);
  requests_[static_cast<int>(endpoint)][StatusClass(status)]->Inc();
}

void FrontendMetrics::RequestRefused(Endpoint endpoint, int status) {
  requests_[static_cast<int>(endpoint)][StatusClass(status)]->Inc();
}

void FrontendMetrics::AddTokens(int64_t prompt, int64_t generated) {
  prompt_tokens_->Inc(static_cast<double>(prompt));
  generated_tokens_->Inc(static_cast<double>(generated));
}

double FrontendMetrics::TokensPerSecond() const {
  using Clock = std::chrono::steady_clock;
  const auto now = Clock::now();
  std::lock_guard<std::mutex> lk(rate_mu_);
  samples_.emplace_back(now, generated_tokens_->value());
  while (samples_.size() > 2 && now - samples_.front().first > std::chrono::seconds(10)) {
    samples_.pop_front();
  }
  const double dt = std::chrono::duration<double>(now - samples_.front().first).count();
  if (dt <= 0) return 0;
  return (samples_.back().second - samples_.front().second) / dt;
}

std::string FrontendMetrics::Render(const engine::EngineMetrics& e) const {
  MetricsOptions options;
  {
    std::lock_guard<std::mutex> lk(options_mu_);
    options = options_;
  }
  // The backend's gauges as of now, written by the same writer.
  metrics::Registry now;
  now.SetConstantLabels({{"model", options.model}});
  now.AddGauge("mint_frontend_queued_requests", "Requests waiting in the engine").Set(e.waiting);
  now.AddGauge("mint_engine_running_requests", "Sequences running in the engine").Set(e.running);
  now.AddGauge("mint_kv_cache_usage_ratio", "Fraction of KV blocks referenced")
      .Set(e.blocks.usage());
  const std::pair<const char*, double> blocks[] = {{"total", e.blocks.num_blocks},
                                                   {"used", e.blocks.used},
                                                   {"cached", e.blocks.cached},
                                                   {"free", e.blocks.free}};
  for (const auto& [state, n] : blocks) {
    now.AddGauge("mint_kv_blocks", "KV blocks by state", {{"state", state}}).Set(n);
  }
  now.AddGauge("mint_prefix_cache_hit_rate", "Prefix-cache hits over lookups (blocks)")
      .Set(e.blocks.hit_rate());
  now.AddCounter("mint_prefix_cache_queries_total", "Blocks looked up in the prefix cache")
      .Inc(static_cast<double>(e.blocks.lookup_blocks));
  now.AddCounter("mint_prefix_cache_hits_total", "Blocks found in the prefix cache")
      .Inc(static_cast<double>(e.blocks.hit_blocks));
  now.AddCounter("mint_engine_preemptions_total", "Sequences preempted for KV blocks")
      .Inc(static_cast<double>(e.preemptions));
  now.AddCounter("mint_engine_busy_seconds_total",
                 "Wall time the engine spent in steps (its busy time, for utilization)")
      .Inc(e.busy_seconds);
  const double tps = TokensPerSecond();
  now.AddGauge("mint_tokens_per_second", "Generated tokens per second, last 10 s").Set(tps);
  now.AddGauge("mint_cost_per_million_tokens",
               "Device cost of a million generated tokens at the current rate "
               "(--device-cost-per-hour)")
      .Set(tps > 0 ? options.device_cost_per_hour / (tps * 3600.0) * 1e6 : 0.0);
  return registry_.Prometheus() + now.Prometheus();
}

}  // namespace mint::frontend
