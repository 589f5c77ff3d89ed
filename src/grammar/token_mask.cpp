#include "grammar/token_mask.h"

#include <algorithm>
#include <numeric>

namespace mint::grammar {

Vocabulary::Vocabulary(std::vector<std::string> bytes, int32_t size)
    : bytes_(std::move(bytes)), size_(std::max<int32_t>(size, static_cast<int32_t>(bytes_.size()))) {
  uint64_t h = 1469598103934665603ull;  // FNV-1a over lengths and bytes
  for (const std::string& b : bytes_) {
    for (unsigned char c : b) h = (h ^ c) * 1099511628211ull;
    h = (h ^ b.size()) * 1099511628211ull;
  }
  fingerprint_ = h ^ static_cast<uint64_t>(size_);

  std::vector<int32_t> order;
  for (int32_t t = 0; t < static_cast<int32_t>(bytes_.size()); ++t) {
    if (!bytes_[t].empty()) order.push_back(t);
    max_token_bytes_ = std::max(max_token_bytes_, bytes_[t].size());
  }
  std::sort(order.begin(), order.end(), [&](int32_t a, int32_t b) {
    return bytes_[a] != bytes_[b] ? bytes_[a] < bytes_[b] : a < b;
  });
  nodes_.push_back(Node{});
  std::vector<int32_t> path = {0};  // path[d]: the node for the first d bytes
  const std::string* prev = nullptr;
  for (int32_t t : order) {
    const std::string& s = bytes_[t];
    size_t lcp = 0;
    if (prev != nullptr) {
      while (lcp < s.size() && lcp < prev->size() && s[lcp] == (*prev)[lcp]) ++lcp;
    }
    while (path.size() > lcp + 1) {
      nodes_[path.back()].subtree_end = static_cast<int32_t>(nodes_.size());
      path.pop_back();
    }
    for (size_t d = lcp; d < s.size(); ++d) {
      Node n;
      n.byte = static_cast<uint8_t>(s[d]);
      n.tok_begin = n.tok_end = static_cast<int32_t>(trie_tokens_.size());
      path.push_back(static_cast<int32_t>(nodes_.size()));
      nodes_.push_back(n);
    }
    Node& end = nodes_[path.back()];
    if (end.tok_end != static_cast<int32_t>(trie_tokens_.size())) {
      end.tok_begin = static_cast<int32_t>(trie_tokens_.size());  // first token ending here
      end.tok_end = end.tok_begin;
    }
    trie_tokens_.push_back(t);
    ++end.tok_end;
    prev = &s;
  }
  while (!path.empty()) {
    nodes_[path.back()].subtree_end = static_cast<int32_t>(nodes_.size());
    path.pop_back();
  }
}

int64_t TokenSet::Count() const {
  // SWAR popcount: the baseline x86-64 build has no POPCNT instruction, and libgcc's fallback
  // is a table walk.
  int64_t n = 0;
  for (uint64_t w : words) {
    w = w - ((w >> 1) & 0x5555555555555555ull);
    w = (w & 0x3333333333333333ull) + ((w >> 2) & 0x3333333333333333ull);
    w = (w + (w >> 4)) & 0x0F0F0F0F0F0F0F0Full;
    n += static_cast<int64_t>((w * 0x0101010101010101ull) >> 56);
  }
  return n;
}

namespace {

// One walk of the vocabulary trie from a set of stacks.
class TrieWalker {
 public:
  TrieWalker(const Vocabulary& vocab, StackArena* arena, TokenSet* accepted,
             std::vector<int32_t>* uncertain)
      : v_(vocab), arena_(arena), accepted_(accepted), uncertain_(uncertain) {}

  void Run(const std::vector<int32_t>& tops, Utf8State utf8) {
    levels_.resize(v_.max_token_bytes() + 2);
    levels_[0] = tops;
    Visit(0, 0, utf8, false);
  }

 private:
  void AddUncertain(int32_t begin, int32_t end) {
    const auto& nodes = v_.nodes();
    for (int32_t k = nodes[begin].tok_begin; k < nodes[end - 1].tok_end; ++k) {
      uncertain_->push_back(v_.trie_tokens()[k]);
    }
  }

  void Visit(int32_t node, size_t depth, Utf8State utf8, bool escaped) {
    const auto& nodes = v_.nodes();
    for (int32_t c = node + 1; c < nodes[node].subtree_end; c = nodes[c].subtree_end) {
      Utf8State u = utf8;
      uint32_t cp = 0;
      const int r = u.Feed(nodes[c].byte, &cp);
      if (r < 0) {
        if (escaped && uncertain_ != nullptr) AddUncertain(c, nodes[c].subtree_end);
        continue;
      }
      const int32_t mark = arena_->size();
      std::vector<int32_t>& next = levels_[depth + 1];
      next.clear();
      bool esc_now = false;
      if (r == 1) {
        arena_->Advance(levels_[depth], cp, &next, &esc_now);
      } else {
        uint32_t lo = 0, hi = 0;
        u.PendingRange(&lo, &hi);
        if (arena_->AnyMatches(levels_[depth], lo, hi)) next = levels_[depth];
      }
      const bool alive = !next.empty();
      const bool esc = escaped || esc_now;
      if (!alive && !esc) {
        arena_->Truncate(mark);
        continue;
      }
      const Vocabulary::Node& n = nodes[c];
      for (int32_t k = n.tok_begin; k < n.tok_end; ++k) {
        const int32_t tok = v_.trie_tokens()[k];
        if (alive || esc_now) {
          accepted_->Set(tok);
        } else if (uncertain_ != nullptr) {
          uncertain_->push_back(tok);
        }
      }
      if (alive) {
        Visit(c, depth + 1, u, esc);
      } else if (uncertain_ != nullptr && c + 1 < n.subtree_end) {
        AddUncertain(c + 1, n.subtree_end);
      }
      arena_->Truncate(mark);
    }
  }

  const Vocabulary& v_;
  StackArena* arena_;
  TokenSet* accepted_;
  std::vector<int32_t>* uncertain_;
  std::vector<std::vector<int32_t>> levels_;
};

}  // namespace

Result<std::shared_ptr<const CompiledGrammar>> CompiledGrammar::Compile(
    std::string_view gbnf, std::shared_ptr<const Vocabulary> vocab, size_t max_cache_bytes) {
  MINT_ASSIGN_OR_RETURN(Grammar g, Grammar::Parse(gbnf));
  return std::shared_ptr<const CompiledGrammar>(
      new CompiledGrammar(std::move(g), std::move(vocab), std::string(gbnf), max_cache_bytes));
}

bool CompiledGrammar::Key::operator==(const Key& o) const {
  return std::equal(std::begin(pos), std::end(pos), std::begin(o.pos));
}

size_t CompiledGrammar::KeyHash::operator()(const Key& k) const {
  uint64_t h = 0x9e3779b97f4a7c15ull;
  for (int32_t p : k.pos) h = (h ^ static_cast<uint32_t>(p)) * 0xff51afd7ed558ccdull;
  return static_cast<size_t>(h ^ (h >> 29));
}

const CompiledGrammar::Entry& CompiledGrammar::EntryFor(const StackArena& arena, int32_t top,
                                                        std::unique_ptr<Entry>* spill) const {
  Key key;
  std::fill(std::begin(key.pos), std::end(key.pos), INT32_MIN);
  int32_t id = top;
  int d = 0;
  for (; d < kCacheDepth && id >= 0; ++d) {
    key.pos[d] = arena.node(id).pos;
    id = arena.node(id).parent;
  }
  key.pos[d] = id >= 0 ? kUnknown : id;  // kBottom when the whole stack fits
  {
    std::lock_guard<std::mutex> lk(mu_);
    auto it = cache_.find(key);
    if (it != cache_.end()) return *it->second;
  }
  std::unique_ptr<Entry> entry = Classify(key);
  const size_t bytes = entry->accepted.words.size() * sizeof(uint64_t) +
                       entry->uncertain.size() * sizeof(int32_t) + sizeof(Entry);
  if (cache_bytes_.load() + bytes > max_cache_bytes_) {  // full: classified again at each use
    *spill = std::move(entry);
    return **spill;
  }
  std::lock_guard<std::mutex> lk(mu_);
  auto [it, inserted] = cache_.emplace(key, std::move(entry));
  if (inserted) cache_bytes_ += bytes;
  return *it->second;
}

size_t CompiledGrammar::WalkWorkLimit() const {
  // Ordinary grammars visit a few (pos, parent) per trie node; allow 32.
  return StackArena::kDefaultWorkLimit + 32 * vocab_->nodes().size();
}

size_t CompiledGrammar::cache_entries() const {
  std::lock_guard<std::mutex> lk(mu_);
  return cache_.size();
}

std::unique_ptr<CompiledGrammar::Entry> CompiledGrammar::Classify(const Key& key) const {
  int depth = 0;
  while (depth < kCacheDepth + 1 && key.pos[depth] >= 0) ++depth;
  StackArena arena(&grammar_);
  arena.set_work_limit(WalkWorkLimit());
  int32_t parent = key.pos[depth];  // kBottom or kUnknown
  for (int d = depth - 1; d >= 0; --d) parent = arena.Push(key.pos[d], parent);
  auto entry = std::make_unique<Entry>();
  entry->accepted.Resize(vocab_->size());
  TrieWalker walker(*vocab_, &arena, &entry->accepted, &entry->uncertain);
  walker.Run({parent}, Utf8State{});
  entry->overflowed = arena.overflowed();
  return entry;
}

void CompiledGrammar::WalkAll(StackArena* arena, const std::vector<int32_t>& tops, Utf8State utf8,
                              TokenSet* accepted) const {
  const int32_t mark = arena->size();
  const size_t limit = arena->work_limit();
  arena->set_work_limit(WalkWorkLimit());
  TrieWalker walker(*vocab_, arena, accepted, nullptr);
  walker.Run(tops, utf8);
  arena->set_work_limit(limit);
  arena->Truncate(mark);
}

Result<std::shared_ptr<const CompiledGrammar>> GrammarCache::Get(std::string_view gbnf) {
  {
    std::lock_guard<std::mutex> lk(mu_);
    auto it = index_.find(gbnf);
    if (it != index_.end()) {
      lru_.splice(lru_.begin(), lru_, it->second);
      ++hits_;
      return it->second->second;
    }
    ++misses_;
  }
  MINT_ASSIGN_OR_RETURN(std::shared_ptr<const CompiledGrammar> g, CompiledGrammar::Compile(gbnf, vocab_));
  std::lock_guard<std::mutex> lk(mu_);
  if (index_.find(gbnf) == index_.end()) {
    lru_.emplace_front(std::string(gbnf), g);
    index_.emplace(lru_.front().first, lru_.begin());
    // At most capacity_ grammars, and their mask caches within the byte budget (requests that
    // hold an evicted grammar keep it until they end).
    size_t bytes = 0;
    for (const auto& [text, grammar] : lru_) bytes += grammar->cache_bytes();
    while (lru_.size() > 1 && (lru_.size() > capacity_ || bytes > max_bytes_)) {
      bytes -= lru_.back().second->cache_bytes();
      index_.erase(lru_.back().first);
      lru_.pop_back();
    }
  }
  return g;
}

uint64_t GrammarCache::hits() const {
  std::lock_guard<std::mutex> lk(mu_);
  return hits_;
}

uint64_t GrammarCache::misses() const {
  std::lock_guard<std::mutex> lk(mu_);
  return misses_;
}

TokenMatcher::TokenMatcher(std::shared_ptr<const CompiledGrammar> grammar,
                           std::vector<int32_t> stop_tokens)
    : grammar_(std::move(grammar)), stop_tokens_(std::move(stop_tokens)),
      matcher_(&grammar_->grammar()) {}

bool TokenMatcher::IsStop(int32_t token) const {
  return std::find(stop_tokens_.begin(), stop_tokens_.end(), token) != stop_tokens_.end();
}

void TokenMatcher::FillMask(TokenSet* allowed) {
  matcher_.ResetWork();
  const Vocabulary& vocab = grammar_->vocab();
  allowed->Resize(vocab.size());
  if (stopped_) return;
  if (matcher_.tops().size() > kMaxStacks) {  // each stack costs a cache lookup or a walk
    overflowed_ = true;
    return;
  }
  if (matcher_.utf8().pending()) {  // inside a character: walk everything from the real stacks
    grammar_->WalkAll(matcher_.arena(), matcher_.tops(), matcher_.utf8(), allowed);
    return;
  }
  for (int32_t top : matcher_.tops()) {
    if (top == kAccepted) {
      for (int32_t s : stop_tokens_) {
        if (s >= 0 && s < vocab.size()) allowed->Set(s);
      }
      continue;
    }
    std::unique_ptr<CompiledGrammar::Entry> spill;
    const CompiledGrammar::Entry& e = grammar_->EntryFor(*matcher_.arena(), top, &spill);
    overflowed_ = overflowed_ || e.overflowed;
    for (size_t w = 0; w < allowed->words.size(); ++w) allowed->words[w] |= e.accepted.words[w];
    for (int32_t tok : e.uncertain) {
      if (!allowed->Has(tok) && matcher_.CanAcceptFrom(top, vocab.bytes(tok))) allowed->Set(tok);
    }
  }
}

Status TokenMatcher::status() const {
  if (overflowed_ || matcher_.arena_overflowed()) {
    return Status::ResourceExhausted(
        "grammar: too ambiguous to follow (too many ways to read one token); simplify nested "
        "optional repetitions");
  }
  return Status::Ok();
}

bool TokenMatcher::Allows(int32_t token) {
  if (stopped_) return false;
  if (IsStop(token)) return matcher_.IsComplete();
  return grammar_->vocab().has_bytes(token) && matcher_.CanAccept(grammar_->vocab().bytes(token));
}

bool TokenMatcher::Accept(int32_t token) {
  matcher_.ResetWork();
  if (stopped_) return false;
  if (IsStop(token)) {
    if (!matcher_.IsComplete()) return false;
    stopped_ = true;
    return true;
  }
  return grammar_->vocab().has_bytes(token) && matcher_.AcceptBytes(grammar_->vocab().bytes(token));
}

}  // namespace mint::grammar
