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
// Blocks are reference-counted per worker (several in-flight requests may share a prefix); the
// index over them is an Indexer fed by direct edits, so matching costs what the event index's
// does.
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
  size_t num_worker_blocks() const { return index_.num_worker_blocks(); }

 private:
  struct Request {
    WorkerId worker;
    std::vector<BlockHash> hashes;
  };
  struct WorkerBlock {
    WorkerId worker;
    BlockHash hash;
    bool operator==(const WorkerBlock&) const = default;
  };
  struct WorkerBlockHash {
    size_t operator()(const WorkerBlock& b) const {
      return b.hash ^ (b.worker * 0x9E3779B97F4A7C15);
    }
  };

  void Release(const Request& r);

  std::unordered_map<uint64_t, Request> requests_;
  std::unordered_map<WorkerBlock, uint32_t, WorkerBlockHash> refs_;
  Indexer index_;
};

// Per worker, the larger of a's and b's overlap (both sorted by worker id, as FindMatches gives).
void MaxOverlaps(const OverlapScores& a, const OverlapScores& b, OverlapScores* out);

}  // namespace mint::router
