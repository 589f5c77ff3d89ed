// Router overhead metrics: latency histograms (metrics::Histogram, in seconds) and the stats
// snapshot types.
//
// Thread-safety: LatencyHistogram::RecordNanos and Snapshot are lock-free (relaxed atomics) and
// may run concurrently; a snapshot taken during records may be off by the records in flight.
#pragma once

#include <cstdint>
#include <vector>

#include "metrics/metrics.h"
#include "router/indexer.h"

namespace mint::router {

using metrics::HistogramSnapshot;

// A histogram of the router's own overhead, in seconds: 1-2-5 steps from 0.5 µs to 1 s.
class LatencyHistogram {
 public:
  LatencyHistogram();
  void RecordNanos(int64_t nanos);
  HistogramSnapshot Snapshot() const { return h_.Snapshot(); }

 private:
  metrics::Histogram h_;
};

struct WorkerRouteStats {
  WorkerId worker = 0;
  uint64_t chosen = 0;          // requests routed to it
  uint64_t overlap_blocks = 0;  // sum of the predicted cached blocks of those requests
  uint64_t request_blocks = 0;  // sum of their blocks
};

struct RouterStats {
  HistogramSnapshot hashing;              // recorded by the caller (RecordHashingNanos)
  HistogramSnapshot find_matches;         // indexer lookups inside Route
  HistogramSnapshot decision;             // the whole Route call, lock wait included
  std::vector<WorkerRouteStats> workers;  // every worker ever chosen or registered, by id
  uint64_t requests = 0;
  uint64_t request_blocks = 0;
  uint64_t overlap_blocks = 0;
  // overlap_blocks / request_blocks: the hit rate the router predicts, to compare with the
  // workers' reported prefix-cache hit rate. 0 with no requests.
  double predicted_hit_rate = 0;
  uint64_t events_applied = 0;
  uint64_t event_gaps = 0;    // events applied after a gap in ids (re-sync advised)
  uint64_t events_stale = 0;  // events skipped as already applied
  size_t indexed_blocks = 0;  // distinct hashes (exact or approximate index)
  size_t index_memory_bytes = 0;
};

}  // namespace mint::router
