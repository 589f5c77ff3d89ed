#include "grammar/matcher.h"

#include <algorithm>

namespace mint::grammar {

int Utf8State::Feed(uint8_t b, uint32_t* cp) {
  if (need == 0) {
    if (b < 0x80) {
      *cp = b;
      return 1;
    }
    if ((b & 0xE0) == 0xC0 && b >= 0xC2) {
      value = b & 0x1F, need = len = 1;
    } else if ((b & 0xF0) == 0xE0) {
      value = b & 0x0F, need = len = 2;
    } else if ((b & 0xF8) == 0xF0 && b <= 0xF4) {
      value = b & 0x07, need = len = 3;
    } else {
      return -1;
    }
    return 0;
  }
  if ((b & 0xC0) != 0x80) return -1;
  value = (value << 6) | (b & 0x3F);
  if (--need > 0) {
    // Reject overlong and surrogate prefixes as soon as they show.
    uint32_t lo = 0, hi = 0;
    PendingRange(&lo, &hi);
    if (hi < lo) return -1;
    return 0;
  }
  static constexpr uint32_t kMin[4] = {0, 0x80, 0x800, 0x10000};
  const uint32_t v = value;
  const int l = len;
  value = 0, len = 0;
  if (v < kMin[l] || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return -1;
  *cp = v;
  return 1;
}

void Utf8State::PendingRange(uint32_t* lo, uint32_t* hi) const {
  static constexpr uint32_t kMin[4] = {0, 0x80, 0x800, 0x10000};
  const int shift = 6 * need;
  *lo = std::max(value << shift, kMin[len]);
  *hi = std::min((value << shift) | ((1u << shift) - 1), 0x10FFFFu);
}

void StackArena::Truncate(int32_t n) {
  if (n < size()) nodes_.resize(static_cast<size_t>(n));
}

int32_t StackArena::NewNode(int32_t pos, int32_t parent) {
  if (intern_) {
    const uint64_t key = (static_cast<uint64_t>(static_cast<uint32_t>(pos)) << 32) |
                         static_cast<uint32_t>(parent);
    auto [it, inserted] = interned_.emplace(key, size());
    if (!inserted) return it->second;
  }
  nodes_.push_back(StackNode{pos, parent});
  return size() - 1;
}

void StackArena::BeginExpansion() {
  if (++stamp_ == 0) {  // wrapped: forget every old stamp
    std::fill(memo_stamps_.begin(), memo_stamps_.end(), 0);
    stamp_ = 1;
  }
  memo_used_ = 0;
}

bool StackArena::FirstVisit(int32_t pos, int32_t parent) {
  if (++work_ > work_limit_ || overflowed_) {
    overflowed_ = true;
    return false;
  }
  if (2 * (memo_used_ + 1) > memo_keys_.size()) {  // keep the load under one half
    std::vector<uint64_t> keys;
    for (size_t i = 0; i < memo_keys_.size(); ++i) {
      if (memo_stamps_[i] == stamp_) keys.push_back(memo_keys_[i]);
    }
    memo_keys_.assign(memo_keys_.size() * 2, 0);
    memo_stamps_.assign(memo_keys_.size(), 0);
    memo_used_ = 0;
    for (uint64_t k : keys) FirstVisit(static_cast<int32_t>(k >> 32), static_cast<int32_t>(k));
  }
  const uint64_t key = (static_cast<uint64_t>(static_cast<uint32_t>(pos)) << 32) |
                       static_cast<uint32_t>(parent);
  const size_t mask = memo_keys_.size() - 1;
  for (size_t i = (key * 0x9e3779b97f4a7c15ull) >> 40 & mask;; i = (i + 1) & mask) {
    if (memo_stamps_[i] != stamp_) {
      memo_stamps_[i] = stamp_;
      memo_keys_[i] = key;
      ++memo_used_;
      return true;
    }
    if (memo_keys_[i] == key) return false;
  }
}

void StackArena::Expand(int32_t pos, int32_t parent, std::vector<int32_t>* out, bool* escaped) {
  while (true) {
    if (!FirstVisit(pos, parent)) return;
    const Symbol& sym = g_->at(pos);
    switch (sym.kind) {
      case Symbol::Kind::kEnd: {
        if (parent == kBottom) {
          out->push_back(kAccepted);
          return;
        }
        if (parent == kUnknown) {
          *escaped = true;
          return;
        }
        const StackNode p = nodes_[parent];
        pos = p.pos, parent = p.parent;
        continue;
      }
      case Symbol::Kind::kChars:
        out->push_back(NewNode(pos, parent));
        return;
      case Symbol::Kind::kRule: {
        if (depth_ >= kMaxExpandDepth) {  // a chain of rules at one position deeper than this
          overflowed_ = true;
          return;
        }
        const int32_t cont = g_->at(pos + 1).kind == Symbol::Kind::kEnd ? parent
                                                                         : NewNode(pos + 1, parent);
        ++depth_;
        for (int32_t alt : g_->alternatives(sym.index)) Expand(alt, cont, out, escaped);
        --depth_;
        return;
      }
    }
  }
}

void StackArena::Start(std::vector<int32_t>* out) {
  BeginExpansion();
  bool escaped = false;
  for (int32_t alt : g_->alternatives(g_->root())) Expand(alt, kBottom, out, &escaped);
  std::sort(out->begin(), out->end());
  out->erase(std::unique(out->begin(), out->end()), out->end());
}

void StackArena::Advance(const std::vector<int32_t>& in, uint32_t cp, std::vector<int32_t>* out,
                         bool* escaped) {
  BeginExpansion();
  for (int32_t t : in) {
    if (t < 0) continue;
    const StackNode n = nodes_[t];
    if (g_->class_at(n.pos).Matches(cp)) Expand(n.pos + 1, n.parent, out, escaped);
  }
  if (out->size() > 1) {
    std::sort(out->begin(), out->end());
    out->erase(std::unique(out->begin(), out->end()), out->end());
  }
}

bool StackArena::AnyMatches(const std::vector<int32_t>& tops, uint32_t lo, uint32_t hi) const {
  for (int32_t t : tops) {
    if (t >= 0 && g_->class_at(nodes_[t].pos).MatchesAnyIn(lo, hi)) return true;
  }
  return false;
}

Matcher::Matcher(const Grammar* grammar) : g_(grammar), arena_(grammar) {
  arena_.set_intern(true);
  arena_.Start(&tops_);
  arena_.set_intern(false);
}

bool Matcher::Run(const std::vector<int32_t>& start, Utf8State utf8, std::string_view bytes,
                  std::vector<int32_t>* out_tops, Utf8State* out_utf8) {
  // Two scratch buffers, swapped per character (no allocation once they have grown).
  std::vector<int32_t>& tops = run_a_;
  std::vector<int32_t>& next = run_b_;
  tops.assign(start.begin(), start.end());
  for (char c : bytes) {
    uint32_t cp = 0;
    const int r = utf8.Feed(static_cast<uint8_t>(c), &cp);
    if (r < 0) return false;
    if (r == 0) continue;
    next.clear();
    bool escaped = false;
    arena_.Advance(tops, cp, &next, &escaped);
    if (next.empty()) return false;
    tops.swap(next);
  }
  if (utf8.pending()) {
    uint32_t lo = 0, hi = 0;
    utf8.PendingRange(&lo, &hi);
    if (!arena_.AnyMatches(tops, lo, hi)) return false;
  }
  if (out_tops != nullptr) *out_tops = tops;
  if (out_utf8 != nullptr) *out_utf8 = utf8;
  return true;
}

bool Matcher::AcceptBytes(std::string_view bytes) {
  arena_.ResetWork();
  arena_.set_intern(true);
  std::vector<int32_t> tops;
  Utf8State utf8;
  const bool ok = Run(tops_, utf8_, bytes, &tops, &utf8);
  arena_.set_intern(false);
  if (!ok) return false;
  tops_ = std::move(tops);
  utf8_ = utf8;
  return true;
}

bool Matcher::CanAccept(std::string_view bytes) {
  arena_.ResetWork();
  const int32_t mark = arena_.size();
  const bool ok = Run(tops_, utf8_, bytes, nullptr, nullptr);
  arena_.Truncate(mark);
  return ok;
}

bool Matcher::CanAcceptFrom(int32_t top, std::string_view bytes) {
  const int32_t mark = arena_.size();
  scratch_.assign(1, top);
  const bool ok = Run(scratch_, utf8_, bytes, nullptr, nullptr);
  arena_.Truncate(mark);
  return ok;
}

bool Matcher::IsComplete() const {
  return !utf8_.pending() && std::find(tops_.begin(), tops_.end(), kAccepted) != tops_.end();
}

bool Matcher::OnlyEnd() const {
  return !utf8_.pending() && tops_.size() == 1 && tops_[0] == kAccepted;
}

}  // namespace mint::grammar
