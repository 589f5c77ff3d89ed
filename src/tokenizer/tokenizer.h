// Tokenizers: text <-> token ids for the vocabularies Mint serves.
//
// Supported vocabularies:
//   - GGUF `tokenizer.ggml.*` metadata: `llama` (SentencePiece-style: scores, byte fallback
//     <0xXX>, "▁" for spaces, dummy-prefix space) and `gpt2` (byte-level BPE with the
//     pre-tokenizer named by `tokenizer.ggml.pre`: default, llama-bpe/llama3, qwen2,
//     deepseek-llm, deepseek-coder, falcon, mpt, starcoder, refact, command-r, gpt-2, ...).
//   - Hugging Face `tokenizer.json` with a BPE model (byte-level or byte-fallback), its
//     normalizer, pre-tokenizer, decoder and added tokens; `tokenizer_config.json` beside it
//     supplies BOS/EOS, add_bos_token and the chat template.
//
// Threading model: a Tokenizer is immutable after loading. Encode, Decode and every other const
// method may be called from any number of threads at once; BPE encodings of short pre-tokens
// are cached in per-thread tables (about 1.4 MiB per encoding
// thread, shared by all tokenizers). An
// IncrementalDetokenizer belongs to one stream and is not thread-safe; many detokenizers may share
// one Tokenizer.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace mint::gguf {
class GgufFile;
}

namespace mint::tokenizer {

struct TokenizerData;  // internal (tokenizer_internal.h)

// Kinds of token, as GGUF's tokenizer.ggml.token_type numbers them.
enum class TokenType : int32_t {
  kUndefined = 0,
  kNormal = 1,
  kUnknown = 2,
  kControl = 3,      // special token (BOS, EOS, <|im_start|>, ...): matched only with parse_special
  kUserDefined = 4,  // added token that is always matched in text, rendered as text
  kUnused = 5,
  kByte = 6,  // <0xXX> byte-fallback token
};

// Thread-safety: immutable after load; all methods are const and safe to call concurrently.
class Tokenizer {
 public:
  // Builds the tokenizer from a GGUF file's tokenizer.ggml.* metadata. The GgufFile may be
  // closed afterwards (everything is copied). Errors: kNotFound (no vocabulary), kCorruption
  // (inconsistent arrays, ids out of range), kUnsupported (tokenizer model or pre-tokenizer).
  static Result<std::unique_ptr<Tokenizer>> FromGguf(const gguf::GgufFile& file);
  // Reads a Hugging Face tokenizer.json, and tokenizer_config.json beside it if present
  // (bos/eos tokens, add_bos_token/add_eos_token, chat_template).
  static Result<std::unique_ptr<Tokenizer>> FromHuggingFace(const std::string& tokenizer_json_path);
  // Dispatches on `path`: a .gguf file, a tokenizer.json, or a directory containing
  // tokenizer.json.
  static Result<std::unique_ptr<Tokenizer>> Load(const std::string& path);

  ~Tokenizer();
  Tokenizer(const Tokenizer&) = delete;
  Tokenizer& operator=(const Tokenizer&) = delete;

  // Text -> ids. `add_special`: prepend BOS if add_bos(), append EOS if add_eos().
  // `parse_special`: recognise control tokens (e.g. "<|im_start|>") written in the text; keep it
  // off for user content. User-defined added tokens are always recognised, as in llama.cpp and
  // Hugging Face. Invalid UTF-8 is replaced by U+FFFD (one per invalid byte) before encoding.
  // Fails only on texts longer than 2 GiB (kOutOfRange).
  Result<std::vector<int32_t>> Encode(std::string_view text, bool add_special,
                                      bool parse_special) const;

  // Ids -> text (raw bytes; may be invalid UTF-8 if the ids split a character). Control tokens
  // are rendered as their text unless `skip_special`. Out-of-range ids are skipped. For
  // SentencePiece-style vocabularies the dummy-prefix space of the first text token is removed,
  // so Decode(Encode(x, ...)) == x for texts the vocabulary can represent.
  std::string Decode(std::span<const int32_t> ids, bool skip_special = false) const;

  // The raw bytes of one token ("▁" -> ' ', <0x0A> -> "\n", byte-level chars -> bytes, control
  // tokens -> their text). Empty for out-of-range ids.
  std::string TokenPiece(int32_t id) const;
  // The token as the vocabulary spells it ("Ġhello", "▁the", "<0x0A>"). Empty if out of range.
  std::string TokenText(int32_t id) const;
  TokenType token_type(int32_t id) const;  // kUndefined for out-of-range ids
  // The id of the token spelled exactly `text` in the vocabulary, or -1.
  int32_t TokenId(std::string_view text) const;

  int32_t vocab_size() const;
  int32_t bos_id() const;  // -1 if none
  int32_t eos_id() const;  // -1 if none
  int32_t eot_id() const;  // -1 if none
  int32_t pad_id() const;  // -1 if none
  int32_t unk_id() const;  // -1 if none
  bool add_bos() const;
  bool add_eos() const;
  // True for ids that end generation: eos, eot, eom, <|im_end|>, <|eot_id|>, <|endoftext|>, ...
  bool IsEndOfGeneration(int32_t id) const;
  bool IsControl(int32_t id) const;  // control (special) token
  // True if Decode strips the dummy-prefix space of the first text token (SentencePiece style).
  bool strips_leading_space() const;
  // From tokenizer.chat_template (GGUF) or tokenizer_config.json; may be empty.
  const std::string& chat_template() const;
  // "llama", "gpt2/<pre>", "hf-bpe", ... for logs.
  const std::string& description() const;

  // Internal representation; for the tokenizer's own implementation files.
  const TokenizerData& data() const { return *data_; }

 private:
  explicit Tokenizer(std::unique_ptr<TokenizerData> data);
  static Result<std::unique_ptr<Tokenizer>> Finish(std::unique_ptr<TokenizerData> data);

  std::unique_ptr<TokenizerData> data_;
};

// Turns a stream of generated ids into text, emitting only complete UTF-8 characters: a
// character whose bytes arrive in several byte-fallback tokens is held back until complete.
// Control tokens are skipped. The dummy-prefix space of SentencePiece vocabularies is removed
// from the first text token if nothing but control tokens came before it (see Prime()).
//
// Thread-safety: not thread-safe; one per stream. The Tokenizer must outlive it.
class IncrementalDetokenizer {
 public:
  explicit IncrementalDetokenizer(const Tokenizer& tokenizer);
  // Declares ids that precede the stream (the prompt) without emitting them, so that the first
  // generated token keeps its leading space when text came before it.
  void Prime(std::span<const int32_t> ids);
  // Adds one id; returns the newly completed text (possibly empty).
  std::string Push(int32_t id);
  // Returns whatever is still held back, with incomplete or invalid sequences replaced by
  // U+FFFD, and resets the pending bytes.
  std::string Flush();

 private:
  const Tokenizer* tokenizer_;
  std::string pending_;     // bytes not yet emitted (an incomplete UTF-8 tail)
  bool seen_text_ = false;  // a non-control token has been pushed or primed
};

}  // namespace mint::tokenizer
