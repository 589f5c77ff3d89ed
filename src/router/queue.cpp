#include "router/queue.h"

#include <string>

namespace mint::router {

Result<QueuePolicy> ParseQueuePolicy(std::string_view name) {
  if (name == "fcfs") return QueuePolicy::kFcfs;
  if (name == "wspt") return QueuePolicy::kWspt;
  return Status::InvalidArgument("unknown router queue policy '" + std::string(name) +
                                 "' (fcfs|wspt)");
}

const char* QueuePolicyName(QueuePolicy policy) {
  return policy == QueuePolicy::kFcfs ? "fcfs" : "wspt";
}

RouterQueue::RouterQueue(QueuePolicy policy, double max_age_s)
    : policy_(policy), max_age_s_(max_age_s) {}

void RouterQueue::Push(uint64_t id, double now_s, double predicted_prefill_s) {
  Remove(id);
  const Entry e{.key = policy_ == QueuePolicy::kWspt ? predicted_prefill_s : now_s,
                .arrival = now_s,
                .seq = next_seq_++,
                .id = id};
  by_key_.insert(e);
  by_arrival_.insert(e);
  by_id_.emplace(id, e);
}

void RouterQueue::Erase(const Entry& e) {
  by_key_.erase(e);
  by_arrival_.erase(e);
  by_id_.erase(e.id);
}

std::optional<uint64_t> RouterQueue::Pop(double now_s) {
  if (by_id_.empty()) return std::nullopt;
  // The oldest first once it is over age; otherwise the policy's order.
  const Entry oldest = *by_arrival_.begin();
  const Entry e = now_s - oldest.arrival >= max_age_s_ ? oldest : *by_key_.begin();
  Erase(e);
  return e.id;
}

void RouterQueue::Remove(uint64_t id) {
  auto it = by_id_.find(id);
  if (it != by_id_.end()) Erase(it->second);
}

}  // namespace mint::router
