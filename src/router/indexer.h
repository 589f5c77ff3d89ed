// Indexer: which workers hold which KV blocks, fed by the workers' KV events; answers "how many
// leading blocks of this request does each worker already have cached".
//
// Structure. Block hashes are the engine's chained sequence hashes (core/hash.h): a block's hash
// identifies its whole prefix, so the radix tree (prefix tree) over blocks needs no explicit
// edges — a flat hash map from block hash to node is that tree with every node addressable in
// one probe, and walking a request's hashes in order walks the tree from its root. A node is a
// bitset of worker slots (one bit per registered worker; 64 workers = one 8-byte word). Each
// worker also keeps the set of hashes it holds, so Cleared and RemoveWorker cost O(its blocks).
// Parents are not stored: matching never needs them (a worker's overlap is decided per block) and
// a Stored whose parent is unknown (a missed event) is still indexed. A node lives while any
// worker holds its block; a worker's membership is per block, so a Removed of a block with
// cached children (engines evict leaves first, but not every engine) drops exactly that block and
// FindMatches stops at it for that worker.
//
// Memory per indexed block, up to 64 workers: 16 bytes / load in the node table (8-byte hash +
// one 8-byte bitset word) plus 8 bytes / load per holding worker in that worker's set; table
// loads stay in [3/8, 3/4], so 32..64 bytes for a block on one worker. Measured by router_bench
// (64 workers, 1.0M blocks, 1.6 holders per block): 60 bytes per block, both by MemoryBytes()
// and by malloc'd bytes. Each further 64 worker slots add 8 bytes / load per block.
//
// Event ids: an event with id 0 is applied unchecked. Otherwise ids are per worker, expected to
// be last + 1 (the last starts at 0, or at a snapshot's last_event_id): a smaller or equal id is
// stale (already in the index: skipped), a larger one is applied and reported as a gap so the
// caller can ask the worker for a snapshot.
//
// Thread-safety: not synchronized; the owner (Router) serializes every call. Const methods may
// run concurrently with each other.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <unordered_map>
#include <vector>

#include "core/hash.h"
#include "router/flat_table.h"

namespace mint::router {

// A worker as the router knows it (the frontend maps its string ids to these).
using WorkerId = uint64_t;

// Mirrors engine::KvEvent (src/engine/kv_events.h) without depending on the engine.
struct KvCacheEvent {
  enum class Kind { kStored, kRemoved, kCleared };
  uint64_t id = 0;  // per-worker event id, monotonic from 1; 0 = not checked
  Kind kind = Kind::kStored;
  std::vector<BlockHash> block_hashes = {};   // Stored: consecutive blocks, parent first.
                                              // Removed: any blocks.
  std::optional<BlockHash> parent_hash = {};  // Stored only: the block before the first; unused
                                              // for matching (hashes are chained)
  // 0: the worker's pool (device); 1 host, 2 disk: a tier of its tiered KV cache (events of id 0,
  // applied by the Router to a per-tier index; Indexer itself ignores the field).
  uint8_t tier = 0;
};

struct WorkerOverlap {
  WorkerId worker = 0;
  uint32_t blocks = 0;  // leading request blocks the worker holds, consecutively from the first
};

// FindMatches' answer: only workers with an overlap > 0, sorted by worker id.
struct OverlapScores {
  std::vector<WorkerOverlap> scores = {};
  // The overlap of `worker` (0 if absent). O(log n).
  uint32_t Get(WorkerId worker) const;
};

class Indexer {
 public:
  enum class ApplyOutcome {
    kApplied,
    kAppliedAfterGap,  // applied, but ids skipped some events: the index may be stale
    kSkippedStale,     // id <= the worker's last id: already applied
  };

  Indexer();

  // Applies one event of `worker` (registering the worker if new). Stored of a block the worker
  // already holds and Removed of one it does not hold are no-ops.
  ApplyOutcome Apply(WorkerId worker, const KvCacheEvent& event);

  // Replaces everything known about `worker` with a snapshot: Cleared, then every block of
  // `blocks` (single-block Stored events, parents first; other kinds are ignored). Later events
  // continue from `last_event_id` + 1.
  void LoadSnapshot(WorkerId worker, std::span<const KvCacheEvent> blocks, uint64_t last_event_id);

  // Direct edits (the approximate indexer uses these; Apply is built on them).
  void AddBlocks(WorkerId worker, std::span<const BlockHash> hashes);
  void RemoveBlocks(WorkerId worker, std::span<const BlockHash> hashes);
  void ClearWorker(WorkerId worker);  // drops its blocks, keeps it registered (and its last id)

  // Drops the worker and all its blocks; its slot is reused.
  void RemoveWorker(WorkerId worker);

  // Per-worker overlap for a request's block hashes (in order). Stops following a worker at its
  // first miss and stops entirely once no worker remains. O(matched length × slot words).
  OverlapScores FindMatches(std::span<const BlockHash> request_hashes) const;
  // Same, reusing `out`'s storage.
  void FindMatches(std::span<const BlockHash> request_hashes, OverlapScores* out) const;

  bool HasBlock(WorkerId worker, BlockHash hash) const;
  size_t num_blocks() const { return nodes_.size(); }          // distinct hashes indexed
  size_t num_worker_blocks() const;                            // (worker, block) pairs
  size_t WorkerBlockCount(WorkerId worker) const;              // 0 for an unknown worker
  std::optional<uint64_t> LastEventId(WorkerId worker) const;  // nullopt: unknown worker
  std::vector<WorkerId> Workers() const;                       // sorted
  // Bytes held by the index's tables (not counting allocator overhead).
  size_t MemoryBytes() const;

 private:
  struct WorkerState {
    uint32_t slot = 0;
    uint64_t last_event_id = 0;
    FlatTable blocks{0};  // hashes this worker holds
  };

  WorkerState& GetOrAddWorker(WorkerId worker);
  void AddBlock(WorkerState& w, BlockHash hash);
  void RemoveBlock(WorkerState& w, BlockHash hash);
  void ClearBlocks(WorkerState& w);

  std::unordered_map<WorkerId, WorkerState> workers_;
  std::vector<WorkerId> slot_worker_;  // slot -> worker (meaningful while the slot is used)
  std::vector<uint64_t> used_slots_;   // bitset of slots in use, words_ words
  std::vector<uint32_t> free_slots_;
  FlatTable nodes_;  // block hash -> bitset of holder slots (nodes_.words() words)
};

}  // namespace mint::router
