#include <random>
#include <string>
#include <vector>

#include "grammar/grammar.h"
#include "grammar/json_schema.h"
#include "grammar/matcher.h"
#include "grammar/token_mask.h"
#include "gtest/gtest.h"

namespace mint::grammar {
namespace {

Grammar MustParse(std::string_view gbnf) {
  auto g = Grammar::Parse(gbnf);
  EXPECT_TRUE(g.ok()) << g.status().ToString();
  return std::move(g).value();
}

bool Matches(const Grammar& g, std::string_view text) {
  Matcher m(&g);
  return m.AcceptBytes(text) && m.IsComplete();
}

bool IsPrefix(const Grammar& g, std::string_view text) {
  Matcher m(&g);
  return m.AcceptBytes(text);
}

TEST(GrammarTest, LiteralsClassesAndRepetition) {
  const Grammar g = MustParse(R"(
    root ::= "x" digit{2,4} ( "-" | "+" )? word* "!"
    digit ::= [0-9]
    word ::= [a-z]+ " "   # a comment
  )");
  EXPECT_TRUE(Matches(g, "x12!"));
  EXPECT_TRUE(Matches(g, "x1234-ab cd !"));
  EXPECT_FALSE(Matches(g, "x1!"));
  EXPECT_FALSE(Matches(g, "x12345!"));
  EXPECT_FALSE(Matches(g, "x12ab!"));  // a word needs its space
  EXPECT_TRUE(IsPrefix(g, "x12ab"));
  EXPECT_FALSE(IsPrefix(g, "y"));
}

TEST(GrammarTest, EscapesNegationAndUnicode) {
  const Grammar g = MustParse(R"(root ::= "\"" [^"\\\x00-\x1F]* "\"" "\u00e9" .)");
  EXPECT_TRUE(Matches(g, "\"héllo 😀\"é!"));
  EXPECT_TRUE(Matches(g, "\"\"é😀"));
  EXPECT_FALSE(Matches(g, "\"a\nb\"é!"));
  EXPECT_FALSE(Matches(g, "\"a\"e!"));
  // A character split across calls is carried.
  Matcher m(&g);
  ASSERT_TRUE(m.AcceptBytes("\"\xF0\x9F"));
  ASSERT_TRUE(m.AcceptBytes("\x98\x80\"\xC3"));
  ASSERT_FALSE(m.AcceptBytes("\xA8"));  // è is not é
  ASSERT_TRUE(m.AcceptBytes("\xA9"));
  EXPECT_FALSE(m.IsComplete());
  ASSERT_TRUE(m.AcceptBytes("z"));
  EXPECT_TRUE(m.IsComplete());
  EXPECT_TRUE(m.OnlyEnd());
}

TEST(GrammarTest, InvalidUtf8IsRejected) {
  const Grammar g = MustParse("root ::= .*");
  Matcher m(&g);
  EXPECT_FALSE(m.AcceptBytes("\xC0\x80"));  // overlong
  EXPECT_FALSE(m.AcceptBytes("\xED\xA0\x80"));  // surrogate
  EXPECT_FALSE(m.AcceptBytes("\xFF"));
  EXPECT_TRUE(m.AcceptBytes("ok"));
}

TEST(GrammarTest, LongRepetitionRunsInConstantDepth) {
  const Grammar g = MustParse("root ::= \"a\"* \"b\"");
  Matcher m(&g);
  for (int i = 0; i < 20000; ++i) ASSERT_TRUE(m.AcceptBytes("a"));
  EXPECT_LT(m.arena()->size(), 100);  // interned: the same few stacks every time
  ASSERT_TRUE(m.AcceptBytes("b"));
  EXPECT_TRUE(m.IsComplete());
}

// Found by the fuzzer (a timeout): empty alternatives under nested repetitions multiply the
// paths to the same stacks; each distinct stack must be expanded once.
TEST(GrammarTest, AmbiguousEmptyAlternativesStayCheap) {
  const Grammar g = MustParse(R"(root ::= ( "x" | | | | | | | [0-9a-z]+ ){2,5}{2,5} "!")");
  Matcher m(&g);
  for (int i = 0; i < 30; ++i) ASSERT_TRUE(m.AcceptBytes(i % 2 ? "x" : "ab1"));
  EXPECT_LT(m.tops().size(), 200u);
  EXPECT_LT(m.arena()->size(), 20000);
  auto vocab = std::make_shared<Vocabulary>(std::vector<std::string>{"x", "ab", "1", "!", "xx"}, 5);
  auto compiled = CompiledGrammar::Compile(R"(root ::= ( "x" | | | | | | | [0-9a-z]+ ){2,5}{2,5} "!")",
                                           vocab);
  ASSERT_TRUE(compiled.ok());
  TokenMatcher tm(*compiled, {});
  TokenSet mask;
  tm.FillMask(&mask);
  EXPECT_TRUE(mask.Has(0) && mask.Has(3));
}

// Found by the fuzzer (a timeout): 245 x {3,5} nullable units have more ways to read a digit
// than any budget; the matcher stops expanding and says so instead of holding the engine loop.
TEST(GrammarTest, TooAmbiguousGrammarsAreBoundedAndReported) {
  auto vocab = std::make_shared<Vocabulary>(std::vector<std::string>{"1", "12", "z", ""}, 4);
  auto compiled = CompiledGrammar::Compile(R"(root ::= ( "z" | [0-9]+? ){3,5}{245} "!")", vocab);
  ASSERT_TRUE(compiled.ok());
  TokenMatcher tm(*compiled, {3});
  for (int i = 0; i < 6 && tm.status().ok(); ++i) {
    TokenSet mask;
    tm.FillMask(&mask);
    if (mask.Has(1)) tm.Accept(1);
  }
  EXPECT_EQ(tm.status().code(), StatusCode::kResourceExhausted);
  EXPECT_NE(tm.status().message().find("ambiguous"), std::string::npos);
}

// Found by the fuzzer (a stack overflow): nesting is bounded in every recursive piece.
TEST(GrammarTest, DeepNestingIsRefusedNotACrash) {
  const std::string deep_regex = std::string(5000, '(') + "a" + std::string(5000, ')');
  auto r = RegexToGbnf(deep_regex);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("nested"), std::string::npos);
  auto g = Grammar::Parse("root ::= " + deep_regex);
  ASSERT_FALSE(g.ok());
  EXPECT_NE(g.status().message().find("nested"), std::string::npos);
  nlohmann::ordered_json schema = {{"type", "string"}};
  for (int i = 0; i < 200; ++i) schema = {{"type", "array"}, {"items", schema}};
  auto j = JsonSchemaToGbnf(schema);
  ASSERT_FALSE(j.ok());
  EXPECT_NE(j.status().message().find("nesting"), std::string::npos);
  // A chain of 5,000 rules at one position: the matcher stops and says so.
  std::string chain = "root ::= r0\n";
  for (int i = 0; i < 5000; ++i) chain += "r" + std::to_string(i) + " ::= r" + std::to_string(i + 1) + " \"x\"\n";
  chain += "r5000 ::= \"y\"\n";
  auto cg = Grammar::Parse(chain);
  ASSERT_TRUE(cg.ok()) << cg.status().ToString();
  Matcher m(&*cg);
  EXPECT_TRUE(m.arena_overflowed());
}

TEST(GrammarTest, ErrorsNameTheProblem) {
  auto undefined = Grammar::Parse("root ::= item");
  ASSERT_FALSE(undefined.ok());
  EXPECT_NE(undefined.status().message().find("item"), std::string::npos);
  auto left = Grammar::Parse("root ::= root \"a\" | \"b\"");
  ASSERT_FALSE(left.ok());
  EXPECT_NE(left.status().message().find("left recursion"), std::string::npos);
  auto hidden = Grammar::Parse("root ::= e root \"a\" | \"b\"\ne ::= \"\" | \"x\"");
  ASSERT_FALSE(hidden.ok());
  EXPECT_NE(hidden.status().message().find("left recursion"), std::string::npos);
  auto syntax = Grammar::Parse("root ::= \"a\" (\"b\"");
  ASSERT_FALSE(syntax.ok());
  EXPECT_NE(syntax.status().message().find("line 1"), std::string::npos);
  EXPECT_FALSE(Grammar::Parse("root ::= [z-a]").ok());
  EXPECT_FALSE(Grammar::Parse("root ::= \"a\"{3,2}").ok());
  EXPECT_FALSE(Grammar::Parse("root ::= \"a\"{99999999}").ok());
  EXPECT_FALSE(Grammar::Parse("other ::= \"a\"").ok());  // no root
  EXPECT_FALSE(Grammar::Parse("root ::= \"a\"\nroot ::= \"b\"").ok());
}

TEST(CharClassTest, MatchesAnyIn) {
  const CharClass c{{{'a', 'c'}, {'x', 'z'}}, false};
  EXPECT_TRUE(c.MatchesAnyIn('c', 'f'));
  EXPECT_FALSE(c.MatchesAnyIn('d', 'w'));
  const CharClass n{{{'a', 'c'}, {'d', 'z'}}, true};
  EXPECT_FALSE(n.MatchesAnyIn('b', 'y'));
  EXPECT_TRUE(n.MatchesAnyIn('b', '{'));
  EXPECT_TRUE(n.MatchesAnyIn(0x80, 0x800));
}

// A vocabulary of random byte strings over a small alphabet, with multi-byte characters split
// across tokens, plus the single bytes.
std::vector<std::string> RandomVocab(uint64_t seed, int n) {
  std::mt19937_64 rng(seed);
  const std::vector<std::string> pieces = {"a", "b", "1", "2", "\"", "{", "}", ",", ":", " ",
                                           "\\", "\n", "é", "\xC3", "\xA9", "😀", "\xF0\x9F",
                                           "\x98\x80", "[", "]", "x", "-"};
  std::vector<std::string> v;
  for (int i = 0; i < n; ++i) {
    std::string s;
    const int len = 1 + static_cast<int>(rng() % 5);
    for (int k = 0; k < len; ++k) s += pieces[rng() % pieces.size()];
    v.push_back(s);
  }
  for (const std::string& p : pieces) v.push_back(p);
  v.push_back("");  // a control token
  return v;
}

// The mask from the cache must equal checking every token against the real stacks.
void ExpectMasksExact(const std::string& gbnf, uint64_t seed, int steps) {
  std::vector<std::string> bytes = RandomVocab(seed, 3000);
  const auto eos = static_cast<int32_t>(bytes.size());  // beyond the bytes: no text of its own
  auto vocab = std::make_shared<Vocabulary>(std::move(bytes), eos + 1);
  auto compiled = CompiledGrammar::Compile(gbnf, vocab);
  ASSERT_TRUE(compiled.ok()) << compiled.status().ToString();
  TokenMatcher tm(*compiled, {eos});
  Matcher brute(&(*compiled)->grammar());
  std::mt19937_64 rng(seed * 7 + 1);
  for (int step = 0; step < steps; ++step) {
    TokenSet mask;
    tm.FillMask(&mask);
    std::vector<int32_t> allowed;
    for (int32_t t = 0; t < vocab->size(); ++t) {
      bool expect = false;
      if (t == eos) {
        expect = brute.IsComplete();
      } else if (vocab->has_bytes(t)) {
        expect = brute.CanAccept(vocab->bytes(t));
      }
      ASSERT_EQ(mask.Has(t), expect) << "step " << step << " token " << t << " '"
                                      << (vocab->has_bytes(t) ? vocab->bytes(t) : "") << "'";
      ASSERT_EQ(tm.Allows(t), expect);
      if (expect) allowed.push_back(t);
    }
    if (allowed.empty()) break;
    const int32_t pick = allowed[rng() % allowed.size()];
    ASSERT_TRUE(tm.Accept(pick));
    if (pick == eos) break;
    ASSERT_TRUE(brute.AcceptBytes(vocab->bytes(pick)));
  }
}

const char* kJsonish = R"(
root ::= value
value ::= object | array | string | number | "true" | "false" | "null"
object ::= "{" ws ( member ( "," ws member )* )? "}" ws
member ::= string ":" ws value
array ::= "[" ws ( value ( "," ws value )* )? "]" ws
string ::= "\"" ( [^"\\\x00-\x1F] | "\\" ["\\/bfnrt] )* "\"" ws
number ::= "-"? [0-9]+ ws
ws ::= [ \n]{0,2}
)";

TEST(TokenMaskTest, CachedMaskEqualsBruteForce) {
  for (uint64_t seed = 1; seed <= 6; ++seed) ExpectMasksExact(kJsonish, seed, 60);
}

TEST(TokenMaskTest, CachedMaskEqualsBruteForceOnAmbiguousGrammar) {
  const char* g = R"(
root ::= (a | b)+
a ::= "a" "b"* "\""?
b ::= "a"+ [1-2é]* | "😀" ","
)";
  for (uint64_t seed = 11; seed <= 14; ++seed) ExpectMasksExact(g, seed, 60);
}

TEST(TokenMaskTest, StopOnlyWhenComplete) {
  auto vocab = std::make_shared<Vocabulary>(std::vector<std::string>{"a", "b", "ab", ""}, 4);
  auto compiled = CompiledGrammar::Compile("root ::= \"a\" \"b\"", vocab);
  ASSERT_TRUE(compiled.ok());
  TokenMatcher tm(*compiled, {3});
  TokenSet mask;
  tm.FillMask(&mask);
  EXPECT_TRUE(mask.Has(0));
  EXPECT_TRUE(mask.Has(2));
  EXPECT_FALSE(mask.Has(1));
  EXPECT_FALSE(mask.Has(3));
  EXPECT_FALSE(tm.Accept(3));
  ASSERT_TRUE(tm.Accept(2));
  tm.FillMask(&mask);
  EXPECT_EQ(mask.Count(), 1);
  EXPECT_TRUE(mask.Has(3));
  EXPECT_TRUE(tm.Accept(3));
  tm.FillMask(&mask);
  EXPECT_EQ(mask.Count(), 0);
}

// Memory is bounded: a grammar whose mask cache is full classifies new states at each use (same
// masks), and the grammar cache drops the least recent grammars past its byte budget.
TEST(GrammarCacheTest, MaskCachesStayWithinTheirBudgets) {
  auto vocab = std::make_shared<Vocabulary>(RandomVocab(3, 500), 600);
  auto none = CompiledGrammar::Compile(kJsonish, vocab, /*max_cache_bytes=*/0);
  auto full = CompiledGrammar::Compile(kJsonish, vocab);
  ASSERT_TRUE(none.ok() && full.ok());
  TokenMatcher a(*none, {}), b(*full, {});
  for (const char* text : {"{", "\"", "ab", "\"", ":", " ", "[", "12"}) {
    TokenSet ma, mb;
    a.FillMask(&ma);
    b.FillMask(&mb);
    ASSERT_EQ(ma.words, mb.words) << text;
    ASSERT_TRUE(a.AcceptText(text) && b.AcceptText(text)) << text;
  }
  EXPECT_EQ((*none)->cache_entries(), 0u);
  EXPECT_EQ((*none)->cache_bytes(), 0u);
  EXPECT_GT((*full)->cache_entries(), 0u);

  GrammarCache cache(vocab, /*capacity=*/8, /*max_bytes=*/1);  // any cached mask is too much
  auto g1 = cache.Get(kJsonish);
  ASSERT_TRUE(g1.ok());
  TokenMatcher m(*g1, {});
  TokenSet mask;
  m.FillMask(&mask);  // fills g1's mask cache
  ASSERT_TRUE(cache.Get("root ::= \"a\"").ok());  // over budget: g1, the least recent, goes
  auto again = cache.Get(kJsonish);
  EXPECT_NE(again->get(), g1->get());
}

TEST(GrammarCacheTest, RepeatedSourceCompilesOnce) {
  auto vocab = std::make_shared<Vocabulary>(std::vector<std::string>{"a", "b"}, 2);
  GrammarCache cache(vocab, 2);
  auto a = cache.Get("root ::= \"a\"");
  auto b = cache.Get("root ::= \"a\"");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->get(), b->get());
  EXPECT_EQ(cache.hits(), 1u);
  ASSERT_TRUE(cache.Get("root ::= \"b\"").ok());
  ASSERT_TRUE(cache.Get("root ::= \"c\"").ok());  // evicts "a"
  auto c = cache.Get("root ::= \"a\"");
  EXPECT_NE(c->get(), a->get());
  EXPECT_FALSE(cache.Get("root ::= (").ok());
}

}  // namespace
}  // namespace mint::grammar
