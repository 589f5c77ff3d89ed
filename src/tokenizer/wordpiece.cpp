// WordPiece (BERT) encoding as llama.cpp's GGUF vocabularies expect it: a BERT-style basic
// pre-tokenizer (accent stripping, lower-casing, splitting on white space, punctuation and CJK
// ideographs), then greedy longest-match-first over each word.
//
// The GGUF converter spells word-initial pieces with a leading "▁" and continuation pieces bare
// (WordPiece's "##" removed), so each word is looked up as "▁" + word.
#include <algorithm>

#include "tokenizer/tokenizer_internal.h"
#include "tokenizer/unicode.h"

namespace mint::tokenizer {
namespace {

// CJK Unified Ideographs (and extensions A-F) and the compatibility ideographs: BERT gives each
// one a word of its own, as Chinese has no spaces between words.
bool IsCjkIdeograph(uint32_t cp) {
  return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) ||
         (cp >= 0x20000 && cp <= 0x2A6DF) || (cp >= 0x2A700 && cp <= 0x2B73F) ||
         (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B820 && cp <= 0x2CEAF) ||
         (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

// Greedy longest-match-first over "▁" + `word`; if some position matches no piece, the whole word
// is the unknown token.
void EncodeWordUncached(const TokenizerData& d, std::string_view word, std::vector<int32_t>* out) {
  thread_local std::string spelled;
  spelled.assign(kMetaspace);
  spelled.append(word);
  const std::string_view w = spelled;
  const size_t start = out->size();
  for (size_t i = 0; i < w.size();) {
    int32_t id = -1;
    size_t j = std::min(w.size(), i + d.max_token_bytes);
    for (; j > i; --j) {
      if (j < w.size() && (static_cast<uint8_t>(w[j]) & 0xC0) == 0x80) continue;  // mid-char
      const std::string_view piece = w.substr(i, j - i);
      if (!d.MaybeSpelling(PretokenCache::Hash(piece))) continue;
      const auto it = d.text_to_id.find(piece);
      if (it != d.text_to_id.end()) {
        id = it->second;
        break;
      }
    }
    if (id < 0) {
      out->resize(start);
      if (d.unk_id >= 0) out->push_back(d.unk_id);
      return;
    }
    out->push_back(id);
    i = j;
  }
}

void EncodeWord(const TokenizerData& d, std::string_view word, std::vector<int32_t>* out) {
  if (word.empty()) return;
  const bool cacheable = word.size() <= PretokenCache::kMaxKeyBytes;
  const uint64_t hash = cacheable ? PretokenCache::Hash(word) : 0;
  if (cacheable && d.cache.Lookup(word, hash, out)) return;
  const size_t start = out->size();
  EncodeWordUncached(d, word, out);
  if (cacheable) d.cache.Insert(word, hash, out->data() + start, out->size() - start);
}

}  // namespace

void EncodeWordPiece(const TokenizerData& d, std::string_view text, std::vector<int32_t>* out) {
  thread_local std::string word;
  word.clear();
  for (size_t i = 0; i < text.size();) {
    uint32_t cp;
    const auto lead = static_cast<uint8_t>(text[i]);
    if (lead < 0x80) {
      cp = lead;
      ++i;
    } else {
      size_t len = 0;
      cp = FirstOfCanonicalDecomposition(DecodeUtf8(text, i, &len));
      i += len;
    }
    const uint8_t cls = CharClassOf(cp);
    if (cls & kCharWhitespace) {
      EncodeWord(d, word, out);
      word.clear();
      continue;
    }
    if (cp == 0 || cp == 0xFFFD || (cls & kCharControl)) continue;
    const uint32_t lower = SimpleLowercase(cp);
    if ((cls & kCharPunctuation) || (cp < 0x7F && (cls & kCharSymbol)) || IsCjkIdeograph(cp)) {
      EncodeWord(d, word, out);
      word.clear();
      AppendUtf8(lower, &word);
      EncodeWord(d, word, out);
      word.clear();
      continue;
    }
    AppendUtf8(lower, &word);
  }
  EncodeWord(d, word, out);
}

}  // namespace mint::tokenizer
