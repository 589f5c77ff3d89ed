// Grammar: a context-free grammar over Unicode code points, parsed from GBNF (llama.cpp's grammar
// notation), laid out flat for the matcher (matcher.h).
//
// GBNF, as accepted here:
//   root  ::= "{" ws pair ("," ws pair)* "}"     # rules: name ::= alternatives
//   pair  ::= [a-z]+ ":" value?                   # literals, [classes], [^negated], rule names
//   value ::= "x"{2,5} | ( "a" | "b" )* | .       # ( groups ), ?, *, +, {m}, {m,}, {m,n}, . (any)
// Literals and classes take the escapes \n \r \t \\ \" \] \- \xHH \uHHHH \UHHHHHHHH. A rule ends
// where the next `name ::=` begins, so rules may span lines. `#` starts a comment.
//
// Layout: every alternative of every rule is a run of symbols ending in kEnd, all in one vector,
// so a parse position is one int32 (an index into `symbols`). Repetitions and groups become
// generated rules ("value_3"); x* is right-recursive (x* ::= x x* | ε), which the matcher runs in
// constant stack depth.
//
// Refused at parse time with a message naming the rule or position: undefined rules, left
// recursion (also through rules that can match nothing), groups nested deeper than 64,
// repetition counts above 100,000, and grammars past kMaxSymbols symbols.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"

namespace mint::grammar {

// Code points from kControlBase up stand for a model's control tokens (logits.h): no negated
// class or wildcard matches them, so only a grammar that names one can produce it.
constexpr uint32_t kControlBase = 0xF0000;

// A set of code points: sorted, disjoint, inclusive ranges, possibly negated.
struct CharClass {
  std::vector<std::pair<uint32_t, uint32_t>> ranges;
  bool negated = false;
  bool Matches(uint32_t cp) const;
  // True if some code point in [lo, hi] matches (for a partial UTF-8 sequence).
  bool MatchesAnyIn(uint32_t lo, uint32_t hi) const;
  bool operator==(const CharClass&) const = default;
};

struct Symbol {
  enum class Kind : uint8_t { kEnd, kChars, kRule };
  Kind kind = Kind::kEnd;
  int32_t index = -1;  // kChars: into classes; kRule: the rule id
};

class Grammar {
 public:
  static constexpr size_t kMaxSymbols = 1 << 20;

  // Parses GBNF text; `root` names the start rule.
  static Result<Grammar> Parse(std::string_view gbnf, std::string_view root = "root");

  const std::vector<Symbol>& symbols() const { return symbols_; }
  const std::vector<CharClass>& classes() const { return classes_; }
  // Start positions of each alternative of rule r.
  const std::vector<int32_t>& alternatives(int32_t r) const { return rule_alts_[r]; }
  const std::string& rule_name(int32_t r) const { return rule_names_[r]; }
  int32_t num_rules() const { return static_cast<int32_t>(rule_alts_.size()); }
  int32_t root() const { return root_; }
  const Symbol& at(int32_t pos) const { return symbols_[pos]; }
  const CharClass& class_at(int32_t pos) const { return classes_[symbols_[pos].index]; }

 private:
  friend class GrammarBuilder;
  std::vector<Symbol> symbols_;
  std::vector<std::vector<int32_t>> rule_alts_;
  std::vector<std::string> rule_names_;
  std::vector<CharClass> classes_;
  int32_t root_ = -1;
};

// Helpers for the pieces that read or write GBNF (the parser, the regex and JSON Schema
// converters). GbnfLiteral quotes `text` as a literal ("..." with escapes); GbnfAlternatives
// writes "( a | b )" (or `a` alone).
std::string GbnfLiteral(std::string_view text);
std::string GbnfAlternatives(const std::vector<std::string>& alternatives);
// The value of `digits` as hex; false if one is not a hex digit.
bool ParseHex(std::string_view digits, uint32_t* value);
// Reads the well-formed UTF-8 character at *i (tokenizer/unicode.h decodes it) and advances *i;
// false on invalid UTF-8.
bool ReadCodePoint(std::string_view s, size_t* i, uint32_t* cp);

}  // namespace mint::grammar
