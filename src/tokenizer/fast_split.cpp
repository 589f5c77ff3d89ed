#include "tokenizer/fast_split.h"

#include <array>
#include <memory>
#include <string>
#include <utility>

#include "tokenizer/unicode.h"

namespace mint::tokenizer {
namespace {

enum : uint8_t { kLetter = 1, kNumber = 2, kSpace = 4 };

// Per-codepoint class flags for all of Unicode, derived from PCRE2's own \p{L}, \p{N} and \s
// (UCP) by matching runs over a string of every scalar value.
class ClassTable {
 public:
  ClassTable() : flags_(new uint8_t[kSize]()) {
    std::string all;
    all.reserve(4 * kSize);
    for (uint32_t cp = 0; cp < kSize; ++cp) {
      if (cp < 0xD800 || cp > 0xDFFF) AppendUtf8(cp, &all);
    }
    Mark("\\p{L}+", kLetter, all);
    Mark("\\p{N}+", kNumber, all);
    Mark("\\s+", kSpace, all);
  }
  uint8_t Flags(uint32_t cp) const { return cp < kSize ? flags_[cp] : 0; }

 private:
  static constexpr uint32_t kSize = 0x110000;
  void Mark(const char* pattern, uint8_t flag, const std::string& all) {
    auto re = Regex::Compile(pattern);
    if (!re.ok()) return;
    size_t pos = 0, b = 0, e = 0;
    while (pos < all.size() && (*re)->Find(all, pos, &b, &e) && e > b) {
      for (size_t i = b; i < e;) {
        size_t len = 0;
        const uint32_t cp = DecodeUtf8(all, i, &len);
        flags_[cp] |= flag;
        i += len;
      }
      pos = e;
    }
  }
  std::unique_ptr<uint8_t[]> flags_;
};

const ClassTable& Classes() {
  static const ClassTable table;
  return table;
}

constexpr uint8_t MakeAscii(int c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ? kLetter
         : (c >= '0' && c <= '9')                         ? kNumber
         : (c == ' ' || (c >= 9 && c <= 13))              ? kSpace
                                                          : 0;
}
template <size_t... I>
constexpr std::array<uint8_t, 128> AsciiTable(std::index_sequence<I...>) {
  return {MakeAscii(static_cast<int>(I))...};
}
constexpr auto kAsciiFlags = AsciiTable(std::make_index_sequence<128>{});

// A cursor over valid UTF-8 with one character of lookahead.
struct Scanner {
  std::string_view s;
  size_t end;
  const ClassTable& classes;

  // Class flags of the character at i (0 past the end), and its length via *len.
  uint8_t At(size_t i, size_t* len, uint32_t* cp = nullptr) const {
    if (i >= end) {
      *len = 0;
      if (cp) *cp = 0;
      return 0;
    }
    const auto b = static_cast<uint8_t>(s[i]);
    if (b < 0x80) {
      *len = 1;
      if (cp) *cp = b;
      return kAsciiFlags[b];
    }
    const uint32_t c = DecodeUtf8(s, i, len);
    if (cp) *cp = c;
    return classes.Flags(c);
  }
  // Skips characters while (flags & want) != 0 and they are not excluded; returns the new end.
  size_t Run(size_t i, uint8_t want) const {
    size_t len = 0;
    while (i < end && (At(i, &len) & want)) i += len;
    return i;
  }
};

bool IsOther(uint8_t f) { return (f & (kLetter | kNumber | kSpace)) == 0; }

// Length of a contraction ('s 't 're 've 'm 'll 'd) at i, 0 if none.
size_t Contraction(const Scanner& sc, size_t i, bool case_insensitive) {
  if (sc.s[i] != '\'') return 0;
  auto lower = [&](size_t k, uint32_t* out) -> size_t {
    size_t len = 0;
    uint32_t cp = 0;
    sc.At(k, &len, &cp);
    if (len == 0) return 0;
    if (case_insensitive) {
      if (cp >= 'A' && cp <= 'Z') cp += 'a' - 'A';
      if (cp == 0x17F) cp = 's';  // LATIN SMALL LETTER LONG S folds to 's'
    }
    *out = cp;
    return len;
  };
  uint32_t c1 = 0, c2 = 0;
  const size_t l1 = lower(i + 1, &c1);
  if (l1 == 0) return 0;
  if (c1 == 's' || c1 == 't' || c1 == 'm' || c1 == 'd') return 1 + l1;
  const size_t l2 = lower(i + 1 + l1, &c2);
  if (l2 == 0) return 0;
  if ((c1 == 'r' && c2 == 'e') || (c1 == 'v' && c2 == 'e') || (c1 == 'l' && c2 == 'l')) {
    return 1 + l1 + l2;
  }
  return 0;
}

// Whitespace alternatives shared by the family, at a whitespace character i:
// [\s*[\r\n]+ if `newline_rule`] | \s+(?!\S) | \s+
size_t WhitespaceMatch(const Scanner& sc, size_t i, bool newline_rule) {
  const size_t q = sc.Run(i, kSpace);
  if (newline_rule) {
    size_t last_nl = std::string_view::npos;
    for (size_t k = i; k < q; ++k) {
      if (sc.s[k] == '\r' || sc.s[k] == '\n') last_nl = k;
    }
    if (last_nl != std::string_view::npos) return last_nl + 1 - i;
  }
  if (q == sc.end) return q - i;
  // Give back the last whitespace character so that it can lead the next piece.
  size_t last_len = 0, k = i;
  while (k < q) {
    size_t len = 0;
    sc.At(k, &len);
    last_len = len;
    k += len;
  }
  if (q - last_len > i) return q - last_len - i;
  return q - i;  // a single whitespace character: \s+
}

size_t MatchGpt2(const Scanner& sc, size_t i) {
  if (size_t n = Contraction(sc, i, false)) return n;
  size_t len = 0, next_len = 0;
  const uint8_t f = sc.At(i, &len);
  size_t start = i;
  uint8_t g = f;
  if (sc.s[i] == ' ') {  // optional leading space of " ?X+"
    g = sc.At(i + 1, &next_len);
    if (g & (kLetter | kNumber) || (next_len && IsOther(g))) start = i + 1;
  }
  if (start != i || !(f & kSpace)) {
    if (g & kLetter) return sc.Run(start, kLetter) - i;
    if (g & kNumber) return sc.Run(start, kNumber) - i;
    size_t k = start, l = 0;
    while (k < sc.end && IsOther(sc.At(k, &l))) k += l;
    return k - i;
  }
  return WhitespaceMatch(sc, i, false);
}

size_t MatchLlama3(const Scanner& sc, size_t i, int max_digits) {
  if (size_t n = Contraction(sc, i, true)) return n;
  size_t len = 0, next_len = 0;
  const uint8_t f = sc.At(i, &len);
  const char c = sc.s[i];
  // [^\r\n\p{L}\p{N}]?\p{L}+
  if (f & kLetter) return sc.Run(i, kLetter) - i;
  if (!(f & kNumber) && c != '\r' && c != '\n' && (sc.At(i + len, &next_len) & kLetter)) {
    return sc.Run(i + len, kLetter) - i;
  }
  // \p{N}{1,max}
  if (f & kNumber) {
    size_t k = i;
    for (int d = 0; d < max_digits && k < sc.end; ++d) {
      size_t l = 0;
      if (!(sc.At(k, &l) & kNumber)) break;
      k += l;
    }
    return k - i;
  }
  //  ?[^\s\p{L}\p{N}]+[\r\n]*
  size_t start = i;
  if (c == ' ' && IsOther(sc.At(i + 1, &next_len)) && next_len) start = i + 1;
  if (start != i || IsOther(f)) {
    size_t k = start, l = 0;
    while (k < sc.end && IsOther(sc.At(k, &l))) k += l;
    while (k < sc.end && (sc.s[k] == '\r' || sc.s[k] == '\n')) ++k;
    return k - i;
  }
  return WhitespaceMatch(sc, i, true);
}

}  // namespace

FastSplitKind FastSplitKindFor(std::string_view pattern) {
  static const std::string_view kQwen2 =
      "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+"
      "[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
  static const std::string_view kLlama3 =
      "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+"
      "[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
  static const std::string_view kGpt2Full =
      "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
  static const std::string_view kGpt2Short =
      "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)";
  if (pattern == kLlama3) return FastSplitKind::kLlama3;
  if (pattern == kQwen2) return FastSplitKind::kQwen2;
  if (pattern == kGpt2Full || pattern == kGpt2Short) return FastSplitKind::kGpt2;
  return FastSplitKind::kNone;
}

void FastSplit(FastSplitKind kind, std::string_view text, Span span, std::vector<Span>* out) {
  const Scanner sc{text, span.end, Classes()};
  for (size_t i = span.begin; i < span.end;) {
    size_t n = 0;
    switch (kind) {
      case FastSplitKind::kGpt2:
        n = MatchGpt2(sc, i);
        break;
      case FastSplitKind::kLlama3:
        n = MatchLlama3(sc, i, 3);
        break;
      case FastSplitKind::kQwen2:
        n = MatchLlama3(sc, i, 1);
        break;
      case FastSplitKind::kNone:
        n = span.end - i;
        break;
    }
    if (n == 0) n = Utf8LengthFromLead(static_cast<uint8_t>(text[i]));  // cannot happen
    out->push_back({static_cast<uint32_t>(i), static_cast<uint32_t>(i + n)});
    i += n;
  }
}

}  // namespace mint::tokenizer
