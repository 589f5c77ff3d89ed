// Pre-tokenization: splitting normalized text into pieces that BPE encodes independently.
// Regular expressions run on PCRE2 (UTF + UCP, JIT-compiled when available).
//
// Thread-safety: Regex and PreTokenizer are immutable after construction; Find/Run may be called
// from any number of threads (per-thread PCRE2 match data and JIT stacks).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace mint::tokenizer {

class Regex {
 public:
  // Compiles `pattern` (PCRE2 syntax, UTF and Unicode properties on). kInvalidArgument names the
  // error and its offset.
  static Result<std::shared_ptr<const Regex>> Compile(std::string_view pattern);
  ~Regex();
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;

  // Finds the first match in `subject` (valid UTF-8) starting at byte `start`. Lookarounds and
  // anchors see all of `subject`. Returns false if there is none; a matcher error (resource
  // limits) also returns false, so callers treat the rest as unmatched text.
  bool Find(std::string_view subject, size_t start, size_t* begin, size_t* end) const;
  const std::string& pattern() const { return pattern_; }

 private:
  Regex() = default;
  void* code_ = nullptr;  // pcre2_code_8*
  bool jit_ = false;
  std::string pattern_;
};

// What happens to the matches of a split pattern (Hugging Face SplitDelimiterBehavior).
enum class SplitBehavior { kIsolated, kRemoved, kMergedWithPrevious, kMergedWithNext, kContiguous };

struct Span {
  uint32_t begin = 0;
  uint32_t end = 0;
};

struct PreTokenizerStep {
  // An isolated, non-inverted split by `pattern`; uses a hand-written matcher when one
  // implements the pattern exactly (fast_split.h).
  static Result<PreTokenizerStep> Split(std::string_view pattern,
                                        SplitBehavior behavior = SplitBehavior::kIsolated,
                                        bool invert = false);

  enum class Kind { kSplit, kMetaspace } kind = Kind::kSplit;
  // kSplit
  std::shared_ptr<const Regex> regex;
  SplitBehavior behavior = SplitBehavior::kIsolated;
  bool invert = false;
  int fast = 0;  // FastSplitKind; 0 = run the regex
  // kMetaspace: spaces become `replacement`; a prefix replacement is added per `prepend`
  // ("always", "first" = only on the first segment of the input, "never"); `split` splits
  // before each replacement character.
  std::string replacement;
  enum class Prepend { kAlways, kFirst, kNever } prepend = Prepend::kAlways;
  bool split = true;
};

class PreTokenizer {
 public:
  std::vector<PreTokenizerStep> steps;  // a kMetaspace step may only come first
  bool add_prefix_space = false;        // ByteLevel(add_prefix_space): " " if none leads

  bool empty() const { return steps.empty() && !add_prefix_space; }
  // May rewrite *text (prefix space, metaspace) and then fills *spans with the pieces, in order.
  // `first_segment`: the text starts the input (not preceded by an added token).
  void Run(std::string* text, bool first_segment, std::vector<Span>* spans) const;
};

// The split regexes llama.cpp applies for a GGUF `tokenizer.ggml.pre` name, each one an
// isolated split of the pieces the previous produced. kUnsupported for unknown names.
Result<std::vector<std::string>> PresetRegexes(const std::string& pre_name);

// The GPT-2 pre-tokenizer regex (Hugging Face ByteLevel with use_regex).
extern const char* const kGpt2Regex;

}  // namespace mint::tokenizer
