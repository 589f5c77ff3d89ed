// The hand-written GPT-2-family splitters against PCRE2 running the same patterns.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "tokenizer/fast_split.h"
#include "tokenizer/pretokenizer.h"

namespace mint::tokenizer {
namespace {

std::vector<std::string> Pieces(const std::string& text, const std::vector<Span>& spans) {
  std::vector<std::string> out;
  for (const Span& s : spans) out.push_back(text.substr(s.begin, s.end - s.begin));
  return out;
}

TEST(FastSplit, MatchesPcre2OnRandomText) {
  const char* const patterns[] = {
      "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+"
      "[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
      "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+"
      "[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
      "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+",
      "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)",
  };
  const std::vector<std::string> alphabet = {"a",
                                             "Z",
                                             "s",
                                             "S",
                                             "t",
                                             "T",
                                             "l",
                                             "L",
                                             "e",
                                             "r",
                                             "v",
                                             "m",
                                             "d",
                                             "D",
                                             "7",
                                             "0",
                                             " ",
                                             " ",
                                             " ",
                                             "\t",
                                             "\n",
                                             "\r",
                                             "\v",
                                             "'",
                                             "'",
                                             ".",
                                             ",",
                                             "(",
                                             "!",
                                             "-",
                                             "_",
                                             "\xC5\xBF" /* ſ */,
                                             "é",
                                             "中",
                                             "文",
                                             "𝔘",
                                             "١",
                                             "Ⅻ",
                                             "\xE3\x80\x80",
                                             "\xC2\xA0",
                                             "\xE2\x80\xA8",
                                             "🦙",
                                             "\xCC\x81" /* combining acute */,
                                             "😶",
                                             "\xE2\x80\x8D",
                                             "～",
                                             "。",
                                             "½",
                                             "\x01"};
  std::mt19937 rng(1234);
  for (const char* pattern : patterns) {
    const FastSplitKind kind = FastSplitKindFor(pattern);
    ASSERT_NE(kind, FastSplitKind::kNone) << pattern;
    auto step = PreTokenizerStep::Split(pattern);
    ASSERT_TRUE(step.ok());
    ASSERT_NE(step->fast, 0);
    PreTokenizer slow;
    slow.steps.push_back(*step);
    slow.steps.back().fast = 0;
    for (int iter = 0; iter < 3000; ++iter) {
      std::string text;
      const int len = 1 + static_cast<int>(rng() % 24);
      for (int k = 0; k < len; ++k) text += alphabet[rng() % alphabet.size()];
      std::string slow_text = text;
      std::vector<Span> want, got;
      slow.Run(&slow_text, true, &want);
      FastSplit(kind, text, {0, static_cast<uint32_t>(text.size())}, &got);
      ASSERT_EQ(Pieces(text, got), Pieces(text, want))
          << "pattern " << pattern << "\ntext '" << text << "'";
    }
  }
}

}  // namespace
}  // namespace mint::tokenizer
