// libFuzzer target for the frontend's OpenAI protocol layer: every input goes to both request
// parsers (chat and completions, default and tight limits), and is also streamed as generated
// text through StopMatcher and ReasoningParser in pieces whose sizes come from the input itself.
// Traps unless: errors are 400/413 with a message and a body that parses back as JSON; accepted
// requests satisfy every documented range (SamplingParams::Validate, n, stop, top_logprobs, ...)
// and render (messages dump, a response built from them parses back); the streamed
// StopMatcher/ReasoningParser output equals the one-shot answer.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "frontend/openai.h"

namespace {

using namespace mint::frontend;  // NOLINT: a fuzz target, not a header

void Require(bool cond) {
  if (!cond) __builtin_trap();
}

void CheckError(const ApiError& e) {
  Require(e.status == 400 || e.status == 413);
  Require(!e.message.empty());
  nlohmann::json body = nlohmann::json::parse(ErrorBody(e));
  Require(body["error"]["type"] == "invalid_request_error");
}

void CheckParams(const GenParams& p) {
  Require(p.sampling.Validate().ok());
  Require(p.sampling.temperature >= 0 && p.sampling.temperature <= 2);
  Require(!p.max_tokens || *p.max_tokens >= 1);
  Require(p.n >= 1 && p.n <= kMaxChoices);
  Require(p.top_logprobs >= 0 && p.top_logprobs <= kMaxTopLogprobs);
  Require(p.top_logprobs == 0 || p.logprobs);
  Require(p.stop.size() <= static_cast<size_t>(kMaxStopStrings));
  for (const std::string& s : p.stop) Require(!s.empty() && s.size() <= kMaxStopBytes);
  for (int32_t id : p.stop_token_ids) Require(id >= 0);
  Require(p.stream || !p.include_usage);
}

// Pieces of `text` with sizes 0..7 taken from `sizes` (cycled; never two empty pieces in a row).
std::vector<std::string_view> Split(std::string_view text, std::string_view sizes) {
  std::vector<std::string_view> pieces;
  size_t pos = 0, k = 0;
  while (pos < text.size()) {
    size_t n = sizes.empty() ? 1 : static_cast<unsigned char>(sizes[k++ % sizes.size()]) % 8;
    if (n == 0 && !pieces.empty() && pieces.back().empty()) n = 1;
    n = std::min(n, text.size() - pos);
    pieces.push_back(text.substr(pos, n));
    pos += n;
  }
  return pieces;
}

void CheckStream(std::string_view text, const std::vector<std::string>& stops) {
  const std::vector<std::string_view> pieces = Split(text, text.substr(0, 16));
  bool want_stop = false;
  std::string want = StopMatcher::TruncateAtStop(text, stops, &want_stop);
  StopMatcher m(stops);
  std::string got;
  for (std::string_view p : pieces) got += m.Push(p).text;
  got += m.Flush();
  Require(got == want && m.stopped() == want_stop);

  for (bool sir : {false, true}) {
    ReasoningOptions opt{.starts_in_reasoning = sir};
    ReasoningParser whole(opt);
    ReasoningParser::Delta a = whole.Push(text), a2 = whole.Flush();
    ReasoningParser streamed(opt);
    std::string content, reasoning;
    for (std::string_view p : pieces) {
      ReasoningParser::Delta d = streamed.Push(p);
      content += d.content;
      reasoning += d.reasoning;
    }
    ReasoningParser::Delta d = streamed.Flush();
    Require(content + d.content == a.content + a2.content);
    Require(reasoning + d.reasoning == a.reasoning + a2.reasoning);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> stops = {"</s>", "ab", "\n\n", "<|im_end|>"};

  for (const ParseLimits& limits :
       {ParseLimits{}, ParseLimits{.max_body_bytes = 512, .max_json_depth = 8}}) {
    ApiResult<ChatRequest> chat = ParseChatRequest(body, limits);
    if (chat.ok()) {
      CheckParams(chat->params);
      Require(chat->messages.is_array() && !chat->messages.empty());
      Require(!chat->messages.dump().empty());
      ResponseMeta meta{.id = "chatcmpl-x", .created = 1, .model = chat->model};
      ChatChoice choice{.content = chat->messages[0]["content"].is_string()
                                       ? chat->messages[0]["content"].get<std::string>()
                                       : std::string()};
      nlohmann::json out = nlohmann::json::parse(ChatCompletionBody(meta, {&choice, 1}, {}));
      Require(out["model"] == chat->model);
      if (!chat->params.stop.empty()) stops = chat->params.stop;
    } else {
      CheckError(chat.error());
    }
    ApiResult<CompletionRequest> completion = ParseCompletionRequest(body, limits);
    if (completion.ok()) {
      CheckParams(completion->params);
      Require(completion->prompt_is_ids ? !completion->prompt_ids.empty()
                                        : !completion->prompt_text.empty());
      Require(completion->params.top_logprobs <= kMaxLegacyLogprobs);
      if (!completion->params.stop.empty()) stops = completion->params.stop;
    } else {
      CheckError(completion.error());
    }
  }
  CheckStream(body, stops);
  return 0;
}
