#include "model/logits_diff.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <numeric>

namespace mint::model {

std::vector<int32_t> TopK(std::span<const float> logits, int k) {
  std::vector<int32_t> ids(logits.size());
  std::iota(ids.begin(), ids.end(), 0);
  k = std::clamp<int>(k, 0, static_cast<int>(ids.size()));
  std::partial_sort(ids.begin(), ids.begin() + k, ids.end(), [&](int32_t a, int32_t b) {
    return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
  });
  ids.resize(k);
  return ids;
}

double Nmse(std::span<const float> ref, std::span<const float> got) {
  assert(ref.size() == got.size());
  double num = 0, den = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    if (!std::isfinite(got[i])) return INFINITY;
    const double e = static_cast<double>(got[i]) - ref[i];
    num += e * e;
    den += static_cast<double>(ref[i]) * ref[i];
  }
  return den == 0 ? num : num / den;
}

LogitsDiff CompareLogits(std::span<const float> ref, std::span<const float> got, int top_k) {
  assert(ref.size() == got.size() && !ref.empty());
  LogitsDiff d;
  d.nmse = Nmse(ref, got);
  for (size_t i = 0; i < ref.size(); ++i) {
    d.max_abs = std::max(d.max_abs, std::fabs(static_cast<double>(got[i]) - ref[i]));
  }
  const std::vector<int32_t> r = TopK(ref, top_k), g = TopK(got, top_k);
  d.top_k = static_cast<int>(r.size());
  d.argmax_ref = r.empty() ? -1 : r[0];
  d.argmax_got = g.empty() ? -1 : g[0];
  for (int32_t id : r) d.top_k_shared += std::count(g.begin(), g.end(), id) > 0;
  return d;
}

std::vector<int32_t> SpreadTokenIds(int n, int64_t n_vocab) {
  std::vector<int32_t> ids(std::max(n, 0));
  for (int i = 0; i < n; ++i) ids[i] = static_cast<int32_t>((int64_t{i} * 7919 + 1) % n_vocab);
  return ids;
}

}  // namespace mint::model
