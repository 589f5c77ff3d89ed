// The generation protocol: what every layer above the engine says to a generation backend, and
// what it hears back. The frontend builds a GenerateRequest from an OpenAI request, the request
// plane carries it to a worker (runtime.proto mirrors these fields), and only the worker turns it
// into the engine's own request (worker/engine_adapter.h). None of these types is an engine
// struct, so the wire and the API can change without touching the engine, and the engine without
// touching them.
//
// Thread-safety: plain values.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "core/status.h"

namespace mint::protocol {

// How a request ended. kNone: not yet (a streamed output with more to come).
enum class FinishReason : uint8_t { kNone, kStop, kLength, kAbort, kError };
const char* FinishReasonName(FinishReason reason);  // "none", "stop", "length", "abort", "error"

// Sampling, as vLLM and the OpenAI API define it (engine/sampler.h applies it).
struct SamplingOptions {
  float temperature = 1.0f;         // 0 = greedy
  int32_t top_k = 0;                // <= 0: disabled
  float top_p = 1.0f;               // (0, 1]
  float min_p = 0.0f;               // [0, 1]
  float repetition_penalty = 1.0f;  // > 0; 1 = off
  float frequency_penalty = 0.0f;   // [-2, 2]
  float presence_penalty = 0.0f;    // [-2, 2]
  uint64_t seed = 0;                // used when has_seed; else a random seed
  bool has_seed = false;

  // Rejects impossible values with kInvalidArgument naming the field, its value and its range.
  Status Validate() const;
  bool greedy() const { return temperature == 0.0f; }
};

struct GenerateRequest {
  std::vector<int32_t> prompt;  // token ids (a migrated request carries its output so far too)
  SamplingOptions sampling;
  int64_t max_tokens = 16;  // new tokens at most (the backend also caps at its context)
  // Finish (kStop) after emitting one of these: the caller adds the model's end-of-generation
  // ids unless the user asked to ignore EOS (a backend knows no tokenizer).
  std::vector<int32_t> stop_token_ids;
  int32_t logprobs = -1;  // < 0: none; 0: the sampled token's; n: plus the top n
  int32_t priority = 0;   // larger first; FCFS within a priority
  // Disaggregation. Prefill: hold the prompt's KV blocks after the request and return their
  // handle (a KV transfer descriptor, transfer/descriptor.h) in the final output.
  bool kv_export = false;
  // Decode: the KV of prompt tokens [0, kv_import_tokens) comes from this handle (a prefill's
  // kv_export_handle) instead of being computed; 0 < kv_import_tokens < prompt size.
  std::string kv_import;
  int64_t kv_import_tokens = 0;
  // Constrained decoding: a GBNF grammar the output must match (JSON schemas, regexes and
  // choices arrive written as GBNF); empty: unconstrained. With a trigger, the output is free
  // until it contains that text (lazy grammar, tool calls under tool_choice auto). The last
  // grammar_generated prompt tokens were already generated under the grammar (a migrated
  // request, or decode after a remote prefill).
  std::string grammar;
  std::string grammar_trigger;
  int64_t grammar_generated = 0;
};

struct TokenLogprob {
  int32_t token = 0;
  float logprob = 0;
  std::vector<std::pair<int32_t, float>> top;  // most likely first
};

// One streamed output of a request: zero or more with new tokens, then exactly one final output
// with finish != kNone.
struct GenerateOutput {
  uint64_t request_id = 0;             // the backend's id of the request (what Submit returned)
  std::vector<int32_t> tokens;         // new since the previous output
  std::vector<TokenLogprob> logprobs;  // one per new token when requested
  FinishReason finish = FinishReason::kNone;
  Status error;  // kError only
  // Totals, valid in every output.
  int64_t prompt_tokens = 0;
  int64_t cached_prompt_tokens = 0;  // prompt tokens served from a prefix cache
  int64_t generated_tokens = 0;
  // Final output of a kv_export request that ended by length: what the decode side pulls.
  std::string kv_export_handle;
  // Its kv_import could not be loaded: the prompt was computed instead, or the request ends with
  // kError (the worker's --kv-load-failure-policy). Set in every output after.
  bool kv_import_failed = false;
};
using OutputCallback = std::function<void(const GenerateOutput&)>;

}  // namespace mint::protocol
