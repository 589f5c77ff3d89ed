// The engine's grammar processor (grammar/logits.h): continuation past generated tokens and
// lazy grammars (free text until a trigger).
#include <limits>

#include "engine/engine.h"
#include "grammar/logits.h"
#include "gtest/gtest.h"

namespace mint::grammar {
namespace {

// Tokens: single bytes a-z, '<', '>', '/', '{', '}', 't', and multi-byte "<t>", "x<t", ">{ab".
std::shared_ptr<GrammarCache> Cache(std::vector<std::string>* bytes) {
  for (char c = 'a'; c <= 'z'; ++c) bytes->push_back(std::string(1, c));
  for (const char* s : {"<", ">", "/", "{", "}", " ", "<t>", "x<t", ">{ab", "}</t>"}) bytes->push_back(s);
  const auto n = static_cast<int32_t>(bytes->size());
  bytes->push_back("");  // eos
  return std::make_shared<GrammarCache>(std::make_shared<Vocabulary>(*bytes, n + 1));
}

int32_t Id(const std::vector<std::string>& bytes, const std::string& s) {
  for (size_t i = 0; i < bytes.size(); ++i) {
    if (bytes[i] == s) return static_cast<int32_t>(i);
  }
  ADD_FAILURE() << "no token " << s;
  return -1;
}

bool Allowed(engine::LogitsProcessor& p, int32_t token, size_t n) {
  std::vector<float> logits(n, 0.0f);
  std::vector<int32_t> ids;
  if (p.ListAllowed(&ids)) return std::find(ids.begin(), ids.end(), token) != ids.end();
  p.Mask(logits);
  return logits[token] == 0.0f;
}

TEST(GrammarProcessorTest, LazyGrammarAppliesBetweenTriggerAndCompletion) {
  std::vector<std::string> bytes;
  auto cache = Cache(&bytes);
  const size_t n = bytes.size();
  engine::Request req;
  req.prompt = {0};
  req.grammar = R"(root ::= "{" [a-z]+ "}" "</t>")";
  req.grammar_trigger = "<t>";
  req.stop_token_ids = {static_cast<int32_t>(n - 1)};
  auto p = std::move(GrammarProcessorFactory(cache)(req)).value();
  // Free text: anything, the stop token included.
  EXPECT_TRUE(Allowed(*p, Id(bytes, "}"), n));
  EXPECT_TRUE(Allowed(*p, static_cast<int32_t>(n - 1), n));
  p->Accept(Id(bytes, "h"));
  p->Accept(Id(bytes, "x<t"));  // the trigger split across tokens
  p->Accept(Id(bytes, ">{ab"));  // ... and what follows it in the same token is grammar input
  EXPECT_FALSE(Allowed(*p, Id(bytes, "{"), n));
  EXPECT_FALSE(Allowed(*p, static_cast<int32_t>(n - 1), n));  // no stop inside a call
  EXPECT_TRUE(Allowed(*p, Id(bytes, "c"), n));
  EXPECT_TRUE(Allowed(*p, Id(bytes, "}</t>"), n));
  p->Accept(Id(bytes, "}</t>"));
  // Complete: free again.
  EXPECT_TRUE(Allowed(*p, Id(bytes, "{"), n));
  EXPECT_TRUE(Allowed(*p, static_cast<int32_t>(n - 1), n));
  p->Accept(Id(bytes, "<t>"));
  EXPECT_TRUE(Allowed(*p, Id(bytes, "{"), n));
  EXPECT_FALSE(Allowed(*p, Id(bytes, "a"), n));
}

TEST(GrammarProcessorTest, ContinuesPastGeneratedTokensOrRefuses) {
  std::vector<std::string> bytes;
  auto cache = Cache(&bytes);
  const size_t n = bytes.size();
  engine::Request req;
  req.grammar = R"(root ::= "{" [a-z]+ "}")";
  req.prompt = {Id(bytes, "q"), Id(bytes, "{"), Id(bytes, "a")};
  req.grammar_generated = 2;  // "{a" was generated before a migration
  auto p = GrammarProcessorFactory(cache)(req);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_FALSE(Allowed(**p, Id(bytes, "{"), n));
  EXPECT_TRUE(Allowed(**p, Id(bytes, "}"), n));
  req.prompt = {Id(bytes, "q"), Id(bytes, "a")};
  req.grammar_generated = 1;  // "a" cannot start the grammar
  EXPECT_FALSE(GrammarProcessorFactory(cache)(req).ok());
  req.grammar_generated = 2;  // the whole prompt: not allowed
  EXPECT_FALSE(GrammarProcessorFactory(cache)(req).ok());
}

}  // namespace
}  // namespace mint::grammar
