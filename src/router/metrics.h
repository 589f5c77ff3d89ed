// Router overhead metrics: a tiny fixed-bucket latency histogram (the frontend has its own
// Prometheus types; the router cannot depend on the frontend), and the stats snapshot types.
//
// Thread-safety: LatencyHistogram::Record and Snapshot are lock-free (relaxed atomics) and may
// run concurrently; a snapshot taken during records may be off by the records in flight.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <vector>

#include "router/indexer.h"

namespace mint::router {

struct HistogramSnapshot {
  std::vector<double> upper_bounds_us;  // bucket i counts samples <= upper_bounds_us[i]; the
                                        // last bound is +inf
  std::vector<uint64_t> counts;         // per bucket (not cumulative)
  uint64_t count = 0;
  double sum_us = 0;
  // The upper bound of the bucket holding the q-quantile (0 < q <= 1); 0 when empty.
  double Quantile(double q) const;
  double MeanUs() const { return count == 0 ? 0 : sum_us / static_cast<double>(count); }
};

class LatencyHistogram {
 public:
  // Buckets: 1-2-5 series from 0.5 µs to 1 s, then +inf.
  static constexpr std::array<double, 20> kUpperBoundsUs = {
      0.5,  1,    2,    5,     10,    20,    50,  100, 200, 500,
      1000, 2000, 5000, 10000, 20000, 50000, 1e5, 2e5, 5e5, 1e6};

  void RecordNanos(int64_t nanos);
  HistogramSnapshot Snapshot() const;

 private:
  std::array<std::atomic<uint64_t>, kUpperBoundsUs.size() + 1> counts_{};
  std::atomic<uint64_t> count_{0};
  std::atomic<uint64_t> sum_ns_{0};
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
