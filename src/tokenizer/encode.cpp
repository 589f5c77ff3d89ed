// The two merge algorithms: SentencePiece-style score-driven bigram merging (whole text) and
// rank-driven BPE (one pre-token at a time, cached).
#include <algorithm>
#include <atomic>
#include <climits>
#include <cstring>
#include <memory>
#include <queue>

#include "tokenizer/tokenizer_internal.h"
#include "tokenizer/unicode.h"

namespace mint::tokenizer {

void MergeTable::Build(const std::vector<Entry>& entries) {
  size_t cap = 16;
  while (cap < entries.size() + entries.size() / 2) cap <<= 1;  // load factor <= 2/3
  slots_.assign(cap, Entry{});
  mask_ = cap - 1;
  size_ = 0;
  size_t filter_bits = 1024;  // >= 8 bits per pair; the shift in Find leaves 24 bits of hash
  while (filter_bits < entries.size() * 8 && filter_bits < (size_t{1} << 24)) filter_bits <<= 1;
  filter_.assign(filter_bits / 64, 0);
  filter_mask_ = filter_bits - 1;
  for (const Entry& e : entries) {
    const size_t h = Hash(e.key);
    const uint64_t bit = (h >> 40) & filter_mask_;
    filter_[bit >> 6] |= uint64_t{1} << (bit & 63);
    size_t i = h & mask_;
    while (slots_[i].key != kEmpty && slots_[i].key != e.key) i = (i + 1) & mask_;
    if (slots_[i].key == e.key) continue;  // duplicate pair: the first (lowest rank) wins
    slots_[i] = e;
    ++size_;
  }
}

namespace {

struct alignas(64) CacheLine {
  uint64_t tag;  // hash with the owner mixed in; 0 = empty
  uint8_t key_len;
  uint8_t n_ids;
  char key[PretokenCache::kMaxKeyBytes];
  int32_t ids[PretokenCache::kMaxIds];
};
static_assert(sizeof(CacheLine) == 64);

constexpr size_t kCacheLines = 16384;

CacheLine* ThreadCache() {
  thread_local std::unique_ptr<CacheLine[]> lines(new CacheLine[kCacheLines]());
  return lines.get();
}

uint64_t Mix(uint64_t h) {
  h ^= h >> 32;
  h *= 0xd6e8feb86659fd93ull;
  h ^= h >> 32;
  return h;
}

std::atomic<uint64_t> g_next_owner{1};

}  // namespace

PretokenCache::PretokenCache() : owner_(g_next_owner.fetch_add(1)) {}

uint64_t PretokenCache::Hash(std::string_view key) {
  uint64_t h = 0x9E3779B97F4A7C15ull ^ key.size();
  size_t i = 0;
  for (; i + 8 <= key.size(); i += 8) {
    uint64_t w;
    std::memcpy(&w, key.data() + i, 8);
    h = Mix(h ^ w) * 0x9E3779B97F4A7C15ull;
  }
  uint64_t tail = 0;
  std::memcpy(&tail, key.data() + i, key.size() - i);
  return Mix(h ^ tail);
}

bool PretokenCache::Lookup(std::string_view key, uint64_t hash, std::vector<int32_t>* out) const {
  if (key.size() > kMaxKeyBytes) return false;
  const uint64_t tag = Mix(hash ^ owner_) | 1;
  const CacheLine& line = ThreadCache()[tag & (kCacheLines - 1)];
  if (line.tag != tag || line.key_len != key.size() ||
      std::memcmp(line.key, key.data(), key.size()) != 0) {
    return false;
  }
  out->insert(out->end(), line.ids, line.ids + line.n_ids);
  return true;
}

void PretokenCache::Insert(std::string_view key, uint64_t hash, const int32_t* ids,
                           size_t n) const {
  if (key.size() > kMaxKeyBytes || n > kMaxIds) return;
  const uint64_t tag = Mix(hash ^ owner_) | 1;
  CacheLine& line = ThreadCache()[tag & (kCacheLines - 1)];
  line.tag = tag;
  line.key_len = static_cast<uint8_t>(key.size());
  line.n_ids = static_cast<uint8_t>(n);
  std::memcpy(line.key, key.data(), key.size());
  std::memcpy(line.ids, ids, n * sizeof(int32_t));
}

namespace {

struct Symbol {
  int32_t id;    // token id, -1 if the character is not in the vocabulary
  int32_t prev;  // index of the previous live symbol, -1 at the start
  int32_t next;  // index of the next live symbol, -1 at the end
  uint32_t begin;
  uint32_t len;  // 0 once merged into its left neighbour
};

// Emits the ids of the live symbols; characters outside the vocabulary fall back to byte
// tokens, or to <unk> (consecutive ones fused if the vocabulary says so).
void EmitSymbols(const TokenizerData& d, std::string_view word, const std::vector<Symbol>& syms,
                 std::vector<int32_t>* out) {
  bool last_unk = false;
  for (int32_t i = syms.empty() ? -1 : 0; i >= 0; i = syms[i].next) {
    const Symbol& s = syms[i];
    if (s.id >= 0) {
      out->push_back(s.id);
      last_unk = false;
      continue;
    }
    for (uint32_t k = 0; k < s.len; ++k) {
      const int32_t b = d.byte_ids[static_cast<uint8_t>(word[s.begin + k])];
      if (b >= 0 && (d.byte_fallback || d.model == ModelKind::kSpm)) {
        out->push_back(b);
        last_unk = false;
      } else if (d.unk_id >= 0 && !(last_unk && d.fuse_unk)) {
        out->push_back(d.unk_id);
        last_unk = true;
        if (!d.byte_fallback) break;  // one <unk> per character
      }
    }
  }
}

void MergeSymbol(std::vector<Symbol>* syms, int32_t left, int32_t merged_id) {
  Symbol& l = (*syms)[left];
  Symbol& r = (*syms)[l.next];
  l.id = merged_id;
  l.len += r.len;
  r.len = 0;
  l.next = r.next;
  if (l.next >= 0) (*syms)[l.next].prev = left;
}

// Thread-local direct-mapped cache in front of the (large, randomly accessed) merge table:
// the same byte pairs recur constantly. Entries are tagged with the table's address and a
// generation so a new table at a reused address never hits stale entries.
struct PairLookup {
  int32_t rank;  // INT32_MAX if the pair does not merge
  int32_t merged;
};

PairLookup FindMerge(const TokenizerData& d, int32_t left, int32_t right) {
  struct Entry {
    uint64_t key;
    uint64_t owner;
    PairLookup value;
  };
  constexpr size_t kEntries = 16384;
  thread_local std::unique_ptr<Entry[]> cache(new Entry[kEntries]());
  const uint64_t key = MergeTable::Key(left, right);
  const uint64_t owner = d.cache.owner();
  Entry& e = cache[(key * 0x9E3779B97F4A7C15ull) >> 50];
  if (e.key == key && e.owner == owner) return e.value;
  const MergeTable::Entry* m = d.merges.Find(left, right);
  e.key = key;
  e.owner = owner;
  e.value = m ? PairLookup{m->rank, m->merged} : PairLookup{INT32_MAX, -1};
  return e.value;
}

// Rank-ordered merging for short words: cached pair ranks and a linear scan per merge.
void MergeShort(const TokenizerData& d, std::vector<Symbol>* syms) {
  const int32_t n = static_cast<int32_t>(syms->size());
  int32_t rank[64];
  int32_t merged[64];
  auto update = [&](int32_t i) {
    const Symbol& s = (*syms)[i];
    rank[i] = INT32_MAX;
    if (s.next < 0 || s.id < 0 || (*syms)[s.next].id < 0) return;
    const PairLookup p = FindMerge(d, s.id, (*syms)[s.next].id);
    rank[i] = p.rank;
    merged[i] = p.merged;
  };
  for (int32_t i = 0; i < n; ++i) update(i);
  while (true) {
    int32_t best = -1;
    int32_t best_rank = INT32_MAX;
    for (int32_t i = 0; i >= 0; i = (*syms)[i].next) {
      if (rank[i] < best_rank) {
        best_rank = rank[i];
        best = i;
      }
    }
    if (best < 0) break;
    MergeSymbol(syms, best, merged[best]);
    update(best);
    if ((*syms)[best].prev >= 0) update((*syms)[best].prev);
  }
}

// Rank-ordered merging for long words: a lazy-deletion heap of candidate pairs.
void MergeLong(const TokenizerData& d, std::vector<Symbol>* syms) {
  struct Candidate {
    int32_t rank, left, left_id, right_id, merged;
    bool operator>(const Candidate& o) const {
      return rank != o.rank ? rank > o.rank : left > o.left;
    }
  };
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<>> heap;
  auto push = [&](int32_t i) {
    if (i < 0) return;
    const Symbol& s = (*syms)[i];
    if (s.next < 0 || s.id < 0 || (*syms)[s.next].id < 0) return;
    const int32_t rid = (*syms)[s.next].id;
    const PairLookup p = FindMerge(d, s.id, rid);
    if (p.rank != INT32_MAX) heap.push({p.rank, i, s.id, rid, p.merged});
  };
  for (int32_t i = 0; i < static_cast<int32_t>(syms->size()); ++i) push(i);
  while (!heap.empty()) {
    const Candidate c = heap.top();
    heap.pop();
    const Symbol& l = (*syms)[c.left];
    if (l.len == 0 || l.id != c.left_id || l.next < 0 || (*syms)[l.next].id != c.right_id) {
      continue;  // stale
    }
    MergeSymbol(syms, c.left, c.merged);
    push((*syms)[c.left].prev);
    push(c.left);
  }
}

void EncodeBpeUncached(const TokenizerData& d, std::string_view word, std::vector<int32_t>* out) {
  thread_local std::string spelled_buf;
  std::string_view spelled = word;
  if (d.byte_level) {
    spelled_buf.clear();
    AppendByteLevel(word, &spelled_buf);
    spelled = spelled_buf;
  }
  if (d.ignore_merges && spelled.size() <= d.max_token_bytes &&
      d.MaybeSpelling(PretokenCache::Hash(spelled))) {
    auto it = d.text_to_id.find(spelled);
    if (it != d.text_to_id.end()) {
      out->push_back(it->second);
      return;
    }
  }
  thread_local std::vector<Symbol> syms;
  syms.clear();
  if (d.byte_level) {
    for (size_t i = 0; i < word.size(); ++i) {
      syms.push_back({d.byte_ids[static_cast<uint8_t>(word[i])], int32_t(syms.size()) - 1,
                      int32_t(syms.size()) + 1, uint32_t(i), 1});
    }
  } else {
    for (size_t i = 0; i < word.size();) {
      const size_t len =
          std::min(Utf8LengthFromLead(static_cast<uint8_t>(word[i])), word.size() - i);
      auto it = d.text_to_id.find(word.substr(i, len));
      syms.push_back({it == d.text_to_id.end() ? -1 : it->second, int32_t(syms.size()) - 1,
                      int32_t(syms.size()) + 1, uint32_t(i), uint32_t(len)});
      i += len;
    }
  }
  syms.back().next = -1;
  if (syms.size() <= 12) {  // the linear scan beats a heap only for short words
    MergeShort(d, &syms);
  } else {
    MergeLong(d, &syms);
  }
  EmitSymbols(d, word, syms, out);
}

}  // namespace

void EncodeBpeWord(const TokenizerData& d, std::string_view word, std::vector<int32_t>* out) {
  if (word.empty()) return;
  const bool cacheable = word.size() <= PretokenCache::kMaxKeyBytes;
  const uint64_t hash = cacheable ? PretokenCache::Hash(word) : 0;
  if (cacheable && d.cache.Lookup(word, hash, out)) return;
  const size_t start = out->size();
  EncodeBpeUncached(d, word, out);
  if (cacheable) d.cache.Insert(word, hash, out->data() + start, out->size() - start);
}

void EncodeSpm(const TokenizerData& d, std::string_view text, std::vector<int32_t>* out) {
  if (text.empty()) return;
  std::vector<Symbol> syms;
  syms.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    const size_t len = std::min(Utf8LengthFromLead(static_cast<uint8_t>(text[i])), text.size() - i);
    auto it = d.text_to_id.find(text.substr(i, len));
    syms.push_back({it == d.text_to_id.end() ? -1 : it->second, int32_t(syms.size()) - 1,
                    int32_t(syms.size()) + 1, uint32_t(i), uint32_t(len)});
    i += len;
  }
  syms.back().next = -1;

  struct Bigram {
    float score;
    int32_t left, right, id;
    uint32_t size;
    bool operator<(const Bigram& o) const {  // max-heap: higher score, then leftmost, first
      return score < o.score || (score == o.score && left > o.left);
    }
  };
  std::priority_queue<Bigram> heap;
  auto try_add = [&](int32_t l, int32_t r) {
    if (l < 0 || r < 0) return;
    const uint32_t size = syms[l].len + syms[r].len;
    auto it = d.text_to_id.find(text.substr(syms[l].begin, size));
    if (it == d.text_to_id.end()) return;
    heap.push({d.scores[it->second], l, r, it->second, size});
  };
  for (int32_t i = 1; i < static_cast<int32_t>(syms.size()); ++i) try_add(i - 1, i);
  while (!heap.empty()) {
    const Bigram b = heap.top();
    heap.pop();
    Symbol& l = syms[b.left];
    Symbol& r = syms[b.right];
    if (l.len == 0 || r.len == 0 || l.len + r.len != b.size || l.next != b.right) continue;
    MergeSymbol(&syms, b.left, b.id);
    try_add(syms[b.left].prev, b.left);
    try_add(b.left, syms[b.left].next);
  }
  EmitSymbols(d, text, syms, out);
}

}  // namespace mint::tokenizer
