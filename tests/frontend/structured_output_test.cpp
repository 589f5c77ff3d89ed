// Forced and lazy tool-call grammars (structured_output.h) against the tool-call parser: for every
// format with JSON arguments, text drawn at random from the grammar over a real vocabulary reads
// back as calls to offered tools whose arguments fit their schemas.
#include "frontend/structured_output.h"

#include <gtest/gtest.h>

#include <random>

#include "grammar/token_mask.h"
#include "tokenizer/tokenizer.h"

namespace mint::frontend {
namespace {

using SJson = nlohmann::ordered_json;

const SJson& Tools() {
  static const SJson tools = SJson::parse(R"([
    {"type": "function", "function": {"name": "get_weather", "strict": true, "parameters": {
      "type": "object", "properties": {"city": {"type": "string", "maxLength": 6},
      "days": {"type": "integer", "minimum": 1, "maximum": 7}}, "required": ["city", "days"]}}},
    {"type": "function", "function": {"name": "get_time", "parameters": {
      "type": "object", "properties": {"tz": {"enum": ["UTC", "CET"]}}, "required": ["tz"]}}}])");
  return tools;
}

class ToolGrammarTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto t = tokenizer::Tokenizer::FromHuggingFace(std::string(MINT_SHARED_DIR) +
                                                   "/tokenizers/qwen3/tokenizer.json");
    if (!t.ok()) return;
    tok_ = std::move(t).value().release();
    vocab_ = new std::shared_ptr<const grammar::Vocabulary>(
        grammar::VocabularyFromTokenizer(*tok_, tok_->vocab_size()));
  }
  static void TearDownTestSuite() {
    delete vocab_;
    delete tok_;
    vocab_ = nullptr, tok_ = nullptr;
  }
  void SetUp() override {
    if (tok_ == nullptr) GTEST_SKIP() << "needs ../shared/tokenizers/qwen3/tokenizer.json";
  }

  // Random picks among the allowed tokens until the grammar has matched (where more calls could
  // follow, stopping there one time in three).
  static std::string Draw(const std::string& gbnf, uint64_t seed) {
    auto g = grammar::CompiledGrammar::Compile(gbnf, *vocab_);
    EXPECT_TRUE(g.ok()) << g.status().ToString();
    grammar::TokenMatcher m(*g, {});
    std::mt19937_64 rng(seed);
    std::string text;
    for (int step = 0; step < 1000 && !m.OnlyEnd(); ++step) {
      if (m.IsComplete() && rng() % 3 == 0) break;
      grammar::TokenSet mask;
      m.FillMask(&mask);
      std::vector<int32_t> ids;
      for (int32_t t = 0; t < (*vocab_)->size(); ++t) {
        if (mask.Has(t)) ids.push_back(t);
      }
      if (ids.empty()) break;
      const int32_t pick = ids[rng() % ids.size()];
      EXPECT_TRUE(m.Accept(pick));
      text += (*vocab_)->bytes(pick);
    }
    EXPECT_TRUE(m.IsComplete()) << "did not finish: " << text.substr(0, 300);
    return text;
  }

  // `text` reads back as calls (after `prose`, which stays content) to offered tools.
  static void ExpectCalls(ToolCallFormat f, const std::string& text, bool one_named = false,
                          const std::string& prose = "") {
    ToolCallOptions o;
    o.tool_names = {"get_weather", "get_time"};
    ToolCallParser p(f, o);
    std::string content = p.Push(text).content;
    content += p.Flush().content;
    ASSERT_FALSE(p.calls().empty()) << ToolCallFormatName(f) << ": no call in " << text;
    ASSERT_EQ(content.substr(0, prose.size()), prose) << ToolCallFormatName(f);
    EXPECT_EQ(content.find_first_not_of(" \n", prose.size()), std::string::npos)
        << ToolCallFormatName(f) << ": content " << content;
    if (one_named) {
      ASSERT_EQ(p.calls().size(), 1u);
      EXPECT_EQ(p.calls()[0].name, "get_time");
    }
    for (const ToolCall& c : p.calls()) {
      const SJson args = SJson::parse(c.arguments);
      if (c.name == "get_weather") {
        EXPECT_TRUE(args.contains("city") && args["days"].is_number_integer()) << c.arguments;
      } else {
        EXPECT_TRUE(args["tz"] == "UTC" || args["tz"] == "CET") << c.arguments;
      }
    }
  }

  static tokenizer::Tokenizer* tok_;
  static std::shared_ptr<const grammar::Vocabulary>* vocab_;
};

tokenizer::Tokenizer* ToolGrammarTest::tok_ = nullptr;
std::shared_ptr<const grammar::Vocabulary>* ToolGrammarTest::vocab_ = nullptr;

const ToolCallFormat kJsonFormats[] = {
    ToolCallFormat::kHermes, ToolCallFormat::kLlama3,   ToolCallFormat::kMistral,
    ToolCallFormat::kApriel, ToolCallFormat::kCommandR, ToolCallFormat::kFunctionary,
    ToolCallFormat::kKimiK2, ToolCallFormat::kDeepSeek, ToolCallFormat::kHarmony};

TEST_F(ToolGrammarTest, ForcedCallsParseBackInEveryFormat) {
  const grammar::ControlSpelling spelling(*tok_);
  for (ToolCallFormat f : kJsonFormats) {
    auto required = ToolChoiceGrammar(f, Tools(), "required", true, spelling);
    ASSERT_TRUE(required.ok()) << ToolCallFormatName(f) << ": " << required.status().ToString();
    auto named = ToolChoiceGrammar(f, Tools(), SJson::parse(R"({"type":"function","function":{"name":"get_time"}})"),
                                   true, spelling);
    ASSERT_TRUE(named.ok()) << named.status().ToString();
    for (uint64_t seed = 1; seed <= 4; ++seed) {
      ExpectCalls(f, Draw(*required, seed));
      ExpectCalls(f, Draw(*named, seed + 100), /*one_named=*/true);
    }
  }
  EXPECT_FALSE(ToolChoiceGrammar(ToolCallFormat::kQwen3Coder, Tools(), "required", true, spelling).ok());
  EXPECT_FALSE(ToolChoiceGrammar(ToolCallFormat::kHermes, Tools(),
                                 SJson::parse(R"({"type":"function","function":{"name":"nope"}})"), true,
                                 spelling).ok());
}

TEST_F(ToolGrammarTest, LazyGrammarFollowsTheTrigger) {
  const grammar::ControlSpelling spelling(*tok_);
  for (ToolCallFormat f : kJsonFormats) {
    auto lazy = AutoToolGrammar(f, Tools(), true, spelling);
    ASSERT_TRUE(lazy.ok()) << lazy.status().ToString();
    if (f == ToolCallFormat::kLlama3) {  // no marker to trigger on: unconstrained
      EXPECT_TRUE(lazy->grammar.empty());
      continue;
    }
    ASSERT_FALSE(lazy->trigger.empty()) << ToolCallFormatName(f);
    for (uint64_t seed = 1; seed <= 3; ++seed) {
      ExpectCalls(f, "Let me check. " + lazy->trigger + Draw(lazy->grammar, seed), false,
                  "Let me check. ");
    }
  }
  SJson loose = Tools();
  loose[0]["function"].erase("strict");
  auto none = AutoToolGrammar(ToolCallFormat::kHermes, loose, true, spelling);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->grammar.empty());  // no strict tool: auto stays free
}

}  // namespace
}  // namespace mint::frontend
