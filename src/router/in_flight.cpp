#include "router/in_flight.h"

#include <algorithm>

namespace mint::router {

void InFlightPrefixes::Add(uint64_t id, WorkerId worker, std::span<const BlockHash> hashes) {
  Remove(id);
  if (hashes.empty()) return;
  requests_[id] = {worker, {hashes.begin(), hashes.end()}};
  by_first_block_.emplace(hashes[0], id);
}

void InFlightPrefixes::Remove(uint64_t id) {
  auto it = requests_.find(id);
  if (it == requests_.end()) return;
  auto [b, e] = by_first_block_.equal_range(it->second.hashes[0]);
  for (; b != e; ++b) {
    if (b->second == id) {
      by_first_block_.erase(b);
      break;
    }
  }
  requests_.erase(it);
}

void InFlightPrefixes::RemoveWorker(WorkerId worker) {
  std::vector<uint64_t> ids;
  for (const auto& [id, r] : requests_) {
    if (r.worker == worker) ids.push_back(id);
  }
  for (uint64_t id : ids) Remove(id);
}

void InFlightPrefixes::FindMatches(std::span<const BlockHash> request_hashes,
                                   OverlapScores* out) const {
  out->scores.clear();
  if (request_hashes.empty()) return;
  auto [b, e] = by_first_block_.equal_range(request_hashes[0]);
  for (; b != e; ++b) {
    const Request& r = requests_.at(b->second);
    const size_t n = std::min(r.hashes.size(), request_hashes.size());
    const uint32_t matched = static_cast<uint32_t>(
        std::mismatch(r.hashes.begin(), r.hashes.begin() + n, request_hashes.begin()).first -
        r.hashes.begin());
    auto at = std::find_if(out->scores.begin(), out->scores.end(),
                           [&](const WorkerOverlap& o) { return o.worker == r.worker; });
    if (at == out->scores.end()) {
      out->scores.push_back({r.worker, matched});
    } else {
      at->blocks = std::max(at->blocks, matched);
    }
  }
  std::sort(out->scores.begin(), out->scores.end(),
            [](const WorkerOverlap& a, const WorkerOverlap& c) { return a.worker < c.worker; });
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
