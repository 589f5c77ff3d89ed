#include "frontend/openai_request.h"

#include <array>
#include <limits>

#include "frontend/request_json.h"
#include "frontend/structured_output.h"

namespace mint::frontend {
namespace {

using internal::Bad;
using internal::Check;
using internal::Field;
using internal::Json;
using internal::Shown;

constexpr std::array<std::string_view, 5> kRoles = {"system", "user", "assistant", "tool",
                                                    "developer"};

// Flattens content parts into one string (texts joined with ""). Only "text" parts are accepted.
Check FlattenParts(const Json& parts, const std::string& param, std::string* out) {
  for (size_t i = 0; i < parts.size(); ++i) {
    const Json& part = parts[i];
    const std::string pp = param + "[" + std::to_string(i) + "]";
    if (!part.is_object()) {
      return Bad(pp,
                 pp + " must be an object {\"type\":\"text\",\"text\":...}, got " + Shown(part));
    }
    const Json* type = Field(part, "type");
    if (type == nullptr || !type->is_string()) {
      return Bad(pp + ".type", pp + ".type must be a string");
    }
    if (*type != "text") {
      return Bad(pp + ".type",
                 "only text content parts are supported (" + pp + ".type is " + Shown(*type) + ")");
    }
    const Json* text = Field(part, "text");
    if (text == nullptr || !text->is_string()) {
      return Bad(pp + ".text", pp + ".text must be a string");
    }
    *out += text->get_ref<const std::string&>();
  }
  return std::nullopt;
}

Check NormalizeMessage(const Json& m, size_t index, Json* out) {
  const std::string pm = "messages[" + std::to_string(index) + "]";
  if (!m.is_object()) return Bad(pm, pm + " must be an object, got " + Shown(m));
  const Json* role = Field(m, "role");
  bool role_ok = false;
  if (role != nullptr && role->is_string()) {
    for (std::string_view r : kRoles) role_ok = role_ok || role->get_ref<const std::string&>() == r;
  }
  if (!role_ok) {
    return Bad(pm + ".role", pm + ".role must be one of system, user, assistant, tool, developer" +
                                 (role == nullptr ? std::string() : ", got " + Shown(*role)));
  }
  const bool assistant = role->get_ref<const std::string&>() == "assistant";
  Json n = Json::object();
  n["role"] = *role;

  const Json* content = Field(m, "content");
  if (content == nullptr) {
    if (!assistant) return Bad(pm + ".content", pm + ".content is required for this role");
    n["content"] = nullptr;
  } else if (content->is_string()) {
    n["content"] = *content;
  } else if (content->is_array()) {
    std::string flat;
    if (auto e = FlattenParts(*content, pm + ".content", &flat)) return e;
    n["content"] = std::move(flat);
  } else {
    return Bad(pm + ".content",
               pm + ".content must be a string or an array of text parts, got " + Shown(*content));
  }

  for (const char* key : {"name", "tool_call_id", "reasoning_content"}) {
    if (const Json* v = Field(m, key)) {
      if (!v->is_string()) {
        return Bad(pm + "." + key, pm + "." + key + " must be a string, got " + Shown(*v));
      }
      n[key] = *v;
    }
  }
  if (const Json* calls = Field(m, "tool_calls")) {
    if (!assistant)
      return Bad(pm + ".tool_calls", pm + ".tool_calls is only allowed for assistant");
    if (!calls->is_array()) {
      return Bad(pm + ".tool_calls", pm + ".tool_calls must be an array, got " + Shown(*calls));
    }
    for (const Json& c : *calls) {
      const Json* fn = c.is_object() ? Field(c, "function") : nullptr;
      if (fn == nullptr || !fn->is_object()) {
        return Bad(pm + ".tool_calls",
                   pm + ".tool_calls items must be objects with a \"function\" object");
      }
    }
    n["tool_calls"] = *calls;
  }
  *out = std::move(n);
  return std::nullopt;
}

Check ParseTools(const Json& obj, ChatRequest* r) {
  if (const Json* tools = Field(obj, "tools")) {
    if (!tools->is_array()) return Bad("tools", "tools must be an array, got " + Shown(*tools));
    for (size_t i = 0; i < tools->size(); ++i) {
      const Json& t = (*tools)[i];
      const std::string pt = "tools[" + std::to_string(i) + "]";
      const Json* fn = t.is_object() ? Field(t, "function") : nullptr;
      if (!t.is_object() || t.value("type", Json()) != "function" || fn == nullptr ||
          !fn->is_object() || !fn->contains("name") || !(*fn)["name"].is_string()) {
        return Bad(pt, pt + " must be {\"type\":\"function\",\"function\":{\"name\":...}}");
      }
    }
    r->tools = *tools;
  }
  if (const Json* tc = Field(obj, "tool_choice")) {
    bool ok = tc->is_object() ||
              (tc->is_string() && (*tc == "none" || *tc == "auto" || *tc == "required"));
    if (!ok) {
      return Bad(
          "tool_choice",
          "tool_choice must be \"none\", \"auto\", \"required\" or an object, got " + Shown(*tc));
    }
    r->tool_choice = *tc;
  }
  return std::nullopt;
}

Check ParseChatFields(const Json& obj, ChatRequest* r) {
  const Json* msgs = Field(obj, "messages");
  if (msgs == nullptr || !msgs->is_array() || msgs->empty()) {
    return Bad("messages", "messages is required and must be a non-empty array" +
                               (msgs == nullptr ? std::string() : ", got " + Shown(*msgs)));
  }
  r->messages = Json::array();
  for (size_t i = 0; i < msgs->size(); ++i) {
    Json n;
    if (auto e = NormalizeMessage((*msgs)[i], i, &n)) return e;
    r->messages.push_back(std::move(n));
  }
  if (auto e = ParseTools(obj, r)) return e;

  GenParams& p = r->params;
  std::optional<int64_t> mct;
  if (auto e = internal::GetInt(obj, "max_completion_tokens", 1,
                                std::numeric_limits<int64_t>::max(), ">= 1", &mct)) {
    return e;
  }
  if (mct) p.max_tokens = mct;
  if (auto e = internal::GetBool(obj, "logprobs", &p.logprobs)) return e;
  std::optional<int64_t> top;
  if (auto e = internal::GetInt(obj, "top_logprobs", 0, kMaxTopLogprobs, "in [0, 20]", &top)) {
    return e;
  }
  if (top) {
    if (!p.logprobs) return Bad("top_logprobs", "top_logprobs requires logprobs to be true");
    p.top_logprobs = static_cast<int32_t>(*top);
  }
  if (auto e = internal::GetBool(obj, "parallel_tool_calls", &r->parallel_tool_calls)) return e;
  if (auto e = internal::GetBool(obj, "add_generation_prompt", &r->add_generation_prompt)) {
    return e;
  }
  r->template_kwargs = Json::object();
  if (const Json* kw = Field(obj, "chat_template_kwargs")) {
    if (!kw->is_object()) {
      return Bad("chat_template_kwargs",
                 "chat_template_kwargs must be an object, got " + Shown(*kw));
    }
    r->template_kwargs = *kw;
  }
  return std::nullopt;
}

// prompt: "text" | [ids...] | ["text"] | [[ids...]].
Check ParsePrompt(const Json& obj, CompletionRequest* r) {
  const char* what =
      "prompt is required: a non-empty string, a non-empty array of token ids in "
      "[0, 2147483647], or an array holding one of those";
  const Json* v = Field(obj, "prompt");
  if (v == nullptr) return Bad("prompt", what);
  const Json* one = v;
  if (v->is_array() && !v->empty() && ((*v)[0].is_string() || (*v)[0].is_array())) {
    if (v->size() != 1) {
      return Bad("prompt", "batched prompts are not supported (got " + std::to_string(v->size()) +
                               "); send one prompt per request, n for several choices");
    }
    one = &(*v)[0];
  }
  if (one->is_string()) {
    if (one->get_ref<const std::string&>().empty()) return Bad("prompt", what);
    r->prompt_text = one->get<std::string>();
    return std::nullopt;
  }
  if (!one->is_array() || one->empty()) return Bad("prompt", what);
  for (const Json& id : *one) {
    int64_t x = 0;
    if (!id.is_number() || !internal::AsInt64(id, &x) || x < 0 || x > 2147483647) {
      return Bad("prompt", std::string(what) + ", got token " + Shown(id));
    }
    r->prompt_ids.push_back(static_cast<int32_t>(x));
  }
  r->prompt_is_ids = true;
  return std::nullopt;
}

Check ParseCompletionFields(const Json& obj, CompletionRequest* r) {
  if (auto e = ParsePrompt(obj, r)) return e;
  GenParams& p = r->params;
  std::optional<int64_t> lp;
  if (auto e = internal::GetInt(obj, "logprobs", 0, kMaxLegacyLogprobs, "in [0, 5]", &lp)) {
    return e;
  }
  if (lp) {
    p.logprobs = true;
    p.top_logprobs = static_cast<int32_t>(*lp);
  }
  if (auto e = internal::GetBool(obj, "echo", &r->echo)) return e;
  if (const Json* sfx = Field(obj, "suffix")) {
    if (!sfx->is_string()) return Bad("suffix", "suffix must be a string, got " + Shown(*sfx));
    if (!sfx->get_ref<const std::string&>().empty()) {
      return Bad("suffix", "suffix is not supported");
    }
  }
  std::optional<int64_t> best_of;
  if (auto e = internal::GetInt(obj, "best_of", 1, kMaxChoices, "in [1, 16]", &best_of)) return e;
  if (best_of && *best_of != p.n) {
    return Bad("best_of", "best_of is only supported when equal to n (" + std::to_string(p.n) +
                              "), got " + std::to_string(*best_of));
  }
  return std::nullopt;
}

}  // namespace

ApiResult<ChatRequest> ParseChatRequest(std::string_view body, const ParseLimits& limits) {
  ApiResult<Json> parsed = internal::ParseBody(body, limits);
  if (!parsed.ok()) return parsed.error();
  const Json& obj = parsed.value();
  ChatRequest r;
  if (auto e = internal::ParseCommonFields(obj, &r.model, &r.params)) return *e;
  if (auto e = ParseChatFields(obj, &r)) return *e;
  if (auto e = ParseStructuredOutput(obj, &r.params)) return *e;
  if (auto e = internal::FinishGenParams(&r.params)) return *e;
  return r;
}

ApiResult<CompletionRequest> ParseCompletionRequest(std::string_view body,
                                                    const ParseLimits& limits) {
  ApiResult<Json> parsed = internal::ParseBody(body, limits);
  if (!parsed.ok()) return parsed.error();
  const Json& obj = parsed.value();
  CompletionRequest r;
  if (auto e = internal::ParseCommonFields(obj, &r.model, &r.params)) return *e;
  if (auto e = ParseCompletionFields(obj, &r)) return *e;
  if (auto e = ParseStructuredOutput(obj, &r.params)) return *e;
  if (auto e = internal::FinishGenParams(&r.params)) return *e;
  return r;
}

}  // namespace mint::frontend
