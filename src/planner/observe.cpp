#include "planner/observe.h"

#include <algorithm>
#include <string>

namespace mint::planner {
namespace {

double Sum(const std::vector<metrics::Sample>& samples, const std::string& name,
           const metrics::Labels& labels = {}) {
  double total = 0;
  for (const metrics::Sample& s : samples) {
    if (metrics::Matches(s, name, labels)) total += s.value;
  }
  return total;
}

void SumHistogram(const std::vector<metrics::Sample>& samples, const std::string& name, double* sum,
                  double* count) {
  for (const metrics::Sample& s : samples) {
    if (s.name != name || s.type != metrics::Type::kHistogram) continue;
    *sum += s.histogram.sum;
    *count += static_cast<double>(s.histogram.count);
  }
}

double Delta(double before, double after) { return after >= before ? after - before : after; }

}  // namespace

void FrontendTotals::Add(const FrontendTotals& o) {
  requests += o.requests;
  received += o.received;
  failed += o.failed;
  input_tokens += o.input_tokens;
  output_tokens += o.output_tokens;
  ttft_sum += o.ttft_sum;
  ttft_count += o.ttft_count;
  itl_sum += o.itl_sum;
  itl_count += o.itl_count;
  prefill_queue_tokens = std::max(prefill_queue_tokens, o.prefill_queue_tokens);  // same workers
}

FrontendTotals ReadFrontendTotals(const std::vector<metrics::Sample>& samples) {
  FrontendTotals t;
  double unused = 0;
  SumHistogram(samples, "mint_frontend_request_duration_seconds", &unused, &t.requests);
  t.failed = Sum(samples, "mint_frontend_requests_total", {{"status", "5xx"}});
  t.received = Sum(samples, "mint_frontend_requests_received_total");
  t.input_tokens = Sum(samples, "mint_frontend_input_tokens_total");
  t.output_tokens = Sum(samples, "mint_frontend_output_tokens_total");
  SumHistogram(samples, "mint_frontend_time_to_first_token_seconds", &t.ttft_sum, &t.ttft_count);
  SumHistogram(samples, "mint_frontend_inter_token_latency_seconds", &t.itl_sum, &t.itl_count);
  t.prefill_queue_tokens = Sum(samples, "mint_prefill_queue_tokens");
  return t;
}

WorkerTotals ReadWorkerTotals(const std::vector<metrics::Sample>& samples) {
  WorkerTotals w;
  w.busy_seconds = Sum(samples, "mint_engine_busy_seconds_total");
  w.running = Sum(samples, "mint_engine_running_requests");
  w.kv_blocks = Sum(samples, "mint_kv_blocks", {{"state", "total"}});
  return w;
}

BusyByRole BusyTracker::Advance(const std::map<std::string, Reading>& now) {
  BusyByRole b;
  std::map<std::string, Last> next;
  for (const auto& [id, r] : now) {
    auto it = last_.find(id);
    const double d = Delta(it == last_.end() ? 0 : it->second.busy_seconds, r.busy_seconds);
    (r.role == "prefill" ? b.prefill : b.decode) += d;
    next[id] = {.busy_seconds = r.busy_seconds};
  }
  for (const auto& [id, l] : last_) {
    if (now.count(id) == 0 && l.missed + 1 < kForgetAfter) {
      next[id] = {.busy_seconds = l.busy_seconds, .missed = l.missed + 1};
    }
  }
  last_ = std::move(next);
  return b;
}

Observation Diff(const FrontendTotals& before, const FrontendTotals& after, double seconds) {
  Observation o;
  o.interval_s = seconds;
  o.requests = Delta(before.requests, after.requests);
  o.failed = Delta(before.failed, after.failed);
  o.has_arrivals = after.received > 0;
  o.arrived = Delta(before.received, after.received);
  if (o.requests > 0) {
    o.isl = Delta(before.input_tokens, after.input_tokens) / o.requests;
    o.osl = Delta(before.output_tokens, after.output_tokens) / o.requests;
  }
  const double ttft_n = Delta(before.ttft_count, after.ttft_count);
  if (ttft_n > 0) {
    o.ttft_s = Delta(before.ttft_sum, after.ttft_sum) / ttft_n;
    o.has_ttft = true;
  }
  const double itl_n = Delta(before.itl_count, after.itl_count);
  if (itl_n > 0) {
    o.itl_s = Delta(before.itl_sum, after.itl_sum) / itl_n;
    o.has_itl = true;
  }
  return o;
}

}  // namespace mint::planner
