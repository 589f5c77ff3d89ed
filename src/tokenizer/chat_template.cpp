// Chat-template facade over the Jinja interpreter; see chat_template.h.
#include "tokenizer/chat_template.h"

#include <cmath>
#include <exception>

#include "tokenizer/jinja/globals.h"
#include "tokenizer/jinja/interpreter.h"
#include "tokenizer/jinja/parser.h"

namespace mint::tokenizer {
namespace {

constexpr int kMaxJsonDepth = 256;

Result<jinja::Value> FromJson(const nlohmann::ordered_json& j, int depth) {
  using jinja::Value;
  if (depth > kMaxJsonDepth) return Status::InvalidArgument("JSON input nested too deeply");
  switch (j.type()) {
    case nlohmann::ordered_json::value_t::null: return Value::None();
    case nlohmann::ordered_json::value_t::boolean: return Value::Bool(j.get<bool>());
    case nlohmann::ordered_json::value_t::number_integer: return Value::Int(j.get<int64_t>());
    case nlohmann::ordered_json::value_t::number_unsigned: {
      auto u = j.get<uint64_t>();
      if (u > static_cast<uint64_t>(INT64_MAX)) return Value::Float(static_cast<double>(u));
      return Value::Int(static_cast<int64_t>(u));
    }
    case nlohmann::ordered_json::value_t::number_float: return Value::Float(j.get<double>());
    case nlohmann::ordered_json::value_t::string: return Value::String(j.get<std::string>());
    case nlohmann::ordered_json::value_t::array: {
      jinja::List items;
      for (const auto& e : j) {
        MINT_ASSIGN_OR_RETURN(Value v, FromJson(e, depth + 1));
        items.push_back(std::move(v));
      }
      return Value::MakeList(std::move(items));
    }
    case nlohmann::ordered_json::value_t::object: {
      Value d = Value::MakeDict();
      for (const auto& [k, e] : j.items()) {
        MINT_ASSIGN_OR_RETURN(Value v, FromJson(e, depth + 1));
        d.dict().Set(Value::String(k), std::move(v));
      }
      return d;
    }
    default: return Status::InvalidArgument("unsupported JSON value (binary or discarded)");
  }
}

}  // namespace

struct ChatTemplate::Impl {
  jinja::Body body;
};

ChatTemplate::ChatTemplate(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ChatTemplate::~ChatTemplate() = default;

Result<std::unique_ptr<ChatTemplate>> ChatTemplate::Parse(std::string_view source) {
  MINT_ASSIGN_OR_RETURN(jinja::Body body, jinja::Parse(source));
  auto impl = std::make_unique<Impl>();
  impl->body = std::move(body);
  return std::unique_ptr<ChatTemplate>(new ChatTemplate(std::move(impl)));
}

Result<std::string> ChatTemplate::Render(const ChatTemplateInputs& in) const {
  try {
    jinja::GlobalsOptions gopts;
    gopts.fixed_unix_seconds = in.now_unix_seconds;
    jinja::ScopePtr globals = jinja::MakeGlobals(gopts);
    MINT_ASSIGN_OR_RETURN(jinja::Value messages, FromJson(in.messages, 0));
    MINT_ASSIGN_OR_RETURN(jinja::Value tools, FromJson(in.tools, 0));
    // transformers passes these explicitly (None when absent), then the special tokens.
    globals->Set("messages", std::move(messages));
    globals->Set("tools", std::move(tools));
    globals->Set("documents", jinja::Value::None());
    globals->Set("add_generation_prompt", jinja::Value::Bool(in.add_generation_prompt));
    globals->Set("bos_token", jinja::Value::String(in.bos_token));
    globals->Set("eos_token", jinja::Value::String(in.eos_token));
    if (!in.extra_context.is_null()) {
      if (!in.extra_context.is_object()) {
        return Status::InvalidArgument("chat template extra_context must be a JSON object");
      }
      for (const auto& [k, e] : in.extra_context.items()) {
        MINT_ASSIGN_OR_RETURN(jinja::Value v, FromJson(e, 0));
        globals->Set(k, std::move(v));
      }
    }
    jinja::Interpreter interp(jinja::RenderOptions{});
    auto out = interp.Render(impl_->body, globals);
    globals->Clear();
    return out;
  } catch (const std::exception& e) {  // bad_alloc, nlohmann type errors
    return Status::Internal(std::string("chat template render failed: ") + e.what());
  }
}

}  // namespace mint::tokenizer
