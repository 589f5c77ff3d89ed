// What the planner reads each interval: cumulative totals from scrapes of the frontends' and
// workers' /metrics (metrics::ParsePrometheus samples), and the interval's observation as the
// difference of two reads.
//
// Thread-safety: pure functions on values.
#pragma once

#include <vector>

#include "metrics/metrics.h"

namespace mint::planner {

// A frontend's cumulative counters (summed over label sets and over frontends by Add).
struct FrontendTotals {
  double requests = 0;  // finished (the request-duration histogram's count)
  double failed = 0;    // finished with a 5xx
  double input_tokens = 0, output_tokens = 0;
  double ttft_sum = 0, ttft_count = 0;
  double itl_sum = 0, itl_count = 0;
  double prefill_queue_tokens = 0;  // a gauge: prompt tokens queued on prefill workers now
  void Add(const FrontendTotals& o);
};
FrontendTotals ReadFrontendTotals(const std::vector<metrics::Sample>& samples);

// A worker's state from its /metrics.
struct WorkerTotals {
  double busy_seconds = 0;  // cumulative step time (mint_engine_busy_seconds_total)
  double running = 0;       // sequences running now
  double kv_blocks = 0;     // its KV cache, blocks
};
WorkerTotals ReadWorkerTotals(const std::vector<metrics::Sample>& samples);

// One interval: what arrived and how it was served. Means are 0 when there was nothing to
// average (has_ttft / has_itl false).
struct Observation {
  double interval_s = 0;
  double requests = 0;
  double failed = 0;
  double isl = 0, osl = 0;  // mean tokens per finished request
  double ttft_s = 0, itl_s = 0;
  bool has_ttft = false, has_itl = false;
};
// after - before over `seconds`; a counter that went down (a restarted frontend) counts from 0.
Observation Diff(const FrontendTotals& before, const FrontendTotals& after, double seconds);

}  // namespace mint::planner
