// InFlightPrefixes: the blocks workers are computing right now. A request routed to worker W will
// leave its prompt's blocks cached on W, but W's KV events announce them only as its prefill
// stores them. Until then a second request with the same prefix would see no overlap anywhere and
// be routed by load alone, so that another worker computes the prefix again. Under load this
// feeds itself: queues lengthen the window in which prefixes are in flight, more requests miss,
// more prompt work follows (docs/perf.md, "Near saturation"). So the router counts a routed
// request's blocks as held by its worker from the decision until its first token (by then the
// worker's events have taken over), and uses, per worker, the larger of the indexed and the
// in-flight overlap.
//
// Requests are grouped by their first block's hash; matching compares the query with each
// tracked request of the same first block, so it costs the matched lengths, and recording or
// dropping a request costs one copy of its hashes (router_bench: BM_RouteDecision/256).
//
// Thread-safety: not synchronized; the owner (Router) serializes every call.
#pragma once

#include <cstdint>
#include <span>
#include <unordered_map>
#include <vector>

#include "core/hash.h"
#include "router/indexer.h"

namespace mint::router {

class InFlightPrefixes {
 public:
  // `hashes` (a request's blocks, in order) are being computed by `worker` for request `id`
  // (unique among tracked requests; a reused id replaces the old record).
  void Add(uint64_t id, WorkerId worker, std::span<const BlockHash> hashes);
  // The request's prefill is over (or it ended): its blocks no longer count. Unknown ids are
  // ignored.
  void Remove(uint64_t id);
  void RemoveWorker(WorkerId worker);

  // Overlaps as Indexer::FindMatches, over the in-flight blocks.
  void FindMatches(std::span<const BlockHash> request_hashes, OverlapScores* out) const;

  size_t num_requests() const { return requests_.size(); }

 private:
  struct Request {
    WorkerId worker;
    std::vector<BlockHash> hashes;  // non-empty
  };

  std::unordered_map<uint64_t, Request> requests_;
  std::unordered_multimap<BlockHash, uint64_t> by_first_block_;  // -> request ids
};

// Per worker, the larger of a's and b's overlap (both sorted by worker id, as FindMatches gives).
void MaxOverlaps(const OverlapScores& a, const OverlapScores& b, OverlapScores* out);

}  // namespace mint::router
