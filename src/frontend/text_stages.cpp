#include "frontend/text_stages.h"

#include "frontend/stop_matcher.h"

namespace mint::frontend {
namespace {

class ReasoningTextStage final : public TextStage {
 public:
  explicit ReasoningTextStage(const ReasoningOptions& o) : parser_(o) {}
  void Push(std::string_view text, TextDelta* out) override { Take(parser_.Push(text), out); }
  void Flush(TextDelta* out) override { Take(parser_.Flush(), out); }

 private:
  static void Take(ReasoningParser::Delta d, TextDelta* out) {
    out->reasoning += d.reasoning;
    out->content += d.content;
  }
  ReasoningParser parser_;
};

class ToolCallTextStage final : public TextStage {
 public:
  ToolCallTextStage(ToolCallFormat f, ToolCallOptions o) : parser_(f, std::move(o)) {}
  void Push(std::string_view text, TextDelta* out) override { Take(parser_.Push(text), out); }
  void Flush(TextDelta* out) override { Take(parser_.Flush(), out); }

 private:
  void Take(ToolCallParser::Delta d, TextDelta* out) {
    out->content += d.content;
    for (int k : d.calls) out->calls.push_back(parser_.calls()[static_cast<size_t>(k)]);
  }
  ToolCallParser parser_;
};

class StopStringTextStage final : public TextStage {
 public:
  explicit StopStringTextStage(const std::vector<std::string>& stops) : matcher_(stops) {}
  void Push(std::string_view text, TextDelta* out) override {
    if (!matcher_.stopped()) out->content += matcher_.Push(text).text;
  }
  void Flush(TextDelta* out) override {
    if (!matcher_.stopped()) out->content += matcher_.Flush();
  }
  bool stopped() const override { return matcher_.stopped(); }

 private:
  StopMatcher matcher_;
};

void Merge(TextDelta&& d, TextDelta* total) {
  total->reasoning += d.reasoning;
  for (ToolCall& c : d.calls) total->calls.push_back(std::move(c));
}

}  // namespace

std::unique_ptr<TextStage> ReasoningStage(const ReasoningOptions& options) {
  return std::make_unique<ReasoningTextStage>(options);
}

std::unique_ptr<TextStage> ToolCallStage(ToolCallFormat format, ToolCallOptions options) {
  return std::make_unique<ToolCallTextStage>(format, std::move(options));
}

std::unique_ptr<TextStage> StopStringStage(const std::vector<std::string>& stops) {
  return std::make_unique<StopStringTextStage>(stops);
}

void TextPipeline::RunFrom(size_t first, std::string_view text, TextDelta* total) {
  // One byte at a time, so a stage that stops (a stop string) stops everything after that byte:
  // a call later in the same piece is not returned, however the text was split.
  for (size_t b = 0; b < text.size() && !stopped(); ++b) {
    std::string t(1, text[b]);
    for (size_t i = first; i < stages_.size() && !t.empty(); ++i) {
      TextDelta d;
      stages_[i]->Push(t, &d);
      t = std::move(d.content);
      Merge(std::move(d), total);
    }
    total->content += t;
  }
}

TextDelta TextPipeline::Push(std::string_view piece) {
  TextDelta total;
  RunFrom(0, piece, &total);
  return total;
}

TextDelta TextPipeline::Flush() {
  TextDelta total;
  for (size_t i = 0; i < stages_.size() && !stopped(); ++i) {
    TextDelta d;
    stages_[i]->Flush(&d);
    const std::string content = std::move(d.content);
    Merge(std::move(d), &total);
    if (i + 1 == stages_.size()) {
      total.content += content;
    } else {
      RunFrom(i + 1, content, &total);
    }
  }
  return total;
}

bool TextPipeline::stopped() const {
  for (const auto& s : stages_) {
    if (s->stopped()) return true;
  }
  return false;
}

}  // namespace mint::frontend
