#include "planner/predictor.h"

#include <algorithm>
#include <numeric>

namespace mint::planner {

void MovingAveragePredictor::Add(double observed) {
  values_.push_back(observed);
  while (values_.size() > window_) values_.pop_front();
}

double MovingAveragePredictor::Predict() const {
  if (values_.empty()) return 0;
  return std::accumulate(values_.begin(), values_.end(), 0.0) / static_cast<double>(values_.size());
}

void HoltPredictor::Add(double x) {
  if (n_ == 0) {
    level_ = x;
    trend_ = 0;
  } else if (n_ == 1) {
    trend_ = x - level_;  // the first difference starts the trend
    level_ = x;
  } else {
    const double prev = level_;
    level_ = alpha_ * x + (1 - alpha_) * (level_ + trend_);
    trend_ = beta_ * (level_ - prev) + (1 - beta_) * trend_;
  }
  ++n_;
}

double HoltPredictor::Predict() const { return n_ == 0 ? 0 : std::max(0.0, level_ + trend_); }

Result<std::unique_ptr<Predictor>> MakePredictor(const PredictorOptions& o) {
  if (o.kind == "constant") return std::unique_ptr<Predictor>(new ConstantPredictor());
  if (o.kind == "moving-average") {
    if (o.window < 1) return Status::InvalidArgument("predictor window must be >= 1");
    return std::unique_ptr<Predictor>(new MovingAveragePredictor(o.window));
  }
  if (o.kind == "holt") {
    if (!(o.alpha > 0 && o.alpha <= 1)) {
      return Status::InvalidArgument("holt alpha must be in (0, 1], got " +
                                     std::to_string(o.alpha));
    }
    if (!(o.beta >= 0 && o.beta <= 1)) {
      return Status::InvalidArgument("holt beta must be in [0, 1], got " + std::to_string(o.beta));
    }
    return std::unique_ptr<Predictor>(new HoltPredictor(o.alpha, o.beta));
  }
  return Status::InvalidArgument("--predictor must be constant, moving-average or holt, got '" +
                                 o.kind + "'");
}

}  // namespace mint::planner
