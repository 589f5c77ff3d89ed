// ReasoningParser: splits streamed generated text into content and reasoning_content for models
// that think inside <think>...</think> (DeepSeek-R1, Qwen3, QwQ).
//
// Exact behaviour (tags are ReasoningOptions::start_tag / end_tag):
//   1. At the very start of the output a start tag is consumed (not emitted) and reasoning
//      begins. No whitespace may precede it; a start tag anywhere later is ordinary text.
//   2. Without a leading start tag the output starts in reasoning when starts_in_reasoning
//      (the prompt already ended in "<think>": DeepSeek-R1's template, Qwen3 thinking templates),
//      else in content, and then it never enters reasoning (Qwen3 with enable_thinking=false,
//      models that do not think).
//   3. In reasoning, text goes to `reasoning` verbatim (including its newlines) up to the first
//      end tag, which is consumed. If the output ends inside reasoning (no end tag: cut by
//      max_tokens) everything stays reasoning.
//   4. After the end tag, leading '\n' and '\r' of the content are dropped (Qwen3/R1 write
//      "</think>\n\n"); the rest of the output is content, verbatim, including any further tags.
//   Partial tags split across pieces are held back until decided; Flush() releases what is held
//   (a partial tag at the very end is text of the current side). Concatenating every Push() and
//   Flush() is independent of how the text was split into pieces.
//
// Thread-safety: one parser per stream; not safe for concurrent use.
#pragma once

#include <string>
#include <string_view>

namespace mint::frontend {

struct ReasoningOptions {
  std::string start_tag = "<think>";  // empty: no start tag is recognized
  std::string end_tag = "</think>";   // empty: reasoning never ends
  bool starts_in_reasoning = false;
};

class ReasoningParser {
 public:
  explicit ReasoningParser(ReasoningOptions options = {});

  struct Delta {
    std::string content;
    std::string reasoning;
  };
  Delta Push(std::string_view piece);
  Delta Flush();

  // True while text goes to reasoning (after rule 1/2 decided and before the end tag).
  bool in_reasoning() const { return state_ == State::kReasoning; }

 private:
  enum class State { kStart, kReasoning, kStripNewlines, kContent };
  void Step(Delta* out);

  ReasoningOptions options_;
  State state_;
  std::string held_;  // undecided text: a partial start tag (kStart) or a partial end tag
};

}  // namespace mint::frontend
