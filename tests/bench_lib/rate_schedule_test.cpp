#include "bench_lib/rate_schedule.h"

#include <cmath>
#include <cstdint>
#include <vector>

#include <gtest/gtest.h>

#include "bench_lib/workload.h"

namespace mint::bench {
namespace {

TEST(RateScheduleTest, ParsesSegmentsAndIntegratesThem) {
  auto s = RateSchedule::Parse("60:1,120:1-6,300:6,120:6-1,60:1");
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_DOUBLE_EQ(s->duration_s(), 660);
  EXPECT_DOUBLE_EQ(s->RateAt(30), 1);
  EXPECT_DOUBLE_EQ(s->RateAt(120), 3.5);  // halfway up the ramp
  EXPECT_DOUBLE_EQ(s->RateAt(200), 6);
  EXPECT_DOUBLE_EQ(s->RateAt(700), 0);
  // 60 + 420 + 1800 + 420 + 60 expected requests.
  EXPECT_DOUBLE_EQ(s->Cumulative(660), 2760);
  EXPECT_DOUBLE_EQ(s->Cumulative(120), 60 + 60 + 2.5 * 60 / 2 * 1);  // 60 + ramp's first half
  EXPECT_TRUE(std::isinf(s->TimeAt(2761)));
}

TEST(RateScheduleTest, TimeAtInvertsCumulative) {
  auto s = RateSchedule::Parse("10:0,30:0.5-4,20:4-0.25,5:2");
  ASSERT_TRUE(s.ok());
  for (double t = 10.5; t < 65; t += 0.75) {
    EXPECT_NEAR(s->TimeAt(s->Cumulative(t)), t, 1e-9) << t;
  }
}

TEST(RateScheduleTest, BadSpecsNameTheSegment) {
  for (const char* spec : {"", "60", "60:x", "0:1", "-5:1", "60:1,30:2-", "60:-1", "60:1-x"}) {
    auto s = RateSchedule::Parse(spec);
    EXPECT_FALSE(s.ok()) << spec;
  }
  EXPECT_NE(RateSchedule::Parse("60:1,oops").status().message().find("segment 2"),
            std::string::npos);
}

// Poisson arrivals rescaled through the schedule: the count in each stretch matches the
// schedule's expectation (within 4 standard deviations of a Poisson count).
TEST(RateScheduleTest, RescaledArrivalsFollowTheSchedule) {
  auto s = RateSchedule::Parse("100:2,100:2-20,100:20,100:20-2");
  ASSERT_TRUE(s.ok());
  uint64_t rng = 12345;
  std::vector<double> times;
  double expected = 0;
  while (true) {
    expected = NextArrival(Arrival::kPoisson, 1.0, expected, &rng);
    const double t = s->TimeAt(expected);
    if (!std::isfinite(t)) break;
    times.push_back(t);
  }
  for (double from = 0; from < 400; from += 50) {
    const double want = s->Cumulative(from + 50) - s->Cumulative(from);
    int64_t got = 0;
    for (double t : times) got += t >= from && t < from + 50;
    EXPECT_NEAR(static_cast<double>(got), want, 4 * std::sqrt(want)) << "[" << from << ", +50)";
  }
}

}  // namespace
}  // namespace mint::bench
