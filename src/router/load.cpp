#include "router/load.h"

namespace mint::router {

LoadTracker::Worker* LoadTracker::Current(const Request& r) {
  auto it = workers_.find(r.worker);
  if (it == workers_.end() || it->second.epoch != r.epoch) return nullptr;
  return &it->second;
}

void LoadTracker::OnRouted(uint64_t request_id, WorkerId worker, uint64_t blocks,
                           uint64_t prefill_tokens) {
  OnFinished(request_id);
  Worker& w = workers_[worker];
  w.since_report.active_blocks += blocks;
  w.since_report.prefill_tokens += prefill_tokens;
  ++w.since_report.seqs;
  requests_[request_id] = Request{worker, blocks, prefill_tokens, w.epoch};
}

void LoadTracker::OnPrefillDone(uint64_t request_id) {
  auto it = requests_.find(request_id);
  if (it == requests_.end()) return;
  Request& r = it->second;
  if (Worker* w = Current(r)) w->since_report.prefill_tokens -= r.prefill_tokens;
  r.prefill_tokens = 0;
}

void LoadTracker::OnFinished(uint64_t request_id) {
  auto it = requests_.find(request_id);
  if (it == requests_.end()) return;
  const Request& r = it->second;
  if (Worker* w = Current(r)) {
    w->since_report.active_blocks -= r.blocks;
    w->since_report.prefill_tokens -= r.prefill_tokens;
    --w->since_report.seqs;
  }
  requests_.erase(it);
}

void LoadTracker::UpdateFromWorker(WorkerId worker, const WorkerLoadReport& report) {
  Worker& w = workers_[worker];
  ++w.epoch;
  w.reported = WorkerLoad{report.active_blocks, report.waiting_prefill_tokens, report.seqs,
                          report.max_batched_tokens};
  w.since_report = WorkerLoad{};
}

void LoadTracker::RemoveWorker(WorkerId worker) {
  // Keep the entry with a new epoch, so the worker's old in-flight requests (which carry an
  // older epoch) never count again, even if the same id is added back.
  auto it = workers_.find(worker);
  if (it == workers_.end()) return;
  const uint64_t next_epoch = it->second.epoch + 1;
  it->second = Worker{};
  it->second.epoch = next_epoch;
}

WorkerLoad LoadTracker::Get(WorkerId worker) const {
  auto it = workers_.find(worker);
  if (it == workers_.end()) return {};
  const Worker& w = it->second;
  return WorkerLoad{w.reported.active_blocks + w.since_report.active_blocks,
                    w.reported.prefill_tokens + w.since_report.prefill_tokens,
                    w.reported.seqs + w.since_report.seqs, w.reported.max_batched_tokens};
}

}  // namespace mint::router
