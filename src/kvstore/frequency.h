// FrequencyFilter: how often a block has been seen lately, for the disk tier's admission rule
// ("write a block to disk only once it has been seen twice", Dynamo's frequency filter): a
// sighting doubles the block's frequency (a first one sets it to 1), and frequencies halve every
// half_life_s. Counts are compared rounded (Reached), so two sightings count as two when they
// come within about 0.4 half-lives of each other.
//
// Bounded: past max_entries, sightings decayed below 1 that are not marked written are forgotten
// (and then any unmarked ones).
//
// Thread-safety: none; the owner serializes calls.
#pragma once

#include <cstdint>
#include <unordered_map>

#include "core/hash.h"

namespace mint::kvstore {

class FrequencyFilter {
 public:
  struct Entry {
    double frequency = 0;
    double at_s = 0;
    bool written = false;  // the owner's mark: on disk, or queued for it
  };
  FrequencyFilter(double half_life_s, size_t max_entries)
      : half_life_s_(half_life_s), max_entries_(max_entries) {}

  // Counts a sighting of `hash` at `now_s`; returns its entry (valid until the next call).
  Entry& Sight(BlockHash hash, double now_s);
  Entry* Find(BlockHash hash);
  static bool Reached(double frequency, double min_frequency) {
    return frequency >= min_frequency - 0.5;
  }
  size_t size() const { return entries_.size(); }

 private:
  double Decayed(const Entry& e, double now_s) const;
  void Sweep(double now_s);

  double half_life_s_;
  size_t max_entries_;
  std::unordered_map<BlockHash, Entry> entries_;
};

}  // namespace mint::kvstore
