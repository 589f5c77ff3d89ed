// TierIndex: which KV blocks one tier (host RAM, disk) holds, and which to evict next.
//
// Blocks are keyed by their chained sequence hash (core/hash.h), the same identity as in the
// engine's pool, so a prefix found in one tier is the same prefix in every other. Eviction is
// least recently used, leaf-first, as in BlockPool: a block whose child (a block naming it as
// parent) is also in this tier is not chosen before that child, so the tier keeps whole prefixes
// for as long as it can. Children are counted by parent hash whatever order blocks arrive in
// (the engine evicts tails first, so a child usually arrives before its parent). A pinned block
// (being read or written) is never chosen.
//
// Thread-safety: none; the owning tier serializes calls.
#pragma once

#include <cstdint>
#include <list>
#include <optional>
#include <span>
#include <unordered_map>

#include "core/hash.h"

namespace mint::kvstore {

class TierIndex {
 public:
  struct Entry {
    BlockHash hash = 0;
    std::optional<BlockHash> parent;
    uint64_t slot = 0;  // where the tier keeps it (a slab index, a file number)
  };

  bool Contains(BlockHash hash) const { return nodes_.count(hash) != 0; }
  size_t size() const { return nodes_.size(); }
  // The entry of a held block, or nullopt.
  std::optional<Entry> Find(BlockHash hash) const;
  // How many leading hashes are held.
  size_t CountPrefix(std::span<const BlockHash> hashes) const;

  // Adds an absent block as the most recently used.
  void Insert(const Entry& entry);
  // Makes a held block the most recently used; false if absent.
  bool Touch(BlockHash hash);
  // Pins are counted; false if absent.
  bool Pin(BlockHash hash);
  void Unpin(BlockHash hash);
  bool pinned(BlockHash hash) const;
  // The least recently used unpinned block without a held child, or nullopt.
  std::optional<Entry> Victim() const;
  // Drops a held block (pinned or not) and returns it; nullopt if absent.
  std::optional<Entry> Remove(BlockHash hash);

 private:
  struct Node {
    Entry entry;
    int32_t pins = 0;
    std::list<BlockHash>::iterator lru;
  };
  std::unordered_map<BlockHash, Node> nodes_;
  std::unordered_map<BlockHash, int32_t> children_;  // by parent hash: held blocks naming it
  std::list<BlockHash> lru_;                         // least recently used first
};

}  // namespace mint::kvstore
