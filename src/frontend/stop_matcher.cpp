#include "frontend/stop_matcher.h"

#include <algorithm>

namespace mint::frontend {
namespace {

struct Match {
  size_t start = std::string::npos;
  int index = -1;
};

// The stop string whose first occurrence in `text` ends first; ties -> the earliest start.
Match FirstCompleted(std::string_view text, const std::vector<std::string>& stops) {
  Match best;
  size_t best_end = std::string::npos;
  for (size_t i = 0; i < stops.size(); ++i) {
    const std::string& s = stops[i];
    if (s.empty()) continue;
    size_t pos = text.find(s);
    if (pos == std::string_view::npos) continue;
    size_t end = pos + s.size();
    if (end < best_end || (end == best_end && pos < best.start)) {
      best_end = end;
      best = {pos, static_cast<int>(i)};
    }
  }
  return best;
}

// Length of the longest suffix of `text` that is a proper prefix of some stop string.
size_t PartialSuffix(std::string_view text, const std::vector<std::string>& stops) {
  size_t best = 0;
  for (const std::string& s : stops) {
    size_t max_k = std::min(s.size() - (s.empty() ? 0 : 1), text.size());
    for (size_t k = max_k; k > best; --k) {
      if (text.substr(text.size() - k) == std::string_view(s).substr(0, k)) {
        best = k;
        break;
      }
    }
  }
  return best;
}

bool IsContinuation(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

}  // namespace

StopMatcher::StopMatcher(std::vector<std::string> stops) : stops_(std::move(stops)) {}

StopMatcher::Output StopMatcher::Push(std::string_view piece) {
  Output out;
  if (stopped_) {
    out.stopped = true;
    return out;
  }
  held_.append(piece);
  // The held text holds no complete stop (it was checked when it arrived), so any match found
  // now completes inside `piece`: the first to complete in the stream overall.
  Match m = FirstCompleted(held_, stops_);
  if (m.index >= 0) {
    stopped_ = true;
    matched_ = m.index;
    out.stopped = true;
    out.text = held_.substr(0, m.start);
    held_.clear();
    return out;
  }
  size_t keep = PartialSuffix(held_, stops_);
  size_t emit = held_.size() - keep;
  while (emit > 0 && emit < held_.size() && IsContinuation(held_[emit])) --emit;
  out.text = held_.substr(0, emit);
  held_.erase(0, emit);
  return out;
}

std::string StopMatcher::Flush() {
  std::string out = std::move(held_);
  held_.clear();
  return out;
}

std::string StopMatcher::TruncateAtStop(std::string_view text,
                                        const std::vector<std::string>& stops, bool* stopped) {
  Match m = FirstCompleted(text, stops);
  if (stopped != nullptr) *stopped = m.index >= 0;
  return std::string(m.index >= 0 ? text.substr(0, m.start) : text);
}

}  // namespace mint::frontend
