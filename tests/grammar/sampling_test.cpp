// Grammar correctness against an oracle we did not write: samples drawn at temperature 1 from
// random logits (a model that ignores every instruction) through the engine's Sampler and the
// grammar processor, over a real 151k-token vocabulary, then checked by python3-jsonschema,
// Python's re and plain membership (validate_samples.py).
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>

#include "engine/engine.h"
#include "engine/sampler.h"
#include "grammar/json_schema.h"
#include "grammar/logits.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tokenizer/tokenizer.h"

namespace mint::grammar {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

// 200 samples per schema (the issue's bar); sanitized builds, several times slower, take 10.
#ifndef MINT_GRAMMAR_DEFAULT_SAMPLES
#define MINT_GRAMMAR_DEFAULT_SAMPLES 200
#endif
int SamplesPerSpec() {
  const char* env = std::getenv("MINT_GRAMMAR_SAMPLES");
  return env != nullptr ? std::max(1, std::atoi(env)) : MINT_GRAMMAR_DEFAULT_SAMPLES;
}

class SamplingTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const std::string path = std::string(MINT_SHARED_DIR) + "/tokenizers/qwen3/tokenizer.json";
    if (!fs::exists(path)) return;
    auto tok = tokenizer::Tokenizer::FromHuggingFace(path);
    ASSERT_TRUE(tok.ok()) << tok.status().ToString();
    tok_ = std::move(tok).value().release();
    cache_ = new std::shared_ptr<GrammarCache>(
        std::make_shared<GrammarCache>(VocabularyFromTokenizer(*tok_, tok_->vocab_size())));
  }
  static void TearDownTestSuite() {
    delete cache_;
    delete tok_;
    cache_ = nullptr, tok_ = nullptr;
  }
  void SetUp() override {
    if (tok_ == nullptr) GTEST_SKIP() << "needs ../shared/tokenizers/qwen3/tokenizer.json";
    if (std::system("/usr/bin/python3 -c 'import jsonschema' 2>/dev/null") != 0) {
      GTEST_SKIP() << "needs Debian's python3-jsonschema (scripts/install-deps.sh installs it)";
    }
  }

  // Draws one constrained sample; returns false if it did not finish within max_tokens.
  bool Draw(const std::string& gbnf, uint64_t seed, std::string* text) {
    engine::Request req;
    req.grammar = gbnf;
    req.stop_token_ids = {tok_->eos_id()};
    auto proc = GrammarProcessorFactory(*cache_)(req);
    EXPECT_TRUE(proc.ok()) << proc.status().ToString();
    if (!proc.ok()) return false;
    engine::SamplingParams sp;
    sp.temperature = 1.0f;
    sp.seed = seed;
    sp.has_seed = true;
    engine::Sampler sampler(sp, tok_->vocab_size());
    std::mt19937_64 rng(seed);
    std::vector<float> logits(static_cast<size_t>(tok_->vocab_size()));
    std::vector<int32_t> ids;
    text->clear();
    for (int step = 0; step < 2000; ++step) {
      // A random-weight model: one of a few fixed random logit rows, chosen per step.
      const std::vector<float>& row = Rows()[rng() % Rows().size()];
      std::copy(row.begin(), row.end(), logits.begin());
      // As the engine does: a short allowed list when there is one, else the masked row.
      int32_t t = -1;
      if ((*proc)->ListAllowed(&ids)) {
        if (ids.empty()) return true;
        t = sampler.SampleAmong(logits, ids);
      } else {
        if (!(*proc)->Mask(logits)) return true;
        t = sampler.Sample(logits);
      }
      (*proc)->Accept(t);
      if (t == tok_->eos_id()) return true;
      *text += tok_->TokenPiece(t);
    }
    return false;
  }

  static const std::vector<std::vector<float>>& Rows() {
    static const std::vector<std::vector<float>> rows = [] {
      std::mt19937_64 rng(1234);
      std::normal_distribution<float> normal(0.0f, 2.0f);
      std::vector<std::vector<float>> r(8, std::vector<float>(static_cast<size_t>(tok_->vocab_size())));
      for (auto& row : r) {
        for (float& x : row) x = normal(rng);
      }
      return r;
    }();
    return rows;
  }

  // Writes the records and runs the oracle over them.
  static void Validate(const std::vector<Json>& records) {
    const fs::path out = fs::temp_directory_path() /
                         ("mint_grammar_samples_" + std::to_string(::getpid()) + ".jsonl");
    {
      std::ofstream f(out);
      for (const Json& r : records) f << r.dump() << "\n";
    }
    const std::string cmd = "/usr/bin/python3 " + std::string(MINT_SOURCE_DIR) +
                            "/tests/grammar/data/validate_samples.py " + out.string();
    const int rc = std::system(cmd.c_str());
    fs::remove(out);
    EXPECT_EQ(rc, 0) << "samples that fail the independent validator (printed above)";
  }

  static tokenizer::Tokenizer* tok_;
  static std::shared_ptr<GrammarCache>* cache_;
};

tokenizer::Tokenizer* SamplingTest::tok_ = nullptr;
std::shared_ptr<GrammarCache>* SamplingTest::cache_ = nullptr;

TEST_F(SamplingTest, JsonSchemasAlwaysParseAndValidate) {
  std::ifstream in(std::string(MINT_SOURCE_DIR) + "/tests/grammar/data/schemas.json");
  const Json schemas = Json::parse(in);
  ASSERT_EQ(schemas.size(), 20u);
  std::vector<Json> records;
  const int n = SamplesPerSpec();
  for (size_t k = 0; k < schemas.size(); ++k) {
    auto gbnf = JsonSchemaToGbnf(schemas[k]);
    ASSERT_TRUE(gbnf.ok()) << "schema " << k << ": " << gbnf.status().ToString();
    for (int i = 0; i < n; ++i) {
      std::string text;
      ASSERT_TRUE(Draw(*gbnf, k * 100003 + i, &text)) << "schema " << k << " sample " << i
                                                       << " did not finish: " << text.substr(0, 300);
      records.push_back(Json{{"kind", "schema"}, {"spec", schemas[k]}, {"text", text}});
    }
  }
  Validate(records);
}

TEST_F(SamplingTest, RegexesAndChoicesAlwaysMatch) {
  const std::vector<std::string> regexes = {
      R"([a-z]{1,12}@[a-z]{1,12}\.(com|org))", R"(\d{3}-\d{4})", R"((?:yes|no|maybe)!?)",
      R"([A-F0-9]{8}(-[A-F0-9]{4}){3})", R"(\w{1,9}( \w{1,9}){0,3}\.)", R"([^\s,]{1,5}(,[^\s,]{1,5}){0,4})",
      R"(é[😀-😂]?[\u0041-\u0043]{1,20})"};
  const std::vector<std::vector<std::string>> choices = {
      {"positive", "negative", "neutral"}, {"a", "ab", "abc"}, {"日本", "中文", "한국어"}};
  std::vector<Json> records;
  const int n = SamplesPerSpec();
  for (size_t k = 0; k < regexes.size(); ++k) {
    auto gbnf = RegexToGbnf(regexes[k]);
    ASSERT_TRUE(gbnf.ok()) << regexes[k] << ": " << gbnf.status().ToString();
    for (int i = 0; i < n; ++i) {
      std::string text;
      ASSERT_TRUE(Draw(*gbnf, k * 7919 + i, &text)) << regexes[k];
      records.push_back(Json{{"kind", "regex"}, {"spec", regexes[k]}, {"text", text}});
    }
  }
  for (size_t k = 0; k < choices.size(); ++k) {
    auto gbnf = ChoiceToGbnf(choices[k]);
    ASSERT_TRUE(gbnf.ok());
    for (int i = 0; i < n; ++i) {
      std::string text;
      ASSERT_TRUE(Draw(*gbnf, k * 31 + i, &text));
      records.push_back(Json{{"kind", "choice"}, {"spec", choices[k]}, {"text", text}});
    }
  }
  Validate(records);
}

}  // namespace
}  // namespace mint::grammar
