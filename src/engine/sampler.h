// Sampler: turns one step's logits into a token id.
//
// Order (as vLLM): repetition/frequency/presence penalties, then greedy (temperature 0) or
// temperature scaling, top-k, top-p, min-p, and a draw from the remaining distribution.
// Penalties: repetition (divides positive logits, multiplies negative ones) over prompt and
// generated tokens; frequency and presence (OpenAI: logit -= f * count + p * [count > 0]) over
// generated tokens only.
//
// Thread-safety: a Sampler belongs to one sequence; not safe for concurrent use.
#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <unordered_map>
#include <vector>

#include "core/status.h"

namespace mint::engine {

struct SamplingParams {
  float temperature = 1.0f;        // 0 = greedy
  int32_t top_k = 0;               // <= 0: disabled
  float top_p = 1.0f;              // (0, 1]
  float min_p = 0.0f;              // [0, 1]
  float repetition_penalty = 1.0f; // > 0; 1 = off
  float frequency_penalty = 0.0f;  // [-2, 2]
  float presence_penalty = 0.0f;   // [-2, 2]
  uint64_t seed = 0;               // used when has_seed; else a random seed
  bool has_seed = false;

  // Rejects impossible values with kInvalidArgument naming the field and its range.
  Status Validate() const;
  bool greedy() const { return temperature == 0.0f; }
};

class Sampler {
 public:
  Sampler(const SamplingParams& params, int64_t n_vocab);

  // Records a token for penalties; prompt tokens count only for the repetition penalty.
  void Accept(int32_t token, bool is_prompt);
  // Chooses a token from `logits` (n_vocab values; modified in place by penalties/temperature).
  int32_t Sample(std::span<float> logits);
  // The same draw as Sample on a row where every token but `ids` (ascending, non-empty) is
  // -inf, touching only those entries (a logits processor's short allowed list).
  int32_t SampleAmong(std::span<float> logits, std::span<const int32_t> ids);

 private:
  void ApplyPenalties(std::span<float> logits) const;
  // Draws from candidates_ (logit / temperature, id), in id order, as the parameters say.
  int32_t Draw();

  SamplingParams params_;
  int64_t n_vocab_;
  std::mt19937_64 rng_;
  std::unordered_map<int32_t, int32_t> generated_counts_;
  std::vector<int32_t> seen_;  // every token id seen (prompt + generated), deduplicated
  std::vector<uint8_t> seen_mask_;
  std::vector<std::pair<float, int32_t>> candidates_;  // scratch
};

// log_softmax of one row of logits, in place semantics: out[i] = logits[i] - logsumexp.
void LogSoftmax(std::span<const float> logits, std::span<float> out);

}  // namespace mint::engine
