// StepTimeModel: one worker's engine step time, learned online from the steps it reports, so the
// router can price a decision in seconds (router.h, "Cost in seconds").
//
// A step is described by its shape (what Dynamo's forward-pass metrics carry): new prompt tokens
// of its prefill chunks p, sequences decoding one token s, and the decoding sequences' context
// tokens k. The model is linear in the features
//   phi = [1, p / 1e3, (p / 1e3)^2, s / 1e2, k / 1e5]           (scaled to be O(1))
//   seconds = theta . phi
// which covers a GPU's (Dynamo's polynomial: prefill quadratic in p, decode rising with the KV
// in use) and a CPU's (weights read once per step, work per token, attention per context token)
// over the range a worker runs in.
//
// Fit: exponentially weighted ridge regression toward a prior theta0,
//   minimize  sum_i g^(n-i) (y_i - theta . phi_i)^2  +  prior_weight * |theta - theta0|^2
// (g = forget, n samples so far), solved from the weighted sufficient statistics (5x5 normal
// equations) when a prediction needs it after new samples. Before any sample the model is the
// prior exactly; the prior keeps its pull wherever samples leave a direction unexplored (a
// decode-only worker teaches nothing about prefill), and fades as samples accumulate (about
// prior_weight samples spread over the features outweigh it). Coefficients other than the
// intercept are clamped at >= 0 after the solve, so more work never predicts less time.
//
// The prior comes from a timing function (FitPrior): Dynamo's polynomial, a `mint profile` file,
// or anything else that times a step shape, projected on the features by least squares over a
// grid of shapes.
//
// Thread-safety: not synchronized; the owner (Router) serializes every call.
#pragma once

#include <array>
#include <cstdint>
#include <functional>

namespace mint::router {

// One engine step as a worker reports it.
struct StepSample {
  int64_t prefill_tokens = 0;    // new prompt tokens of the step's prefill chunks
  int64_t decode_seqs = 0;       // sequences decoding one token
  int64_t decode_kv_tokens = 0;  // their context tokens
  double seconds = 0;            // wall time of the step
};

inline constexpr int kStepFeatures = 5;
using StepCoefficients = std::array<double, kStepFeatures>;

// A step time in seconds for (prefill_tokens, decode_seqs, decode_kv_tokens).
using StepTimeFn = std::function<double(int64_t, int64_t, int64_t)>;

// Least-squares projection of `fn` on the model's features over prefill 0..max_prefill tokens,
// decode 0..max_seqs sequences and context 0..max_kv_tokens (a grid of shapes, each step
// either prefill + decode or decode only).
StepCoefficients FitPrior(const StepTimeFn& fn, int64_t max_prefill = 8192,
                          int64_t max_seqs = 256, int64_t max_kv_tokens = 1 << 20);

// The prior used when none is given: Dynamo's mocker polynomial (mocker/timing_model.h),
// in seconds, at the default KV capacity of a mocker (16,384 blocks of 16 tokens).
const StepCoefficients& DefaultStepPrior();

class StepTimeModel {
 public:
  explicit StepTimeModel(const StepCoefficients& prior, double prior_weight = 8.0,
                         double forget = 0.995);

  void Add(const StepSample& sample);
  double PredictSeconds(int64_t prefill_tokens, int64_t decode_seqs,
                        int64_t decode_kv_tokens) const;
  // The coefficients in use (refit if samples arrived since the last fit).
  const StepCoefficients& coefficients() const;
  uint64_t samples() const { return samples_; }

  static std::array<double, kStepFeatures> Features(int64_t prefill_tokens, int64_t decode_seqs,
                                                    int64_t decode_kv_tokens);

 private:
  void Refit() const;

  StepCoefficients prior_;
  double prior_weight_;
  double forget_;
  uint64_t samples_ = 0;
  std::array<double, kStepFeatures * kStepFeatures> xtx_{};  // weighted sum of phi phi^T
  std::array<double, kStepFeatures> xty_{};                  // weighted sum of phi y
  mutable StepCoefficients theta_;
  mutable bool stale_ = false;
};

}  // namespace mint::router
