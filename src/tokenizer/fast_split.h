// Hand-written matchers for the GPT-2 family of pre-tokenizer regexes (GPT-2, Llama 3, Qwen 2),
// equivalent to running the PCRE2 pattern as an isolated split but several times faster.
// Character classes (\p{L}, \p{N}, \s) come from PCRE2 itself, so both paths agree; the unit
// tests compare them on random text.
//
// Thread-safety: the class table is built once (thread-safe static); matching is pure.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "tokenizer/pretokenizer.h"

namespace mint::tokenizer {

enum class FastSplitKind {
  kNone,
  kGpt2,    // 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
  kLlama3,  // (?i:'s|...)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|...
  kQwen2,   // as kLlama3 with \p{N} (single digits)
};

// Which fast matcher implements `pattern` exactly, if any.
FastSplitKind FastSplitKindFor(std::string_view pattern);

// Appends the pieces of text[span] to *out (what an isolated split by the pattern produces).
// `text` must be valid UTF-8.
void FastSplit(FastSplitKind kind, std::string_view text, Span span, std::vector<Span>* out);

}  // namespace mint::tokenizer
