// A request-rate schedule for `mint bench --rate-schedule`: piecewise-linear segments, so a day's
// shape (quiet, ramp, peak, fall) is one flag.
//
// Spec: comma-separated DURATION:RATE (constant) or DURATION:FROM-TO (linear ramp), seconds and
// requests per second, e.g. "60:1,120:1-6,300:6,120:6-1,60:1". Arrivals follow the schedule
// by time rescaling: a unit-rate process (Poisson or constant gaps) in cumulative expected
// requests Λ(t) = ∫ rate, mapped back through Λ⁻¹, so the count in any stretch has the schedule's
// mean. After the last segment there are no more arrivals.
//
// Thread-safety: immutable after Parse.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace mint::bench {

class RateSchedule {
 public:
  // kInvalidArgument naming the segment for a malformed spec, a duration <= 0 or a rate < 0.
  static Result<RateSchedule> Parse(std::string_view spec);

  double duration_s() const { return ends_.empty() ? 0 : ends_.back(); }
  double RateAt(double t) const;      // 0 outside [0, duration)
  double Cumulative(double t) const;  // Λ(t), expected requests in [0, t]
  // The t with Λ(t) = expected; +infinity past the schedule's total.
  double TimeAt(double expected) const;
  std::string Describe() const;  // "5 segments, 660 s, 2,046 requests expected, peak 6 req/s"

 private:
  struct Segment {
    double start = 0, duration = 0, from = 0, to = 0;
    double cumulative_before = 0;  // Λ at the segment's start
  };
  std::vector<Segment> segments_;
  std::vector<double> ends_;
};

}  // namespace mint::bench
