// LoadTracker: the router's estimate of each worker's load, in the two quantities the KV cost
// uses: active KV blocks (decode load) and prompt tokens waiting for prefill.
//
// The router adds a request's blocks and prefill tokens to its worker when it routes it, drops
// the prefill tokens when the first token arrives (OnPrefillDone) and everything when the request
// finishes (OnFinished). A worker's own report (UpdateFromWorker) replaces the estimate: after a
// report, load = reported values + the requests routed *since* that report (assumed not yet in
// it) that are still in their phase. Requests routed before the report are assumed to be in it,
// so their later completion changes nothing until the next report. This is exact when reports are
// instantaneous; a report that lags a request by its transit time undercounts that request until
// the next report. Before any report, load = the router's own records alone.
//
// Thread-safety: not synchronized; the owner (Router) serializes every call.
#pragma once

#include <cstdint>
#include <unordered_map>

#include "router/indexer.h"

namespace mint::router {

struct WorkerLoad {
  uint64_t active_blocks = 0;
  uint64_t prefill_tokens = 0;  // waiting for (or in) prefill
  uint64_t seqs = 0;            // requests running or waiting on the worker
  int64_t max_batched_tokens = 0;  // the worker's tokens per step; 0 = not reported
};

struct WorkerLoadReport {
  uint64_t active_blocks = 0;           // KV blocks in use by running requests
  uint64_t waiting_prefill_tokens = 0;  // prompt tokens not yet prefilled (queued or running)
  uint64_t seqs = 0;                    // requests running or waiting
  int64_t max_batched_tokens = 0;       // tokens per step (0 = unknown)
};

class LoadTracker {
 public:
  // Records a routed request (ids are the caller's, unique among in-flight requests; a reused
  // in-flight id replaces the old record).
  void OnRouted(uint64_t request_id, WorkerId worker, uint64_t blocks, uint64_t prefill_tokens);
  // The request's first token arrived: its prefill tokens are no longer waiting. Idempotent;
  // unknown ids are ignored.
  void OnPrefillDone(uint64_t request_id);
  // The request ended (finished, failed or cancelled). Unknown ids are ignored.
  void OnFinished(uint64_t request_id);
  void UpdateFromWorker(WorkerId worker, const WorkerLoadReport& report);
  // Forgets the worker; its in-flight requests stay known (so OnFinished works) but count nowhere.
  void RemoveWorker(WorkerId worker);

  WorkerLoad Get(WorkerId worker) const;  // zeros for an unknown worker
  size_t in_flight() const { return requests_.size(); }

 private:
  struct Request {
    WorkerId worker;
    uint64_t blocks;
    uint64_t prefill_tokens;  // 0 once prefill is done
    uint64_t epoch;           // the worker's report epoch when routed
  };
  struct Worker {
    uint64_t epoch = 0;  // number of reports received
    WorkerLoad reported;
    WorkerLoad since_report;  // requests routed in the current epoch, still in their phase
  };

  Worker* Current(const Request& r);  // the worker if `r` is counted in its since_report

  std::unordered_map<uint64_t, Request> requests_;
  std::unordered_map<WorkerId, Worker> workers_;
};

}  // namespace mint::router
