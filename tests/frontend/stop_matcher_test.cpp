#include "frontend/stop_matcher.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace mint::frontend {
namespace {

struct Streamed {
  std::string text;
  bool stopped = false;
  size_t pieces_after_stop = 0;
};

// Feeds `pieces` through a matcher, concatenating what it emits (and Flush when not stopped).
Streamed Stream(const std::vector<std::string>& stops, const std::vector<std::string>& pieces) {
  StopMatcher m(stops);
  Streamed s;
  for (const std::string& p : pieces) {
    if (s.stopped) ++s.pieces_after_stop;
    StopMatcher::Output o = m.Push(p);
    s.text += o.text;
    if (o.stopped) {
      EXPECT_TRUE(m.stopped());
      if (s.stopped) {
        EXPECT_TRUE(o.text.empty());
      }
      s.stopped = true;
    }
  }
  std::string rest = m.Flush();
  if (s.stopped) {
    EXPECT_TRUE(rest.empty());
  }
  s.text += rest;
  return s;
}

TEST(StopMatcherTest, NoStopsPassesEverythingThrough) {
  StopMatcher m({});
  EXPECT_EQ(m.Push("hello").text, "hello");
  EXPECT_EQ(m.held(), 0u);
  EXPECT_EQ(m.Flush(), "");
}

TEST(StopMatcherTest, StopInsideOnePieceIsTrimmed) {
  StopMatcher m({"END"});
  StopMatcher::Output o = m.Push("abcENDdef");
  EXPECT_TRUE(o.stopped);
  EXPECT_EQ(o.text, "abc");
  EXPECT_EQ(m.matched_index(), 0);
  EXPECT_TRUE(m.Push("more").stopped);
  EXPECT_EQ(m.Push("more").text, "");
}

TEST(StopMatcherTest, StopSpanningPiecesIsHeldBackThenTrimmed) {
  StopMatcher m({"</s>"});
  StopMatcher::Output o = m.Push("Hello<");
  EXPECT_EQ(o.text, "Hello");
  EXPECT_FALSE(o.stopped);
  EXPECT_EQ(m.held(), 1u);
  o = m.Push("/");
  EXPECT_EQ(o.text, "");
  o = m.Push("s> after");
  EXPECT_TRUE(o.stopped);
  EXPECT_EQ(o.text, "");
}

TEST(StopMatcherTest, FalseAlarmIsReleased) {
  StopMatcher m({"</s>"});
  EXPECT_EQ(m.Push("a</").text, "a");
  EXPECT_EQ(m.Push("b").text, "</b");
  EXPECT_EQ(m.Push("<").text, "");
  EXPECT_EQ(m.Flush(), "<");
}

TEST(StopMatcherTest, StopAtTheVeryStart) {
  StopMatcher m({"\n\n"});
  StopMatcher::Output o = m.Push("\n\nrest");
  EXPECT_TRUE(o.stopped);
  EXPECT_EQ(o.text, "");
}

TEST(StopMatcherTest, EmptyStopStringsIgnored) {
  StopMatcher m({"", "x"});
  StopMatcher::Output o = m.Push("abc");
  EXPECT_FALSE(o.stopped);
  EXPECT_EQ(o.text, "abc");
  o = m.Push("yxz");
  EXPECT_TRUE(o.stopped);
  EXPECT_EQ(o.text, "y");
  EXPECT_EQ(m.matched_index(), 1);
}

TEST(StopMatcherTest, FirstToCompleteWins) {
  // "bc" completes (at offset 3) before "abcd" could (offset 4).
  EXPECT_EQ(Stream({"abcd", "bc"}, {"xabcd"}).text, "xa");
  EXPECT_EQ(Stream({"abcd", "bc"}, {"xa", "b", "cd"}).text, "xa");
  // Same end: the one starting first (longest) wins.
  EXPECT_EQ(Stream({"c", "abc"}, {"xabc"}).text, "x");
  EXPECT_EQ(Stream({"c", "abc"}, {"xa", "bc"}).text, "x");
  // Overlapping prefixes of one another.
  EXPECT_EQ(Stream({"aab"}, {"a", "a", "a", "b"}).text, "a");
  EXPECT_EQ(StopMatcher::TruncateAtStop("aaab", {"aab"}), "a");
}

TEST(StopMatcherTest, HeldBoundaryNeverSplitsACharacter) {
  // The stop starts with the same lead byte as the text's last character.
  StopMatcher m({"\xc3\xa9t\xc3\xa9"});           // "été"
  StopMatcher::Output o = m.Push("caf\xc3\xa9");  // "café": "é" may start "été"
  EXPECT_EQ(o.text, "caf");
  EXPECT_EQ(m.Flush(), "\xc3\xa9");
  // Malformed input: a stray continuation byte boundary moves back to a character start.
  StopMatcher bad({"\x80X"});
  o = bad.Push("a\xc3\x80");
  EXPECT_EQ(o.text, "a");
  EXPECT_EQ(bad.Flush(), "\xc3\x80");
}

TEST(StopMatcherTest, RandomSplitsMatchTheNonStreamedAnswer) {
  std::mt19937 rng(1234);
  const std::vector<std::string> alphabet = {
      "a", "b", "c", "<", "/", ">", " ", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x8a"};
  const std::vector<std::vector<std::string>> stop_sets = {
      {"</s>"},
      {"ab", "b"},
      {"abc", "bca", "cab"},
      {"aa", "aaa"},
      {"\xc3\xa9\xc3\xa9", "a\xe2\x82\xac"},
      {"<|", "|>", ""},
      {"ba", "a ", "</", "c\xf0\x9f\x98\x8a"},
  };
  int stopped_count = 0;
  for (int iter = 0; iter < 4000; ++iter) {
    const auto& stops = stop_sets[iter % stop_sets.size()];
    // A text of whole characters, sometimes with a stop string planted.
    std::vector<std::string> chars;
    int len = std::uniform_int_distribution<int>(0, 40)(rng);
    for (int i = 0; i < len; ++i) chars.push_back(alphabet[rng() % alphabet.size()]);
    std::string text;
    for (const auto& c : chars) text += c;
    if (rng() % 2 == 0 && !stops.empty()) {
      const std::string& s = stops[rng() % stops.size()];
      size_t at = chars.empty() ? 0 : rng() % chars.size();
      std::string prefix;
      for (size_t i = 0; i < at; ++i) prefix += chars[i];
      text = prefix + s + text.substr(prefix.size());
    }
    // Split at random character boundaries into pieces of 0..3 characters (empty pieces too).
    std::vector<std::string> pieces;
    size_t pos = 0;
    while (pos < text.size()) {
      int take = std::uniform_int_distribution<int>(0, 3)(rng);
      size_t end = pos;
      for (int k = 0; k < take && end < text.size(); ++k) {
        ++end;
        while (end < text.size() && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) ++end;
      }
      pieces.push_back(text.substr(pos, end - pos));
      pos = end;
    }
    bool want_stop = false;
    std::string want = StopMatcher::TruncateAtStop(text, stops, &want_stop);
    Streamed got = Stream(stops, pieces);
    ASSERT_EQ(got.text, want) << "text=" << text << " iter=" << iter;
    ASSERT_EQ(got.stopped, want_stop) << "text=" << text;
    stopped_count += want_stop;
  }
  EXPECT_GT(stopped_count, 1000);  // the property was exercised on both sides
  EXPECT_LT(stopped_count, 3900);
}

}  // namespace
}  // namespace mint::frontend
