// HostTier: KV blocks in host RAM, a slab of fixed-size slots under a TierIndex.
//
// On a GPU worker this is the pinned-host tier under device memory. On a CPU worker the engine's
// pool is host RAM too, so this tier's purpose is different: the engine's pool is allocated up
// front for the scheduler's working set (every block of it is a block the step loop may write),
// while this slab is touched only as blocks are offloaded, so a worker can keep many more
// evicted prefixes than it runs at once without committing that memory at start. It is also
// where blocks wait to be written to the disk tier.
//
// Thread-safety: every method is thread-safe (one mutex). Copies into and out of a slot happen
// outside the lock while the slot is pinned.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <span>
#include <vector>

#include "core/hash.h"
#include "core/memory.h"
#include "core/status.h"
#include "kvstore/tier_index.h"

namespace mint::kvstore {

struct HostTierStats {
  int64_t capacity_blocks = 0;
  int64_t blocks = 0;
  uint64_t block_bytes = 0;
  uint64_t stored = 0;   // blocks written in, cumulative
  uint64_t evicted = 0;  // cumulative
  uint64_t hits = 0;     // blocks read out (onboarded), cumulative
  uint64_t refused = 0;  // Put with every block pinned, cumulative
};

class HostTier {
 public:
  // capacity_blocks > 0, block_bytes > 0. Memory is reserved, not touched.
  static Result<std::unique_ptr<HostTier>> Create(int64_t capacity_blocks, uint64_t block_bytes);

  uint64_t block_bytes() const { return block_bytes_; }
  bool Contains(BlockHash hash) const;
  size_t CountPrefix(std::span<const BlockHash> hashes) const;
  // Makes a held block the most recently used; false if absent.
  bool Touch(BlockHash hash);

  // Copies `bytes` (block_bytes of them) in under `hash` unless it is held already (then it is
  // only touched; *inserted false). Evicts least recently used leaves to make room, appending
  // their hashes to *evicted; returns false (storing nothing) when every slot is pinned.
  bool Put(BlockHash hash, std::optional<BlockHash> parent, const uint8_t* bytes,
           std::vector<BlockHash>* evicted, bool* inserted = nullptr);

  // Pins a held block and returns its bytes (valid until Release), or null if absent. A pinned
  // block is never evicted. Counts a hit and touches it when `hit`.
  const uint8_t* Acquire(BlockHash hash, bool hit);
  void Release(BlockHash hash);
  // The parent hash of a held block.
  std::optional<std::optional<BlockHash>> Parent(BlockHash hash) const;

  HostTierStats Stats() const;

 private:
  HostTier(int64_t capacity_blocks, uint64_t block_bytes, LargeBuffer memory);
  uint8_t* SlotBytes(uint64_t slot) const { return memory_.get() + slot * block_bytes_; }

  const int64_t capacity_;
  const uint64_t block_bytes_;
  LargeBuffer memory_;
  mutable std::mutex mu_;
  TierIndex index_;             // guarded by mu_
  std::vector<uint64_t> free_;  // guarded by mu_
  HostTierStats stats_;         // guarded by mu_
};

}  // namespace mint::kvstore
