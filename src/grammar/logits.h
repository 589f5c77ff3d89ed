// The engine's constrained decoding (engine/logits_processor.h) on grammars: a processor per
// request over a shared GrammarCache built on the model's vocabulary.
#pragma once

#include <memory>
#include <string_view>
#include <unordered_map>

#include "engine/logits_processor.h"
#include "grammar/token_mask.h"
#include "tokenizer/tokenizer.h"

namespace mint::grammar {

// The vocabulary as text produces it: each token's bytes. Tokens that end generation get none
// (they are the request's stop ids); every other control token is one private-use code point,
// kControlBase + its rank among them (ControlSpelling), so a grammar can name a marker such as
// [TOOL_CALLS] while text classes never produce it. n_vocab: the model's logits width (may exceed
// the tokenizer's).
std::shared_ptr<const Vocabulary> VocabularyFromTokenizer(const tokenizer::Tokenizer& tok,
                                                          int64_t n_vocab);

// How a grammar spells a marker: the GBNF literal of the control token whose text it is, or of
// the text itself.
class ControlSpelling {
 public:
  explicit ControlSpelling(const tokenizer::Tokenizer& tok);
  std::string Literal(std::string_view marker) const;
  // The bytes the vocabulary gives the marker's token (its code point), or the text itself.
  std::string Bytes(std::string_view marker) const;

 private:
  const tokenizer::Tokenizer& tok_;
  std::unordered_map<int32_t, uint32_t> code_points_;  // control token id -> code point
};

// A factory for EngineConfig::logits_processor_factory: compiles Request::grammar through
// `cache` and allows the request's stop_token_ids where the grammar is complete.
engine::LogitsProcessorFactory GrammarProcessorFactory(std::shared_ptr<GrammarCache> cache);

}  // namespace mint::grammar
