#include "bench_lib/rate_schedule.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>

#include <fmt/format.h>

namespace mint::bench {
namespace {

bool ParseDouble(std::string_view s, double* out) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  const auto r = std::from_chars(s.data(), s.data() + s.size(), *out);
  return r.ec == std::errc() && r.ptr == s.data() + s.size() && std::isfinite(*out);
}

}  // namespace

Result<RateSchedule> RateSchedule::Parse(std::string_view spec) {
  RateSchedule s;
  double t = 0, total = 0;
  size_t index = 0;
  while (!spec.empty()) {
    const size_t comma = spec.find(',');
    const std::string_view seg = spec.substr(0, comma);
    spec.remove_prefix(comma == std::string_view::npos ? spec.size() : comma + 1);
    ++index;
    auto bad = [&](const std::string& why) {
      return Status::InvalidArgument(fmt::format(
          "--rate-schedule segment {} ('{}'): {} (want DURATION:RATE or DURATION:FROM-TO, e.g. "
          "60:1,120:1-6,300:6)",
          index, seg, why));
    };
    const size_t colon = seg.find(':');
    if (colon == std::string_view::npos) return bad("no ':'");
    Segment g;
    if (!ParseDouble(seg.substr(0, colon), &g.duration) || g.duration <= 0) {
      return bad("the duration must be a number of seconds > 0");
    }
    std::string_view rates = seg.substr(colon + 1);
    const size_t dash = rates.find('-', 1);  // not a leading minus sign
    if (!ParseDouble(rates.substr(0, dash), &g.from)) return bad("bad rate");
    g.to = g.from;
    if (dash != std::string_view::npos && !ParseDouble(rates.substr(dash + 1), &g.to)) {
      return bad("bad ramp end");
    }
    if (g.from < 0 || g.to < 0) return bad("rates must be >= 0");
    g.start = t;
    g.cumulative_before = total;
    t += g.duration;
    total += (g.from + g.to) / 2 * g.duration;
    s.segments_.push_back(g);
    s.ends_.push_back(t);
  }
  if (s.segments_.empty()) return Status::InvalidArgument("--rate-schedule is empty");
  return s;
}

double RateSchedule::RateAt(double t) const {
  for (const Segment& g : segments_) {
    if (t >= g.start && t < g.start + g.duration) {
      return g.from + (g.to - g.from) * (t - g.start) / g.duration;
    }
  }
  return 0;
}

double RateSchedule::Cumulative(double t) const {
  if (t <= 0) return 0;
  for (const Segment& g : segments_) {
    if (t < g.start + g.duration) {
      const double x = t - g.start;
      const double k = (g.to - g.from) / g.duration;
      return g.cumulative_before + g.from * x + k * x * x / 2;
    }
  }
  const Segment& last = segments_.back();
  return last.cumulative_before + (last.from + last.to) / 2 * last.duration;
}

double RateSchedule::TimeAt(double expected) const {
  if (expected <= 0) return 0;
  for (const Segment& g : segments_) {
    const double in_segment = (g.from + g.to) / 2 * g.duration;
    const double need = expected - g.cumulative_before;
    if (need > in_segment) continue;
    // Solve from x + k x^2 / 2 = need for x in [0, duration]: x = 2 need / (from + sqrt(from^2 +
    // 2 k need)), stable for ramps up, down and flat.
    const double k = (g.to - g.from) / g.duration;
    const double disc = std::max(0.0, g.from * g.from + 2 * k * need);
    const double denom = g.from + std::sqrt(disc);
    const double x = denom > 0 ? 2 * need / denom : 0;
    return g.start + std::min(x, g.duration);
  }
  return std::numeric_limits<double>::infinity();
}

std::string RateSchedule::Describe() const {
  double peak = 0;
  for (const Segment& g : segments_) peak = std::max({peak, g.from, g.to});
  return fmt::format("{} segments, {:.0f} s, {:.0f} requests expected, peak {:g} req/s",
                     segments_.size(), duration_s(), Cumulative(duration_s()), peak);
}

}  // namespace mint::bench
