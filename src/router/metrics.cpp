#include "router/metrics.h"

#include <limits>

namespace mint::router {

void LatencyHistogram::RecordNanos(int64_t nanos) {
  if (nanos < 0) nanos = 0;
  const double us = static_cast<double>(nanos) * 1e-3;
  size_t i = 0;
  while (i < kUpperBoundsUs.size() && us > kUpperBoundsUs[i]) ++i;
  counts_[i].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  sum_ns_.fetch_add(static_cast<uint64_t>(nanos), std::memory_order_relaxed);
}

HistogramSnapshot LatencyHistogram::Snapshot() const {
  HistogramSnapshot s;
  s.upper_bounds_us.assign(kUpperBoundsUs.begin(), kUpperBoundsUs.end());
  s.upper_bounds_us.push_back(std::numeric_limits<double>::infinity());
  for (const auto& c : counts_) s.counts.push_back(c.load(std::memory_order_relaxed));
  s.count = count_.load(std::memory_order_relaxed);
  s.sum_us = static_cast<double>(sum_ns_.load(std::memory_order_relaxed)) * 1e-3;
  return s;
}

double HistogramSnapshot::Quantile(double q) const {
  uint64_t total = 0;
  for (uint64_t c : counts) total += c;
  if (total == 0) return 0;
  const double target = q * static_cast<double>(total);
  uint64_t seen = 0;
  for (size_t i = 0; i < counts.size(); ++i) {
    seen += counts[i];
    if (static_cast<double>(seen) >= target && counts[i] != 0) return upper_bounds_us[i];
  }
  return upper_bounds_us.back();
}

}  // namespace mint::router
