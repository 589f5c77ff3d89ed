#include "kvstore/host_tier.h"

#include <cstring>

namespace mint::kvstore {

Result<std::unique_ptr<HostTier>> HostTier::Create(int64_t capacity_blocks, uint64_t block_bytes) {
  if (capacity_blocks <= 0 || block_bytes == 0) {
    return Status::InvalidArgument("host KV tier: needs at least one block of a known size");
  }
  const uint64_t bytes = static_cast<uint64_t>(capacity_blocks) * block_bytes;
  LargeBuffer memory = AllocateLarge(bytes, /*huge_pages=*/false);
  if (memory == nullptr) {
    return Status::ResourceExhausted("host KV tier: cannot reserve " + std::to_string(bytes) +
                                     " bytes");
  }
  return std::unique_ptr<HostTier>(new HostTier(capacity_blocks, block_bytes, std::move(memory)));
}

HostTier::HostTier(int64_t capacity_blocks, uint64_t block_bytes, LargeBuffer memory)
    : capacity_(capacity_blocks), block_bytes_(block_bytes), memory_(std::move(memory)) {
  free_.reserve(static_cast<size_t>(capacity_blocks));
  for (int64_t i = capacity_blocks - 1; i >= 0; --i) free_.push_back(static_cast<uint64_t>(i));
  stats_.capacity_blocks = capacity_blocks;
  stats_.block_bytes = block_bytes;
}

bool HostTier::Contains(BlockHash hash) const {
  std::lock_guard lk(mu_);
  return index_.Contains(hash);
}

bool HostTier::Touch(BlockHash hash) {
  std::lock_guard lk(mu_);
  return index_.Touch(hash);
}

size_t HostTier::CountPrefix(std::span<const BlockHash> hashes) const {
  std::lock_guard lk(mu_);
  return index_.CountPrefix(hashes);
}

bool HostTier::Put(BlockHash hash, std::optional<BlockHash> parent, const uint8_t* bytes,
                   std::vector<BlockHash>* evicted, bool* inserted) {
  if (inserted != nullptr) *inserted = false;
  uint64_t slot = 0;
  {
    std::lock_guard lk(mu_);
    if (index_.Touch(hash)) return true;
    if (free_.empty()) {
      auto victim = index_.Victim();
      if (!victim) {
        ++stats_.refused;
        return false;
      }
      index_.Remove(victim->hash);
      free_.push_back(victim->slot);
      ++stats_.evicted;
      if (evicted != nullptr) evicted->push_back(victim->hash);
    }
    slot = free_.back();
    free_.pop_back();
  }
  // The slot is out of the free list and not yet indexed: nobody else reads or writes it.
  std::memcpy(SlotBytes(slot), bytes, block_bytes_);
  std::lock_guard lk(mu_);
  if (index_.Contains(hash)) {  // stored meanwhile by another thread
    free_.push_back(slot);
    return true;
  }
  index_.Insert({hash, parent, slot});
  ++stats_.stored;
  if (inserted != nullptr) *inserted = true;
  return true;
}

const uint8_t* HostTier::Acquire(BlockHash hash, bool hit) {
  std::lock_guard lk(mu_);
  auto e = index_.Find(hash);
  if (!e) return nullptr;
  index_.Pin(hash);
  if (hit) {
    index_.Touch(hash);
    ++stats_.hits;
  }
  return SlotBytes(e->slot);
}

void HostTier::Release(BlockHash hash) {
  std::lock_guard lk(mu_);
  index_.Unpin(hash);
}

std::optional<std::optional<BlockHash>> HostTier::Parent(BlockHash hash) const {
  std::lock_guard lk(mu_);
  auto e = index_.Find(hash);
  if (!e) return std::nullopt;
  return e->parent;
}

HostTierStats HostTier::Stats() const {
  std::lock_guard lk(mu_);
  HostTierStats s = stats_;
  s.blocks = static_cast<int64_t>(index_.size());
  return s;
}

}  // namespace mint::kvstore
