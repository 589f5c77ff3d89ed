#include "planner/replicas.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

namespace mint::planner {

double ExpectedTtftSeconds(const mocker::TimingModel& model, double isl, double speedup) {
  return model.PrefillMs(static_cast<int64_t>(std::llround(isl))) * 1e-3 /
         (speedup > 0 ? speedup : 1);
}

double ExpectedItlSeconds(const mocker::TimingModel& model, double batch, double context,
                          int64_t kv_capacity_tokens, double speedup) {
  const int64_t b = std::max<int64_t>(1, std::llround(batch));
  return model.DecodeMs(b, static_cast<int64_t>(std::llround(static_cast<double>(b) * context)),
                        kv_capacity_tokens) *
         1e-3 / (speedup > 0 ? speedup : 1);
}

namespace {

int Ceil(double x) { return x <= 0 ? 0 : static_cast<int>(std::ceil(x - 1e-9)); }

// A decode worker's step time when it carries `tokens_per_s`: that of the smallest batch below
// `best` that does, else `best_s` (the capacity batch's).
double StepAtLoad(const mocker::TimingModel& model, double tokens_per_s, int64_t best,
                  double best_s, double context, int64_t cap, double speedup) {
  for (int64_t b = 1; b < best; ++b) {
    const double s = ExpectedItlSeconds(model, static_cast<double>(b), context, cap, speedup);
    if (s > 0 && static_cast<double>(b) / s >= tokens_per_s) return s;
  }
  return best_s;
}

}  // namespace

ReplicaPlan PlanReplicas(const mocker::TimingModel& model, const LoadForecast& load, const Sla& sla,
                         const Corrections& corr, const WorkerShape& worker,
                         const ReplicaBounds& bounds) {
  ReplicaPlan p;
  const double interval = load.interval_s > 0 ? load.interval_s : 1;
  // Prefill.
  const double isl = std::max(1.0, load.isl);
  const double ttft = ExpectedTtftSeconds(model, isl, worker.speedup);
  p.ttft_unreachable = ttft > sla.ttft_s;
  const double headroom = std::clamp(worker.max_utilization, 0.05, 1.0);
  const double prefill_util = std::min(headroom, 1 - ttft / sla.ttft_s);
  p.prefill_tokens_per_s_per_worker = ttft > 0 ? isl / ttft * std::max(prefill_util, 0.05) : 0;
  p.prefill_tokens_per_s =
      load.requests * load.isl / interval * std::min(1.0, std::max(0.0, corr.prefill));
  // Decode.
  const double itl_target = sla.itl_s / (corr.decode > 0 ? corr.decode : 1);
  const double context = load.isl + load.osl / 2;
  const int64_t cap = worker.kv_capacity_tokens;
  int64_t best = 0;
  double best_s = 0;
  for (int64_t b = 1; b <= std::max<int64_t>(1, worker.max_num_seqs); ++b) {
    if (cap > 0 && static_cast<double>(b) * context > static_cast<double>(cap) && b > 1) break;
    const double s =
        ExpectedItlSeconds(model, static_cast<double>(b), context, cap, worker.speedup);
    if (s <= itl_target) {
      best = b;
      best_s = s;
    }
  }
  if (best == 0) {
    p.itl_unreachable = true;
    best = 1;
    best_s = ExpectedItlSeconds(model, 1, context, cap, worker.speedup);
  }
  p.decode_batch = best;
  p.decode_tokens_per_s_per_worker = best_s > 0 ? static_cast<double>(best) / best_s * headroom : 0;
  p.decode_tokens_per_s = load.requests * load.osl / interval;
  const double decode_exact = p.decode_tokens_per_s_per_worker > 0
                                  ? p.decode_tokens_per_s / p.decode_tokens_per_s_per_worker
                                  : bounds.max_decode;
  int decode = Ceil(decode_exact);
  int prefill = p.prefill_tokens_per_s_per_worker > 0
                    ? Ceil(p.prefill_tokens_per_s / p.prefill_tokens_per_s_per_worker)
                    : bounds.max_prefill;
  if (worker.decode_takes_prefill_overflow && prefill > bounds.min_prefill && ttft > 0 &&
      p.decode_tokens_per_s_per_worker > 0) {
    // One prefill worker fewer: the rest of the prefill, in busy seconds per second at full
    // speed, runs on the decode workers, whose time it takes from decoding.
    const int down = prefill - 1;
    const double left =
        (p.prefill_tokens_per_s - down * p.prefill_tokens_per_s_per_worker) * ttft / isl;
    const int decode_down = std::max(Ceil(decode_exact + left), std::max(1, bounds.min_decode));
    const double step = StepAtLoad(model, p.decode_tokens_per_s / decode_down, best, best_s,
                                   context, cap, worker.speedup);
    p.decode_prefill_headroom = decode_down * std::max(0.0, 1 - step / itl_target);
    // A tie goes to the decode workers too: as many workers, and the prefill ones busier.
    if (down + decode_down <= prefill + std::max(decode, bounds.min_decode) &&
        left <= p.decode_prefill_headroom) {
      prefill = down;
      decode = decode_down;
      p.prefill_on_decode = left;
    }
  }
  // Bounds, then the budget.
  const int p0 = prefill, d0 = decode;
  prefill =
      std::clamp(prefill, bounds.min_prefill, std::max(bounds.min_prefill, bounds.max_prefill));
  decode = std::clamp(decode, bounds.min_decode, std::max(bounds.min_decode, bounds.max_decode));
  if (bounds.max_workers > 0 && prefill + decode > bounds.max_workers) {
    const double scale = static_cast<double>(bounds.max_workers) / (prefill + decode);
    const int np = std::max(bounds.min_prefill, static_cast<int>(std::floor(prefill * scale)));
    decode = std::max(bounds.min_decode, bounds.max_workers - np);
    prefill = np;
  }
  p.capped = prefill < p0 || decode < d0;
  p.prefill = prefill;
  p.decode = decode;
  return p;
}

std::string ReplicaPlan::Describe() const {
  return fmt::format(
      "prefill {} (need {:.0f} tok/s, {:.0f} per worker{}{}), decode {} (need {:.1f} tok/s, "
      "{:.1f} per worker at batch {}{}){}",
      prefill, prefill_tokens_per_s, prefill_tokens_per_s_per_worker,
      ttft_unreachable ? ", one prefill alone misses the TTFT SLA" : "",
      prefill_on_decode > 0
          ? fmt::format(", {:.2f} worker's prefill to the decode workers, headroom {:.2f}",
                        prefill_on_decode, decode_prefill_headroom)
          : "",
      decode, decode_tokens_per_s, decode_tokens_per_s_per_worker, decode_batch,
      itl_unreachable ? ", batch 1 misses the ITL target" : "", capped ? ", capped by bounds" : "");
}

int ScaleDamper::Next(int current, int desired) {
  if (desired >= current) {
    lower_.clear();
    return desired;
  }
  lower_.push_back(desired);
  if (static_cast<int>(lower_.size()) < down_intervals_) return current;
  while (static_cast<int>(lower_.size()) > down_intervals_) lower_.pop_front();
  const int next = *std::max_element(lower_.begin(), lower_.end());
  lower_.clear();
  return next;
}

}  // namespace mint::planner
