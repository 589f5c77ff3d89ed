#include "router/in_flight.h"

#include <algorithm>

namespace mint::router {

void InFlightPrefixes::Add(uint64_t id, WorkerId worker, std::span<const BlockHash> hashes) {
  Remove(id);
  Request& r = requests_[id];
  r.worker = worker;
  r.hashes.assign(hashes.begin(), hashes.end());
  for (const BlockHash h : r.hashes) {
    if (refs_[{worker, h}]++ == 0) index_.AddBlocks(worker, std::span<const BlockHash>(&h, 1));
  }
}

void InFlightPrefixes::Release(const Request& r) {
  for (const BlockHash h : r.hashes) {
    auto it = refs_.find({r.worker, h});
    if (it == refs_.end()) continue;  // not reachable: every hash of a record holds a reference
    if (--it->second == 0) {
      refs_.erase(it);
      index_.RemoveBlocks(r.worker, std::span<const BlockHash>(&h, 1));
    }
  }
}

void InFlightPrefixes::Remove(uint64_t id) {
  auto it = requests_.find(id);
  if (it == requests_.end()) return;
  Release(it->second);
  requests_.erase(it);
}

void InFlightPrefixes::RemoveWorker(WorkerId worker) {
  for (auto it = requests_.begin(); it != requests_.end();) {
    if (it->second.worker == worker) {
      Release(it->second);
      it = requests_.erase(it);
    } else {
      ++it;
    }
  }
  index_.RemoveWorker(worker);
}

void InFlightPrefixes::FindMatches(std::span<const BlockHash> request_hashes,
                                   OverlapScores* out) const {
  index_.FindMatches(request_hashes, out);
}

void MaxOverlaps(const OverlapScores& a, const OverlapScores& b, OverlapScores* out) {
  out->scores.clear();
  size_t i = 0, j = 0;
  while (i < a.scores.size() || j < b.scores.size()) {
    if (j == b.scores.size() || (i < a.scores.size() && a.scores[i].worker < b.scores[j].worker)) {
      out->scores.push_back(a.scores[i++]);
    } else if (i == a.scores.size() || b.scores[j].worker < a.scores[i].worker) {
      out->scores.push_back(b.scores[j++]);
    } else {
      out->scores.push_back({a.scores[i].worker, std::max(a.scores[i].blocks, b.scores[j].blocks)});
      ++i;
      ++j;
    }
  }
}

}  // namespace mint::router
