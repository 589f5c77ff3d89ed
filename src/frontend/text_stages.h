// Text stages: the seam between detokenized text and what a response carries (DESIGN.md,
// "Seams"). Generated text flows through stages in order; each takes the content the previous
// stage let through and gives content for the next, plus reasoning or completed tool calls of
// its own. Today's chain: reasoning split (reasoning.h) -> tool calls (tool_calls.h) -> stop
// strings (stop_matcher.h), so stop strings apply to content only and a call's text never
// reaches the client as content. A new output format is a new stage, not a new branch in the
// service.
//
// Thread-safety: one pipeline per generated choice; not safe for concurrent use.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "frontend/reasoning.h"
#include "frontend/tool_calls.h"

namespace mint::frontend {

struct TextDelta {
  std::string content;          // what passes to the next stage (after the last: the client's)
  std::string reasoning;        // never passes on: reasoning is not content
  std::vector<ToolCall> calls;  // calls completed by this piece, in order
};

class TextStage {
 public:
  virtual ~TextStage() = default;
  virtual void Push(std::string_view text, TextDelta* out) = 0;
  // The end of the output: releases whatever the stage held back.
  virtual void Flush(TextDelta* out) = 0;
  // The output has ended here (a stop string): later text is dropped.
  virtual bool stopped() const { return false; }
};

std::unique_ptr<TextStage> ReasoningStage(const ReasoningOptions& options);
std::unique_ptr<TextStage> ToolCallStage(ToolCallFormat format, ToolCallOptions options);
std::unique_ptr<TextStage> StopStringStage(const std::vector<std::string>& stops);

class TextPipeline {
 public:
  void Add(std::unique_ptr<TextStage> stage) { stages_.push_back(std::move(stage)); }
  // A piece of generated text through every stage (byte by byte: nothing after a stop).
  TextDelta Push(std::string_view piece);
  // The end of the output: each stage flushes in order, what it releases running through the
  // stages after it.
  TextDelta Flush();
  bool stopped() const;

 private:
  // `text` through stages [first, end), merged into *total (content appended last).
  void RunFrom(size_t first, std::string_view text, TextDelta* total);

  std::vector<std::unique_ptr<TextStage>> stages_;
};

}  // namespace mint::frontend
