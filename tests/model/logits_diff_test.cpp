#include "model/logits_diff.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

namespace mint::model {
namespace {

TEST(LogitsDiffTest, IdenticalLogitsAgreeExactly) {
  const std::vector<float> a = {0.5f, -1.0f, 3.0f, 2.0f};
  const LogitsDiff d = CompareLogits(a, a, 2);
  EXPECT_EQ(d.nmse, 0.0);
  EXPECT_EQ(d.max_abs, 0.0);
  EXPECT_EQ(d.argmax_ref, 2);
  EXPECT_EQ(d.argmax_got, 2);
  EXPECT_EQ(d.top_k, 2);
  EXPECT_EQ(d.top_k_shared, 2);
}

TEST(LogitsDiffTest, NmseMaxDiffAndReorderedTopK) {
  const std::vector<float> ref = {1.0f, 0.0f, 3.0f, 2.0f};  // sum of squares 14
  const std::vector<float> got = {1.0f, 0.0f, 2.0f, 2.5f};  // errors -1, +0.5
  const LogitsDiff d = CompareLogits(ref, got, 2);
  EXPECT_DOUBLE_EQ(d.nmse, 1.25 / 14.0);
  EXPECT_DOUBLE_EQ(d.max_abs, 1.0);
  EXPECT_EQ(d.argmax_ref, 2);
  EXPECT_EQ(d.argmax_got, 3);
  EXPECT_EQ(d.top_k_shared, 2);  // same two ids, other order
  EXPECT_EQ(CompareLogits(ref, got, 1).top_k_shared, 0);
}

TEST(LogitsDiffTest, NonFiniteIsInfinitelyFar) {
  const std::vector<float> ref = {1.0f, 2.0f};
  const std::vector<float> got = {1.0f, NAN};
  EXPECT_TRUE(std::isinf(CompareLogits(ref, got).nmse));
  EXPECT_TRUE(std::isinf(Nmse(ref, std::vector<float>{INFINITY, 2.0f})));
}

TEST(LogitsDiffTest, NmseAgainstZerosIsThePlainSum) {
  const std::vector<float> zeros = {0.0f, 0.0f, 0.0f};
  EXPECT_DOUBLE_EQ(Nmse(zeros, std::vector<float>{1.0f, -2.0f, 0.0f}), 5.0);
  EXPECT_EQ(Nmse(std::vector<float>{}, std::vector<float>{}), 0.0);
}

TEST(LogitsDiffTest, TopKClampsAndBreaksTiesByLowerId) {
  const std::vector<float> v = {1.0f, 5.0f, 5.0f, 0.0f};
  EXPECT_EQ(TopK(v, 3), (std::vector<int32_t>{1, 2, 0}));
  EXPECT_EQ(TopK(v, 10).size(), 4u);
  EXPECT_EQ(CompareLogits(v, v, 10).top_k, 4);
}

TEST(LogitsDiffTest, SpreadIdsStayInVocabulary) {
  const auto ids = SpreadTokenIds(64, 1000);
  ASSERT_EQ(ids.size(), 64u);
  EXPECT_EQ(ids[0], 1);
  EXPECT_EQ(ids[1], 7920 % 1000);
  for (int32_t id : ids) EXPECT_TRUE(id >= 0 && id < 1000);
  EXPECT_TRUE(SpreadTokenIds(0, 1000).empty());
}

}  // namespace
}  // namespace mint::model
