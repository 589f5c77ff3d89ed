#include "kvstore/tier_index.h"

#include "core/status.h"

namespace mint::kvstore {

std::optional<TierIndex::Entry> TierIndex::Find(BlockHash hash) const {
  auto it = nodes_.find(hash);
  if (it == nodes_.end()) return std::nullopt;
  return it->second.entry;
}

size_t TierIndex::CountPrefix(std::span<const BlockHash> hashes) const {
  size_t n = 0;
  while (n < hashes.size() && Contains(hashes[n])) ++n;
  return n;
}

void TierIndex::Insert(const Entry& entry) {
  MINT_CHECK(!Contains(entry.hash));
  Node node;
  node.entry = entry;
  node.lru = lru_.insert(lru_.end(), entry.hash);
  nodes_.emplace(entry.hash, node);
  if (entry.parent) ++children_[*entry.parent];
}

bool TierIndex::Touch(BlockHash hash) {
  auto it = nodes_.find(hash);
  if (it == nodes_.end()) return false;
  lru_.splice(lru_.end(), lru_, it->second.lru);
  return true;
}

bool TierIndex::Pin(BlockHash hash) {
  auto it = nodes_.find(hash);
  if (it == nodes_.end()) return false;
  ++it->second.pins;
  return true;
}

void TierIndex::Unpin(BlockHash hash) {
  auto it = nodes_.find(hash);
  MINT_CHECK(it != nodes_.end() && it->second.pins > 0);
  --it->second.pins;
}

bool TierIndex::pinned(BlockHash hash) const {
  auto it = nodes_.find(hash);
  return it != nodes_.end() && it->second.pins > 0;
}

std::optional<TierIndex::Entry> TierIndex::Victim() const {
  for (BlockHash h : lru_) {
    const Node& n = nodes_.at(h);
    if (n.pins > 0) continue;
    auto c = children_.find(h);
    if (c != children_.end() && c->second > 0) continue;
    return n.entry;
  }
  return std::nullopt;
}

std::optional<TierIndex::Entry> TierIndex::Remove(BlockHash hash) {
  auto it = nodes_.find(hash);
  if (it == nodes_.end()) return std::nullopt;
  Entry e = it->second.entry;
  lru_.erase(it->second.lru);
  nodes_.erase(it);
  if (e.parent) {
    auto c = children_.find(*e.parent);
    if (--c->second == 0) children_.erase(c);
  }
  return e;
}

}  // namespace mint::kvstore
