// libFuzzer target for the tokenizers: arbitrary bytes (including invalid UTF-8 and text that
// spells special tokens) through Encode, Decode and the incremental detokenizer, and arbitrary ids
// through Decode/TokenPiece/the detokenizer. Vocabularies: stories260K.gguf (SentencePiece,
// byte fallback), Qwen3 and Llama 3 tokenizer.json (byte-level BPE), TinyStories tokenizer.json
// (BPE with <unk>), llama.cpp's bert-bge GGUF (WordPiece, lossy), loaded once from MINT_SHARED_DIR
// (environment variable, else the build's).
//
// Invariants trapped on: ids within the vocabulary; for byte-level vocabularies Decode(Encode(x))
// equals x after invalid UTF-8 was replaced (and NFC for Qwen3); the detokenizer's stream equals
// Decode with special tokens skipped (after replacement) and every chunk it returns is valid UTF-8.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"

namespace {

using mint::tokenizer::IncrementalDetokenizer;
using mint::tokenizer::Tokenizer;

struct Vocab {
  std::unique_ptr<Tokenizer> tok;
  bool lossless;  // Decode(Encode(x)) == x for valid UTF-8 x (== NFC(x) if `nfc`)
  bool nfc;
};

std::vector<Vocab>& Vocabs() {
  static std::vector<Vocab> vocabs;
  return vocabs;
}

void Trap(const char* what) {
  std::fprintf(stderr, "tokenizer_fuzz invariant violated: %s\n", what);
  std::abort();
}

void CheckIds(const Tokenizer& tok, const std::vector<int32_t>& ids) {
  for (int32_t id : ids) {
    if (id < 0 || id >= tok.vocab_size()) Trap("id out of range");
  }
}

std::string Stream(const Tokenizer& tok, const std::vector<int32_t>& ids) {
  IncrementalDetokenizer detok(tok);
  std::string out;
  for (int32_t id : ids) {
    const std::string part = detok.Push(id);
    if (!mint::tokenizer::IsValidUtf8(part)) Trap("detokenizer chunk is not valid UTF-8");
    out += part;
  }
  const std::string tail = detok.Flush();
  if (!mint::tokenizer::IsValidUtf8(tail)) Trap("detokenizer flush is not valid UTF-8");
  return out + tail;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const char* env = std::getenv("MINT_SHARED_DIR");
  const std::string shared = env ? env : MINT_SHARED_DIR;
  struct File {
    const char* rel;
    bool lossless;
    bool nfc;
  };
  const File files[] = {
      {"/models/stories260K.gguf", true, false},
      {"/tokenizers/qwen3/tokenizer.json", true, true},
      {"/tokenizers/llama3/tokenizer.json", true, false},
      {"/models/tinystories-656k/tokenizer.json", false, false},
      {"/tokenizers/llama-cpp-vocab/ggml-vocab-bert-bge.gguf", false, false},
  };
  for (const auto& [rel, lossless, nfc] : files) {
    auto tok = Tokenizer::Load(shared + rel);
    if (!tok.ok()) {
      std::fprintf(stderr, "tokenizer_fuzz: skipping %s: %s\n", rel,
                   tok.status().ToString().c_str());
      continue;
    }
    Vocabs().push_back({std::move(tok).value(), lossless, nfc});
  }
  if (Vocabs().empty()) {
    std::fprintf(stderr, "tokenizer_fuzz: no vocabulary found under %s\n", shared.c_str());
    std::abort();
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t mode = data[0];
  const Vocab& v = Vocabs()[((mode & 3) | ((mode & 0x10) >> 2)) % Vocabs().size()];
  const Tokenizer& tok = *v.tok;
  const std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);

  if (mode & 0x80) {  // the bytes are token ids (little-endian u16, widened by the mode bits)
    std::vector<int32_t> ids;
    for (size_t i = 0; i + 1 < input.size(); i += 2) {
      const int32_t raw =
          static_cast<uint8_t>(input[i]) | (static_cast<uint8_t>(input[i + 1]) << 8);
      ids.push_back((mode & 0x40) ? raw * 3 - 7 : raw % (tok.vocab_size() + 2) - 1);
    }
    const std::string text = tok.Decode(ids, (mode & 0x20) != 0);
    for (int32_t id : ids) (void)tok.TokenPiece(id);
    const std::string streamed = Stream(tok, ids);
    if (streamed != mint::tokenizer::SanitizeUtf8(tok.Decode(ids, true)) &&
        !tok.strips_leading_space()) {
      Trap("streamed text differs from Decode");
    }
    (void)text;
    return 0;
  }

  const bool add_special = (mode & 0x04) != 0;
  const bool parse_special = (mode & 0x08) != 0;
  auto ids = tok.Encode(input, add_special, parse_special);
  if (!ids.ok()) Trap("Encode failed");
  CheckIds(tok, *ids);
  std::string clean = mint::tokenizer::SanitizeUtf8(input);
  if (v.nfc) clean = mint::tokenizer::NormalizeNfc(clean);
  if (v.lossless && !parse_special) {
    if (tok.Decode(*ids, /*skip_special=*/add_special) != clean) Trap("Decode(Encode(x)) != x");
  }
  if (v.lossless && !parse_special) {
    if (Stream(tok, *ids) != clean) Trap("streamed text differs from the input");
  }
  return 0;
}
