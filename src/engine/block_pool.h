// BlockPool: the bookkeeping of the paged KV cache — which fixed-size blocks are free, which
// sequences reference which blocks, and which full blocks are cached for prefix reuse. It owns no
// KV memory (the model's KvArena does); a block id indexes both.
//
// Prefix cache. A full block's identity is its chained sequence hash (core/hash.h, salted by the
// pool's namespace salt). Blocks are reference-counted; a block whose last reference is released
// stays cached (evictable) until its memory is needed. Allocation takes never-used / uncached
// blocks first, then evicts cached blocks least-recently-released first, leaf-first: a cached
// block with cached children (blocks registered with it as parent) is not evicted before them, so
// what the cache holds is always a set of complete prefixes. Release a sequence's blocks tail
// first (Release does this: it walks the span backwards) so its tail is evicted before its head.
// If no evictable block is a leaf (its cached descendants are all referenced, which happens when
// two sequences prefilled the same prefix concurrently and one holds an uncached duplicate), the
// least recently released one is evicted together with its cached descendants, the referenced
// ones just becoming uncached: so every block num_free() counts can really be allocated.
//
// Events (kv_events.h): Commit emits Stored, eviction in Allocate emits Removed (one event per
// Allocate call), Reset emits Cleared. Subscribers get events synchronously, in id order.
//
// Thread-safety: none. A BlockPool belongs to one thread (the engine loop or a mocker); callers
// serialize access.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <unordered_map>
#include <vector>

#include "core/hash.h"
#include "engine/kv_events.h"

namespace mint::engine {

using BlockId = int32_t;

struct BlockPoolConfig {
  int32_t num_blocks = 0;   // > 0
  int32_t block_size = 16;  // tokens per block, > 0
  // false: Commit and AcquireCached do nothing (no stats), nothing is ever cached, no events.
  bool enable_prefix_cache = true;
  uint64_t salt = 0;  // LoRA / namespace salt for block hashes
};

struct BlockPoolStats {
  int32_t num_blocks = 0;
  int32_t used = 0;            // referenced by at least one sequence
  int32_t cached = 0;          // cached (registered hash), referenced or not
  int32_t evictable = 0;       // cached and unreferenced
  int32_t free = 0;            // allocatable: never-used/uncached + evictable
  uint64_t lookup_blocks = 0;  // blocks asked for by AcquireCached (cumulative)
  uint64_t hit_blocks = 0;     // of those, found cached (cumulative)
  uint64_t evictions = 0;      // cumulative
  double usage() const { return num_blocks ? static_cast<double>(used) / num_blocks : 0; }
  double hit_rate() const {
    return lookup_blocks ? static_cast<double>(hit_blocks) / lookup_blocks : 0;
  }
};

class BlockPool {
 public:
  explicit BlockPool(const BlockPoolConfig& config);

  const BlockPoolConfig& config() const { return config_; }
  int32_t block_size() const { return config_.block_size; }
  // Blocks Allocate can hand out now (free + evictable).
  int32_t num_free() const;
  BlockPoolStats Stats() const;

  // Longest prefix of `hashes` that is cached, without taking references or counting stats.
  int32_t CountCached(std::span<const BlockHash> hashes) const;
  // Takes a reference on each block of the longest cached prefix of `hashes` and returns their
  // ids (in order). Counts hashes.size() lookups and the result's size as hits. A cached block
  // that was evictable stops being evictable.
  std::vector<BlockId> AcquireCached(std::span<const BlockHash> hashes);

  // Appends `n` fresh blocks (reference count 1, uncached) to *out and returns true; evicts
  // cached blocks as needed (emitting one Removed event). Returns false and changes nothing if
  // fewer than n blocks are free.
  bool Allocate(int32_t n, std::vector<BlockId>* out);

  // Drops one reference on each block, last block first. A block reaching zero references
  // becomes evictable if cached (most recently used), else free. Releasing a block that has no
  // reference aborts.
  void Release(std::span<const BlockId> blocks);

  // Registers full, computed blocks as cached: blocks[i] holds tokens
  // [i * block_size, (i + 1) * block_size) of `tokens` and has sequence hash hashes[i];
  // `parent` is the sequence hash of the block before blocks[0] (nullopt for a sequence's first
  // block). A block whose hash is already cached (on another block) stays uncached; a block
  // already cached is skipped. A block whose parent hash is not cached (say the parent was
  // uncached by a Reset) stays uncached too, so the cache always holds complete prefixes. The
  // newly cached blocks are consecutive; emits one Stored event for them, if any.
  // Preconditions (abort if violated): blocks referenced by the caller; spans of equal length;
  // tokens sized to match; a block already cached has hashes[i] as its hash.
  void Commit(std::span<const BlockId> blocks, std::span<const BlockHash> hashes,
              std::optional<BlockHash> parent, std::span<const int32_t> tokens);

  // Uncaches every block (referenced ones stay allocated, unreferenced ones become free) and
  // emits Cleared (unless the prefix cache is disabled).
  void Reset();

  // Observers of block contents (a tiered KV cache copies blocks out through them; kv_connector.h).
  // on_evict runs for each cached block an Allocate evicts, before its id is handed out again, so
  // its KV is still intact; on_commit runs for each block Commit newly caches. Both run inside
  // the call, on the pool's thread. Empty functions: none.
  using BlockObserver =
      std::function<void(BlockId block, BlockHash hash, std::optional<BlockHash> parent)>;
  void SetObservers(BlockObserver on_evict, BlockObserver on_commit);

  // Subscribers: called for every later event. A subscriber that joins late takes Snapshot()
  // first (same thread, so nothing happens in between) and continues from its last_event_id.
  void AddSubscriber(KvEventSink* sink);
  // Delivers an event from outside the pool (a tier's, id 0) to the subscribers as it is.
  void PublishExternal(const KvEvent& event);
  void RemoveSubscriber(KvEventSink* sink);
  KvSnapshot Snapshot() const;
  uint64_t last_event_id() const { return next_event_id_ - 1; }

  // The cached hash of a block, if any (tests, debugging). Block ids out of range abort here and
  // everywhere else.
  std::optional<BlockHash> CachedHash(BlockId block) const;
  int32_t RefCount(BlockId block) const;

 private:
  static constexpr BlockId kNoBlock = -1;

  // Per-block state. A block is in exactly one of three places: referenced (ref_count > 0),
  // the free list (unreferenced, uncached) or the LRU list (unreferenced, cached = evictable).
  struct Block {
    int32_t ref_count = 0;
    std::optional<BlockHash> hash;         // set while cached
    std::optional<BlockHash> parent_hash;  // while cached: the sequence hash before this block
    std::vector<int32_t> tokens;           // while cached: block_size token ids (for Snapshot)
    // The cache forest, valid while cached: `parent` is the block caching parent_hash (kNoBlock
    // for a root); children form an intrusive doubly-linked sibling list.
    BlockId parent = kNoBlock;
    int32_t cached_children = 0;
    BlockId first_child = kNoBlock;
    BlockId prev_sibling = kNoBlock;
    BlockId next_sibling = kNoBlock;
    BlockId lru_prev = kNoBlock;  // LRU links, valid while evictable
    BlockId lru_next = kNoBlock;
  };

  void Emit(KvEvent event);
  void CheckBlockId(BlockId block) const;
  void LruPushBack(BlockId block);
  void LruUnlink(BlockId block);
  // Moves at least one evictable block to the free list, uncaching it and appending the hashes
  // it uncaches to *removed. Precondition: the LRU list is not empty.
  void EvictOne(std::vector<BlockHash>* removed);
  // Uncaches `root` and all its cached descendants, children before parents; unreferenced ones
  // move from the LRU list to the free list, referenced ones stay allocated.
  void EvictSubtree(BlockId root, std::vector<BlockHash>* removed);
  // Drops one block's cache registration: hash map entry, link in its parent's child list, tokens.
  // Precondition: no cached children.
  void Uncache(BlockId block);

  BlockPoolConfig config_;
  uint64_t next_event_id_ = 1;
  std::vector<KvEventSink*> subscribers_;

  std::vector<Block> blocks_;                      // indexed by BlockId
  std::vector<BlockId> free_list_;                 // stack; back() is allocated next
  BlockObserver on_evict_, on_commit_;
  BlockId lru_head_ = kNoBlock;                    // least recently released evictable block
  BlockId lru_tail_ = kNoBlock;                    // most recently released
  int32_t num_evictable_ = 0;                      // length of the LRU list
  int32_t num_used_ = 0;                           // blocks with ref_count > 0
  std::unordered_map<BlockHash, BlockId> cached_;  // hash -> the one block caching it
  uint64_t lookup_blocks_ = 0;
  uint64_t hit_blocks_ = 0;
  uint64_t evictions_ = 0;
};

}  // namespace mint::engine
