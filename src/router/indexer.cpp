#include "router/indexer.h"

#include <algorithm>

namespace mint::router {

uint32_t OverlapScores::Get(WorkerId worker) const {
  auto it = std::lower_bound(scores.begin(), scores.end(), worker,
                             [](const WorkerOverlap& s, WorkerId w) { return s.worker < w; });
  return it != scores.end() && it->worker == worker ? it->blocks : 0;
}

Indexer::Indexer() : used_slots_(1, 0), nodes_(1) {}

Indexer::WorkerState& Indexer::GetOrAddWorker(WorkerId worker) {
  auto it = workers_.find(worker);
  if (it != workers_.end()) return it->second;
  uint32_t slot;
  if (!free_slots_.empty()) {
    slot = free_slots_.back();
    free_slots_.pop_back();
  } else {
    slot = static_cast<uint32_t>(slot_worker_.size());
    slot_worker_.push_back(0);
    const size_t words = slot / 64 + 1;
    if (words > nodes_.words()) {
      nodes_.SetWords(words);
      used_slots_.resize(words, 0);
    }
  }
  slot_worker_[slot] = worker;
  used_slots_[slot / 64] |= uint64_t{1} << (slot % 64);
  WorkerState& w = workers_[worker];
  w.slot = slot;
  return w;
}

void Indexer::AddBlock(WorkerState& w, BlockHash hash) {
  if (!w.blocks.Insert(hash)) return;
  bool inserted = false;
  const size_t row = nodes_.FindOrInsert(hash, &inserted);
  nodes_.Payload(row)[w.slot / 64] |= uint64_t{1} << (w.slot % 64);
}

void Indexer::RemoveBlock(WorkerState& w, BlockHash hash) {
  if (!w.blocks.Erase(hash)) return;
  const size_t row = nodes_.Find(hash);
  if (row == FlatTable::kNpos) return;  // cannot happen: holders are always indexed
  uint64_t* bits = nodes_.Payload(row);
  bits[w.slot / 64] &= ~(uint64_t{1} << (w.slot % 64));
  for (size_t i = 0; i < nodes_.words(); ++i) {
    if (bits[i] != 0) return;
  }
  nodes_.EraseRow(row);
}

void Indexer::ClearBlocks(WorkerState& w) {
  const size_t word = w.slot / 64;
  const uint64_t bit = uint64_t{1} << (w.slot % 64);
  w.blocks.ForEach([&](uint64_t hash, const uint64_t*) {
    const size_t row = nodes_.Find(hash);
    if (row == FlatTable::kNpos) return;
    uint64_t* bits = nodes_.Payload(row);
    bits[word] &= ~bit;
    for (size_t i = 0; i < nodes_.words(); ++i) {
      if (bits[i] != 0) return;
    }
    nodes_.EraseRow(row);
  });
  w.blocks.Clear();
}

Indexer::ApplyOutcome Indexer::Apply(WorkerId worker, const KvCacheEvent& event) {
  WorkerState& w = GetOrAddWorker(worker);
  ApplyOutcome outcome = ApplyOutcome::kApplied;
  if (event.id != 0) {
    if (event.id <= w.last_event_id) return ApplyOutcome::kSkippedStale;
    if (event.id != w.last_event_id + 1) outcome = ApplyOutcome::kAppliedAfterGap;
    w.last_event_id = event.id;
  }
  switch (event.kind) {
    case KvCacheEvent::Kind::kStored:
      for (BlockHash h : event.block_hashes) AddBlock(w, h);
      break;
    case KvCacheEvent::Kind::kRemoved:
      for (BlockHash h : event.block_hashes) RemoveBlock(w, h);
      break;
    case KvCacheEvent::Kind::kCleared:
      ClearBlocks(w);
      break;
  }
  return outcome;
}

void Indexer::LoadSnapshot(WorkerId worker, std::span<const KvCacheEvent> blocks,
                           uint64_t last_event_id) {
  WorkerState& w = GetOrAddWorker(worker);
  ClearBlocks(w);
  for (const KvCacheEvent& e : blocks) {
    if (e.kind != KvCacheEvent::Kind::kStored) continue;
    for (BlockHash h : e.block_hashes) AddBlock(w, h);
  }
  w.last_event_id = last_event_id;
}

void Indexer::AddBlocks(WorkerId worker, std::span<const BlockHash> hashes) {
  WorkerState& w = GetOrAddWorker(worker);
  for (BlockHash h : hashes) AddBlock(w, h);
}

void Indexer::RemoveBlocks(WorkerId worker, std::span<const BlockHash> hashes) {
  auto it = workers_.find(worker);
  if (it == workers_.end()) return;
  for (BlockHash h : hashes) RemoveBlock(it->second, h);
}

void Indexer::ClearWorker(WorkerId worker) {
  auto it = workers_.find(worker);
  if (it != workers_.end()) ClearBlocks(it->second);
}

void Indexer::RemoveWorker(WorkerId worker) {
  auto it = workers_.find(worker);
  if (it == workers_.end()) return;
  ClearBlocks(it->second);
  const uint32_t slot = it->second.slot;
  used_slots_[slot / 64] &= ~(uint64_t{1} << (slot % 64));
  free_slots_.push_back(slot);
  workers_.erase(it);
}

void Indexer::FindMatches(std::span<const BlockHash> request_hashes, OverlapScores* out) const {
  out->scores.clear();
  if (request_hashes.empty() || workers_.empty()) return;
  const size_t words = nodes_.words();
  auto emit = [&](size_t word, uint64_t bits, uint32_t overlap) {
    while (bits != 0) {
      const size_t slot = word * 64 + static_cast<size_t>(__builtin_ctzll(bits));
      bits &= bits - 1;
      out->scores.push_back({slot_worker_[slot], overlap});
    }
  };
  // `active`: workers that held every block so far. Up to 64 slots this stays in a register.
  uint64_t active_small[4];
  std::vector<uint64_t> active_large;
  uint64_t* active = active_small;
  if (words > 4) {
    active_large.assign(used_slots_.begin(), used_slots_.end());
    active = active_large.data();
  } else {
    std::copy(used_slots_.begin(), used_slots_.end(), active_small);
  }
  size_t i = 0;
  for (; i < request_hashes.size(); ++i) {
    const size_t row = nodes_.Find(request_hashes[i]);
    const uint64_t* bits = row == FlatTable::kNpos ? nullptr : nodes_.Payload(row);
    bool any = false;
    for (size_t k = 0; k < words; ++k) {
      const uint64_t next = bits != nullptr ? active[k] & bits[k] : 0;
      if (i > 0) emit(k, active[k] & ~next, static_cast<uint32_t>(i));
      active[k] = next;
      any |= next != 0;
    }
    if (!any) break;
  }
  if (i == request_hashes.size()) {
    for (size_t k = 0; k < words; ++k) emit(k, active[k], static_cast<uint32_t>(i));
  }
  std::sort(out->scores.begin(), out->scores.end(),
            [](const WorkerOverlap& a, const WorkerOverlap& b) { return a.worker < b.worker; });
}

OverlapScores Indexer::FindMatches(std::span<const BlockHash> request_hashes) const {
  OverlapScores out;
  FindMatches(request_hashes, &out);
  return out;
}

bool Indexer::HasBlock(WorkerId worker, BlockHash hash) const {
  auto it = workers_.find(worker);
  return it != workers_.end() && it->second.blocks.Find(hash) != FlatTable::kNpos;
}

size_t Indexer::num_worker_blocks() const {
  size_t n = 0;
  for (const auto& [id, w] : workers_) n += w.blocks.size();
  return n;
}

size_t Indexer::WorkerBlockCount(WorkerId worker) const {
  auto it = workers_.find(worker);
  return it == workers_.end() ? 0 : it->second.blocks.size();
}

std::optional<uint64_t> Indexer::LastEventId(WorkerId worker) const {
  auto it = workers_.find(worker);
  if (it == workers_.end()) return std::nullopt;
  return it->second.last_event_id;
}

std::vector<WorkerId> Indexer::Workers() const {
  std::vector<WorkerId> ids;
  ids.reserve(workers_.size());
  for (const auto& [id, w] : workers_) ids.push_back(id);
  std::sort(ids.begin(), ids.end());
  return ids;
}

size_t Indexer::MemoryBytes() const {
  size_t bytes = nodes_.MemoryBytes() + slot_worker_.capacity() * sizeof(WorkerId);
  for (const auto& [id, w] : workers_) bytes += sizeof(WorkerState) + w.blocks.MemoryBytes();
  return bytes;
}

}  // namespace mint::router
