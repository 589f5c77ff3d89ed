#include "protocol/generate.h"

#include <cmath>
#include <limits>
#include <string>

#include <gtest/gtest.h>

namespace mint::protocol {
namespace {

TEST(ProtocolTest, FinishReasonNames) {
  EXPECT_STREQ(FinishReasonName(FinishReason::kNone), "none");
  EXPECT_STREQ(FinishReasonName(FinishReason::kStop), "stop");
  EXPECT_STREQ(FinishReasonName(FinishReason::kLength), "length");
  EXPECT_STREQ(FinishReasonName(FinishReason::kAbort), "abort");
  EXPECT_STREQ(FinishReasonName(FinishReason::kError), "error");
}

TEST(ProtocolTest, DefaultSamplingIsValid) {
  SamplingOptions s;
  EXPECT_TRUE(s.Validate().ok());
  EXPECT_FALSE(s.greedy());
  s.temperature = 0;
  EXPECT_TRUE(s.Validate().ok());
  EXPECT_TRUE(s.greedy());
}

// Each impossible value is refused with kInvalidArgument naming its field; the edges of each
// range are accepted.
TEST(ProtocolTest, SamplingRangesNameTheField) {
  const float inf = std::numeric_limits<float>::infinity();
  const float nan = std::numeric_limits<float>::quiet_NaN();
  struct Case {
    const char* field;
    float SamplingOptions::*member;
    float bad;
  };
  const Case cases[] = {
      {"temperature", &SamplingOptions::temperature, -0.5f},
      {"temperature", &SamplingOptions::temperature, inf},
      {"temperature", &SamplingOptions::temperature, nan},
      {"top_p", &SamplingOptions::top_p, 0.0f},
      {"top_p", &SamplingOptions::top_p, 1.01f},
      {"min_p", &SamplingOptions::min_p, -0.01f},
      {"min_p", &SamplingOptions::min_p, 1.5f},
      {"repetition_penalty", &SamplingOptions::repetition_penalty, 0.0f},
      {"repetition_penalty", &SamplingOptions::repetition_penalty, inf},
      {"frequency_penalty", &SamplingOptions::frequency_penalty, 2.5f},
      {"frequency_penalty", &SamplingOptions::frequency_penalty, nan},
      {"presence_penalty", &SamplingOptions::presence_penalty, -2.5f},
  };
  for (const Case& c : cases) {
    SamplingOptions s;
    s.*c.member = c.bad;
    Status st = s.Validate();
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << c.field << " = " << c.bad;
    EXPECT_EQ(st.message().rfind(c.field, 0), 0u) << st.message();
  }
  SamplingOptions edges;
  edges.top_p = 1.0f;
  edges.min_p = 1.0f;
  edges.frequency_penalty = -2.0f;
  edges.presence_penalty = 2.0f;
  edges.repetition_penalty = 1e-6f;
  edges.temperature = 1e6f;
  EXPECT_TRUE(edges.Validate().ok());
}

}  // namespace
}  // namespace mint::protocol
