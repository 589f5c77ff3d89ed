// KV events: what a block pool tells the outside world (a KV-aware router) about the blocks it
// holds in its prefix cache.
//
//   Stored  — consecutive blocks of one sequence became cached (reusable): their sequence hashes
//             (parent first), the hash of the block before the first (absent for a root block),
//             and their token ids (block_size per block).
//   Removed — cached blocks were evicted (or uncached); they can no longer be reused.
//   Cleared — every cached block was dropped at once (a reset).
//
// Every event carries an id, monotonic per engine and starting at 1 with no gaps, so a consumer
// that sees id N+2 after N knows it missed one and re-syncs from a snapshot.
//
// Tiers: events of the engine's own pool have tier kDevice. A tiered KV cache (src/kvstore)
// reports the blocks its host and disk tiers gain and lose as Stored / Removed with tier kHost /
// kDisk and id 0: outside the id sequence (a consumer applies them unchecked, as hints; snapshots
// hold only the device's blocks), as Dynamo's storage_tier.
//
// Thread-safety: KvEvent is a value. A KvEventSink is called on the thread that owns the block
// pool (the engine loop), in id order; it must return quickly (copy into a queue) and must not
// call back into the pool.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/hash.h"

namespace mint::engine {

enum class StorageTier : uint8_t { kDevice = 0, kHost = 1, kDisk = 2 };
const char* StorageTierName(StorageTier tier);

struct KvEvent {
  enum class Kind { kStored, kRemoved, kCleared };
  uint64_t id = 0;
  Kind kind = Kind::kStored;
  StorageTier tier = StorageTier::kDevice;
  std::vector<BlockHash> block_hashes;   // Stored: parent first. Removed: the evicted blocks.
  std::optional<BlockHash> parent_hash;  // Stored only
  std::vector<int32_t> token_ids;        // Stored only: block_size * block_hashes.size()
};

const char* KvEventKindName(KvEvent::Kind kind);

struct KvSnapshot;

class KvEventSink {
 public:
  virtual ~KvEventSink() = default;
  virtual void OnKvEvent(const KvEvent& event) = 0;
  // A late subscriber's starting state, delivered (by Engine::SubscribeKvEvents) on the same
  // thread as the events and before the first of them.
  virtual void OnKvSnapshot(const KvSnapshot& /*snapshot*/) {}
};

// Everything cached at one moment, as Stored events of one block each, parents before children;
// `last_event_id` is the id of the last event the snapshot includes, so a subscriber continues
// with last_event_id + 1. The blocks' own ids are 0: they are not part of the event stream.
struct KvSnapshot {
  uint64_t last_event_id = 0;
  std::vector<KvEvent> blocks;
};

}  // namespace mint::engine
