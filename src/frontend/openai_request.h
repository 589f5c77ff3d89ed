// Parsing and validation of OpenAI request bodies: POST /v1/chat/completions and
// POST /v1/completions. Pure functions: no I/O, no tokenizer, no engine.
//
// Contract, for both parsers:
//   - The body is checked against ParseLimits::max_body_bytes first (413; the HTTP server checks
//     Content-Length too, but a parser never reads more than the limit). Then JSON nesting deeper
//     than max_json_depth is refused (400) before parsing, so hostile bodies cannot exhaust the
//     stack later (dump, template rendering).
//   - Invalid JSON -> 400, message "invalid JSON at byte N: ..." (param null). Invalid UTF-8 and
//     lone surrogate escapes are invalid JSON. A body that is not an object -> 400.
//   - Every invalid field -> 400 invalid_request_error with `param` = the field name (nested ones
//     as "stream_options.include_usage", "messages[1].content[0].type") and a message naming the
//     field and the allowed values. The first invalid field found is reported.
//   - JSON null for an optional field means "absent" (clients send `"stop": null`).
//   - Integer fields accept JSON integers and floats with no fractional part (2.0), as
//     OpenAI's server does; booleans are never numbers.
//   - Unknown fields are ignored (OpenAI's server does the same, for forward compatibility), as
//     are known ones with no effect here: user, store, metadata,
//     service_tier, functions/function_call (deprecated). logit_bias is refused when non-empty
//     (we cannot honour it and silently ignoring would change results).
//
// Ranges (those of OpenAI, plus vLLM's extensions):
//   max_tokens / max_completion_tokens >= 1 (chat: max_completion_tokens wins when both are set;
//     absent -> GenParams::max_tokens empty: the caller applies its default, OpenAI's is 16 for
//     /v1/completions and "the rest of the context" for chat)
//   temperature [0, 2] (0 = greedy), top_p (0, 1], top_k integer >= -1 (-1 and 0 = off),
//   min_p [0, 1], presence_penalty / frequency_penalty [-2, 2], repetition_penalty (0, inf) finite,
//   seed any int64 (stored as its two's-complement uint64, has_seed = true),
//   stop: a string or an array of at most kMaxStopStrings strings of at most kMaxStopBytes bytes
//     each; empty strings are dropped (OpenAI allows 4; we allow 16),
//   stop_token_ids (vLLM): array of at most 1024 integers in [0, 2^31),
//   n [1, 16], stream bool, stream_options {include_usage bool} only when stream is true,
//   ignore_eos bool (vLLM).
//   Chat: logprobs bool; top_logprobs [0, 20], needs logprobs = true.
//   Completions: logprobs integer [0, 5] (the legacy API: token logprobs plus that many
//     alternatives), echo bool, suffix refused unless empty, best_of must equal n.
//
// Thread-safety: pure functions; safe from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "frontend/api_error.h"
#include "protocol/generate.h"
#include "router/router.h"

namespace mint::frontend {

inline constexpr int kMaxStopStrings = 16;
inline constexpr size_t kMaxStopBytes = 1024;
inline constexpr int kMaxStopTokenIds = 1024;
inline constexpr int kMaxChoices = 16;        // n
inline constexpr int kMaxTopLogprobs = 20;    // chat top_logprobs
inline constexpr int kMaxLegacyLogprobs = 5;  // completions logprobs

struct ParseLimits {
  size_t max_body_bytes = 8u << 20;  // 413 above this
  int max_json_depth = 64;           // nesting of arrays/objects; 400 above this
};

// Generation parameters common to both endpoints.
struct GenParams {
  std::optional<int64_t> max_tokens{};    // empty: the caller's default
  protocol::SamplingOptions sampling{};   // validated (SamplingOptions::Validate passes)
  std::vector<std::string> stop{};        // non-empty strings, request order
  std::vector<int32_t> stop_token_ids{};  // in addition to the model's EOS (unless ignore_eos)
  int32_t n = 1;                          // choices per request
  bool logprobs = false;                  // return the chosen token's logprob
  int32_t top_logprobs = 0;               // and this many alternatives per position
  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage; false unless stream
  bool ignore_eos = false;
  // Mint extension "router": {"mode": "kv"|"round-robin"|"random"|"least-loaded",
  // "overlap_credit": >= 0, "prefill_load_scale": >= 0, "temperature": >= 0}, each optional:
  // this request's routing weights over the frontend's flags (distributed serving only).
  router::RouteOverrides route{};
  // Structured output (structured_output.h): the GBNF grammar the output must match, from
  // response_format or guided_*; empty: unconstrained.
  std::string grammar{};
  std::string grammar_trigger{};  // lazy grammar (tool_choice auto with strict tools)
};

struct ChatRequest {
  std::string model{};
  // Normalized for chat-template rendering: an array of objects, each with "role" and "content"
  // (a string, or null for an assistant message without content), plus, when the client sent
  // them, "name", "tool_calls" (as sent: function.arguments stays a JSON string),
  // "tool_call_id" and "reasoning_content". Content parts are flattened: the "text" of each part
  // joined with "" (no separator), so ["a", "b"] renders as "ab". Other keys are dropped.
  nlohmann::ordered_json messages{};
  nlohmann::ordered_json tools{};            // as sent (array of {"type":"function",...}) or null
  nlohmann::ordered_json tool_choice{};      // "none" | "auto" | "required" | object, or null
  nlohmann::ordered_json template_kwargs{};  // chat_template_kwargs: an object, or {} when absent
  bool add_generation_prompt = true;
  bool parallel_tool_calls = true;  // false: at most one call is returned
  GenParams params{};
};

struct CompletionRequest {
  std::string model{};
  std::string prompt_text{};          // when !prompt_is_ids (non-empty)
  std::vector<int32_t> prompt_ids{};  // when prompt_is_ids (non-empty, each in [0, 2^31))
  bool prompt_is_ids = false;
  bool echo = false;
  GenParams params{};
};

// Parses and validates a /v1/chat/completions body. Messages: non-empty array; role one of
// system, user, assistant, tool, developer; content a string, an array of {"type":"text",
// "text":...} parts (any other part type -> 400 "only text content parts are supported"), or
// null/absent for assistant messages only. tool_calls (assistant only) must be an array,
// tool_call_id and name strings. tools: an array of {"type":"function","function":{"name":...}}.
// response_format and guided_*: structured_output.h.
ApiResult<ChatRequest> ParseChatRequest(std::string_view body, const ParseLimits& limits = {});

// Parses and validates a /v1/completions body. prompt: a non-empty string, a non-empty array of
// token ids, or an array holding exactly one of those; more than one prompt -> 400 "batched
// prompts are not supported" (use n for several choices of one prompt).
ApiResult<CompletionRequest> ParseCompletionRequest(std::string_view body,
                                                    const ParseLimits& limits = {});

}  // namespace mint::frontend
