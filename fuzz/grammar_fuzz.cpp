// libFuzzer target for the grammar pieces (src/grammar): the first byte picks what the rest is.
//   0: GBNF text, then (after a NUL) bytes fed to a matcher of it
//   1: a JSON Schema (JSON text)      2: a regular expression
// What must hold for any input: nothing crashes or hangs; a converter's output always parses as
// a grammar; and token masks from the adaptive cache equal checking every token of a small
// vocabulary against the real stacks, along a walk driven by the input.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "grammar/grammar.h"
#include "grammar/json_schema.h"
#include "grammar/matcher.h"
#include "grammar/token_mask.h"

namespace {

using namespace mint::grammar;

void Require(bool cond) {
  if (!cond) __builtin_trap();
}

bool StartsWith(const std::string& s, std::string_view p) { return s.rfind(p, 0) == 0; }

// A converter may refuse its input, or produce a grammar the parser refuses for what it means
// (left recursion, size), but never one with a syntax error.
bool AcceptableRefusal(const mint::Status& st, std::string_view own_prefix) {
  const std::string& m = st.message();
  return StartsWith(m, own_prefix) || StartsWith(m, "grammar: left recursion") ||
         StartsWith(m, "grammar: grammar too large");
}

const std::shared_ptr<Vocabulary>& Vocab() {
  static const auto v = std::make_shared<Vocabulary>(
      std::vector<std::string>{"a", "b", "ab", "\"", "{", "}", "[", "]", ",", ":", " ", "1", "12",
                               "-", "\\", "\n", "é", "\xC3", "\xA9", "x\"", "\":", "null", "true",
                               "😀", "\xF0\x9F", "\x98\x80", "0", "9", ".", "e", ""},
      32);
  return v;
}

// Masks along a walk chosen by `steer` (each byte picks among the allowed tokens).
void CheckMasks(const std::string& gbnf, std::string_view steer) {
  auto compiled = CompiledGrammar::Compile(gbnf, Vocab());
  if (!compiled.ok()) return;
  const int32_t eos = 31;
  TokenMatcher tm(*compiled, {eos});
  Matcher brute(&(*compiled)->grammar());
  for (size_t step = 0; step < 8; ++step) {
    TokenSet mask;
    tm.FillMask(&mask);
    if (!tm.status().ok()) return;  // refused as too ambiguous: the request would end here
    std::vector<int32_t> allowed;
    for (int32_t t = 0; t < Vocab()->size(); ++t) {
      const bool expect = t == eos ? brute.IsComplete()
                                   : Vocab()->has_bytes(t) && brute.CanAccept(Vocab()->bytes(t));
      if (brute.arena_overflowed()) return;  // the reference gave up on the same grammar
      Require(mask.Has(t) == expect);
      if (expect) allowed.push_back(t);
    }
    if (allowed.empty() || step >= steer.size()) return;
    const int32_t pick = allowed[static_cast<uint8_t>(steer[step]) % allowed.size()];
    Require(tm.Accept(pick));
    if (pick == eos) return;
    Require(brute.AcceptBytes(Vocab()->bytes(pick)));
  }
}

// A converter's result: a grammar that parses (its masks checked along `steer`), or a refusal
// of its own (own_prefix) or of what the grammar means.
void CheckConverted(const mint::Result<std::string>& g, std::string_view own_prefix,
                    std::string_view steer) {
  if (!g.ok()) {
    Require(AcceptableRefusal(g.status(), own_prefix));
    return;
  }
  Require(Grammar::Parse(*g).ok());
  CheckMasks(*g, steer);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1 || size > 4096) return 0;
  const std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 3) {
    case 0: {
      const size_t nul = in.find('\0');
      const std::string_view text = in.substr(0, nul);
      const std::string_view feed = nul == std::string_view::npos ? std::string_view() : in.substr(nul + 1);
      auto g = Grammar::Parse(text);
      if (!g.ok()) return 0;
      Matcher m(&*g);
      for (size_t i = 0; i < feed.size(); i += 3) m.AcceptBytes(feed.substr(i, 3));
      CheckMasks(std::string(text), feed);
      return 0;
    }
    case 1: {
      const auto schema = nlohmann::ordered_json::parse(in, nullptr, /*allow_exceptions=*/false);
      if (!schema.is_discarded()) CheckConverted(JsonSchemaToGbnf(schema), "JSON Schema", in);
      return 0;
    }
    default:
      CheckConverted(RegexToGbnf(in), "regex ", in);
      return 0;
  }
}
