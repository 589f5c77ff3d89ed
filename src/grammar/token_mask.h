// Token masks: which tokens of a model's vocabulary may come next under a grammar.
//
// A Vocabulary holds each token's bytes in a byte trie (sorted, preorder), so a walk over the
// whole vocabulary advances the parse once per shared prefix and drops a subtree at its first
// dead byte.
//
// CompiledGrammar adds an adaptive mask cache in the manner of XGrammar: for a stack suffix (the
// top kCacheDepth positions of a parse stack, whatever lies below), one vocabulary walk sorts
// every token into accepted (it fits inside those positions, whatever lies below), rejected, or
// uncertain (it only fits by popping below them, which depends on the rest of the stack). At run
// time a mask is the cached accepted set plus the uncertain tokens checked against the real
// stack. Entries are computed on first use and kept (up to a byte budget): a grammar compiled
// once (GrammarCache, by text) gets faster as requests visit its states.
//
// Thread-safety: Vocabulary and CompiledGrammar are immutable apart from the mask cache, which
// is guarded; share them freely. A TokenMatcher belongs to one request.
#pragma once

#include <atomic>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/status.h"
#include "grammar/grammar.h"
#include "grammar/matcher.h"

namespace mint::grammar {

class Vocabulary {
 public:
  // bytes[i]: what token i adds to the text; empty for tokens text never produces (control
  // tokens), which a grammar never allows. `size` may exceed bytes.size() (padded vocabularies).
  Vocabulary(std::vector<std::string> bytes, int32_t size);

  int32_t size() const { return size_; }
  const std::string& bytes(int32_t token) const { return bytes_[token]; }
  bool has_bytes(int32_t token) const {
    return token >= 0 && token < static_cast<int32_t>(bytes_.size()) && !bytes_[token].empty();
  }
  uint64_t fingerprint() const { return fingerprint_; }
  size_t max_token_bytes() const { return max_token_bytes_; }

  struct Node {
    uint8_t byte = 0;
    int32_t subtree_end = 0;  // index after this node's subtree
    int32_t tok_begin = 0, tok_end = 0;  // into tokens(): the tokens that end here
  };
  const std::vector<Node>& nodes() const { return nodes_; }
  const std::vector<int32_t>& trie_tokens() const { return trie_tokens_; }

 private:
  std::vector<std::string> bytes_;
  int32_t size_;
  uint64_t fingerprint_ = 0;
  size_t max_token_bytes_ = 0;
  std::vector<Node> nodes_;  // preorder; node 0 is the root (no byte)
  std::vector<int32_t> trie_tokens_;
};

// A bitset over the vocabulary.
struct TokenSet {
  std::vector<uint64_t> words;
  void Resize(int32_t n) { words.assign((static_cast<size_t>(n) + 63) / 64, 0); }
  void Set(int32_t t) { words[t >> 6] |= uint64_t{1} << (t & 63); }
  bool Has(int32_t t) const { return (words[t >> 6] >> (t & 63)) & 1; }
  int64_t Count() const;
};

class CompiledGrammar {
 public:
  static constexpr int kCacheDepth = 8;

  static constexpr size_t kMaxCacheBytes = size_t{64} << 20;
  // `max_cache_bytes`: how much of the mask cache is kept (tests lower it).
  static Result<std::shared_ptr<const CompiledGrammar>> Compile(
      std::string_view gbnf, std::shared_ptr<const Vocabulary> vocab,
      size_t max_cache_bytes = kMaxCacheBytes);

  const Grammar& grammar() const { return grammar_; }
  const Vocabulary& vocab() const { return *vocab_; }
  const std::string& source() const { return source_; }

  struct Entry {
    TokenSet accepted;
    std::vector<int32_t> uncertain;
    bool overflowed = false;  // the classification hit StackArena's work bound
  };
  // The cached classification for the stack whose top is `top` in `arena` (computed now if
  // new). Past max_cache_bytes a new entry is not kept: it is returned through *spill, which the
  // caller holds while it uses the entry.
  const Entry& EntryFor(const StackArena& arena, int32_t top, std::unique_ptr<Entry>* spill) const;
  size_t cache_entries() const;
  size_t cache_bytes() const { return cache_bytes_.load(); }

  // Every token that may follow (tops, utf8), by one walk of the vocabulary trie (no cache).
  void WalkAll(StackArena* arena, const std::vector<int32_t>& tops, Utf8State utf8,
               TokenSet* accepted) const;

 private:
  CompiledGrammar(Grammar g, std::shared_ptr<const Vocabulary> vocab, std::string source,
                  size_t max_cache_bytes)
      : grammar_(std::move(g)),
        vocab_(std::move(vocab)),
        source_(std::move(source)),
        max_cache_bytes_(max_cache_bytes) {}

  struct Key {
    int32_t pos[kCacheDepth + 1];
    bool operator==(const Key& o) const;
  };
  struct KeyHash {
    size_t operator()(const Key& k) const;
  };
  std::unique_ptr<Entry> Classify(const Key& key) const;
  size_t WalkWorkLimit() const;  // expansion work allowed for one walk of the vocabulary

  Grammar grammar_;
  std::shared_ptr<const Vocabulary> vocab_;
  std::string source_;
  mutable std::mutex mu_;
  mutable std::unordered_map<Key, std::unique_ptr<Entry>, KeyHash> cache_;
  size_t max_cache_bytes_;
  mutable std::atomic<size_t> cache_bytes_{0};
};

// Compiled grammars by source text, most recently used kept (a repeated schema compiles once):
// at most `capacity` of them, and fewer when their mask caches pass `max_bytes` in all.
class GrammarCache {
 public:
  static constexpr size_t kMaxBytes = size_t{512} << 20;
  GrammarCache(std::shared_ptr<const Vocabulary> vocab, size_t capacity = 64,
               size_t max_bytes = kMaxBytes)
      : vocab_(std::move(vocab)), capacity_(capacity), max_bytes_(max_bytes) {}
  Result<std::shared_ptr<const CompiledGrammar>> Get(std::string_view gbnf);
  const std::shared_ptr<const Vocabulary>& vocab() const { return vocab_; }
  uint64_t hits() const;
  uint64_t misses() const;

 private:
  std::shared_ptr<const Vocabulary> vocab_;
  size_t capacity_;
  size_t max_bytes_;
  mutable std::mutex mu_;
  std::list<std::pair<std::string, std::shared_ptr<const CompiledGrammar>>> lru_;
  std::unordered_map<std::string_view, decltype(lru_)::iterator> index_;
  uint64_t hits_ = 0, misses_ = 0;
};

// One request's constraint: the mask for the next token, advanced by each accepted token.
// `stop_tokens` may end the output once the grammar has matched, and only then.
class TokenMatcher {
 public:
  // More parse stacks than this at once (a grammar that reads the same text in that many ways)
  // is refused through status(): JSON grammars keep a handful.
  static constexpr size_t kMaxStacks = 1024;

  TokenMatcher(std::shared_ptr<const CompiledGrammar> grammar, std::vector<int32_t> stop_tokens);

  // The tokens that may come next (resized to the vocabulary).
  void FillMask(TokenSet* allowed);
  bool Allows(int32_t token);
  // Advances past `token`; false (state unchanged) if it does not fit.
  bool Accept(int32_t token);
  // Advances past raw text (UTF-8, possibly split); false, unchanged, if it does not fit.
  bool AcceptText(std::string_view text) { return matcher_.AcceptBytes(text); }
  bool IsComplete() const { return matcher_.IsComplete(); }
  bool OnlyEnd() const { return matcher_.OnlyEnd(); }
  bool IsStop(int32_t token) const;
  // kResourceExhausted once the grammar proved too ambiguous to follow (StackArena's bound).
  Status status() const;

 private:
  std::shared_ptr<const CompiledGrammar> grammar_;
  std::vector<int32_t> stop_tokens_;
  Matcher matcher_;
  bool stopped_ = false;
  bool overflowed_ = false;  // a cache entry this matcher used overflowed
};

}  // namespace mint::grammar
