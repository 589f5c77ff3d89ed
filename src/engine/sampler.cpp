#include "engine/sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "core/sampling_ranges.h"
#include "kernels/kernels.h"

namespace mint::engine {

Status SamplingParams::Validate() const { return CheckSamplingRanges(*this); }

Sampler::Sampler(const SamplingParams& params, int64_t n_vocab)
    : params_(params),
      n_vocab_(n_vocab),
      rng_(params.has_seed ? params.seed : std::random_device{}()),
      seen_mask_(static_cast<size_t>(n_vocab), 0) {}

void Sampler::Accept(int32_t token, bool is_prompt) {
  if (token < 0 || token >= n_vocab_) return;
  if (!seen_mask_[token]) {
    seen_mask_[token] = 1;
    seen_.push_back(token);
  }
  if (!is_prompt) ++generated_counts_[token];
}

void Sampler::ApplyPenalties(std::span<float> logits) const {
  if (params_.repetition_penalty != 1.0f) {
    for (int32_t t : seen_) {
      float& l = logits[t];
      l = l > 0 ? l / params_.repetition_penalty : l * params_.repetition_penalty;
    }
  }
  if (params_.frequency_penalty != 0.0f || params_.presence_penalty != 0.0f) {
    for (const auto& [t, count] : generated_counts_) {
      logits[t] -= params_.frequency_penalty * count + params_.presence_penalty;
    }
  }
}

int32_t Sampler::Sample(std::span<float> logits) {
  ApplyPenalties(logits);
  const int64_t n = std::min<int64_t>(n_vocab_, static_cast<int64_t>(logits.size()));
  if (params_.greedy()) {
    // First maximum wins ties, as llama.cpp's and vLLM's argmax do.
    return static_cast<int32_t>(kernels::ArgMax(logits.data(), n));
  }
  // Tokens a logits processor masked (-inf) have probability 0: leave them out, so a grammar
  // that allows a few tokens makes the softmax below cheap. The draw is the same either way.
  candidates_.resize(n);
  size_t live = 0;
  constexpr float kMasked = -std::numeric_limits<float>::infinity();
  for (int64_t i = 0; i < n; ++i) {
    if (logits[i] == kMasked) continue;
    candidates_[live++] = {logits[i] / params_.temperature, static_cast<int32_t>(i)};
  }
  if (live == 0) return static_cast<int32_t>(kernels::ArgMax(logits.data(), n));
  candidates_.resize(live);
  return Draw();
}

int32_t Sampler::SampleAmong(std::span<float> logits, std::span<const int32_t> ids) {
  MINT_CHECK(!ids.empty());
  ApplyPenalties(logits);
  if (params_.greedy()) {
    int32_t best = ids[0];
    for (int32_t t : ids) {
      if (logits[t] > logits[best]) best = t;
    }
    return best;
  }
  candidates_.resize(ids.size());
  for (size_t k = 0; k < ids.size(); ++k) {
    candidates_[k] = {logits[ids[k]] / params_.temperature, ids[k]};
  }
  return Draw();
}

int32_t Sampler::Draw() {
  const int64_t n = static_cast<int64_t>(candidates_.size());
  const bool truncates = (params_.top_k > 0 && params_.top_k < n) || params_.top_p < 1.0f ||
                         params_.min_p > 0.0f;
  if (!truncates) {
    // The whole distribution: no order is needed, so no sort (a full-vocabulary sort per token
    // cost more than a decode step of a small model).
    float max_logit = candidates_[0].first;
    for (const auto& c : candidates_) max_logit = std::max(max_logit, c.first);
    double total = 0;
    for (auto& c : candidates_) total += (c.first = std::exp(c.first - max_logit));
    const double u = static_cast<double>(rng_() >> 11) * (1.0 / 9007199254740992.0) * total;
    double acc = 0;
    for (const auto& c : candidates_) {
      acc += c.first;
      if (u < acc) return c.second;
    }
    return candidates_.back().second;
  }
  auto by_logit = [](const auto& a, const auto& b) { return a.first > b.first; };
  size_t keep = candidates_.size();
  if (params_.top_k > 0 && static_cast<size_t>(params_.top_k) < keep) {
    keep = static_cast<size_t>(params_.top_k);
    std::partial_sort(candidates_.begin(), candidates_.begin() + keep, candidates_.end(),
                      by_logit);
  } else {
    std::sort(candidates_.begin(), candidates_.end(), by_logit);
  }
  candidates_.resize(keep);
  // Softmax over the survivors (sorted, so candidates_[0] is the maximum).
  const float max_logit = candidates_[0].first;
  double total = 0;
  for (auto& c : candidates_) {
    c.first = std::exp(c.first - max_logit);
    total += c.first;
  }
  // top-p: smallest prefix with cumulative probability >= top_p. min-p: prob >= min_p * max.
  double cumulative = 0;
  size_t cut = candidates_.size();
  for (size_t i = 0; i < candidates_.size(); ++i) {
    const double p = candidates_[i].first / total;
    if (params_.min_p > 0 && p < params_.min_p * (candidates_[0].first / total)) {
      cut = std::max<size_t>(1, i);
      break;
    }
    cumulative += p;
    if (cumulative >= params_.top_p) {
      cut = i + 1;
      break;
    }
  }
  candidates_.resize(cut);
  double kept = 0;
  for (const auto& c : candidates_) kept += c.first;
  // A uniform draw from the 53 high bits: identical across standard libraries for one seed.
  const double u = static_cast<double>(rng_() >> 11) * (1.0 / 9007199254740992.0) * kept;
  double acc = 0;
  for (const auto& c : candidates_) {
    acc += c.first;
    if (u < acc) return c.second;
  }
  return candidates_.back().second;
}

void LogSoftmax(std::span<const float> logits, std::span<float> out) {
  const float max_logit = *std::max_element(logits.begin(), logits.end());
  double sum = 0;
  for (float l : logits) sum += std::exp(static_cast<double>(l) - max_logit);
  const float lse = max_logit + static_cast<float>(std::log(sum));
  for (size_t i = 0; i < logits.size(); ++i) out[i] = logits[i] - lse;
}

}  // namespace mint::engine
