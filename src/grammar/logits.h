// The engine's constrained decoding (engine/logits_processor.h) on grammars: a processor per
// request over a shared GrammarCache built on the model's vocabulary.
#pragma once

#include <memory>

#include "engine/logits_processor.h"
#include "grammar/token_mask.h"
#include "tokenizer/tokenizer.h"

namespace mint::grammar {

// The vocabulary as text produces it: each token's bytes; control tokens get none (a grammar
// never allows them). n_vocab: the model's logits width (may exceed the tokenizer's).
std::shared_ptr<const Vocabulary> VocabularyFromTokenizer(const tokenizer::Tokenizer& tok,
                                                          int64_t n_vocab);

// A factory for EngineConfig::logits_processor_factory: compiles Request::grammar through
// `cache` and allows the request's stop_token_ids where the grammar is complete.
engine::LogitsProcessorFactory GrammarProcessorFactory(std::shared_ptr<GrammarCache> cache);

}  // namespace mint::grammar
