// Generate: the single-sequence generation loop (prefill in chunks, then decode) used by
// `mint run` and by tests. The serving engine's scheduler batches many sequences instead.
//
// Thread-safety: reentrant; the model may be shared, the sequence and pool may not.
#pragma once

#include <cstdint>
#include <functional>
#include <span>

#include "core/status.h"
#include "core/thread_pool.h"
#include "engine/sampler.h"
#include "model/model.h"

namespace mint::engine {

struct GenerateOptions {
  int64_t max_new_tokens = 128;
  SamplingParams sampling;
  int64_t prefill_chunk = 512;  // prompt tokens per forward call
  // Stops generation after emitting a token for which this returns true (e.g. EOS); may be empty.
  std::function<bool(int32_t)> is_end_of_generation{};
};

struct GenerateStats {
  int64_t prompt_tokens = 0;
  int64_t generated_tokens = 0;
  double prefill_seconds = 0;  // prompt forward passes, including the first token's logits
  double decode_seconds = 0;   // the remaining forward passes
  double PrefillTokensPerSecond() const {
    return prefill_seconds > 0 ? prompt_tokens / prefill_seconds : 0;
  }
  double DecodeTokensPerSecond() const {
    return decode_seconds > 0 && generated_tokens > 1 ? (generated_tokens - 1) / decode_seconds
                                                      : 0;
  }
};

// Called with each generated token and the logits it was sampled from (before penalties).
// Return false to stop.
using TokenCallback = std::function<bool(int32_t token, std::span<const float> logits)>;

// Runs `prompt` (appended to `seq`) and generates up to max_new_tokens tokens.
Result<GenerateStats> Generate(const model::Model& model, model::Sequence* seq,
                               std::span<const int32_t> prompt, const GenerateOptions& options,
                               ThreadPool* pool, const TokenCallback& on_token);

}  // namespace mint::engine
