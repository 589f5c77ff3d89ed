// Regular expressions to GBNF (json_schema.h). In JSON-string mode the expression describes the
// decoded string while the grammar describes its JSON text: quotes, backslashes and control
// characters appear escaped, and wildcards never produce them raw.
#include <algorithm>

#include "fmt/format.h"
#include "grammar/grammar.h"
#include "grammar/json_schema.h"
#include "grammar/regex_internal.h"
#include "tokenizer/unicode.h"

namespace mint::grammar {
namespace {

using Ranges = std::vector<std::pair<uint32_t, uint32_t>>;

const Ranges kDigit = {{'0', '9'}};
const Ranges kWord = {{'0', '9'}, {'A', 'Z'}, {'_', '_'}, {'a', 'z'}};
const Ranges kSpace = {{'\t', '\r'}, {' ', ' '}};

Ranges Normalize(Ranges r) {
  std::sort(r.begin(), r.end());
  Ranges out;
  for (const auto& x : r) {
    if (!out.empty() && x.first <= out.back().second + 1) {
      out.back().second = std::max(out.back().second, x.second);
    } else {
      out.push_back(x);
    }
  }
  return out;
}

Ranges Complement(const Ranges& r) {
  Ranges out;
  uint32_t next = 0;
  for (const auto& [a, b] : Normalize(r)) {
    if (a > next) out.emplace_back(next, a - 1);
    next = b + 1;
  }
  if (next < kControlBase) out.emplace_back(next, kControlBase - 1);  // never control tokens
  return out;
}

Ranges Subtract(const Ranges& r, const Ranges& minus) {
  Ranges out;
  const Ranges keep = Complement(minus);
  for (const auto& [a, b] : Normalize(r)) {
    for (const auto& [c, d] : keep) {
      const uint32_t lo = std::max(a, c), hi = std::min(b, d);
      if (lo <= hi) out.emplace_back(lo, hi);
    }
  }
  return out;
}

std::string ClassText(const Ranges& r) {
  std::string s = "[";
  for (const auto& [a, b] : r) {
    s += fmt::format("\\U{:08X}", a);
    if (b != a) s += fmt::format("-\\U{:08X}", b);
  }
  return s + "]";
}

// How one decoded character appears inside a JSON string.
std::string JsonEscaped(uint32_t cp) {
  switch (cp) {
    case '"': return "\\\"";
    case '\\': return "\\\\";
    case '\n': return "\\n";
    case '\r': return "\\r";
    case '\t': return "\\t";
    case '\b': return "\\b";
    case '\f': return "\\f";
    default: break;
  }
  if (cp < 0x20) return fmt::format("\\u{:04x}", cp);
  std::string s;
  tokenizer::AppendUtf8(cp, &s);
  return s;
}

class RegexConverter {
 public:
  RegexConverter(std::string_view p, bool json) : p_(p), json_(json) {}

  Result<std::string> Convert() {
    MINT_ASSIGN_OR_RETURN(std::string e, Alternation());
    if (i_ < p_.size()) return Error("unbalanced )");
    return e;
  }

 private:
  Status Error(const std::string& what) const {
    return Status::InvalidArgument(
        fmt::format("regex {}: {} at offset {}", std::string(p_), what, i_));
  }

  bool AtEnd() const { return i_ >= p_.size(); }

  Result<std::string> Alternation() {
    std::vector<std::string> alts;
    while (true) {
      MINT_ASSIGN_OR_RETURN(std::string seq, Sequence());
      alts.push_back(seq.empty() ? "\"\"" : seq);
      if (!AtEnd() && p_[i_] == '|') {
        ++i_;
        continue;
      }
      break;
    }
    return GbnfAlternatives(alts);
  }

  Result<std::string> Sequence() {
    std::string out;
    while (!AtEnd() && p_[i_] != '|' && p_[i_] != ')') {
      if (p_[i_] == '$' &&
          (i_ + 1 == p_.size() || p_[i_ + 1] == '|' || p_[i_ + 1] == ')')) {
        ++i_;  // an anchor at the end of an alternative: whole-match is implied
        continue;
      }
      if (p_[i_] == '^' && out.empty()) {
        ++i_;
        continue;
      }
      MINT_ASSIGN_OR_RETURN(std::string atom, Atom());
      MINT_ASSIGN_OR_RETURN(std::string q, Quantifier());
      if (!out.empty()) out += " ";
      out += q.empty() ? atom : "(" + atom + ")" + q;
    }
    return out;
  }

  Result<std::string> Quantifier() {
    if (AtEnd()) return std::string();
    std::string q;
    const char c = p_[i_];
    if (c == '*' || c == '+' || c == '?') {
      q = std::string(1, c);
      ++i_;
    } else if (c == '{') {
      const size_t close = p_.find('}', i_);
      if (close == std::string_view::npos) return Error("unterminated {");
      const std::string body(p_.substr(i_ + 1, close - i_ - 1));
      const size_t comma = body.find(',');
      auto number = [](const std::string& t, long* out) {
        if (t.empty() || t.size() > 6 || t.find_first_not_of("0123456789") != std::string::npos) {
          return false;
        }
        *out = std::stol(t);
        return true;
      };
      long lo = 0, hi = -1;
      const bool ok = number(body.substr(0, comma), &lo) &&
                      (comma == std::string::npos ? (hi = lo, true)
                                                  : comma + 1 == body.size() ||
                                                        number(body.substr(comma + 1), &hi));
      if (!ok) return Error("bad repetition {" + body + "}");
      if (lo > 10000 || hi > 10000) return Error("repetition counts above 10000");
      if (hi >= 0 && hi < lo) return Error("repetition {" + body + "} with n < m");
      q = "{" + body + "}";
      i_ = close + 1;
    } else {
      return std::string();
    }
    if (!AtEnd() && (p_[i_] == '?' || p_[i_] == '+')) ++i_;  // lazy / possessive: same language
    if (!AtEnd() && (p_[i_] == '*' || p_[i_] == '+' || p_[i_] == '?' || p_[i_] == '{')) {
      return Error("nested quantifier");
    }
    return q;
  }

  std::string Literal(uint32_t cp) const {
    std::string s;
    if (json_) {
      s = JsonEscaped(cp);
    } else {
      tokenizer::AppendUtf8(cp, &s);
    }
    return GbnfLiteral(s);
  }

  // A set of characters: raw where JSON allows, escaped forms for the rest in JSON mode.
  std::string Class(const Ranges& ranges, bool negated) const {
    Ranges r = negated ? Complement(ranges) : Normalize(ranges);
    if (!json_) return r.empty() ? "[^\\U00000000-\\U0010FFFF]" : ClassText(r);
    static const Ranges kRawless = {{0, 0x1F}, {'"', '"'}, {'\\', '\\'}};
    std::vector<std::string> alts;
    const Ranges raw = Subtract(r, kRawless);
    if (!raw.empty()) alts.push_back(ClassText(raw));
    for (const auto& [a, b] : Normalize(r)) {
      for (uint32_t cp : {uint32_t{'"'}, uint32_t{'\\'}, uint32_t{'\n'}, uint32_t{'\t'},
                          uint32_t{'\r'}}) {
        if (cp >= a && cp <= b) alts.push_back(Literal(cp));
      }
    }
    if (alts.empty()) return "[^\\U00000000-\\U0010FFFF]";
    return GbnfAlternatives(alts);
  }

  Result<uint32_t> HexAt(size_t n) {
    if (i_ + n > p_.size()) return Error("truncated escape");
    uint32_t v = 0;
    if (!ParseHex(p_.substr(i_, n), &v)) return Error("bad hex digit");
    i_ += n;
    return v;
  }

  // After a backslash: a class shorthand (sets *ranges, *negated) or one code point.
  Result<bool> Escape(Ranges* ranges, bool* negated, uint32_t* cp) {
    if (AtEnd()) return Error("trailing backslash");
    const char c = p_[i_++];
    *negated = false;
    switch (c) {
      case 'd': *ranges = kDigit; return true;
      case 'w': *ranges = kWord; return true;
      case 's': *ranges = kSpace; return true;
      case 'D': *ranges = kDigit, *negated = true; return true;
      case 'W': *ranges = kWord, *negated = true; return true;
      case 'S': *ranges = kSpace, *negated = true; return true;
      case 'n': *cp = '\n'; return false;
      case 'r': *cp = '\r'; return false;
      case 't': *cp = '\t'; return false;
      case 'f': *cp = '\f'; return false;
      case 'v': *cp = '\v'; return false;
      case '0': *cp = 0; return false;
      case 'x': {
        MINT_ASSIGN_OR_RETURN(*cp, HexAt(2));
        return false;
      }
      case 'u': {
        MINT_ASSIGN_OR_RETURN(*cp, HexAt(4));
        return false;
      }
      case 'b': case 'B': return Error("word boundaries (\\b) are not supported");
      case 'A': case 'z': case 'Z': return Error("inner anchors are not supported");
      default:
        if (c >= '1' && c <= '9') return Error("backreferences are not supported");
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
          return Error(fmt::format("unknown escape \\{}", c));
        }
        *cp = static_cast<unsigned char>(c);
        return false;
    }
  }

  Result<uint32_t> CodePoint() {
    uint32_t cp = 0;
    if (!ReadCodePoint(p_, &i_, &cp)) return Error("invalid UTF-8");
    return cp;
  }

  Result<std::string> Atom() {
    const char c = p_[i_];
    if (c == '(') {
      if (++depth_ > kMaxDepth) return Error("groups nested deeper than 64");
      ++i_;
      if (p_.substr(i_, 2) == "?:") {
        i_ += 2;
      } else if (p_.substr(i_, 1) == "?") {
        if (p_.substr(i_, 2) == "?P" || p_.substr(i_, 2) == "?<") {
          if (p_.substr(i_, 3) == "?<=" || p_.substr(i_, 3) == "?<!") {
            return Error("lookbehind is not supported");
          }
          const size_t close = p_.find('>', i_);
          if (close == std::string_view::npos) return Error("unterminated group name");
          i_ = close + 1;
        } else {
          return Error("lookahead and inline flags are not supported");
        }
      }
      MINT_ASSIGN_OR_RETURN(std::string inner, Alternation());
      if (AtEnd() || p_[i_] != ')') return Error("missing )");
      ++i_;
      --depth_;
      return "(" + inner + ")";
    }
    if (c == '[') return Bracket();
    if (c == '.') {
      ++i_;
      return Class({{'\n', '\n'}}, true);
    }
    if (c == '\\') {
      ++i_;
      Ranges r;
      bool neg = false;
      uint32_t cp = 0;
      MINT_ASSIGN_OR_RETURN(bool is_class, Escape(&r, &neg, &cp));
      return is_class ? Class(r, neg) : Literal(cp);
    }
    if (c == '^' || c == '$') return Error("inner anchors are not supported");
    if (c == '*' || c == '+' || c == '?' || c == '{') return Error("quantifier without a target");
    MINT_ASSIGN_OR_RETURN(uint32_t cp, CodePoint());
    return Literal(cp);
  }

  Result<std::string> Bracket() {
    ++i_;
    bool negated = false;
    if (!AtEnd() && p_[i_] == '^') {
      negated = true;
      ++i_;
    }
    Ranges ranges;
    bool first = true;
    while (true) {
      if (AtEnd()) return Error("unterminated [");
      if (p_[i_] == ']' && !first) {
        ++i_;
        break;
      }
      first = false;
      uint32_t lo = 0;
      if (p_[i_] == '\\') {
        ++i_;
        Ranges r;
        bool neg = false;
        MINT_ASSIGN_OR_RETURN(bool is_class, Escape(&r, &neg, &lo));
        if (is_class) {
          const Ranges add = neg ? Complement(r) : r;
          ranges.insert(ranges.end(), add.begin(), add.end());
          continue;
        }
      } else {
        MINT_ASSIGN_OR_RETURN(lo, CodePoint());
      }
      uint32_t hi = lo;
      if (i_ + 1 < p_.size() && p_[i_] == '-' && p_[i_ + 1] != ']') {
        ++i_;
        if (p_[i_] == '\\') {
          ++i_;
          Ranges r;
          bool neg = false;
          MINT_ASSIGN_OR_RETURN(bool is_class, Escape(&r, &neg, &hi));
          if (is_class) return Error("class shorthand as a range end");
        } else {
          MINT_ASSIGN_OR_RETURN(hi, CodePoint());
        }
        if (hi < lo) return Error("range out of order");
      }
      ranges.emplace_back(lo, hi);
    }
    return Class(ranges, negated);
  }

  static constexpr int kMaxDepth = 64;
  std::string_view p_;
  bool json_;
  size_t i_ = 0;
  int depth_ = 0;  // open groups
};

}  // namespace

namespace internal {
Result<std::string> RegexToGbnfExpr(std::string_view pattern, bool json_string) {
  RegexConverter c(pattern, json_string);
  return c.Convert();
}
}  // namespace internal

Result<std::string> RegexToGbnf(std::string_view pattern) {
  MINT_ASSIGN_OR_RETURN(std::string e, internal::RegexToGbnfExpr(pattern, false));
  if (e.empty()) e = "\"\"";
  std::string g = "root ::= " + e + "\n";
  MINT_RETURN_IF_ERROR(Grammar::Parse(g).status());
  return g;
}

Result<std::string> ChoiceToGbnf(const std::vector<std::string>& choices) {
  if (choices.empty()) return Status::InvalidArgument("guided_choice: must list at least one choice");
  std::string g = "root ::=";
  for (size_t k = 0; k < choices.size(); ++k) {
    if (choices[k].empty()) return Status::InvalidArgument("guided_choice: choices must not be empty");
    g += (k ? " | " : " ") + GbnfLiteral(choices[k]);
  }
  return g + "\n";
}

}  // namespace mint::grammar
