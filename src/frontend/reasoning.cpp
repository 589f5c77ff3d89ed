#include "frontend/reasoning.h"

#include <algorithm>

namespace mint::frontend {
namespace {

// Length of the longest suffix of `text` that is a proper prefix of `tag`.
size_t PartialTag(std::string_view text, std::string_view tag) {
  if (tag.empty()) return 0;
  for (size_t k = std::min(tag.size() - 1, text.size()); k > 0; --k) {
    if (text.substr(text.size() - k) == tag.substr(0, k)) return k;
  }
  return 0;
}

}  // namespace

ReasoningParser::ReasoningParser(ReasoningOptions options)
    : options_(std::move(options)), state_(State::kStart) {}

ReasoningParser::Delta ReasoningParser::Push(std::string_view piece) {
  Delta out;
  held_.append(piece);
  Step(&out);
  return out;
}

// Consumes as much of held_ as can be decided, moving state forward.
void ReasoningParser::Step(Delta* out) {
  const std::string_view start = options_.start_tag;
  const std::string_view end = options_.end_tag;
  while (!held_.empty()) {
    switch (state_) {
      case State::kStart: {
        if (!start.empty() && held_.size() < start.size() &&
            start.substr(0, held_.size()) == held_) {
          return;  // still a possible start tag
        }
        if (!start.empty() && std::string_view(held_).substr(0, start.size()) == start) {
          held_.erase(0, start.size());
          state_ = State::kReasoning;
        } else {
          state_ = options_.starts_in_reasoning ? State::kReasoning : State::kContent;
        }
        break;
      }
      case State::kReasoning: {
        size_t pos = end.empty() ? std::string::npos : held_.find(end);
        if (pos != std::string::npos) {
          out->reasoning.append(held_, 0, pos);
          held_.erase(0, pos + end.size());
          state_ = State::kStripNewlines;
          break;
        }
        size_t keep = PartialTag(held_, end);
        out->reasoning.append(held_, 0, held_.size() - keep);
        held_.erase(0, held_.size() - keep);
        return;
      }
      case State::kStripNewlines: {
        size_t first = held_.find_first_not_of("\r\n");
        if (first == std::string::npos) {
          held_.clear();
          return;
        }
        held_.erase(0, first);
        state_ = State::kContent;
        break;
      }
      case State::kContent:
        out->content += held_;
        held_.clear();
        return;
    }
  }
}

ReasoningParser::Delta ReasoningParser::Flush() {
  Delta out;
  if (state_ == State::kStart) {
    state_ = options_.starts_in_reasoning ? State::kReasoning : State::kContent;
  }
  if (state_ == State::kReasoning) {
    out.reasoning = std::move(held_);
  } else if (state_ == State::kContent) {
    out.content = std::move(held_);
  }
  held_.clear();
  return out;
}

}  // namespace mint::frontend
