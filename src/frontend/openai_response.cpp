#include "frontend/openai_response.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include <nlohmann/json.hpp>

namespace mint::frontend {
namespace {

using Json = nlohmann::ordered_json;

std::string Dump(const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); }

Json Header(const ResponseMeta& meta, const char* object) {
  Json j;
  j["id"] = meta.id;
  j["object"] = object;
  j["created"] = meta.created;
  j["model"] = meta.model;
  if (!meta.system_fingerprint.empty()) j["system_fingerprint"] = meta.system_fingerprint;
  return j;
}

Json Finish(protocol::FinishReason reason) {
  const char* s = FinishReasonString(reason);
  return s == nullptr ? Json(nullptr) : Json(s);
}

// A float as the double with the float's shortest decimal form, so -0.1f is written "-0.1",
// not "-0.10000000149011612".
Json Logprob(float v) {
  if (std::isnan(v)) return Json(nullptr);
  if (std::isinf(v)) return Json(v < 0 ? -9999.0 : 9999.0);  // JSON has no infinities
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf) - 1, v);
  *end = '\0';
  return Json(std::strtod(buf, nullptr));
}

Json Bytes(const std::string& token) {
  Json b = Json::array();
  for (unsigned char c : token) b.push_back(static_cast<int>(c));
  return b;
}

// Chat logprobs: {"content":[{token, logprob, bytes, top_logprobs:[{token, logprob, bytes}]}]}.
Json ChatLogprobs(const std::vector<TokenLogprob>& tokens) {
  Json content = Json::array();
  for (const TokenLogprob& t : tokens) {
    Json e;
    e["token"] = t.token;
    e["logprob"] = Logprob(t.logprob);
    e["bytes"] = Bytes(t.token);
    Json top = Json::array();
    for (const TopLogprob& a : t.top) {
      top.push_back(
          Json{{"token", a.token}, {"logprob", Logprob(a.logprob)}, {"bytes", Bytes(a.token)}});
    }
    e["top_logprobs"] = std::move(top);
    content.push_back(std::move(e));
  }
  Json j;
  j["content"] = std::move(content);
  return j;
}

// Legacy logprobs: {tokens, token_logprobs, top_logprobs [{token: logprob}], text_offset}.
Json LegacyLogprobs(const std::vector<TokenLogprob>& tokens, int64_t offset) {
  Json toks = Json::array(), lps = Json::array(), tops = Json::array(), offs = Json::array();
  for (const TokenLogprob& t : tokens) {
    toks.push_back(t.token);
    lps.push_back(Logprob(t.logprob));
    Json top = Json::object();
    for (const TopLogprob& a : t.top) top[a.token] = Logprob(a.logprob);
    tops.push_back(std::move(top));
    offs.push_back(offset);
    offset += static_cast<int64_t>(t.token.size());
  }
  Json j;
  j["tokens"] = std::move(toks);
  j["token_logprobs"] = std::move(lps);
  j["top_logprobs"] = std::move(tops);
  j["text_offset"] = std::move(offs);
  return j;
}

Json UsageJson(const Usage& u) {
  Json j;
  j["prompt_tokens"] = u.prompt_tokens;
  j["completion_tokens"] = u.completion_tokens;
  j["total_tokens"] = u.prompt_tokens + u.completion_tokens;
  j["prompt_tokens_details"] = Json{{"cached_tokens", u.cached_tokens}};
  return j;
}

Json CompletionChoiceJson(const CompletionChoice& c) {
  Json j;
  j["index"] = c.index;
  j["text"] = c.text;
  j["logprobs"] = c.logprobs ? LegacyLogprobs(*c.logprobs, c.text_offset_base) : Json(nullptr);
  j["finish_reason"] = Finish(c.finish);
  return j;
}

}  // namespace

std::string MakeResponseId(std::string_view prefix, uint64_t hi, uint64_t lo) {
  char hex[33];
  std::snprintf(hex, sizeof(hex), "%016llx%016llx", static_cast<unsigned long long>(hi),
                static_cast<unsigned long long>(lo));
  return std::string(prefix) + hex;
}

const char* FinishReasonString(protocol::FinishReason reason) {
  switch (reason) {
    case protocol::FinishReason::kNone:
      return nullptr;
    case protocol::FinishReason::kLength:
      return "length";
    case protocol::FinishReason::kStop:
    case protocol::FinishReason::kAbort:
    case protocol::FinishReason::kError:
      return "stop";
  }
  return "stop";
}

std::string ChatCompletionBody(const ResponseMeta& meta, std::span<const ChatChoice> choices,
                               const Usage& usage) {
  Json j = Header(meta, "chat.completion");
  Json cs = Json::array();
  for (const ChatChoice& c : choices) {
    Json msg;
    msg["role"] = "assistant";
    const bool blank = c.content.find_first_not_of(" \t\r\n") == std::string::npos;
    msg["content"] = !c.tool_calls.empty() && blank ? Json(nullptr) : Json(c.content);
    if (!c.reasoning_content.empty()) msg["reasoning_content"] = c.reasoning_content;
    if (!c.tool_calls.empty()) {
      Json calls = Json::array();
      for (const ToolCallOut& t : c.tool_calls) {
        calls.push_back({{"id", t.id},
                         {"type", "function"},
                         {"function", {{"name", t.name}, {"arguments", t.arguments}}}});
      }
      msg["tool_calls"] = std::move(calls);
    }
    Json choice;
    choice["index"] = c.index;
    choice["message"] = std::move(msg);
    choice["logprobs"] = c.logprobs ? ChatLogprobs(*c.logprobs) : Json(nullptr);
    choice["finish_reason"] = c.tool_calls.empty() ? Finish(c.finish) : Json("tool_calls");
    cs.push_back(std::move(choice));
  }
  j["choices"] = std::move(cs);
  j["usage"] = UsageJson(usage);
  return Dump(j);
}

std::string ChatChunk(const ResponseMeta& meta, const ChatDelta& d) {
  Json j = Header(meta, "chat.completion.chunk");
  Json delta = Json::object();
  if (d.role) {
    delta["role"] = "assistant";
    delta["content"] = d.content;
  } else if (!d.content.empty()) {
    delta["content"] = d.content;
  }
  if (!d.reasoning_content.empty()) delta["reasoning_content"] = d.reasoning_content;
  if (d.tool_index >= 0) {
    Json call;
    call["index"] = d.tool_index;
    if (d.tool_call != nullptr) {
      call["id"] = d.tool_call->id;
      call["type"] = "function";
      call["function"] = {{"name", d.tool_call->name}, {"arguments", d.tool_arguments}};
    } else {
      call["function"] = {{"arguments", d.tool_arguments}};
    }
    delta["tool_calls"] = Json::array({std::move(call)});
  }
  Json choice;
  choice["index"] = d.index;
  choice["delta"] = std::move(delta);
  choice["logprobs"] = d.logprobs != nullptr ? ChatLogprobs(*d.logprobs) : Json(nullptr);
  choice["finish_reason"] = d.finish != protocol::FinishReason::kNone && d.finish_tool_calls
                                ? Json("tool_calls")
                                : Finish(d.finish);
  j["choices"] = Json::array({std::move(choice)});
  return Dump(j);
}

std::string ChatUsageChunk(const ResponseMeta& meta, const Usage& usage) {
  Json j = Header(meta, "chat.completion.chunk");
  j["choices"] = Json::array();
  j["usage"] = UsageJson(usage);
  return Dump(j);
}

std::string CompletionBody(const ResponseMeta& meta, std::span<const CompletionChoice> choices,
                           const Usage& usage) {
  Json j = Header(meta, "text_completion");
  Json cs = Json::array();
  for (const CompletionChoice& c : choices) cs.push_back(CompletionChoiceJson(c));
  j["choices"] = std::move(cs);
  j["usage"] = UsageJson(usage);
  return Dump(j);
}

std::string CompletionChunk(const ResponseMeta& meta, const CompletionChoice& choice) {
  Json j = Header(meta, "text_completion");
  j["choices"] = Json::array({CompletionChoiceJson(choice)});
  return Dump(j);
}

std::string CompletionUsageChunk(const ResponseMeta& meta, const Usage& usage) {
  Json j = Header(meta, "text_completion");
  j["choices"] = Json::array();
  j["usage"] = UsageJson(usage);
  return Dump(j);
}

std::string ModelsListBody(std::span<const std::string> names, int64_t created,
                           std::string_view owned_by) {
  Json data = Json::array();
  for (const std::string& name : names) {
    Json m;
    m["id"] = name;
    m["object"] = "model";
    m["created"] = created;
    m["owned_by"] = std::string(owned_by);
    data.push_back(std::move(m));
  }
  Json j;
  j["object"] = "list";
  j["data"] = std::move(data);
  return Dump(j);
}

std::string SseEvent(std::string_view json) {
  std::string out = "data: ";
  out.reserve(json.size() + 8);
  for (char c : json) {
    if (c == '\n') {
      out += "\ndata: ";
    } else {
      out += c;
    }
  }
  out += "\n\n";
  return out;
}

std::string SseDone() { return "data: [DONE]\n\n"; }

}  // namespace mint::frontend
