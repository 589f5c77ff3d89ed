// Internal representation shared by the tokenizer's loaders (GGUF, tokenizer.json), its
// encoders (SentencePiece-style, BPE, WordPiece) and its decoders. Not part of the facade.
//
// Thread-safety: a TokenizerData is filled by one loader, then frozen; the pre-token cache it
// owns lives in per-thread tables.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/status.h"
#include "tokenizer/pretokenizer.h"
#include "tokenizer/tokenizer.h"

namespace mint::tokenizer {

enum class ModelKind {
  kSpm,        // score-driven bigram merging over the whole (escaped) text, byte fallback
  kBpe,        // rank-driven merges per pre-token
  kWordPiece,  // BERT: basic pre-tokenizer, then greedy longest match per word (wordpiece.cpp)
};

// How a normal token's spelling maps back to bytes.
enum class PieceDecoding {
  kByteLevel,  // GPT-2 alphabet -> bytes
  kMetaspace,  // "▁" -> ' ', <0xXX> byte tokens -> the byte
  kVerbatim,   // as spelled
};

struct TransparentStringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
using StringIdMap =
    std::unordered_map<std::string, int32_t, TransparentStringHash, std::equal_to<>>;

// Open-addressing map (left id, right id) -> (rank, merged id), with a one-bit-per-slot filter in
// front (about 8 bits per pair, a few percent false positives) so that the many pairs that do not
// merge are rejected without a random access into the (megabytes large) slot array. Immutable after
// building.
class MergeTable {
 public:
  struct Entry {
    uint64_t key = kEmpty;
    int32_t rank = 0;
    int32_t merged = 0;
  };
  void Build(const std::vector<Entry>& entries);
  // Returns nullptr if the pair does not merge.
  const Entry* Find(int32_t left, int32_t right) const {
    if (slots_.empty()) return nullptr;
    const uint64_t key = Key(left, right);
    const size_t h = Hash(key);
    const uint64_t bit = (h >> 40) & filter_mask_;
    if (((filter_[bit >> 6] >> (bit & 63)) & 1) == 0) return nullptr;
    size_t i = h & mask_;
    while (true) {
      const Entry& e = slots_[i];
      if (e.key == key) return &e;
      if (e.key == kEmpty) return nullptr;
      i = (i + 1) & mask_;
    }
  }
  static uint64_t Key(int32_t left, int32_t right) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) |
           static_cast<uint32_t>(right);
  }
  size_t size() const { return size_; }

 private:
  static constexpr uint64_t kEmpty = ~0ull;
  static size_t Hash(uint64_t k) {
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdull;
    k ^= k >> 33;
    return static_cast<size_t>(k);
  }
  std::vector<Entry> slots_;
  size_t mask_ = 0;
  size_t size_ = 0;
  std::vector<uint64_t> filter_;  // bit (Hash(key) >> 40) & filter_mask_ set for every key
  uint64_t filter_mask_ = 0;
};

// Per-thread cache of pre-token -> ids for BPE: direct-mapped, one 64-byte line per entry,
// tagged with the owning tokenizer's unique id, so lookups take no lock and entries of a
// destroyed tokenizer are never returned. Each thread that encodes holds 1 MiB for it.
// Thread-safety: every thread touches only its own table.
class PretokenCache {
 public:
  static constexpr size_t kMaxKeyBytes = 22;
  static constexpr size_t kMaxIds = 8;
  PretokenCache();
  // Appends the cached ids of `key` to *out; false on a miss.
  bool Lookup(std::string_view key, uint64_t hash, std::vector<int32_t>* out) const;
  void Insert(std::string_view key, uint64_t hash, const int32_t* ids, size_t n) const;
  static uint64_t Hash(std::string_view key);
  uint64_t owner() const { return owner_; }

 private:
  uint64_t owner_;  // unique per TokenizerData, never reused
};

// A token matched in raw text before normalization (added tokens, control tokens).
struct AddedToken {
  std::string content;
  int32_t id = -1;
  bool special = false;  // matched only with parse_special
  bool lstrip = false;   // swallows whitespace before it
  bool rstrip = false;   // swallows whitespace after it
};

// One normalization step on a text segment (Hugging Face normalizers).
struct NormalizerStep {
  enum class Kind { kPrepend, kReplaceString, kReplaceRegex, kNfc, kLowercase } kind;
  std::string arg;          // prepend text / pattern string
  std::string replacement;  // for kReplace*
  std::shared_ptr<const Regex> regex;
};

struct TokenizerData {
  std::string description;
  ModelKind model = ModelKind::kBpe;

  // Vocabulary, indexed by id.
  std::vector<std::string> texts;   // spelling in the vocabulary
  std::vector<std::string> pieces;  // raw bytes for decoding
  std::vector<float> scores;        // SPM merge priority (higher first)
  std::vector<TokenType> types;
  StringIdMap text_to_id;

  // BPE.
  MergeTable merges;
  bool ignore_merges = false;  // a pre-token that is itself a token is emitted whole
  size_t max_token_bytes = 0;  // longest spelling in the vocabulary
  // Two-bit Bloom filter over PretokenCache::Hash of every spelling: most pre-tokens that are
  // not whole tokens are rejected without touching text_to_id.
  std::vector<uint64_t> spelling_filter;
  bool MaybeSpelling(uint64_t hash) const {
    if (spelling_filter.empty()) return true;
    const uint64_t mask = spelling_filter.size() * 64 - 1;
    const uint64_t a = hash & mask, b = (hash >> 32) & mask;
    return ((spelling_filter[a >> 6] >> (a & 63)) & 1) &&
           ((spelling_filter[b >> 6] >> (b & 63)) & 1);
  }
  bool byte_level = false;     // pre-tokens are spelled in the GPT-2 alphabet before merging
  bool byte_fallback = false;  // unknown characters become <0xXX> tokens
  bool fuse_unk = false;
  std::array<int32_t, 256> byte_ids{};  // byte-level char id or <0xXX> id per byte, -1 if none
  mutable PretokenCache cache;

  // Text pipeline before the model.
  bool spm_escape_whitespace = false;  // ' ' -> "▁" (SPM)
  bool add_space_prefix = false;       // dummy " " before the first segment (SPM)
  std::vector<NormalizerStep> normalizers;
  PreTokenizer pre;

  // Decoding.
  PieceDecoding piece_decoding = PieceDecoding::kVerbatim;
  bool strip_leading_space = false;

  // Special tokens.
  int32_t bos_id = -1, eos_id = -1, eot_id = -1, eom_id = -1, pad_id = -1, unk_id = -1;
  bool add_bos = false;
  bool add_eos = false;
  std::vector<int32_t> eog_ids;  // sorted
  std::vector<AddedToken> added;
  std::array<std::vector<int32_t>, 256> added_by_first_byte;  // indices into added, longest first

  std::string chat_template;

  int32_t vocab_size() const { return static_cast<int32_t>(texts.size()); }
  bool ValidId(int32_t id) const { return id >= 0 && id < vocab_size(); }
};

// Loader helpers (tokenizer.cpp). Called once by each loader after filling the vocabulary:
// builds text_to_id, pieces, byte_ids, the added-token index and the end-of-generation set.
Status FinalizeData(TokenizerData* d);
// Parses "<0xAB>" -> 0xAB; -1 if `text` is not a byte token.
int ParseByteToken(std::string_view text);

// Encoders (encode.cpp). Append ids to *out.
void EncodeSpm(const TokenizerData& d, std::string_view escaped_text, std::vector<int32_t>* out);
void EncodeBpeWord(const TokenizerData& d, std::string_view word, std::vector<int32_t>* out);
// A whole segment of valid UTF-8 (wordpiece.cpp): the model does its own normalization and
// pre-tokenization, so d.normalizers and d.pre are not used.
void EncodeWordPiece(const TokenizerData& d, std::string_view text, std::vector<int32_t>* out);

// Loaders.
Result<std::unique_ptr<TokenizerData>> LoadGgufData(const gguf::GgufFile& file);
Result<std::unique_ptr<TokenizerData>> LoadHuggingFaceData(const std::string& json_path);

}  // namespace mint::tokenizer
