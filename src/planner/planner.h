// The SLA planner's decision loop without its I/O: each interval, what the frontends observed
// (observe.h) and what the fleet is now go in; the desired prefill and decode worker counts come
// out, with the prediction, the corrections and the replica arithmetic behind them
// (replicas.h). `mint planner` scrapes, calls Step, and acts through a connector.
//
//   predict:  request rate, mean input and output length, each with its own predictor;
//   correct:  prefill = observed TTFT / the profile's TTFT at the observed input length,
//             decode = observed ITL / the profile's ITL at the decode workers' mean batch and
//             context isl + osl / 2 (kept from the last interval that had data, clamped to
//             [0.1, 10]);
//   decide:   PlanReplicas; then, reacting to now rather than to the forecast, one prefill worker
//             more when the tokens queued on the prefill workers would take longer than half
//             the TTFT SLA to drain at their usable throughput (a ramp the forecast has not caught
//             yet, or a profile that overrates the workers); then scale-down hysteresis per role.
//
// Thread-safety: one loop owns a Planner.
#pragma once

#include <memory>
#include <string>

#include "core/status.h"
#include "mocker/timing_model.h"
#include "planner/observe.h"
#include "planner/predictor.h"
#include "planner/replicas.h"

namespace mint::planner {

struct PlannerConfig {
  Sla sla = {};
  double interval_s = 60;  // --adjustment-interval
  PredictorOptions predictor = {};
  ReplicaBounds bounds = {};
  WorkerShape worker = {};
  int scale_down_intervals = 3;  // consecutive intervals wanting fewer before a scale-down
  bool correct = true;           // false: corrections stay 1 (the profile is taken as it is)
};

// The fleet as it is when the interval ends.
struct FleetState {
  int prefill = 0;            // prefill workers registered
  int decode = 0;             // decode workers registered
  double decode_running = 0;  // mean sequences running per decode worker
  // A decode worker's KV cache as its /metrics say (0: unknown; PlannerConfig::worker's then).
  int64_t kv_capacity_tokens = 0;
  double prefill_queue_tokens = 0;  // queued on the prefill workers now (their load reports)
};

struct Decision {
  int prefill = 0;  // desired, after hysteresis
  int decode = 0;
  LoadForecast predicted;
  Corrections corrections;
  ReplicaPlan plan;  // before hysteresis
  bool queue_bump = false;  // one prefill worker more for the queue seen now
  // One log line: observed, predicted, corrections, the plan and what changes.
  std::string Describe(const Observation& observed, const FleetState& fleet) const;
};

class Planner {
 public:
  // kInvalidArgument for a bad predictor, interval or SLA.
  static Result<std::unique_ptr<Planner>> Create(mocker::TimingModel model, PlannerConfig config);

  Decision Step(const Observation& observed, const FleetState& fleet);
  const PlannerConfig& config() const { return config_; }

 private:
  Planner(mocker::TimingModel model, PlannerConfig config)
      : model_(std::move(model)),
        config_(std::move(config)),
        prefill_damper_(config_.scale_down_intervals),
        decode_damper_(config_.scale_down_intervals) {}

  mocker::TimingModel model_;
  PlannerConfig config_;
  std::unique_ptr<Predictor> rate_, isl_, osl_;
  Corrections corrections_;
  ScaleDamper prefill_damper_, decode_damper_;
};

}  // namespace mint::planner
