// The SLA planner's arithmetic: how many prefill and decode workers the next interval needs, from
// a timing profile (mocker/timing_model.h: the file `mint profile` writes and `mint configure`
// reads), the predicted load and the SLA, corrected by what the last interval measured (as
// Dynamo's planner does: observed latency / the profile's expected latency).
//
//   prefill: needed tokens/s = requests x isl / interval x min(1, prefill correction);
//            one worker gives isl / prefill_time(isl) tokens/s at full load, and is planned at
//            most min(max_utilization, 1 - prefill_time / TTFT SLA) busy (the second bound keeps
//            an M/M/1 queue's mean TTFT, prefill_time / (1 - utilization), within the SLA);
//            workers = ceil(needed / usable per worker).
//            With WorkerShape::decode_takes_prefill_overflow, one prefill worker fewer when that
//            costs no more workers in all: the remainder (busy seconds per second at full speed)
//            runs on the decode workers, whose count is then ceil(decode need + remainder), and
//            only if it fits their ITL headroom, decode workers x (1 - step time at their predicted
//            batch / ITL target) (a decode worker spending a share f of its time on prefill steps
//            stretches its mean ITL by about 1 / (1 - f)). At low load that can mean no prefill
//            worker (--min-prefill 0).
//            (A correction below 1, prefix-cache hits, lowers the need; above 1 queueing is
//            already in the measured rate, so it does not raise it.)
//   decode:  the ITL target is the SLA's ITL / decode correction; one worker runs the largest
//            batch b whose step time at context isl + osl / 2 meets it (within its KV capacity
//            and max_num_seqs), giving b / step_time(b) tokens/s, planned at most
//            max_utilization of it; needed tokens/s = requests x osl / interval; workers =
//            ceil(needed / usable per worker).
// Then each count is clamped to its bounds, and a total over the worker budget is shared out in
// proportion. ScaleDamper adds scale-down hysteresis on top.
//
// Thread-safety: pure functions; ScaleDamper belongs to one planner loop.
#pragma once

#include <cstdint>
#include <deque>
#include <string>

#include "mocker/timing_model.h"

namespace mint::planner {

struct Sla {
  double ttft_s = 2.0;
  double itl_s = 0.05;
};

// The next interval as predicted.
struct LoadForecast {
  double requests = 0;  // arriving in the interval
  double isl = 0;       // mean prompt tokens
  double osl = 0;       // mean output tokens
  double interval_s = 60;
};

// Observed / expected latency over the last interval; 1 when the profile was right (or nothing
// was observed).
struct Corrections {
  double prefill = 1;
  double decode = 1;
};

// One worker as deployed.
struct WorkerShape {
  int64_t kv_capacity_tokens = 0;  // a decode worker's KV cache, in tokens (<= 0: unbounded)
  int64_t max_num_seqs = 256;      // its batch limit
  double speedup = 1;              // it runs the profile this many times faster (a mocker's
                                   // --speedup): every profiled time is divided by it
  // Plan each worker at most this busy: headroom for Poisson bursts and for the interval it
  // takes to notice a ramp (--target-utilization).
  double max_utilization = 0.8;
  // The frontends prefill a prompt on its decode worker when every prefill worker has a queue
  // (conditional disaggregation: `--remote-prefill-max-queue`). The prefill count may then round
  // down, leaving the remainder to the decode workers, when their ITL headroom takes it
  // (--prefill-overflow decode).
  bool decode_takes_prefill_overflow = false;
};

struct ReplicaBounds {
  int min_prefill = 1, max_prefill = 64;
  int min_decode = 1, max_decode = 64;
  int max_workers = 0;  // prefill + decode at most; 0: no budget
};

struct ReplicaPlan {
  int prefill = 0;
  int decode = 0;
  double prefill_tokens_per_s = 0;             // needed (after correction)
  double prefill_tokens_per_s_per_worker = 0;  // one worker at the predicted isl, usable
  double decode_tokens_per_s = 0;              // needed
  double decode_tokens_per_s_per_worker = 0;   // one worker at the ITL target, usable
  int64_t decode_batch = 0;                    // sequences per decode worker at the ITL target
  // Prefill left to the decode workers, in busy seconds per second (worker-equivalents; 0: none),
  // and what their ITL headroom takes: decode workers x (1 - step time at the predicted load /
  // ITL target) (0 unless WorkerShape::decode_takes_prefill_overflow).
  double prefill_on_decode = 0;
  double decode_prefill_headroom = 0;
  bool ttft_unreachable = false;  // one prompt's prefill alone takes longer than the TTFT SLA
  bool itl_unreachable = false;   // even a batch of 1 misses the (corrected) ITL target
  bool capped = false;            // a bound or the budget cut a count
  // One line: counts and the numbers behind them.
  std::string Describe() const;
};

// Expected latencies from the profile, the denominators of the corrections: TTFT of one prompt
// of `isl` tokens alone, and the ITL of `batch` sequences at context `context` each.
double ExpectedTtftSeconds(const mocker::TimingModel& model, double isl, double speedup = 1);
double ExpectedItlSeconds(const mocker::TimingModel& model, double batch, double context,
                          int64_t kv_capacity_tokens, double speedup = 1);

ReplicaPlan PlanReplicas(const mocker::TimingModel& model, const LoadForecast& load, const Sla& sla,
                         const Corrections& corrections, const WorkerShape& worker,
                         const ReplicaBounds& bounds);

// Scale-down hysteresis: a larger count applies at once; a smaller one only once the last
// `down_intervals` decisions all asked for fewer than the current count, and then the largest of
// them (so a single quiet interval never drops workers a busy one needs back).
class ScaleDamper {
 public:
  explicit ScaleDamper(int down_intervals)
      : down_intervals_(down_intervals < 1 ? 1 : down_intervals) {}
  int Next(int current, int desired);

 private:
  int down_intervals_;
  std::deque<int> lower_;  // consecutive desired counts below current, newest last
};

}  // namespace mint::planner
