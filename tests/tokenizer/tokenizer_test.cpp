// SentencePiece-style GGUF vocabulary (stories260K), llama.cpp's reference prompts, the
// incremental detokenizer, invalid UTF-8 and concurrent use.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "gguf/gguf.h"
#include "tokenizer/tokenizer.h"

namespace mint::tokenizer {
namespace {

std::string SharedPath(const std::string& rel) { return std::string(MINT_SHARED_DIR) + "/" + rel; }

bool IsValidUtf8(const std::string& s) {
  for (size_t i = 0; i < s.size();) {
    const auto b = static_cast<uint8_t>(s[i]);
    size_t n = b < 0x80 ? 1 : (b >> 5) == 6 ? 2 : (b >> 4) == 14 ? 3 : (b >> 3) == 30 ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (size_t k = 1; k < n; ++k) {
      if ((static_cast<uint8_t>(s[i + k]) & 0xC0) != 0x80) return false;
    }
    i += n;
  }
  return true;
}

class Stories260K : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string path = SharedPath("models/stories260K.gguf");
    if (!std::filesystem::exists(path)) GTEST_SKIP() << "missing " << path;
    auto tok = Tokenizer::Load(path);
    ASSERT_TRUE(tok.ok()) << tok.status().ToString();
    tok_ = std::move(tok).value();
  }
  std::unique_ptr<Tokenizer> tok_;
};

TEST_F(Stories260K, Metadata) {
  EXPECT_EQ(tok_->vocab_size(), 512);
  EXPECT_EQ(tok_->bos_id(), 1);
  EXPECT_EQ(tok_->eos_id(), 2);
  EXPECT_EQ(tok_->unk_id(), 0);
  EXPECT_TRUE(tok_->add_bos());
  EXPECT_FALSE(tok_->add_eos());
  EXPECT_TRUE(tok_->IsEndOfGeneration(2));
  EXPECT_FALSE(tok_->IsEndOfGeneration(1));
  EXPECT_TRUE(tok_->strips_leading_space());
  EXPECT_TRUE(tok_->chat_template().empty());
  EXPECT_EQ(tok_->TokenPiece(13), "\n");  // <0x0A>
  EXPECT_EQ(tok_->token_type(13), TokenType::kByte);
  EXPECT_EQ(tok_->TokenPiece(403), " Once");
  EXPECT_EQ(tok_->TokenText(403), "\xE2\x96\x81Once");
  EXPECT_EQ(tok_->TokenPiece(-1), "");
  EXPECT_EQ(tok_->TokenPiece(512), "");
}

// Prompt ids, completion text and incremental detokenization against llama.cpp's server.
TEST_F(Stories260K, MatchesLlamaCppReference) {
  const std::string path = SharedPath("reference/stories260K-greedy-top5.json");
  if (!std::filesystem::exists(path)) GTEST_SKIP() << "missing " << path;
  std::ifstream in(path);
  const auto ref = nlohmann::json::parse(in);
  ASSERT_EQ(ref["cases"].size(), 4u);
  for (const auto& c : ref["cases"]) {
    const std::string prompt = c["prompt"];
    const auto want = c["prompt_token_ids"].get<std::vector<int32_t>>();
    auto ids = tok_->Encode(prompt, /*add_special=*/true, /*parse_special=*/false);
    ASSERT_TRUE(ids.ok());
    EXPECT_EQ(*ids, want) << "prompt '" << prompt << "'";
    EXPECT_EQ(tok_->Decode(*ids, /*skip_special=*/true), prompt);

    const auto completion_ids = c["completion_token_ids"].get<std::vector<int32_t>>();
    const std::string completion = c["completion"];
    std::string pieces;
    for (int32_t id : completion_ids) pieces += tok_->TokenPiece(id);
    EXPECT_EQ(pieces, completion);

    // Streaming after the prompt: the first token keeps its space unless only BOS came before.
    IncrementalDetokenizer detok(*tok_);
    detok.Prime(want);
    std::string streamed;
    for (int32_t id : completion_ids) streamed += detok.Push(id);
    streamed += detok.Flush();
    EXPECT_EQ(streamed, prompt.empty() ? completion.substr(1) : completion);
  }
}

TEST_F(Stories260K, DocumentedGreedyTextRoundTrips) {
  const std::string text =
      "Once upon a time, there was a little girl named Lily. She loved to play outside in the "
      "park. One day, she saw a big, red ball. She wanted to play with it, but it was too high.";
  auto ids = tok_->Encode(text, true, false);
  ASSERT_TRUE(ids.ok());
  EXPECT_EQ((*ids)[0], 1);
  EXPECT_EQ(tok_->Decode(*ids, /*skip_special=*/true), text);
  EXPECT_EQ(tok_->Decode(*ids, /*skip_special=*/false), "<s> " + text);
  for (const char* s : {"", " ", "  leading", "trailing  ", "new\nlines\n\n", "tab\there",
                        "Ünïcödé 🦙 中文", "\x7f\x01"}) {
    auto enc = tok_->Encode(s, false, false);
    ASSERT_TRUE(enc.ok());
    EXPECT_EQ(tok_->Decode(*enc), s);
  }
}

TEST_F(Stories260K, ControlTokensOnlyWhenParsed) {
  auto plain = tok_->Encode("a</s>b", false, /*parse_special=*/false);
  auto parsed = tok_->Encode("a</s>b", false, /*parse_special=*/true);
  ASSERT_TRUE(plain.ok() && parsed.ok());
  EXPECT_EQ(std::count(plain->begin(), plain->end(), 2), 0);
  EXPECT_EQ(std::count(parsed->begin(), parsed->end(), 2), 1);
  EXPECT_EQ(tok_->Decode(*plain), "a</s>b");
  // As in llama.cpp, text after a control token gets the dummy-prefix space again.
  EXPECT_EQ(tok_->Decode(*parsed), "a</s> b");
  EXPECT_EQ(tok_->Decode(*parsed, true), "a b");
}

// A character spelled by several <0xXX> tokens is only emitted once complete.
TEST_F(Stories260K, IncrementalByteFallback) {
  auto ids = tok_->Encode("a🦙é", false, false);
  ASSERT_TRUE(ids.ok());
  int byte_tokens = 0;
  for (int32_t id : *ids) byte_tokens += tok_->token_type(id) == TokenType::kByte;
  ASSERT_GE(byte_tokens, 4);
  IncrementalDetokenizer detok(*tok_);
  std::string out;
  for (int32_t id : *ids) {
    const std::string part = detok.Push(id);
    EXPECT_TRUE(IsValidUtf8(part));
    out += part;
  }
  out += detok.Flush();
  EXPECT_EQ(out, "a🦙é");

  // A sequence cut short is replaced on Flush; a stray continuation byte right away.
  IncrementalDetokenizer cut(*tok_);
  EXPECT_EQ(cut.Push(tok_->TokenId("<0xF0>")), "");
  EXPECT_EQ(cut.Push(tok_->TokenId("<0x9F>")), "");
  EXPECT_EQ(cut.Flush(), "\xEF\xBF\xBD\xEF\xBF\xBD");
  IncrementalDetokenizer stray(*tok_);
  EXPECT_EQ(stray.Push(tok_->TokenId("<0x80>")), "\xEF\xBF\xBD");
  EXPECT_EQ(stray.Push(tok_->TokenId("<0xE4>")), "");
  EXPECT_EQ(stray.Push(tok_->TokenId("<0x41>")),
            "\xEF\xBF\xBD"
            "A");
}

TEST_F(Stories260K, InvalidUtf8IsReplaced) {
  const std::string bad = "ok\xFF\xC3(\xE2\x82";
  auto ids = tok_->Encode(bad, true, false);
  ASSERT_TRUE(ids.ok());
  EXPECT_EQ(tok_->Decode(*ids, true), "ok\xEF\xBF\xBD\xEF\xBF\xBD(\xEF\xBF\xBD\xEF\xBF\xBD");
}

TEST_F(Stories260K, ConcurrentEncodeIsConsistent) {
  const std::string text = "The cat sat on the mat. It was a big, red ball. ";
  auto ref = tok_->Encode(text, true, false);
  ASSERT_TRUE(ref.ok());
  std::vector<std::thread> threads;
  std::vector<int> ok(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) ok[t] += *tok_->Encode(text, true, false) == *ref;
    });
  }
  for (auto& th : threads) th.join();
  for (int v : ok) EXPECT_EQ(v, 200);
}

TEST(Tokenizer, LoadErrors) {
  EXPECT_EQ(Tokenizer::Load("/nonexistent/tokenizer.json").status().code(), StatusCode::kNotFound);
  const std::string tmp = ::testing::TempDir() + "/bad_tokenizer.json";
  std::ofstream(tmp) << "{\"model\": {\"type\": \"BPE\", \"vocab\": 5}}";
  auto bad = Tokenizer::Load(tmp);
  EXPECT_FALSE(bad.ok());
  std::ofstream(tmp) << "not json";
  EXPECT_EQ(Tokenizer::Load(tmp).status().code(), StatusCode::kCorruption);
}

// Byte-level vocabularies: every Push returns complete UTF-8 and the stream equals Decode.
TEST(IncrementalDetokenizer, ByteLevelSplitCharacters) {
  const std::string path = SharedPath("tokenizers/qwen3/tokenizer.json");
  if (!std::filesystem::exists(path)) GTEST_SKIP() << "missing " << path;
  auto tok = Tokenizer::Load(path);
  ASSERT_TRUE(tok.ok()) << tok.status().ToString();
  const std::string text =
      "😶‍🌫️ 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 កាន់តែពិសេស "
      "我想在apple工作 "
      "🦙🦙";
  auto ids = (*tok)->Encode(text, false, false);
  ASSERT_TRUE(ids.ok());
  bool split_seen = false;
  for (int32_t id : *ids) split_seen |= !IsValidUtf8((*tok)->TokenPiece(id));
  EXPECT_TRUE(split_seen) << "expected a token holding part of a character";
  IncrementalDetokenizer detok(**tok);
  std::string out;
  for (int32_t id : *ids) {
    const std::string part = detok.Push(id);
    EXPECT_TRUE(IsValidUtf8(part));
    out += part;
  }
  out += detok.Flush();
  EXPECT_EQ(out, text);
}

// Qwen's normalizer is NFC: decomposed input must tokenize like its composed form.
TEST(Nfc, DecomposedInputMatchesComposed) {
  const std::string path = SharedPath("tokenizers/qwen3/tokenizer.json");
  if (!std::filesystem::exists(path)) GTEST_SKIP() << "missing " << path;
  auto tok = Tokenizer::Load(path);
  ASSERT_TRUE(tok.ok()) << tok.status().ToString();
  const std::pair<const char*, const char*> cases[] = {
      {"Cafe\xCC\x81 Vie\xCC\xA3\xCC\x82t", "Café Việt"},  // e + acute; e + dot + circumflex
      {"\xE1\x84\x92\xE1\x85\xA1\xE1\x86\xAB", "한"},      // conjoining jamo
      {"A\xCC\x8A\xE2\x84\xAB", "ÅÅ"},                     // A + ring; ANGSTROM SIGN
      {"o\xCC\x9B\xCC\x81", "ớ"},                          // horn (216) before acute (230)
      {"o\xCC\x81\xCC\x9B", "ớ"},                          // reordered
  };
  for (const auto& [decomposed, composed] : cases) {
    auto a = (*tok)->Encode(decomposed, false, false);
    auto b = (*tok)->Encode(composed, false, false);
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_EQ(*a, *b) << composed;
    EXPECT_EQ((*tok)->Decode(*a), composed);
  }
}

}  // namespace
}  // namespace mint::tokenizer
