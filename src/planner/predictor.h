// Load predictors for the SLA planner: each interval the planner adds what it observed (request
// count, mean input and output length) and asks for the next interval's value.
//
//  - constant: the next interval looks like the last one;
//  - moving-average: the mean of the last `window` intervals;
//  - holt: Holt's linear exponential smoothing (level and trend), so a ramp is followed instead
//    of lagged: level = a x + (1 - a)(level + trend), trend = b (level - prev) + (1 - b) trend,
//    prediction = level + trend (never below 0).
//
// Thread-safety: a Predictor belongs to one planner loop; not safe for concurrent use.
#pragma once

#include <cstddef>
#include <deque>
#include <memory>
#include <string>

#include "core/status.h"

namespace mint::planner {

class Predictor {
 public:
  virtual ~Predictor() = default;
  virtual void Add(double observed) = 0;
  // The next interval's value; 0 before anything was added.
  virtual double Predict() const = 0;
};

struct PredictorOptions {
  std::string kind = "holt";  // constant | moving-average | holt
  size_t window = 5;          // moving-average
  double alpha = 0.5;         // holt: level smoothing, (0, 1]
  double beta = 0.3;          // holt: trend smoothing, [0, 1]
};

// kInvalidArgument naming the option for an unknown kind or an out-of-range parameter.
Result<std::unique_ptr<Predictor>> MakePredictor(const PredictorOptions& options);

class ConstantPredictor final : public Predictor {
 public:
  void Add(double observed) override { last_ = observed; }
  double Predict() const override { return last_; }

 private:
  double last_ = 0;
};

class MovingAveragePredictor final : public Predictor {
 public:
  explicit MovingAveragePredictor(size_t window) : window_(window < 1 ? 1 : window) {}
  void Add(double observed) override;
  double Predict() const override;

 private:
  size_t window_;
  std::deque<double> values_;
};

class HoltPredictor final : public Predictor {
 public:
  HoltPredictor(double alpha, double beta) : alpha_(alpha), beta_(beta) {}
  void Add(double observed) override;
  double Predict() const override;

 private:
  double alpha_, beta_;
  size_t n_ = 0;
  double level_ = 0, trend_ = 0;
};

}  // namespace mint::planner
