// Internal to synth: copying a real vocabulary into a synthetic GGUF.
#pragma once

#include <cstdint>
#include <string>

#include "core/status.h"

namespace mint::gguf {
class GgufWriter;
}

namespace mint::model {

// Adds tokenizer.ggml.* metadata from `path`: a GGUF (keys copied as they are) or a Hugging Face
// tokenizer.json (+ tokenizer_config.json beside it), converted as llama.cpp's converter does
// (model "gpt2", pre-tokenizer `bpe_pre`, merges, token types, BOS/EOS). If `n_vocab` exceeds the
// vocabulary, it is padded with "[PAD<id>]" tokens. Returns the vocabulary size written.
Result<int64_t> AddVocabulary(const std::string& path, const std::string& bpe_pre,
                              int64_t n_vocab, gguf::GgufWriter* w);

}  // namespace mint::model
