#include "router/step_model.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace mint::router {
namespace {

constexpr int kN = kStepFeatures;

// Solves a x = b (n x n, row-major) by Gaussian elimination with partial pivoting. False when
// singular.
bool Solve(std::array<double, kN * kN> a, std::array<double, kN> b, std::array<double, kN>* x) {
  for (int col = 0; col < kN; ++col) {
    int pivot = col;
    for (int r = col + 1; r < kN; ++r) {
      if (std::abs(a[r * kN + col]) > std::abs(a[pivot * kN + col])) pivot = r;
    }
    if (std::abs(a[pivot * kN + col]) < 1e-300) return false;
    if (pivot != col) {
      for (int c = 0; c < kN; ++c) std::swap(a[col * kN + c], a[pivot * kN + c]);
      std::swap(b[col], b[pivot]);
    }
    for (int r = col + 1; r < kN; ++r) {
      const double f = a[r * kN + col] / a[col * kN + col];
      for (int c = col; c < kN; ++c) a[r * kN + c] -= f * a[col * kN + c];
      b[r] -= f * b[col];
    }
  }
  for (int r = kN - 1; r >= 0; --r) {
    double s = b[r];
    for (int c = r + 1; c < kN; ++c) s -= a[r * kN + c] * (*x)[c];
    (*x)[r] = s / a[r * kN + r];
  }
  return true;
}

}  // namespace

std::array<double, kStepFeatures> StepTimeModel::Features(int64_t prefill_tokens,
                                                          int64_t decode_seqs,
                                                          int64_t decode_kv_tokens) {
  const double p = static_cast<double>(prefill_tokens) / 1e3;
  return {1.0, p, p * p, static_cast<double>(decode_seqs) / 1e2,
          static_cast<double>(decode_kv_tokens) / 1e5};
}

StepCoefficients FitPrior(const StepTimeFn& fn, int64_t max_prefill, int64_t max_seqs,
                          int64_t max_kv_tokens) {
  std::array<double, kN * kN> xtx{};
  std::array<double, kN> xty{};
  constexpr int kSteps = 8;
  for (int pi = 0; pi <= kSteps; ++pi) {
    for (int si = 0; si <= kSteps; ++si) {
      for (int ki = 0; ki <= kSteps; ++ki) {
        const int64_t p = max_prefill * pi / kSteps;
        const int64_t s = max_seqs * si / kSteps;
        const int64_t k = s == 0 ? 0 : max_kv_tokens * ki / kSteps;
        if (p == 0 && s == 0) continue;  // an empty step is never run
        const auto phi = StepTimeModel::Features(p, s, k);
        const double y = fn(p, s, k);
        for (int i = 0; i < kN; ++i) {
          for (int j = 0; j < kN; ++j) xtx[i * kN + j] += phi[i] * phi[j];
          xty[i] += phi[i] * y;
        }
      }
    }
  }
  for (int i = 0; i < kN; ++i) xtx[i * kN + i] += 1e-9;  // a feature the grid never varies
  StepCoefficients theta{};
  if (!Solve(xtx, xty, &theta)) theta = {};
  for (int i = 1; i < kN; ++i) theta[i] = std::max(theta[i], 0.0);
  return theta;
}

const StepCoefficients& DefaultStepPrior() {
  // Dynamo's mocker polynomial, as mocker/timing_model.h states it (ms; decode in the KV usage
  // fraction u), at a mocker's default capacity of 16,384 blocks of 16 tokens.
  static const StepCoefficients prior = FitPrior([](int64_t p, int64_t s, int64_t k) {
    const double t = static_cast<double>(p);
    double ms = p > 0 ? 4.209989e-07 * t * t + 1.518344e-02 * t + 16.50142 : 0.0;
    if (s > 0) {
      const double u = std::min(static_cast<double>(k) / (16384.0 * 16.0), 1.0);
      ms += std::max(1.0, -25.74 * u * u + 54.01 * u + 5.74);
    }
    return ms / 1e3;
  }, 8192, 256, 16384 * 16);
  return prior;
}

StepTimeModel::StepTimeModel(const StepCoefficients& prior, double prior_weight, double forget)
    : prior_(prior), prior_weight_(prior_weight), forget_(forget), theta_(prior) {}

void StepTimeModel::Add(const StepSample& sample) {
  if (!std::isfinite(sample.seconds) || sample.seconds < 0) return;
  const auto phi = Features(sample.prefill_tokens, sample.decode_seqs, sample.decode_kv_tokens);
  for (int i = 0; i < kN; ++i) {
    for (int j = 0; j < kN; ++j) {
      xtx_[i * kN + j] = forget_ * xtx_[i * kN + j] + phi[i] * phi[j];
    }
    xty_[i] = forget_ * xty_[i] + phi[i] * sample.seconds;
  }
  ++samples_;
  stale_ = true;
}

void StepTimeModel::Refit() const {
  std::array<double, kN * kN> a = xtx_;
  std::array<double, kN> b = xty_;
  for (int i = 0; i < kN; ++i) {
    a[i * kN + i] += prior_weight_;
    b[i] += prior_weight_ * prior_[i];
  }
  StepCoefficients theta{};
  if (Solve(a, b, &theta)) {
    for (int i = 1; i < kN; ++i) theta[i] = std::max(theta[i], 0.0);
    theta_ = theta;
  }
  stale_ = false;
}

const StepCoefficients& StepTimeModel::coefficients() const {
  if (stale_) Refit();
  return theta_;
}

double StepTimeModel::PredictSeconds(int64_t prefill_tokens, int64_t decode_seqs,
                                     int64_t decode_kv_tokens) const {
  if (prefill_tokens <= 0 && decode_seqs <= 0) return 0;
  const auto phi = Features(prefill_tokens, decode_seqs, decode_kv_tokens);
  const StepCoefficients& theta = coefficients();
  double s = 0;
  for (int i = 0; i < kN; ++i) s += theta[i] * phi[i];
  return std::max(s, 0.0);
}

}  // namespace mint::router
