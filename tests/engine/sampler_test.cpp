#include "engine/sampler.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

namespace mint::engine {
namespace {

std::vector<float> Logits() { return {1.0f, 3.0f, 2.0f, 3.0f, -1.0f, 0.5f}; }

TEST(SamplerTest, GreedyTakesFirstMaximum) {
  Sampler s({.temperature = 0.0f}, 6);
  auto l = Logits();
  EXPECT_EQ(s.Sample(l), 1);
}

TEST(SamplerTest, SameSeedSameSequence) {
  auto draw = [](uint64_t seed) {
    Sampler s({.temperature = 1.0f, .seed = seed, .has_seed = true}, 6);
    std::vector<int32_t> out;
    for (int i = 0; i < 50; ++i) {
      auto l = Logits();
      out.push_back(s.Sample(l));
    }
    return out;
  };
  EXPECT_EQ(draw(42), draw(42));
  EXPECT_NE(draw(42), draw(43));
}

TEST(SamplerTest, TopKOneAndTinyTopPAreGreedy) {
  for (SamplingParams p : {SamplingParams{.temperature = 5.0f, .top_k = 1},
                           SamplingParams{.temperature = 5.0f, .top_p = 1e-6f}}) {
    p.has_seed = true;
    Sampler s(p, 6);
    for (int i = 0; i < 20; ++i) {
      auto l = Logits();
      int32_t t = s.Sample(l);
      EXPECT_TRUE(t == 1 || t == 3) << t;  // the two tied maxima
    }
  }
}

TEST(SamplerTest, MinPDropsUnlikelyTokens) {
  Sampler s({.temperature = 1.0f, .min_p = 0.3f, .seed = 7, .has_seed = true}, 6);
  for (int i = 0; i < 200; ++i) {
    auto l = Logits();
    int32_t t = s.Sample(l);
    // p(x)/p(max) = exp(l - 3): only ids 1, 3 (ratio 1) and 2 (ratio 0.37) survive 0.3.
    EXPECT_TRUE(t == 1 || t == 2 || t == 3) << t;
  }
}

TEST(SamplerTest, FrequenciesFollowSoftmax) {
  Sampler s({.temperature = 1.0f, .seed = 1, .has_seed = true}, 6);
  std::vector<int> counts(6, 0);
  const int n = 60000;
  for (int i = 0; i < n; ++i) {
    auto l = Logits();
    counts[s.Sample(l)]++;
  }
  auto l = Logits();
  double z = 0;
  for (float x : l) z += std::exp(x);
  for (int i = 0; i < 6; ++i) {
    const double p = std::exp(l[i]) / z;
    const double sd = std::sqrt(p * (1 - p) / n);
    EXPECT_NEAR(counts[i] / double(n), p, 5 * sd + 1e-4) << "token " << i;
  }
}

TEST(SamplerTest, PenaltiesChangeLogitsAsDocumented) {
  Sampler s({.temperature = 0.0f, .repetition_penalty = 2.0f, .frequency_penalty = 0.5f,
             .presence_penalty = 0.25f},
            6);
  s.Accept(1, /*is_prompt=*/true);    // repetition only
  s.Accept(3, /*is_prompt=*/false);   // repetition + frequency + presence
  s.Accept(3, /*is_prompt=*/false);
  s.Accept(4, /*is_prompt=*/false);
  auto l = Logits();
  int32_t t = s.Sample(l);
  EXPECT_FLOAT_EQ(l[1], 1.5f);                     // 3 / 2
  EXPECT_FLOAT_EQ(l[3], 1.5f - 0.5f * 2 - 0.25f);  // 3 / 2 - 1.25
  EXPECT_FLOAT_EQ(l[4], -2.0f - 0.5f - 0.25f);     // -1 * 2 - 0.75
  EXPECT_EQ(t, 2);                                 // 2.0 is now the maximum
}

// A logits processor's short list (SampleAmong) draws exactly what the masked row would.
TEST(SamplerTest, SampleAmongEqualsSampleOnTheMaskedRow) {
  std::mt19937 rng(3);
  std::normal_distribution<float> normal(0.0f, 2.0f);
  const std::vector<SamplingParams> params = {
      {.temperature = 0.0f},
      {.temperature = 1.0f},
      {.temperature = 0.7f, .top_k = 5},
      {.temperature = 1.3f, .top_p = 0.8f},
      {.temperature = 1.0f, .min_p = 0.1f, .repetition_penalty = 1.3f, .frequency_penalty = 0.5f}};
  for (const SamplingParams& base : params) {
    SamplingParams p = base;
    p.seed = 9, p.has_seed = true;
    Sampler full(p, 200), among(p, 200);
    for (int step = 0; step < 300; ++step) {
      std::vector<float> row(200);
      for (float& x : row) x = normal(rng);
      std::vector<int32_t> ids;
      for (int32_t t = 0; t < 200; ++t) {
        if (rng() % 7 == 0) ids.push_back(t);
      }
      if (ids.empty()) ids.push_back(17);
      std::vector<float> masked(200, -std::numeric_limits<float>::infinity());
      for (int32_t t : ids) masked[t] = row[t];
      const int32_t a = full.Sample(masked);
      const int32_t b = among.SampleAmong(row, ids);
      ASSERT_EQ(a, b) << "step " << step << " temperature " << p.temperature;
      full.Accept(a, false);
      among.Accept(b, false);
    }
  }
}

TEST(SamplerTest, ValidateRejectsImpossibleParameters) {
  EXPECT_TRUE(SamplingParams{}.Validate().ok());
  EXPECT_FALSE(SamplingParams{.temperature = -1}.Validate().ok());
  EXPECT_FALSE(SamplingParams{.temperature = NAN}.Validate().ok());
  EXPECT_FALSE(SamplingParams{.top_p = 0}.Validate().ok());
  EXPECT_FALSE(SamplingParams{.top_p = 1.5f}.Validate().ok());
  EXPECT_FALSE(SamplingParams{.min_p = -0.1f}.Validate().ok());
  EXPECT_FALSE(SamplingParams{.repetition_penalty = 0}.Validate().ok());
  EXPECT_FALSE(SamplingParams{.frequency_penalty = 3}.Validate().ok());
  EXPECT_FALSE(SamplingParams{.presence_penalty = -2.5f}.Validate().ok());
  Status s = SamplingParams{.top_p = 2}.Validate();
  EXPECT_NE(s.message().find("top_p"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace mint::engine
