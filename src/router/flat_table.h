// FlatTable: an open-addressing hash table keyed by uint64 with a fixed number of uint64 payload
// words per key (0 words = a set). Internal to the router: the indexer's block map and its
// per-worker block sets.
//
// Linear probing over a power-of-two array, load factor at most 3/4, deletion by backward shift
// (no tombstones, so lookups never slow down with churn). Key 0 is the empty marker; a real key
// 0 lives in one extra row at index capacity(). Keys are mixed (Fibonacci hashing) before use, so
// small or sequential keys (tests) spread as well as xxh3 hashes do.
//
// Memory: (8 + 8 * words) bytes per row, rows = capacity + 1, capacity = the smallest power of two
// >= 16 with size <= 3/4 capacity (so 16-32 bytes per key for words = 1 at load 1/2..3/4).
//
// Thread-safety: none; the owner synchronizes. Rows (indices) are invalidated by any insert or
// erase.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

namespace mint::router {

class FlatTable {
 public:
  static constexpr size_t kNpos = static_cast<size_t>(-1);

  explicit FlatTable(size_t words = 0) : words_(words) { Rebuild(kMinCapacity, words); }

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  size_t words() const { return words_; }
  size_t capacity() const { return capacity_; }

  // The row holding `key`, or kNpos.
  size_t Find(uint64_t key) const {
    if (key == 0) return has_zero_ ? capacity_ : kNpos;
    for (size_t i = Home(key);; i = (i + 1) & mask_) {
      const uint64_t k = keys_[i];
      if (k == key) return i;
      if (k == 0) return kNpos;
    }
  }

  // The row holding `key`, inserting it with a zeroed payload if absent (*inserted says which).
  size_t FindOrInsert(uint64_t key, bool* inserted) {
    size_t row = Find(key);
    if (row != kNpos) {
      *inserted = false;
      return row;
    }
    *inserted = true;
    if ((size_ + 1) * 4 > capacity_ * 3) Rebuild(capacity_ * 2, words_);
    ++size_;
    if (key == 0) {
      has_zero_ = true;
      return capacity_;
    }
    size_t i = Home(key);
    while (keys_[i] != 0) i = (i + 1) & mask_;
    keys_[i] = key;
    return i;
  }

  bool Insert(uint64_t key) {
    bool inserted = false;
    FindOrInsert(key, &inserted);
    return inserted;
  }

  // Removes the key at `row` (a row returned by Find/FindOrInsert since the last modification).
  void EraseRow(size_t row) {
    --size_;
    if (row == capacity_) {
      has_zero_ = false;
      ZeroPayload(row);
      return;
    }
    size_t hole = row;
    for (size_t j = (hole + 1) & mask_;; j = (j + 1) & mask_) {
      const uint64_t k = keys_[j];
      if (k == 0) break;
      const size_t home = Home(k);
      // An entry may move back into the hole only if its home is not cyclically in (hole, j].
      const bool stays = hole <= j ? (hole < home && home <= j) : (hole < home || home <= j);
      if (stays) continue;
      keys_[hole] = k;
      if (words_ != 0) std::memcpy(Payload(hole), Payload(j), words_ * sizeof(uint64_t));
      hole = j;
    }
    keys_[hole] = 0;
    ZeroPayload(hole);
  }

  bool Erase(uint64_t key) {
    const size_t row = Find(key);
    if (row == kNpos) return false;
    EraseRow(row);
    return true;
  }

  uint64_t* Payload(size_t row) { return payload_.data() + row * words_; }
  const uint64_t* Payload(size_t row) const { return payload_.data() + row * words_; }

  // Calls f(key, payload) for every key; f must not modify the table.
  template <typename F>
  void ForEach(F&& f) const {
    for (size_t i = 0; i < capacity_; ++i) {
      if (keys_[i] != 0) f(keys_[i], Payload(i));
    }
    if (has_zero_) f(uint64_t{0}, Payload(capacity_));
  }

  // Drops every key and shrinks to the minimum capacity.
  void Clear() { Rebuild(kMinCapacity, words_, /*keep=*/false); }

  // Changes the payload width (growing keeps old words and zero-fills new ones).
  void SetWords(size_t words) {
    if (words != words_) Rebuild(capacity_, words);
  }

  size_t MemoryBytes() const {
    return keys_.capacity() * sizeof(uint64_t) + payload_.capacity() * sizeof(uint64_t);
  }

 private:
  static constexpr size_t kMinCapacity = 16;

  size_t Home(uint64_t key) const { return (key * 0x9E3779B97F4A7C15ull) >> shift_; }

  void ZeroPayload(size_t row) {
    if (words_ != 0) std::memset(Payload(row), 0, words_ * sizeof(uint64_t));
  }

  void Rebuild(size_t capacity, size_t words, bool keep = true) {
    std::vector<uint64_t> old_keys = std::move(keys_);
    std::vector<uint64_t> old_payload = std::move(payload_);
    const size_t old_capacity = capacity_, old_words = words_;
    const bool old_zero = has_zero_;
    capacity_ = capacity;
    mask_ = capacity - 1;
    shift_ = 64 - static_cast<unsigned>(__builtin_ctzll(capacity));
    words_ = words;
    keys_.assign(capacity + 1, 0);
    payload_.assign((capacity + 1) * words, 0);
    size_ = 0;
    has_zero_ = false;
    if (!keep) return;
    const size_t copy_words = old_words < words ? old_words : words;
    auto move_row = [&](size_t dst, size_t src) {
      if (copy_words != 0) {
        std::memcpy(Payload(dst), old_payload.data() + src * old_words,
                    copy_words * sizeof(uint64_t));
      }
    };
    for (size_t i = 0; i < old_capacity; ++i) {
      const uint64_t k = old_keys[i];
      if (k == 0) continue;
      size_t j = Home(k);
      while (keys_[j] != 0) j = (j + 1) & mask_;
      keys_[j] = k;
      move_row(j, i);
      ++size_;
    }
    if (old_zero) {
      has_zero_ = true;
      move_row(capacity_, old_capacity);
      ++size_;
    }
  }

  std::vector<uint64_t> keys_;     // capacity_ + 1 rows; 0 = empty (last row: the key 0)
  std::vector<uint64_t> payload_;  // (capacity_ + 1) * words_
  size_t capacity_ = 0;
  size_t mask_ = 0;
  unsigned shift_ = 0;
  size_t words_ = 0;
  size_t size_ = 0;
  bool has_zero_ = false;
};

}  // namespace mint::router
