#include <random>
#include <regex>

#include "grammar/json_schema.h"
#include "grammar/matcher.h"
#include "gtest/gtest.h"

namespace mint::grammar {
namespace {

using Json = nlohmann::ordered_json;

Grammar CompileOk(const Result<std::string>& gbnf) {
  EXPECT_TRUE(gbnf.ok()) << gbnf.status().ToString();
  auto g = Grammar::Parse(*gbnf);
  EXPECT_TRUE(g.ok()) << g.status().ToString() << "\n" << *gbnf;
  return std::move(g).value();
}

bool FullMatch(const Grammar& g, std::string_view text) {
  Matcher m(&g);
  return m.AcceptBytes(text) && m.IsComplete();
}

TEST(JsonSchemaTest, IntegerRangesAreExact) {
  const std::vector<std::pair<int64_t, int64_t>> ranges = {
      {0, 0}, {-40, 1234}, {1, 150}, {-999, -17}, {7, 7}, {100, 100000}, {-5, 5}, {19, 2301}};
  for (const auto& [lo, hi] : ranges) {
    const Grammar g = CompileOk(JsonSchemaToGbnf(Json{{"type", "integer"}, {"minimum", lo}, {"maximum", hi}}));
    for (int64_t v = -3000; v <= 3000; ++v) {
      ASSERT_EQ(FullMatch(g, std::to_string(v)), v >= lo && v <= hi) << v << " in [" << lo << "," << hi << "]";
    }
    EXPECT_FALSE(FullMatch(g, "007"));
  }
  const Grammar excl = CompileOk(JsonSchemaToGbnf(
      Json{{"type", "integer"}, {"exclusiveMinimum", 0}, {"exclusiveMaximum", 10.5}}));
  EXPECT_FALSE(FullMatch(excl, "0"));
  EXPECT_TRUE(FullMatch(excl, "1"));
  EXPECT_TRUE(FullMatch(excl, "10"));
  EXPECT_FALSE(FullMatch(excl, "11"));
  const Grammar open = CompileOk(JsonSchemaToGbnf(Json{{"type", "integer"}, {"minimum", 95}}));
  EXPECT_FALSE(FullMatch(open, "94"));
  EXPECT_TRUE(FullMatch(open, "95"));
  EXPECT_TRUE(FullMatch(open, "123456789012"));
}

TEST(JsonSchemaTest, ObjectsKeepOrderAndRequire) {
  const Grammar g = CompileOk(JsonSchemaToGbnf(Json::parse(R"({
    "type": "object",
    "properties": {"z": {"type": "integer"}, "a": {"type": "string"}, "m": {"type": "boolean"}},
    "required": ["a"]})")));
  EXPECT_TRUE(FullMatch(g, R"({"a":"x"})"));
  EXPECT_TRUE(FullMatch(g, R"({"z":1,"a":"x","m":true})"));
  EXPECT_TRUE(FullMatch(g, "{ \"z\": 1,\n  \"a\": \"\\u00e9\\n\" }"));
  EXPECT_FALSE(FullMatch(g, R"({"a":"x","z":1})"));  // declaration order
  EXPECT_FALSE(FullMatch(g, R"({"z":1})"));          // a is required
  EXPECT_FALSE(FullMatch(g, R"({"a":"x",})"));
  EXPECT_FALSE(FullMatch(g, R"({"a":"x","q":1})"));
}

TEST(JsonSchemaTest, JsonObjectModeAcceptsAnyObject) {
  const Grammar g = CompileOk(JsonObjectGbnf());
  EXPECT_TRUE(FullMatch(g, R"({"a":[1,2.5e-3,{"b":null}],"c":"d\"e"})"));
  EXPECT_TRUE(FullMatch(g, "{}"));
  EXPECT_FALSE(FullMatch(g, "[1]"));
  EXPECT_FALSE(FullMatch(g, R"({"a":01})"));
}

TEST(JsonSchemaTest, UnsupportedFeaturesAreNamed) {
  const std::vector<std::pair<const char*, const char*>> cases = {
      {R"({"type":"object","not":{}})", "\"not\""},
      {R"({"type":"array","uniqueItems":true})", "uniqueItems"},
      {R"({"type":"number","maximum":3})", "maximum"},
      {R"({"type":"string","format":"hostname"})", "hostname"},
      {R"({"$ref":"https://example.com/s.json"})", "$ref"},
      {R"({"$ref":"#/$defs/missing"})", "points nowhere"},
      {R"j({"type":"string","pattern":"(a)\\1"})j", "backreferences"},
      {R"j({"type":"string","pattern":"(?=a)"})j", "lookahead"},
      {R"({"allOf":[{"type":"object"},{"type":"object"}]})", "allOf"},
      {R"({"type":"integer","minimum":5,"maximum":1})", "empty integer range"},
      {R"({"type":"object","properties":{"a":{"if":{}}}})", "#/properties/a"},
  };
  for (const auto& [schema, needle] : cases) {
    auto r = JsonSchemaToGbnf(Json::parse(schema));
    ASSERT_FALSE(r.ok()) << schema;
    EXPECT_NE(r.status().message().find(needle), std::string::npos)
        << schema << " -> " << r.status().message();
  }
}

// Regexes agree with std::regex (ECMAScript) on random strings.
TEST(RegexTest, AgreesWithStdRegex) {
  const std::vector<std::string> patterns = {
      "a|b", "(ab)*c", "a{2,3}b?", "[a-c]+x", "[^a]b", "\\d{2}-\\w", "(?:a|bc){1,3}", "a.c",
      "[\\s\\d]+", "x(y|z)*?w", "[-a]b", "\\.\\*", "(a|)b", "[\\W]a"};
  std::mt19937_64 rng(5);
  const std::string alphabet = "abcxyzw019-. *\t_";
  for (const std::string& p : patterns) {
    const Grammar g = CompileOk(RegexToGbnf(p));
    const std::regex re(p);
    for (int i = 0; i < 3000; ++i) {
      std::string s;
      const int len = static_cast<int>(rng() % 7);
      for (int k = 0; k < len; ++k) s += alphabet[rng() % alphabet.size()];
      ASSERT_EQ(FullMatch(g, s), std::regex_match(s, re)) << "/" << p << "/ on '" << s << "'";
    }
  }
}

TEST(RegexTest, ChoicesAreExact) {
  const Grammar g = CompileOk(ChoiceToGbnf({"yes", "no", "yes please"}));
  EXPECT_TRUE(FullMatch(g, "yes"));
  EXPECT_TRUE(FullMatch(g, "yes please"));
  EXPECT_FALSE(FullMatch(g, "ye"));
  EXPECT_FALSE(FullMatch(g, "nope"));
  EXPECT_FALSE(ChoiceToGbnf({}).ok());
}

}  // namespace
}  // namespace mint::grammar
