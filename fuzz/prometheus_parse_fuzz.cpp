// libFuzzer target: metrics::ParsePrometheus, the reader of other processes' /metrics text (the
// planner's and `mint bench`'s scrapes). Any input must parse or fail cleanly; a parsed histogram
// must be whole: one count per bucket plus the one past the last bound, summing to its count,
// bounds in order.

#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "metrics/metrics.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto samples = mint::metrics::ParsePrometheus(text);
  if (!samples.ok()) return 0;
  for (const auto& s : *samples) {
    if (s.name.empty()) std::abort();
    for (const auto& [k, v] : s.labels) {
      if (k.empty()) std::abort();
      (void)mint::metrics::EscapeLabelValue(v);
    }
    (void)mint::metrics::FormatValue(s.value);
    if (s.type != mint::metrics::Type::kHistogram) continue;
    const auto& h = s.histogram;
    if (h.counts.size() != h.bounds.size() + 1) std::abort();
    uint64_t total = 0;
    for (uint64_t c : h.counts) total += c;
    if (total != h.count) std::abort();
    for (size_t i = 1; i < h.bounds.size(); ++i) {
      if (h.bounds[i] < h.bounds[i - 1]) std::abort();
    }
  }
  return 0;
}
