// What the planner reads each interval: cumulative totals from scrapes of the frontends' and
// workers' /metrics (metrics::ParsePrometheus samples), and the interval's observation as the
// difference of two reads.
//
// Thread-safety: pure functions on values.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "metrics/metrics.h"

namespace mint::planner {

// A frontend's cumulative counters (summed over label sets and over frontends by Add).
struct FrontendTotals {
  double requests = 0;  // finished (the request-duration histogram's count)
  double received = 0;  // arrived (mint_frontend_requests_received_total; 0 from older frontends)
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

// Busy step time per role over one interval, from each worker's cumulative counter. Tracked per
// worker: a fleet-wide sum drops by a stopped worker's whole history when it leaves, which hid the
// interval's busy time at every scale-down. A worker first seen counts from 0 (it started during
// the interval); one whose counter went down restarted and counts from 0 too; one missing from a
// read (a scrape that failed) keeps its last value for kForgetAfter reads, so its return does not
// count its whole history again; after that it is forgotten (its last partial interval is lost).
struct BusyByRole {
  double prefill = 0;
  double decode = 0;  // decode and aggregated workers
  double total() const { return prefill + decode; }
};
class BusyTracker {
 public:
  struct Reading {
    std::string role;  // prefill | decode | agg
    double busy_seconds = 0;
  };
  // `now`: worker id -> its reading. Returns the busy time since the last call.
  BusyByRole Advance(const std::map<std::string, Reading>& now);
  static constexpr int kForgetAfter = 12;

 private:
  struct Last {
    double busy_seconds = 0;
    int missed = 0;  // reads in a row without this worker
  };
  std::map<std::string, Last> last_;  // worker id -> its last reading
};

// One interval: what arrived and how it was served. Means are 0 when there was nothing to
// average (has_ttft / has_itl false).
struct Observation {
  double interval_s = 0;
  double requests = 0;  // finished
  double failed = 0;
  // Arrived: the offered load. Finished requests lag it, and under overload they are capped by
  // the fleet's capacity, which would hide the demand a planner must meet. Without the
  // frontend's counter (has_arrivals false) the finished count stands in (Offered()).
  double arrived = 0;
  bool has_arrivals = false;
  double Offered() const { return has_arrivals ? arrived : requests; }
  double isl = 0, osl = 0;  // mean tokens per finished request
  double ttft_s = 0, itl_s = 0;
  bool has_ttft = false, has_itl = false;
};
// after - before over `seconds`; a counter that went down (a restarted frontend) counts from 0.
Observation Diff(const FrontendTotals& before, const FrontendTotals& after, double seconds);

}  // namespace mint::planner
