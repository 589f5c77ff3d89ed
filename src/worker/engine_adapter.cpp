#include "worker/engine_adapter.h"

#include <utility>

namespace mint::worker {

namespace {

protocol::FinishReason FinishFromEngine(engine::FinishReason f) {
  switch (f) {
    case engine::FinishReason::kNone:
      return protocol::FinishReason::kNone;
    case engine::FinishReason::kStop:
      return protocol::FinishReason::kStop;
    case engine::FinishReason::kLength:
      return protocol::FinishReason::kLength;
    case engine::FinishReason::kAbort:
      return protocol::FinishReason::kAbort;
    case engine::FinishReason::kError:
      return protocol::FinishReason::kError;
  }
  return protocol::FinishReason::kError;
}

}  // namespace

engine::Request ToEngine(protocol::GenerateRequest r) {
  engine::Request e;
  e.prompt = std::move(r.prompt);
  const protocol::SamplingOptions& s = r.sampling;
  e.sampling = engine::SamplingParams{.temperature = s.temperature,
                                      .top_k = s.top_k,
                                      .top_p = s.top_p,
                                      .min_p = s.min_p,
                                      .repetition_penalty = s.repetition_penalty,
                                      .frequency_penalty = s.frequency_penalty,
                                      .presence_penalty = s.presence_penalty,
                                      .seed = s.seed,
                                      .has_seed = s.has_seed};
  e.max_tokens = r.max_tokens;
  e.stop_token_ids = std::move(r.stop_token_ids);
  e.logprobs = r.logprobs;
  e.priority = r.priority;
  e.kv_export = r.kv_export;
  e.kv_import = std::move(r.kv_import);
  e.kv_import_tokens = r.kv_import_tokens;
  e.grammar = std::move(r.grammar);
  e.grammar_trigger = std::move(r.grammar_trigger);
  e.grammar_generated = r.grammar_generated;
  return e;
}

protocol::GenerateOutput FromEngine(const engine::RequestOutput& o) {
  protocol::GenerateOutput p;
  p.request_id = o.request_id;
  p.tokens = o.tokens;
  p.logprobs.reserve(o.logprobs.size());
  for (const engine::TokenLogprob& lp : o.logprobs) {
    p.logprobs.push_back({.token = lp.token, .logprob = lp.logprob, .top = lp.top});
  }
  p.finish = FinishFromEngine(o.finish);
  p.error = o.error;
  p.prompt_tokens = o.prompt_tokens;
  p.cached_prompt_tokens = o.cached_prompt_tokens;
  p.generated_tokens = o.generated_tokens;
  p.kv_export_handle = o.kv_export_handle;
  p.kv_import_failed = o.kv_import_failed;
  return p;
}

engine::OutputCallback ToEngine(protocol::OutputCallback on_output) {
  return [cb = std::move(on_output)](const engine::RequestOutput& o) { cb(FromEngine(o)); };
}

}  // namespace mint::worker
