#include "kvstore/frequency.h"

#include <cmath>
#include <iterator>

namespace mint::kvstore {

double FrequencyFilter::Decayed(const Entry& e, double now_s) const {
  return e.frequency * std::exp2(-(now_s - e.at_s) / half_life_s_);
}

void FrequencyFilter::Sweep(double now_s) {
  for (int pass = 0; pass < 2 && entries_.size() > max_entries_ / 2; ++pass) {
    for (auto it = entries_.begin(); it != entries_.end();) {
      const bool drop = !it->second.written && (pass == 1 || Decayed(it->second, now_s) < 1);
      it = drop ? entries_.erase(it) : std::next(it);
    }
  }
}

FrequencyFilter::Entry& FrequencyFilter::Sight(BlockHash hash, double now_s) {
  if (entries_.size() >= max_entries_) Sweep(now_s);
  Entry& e = entries_[hash];
  const double d = Decayed(e, now_s);
  e.frequency = d > 0 ? 2 * d : 1;
  e.at_s = now_s;
  return e;
}

FrequencyFilter::Entry* FrequencyFilter::Find(BlockHash hash) {
  auto it = entries_.find(hash);
  return it == entries_.end() ? nullptr : &it->second;
}

}  // namespace mint::kvstore
