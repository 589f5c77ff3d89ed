#include "router/approx_indexer.h"

#include <cmath>

namespace mint::router {

ApproxIndexer::ApproxIndexer(ApproxConfig config, const Clock* clock)
    : config_(config), clock_(clock != nullptr ? clock : &SystemClock::Get()) {}

void ApproxIndexer::RecordRouted(WorkerId worker, std::span<const BlockHash> hashes) {
  Expire();
  const int64_t deadline =
      clock_->NowNanos() + static_cast<int64_t>(std::llround(config_.ttl_seconds * 1e9));
  WorkerLru& lru = workers_[worker];
  // Last block first, so that the request's first block ends up most recent.
  for (size_t i = hashes.size(); i-- > 0;) {
    const BlockHash h = hashes[i];
    auto it = lru.where.find(h);
    if (it != lru.where.end()) {
      it->second->deadline_ns = deadline;
      lru.order.splice(lru.order.begin(), lru.order, it->second);
      continue;
    }
    lru.order.push_front({h, deadline});
    lru.where.emplace(h, lru.order.begin());
    index_.AddBlocks(worker, std::span<const BlockHash>(&h, 1));
  }
  while (lru.order.size() > config_.max_blocks_per_worker) {
    const BlockHash h = lru.order.back().hash;
    lru.where.erase(h);
    lru.order.pop_back();
    index_.RemoveBlocks(worker, std::span<const BlockHash>(&h, 1));
  }
}

void ApproxIndexer::Expire() {
  const int64_t now = clock_->NowNanos();
  for (auto& [worker, lru] : workers_) {
    while (!lru.order.empty() && lru.order.back().deadline_ns <= now) {
      const BlockHash h = lru.order.back().hash;
      lru.where.erase(h);
      lru.order.pop_back();
      index_.RemoveBlocks(worker, std::span<const BlockHash>(&h, 1));
    }
  }
}

void ApproxIndexer::FindMatches(std::span<const BlockHash> request_hashes, OverlapScores* out) {
  Expire();
  index_.FindMatches(request_hashes, out);
}

OverlapScores ApproxIndexer::FindMatches(std::span<const BlockHash> request_hashes) {
  OverlapScores out;
  FindMatches(request_hashes, &out);
  return out;
}

void ApproxIndexer::RemoveWorker(WorkerId worker) {
  workers_.erase(worker);
  index_.RemoveWorker(worker);
}

}  // namespace mint::router
