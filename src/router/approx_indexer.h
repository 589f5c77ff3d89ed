// ApproxIndexer: the router's guess of each worker's prefix cache when workers send no KV events
// (`--no-kv-events`). After a request is routed to worker W, W is assumed to hold the request's
// blocks for `ttl` (refreshed whenever another routed request touches them); each worker holds at
// most `max_blocks_per_worker` predictions, the least recently routed going first. Within one
// request the first block counts as the most recent, so a bound evicts a chain's tail before its
// root, as an engine would.
//
// Expiry is lazy: every call first drops predictions whose deadline (clock time) has passed.
// With one TTL for all, recency order is deadline order, so this costs O(expired).
//
// Thread-safety: not synchronized; the owner (Router) serializes every call. The clock must
// outlive the indexer.
#pragma once

#include <cstdint>
#include <list>
#include <span>
#include <unordered_map>

#include "core/clock.h"
#include "core/hash.h"
#include "router/indexer.h"

namespace mint::router {

struct ApproxConfig {
  double ttl_seconds = 120.0;              // > 0
  size_t max_blocks_per_worker = 1 << 17;  // > 0
};

class ApproxIndexer {
 public:
  // `clock` is not owned; null = SystemClock.
  explicit ApproxIndexer(ApproxConfig config, const Clock* clock = nullptr);

  // Records that `hashes` (a request's blocks, in order) were routed to `worker`.
  void RecordRouted(WorkerId worker, std::span<const BlockHash> hashes);

  // Overlaps as Indexer::FindMatches, over the unexpired predictions.
  void FindMatches(std::span<const BlockHash> request_hashes, OverlapScores* out);
  OverlapScores FindMatches(std::span<const BlockHash> request_hashes);

  void RemoveWorker(WorkerId worker);
  // Drops expired predictions now (every other call does this first anyway).
  void Expire();

  size_t WorkerBlockCount(WorkerId worker) const { return index_.WorkerBlockCount(worker); }
  size_t num_blocks() const { return index_.num_blocks(); }
  size_t MemoryBytes() const { return index_.MemoryBytes(); }  // excludes the LRU lists

 private:
  struct Entry {
    BlockHash hash;
    int64_t deadline_ns;
  };
  struct WorkerLru {
    std::list<Entry> order;  // front = most recent
    std::unordered_map<BlockHash, std::list<Entry>::iterator> where;
  };

  ApproxConfig config_;
  const Clock* clock_;
  Indexer index_;
  std::unordered_map<WorkerId, WorkerLru> workers_;
};

}  // namespace mint::router
