#include "grammar/grammar.h"

#include <algorithm>
#include <functional>
#include <map>
#include <unordered_map>

#include "fmt/format.h"
#include "tokenizer/unicode.h"

namespace mint::grammar {

bool CharClass::Matches(uint32_t cp) const {
  if (negated && cp >= kControlBase) return false;
  bool in = false;
  for (const auto& [lo, hi] : ranges) {
    if (cp < lo) break;
    if (cp <= hi) {
      in = true;
      break;
    }
  }
  return in != negated;
}

bool CharClass::MatchesAnyIn(uint32_t lo, uint32_t hi) const {
  if (!negated) {
    for (const auto& [a, b] : ranges) {
      if (a <= hi && lo <= b) return true;
    }
    return false;
  }
  // Negated: some code point of [lo, hi] below kControlBase lies outside every range.
  if (lo >= kControlBase) return false;
  hi = std::min(hi, kControlBase - 1);
  uint32_t next = lo;
  for (const auto& [a, b] : ranges) {
    if (b < next) continue;
    if (a > next) return true;
    if (b >= hi) return false;
    next = b + 1;
  }
  return next <= hi;
}

bool ReadCodePoint(std::string_view s, size_t* i, uint32_t* cp) {
  const size_t n = tokenizer::ValidUtf8SequenceLength(s, *i);
  if (n == 0) return false;
  size_t len = 0;
  *cp = tokenizer::DecodeUtf8(s, *i, &len);
  *i += n;
  return true;
}

bool ParseHex(std::string_view digits, uint32_t* value) {
  uint32_t v = 0;
  for (const char c : digits) {
    v <<= 4;
    if (c >= '0' && c <= '9') {
      v |= c - '0';
    } else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f') {
      v |= (c | 0x20) - 'a' + 10;
    } else {
      return false;
    }
  }
  *value = v;
  return true;
}

std::string GbnfAlternatives(const std::vector<std::string>& alternatives) {
  if (alternatives.size() == 1) return alternatives[0];
  std::string s = "(";
  for (size_t k = 0; k < alternatives.size(); ++k) s += (k ? " | " : " ") + alternatives[k];
  return s + " )";
}

std::string GbnfLiteral(std::string_view text) {
  std::string out = "\"";
  for (unsigned char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20 || c == 0x7F) {
          out += fmt::format("\\x{:02X}", c);
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
  }
  out += "\"";
  return out;
}

// Builds a Grammar from GBNF text. Symbols are collected per rule first, then laid out flat.
class GrammarBuilder {
 public:
  explicit GrammarBuilder(std::string_view src) : src_(src) {}

  Result<Grammar> Build(std::string_view root_name) {
    SkipSpace();
    while (pos_ < src_.size()) {
      const size_t start = pos_;
      std::string name = ReadName();
      if (name.empty()) return Error(start, "expected a rule name");
      SkipSpace();
      if (src_.substr(pos_, 3) != "::=") return Error(pos_, "expected ::= after " + name);
      pos_ += 3;
      const int32_t id = RuleId(name);
      if (defined_[id]) return Error(start, "rule " + name + " is defined twice");
      defined_[id] = true;
      MINT_ASSIGN_OR_RETURN(rules_[id], ParseAlternatives(name));
      SkipSpace();
    }
    for (size_t r = 0; r < names_.size(); ++r) {
      if (!defined_[r]) return Status::InvalidArgument("grammar: rule " + names_[r] + " is used but not defined");
    }
    auto it = ids_.find(std::string(root_name));
    if (it == ids_.end()) {
      return Status::InvalidArgument("grammar: no rule named " + std::string(root_name));
    }
    MINT_RETURN_IF_ERROR(CheckLeftRecursion());
    return Layout(it->second);
  }

 private:
  using Seq = std::vector<Symbol>;
  using Alts = std::vector<Seq>;

  Status Error(size_t at, const std::string& what) const {
    size_t line = 1, col = 1;
    for (size_t i = 0; i < at && i < src_.size(); ++i) {
      if (src_[i] == '\n') {
        ++line, col = 1;
      } else {
        ++col;
      }
    }
    return Status::InvalidArgument(fmt::format("grammar: {} at line {} column {}", what, line, col));
  }

  void SkipSpace() {
    while (pos_ < src_.size()) {
      const char c = src_[pos_];
      if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
        ++pos_;
      } else if (c == '#') {
        while (pos_ < src_.size() && src_[pos_] != '\n') ++pos_;
      } else {
        break;
      }
    }
  }

  static bool IsNameChar(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
  }

  std::string ReadName() {
    const size_t start = pos_;
    while (pos_ < src_.size() && IsNameChar(src_[pos_])) ++pos_;
    return std::string(src_.substr(start, pos_ - start));
  }

  // True if a rule definition (name ::=) starts at pos_.
  bool AtRuleDefinition() const {
    size_t p = pos_;
    while (p < src_.size() && IsNameChar(src_[p])) ++p;
    if (p == pos_) return false;
    while (p < src_.size() && (src_[p] == ' ' || src_[p] == '\t' || src_[p] == '\n' || src_[p] == '\r')) ++p;
    return src_.substr(p, 3) == "::=";
  }

  int32_t RuleId(const std::string& name) {
    auto [it, inserted] = ids_.emplace(name, static_cast<int32_t>(names_.size()));
    if (inserted) {
      names_.push_back(name);
      rules_.emplace_back();
      defined_.push_back(false);
    }
    return it->second;
  }

  int32_t NewRule(const std::string& base, Alts alts) {
    std::string name;
    do {
      name = fmt::format("{}_{}", base, ++generated_);
    } while (ids_.count(name) != 0);
    const int32_t id = RuleId(name);
    rules_[id] = std::move(alts);
    defined_[id] = true;
    return id;
  }

  int32_t ClassId(CharClass c) {
    std::sort(c.ranges.begin(), c.ranges.end());
    std::vector<std::pair<uint32_t, uint32_t>> merged;
    for (const auto& r : c.ranges) {
      if (!merged.empty() && r.first <= merged.back().second + 1) {
        merged.back().second = std::max(merged.back().second, r.second);
      } else {
        merged.push_back(r);
      }
    }
    c.ranges = std::move(merged);
    auto [it, inserted] = class_ids_.emplace(std::make_pair(c.negated, c.ranges),
                                             static_cast<int32_t>(classes_.size()));
    if (inserted) classes_.push_back(std::move(c));
    return it->second;
  }

  static Symbol Chars(int32_t id) { return {Symbol::Kind::kChars, id}; }
  static Symbol Rule(int32_t id) { return {Symbol::Kind::kRule, id}; }

  Result<Alts> ParseAlternatives(const std::string& rule) {
    Alts alts;
    while (true) {
      MINT_ASSIGN_OR_RETURN(Seq seq, ParseSequence(rule));
      alts.push_back(std::move(seq));
      SkipSpace();
      if (pos_ < src_.size() && src_[pos_] == '|') {
        ++pos_;
        continue;
      }
      return alts;
    }
  }

  Result<Seq> ParseSequence(const std::string& rule) {
    Seq seq;
    while (true) {
      SkipSpace();
      if (pos_ >= src_.size() || src_[pos_] == '|' || src_[pos_] == ')' || AtRuleDefinition()) {
        return seq;
      }
      MINT_ASSIGN_OR_RETURN(Seq item, ParsePrimary(rule));
      MINT_RETURN_IF_ERROR(ApplyPostfix(rule, &item));
      if (symbol_count_ += item.size(); symbol_count_ > Grammar::kMaxSymbols) {
        return Error(pos_, "grammar too large");
      }
      seq.insert(seq.end(), item.begin(), item.end());
    }
  }

  // A hex escape of n digits.
  Result<uint32_t> Hex(int n) {
    if (pos_ + n > src_.size()) return Error(pos_, "truncated escape");
    uint32_t v = 0;
    if (!ParseHex(src_.substr(pos_, n), &v)) return Error(pos_, "bad hex digit in escape");
    pos_ += n;
    if (v > 0x10FFFF) return Error(pos_, "escape beyond U+10FFFF");
    return v;
  }

  // One code point of a literal or class, escapes decoded.
  Result<uint32_t> ReadChar() {
    if (pos_ >= src_.size()) return Error(pos_, "unexpected end of grammar");
    if (src_[pos_] != '\\') {
      uint32_t cp = 0;
      if (!ReadCodePoint(src_, &pos_, &cp)) return Error(pos_, "invalid UTF-8");
      return cp;
    }
    ++pos_;
    if (pos_ >= src_.size()) return Error(pos_, "unexpected end of grammar");
    const char c = src_[pos_++];
    switch (c) {
      case 'n': return uint32_t{'\n'};
      case 'r': return uint32_t{'\r'};
      case 't': return uint32_t{'\t'};
      case 'x': return Hex(2);
      case 'u': return Hex(4);
      case 'U': return Hex(8);
      default: return static_cast<uint32_t>(static_cast<unsigned char>(c));
    }
  }

  Result<Seq> ParsePrimary(const std::string& rule) {
    const char c = src_[pos_];
    Seq out;
    if (c == '"') {
      ++pos_;
      while (true) {
        if (pos_ >= src_.size()) return Error(pos_, "unterminated literal");
        if (src_[pos_] == '"') break;
        MINT_ASSIGN_OR_RETURN(uint32_t cp, ReadChar());
        out.push_back(Chars(ClassId(CharClass{{{cp, cp}}, false})));
      }
      ++pos_;
      return out;
    }
    if (c == '[') {
      ++pos_;
      CharClass cls;
      if (pos_ < src_.size() && src_[pos_] == '^') {
        cls.negated = true;
        ++pos_;
      }
      while (true) {
        if (pos_ >= src_.size()) return Error(pos_, "unterminated character class");
        if (src_[pos_] == ']') break;
        MINT_ASSIGN_OR_RETURN(uint32_t lo, ReadChar());
        uint32_t hi = lo;
        if (pos_ + 1 < src_.size() && src_[pos_] == '-' && src_[pos_ + 1] != ']') {
          ++pos_;
          MINT_ASSIGN_OR_RETURN(hi, ReadChar());
          if (hi < lo) return Error(pos_, "character range out of order");
        }
        cls.ranges.emplace_back(lo, hi);
      }
      ++pos_;
      out.push_back(Chars(ClassId(std::move(cls))));
      return out;
    }
    if (c == '.') {
      ++pos_;
      out.push_back(Chars(ClassId(CharClass{{}, true})));
      return out;
    }
    if (c == '(') {
      if (++depth_ > kMaxNesting) return Error(pos_, "groups nested deeper than 64");
      ++pos_;
      MINT_ASSIGN_OR_RETURN(Alts alts, ParseAlternatives(rule));
      --depth_;
      SkipSpace();
      if (pos_ >= src_.size() || src_[pos_] != ')') return Error(pos_, "expected )");
      ++pos_;
      if (alts.size() == 1) return std::move(alts[0]);
      out.push_back(Rule(NewRule(rule, std::move(alts))));
      return out;
    }
    if (IsNameChar(c)) {
      out.push_back(Rule(RuleId(ReadName())));
      return out;
    }
    return Error(pos_, fmt::format("unexpected character '{}'", c));
  }

  Result<int> ReadInt() {
    SkipSpace();
    const size_t start = pos_;
    int64_t v = 0;
    while (pos_ < src_.size() && src_[pos_] >= '0' && src_[pos_] <= '9') {
      v = v * 10 + (src_[pos_++] - '0');
      if (v > 100000) return Error(start, "repetition count too large (at most 100000)");
    }
    if (pos_ == start) return Error(start, "expected a number");
    SkipSpace();
    return static_cast<int>(v);
  }

  // Applies any postfix operators after a primary to `item` (replaced in place).
  Status ApplyPostfix(const std::string& rule, Seq* item) {
    while (pos_ < src_.size()) {
      const char c = src_[pos_];
      int min = 0, max = -1;  // max -1: unbounded
      if (c == '*') {
        ++pos_;
      } else if (c == '+') {
        ++pos_, min = 1;
      } else if (c == '?') {
        ++pos_, max = 1;
      } else if (c == '{') {
        ++pos_;
        MINT_ASSIGN_OR_RETURN(min, ReadInt());
        max = min;
        if (pos_ < src_.size() && src_[pos_] == ',') {
          ++pos_;
          SkipSpace();
          max = -1;
          if (pos_ < src_.size() && src_[pos_] != '}') {
            MINT_ASSIGN_OR_RETURN(max, ReadInt());
            if (max < min) return Error(pos_, "repetition {m,n} with n < m");
          }
        }
        if (pos_ >= src_.size() || src_[pos_] != '}') return Error(pos_, "expected }");
        ++pos_;
      } else {
        return Status::Ok();
      }
      MINT_RETURN_IF_ERROR(Repeat(rule, item, min, max));
    }
    return Status::Ok();
  }

  Status Repeat(const std::string& rule, Seq* item, int min, int max) {
    const Seq unit = *item;
    const size_t total = unit.size() * static_cast<size_t>(std::max(min, max));
    if (total + symbol_count_ > Grammar::kMaxSymbols) return Error(pos_, "grammar too large");
    Seq out;
    for (int k = 0; k < min; ++k) out.insert(out.end(), unit.begin(), unit.end());
    if (max < 0) {  // star ::= unit star | ε
      const int32_t star = NewRule(rule, {});
      Seq loop = unit;
      loop.push_back(Rule(star));
      rules_[star] = {loop, Seq{}};
      out.push_back(Rule(star));
    } else if (max > min) {  // opt_k ::= unit opt_{k+1} | ε, nested max - min deep
      int32_t next = -1;
      for (int k = 0; k < max - min; ++k) {
        Seq body = unit;
        if (next >= 0) body.push_back(Rule(next));
        next = NewRule(rule, {body, Seq{}});
      }
      out.push_back(Rule(next));
    }
    *item = std::move(out);
    return Status::Ok();
  }

  Status CheckLeftRecursion() const {
    const size_t n = rules_.size();
    std::vector<bool> nullable(n, false);
    for (bool changed = true; changed;) {
      changed = false;
      for (size_t r = 0; r < n; ++r) {
        if (nullable[r]) continue;
        for (const Seq& alt : rules_[r]) {
          bool all = true;
          for (const Symbol& s : alt) {
            if (s.kind != Symbol::Kind::kRule || !nullable[s.index]) {
              all = false;
              break;
            }
          }
          if (all) {
            nullable[r] = changed = true;
            break;
          }
        }
      }
    }
    // Edges r -> s where s can start r; a cycle is left recursion.
    std::vector<std::vector<int32_t>> edges(n);
    for (size_t r = 0; r < n; ++r) {
      for (const Seq& alt : rules_[r]) {
        for (const Symbol& s : alt) {
          if (s.kind != Symbol::Kind::kRule) break;
          edges[r].push_back(s.index);
          if (!nullable[s.index]) break;
        }
      }
    }
    std::vector<uint8_t> state(n, 0);  // 0 new, 1 on the DFS stack, 2 done
    std::vector<std::pair<int32_t, size_t>> stack;
    for (size_t start = 0; start < n; ++start) {
      if (state[start] != 0) continue;
      stack.emplace_back(static_cast<int32_t>(start), 0);
      state[start] = 1;
      while (!stack.empty()) {
        auto& [r, next] = stack.back();
        if (next < edges[r].size()) {
          const int32_t s = edges[r][next++];
          if (state[s] == 1) {
            return Status::InvalidArgument("grammar: left recursion through rule " + names_[s]);
          }
          if (state[s] == 0) {
            state[s] = 1;
            stack.emplace_back(s, 0);
          }
        } else {
          state[r] = 2;
          stack.pop_back();
        }
      }
    }
    return Status::Ok();
  }

  Grammar Layout(int32_t root) {
    Grammar g;
    g.rule_alts_.resize(rules_.size());
    for (size_t r = 0; r < rules_.size(); ++r) {
      for (const Seq& alt : rules_[r]) {
        g.rule_alts_[r].push_back(static_cast<int32_t>(g.symbols_.size()));
        g.symbols_.insert(g.symbols_.end(), alt.begin(), alt.end());
        g.symbols_.push_back(Symbol{});
      }
    }
    g.rule_names_ = names_;
    g.classes_ = classes_;
    g.root_ = root;
    return g;
  }

  static constexpr int kMaxNesting = 64;
  std::string_view src_;
  size_t pos_ = 0;
  int depth_ = 0;  // open groups
  size_t symbol_count_ = 0;
  int generated_ = 0;
  std::unordered_map<std::string, int32_t> ids_;
  std::vector<std::string> names_;
  std::vector<Alts> rules_;
  std::vector<bool> defined_;
  std::vector<CharClass> classes_;
  std::map<std::pair<bool, std::vector<std::pair<uint32_t, uint32_t>>>, int32_t> class_ids_;
};

Result<Grammar> Grammar::Parse(std::string_view gbnf, std::string_view root) {
  GrammarBuilder builder(gbnf);
  return builder.Build(root);
}

}  // namespace mint::grammar
