// RouterQueue: requests held at the router while every worker is busy, instead of piled onto
// engines whose queues would grow anyway. Held requests wait in one place, so the one released
// when a worker frees up can be chosen by policy, and each is routed with the caches and loads of
// the moment it leaves, not of the moment it arrived.
//
// Policies (Dynamo's router queue has the same two):
//   kFcfs: first come, first served.
//   kWspt: weighted shortest processing time: the smallest predicted prefill first (its uncached
//          tokens on its best worker, in seconds), which minimizes mean TTFT when work is known.
//          A request that has waited max_age_s or longer goes before every younger one (oldest
//          first among them), so a long prompt waits at most about max_age_s plus the time to
//          release what was already over age ahead of it: no starvation.
//
// Thread-safety: not synchronized; the owner serializes calls.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string_view>
#include <unordered_map>

#include "core/status.h"

namespace mint::router {

enum class QueuePolicy { kFcfs, kWspt };
// "fcfs" | "wspt".
Result<QueuePolicy> ParseQueuePolicy(std::string_view name);
const char* QueuePolicyName(QueuePolicy policy);

class RouterQueue {
 public:
  explicit RouterQueue(QueuePolicy policy, double max_age_s = 10.0);

  // Holds request `id` (unique among held ones) that arrived at `now_s`, with its predicted
  // prefill time (WSPT's key; ignored by FCFS).
  void Push(uint64_t id, double now_s, double predicted_prefill_s);
  // The next request to release at `now_s`, removed from the queue; nullopt when empty.
  std::optional<uint64_t> Pop(double now_s);
  // Drops a held request (its client went away). Unknown ids are ignored.
  void Remove(uint64_t id);

  size_t size() const { return by_id_.size(); }
  bool empty() const { return by_id_.empty(); }
  QueuePolicy policy() const { return policy_; }

 private:
  struct Entry {
    double key;       // FCFS: arrival; WSPT: predicted prefill
    double arrival;
    uint64_t seq;     // push order: ties first-in first-out
    uint64_t id;
    bool operator<(const Entry& o) const {
      if (key != o.key) return key < o.key;
      return seq < o.seq;
    }
  };
  struct ByArrival {
    bool operator()(const Entry& a, const Entry& b) const {
      return a.arrival != b.arrival ? a.arrival < b.arrival : a.seq < b.seq;
    }
  };
  void Erase(const Entry& e);

  QueuePolicy policy_;
  double max_age_s_;
  uint64_t next_seq_ = 0;
  std::set<Entry> by_key_;
  std::set<Entry, ByArrival> by_arrival_;
  std::unordered_map<uint64_t, Entry> by_id_;
};

}  // namespace mint::router
