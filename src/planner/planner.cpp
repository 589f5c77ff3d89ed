#include "planner/planner.h"

#include <algorithm>

#include <fmt/format.h>

namespace mint::planner {
namespace {

double Clamp(double c) { return std::clamp(c, 0.1, 10.0); }

}  // namespace

Result<std::unique_ptr<Planner>> Planner::Create(mocker::TimingModel model, PlannerConfig config) {
  if (!(config.interval_s > 0)) {
    return Status::InvalidArgument("--adjustment-interval must be > 0 seconds");
  }
  if (!(config.sla.ttft_s > 0) || !(config.sla.itl_s > 0)) {
    return Status::InvalidArgument("the SLA's ttft and itl must be > 0");
  }
  std::unique_ptr<Planner> p(new Planner(std::move(model), std::move(config)));
  MINT_ASSIGN_OR_RETURN(p->rate_, MakePredictor(p->config_.predictor));
  MINT_ASSIGN_OR_RETURN(p->isl_, MakePredictor(p->config_.predictor));
  MINT_ASSIGN_OR_RETURN(p->osl_, MakePredictor(p->config_.predictor));
  return p;
}

Decision Planner::Step(const Observation& o, const FleetState& fleet) {
  WorkerShape worker = config_.worker;
  if (worker.kv_capacity_tokens <= 0) worker.kv_capacity_tokens = fleet.kv_capacity_tokens;
  const double seconds = o.interval_s > 0 ? o.interval_s : config_.interval_s;
  rate_->Add(o.Offered() / seconds);
  if (o.requests > 0) {
    isl_->Add(o.isl);
    osl_->Add(o.osl);
  }
  // Corrections from what this interval measured (the last ones stand without data).
  if (config_.correct && o.has_ttft && o.isl > 0) {
    const double expected = ExpectedTtftSeconds(model_, o.isl, config_.worker.speedup);
    if (expected > 0) corrections_.prefill = Clamp(o.ttft_s / expected);
  }
  if (config_.correct && o.has_itl && o.requests > 0) {
    const double expected =
        ExpectedItlSeconds(model_, std::max(1.0, fleet.decode_running), o.isl + o.osl / 2,
                           worker.kv_capacity_tokens, worker.speedup);
    if (expected > 0) corrections_.decode = Clamp(o.itl_s / expected);
  }
  Decision d;
  d.predicted = {.requests = rate_->Predict() * config_.interval_s,
                 .isl = isl_->Predict(),
                 .osl = osl_->Predict(),
                 .interval_s = config_.interval_s};
  d.corrections = corrections_;
  d.plan = PlanReplicas(model_, d.predicted, config_.sla, corrections_, worker, config_.bounds);
  int prefill = d.plan.prefill;
  const double drain_rate =
      std::max(1, fleet.prefill) * std::max(1.0, d.plan.prefill_tokens_per_s_per_worker);
  if (fleet.prefill_queue_tokens / drain_rate > config_.sla.ttft_s / 2 &&
      fleet.prefill + 1 <= config_.bounds.max_prefill) {
    prefill = std::max(prefill, fleet.prefill + 1);
    d.queue_bump = true;
  }
  d.prefill = prefill_damper_.Next(fleet.prefill, prefill);
  d.decode = decode_damper_.Next(fleet.decode, d.plan.decode);
  return d;
}

std::string Decision::Describe(const Observation& o, const FleetState& fleet) const {
  auto change = [](int now, int want) {
    return now == want ? fmt::format("{}", now) : fmt::format("{} -> {}", now, want);
  };
  std::string why;
  if (queue_bump) {
    why = fmt::format(" ({:.0f} prompt tokens queued on the prefill workers)",
                      fleet.prefill_queue_tokens);
  } else if (plan.prefill != prefill || plan.decode != decode) {
    why = " (scale-down held by hysteresis)";
  }
  return fmt::format(
      "planner: prefill {}, decode {}{}; observed {:.1f} req/s arriving, {:.1f} finishing, isl "
      "{:.0f}, osl {:.0f}, TTFT {:.3f} s, ITL {:.1f} ms; predicted {:.1f} req/s, isl {:.0f}, osl "
      "{:.0f}; corrections prefill {:.2f} decode {:.2f}; plan {}",
      change(fleet.prefill, prefill), change(fleet.decode, decode), why,
      o.interval_s > 0 ? o.Offered() / o.interval_s : 0.0,
      o.interval_s > 0 ? o.requests / o.interval_s : 0.0, o.isl, o.osl, o.ttft_s, o.itl_s * 1e3,
      predicted.interval_s > 0 ? predicted.requests / predicted.interval_s : 0.0, predicted.isl,
      predicted.osl, corrections.prefill, corrections.decode, plan.Describe());
}

}  // namespace mint::planner
