#include "frontend/reasoning.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace mint::frontend {
namespace {

ReasoningParser::Delta RunAll(const ReasoningOptions& options,
                              const std::vector<std::string>& pieces) {
  ReasoningParser p(options);
  ReasoningParser::Delta all;
  for (const std::string& piece : pieces) {
    ReasoningParser::Delta d = p.Push(piece);
    all.content += d.content;
    all.reasoning += d.reasoning;
  }
  ReasoningParser::Delta d = p.Flush();
  all.content += d.content;
  all.reasoning += d.reasoning;
  return all;
}

ReasoningParser::Delta Whole(const std::string& text, bool starts_in_reasoning = false) {
  return RunAll({.starts_in_reasoning = starts_in_reasoning}, {text});
}

TEST(ReasoningParserTest, Qwen3Thinking) {
  auto d = Whole("<think>\nLet me see.\n</think>\n\nThe answer is 4.");
  EXPECT_EQ(d.reasoning, "\nLet me see.\n");
  EXPECT_EQ(d.content, "The answer is 4.");
}

TEST(ReasoningParserTest, NoTagsIsAllContent) {
  auto d = Whole("Just an answer.\n");
  EXPECT_EQ(d.reasoning, "");
  EXPECT_EQ(d.content, "Just an answer.\n");
  // A later start tag is ordinary content.
  d = Whole("a <think>b</think> c");
  EXPECT_EQ(d.content, "a <think>b</think> c");
  EXPECT_EQ(d.reasoning, "");
  // Whitespace before the tag means no reasoning block.
  d = Whole(" <think>x</think>y");
  EXPECT_EQ(d.content, " <think>x</think>y");
}

TEST(ReasoningParserTest, DeepSeekR1PromptEndsInThink) {
  auto d = Whole("Hmm, 2+2.\n</think>\n\n4", /*starts_in_reasoning=*/true);
  EXPECT_EQ(d.reasoning, "Hmm, 2+2.\n");
  EXPECT_EQ(d.content, "4");
  // The model repeating the start tag is consumed too.
  d = Whole("<think>Hmm</think>4", true);
  EXPECT_EQ(d.reasoning, "Hmm");
  EXPECT_EQ(d.content, "4");
}

TEST(ReasoningParserTest, CutOffInsideReasoningStaysReasoning) {
  auto d = Whole("<think>still thinking </thi");
  EXPECT_EQ(d.reasoning, "still thinking </thi");
  EXPECT_EQ(d.content, "");
  d = Whole("<thi");  // a partial start tag at the end: text of the starting side
  EXPECT_EQ(d.content, "<thi");
  d = Whole("<thi", true);
  EXPECT_EQ(d.reasoning, "<thi");
}

TEST(ReasoningParserTest, OnlyLeadingNewlinesAfterEndTagAreStripped) {
  auto d = Whole("<think>r</think>\r\n\n  x\n\ny\n");
  EXPECT_EQ(d.content, "  x\n\ny\n");
  d = Whole("<think>r</think>\n\n");
  EXPECT_EQ(d.content, "");
  EXPECT_EQ(d.reasoning, "r");
  // Second block: content, verbatim.
  d = Whole("<think>r</think>a<think>b</think>");
  EXPECT_EQ(d.content, "a<think>b</think>");
}

TEST(ReasoningParserTest, TagsSplitAcrossPiecesAreHeldBack) {
  ReasoningParser p;
  auto d = p.Push("<th");
  EXPECT_EQ(d.content + d.reasoning, "");
  d = p.Push("ink>abc</");
  EXPECT_EQ(d.reasoning, "abc");
  EXPECT_TRUE(p.in_reasoning());
  d = p.Push("think");
  EXPECT_EQ(d.reasoning + d.content, "");
  d = p.Push(">\n");
  EXPECT_EQ(d.reasoning + d.content, "");
  EXPECT_FALSE(p.in_reasoning());
  d = p.Push("\nok");
  EXPECT_EQ(d.content, "ok");
  EXPECT_EQ(d.reasoning, "");
  // A false alarm in reasoning is released as reasoning.
  ReasoningParser q({.starts_in_reasoning = true});
  EXPECT_EQ(q.Push("x</b").reasoning, "x</b");
}

TEST(ReasoningParserTest, CustomTags) {
  auto d = RunAll({.start_tag = "[T]", .end_tag = "[/T]"}, {"[T]a[/", "T]b"});
  EXPECT_EQ(d.reasoning, "a");
  EXPECT_EQ(d.content, "b");
}

TEST(ReasoningParserTest, RandomSplitsMatchTheWholeText) {
  std::mt19937 rng(99);
  const std::vector<std::string> atoms = {
      "<think>",  "</think>",         "<", "</", "<th", "think>", "\n", "\r", "a", " ",
      "\xc3\xa9", "\xf0\x9f\x98\x8a", ">"};
  int with_both = 0;
  for (int iter = 0; iter < 4000; ++iter) {
    std::string text;
    if (rng() % 2 == 0) text = "<think>";
    int n = std::uniform_int_distribution<int>(0, 25)(rng);
    for (int i = 0; i < n; ++i) text += atoms[rng() % atoms.size()];
    // Byte-level split points that respect UTF-8 characters.
    std::vector<std::string> pieces;
    size_t pos = 0;
    while (pos < text.size()) {
      size_t end = std::min(text.size(), pos + rng() % 5);
      while (end < text.size() && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) ++end;
      pieces.push_back(text.substr(pos, end - pos));
      pos = end;
    }
    for (bool sir : {false, true}) {
      ReasoningOptions opt{.starts_in_reasoning = sir};
      auto want = RunAll(opt, {text});
      auto got = RunAll(opt, pieces);
      ASSERT_EQ(got.content, want.content) << text;
      ASSERT_EQ(got.reasoning, want.reasoning) << text;
      // Nothing is invented: both sides are made of the text's bytes, tags and newlines aside.
      ASSERT_LE(got.content.size() + got.reasoning.size(), text.size());
      with_both += !want.content.empty() && !want.reasoning.empty();
    }
  }
  EXPECT_GT(with_both, 500);
}

}  // namespace
}  // namespace mint::frontend
