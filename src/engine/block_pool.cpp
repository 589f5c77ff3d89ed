// BlockPool implementation. Every block is in exactly one of three states:
//   referenced  ref_count > 0 (cached or not); counted by num_used_
//   free        ref_count == 0, uncached; on free_list_ (a stack)
//   evictable   ref_count == 0, cached; on the intrusive LRU list (lru_head_ = least recently
//               released)
// so free_list_.size() + num_evictable_ + num_used_ == num_blocks at all times.
//
// Cached blocks form a forest through their parent hashes (the cache always holds complete
// prefixes: Commit caches a block only under a cached parent, eviction takes leaves first).
// Each block keeps its children in an intrusive sibling list so that the rare eviction that
// cannot find an evictable leaf (see EvictOne) and Snapshot can walk subtrees.

#include "engine/block_pool.h"

#include <algorithm>
#include <utility>

#include "core/status.h"

namespace mint::engine {
namespace {

KvEvent EventOf(KvEvent::Kind kind) {
  KvEvent event;
  event.kind = kind;
  return event;
}

}  // namespace

BlockPool::BlockPool(const BlockPoolConfig& config) : config_(config) {
  MINT_CHECK(config_.num_blocks > 0);
  MINT_CHECK(config_.block_size > 0);
  blocks_.resize(config_.num_blocks);
  free_list_.reserve(config_.num_blocks);
  // Stack: block 0 is handed out first.
  for (BlockId b = config_.num_blocks - 1; b >= 0; --b) free_list_.push_back(b);
  cached_.reserve(config_.num_blocks);
}

int32_t BlockPool::num_free() const {
  return static_cast<int32_t>(free_list_.size()) + num_evictable_;
}

BlockPoolStats BlockPool::Stats() const {
  BlockPoolStats s;
  s.num_blocks = config_.num_blocks;
  s.used = num_used_;
  s.cached = static_cast<int32_t>(cached_.size());
  s.evictable = num_evictable_;
  s.free = num_free();
  s.lookup_blocks = lookup_blocks_;
  s.hit_blocks = hit_blocks_;
  s.evictions = evictions_;
  return s;
}

int32_t BlockPool::CountCached(std::span<const BlockHash> hashes) const {
  if (!config_.enable_prefix_cache) return 0;
  int32_t n = 0;
  for (BlockHash h : hashes) {
    if (!cached_.contains(h)) break;
    ++n;
  }
  return n;
}

std::vector<BlockId> BlockPool::AcquireCached(std::span<const BlockHash> hashes) {
  std::vector<BlockId> ids;
  if (!config_.enable_prefix_cache) return ids;
  lookup_blocks_ += hashes.size();
  for (BlockHash h : hashes) {
    auto it = cached_.find(h);
    if (it == cached_.end()) break;
    BlockId b = it->second;
    Block& blk = blocks_[b];
    if (blk.ref_count == 0) {  // evictable -> referenced
      LruUnlink(b);
      ++num_used_;
    }
    ++blk.ref_count;
    ids.push_back(b);
  }
  hit_blocks_ += ids.size();
  return ids;
}

bool BlockPool::Allocate(int32_t n, std::vector<BlockId>* out) {
  MINT_CHECK(n >= 0);
  MINT_CHECK(out != nullptr);
  if (n > num_free()) return false;
  // Each EvictOne moves as many blocks to the free list as it takes off the LRU list, so
  // free + evictable stays >= the blocks still to hand out and the loop terminates.
  std::vector<BlockHash> removed;
  out->reserve(out->size() + n);
  for (int32_t i = 0; i < n; ++i) {
    if (free_list_.empty()) EvictOne(&removed);
    BlockId b = free_list_.back();
    free_list_.pop_back();
    Block& blk = blocks_[b];
    MINT_CHECK(blk.ref_count == 0 && !blk.hash.has_value());
    blk.ref_count = 1;
    ++num_used_;
    out->push_back(b);
  }
  if (!removed.empty()) {
    evictions_ += removed.size();
    KvEvent event = EventOf(KvEvent::Kind::kRemoved);
    event.block_hashes = std::move(removed);
    Emit(std::move(event));
  }
  return true;
}

void BlockPool::Release(std::span<const BlockId> blocks) {
  // Tail first: the tail becomes less recently used than the head, so it is evicted first.
  for (auto it = blocks.rbegin(); it != blocks.rend(); ++it) {
    BlockId b = *it;
    CheckBlockId(b);
    Block& blk = blocks_[b];
    MINT_CHECK(blk.ref_count > 0);
    if (--blk.ref_count > 0) continue;
    --num_used_;
    if (blk.hash.has_value()) {
      LruPushBack(b);
    } else {
      free_list_.push_back(b);
    }
  }
}

void BlockPool::Commit(std::span<const BlockId> blocks, std::span<const BlockHash> hashes,
                       std::optional<BlockHash> parent, std::span<const int32_t> tokens) {
  MINT_CHECK(blocks.size() == hashes.size());
  MINT_CHECK(tokens.size() == blocks.size() * static_cast<size_t>(config_.block_size));
  for (BlockId b : blocks) {
    CheckBlockId(b);
    MINT_CHECK(blocks_[b].ref_count > 0);
  }
  if (!config_.enable_prefix_cache) return;

  KvEvent event = EventOf(KvEvent::Kind::kStored);
  for (size_t i = 0; i < blocks.size(); ++i) {
    const BlockId b = blocks[i];
    Block& blk = blocks_[b];
    const std::optional<BlockHash> parent_hash = i == 0 ? parent : hashes[i - 1];
    bool cache_it = false;
    BlockId parent_block = kNoBlock;
    if (blk.hash.has_value()) {
      MINT_CHECK(*blk.hash == hashes[i]);  // already cached: skipped
    } else if (!cached_.contains(hashes[i])) {
      if (!parent_hash.has_value()) {
        cache_it = true;
      } else if (auto it = cached_.find(*parent_hash); it != cached_.end()) {
        parent_block = it->second;
        cache_it = true;
      }
    }
    if (!cache_it) {
      // Given complete prefixes, once a block of this call got cached every later one does too
      // (its parent is the block just cached), so the event's blocks are consecutive. Only a
      // hash collision inside one sequence gets here; stop rather than emit a broken chain.
      if (!event.block_hashes.empty()) break;
      continue;
    }
    if (event.block_hashes.empty()) event.parent_hash = parent_hash;

    blk.hash = hashes[i];
    blk.parent_hash = parent_hash;
    blk.parent = parent_block;
    auto block_tokens = tokens.subspan(i * config_.block_size, config_.block_size);
    blk.tokens.assign(block_tokens.begin(), block_tokens.end());
    if (parent_block != kNoBlock) {
      Block& p = blocks_[parent_block];
      blk.prev_sibling = kNoBlock;
      blk.next_sibling = p.first_child;
      if (p.first_child != kNoBlock) blocks_[p.first_child].prev_sibling = b;
      p.first_child = b;
      ++p.cached_children;
    }
    cached_.emplace(hashes[i], b);
    if (on_commit_) on_commit_(b, hashes[i], parent_hash);
    event.block_hashes.push_back(hashes[i]);
    event.token_ids.insert(event.token_ids.end(), block_tokens.begin(), block_tokens.end());
  }
  if (!event.block_hashes.empty()) Emit(std::move(event));
}

void BlockPool::Reset() {
  if (!config_.enable_prefix_cache) return;
  for (auto& [hash, b] : cached_) {
    Block& blk = blocks_[b];
    if (blk.ref_count == 0) free_list_.push_back(b);
    Block fresh;
    fresh.ref_count = blk.ref_count;
    blk = std::move(fresh);  // also drops the tokens' memory
  }
  cached_.clear();
  lru_head_ = lru_tail_ = kNoBlock;
  num_evictable_ = 0;
  Emit(EventOf(KvEvent::Kind::kCleared));
}

void BlockPool::AddSubscriber(KvEventSink* sink) {
  MINT_CHECK(sink != nullptr);
  MINT_CHECK(std::find(subscribers_.begin(), subscribers_.end(), sink) == subscribers_.end());
  subscribers_.push_back(sink);
}

void BlockPool::RemoveSubscriber(KvEventSink* sink) {
  subscribers_.erase(std::remove(subscribers_.begin(), subscribers_.end(), sink),
                     subscribers_.end());
}

KvSnapshot BlockPool::Snapshot() const {
  KvSnapshot snap;
  snap.last_event_id = last_event_id();
  snap.blocks.reserve(cached_.size());
  // Pre-order DFS from each root (in block id order): a parent is listed before its children.
  std::vector<BlockId> stack;
  for (BlockId root = 0; root < config_.num_blocks; ++root) {
    if (!blocks_[root].hash.has_value() || blocks_[root].parent != kNoBlock) continue;
    stack.push_back(root);
    while (!stack.empty()) {
      BlockId b = stack.back();
      stack.pop_back();
      const Block& blk = blocks_[b];
      KvEvent& event = snap.blocks.emplace_back(EventOf(KvEvent::Kind::kStored));
      event.block_hashes = {*blk.hash};
      event.parent_hash = blk.parent_hash;
      event.token_ids = blk.tokens;
      for (BlockId c = blk.first_child; c != kNoBlock; c = blocks_[c].next_sibling) {
        stack.push_back(c);
      }
    }
  }
  MINT_CHECK(snap.blocks.size() == cached_.size());
  return snap;
}

std::optional<BlockHash> BlockPool::CachedHash(BlockId block) const {
  CheckBlockId(block);
  return blocks_[block].hash;
}

int32_t BlockPool::RefCount(BlockId block) const {
  CheckBlockId(block);
  return blocks_[block].ref_count;
}

void BlockPool::Emit(KvEvent event) {
  event.id = next_event_id_++;
  for (KvEventSink* sink : subscribers_) sink->OnKvEvent(event);
}

void BlockPool::PublishExternal(const KvEvent& event) {
  MINT_CHECK(event.id == 0);
  for (KvEventSink* sink : subscribers_) sink->OnKvEvent(event);
}

void BlockPool::CheckBlockId(BlockId block) const {
  MINT_CHECK(block >= 0 && block < config_.num_blocks);
}

void BlockPool::LruPushBack(BlockId block) {
  Block& blk = blocks_[block];
  blk.lru_prev = lru_tail_;
  blk.lru_next = kNoBlock;
  if (lru_tail_ != kNoBlock) {
    blocks_[lru_tail_].lru_next = block;
  } else {
    lru_head_ = block;
  }
  lru_tail_ = block;
  ++num_evictable_;
}

void BlockPool::LruUnlink(BlockId block) {
  Block& blk = blocks_[block];
  if (blk.lru_prev != kNoBlock) {
    blocks_[blk.lru_prev].lru_next = blk.lru_next;
  } else {
    lru_head_ = blk.lru_next;
  }
  if (blk.lru_next != kNoBlock) {
    blocks_[blk.lru_next].lru_prev = blk.lru_prev;
  } else {
    lru_tail_ = blk.lru_prev;
  }
  blk.lru_prev = blk.lru_next = kNoBlock;
  --num_evictable_;
}

void BlockPool::SetObservers(BlockObserver on_evict, BlockObserver on_commit) {
  on_evict_ = std::move(on_evict);
  on_commit_ = std::move(on_commit);
}

void BlockPool::EvictOne(std::vector<BlockHash>* removed) {
  MINT_CHECK(lru_head_ != kNoBlock);
  // The scan is O(1) in practice: a sequence references every block of its prefix, and Release
  // walks tail first, so children enter the LRU list before their parents and the head is a
  // leaf. A parent precedes an evictable child only when the child's sequence holds a duplicate
  // of the parent's hash in its own (uncached) block, i.e. two sequences prefilled the same
  // prefix concurrently.
  BlockId b = lru_head_;
  while (b != kNoBlock && blocks_[b].cached_children > 0) b = blocks_[b].lru_next;
  if (b != kNoBlock) {
    removed->push_back(*blocks_[b].hash);
    if (on_evict_) on_evict_(b, *blocks_[b].hash, blocks_[b].parent_hash);
    LruUnlink(b);
    Uncache(b);
    free_list_.push_back(b);
    return;
  }
  // No evictable leaf: every evictable block has a cached descendant that is referenced (the
  // duplicate case above). Evict the least recently released one together with its subtree;
  // the referenced descendants merely become uncached. This keeps num_free() honest.
  EvictSubtree(lru_head_, removed);
}

void BlockPool::EvictSubtree(BlockId root, std::vector<BlockHash>* removed) {
  // Post-order: collect pre-order, then process it reversed (children before parents).
  std::vector<BlockId> order;
  std::vector<BlockId> stack = {root};
  while (!stack.empty()) {
    BlockId b = stack.back();
    stack.pop_back();
    order.push_back(b);
    for (BlockId c = blocks_[b].first_child; c != kNoBlock; c = blocks_[c].next_sibling) {
      stack.push_back(c);
    }
  }
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    BlockId b = *it;
    removed->push_back(*blocks_[b].hash);
    if (on_evict_) on_evict_(b, *blocks_[b].hash, blocks_[b].parent_hash);
    if (blocks_[b].ref_count == 0) LruUnlink(b);
    Uncache(b);
    if (blocks_[b].ref_count == 0) free_list_.push_back(b);
  }
}

void BlockPool::Uncache(BlockId block) {
  Block& blk = blocks_[block];
  MINT_CHECK(blk.hash.has_value());
  MINT_CHECK(blk.cached_children == 0);
  cached_.erase(*blk.hash);
  if (blk.parent != kNoBlock) {
    Block& p = blocks_[blk.parent];
    MINT_CHECK(p.cached_children > 0);
    --p.cached_children;
    if (blk.prev_sibling != kNoBlock) {
      blocks_[blk.prev_sibling].next_sibling = blk.next_sibling;
    } else {
      p.first_child = blk.next_sibling;
    }
    if (blk.next_sibling != kNoBlock) blocks_[blk.next_sibling].prev_sibling = blk.prev_sibling;
  }
  blk.hash.reset();
  blk.parent_hash.reset();
  blk.parent = blk.prev_sibling = blk.next_sibling = kNoBlock;
  std::vector<int32_t>().swap(blk.tokens);
}

}  // namespace mint::engine
