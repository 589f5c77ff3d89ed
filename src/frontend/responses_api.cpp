#include "frontend/responses_api.h"

#include "frontend/request_json.h"

namespace mint::frontend {

using internal::Bad;
using internal::Check;
using internal::Field;
using internal::Json;
using internal::Shown;

namespace {

// One input content value (a string, or input_text / output_text parts) as chat content.
Check ContentOf(const Json& v, const std::string& param, Json* out) {
  if (v.is_string()) {
    *out = v;
    return std::nullopt;
  }
  if (!v.is_array()) return Bad(param, param + " must be a string or an array of text parts");
  Json parts = Json::array();
  for (size_t j = 0; j < v.size(); ++j) {
    const Json& p = v[j];
    const std::string pp = param + "[" + std::to_string(j) + "]";
    const Json* type = p.is_object() ? Field(p, "type") : nullptr;
    const Json* text = p.is_object() ? Field(p, "text") : nullptr;
    if (type == nullptr || !type->is_string() ||
        (*type != "input_text" && *type != "output_text" && *type != "text")) {
      return Bad(pp, pp + ".type " + (type ? Shown(*type) : std::string("(missing)")) +
                         " is not supported (input_text, output_text)");
    }
    if (text == nullptr || !text->is_string()) return Bad(pp, pp + ".text must be a string");
    parts.push_back({{"type", "text"}, {"text", *text}});
  }
  *out = std::move(parts);
  return std::nullopt;
}

// input items -> chat messages (appended).
Check InputItems(const Json& input, Json* messages) {
  if (input.is_string()) {
    messages->push_back({{"role", "user"}, {"content", input}});
    return std::nullopt;
  }
  if (!input.is_array() || input.empty()) {
    return Bad("input", "input must be a string or a non-empty array of items");
  }
  for (size_t i = 0; i < input.size(); ++i) {
    const Json& item = input[i];
    const std::string pi = "input[" + std::to_string(i) + "]";
    if (!item.is_object()) return Bad(pi, pi + " must be an object");
    const std::string type = item.value("type", std::string("message"));
    if (type == "message") {
      const Json* role = Field(item, "role");
      const Json* content = Field(item, "content");
      if (role == nullptr || !role->is_string()) return Bad(pi, pi + ".role must be a string");
      if (content == nullptr) return Bad(pi, pi + ".content is required");
      Json c;
      if (auto e = ContentOf(*content, pi + ".content", &c)) return e;
      messages->push_back({{"role", *role}, {"content", std::move(c)}});
    } else if (type == "function_call") {
      const Json* call_id = Field(item, "call_id");
      const Json* name = Field(item, "name");
      const Json* args = Field(item, "arguments");
      if (call_id == nullptr || !call_id->is_string() || name == nullptr || !name->is_string() ||
          args == nullptr || !args->is_string()) {
        return Bad(pi, pi + ": a function_call needs string call_id, name and arguments");
      }
      Json call = {{"id", *call_id},
                   {"type", "function"},
                   {"function", {{"name", *name}, {"arguments", *args}}}};
      // Consecutive calls are one assistant turn.
      if (!messages->empty() && messages->back()["role"] == "assistant" &&
          messages->back().contains("tool_calls")) {
        messages->back()["tool_calls"].push_back(std::move(call));
      } else {
        messages->push_back(
            {{"role", "assistant"}, {"content", nullptr}, {"tool_calls", Json::array({call})}});
      }
    } else if (type == "function_call_output") {
      const Json* call_id = Field(item, "call_id");
      const Json* output = Field(item, "output");
      if (call_id == nullptr || !call_id->is_string() || output == nullptr) {
        return Bad(pi, pi + ": a function_call_output needs a string call_id and an output");
      }
      messages->push_back({{"role", "tool"},
                           {"tool_call_id", *call_id},
                           {"content", output->is_string() ? *output : Json(output->dump())}});
    } else if (type == "reasoning") {
      continue;  // the model's own earlier reasoning: templates drop it from past turns anyway
    } else {
      return Bad(pi, pi + ".type \"" + type + "\" is not supported (message, function_call, "
                                              "function_call_output, reasoning)");
    }
  }
  return std::nullopt;
}

// Responses tools (flat) -> chat tools.
Check ToolsOf(const Json& tools, Json* out) {
  if (!tools.is_array()) return Bad("tools", "tools must be an array");
  *out = Json::array();
  for (size_t i = 0; i < tools.size(); ++i) {
    const Json& t = tools[i];
    const std::string pt = "tools[" + std::to_string(i) + "]";
    if (!t.is_object() || t.value("type", std::string()) != "function") {
      return Bad(pt, pt + ": only {\"type\":\"function\",\"name\":...} tools are supported");
    }
    const Json* name = Field(t, "name");
    if (name == nullptr || !name->is_string()) return Bad(pt, pt + ".name must be a string");
    Json fn = {{"name", *name}};
    if (const Json* d = Field(t, "description")) fn["description"] = *d;
    if (const Json* p = Field(t, "parameters")) fn["parameters"] = *p;
    out->push_back({{"type", "function"}, {"function", std::move(fn)}});
  }
  return std::nullopt;
}

// The chat-completions body that generates this response; `echo` collects what the response
// repeats.
Check ToChatBody(const Json& obj, Json* chat, Json* echo) {
  if (const Json* prev = Field(obj, "previous_response_id")) {
    return Bad("previous_response_id",
               "previous_response_id is not supported: Mint stores no responses; send the "
               "conversation's items in input (got " + Shown(*prev) + ")");
  }
  if (Field(obj, "n") != nullptr) return Bad("n", "n is not a Responses API field");
  Json messages = Json::array();
  if (const Json* ins = Field(obj, "instructions")) {
    if (!ins->is_string()) return Bad("instructions", "instructions must be a string");
    messages.push_back({{"role", "system"}, {"content", *ins}});
  }
  const Json* input = Field(obj, "input");
  if (input == nullptr) return Bad("input", "input is required");
  if (auto e = InputItems(*input, &messages)) return e;
  (*chat)["messages"] = std::move(messages);
  for (const char* k : {"model", "temperature", "top_p", "seed", "stream", "parallel_tool_calls"}) {
    if (const Json* v = Field(obj, k)) (*chat)[k] = *v;
  }
  if (const Json* m = Field(obj, "max_output_tokens")) (*chat)["max_completion_tokens"] = *m;
  if (const Json* tools = Field(obj, "tools")) {
    Json t;
    if (auto e = ToolsOf(*tools, &t)) return e;
    (*chat)["tools"] = std::move(t);
  }
  if (const Json* tc = Field(obj, "tool_choice")) {
    if (tc->is_object()) {
      const Json* name = Field(*tc, "name");
      if (tc->value("type", std::string()) != "function" || name == nullptr) {
        return Bad("tool_choice", "tool_choice must be none, auto, required or "
                                  "{\"type\":\"function\",\"name\":...}");
      }
      (*chat)["tool_choice"] = {{"type", "function"}, {"function", {{"name", *name}}}};
    } else {
      (*chat)["tool_choice"] = *tc;
    }
  }
  Json text_echo = {{"format", {{"type", "text"}}}};
  if (const Json* text = Field(obj, "text")) {
    const Json* format = text->is_object() ? Field(*text, "format") : nullptr;
    if (format != nullptr) {
      if (!format->is_object() || !format->contains("type")) {
        return Bad("text.format", "text.format must be an object with a type");
      }
      const Json& type = (*format)["type"];
      if (type == "json_schema") {
        Json js = {{"name", format->value("name", std::string("response"))}};
        if (const Json* s = Field(*format, "schema")) js["schema"] = *s;
        if (const Json* st = Field(*format, "strict")) js["strict"] = *st;
        (*chat)["response_format"] = {{"type", "json_schema"}, {"json_schema", std::move(js)}};
      } else if (type == "json_object" || type == "text") {
        (*chat)["response_format"] = {{"type", type}};
      } else {
        return Bad("text.format", "text.format type " + Shown(type) +
                                      " is not supported (text, json_object, json_schema)");
      }
      text_echo["format"] = *format;
    }
  }
  (*echo)["instructions"] = obj.contains("instructions") ? obj["instructions"] : Json(nullptr);
  (*echo)["max_output_tokens"] = obj.value("max_output_tokens", Json(nullptr));
  (*echo)["parallel_tool_calls"] = obj.value("parallel_tool_calls", Json(true));
  (*echo)["temperature"] = obj.value("temperature", Json(1.0));
  (*echo)["tool_choice"] = obj.value("tool_choice", Json("auto"));
  (*echo)["tools"] = obj.value("tools", Json::array());
  (*echo)["top_p"] = obj.value("top_p", Json(1.0));
  (*echo)["text"] = std::move(text_echo);
  (*echo)["metadata"] = obj.value("metadata", Json::object());
  return std::nullopt;
}

bool IsBlank(std::string_view s) { return s.find_first_not_of(" \t\r\n") == std::string_view::npos; }

// The hex part of a response id (after "resp_"), shared by its items' ids.
std::string IdTail(const ResponseMeta& meta) {
  const size_t u = meta.id.find('_');
  return u == std::string::npos ? meta.id : meta.id.substr(u + 1);
}

Json MessageItem(const std::string& id, const std::string& text, const char* status) {
  Json content = Json::array();
  if (std::string_view(status) == "completed") {
    content.push_back({{"type", "output_text"}, {"text", text}, {"annotations", Json::array()}});
  }
  return {{"id", id}, {"type", "message"}, {"status", status}, {"role", "assistant"},
          {"content", std::move(content)}};
}

Json CallItem(const std::string& id, const ToolCallOut& c, const char* status, bool with_args) {
  return {{"id", id},        {"type", "function_call"}, {"status", status},
          {"call_id", c.id}, {"name", c.name},          {"arguments", with_args ? c.arguments : ""}};
}

Json ResponseObject(const ResponseMeta& meta, const Json& echo, Json output,
                    const ResponsesOutput* out) {
  Json r = {{"id", meta.id},
            {"object", "response"},
            {"created_at", meta.created},
            {"status", out == nullptr ? "in_progress" : out->incomplete ? "incomplete" : "completed"},
            {"error", nullptr},
            {"incomplete_details", nullptr},
            {"model", meta.model},
            {"output", std::move(output)},
            {"previous_response_id", nullptr},
            {"store", false},
            {"truncation", "disabled"},
            {"usage", nullptr}};
  for (const auto& [k, v] : echo.items()) r[k] = v;
  if (out != nullptr) {
    if (out->incomplete) r["incomplete_details"] = {{"reason", "max_output_tokens"}};
    r["usage"] = {{"input_tokens", out->input_tokens},
                  {"input_tokens_details", {{"cached_tokens", out->cached_tokens}}},
                  {"output_tokens", out->output_tokens},
                  {"output_tokens_details", {{"reasoning_tokens", 0}}},
                  {"total_tokens", out->input_tokens + out->output_tokens}};
  }
  return r;
}

}  // namespace

ApiResult<ResponsesRequest> ParseResponsesRequest(std::string_view body, const ParseLimits& limits) {
  ApiResult<Json> parsed = internal::ParseBody(body, limits);
  if (!parsed.ok()) return parsed.error();
  Json chat = Json::object(), echo = Json::object();
  if (auto e = ToChatBody(parsed.value(), &chat, &echo)) return *e;
  auto req = ParseChatRequest(chat.dump(), ParseLimits{.max_body_bytes = SIZE_MAX,
                                                       .max_json_depth = limits.max_json_depth + 4});
  if (!req.ok()) {
    ApiError e = req.error();
    // Name the Responses field: the chat body's messages are built from instructions and input.
    if (e.param.rfind("messages", 0) == 0) e.param = "input";
    if (e.param == "max_completion_tokens") e.param = "max_output_tokens";
    return e;
  }
  return ResponsesRequest{.chat = std::move(req).value(), .echo = std::move(echo)};
}

std::string ResponseBody(const ResponseMeta& meta, const Json& echo, const ResponsesOutput& out) {
  const std::string tail = IdTail(meta);
  Json output = Json::array();
  if (!out.reasoning.empty()) {
    output.push_back({{"id", "rs_" + tail},
                      {"type", "reasoning"},
                      {"summary", Json::array()},
                      {"content", Json::array({{{"type", "reasoning_text"}, {"text", out.reasoning}}})}});
  }
  auto text = [&] {  // whitespace around tool calls is not a message
    if (!IsBlank(out.text)) output.push_back(MessageItem("msg_" + tail, out.text, "completed"));
  };
  if (out.text_first) text();
  for (size_t k = 0; k < out.calls.size(); ++k) {
    output.push_back(CallItem("fc_" + tail + "_" + std::to_string(k), out.calls[k], "completed", true));
  }
  if (!out.text_first) text();
  return ResponseObject(meta, echo, std::move(output), &out).dump();
}

ResponsesStream::ResponsesStream(ResponseMeta meta, Json echo)
    : meta_(std::move(meta)), echo_(std::move(echo)) {}

std::string ResponsesStream::Event(const char* type, Json data) {
  Json e = {{"type", type}, {"sequence_number", seq_++}};
  for (auto& [k, v] : data.items()) e[k] = std::move(v);
  return "event: " + std::string(type) + "\ndata: " + e.dump() + "\n\n";
}

std::string ResponsesStream::Start() {
  const Json snapshot = ResponseObject(meta_, echo_, Json::array(), nullptr);
  std::string out = Event("response.created", {{"response", snapshot}});
  out += Event("response.in_progress", {{"response", snapshot}});
  return out;
}

std::string ResponsesStream::Text(std::string_view delta) {
  if (delta.empty()) return {};
  if (text_index_ < 0) {
    // Whitespace between tool calls is not a message: hold it until text that is not blank.
    held_ += delta;
    if (IsBlank(held_)) return {};
    delta = held_;
  }
  std::string out;
  if (text_index_ < 0) {
    text_index_ = output_index_++;
    text_id_ = "msg_" + IdTail(meta_) + "_" + std::to_string(text_index_);
    text_.clear();
    out += Event("response.output_item.added",
                 {{"output_index", text_index_}, {"item", MessageItem(text_id_, "", "in_progress")}});
    out += Event("response.content_part.added",
                 {{"item_id", text_id_},
                  {"output_index", text_index_},
                  {"content_index", 0},
                  {"part", {{"type", "output_text"}, {"text", ""}, {"annotations", Json::array()}}}});
  }
  text_ += delta;
  out += Event("response.output_text.delta", {{"item_id", text_id_},
                                              {"output_index", text_index_},
                                              {"content_index", 0},
                                              {"delta", std::string(delta)},
                                              {"logprobs", Json::array()}});
  held_.clear();
  return out;
}

std::string ResponsesStream::CloseText() {
  held_.clear();
  if (text_index_ < 0) return {};
  const Json part = {{"type", "output_text"}, {"text", text_}, {"annotations", Json::array()}};
  std::string out = Event("response.output_text.done", {{"item_id", text_id_},
                                                        {"output_index", text_index_},
                                                        {"content_index", 0},
                                                        {"text", text_},
                                                        {"logprobs", Json::array()}});
  out += Event("response.content_part.done",
               {{"item_id", text_id_}, {"output_index", text_index_}, {"content_index", 0}, {"part", part}});
  Json item = MessageItem(text_id_, text_, "completed");
  items_.push_back(item);
  out += Event("response.output_item.done", {{"output_index", text_index_}, {"item", std::move(item)}});
  text_index_ = -1;
  return out;
}

std::string ResponsesStream::Call(const ToolCallOut& call) {
  std::string out = CloseText();
  const int index = output_index_++;
  const std::string id = "fc_" + IdTail(meta_) + "_" + std::to_string(index);
  out += Event("response.output_item.added",
               {{"output_index", index}, {"item", CallItem(id, call, "in_progress", false)}});
  out += Event("response.function_call_arguments.delta",
               {{"item_id", id}, {"output_index", index}, {"delta", call.arguments}});
  out += Event("response.function_call_arguments.done",
               {{"item_id", id}, {"output_index", index}, {"name", call.name}, {"arguments", call.arguments}});
  Json item = CallItem(id, call, "completed", true);
  items_.push_back(item);
  out += Event("response.output_item.done", {{"output_index", index}, {"item", std::move(item)}});
  return out;
}

std::string ResponsesStream::Finish(const ResponsesOutput& out) {
  std::string s = CloseText();
  Json r = ResponseObject(meta_, echo_, items_, &out);
  return s + Event(out.incomplete ? "response.incomplete" : "response.completed", {{"response", std::move(r)}});
}

}  // namespace mint::frontend
