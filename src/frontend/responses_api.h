// The OpenAI Responses API (POST /v1/responses), the subset agent SDKs use, over the chat path:
// a request becomes a ChatRequest (instructions as the system message, input items as
// messages, flat function tools as chat tools, text.format as response_format), and the chat
// generation's content and tool calls come back as output items.
//
// Request fields: model, input (a string, or message / function_call / function_call_output
// items), instructions, tools (type "function" only), tool_choice, parallel_tool_calls,
// text.format (text | json_object | json_schema), max_output_tokens, temperature, top_p, seed,
// stream, store and metadata (accepted; nothing is stored), previous_response_id (400: Mint
// keeps no server-side state, so a conversation is continued by sending its items again).
//
// Output: a "message" item with one "output_text" part when there is text, a "function_call"
// item per call (arguments whole), a "reasoning" item for <think> text. status "incomplete"
// with incomplete_details.reason "max_output_tokens" when cut. Streaming sends the typed events
// response.created, response.in_progress, response.output_item.added / .done,
// response.content_part.added / .done, response.output_text.delta / .done,
// response.function_call_arguments.delta / .done and response.completed (or
// response.incomplete), each with a sequence_number.
//
// Thread-safety: ResponsesStream belongs to one generation (its caller serializes).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "frontend/api_error.h"
#include "frontend/openai_request.h"
#include "frontend/openai_response.h"

namespace mint::frontend {

struct ResponsesRequest {
  ChatRequest chat;               // what generates
  nlohmann::ordered_json echo{};  // request fields the response repeats (tools, text, ...)
};

ApiResult<ResponsesRequest> ParseResponsesRequest(std::string_view body,
                                                  const ParseLimits& limits = {});

// What a finished generation produced, in output order.
struct ResponsesOutput {
  std::string reasoning = {};
  std::string text = {};
  std::vector<ToolCallOut> calls = {};
  bool text_first = true;  // the text came before the calls
  bool incomplete = false;  // cut by max_output_tokens
  int64_t input_tokens = 0, cached_tokens = 0, output_tokens = 0;
};

// The response object of a finished request.
std::string ResponseBody(const ResponseMeta& meta, const nlohmann::ordered_json& echo,
                         const ResponsesOutput& out);

// Streaming: turns content deltas and completed calls into typed SSE events.
class ResponsesStream {
 public:
  ResponsesStream(ResponseMeta meta, nlohmann::ordered_json echo);
  // Events to send first (response.created, response.in_progress).
  std::string Start();
  std::string Text(std::string_view delta);
  std::string Call(const ToolCallOut& call);
  // Closes open items and sends response.completed (or .incomplete) with the whole response.
  std::string Finish(const ResponsesOutput& out);

 private:
  std::string Event(const char* type, nlohmann::ordered_json data);
  std::string CloseText();

  ResponseMeta meta_;
  nlohmann::ordered_json echo_;
  int64_t seq_ = 0;
  int output_index_ = 0;   // the next item's index
  int text_index_ = -1;    // the open message item's, -1 when none
  std::string text_id_, text_;
  std::string held_;  // blank text not yet in an item
  nlohmann::ordered_json items_ = nlohmann::ordered_json::array();  // finished output items
};

}  // namespace mint::frontend
