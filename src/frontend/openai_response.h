// Response bodies of the OpenAI API, built as compact JSON strings, and SSE framing.
// Pure functions: the HTTP server writes what these return.
//
// Streaming protocol (what a server built on these sends, per choice index):
//   chat:        ChatChunk{role=true} ("role":"assistant","content":"") once, then ChatChunk with
//                content / reasoning_content deltas (and logprobs), then ChatChunk{finish=...}
//                with an empty delta; after every choice finished, ChatUsageChunk when
//                stream_options.include_usage; then SseDone().
//   completions: CompletionChunk with text deltas, one with finish set, CompletionUsageChunk when
//                include_usage, SseDone().
//   Every chunk of a response carries the same ResponseMeta (id, created, model, fingerprint).
//   An error after the stream started is sent as SseEvent(ErrorBody(e)) then SseDone() (as vLLM).
//
// Finish reasons (FinishReasonString): kStop -> "stop", kLength -> "length". kAbort and kError are
// never meant to reach a client as a finish reason: an aborted request has no one listening
// (client gone) or gets an error event/body (server shutdown, engine error). Should one reach a
// builder anyway it is written as "stop" (the generation did end; a made-up value would break
// strict clients). kNone (still running) is JSON null.
//
// Text is expected to be valid UTF-8; invalid bytes are replaced by U+FFFD rather than throwing.
// Thread-safety: pure functions; safe from any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "frontend/api_error.h"
#include "protocol/generate.h"

namespace mint::frontend {

// Common header of every response and chunk.
struct ResponseMeta {
  std::string id{};                  // "chatcmpl-..." / "cmpl-..." (MakeResponseId)
  int64_t created = 0;               // Unix seconds
  std::string model{};               // the model name as the client sent it
  std::string system_fingerprint{};  // e.g. "mint-<version>"; omitted when empty
};

// prefix + 32 lowercase hex digits of (hi, lo): callers draw hi/lo from their own RNG.
std::string MakeResponseId(std::string_view prefix, uint64_t hi, uint64_t lo);

// "stop" | "length" | null (kNone); see above for kAbort/kError.
const char* FinishReasonString(protocol::FinishReason reason);  // nullptr for kNone

struct TopLogprob {
  std::string token{};  // the token's text (may be a partial UTF-8 sequence: see `bytes`)
  float logprob = 0;
};
struct TokenLogprob {
  std::string token{};
  float logprob = 0;              // NaN -> null (legacy completions: first echoed prompt token)
  std::vector<TopLogprob> top{};  // most likely first
};

struct Usage {
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;  // over all choices
  int64_t cached_tokens = 0;      // prompt tokens served from the prefix cache
};

// A function call the model made (message.tool_calls[i]).
struct ToolCallOut {
  std::string id{};
  std::string name{};
  std::string arguments{};  // JSON text
};

struct ChatChoice {
  int32_t index = 0;
  std::string content{};
  std::string reasoning_content{};                      // written only when non-empty
  std::optional<std::vector<TokenLogprob>> logprobs{};  // null when not requested
  protocol::FinishReason finish = protocol::FinishReason::kStop;
  // Non-empty: message.tool_calls, content null when only whitespace, finish_reason
  // "tool_calls".
  std::vector<ToolCallOut> tool_calls{};
};

// chat.completion: {id, object, created, model, system_fingerprint, choices[{index,
// message{role, content, reasoning_content?}, logprobs{content[...]}|null, finish_reason}],
// usage{prompt_tokens, completion_tokens, total_tokens, prompt_tokens_details{cached_tokens}}}.
std::string ChatCompletionBody(const ResponseMeta& meta, std::span<const ChatChoice> choices,
                               const Usage& usage);

// One choice's part of a chat.completion.chunk.
struct ChatDelta {
  int32_t index = 0;
  bool role = false;                // first chunk: delta {"role":"assistant","content":""}
  std::string content{};            // written when non-empty
  std::string reasoning_content{};  // written when non-empty
  const std::vector<TokenLogprob>* logprobs = nullptr;        // the tokens of this delta, or null
  protocol::FinishReason finish = protocol::FinishReason::kNone;  // kNone: finish_reason null
  bool finish_tool_calls = false;  // with a finish: "tool_calls" instead of finish's reason
  // One call's part (OpenAI's shape): its first delta carries index, id, type and name (and
  // empty arguments); later ones carry argument fragments. tool_index < 0: none.
  int32_t tool_index = -1;
  const ToolCallOut* tool_call = nullptr;  // first delta of a call: id and name
  std::string tool_arguments{};            // an arguments fragment
};
std::string ChatChunk(const ResponseMeta& meta, const ChatDelta& delta);
// The final usage chunk: choices [] and usage (stream_options.include_usage).
std::string ChatUsageChunk(const ResponseMeta& meta, const Usage& usage);

struct CompletionChoice {
  int32_t index = 0;
  std::string text{};
  // Legacy logprobs {tokens, token_logprobs, top_logprobs [{token: logprob}], text_offset};
  // text_offset counts bytes from the start of the choice's text plus text_offset_base.
  std::optional<std::vector<TokenLogprob>> logprobs{};
  int64_t text_offset_base = 0;
  protocol::FinishReason finish = protocol::FinishReason::kStop;
};
// text_completion: {id, object, created, model, system_fingerprint, choices[{index, text,
// logprobs|null, finish_reason}], usage}.
std::string CompletionBody(const ResponseMeta& meta, std::span<const CompletionChoice> choices,
                           const Usage& usage);
// A streamed text_completion chunk for one choice (finish kNone -> finish_reason null).
std::string CompletionChunk(const ResponseMeta& meta, const CompletionChoice& choice);
std::string CompletionUsageChunk(const ResponseMeta& meta, const Usage& usage);

// GET /v1/models: {"object":"list","data":[{"id","object":"model","created","owned_by"}]}.
std::string ModelsListBody(std::span<const std::string> names, int64_t created,
                           std::string_view owned_by);

// SSE framing: "data: <json>\n\n" and "data: [DONE]\n\n". The builders above emit one-line
// JSON; should `json` hold newlines anyway, each line gets its own "data: " (SSE joins them).
std::string SseEvent(std::string_view json);
std::string SseDone();

}  // namespace mint::frontend
