#include "engine/generate.h"

#include <algorithm>
#include <vector>

#include "core/clock.h"

namespace mint::engine {

Result<GenerateStats> Generate(const model::Model& model, model::Sequence* seq,
                               std::span<const int32_t> prompt, const GenerateOptions& options,
                               ThreadPool* pool, const TokenCallback& on_token) {
  MINT_RETURN_IF_ERROR(options.sampling.Validate());
  if (prompt.empty()) return Status::InvalidArgument("empty prompt");
  const int64_t n_vocab = model.config().n_vocab;
  if (seq->n_past() + static_cast<int64_t>(prompt.size()) + options.max_new_tokens >
      seq->capacity()) {
    return Status::OutOfRange("prompt (" + std::to_string(prompt.size()) + ") + max_new_tokens (" +
                              std::to_string(options.max_new_tokens) +
                              ") exceed the sequence capacity " + std::to_string(seq->capacity()));
  }
  const Clock& clock = SystemClock::Get();
  GenerateStats stats;
  stats.prompt_tokens = static_cast<int64_t>(prompt.size());
  Sampler sampler(options.sampling, n_vocab);
  for (int32_t t : prompt) sampler.Accept(t, /*is_prompt=*/true);

  std::vector<float> logits(n_vocab), work(n_vocab);
  const int64_t start = clock.NowNanos();
  const int64_t chunk = std::max<int64_t>(1, options.prefill_chunk);
  for (size_t i = 0; i < prompt.size(); i += chunk) {
    const size_t n = std::min<size_t>(chunk, prompt.size() - i);
    MINT_RETURN_IF_ERROR(model.Forward(seq, prompt.subspan(i, n), logits, false, pool));
  }
  stats.prefill_seconds = (clock.NowNanos() - start) * 1e-9;

  const int64_t decode_start = clock.NowNanos();
  for (int64_t step = 0; step < options.max_new_tokens; ++step) {
    work = logits;
    const int32_t token = sampler.Sample(work);
    sampler.Accept(token, /*is_prompt=*/false);
    ++stats.generated_tokens;
    const bool keep_going = on_token ? on_token(token, logits) : true;
    const bool eog = options.is_end_of_generation && options.is_end_of_generation(token);
    if (!keep_going || eog || step + 1 == options.max_new_tokens) break;
    MINT_RETURN_IF_ERROR(model.Forward(seq, std::span(&token, 1), logits, false, pool));
  }
  stats.decode_seconds = (clock.NowNanos() - decode_start) * 1e-9;
  return stats;
}

}  // namespace mint::engine
