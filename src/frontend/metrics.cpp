#include "frontend/metrics.h"

#include <cmath>
#include <cstdio>

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

void Line(std::string* out, const std::string& name, const std::string& labels, double v) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.10g", v);
  *out += name;
  if (!labels.empty()) *out += "{" + labels + "}";
  *out += " ";
  *out += buf;
  *out += "\n";
}

void Help(std::string* out, const std::string& name, const char* type, const char* help) {
  *out += "# HELP " + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
}

std::vector<double> LatencyBuckets() {
  return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5,
          0.75,  1.0,    2.5,   5.0,  10.0,  20.0, 40.0,  80.0};
}

}  // namespace

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), counts_(bounds_.size() + 1, 0) {}

void Histogram::Observe(double value) {
  std::lock_guard<std::mutex> lk(mu_);
  size_t i = 0;
  while (i < bounds_.size() && value > bounds_[i]) ++i;
  ++counts_[i];
  sum_ += value;
  ++count_;
}

void Histogram::Render(const std::string& name, std::string* out) const {
  std::lock_guard<std::mutex> lk(mu_);
  uint64_t cumulative = 0;
  char le[32];
  for (size_t i = 0; i < bounds_.size(); ++i) {
    cumulative += counts_[i];
    std::snprintf(le, sizeof(le), "%g", bounds_[i]);
    Line(out, name + "_bucket", std::string("le=\"") + le + "\"", static_cast<double>(cumulative));
  }
  cumulative += counts_.back();
  Line(out, name + "_bucket", "le=\"+Inf\"", static_cast<double>(cumulative));
  Line(out, name + "_sum", "", sum_);
  Line(out, name + "_count", "", static_cast<double>(count_));
}

FrontendMetrics::FrontendMetrics(MetricsOptions options)
    : options_(std::move(options)),
      ttft_(LatencyBuckets()),
      itl_(LatencyBuckets()),
      e2e_(LatencyBuckets()) {}

void FrontendMetrics::SetModel(const std::string& model) {
  std::lock_guard<std::mutex> lk(options_mu_);
  options_.model = model;
}

void FrontendMetrics::RequestStarted() { ++in_flight_; }

void FrontendMetrics::RequestFinished(Endpoint endpoint, int status) {
  --in_flight_;
  ++requests_[static_cast<int>(endpoint)][StatusClass(status)];
}

void FrontendMetrics::RequestRefused(Endpoint endpoint, int status) {
  ++requests_[static_cast<int>(endpoint)][StatusClass(status)];
}

void FrontendMetrics::AddTokens(int64_t prompt, int64_t generated) {
  prompt_tokens_ += static_cast<uint64_t>(prompt);
  generated_tokens_ += static_cast<uint64_t>(generated);
}

double FrontendMetrics::TokensPerSecond() const {
  using Clock = std::chrono::steady_clock;
  const auto now = Clock::now();
  std::lock_guard<std::mutex> lk(rate_mu_);
  samples_.emplace_back(now, generated_tokens_.load());
  while (samples_.size() > 2 && now - samples_.front().first > std::chrono::seconds(10)) {
    samples_.pop_front();
  }
  const double dt = std::chrono::duration<double>(now - samples_.front().first).count();
  if (dt <= 0) return 0;
  return static_cast<double>(samples_.back().second - samples_.front().second) / dt;
}

std::string FrontendMetrics::Render(const engine::EngineMetrics& e) const {
  std::string out;
  MetricsOptions options;
  {
    std::lock_guard<std::mutex> lk(options_mu_);
    options = options_;
  }
  const std::string model = "model=\"" + options.model + "\"";
  Help(&out, "mint_frontend_requests_total", "counter",
       "HTTP requests by endpoint and status class");
  for (int ep = 0; ep < 4; ++ep) {
    for (int sc = 0; sc < 8; ++sc) {
      Line(&out, "mint_frontend_requests_total",
           model + ",endpoint=\"" + kEndpointNames[ep] + "\",status=\"" + kStatusClasses[sc] + "\"",
           static_cast<double>(requests_[ep][sc].load()));
    }
  }
  Help(&out, "mint_frontend_inflight_requests", "gauge", "Requests being served now");
  Line(&out, "mint_frontend_inflight_requests", model, static_cast<double>(in_flight_.load()));
  Help(&out, "mint_frontend_queued_requests", "gauge", "Requests waiting in the engine");
  Line(&out, "mint_frontend_queued_requests", model, e.waiting);
  Help(&out, "mint_engine_running_requests", "gauge", "Sequences running in the engine");
  Line(&out, "mint_engine_running_requests", model, e.running);
  Help(&out, "mint_frontend_input_tokens_total", "counter", "Prompt tokens received");
  Line(&out, "mint_frontend_input_tokens_total", model, static_cast<double>(prompt_tokens_.load()));
  Help(&out, "mint_frontend_output_tokens_total", "counter", "Tokens generated");
  Line(&out, "mint_frontend_output_tokens_total", model,
       static_cast<double>(generated_tokens_.load()));
  Help(&out, "mint_frontend_time_to_first_token_seconds", "histogram", "Time to first token");
  ttft_.Render("mint_frontend_time_to_first_token_seconds", &out);
  Help(&out, "mint_frontend_inter_token_latency_seconds", "histogram",
       "Gap between consecutive tokens of a stream");
  itl_.Render("mint_frontend_inter_token_latency_seconds", &out);
  Help(&out, "mint_frontend_request_duration_seconds", "histogram", "End-to-end request time");
  e2e_.Render("mint_frontend_request_duration_seconds", &out);
  Help(&out, "mint_kv_cache_usage_ratio", "gauge", "Fraction of KV blocks referenced");
  Line(&out, "mint_kv_cache_usage_ratio", model, e.blocks.usage());
  Help(&out, "mint_kv_blocks", "gauge", "KV blocks by state");
  Line(&out, "mint_kv_blocks", model + ",state=\"total\"", e.blocks.num_blocks);
  Line(&out, "mint_kv_blocks", model + ",state=\"used\"", e.blocks.used);
  Line(&out, "mint_kv_blocks", model + ",state=\"cached\"", e.blocks.cached);
  Line(&out, "mint_kv_blocks", model + ",state=\"free\"", e.blocks.free);
  Help(&out, "mint_prefix_cache_hit_rate", "gauge", "Prefix-cache hits over lookups (blocks)");
  Line(&out, "mint_prefix_cache_hit_rate", model, e.blocks.hit_rate());
  Help(&out, "mint_prefix_cache_queries_total", "counter", "Blocks looked up in the prefix cache");
  Line(&out, "mint_prefix_cache_queries_total", model, static_cast<double>(e.blocks.lookup_blocks));
  Help(&out, "mint_prefix_cache_hits_total", "counter", "Blocks found in the prefix cache");
  Line(&out, "mint_prefix_cache_hits_total", model, static_cast<double>(e.blocks.hit_blocks));
  Help(&out, "mint_engine_preemptions_total", "counter", "Sequences preempted for KV blocks");
  Line(&out, "mint_engine_preemptions_total", model, static_cast<double>(e.preemptions));
  const double tps = TokensPerSecond();
  Help(&out, "mint_tokens_per_second", "gauge", "Generated tokens per second, last 10 s");
  Line(&out, "mint_tokens_per_second", model, tps);
  Help(&out, "mint_cost_per_million_tokens", "gauge",
       "Device cost of a million generated tokens at the current rate (--device-cost-per-hour)");
  Line(&out, "mint_cost_per_million_tokens", model,
       tps > 0 ? options.device_cost_per_hour / (tps * 3600.0) * 1e6 : 0.0);
  return out;
}

}  // namespace mint::frontend
