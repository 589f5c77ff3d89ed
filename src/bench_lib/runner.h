// Drives a workload against a server from one thread: fixed concurrency, an open-loop arrival
// process (Poisson or constant rate), trace replay at the requests' own arrival times, or
// multi-turn conversations (kConversations: `source` gives each conversation's first turn,
// started at `rate` per second; when turn t of a conversation ends well, `next_turn` gives turn
// t + 1, sent think_s later; a failed turn ends its conversation).
//
// Thread-safety: RunBench blocks the calling thread, runs its own io_context on it, and calls
// `progress` on that thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "bench_lib/client.h"
#include "bench_lib/rate_schedule.h"
#include "bench_lib/stats.h"
#include "bench_lib/workload.h"
#include "core/status.h"

namespace mint::bench {

struct RunOptions {
  enum class Mode { kConcurrency, kRate, kTrace, kConversations };
  ClientOptions client;
  Mode mode = Mode::kConcurrency;
  int concurrency = 1;                 // kConcurrency: requests in flight
  double rate = 1.0;                   // kRate: requests per second
  Arrival arrival = Arrival::kPoisson;  // kRate
  // kRate: the rate over time instead of `rate` (rate_schedule.h); the run ends with it.
  std::shared_ptr<const RateSchedule> schedule;
  uint64_t seed = 0;                   // kRate: arrival stream
  // Requests measured after warmup; 0 = until `duration_s` (or the source runs out).
  int64_t num_requests = 0;
  double duration_s = 0;  // 0 = no time limit; otherwise no request starts after warmup+duration
  double warmup_s = 0;    // requests starting before this are marked warmup (excluded)
  // Request `index`, or nullopt when the workload is exhausted. kTrace uses its arrival_s.
  std::function<std::optional<BenchRequest>(int64_t index)> source;
  // kConversations: the request after `done` in its conversation, or nullopt when it was the last.
  std::function<std::optional<BenchRequest>(const BenchRequest& done)> next_turn;
  double think_s = 0;  // kConversations: seconds between an answer and the next turn
  // Called after each completed request with (completed, in flight).
  std::function<void(int64_t completed, int64_t in_flight)> progress;
};

struct RunResult {
  std::vector<RequestRecord> records;  // in completion order
  double wall_s = 0;
  RunClock::time_point origin;  // time 0 of the records' run clock
};

Result<RunResult> RunBench(const RunOptions& options);

}  // namespace mint::bench
