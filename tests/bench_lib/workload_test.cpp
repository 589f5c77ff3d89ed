#include "bench_lib/workload.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>

namespace mint::bench {
namespace {

int Words(const std::string& s) { return static_cast<int>(std::count(s.begin(), s.end(), ' ')); }

TEST(LengthSpecTest, ParsesAndRejects) {
  auto f = ParseLengthSpec("128");
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->kind, LengthSpec::Kind::kFixed);
  EXPECT_EQ(f->a, 128);
  auto u = ParseLengthSpec("uniform:64:256");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->kind, LengthSpec::Kind::kUniform);
  EXPECT_EQ(ToString(*u), "uniform:64:256");
  auto n = ParseLengthSpec("normal:128:32");
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(n->kind, LengthSpec::Kind::kNormal);
  for (const char* bad : {"", "0", "x", "uniform:5", "uniform:9:3", "gamma:1:2", "normal:1:-1"}) {
    EXPECT_FALSE(ParseLengthSpec(bad).ok()) << bad;
  }
}

TEST(WorkloadTest, SameSeedSamePrompts) {
  SyntheticOptions o;
  o.input = *ParseLengthSpec("uniform:10:200");
  o.output = *ParseLengthSpec("normal:50:20");
  o.seed = 42;
  for (int64_t i = 0; i < 50; ++i) {
    BenchRequest a = MakeSyntheticRequest(o, i), b = MakeSyntheticRequest(o, i);
    EXPECT_EQ(a.prompt, b.prompt);
    EXPECT_EQ(a.output_tokens, b.output_tokens);
    EXPECT_EQ(Words(a.prompt), a.input_tokens);
    EXPECT_GE(a.input_tokens, 10);
    EXPECT_LE(a.input_tokens, 200);
    EXPECT_GE(a.output_tokens, 1);
  }
  SyntheticOptions other = o;
  other.seed = 43;
  EXPECT_NE(MakeSyntheticRequest(o, 0).prompt, MakeSyntheticRequest(other, 0).prompt);
  EXPECT_NE(MakeSyntheticRequest(o, 0).prompt, MakeSyntheticRequest(o, 1).prompt);
}

TEST(WorkloadTest, NormalLengthsHaveRoughlyTheRequestedMoments) {
  SyntheticOptions o;
  o.input = *ParseLengthSpec("normal:100:10");
  double sum = 0, sq = 0;
  const int n = 4000;
  for (int i = 0; i < n; ++i) {
    double v = MakeSyntheticRequest(o, i).input_tokens;
    sum += v;
    sq += v * v;
  }
  double mean = sum / n, sd = std::sqrt(sq / n - mean * mean);
  EXPECT_NEAR(mean, 100, 1.0);
  EXPECT_NEAR(sd, 10, 1.0);
}

TEST(WorkloadTest, PrefixGroupsShareExactPrefixes) {
  SyntheticOptions o;
  o.input = *ParseLengthSpec("300");
  o.prefix_groups = 3;
  o.prefix_len = 200;
  o.seed = 7;
  std::string p0 = MakeSyntheticRequest(o, 0).prompt;
  std::string p3 = MakeSyntheticRequest(o, 3).prompt;
  std::string p1 = MakeSyntheticRequest(o, 1).prompt;
  // Same group: the first 200 words agree byte for byte, the rest differ.
  auto first_words = [](const std::string& s, int n) {
    size_t pos = 0;
    for (int i = 0; i <= n && pos != std::string::npos; ++i) pos = s.find(' ', pos + (i ? 1 : 0));
    return s.substr(0, pos);
  };
  EXPECT_EQ(first_words(p0, 200), first_words(p3, 200));
  EXPECT_NE(p0, p3);
  EXPECT_NE(first_words(p0, 200), first_words(p1, 200));
  EXPECT_EQ(MakeSyntheticRequest(o, 0).prefix_group, 0);
  EXPECT_EQ(MakeSyntheticRequest(o, 4).prefix_group, 1);
}

TEST(WorkloadTest, SeededWordsIsPrefixStable) {
  EXPECT_EQ(SeededWords(5, 100).substr(0, SeededWords(5, 40).size()), SeededWords(5, 40));
  EXPECT_EQ(Words(SeededWords(9, 512)), 512);
}

TEST(WorkloadTest, ConversationTurnsResendTheWholeHistory) {
  ConversationOptions o;
  o.turns = 4;
  o.first = {LengthSpec::Kind::kFixed, 100, 0};
  o.user = {LengthSpec::Kind::kUniform, 10, 30};
  o.output = {LengthSpec::Kind::kFixed, 20, 0};
  o.seed = 3;
  for (int64_t c = 0; c < 3; ++c) {
    for (int t = 0; t + 1 < o.turns; ++t) {
      const BenchRequest a = MakeConversationTurn(o, c, t), b = MakeConversationTurn(o, c, t + 1);
      EXPECT_EQ(a.index, c * 4 + t);
      EXPECT_EQ(a.prefix_group, c);
      EXPECT_EQ(a.output_tokens, 20);
      // The next turn is this prompt, then this turn's answer (20 words) and a new message.
      ASSERT_EQ(b.prompt.compare(0, a.prompt.size(), a.prompt), 0) << c << " " << t;
      EXPECT_GE(b.input_tokens, a.input_tokens + 20 + 10);
      EXPECT_LE(b.input_tokens, a.input_tokens + 20 + 30);
    }
    EXPECT_EQ(MakeConversationTurn(o, c, 0).input_tokens, 100);
  }
  // Conversations differ from each other; the same (conversation, turn) is the same text.
  EXPECT_NE(MakeConversationTurn(o, 0, 0).prompt, MakeConversationTurn(o, 1, 0).prompt);
  EXPECT_EQ(MakeConversationTurn(o, 2, 3).prompt, MakeConversationTurn(o, 2, 3).prompt);
}

TEST(ArrivalTest, ConstantAndPoisson) {
  auto c = ArrivalTimes(Arrival::kConstant, 4.0, 5, 1);
  ASSERT_EQ(c.size(), 5u);
  for (int i = 0; i < 5; ++i) EXPECT_DOUBLE_EQ(c[i], 0.25 * i);
  auto p = ArrivalTimes(Arrival::kPoisson, 10.0, 20000, 3);
  EXPECT_EQ(p, ArrivalTimes(Arrival::kPoisson, 10.0, 20000, 3));
  EXPECT_NEAR(p.back() / 20000.0, 0.1, 0.003);  // mean gap 1/rate
  for (size_t i = 1; i < p.size(); ++i) ASSERT_GT(p[i], p[i - 1]);
}

TEST(TraceTest, ParsesMooncakeAndHonoursSpeedup) {
  const char* jsonl =
      R"({"timestamp": 1000, "input_length": 1100, "output_length": 10, "hash_ids": [1, 2, 3]})"
      "\n\n"
      R"({"timestamp": 1500, "input_length": 700, "output_length": 5, "hash_ids": [1, 4]})"
      "\n"
      R"({"timestamp": 3000, "input_length": 100, "output_length": 5, "hash_ids": [9]})"
      "\n";
  auto entries = ParseMooncakeTrace(jsonl);
  ASSERT_TRUE(entries.ok()) << entries.status().ToString();
  ASSERT_EQ(entries->size(), 3u);
  auto reqs = TraceToRequests(*entries, 2.0, 11);
  ASSERT_EQ(reqs.size(), 3u);
  EXPECT_DOUBLE_EQ(reqs[0].arrival_s, 0.0);
  EXPECT_DOUBLE_EQ(reqs[1].arrival_s, 0.25);
  EXPECT_DOUBLE_EQ(reqs[2].arrival_s, 1.0);
  EXPECT_EQ(Words(reqs[0].prompt), 1100);
  EXPECT_EQ(Words(reqs[1].prompt), 700);
  EXPECT_EQ(reqs[0].output_tokens, 10);
  // Hash id 1 is the first block of both: byte-identical 512-word prefixes, then divergence.
  size_t n = 0;
  while (n < reqs[0].prompt.size() && n < reqs[1].prompt.size() &&
         reqs[0].prompt[n] == reqs[1].prompt[n]) {
    ++n;
  }
  std::string common = reqs[0].prompt.substr(0, n);
  EXPECT_GE(Words(common), 512);
  EXPECT_LT(Words(common), 520);  // block 2 vs block 4 differ early
  // Same trace, same seed: identical prompts.
  EXPECT_EQ(TraceToRequests(*entries, 2.0, 11)[1].prompt, reqs[1].prompt);
}

TEST(TraceTest, RejectsBadLines) {
  auto r = ParseMooncakeTrace("{\"timestamp\": 1, \"input_length\": 5, \"output_length\": 1}\n{oops}\n");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("line 2"), std::string::npos);
  EXPECT_FALSE(ParseMooncakeTrace(R"({"timestamp": 1, "input_length": 5})").ok());
}

TEST(ShareGptTest, TakesHumanThenGptTurns) {
  const char* json = R"([
    {"conversations": [{"from": "human", "value": "hello there friend"},
                       {"from": "gpt", "value": "hi, how are you today?"}]},
    {"conversations": [{"from": "gpt", "value": "skipped"}, {"from": "human", "value": "x"}]},
    {"conversations": [{"from": "human", "value": "one"}, {"from": "gpt", "value": "two"}]}
  ])";
  auto r = ParseShareGpt(json, 0);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[0].prompt, "hello there friend");
  EXPECT_EQ((*r)[0].input_tokens, 3);
  EXPECT_EQ((*r)[0].output_tokens, 5);
  EXPECT_EQ(ParseShareGpt(json, 1)->size(), 1u);
  EXPECT_FALSE(ParseShareGpt("{}", 0).ok());
}

}  // namespace
}  // namespace mint::bench

namespace mint::bench {
namespace {

// The shared synthetic Mooncake trace: every line parses, arrivals are ordered, and any two
// requests whose hash ids agree on a leading run of full blocks have byte-identical prompts
// over those blocks.
TEST(TraceTest, SharedMooncakeTraceKeepsPrefixIdentity) {
  std::string path = std::string(MINT_SHARED_DIR) + "/traces/mooncake_synthetic_trace.jsonl";
  FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) GTEST_SKIP() << "no " << path;
  std::string text;
  char buf[1 << 16];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) text.append(buf, n);
  std::fclose(f);
  auto entries = ParseMooncakeTrace(text);
  ASSERT_TRUE(entries.ok()) << entries.status().ToString();
  ASSERT_GT(entries->size(), 100u);
  std::vector<TraceEntry> head(entries->begin(), entries->begin() + 200);
  auto reqs = TraceToRequests(head, 10.0, 1);
  for (size_t i = 1; i < reqs.size(); ++i) ASSERT_GE(reqs[i].arrival_s, reqs[i - 1].arrival_s);
  EXPECT_NEAR(reqs.back().arrival_s,
              (head.back().timestamp_ms - head.front().timestamp_ms) / 1000.0 / 10.0, 1e-9);
  int compared = 0;
  for (size_t a = 0; a < head.size(); ++a) {
    for (size_t b = a + 1; b < head.size(); ++b) {
      const auto& ha = head[a].hash_ids;
      const auto& hb = head[b].hash_ids;
      size_t k = 0;
      while (k < ha.size() && k < hb.size() && ha[k] == hb[k] &&
             static_cast<int>(k + 1) * kTraceBlockTokens <= head[a].input_length &&
             static_cast<int>(k + 1) * kTraceBlockTokens <= head[b].input_length) {
        ++k;
      }
      if (k == 0) continue;
      ++compared;
      // Requests keep their order (stable sort on equal timestamps), so index = line.
      const std::string& pa = reqs[a].prompt;
      const std::string& pb = reqs[b].prompt;
      size_t len = 0;
      for (size_t w = 0, pos = 0; w <= k * kTraceBlockTokens && pos != std::string::npos; ++w) {
        len = pos;
        pos = pa.find(' ', pos + 1);
      }
      ASSERT_EQ(pa.compare(0, len, pb, 0, len), 0) << a << " vs " << b;
    }
  }
  EXPECT_GT(compared, 0);
}

}  // namespace
}  // namespace mint::bench

namespace mint::bench {
namespace {

TEST(TraceTokenTest, SharedHashIdsGiveIdenticalBlockAlignedTokens) {
  auto entries = ParseMooncakeTrace(
      "{\"timestamp\": 0, \"input_length\": 1100, \"output_length\": 3, \"hash_ids\": [7, 8, 9]}\n"
      "{\"timestamp\": 10, \"input_length\": 1300, \"output_length\": 3, \"hash_ids\": [7, 8, 5]}\n");
  ASSERT_TRUE(entries.ok()) << entries.status().ToString();
  const auto reqs = TraceToTokenRequests(*entries, 1.0, 3, 512);
  ASSERT_EQ(reqs.size(), 2u);
  ASSERT_EQ(reqs[0].prompt_ids.size(), 1100u);
  ASSERT_EQ(reqs[1].prompt_ids.size(), 1300u);
  EXPECT_TRUE(reqs[0].prompt.empty());
  // Hash ids 7 and 8: the first 1024 tokens are equal; the third block differs.
  EXPECT_TRUE(std::equal(reqs[0].prompt_ids.begin(), reqs[0].prompt_ids.begin() + 1024,
                         reqs[1].prompt_ids.begin()));
  EXPECT_FALSE(std::equal(reqs[0].prompt_ids.begin() + 1024, reqs[0].prompt_ids.begin() + 1100,
                          reqs[1].prompt_ids.begin() + 1024));
  for (int32_t t : reqs[1].prompt_ids) {
    EXPECT_GE(t, 3);
    EXPECT_LT(t, 512);
  }
  // Deterministic in the seed; another seed gives other tokens.
  EXPECT_EQ(TraceToTokenRequests(*entries, 1.0, 3, 512)[1].prompt_ids, reqs[1].prompt_ids);
  EXPECT_NE(TraceToTokenRequests(*entries, 1.0, 4, 512)[1].prompt_ids, reqs[1].prompt_ids);
}

}  // namespace
}  // namespace mint::bench
